local M = {}
function M.triage(referral)
  if referral.id then
    return { pathway = "P0" }
  -- missing end
end
return M
