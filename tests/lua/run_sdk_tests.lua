-- Runs the Lua SDK's own tests (tests/lua/sdk/*_spec.lua) with the plain
-- lua5.4 interpreter, before the host's `caretide test` exists to do it.
--
--   cd <source dir> && LUA_PATH='lua/?.lua' lua5.4 tests/lua/run_sdk_tests.lua [--tap]
--
-- The SDK and the specs run in an environment shaped like the plugin
-- sandbox (docs/design.md "The sandbox"): no io, os, debug, dofile or loadfile;
-- load takes text chunks only; string.dump is gone; require serves only
-- caretide.* modules; reading or writing an undeclared global raises. So a
-- module that reaches for something the host will not give fails here.
-- Prints each test, then "N passed, N failed"; exits 1 on any failure.
local tap = arg[1] == "--tap"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- The sandbox's globals.
local sandbox = {}
for _, name in ipairs({ "assert", "error", "getmetatable", "ipairs", "next", "pairs",
  "pcall", "rawequal", "rawget", "rawlen", "rawset", "select", "setmetatable",
  "tonumber", "tostring", "type", "xpcall", "_VERSION" }) do
  sandbox[name] = _G[name]
end
for _, lib in ipairs({ "math", "string", "table", "utf8", "coroutine" }) do
  local copy = {}
  for k, v in pairs(_G[lib]) do copy[k] = v end
  sandbox[lib] = copy
end
sandbox.string.dump = nil
string.dump = nil -- luacheck: ignore 122 (also reachable through ("").dump otherwise)
sandbox._G = sandbox
sandbox.load = function(chunk, name, mode, env)
  if mode ~= nil and mode ~= "t" then error("load: only text chunks in the sandbox", 2) end
  return load(chunk, name, "t", env or sandbox)
end

local loaded = {}
sandbox.require = function(name)
  if loaded[name] ~= nil then return loaded[name] end
  if type(name) ~= "string" or not name:find("^caretide%.[%w_]+$") then
    error(("module %s not found: the sandbox serves only the SDK"):format(tostring(name)), 2)
  end
  local path, err = package.searchpath(name, package.path)
  if not path then error(err, 2) end
  local chunk = assert(load(read(path), "@" .. path, "t", sandbox))
  local m = chunk(name)
  loaded[name] = m == nil and true or m
  return loaded[name]
end

-- ct, the host API, is the one global the SDK may find missing: plain lua5.4
-- has no host.
setmetatable(sandbox, {
  __index = function(_, k)
    if k ~= "ct" then error("undeclared global " .. tostring(k), 2) end
  end,
  __newindex = function(_, k) error("assignment to global " .. tostring(k), 2) end,
})

local t = sandbox.require("caretide.test")

local specs = {
  "tests/lua/sdk/inspect_spec.lua",
  "tests/lua/sdk/compare_spec.lua",
  "tests/lua/sdk/fixtures_spec.lua",
  "tests/lua/sdk/coverage_report_spec.lua",
  "tests/lua/sdk/expect_spec.lua",
  "tests/lua/sdk/runner_spec.lua",
  "tests/lua/sdk/repl_spec.lua",
  "tests/lua/sdk/util_spec.lua",
}

local function clock() return os.clock() * 1000 end

local passed, failed, pending, number = 0, 0, 0, 0
if tap then print("TAP version 13") end
for _, path in ipairs(specs) do
  -- A spec's own globals: the DSL, plus what the host's runner would hold
  -- (a traceback function) for the specs that check the runner's use of it.
  local env = setmetatable({ sdk_host = { traceback = debug.traceback } },
    { __index = sandbox })
  t.expose(env)
  local chunk, err = load(read(path), "@" .. path, "t", env)
  local ok = chunk ~= nil
  if ok then ok, err = pcall(chunk) end
  if not ok then
    t.reset()
    failed = failed + 1
    number = number + 1
    print(t.format_test({ name = path .. " (loading)", status = "fail", message = tostring(err) },
      tap and "tap" or "plain", number))
  else
    local results = t.run({ file = path, clock = clock, traceback = debug.traceback })
    if #results.tests > 0 then
      if tap then
        print(t.format_tap(results, { offset = number, header = false, plan = false,
          summary = false }))
      else
        print(t.format_plain(results, { summary = false }))
      end
    end
    number = number + #results.tests
    passed, failed, pending = passed + results.passed, failed + results.failed,
      pending + results.pending
  end
end
if tap then print(("1..%d"):format(number)) end
print(t.summary(passed, failed, pending, tap and "tap" or "plain"))
os.exit(failed == 0 and 0 or 1)
