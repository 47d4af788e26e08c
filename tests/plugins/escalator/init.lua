local M = {}
function M.escalate(metrics)
  local actions = {}
  if ct.settings.level >= 3 then
    local ok, err = ct.act.open_surge("sd")
    actions[#actions + 1] = ok and "opened surge at sd" or ("surge: " .. tostring(err))
  end
  return { level = ct.settings.level, reason = "occupancy " .. tostring(metrics.occupancy), actions = actions }
end
return M
