-- caretide.inspect: a readable printer for Lua values, used by the REPL to
-- show results and by caretide.test for messages and diffs.
--
--   local inspect = require("caretide.inspect")
--   inspect(value [, opts]) -> string        (same as inspect.inspect)
--
-- Keys are sorted (numbers, then strings, then booleans, then the rest), the
-- array part 1..n prints as a list, strings are quoted with escapes, and a
-- table that contains itself prints as <cycle: path> where path names the
-- enclosing table (root, root.person, root.beds[2]). A table shared by two
-- fields is not a cycle and prints twice. Tables that fit in `width`
-- columns print on one line. Options:
--
--   depth      tables nested deeper print as {...}        (default: no limit)
--   indent     string or number of spaces per level        (default: 2)
--   width      columns a table may take on one line        (default: 80)
--   inline     true: everything on one line
--   max_items  entries shown per table, then "... N more"  (default: no limit)
--   max_length characters of output, then " ...(truncated)" (default: no limit)
--   name       how the root is called in cycle paths       (default: "root")
--
-- Runs inside the plugin sandbox: no io, os or debug.
local M = {}

local KEYWORDS = {}
for word in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch("%a+") do
  KEYWORDS[word] = true
end

local ESCAPES = {
  ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n", ["\r"] = "\\r",
  ["\t"] = "\\t", ["\a"] = "\\a", ["\b"] = "\\b", ["\f"] = "\\f", ["\v"] = "\\v",
}

-- Double-quoted, with control bytes escaped; bytes from 128 up are kept so
-- UTF-8 names stay readable. Three-digit escapes cannot swallow a following
-- digit.
function M.quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESCAPES[c] or ("\\%03d"):format(c:byte())
  end) .. '"'
end

-- Floats print with enough digits to tell 0.3 from 0.1 + 0.2 (a diff that
-- shows two equal-looking numbers helps nobody) and keep a ".0" so they
-- are not mistaken for integers.
local function number_text(n)
  if math.type(n) == "integer" then return tostring(n) end
  if n ~= n then return "nan" end
  if n == math.huge then return "inf" end
  if n == -math.huge then return "-inf" end
  local s = ("%.14g"):format(n)
  if tonumber(s) ~= n then s = ("%.17g"):format(n) end
  if not s:find("[%.eEn]") then s = s .. ".0" end
  return s
end

-- A value that is not a table, as one token.
function M.scalar(v)
  local t = type(v)
  if t == "string" then return M.quote(v) end
  if t == "number" then return number_text(v) end
  if t == "nil" or t == "boolean" then return tostring(v) end
  return "<" .. tostring(v) .. ">"
end

local TYPE_RANK = { number = 1, string = 2, boolean = 3 }

-- A total order on keys of mixed types, so output is stable.
function M.key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    local ra, rb = TYPE_RANK[ta] or 4, TYPE_RANK[tb] or 4
    if ra ~= rb then return ra < rb end
    return ta < tb
  end
  if ta == "number" or ta == "string" then return a < b end
  if ta == "boolean" then return b and not a end
  return tostring(a) < tostring(b)
end

local function is_identifier(k)
  return type(k) == "string" and k:find("^[%a_][%w_]*$") ~= nil and not KEYWORDS[k]
end

-- How a key is written inside a table constructor: name or [key].
function M.key_text(k)
  if is_identifier(k) then return k end
  if type(k) == "table" then return "[<" .. tostring(k) .. ">]" end
  return "[" .. M.scalar(k) .. "]"
end

-- The path of field k below path: root.name, root[2], root["a b"].
function M.path(path, k)
  if is_identifier(k) then return path .. "." .. k end
  return path .. M.key_text(k)
end

