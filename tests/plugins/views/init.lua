local M = {}
function M.setup()
  ct.kv.set("sd_beds", #ct.beds{ facility = "sd" })
  ct.kv.set("isolation_rooms", #ct.beds{ facility = "sd", tag = "isolation_room" })
  ct.kv.set("held", #ct.beds{ status = "held" })
  local cap = ct.capacity()
  ct.kv.set("capacity_is_table", type(cap) == "table")
  ct.kv.set("level", ct.escalation().level)
  local ok, err, code = ct.beds{ facility = "nowhere" }
  ct.kv.set("unknown", { ok = ok == nil, err = err, code = code })
end
return M
