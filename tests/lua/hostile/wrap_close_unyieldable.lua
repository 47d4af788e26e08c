-- The loop runs inside a gsub callback, where the coroutine cannot yield,
-- so the deadline hook has to kill it; the coroutine also holds a __close
-- handler that never returns. Closing it would run that handler with hooks
-- off, so it must stay unclosed.
local f = coroutine.wrap(function()
    local guard <close> = setmetatable({}, {
        __close = function() while true do end end,
    })
    string.gsub("a", "a", function() while true do end end)
end)
f()
