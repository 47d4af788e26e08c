-- caretide.test: plugin tests in the style of busted. A test file describes
-- cases; `caretide test` (the host) loads it inside the plugin's sandbox,
-- then runs the cases one by one with a fresh scratch store and virtual
-- clock for each.
--
--   describe(name, fn)  it(name, fn)  pending(name)
--   before_each(fn)  after_each(fn)      (nested describes accumulate)
--   expect(value).to_equal(x)  expect(value).never.to_equal(x)
--   stub(tbl, name, fn_or_value)  spy(tbl, name)   (undone after each test)
--   referral{}, candidate{}, waiting{}, area{}, nhs_number(n), settings{}
--                                       (caretide.fixtures)
--
-- How a failure knows its file and line without the debug library: a
-- matcher raises a string error at the level of the test code that called
-- it, so Lua itself prefixes "file:line:"; the runner recognises its own
-- failure by the text it just raised and reads the position off the front.
-- For other errors the host may pass a traceback function; the first frame
-- in the test file then gives the line.
--
-- The runner API the host calls (see run_test for the options):
--   plan() -> {{id=, name=, pending=}, ...}   run_test(id, opts) -> result
--   run(opts) -> {passed=, failed=, pending=, tests={result, ...}}
--   format_plain(results), format_tap(results), format_test(result, style, n)
--
-- Runs inside the plugin sandbox: no io, os or debug.
local inspect = require("caretide.inspect")
local compare = require("caretide.compare")
local fixtures = require("caretide.fixtures")

local M = {}

-- Matcher failures --------------------------------------------------------

-- The failure most recently raised by a matcher: its text (without the
-- position Lua adds) and the diff, which does not travel in the error.
local last_failure

-- Called by a matcher closure, which is called by test code: level 3 is the
-- test code. Neither caller may tail-call this, or the level would shift.
local function fail(text, diff)
  last_failure = { text = text, diff = diff }
  error(text, 3)
end

local function show(v)
  return inspect.line(v, 80)
end

-- Each matcher returns ok, message_if_expected, message_if_negated, diff.
-- ok == nil means misuse (wrong argument types): fails either way.
local MATCHERS = {}

function MATCHERS.to_be(actual, expected)
  return actual == expected,
    ("expected %s to be %s"):format(show(actual), show(expected)),
    ("expected %s not to be %s"):format(show(actual), show(expected))
end

function MATCHERS.to_equal(actual, expected)
  if compare.equal(actual, expected) then
    return true, nil, ("expected %s not to equal %s"):format(show(actual), show(expected))
  end
  if type(actual) == "table" and type(expected) == "table" then
    return false, "expected tables to be equal (- expected, + actual)", nil,
      compare.diff(expected, actual)
  end
  return false, ("expected %s to equal %s"):format(show(actual), show(expected))
end

function MATCHERS.to_be_nil(actual)
  return actual == nil, ("expected %s to be nil"):format(show(actual)),
    "expected a value, got nil"
end

function MATCHERS.to_be_truthy(actual)
  return not not actual, ("expected %s to be truthy"):format(show(actual)),
    ("expected %s not to be truthy"):format(show(actual))
end

function MATCHERS.to_be_falsy(actual)
  return not actual, ("expected %s to be falsy"):format(show(actual)),
    ("expected %s not to be falsy"):format(show(actual))
end

function MATCHERS.to_contain(actual, item)
  local found
  if type(actual) == "string" then
    if type(item) ~= "string" then
      return nil, "to_contain on a string needs a string, got " .. show(item)
    end
    found = actual:find(item, 1, true) ~= nil
  elseif type(actual) == "table" then
    found = false
    for _, v in pairs(actual) do
      if compare.equal(v, item) then
        found = true
        break
      end
    end
  else
    return nil, ("expected a string or a table to contain %s, got %s")
      :format(show(item), show(actual))
  end
  return found, ("expected %s to contain %s"):format(show(actual), show(item)),
    ("expected %s not to contain %s"):format(show(actual), show(item))
