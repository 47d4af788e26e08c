-- discharge_hub: the transfer of care hub's standard policy.
--
--   triage  the national discharge pathway (P0-P3) from the person's needs,
--           infection status and usual residence; step-down while isolating
--   rank    the host's candidate beds by the area's preferences: same
--           organisation, distance band, tag match, earliest available
--   delays  every referral past its discharge ready date must carry a
--           national delay reason and the responsible organisation; long
--           delays become harm events; stays beyond each pathway's maximum
--           raise events; a daily summary by organisation and reason
--
-- Every local choice is a setting (plugin.yaml); README.md gives the
-- national source of each rule. The hooks read the settings through
-- configure(), which setup() calls and tests call with overrides.
local delays = require("lib.delays")
local delays_check = require("lib.delays_check")
local util = require("lib.util")

local M = {}

local S -- the effective settings with their parsed forms, from configure()

-- What pathway_kinds may name.
local PATHWAYS = { P1 = true, P2 = true, P3 = true, step_down = true }
local KINDS = { step_down = true, rehab = true, care_home = true, home_care = true, virtual_ward = true }

-- Pathways in order of intensity; the most intensive need wins.
local LEVEL = { P0 = 0, P1 = 1, P2 = 2, P3 = 3 }
local BY_LEVEL = { [0] = "P0", [1] = "P1", [2] = "P2", [3] = "P3" }

