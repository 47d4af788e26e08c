-- caretide.compare: deep equality (cycles included) and the exact text of
-- the path diff.
local compare = require("caretide.compare")

describe("compare.equal", function()
  it("compares scalars with ==, counting 1 and 1.0 equal and NaN equal to NaN", function()
    expect(compare.equal(1, 1)).to_be(true)
    expect(compare.equal(1, 1.0)).to_be(true)
    expect(compare.equal("a", "a")).to_be(true)
    expect(compare.equal(0 / 0, 0 / 0)).to_be(true)
    expect(compare.equal(1, 2)).to_be(false)
    expect(compare.equal(1, "1")).to_be(false)
    expect(compare.equal(nil, false)).to_be(false)
    expect(compare.equal({}, nil)).to_be(false)
  end)

  it("compares tables field by field, nested", function()
    expect(compare.equal({ a = { b = { 1, 2 } } }, { a = { b = { 1, 2 } } })).to_be(true)
    expect(compare.equal({ a = { b = { 1, 2 } } }, { a = { b = { 1, 3 } } })).to_be(false)
  end)

  it("notices a key missing on either side", function()
    expect(compare.equal({ a = 1, b = 2 }, { a = 1 })).to_be(false)
    expect(compare.equal({ a = 1 }, { a = 1, b = 2 })).to_be(false)
    expect(compare.equal({ 1, 2, 3 }, { 1, 2 })).to_be(false)
  end)

  it("ignores metatables", function()
    expect(compare.equal(setmetatable({ x = 1 }, {}), { x = 1 })).to_be(true)
  end)

  it("terminates on cycles and finds equal cyclic structures equal", function()
    local a = { name = "a" }
    a.self = a
    local b = { name = "a" }
    b.self = b
    expect(compare.equal(a, b)).to_be(true)
    local c = { name = "c" }
    c.self = c
    expect(compare.equal(a, c)).to_be(false)
  end)

  it("handles mutual cycles of different lengths", function()
    local x1, x2 = {}, {}
    x1.next, x2.next = x2, x1
    local y = {}
    y.next = y
    expect(compare.equal(x1, y)).to_be(true)
    x1.tag = 1
    expect(compare.equal(x1, y)).to_be(false)
  end)
end)

describe("compare.diff", function()
  it("lists each differing leaf by path, expected first, in key order", function()
    local expected = {
      pathway = "P1",
      person = { age = 80, needs = { "nursing", "dementia" }, infections = { covid = {
        status = "negative" } } },
      priority = 0,
      reason = "home first",
    }
    local actual = {
      pathway = "P2",
      person = { age = 80, needs = { "nursing" }, infections = { covid = {
        status = "positive" } } },
      priority = 0,
      score = 2.5,
      [1] = "extra",
    }
    expect(compare.diff(expected, actual)).to_be(table.concat({
      "- expected[1] = nil",
      '+ actual[1] = "extra"',
      '- expected.pathway = "P1"',
      '+ actual.pathway = "P2"',
      '- expected.person.infections.covid.status = "negative"',
      '+ actual.person.infections.covid.status = "positive"',
      '- expected.person.needs[2] = "dementia"',
      "+ actual.person.needs[2] = nil",
      '- expected.reason = "home first"',
      "+ actual.reason = nil",
      "- expected.score = nil",
      "+ actual.score = 2.5",
    }, "\n"))
  end)

  it("prints a whole value where the types differ", function()
    expect(compare.diff({ delay = { days = 3 } }, { delay = "none" })).to_be(
      '- expected.delay = {days = 3}\n+ actual.delay = "none"')
  end)

  it("quotes keys that are not names", function()
    expect(compare.diff({ ["a b"] = 1, [true] = 1 }, { ["a b"] = 2, [true] = 2 })).to_be(
      '- expected["a b"] = 1\n+ actual["a b"] = 2\n- expected[true] = 1\n+ actual[true] = 2')
  end)

  it("is nil for equal values and works on scalars at the root", function()
    expect(compare.diff({ a = { 1 } }, { a = { 1 } })).to_be_nil()
    expect(compare.diff(3, 4)).to_be("- expected = 3\n+ actual = 4")
  end)

  it("stops listing after max_pairs and counts the rest", function()
    local e, a = {}, {}
    for i = 1, 25 do
      e[i], a[i] = i, -i
    end
    local d = compare.diff(e, a, { max_pairs = 2 })
    expect(d).to_be("- expected[1] = 1\n+ actual[1] = -1\n- expected[2] = 2\n+ actual[2] = -2\n"
      .. "... 23 more differences")
  end)

  it("takes other root names", function()
    expect(compare.diff({ x = 1 }, { x = 2 }, { names = { "want", "got" } })).to_be(
      "- want.x = 1\n+ got.x = 2")
  end)

  it("terminates on cyclic tables and reports the difference beside the cycle", function()
    local a = { level = 2 }
    a.self = a
    local b = { level = 3 }
    b.self = b
    expect(compare.diff(a, b)).to_be("- expected.level = 2\n+ actual.level = 3")
  end)
end)
