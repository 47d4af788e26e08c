-- stepdown triage: who goes to a designated setting: the positive window,
-- isolation still running, needing a care home, the prior-infection
-- exemption, awaited results.
local t = require("caretide.test")
local plugin = require("init")

local HOUR, DAY = 3600000, 86400000

-- A referral for a care-home placement (P3) with a covid record.
local function p3(covid, extra)
  local r = t.referral{ requested_pathway = "P3", person = { infections = { covid = covid } } }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

describe("triage", function()
  local now
  before_each(function()
    plugin.configure(t.settings())
    now = ct.now()
  end)

  describe("positive within the window before discharge", function()
    it("sends a person needing a care home to step-down, a designated setting", function()
      local a = plugin.triage(p3({ status = "positive", tested_at = now - 30 * HOUR }))
      expect(a.pathway).to_be("step_down")
      expect(a.reason).to_be("covid positive, tested 30h before discharge, needs a care home: "
        .. "designated setting until 2025-01-19")
      expect(a.priority).to_be(50)
    end)

    it("adds the priority to the referral's own", function()
      local r = p3({ status = "positive", tested_at = now })
      r.priority = 7
      expect(plugin.triage(r).priority).to_be(57)
    end)

    it("applies at exactly positive_window", function()
      plugin.configure(t.settings{ until_isolation_end = false })
      expect(plugin.triage(p3({ status = "positive", tested_at = now - 48 * HOUR }))).to_be_truthy()
    end)

    it("does not apply 1 ms beyond it without until_isolation_end", function()
      plugin.configure(t.settings{ until_isolation_end = false })
      expect(plugin.triage(p3({ status = "positive", tested_at = now - 48 * HOUR - 1 }))).to_be_nil()
    end)

    it("follows the area's window", function()
      plugin.configure(t.settings{ until_isolation_end = false, positive_window = 72 * HOUR })
      expect(plugin.triage(p3({ status = "positive", tested_at = now - 60 * HOUR }))).to_be_truthy()
    end)

    it("applies when the test time is not known", function()
      local a = plugin.triage(p3({ status = "positive" }))
      expect(a.pathway).to_be("step_down")
      expect(a.reason).to_contain("covid positive, needs a care home")
    end)
  end)

  describe("still isolating from an older positive", function()
    it("applies until isolation_length after the test", function()
      local a = plugin.triage(p3({ status = "positive", tested_at = now - 14 * DAY + 1 }))
      expect(a.pathway).to_be("step_down")
    end)

    it("stops at isolation_length after the test", function()
      expect(plugin.triage(p3({ status = "positive", tested_at = now - 14 * DAY }))).to_be_nil()
    end)

    it("follows a shorter isolation_length (10 days, as from 2021)", function()
      plugin.configure(t.settings{ isolation_length = 10 * DAY })
      expect(plugin.triage(p3({ status = "positive", tested_at = now - 10 * DAY }))).to_be_nil()
      expect(plugin.triage(p3({ status = "positive", tested_at = now - 9 * DAY }))).to_be_truthy()
    end)

    it("uses the result's own isolation end before isolation_length", function()
      local r = p3({ status = "positive", tested_at = now - 20 * DAY, isolation_end = now + DAY })
      local a = plugin.triage(r)
      expect(a.pathway).to_be("step_down")
      expect(a.reason).to_contain("until 2025-01-07")
      expect(plugin.triage(p3({ status = "positive", tested_at = now - HOUR, isolation_end = now })))
        .to_be_nil()
    end)
  end)

  describe("needing a care home", function()
    it("leaves a positive person going home to the next plugin", function()
      local r = t.referral{ requested_pathway = "P1",
        person = { infections = { covid = { status = "positive", tested_at = now } } } }
      expect(plugin.triage(r)).to_be_nil()
    end)

    it("counts a care-home resident going back", function()
      local r = t.referral{ requested_pathway = t.none, person = { usual_residence = "care_home",
        infections = { covid = { status = "positive", tested_at = now } } } }
      expect(plugin.triage(r).pathway).to_be("step_down")
    end)

    it("does not count them when returning_residents is off", function()
      plugin.configure(t.settings{ returning_residents = false })
      local r = t.referral{ requested_pathway = t.none, person = { usual_residence = "care_home",
        infections = { covid = { status = "positive", tested_at = now } } } }
      expect(plugin.triage(r)).to_be_nil()
    end)

    it("counts the pathways the area lists", function()
      plugin.configure(t.settings{ care_home_pathways = { "P2", "P3" } })
      local r = t.referral{ requested_pathway = "P2",
        person = { infections = { covid = { status = "positive", tested_at = now } } } }
      expect(plugin.triage(r).pathway).to_be("step_down")
    end)

    it("counts a decided P3 on a re-triage", function()
      local r = t.referral{ requested_pathway = t.none, pathway = "P3", state = "waiting",
        person = { infections = { covid = { status = "positive", tested_at = now } } } }
      expect(plugin.triage(r).pathway).to_be("step_down")
    end)
  end)

  describe("with designated zones in care homes (designated_pathway keep)", function()
    before_each(function()
      plugin.configure(t.settings{ designated_pathway = "keep", care_home_pathways = { "P3", "P2" } })
    end)

    it("keeps the care-home pathway the referral asks for", function()
      local a = plugin.triage(p3({ status = "positive", tested_at = now }))
      expect(a.pathway).to_be("P3")
      expect(a.reason).to_contain("designated setting")
      local p2 = t.referral{ requested_pathway = "P2",
        person = { infections = { covid = { status = "positive", tested_at = now } } } }
      expect(plugin.triage(p2).pathway).to_be("P2")
    end)

    it("uses a decided care-home pathway on a re-triage", function()
      local r = t.referral{ requested_pathway = t.none, pathway = "P2", state = "waiting",
        person = { infections = { covid = { status = "positive", tested_at = now } } } }
      expect(plugin.triage(r).pathway).to_be("P2")
    end)

    it("sends a resident going back to the first care-home pathway", function()
      local r = t.referral{ requested_pathway = t.none, person = { usual_residence = "care_home",
        infections = { covid = { status = "positive", tested_at = now } } } }
      expect(plugin.triage(r).pathway).to_be("P3")
    end)
  end)

  describe("other results", function()
    it("leaves negative and unknown results alone", function()
      expect(plugin.triage(p3({ status = "negative", tested_at = now }))).to_be_nil()
      expect(plugin.triage(p3({ status = "unknown" }))).to_be_nil()
      expect(plugin.triage(t.referral{ requested_pathway = "P3", person = { infections = {} } })).to_be_nil()
    end)

    it("applies only to the pathogens listed", function()
      local r = t.referral{ requested_pathway = "P3",
        person = { infections = { flu = { status = "positive", tested_at = now } } } }
      expect(plugin.triage(r)).to_be_nil()
      plugin.configure(t.settings{ pathogens = { "covid", "flu" } })
      expect(plugin.triage(r).reason).to_contain("flu positive")
    end)

    it("holds an awaited result for the next plugin and admit (awaiting_result hold)", function()
      expect(plugin.triage(p3({ status = "awaiting" }))).to_be_nil()
    end)

    it("sends an awaited result to a designated setting when set so", function()
      plugin.configure(t.settings{ awaiting_result = "designated" })
      local a = plugin.triage(p3({ status = "awaiting" }))
      expect(a.pathway).to_be("step_down")
      expect(a.reason).to_contain("covid result awaited")
    end)
  end)

  describe("prior-infection exemption", function()
    local function remember(days_before)
      plugin.on_infection_updated({ nhs_number = "9990000018", pathogen = "covid", status = "positive",
        tested_at = now - days_before * DAY })
    end

    it("exempts a new positive 30 days after an earlier one", function()
      remember(30)
      local info = spy(ct.log, "info")
      expect(plugin.triage(p3({ status = "positive", tested_at = now }))).to_be_nil()
      expect(info).to_have_been_called()
    end)

    it("exempts at exactly prior_infection_exemption", function()
      remember(90)
      expect(plugin.triage(p3({ status = "positive", tested_at = now }))).to_be_nil()
    end)

    it("does not exempt 1 ms beyond prior_infection_exemption", function()
      plugin.on_infection_updated({ nhs_number = "9990000018", pathogen = "covid", status = "positive",
        tested_at = now - 90 * DAY - 1 })
      expect(plugin.triage(p3({ status = "positive", tested_at = now }))).to_be_truthy()
    end)

    it("exempts only the person who had the earlier positive", function()
      plugin.on_infection_updated({ nhs_number = "9990000026", pathogen = "covid", status = "positive",
        tested_at = now - 30 * DAY })
      expect(plugin.triage(p3({ status = "positive", tested_at = now }))).to_be_truthy()
    end)

    it("does not exempt when the earlier isolation was not over before the new test", function()
      remember(13)
      expect(plugin.triage(p3({ status = "positive", tested_at = now }))).to_be_truthy()
    end)

    it("does not exempt when a clinician set a new isolation end (new symptoms)", function()
      remember(30)
      local r = p3({ status = "positive", tested_at = now, isolation_end = now + 10 * DAY })
      expect(plugin.triage(r)).to_be_truthy()
    end)

    it("has no exemption at 0s", function()
      plugin.configure(t.settings{ prior_infection_exemption = 0 })
      remember(30)
      expect(plugin.triage(p3({ status = "positive", tested_at = now }))).to_be_truthy()
    end)

    it("remembers only positives of the pathogens listed", function()
      plugin.on_infection_updated({ nhs_number = "9990000018", pathogen = "flu", status = "positive",
        tested_at = now - 30 * DAY })
      plugin.on_infection_updated({ nhs_number = "9990000018", pathogen = "covid", status = "negative",
        tested_at = now - 30 * DAY })
      expect(ct.kv.get("positives")).to_be_nil()
    end)

    it("keeps each test once, in order, and forgets those too old to exempt", function()
      remember(30)
      remember(5)
      remember(30)
      remember(200)
      expect(ct.kv.get("positives")).to_equal({ ["9990000018/covid"] = { now - 30 * DAY, now - 5 * DAY } })
      t.advance("100d")
      plugin.check()
      expect(ct.kv.get("positives")).to_equal({})
    end)
  end)
end)
