-- discharge_hub triage: pathways from needs, the requested pathway, usual
-- residence and isolation; priority; settings that do not parse.
local t = require("caretide.test")
local plugin = require("init")

local HOUR = 3600000

describe("triage", function()
  before_each(function()
    plugin.configure(t.settings())
  end)

  describe("from needs", function()
    it("sends a person with no needs and no request home with no new support (P0)", function()
      local r = t.referral{ requested_pathway = t.none }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("P0")
      expect(a.reason).to_contain("no needs for support")
    end)

    it("sends reablement needs to P1", function()
      local r = t.referral{ requested_pathway = t.none, person = { needs = { "reablement" } } }
      expect(plugin.triage(r).pathway).to_be("P1")
    end)

    it("sends virtual-ward needs (frailty, respiratory) to P1", function()
      for _, need in ipairs({ "frailty", "respiratory" }) do
        local r = t.referral{ requested_pathway = t.none, person = { needs = { need } } }
        expect(plugin.triage(r).pathway).to_be("P1")
      end
    end)

    it("sends rehab needs to P2", function()
      local r = t.referral{ requested_pathway = t.none, person = { needs = { "rehab" } } }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("P2")
      expect(a.reason).to_contain("needs rehab (P2)")
    end)

    it("sends nursing and residential needs to P3", function()
      for _, need in ipairs({ "nursing", "residential" }) do
        local r = t.referral{ requested_pathway = t.none, person = { needs = { need } } }
        expect(plugin.triage(r).pathway).to_be("P3")
      end
    end)

    it("takes the most intensive pathway any need points to", function()
      local r = t.referral{ requested_pathway = t.none,
        person = { needs = { "reablement", "nursing", "rehab" } } }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("P3")
      expect(a.reason).to_contain("needs nursing (P3)")
    end)

    it("ignores needs no list names", function()
      local r = t.referral{ requested_pathway = t.none, person = { needs = { "dementia", "bariatric" } } }
      expect(plugin.triage(r).pathway).to_be("P0")
    end)

    it("follows the area's need lists", function()
      plugin.configure(t.settings{ p2_needs = { "rehab", "dementia" } })
      local r = t.referral{ requested_pathway = t.none, person = { needs = { "dementia" } } }
      expect(plugin.triage(r).pathway).to_be("P2")
    end)
  end)

  describe("with a requested pathway", function()
    it("uses the request as a floor: needs may raise it", function()
      local r = t.referral{ requested_pathway = "P1", person = { needs = { "rehab" } } }
      expect(plugin.triage(r).pathway).to_be("P2")
    end)

    it("uses the request as a floor: needs never lower it", function()
      local r = t.referral{ requested_pathway = "P2", person = { needs = { "reablement" } } }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("P2")
      expect(a.reason).to_contain("raised to the requested P2")
    end)

    it("keeps a request equal to the needs' pathway without comment", function()
      local r = t.referral{ requested_pathway = "P2", person = { needs = { "rehab" } } }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("P2")
      expect(a.reason).never.to_contain("requested")
    end)

    it("lets the request win when set to prefer", function()
      plugin.configure(t.settings{ requested_pathway = "prefer" })
      local r = t.referral{ requested_pathway = "P1", person = { needs = { "rehab" } } }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("P1")
      expect(a.reason).to_contain("the requested P1 is preferred")
    end)

    it("lets needs alone decide when set to ignore", function()
      plugin.configure(t.settings{ requested_pathway = "ignore" })
      local r = t.referral{ requested_pathway = "P3" }
      expect(plugin.triage(r).pathway).to_be("P0")
    end)

    it("does not treat a step-down request as a pathway level", function()
      local r = t.referral{ requested_pathway = "step_down", person = { needs = { "rehab" } } }
      expect(plugin.triage(r).pathway).to_be("P2")
    end)
  end)

  describe("for a returning care-home resident", function()
    it("sends them back to their home as P0 (P3b) whatever their needs", function()
      local r = t.referral{ requested_pathway = "P1",
        person = { usual_residence = "care_home", needs = { "nursing" } } }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("P0")
      expect(a.reason).to_contain("returning care-home resident")
    end)

    it("makes a new placement (P3) when the hospital asks for one", function()
      local r = t.referral{ requested_pathway = "P3", person = { usual_residence = "care_home" } }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("P3")
      expect(a.reason).to_contain("new placement")
    end)

    it("ignores that request when requests are ignored", function()
      plugin.configure(t.settings{ requested_pathway = "ignore" })
      local r = t.referral{ requested_pathway = "P3", person = { usual_residence = "care_home" } }
      expect(plugin.triage(r).pathway).to_be("P0")
    end)

    -- Issue 22, finding 7: a return home with new short-term support is
    -- P1 (NHS England, Hospital discharge and community support guidance,
    -- 2024).
    it("sends a resident with new reablement or rehab needs back on P1", function()
      for _, need in ipairs({ "reablement", "rehab" }) do
        local r = t.referral{ requested_pathway = t.none,
          person = { usual_residence = "care_home", needs = { need, "nursing" } } }
        local a = plugin.triage(r)
        expect(a.pathway).to_be("P1")
        expect(a.reason).to_contain("new short-term needs (" .. need .. ")")
      end
    end)

    it("sends them to step-down while they are isolating", function()
      local r = t.referral{ requested_pathway = t.none, person = { usual_residence = "care_home",
        infections = { covid = { status = "positive" } } } }
      expect(plugin.triage(r).pathway).to_be("step_down")
    end)
  end)

  describe("while isolating", function()
    it("sends a bed-based discharge to step-down with the isolation priority", function()
      local r = t.referral{ requested_pathway = "P2",
        person = { infections = { covid = { status = "positive" } } } }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("step_down")
      expect(a.reason).to_contain("isolating (covid positive): step-down")
      expect(a.priority).to_be(20)
    end)

    it("lets people going home isolate there", function()
      local r = t.referral{ requested_pathway = "P1",
        person = { infections = { flu = { status = "positive" } } } }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("P1")
      expect(a.reason).to_contain("isolating (flu positive) at home")
      expect(a.priority).to_be(0)
    end)

    it("sends people going home to step-down too when isolate_at_home is off", function()
      plugin.configure(t.settings{ isolate_at_home = false })
      local r = t.referral{ requested_pathway = t.none,
        person = { infections = { covid = { status = "positive" } } } }
      expect(plugin.triage(r).pathway).to_be("step_down")
    end)

    it("lets a person awaiting a result wait for it", function()
      local r = t.referral{ requested_pathway = "P3",
        person = { infections = { covid = { status = "awaiting", isolating = true } } } }
      expect(plugin.triage(r).pathway).to_be("P3")
    end)

    it("counts a person awaiting a result as isolating with isolate_awaiting", function()
      plugin.configure(t.settings{ isolate_awaiting = true })
      local r = t.referral{ requested_pathway = "P3",
        person = { infections = { covid = { status = "awaiting" } } } }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("step_down")
      expect(a.reason).to_contain("covid awaiting")
    end)

    it("stops at the isolation end: one ms before it still isolating, at it not", function()
      local now = ct.now()
      local before = t.referral{ requested_pathway = "P2",
        person = { infections = { covid = { status = "positive", isolation_end = now + 1 } } } }
      expect(plugin.triage(before).pathway).to_be("step_down")
      local at = t.referral{ requested_pathway = "P2",
        person = { infections = { covid = { status = "positive", isolation_end = now } } } }
      expect(plugin.triage(at).pathway).to_be("P2")
    end)

    it("believes the host's isolating flag over the record", function()
      local r = t.referral{ requested_pathway = "P2", person = { infections = {
        covid = { status = "positive", isolation_end = ct.now() + 48 * HOUR, isolating = false } } } }
      expect(plugin.triage(r).pathway).to_be("P2")
    end)

    it("ignores negative and unknown results", function()
      local r = t.referral{ requested_pathway = "P2", person = { infections = {
        covid = { status = "negative" }, flu = { status = "unknown" } } } }
      expect(plugin.triage(r).pathway).to_be("P2")
    end)

    it("sends other pathogens to step-down only when the area lists them", function()
      local r = t.referral{ requested_pathway = "P2",
        person = { infections = { norovirus = { status = "positive" } } } }
      expect(plugin.triage(r).pathway).to_be("P2")
      plugin.configure(t.settings{ isolation_pathogens = { "covid", "norovirus" } })
      expect(plugin.triage(r).pathway).to_be("step_down")
    end)

    -- Issue 22, finding 4: a flu-positive P2 with rehab needs stays P2
    -- (an isolation room or a flu-positive zone, stepdown's cohorting), and
    -- a flu-positive resident going back isolates in their own room.
    it("keeps a flu-positive P2 on P2, to isolate in an isolation room", function()
      local r = t.referral{ requested_pathway = t.none, person = { needs = { "rehab" },
        infections = { flu = { status = "positive" } } } }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("P2")
      expect(a.reason).to_contain("isolating (flu positive) in an isolation room or a flu-positive zone")
    end)

    it("sends a flu-positive resident back to isolate in their own room", function()
      local r = t.referral{ requested_pathway = t.none, person = { usual_residence = "care_home",
        infections = { flu = { status = "positive" } } } }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("P0")
      expect(a.reason).to_contain("isolating (flu positive) in their own room")
    end)
  end)

  describe("step-down requests", function()
    it("are ignored unless the area honours them", function()
      local r = t.referral{ requested_pathway = "step_down" }
      expect(plugin.triage(r).pathway).to_be("P0")
    end)

    it("are honoured with step_down_requests, for people who cannot isolate at home", function()
      plugin.configure(t.settings{ step_down_requests = true })
      local r = t.referral{ requested_pathway = "step_down",
        person = { infections = { covid = { status = "negative" } } } }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("step_down")
      expect(a.reason).to_contain("step-down as requested")
    end)
  end)

  describe("priority", function()
    it("adds priority_per_delay_day for each day past the ready date to the referral's own", function()
      local r = t.referral{ priority = 3, delay = { days = 2 } }
      local a = plugin.triage(r)
      expect(a.priority).to_be(13)
      expect(a.reason).to_contain("2 days past the ready date")
    end)

    it("works out the days from the ready date when the host gives none", function()
      local r = t.referral{ ready_date = "2025-01-01", delay = {} }
      t.set_time("2025-01-06T08:00Z")
      local a = plugin.triage(r)
      expect(a.priority).to_be(25)
      expect(a.reason).to_contain("5 days past")
    end)

    it("adds nothing for a ready date that is not a date", function()
      t.set_time("2025-03-06T08:00Z")
      expect(plugin.triage(t.referral{ priority = 7, ready_date = "2025-02-30", delay = {} }).priority).to_be(7)
    end)

    it("says 1 day, not 1 days", function()
      expect(plugin.triage(t.referral{ delay = { days = 1 } }).reason).to_contain("1 day past")
    end)

    it("adds nothing on the ready date itself", function()
      expect(plugin.triage(t.referral{ priority = 7 }).priority).to_be(7)
    end)
  end)

  describe("settings", function()
    it("refuses a distance band that is not facility=band", function()
      expect(function() plugin.configure(t.settings{ distance_bands = { "oakwood" } }) end)
        .to_fail("distance_bands: \"oakwood\" should look like facility=band")
    end)

    it("refuses a band outside 1 to 9", function()
      expect(function() plugin.configure(t.settings{ distance_bands = { "oakwood=12" } }) end)
        .to_fail("needs a band from 1 to 9")
    end)

    it("refuses a band with more than one organisation", function()
      expect(function() plugin.configure(t.settings{ distance_bands = { "a/b/c=1" } }) end)
        .to_fail("facility=band or org/facility=band")
    end)

    it("refuses an organisation link that is not a pair", function()
      expect(function() plugin.configure(t.settings{ org_links = { "demo-acute" } }) end)
        .to_fail("org_links")
    end)

    it("refuses a summary time that is not HH:MM", function()
      expect(function() plugin.configure(t.settings{ summary_at = "8am" }) end)
        .to_fail("summary_at: \"8am\" is not a time of day HH:MM")
      expect(function() plugin.configure(t.settings{ summary_at = "24:00" }) end).to_fail("summary_at")
    end)
  end)
  describe("facility kinds (pathway_kinds)", function()
    it("names the kinds that serve the pathway, as the guidance maps them by default", function()
      local r = t.referral{ requested_pathway = t.none, person = { needs = { "rehab" } } }
      expect(plugin.triage(r).kinds).to_equal({ "rehab", "step_down" })
      local p0 = t.referral{ requested_pathway = t.none }
      expect(plugin.triage(p0).kinds).to_be_nil()
    end)

    it("lets P2 use care-home beds where the area buys rehab beds in homes", function()
      plugin.configure(t.settings{ pathway_kinds = { "P2=rehab,step_down,care_home" } })
      local r = t.referral{ requested_pathway = t.none, person = { needs = { "rehab" } } }
      local a = plugin.triage(r)
      expect(a.pathway).to_be("P2")
      expect(a.kinds).to_equal({ "rehab", "step_down", "care_home" })
    end)

    it("refuses a kind nobody is discharged to, or an unknown pathway", function()
      expect(function() plugin.configure(t.settings{ pathway_kinds = { "P2=acute" } }) end)
        .to_fail("pathway_kinds: \"P2=acute\": \"acute\" is not a facility kind")
      expect(function() plugin.configure(t.settings{ pathway_kinds = { "P4=rehab" } }) end)
        .to_fail("the pathway is one of P1, P2, P3, step_down")
    end)
  end)
end)
