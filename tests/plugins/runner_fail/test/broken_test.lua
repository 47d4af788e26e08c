local t = require("caretide.test")

local answer = t.no_such_helper()

describe("never declared", function()
  it("is never run", function() end)
end)
