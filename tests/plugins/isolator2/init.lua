local M = {}
function M.setup()
  ct.isolation_length("covid", "20d")
  ct.isolation_length("flu", "3d")
end
return M
