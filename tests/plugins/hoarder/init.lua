-- Fills its state to the memory cap in setup and keeps it, then asks for
-- more in every triage (each ask fails on the cap, and is caught), and
-- answers with a result the size of the output limit: what the daemon's
-- memory bound (docs/operations.md) must hold with every plugin full.
local P = {}
local kept = {}
local function fill()
  local ok = pcall(function()
    while true do
      kept[#kept + 1] = string.rep("x", 65536 - 32) .. #kept
    end
  end)
  return ok
end
function P.setup()
  fill()
  kept[#kept] = nil -- room to work in
  kept[#kept] = nil
end
function P.triage()
  fill()
  kept[#kept] = nil
  kept[#kept] = nil
  return nil
end
return P
