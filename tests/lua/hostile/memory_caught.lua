-- Hits the memory cap inside pcall, then re-raises what it caught.
local ok, err = pcall(function()
    local t = {}
    for i = 1, 1e12 do t[i] = {i} end
end)
error(err, 0)
