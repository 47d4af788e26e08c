-- caretide.repl: what the REPL prints for results, completion, decision
-- traces, capacity and plugin status.
local repl = require("caretide.repl")

describe("repl show", function()
  it("prints each result on its own line, tables readably", function()
    expect(repl.show(1, "a", nil, { x = 1 })).to_be('1\n"a"\nnil\n{x = 1}')
    expect(repl.show()).to_be("")
  end)

  it("marks a table that contains itself", function()
    local t = { name = "loop" }
    t.self = t
    expect(repl.show(t)).to_contain("<cycle")
  end)
end)

describe("repl complete", function()
  local env
  before_each(function()
    env = {
      ct = { metrics = function() end, kv = { get = 1, set = 2 }, now = 3 },
      print = tostring,
      string = string,
      s = "text",
    }
  end)

  it("completes a field of a table path", function()
    expect(repl.complete(env, "ct.met")).to_equal({ "ct.metrics" })
    expect(repl.complete(env, "ct.kv.")).to_equal({ "ct.kv.get", "ct.kv.set" })
    expect(repl.complete(env, "ct.n")).to_equal({ "ct.now" })
  end)

  it("completes globals and keywords", function()
    expect(repl.complete(env, "pr")).to_equal({ "print" })
    expect(repl.complete(env, "whi")).to_equal({ "while" })
  end)

  it("completes methods after a colon", function()
    expect(repl.complete(env, "s:up")).to_equal({ "s:upper" })
  end)

  it("finds nothing through values that are not tables", function()
    expect(repl.complete(env, "ct.now.x")).to_equal({})
    expect(repl.complete(env, "nothing.x")).to_equal({})
  end)
end)

describe("repl explain", function()
  it("shows the outcome, every plugin step and the reasons", function()
    local text = repl.explain({
      referral = 3, outcome = "held", bed = "WH-G01", zone = "willow-green",
      facility = "willow-stepdown", pathway = "P2", priority = 2,
      trace = {
        { plugin = "triage_p2", version = "1.0.0", hook = "triage", ms = 0.25,
          output = { pathway = "P2", priority = 2 } },
        { plugin = "ranker", version = "1.0.0", hook = "rank", ms = 1,
          output = { { bed = "WH-G01", score = 2.5, reason = "nearest" }, { bed = "WH-G02" } } },
        { plugin = "picky", version = "0.1.0", hook = "admit", ms = 0.5,
          output = { false, "zone ward is refused" } },
        { plugin = "broken", version = "0.1.0", hook = "triage", ms = 2,
          error = "plugin 'broken': error in triage: init.lua:3: boom",
          fallback = "manual_review" },
      },
      reasons = { "triage_p2: rehab first" },
    })
    expect(text).to_be(table.concat({
      "referral 3: held bed WH-G01 (zone willow-green, facility willow-stepdown), pathway P2, priority 2",
      "trace:",
      "   1  triage_p2 1.0.0  triage      0.25 ms",
      '        -> {pathway = "P2", priority = 2}',
      "   2  ranker 1.0.0     rank        1.00 ms",
      '        -> 2 candidates: WH-G01 (score 2.5, "nearest"), WH-G02',
      "   3  picky 0.1.0      admit       0.50 ms",
      '        -> false, "zone ward is refused"',
      "   4  broken 0.1.0     triage      2.00 ms",
      "        !! plugin 'broken': error in triage: init.lua:3: boom (fallback: manual_review)",
      "reasons:",
      "  - triage_p2: rehab first",
    }, "\n"))
  end)

  it("says when no plugin answered", function()
    expect(repl.explain({ referral = 1, outcome = "waiting", trace = {} }))
      .to_be("referral 1: waiting\nno plugin answered: the host's defaults applied")
  end)
end)

describe("repl escalation", function()
  it("shows the level, whether it changed, actions and each step", function()
    expect(repl.escalation({ level = 3, reason = "occupancy 0.97", changed = true,
      actions = { { plugin = "winter", action = "opened surge" } },
      trace = { { plugin = "winter", version = "1.0.0", hook = "escalate", ms = 0.5,
        output = { level = 3 } } } })).to_be(table.concat({
      "level 3 (changed): occupancy 0.97",
      '  action: {action = "opened surge", plugin = "winter"}',
      "trace:",
      "   1  winter 1.0.0  escalate    0.50 ms",
      "        -> {level = 3}",
    }, "\n"))
    expect(repl.escalation({ level = 0, trace = {} })).to_be("no plugin proposed a level")
  end)
end)

describe("repl capacity and plugins", function()
  it("tabulates zones and totals", function()
    local text = repl.capacity({
      beds = { total = 4, available = 3, held = 1, occupied = 0, blocked = 0, occupancy = 0,
        surge_open = 0 },
      by_zone = { { facility = "willow", zone = "willow-green", kind = "step_down", total = 4,
        available = 3, held = 1, occupied = 0, blocked = 0, occupancy = 0, closed = false } },
      waiting = { total = 2 }, delayed = 1,
    })
    expect(text).to_be(table.concat({
      "facility  zone          kind       total  avail  held  occ  blocked  occupancy",
      "willow    willow-green  step_down      4      3     1    0        0       0.0%",
      "total                                  4      3     1    0        0       0.0%",
      "surge beds open: 0; waiting referrals: 2; delayed: 1",
    }, "\n"))
  end)

  it("lists plugins or says there are none", function()
    expect(repl.plugins({})).to_be("no plugins configured")
    expect(repl.plugins({ { name = "stepdown", version = "1.2.0", state = "active", calls = 3,
      errors = 0, timeouts = 0, memory = 2048 } }))
      .to_match("^stepdown +1%.2%.0 +active +calls 3 +errors 0 +timeouts 0 +memory 2 KiB$")
  end)
end)
