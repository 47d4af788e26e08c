local M = {}
function M.triage()
  return { pathway = "P9" }
end
function M.rank()
  return { { no_bed = true } }
end
return M
