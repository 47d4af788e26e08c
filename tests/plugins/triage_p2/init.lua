local M = {}
function M.triage(referral)
  local answer = { pathway = ct.settings.pathway, reason = "rehab first for " .. referral.nhs_number, priority = 2 }
  if #ct.settings.kinds > 0 then answer.kinds = ct.settings.kinds end
  return answer
end
return M
