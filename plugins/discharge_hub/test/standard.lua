-- The standard settings (plugin.yaml's defaults, durations in ms) that the
-- tests pin, so they test the rules whatever an area overrides. Keep in
-- step with plugin.yaml.
local DAY = 86400000
local values = {
  p1_needs = { "reablement", "frailty", "respiratory" },
  p2_needs = { "rehab" },
  p3_needs = { "nursing", "residential" },
  requested_pathway = "floor",
  pathway_kinds = { "P1=home_care,virtual_ward", "P2=rehab,step_down", "P3=care_home", "step_down=step_down" },
  isolation_pathogens = { "covid" },
  step_down_requests = false,
  isolate_awaiting = false,
  isolate_at_home = true,
  priority_per_delay_day = 5,
  priority_isolating = 20,
  weight_same_org = 2,
  org_links = {},
  distance_bands = {},
  default_band = 2,
  max_band = 3,
  max_band_tight = 0,
  weight_distance = 1,
  weight_tag_match = 0.5,
  specialist_tags = { "bariatric", "dementia", "isolation_room" },
  weight_wait_day = 1,
  surge_last = true,
  tight_preference_scale = 0.25,
  policy_key = "ranking",
  delay_check = 15 * 60000,
  delay_batch = 250,
  missing_reason_grace_days = 0,
  harm_after_days = 14,
  max_stay_p1 = 42 * DAY,
  max_stay_p2 = 14 * DAY,
  max_stay_p3 = 20 * DAY,
  max_stay_step_down = 14 * DAY,
  summary_at = "08:00",
  summary_keep_days = 14,
  delay_reasons = "nhse_2023",
  org_types = {},
  planning_shares = { "P0=50", "P1=45", "P2=4", "P3=1" },
  pathway_share_days = 28,
}

-- with{...} -> the standard settings with these changed (a new table).
local function with(changes)
  local out = {}
  for k, v in pairs(values) do out[k] = v end
  for k, v in pairs(changes or {}) do out[k] = v end
  return out
end

return { values = values, with = with }
