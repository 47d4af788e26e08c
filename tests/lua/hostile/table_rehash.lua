-- One table store that costs the square of the table's size in a single
-- VM instruction, which no count hook can interrupt: integer keys
-- i * (2^K - 1) spread while the hash part is smaller, and all fall on
-- node 0 once it has 2^K nodes, so the store that grows it re-inserts
-- 2^(K-1) keys each down one chain. K = 16 takes a second or two; each
-- step up four times longer; 64 MiB holds K = 20 (minutes). With `later`
-- the keys are stored and a function making that one store is returned.
local K, later = ...
K = K or 16
local M = (1 << K) - 1
local n = 1 << (K - 1)
local t = {}
for i = 1, n do
  t[i * M] = true
end
local function rehash()
  t[(n + 1) * M] = true
  return "finished"
end
if later then
  return rehash
end
return rehash()
