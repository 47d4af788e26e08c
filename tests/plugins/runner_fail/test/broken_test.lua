local t = require("caretide.test")

local answer = t.no_such_helper() -- luacheck: ignore 211 (fails before it is used)

describe("never declared", function()
  it("is never run", function() end)
end)
