local M = {}
function M.setup()
  error("setup refuses")
end
return M
