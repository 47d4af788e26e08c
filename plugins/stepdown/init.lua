-- stepdown: the 2020/21 designated-settings model.
--
--   triage  a person who tested positive within positive_window before
--           discharge (or is still isolating) and needs a care home goes to
--           step-down: a designated setting, for the rest of the isolation
--   rank    such a person is offered only beds in a designated setting's
--           positive-cohort zone
--   admit   refuses placements that break that rule, care-home admissions
--           while a result is awaited, and zones beyond their staffing cap
--   events  at the end of an isolation the onward move (home or care home)
--           is planned as the referral's next step; discharges to a care
--           home announce the isolation on return; positive tests are kept
--           for the prior-infection exemption
--
-- The rules are national (README.md gives the sources); the numbers and
-- local choices are settings (plugin.yaml). The host enforces segregation
-- by cohort on its own; this plugin adds the designated-setting rule on top.
local infection = require("lib.infection")
local onward = require("lib.onward")
local rules = require("lib.rules")
local util = require("lib.util")

local M = {}

local S -- effective settings with parsed forms, from configure()

-- configure(overrides?, base?) -> settings: base (default ct.settings) with
-- overrides applied, checked and parsed. Raises on a malformed staffing cap.
function M.configure(overrides, base)
  local s = util.merge(base or ct.settings, overrides)
  s.pathogen_set = util.set_of(s.pathogens)
  s.care_home_set = util.set_of(s.care_home_pathways)
  s.caps = {}
  for _, entry in ipairs(s.staffing_caps) do
    local zone, count = util.pair(entry, "staffing_caps", "zone=count")
    count = math.tointeger(tonumber(count))
    if not count or count < 0 then
      error(("staffing_caps: %q needs a whole number of people"):format(entry), 2)
    end
    s.caps[zone] = count
  end
  s.lengths = rules.lengths(s, util.pair)
  s.test_window = rules.discharge_test_window(s)
  S = s
  infection.configure(s)
  onward.configure(s)
  return s
end

