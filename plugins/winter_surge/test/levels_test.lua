-- winter_surge levels over time: each level reached and left, hysteresis,
-- surge beds, the ranking policy, alerts, the hook and the schedule.
local t = require("caretide.test")
local plugin = require("init")

-- Metrics that score each level with the standard settings (weights 3, 1,
-- 1, 2, 1 without an NCTR share: 24 points make 44):
--   1: nothing; 2: occupancy 92% (6 points, score 11.0); 3: occupancy 97%
--   and 50 bed-days lost (13, 23.8); 4: occupancy 97%, 100 bed-days lost
--   and 40 NCTR (18 points, 33.0).
local function at_level(level)
  local m = {
    by_kind = { step_down = { open = 100, occupied = 50, held = 0 } },
    nctr = 0, waiting = { total = 0 }, bed_days_lost = { total = 0, open = 0 },
    beds = { surge_share = 0 }, by_zone = {},
  }
  if level >= 2 then m.by_kind.step_down.occupied = 92 end
  if level >= 3 then
    m.by_kind.step_down.occupied = 97
    m.bed_days_lost.open = 50
  end
  if level >= 4 then
    m.nctr = 40
    m.bed_days_lost.open = 100
  end
  return m
end

-- Metrics with the given score on the standard scale, from occupancy and
-- bed-days points (x 44/24 per weighted point).
local function scoring(points_occupancy, points_bed_days)
  local m = at_level(1)
  m.by_kind.step_down.occupied = ({ [0] = 50, 85, 92, 97 })[points_occupancy]
  m.bed_days_lost.open = ({ [0] = 0, 20, 50, 100 })[points_bed_days]
  return m
end

-- The world: from now on ct.metrics() says m (so the plugin's own
-- 15-minute ticks, which t.advance runs under `caretide test`, see what the
-- test sees), and the level is worked out now. Returns evaluate's answer.
local function world(m)
  stub(ct, "metrics", m)
  return plugin.evaluate(m)
end

local function pressure(level)
  return world(at_level(level))
end