-- configure(overrides?, base?) -> settings: base (default ct.settings)
-- with overrides applied, checked and parsed. Raises on a malformed
-- org_links, distance_bands or summary_at entry, naming it.
function M.configure(overrides, base)
  local s = util.merge(base or ct.settings, overrides)
  s.p1_set = util.set_of(s.p1_needs)
  s.p2_set = util.set_of(s.p2_needs)
  s.p3_set = util.set_of(s.p3_needs)
  s.specialist_set = util.set_of(s.specialist_tags)
  s.links = {}
  for _, entry in ipairs(s.org_links) do
    local from, to = util.pair(entry, "org_links", "referring-org=bed-org")
    s.links[from] = s.links[from] or {}
    s.links[from][to] = true
  end
  s.bands, s.org_bands = {}, {}
  for _, entry in ipairs(s.distance_bands) do
    local key, band = util.pair(entry, "distance_bands", "facility=band")
    band = math.tointeger(tonumber(band))
    if not band or band < 1 or band > 9 then
      error(("distance_bands: %q needs a band from 1 to 9"):format(entry), 2)
    end
    local org, facility = key:match("^([^/]+)/([^/]+)$")
    if org then
      s.org_bands[org] = s.org_bands[org] or {}
      s.org_bands[org][facility] = band
    elseif key:find("/", 1, true) then
      error(("distance_bands: %q should be facility=band or org/facility=band"):format(entry), 2)
    else
      s.bands[key] = band
    end
  end
  if not util.parse_hhmm(s.summary_at) then
    error(("summary_at: %q is not a time of day HH:MM"):format(tostring(s.summary_at)), 2)
  end
  s.kinds_of = {}
  for _, entry in ipairs(s.pathway_kinds) do
    local pathway, kinds = util.pair(entry, "pathway_kinds", "pathway=kind,kind")
    if not PATHWAYS[pathway] then
      error(("pathway_kinds: %q: the pathway is one of P1, P2, P3, step_down"):format(entry), 2)
    end
    local list = {}
    for kind in kinds:gmatch("[^,%s]+") do
      if not KINDS[kind] then
        error(("pathway_kinds: %q: %q is not a facility kind a person is discharged to "
          .. "(step_down, rehab, care_home, home_care, virtual_ward)"):format(entry, kind), 2)
      end
      list[#list + 1] = kind
    end
    if #list == 0 then error(("pathway_kinds: %q names no kind"):format(entry), 2) end
    s.kinds_of[pathway] = list
  end
  s.planning = {}
  for _, entry in ipairs(s.planning_shares) do
    local pathway, pct = util.pair(entry, "planning_shares", "pathway=percent")
    pct = tonumber(pct)
    if not (LEVEL[pathway] or pathway == "step_down") or not pct or pct < 0 or pct > 100 then
      error(("planning_shares: %q should be P0..P3 or step_down = a percent from 0 to 100"):format(entry), 2)
    end
    s.planning[pathway] = pct / 100
  end
  delays_check.configure(s)
  S = s
  delays.configure(s)
  return s
end

-- setup(settings): checks the settings and starts the delay checks and the
-- daily summary.
function M.setup(settings)
  M.configure(nil, settings)
  ct.every(util.duration_text(S.delay_check), M.check_slice)
  ct.daily(S.summary_at, M.daily_summary)
end

-- triage -----------------------------------------------------------------------

-- The first pathogen of the list the person is isolating for, or nil. The
-- host's `isolating` answer counts when given; otherwise positive before
-- the isolation end (or with none set), or awaiting a result, as the host
-- rule says. Awaiting a result counts only with isolate_awaiting.
local function isolating_for(person, pathogens, now)
  local infections = person.infections or {}
  for _, pathogen in ipairs(pathogens) do
    local inf = infections[pathogen]
    if inf and (inf.status ~= "awaiting" or S.isolate_awaiting) then
      local isolating = inf.isolating
      if isolating == nil then
        isolating = inf.status == "awaiting"
          or (inf.status == "positive" and (inf.isolation_end == nil or now < inf.isolation_end))
      end
      if isolating then return pathogen, inf.status end
    end
  end
  return nil
end

-- The pathway the needs point to (the most intensive) and the need that
-- decided it.
local function pathway_from_needs(needs)
  local level, why = 0, nil
  for _, need in ipairs(needs) do
    local l = S.p3_set[need] and 3 or S.p2_set[need] and 2 or S.p1_set[need] and 1 or 0
    if l > level then level, why = l, need end
  end
  return level, why
end

-- decide(referral) -> {pathway, reason, priority}
local function decide(referral)
  local person = referral.person or {}
  local needs = person.needs or referral.needs or {}
  local now = ct.now()
  local priority = (referral.priority or 0)
  local days = util.delay_days(referral)
  priority = priority + days * S.priority_per_delay_day
  local reasons = {}

  local level, need = pathway_from_needs(needs)
  if need then
    reasons[#reasons + 1] = ("needs %s (%s)"):format(need, BY_LEVEL[level])
  else
    reasons[#reasons + 1] = "no needs for support"
  end
  local requested = LEVEL[referral.requested_pathway]
  local mode = S.requested_pathway
  if requested and mode ~= "ignore" then
    if mode == "prefer" and requested ~= level then
      level = requested
      reasons[#reasons + 1] = "the requested " .. BY_LEVEL[requested] .. " is preferred"
    elseif mode == "floor" and requested > level then
      level = requested
      reasons[#reasons + 1] = "raised to the requested " .. BY_LEVEL[requested]
    end
  end

  -- A care-home resident goes back to their own home: P0 (P3b in sitreps),
  -- unless the hospital asks for a new placement; with new short-term
  -- needs (reablement, rehab) the return home with support is P1 (NHS
  -- England, Hospital discharge and community support guidance, 2024).
  local returning = person.usual_residence == "care_home"
  if returning then
    local short_term
    for _, n in ipairs(needs) do
      if S.p1_set[n] or S.p2_set[n] then short_term = short_term or n end
    end
    if requested == 3 and mode ~= "ignore" then
      level = 3
      reasons = { "care-home resident needing a new placement (requested P3)" }
    elseif short_term then
      level = 1
      reasons = { ("returning care-home resident with new short-term needs (%s): P1"):format(short_term) }
    else
      level = 0
      reasons = { "returning care-home resident (P0, P3b in sitreps)" }
    end
  end

  -- Step-down on request, where the area allows it: people who cannot
  -- isolate where they live, positive or not (Norfolk, 2020).
  if referral.requested_pathway == "step_down" and S.step_down_requests and mode ~= "ignore" then
    reasons[#reasons + 1] = "step-down as requested"
    return { pathway = "step_down", reason = table.concat(reasons, "; "), priority = priority }
  end

  local pathogen, status = isolating_for(person, S.isolation_pathogens, now)
  if pathogen then
    local at_home = level <= 1 and not returning
    if not (at_home and S.isolate_at_home) then
      reasons[#reasons + 1] = ("isolating (%s %s): step-down"):format(pathogen, status)
      return {
        pathway = "step_down",
        reason = table.concat(reasons, "; "),
        priority = priority + S.priority_isolating,
      }
    end
    reasons[#reasons + 1] = ("isolating (%s %s) at home"):format(pathogen, status)
  else
    -- Isolating for a pathogen that does not send people to step-down:
    -- in their own room, an isolation room or a zone positive for it.
    local other = isolating_for(person, util.keys(person.infections or {}), now)
    if other then
      local where = returning and level <= 1 and "in their own room"
        or level <= 1 and "at home" or "in an isolation room or a " .. other .. "-positive zone"
      reasons[#reasons + 1] = ("isolating (%s positive) %s"):format(other, where)
    end
  end
  if days > 0 then
    reasons[#reasons + 1] = ("%d day%s past the ready date"):format(days, days == 1 and "" or "s")
  end
  return { pathway = BY_LEVEL[level], reason = table.concat(reasons, "; "), priority = priority }
end

-- triage(referral) -> {pathway, reason, priority, kinds}: kinds are the
-- facility kinds that serve the pathway in this area (pathway_kinds); the
-- host offers only beds of those kinds.
function M.triage(referral)
  local answer = decide(referral)
  answer.kinds = S.kinds_of[answer.pathway]
  return answer
end

-- rank ----------------------------------------------------------------------------

-- The distance band of a facility for referrals from org.
function M.band(org, facility)
  local by_org = S.org_bands[org]
  return (by_org and by_org[facility]) or S.bands[facility] or S.default_band
end

local function same_org(referral, candidate)
  local from = referral.from_org
  if from == nil or candidate.org == nil then return false end
  return candidate.org == from or (S.links[from] ~= nil and S.links[from][candidate.org] == true)
end

-- Whole days from now until the candidate is available (0 when free now).
local function wait_days(candidate, now)
  local at = candidate.available_at
  if math.type(at) ~= "integer" or at <= now then return 0 end
  return (at - now + 86399999) // 86400000
end

-- Whether the area's ranking policy (set by winter_surge) is "tight".
function M.tight()
  return ct.policy.get(S.policy_key) == "tight"
end

local function round2(x)
  return math.floor(x * 100 + 0.5) / 100
end

-- rank(referral, candidates) -> candidates: scored, annotated with score
-- and reason, best first; beds beyond the band limit dropped.
function M.rank(referral, candidates)
  local tight = M.tight()
  local scale = tight and S.tight_preference_scale or 1
  local limit = tight and S.max_band_tight or S.max_band
  local needs = util.set_of((referral.person or {}).needs or referral.needs or {})
  local now = ct.now()
  local kept = {}
  for index, c in ipairs(candidates) do
    local band = M.band(referral.from_org, c.facility)
    if limit == 0 or band <= limit then
      local score, why = 0, {}
      if same_org(referral, c) then
        score = score + S.weight_same_org * scale
        why[#why + 1] = "same organisation"
      end
      score = score - S.weight_distance * scale * (band - 1)
      why[#why + 1] = "band " .. band
      local matched, unneeded = 0, 0
      for _, tag in ipairs(c.tags or {}) do
        if needs[tag] then
          matched = matched + 1
        elseif S.specialist_set[tag] then
          unneeded = unneeded + 1
        end
      end
      score = score + S.weight_tag_match * (matched - unneeded)
      if matched > 0 then why[#why + 1] = matched .. " needed tag" .. (matched == 1 and "" or "s") end
      if unneeded > 0 then
        why[#why + 1] = ("%d specialist tag%s unneeded"):format(unneeded, unneeded == 1 and "" or "s")
      end
      local wait = wait_days(c, now)
      score = score - S.weight_wait_day * wait
      if wait > 0 then why[#why + 1] = "free in " .. wait .. " day" .. (wait == 1 and "" or "s") end
      local last = c.surge == true and S.surge_last and not tight
      if c.surge == true then why[#why + 1] = last and "surge bed, offered last" or "surge bed" end
      local out = util.copy(c)
      out.score = round2(score)
      out.reason = table.concat(why, ", ") .. (tight and " (capacity tight)" or "")
      kept[#kept + 1] = { c = out, last = last, index = index }
    end
  end
  -- Ties fall back to the host's order, which is zone then bed id.
  table.sort(kept, function(a, b)
    if a.last ~= b.last then return not a.last end
    if a.c.score ~= b.c.score then return a.c.score > b.c.score end
    return a.index < b.index
  end)
  local out = {}
  for i, k in ipairs(kept) do out[i] = k.c end
  return out
end

-- delays --------------------------------------------------------------------------

-- check(): one pass over the referrals: missing delay reasons, harm events,
-- stays beyond the pathway maximum. Returns what it found (for tests).
function M.check()
  return delays.check()
end

-- check_slice() -> more: the scheduled form, delay_batch referrals a call;
-- true while the pass goes on (the host calls again soon).
function M.check_slice()
  local _, more = delays.step()
  return more
end

-- daily_summary(): the delay summary by organisation and reason, kept in
-- the store as "summary:YYYY-MM-DD" and emitted as "delay.summary".
function M.daily_summary()
  return delays.summary()
end

-- delay(referral, delay) -> verdict: is the reason on the area's national
-- list, and can the organisation named answer for it? (lib/delays_check.lua)
function M.delay(_, delay)
  return delays_check.check(S, delay)
end

M.configure()
return M
