-- The standard settings the tests pin, so that they test the rules whatever
-- an area overrides: plugin.yaml's defaults as the host reads them
-- (ct.defaults: durations in ms), never a copy kept by hand.
local util = require("caretide.util")
local values = util.copy(ct.defaults)

-- with{...} -> the standard settings with these changed (a new table).
local function with(changes)
  return util.merge(values, changes)
end

return { values = values, with = with }
