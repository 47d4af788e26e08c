-- Emits and publishes from inside a decision, so that a test can roll the
-- decision's transaction back and see whether anything was delivered.
local M = {}
function M.triage(referral)
  assert(ct.emit("tried", { referral = referral.id }))
  assert(ct.policy.set("tx_level", referral.id))
  return { pathway = "P2", reason = "txemit" }
end
return M
