-- discharge_hub rank: same organisation, distance bands and their limits,
-- tag match, earliest available, surge beds, the tight policy, ties.
local t = require("caretide.test")
local plugin = require("init")

local DAY = 86400000

local function beds(list)
  local out = {}
  for i, c in ipairs(list) do out[i] = c.bed end
  return out
end

describe("rank", function()
  local referral
  before_each(function()
    plugin.configure(t.settings{
      distance_bands = { "near=1", "mid=2", "far=3", "remote=4", "demo-acute/mid=1" },
      org_links = { "demo-acute=demo-community" },
    })
    referral = t.referral{ from_org = "demo-acute", person = { needs = { "nursing" } } }
  end)

  it("returns an empty list for no candidates", function()
    expect(plugin.rank(referral, {})).to_equal({})
  end)

  it("annotates each bed with a score and a reason and keeps its fields", function()
    local c = t.candidate{ bed = "N-1", facility = "near", org = "x", tags = { "nursing" }, zone = "z1" }
    local out = plugin.rank(referral, { c })
    expect(#out).to_be(1)
    expect(out[1].bed).to_be("N-1")
    expect(out[1].zone).to_be("z1")
    expect(out[1].tags).to_equal({ "nursing" })
    expect(out[1].score).to_be_near(0.5)
    expect(out[1].reason).to_be("band 1, 1 needed tag")
  end)

  it("does not change the host's candidate tables", function()
    local c = t.candidate{ bed = "N-1", facility = "near" }
    plugin.rank(referral, { c })
    expect(c.score).to_be_nil()
  end)

  describe("organisation", function()
    it("puts the referring organisation's own beds first", function()
      local other = t.candidate{ bed = "A", facility = "near", org = "oakwood-care" }
      local own = t.candidate{ bed = "B", facility = "near", org = "demo-acute" }
      local out = plugin.rank(referral, { other, own })
      expect(beds(out)).to_equal({ "B", "A" })
      expect(out[1].reason).to_contain("same organisation")
      expect(out[1].score - out[2].score).to_be_near(2)
    end)

    it("counts linked organisations as the same", function()
      local other = t.candidate{ bed = "A", facility = "near", org = "oakwood-care" }
      local linked = t.candidate{ bed = "B", facility = "near", org = "demo-community" }
      expect(beds(plugin.rank(referral, { other, linked }))).to_equal({ "B", "A" })
    end)

    it("links only from the organisation named on the left", function()
      local r = t.referral{ from_org = "demo-community" }
      local a = t.candidate{ bed = "A", facility = "near", org = "oakwood-care" }
      local b = t.candidate{ bed = "B", facility = "near", org = "demo-acute" }
      expect(beds(plugin.rank(r, { a, b }))).to_equal({ "A", "B" })
    end)
  end)

  describe("distance", function()
    it("puts nearer bands first, one point per band", function()
      local far = t.candidate{ bed = "F", facility = "far" }
      local near = t.candidate{ bed = "N", facility = "near" }
      local out = plugin.rank(referral, { far, near })
      expect(beds(out)).to_equal({ "N", "F" })
      expect(out[1].score - out[2].score).to_be_near(2)
      expect(out[2].reason).to_contain("band 3")
    end)

    it("uses the referring organisation's own band first", function()
      expect(plugin.band("demo-acute", "mid")).to_be(1)
      expect(plugin.band("other-trust", "mid")).to_be(2)
    end)

    it("gives unlisted facilities the default band", function()
      expect(plugin.band("demo-acute", "nowhere")).to_be(2)
      plugin.configure(t.settings{ default_band = 5 })
      expect(plugin.band("demo-acute", "nowhere")).to_be(5)
    end)

    it("drops beds beyond max_band and keeps those at it", function()
      local out = plugin.rank(referral, {
        t.candidate{ bed = "R", facility = "remote" },
        t.candidate{ bed = "F", facility = "far" },
      })
      expect(beds(out)).to_equal({ "F" })
    end)

    it("has no limit when max_band is 0", function()
      plugin.configure(t.settings{ distance_bands = { "remote=9" }, max_band = 0 })
      expect(#plugin.rank(referral, { t.candidate{ facility = "remote" } })).to_be(1)
    end)
  end)

  describe("tags", function()
    it("keeps specialist beds for people who need them", function()
      local bariatric = t.candidate{ bed = "BA", facility = "near", tags = { "nursing", "bariatric" } }
      local plain = t.candidate{ bed = "PL", facility = "near", tags = { "nursing" } }
      local out = plugin.rank(referral, { bariatric, plain })
      expect(beds(out)).to_equal({ "PL", "BA" })
      expect(out[2].reason).to_contain("1 specialist tag unneeded")
    end)

    it("scores a specialist tag the person needs as a match", function()
      local r = t.referral{ person = { needs = { "nursing", "dementia" } } }
      local dementia = t.candidate{ bed = "D", facility = "near", tags = { "nursing", "dementia" } }
      local out = plugin.rank(r, { dementia })
      expect(out[1].score).to_be_near(1)
      expect(out[1].reason).to_contain("2 needed tags")
    end)

    it("treats unlisted extra tags as neutral", function()
      local a = t.candidate{ bed = "A", facility = "near", tags = { "nursing", "garden_view" } }
      expect(plugin.rank(referral, { a })[1].score).to_be_near(0.5)
    end)
  end)

  describe("availability", function()
    it("prefers a bed free now to one free in two days", function()
      local later = t.candidate{ bed = "L", facility = "near", available_at = ct.now() + 2 * DAY }
      local now = t.candidate{ bed = "N", facility = "near" }
      local out = plugin.rank(referral, { later, now })
      expect(beds(out)).to_equal({ "N", "L" })
      expect(out[2].reason).to_contain("free in 2 days")
      expect(out[1].score - out[2].score).to_be_near(2)
    end)

    it("counts part of a day as a whole day and a past time as now", function()
      local soon = t.candidate{ bed = "S", facility = "near", available_at = ct.now() + 1 }
      local past = t.candidate{ bed = "P", facility = "near", available_at = ct.now() - DAY }
      local out = plugin.rank(referral, { soon, past })
      expect(beds(out)).to_equal({ "P", "S" })
      expect(out[2].reason).to_contain("free in 1 day")
    end)
  end)

  describe("surge beds", function()
    it("offers them after every ordinary bed while ranking is normal", function()
      local surge = t.candidate{ bed = "S", facility = "near", org = "demo-acute", surge = true }
      local far = t.candidate{ bed = "F", facility = "far" }
      local out = plugin.rank(referral, { surge, far })
      expect(beds(out)).to_equal({ "F", "S" })
      expect(out[2].reason).to_contain("surge bed, offered last")
    end)

    it("ranks them by score when surge_last is off", function()
      plugin.configure(t.settings{ distance_bands = { "far=3" }, surge_last = false })
      local surge = t.candidate{ bed = "S", facility = "near", surge = true }
      local far = t.candidate{ bed = "F", facility = "far" }
      expect(beds(plugin.rank(referral, { surge, far }))).to_equal({ "S", "F" })
    end)
  end)

  describe("while capacity is tight", function()
    before_each(function()
      ct.policy.set("ranking", "tight")
    end)

    it("offers beds in every band (max_band_tight 0)", function()
      local out = plugin.rank(referral, { t.candidate{ bed = "R", facility = "remote" } })
      expect(beds(out)).to_equal({ "R" })
      expect(out[1].reason).to_contain("(capacity tight)")
    end)

    it("applies max_band_tight when set", function()
      plugin.configure(t.settings{ distance_bands = { "remote=4", "far=3" }, max_band_tight = 3 })
      local out = plugin.rank(referral, {
        t.candidate{ bed = "R", facility = "remote" }, t.candidate{ bed = "F", facility = "far" } })
      expect(beds(out)).to_equal({ "F" })
    end)

    it("scales organisation and distance scores by tight_preference_scale", function()
      local own = t.candidate{ bed = "O", facility = "far", org = "demo-acute", tags = {} }
      local out = plugin.rank(referral, { own })
      -- 2 * 0.25 for the organisation, less 1 * 0.25 * 2 bands
      expect(out[1].score).to_be_near(0)
    end)

    it("lets the earliest bed win over preferences", function()
      local preferred = t.candidate{ bed = "P", facility = "near", org = "demo-acute",
        available_at = ct.now() + 2 * DAY }
      local free = t.candidate{ bed = "F", facility = "far" }
      expect(beds(plugin.rank(referral, { preferred, free }))).to_equal({ "F", "P" })
      ct.policy.set("ranking", "normal")
      expect(beds(plugin.rank(referral, { preferred, free }))).to_equal({ "P", "F" })
    end)

    it("ranks surge beds by score", function()
      local surge = t.candidate{ bed = "S", facility = "near", surge = true }
      local far = t.candidate{ bed = "F", facility = "far" }
      local out = plugin.rank(referral, { far, surge })
      expect(beds(out)).to_equal({ "S", "F" })
      expect(out[1].reason).to_contain("surge bed")
      expect(out[1].reason).never.to_contain("offered last")
    end)

    it("reads the policy under the configured key", function()
      plugin.configure(t.settings{ distance_bands = { "remote=4" }, policy_key = "hub_ranking" })
      expect(plugin.tight()).to_be(false)
      expect(#plugin.rank(referral, { t.candidate{ facility = "remote" } })).to_be(0)
      ct.policy.set("hub_ranking", "tight")
      expect(plugin.tight()).to_be(true)
    end)

    it("lets a misused policy read raise rather than hide it", function()
      stub(ct.policy, "get", function() error("bad argument #1 to 'get' (string expected)") end)
      expect(function() plugin.tight() end).to_fail("bad argument #1 to 'get'")
    end)
  end)

  it("keeps the host's order between equal beds", function()
    local list = {}
    for i = 1, 12 do list[i] = t.candidate{ bed = ("E%02d"):format(i), facility = "near" } end
    local out = plugin.rank(referral, list)
    expect(beds(out)).to_equal(beds(list))
  end)
end)
