-- caretide.compare: deep equality and a readable diff of two values, for
-- caretide.test's to_equal and for anyone comparing plugin output.
--
--   compare.equal(a, b) -> boolean
--   compare.diff(expected, actual [, opts]) -> string | nil (nil when equal)
--
-- Equality: == first (so __eq and 1 == 1.0 hold), NaN equals NaN, and two
-- tables are equal when they have the same keys and equal values under
-- those keys. Keys are matched by identity (a table used as a key is the
-- same key only in both tables at once). Metatables are not compared.
-- Cycles are safe: a pair of tables met again while comparing is taken as
-- equal, which is the only consistent answer for self-similar structures.
--
-- The diff names each differing leaf by its path, expected first:
--
--   - expected.person.needs[2] = "dementia"
--   + actual.person.needs[2] = nil
--
-- A key present on one side only shows nil on the other. Keys come in the
-- order of caretide.inspect (numbers, strings, booleans, others), so the
-- text is stable. Lists are compared index by index: an inserted element
-- shows every later index as different.
local inspect = require("caretide.inspect")

local M = {}

local function nan_pair(a, b)
  return a ~= a and b ~= b
end

local function equal(a, b, seen)
  if a == b then return true end
  local ta = type(a)
  if ta ~= type(b) then return false end
  if ta == "number" then return nan_pair(a, b) end
  if ta ~= "table" then return false end
  local pairs_of_a = seen[a]
  if not pairs_of_a then
    pairs_of_a = {}
    seen[a] = pairs_of_a
  end
  if pairs_of_a[b] then return true end
  pairs_of_a[b] = true
  for k, va in pairs(a) do
    if not equal(va, b[k], seen) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

function M.equal(a, b)
  return equal(a, b, {})
end

local function union_keys(a, b)
  local keys, have = {}, {}
  for _, t in ipairs({ a, b }) do
    for k in pairs(t) do
      if not have[k] then
        have[k] = true
        keys[#keys + 1] = k
      end
    end
  end
  table.sort(keys, inspect.key_less)
  return keys
end

-- diff(expected, actual [, opts]) -> string | nil. Options:
--   names      {"expected", "actual"}: the two root names
--   max_pairs  differences listed before "... N more differences" (20)
--   width      characters of each value before truncation (100)
function M.diff(expected, actual, opts)
  opts = opts or {}
  local names = opts.names or { "expected", "actual" }
  local max_pairs = opts.max_pairs or 20
  local width = opts.width or 100
  local lines, count, seen = {}, 0, {}

  local function walk(e, a, rel)
    if e == a or (type(e) == "number" and type(a) == "number" and nan_pair(e, a)) then
      return
    end
    if type(e) == "table" and type(a) == "table" then
      local pairs_of_e = seen[e]
      if not pairs_of_e then
        pairs_of_e = {}
        seen[e] = pairs_of_e
      end
      if pairs_of_e[a] then return end
      pairs_of_e[a] = true
      for _, k in ipairs(union_keys(e, a)) do
        walk(e[k], a[k], inspect.path(rel, k))
      end
      return
    end
    count = count + 1
    if count <= max_pairs then
      lines[#lines + 1] = "- " .. names[1] .. rel .. " = " .. inspect.line(e, width)
      lines[#lines + 1] = "+ " .. names[2] .. rel .. " = " .. inspect.line(a, width)
    end
  end

  walk(expected, actual, "")
  if count == 0 then return nil end
  if count > max_pairs then
    lines[#lines + 1] = ("... %d more differences"):format(count - max_pairs)
  end
  return table.concat(lines, "\n")
end

return M
