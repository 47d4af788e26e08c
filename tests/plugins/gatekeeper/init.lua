-- A level that lifts a limit: below escalation level 3 rank drops every
-- candidate and says why (the second result: bed id -> reason).
local M = {}

local function level()
  local e = ct.escalation()
  return e and e.level or 1
end

function M.rank(_, candidates)
  if level() >= 3 then
    return candidates
  end
  local why = {}
  for _, c in ipairs(candidates) do
    why[c.bed] = "held back below escalation level 3"
  end
  return {}, why
end

function M.escalate(metrics)
  local n = (metrics.waiting or {}).total or 0
  if n >= ct.settings.escalate_at then
    return { level = 3, reason = n .. " waiting" }
  end
  return { level = 1, reason = n .. " waiting" }
end

return M
