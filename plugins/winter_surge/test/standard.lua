-- The standard settings (plugin.yaml's defaults, durations in ms) that the
-- tests pin, so they test the rules whatever an area overrides. Keep in
-- step with plugin.yaml.
local values = {
  interval = 15 * 60000,
  occupancy_kinds = { "step_down", "rehab" },
  occupancy_of = "core",
  count_held = true,
  occupancy_points = { 0.85, 0.92, 0.97 },
  nctr_points = { 10, 20, 40 },
  acute_beds = 0,
  nctr_share_points = { 0.10, 0.13, 0.16 },
  waiting_points = { 10, 25, 50 },
  bed_days_lost_points = { 20, 50, 100 },
  surge_share_points = { 0.02, 0.05, 0.10 },
  weight_occupancy = 3,
  weight_nctr = 1,
  weight_nctr_share = 2,
  weight_waiting = 1,
  weight_bed_days_lost = 2,
  weight_surge_share = 1,
  score_max = 44,
  level_bands = { 11, 22, 33 },
  deescalate_after = 2 * 3600000,
  deescalate_margin = 2,
  surge_facilities = {},
  surge_level = 3,
  tighten_level = 3,
  alert_level = 2,
  policy_key = "ranking",
}

-- with{...} -> the standard settings with these changed (a new table).
local function with(changes)
  local out = {}
  for k, v in pairs(values) do out[k] = v end
  for k, v in pairs(changes or {}) do out[k] = v end
  return out
end

return { values = values, with = with }
