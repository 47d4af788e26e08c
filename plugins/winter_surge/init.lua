-- winter_surge: the area's escalation level, 1 to 4, in the manner of OPEL.
--
-- Each parameter (step-down and rehab occupancy, NCTR count and share,
-- waiting referrals, bed-days lost, the share of surge beds) earns 0 to 3
-- points at the thresholds in its setting; the weighted points make a score
-- on a 0 to score_max scale (0-44 by default, as one public OPEL tool), and
-- level_bands cut it into levels. A higher level applies at once; a lower
-- one only after the score has stayed below the current band, less a
-- margin, for deescalate_after, and one level at a time.
--
-- Levels carry actions, all through the host: open surge beds at
-- surge_level and close them below it; set the area's ranking policy to
-- "tight" at tighten_level ("normal" below) for discharge_hub to read; an
-- "escalation.alert" event on every change at or above alert_level.
--
-- The level is worked out on the interval schedule from ct.metrics() and
-- whenever the host calls escalate(metrics). Store key (ct.kv):
--   state  {level, since, below_since, surge = {facility = true}}, written
--          only when it changes
local M = {}

local S -- effective settings, from configure()

local PARAMETERS = { "occupancy", "nctr", "nctr_share", "waiting", "bed_days_lost", "surge_share" }

local util = require("caretide.util")
local copy, same = util.copy, util.same

local function ascending(list, name, max)
  for i, v in ipairs(list) do
    if i > 1 and v <= list[i - 1] then
      error(("%s: %s must rise from one value to the next"):format(name, table.concat(list, ", ")), 3)
    end
    if max and (v <= 0 or v > max) then
      error(("%s: %s must lie above 0 and at most score_max (%s)"):format(name, tostring(v), tostring(max)), 3)
    end
  end
end

-- configure(overrides?, base?) -> settings: base (default ct.settings) with
-- overrides applied and checked: thresholds and bands must rise, bands lie
-- within the score. Raises naming the setting.
function M.configure(overrides, base)
  local s = copy(base or ct.settings)
  for k, v in pairs(overrides or {}) do s[k] = copy(v) end
  for _, p in ipairs(PARAMETERS) do ascending(s[p .. "_points"], p .. "_points") end
  ascending(s.level_bands, "level_bands", s.score_max)
  s.excluded = {}
  for _, z in ipairs(s.occupancy_excluded_zones or {}) do s.excluded[z] = true end
  S = s
  return s
end

