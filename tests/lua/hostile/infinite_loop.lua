-- The plainest runaway: no calls, no allocation, only a backward jump.
while true do end
