-- __gc added after setmetatable: Lua never registers the object for
-- finalization, so collecting it must not run the loop.
local mt = {}
local t = setmetatable({}, mt)
mt.__gc = function() while true do end end
t = nil
for i = 1, 20000 do local garbage = {i} end
return "collected"
