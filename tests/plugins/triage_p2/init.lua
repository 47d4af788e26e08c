local M = {}
function M.triage(referral)
  return { pathway = ct.settings.pathway, reason = "rehab first for " .. referral.nhs_number, priority = 2 }
end
return M
