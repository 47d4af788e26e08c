-- stepdown after placement: the onward move at the end of isolation, the
-- scheduled check for ends the host does not know, isolation on return to
-- a care home, and what setup registers.
local t = require("caretide.test")
local plugin = require("init")

local HOUR, DAY = 3600000, 86400000

-- The referral view of someone in a step-down bed.
local function in_step_down(fields)
  local person = fields.person or {}
  person.infections = person.infections or { covid = { status = "positive", tested_at = ct.now() - 15 * DAY } }
  local r = t.referral{ pathway = "step_down", state = "discharged", requested_pathway = fields.requested or "P1",
    person = person }
  r.bed = "WH-R03"
  r.id = fields.id or r.id
  return r
end

-- Serves referral views through ct.referral and lists through ct.referrals.
local function serve(views)
  stub(ct, "referral", function(id)
    for _, v in ipairs(views) do if v.id == id then return v end end
    return nil
  end)
  stub(ct, "referrals", function(filter)
    local out = {}
    for _, v in ipairs(views) do
      if v.state == filter.state and v.id > (filter.after or 0)
          and (filter.pathway == nil or v.pathway == filter.pathway) then
        out[#out + 1] = { id = v.id, state = v.state, decided_pathway = v.pathway, nhs_number = v.nhs_number }
      end
    end
    return out
  end)
end

describe("onward moves", function()
  local emit, now
  before_each(function()
    plugin.configure(t.settings())
    emit = spy(ct, "emit")
    now = ct.now()
  end)

  describe("at the end of isolation", function()
    it("plans the move home after the clinical check as the referral's next step", function()
      local view = in_step_down{ requested = "P1" }
      serve({ view })
      local plan = plugin.on_isolation_ended({ nhs_number = view.nhs_number, pathogen = "covid",
        isolation_end = now - HOUR, referral = view.id, bed = "WH-R03", placement = "occupied" })
      expect(plan).to_equal({
        referral = view.id, nhs_number = view.nhs_number, step = 2, from_bed = "WH-R03",
        to = "home", pathway = "P1", reason = "home with support (P1); covid isolation ended",
        isolation_ended_at = now - HOUR, move_after = now + 23 * HOUR, move_after_date = "2025-01-07",
        planned_at = now,
      })
      expect(emit).to_have_been_called_with("onward.planned", plan)
      expect(ct.kv.get("plans")).to_equal({ [tostring(view.id)] = plan })
    end)

    it("plans a care-home resident's return with the isolation on return", function()
      local view = in_step_down{ requested = "P3", person = { usual_residence = "care_home" } }
      serve({ view })
      local plan = plugin.on_isolation_ended({ pathogen = "covid", isolation_end = now, referral = view.id })
      expect(plan.to).to_be("care_home")
      expect(plan.pathway).to_be("P0")
      expect(plan.reason).to_contain("back to their care home (P3b)")
      expect(plan.isolate_until).to_be(now + 24 * HOUR + 14 * DAY)
    end)

    it("plans a new care-home placement for a P3 referral", function()
      local view = in_step_down{ requested = "P3" }
      serve({ view })
      local plan = plugin.on_isolation_ended({ pathogen = "covid", isolation_end = now, referral = view.id })
      expect(plan.to).to_be("care_home")
      expect(plan.pathway).to_be("P3")
    end)

    it("plans no isolation on return when return_isolation is 0s", function()
      plugin.configure(t.settings{ return_isolation = 0 })
      local view = in_step_down{ requested = "P3" }
      serve({ view })
      expect(plugin.on_isolation_ended({ isolation_end = now, referral = view.id }).isolate_until).to_be_nil()
    end)

    it("plans a rehab bed for P2 and home (P0) otherwise", function()
      local rehab = in_step_down{ requested = "P2" }
      local home = in_step_down{ requested = "P0" }
      serve({ rehab, home })
      expect(plugin.on_isolation_ended({ isolation_end = now, referral = rehab.id }).to).to_be("rehab")
      local plan = plugin.on_isolation_ended({ isolation_end = now, referral = home.id })
      expect(plan.to).to_be("home")
      expect(plan.pathway).to_be("P0")
    end)

    it("follows clinical_check", function()
      plugin.configure(t.settings{ clinical_check = 0 })
      local view = in_step_down{}
      serve({ view })
      expect(plugin.on_isolation_ended({ isolation_end = now, referral = view.id }).move_after).to_be(now)
    end)

    it("plans each referral once", function()
      local view = in_step_down{}
      serve({ view })
      plugin.on_isolation_ended({ isolation_end = now, referral = view.id })
      expect(plugin.on_isolation_ended({ isolation_end = now, referral = view.id })).to_be_nil()
      expect(emit).to_have_been_called(1)
    end)

    it("waits while another isolation is still running", function()
      local view = in_step_down{ person = { infections = {
        covid = { status = "positive", tested_at = now - 15 * DAY },
        flu = { status = "positive", tested_at = now - DAY, isolation_end = now + 4 * DAY },
      } } }
      serve({ view })
      expect(plugin.on_isolation_ended({ pathogen = "covid", isolation_end = now, referral = view.id }))
        .to_be_nil()
      view.person.infections.flu.status = "awaiting"
      view.person.infections.flu.isolation_end = nil
      expect(plugin.on_isolation_ended({ pathogen = "covid", isolation_end = now, referral = view.id }))
        .to_be_nil()
    end)

    it("ignores people who are not in step-down", function()
      local p3 = in_step_down{}
      p3.pathway = "P3"
      local held = in_step_down{}
      held.state = "held"
      serve({ p3, held })
      expect(plugin.on_isolation_ended({ isolation_end = now, referral = p3.id })).to_be_nil()
      expect(plugin.on_isolation_ended({ isolation_end = now, referral = held.id })).to_be_nil()
      expect(plugin.on_isolation_ended({ isolation_end = now, referral = 99 })).to_be_nil()
      expect(plugin.on_isolation_ended({ isolation_end = now })).to_be_nil()
      expect(emit).never.to_have_been_called()
    end)

    it("plans for a bed confirmed but not yet moved into (placed)", function()
      local view = in_step_down{}
      view.state = "placed"
      serve({ view })
      expect(plugin.on_isolation_ended({ isolation_end = now, referral = view.id })).to_be_truthy()
    end)
  end)

  describe("the scheduled check", function()
    it("plans the move when isolation_length has passed and the host sent no end", function()
      local over = in_step_down{ id = 1, person = { infections = {
        covid = { status = "positive", tested_at = now - 14 * DAY } } } }
      local running = in_step_down{ id = 2, person = { infections = {
        covid = { status = "positive", tested_at = now - 14 * DAY + 1 } } } }
      serve({ over, running })
      local made = plugin.check()
      expect(#made).to_be(1)
      expect(made[1].referral).to_be(1)
      expect(made[1].isolation_ended_at).to_be(now)
      expect(made[1].reason).to_contain("isolation over")
      t.advance("1s")
      expect(#plugin.check()).to_be(1)
      expect(plugin.check()).to_equal({})
    end)

    it("plans the move for someone whose awaited result came back negative", function()
      local view = in_step_down{ person = { infections = { covid = { status = "negative", tested_at = now } } } }
      serve({ view })
      local made = plugin.check()
      expect(made[1].isolation_ended_at).to_be(now)
    end)

    it("drops plans of referrals that have left step-down", function()
      local view = in_step_down{ id = 1 }
      serve({ view })
      plugin.check()
      expect(ct.kv.get("plans")["1"]).to_be_truthy()
      view.state = "completed"
      plugin.check()
      expect(ct.kv.get("plans")).to_equal({})
    end)

    it("carries on when the host cannot list referrals", function()
      stub(ct, "referrals", function() return nil, "busy", "CT_EBUSY" end)
      local warn = spy(ct.log, "warn")
      expect(plugin.check()).to_equal({})
      expect(warn).to_have_been_called()
    end)
  end)

  describe("discharge to a care home", function()
    it("announces the isolation on return for a new placement", function()
      local view = t.referral{ pathway = "P3", state = "discharged" }
      serve({ view })
      local n = plugin.on_discharged({ referral = view.id, bed = "OAK-004" })
      expect(n).to_equal({ referral = view.id, nhs_number = view.nhs_number, pathway = "P3", bed = "OAK-004",
        returning = false, from = now, ["until"] = now + 14 * DAY, until_date = "2025-01-20" })
      expect(emit).to_have_been_called_with("care_home.return_isolation", n)
    end)

    it("announces it for a resident going back to their home", function()
      local view = t.referral{ pathway = "P0", state = "discharged", person = { usual_residence = "care_home" } }
      serve({ view })
      expect(plugin.on_discharged({ referral = view.id }).returning).to_be(true)
    end)

    it("says nothing for people going home", function()
      local home = t.referral{ pathway = "P0", state = "discharged" }
      local p1 = t.referral{ pathway = "P1", state = "discharged", person = { usual_residence = "care_home" } }
      serve({ home, p1 })
      expect(plugin.on_discharged({ referral = home.id })).to_be_nil()
      expect(plugin.on_discharged({ referral = p1.id })).to_be_nil()
      expect(plugin.on_discharged({ referral = 42 })).to_be_nil()
      expect(emit).never.to_have_been_called()
    end)

    it("says nothing when return_isolation is 0s", function()
      plugin.configure(t.settings{ return_isolation = 0 })
      local view = t.referral{ pathway = "P3", state = "discharged" }
      serve({ view })
      expect(plugin.on_discharged({ referral = view.id })).to_be_nil()
    end)
  end)

  describe("setup", function()
    it("listens for isolation ends, results and discharges and checks every check_interval", function()
      local on = stub(ct, "on")
      local every = stub(ct, "every", 1)
      stub(ct, "isolation_length")
      plugin.setup(t.settings{ check_interval = 10 * 60000 })
      expect(on).to_have_been_called_with("isolation.ended", plugin.on_isolation_ended)
      expect(on).to_have_been_called_with("infection.updated", plugin.on_infection_updated)
      expect(on).to_have_been_called_with("referral.discharged", plugin.on_discharged)
      expect(every).to_have_been_called_with("600s", plugin.check)
    end)

    -- Issue 22, finding 2: the host ends an isolation recorded without an
    -- end after the pathogen's length, which this plugin gives it.
    it("gives the host each pathogen's isolation length from the rule set", function()
      stub(ct, "on")
      stub(ct, "every", 1)
      local lengths = stub(ct, "isolation_length")
      plugin.setup(t.settings())
      expect(lengths).to_have_been_called_with("covid", 14 * DAY)
      expect(lengths).to_have_been_called_with("flu", 5 * DAY)
      expect(lengths).to_have_been_called_with("norovirus", 2 * DAY)
      plugin.setup(t.settings{ isolation_length = 10 * DAY })
      expect(lengths).to_have_been_called_with("covid", 10 * DAY)
      plugin.setup(t.settings{ rule_set = "ukhsa_2024", isolation_lengths = { "flu=7d", "rsv=5d" } })
      expect(lengths).to_have_been_called_with("covid", 5 * DAY)
      expect(lengths).to_have_been_called_with("flu", 7 * DAY)
      expect(lengths).to_have_been_called_with("rsv", 5 * DAY)
    end)

    it("refuses an isolation_lengths entry that is not pathogen=duration", function()
      expect(function() plugin.configure(t.settings{ isolation_lengths = { "flu=soon" } }) end)
        .to_fail("isolation_lengths")
      expect(function() plugin.configure(t.settings{ isolation_lengths = { "flu" } }) end)
        .to_fail("isolation_lengths")
    end)
  end)
end)
