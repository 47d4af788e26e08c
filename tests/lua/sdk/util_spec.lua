-- caretide.util: the plain-data helpers the standard plugins share.
local util = require("caretide.util")

describe("util.copy", function()
  it("copies nested tables and leaves the original alone", function()
    local a = { x = { 1, 2 }, y = "s" }
    local b = util.copy(a)
    b.x[1] = 9
    expect(a.x[1]).to_be(1)
    expect(b.y).to_be("s")
    expect(util.copy(3)).to_be(3)
  end)
end)

describe("util.same", function()
  it("compares all the way down and notices a key on either side", function()
    expect(util.same({ a = { 1 } }, { a = { 1 } })).to_be(true)
    expect(util.same({ a = { 1 } }, { a = { 2 } })).to_be(false)
    expect(util.same({ a = 1 }, { a = 1, b = 2 })).to_be(false)
    expect(util.same({ a = 1, b = 2 }, { a = 1 })).to_be(false)
    expect(util.same("x", "x")).to_be(true)
  end)
end)

describe("util.merge", function()
  it("applies overrides to a copy of the base", function()
    local base = { a = 1, b = { 2 } }
    local m = util.merge(base, { a = 3 })
    expect(m).to_equal({ a = 3, b = { 2 } })
    m.b[1] = 7
    expect(base.b[1]).to_be(2)
    expect(util.merge(nil, nil)).to_equal({})
  end)
end)

describe("util.keys, set_of and count", function()
  it("sorts keys, makes sets and counts", function()
    expect(util.keys({ b = 1, a = 2 })).to_equal({ "a", "b" })
    expect(util.set_of({ "x", "y" })).to_equal({ x = true, y = true })
    expect(util.count({ 1, 2, 3, 4 }, function(v) return v % 2 == 0 end)).to_be(2)
  end)
end)

describe("util.pair and duration_text", function()
  it("splits left=right and names the setting when it cannot", function()
    local a, b = util.pair(" acute = 2 ", "bands", "org=band")
    expect(a).to_be("acute")
    expect(b).to_be("2")
    local ok, err = pcall(function() return util.pair("nope", "bands", "org=band") end)
    expect(ok).to_be(false)
    expect(err).to_match('bands: "nope" should look like org=band')
  end)

  it("writes whole seconds, at least one", function()
    expect(util.duration_text(900000)).to_be("900s")
    expect(util.duration_text(10)).to_be("1s")
  end)
end)
