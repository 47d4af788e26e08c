-- Delay tracking for discharge_hub. The plugin cannot set delay reasons
-- (the hospital or the hub records them through the API); it finds the
-- referrals that need one and reports them, counts harm, watches lengths
-- of stay, and writes the daily summary.
--
-- Store keys (ct.kv):
--   progress           where an unfinished delay check resumes: {i = state
--                      index, after = referral id, seen = flagged ids seen}
--   flags              {["<referral id>"] = {m = "YYYY-MM-DD" (missing reason
--                      last reported), h = true (harm reported), s = true
--                      (stay reported)}}, pruned when a referral leaves
--   summary:YYYY-MM-DD one daily summary (summary_keep_days of them)
local util = require("lib.util")

local D = {}
local S

-- Referrals still in hospital (a delay runs until discharge).
local IN_HOSPITAL = { "received", "triaged", "waiting", "held", "placed" }
local PAGE = 1000

function D.configure(settings)
  S = settings
end

-- Calls fn(referral) for every referral in state, page by page. Returns
-- false when the host refused a page (logged).
local function each(state, fn)
  local after = 0
  while true do
    local page, err = ct.referrals({ state = state, after = after, limit = PAGE })
    if not page then
      ct.log.warn("cannot list %s referrals: %s", state, tostring(err))
      return false
    end
    for _, r in ipairs(page) do
      fn(r)
      after = r.id
    end
    if #page < PAGE then return true end
  end
end

-- The longest stay of a pathway, in ms (0: no limit; nil for P0).
local function max_stay(pathway)
  if pathway == nil or pathway == "P0" then return nil end
  return S["max_stay_" .. pathway:lower()]
end

-- Emits and logs an event; raises "emit refused" (caught by step) when
-- the host refuses it (its per-minute quota, storage), so that the
-- referral is not marked as reported.
local REFUSED = {}
local function emit(event, payload)
  local ok, err = ct.emit(event, payload)
  if not ok then
    ct.log.warn("cannot report %s for referral %s: %s; the check resumes later",
      event, tostring(payload.referral), tostring(err))
    error(REFUSED, 0)
  end
  ct.log.info("%s: referral %s", event, tostring(payload.referral))
end

