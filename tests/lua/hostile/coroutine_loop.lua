-- A loop inside a coroutine: the hook must be installed in the new thread.
local co = coroutine.create(function()
    while true do end
end)
local ok, err = coroutine.resume(co)
-- Whatever resume reports, the plugin tries to carry on.
while true do end
