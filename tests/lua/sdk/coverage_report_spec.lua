-- caretide.coverage_report: ranges, per-file figures, the text and the
-- minimum check.
local cov = require("caretide.coverage_report")

local function set(lines, value)
  local m = {}
  for _, l in ipairs(lines) do m[l] = value == nil and true or value end
  return m
end

describe("coverage ranges", function()
  it("joins consecutive lines into ranges", function()
    expect(cov.ranges({ 12, 13, 14, 15, 20 })).to_be("12-15, 20")
    expect(cov.ranges({ 1, 3, 5 })).to_be("1, 3, 5")
    expect(cov.ranges({ 7 })).to_be("7")
    expect(cov.ranges({ 2, 3 })).to_be("2-3")
    expect(cov.ranges({})).to_be("")
  end)
end)

describe("coverage build", function()
  local data
  before_each(function()
    data = {
      ["stepdown/init.lua"] = {
        lines_code = set({ 3, 4, 5, 9, 12, 13, 14, 15, 20 }),
        lines_hit = { [3] = 12, [4] = 1, [5] = 1, [9] = 3, [12] = 0, [2] = 7 },
      },
      ["stepdown/lib/score.lua"] = {
        lines_code = set({ 1, 2 }),
        lines_hit = set({ 1, 2 }),
      },
      ["stepdown/lib/empty.lua"] = { lines_code = {}, lines_hit = {} },
    }
  end)

  it("counts code lines, hit lines and the uncovered ranges per file, sorted by file", function()
    local r = cov.build(data)
    expect(#r.files).to_be(3)
    local init = r.files[1]
    expect(init.file).to_be("stepdown/init.lua")
    expect(init.code).to_be(9)
    expect(init.hit).to_be(4)
    expect(init.missed).to_equal({ 12, 13, 14, 15, 20 })
    expect(init.uncovered).to_be("12-15, 20")
    expect(init.percent).to_be_near(44.444, 0.001)
    expect(r.files[2].file).to_be("stepdown/lib/empty.lua")
    expect(r.files[2].percent).to_be(100.0)
    expect(r.files[3]).to_equal({ file = "stepdown/lib/score.lua", code = 2, hit = 2,
      percent = 100.0, missed = {}, uncovered = "" })
    expect(r.total.code).to_be(11)
    expect(r.total.hit).to_be(6)
  end)

  it("formats one aligned line per file and a total", function()
    expect(cov.format(cov.build(data))).to_be(table.concat({
      "stepdown/init.lua             4/9   44.4%  uncovered: 12-15, 20",
      "stepdown/lib/empty.lua        0/0  100.0%",
      "stepdown/lib/score.lua        2/2  100.0%",
      "total                        6/11   54.5%",
    }, "\n"))
  end)

  it("checks the minimum exactly, not on the rounded figure", function()
    local r = cov.build(data) -- 6/11 = 54.545...%
    expect(cov.check(r, 54)).to_be(true)
    expect(cov.check(r, 54.5)).to_be(true)
    local ok, msg = cov.check(r, 54.55)
    expect(ok).to_be(false)
    expect(msg).to_be("coverage 54.5% is below the minimum 54.55%")
    expect(function() cov.check(r, 101) end).to_fail("percent from 0 to 100")
  end)

  it("counts an empty run as fully covered", function()
    local r = cov.build({})
    expect(r.total).to_equal({ code = 0, hit = 0, percent = 100.0 })
    expect(cov.check(r, 100)).to_be(true)
  end)

  it("rejects line maps not keyed by line number", function()
    expect(function() cov.build({ f = { lines_code = { x = true } } }) end)
      .to_fail("lines_code of f must be keyed by line number")
  end)
end)
