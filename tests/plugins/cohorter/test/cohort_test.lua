local t = require("caretide.test")

-- The test host is the daemon's host (host/host.c): a pathogen the area
-- does not track is refused under `caretide test` as by `caretide run`.
describe("cohorts on the test host", function()
  before_each(function()
    t.load_area(t.area{
      facilities = { { id = "willow", zones = { { id = "willow-red", beds = 2 } } } },
    })
  end)

  it("refuses a pathogen the area does not track", function()
    local ok, err = ct.act.set_cohort("willow-red", "measles", "positive")
    expect(ok).to_be_nil()
    expect(err).to_match("pathogen measles is not tracked here")
  end)

  it("sets one it tracks", function()
    expect(ct.act.set_cohort("willow-red", "covid", "positive")).to_be(true)
  end)

  it("tracks what the loaded area declares", function()
    t.load_area(t.area{
      pathogens = { "covid", "measles" },
      facilities = { { id = "willow", zones = { { id = "willow-red", beds = 2 } } } },
    })
    expect(ct.act.set_cohort("willow-red", "measles", "positive")).to_be(true)
    local ok, err = ct.act.set_cohort("willow-red", "flu", "positive")
    expect(ok).to_be_nil()
    expect(err).to_match("pathogen flu is not tracked here")
  end)
end)
