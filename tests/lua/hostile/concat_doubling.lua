-- Doubling with the .. operator, which no library function sees.
local s = "z"
while true do s = s .. s end
