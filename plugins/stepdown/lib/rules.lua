-- The national rule sets stepdown can follow, chosen by the rule_set
-- setting. Each gives per pathogen the isolation length the host uses for
-- a positive recorded without an end, and whether a test is required
-- before a care-home discharge. README.md names each figure's source and
-- date; an area overrides lengths with isolation_lengths, not here.
local DAY, HOUR = 86400000, 3600000

local R = {}

R.sets = {
  -- 2020/21 designated settings (DHSC, Adult social care winter plan and
  -- designated settings letters, Oct 2020 - Mar 2021): covid from the
  -- isolation_length setting (14 days, 10 from Dec 2020); influenza 5 days
  -- from onset (PHE, influenza-like illness in care homes, 2019/20);
  -- norovirus 48 hours symptom-free (PHE/HPA norovirus guidelines, 2012).
  designated_2020_21 = {
    isolation = { flu = 5 * DAY, norovirus = 2 * DAY },
    covid_from_setting = true,
    discharge_test = true,
  },
  -- Current UKHSA guidance for adult social care (Infection prevention and
  -- control in adult social care: acute respiratory infection, 2023,
  -- updated 2024): a resident with covid or flu stays in their own room
  -- for 5 days; norovirus as before; no routine test before discharge.
  ukhsa_2024 = {
    isolation = { covid = 5 * DAY, flu = 5 * DAY, norovirus = 2 * DAY },
    covid_from_setting = false,
    discharge_test = false,
  },
}

-- lengths(settings) -> {pathogen = ms}: the rule set's lengths, covid's
-- from isolation_length under 2020/21 (for every pathogen the
-- designated-settings rule covers), then isolation_lengths on top. Raises
-- on a malformed entry, naming it.
function R.lengths(s, pair)
  local set = R.sets[s.rule_set] or R.sets.designated_2020_21
  local out = {}
  for pathogen, ms in pairs(set.isolation) do out[pathogen] = ms end
  if set.covid_from_setting then
    for _, pathogen in ipairs(s.pathogens) do out[pathogen] = s.isolation_length end
  end
  for _, entry in ipairs(s.isolation_lengths or {}) do
    local pathogen, text = pair(entry, "isolation_lengths", "pathogen=duration")
    local ms = ct.duration(text)
    if math.type(ms) ~= "integer" or ms <= 0 then
      error(("isolation_lengths: %q needs a duration like 5d"):format(entry), 3)
    end
    out[pathogen] = ms
  end
  return out
end

-- The test window before a care-home discharge (ms), 0 when the rule set
-- has no such rule.
function R.discharge_test_window(s)
  local set = R.sets[s.rule_set] or R.sets.designated_2020_21
  return set.discharge_test and s.discharge_test_window or 0
end

R.HOUR = HOUR
return R
