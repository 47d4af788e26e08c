local util = require("lib.util")
local M = {}
function M.triage(referral)
  return util.answer(referral)
end
return M
