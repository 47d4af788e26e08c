-- A chain of suspended coroutines, each holding a to-be-closed value whose
-- __close closes the previous one: closing the last closes them all, one
-- inside the other. Lua 5.4.4 does not count coroutine.close against the
-- C stack, so without the sandbox's own count this overflows it (SIGSEGV).
-- The daemon finding built the chain a few thousand per call; one call with
-- a long deadline does the same here.
local n = ...
local prev
for _ = 1, n or 40000 do
    local p = prev
    local co = coroutine.create(function()
        local guard <close> = setmetatable({}, {
            __close = function()
                if p then
                    local ok, err = coroutine.close(p)
                    if not ok then error(err, 0) end
                end
            end,
        })
        coroutine.yield()
    end)
    coroutine.resume(co)
    prev = co
end
assert(coroutine.close(prev))
