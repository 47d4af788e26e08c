-- caretide.fixtures: test data shaped like what the host gives plugins,
-- re-exported by caretide.test (t.referral, t.candidate, t.area,
-- t.nhs_number). Each builder starts from complete defaults and merges the
-- caller's overrides into them; tables that are records merge field by
-- field, lists and empty tables replace, and `fixtures.none` removes a
-- default. Values are checked against the domain's enumerations so a typo
-- ("P4", "postive") fails where it is written, not deep in a plugin, and
-- a field the host never gives ("persn") is an error with the closest
-- name, so a test cannot pass on a default it meant to override.
--
-- Defaults line up with the demo area (config/demo.yaml): referrals come
-- from "demo-acute", candidates are beds in Willow House's green wing.
local M = {}

-- Removes a default field: referral{requested_pathway = t.none}.
M.none = setmetatable({}, { __tostring = function() return "caretide.test.none" end })

local PATHWAYS = { "P0", "P1", "P2", "P3", "step_down" }
local STATES = { "received", "triaged", "waiting", "held", "placed", "discharged",
  "completed", "cancelled" }
local INFECTION = { "negative", "positive", "awaiting", "unknown" }
local COHORTS = { "positive", "negative", "open" }
local KINDS = { "acute", "step_down", "rehab", "care_home", "home_care", "virtual_ward" }
local PATHOGENS = { "covid", "flu", "norovirus" }

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local function one_of(what, value, list)
  if set_of(list)[value] then return true end
  return nil, ("%s must be one of %s (got %s)"):format(what, table.concat(list, ", "),
    type(value) == "string" and ('"' .. value .. '"') or tostring(value))
end

local function copy(v)
  if type(v) ~= "table" or v == M.none then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  return out
end

local function is_record(t)
  return next(t) ~= nil and t[1] == nil
end

local function merge(base, over)
  local out = copy(base)
  for k, v in pairs(over) do
    if v == M.none then
      out[k] = nil
    elseif type(v) == "table" and type(out[k]) == "table" and is_record(v)
        and is_record(out[k]) then
      out[k] = merge(out[k], v)
    else
      out[k] = copy(v)
    end
  end
  return out
end

-- Unknown fields ----------------------------------------------------------

-- Edit distance with a swap of neighbours as one edit, for did-you-mean.
local function distance(a, b)
  local la, lb = #a, #b
  if la > 64 or lb > 64 then return math.max(la, lb) end
  local d = {}
  for i = 0, la do d[i] = { [0] = i } end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    for j = 1, lb do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[la][lb]
end

local function closest(word, names)
  local best, best_d = nil, 3
  for _, n in ipairs(names) do
    local dist = distance(word, n)
    if dist < best_d and dist < #word then best, best_d = n, dist end
  end
  return best
end