end

function MATCHERS.to_match(actual, pattern)
  if type(pattern) ~= "string" then
    return nil, "to_match needs a Lua pattern string, got " .. show(pattern)
  end
  if type(actual) ~= "string" then
    return false, ("expected a string matching %s, got %s"):format(show(pattern), show(actual)),
      ("expected a string not matching %s, got %s"):format(show(pattern), show(actual))
  end
  local ok, found = pcall(string.find, actual, pattern)
  if not ok then return nil, "to_match: bad pattern " .. show(pattern) .. ": " .. found end
  return found ~= nil, ("expected %s to match %s"):format(show(actual), show(pattern)),
    ("expected %s not to match %s"):format(show(actual), show(pattern))
end

function MATCHERS.to_be_near(actual, expected, tolerance)
  tolerance = tolerance or 1e-9
  if type(expected) ~= "number" or type(tolerance) ~= "number" then
    return nil, "expected to_be_near(number [, tolerance])"
  end
  if type(actual) ~= "number" then
    return false, ("expected a number near %s, got %s"):format(show(expected), show(actual)),
      ("expected a number not near %s, got %s"):format(show(expected), show(actual))
  end
  local within = math.abs(actual - expected) <= tolerance
  return within,
    ("expected %s to be within %s of %s"):format(show(actual), show(tolerance), show(expected)),
    ("expected %s not to be within %s of %s"):format(show(actual), show(tolerance),
      show(expected))
end

local function error_text(e)
  if type(e) == "string" then return e end
  return inspect.line(e, 200)
end

function MATCHERS.to_fail(actual, pattern)
  if type(actual) ~= "function" then
    return nil, "to_fail needs a function to call, got " .. show(actual)
  end
  if pattern ~= nil and type(pattern) ~= "string" then
    return nil, "to_fail takes an optional Lua pattern string, got " .. show(pattern)
  end
  local ok, err = pcall(actual)
  if ok then
    return false, pattern and ("expected the function to fail with an error matching %s")
      :format(show(pattern)) or "expected the function to fail",
      "the function did not fail"
  end
  local text = error_text(err)
  if pattern == nil then
    return true, nil, "expected the function not to fail, but it failed with: " .. text
  end
  local pok, found = pcall(string.find, text, pattern)
  if not pok then return nil, "to_fail: bad pattern " .. show(pattern) .. ": " .. found end
  return found ~= nil,
    ("expected the error to match %s, but it was: %s"):format(show(pattern), text),
    ("expected the error not to match %s, but it was: %s"):format(show(pattern), text)
end

function MATCHERS.to_be_a(actual, tname)
  if type(tname) ~= "string" then return nil, "to_be_a needs a type name" end
  local t = type(actual)
  local is = t == tname or math.type(actual) == tname
  return is, ("expected %s to be a %s, got a %s"):format(show(actual), tname, t),
    ("expected %s not to be a %s"):format(show(actual), tname)
end

local function ordered(actual, bound, sym, word)
  if type(bound) ~= "number" then return nil, "expected to_be_" .. word .. "(number)" end
  if type(actual) ~= "number" then
    return false, ("expected a number %s %s, got %s"):format(word, show(bound), show(actual)),
      ("expected a number not %s %s, got %s"):format(word, show(bound), show(actual))
  end
  local ok
  if sym == ">" then ok = actual > bound else ok = actual < bound end
  return ok, ("expected %s to be %s %s"):format(show(actual), word, show(bound)),
    ("expected %s not to be %s %s"):format(show(actual), word, show(bound))
end

function MATCHERS.to_be_greater_than(actual, bound)
  return ordered(actual, bound, ">", "greater_than")
end

function MATCHERS.to_be_less_than(actual, bound)
  return ordered(actual, bound, "<", "less_than")
end

-- Stubs and spies -----------------------------------------------------------

local Stub = {}
Stub.__index = Stub
Stub.__name = "caretide.stub"

local function is_stub(v)
  return getmetatable(v) == Stub
end

