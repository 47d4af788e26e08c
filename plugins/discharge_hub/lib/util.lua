-- Small helpers shared by discharge_hub's files: the SDK's plain-data
-- helpers (caretide.util) and the plugin's own.
local U = {}
for k, f in pairs(require("caretide.util")) do U[k] = f end

-- "HH:MM" -> minutes of the day, or nil.
function U.parse_hhmm(text)
  local h, m = tostring(text):match("^(%d%d):(%d%d)$")
  h, m = tonumber(h), tonumber(m)
  if not h or h > 23 or m > 59 then return nil end
  return h * 60 + m
end

-- Whole days a referral has waited past its discharge ready date: the
-- host's figure (delay_days in lists, delay.days in the referral view),
-- else from the ready date and the host clock.
function U.delay_days(r)
  if math.type(r.delay_days) == "integer" then return r.delay_days end
  if r.delay and math.type(r.delay.days) == "integer" then return r.delay.days end
  if type(r.ready_date) == "string" then
    -- ct.parse_time answers nil, message for a date that is not one;
    -- whole days since that midnight are the days past it.
    local ready = ct.parse_time(r.ready_date)
    if ready then
      local days = (ct.now() - ready) // 86400000
      if days > 0 then return days end
    end
  end
  return 0
end

function U.delay_reason(r)
  return r.delay_reason or (r.delay and r.delay.reason)
end

function U.responsible_org(r)
  return r.responsible_org or (r.delay and r.delay.responsible_org)
end

function U.pathway(r)
  return r.pathway or r.decided_pathway
end

return U
