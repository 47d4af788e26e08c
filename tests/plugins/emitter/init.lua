local M = {}
function M.setup()
  local seen = {}
  local _, err = ct.emit("emitter.big", { text = string.rep("b", 17 * 1024) })
  seen.big = err
  local n, last = 0, nil
  for _ = 1, 100 do
    local ok, e = ct.emit("emitter.many", { text = string.rep("m", 15 * 1024) })
    if not ok then last = e break end
    n = n + 1
  end
  seen.accepted, seen.refused = n, last
  ct.kv.set("seen", seen)
end
return M
