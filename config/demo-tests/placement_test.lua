-- The demo area's own tests (docs/testing.md "Area tests"), run with
--   caretide test --config config/demo.yaml
-- on the daemon's host: the demo's facilities, pathogens and every
-- plugin with the settings in demo.yaml, a fresh scratch store per test.
local t = require("caretide.test")

local function positive_84()
  return {
    from_org = "demo-acute",
    requested_pathway = "P2",
    person = { age = 84, needs = { "nursing" }, infections = { covid = { status = "positive" } } },
  }
end

describe("the demo hub", function()
  it("sends a covid-positive 84-year-old from our hospital to Willow House's red wing", function()
    local d = assert(t.refer(positive_84()))
    expect(d.outcome).to_be("held")
    expect(d.pathway).to_be("step_down")
    expect(d.facility).to_be("willow-stepdown")
    expect(d.zone).to_be("willow-red")
  end)

  it("keeps a covid-negative person who needs nursing out of the red wing", function()
    local d = assert(t.refer{
      from_org = "demo-acute",
      requested_pathway = "P2",
      person = { age = 84, needs = { "nursing" } },
    })
    expect(d.zone).never.to_be("willow-red")
  end)

  it("lets the hold go after the area's hold time, and offers another bed", function()
    local d = assert(t.refer(positive_84()))
    expect(ct.referral(d.referral).state).to_be("held")
    t.advance("4h")
    -- The waiting list takes the person up again at once, never in the
    -- bed whose provider did not answer (docs/plugins.md "The waiting list").
    expect(ct.referral(d.referral).bed).never.to_be(d.bed)
  end)

  it("refuses a pathogen the area does not track, and records nothing", function()
    local d, err = t.refer{ person = { infections = { measles = { status = "positive" } } } }
    expect(d).to_be_nil()
    expect(err).to_match("pathogen measles is not tracked here")
    expect(#ct.referrals{}).to_be(0)
  end)
end)
