-- The national delay reason lists discharge_hub accepts, one per version,
-- chosen by the setting delay_reasons. Data, not code: when the national
-- list changes, a new version is added here (and the old one kept, so an
-- area moves when it chooses). README.md names each list's source.
--
-- Each reason: code (what the API takes and the host stores), text (the
-- label reports show), category (the national grouping it is reported
-- under) and responsible (the kinds of organisation that can answer for
-- it, see org_type in lib/delays_check.lua):
--   acute_trust         runs an acute hospital
--   community_provider  runs NHS community services: rehab, step-down,
--                       virtual wards
--   council             the local authority (adult social care)
--   icb                 the integrated care board (commissioning, CHC)
--   care_provider       runs care homes or home care
local ALL = { "acute_trust", "community_provider", "council", "icb", "care_provider" }

local L = {}

-- NHS England, Urgent and emergency care daily situation report: reasons
-- for discharge delay, as collected from 2023 (the 17 reasons docs use).
L.nhse_2023 = {
  version = "nhse_2023",
  reasons = {
    { code = "awaiting_medical_decision", category = "acute",
      text = "Awaiting a medical decision or discharge summary",
      responsible = { "acute_trust" } },
    { code = "awaiting_therapy_decision", category = "acute",
      text = "Awaiting a therapy decision to discharge",
      responsible = { "acute_trust" } },
    { code = "awaiting_hub_referral", category = "transfer_of_care",
      text = "Awaiting transfer of care hub referral or confirmation",
      responsible = { "acute_trust", "community_provider", "council", "icb" } },
    { code = "awaiting_diagnostics", category = "acute",
      text = "Awaiting diagnostics", responsible = { "acute_trust" } },
    { code = "awaiting_medicines", category = "acute",
      text = "Awaiting medicines to take home", responsible = { "acute_trust" } },
    { code = "awaiting_transport", category = "acute",
      text = "Awaiting transport",
      responsible = { "acute_trust", "community_provider", "icb" } },
    { code = "awaiting_p1_care", category = "pathway_1",
      text = "Pathway 1: awaiting care at home (reablement, home care)",
      responsible = { "council", "community_provider", "care_provider", "icb" } },
    { code = "awaiting_p2_bed", category = "pathway_2",
      text = "Pathway 2: awaiting a rehabilitation or recovery bed",
      responsible = { "community_provider", "council", "icb" } },
    { code = "awaiting_p3_bed", category = "pathway_3",
      text = "Pathway 3: awaiting a care home bed",
      responsible = { "council", "care_provider", "icb" } },
    { code = "awaiting_equipment", category = "community",
      text = "Awaiting community equipment or adaptations",
      responsible = { "council", "community_provider", "icb" } },
    { code = "person_family_disagree", category = "other",
      text = "Person or family disagree with the discharge plan",
      responsible = ALL },
    { code = "homeless_nrpf", category = "other",
      text = "Homeless or no recourse to public funds",
      responsible = { "council" } },
    { code = "safeguarding", category = "other",
      text = "Safeguarding concern or Court of Protection",
      responsible = { "council", "acute_trust" } },
    { code = "repatriation", category = "acute",
      text = "Awaiting repatriation to another trust",
      responsible = { "acute_trust" } },
    { code = "infection_control", category = "other",
      text = "Infection control: no suitable location",
      responsible = ALL },
    { code = "awaiting_chc_decision", category = "community",
      text = "Awaiting a continuing healthcare decision",
      responsible = { "icb", "community_provider" } },
    { code = "no_plan", category = "acute",
      text = "No discharge plan", responsible = { "acute_trust" } },
  },
}

-- Index each list by code once.
for _, list in pairs(L) do
  list.by_code = {}
  for _, r in ipairs(list.reasons) do
    list.by_code[r.code] = r
  end
end

return L
