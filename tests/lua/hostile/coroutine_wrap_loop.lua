-- coroutine.wrap and a plugin that catches what the wrapped function raises.
local f = coroutine.wrap(function()
    local n = 0
    while true do n = n + 1 end
end)
pcall(f)
return "escaped"
