-- The runner's own example: a plugin test as docs/testing.md describes.
local t = require("caretide.test")
local plugin = require("init")

describe("triage", function()
  it("sends every referral to P2", function()
    expect(plugin.triage(t.referral()).pathway).to_be("P2")
  end)

  it("gives the NHS number in its reason", function()
    local r = t.referral{ nhs_number = t.nhs_number(3) }
    expect(plugin.triage(r)).to_equal({
      pathway = "P2",
      reason = "rehab first for " .. t.nhs_number(3),
      priority = 2,
    })
  end)

  it("follows its pathway setting", function()
    ct.settings.pathway = "P3" -- luacheck: ignore 122 (a test may change its settings)
    expect(plugin.triage(t.referral()).pathway).to_be("P3")
  end)

  it("starts each test from its default settings", function()
    expect(ct.settings.pathway).to_be("P2")
  end)

  pending("answers nothing for people already placed")
end)
