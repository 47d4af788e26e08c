local M = {}
function M.triage()
  while true do end
end
return M