-- The table's entries as its array length n (1..n all present) and the
-- other keys, sorted. Goes through pairs() so proxies with __pairs show
-- what their users see.
function M.entries(t)
  local others, ints = {}, {}
  for k in pairs(t) do
    if math.type(k) == "integer" and k >= 1 then ints[k] = true end
    others[#others + 1] = k
  end
  local n = 0
  while ints[n + 1] do n = n + 1 end
  if n > 0 then
    local j = 0
    for i = 1, #others do
      local k = others[i]
      if not (math.type(k) == "integer" and k >= 1 and k <= n) then
        j = j + 1
        others[j] = k
      end
    end
    for i = #others, j + 1, -1 do others[i] = nil end
  end
  table.sort(others, M.key_less)
  return n, others
end

local function is_empty(t)
  local iter, state, init = pairs(t)
  return iter(state, init) == nil
end

-- One line, or nil once it would exceed `budget` characters.
local function inline(st, t, level, path, budget)
  local left = budget
  local function go(v, lvl, p)
    if type(v) ~= "table" then
      local s = M.scalar(v)
      left = left - #s
      return left >= 0 and s or nil
    end
    local s
    if st.stack[v] then
      s = "<cycle: " .. st.stack[v] .. ">"
    elseif is_empty(v) then
      s = "{}"
    elseif lvl >= st.depth then
      s = "{...}"
    end
    if s then
      left = left - #s
      return left >= 0 and s or nil
    end
    st.stack[v] = p
    local parts = {}
    left = left - 2
    local n, keys = M.entries(v)
    local shown = 0
    local total = n + #keys
    for i = 1, total do
      if shown == st.max_items then
        parts[#parts + 1] = ("... %d more"):format(total - shown)
        left = left - #parts[#parts] - 2
        break
      end
      local k = i <= n and i or keys[i - n]
      local prefix = i <= n and "" or M.key_text(k) .. " = "
      left = left - #prefix - (i > 1 and 2 or 0)
      local child = left >= 0 and go(v[k], lvl + 1, M.path(p, k))
      if not child then
        st.stack[v] = nil
        return nil
      end
      parts[#parts + 1] = prefix .. child
      shown = shown + 1
    end
    st.stack[v] = nil
    if left < 0 then return nil end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return go(t, level, path)
end

local function render(st, v, level, path, col)
  if type(v) ~= "table" then return M.scalar(v) end
  if st.stack[v] then return "<cycle: " .. st.stack[v] .. ">" end
  if is_empty(v) then return "{}" end
  if level >= st.depth then return "{...}" end
  local one = inline(st, v, level, path, st.width - col)
  if one then return one end
  st.stack[v] = path
  local pad = st.indent:rep(level + 1)
  local lines = {}
  local n, keys = M.entries(v)
  local total = n + #keys
  local packed = false
  for i = 1, total do
    if i - 1 == st.max_items then
      lines[#lines + 1] = pad .. ("... %d more"):format(total - i + 1)
      break
    end
    -- st.length undercounts (no newlines, no closing braces), so once it
    -- passes max_length the text so far is longer still and will be cut.
    if st.length > st.max_length then
      st.truncated = true
      break
    end
    local k = i <= n and i or keys[i - n]
    local child = v[k]
    if i <= n and type(child) ~= "table" then
      -- Scalars of the list part share lines up to the width.
      local s = M.scalar(child)
      local last = lines[#lines]
      if packed and #last + 2 + #s + 1 <= st.width then
        lines[#lines] = last .. ", " .. s
      else
        lines[#lines + 1] = pad .. s
      end
      packed = true
      st.length = st.length + #s + 2
    else
      packed = false
      local prefix = pad .. (i <= n and "" or M.key_text(k) .. " = ")
      local text = render(st, child, level + 1, M.path(path, k), #prefix)
      -- A nested block counted its own lines already.
      st.length = st.length + #prefix + (text:find("\n", 1, true) and 2 or #text)
      lines[#lines + 1] = prefix .. text
    end
  end
  st.stack[v] = nil
  return "{\n" .. table.concat(lines, ",\n") .. "\n" .. st.indent:rep(level) .. "}"
end

-- inspect(value [, opts]) -> string; the options are listed at the top.
function M.inspect(value, opts)
  opts = opts or {}
  local indent = opts.indent or 2
  if type(indent) == "number" then indent = (" "):rep(indent) end
  local st = {
    stack = {},
    depth = opts.depth or math.huge,
    indent = indent,
    width = opts.inline and math.huge or (opts.width or 80),
    max_items = opts.max_items or -1,
    max_length = opts.max_length or math.huge,
    length = 0,
  }
  local out = render(st, value, 0, opts.name or "root", 0)
  if st.truncated or #out > st.max_length then
    out = out:sub(1, st.max_length) .. " ...(truncated)"
  end
  return out
end

-- One line of at most max_length characters (before the truncation mark).
function M.line(value, max_length)
  return M.inspect(value, { inline = true, max_length = max_length })
end

return setmetatable(M, {
  __call = function(_, value, opts) return M.inspect(value, opts) end,
})
