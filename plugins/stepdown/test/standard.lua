-- The standard settings (plugin.yaml's defaults, durations in ms) that the
-- tests pin, so they test the rules whatever an area overrides. Keep in
-- step with plugin.yaml.
local HOUR, DAY = 3600000, 86400000
local values = {
  rule_set = "designated_2020_21",
  isolation_lengths = {},
  discharge_test_window = 48 * HOUR,
  cohorting = "separate",
  pathogens = { "covid" },
  positive_window = 48 * HOUR,
  until_isolation_end = true,
  isolation_length = 14 * DAY,
  prior_infection_exemption = 90 * DAY,
  designated_pathway = "step_down",
  care_home_pathways = { "P3" },
  returning_residents = true,
  awaiting_result = "hold",
  return_isolation = 14 * DAY,
  clinical_check = 24 * HOUR,
  staffing_caps = {},
  check_interval = 15 * 60000,
  priority = 50,
}

-- with{...} -> the standard settings with these changed (a new table).
local function with(changes)
  local out = {}
  for k, v in pairs(values) do out[k] = v end
  for k, v in pairs(changes or {}) do out[k] = v end
  return out
end

return { values = values, with = with }
