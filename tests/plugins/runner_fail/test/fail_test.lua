-- Every test but the first fails on purpose; test_runner.sh checks how.
local t = require("caretide.test")
local plugin = require("init")

describe("failures", function()
  it("passes", function()
    expect(plugin.triage(t.referral()).pathway).to_be("P1")
  end)

  it("shows a diff", function()
    expect(plugin.triage(t.referral())).to_equal({
      pathway = "P2",
      reason = "home first",
      priority = 0,
    })
  end)

  it("names the plugin line of an error", function()
    plugin.triage(t.referral{ person = { age = 95 } })
  end)

  it("compares values", function()
    expect(1 + 1).to_be(3)
  end)

  it("stops at the deadline", function()
    plugin.spin()
  end)

  it("refuses a stub of a missing field", function()
    stub(ct.act, "open_surge_now", true)
  end)

  pending("is still to write")
end)