-- The fields a record may have, as the host gives it; nested records
-- name their own (a table), open maps keyed by the area's pathogens use
-- `each`. A field not listed is a typo: the test would pass on a default.
local function check_fields(what, over, schema, path)
  if type(over) ~= "table" or over == M.none then return true end
  local names = {}
  for name in pairs(schema.fields) do names[#names + 1] = name end
  table.sort(names)
  local keys = {}
  for k in pairs(over) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local sub = schema.fields[k]
    local where = path and (path .. "." .. tostring(k)) or tostring(k)
    if sub == nil then
      if type(k) ~= "string" then
        return nil, ("%s: %s is not a field name (write %s{field = value})")
          :format(what, tostring(k), what)
      end
      local hint = closest(k, names)
      return nil, ("%s has no field %q%s (fields: %s)"):format(what, where,
        hint and ("; did you mean %q?"):format((path and path .. "." or "") .. hint) or "",
        table.concat(names, ", "))
    end
    if type(sub) == "table" then
      local ok, err
      if sub.each then
        if type(over[k]) == "table" and over[k] ~= M.none then
          for key, v in pairs(over[k]) do
            ok, err = check_fields(what, v, sub.each, where .. "." .. tostring(key))
            if not ok then return nil, err end
          end
        end
      else
        ok, err = check_fields(what, over[k], sub, where)
        if not ok then return nil, err end
      end
    end
  end
  return true
end

-- The referral as ct_capacity_view_referral gives it (ct.Referral in
-- lua/meta, docs/plugins.md).
local REFERRAL_FIELDS = { fields = {
  id = true, nhs_number = true, age = true, from_org = true, ready_date = true,
  requested_pathway = true, decided_pathway = true, pathway = true, state = true,
  priority = true, delay_reason = true, responsible_org = true, created_at = true,
  updated_at = true, discharged_at = true, delay_days = true, needs = true,
  usual_residence = true, infections = true, bed = true, hold = true,
  occupancy = true, hold_expires_at = true, delays = true,
  person = { fields = {
    age = true, needs = true, usual_residence = true,
    infections = { fields = {}, each = { fields = {
      status = true, tested_at = true, isolation_end = true, isolating = true,
    } } },
  } },
  delay = { fields = { reason = true, responsible_org = true, days = true } },
} }

-- A candidate as the host offers it (ct.Candidate in lua/meta), with the
-- annotations rank adds.
local CANDIDATE_FIELDS = { fields = {
  bed = true, zone = true, facility = true, kind = true, org = true, tags = true,
  designated = true, surge = true, isolation_room = true, cohort = true,
  available_at = true, score = true, reason = true,
} }

local WAITING_FIELDS = { fields = {
  id = true, position = true, from_org = true, priority = true, ready_date = true,
  days_past_ready = true, requested_pathway = true, pathway = true, outcome = true,
  deferred = true, updated_at = true, delay_reason = true, responsible_org = true,
  nhs_number = true, needs = true,
} }

-- NHS numbers ---------------------------------------------------------------

local function check_digit(nine)
  local sum = 0
  for i = 1, 9 do
    sum = sum + (nine:byte(i) - 48) * (11 - i)
  end
  local check = 11 - sum % 11
  if check == 11 then check = 0 end
  return check -- 10 means no valid number has these nine digits
end

-- True when s is ten digits with a correct modulus 11 check digit and not
-- one of the never-issued repeated-digit numbers (all of which pass the
-- check), like the host's rule.
function M.nhs_number_valid(s)
  if type(s) ~= "string" or not s:find("^%d%d%d%d%d%d%d%d%d%d$") then return false end
  if s == s:sub(1, 1):rep(10) then return false end
  return check_digit(s:sub(1, 9)) == s:byte(10) - 48
end

local FIRST_BASE, LAST_BASE = 999000000, 999999999
-- The walk resumes from the last answer, so counting up costs one step each.
local cursor = { n = 0, base = FIRST_BASE - 1 }

-- nhs_number(n) -> the n-th valid number (1-based) of the test range
-- 999 000 0000 - 999 999 9999, as a ten-digit string; nhs_number(1) is
-- "9990000018". About 909,000 exist.
function M.nhs_number(n)
  if math.type(n) ~= "integer" or n < 1 then
    error("expected nhs_number(n) with a positive integer n", 2)
  end
  if n < cursor.n then cursor = { n = 0, base = FIRST_BASE - 1 } end
  local count, base = cursor.n, cursor.base
  local check
  while count < n do
    base = base + 1
    if base > LAST_BASE then
      error(("nhs_number: the test range holds only %d valid numbers"):format(count), 2)
    end
    check = check_digit(tostring(base))
    if check ~= 10 then count = count + 1 end
  end
  cursor = { n = count, base = base }
  return tostring(base) .. (check or check_digit(tostring(base)))
end

-- The area the defaults come from: the demo's unless a host names its own
-- (the REPL gives its area's first hospital, so a made-up referral comes
-- from an organisation the area has).
local area_defaults = { from_org = "demo-acute" }

-- use_area{from_org = id}: referrals come from that organisation by default.
function M.use_area(defaults)
  if type(defaults) ~= "table" or type(defaults.from_org) ~= "string" then
    error("expected use_area{from_org = organisation id}", 2)
  end
  area_defaults = { from_org = defaults.from_org }
end

-- Sequences: ids and NHS numbers distinct within a test, and the same in
-- every run. caretide.test resets them before each test.
local seq = { referral = 0, candidate = 0, waiting = 0 }

-- What every constructor does first: over checked (nil, or a table
-- naming only kind's fields; errors blame the test's line) and kind's
-- next number in this test returned.
local function begin(kind, over, schema)
  if over ~= nil and type(over) ~= "table" then
    error(("expected %s{field = value, ...}"):format(kind), 3)
  end
  local known, why = check_fields(kind, over, schema)
  if not known then error(why, 3) end
  seq[kind] = seq[kind] + 1
  return seq[kind]
end

function M.reset()
  seq.referral, seq.candidate, seq.waiting = 0, 0, 0
end

local function today()
  local host = ct -- the host API global; absent outside the host
  if type(host) == "table" and type(host.now) == "function"
      and type(host.format_time) == "function" then
    return host.format_time(host.now(), "date")
  end
  return "2025-01-06"
end

-- Settings ------------------------------------------------------------------

-- settings{...} -> the plugin's plugin.yaml defaults as the host reads
-- them (ct.defaults: durations in milliseconds) with these changed, as a
-- new table; settings() is the defaults alone. What a test pins, so that
-- it checks the rules whatever an area overrides and a default changed in
-- plugin.yaml is the one the tests check, never a copy kept by hand.
function M.settings(changes)
  if changes ~= nil and type(changes) ~= "table" then
    error("expected settings{name = value, ...}", 2)
  end
  local host = ct -- the host API global; absent outside the host
  if type(host) ~= "table" or type(host.defaults) ~= "table" then
    error("settings: the plugin's defaults (ct.defaults) exist only under caretide test", 2)
  end
  local out = copy(host.defaults)
  for k, v in pairs(changes or {}) do out[k] = copy(v) end
  return out
end

-- Referrals -----------------------------------------------------------------

-- The defaults a referral and its waiting-list entry share, for the
-- n-th of the test, with the kind's own in more (taken).
local function referral_defaults(n, more)
  more.id = n
  more.nhs_number = M.nhs_number(n)
  more.from_org = area_defaults.from_org
  more.ready_date = today()
  more.requested_pathway = "P1"
  more.priority = 0
  return more
end

local function check_referral(r)
  local ok, err
  if not M.nhs_number_valid(r.nhs_number) then
    return nil, ("nhs_number %s fails the modulus 11 check"):format(tostring(r.nhs_number))
  end
  if math.type(r.id) ~= "integer" then return nil, "id must be an integer" end
  if type(r.from_org) ~= "string" then return nil, "from_org must be a string" end
  if type(r.ready_date) ~= "string" or not r.ready_date:find("^%d%d%d%d%-%d%d%-%d%d$") then
    return nil, "ready_date must be a date YYYY-MM-DD"
  end
  for _, field in ipairs({ "requested_pathway", "pathway" }) do
    if r[field] ~= nil then
      ok, err = one_of(field, r[field], PATHWAYS)
      if not ok then return nil, err end
    end
  end
  ok, err = one_of("state", r.state, STATES)
  if not ok then return nil, err end
  if math.type(r.priority) ~= "integer" then return nil, "priority must be an integer" end
  local p = r.person
  if type(p) ~= "table" then return nil, "person must be a table" end
  if p.age ~= nil and (math.type(p.age) ~= "integer" or p.age < 0 or p.age > 130) then
    return nil, "person.age must be an integer from 0 to 130"
  end
  if type(p.needs) ~= "table" then return nil, "person.needs must be a list of tags" end
  for _, need in ipairs(p.needs) do
    if type(need) ~= "string" then return nil, "person.needs must be a list of tags" end
  end
  for pathogen, inf in pairs(p.infections or {}) do
    if type(inf) ~= "table" then
      return nil, ("person.infections.%s must be a table {status=...}"):format(pathogen)
    end
    ok, err = one_of("person.infections." .. pathogen .. ".status", inf.status, INFECTION)
    if not ok then return nil, err end
  end
  local d = r.delay
  if type(d) ~= "table" then return nil, "delay must be a table" end
  if d.days ~= nil and (math.type(d.days) ~= "integer" or d.days < 0) then
    return nil, "delay.days must be a whole number of days"
  end
  return true
end

-- referral{...} -> a referral as plugins receive it. Defaults:
--   id = 1, 2, ... per test; nhs_number = nhs_number(id); from_org =
--   "demo-acute" (or what use_area named); ready_date = today on the host clock ("2025-01-06"
--   outside the host); requested_pathway = "P1"; pathway = nil; state =
--   "received"; priority = 0; person = {age = 80, needs = {},
--   usual_residence = "home", infections = {covid = {status = "negative"}}};
--   delay = {days = 0} (reason and responsible_org nil).
function M.referral(over)
  local n = begin("referral", over, REFERRAL_FIELDS)
  local r = merge(referral_defaults(n, {
    state = "received",
    person = {
      age = 80,
      needs = {},
      usual_residence = "home",
      infections = { covid = { status = "negative" } },
    },
    delay = { days = 0 },
  }), over or {})
  local ok, err = check_referral(r)
  if not ok then error("referral: " .. err, 2) end
  return r
end

-- Candidates ----------------------------------------------------------------

-- candidate{...} -> a bed offered to rank() and admit(), shaped as the host
-- gives it. Defaults: bed = "WH-G01", "WH-G02", ... per test; zone =
-- "willow-green"; facility = "willow-stepdown"; kind = "step_down"; org =
-- "demo-council"; tags = {"nursing"}; designated = false; surge = false;
-- isolation_room = false; cohort = {covid = "negative"} (the zone's
-- cohorts that are not open).
function M.candidate(over)
  if type(over) == "table" and over.facility_kind ~= nil then
    error("candidate: the host names a facility's kind `kind`, not `facility_kind`", 2)
  end
  local n = begin("candidate", over, CANDIDATE_FIELDS)
  local c = merge({
    bed = ("WH-G%02d"):format(n),
    zone = "willow-green",
    facility = "willow-stepdown",
    kind = "step_down",
    org = "demo-council",
    tags = { "nursing" },
    designated = false,
    surge = false,
    isolation_room = false,
    cohort = { covid = "negative" },
  }, over or {})
  local ok, err = one_of("kind", c.kind, KINDS)
  if ok then
    for pathogen, cohort in pairs(c.cohort or {}) do
      ok, err = one_of("cohort." .. tostring(pathogen), cohort, COHORTS)
      if not ok then break end
    end
  end
  if not ok then error("candidate: " .. err, 2) end
  return c
end

-- The waiting list ----------------------------------------------------------

-- waiting{...} -> an entry of the waiting list as a queue hook gets it
-- (docs/plugins.md "The waiting list"). Defaults: id = position = 1, 2,
-- ... per test; nhs_number = nhs_number(id); from_org = "demo-acute" (or
-- what use_area named); priority = 0; ready_date = today; days_past_ready
-- = 0; requested_pathway = pathway = "P1"; outcome = "waiting"; deferred
-- = false; updated_at = 0; needs = {}.
function M.waiting(over)
  local n = begin("waiting", over, WAITING_FIELDS)
  local e = merge(referral_defaults(n, {
    position = n,
    days_past_ready = 0,
    pathway = "P1",
    outcome = "waiting",
    deferred = false,
    updated_at = 0,
    needs = {},
  }), over or {})
  local ok, err = one_of("outcome", e.outcome, { "waiting", "manual_review" })
  if not ok then error("waiting: " .. err, 2) end
  return e
end

-- Areas ---------------------------------------------------------------------

local function valid_id(id)
  return type(id) == "string" and #id <= 64 and id:find("^[%w%-_%.]+$") ~= nil
end

-- "OAK-001..OAK-030" -> prefix, first, last, width; nil, message if malformed.
local function parse_range(text)
  local a, b = tostring(text):match("^(.-)%.%.(.*)$")
  if not a then return nil, ("bed range %q must look like OAK-001..OAK-030"):format(text) end
  local pa, da = a:match("^(.-)(%d+)$")
  local pb, db = b:match("^(.-)(%d+)$")
  if not pa or not pb or pa ~= pb then
    return nil, ("bed range %q: both ends need the same prefix and a number at the end")
      :format(text)
  end
  local first, last = tonumber(da), tonumber(db)
  if first > last then return nil, ("bed range %q runs backwards"):format(text) end
  return pa, first, last, #da
end

-- The bed ids an area's bed entry stands for, in order.
local function entry_beds(entry)
  if entry.id then return { entry.id } end
  local prefix, first, last, width = parse_range(entry.range)
  if not prefix then return nil, first end
  local ids = {}
  for i = first, last do
    ids[#ids + 1] = prefix .. ("%0" .. width .. "d"):format(i)
  end
  return ids
end

local function norm_beds(zone)
  local beds = zone.beds
  if math.type(beds) == "integer" and beds >= 1 then
    return { { range = ("%s-%02d..%s-%02d"):format(zone.id, 1, zone.id, beds), tags = {},
      surge = false } }
  end
  if type(beds) ~= "table" or #beds == 0 then
    return nil, ("zone %s: beds must be a count or a list of {id=} / {range=} entries")
      :format(zone.id)
  end
  local out = {}
  for i, b in ipairs(beds) do
    if type(b) ~= "table" or (b.id == nil) == (b.range == nil) then
      return nil, ("zone %s: beds[%d] needs exactly one of id or range"):format(zone.id, i)
    end
    local ids, err = entry_beds(b)
    if not ids then return nil, ("zone %s: %s"):format(zone.id, err) end
    out[i] = { id = b.id, range = b.range, tags = copy(b.tags or {}), surge = b.surge == true }
  end
  return out
end

local function check_cohort(where, cohort, declared)
  for pathogen, value in pairs(cohort) do
    if not declared[pathogen] then
      return nil, ("%s: cohort names undeclared pathogen %s"):format(where, tostring(pathogen))
    end
    local ok, err = one_of(where .. ": cohort." .. pathogen, value, COHORTS)
    if not ok then return nil, err end
  end
  return true
end

local function norm_area(spec)
  local pathogens = copy(spec.pathogens or PATHOGENS)
  local declared = set_of(pathogens)
  local default_org = spec.organisation or "demo-council"
  local facilities = spec.facilities or { { id = "test-unit" } }
  local out = { pathogens = pathogens, organisations = {}, facilities = {} }
  local orgs, org_list = {}, {}
  local function add_org(id, name)
    if not orgs[id] then
      orgs[id] = { id = id, name = name or id }
      org_list[#org_list + 1] = orgs[id]
    end
  end
  for _, o in ipairs(spec.organisations or {}) do
    if type(o) == "string" then o = { id = o } end
    if not valid_id(o.id) then return nil, "organisations: bad id " .. tostring(o.id) end
    add_org(o.id, o.name)
  end
  add_org("demo-acute", "demo-acute")
  local ids = {}
  local function unique(kind, id)
    if not valid_id(id) then return nil, ("%s id %s is not 1-64 letters, digits, -, _ or .")
      :format(kind, tostring(id)) end
    if ids[id] then return nil, ("%s id %s is used twice"):format(kind, id) end
    ids[id] = kind
    return true
  end
  for fi, f in ipairs(facilities) do
    local ok, err = unique("facility", f.id)
    if not ok then return nil, ("facilities[%d]: %s"):format(fi, err) end
    ok, err = one_of("facility " .. f.id .. ": kind", f.kind or "step_down", KINDS)
    if not ok then return nil, err end
    local nf = {
      id = f.id,
      name = f.name or f.id,
      kind = f.kind or "step_down",
      organisation = f.organisation or default_org,
      designated_setting = f.designated_setting == true,
      zones = {},
    }
    add_org(nf.organisation)
    local zones = f.zones or { { id = f.id .. "-main", beds = 10 } }
    for zi, z in ipairs(zones) do
      ok, err = unique("zone", z.id)
      if not ok then return nil, ("facility %s: zones[%d]: %s"):format(f.id, zi, err) end
      local nz = {
        id = z.id,
        name = z.name or z.id,
        cohort = copy(z.cohort or {}),
        closed = z.closed == true,
      }
      ok, err = check_cohort("zone " .. z.id, nz.cohort, declared)
      if not ok then return nil, err end
      nz.beds, err = norm_beds(z)
      if not nz.beds then return nil, err end
      for _, b in ipairs(nz.beds) do
        for _, bed in ipairs((entry_beds(b))) do
          ok, err = unique("bed", bed)
          if not ok then return nil, ("zone %s: %s"):format(z.id, err) end
        end
      end
      nf.zones[zi] = nz
    end
    out.facilities[fi] = nf
  end
  out.organisations = org_list
  return out
end

-- area{...} -> the facilities, zones and beds of a test area, in the shape
-- of the area config (docs/config.md), for the test runner to load into a
-- scratch store (caretide.test's load_area). Defaults fill what a test
-- leaves out:
--   pathogens     {"covid", "flu", "norovirus"}
--   organisation  owner of facilities that name none ("demo-council")
--   facilities    {{id = "test-unit"}}
--   facility      name = id, kind = "step_down", designated_setting = false,
--                 zones = {{id = <facility id>-main, beds = 10}}
--   zone          name = id, cohort = {} (all open), closed = false
--   beds          a list of {id=} or {range="R01..R10"} entries with tags and
--                 surge, or a count N for beds <zone id>-01..<zone id>-NN
-- organisations lists every organisation used, plus "demo-acute" (the
-- default referrer). Ids must be unique across facilities, zones and beds.
function M.area(spec)
  if spec ~= nil and type(spec) ~= "table" then
    error("expected area{facilities = {...}}", 2)
  end
  local a, err = norm_area(spec or {})
  if not a then error("area: " .. err, 2) end
  return a
end

-- bed_ids(area) -> every bed id of an area (from area{}), in order.
function M.bed_ids(area)
  local out = {}
  for _, f in ipairs(area.facilities or {}) do
    for _, z in ipairs(f.zones or {}) do
      for _, b in ipairs(z.beds or {}) do
        local ids, err = entry_beds(b)
        if not ids then error("bed_ids: " .. err, 2) end
        for _, id in ipairs(ids) do out[#out + 1] = id end
      end
    end
  end
  return out
end

return M
