-- One VM instruction that runs for seconds: integer keys i * (2^17 - 1)
-- spread while the table's hash part is smaller, and all fall on one node
-- once it has 2^17 nodes, so the store that grows it re-inserts 65,536
-- keys each down one chain (the square of the size, in one instruction
-- that no count hook interrupts). The keys are stored in setup, well
-- under its deadline; triage makes the one store. On main /v1/health did
-- not answer for the 5-16 s it took and the call counted as a success.
local K = 17
local M = (1 << K) - 1
local n = 1 << (K - 1)
local t = {}
local P = {}
function P.setup()
  for i = 1, n do
    t[i * M] = true
  end
end
function P.triage()
  t[(n + 1) * M] = true
  return { pathway = "P1", reason = t[M] and "rehashed" or "empty" }
end
return P
