-- Unbounded Lua recursion: Lua's own stack limit must stop it.
local function down(n)
    return 1 + down(n + 1)
end
return down(1)
