-- A concatenation past the string limit.
local t = {}
for i = 1, 1000 do t[i] = ("y"):rep(1000) end
return table.concat(t, ",")