-- setup(settings): checks the settings and works the level out on the
-- interval schedule.
function M.setup(settings)
  M.configure(nil, settings)
  ct.every(("%ds"):format(math.max(1, S.interval // 1000)), M.tick)
end

-- scoring ---------------------------------------------------------------------------

-- Points (0-3) a value earns against three rising thresholds.
function M.points(value, thresholds)
  local p = 0
  for _, t in ipairs(thresholds) do
    if value >= t then p = p + 1 end
  end
  return p
end

local function number(v)
  return type(v) == "number" and v or nil
end

-- The measured value of each parameter from a metrics table (ct.metrics()
-- shape); nil for a parameter without data.
function M.measure(m)
  local v = {}
  local occupied, open = 0, 0
  local function add(k, sign)
    occupied = occupied + sign * ((k.occupied or 0) + (S.count_held and (k.held or 0) or 0))
    open = open + sign * ((k.open or 0) - (S.occupancy_of == "core" and (k.surge_open or 0) or 0))
  end
  local kinds = {}
  for _, kind in ipairs(S.occupancy_kinds) do
    kinds[kind] = true
    local k = (m.by_kind or {})[kind]
    if k then add(k, 1) end
  end
  -- Zones left out (a designated wing kept for positive people): their
  -- free beds are no room for anyone else waiting, so they would hold the
  -- occupancy down however full the rest is.
  if next(S.excluded) then
    for _, z in ipairs(m.by_zone or {}) do
      if S.excluded[z.zone] and kinds[z.kind] then add(z, -1) end
    end
  end
  -- Over core beds, people in surge beds can make it more than 1: demand
  -- beyond core capacity.
  if open > 0 then v.occupancy = occupied / open end
  v.nctr = number(m.nctr)
  if v.nctr and S.acute_beds > 0 then v.nctr_share = v.nctr / S.acute_beds end
  v.waiting = type(m.waiting) == "table" and number(m.waiting.total) or number(m.waiting)
  v.bed_days_lost = type(m.bed_days_lost) == "table" and number(m.bed_days_lost.open) or number(m.bed_days_lost)
  v.surge_share = number((m.beds or {}).surge_share) or number(m.surge_share)
  return v
end

local function show(name, value)
  local label = name:gsub("_", " ")
  if name == "occupancy" or name == "nctr_share" or name == "surge_share" then
    return ("%s %.0f%%"):format(label, value * 100)
  end
  return ("%s %s"):format(label, math.tointeger(value) or ("%.1f"):format(value))
end

-- score(metrics) -> score, parts: the weighted score on the 0-score_max
-- scale and each scored parameter {name, value, points, weight}.
-- Parameters without data or with weight 0 are left out of the scale.
function M.score(m)
  local values = M.measure(m)
  local sum, weights, parts = 0, 0, {}
  for _, name in ipairs(PARAMETERS) do
    local value, weight = values[name], S["weight_" .. name]
    if value ~= nil and weight > 0 then
      local p = M.points(value, S[name .. "_points"])
      sum = sum + weight * p
      weights = weights + weight
      parts[#parts + 1] = { name = name, value = value, points = p, weight = weight }
    end
  end
  if weights == 0 then return 0, parts end
  return S.score_max * sum / (3 * weights), parts
end

-- The level (1-4) a score falls in.
function M.level_for(score)
  local level = 1
  for _, band in ipairs(S.level_bands) do
    if score >= band then level = level + 1 end
  end
  return level
end

-- state and actions ----------------------------------------------------------------------

function M.state()
  return ct.kv.get("state") or { level = 1, since = ct.now(), surge = {} }
end

-- Open surge beds of a facility now (ct.beds), or nil when the host cannot
-- say.
local function surge_open(facility)
  local beds = ct.beds({ facility = facility })
  return beds and util.count(beds, function(b) return b.surge and b.surge_open end)
end

-- Brings surge beds and the ranking policy in line with level; appends
-- what it did to actions. Refusals are logged and retried next time.
local function apply(state, level, actions)
  local want_open = level >= S.surge_level
  local listed = {}
  for _, f in ipairs(S.surge_facilities) do listed[f] = true end
  local facilities = copy(S.surge_facilities)
  for f in pairs(state.surge) do
    if not listed[f] then facilities[#facilities + 1] = f end
  end
  for _, f in ipairs(facilities) do
    local open = state.surge[f] == true
    if want_open and listed[f] and not open then
      local ok, err = ct.act.open_surge(f)
      if ok then
        state.surge[f] = true
        actions[#actions + 1] = "opened surge beds at " .. f
      else
        actions[#actions + 1] = ("could not open surge beds at %s: %s"):format(f, tostring(err))
        ct.log.warn("could not open surge beds at %s: %s", f, tostring(err))
      end
    elseif open and not (want_open and listed[f]) then
      local ok, err = ct.act.close_surge(f)
      -- Occupied surge beds stay open until they are free: try again then.
      local left = ok and surge_open(f) or nil
      if ok and left == 0 then
        state.surge[f] = nil
        actions[#actions + 1] = "closed surge beds at " .. f
      elseif ok then
        actions[#actions + 1] = ("closing surge beds at %s: %s still open"):format(f, tostring(left or "some"))
      else
        actions[#actions + 1] = ("could not close surge beds at %s: %s"):format(f, tostring(err))
        ct.log.warn("could not close surge beds at %s: %s", f, tostring(err))
      end
    end
  end
  local ranking = level >= S.tighten_level and "tight" or "normal"
  if ct.policy.get(S.policy_key) ~= ranking then
    local ok, err = ct.policy.set(S.policy_key, ranking)
    if ok then
      actions[#actions + 1] = "ranking " .. ranking
    else
      ct.log.warn("could not set the ranking policy: %s", tostring(err))
    end
  end
  if ct.policy.get("escalation_level") ~= level then ct.policy.set("escalation_level", level) end
end

local function describe(score, parts, level)
  local text = {}
  for _, p in ipairs(parts) do
    text[#text + 1] = ("%s (%d)"):format(show(p.name, p.value), p.points)
  end
  local from = level > 1 and S.level_bands[level - 1] or 0
  -- %g: settings typed as numbers arrive as floats (44.0) and read as 44.
  return ("score %.1f/%g, level %d from %g: %s"):format(score, S.score_max, level, from,
    #text > 0 and table.concat(text, ", ") or "no data")
end

-- evaluate(metrics) -> {level, reason, actions, score, changed}: works the
-- level out, applies hysteresis, acts on changes, keeps the state.
function M.evaluate(metrics)
  local now = ct.now()
  local state = M.state()
  state.surge = state.surge or {}
  local before = copy(state)
  local score, parts = M.score(metrics or {})
  local computed = M.level_for(score)
  local from = state.level
  local level = from
  local hold
  if computed >= level then
    if computed > level then level = computed end
    state.below_since = nil
  else
    while level > computed do
      local edge = S.level_bands[level - 1] - S.deescalate_margin
      if score >= edge then
        state.below_since = nil
        hold = ("holding level %d: score not below %s"):format(level, tostring(edge))
        break
      end
      state.below_since = state.below_since or now
      if now - state.below_since < S.deescalate_after then
        hold = ("holding level %d until %s"):format(level,
          ct.format_time(state.below_since + S.deescalate_after))
        break
      end
      level = level - 1
      state.below_since = now
    end
    if level == computed then state.below_since = nil end
  end

  local actions = {}
  if level ~= from then
    state.since = now
    local parameters = {}
    for _, p in ipairs(parts) do parameters[p.name] = { value = p.value, points = p.points } end
    local alert = {
      from = from, to = level, score = score, reason = describe(score, parts, computed),
      parameters = parameters, at = now,
    }
    if math.max(from, level) >= S.alert_level then
      ct.emit("escalation.alert", alert)
      actions[#actions + 1] = ("alert: level %d to %d"):format(from, level)
    end
    if level > from then
      ct.log.warn("escalation level %d to %d: %s", from, level, alert.reason)
    else
      ct.log.info("de-escalation level %d to %d: %s", from, level, alert.reason)
    end
  end
  state.level = level
  apply(state, level, actions)
  -- Every write is durable: keep the state only when it changed.
  if not same(state, before) then
    local ok, err = ct.kv.set("state", state)
    if not ok then ct.log.error("cannot keep the escalation state: %s", tostring(err)) end
  end

  local reason = describe(score, parts, computed)
  if hold then reason = reason .. "; " .. hold end
  return { level = level, reason = reason, actions = actions, score = score, changed = level ~= from }
end

-- escalate(metrics) -> {level, reason, actions}: the hook the host calls.
function M.escalate(metrics)
  local r = M.evaluate(metrics)
  return { level = r.level, reason = r.reason, actions = r.actions }
end

-- tick(): the schedule: the level from the host's metrics now.
function M.tick()
  local m, err = ct.metrics()
  if not m then
    ct.log.warn("cannot read metrics: %s", tostring(err))
    return nil
  end
  return M.evaluate(m)
end

M.configure()
return M