-- setup(settings): checks the settings, listens for isolation ends, test
-- results and discharges, and checks step-down stays on a schedule.
function M.setup(settings)
  M.configure(nil, settings)
  -- The host ends an isolation recorded without an end after these.
  local pathogens = {}
  for pathogen in pairs(S.lengths) do pathogens[#pathogens + 1] = pathogen end
  table.sort(pathogens)
  for _, pathogen in ipairs(pathogens) do ct.isolation_length(pathogen, S.lengths[pathogen]) end
  ct.on("isolation.ended", M.on_isolation_ended)
  ct.on("infection.updated", M.on_infection_updated)
  ct.on("referral.discharged", M.on_discharged)
  ct.every(util.duration_text(S.check_interval), M.check)
end

-- Whether the referral counts as needing a care home.
local function needs_care_home(referral)
  local person = referral.person or {}
  if S.returning_residents and person.usual_residence == "care_home" then return true end
  local requested, decided = referral.requested_pathway, util.pathway(referral)
  return (requested ~= nil and S.care_home_set[requested] == true)
    or (decided ~= nil and S.care_home_set[decided] == true)
end

-- The assessment when the designated-setting rule applies to this referral
-- (a positive, not exempt, or an awaited result with awaiting_result =
-- designated, for someone who needs a care home or is already sent to
-- step-down), else nil.
local function designated_rule(referral, now)
  local a = infection.assess(referral, now)
  if not a or a.exempt_since then return nil end
  if a.status == "awaiting" and S.awaiting_result ~= "designated" then return nil end
  if needs_care_home(referral) or util.pathway(referral) == "step_down" then return a end
  return nil
end

local function describe(a, now)
  if a.status == "awaiting" then return a.pathogen .. " result awaited" end
  if a.tested_at then
    return ("%s positive, tested %s before discharge"):format(a.pathogen, util.hours(now - a.tested_at))
  end
  return a.pathogen .. " positive"
end

-- triage(referral) -> {pathway = "step_down", reason, priority} | nil
function M.triage(referral)
  local now = ct.now()
  local a = infection.assess(referral, now)
  if a and a.exempt_since then
    ct.log.info("referral %s: %s positive but exempt (earlier positive on %s)", tostring(referral.id),
      a.pathogen, ct.format_time(a.exempt_since, "date"))
    return nil
  end
  if not a or not needs_care_home(referral) then return nil end
  if a.status == "awaiting" and S.awaiting_result ~= "designated" then return nil end
  local reason = describe(a, now) .. ", needs a care home: designated setting"
  if a.isolation_end then
    reason = reason .. " until " .. ct.format_time(a.isolation_end, "date")
  end
  return { pathway = M.designated_pathway(referral), reason = reason,
    priority = (referral.priority or 0) + S.priority }
end

-- The pathway to a designated setting: step-down, or with designated_pathway
-- "keep" (zones of care homes) the care-home pathway the referral asks for
-- (the first of care_home_pathways for a resident going back).
function M.designated_pathway(referral)
  if S.designated_pathway ~= "keep" then return "step_down" end
  local requested, decided = referral.requested_pathway, util.pathway(referral)
  if requested and S.care_home_set[requested] then return requested end
  if decided and S.care_home_set[decided] then return decided end
  return S.care_home_pathways[1] or "P3"
end

-- zone_cohorts(view) -> {zone id = {pathogen = cohort}} from a capacity
-- view (ct.capacity(): facilities[].zones[].cohorts).
function M.zone_cohorts(view)
  local out = {}
  for _, f in ipairs((view or {}).facilities or {}) do
    for _, z in ipairs(f.zones or {}) do
      out[z.id] = z.cohorts or {}
    end
  end
  return out
end

-- A lookup of zone cohorts for one hook call: the candidate's own cohort
-- table when the host gives one, else the capacity view (ct.capacity), else
-- nothing (nil: unknown) when the host cannot answer.
local function cohort_lookup()
  local zones
  return function(c, pathogen)
    if type(c.cohort) == "table" then return c.cohort[pathogen] or "open" end
    if zones == nil then
      zones = false
      local view = ct.capacity()
      if view then zones = M.zone_cohorts(view) end
    end
    if zones and zones[c.zone] then return zones[c.zone][pathogen] or "open" end
    return nil
  end
end

-- Whether a candidate is in a designated setting's zone for people positive
-- for pathogen. Without cohort data, an isolation room in a designated
-- setting counts.
local function designated_positive(c, pathogen, cohort_of)
  if c.designated ~= true then return false end
  local cohort = cohort_of(c, pathogen)
  if cohort == nil then return c.isolation_room == true end
  return cohort == "positive"
end

-- Kinds where people isolate at home, not in a shared setting.
local AT_HOME = { home_care = true, virtual_ward = true }

-- The pathogens a person is isolating for now (positive before the end of
-- their isolation; the host's isolating answer when given), sorted.
function M.isolating_pathogens(referral, now)
  local out = {}
  for pathogen, inf in pairs((referral.person or {}).infections or {}) do
    local isolating = inf.isolating
    if isolating == nil then
      local ends = inf.status == "positive" and infection.isolation_end(inf, pathogen)
      isolating = inf.status == "positive" and (ends == nil or now < ends)
    end
    if isolating and inf.status == "positive" then out[#out + 1] = pathogen end
  end
  table.sort(out)
  return out
end

-- With cohorting = separate: nil when the candidate suits every pathogen
-- the person isolates for (a zone positive for it, or an isolation room,
-- or a place at home), else the first pathogen it does not.
local function unsuited(candidate, pathogens, cohort_of)
  if S.cohorting ~= "separate" or #pathogens == 0 or AT_HOME[candidate.kind] then return nil end
  if candidate.isolation_room == true then return nil end
  for _, tag in ipairs(candidate.tags or {}) do
    if tag == "isolation_room" then return nil end
  end
  for _, pathogen in ipairs(pathogens) do
    if cohort_of(candidate, pathogen) ~= "positive" then return pathogen end
  end
  return nil
end

-- rank(referral, candidates) -> candidates: only designated positive-cohort
-- beds for a person the rule applies to; with separate cohorting only beds
-- that suit every pathogen the person isolates for.
function M.rank(referral, candidates)
  local now = ct.now()
  local pathogens = M.isolating_pathogens(referral, now)
  local cohort_of = cohort_lookup()
  if S.cohorting == "separate" and #pathogens > 0 then
    local kept = {}
    for _, c in ipairs(candidates) do
      if not unsuited(c, pathogens, cohort_of) then kept[#kept + 1] = c end
    end
    if #kept ~= #candidates then candidates = kept end
  end
  local a = designated_rule(referral, now)
  if not a then return candidates end
  local pathogen = a.pathogen
  local out = {}
  for _, c in ipairs(candidates) do
    if designated_positive(c, pathogen, cohort_of) then
      local kept = util.copy(c)
      local note = "designated setting, " .. pathogen .. "-positive zone"
      kept.reason = kept.reason and (kept.reason .. "; " .. note) or note
      out[#out + 1] = kept
    end
  end
  return out
end

-- Held and occupied beds of a zone now (ct.beds), or nil when the host
-- cannot say.
local function zone_load(zone)
  local beds = ct.beds({ zone = zone })
  return beds and util.count(beds, function(b) return b.status == "held" or b.status == "occupied" end)
end

-- admit(referral, candidate) -> true | false, reason
function M.admit(referral, candidate)
  local now = ct.now()
  local a = designated_rule(referral, now)
  if a and not designated_positive(candidate, a.pathogen, cohort_lookup()) then
    return false, describe(a, now) .. ": only a designated setting's " .. a.pathogen .. "-positive zone"
  end
  if S.awaiting_result == "hold" and candidate.kind == "care_home" then
    local w = infection.assess(referral, now)
    if w and w.status == "awaiting" then
      return false, w.pathogen .. " result awaited: no care-home admission until it comes"
    end
  end
  -- Each pathogen cohorted apart (cohorting = separate).
  local other = unsuited(candidate, M.isolating_pathogens(referral, now), cohort_lookup())
  if other then
    return false, ("isolating for %s: only a %s-positive zone or an isolation room"):format(other, other)
  end
  -- 2020/21: a test within the window before any care-home discharge.
  if S.test_window > 0 and candidate.kind == "care_home" then
    local infections = (referral.person or {}).infections or {}
    for _, pathogen in ipairs(S.pathogens) do
      local inf = infections[pathogen]
      local tested = inf and inf.status ~= "awaiting" and math.type(inf.tested_at) == "integer"
        and inf.tested_at or nil
      if not tested or now - tested > S.test_window then
        return false, ("no %s test result from the %dh before a care-home discharge")
          :format(pathogen, S.test_window // 3600000)
      end
    end
  end
  local cap = S.caps[candidate.zone]
  if cap then
    local load = zone_load(candidate.zone)
    if load == nil then
      return false, "zone " .. candidate.zone .. " has a staffing cap and its load cannot be read"
    end
    if load >= cap then
      return false, ("zone %s is staffed for %d and has %d"):format(candidate.zone, cap, load)
    end
  end
  return true
end

-- events and schedules ------------------------------------------------------------

-- Plans the onward move of a referral in step-down when no isolation is
-- left (ended_at: when the last one ended).
local function consider(view, ended_at, why)
  if not onward.in_step_down(view) or onward.get(view.id) then return nil end
  local now = ct.now()
  local still = infection.isolating_until(view, now)
  if still then return nil end
  return onward.plan(view, ended_at or now, why)
end

-- on("isolation.ended"): {nhs_number, pathogen, isolation_end, referral?, ...}
function M.on_isolation_ended(ev)
  if math.type(ev.referral) ~= "integer" then return nil end
  local view = ct.referral(ev.referral)
  if not view then return nil end
  return consider(view, ev.isolation_end, (ev.pathogen or "the") .. " isolation ended")
end

-- on("infection.updated"): {nhs_number, pathogen, status, tested_at, ...}
function M.on_infection_updated(ev)
  if ev.status == "positive" and S.pathogen_set[ev.pathogen] and math.type(ev.tested_at) == "integer"
      and type(ev.nhs_number) == "string" then
    infection.record(ev.nhs_number, ev.pathogen, ev.tested_at)
  end
end

-- on("referral.discharged"): {referral, bed?}. A discharge to a care home
-- (a P3 placement or a resident going back) starts the isolation on return.
function M.on_discharged(ev)
  if S.return_isolation <= 0 or math.type(ev.referral) ~= "integer" then return nil end
  local view = ct.referral(ev.referral)
  if not view then return nil end
  local pathway = util.pathway(view)
  local returning = pathway == "P0" and (view.person or {}).usual_residence == "care_home"
  if not returning and not S.care_home_set[pathway or ""] then return nil end
  local now = ct.now()
  local notice = {
    referral = view.id, nhs_number = view.nhs_number, pathway = pathway, bed = ev.bed,
    returning = returning, from = now, ["until"] = now + S.return_isolation,
    until_date = ct.format_time(now + S.return_isolation, "date"),
  }
  ct.emit("care_home.return_isolation", notice)
  return notice
end

-- check(): plans the onward move of everyone in step-down whose isolation
-- is over (isolation ends the host does not know, from isolation_length),
-- drops plans of referrals that have left, forgets old tests. Returns the
-- plans made.
function M.check()
  local made, active = {}, {}
  for _, state in ipairs({ "placed", "discharged" }) do
    local after = 0
    while true do
      -- Only step-down stays: the host reads those rows alone (every
      -- quarter hour, among everyone else placed or in onward care).
      local page, err = ct.referrals({ state = state, pathway = "step_down", after = after, limit = 1000 })
      if not page then
        ct.log.warn("cannot list %s referrals: %s", state, tostring(err))
        return made
      end
      for _, r in ipairs(page) do
        after = r.id
        if util.pathway(r) == "step_down" then
          active[tostring(r.id)] = true
          local view = ct.referral(r.id)
          if view then
            local plan = consider(view, M.last_isolation_end(view), "isolation over")
            if plan then made[#made + 1] = plan end
          end
        end
      end
      if #page < 1000 then break end
    end
  end
  onward.prune(active)
  infection.prune()
  return made
end

-- The latest isolation end of the person's past positives (nil when none).
function M.last_isolation_end(view)
  local latest
  for pathogen, inf in pairs((view.person or {}).infections or {}) do
    if inf.status == "positive" then
      local ends = infection.isolation_end(inf, pathogen)
      if ends and (latest == nil or ends > latest) then latest = ends end
    end
  end
  return latest
end

M.configure()
return M
