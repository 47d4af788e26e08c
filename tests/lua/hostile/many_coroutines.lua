-- Many short coroutines, each well under one hook interval, whose total runs
-- far past the deadline. The main loop itself does very little per
-- coroutine.
local function short()
    local x = 0
    for i = 1, 100 do x = x + i end
    return x
end
while true do
    local co = coroutine.create(short)
    coroutine.resume(co)
end
