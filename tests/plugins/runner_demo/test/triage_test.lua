local t = require("caretide.test")
local plugin = require("init")

describe("triage", function()
  it("sends covid-positive people to step-down", function()
    local r = t.referral{ person = { infections = { covid = { status = "positive" } } } }
    expect(plugin.triage(r)).to_equal({
      pathway = "step_down",
      reason = "covid positive",
      priority = 2,
    })
  end)

  it("leaves everyone else to the next plugin", function()
    expect(plugin.triage(t.referral())).to_be_nil()
  end)
end)

describe("rank", function()
  it("puts designated settings first", function()
    local out = plugin.rank(t.referral(), { t.candidate(), t.candidate{ designated = true } })
    expect(#out).to_be(2)
    expect(out[1].designated).to_be(true)
  end)
end)
