local score = require("lib.score")
local M = {}

function M.setup()
  ct.every("1h", function()
    ct.kv.set("ticks", (ct.kv.get("ticks") or 0) + 1)
  end)
end

function M.triage(referral)
  local covid = referral.person.infections.covid
  if covid and covid.status == "positive" then
    return { pathway = "step_down", reason = "covid positive", priority = 2 }
  end
  return nil
end

function M.rank(_referral, candidates)
  return score.sort(candidates)
end

function M.escalate(metrics)
  if metrics.beds.occupancy >= ct.settings.threshold then
    local ok, err = ct.act.open_surge(ct.settings.surge_facility)
    if not ok then
      return { level = 3, reason = "no surge: " .. err, actions = {} }
    end
    return { level = 3, reason = "surge opened", actions = {} }
  end
  return { level = 1, reason = "flowing" }
end

return M
