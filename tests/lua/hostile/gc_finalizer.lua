-- A finalizer that never returns would run with hooks off; refused.
setmetatable({}, {__gc = function() while true do end end})
