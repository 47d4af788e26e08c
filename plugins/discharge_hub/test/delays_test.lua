-- discharge_hub delay tracking: missing delay reasons, harm events,
-- maximum stays per pathway, the daily summary, schedules.
local t = require("caretide.test")
local plugin = require("init")

local DAY = 86400000

-- A referral as ct.referrals lists it (host field names).
local next_id = 0
local function row(fields)
  next_id = next_id + 1
  local r = {
    id = next_id, nhs_number = t.nhs_number(next_id), from_org = "demo-acute",
    ready_date = "2025-01-06", requested_pathway = "P1", state = "waiting",
    priority = 0, delay_days = 0, needs = {},
  }
  for k, v in pairs(fields or {}) do r[k] = v end
  return r
end

-- Serves rows through ct.referrals like the host: by state, decided
-- pathway and discharge time, after an id, at most limit. Returns the stub.
local function serve(rows)
  return stub(ct, "referrals", function(filter)
    local out = {}
    for _, r in ipairs(rows) do
      if (filter.state == nil or r.state == filter.state) and r.id > (filter.after or 0)
          and (filter.pathway == nil or r.decided_pathway == filter.pathway)
          and (filter.discharged_before == nil
            or (r.discharged_at ~= nil and r.discharged_at < filter.discharged_before))
          and #out < (filter.limit or 1000) then
        out[#out + 1] = r
      end
    end
    return out
  end)
end

-- The payloads of the events emitted under name, in order.
local function events(emit, name)
  local out = {}
  for _, call in ipairs(emit.calls) do
    if call[1] == name then out[#out + 1] = call[2] end
  end
  return out
end

describe("delays", function()
  local emit
  before_each(function()
    next_id = 0
    plugin.configure(t.settings())
    emit = spy(ct, "emit")
  end)

  describe("missing delay reasons", function()
    it("reports a referral past its ready date with neither reason nor organisation", function()
      serve({ row{ delay_days = 1 } })
      local found = plugin.check()
      expect(found.missing).to_equal({ 1 })
      local e = events(emit, "delay.missing_reason")
      expect(#e).to_be(1)
      expect(e[1].referral).to_be(1)
      expect(e[1].delay_days).to_be(1)
      expect(e[1].missing).to_equal({ "delay_reason", "responsible_org" })
      expect(e[1].nhs_number).to_be("9990000018")
    end)

    it("says nothing on the ready date itself", function()
      serve({ row{ delay_days = 0 } })
      expect(plugin.check().missing).to_equal({})
      expect(#events(emit, "delay.missing_reason")).to_be(0)
    end)

    it("says nothing when both the reason and the organisation are there", function()
      serve({ row{ delay_days = 3, delay_reason = "awaiting_p1_care", responsible_org = "demo-council" } })
      expect(plugin.check().missing).to_equal({})
    end)

    it("names the one that is missing", function()
      serve({
        row{ delay_days = 2, delay_reason = "awaiting_p3_bed" },
        row{ delay_days = 2, responsible_org = "demo-council" },
      })
      plugin.check()
      local e = events(emit, "delay.missing_reason")
      expect(e[1].missing).to_equal({ "responsible_org" })
      expect(e[2].missing).to_equal({ "delay_reason" })
    end)

    it("reads the reason from the referral view's delay table too", function()
      serve({ row{ delay_days = 2, delay = { reason = "awaiting_transport", responsible_org = "demo-acute" } } })
      expect(plugin.check().missing).to_equal({})
    end)

    it("checks every state before discharge, and not after", function()
      local rows = {}
      for _, state in ipairs({ "received", "triaged", "waiting", "held", "placed", "discharged",
        "completed", "cancelled" }) do
        rows[#rows + 1] = row{ state = state, delay_days = 1 }
      end
      serve(rows)
      expect(plugin.check().missing).to_equal({ 1, 2, 3, 4, 5 })
    end)

    it("reports each referral once a day", function()
      serve({ row{ delay_days = 1 } })
      plugin.check()
      plugin.check()
      expect(#events(emit, "delay.missing_reason")).to_be(1)
      t.advance("1d")
      plugin.check()
      expect(#events(emit, "delay.missing_reason")).to_be(2)
    end)

    it("writes what it has reported only when that changes", function()
      serve({ row{ delay_days = 1 }, row{ delay_days = 0 } })
      local set = spy(ct.kv, "set")
      plugin.check()
      plugin.check()
      expect(set).to_have_been_called(1)
      expect(ct.kv.get("flags")).to_equal({ ["1"] = { m = "2025-01-06" } })
    end)

    it("waits missing_reason_grace_days before reporting", function()
      plugin.configure(t.settings{ missing_reason_grace_days = 2 })
      serve({ row{ delay_days = 2 }, row{ delay_days = 3 } })
      expect(plugin.check().missing).to_equal({ 2 })
    end)

    it("works through every page of referrals", function()
      plugin.configure(t.settings{ delay_batch = 1000 })
      local rows = {}
      for i = 1, 1000 do rows[i] = row() end
      rows[1001] = row{ delay_days = 1 }
      local s = serve(rows)
      expect(plugin.check().missing).to_equal({ 1001 })
      expect(s:called_with({ state = "waiting", after = 1000, limit = 1000 })).to_be(true)
    end)

    it("works in slices of delay_batch, each resuming where the last ended", function()
      plugin.configure(t.settings{ delay_batch = 2 })
      local rows = {}
      for i = 1, 5 do rows[i] = row{ delay_days = 1 } end
      serve(rows)
      local delays = require("lib.delays")
      local found, more = delays.step()
      expect(found.missing).to_equal({ 1, 2 })
      expect(more).to_be(true)
      expect(ct.kv.get("progress").after).to_be(2)
      expect(plugin.check_slice()).to_be(true)
      expect(plugin.check_slice()).to_be(false) -- 5, then the empty states
      expect(ct.kv.get("progress")).to_be(nil)
      expect(#events(emit, "delay.missing_reason")).to_be(5)
      -- A second pass the same day reports nobody again.
      expect(plugin.check().missing).to_equal({})
      expect(ct.kv.get("flags")["5"]).to_equal({ m = "2025-01-06" })
    end)

    it("keeps the flags of a pass spread over slices, dropping only those who left", function()
      plugin.configure(t.settings{ delay_batch = 1 })
      local rows = { row{ delay_days = 1 }, row{ delay_days = 1 }, row{ delay_days = 1 } }
      serve(rows)
      plugin.check()
      rows[2].state = "completed"
      plugin.check()
      local flags = ct.kv.get("flags")
      expect(flags["1"] ~= nil and flags["3"] ~= nil).to_be(true)
      expect(flags["2"]).to_be(nil)
    end)

    it("stops when the host refuses a report, and resumes there without repeating", function()
      local rows = {}
      for i = 1, 5 do rows[i] = row{ delay_days = 1 } end
      serve(rows)
      local real, calls = ct.emit, 0
      local refuse = stub(ct, "emit", function(event, payload)
        calls = calls + 1
        if calls > 2 then return nil, "emit quota of 256 KiB a minute exceeded", "CT_ELIMIT" end
        return real(event, payload)
      end)
      expect(plugin.check().missing).to_equal({ 1, 2 })
      expect(ct.kv.get("progress").after).to_be(2)
      expect(ct.kv.get("flags")["3"]).to_be(nil)
      refuse:revert()
      expect(plugin.check().missing).to_equal({ 3, 4, 5 })
      expect(ct.kv.get("progress")).to_be(nil)
    end)

    it("carries on when the host cannot list referrals", function()
      local warn = spy(ct.log, "warn")
      stub(ct, "referrals", function() return nil, "database is locked", "CT_EBUSY" end)
      expect(plugin.check()).to_equal({ missing = {}, harm = {}, overstay = {} })
      expect(warn).to_have_been_called()
    end)
  end)

  describe("harm", function()
    it("is not reported the day before harm_after_days", function()
      serve({ row{ delay_days = 13, delay_reason = "awaiting_p3_bed", responsible_org = "demo-council" } })
      expect(plugin.check().harm).to_equal({})
    end)

    it("is reported once when the delay reaches harm_after_days", function()
      serve({ row{ delay_days = 14, delay_reason = "awaiting_p3_bed", responsible_org = "demo-council",
        decided_pathway = "P3" } })
      expect(plugin.check().harm).to_equal({ 1 })
      plugin.check()
      local e = events(emit, "delay.harm")
      expect(#e).to_be(1)
      expect(e[1]).to_equal({
        referral = 1, nhs_number = "9990000018", from_org = "demo-acute", ready_date = "2025-01-06",
        delay_days = 14, threshold_days = 14, delay_reason = "awaiting_p3_bed",
        responsible_org = "demo-council", pathway = "P3",
      })
    end)

    it("follows harm_after_days", function()
      plugin.configure(t.settings{ harm_after_days = 21 })
      serve({ row{ delay_days = 20 }, row{ delay_days = 21 } })
      expect(plugin.check().harm).to_equal({ 2 })
    end)

    it("is reported again for a referral that left and came back", function()
      local rows = { row{ delay_days = 14 } }
      serve(rows)
      plugin.check()
      rows[1].state = "completed"
      plugin.check()
      expect(ct.kv.get("flags")).to_equal({})
      rows[1].state = "waiting"
      plugin.check()
      expect(#events(emit, "delay.harm")).to_be(2)
    end)
  end)

  describe("maximum stays", function()
    local function discharged(pathway, ago)
      return row{ state = "discharged", decided_pathway = pathway, discharged_at = ct.now() - ago,
        bed = "BED-1" }
    end

    it("reports a P2 stay one ms past 14 days, once", function()
      serve({ discharged("P2", 14 * DAY + 1) })
      expect(plugin.check().overstay).to_equal({ 1 })
      plugin.check()
      local e = events(emit, "stay.exceeded")
      expect(#e).to_be(1)
      expect(e[1].pathway).to_be("P2")
      expect(e[1].max_days).to_be(14)
      expect(e[1].stay_days).to_be(14)
      expect(e[1].bed).to_be("BED-1")
    end)

    it("does not report a stay of exactly the maximum", function()
      serve({ discharged("P2", 14 * DAY), discharged("P1", 42 * DAY), discharged("P3", 20 * DAY),
        discharged("step_down", 14 * DAY) })
      expect(plugin.check().overstay).to_equal({})
    end)

    it("has a maximum for P1, P3 and step-down", function()
      serve({ discharged("P1", 42 * DAY + 1), discharged("P3", 20 * DAY + 1),
        discharged("step_down", 14 * DAY + 1) })
      expect(plugin.check().overstay).to_equal({ 1, 2, 3 })
    end)

    it("has none for P0", function()
      serve({ discharged("P0", 400 * DAY) })
      expect(plugin.check().overstay).to_equal({})
    end)

    it("has none for a pathway set to 0s", function()
      plugin.configure(t.settings{ max_stay_p2 = 0 })
      serve({ discharged("P2", 100 * DAY) })
      expect(plugin.check().overstay).to_equal({})
    end)

    it("follows the area's maximum", function()
      plugin.configure(t.settings{ max_stay_p1 = 28 * DAY })
      serve({ discharged("P1", 28 * DAY + 1) })
      expect(plugin.check().overstay).to_equal({ 1 })
    end)
  end)

  describe("daily summary", function()
    local function delayed()
      serve({
        row{ delay_days = 3, delay_reason = "awaiting_p3_bed", responsible_org = "demo-council" },
        row{ delay_days = 5, delay_reason = "awaiting_p3_bed", responsible_org = "demo-council" },
        row{ delay_days = 16, delay_reason = "awaiting_medicines", responsible_org = "demo-acute" },
        row{ delay_days = 2 },
        row{ delay_days = 0 },
        row{ delay_days = 9, state = "discharged" },
      })
    end

    it("sums delays by responsible organisation and reason", function()
      delayed()
      local s = plugin.daily_summary()
      expect(s.date).to_be("2025-01-06")
      expect(s.totals).to_equal({ delayed = 4, delay_days = 26, missing_reason = 1, harm = 1 })
      expect(s.by_org["demo-council"]).to_equal({ referrals = 2, delay_days = 8,
        reasons = { awaiting_p3_bed = { referrals = 2, delay_days = 8 } } })
      expect(s.by_org.unassigned.reasons.missing).to_equal({ referrals = 1, delay_days = 2 })
      expect(s.rows).to_equal({
        { org = "demo-acute", reason = "awaiting_medicines", referrals = 1, delay_days = 16 },
        { org = "demo-council", reason = "awaiting_p3_bed", referrals = 2, delay_days = 8 },
        { org = "unassigned", reason = "missing", referrals = 1, delay_days = 2 },
      })
    end)

    it("keeps the summary in the store and emits it", function()
      delayed()
      local s = plugin.daily_summary()
      expect(ct.kv.get("summary:2025-01-06")).to_equal(s)
      expect(events(emit, "delay.summary")[1]).to_equal(s)
    end)

    it("keeps summary_keep_days summaries", function()
      serve({})
      ct.kv.set("summary:2024-12-23", { date = "2024-12-23" }) -- 14 days before
      ct.kv.set("summary:2024-12-24", { date = "2024-12-24" }) -- 13 days before
      ct.kv.set("flags", {})
      plugin.daily_summary()
      expect(ct.kv.get("summary:2024-12-23")).to_be_nil()
      expect(ct.kv.get("summary:2024-12-24")).to_equal({ date = "2024-12-24" })
      expect(ct.kv.get("flags")).to_equal({})
    end)

    it("compares the pathways of recent discharges with the national planning shares", function()
      local now = ct.now()
      serve({
        row{ state = "discharged", decided_pathway = "P0", discharged_at = now - DAY },
        row{ state = "completed", decided_pathway = "P0", discharged_at = now - 2 * DAY },
        row{ state = "completed", decided_pathway = "P1", discharged_at = now - 3 * DAY },
        row{ state = "completed", decided_pathway = "P3", discharged_at = now - 4 * DAY },
        row{ state = "completed", decided_pathway = "P2", discharged_at = now - 40 * DAY },
      })
      local p = plugin.daily_summary().pathways
      expect(p.days).to_be(28)
      expect(p.discharges).to_be(4)
      expect(p.by_pathway.P0).to_equal({ discharges = 2, share = 0.5, planning = 0.5 })
      expect(p.by_pathway.P1).to_equal({ discharges = 1, share = 0.25, planning = 0.45 })
      expect(p.by_pathway.P2).to_equal({ discharges = 0, share = 0.0, planning = 0.04 })
      expect(p.by_pathway.P3.share).to_be(0.25)
    end)

    it("is empty on a day without delays", function()
      serve({ row{ delay_days = 0 } })
      local s = plugin.daily_summary()
      expect(s.totals).to_equal({ delayed = 0, delay_days = 0, missing_reason = 0, harm = 0 })
      expect(s.rows).to_equal({})
    end)
  end)

  describe("setup", function()
    it("checks every delay_check and summarises daily at summary_at", function()
      local every = stub(ct, "every", 1)
      local daily = stub(ct, "daily", 2)
      plugin.setup(t.settings())
      expect(every).to_have_been_called_with("900s", plugin.check_slice)
      expect(daily).to_have_been_called_with("08:00", plugin.daily_summary)
      plugin.setup(t.settings{ delay_check = 5 * 60000, summary_at = "07:30" })
      expect(every).to_have_been_called_with("300s", plugin.check_slice)
      expect(daily).to_have_been_called_with("07:30", plugin.daily_summary)
    end)

    it("refuses to start with settings that do not parse", function()
      stub(ct, "every", 1)
      stub(ct, "daily", 2)
      expect(function() plugin.setup(t.settings{ summary_at = "25:00" }) end).to_fail("summary_at")
    end)
  end)
end)
