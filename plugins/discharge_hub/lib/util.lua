-- Small helpers shared by discharge_hub's files.
local U = {}

-- A deep copy of plain data.
function U.copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = U.copy(x) end
  return out
end

-- Whether two plain values are equal all the way down.
function U.same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not U.same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- base with overrides applied (one level: settings are flat), as a new table.
function U.merge(base, overrides)
  local out = U.copy(base or {})
  for k, v in pairs(overrides or {}) do out[k] = U.copy(v) end
  return out
end

-- The keys of a table, sorted (a stable order for reasons).
function U.keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

function U.set_of(list)
  local s = {}
  for _, v in ipairs(list or {}) do s[v] = true end
  return s
end

-- "left=right" -> left, right; raises naming the setting otherwise.
function U.pair(entry, setting, shape)
  local a, b = tostring(entry):match("^%s*([^=%s]+)%s*=%s*([^=%s]+)%s*$")
  if not a then
    error(("%s: %q should look like %s"):format(setting, tostring(entry), shape), 3)
  end
  return a, b
end

-- "HH:MM" -> minutes of the day, or nil.
function U.parse_hhmm(text)
  local h, m = tostring(text):match("^(%d%d):(%d%d)$")
  h, m = tonumber(h), tonumber(m)
  if not h or h > 23 or m > 59 then return nil end
  return h * 60 + m
end

-- Milliseconds as a duration ct.every takes ("900s"), at least 1s.
function U.duration_text(ms)
  return ("%ds"):format(math.max(1, ms // 1000))
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
