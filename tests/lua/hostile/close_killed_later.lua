-- A coroutine killed by the deadline inside a gsub callback, holding a
-- __close handler that never returns. The test closes it in a later call.
killed = coroutine.create(function()
    local guard <close> = setmetatable({}, {
        __close = function() while true do end end,
    })
    string.gsub("a", "a", function() while true do end end)
end)
coroutine.resume(killed)
