-- What stepdown needs to know about a person's infections: whether the
-- designated-settings rule applies at discharge, whether a prior infection
-- exempts them, and when their isolation ends.
--
-- Store key (ct.kv):
--   positives  {["<nhs number>/<pathogen>"] = {tested_at ms, ...}}: positive
--              tests seen in "infection.updated" events, for the exemption
--              (the host keeps only the latest result per pathogen)
local I = {}
local S

local KEY = "positives"
local KEEP_PER_PERSON = 8

function I.configure(settings)
  S = settings
end

-- The isolation length of a pathogen (the rule set's, lib/rules.lua).
function I.length(pathogen)
  return (S.lengths and S.lengths[pathogen]) or S.isolation_length
end

-- The longest isolation of any pathogen, for pruning.
local function longest()
  local max = S.isolation_length
  for _, ms in pairs(S.lengths or {}) do
    if ms > max then max = ms end
  end
  return max
end

-- The oldest test that can still exempt a new one.
local function horizon(now)
  return now - S.prior_infection_exemption - longest()
end

local function prune_list(list, now)
  local keep = {}
  for _, at in ipairs(list) do
    if at >= horizon(now) then keep[#keep + 1] = at end
  end
  while #keep > KEEP_PER_PERSON do table.remove(keep, 1) end
  return keep
end

-- record(nhs, pathogen, tested_at): remembers a positive test.
function I.record(nhs, pathogen, tested_at)
  local all = ct.kv.get(KEY) or {}
  local key = nhs .. "/" .. pathogen
  local list = all[key] or {}
  for _, at in ipairs(list) do
    if at == tested_at then return end
  end
  list[#list + 1] = tested_at
  table.sort(list)
  list = prune_list(list, ct.now())
  all[key] = #list > 0 and list or nil
  local ok, err = ct.kv.set(KEY, all)
  if not ok then ct.log.error("cannot keep positive tests: %s", tostring(err)) end
end

-- prune(): forgets tests too old to exempt anyone.
function I.prune()
  local all = ct.kv.get(KEY)
  if not all then return end
  local now, changed = ct.now(), false
  for key, list in pairs(all) do
    local kept = prune_list(list, now)
    if #kept ~= #list then
      all[key] = #kept > 0 and kept or nil
      changed = true
    end
  end
  if changed then ct.kv.set(KEY, all) end
end

-- prior_positive(nhs, pathogen, tested_at) -> the earlier positive that
-- exempts a test at tested_at: one whose isolation was over before it
-- (isolation_length or more before) and at most prior_infection_exemption
-- before it; nil when none.
function I.prior_positive(nhs, pathogen, tested_at)
  if S.prior_infection_exemption <= 0 or nhs == nil then return nil end
  local all = ct.kv.get(KEY) or {}
  for _, at in ipairs(all[nhs .. "/" .. pathogen] or {}) do
    local gap = tested_at - at
    if gap >= I.length(pathogen) and gap <= S.prior_infection_exemption then return at end
  end
  return nil
end

-- The end of a positive's isolation: the result's own (the host works one
-- out from the pathogen's length when none was given), else the length
-- after the test; nil when neither is known.
function I.isolation_end(inf, pathogen)
  if math.type(inf.isolation_end) == "integer" then return inf.isolation_end end
  if math.type(inf.tested_at) == "integer" then return inf.tested_at + I.length(pathogen) end
  return nil
end

-- assess(referral, now) -> nil, or {pathogen, status = "positive"|"awaiting",
-- tested_at, isolation_end, recent, exempt_since}: the infection that makes
-- the designated-settings rule apply, for the settings' pathogens in order.
-- A positive applies while isolating and when tested within
-- positive_window (or at any time while isolating, with until_isolation_end).
-- An exempt positive is returned (with exempt_since) only when nothing else
-- applies.
function I.assess(referral, now)
  local person = referral.person or {}
  local infections = person.infections or {}
  local nhs = referral.nhs_number
  local awaiting, exempt
  for _, pathogen in ipairs(S.pathogens) do
    local inf = infections[pathogen]
    if inf and inf.status == "positive" then
      local tested = math.type(inf.tested_at) == "integer" and inf.tested_at or nil
      local ends = I.isolation_end(inf, pathogen)
      local isolating = ends == nil or now < ends
      local recent = tested == nil or now - tested <= S.positive_window
      if isolating and (recent or S.until_isolation_end) then
        local a = { pathogen = pathogen, status = "positive", tested_at = tested, isolation_end = ends,
          recent = recent }
        -- A clinician who sees new symptoms records the new result with
        -- its own isolation end: then there is no exemption.
        if tested and inf.isolation_end == nil then
          a.exempt_since = I.prior_positive(nhs, pathogen, tested)
        end
        if not a.exempt_since then return a end
        exempt = exempt or a
      end
    elseif inf and inf.status == "awaiting" and not awaiting then
      awaiting = { pathogen = pathogen, status = "awaiting" }
    end
  end
  return awaiting or exempt
end

-- isolating_until(referral, now) -> the latest isolation end among every
-- pathogen the person is isolating for (any pathogen, listed or not), or
-- nil when they are isolating for none; math.huge while awaiting a result
-- or positive with no end known.
function I.isolating_until(referral, now)
  local latest
  for pathogen, inf in pairs((referral.person or {}).infections or {}) do
    local ends
    if inf.status == "awaiting" then
      ends = math.huge
    elseif inf.status == "positive" then
      ends = I.isolation_end(inf, pathogen) or math.huge
    end
    if ends and ends > now and (latest == nil or ends > latest) then latest = ends end
  end
  return latest
end

return I
