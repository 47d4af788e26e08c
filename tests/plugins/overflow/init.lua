-- Triage answers that are well formed JSON but out of range: on main a
-- reason over 500 bytes made every referral a 400 (nothing stored, no
-- fallback) and a priority of 2^31 became negative.
local M = {}
local answers = {
  { pathway = "P1", reason = string.rep("x", 600) },
  { pathway = "P1", priority = 1 << 31 },
  { pathway = "P1", priority = -(1 << 40) },
}
local n = 0
function M.triage()
  n = n % #answers + 1
  return answers[n]
end
return M
