-- luacheck configuration for caretide's Lua: every Lua file in the
-- repository (the SDK, the standard plugins and their tests, the test and
-- benchmark plugins, the SDK's own tests).
-- Run from the source directory: luacheck lua tests plugins bench config   (CTest: luacheck)
std = "lua54"
max_line_length = 120

-- Hostile plugins are bad on purpose: the sandbox tests feed them to the host.
-- tests/plugins/broken does not compile, on purpose (the host must say where).
exclude_files = { "tests/lua/hostile/**", "tests/plugins/broken/**", "tests/integration/dashboard/**" }

-- What the plugin sandbox does not give (docs/design.md "The sandbox"): code that
-- runs there must not name these. ct is the host API (lua/meta/caretide.lua).
local sandbox = {
  read_globals = { "ct" },
  not_globals = { "io", "os", "debug", "dofile", "loadfile", "package", "collectgarbage" },
}

-- What caretide.test's expose() puts into a test file's globals.
local test_globals = { "describe", "it", "pending", "before_each", "after_each", "expect",
  "stub", "spy" }

-- luacheck reads this file with Lua 5.1, hence no table.unpack.
local function with(base, ...)
  local read = {}
  for _, list in ipairs({ base.read_globals, ... }) do
    for _, name in ipairs(list) do read[#read + 1] = name end
  end
  return { read_globals = read, not_globals = base.not_globals }
end

files["lua/caretide"] = sandbox
files["plugins"] = sandbox
files["plugins/*/test"] = with(sandbox, test_globals)
-- The host's own test plugins and the benchmark's run in the same sandbox.
files["tests/plugins"] = sandbox
files["tests/plugins/*/test"] = with(sandbox, test_globals)
files["bench/plugins"] = sandbox
-- An area's own tests (config tests:) run in a sandbox of their own.
files["config/demo-tests"] = with(sandbox, test_globals)

-- The ---@meta stubs declare ct and leave every parameter unused.
files["lua/meta"] = { globals = { "ct" }, unused_args = false }

-- The SDK's own specs run in the emulated sandbox; sdk_host stands for what
-- the host's runner holds (a traceback function).
files["tests/lua/sdk"] = with(sandbox, test_globals, { "sdk_host" })
-- The runner that builds that sandbox uses the full standard library.
files["tests/lua/run_sdk_tests.lua"] = { std = "lua54" }
files["tests/lua/check_stubs.lua"] = { std = "lua54" }