-- What a delay check visits, in order: every state in hospital, then the
-- people discharged longer ago than the shortest longest stay (only they
-- can have overstayed: the host reads no one else's row); none when no
-- pathway has a longest stay. One call a state, as before.
local STAYS = { "P1", "P2", "P3", "step_down" }

local function scans(now)
  local list = {}
  for _, state in ipairs(IN_HOSPITAL) do list[#list + 1] = { state = state } end
  local shortest
  for _, pathway in ipairs(STAYS) do
    local max = max_stay(pathway)
    if max and max > 0 and (shortest == nil or max < shortest) then shortest = max end
  end
  if shortest then
    list[#list + 1] = { state = "discharged", discharged_before = now - shortest }
  end
  return list
end

-- Looks at one referral: a missing delay reason (once a day), harm (once),
-- a stay past its pathway's maximum (once). Updates its flags and found.
local function visit(r, flags, found, now, today)
  local key = tostring(r.id)
  local f = flags[key] or {}
  if r.state ~= "discharged" then
    local days = util.delay_days(r)
    local reason, org = util.delay_reason(r), util.responsible_org(r)
    if days >= 1 and days > S.missing_reason_grace_days and (reason == nil or org == nil)
        and f.m ~= today then
      local missing = {}
      if reason == nil then missing[#missing + 1] = "delay_reason" end
      if org == nil then missing[#missing + 1] = "responsible_org" end
      emit("delay.missing_reason", {
        referral = r.id, nhs_number = r.nhs_number, from_org = r.from_org,
        ready_date = r.ready_date, delay_days = days, missing = missing,
      })
      f.m = today
      flags[key] = f
      found.missing[#found.missing + 1] = r.id
    end
    if days >= S.harm_after_days and not f.h then
      emit("delay.harm", {
        referral = r.id, nhs_number = r.nhs_number, from_org = r.from_org,
        ready_date = r.ready_date, delay_days = days, threshold_days = S.harm_after_days,
        delay_reason = reason, responsible_org = org, pathway = util.pathway(r),
      })
      f.h = true
      flags[key] = f
      found.harm[#found.harm + 1] = r.id
    end
  else
    -- Discharged people are in their bed or slot until the referral is
    -- completed: the stay counts from discharge.
    local pathway = util.pathway(r)
    local max = max_stay(pathway)
    if max and max > 0 and math.type(r.discharged_at) == "integer" and not f.s
        and now - r.discharged_at > max then
      emit("stay.exceeded", {
        referral = r.id, nhs_number = r.nhs_number, pathway = pathway, bed = r.bed,
        discharged_at = r.discharged_at, stay_days = (now - r.discharged_at) // 86400000,
        max_days = max // 86400000,
      })
      f.s = true
      flags[key] = f
      found.overstay[#found.overstay + 1] = r.id
    end
  end
  flags[key] = next(f) and f or nil
  return key
end

-- step() -> found, more: one slice of the delay check, at most delay_batch
-- referrals. Run as a schedule, the host keeps the slice's events and
-- writes in one transaction (all or none), so what a slice reported and
-- the flags that say so are kept together: a retry never reports twice.
-- A pass longer than one slice keeps its place in the store ("progress")
-- and answers more = true; the host calls again once the requests waiting
-- meanwhile (triage among them) have been served.
function D.step()
  local now = ct.now()
  local today = ct.format_time(now, "date")
  local flags = ct.kv.get("flags") or {}
  local before = util.copy(flags)
  local saved = ct.kv.get("progress")
  local prog = saved or { i = 1, after = 0, seen = {}, checked = 0, reported = 0 }
  local found = { missing = {}, harm = {}, overstay = {} }
  local budget = S.delay_batch
  local list = scans(now)
  while prog.i <= #list and budget > 0 do
    local scan = list[prog.i]
    local limit = math.min(budget, PAGE)
    local page, err = ct.referrals({ state = scan.state, pathway = scan.pathway,
      discharged_before = scan.discharged_before, after = prog.after, limit = limit })
    if not page then
      ct.log.warn("cannot list %s referrals: %s", scan.state, tostring(err))
      page = {}
    end
    local refused = false
    for _, r in ipairs(page) do
      local ok, key = pcall(visit, r, flags, found, now, today)
      if not ok then
        if key ~= REFUSED then error(key, 0) end
        -- Its flags say only what was reported; the pass stops here, to
        -- resume from this referral at the next check.
        refused = true
        break
      end
      if flags[key] then prog.seen[key] = true end
      prog.after = r.id
    end
    if refused then
      prog.paused = true
      break
    end
    budget = budget - #page
    prog.checked = prog.checked + #page
    if #page < limit then prog.i, prog.after = prog.i + 1, 0 end
  end
  prog.reported = prog.reported + #found.missing + #found.harm + #found.overstay
  local done = prog.i > #list
  local paused = prog.paused
  prog.paused = nil
  if done then
    -- Referrals no longer in hospital or discharged leave the flags.
    for key in pairs(flags) do
      if not prog.seen[key] then flags[key] = nil end
    end
  end
  -- Every write is durable: write only what changed.
  if not util.same(flags, before) then
    local ok, err = ct.kv.set("flags", flags)
    if not ok then ct.log.error("cannot keep delay flags: %s", tostring(err)) end
  end
  if not done then
    local ok, err = ct.kv.set("progress", prog)
    if not ok then ct.log.error("cannot keep the delay check's place: %s", tostring(err)) end
  elseif saved then
    ct.kv.delete("progress")
  end
  if done then
    ct.log.info("delay check: %d referrals looked at, %d reported", prog.checked, prog.reported)
  end
  return found, not done and not paused
end

-- check() -> {missing = {ids}, harm = {ids}, overstay = {ids}}: a whole
-- pass (step() until done, or until the host refuses a report): reports (as events) referrals past their ready
-- date with no delay reason or responsible organisation (once a day each),
-- delays reaching harm_after_days (once each), and stays past their
-- pathway's maximum (once each).
function D.check()
  local all = { missing = {}, harm = {}, overstay = {} }
  repeat
    local found, more = D.step()
    for k, ids in pairs(found) do
      for _, id in ipairs(ids) do all[k][#all[k] + 1] = id end
    end
  until not more
  return all
end

local function bump(t, key, days)
  local e = t[key]
  if not e then
    e = { referrals = 0, delay_days = 0 }
    t[key] = e
  end
  e.referrals = e.referrals + 1
  e.delay_days = e.delay_days + days
  return e
end

-- pathway_shares(now) -> {days, discharges, by_pathway = {P0 = {discharges,
-- share, planning}}}: who left hospital in the last pathway_share_days
-- days (discharged or completed), by decided pathway, against the
-- national planning assumption (planning_shares).
function D.pathway_shares(now)
  local since = now - S.pathway_share_days * 86400000
  local by, total = {}, 0
  for _, state in ipairs({ "discharged", "completed" }) do
    each(state, function(r)
      if math.type(r.discharged_at) ~= "integer" or r.discharged_at < since then return end
      local p = util.pathway(r) or "none"
      by[p] = by[p] or { discharges = 0 }
      by[p].discharges = by[p].discharges + 1
      total = total + 1
    end)
  end
  for p, planning in pairs(S.planning) do
    by[p] = by[p] or { discharges = 0 }
    by[p].planning = planning
  end
  for _, e in pairs(by) do
    e.share = total > 0 and e.discharges / total or nil
  end
  return { days = S.pathway_share_days, discharges = total, by_pathway = by }
end

-- summary() -> the day's summary: every referral still in hospital past its
-- ready date, by responsible organisation ("unassigned" when none) and
-- delay reason ("missing" when none), with totals; kept in the store and
-- emitted as "delay.summary".
function D.summary()
  local now = ct.now()
  local today = ct.format_time(now, "date")
  local totals = { delayed = 0, delay_days = 0, missing_reason = 0, harm = 0 }
  local by_org = {}
  for _, state in ipairs(IN_HOSPITAL) do
    each(state, function(r)
      local days = util.delay_days(r)
      if days < 1 then return end
      local reason, org = util.delay_reason(r), util.responsible_org(r)
      totals.delayed = totals.delayed + 1
      totals.delay_days = totals.delay_days + days
      if reason == nil or org == nil then totals.missing_reason = totals.missing_reason + 1 end
      if days >= S.harm_after_days then totals.harm = totals.harm + 1 end
      local o = bump(by_org, org or "unassigned", days)
      o.reasons = o.reasons or {}
      bump(o.reasons, reason or "missing", days)
    end)
  end
  local rows = {}
  for org, o in pairs(by_org) do
    for reason, e in pairs(o.reasons) do
      rows[#rows + 1] = { org = org, reason = reason, referrals = e.referrals, delay_days = e.delay_days }
    end
  end
  table.sort(rows, function(a, b)
    if a.delay_days ~= b.delay_days then return a.delay_days > b.delay_days end
    if a.org ~= b.org then return a.org < b.org end
    return a.reason < b.reason
  end)
  local summary = {
    date = today, at = now, totals = totals, by_org = by_org, rows = rows,
    pathways = D.pathway_shares(now),
  }

  local ok, err = ct.kv.set("summary:" .. today, summary)
  if not ok then ct.log.error("cannot keep the summary: %s", tostring(err)) end
  for _, key in ipairs(ct.kv.keys()) do
    local date = key:match("^summary:(%d%d%d%d%-%d%d%-%d%d)$")
    if date and ct.days_between(date, today) >= S.summary_keep_days then ct.kv.delete(key) end
  end
  ct.emit("delay.summary", summary)
  ct.log.info("delay summary %s: %d delayed, %d bed-days, %d without a reason, %d past %d days",
    today, totals.delayed, totals.delay_days, totals.missing_reason, totals.harm, S.harm_after_days)
  return summary
end

return D
