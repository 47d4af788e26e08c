-- Recursion through C: an __index that indexes itself, and gsub with a
-- callback that calls gsub. Lua's C-stack limit must stop both.
local t = setmetatable({}, {})
getmetatable(t).__index = function(self, k) return self[k] end
local ok, err = pcall(function() return t.x end)
assert(not ok)
local function f(s) return (s:gsub(".", f)) end
return f("ab")
