-- Keeps what it hears in its module table, not in ct.kv: a kv write made
-- while a transaction is open would be rolled back with it and hide a
-- delivery that should never have happened.
local M = { heard = {} }
local function note(ev)
  local what = ev.event
  if ev.key then what = what .. ":" .. ev.key end
  M.heard[#M.heard + 1] = what
end
function M.setup()
  ct.on("policy.changed", note)
  ct.on("plugin.*", note)
end
return M
