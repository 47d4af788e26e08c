-- Catches every error with pcall, xpcall, coroutine.resume and
-- coroutine.close and returns a normal-looking result.
local caught = 0
for i = 1, 1e12 do
    local ok = pcall(function() for j = 1, 1e6 do end end)
    if not ok then caught = caught + 1 end
    local co = coroutine.create(function() for j = 1, 1e6 do end end)
    if not coroutine.resume(co) then caught = caught + 1 end
    coroutine.close(co)
    if caught > 10 then break end
end
return "still running", caught
