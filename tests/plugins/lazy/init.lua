-- lib/late.lua is required on the first triage, long after the bundle was
-- verified at load: on main it was read from disk then, so a file replaced
-- after start ran while decisions recorded the genuine bundle's hash.
local M = {}
function M.triage()
  local late = require("lib.late")
  return { pathway = late.pathway, reason = late.reason }
end
return M
