local M = {}
function M.answer(referral)
  return { pathway = "P0", reason = "greeter says " .. tostring(referral.id) }
end
return M
