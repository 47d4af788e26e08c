-- Small helpers shared by stepdown's files.
local U = {}

-- A deep copy of plain data.
function U.copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = U.copy(x) end
  return out
end

-- base with overrides applied (one level: settings are flat), as a new table.
function U.merge(base, overrides)
  local out = U.copy(base or {})
  for k, v in pairs(overrides or {}) do out[k] = U.copy(v) end
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

-- Milliseconds as a duration ct.every takes ("900s"), at least 1s.
function U.duration_text(ms)
  return ("%ds"):format(math.max(1, ms // 1000))
end

-- Whole hours as "20h" for messages (test times come in seconds).
function U.hours(ms)
  return ("%dh"):format(math.floor(ms / 3600000 + 0.5))
end

function U.pathway(r)
  return r.pathway or r.decided_pathway
end

return U
