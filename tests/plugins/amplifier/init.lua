-- One 256 KiB string referenced 400 times costs the plugin 256 KiB, but
-- its JSON copy is 100 MiB: on main that copy was not charged, so a triage
-- result grew the daemon by hundreds of MB (and the database by 512 MB per
-- referral), and ct.kv.set reached 342 MB before its quota refused it.
local M = {}
local big = string.rep("x", 256 * 1024 - 1)
local function many()
  local t = {}
  for i = 1, 400 do t[i] = big end
  return t
end
function M.setup()
  local ok, err = pcall(ct.kv.set, "many", many())
  ct.kv.set("kv_result", { ok = ok, err = tostring(err) })
  ok, err = pcall(ct.emit, "amplifier.big", { list = many() })
  ct.kv.set("emit_result", { ok = ok, err = tostring(err) })
end
function M.triage()
  return { pathway = "P1", reason = "amplified", notes = many() }
end
return M
