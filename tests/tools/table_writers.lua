-- Fails when a host unit writes a table it does not own (docs/internals.md
-- "Transactions and events": a unit writes only its own tables).
--
-- Usage: lua5.4 tests/tools/table_writers.lua SOURCE_DIR OWNERS
--
-- Units are unit_cycles.lua's: host/X.c with the X_*.c files that include
-- X_int.h. A unit writes a table when one of its files uses a statement of
-- the cache (X(NAME, "SQL") in any host header or file, used as
-- CT_STMT_NAME) or has SQL text of its own that inserts into, updates or
-- deletes from it. OWNERS lists, per table, the units that may write it
-- ("table: unit unit ..."), with a comment saying why when there are more
-- than one. A write by a unit not listed fails, and so does a listed
-- writer that no longer writes: the list says what the code does.

local src, owners_file = arg[1], arg[2]
if not src or not owners_file then
  io.stderr:write("usage: table_writers.lua SOURCE_DIR OWNERS\n")
  os.exit(2)
end

local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local files = {}
do
  local p = assert(io.popen("cd '" .. src .. "/host' && ls *.c *.h"))
  for l in p:lines() do files[#files + 1] = l end
  p:close()
end
local text = {}
for _, f in ipairs(files) do text[f] = read(src .. "/host/" .. f) or "" end

-- The module of each .c, as unit_cycles.lua works it out.
local function module_of(f)
  local base = f:match("^(.-)%.c$")
  local prefix = base:match("^(.+)_[^_]+$")
  while prefix do
    if text[f]:find('#include "' .. prefix .. '_int.h"', 1, true) then
      return prefix
    end
    prefix = prefix:match("^(.+)_[^_]+$")
  end
  return base
end

-- The string literals of a piece of C, joined.
local function literals(s)
  local out = {}
  for lit in s:gmatch('"([^"\n]*)"') do out[#out + 1] = lit end
  return table.concat(out, " ")
end

-- Tables an SQL text writes.
local function writes(sql)
  local w = {}
  local u = sql:upper()
  for t in u:gmatch("INSERT%s+INTO%s+([%w_]+)") do w[t:lower()] = true end
  for t in u:gmatch("INSERT%s+OR%s+%a+%s+INTO%s+([%w_]+)") do
    w[t:lower()] = true
  end
  for t in u:gmatch("REPLACE%s+INTO%s+([%w_]+)") do w[t:lower()] = true end
  for t in u:gmatch("DELETE%s+FROM%s+([%w_]+)") do w[t:lower()] = true end
  -- "UPDATE t SET", not the "DO UPDATE SET" of an upsert.
  for t in u:gmatch("UPDATE%s+([%w_]+)%s+SET") do
    if t ~= "SET" then w[t:lower()] = true end
  end
  return w
end

-- Every cached statement's SQL: X(NAME, "..." "..." ...) up to the next
-- X( or the next preprocessor line.
local stmt_sql = {}
for _, f in ipairs(files) do
  local s = text[f]
  local pos = 1
  while true do
    local a, b, name = s:find("%f[%w]X%(([%u%d_]+),", pos)
    if not a then break end
    local stop = #s + 1
    local nx = s:find("%f[%w]X%([%u%d_]+,", b + 1)
    local pp = s:find("\n#", b + 1)
    if nx and nx < stop then stop = nx end
    if pp and pp < stop then stop = pp end
    stmt_sql[name] = literals(s:sub(b + 1, stop - 1))
    pos = b + 1
  end
end

-- Who writes what.
local wrote, why = {}, {}
local function note(unit, tbl, how)
  wrote[tbl] = wrote[tbl] or {}
  if not wrote[tbl][unit] then
    wrote[tbl][unit] = true
    why[tbl .. " " .. unit] = how
  end
end
for _, f in ipairs(files) do
  if f:match("%.c$") then
    local unit, s = module_of(f), text[f]
    for name in s:gmatch("CT_STMT_([%u%d_]+)") do
      for t in pairs(writes(stmt_sql[name] or "")) do
        note(unit, t, f .. " uses CT_STMT_" .. name)
      end
    end
    for lit in s:gmatch('"([^"\n]*)"') do
      for t in pairs(writes(lit)) do note(unit, t, f .. ": \"" .. lit .. "\"") end
    end
  end
end

-- The owners list.
local owners = {}
for l in (read(owners_file) or ""):gmatch("[^\n]+") do
  local body = l:gsub("#.*$", "")
  local tbl, units = body:match("^%s*([%w_]+):%s*(.-)%s*$")
  if tbl then
    owners[tbl] = {}
    for u in units:gmatch("%S+") do owners[tbl][u] = true end
  end
end

local bad, tables = 0, {}
for t in pairs(wrote) do tables[#tables + 1] = t end
table.sort(tables)
for _, t in ipairs(tables) do
  local units = {}
  for u in pairs(wrote[t]) do units[#units + 1] = u end
  table.sort(units)
  for _, u in ipairs(units) do
    if not (owners[t] and owners[t][u]) then
      bad = bad + 1
      print(("WRITES: %s writes table %s, which it does not own (%s)")
            :format(u, t, why[t .. " " .. u]))
    end
  end
end
for t, us in pairs(owners) do
  for u in pairs(us) do
    if not (wrote[t] and wrote[t][u]) then
      bad = bad + 1
      print(("GONE: %s no longer writes %s: take it off %s")
            :format(u, t, owners_file))
    end
  end
end
print(("%d tables written, %d writes not owned or gone"):format(#tables, bad))
os.exit(bad == 0 and 0 or 1)
