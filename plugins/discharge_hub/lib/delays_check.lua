-- The delay hook of discharge_hub: a delay reason must be on the national
-- list the area chose (lib/delay_reasons.lua, setting delay_reasons) and
-- the organisation named responsible must be of a kind that can answer
-- for it (a care home cannot hold up a pathway 2 rehab bed).
local lists = require("lib.delay_reasons")
local util = require("lib.util")

local C = {}

-- The kinds of organisation a facility kind makes its owner.
local FROM_FACILITY = {
  acute = "acute_trust",
  rehab = "community_provider",
  step_down = "community_provider",
  virtual_ward = "community_provider",
  care_home = "care_provider",
  home_care = "care_provider",
}

local TYPES = {
  acute_trust = "an acute trust", community_provider = "a community provider",
  council = "a council", icb = "an integrated care board",
  care_provider = "a care provider",
}

-- configure(settings): parses org_types ("org=type") and picks the list.
-- Raises naming a bad entry or list.
function C.configure(s)
  s.reason_list = lists[s.delay_reasons]
  if not s.reason_list then
    error(("delay_reasons: no list %q"):format(tostring(s.delay_reasons)), 3)
  end
  s.org_type = {}
  for _, entry in ipairs(s.org_types) do
    local org, kind = util.pair(entry, "org_types", "organisation=type")
    if not TYPES[kind] then
      error(("org_types: %q: the type is one of acute_trust, community_provider, "
        .. "council, icb, care_provider"):format(entry), 3)
    end
    s.org_type[org] = kind
  end
end

-- The types of an organisation: the one org_types names, else those its
-- facilities make it (a set, possibly empty).
local function types_of(s, org)
  if s.org_type[org.id] then return { [s.org_type[org.id]] = true } end
  local out = {}
  for _, kind in ipairs(org.facility_kinds or {}) do
    if FROM_FACILITY[kind] then out[FROM_FACILITY[kind]] = true end
  end
  return out
end

-- Levenshtein distance, for "did you mean".
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function names(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = v end
  return table.concat(out, ", ")
end

-- check(s, delay) -> verdict: {valid = true, text} or {valid = false,
-- message, field}.
function C.check(s, delay)
  local list = s.reason_list
  local reason = list.by_code[delay.reason]
  if not reason then
    local best, best_d = nil, 4
    local codes = {}
    for i, r in ipairs(list.reasons) do
      codes[i] = r.code
      local d = distance(delay.reason, r.code)
      if d < best_d then best, best_d = r.code, d end
    end
    return {
      valid = false, field = "reason",
      message = ("'%s' is not a delay reason of the national list %s%s (one of %s)"):format(
        delay.reason, list.version, best and (("; did you mean '%s'?"):format(best)) or "",
        names(codes)),
    }
  end
  local org = delay.org or { id = delay.responsible_org }
  local types = types_of(s, org)
  for _, t in ipairs(reason.responsible) do
    if types[t] then return { valid = true, text = reason.text } end
  end
  local have = {}
  for t in pairs(types) do have[#have + 1] = TYPES[t] end
  table.sort(have)
  local want = {}
  for i, t in ipairs(reason.responsible) do want[i] = TYPES[t] end
  local what = #have > 0 and ("is " .. table.concat(have, " and "))
    or "runs no facility of the area and org_types does not name its type"
  return {
    valid = false, field = "responsible_org",
    message = ("%s (%s) is answered for by %s; %s %s"):format(
      reason.code, reason.text, names(want):gsub(", ([^,]*)$", " or %1"), org.id, what),
  }
end

return C
