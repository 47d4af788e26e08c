-- Fails on any include or call circle among the host's units (docs/style.md:
-- "no circles between modules: a lower module never calls up; it offers
-- a callback or an event instead").
--
-- Usage: lua5.4 tests/tools/unit_cycles.lua SOURCE_DIR BUILD_DIR [ALLOW]
--
-- A unit is one host/X.c with its X.h. Files X_*.c that include X_int.h
-- (the module's private header) belong to module X with it, so a module's
-- own files may call each other; a file of another name that includes
-- X_int.h stays a unit of its own. Unit A depends on unit B when a file
-- of A includes a header of B (X.h or X_int.h; the statement lists
-- store_sql_*.h are the store's cache), or when A's object file uses a
-- symbol B's defines (nm over the build's libraries and the binary's
-- objects). Every strongly connected set of more than one unit is
-- a circle. ALLOW lists circles still being taken apart, one per line
-- as the script prints them ("a b c", sorted); an allowed circle that no
-- longer exists fails too, so the list only shrinks.

local src, build, allow_file = arg[1], arg[2], arg[3]
if not src or not build then
  io.stderr:write("usage: unit_cycles.lua SOURCE_DIR BUILD_DIR [ALLOW]\n")
  os.exit(2)
end

local function lines(cmd)
  local p = assert(io.popen(cmd))
  local out = {}
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  return out
end

local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- Sources and headers.
local files = lines("cd '" .. src .. "/host' && ls *.c *.h")
local exists = {}
for _, f in ipairs(files) do exists[f] = true end

-- The module of each .c: X for X.c, and for X_*.c that include X_int.h.
local module_of = {}
for _, f in ipairs(files) do
  local base = f:match("^(.-)%.c$")
  if base then
    local m = base
    local text = read(src .. "/host/" .. f) or ""
    -- The longest prefix whose _int.h it includes: cmd_plugin_bundle.c
    -- with cmd_plugin_int.h belongs to cmd_plugin.
    local prefix = base:match("^(.+)_[^_]+$")
    while prefix do
      if text:find('#include "' .. prefix .. '_int.h"', 1, true) then
        m = prefix
        break
      end
      prefix = prefix:match("^(.+)_[^_]+$")
    end
    module_of[f] = m
  end
end

-- The unit a header belongs to: its .c's module, or for X_int.h and
-- store_sql_X.h the module X; headers of no unit (version.h) are none.
local function header_unit(h)
  local base = h:match("^(.-)%.h$")
  if not base then return nil end
  if exists[base .. ".c"] then return module_of[base .. ".c"] end
  local m = base:match("^(.-)_int$")
  if m and (exists[m .. ".c"]) then return module_of[m .. ".c"] end
  if m then return m end
  -- The statement cache: each unit's SQL list is joined into one enum
  -- by the store (docs/internals.md "Storage").
  if base:match("^store_sql") then return "store" end
  return nil
end

local deps, units = {}, {}
local function edge(a, b, why)
  if not a or not b or a == b then return end
  units[a], units[b] = true, true
  deps[a] = deps[a] or {}
  deps[a][b] = deps[a][b] or why
end

-- Include edges, headers included: a file's unit depends on the unit of
-- every header it includes.
for _, f in ipairs(files) do
  local from = f:match("%.c$") and module_of[f] or header_unit(f)
  local text = read(src .. "/host/" .. f) or ""
  for h in text:gmatch('#include "([^"]+)"') do
    if exists[h] then edge(from, header_unit(h), f .. " includes " .. h) end
  end
end

-- Call edges from the objects: who defines and who uses each symbol.
-- nm -A names each object: "lib.a[X.c.o]: sym T ..." or "path/X.c.o: ...".
local nm = lines("cd '" .. build .. "' && nm -A -P libcaretide_core.a " ..
                 "libcaretide_tools.a $(ls CMakeFiles/caretide.dir/host/*.o) " ..
                 "2>/dev/null")
if #nm == 0 then
  io.stderr:write("no host objects under " .. build .. " (build first)\n")
  os.exit(2)
end
local defined, used = {}, {}
for _, l in ipairs(nm) do
  local c, rest = l:match("([%w_]+%.c)%.o%]?: (.*)$")
  local m = c and module_of[c]
  if m then
    do
      local sym, kind = rest:match("^(%S+) (%a)")
      if sym and kind == "U" then
        used[#used + 1] = {m, sym, c}
      elseif sym and kind:match("[TDBR]") then
        defined[sym] = m
      end
    end
  end
end
for _, u in ipairs(used) do
  local to = defined[u[2]]
  if to then edge(u[1], to, u[3] .. " calls " .. u[2]) end
end

-- Tarjan's strongly connected components.
local index, low, on, stack, n, sccs = {}, {}, {}, {}, 0, {}
local function strong(v)
  n = n + 1
  index[v], low[v] = n, n
  stack[#stack + 1] = v
  on[v] = true
  for w in pairs(deps[v] or {}) do
    if not index[w] then
      strong(w)
      low[v] = math.min(low[v], low[w])
    elseif on[w] then
      low[v] = math.min(low[v], index[w])
    end
  end
  if low[v] == index[v] then
    local comp = {}
    repeat
      local w = table.remove(stack)
      on[w] = nil
      comp[#comp + 1] = w
    until w == v
    if #comp > 1 then
      table.sort(comp)
      sccs[#sccs + 1] = comp
    end
  end
end
local names = {}
for u in pairs(units) do names[#names + 1] = u end
table.sort(names)
for _, u in ipairs(names) do
  if not index[u] then strong(u) end
end

local allowed, seen = {}, {}
for l in ((allow_file and read(allow_file)) or ""):gmatch("[^\n]+") do
  if not l:match("^%s*#") and l:match("%S") then
    allowed[l:gsub("^%s+", ""):gsub("%s+$", "")] = true
  end
end

local bad = 0
table.sort(sccs, function(a, b) return table.concat(a, " ") < table.concat(b, " ") end)
for _, comp in ipairs(sccs) do
  local key = table.concat(comp, " ")
  seen[key] = true
  local inside = {}
  for _, u in ipairs(comp) do inside[u] = true end
  local why = {}
  for _, u in ipairs(comp) do
    for w, reason in pairs(deps[u] or {}) do
      if inside[w] then why[#why + 1] = ("  %s -> %s (%s)"):format(u, w, reason) end
    end
  end
  table.sort(why)
  if allowed[key] then
    print("allowed circle: " .. key)
  else
    bad = bad + 1
    print("CIRCLE: " .. key)
    print(table.concat(why, "\n"))
  end
end
for key in pairs(allowed) do
  if not seen[key] then
    bad = bad + 1
    print("GONE: '" .. key .. "' is no longer a circle: take it off " .. allow_file)
  end
end
print(("%d units, %d circle(s), %d not allowed"):format(#names, #sccs, bad))
os.exit(bad == 0 and 0 or 1)
