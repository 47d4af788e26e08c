-- caretide.inspect: exact text for scalars, ordering, nesting, cycles and
-- the limits.
local inspect = require("caretide.inspect")

describe("inspect scalars", function()
  it("quotes strings and escapes control characters, quotes and backslashes", function()
    expect(inspect("plain")).to_be('"plain"')
    expect(inspect('a "b" \\ c')).to_be('"a \\"b\\" \\\\ c"')
    expect(inspect("line\nnext\ttab\r\0")).to_be('"line\\nnext\\ttab\\r\\000"')
    expect(inspect("\0011")).to_be('"\\0011"')
    expect(inspect("café")).to_be('"café"')
  end)

  it("prints integers, floats, nan and infinities distinctly", function()
    expect(inspect(42)).to_be("42")
    expect(inspect(-7)).to_be("-7")
    expect(inspect(1.0)).to_be("1.0")
    expect(inspect(2.5)).to_be("2.5")
    expect(inspect(0.1 + 0.2)).to_be("0.30000000000000004")
    expect(inspect(1e100)).to_be("1e+100")
    expect(inspect(0 / 0)).to_be("nan")
    expect(inspect(math.huge)).to_be("inf")
    expect(inspect(-math.huge)).to_be("-inf")
  end)

  it("prints nil, booleans and other types", function()
    expect(inspect(nil)).to_be("nil")
    expect(inspect(true)).to_be("true")
    expect(inspect(false)).to_be("false")
    expect(inspect(function() end)).to_match("^<function: .+>$")
    expect(inspect(coroutine.create(function() end))).to_match("^<thread: .+>$")
  end)
end)

describe("inspect tables", function()
  it("prints the list part as a list and sorts the other keys by type then value", function()
    local t = { "a", "b", [4] = "hole", x = 1, [true] = 0, [2.5] = 0, ["two words"] = 2,
      ["end"] = 3, _ok = 4 }
    expect(inspect(t, { inline = true })).to_be(
      '{"a", "b", [2.5] = 0, [4] = "hole", _ok = 4, ["end"] = 3, ["two words"] = 2, x = 1, '
      .. "[true] = 0}")
  end)

  it("orders keys: numbers, strings, booleans, then other types", function()
    local keys = { "b", 3, false, "a", 1.5, true }
    table.sort(keys, inspect.key_less)
    expect(keys).to_equal({ 1.5, 3, "a", "b", false, true })
  end)

  it("breaks tables that do not fit the width over lines, indented", function()
    local r = {
      id = 1,
      person = { age = 80, needs = { "dementia" }, infections = { covid = { status = "negative" } },
        usual_residence = "home" },
      pathway = "P1",
    }
    expect(inspect(r, { width = 60 })).to_be(table.concat({
      "{",
      "  id = 1,",
      '  pathway = "P1",',
      "  person = {",
      "    age = 80,",
      '    infections = {covid = {status = "negative"}},',
      '    needs = {"dementia"},',
      '    usual_residence = "home"',
      "  }",
      "}",
    }, "\n"))
  end)

  it("takes the indent as a number of spaces or a string", function()
    local t = { a = { 1 }, b = 2 }
    expect(inspect(t, { width = 0, indent = 4 })).to_be("{\n    a = {\n        1\n    },\n    b = 2\n}")
    expect(inspect(t, { width = 0, indent = "\t" })).to_be("{\n\ta = {\n\t\t1\n\t},\n\tb = 2\n}")
  end)

  it("packs scalar list items into lines up to the width", function()
    local list = {}
    for i = 1, 12 do list[i] = i * 100 end
    expect(inspect(list, { width = 20 })).to_be(
      "{\n  100, 200, 300,\n  400, 500, 600,\n  700, 800, 900,\n  1000, 1100, 1200\n}")
  end)

  it("prints everything on one line with inline", function()
    local t = { a = { b = { c = { d = string.rep("x", 100) } } } }
    expect(inspect(t, { inline = true })).to_be('{a = {b = {c = {d = "' .. string.rep("x", 100)
      .. '"}}}}')
  end)

  it("prints empty tables as {}", function()
    expect(inspect({})).to_be("{}")
    expect(inspect({ {}, x = {} }, { depth = 1 })).to_be("{{}, x = {}}")
  end)

  it("goes through __pairs, so proxies show what their users see", function()
    local data = { level = 3 }
    local proxy = setmetatable({}, { __pairs = function() return next, data, nil end,
      __index = data })
    expect(inspect(proxy)).to_be("{level = 3}")
  end)

  it("is callable and also offers inspect.inspect and inspect.line", function()
    expect(inspect.inspect({ 1 })).to_be("{1}")
    expect(inspect.line({ a = string.rep("y", 50) }, 10)).to_be('{a = "yyyy ...(truncated)')
  end)
end)

describe("inspect cycles", function()
  it("shows a table containing itself as <cycle: root>", function()
    local t = { name = "loop" }
    t.self = t
    expect(inspect(t)).to_be('{name = "loop", self = <cycle: root>}')
  end)

  it("names the enclosing table by its path", function()
    local r = { person = { needs = { {} } } }
    r.person.needs[1].back = r.person
    r.person.needs[1].top = r
    expect(inspect(r)).to_be("{person = {needs = {{back = <cycle: root.person>, top = <cycle: root>}}}}")
    expect(inspect(r, { name = "referral" })).to_match("<cycle: referral.person>")
  end)

  it("shows cycles the same way when the table spans several lines", function()
    local t = { long = string.rep("z", 80) }
    t.me = t
    expect(inspect(t)).to_be('{\n  long = "' .. string.rep("z", 80) .. '",\n  me = <cycle: root>\n}')
  end)

  it("prints a table shared by two fields twice: that is not a cycle", function()
    local shared = { 1 }
    expect(inspect({ a = shared, b = shared })).to_be("{a = {1}, b = {1}}")
  end)
end)

describe("inspect limits", function()
  it("prints tables beyond depth as {...}", function()
    local t = { a = { b = { c = 1 } }, n = 1 }
    expect(inspect(t, { depth = 1 })).to_be("{a = {...}, n = 1}")
    expect(inspect(t, { depth = 2 })).to_be("{a = {b = {...}}, n = 1}")
    expect(inspect(t, { depth = 0 })).to_be("{...}")
  end)

  it("shows max_items entries per table and counts the rest", function()
    local t = { 1, 2, 3, 4, 5, x = 1 }
    expect(inspect(t, { max_items = 2 })).to_be("{1, 2, ... 4 more}")
    expect(inspect(t, { max_items = 2, width = 0 })).to_be("{\n  1,\n  2,\n  ... 4 more\n}")
  end)

  it("truncates output longer than max_length", function()
    local t = {}
    for i = 1, 1000 do t[i] = { id = i } end
    local s = inspect(t, { max_length = 40 })
    expect(s).to_be(inspect(t):sub(1, 40) .. " ...(truncated)")
    expect(inspect("short", { max_length = 40 })).to_be('"short"')
  end)

  it("truncates a table of thousands of rows to max_length", function()
    local t = {}
    for i = 1, 20000 do t[i] = { id = i, name = "n" .. i } end
    local s = inspect(t, { max_length = 100 })
    expect(#s).to_be(100 + #" ...(truncated)")
  end)
end)