describe("levels", function()
  local emit
  before_each(function()
    plugin.configure(t.settings())
    emit = spy(ct, "emit")
  end)

  local function alerts()
    local out = {}
    for _, call in ipairs(emit.calls) do
      if call[1] == "escalation.alert" then out[#out + 1] = call[2] end
    end
    return out
  end

  describe("reached", function()
    it("starts at level 1", function()
      local r = pressure(1)
      expect(r.level).to_be(1)
      expect(r.changed).to_be(false)
      expect(#alerts()).to_be(0)
    end)

    for level = 2, 4 do
      it(("rises to level %d at once"):format(level), function()
        local r = pressure(level)
        expect(r.level).to_be(level)
        expect(r.changed).to_be(true)
        expect(plugin.state().level).to_be(level)
        expect(plugin.state().since).to_be(ct.now())
      end)
    end

    it("rises step by step as pressure builds", function()
      for level = 1, 4 do
        expect(pressure(level).level).to_be(level)
        t.advance("15m")
      end
    end)

    it("says why, parameter by parameter", function()
      local r = pressure(3)
      expect(r.reason).to_be("score 23.8/44, level 3 from 22: occupancy 97% (3), nctr 0 (0), waiting 0 (0), "
        .. "bed days lost 50 (2), surge share 0% (0)")
    end)
  end)

  describe("left", function()
    it("holds level 4 until the score has stayed below its band for deescalate_after", function()
      pressure(4)
      local r = pressure(1)
      expect(r.level).to_be(4)
      expect(r.reason).to_contain("holding level 4 until " .. ct.format_time(ct.now() + 2 * 3600000))
      t.advance("2h")
      expect(pressure(1).level).to_be(3)
    end)

    it("does not step down 1 ms before deescalate_after, and does at it", function()
      pressure(2)
      t.advance("1h")
      pressure(1) -- below from here
      t.advance("1h59m59s999ms")
      expect(pressure(1).level).to_be(2)
      t.advance("1ms")
      expect(pressure(1).level).to_be(1)
    end)

    it("steps down one level per deescalate_after, from 4 to 1", function()
      pressure(4)
      local seen = {}
      for _ = 1, 8 do
        pressure(1)
        t.advance("1h")
        seen[#seen + 1] = pressure(1).level
        t.advance("1h")
      end
      -- read at 1h, 3h, 5h...: a step at 2h, 4h and 6h
      expect(seen).to_equal({ 4, 3, 2, 1, 1, 1, 1, 1 })
    end)

    for level = 2, 4 do
      it(("leaves level %d for level %d when pressure eases"):format(level, level - 1), function()
        pressure(level)
        pressure(level - 1)
        t.advance("2h")
        expect(pressure(level - 1).level).to_be(level - 1)
        expect(plugin.state().level).to_be(level - 1)
        expect(plugin.state().below_since).to_be_nil()
      end)
    end

    it("holds while the score is within the margin below the band", function()
      -- level 3 starts at 22; occupancy 3 points + bed-days 1 point = 11 points = 20.17
      pressure(3)
      local r = world(scoring(3, 1))
      expect(r.reason).to_contain("holding level 3: score not below 20")
      t.advance("3h")
      expect(world(scoring(3, 1)).level).to_be(3)
    end)

    it("counts a score exactly at the band less the margin as not below", function()
      plugin.configure(t.settings{ deescalate_margin = 22 - 44 * 11 / 24, deescalate_after = 0 })
      pressure(3)
      expect(world(scoring(3, 1)).level).to_be(3)
      plugin.configure(t.settings{ deescalate_margin = 22 - 44 * 11 / 24 - 0.001, deescalate_after = 0 })
      expect(world(scoring(3, 1)).level).to_be(2)
    end)

    it("starts the wait again when the score comes back up", function()
      pressure(3)
      pressure(2)
      t.advance("90m")
      pressure(3)
      t.advance("1h")
      expect(pressure(2).level).to_be(3)
      t.advance("2h")
      expect(pressure(2).level).to_be(2)
    end)

    it("drops straight to the level the score says when deescalate_after is 0s", function()
      plugin.configure(t.settings{ deescalate_after = 0 })
      pressure(4)
      expect(pressure(1).level).to_be(1)
    end)

    it("keeps its state across calls in the store", function()
      pressure(3)
      expect(ct.kv.get("state").level).to_be(3)
      expect(ct.kv.get("state").since).to_be(ct.now())
    end)

    it("writes its state only when it changes", function()
      pressure(3)
      local set = spy(ct.kv, "set")
      t.advance("1m")
      pressure(3)
      expect(set).never.to_have_been_called()
      pressure(1) -- the wait to step down starts
      expect(set).to_have_been_called(1)
    end)
  end)

  describe("alerts", function()
    it("alerts on a change to alert_level", function()
      pressure(2)
      local a = alerts()
      expect(#a).to_be(1)
      expect(a[1].from).to_be(1)
      expect(a[1].to).to_be(2)
      expect(a[1].parameters.occupancy).to_equal({ value = 0.92, points = 2 })
      expect(a[1].at).to_be(ct.now())
    end)

    it("alerts on the way down too, back to level 1", function()
      plugin.configure(t.settings{ deescalate_after = 0 })
      pressure(2)
      pressure(1)
      local a = alerts()
      expect(#a).to_be(2)
      expect(a[2].from).to_be(2)
      expect(a[2].to).to_be(1)
    end)

    it("does not alert again while the level stays", function()
      pressure(3)
      pressure(3)
      expect(#alerts()).to_be(1)
    end)

    it("does not alert on changes below alert_level", function()
      plugin.configure(t.settings{ alert_level = 3 })
      pressure(2)
      expect(#alerts()).to_be(0)
      pressure(3)
      expect(#alerts()).to_be(1)
    end)
  end)

  describe("surge beds", function()
    local open, close
    before_each(function()
      plugin.configure(t.settings{ surge_facilities = { "willow-stepdown", "elm-rehab" },
        deescalate_after = 0 })
      open = stub(ct.act, "open_surge", true)
      close = stub(ct.act, "close_surge", true)
      stub(ct, "beds", {})
    end)

    it("stay closed below surge_level", function()
      pressure(2)
      expect(open).never.to_have_been_called()
    end)

    it("open at surge_level at every listed facility, once", function()
      local r = pressure(3)
      expect(open).to_have_been_called_with("willow-stepdown")
      expect(open).to_have_been_called_with("elm-rehab")
      expect(r.actions).to_contain("opened surge beds at willow-stepdown")
      pressure(4)
      expect(open).to_have_been_called(2)
    end)

    it("close when the level falls below surge_level", function()
      pressure(3)
      local r = pressure(2)
      expect(close).to_have_been_called_with("willow-stepdown")
      expect(close).to_have_been_called_with("elm-rehab")
      expect(r.actions).to_contain("closed surge beds at elm-rehab")
      pressure(1)
      expect(close).to_have_been_called(2)
    end)

    it("follow surge_level", function()
      plugin.configure(t.settings{ surge_facilities = { "willow-stepdown" }, surge_level = 4 })
      pressure(3)
      expect(open).never.to_have_been_called()
      pressure(4)
      expect(open).to_have_been_called(1)
    end)

    it("are tried again when the host refuses to open them", function()
      stub(ct.act, "open_surge", function(f)
        if f == "elm-rehab" then return nil, "facility elm-rehab has no surge beds", "CT_ENOTFOUND" end
        return true
      end)
      local r = pressure(3)
      expect(r.actions).to_contain("could not open surge beds at elm-rehab: facility elm-rehab has no surge beds")
      expect(plugin.state().surge).to_equal({ ["willow-stepdown"] = true })
      open = stub(ct.act, "open_surge", true)
      pressure(3)
      expect(open).to_have_been_called_with("elm-rehab")
      expect(open).never.to_have_been_called_with("willow-stepdown")
    end)

    it("stay on the list to close while someone is still in one", function()
      pressure(3)
      stub(ct, "beds", function(filter)
        if filter.facility ~= "willow-stepdown" then return {} end
        return {
          { id = "WH-R17", surge = true, surge_open = true, status = "occupied" },
          { id = "WH-G21", surge = true, surge_open = true, status = "held" },
          { id = "WH-G22", surge = true, surge_open = false, status = "available" },
          { id = "WH-G01", surge = false, surge_open = false, status = "occupied" },
        }
      end)
      local r = pressure(1)
      expect(r.actions).to_contain("closing surge beds at willow-stepdown: 2 still open")
      expect(r.actions).to_contain("closed surge beds at elm-rehab")
      expect(plugin.state().surge).to_equal({ ["willow-stepdown"] = true })
      stub(ct, "beds", {})
      pressure(1)
      expect(plugin.state().surge).to_equal({})
    end)

    it("stay on the list when the host cannot say whether they closed", function()
      pressure(3)
      stub(ct, "beds", function() return nil, "busy", "CT_EBUSY" end)
      local r = pressure(1)
      expect(r.actions).to_contain("closing surge beds at willow-stepdown: some still open")
      expect(plugin.state().surge).to_equal({ ["willow-stepdown"] = true, ["elm-rehab"] = true })
    end)

    it("let a misused ct.beds raise rather than hide it", function()
      pressure(3)
      stub(ct, "beds", function() error("bad argument #1 to 'beds'") end)
      expect(function() pressure(1) end).to_fail("bad argument #1 to 'beds'")
    end)

    it("are tried again when the host refuses to close them", function()
      pressure(3)
      stub(ct.act, "close_surge", function() return nil, "store busy", "CT_EBUSY" end)
      local r = pressure(1)
      expect(r.actions).to_contain("could not close surge beds at willow-stepdown: store busy")
      close = stub(ct.act, "close_surge", true)
      pressure(1)
      expect(close).to_have_been_called(2)
    end)

    it("close at a facility no longer listed", function()
      pressure(3)
      plugin.configure(t.settings{ surge_facilities = { "elm-rehab" } })
      pressure(3)
      expect(close).to_have_been_called_with("willow-stepdown")
      expect(plugin.state().surge).to_equal({ ["elm-rehab"] = true })
    end)
  end)

  describe("ranking policy", function()
    it("is normal below tighten_level", function()
      pressure(2)
      expect(ct.policy.get("ranking")).to_be("normal")
    end)

    it("is tight at tighten_level and normal again below it", function()
      plugin.configure(t.settings{ deescalate_after = 0 })
      local r = pressure(3)
      expect(ct.policy.get("ranking")).to_be("tight")
      expect(r.actions).to_contain("ranking tight")
      r = pressure(2)
      expect(ct.policy.get("ranking")).to_be("normal")
      expect(r.actions).to_contain("ranking normal")
    end)

    it("is set only when it changes", function()
      pressure(3)
      local set = spy(ct.policy, "set")
      pressure(4)
      expect(set).never.to_have_been_called_with("ranking", "tight")
    end)

    it("uses policy_key and tighten_level", function()
      plugin.configure(t.settings{ policy_key = "hub_ranking", tighten_level = 4 })
      pressure(3)
      expect(ct.policy.get("hub_ranking")).to_be("normal")
      pressure(4)
      expect(ct.policy.get("hub_ranking")).to_be("tight")
      expect(ct.policy.get("ranking")).to_be_nil()
    end)

    it("publishes the level for other plugins", function()
      pressure(3)
      expect(ct.policy.get("escalation_level")).to_be(3)
    end)
  end)

  describe("hook and schedule", function()
    it("answers escalate(metrics) with level, reason and actions", function()
      local a = plugin.escalate(at_level(3))
      expect(a.level).to_be(3)
      expect(a.reason).to_match("^score 23%.8/44")
      expect(a.actions).to_equal({ "alert: level 1 to 3", "ranking tight" })
      expect(a.score).to_be_nil()
    end)

    it("works the level out from ct.metrics() on each tick", function()
      stub(ct, "metrics", at_level(4))
      expect(plugin.tick().level).to_be(4)
    end)

    it("carries on when the host cannot give metrics", function()
      stub(ct, "metrics", function() return nil, "busy", "CT_EBUSY" end)
      local warn = spy(ct.log, "warn")
      expect(plugin.tick()).to_be_nil()
      expect(warn).to_have_been_called()
    end)

    it("ticks every interval", function()
      local every = stub(ct, "every", 1)
      plugin.setup(t.settings{ interval = 5 * 60000 })
      expect(every).to_have_been_called_with("300s", plugin.tick)
    end)
  end)
end)
