-- caretide.test's runner, driven on inner suites made with t.new(): hook
-- order, results, failure positions, stubs undone, the host's hooks, and
-- the exact plain and TAP output.
local t = require("caretide.test")

local FILE = "tests/lua/sdk/runner_spec.lua"

-- The line of the code that calls line_here(): error level 3 seen from
-- pcall inside this function is its caller.
local function line_here()
  return tonumber(select(2, pcall(error, "", 3)):match(":(%d+): $"))
end

local function run(s, opts)
  opts = opts or {}
  opts.file = opts.file or FILE
  return s.run(opts)
end

describe("runner hooks", function()
  it("runs before_each outer to inner and after_each inner to outer", function()
    local s, log = t.new(), {}
    local function note(text) return function() log[#log + 1] = text end end
    s.before_each(note("top before"))
    s.after_each(note("top after"))
    s.describe("outer", function()
      s.before_each(note("outer before 1"))
      s.before_each(note("outer before 2"))
      s.after_each(note("outer after"))
      s.describe("inner", function()
        s.before_each(note("inner before"))
        s.after_each(note("inner after"))
        s.it("deep", note("deep test"))
      end)
      s.it("shallow", note("shallow test"))
    end)
    local r = run(s)
    expect(r.passed).to_be(2)
    expect(log).to_equal({
      "top before", "outer before 1", "outer before 2", "inner before", "deep test",
      "inner after", "outer after", "top after",
      "top before", "outer before 1", "outer before 2", "shallow test", "outer after",
      "top after",
    })
  end)

  it("names tests by their describes and the it, and keeps declaration order", function()
    local s = t.new()
    s.it("top level", function() end)
    s.describe("triage", function()
      s.describe("positives", function() s.it("go red", function() end) end)
      s.it("keeps order", function() end)
    end)
    expect(s.plan()).to_equal({
      { id = 1, name = "top level", pending = false },
      { id = 2, name = "triage positives go red", pending = false },
      { id = 3, name = "triage keeps order", pending = false },
    })
  end)

  it("stops at a failing before_each, skips the test, still runs after_each", function()
    local s, log = t.new(), {}
    s.describe("d", function()
      s.before_each(function() log[#log + 1] = "before"; error("no store", 0) end)
      s.before_each(function() log[#log + 1] = "second before" end)
      s.after_each(function() log[#log + 1] = "after" end)
      s.it("x", function() log[#log + 1] = "body" end)
    end)
    local r = run(s)
    expect(log).to_equal({ "before", "after" })
    expect(r.tests[1].status).to_be("fail")
    expect(r.tests[1].message).to_be("no store")
  end)

  it("fails a passing test whose after_each fails; the first error wins", function()
    local s = t.new()
    s.after_each(function() error("cleanup broke", 0) end)
    s.it("passes", function() end)
    s.it("fails", function() error("body broke", 0) end)
    local r = run(s)
    expect(r.tests[1].message).to_be("cleanup broke")
    expect(r.tests[2].message).to_be("body broke")
    expect(r.failed).to_be(2)
  end)
end)

describe("runner results", function()
  it("counts passes, failures and pending tests", function()
    local s = t.new()
    s.it("passes", function() end)
    s.it("fails", function() expect(1).to_be(2) end)
    s.it("no body yet")
    s.pending("later")
    local r = run(s)
    expect({ r.passed, r.failed, r.pending }).to_equal({ 1, 1, 2 })
    expect(r.tests[1]).to_equal({ id = 1, name = "passes", status = "pass", file = FILE })
    expect(r.tests[3]).to_equal({ id = 3, name = "no body yet", status = "pending", file = FILE })
    expect(r.tests[4].status).to_be("pending")
  end)

  it("gives a matcher failure the file and line of the expect", function()
    local s, line = t.new(), nil
    s.it("x", function()
      line = line_here(); expect({ pathway = "P2" }).to_equal({ pathway = "P1" })
    end)
    local f = run(s).tests[1]
    expect(f.status).to_be("fail")
    expect(f.file).to_be(FILE)
    expect(f.line).to_be(line)
    expect(f.message).to_be("expected tables to be equal (- expected, + actual)")
    expect(f.diff).to_be('- expected.pathway = "P1"\n+ actual.pathway = "P2"')
  end)

  it("keeps the diff out of failures that have none", function()
    local s = t.new()
    s.it("x", function() expect(3).to_equal(4) end)
    local f = run(s).tests[1]
    expect(f.message).to_be("expected 3 to equal 4")
    expect(f.diff).to_be_nil()
  end)

  it("places a failing expect inside before_each at its own line", function()
    local s, line = t.new(), nil
    s.before_each(function()
      line = line_here(); expect(nil).to_be_truthy()
    end)
    s.it("x", function() end)
    local f = run(s).tests[1]
    expect(f.line).to_be(line)
    expect(f.message).to_be("expected nil to be truthy")
  end)

  it("reads the position of a plain error from its message", function()
    local s, line = t.new(), nil
    s.it("x", function()
      line = line_here(); error("boom")
    end)
    local f = run(s).tests[1]
    expect(f.message).to_be(FILE .. ":" .. line .. ": boom")
    expect({ f.file, f.line }).to_equal({ FILE, line })
  end)

  it("shows an error that is not a string", function()
    local s = t.new()
    s.it("x", function() error({ code = "CT_EBUSY" }) end)
    local f = run(s).tests[1]
    expect(f.message).to_be('{code = "CT_EBUSY"}')
    expect(f.file).to_be(FILE)
    expect(f.line).to_be_nil()
  end)

  describe("with an error in plugin code", function()
    local plugin
    before_each(function()
      plugin = load("return function(r) return r.person.age end", "@plugins/demo/init.lua", "t")()
    end)

    it("finds the test's line through the host's traceback", function()
      local s, line = t.new(), nil
      s.it("x", function()
        line = line_here(); plugin({})
      end)
      local f = run(s, { traceback = sdk_host.traceback }).tests[1]
      expect(f.message).to_match("^plugins/demo/init.lua:1: attempt to index a nil value")
      expect({ f.file, f.line }).to_equal({ FILE, line })
      expect(f.traceback).to_contain("plugins/demo/init.lua:1:")
    end)

    it("falls back to the plugin's position without a traceback", function()
      local s = t.new()
      s.it("x", function() plugin({}) end)
      local f = run(s).tests[1]
      expect({ f.file, f.line }).to_equal({ "plugins/demo/init.lua", 1 })
    end)

    it("matches a file name Lua shortened with ...", function()
      local s = t.new()
      s.it("x", function() plugin({}) end)
      local tb = "stack traceback:\n\t[C]: in ?\n\tplugins/demo/init.lua:1: in function\n"
        .. "\t...very/long/path/" .. FILE .. ":77: in function <x>"
      local f = run(s, { file = "some/very/long/path/" .. FILE,
        traceback = function() return tb end }).tests[1]
      expect(f.line).to_be(77)
      expect(f.file).to_be("some/very/long/path/" .. FILE)
    end)
  end)

  it("turns an error in a describe body into a failing test and runs the rest", function()
    local s, line = t.new(), nil
    s.describe("broken", function()
      s.it("declared before the error", function() end)
      line = line_here(); local _ = nil + 1
    end)
    s.it("after", function() end)
    local r = run(s)
    expect(#r.tests).to_be(3)
    expect(r.tests[1].status).to_be("pass")
    expect(r.tests[2].name).to_be("broken")
    expect(r.tests[2].status).to_be("fail")
    expect(r.tests[2].line).to_be(line)
    expect(r.tests[2].message).to_match("attempt to perform arithmetic on a nil value")
    expect(r.tests[3].status).to_be("pass")
  end)

  it("refuses to declare tests inside a running test", function()
    local s = t.new()
    s.it("x", function() s.it("y", function() end) end)
    s.it("z", function() s.describe("w", function() end) end)
    local r = run(s)
    expect(r.tests[1].message).to_match("it%(%) cannot be called inside a running test")
    expect(r.tests[2].message).to_match("describe%(%) cannot be called inside a running test")
  end)

  it("checks its arguments", function()
    local s = t.new()
    expect(function() s.describe("x") end).to_fail("expected describe%(name, function%)")
    expect(function() s.it(1) end).to_fail("expected it%(name, function%)")
    expect(function() s.before_each("x") end).to_fail("expected before_each%(function%)")
    expect(function() s.after_each() end).to_fail("expected after_each%(function%)")
    expect(function() s.pending() end).to_fail("expected pending%(name%)")
    expect(function() s.run_test(1) end).to_fail("run_test: no test 1")
  end)
end)

describe("runner and stubs", function()
  local target
  before_each(function()
    target = { now = function() return "real" end }
  end)

  it("undoes stubs after each test, failed or not, including those of before_each", function()
    local s = t.new()
    local seen = {}
    s.before_each(function() s.stub(target, "now", "hook") end)
    s.it("stubs and fails", function()
      s.stub(target, "now", "stubbed")
      seen[#seen + 1] = target.now()
      error("fail on purpose", 0)
    end)
    s.it("sees the original", function() seen[#seen + 1] = target.now() end)
    s.before_each(function() s.stub(target, "now", "inner hook") end)
    run(s)
    expect(seen).to_equal({ "stubbed", "inner hook" })
    expect(target.now()).to_be("real")
  end)

  it("leaves a stub made outside a test until it is reverted", function()
    local s = t.new()
    local st = s.stub(target, "now", "kept")
    s.it("x", function() end)
    run(s)
    expect(target.now()).to_be("kept")
    st:revert()
    expect(target.now()).to_be("real")
  end)

  it("cleans up after a test the host aborted", function()
    local s = t.new()
    s.it("aborted", function()
      s.stub(target, "now", "left behind")
      coroutine.yield() -- leaves run_test without returning, as a deadline would
    end)
    s.it("next", function() end)
    local co = coroutine.wrap(function() s.run_test(1, { file = FILE }) end)
    co()
    expect(target.now()).to_be("left behind")
    local r = s.run_test(2, { file = FILE })
    expect(r.status).to_be("pass")
    expect(target.now()).to_be("real")
  end)
end)

describe("runner and the host", function()
  it("calls before_test and after_test around each test, and on_result after", function()
    local s, log = t.new(), {}
    s.it("a", function() log[#log + 1] = "body a" end)
    s.it("b")
    run(s, {
      before_test = function(info) log[#log + 1] = "before " .. info.name .. " " .. info.id end,
      after_test = function(info, result)
        log[#log + 1] = "after " .. info.name .. " " .. result.status
      end,
      on_result = function(result) log[#log + 1] = "result " .. result.name end,
    })
    expect(log).to_equal({ "before a 1", "body a", "after a pass", "result a", "result b" })
  end)

  it("fails the test when before_test or after_test fails", function()
    local s, ran = t.new(), false
    s.it("a", function() ran = true end)
    local r = run(s, { before_test = function() error("no scratch store", 0) end })
    expect(ran).to_be(false)
    expect(r.tests[1].message).to_be("no scratch store")
    s.it("b", function() end)
    r = run(s, { after_test = function() error("store left dirty", 0) end })
    expect(r.tests[1].message).to_be("store left dirty")
  end)

  it("measures duration with the clock it is given", function()
    local s, now = t.new(), 100
    s.it("a", function() now = now + 7 end)
    local r = run(s, { clock = function() return now end })
    expect(r.tests[1].duration_ms).to_be(7)
    s.it("b", function() end)
    expect(run(s).tests[1].duration_ms).to_be_nil()
  end)

  it("passes load_area, advance and set_time through to the host", function()
    local s, got = t.new(), {}
    s.it("uses them", function()
      expect(s.load_area({ facilities = { { id = "f", zones = { { id = "z", beds = 2 } } } } }))
        .to_be("loaded")
      expect(s.advance("15m")).to_be(900000)
      s.set_time("2025-01-06T08:00Z")
    end)
    local r = run(s, {
      load_area = function(a) got.area = a; return "loaded" end,
      advance = function(d) got.advance = d; return 900000 end,
      set_time = function(x) got.time = x end,
    })
    expect(r.tests[1].status).to_be("pass")
    expect(t.bed_ids(got.area)).to_equal({ "z-01", "z-02" })
    expect(got.advance).to_be("15m")
    expect(got.time).to_be("2025-01-06T08:00Z")
  end)

  it("refuses the host's helpers outside a run, and bad areas at the caller", function()
    local s = t.new()
    expect(function() s.advance("1h") end).to_fail("advance%(duration%) works only while")
    local line
    s.it("bad area", function()
      line = line_here(); s.load_area({ facilities = { { id = "f", kind = "x" } } })
    end)
    local r = run(s, { load_area = function() end })
    expect(r.tests[1].message).to_be(FILE .. ":" .. line .. ": area: facility f: kind must be "
      .. 'one of acute, step_down, rehab, care_home, home_care, virtual_ward (got "x")')
    expect(r.tests[1].line).to_be(line)
  end)

  it("restarts referral numbering in every test", function()
    local s, ids = t.new(), {}
    s.it("a", function() ids[#ids + 1] = t.referral().id; ids[#ids + 1] = t.referral().id end)
    s.it("b", function() ids[#ids + 1] = t.referral().id end)
    run(s)
    expect(ids).to_equal({ 1, 2, 1 })
  end)
end)

describe("runner API", function()
  it("runs single tests by id and forgets everything on reset", function()
    local s = t.new()
    s.it("a", function() end)
    s.it("b", function() expect(true).to_be(false) end)
    expect(s.run_test(2, { file = FILE }).status).to_be("fail")
    expect(s.run_test(1, { file = FILE }).status).to_be("pass")
    s.reset()
    expect(s.plan()).to_equal({})
  end)

  it("forgets the tests after run, so the next file starts clean", function()
    local s = t.new()
    s.it("a", function() end)
    expect(#run(s).tests).to_be(1)
    expect(#run(s).tests).to_be(0)
  end)

  it("exposes the DSL into an environment", function()
    local s = t.new()
    local env = s.expose({})
    expect(env.describe).to_be(s.describe)
    expect(env.expect).to_be(t.expect)
    expect(env.stub).to_be(s.stub)
    local names = {}
    for k in pairs(env) do names[#names + 1] = k end
    table.sort(names)
    expect(names).to_equal({ "after_each", "before_each", "describe", "expect", "it", "pending",
      "spy", "stub" })
  end)
end)

describe("runner output", function()
  local results, line
  before_each(function()
    local s = t.new()
    s.describe("triage", function()
      s.it("sends positives to the red wing", function() expect(1).to_be(1) end)
      s.it("keeps the pathway", function()
        line = line_here(); expect({ pathway = "P2", priority = 1 }).to_equal({ pathway = "P1", priority = 1 })
      end)
      s.pending("handles flu # later")
    end)
    results = run(s)
  end)

  it("prints plain text: ok, FAIL with position, message and diff, pending, summary", function()
    expect(t.format_plain(results)).to_be(table.concat({
      "ok      triage sends positives to the red wing",
      "FAIL    triage keeps the pathway",
      "        " .. FILE .. ":" .. line .. ": expected tables to be equal (- expected, + actual)",
      '        - expected.pathway = "P1"',
      '        + actual.pathway = "P2"',
      "pending triage handles flu # later",
      "1 pending",
      "1 passed, 1 failed",
    }, "\n"))
  end)

  it("prints TAP version 13 with YAML diagnostics and the summary last", function()
    expect(t.format_tap(results)).to_be(table.concat({
      "TAP version 13",
      "ok 1 - triage sends positives to the red wing",
      "not ok 2 - triage keeps the pathway",
      "  ---",
      '  message: "expected tables to be equal (- expected, + actual)"',
      '  at: "' .. FILE .. ":" .. line .. '"',
      "  diff: |",
      '    - expected.pathway = "P1"',
      '    + actual.pathway = "P2"',
      "  ...",
      "ok 3 - triage handles flu \\# later # SKIP pending",
      "1..3",
      "# 1 pending",
      "1 passed, 1 failed",
    }, "\n"))
  end)

  it("numbers TAP from an offset and leaves out header, plan and summary on request", function()
    local text = t.format_tap(results, { offset = 10, header = false, plan = false,
      summary = false })
    expect(text).to_match("^ok 11 %- triage sends")
    expect(text).to_match("\nok 13 %- triage handles flu \\# later # SKIP pending$")
  end)

  it("does not repeat a position the message starts with", function()
    local text = t.format_test({ name = "x", status = "fail", file = "a_test.lua", line = 3,
      message = "a_test.lua:3: boom" }, "plain", 1)
    expect(text).to_be("FAIL    x\n        a_test.lua:3: boom")
  end)

  it("quotes control characters in TAP messages", function()
    local text = t.format_test({ name = "x", status = "fail", message = 'a\n"b"\1' }, "tap", 1)
    expect(text).to_be('not ok 1 - x\n  ---\n  message: "a\\n\\"b\\"\\x01"\n  ...')
  end)

  it("ends with exactly N passed, N failed", function()
    expect(t.summary(3, 0, 0)).to_be("3 passed, 0 failed")
    expect(t.summary(3, 1, 2)).to_be("2 pending\n3 passed, 1 failed")
    expect(t.summary(0, 0, 1, "tap")).to_be("# 1 pending\n0 passed, 0 failed")
  end)
end)
