-- Checks the LuaLS stubs (lua/meta/caretide.lua) against the host API as
-- registered in C (host/plugins_hostapi.c): every ct.* function has a stub and
-- every stub a function; the stub takes as many parameters as the C
-- function's signature comment ("/* ct.kv.set(key, value) -> ... */"); and
-- a function whose comment says it can answer "nil, err, code" has a stub
-- whose @return says so too, and the other way round.
-- Run from the source directory: lua5.4 tests/lua/check_stubs.lua (CTest: lua_stubs)
local function read(path)
  local f = assert(io.open(path, "r"))
  local s = f:read("a")
  f:close()
  return s
end

local c = read("host/plugins_hostapi.c")
local meta = read("lua/meta/caretide.lua")
local failures = 0
local function bad(fmt, ...)
  failures = failures + 1
  io.write("FAIL: ", fmt:format(...), "\n")
end

-- Registered functions: luaL_Reg tables, placed by sublib() calls.
local where = { ct_funcs = "ct" }
for ns, tab in c:gmatch('sublib%(L, "([%w_]+)", ([%w_]+)%)') do where[tab] = "ct." .. ns end
local registered, nreg = {}, 0
for tab, body in c:gmatch("static const luaL_Reg ([%w_]+)%[%] = (%b{})") do
  local ns = where[tab]
  if not ns then
    bad("luaL_Reg table %s is not placed under ct by sublib()", tab)
  else
    for name in body:gmatch('{"([%w_]+)",') do
      registered[ns .. "." .. name] = true
      nreg = nreg + 1
    end
  end
end
if nreg == 0 then bad("no luaL_Reg entries found in host/plugins_hostapi.c") end

-- Parameters in a signature: commas at the top level ("[," opens an
-- optional one; tables {a=, b=} and strings count as one).
local function arity(params)
  params = params:gsub('"[^"]*"', "s"):gsub("%b{}", "t")
  if params:match("^%s*$") then return 0 end
  local n = 1
  for _ in params:gmatch(",") do n = n + 1 end
  return n
end

-- The C side's signature comments.
local csig = {}
for name, params, rest in c:gmatch("/%* (ct[%w_%.]+)(%b())([^\n]*)") do
  csig[name] = { arity = arity(params:sub(2, -2)), fails = rest:find("nil, err, code", 1, true) ~= nil }
end

-- The stubs: each function with the doc lines above it.
local stubs = {}
local doc = {}
for line in meta:gmatch("([^\n]*)\n") do
  local name, params = line:match("^function (ct[%w_%.]+)(%b())")
  if name then
    local returns = {}
    for _, d in ipairs(doc) do
      local r = d:match("^%-%-%-@return (.*)")
      if r then returns[#returns + 1] = r end
    end
    stubs[name] = { arity = arity(params:sub(2, -2)), returns = table.concat(returns, " ") }
    doc = {}
  elseif line:match("^%-%-%-") then
    doc[#doc + 1] = line
  else
    doc = {}
  end
end

local names = {}
for name in pairs(registered) do names[#names + 1] = name end
table.sort(names)
for _, name in ipairs(names) do
  local s, cs = stubs[name], csig[name]
  if not s then
    bad("%s is registered in host/plugins_hostapi.c but has no stub in lua/meta/caretide.lua", name)
  elseif cs then
    if s.arity ~= cs.arity then
      bad("%s takes %d parameters in its C signature comment, %d in its stub", name, cs.arity, s.arity)
    end
    local says = s.returns:find("string? code", 1, true) ~= nil
    if cs.fails and not says then
      bad("%s can answer nil, err, code (C) but its stub's @return does not say so", name)
    elseif says and not cs.fails then
      bad("%s's stub says nil, err, code but its C signature comment does not", name)
    end
  end
end
for name in pairs(stubs) do
  if not registered[name] then bad("stub %s has no function registered in host/plugins_hostapi.c", name) end
end
io.write(("%d functions, %d stubs, %d failures\n"):format(nreg, (function()
  local n = 0
  for _ in pairs(stubs) do n = n + 1 end
  return n
end)(), failures))
os.exit(failures == 0 and 0 or 1)
