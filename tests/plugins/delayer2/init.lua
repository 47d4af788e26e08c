local M = {}
function M.delay(referral, delay)
  local mode = ct.settings.mode
  if mode == "accept" then
    return { valid = true, text = delay.reason .. " for " .. delay.org.id .. " (" .. referral.id .. ")" }
  elseif mode == "refuse" then
    return { valid = false, field = "responsible_org", message = "not " .. delay.responsible_org }
  elseif mode == "shape" then
    return { valid = "yes" }
  elseif mode == "raise" then
    error("delayer broke")
  end
  return nil
end
return M
