-- caretide.util: small helpers for plain data that plugins kept copying
-- into each of their files (deep copy, deep equality, settings merged
-- with overrides, sorted keys, sets, counting, "left=right" settings).
-- Plain Lua for the plugin sandbox: require("caretide.util").
local U = {}

-- A deep copy of plain data (tables of strings, numbers, booleans).
function U.copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = U.copy(x) end
  return out
end

-- Whether two plain values are equal all the way down (caretide.compare's
-- deep equality, which the test matchers use too).
U.same = require("caretide.compare").equal

-- base with overrides applied (one level: settings are flat), as a new
-- table; neither argument changes.
function U.merge(base, overrides)
  local out = U.copy(base or {})
  for k, v in pairs(overrides or {}) do out[k] = U.copy(v) end
  return out
end

-- The keys of a table, sorted (a stable order for messages).
function U.keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- {"a", "b"} -> {a = true, b = true}
function U.set_of(list)
  local s = {}
  for _, v in ipairs(list or {}) do s[v] = true end
  return s
end

-- How many entries of a list pred answers true for.
function U.count(list, pred)
  local n = 0
  for _, v in ipairs(list) do
    if pred(v) then n = n + 1 end
  end
  return n
end

-- "left=right" -> left, right; raises naming the setting otherwise (at the
-- level of the caller's caller: the code that read the setting).
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

return U
