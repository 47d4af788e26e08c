-- Small helpers shared by stepdown's files: the SDK's plain-data helpers
-- (caretide.util) and the plugin's own.
local U = {}
for k, f in pairs(require("caretide.util")) do U[k] = f end

-- Whole hours as "20h" for messages (test times come in seconds).
function U.hours(ms)
  return ("%dh"):format(math.floor(ms / 3600000 + 0.5))
end

function U.pathway(r)
  return r.pathway or r.decided_pathway
end

return U
