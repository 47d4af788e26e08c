local M = {}
function M.setup(settings)
  ct.isolation_length("covid", settings.covid)
end
return M