-- s:called_with(...) -> true when some call had exactly these arguments
-- (compared deeply, the count included).
function Stub:called_with(...)
  local want = table.pack(...)
  for _, call in ipairs(self.calls) do
    if compare.equal(call, want) then return true end
  end
  return false
end

-- Puts the original field back. Harmless when already done.
function Stub:revert()
  if self.reverted then return end
  self.reverted = true
  rawset(self.target, self.key, self.original)
end

function Stub:__tostring()
  return ("<stub %s, %d calls>"):format(tostring(self.key), #self.calls)
end

local function call_list(s)
  local parts = {}
  for i, call in ipairs(s.calls) do
    local args = {}
    for j = 1, call.n do args[j] = show(call[j]) end
    parts[i] = "(" .. table.concat(args, ", ") .. ")"
  end
  return #parts == 0 and "no calls" or table.concat(parts, ", ")
end

function MATCHERS.to_have_been_called(actual, times)
  if not is_stub(actual) then
    return nil, "to_have_been_called needs a stub or spy, got " .. show(actual)
  end
  local n = #actual.calls
  if times == nil then
    return n > 0, ("expected %s to have been called"):format(tostring(actual.key)),
      ("expected %s not to have been called, got %s"):format(tostring(actual.key),
        call_list(actual))
  end
  return n == times,
    ("expected %s to have been called %d times, got %d"):format(tostring(actual.key), times, n),
    ("expected %s not to have been called %d times"):format(tostring(actual.key), times)
end

function MATCHERS.to_have_been_called_with(actual, ...)
  if not is_stub(actual) then
    return nil, "to_have_been_called_with needs a stub or spy, got " .. show(actual)
  end
  local args = {}
  local want = table.pack(...)
  for i = 1, want.n do args[i] = show(want[i]) end
  local wanted = "(" .. table.concat(args, ", ") .. ")"
  return actual:called_with(...),
    ("expected %s to have been called with %s, got %s"):format(tostring(actual.key), wanted,
      call_list(actual)),
    ("expected %s not to have been called with %s"):format(tostring(actual.key), wanted)
end

-- expect ---------------------------------------------------------------------

local function expectation(value, negated)
  return setmetatable({}, {
    __index = function(_, name)
      if name == "never" or name == "not_" then return expectation(value, not negated) end
      local matcher = MATCHERS[name]
      if not matcher then
        error(("expect(...): no matcher named %s"):format(tostring(name)), 2)
      end
      return function(...)
        local ok, message, negated_message, diff = matcher(value, ...)
        if ok == nil then
          fail(message)
        elseif negated and ok then
          fail(negated_message)
        elseif not negated and not ok then
          fail(message, diff)
        end
      end
    end,
  })
end

-- expect(value) -> an expectation: call a matcher on it, directly or after
-- .never / .not_ to negate it.
function M.expect(value)
  return expectation(value, false)
end

-- The names of the matchers, sorted (for documentation and the REPL).
function M.matchers()
  local names = {}
  for name in pairs(MATCHERS) do names[#names + 1] = name end
  table.sort(names)
  return names
end

-- Output ----------------------------------------------------------------------

local function indent_lines(text, pad)
  return pad .. text:gsub("\n", "\n" .. pad)
end

local function where(r)
  if r.file and r.line then return r.file .. ":" .. r.line .. ": " end
  if r.file then return r.file .. ": " end
  return ""
end

local function yaml_quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == "\n" then return "\\n" end
    if c == "\t" then return "\\t" end
    if c == '"' or c == "\\" then return "\\" .. c end
    return ("\\x%02X"):format(c:byte())
  end) .. '"'
end

-- format_test(result, style, number) -> the text for one test, without a
-- final newline. style "plain": "ok      name", "FAIL    name" with the
-- position, message and diff indented below, "pending name". style "tap":
-- "ok N - name", "not ok N - name" with a YAML block, "ok N - name # SKIP".
function M.format_test(r, style, number)
  if style == "tap" then
    local name = r.name:gsub("\\", "\\\\"):gsub("#", "\\#"):gsub("\n", " ")
    if r.status == "pass" then return ("ok %d - %s"):format(number, name) end
    if r.status == "pending" then return ("ok %d - %s # SKIP pending"):format(number, name) end
    local lines = { ("not ok %d - %s"):format(number, name), "  ---",
      "  message: " .. yaml_quote(r.message or "") }
    if r.file then
      lines[#lines + 1] = "  at: " .. yaml_quote(r.file .. (r.line and ":" .. r.line or ""))
    end
    if r.diff then
      lines[#lines + 1] = "  diff: |"
      lines[#lines + 1] = indent_lines(r.diff, "    ")
    end
    lines[#lines + 1] = "  ..."
    return table.concat(lines, "\n")
  end
  if r.status == "pass" then return "ok      " .. r.name end
  if r.status == "pending" then return "pending " .. r.name end
  -- A plain error raised on the test's own line already starts with it.
  local message, at = r.message or "", where(r)
  if message:sub(1, #at) == at then at = "" end
  local text = "FAIL    " .. r.name .. "\n" .. indent_lines(at .. message, "        ")
  if r.diff then text = text .. "\n" .. indent_lines(r.diff, "        ") end
  return text
end

-- summary(passed, failed, pending [, style]) -> the closing lines; the last
-- is exactly "N passed, N failed". Pending tests, if any, are counted on the
-- line before ("# N pending" in TAP).
function M.summary(passed, failed, pending, style)
  local last = ("%d passed, %d failed"):format(passed, failed)
  if (pending or 0) == 0 then return last end
  return ("%s%d pending\n%s"):format(style == "tap" and "# " or "", pending, last)
end

-- format_plain(results [, opts]) -> text: one entry per test, then the
-- summary unless opts.summary == false.
function M.format_plain(results, opts)
  opts = opts or {}
  local out = {}
  for i, r in ipairs(results.tests) do out[i] = M.format_test(r, "plain", i) end
  if opts.summary ~= false then
    out[#out + 1] = M.summary(results.passed, results.failed, results.pending)
  end
  return table.concat(out, "\n")
end

-- format_tap(results [, opts]) -> TAP version 13. Options for a runner that
-- joins several result sets: offset (numbers start at offset + 1), header,
-- plan and summary (each true unless false). The plan "1..N" comes after
-- the tests, which TAP allows; the summary line after it is not TAP and
-- harnesses ignore it.
function M.format_tap(results, opts)
  opts = opts or {}
  local offset = opts.offset or 0
  local out = {}
  if opts.header ~= false then out[1] = "TAP version 13" end
  for i, r in ipairs(results.tests) do out[#out + 1] = M.format_test(r, "tap", offset + i) end
  if opts.plan ~= false then out[#out + 1] = ("1..%d"):format(offset + #results.tests) end
  if opts.summary ~= false then
    out[#out + 1] = M.summary(results.passed, results.failed, results.pending, "tap")
  end
  return table.concat(out, "\n")
end

-- Suites ----------------------------------------------------------------------

-- "file:line: text" -> file, line, text
local function split_position(s)
  local file, line, text = s:match("^(.-):(%d+): (.*)$")
  if file then return file, tonumber(line), text end
  return nil, nil, s
end

-- Lua shortens long chunk names to "...tail"; a position may carry either.
local function same_file(a, b)
  if a == b then return true end
  if a:sub(1, 3) == "..." then return b:sub(-(#a - 3)) == a:sub(4) end
  return false
end

-- The first line of the traceback that lies in `file`.
local function traceback_line(tb, file)
  for frame_file, line in tb:gmatch("\n%s*([^\n]-):(%d+):") do
    if same_file(frame_file, file) then return tonumber(line) end
  end
  return nil
end

local function new_suite()
  local S = {}
  local root = { name = nil, before = {}, after = {}, items = {} }
  local current = root
  local running -- the test being run, or nil
  local options = {} -- the options of the run_test in progress
  local active_stubs = {}
  local flat -- plan() cache

  local function check_idle(what)
    if running then error(what .. " cannot be called inside a running test", 3) end
  end

  local function full_name(block, name)
    local parts = { name }
    while block and block.name do
      table.insert(parts, 1, block.name)
      block = block.parent
    end
    return table.concat(parts, " ")
  end

  local function add_test(name, fn, extra)
    flat = nil
    local t = { kind = "test", name = full_name(current, name), fn = fn, block = current }
    for k, v in pairs(extra or {}) do t[k] = v end
    current.items[#current.items + 1] = t
    return t
  end

  -- describe(name, fn): groups tests; fn runs at once to declare them. An
  -- error in fn becomes a failing test named after the group, so the rest
  -- of the file still runs.
  function S.describe(name, fn)
    check_idle("describe()")
    if type(name) ~= "string" or type(fn) ~= "function" then
      error("expected describe(name, function)", 2)
    end
    flat = nil
    local block = { kind = "block", name = name, parent = current, before = {}, after = {},
      items = {} }
    current.items[#current.items + 1] = block
    local outer = current
    current = block
    local ok, err = pcall(fn)
    current = outer
    if not ok then add_test(name, nil, { load_error = err }) end
  end

  -- it(name [, fn]): one test; without fn it is pending.
  function S.it(name, fn)
    check_idle("it()")
    if type(name) ~= "string" or (fn ~= nil and type(fn) ~= "function") then
      error("expected it(name, function)", 2)
    end
    add_test(name, fn, { pending = fn == nil })
  end

  -- pending(name): a test still to write, reported but not run.
  function S.pending(name)
    check_idle("pending()")
    if type(name) ~= "string" then error("expected pending(name)", 2) end
    add_test(name, nil, { pending = true })
  end

  -- before_each(fn) / after_each(fn): run around every test of the
  -- enclosing describe and those nested in it; outer before inner, and
  -- after_each inner before outer.
  function S.before_each(fn)
    check_idle("before_each()")
    if type(fn) ~= "function" then error("expected before_each(function)", 2) end
    current.before[#current.before + 1] = fn
  end

  function S.after_each(fn)
    check_idle("after_each()")
    if type(fn) ~= "function" then error("expected after_each(function)", 2) end
    current.after[#current.after + 1] = fn
  end

  local function make_stub(tbl, key, impl, what)
    if type(tbl) ~= "table" or key == nil then
      error(("expected %s(table, name%s)"):format(what,
        what == "stub" and ", function or value" or ""), 3)
    end
    local current_value = tbl[key]
    if current_value == nil then
      error(("%s: no field %s to replace"):format(what, inspect.scalar(key)), 3)
    end
    local s = setmetatable({ calls = {}, target = tbl, key = key,
      original = rawget(tbl, key), reverted = false }, Stub)
    if impl == nil and what == "spy" then impl = current_value end
    local replacement = function(...)
      s.calls[#s.calls + 1] = table.pack(...)
      return impl(...)
    end
    rawset(tbl, key, replacement)
    if running then active_stubs[#active_stubs + 1] = s end
    return s
  end

  -- stub(tbl, name, fn_or_value) -> stub: replaces tbl[name] (which must
  -- exist) with a function that records its calls and then calls fn, or
  -- returns the value. Made inside a test or its hooks, it is undone after
  -- the test; otherwise call s:revert().
  function S.stub(tbl, key, fn_or_value)
    local impl = fn_or_value
    if type(impl) ~= "function" then
      impl = function() return fn_or_value end
    end
    -- Not a tail call: make_stub's error level counts this frame.
    local s = make_stub(tbl, key, impl, "stub")
    return s
  end

  -- spy(tbl, name) -> spy: records calls and passes them to the original.
  function S.spy(tbl, key)
    local s = make_stub(tbl, key, nil, "spy")
    return s
  end

  local function restore_stubs()
    for i = #active_stubs, 1, -1 do active_stubs[i]:revert() end
    active_stubs = {}
  end

  local function host_hook(name, usage)
    return function(...)
      local hook = running and options[name]
      if type(hook) ~= "function" then
        error(usage .. " works only while `caretide test` runs a test", 2)
      end
      return hook(...)
    end
  end

  -- load_area(area): loads area{} data into this test's scratch store;
  -- advance(duration): moves the virtual clock on, firing due timers;
  -- set_time(time): sets the virtual clock ("2025-01-06T08:00Z"). The host
  -- supplies these through run_test's options.
  -- A host hook given a fixture built from the test's fields; the
  -- fixture's errors are raised at the test's line.
  local function fixture_hook(build, hook)
    return function(fields)
      local ok, value = pcall(build, fields)
      if not ok then error(select(3, split_position(value)), 2) end
      return hook(value)
    end
  end
  S.load_area = fixture_hook(fixtures.area,
                             host_hook("load_area", "load_area(area)"))
  -- refer{...}: referral intake end to end on the test's host (an area's
  -- own tests, `caretide test --config`): the referral{} built from the
  -- fields given, recorded with its infections and decided by the area's
  -- plugins as the API would; returns the decision, or nil, message, code.
  S.refer = fixture_hook(fixtures.referral, host_hook("refer", "refer{...}"))
  S.advance = host_hook("advance", "advance(duration)")
  S.set_time = host_hook("set_time", "set_time(time)")

  local function collect(block, out)
    for _, item in ipairs(block.items) do
      if item.kind == "block" then
        collect(item, out)
      else
        out[#out + 1] = item
      end
    end
    return out
  end

  local function get_plan()
    if not flat then flat = collect(root, {}) end
    return flat
  end

  -- plan() -> {{id=, name=, pending=}, ...}: the declared tests in order.
  function S.plan()
    local out = {}
    for i, t in ipairs(get_plan()) do
      out[i] = { id = i, name = t.name, pending = t.pending == true }
    end
    return out
  end

  -- Runs fn under xpcall; returns nil, or a failure record.
  local function protected(fn, ...)
    local ok, rec = xpcall(fn, function(e)
      local r = { err = e }
      if type(options.traceback) == "function" then
        local tok, tb = pcall(options.traceback)
        if tok and type(tb) == "string" then r.traceback = tb end
      end
      return r
    end, ...)
    if ok then return nil end
    return rec
  end

  -- A failure record -> message, file, line, diff.
  local function describe_failure(rec)
    local e = rec.err
    local lf = last_failure
    if type(e) == "string" and lf and #e >= #lf.text and e:sub(-#lf.text) == lf.text then
      local file, line = split_position(e)
      return lf.text, file, line, lf.diff
    end
    local text = error_text(e)
    local file, line
    if rec.traceback and options.file then
      line = traceback_line(rec.traceback, options.file)
      if line then file = options.file end
    end
    if not line and type(e) == "string" then file, line = split_position(e) end
    return text, file, line, nil
  end

  local function chain(block)
    local blocks = {}
    while block do
      table.insert(blocks, 1, block)
      block = block.parent
    end
    return blocks
  end

  -- run_test(id, opts) -> result. opts (all optional):
  --   file        the test file's chunk name as Lua shows it in positions
  --               ("stepdown/test/triage_test.lua"); results of passing
  --               tests carry it, and it finds the line in tracebacks
  --   clock       function() -> milliseconds (wall clock) for duration_ms
  --   traceback   function() -> debug.traceback() text, called while an
  --               error is raised; gives the test line for plain errors
  --   before_test function(info), after_test function(info, result): the
  --               host's per-test set-up (fresh store, virtual clock) and
  --               clean-up; info = {id=, name=, file=}. An error in either
  --               fails the test.
  --   load_area, advance, set_time: see S.load_area
  --   on_result   function(result), called as each test finishes
  -- result = {id=, name=, status="pass"|"fail"|"pending", message=, file=,
  --   line=, diff=, traceback=, duration_ms=}
  function S.run_test(id, opts)
    local t = get_plan()[id]
    if not t then error(("run_test: no test %s"):format(tostring(id)), 2) end
    opts = opts or {}
    -- A test the host aborted (an error pcall cannot catch, such as the
    -- deadline) never came back here: undo what it left behind.
    restore_stubs()
    running = nil
    options = {}
    local result = { id = id, name = t.name, file = opts.file }
    if t.pending then
      result.status = "pending"
      if opts.on_result then opts.on_result(result) end
      return result
    end
    options = opts
    running = t
    last_failure = nil
    fixtures.reset()
    local clock = opts.clock
    local started = clock and clock()
    local info = { id = id, name = t.name, file = opts.file }

    local failure
    local function attempt(fn, ...)
      local rec = protected(fn, ...)
      if rec and not failure then failure = rec end
      return rec == nil
    end

    if t.load_error then
      failure = { err = t.load_error }
    elseif not opts.before_test or attempt(opts.before_test, info) then
      local blocks = chain(t.block)
      local entered = 0
      for _, b in ipairs(blocks) do
        local ok = true
        for _, fn in ipairs(b.before) do
          ok = attempt(fn)
          if not ok then break end
        end
        entered = entered + 1
        if not ok then break end
      end
      if not failure then attempt(t.fn) end
      for i = entered, 1, -1 do
        for _, fn in ipairs(blocks[i].after) do attempt(fn) end
      end
    end
    restore_stubs()
    running = nil

    if failure then
      result.status = "fail"
      result.message, result.file, result.line, result.diff = describe_failure(failure)
      result.file = result.file or opts.file
      result.traceback = failure.traceback
    else
      result.status = "pass"
    end
    if opts.after_test then
      local rec = protected(opts.after_test, info, result)
      if rec and result.status == "pass" then
        result.status = "fail"
        result.message, result.file, result.line = describe_failure(rec)
        result.file = result.file or opts.file
      end
    end
    options = {}
    if started then result.duration_ms = clock() - started end
    if opts.on_result then opts.on_result(result) end
    return result
  end

  -- run(opts) -> {passed=, failed=, pending=, tests={result, ...}}: runs
  -- every declared test with run_test's options, then forgets them so the
  -- next file starts clean.
  function S.run(opts)
    local results = { passed = 0, failed = 0, pending = 0, tests = {} }
    for i = 1, #get_plan() do
      local r = S.run_test(i, opts)
      results.tests[i] = r
      if r.status == "pass" then
        results.passed = results.passed + 1
      elseif r.status == "fail" then
        results.failed = results.failed + 1
      else
        results.pending = results.pending + 1
      end
    end
    S.reset()
    return results
  end

  -- reset(): forgets every declared test and undoes leftover stubs.
  function S.reset()
    restore_stubs()
    root = { name = nil, before = {}, after = {}, items = {} }
    current = root
    running = nil
    options = {}
    flat = nil
  end

  -- expose(env) -> env: puts describe, it, pending, before_each,
  -- after_each, expect, stub and spy into env (a test file's globals).
  function S.expose(env)
    for _, name in ipairs({ "describe", "it", "pending", "before_each", "after_each",
      "stub", "spy" }) do
      env[name] = S[name]
    end
    env.expect = M.expect
    return env
  end

  return S
end

-- Data helpers (caretide.fixtures) and comparison, shared by every suite.
for _, name in ipairs({ "referral", "candidate", "waiting", "area", "bed_ids",
    "nhs_number", "nhs_number_valid", "none", "settings" }) do
  M[name] = fixtures[name]
end
M.equal = compare.equal
M.diff = compare.diff
M.inspect = inspect.inspect

local shared = {}
for k, v in pairs(M) do shared[k] = v end

-- new() -> an independent suite with the whole API, for running tests of
-- tests (the module itself is the default suite).
function M.new()
  local s = new_suite()
  for k, v in pairs(shared) do s[k] = v end
  s.new = M.new
  return s
end

local default = new_suite()
for k, v in pairs(default) do M[k] = v end

return M
