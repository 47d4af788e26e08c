-- Many strings, each under the string limit, held until the cap.
local t = {}
for i = 1, 1e12 do t[i] = ("x"):rep(4000) .. i end
