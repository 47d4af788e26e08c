local t = require("caretide.test")
local plugin = require("init")

describe("escalate", function()
  before_each(function()
    t.load_area{
      facilities = {
        { id = "willow", zones = {
          { id = "willow-green", beds = { { range = "WG01..WG04" }, { id = "WG-SURGE", surge = true } } },
        } },
      },
    }
  end)

  it("sees the beds of the area it loaded", function()
    local m = ct.metrics()
    expect(m.beds.total).to_be(4)
    expect(m.beds.available).to_be(4)
  end)

  it("opens surge beds through the host above the threshold", function()
    expect(plugin.escalate({ beds = { occupancy = 0.95 } })).to_equal({
      level = 3, reason = "surge opened", actions = {},
    })
    expect(ct.metrics().beds.total).to_be(5)
  end)

  it("reports the host's refusal", function()
    local open = stub(ct.act, "open_surge", function() return nil, "no surge beds", "CT_ECAPACITY" end)
    expect(plugin.escalate({ beds = { occupancy = 0.99 } }).reason).to_be("no surge: no surge beds")
    expect(open).to_have_been_called_with("willow")
  end)

  it("stays at level 1 below the threshold", function()
    expect(plugin.escalate({ beds = { occupancy = 0.5 } }).level).to_be(1)
  end)

  it("has the previous test's stub undone", function()
    expect(ct.act.open_surge("willow")).to_be(true)
  end)
end)
