-- stepdown rank and admit: designated positive-cohort zones only for those
-- the rule applies to, awaited results and care homes, staffing caps.
local t = require("caretide.test")
local plugin = require("init")

local HOUR = 3600000

local function beds(list)
  local out = {}
  for i, c in ipairs(list) do out[i] = c.bed end
  return out
end

describe("placement", function()
  local positive, negative, red, green, oak, open_home
  before_each(function()
    plugin.configure(t.settings())
    positive = t.referral{ requested_pathway = "P3", pathway = "step_down",
      person = { infections = { covid = { status = "positive", tested_at = ct.now() - 2 * HOUR } } } }
    negative = t.referral{ requested_pathway = "P3",
      person = { infections = { covid = { status = "negative", tested_at = ct.now() - HOUR } } } }
    red = t.candidate{ bed = "WH-R01", zone = "willow-red", designated = true, isolation_room = true,
      cohort = { covid = "positive" }, tags = { "isolation_room", "nursing" } }
    green = t.candidate{ bed = "WH-G01", zone = "willow-green", designated = true,
      cohort = { covid = "negative" } }
    oak = t.candidate{ bed = "OAK-001", zone = "oakwood-main", facility = "oakwood",
      kind = "care_home", org = "oakwood-care", cohort = { covid = "negative" } }
    open_home = t.candidate{ bed = "RIV-01", zone = "riverside-main", facility = "riverside",
      kind = "care_home", designated = false, cohort = {} }
  end)

  describe("rank", function()
    it("keeps only a designated setting's positive-cohort beds for a recent positive", function()
      local out = plugin.rank(positive, { green, open_home, red, oak })
      expect(beds(out)).to_equal({ "WH-R01" })
      expect(out[1].reason).to_be("designated setting, covid-positive zone")
    end)

    it("adds its note to an earlier plugin's reason", function()
      red.reason = "band 1"
      expect(plugin.rank(positive, { red })[1].reason).to_be("band 1; designated setting, covid-positive zone")
    end)

    it("does not count an open cohort in a designated setting", function()
      local open_designated = t.candidate{ bed = "D1", designated = true, cohort = { covid = "open" } }
      expect(plugin.rank(positive, { open_designated })).to_equal({})
    end)

    it("does not count a positive zone outside a designated setting", function()
      local red_elsewhere = t.candidate{ bed = "X1", designated = false, cohort = { covid = "positive" } }
      expect(plugin.rank(positive, { red_elsewhere })).to_equal({})
    end)

    it("leaves the list alone for people the rule does not apply to", function()
      local list = { green, oak, open_home }
      expect(plugin.rank(negative, list)).to_be(list)
      local home = t.referral{ requested_pathway = "P1",
        person = { infections = { covid = { status = "positive", tested_at = ct.now() } } } }
      local slots = { t.candidate{ bed = "HC-01", kind = "home_care", cohort = {} },
        t.candidate{ bed = "VW-01", kind = "virtual_ward", cohort = {} } }
      expect(plugin.rank(home, slots)).to_be(slots)
    end)

    -- Issue 22, finding 4: each pathogen is cohorted apart. Flu and
    -- norovirus positives never share an open-cohort wing; a covid and
    -- norovirus positive needs a zone positive for both, or an isolation
    -- room; people isolate at home in home care and virtual wards.
    describe("with each pathogen cohorted apart", function()
      local function isolating(infections)
        local inf = {}
        for pathogen, status in pairs(infections) do
          inf[pathogen] = { status = status, tested_at = ct.now() - HOUR, isolation_end = ct.now() + 5 * 24 * HOUR }
        end
        return t.referral{ requested_pathway = "P2", person = { infections = inf } }
      end
      local open_wing = t.candidate{ bed = "ELM-01", zone = "elm-ward", kind = "rehab", cohort = {} }
      local flu_wing = t.candidate{ bed = "F-01", zone = "flu-wing", kind = "rehab", cohort = { flu = "positive" } }
      local covid_wing = t.candidate{ bed = "C-01", zone = "covid-wing", kind = "step_down",
        cohort = { covid = "positive" } }
      local both_wing = t.candidate{ bed = "B-01", zone = "both-wing", kind = "step_down",
        cohort = { covid = "positive", norovirus = "positive" } }
      local room = t.candidate{ bed = "ELM-30", zone = "elm-ward", kind = "rehab", cohort = {},
        tags = { "isolation_room", "rehab" } }

      it("keeps a flu positive out of an open wing, in a flu wing or an isolation room", function()
        local flu = isolating{ flu = "positive" }
        expect(beds(plugin.rank(flu, { open_wing, flu_wing, room }))).to_equal({ "F-01", "ELM-30" })
        local ok, why = plugin.admit(flu, open_wing)
        expect(ok).to_be(false)
        expect(why).to_be("isolating for flu: only a flu-positive zone or an isolation room")
        expect(plugin.admit(flu, room)).to_be(true)
      end)

      it("does not mix a norovirus positive into a flu wing", function()
        expect(plugin.admit(isolating{ norovirus = "positive" }, flu_wing)).to_be(false)
      end)

      it("needs a zone accepting both for two infections", function()
        local two = isolating{ covid = "positive", norovirus = "positive" }
        expect(plugin.admit(two, covid_wing)).to_be(false)
        expect(plugin.admit(two, both_wing)).to_be(true)
        expect(beds(plugin.rank(two, { covid_wing, both_wing, room }))).to_equal({ "B-01", "ELM-30" })
      end)

      it("lets people whose isolation ended go anywhere", function()
        local over = isolating{ flu = "positive" }
        over.person.infections.flu.isolation_end = ct.now() - 1
        expect(plugin.admit(over, open_wing)).to_be(true)
      end)

      it("leaves it to the host with cohorting = host", function()
        plugin.configure(t.settings{ cohorting = "host" })
        expect(plugin.admit(isolating{ flu = "positive" }, open_wing)).to_be(true)
      end)
    end)

    it("applies to anyone the hub sent to step-down with a recent positive", function()
      local r = t.referral{ requested_pathway = "P2", pathway = "step_down",
        person = { infections = { covid = { status = "positive", tested_at = ct.now() } } } }
      expect(beds(plugin.rank(r, { green, red }))).to_equal({ "WH-R01" })
    end)

    it("applies to a care-home pathway kept for designated zones in care homes", function()
      plugin.configure(t.settings{ designated_pathway = "keep" })
      local r = t.referral{ requested_pathway = "P3", pathway = "P3",
        person = { infections = { covid = { status = "positive", tested_at = ct.now() } } } }
      local annex = t.candidate{ bed = "EH-A01", zone = "elmhurst-annex", facility = "elmhurst",
        kind = "care_home", designated = true, cohort = { covid = "positive" } }
      expect(beds(plugin.rank(r, { oak, annex, open_home }))).to_equal({ "EH-A01" })
    end)

    it("reads cohorts from the capacity view when the candidates carry none", function()
      local view = { facilities = {
        { id = "willow-stepdown", zones = {
          { id = "willow-red", cohorts = { covid = "positive", flu = "open" } },
          { id = "willow-green", cohorts = { covid = "negative" } },
        } },
        { id = "oakwood", zones = { { id = "oakwood-main" } } },
      } }
      expect(plugin.zone_cohorts(view)).to_equal({
        ["willow-red"] = { covid = "positive", flu = "open" },
        ["willow-green"] = { covid = "negative" },
        ["oakwood-main"] = {},
      })
      expect(plugin.zone_cohorts(nil)).to_equal({})
    end)

    it("asks the host's capacity view once per call when the candidates carry no cohort", function()
      local capacity = stub(ct, "capacity", { facilities = { { id = "willow-stepdown", zones = {
        { id = "willow-red", cohorts = { covid = "positive" } },
        { id = "willow-green", cohorts = { covid = "negative" } },
      } } } })
      red.cohort, green.cohort = nil, nil
      local room = t.candidate{ bed = "WH-G09", designated = true, isolation_room = true }
      room.cohort = nil
      expect(beds(plugin.rank(positive, { green, room, red }))).to_equal({ "WH-R01" })
      expect(capacity).to_have_been_called(1)
    end)

    it("falls back to designated isolation rooms when nothing says the cohort", function()
      stub(ct, "capacity", { facilities = {} })
      red.cohort, green.cohort = nil, nil
      local room = t.candidate{ bed = "WH-G09", designated = true, isolation_room = true }
      room.cohort = nil
      expect(beds(plugin.rank(positive, { green, room, red }))).to_equal({ "WH-G09", "WH-R01" })
    end)

    it("falls back the same way when the host cannot give its capacity view", function()
      stub(ct, "capacity", function() return nil, "store busy", "CT_EBUSY" end)
      red.cohort, green.cohort = nil, nil
      local room = t.candidate{ bed = "WH-G09", designated = true, isolation_room = true }
      room.cohort = nil
      expect(beds(plugin.rank(positive, { green, room, red }))).to_equal({ "WH-G09", "WH-R01" })
    end)
  end)

  describe("admit", function()
    it("allows a designated positive-cohort bed", function()
      expect(plugin.admit(positive, red)).to_be(true)
    end)

    it("refuses any other bed to a recent positive, saying why", function()
      local ok, why = plugin.admit(positive, oak)
      expect(ok).to_be(false)
      expect(why).to_be("covid positive, tested 2h before discharge: only a designated setting's "
        .. "covid-positive zone")
      expect(plugin.admit(positive, green)).to_be(false)
    end)

    it("allows people the rule does not apply to", function()
      expect(plugin.admit(negative, oak)).to_be(true)
    end)

    -- Issue 22, finding 3: 2020/21 guidance required a test within 48 hours
    -- before any discharge to a care home (DHSC, Adult social care winter
    -- plan 2020/21 and the designated settings letter of 13 Oct 2020).
    describe("pre-discharge test (designated_2020_21)", function()
      local function with_test(status, ago)
        return t.referral{ requested_pathway = "P3", person = { infections = {
          covid = ago and { status = status, tested_at = ct.now() - ago } or nil } } }
      end

      it("refuses a care home without a test", function()
        local ok, why = plugin.admit(with_test("negative", nil), oak)
        expect(ok).to_be(false)
        expect(why).to_be("no covid test result from the 48h before a care-home discharge")
      end)

      it("refuses a care home with a 5-day-old negative", function()
        expect(plugin.admit(with_test("negative", 5 * 24 * HOUR), oak)).to_be(false)
      end)

      it("allows a negative from 47 hours before, and not one from 49", function()
        expect(plugin.admit(with_test("negative", 47 * HOUR), oak)).to_be(true)
        expect(plugin.admit(with_test("negative", 49 * HOUR), oak)).to_be(false)
      end)

      it("does not apply to other kinds of bed", function()
        expect(plugin.admit(with_test("negative", nil), green)).to_be(true)
      end)

      it("follows discharge_test_window, 0s for none", function()
        plugin.configure(t.settings{ discharge_test_window = 72 * HOUR })
        expect(plugin.admit(with_test("negative", 60 * HOUR), oak)).to_be(true)
        plugin.configure(t.settings{ discharge_test_window = 0 })
        expect(plugin.admit(with_test("negative", nil), oak)).to_be(true)
      end)

      it("is not part of the current UKHSA rule set", function()
        plugin.configure(t.settings{ rule_set = "ukhsa_2024" })
        expect(plugin.admit(with_test("negative", nil), oak)).to_be(true)
      end)
    end)

    describe("with a result awaited", function()
      local awaiting
      before_each(function()
        awaiting = t.referral{ requested_pathway = "P3", person = { infections = { covid = { status = "awaiting" } } } }
      end)

      it("refuses care homes until the result comes (hold)", function()
        local ok, why = plugin.admit(awaiting, oak)
        expect(ok).to_be(false)
        expect(why).to_be("covid result awaited: no care-home admission until it comes")
        awaiting.person.infections.covid.status = "negative"
        awaiting.person.infections.covid.tested_at = ct.now() - HOUR
        expect(plugin.admit(awaiting, oak)).to_be(true)
      end)

      it("reads the facility's kind from the candidate", function()
        local c = t.candidate{ bed = "OAK-002", cohort = {}, kind = "care_home" }
        expect(plugin.admit(awaiting, c)).to_be(false)
        c.kind = "rehab"
        expect(plugin.admit(awaiting, c)).to_be(true)
      end)

      it("allows other kinds of bed", function()
        expect(plugin.admit(awaiting, green)).to_be(true)
      end)

      it("has no rule when set to allow", function()
        plugin.configure(t.settings{ awaiting_result = "allow", discharge_test_window = 0 })
        expect(plugin.admit(awaiting, oak)).to_be(true)
      end)

      it("wants a designated positive zone when set to designated", function()
        plugin.configure(t.settings{ awaiting_result = "designated" })
        expect(plugin.admit(awaiting, oak)).to_be(false)
        expect(plugin.admit(awaiting, red)).to_be(true)
      end)
    end)

    describe("staffing caps", function()
      -- ct.beds{zone = "willow-red"}: held, occupied, then two free beds
      -- and a blocked one.
      local function load(held, occupied)
        local list = {}
        local function add(status)
          list[#list + 1] = { id = ("WH-R%02d"):format(#list + 1), zone = "willow-red", status = status }
        end
        for _ = 1, held do add("held") end
        for _ = 1, occupied do add("occupied") end
        add("available")
        add("available")
        add("blocked")
        stub(ct, "beds", function(filter)
          expect(filter).to_equal({ zone = "willow-red" })
          return list
        end)
      end

      before_each(function()
        plugin.configure(t.settings{ staffing_caps = { "willow-red=6" } })
      end)

      it("allows a bed while held and occupied beds are below the cap", function()
        load(1, 4)
        expect(plugin.admit(positive, red)).to_be(true)
      end)

      it("refuses at the cap", function()
        load(2, 4)
        local ok, why = plugin.admit(positive, red)
        expect(ok).to_be(false)
        expect(why).to_be("zone willow-red is staffed for 6 and has 6")
      end)

      it("leaves zones without a cap alone", function()
        load(6, 6)
        expect(plugin.admit(negative, green)).to_be(true)
      end)

      it("refuses when the load cannot be read", function()
        stub(ct, "beds", function() return nil, "store closed", "CT_ESTORE" end)
        local ok, why = plugin.admit(positive, red)
        expect(ok).to_be(false)
        expect(why).to_contain("cannot be read")
      end)

      it("lets a misused ct.beds raise rather than hide it", function()
        stub(ct, "beds", function() error("bad argument #1 to 'beds'") end)
        expect(function() plugin.admit(positive, red) end).to_fail("bad argument #1 to 'beds'")
      end)

      it("refuses everything at a cap of 0 (a zone with no staff)", function()
        plugin.configure(t.settings{ staffing_caps = { "willow-red=0" } })
        load(0, 0)
        expect(plugin.admit(positive, red)).to_be(false)
      end)

      it("refuses a cap that is not zone=count", function()
        expect(function() plugin.configure(t.settings{ staffing_caps = { "willow-red" } }) end)
          .to_fail("staffing_caps: \"willow%-red\" should look like zone=count")
        expect(function() plugin.configure(t.settings{ staffing_caps = { "willow-red=many" } }) end)
          .to_fail("needs a whole number")
      end)
    end)
  end)
end)
