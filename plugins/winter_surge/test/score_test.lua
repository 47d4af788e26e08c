-- winter_surge scoring: the points of each parameter at its thresholds, what
-- is measured from the host's metrics, weights, the scale and the bands.
local t = require("caretide.test")
local plugin = require("init")

local function metrics(m)
  return {
    by_kind = m.by_kind or {},
    nctr = m.nctr,
    waiting = m.waiting and { total = m.waiting } or nil,
    bed_days_lost = m.bed_days_lost and { total = m.bed_days_lost * 3, open = m.bed_days_lost } or nil,
    beds = m.surge_share and { surge_share = m.surge_share } or {},
  }
end

describe("scoring", function()
  before_each(function()
    plugin.configure(t.settings())
  end)

  describe("points", function()
    it("earns a point at each threshold reached, the threshold included", function()
      local cuts = { 0.85, 0.92, 0.97 }
      expect(plugin.points(0.8499, cuts)).to_be(0)
      expect(plugin.points(0.85, cuts)).to_be(1)
      expect(plugin.points(0.9199, cuts)).to_be(1)
      expect(plugin.points(0.92, cuts)).to_be(2)
      expect(plugin.points(0.97, cuts)).to_be(3)
      expect(plugin.points(1.2, cuts)).to_be(3)
    end)
  end)

  describe("measure", function()
    it("takes occupancy over the listed kinds, held beds counted", function()
      local v = plugin.measure(metrics{ by_kind = {
        step_down = { open = 40, occupied = 30, held = 4 },
        rehab = { open = 20, occupied = 17, held = 0 },
        care_home = { open = 100, occupied = 0, held = 0 },
      } })
      expect(v.occupancy).to_be_near(51 / 60)
    end)

    it("takes occupancy over core beds: open surge beds do not count as room", function()
      local v = plugin.measure(metrics{ by_kind = {
        step_down = { open = 44, occupied = 40, held = 2, surge_open = 8 },
      } })
      expect(v.occupancy).to_be_near(42 / 36)
    end)

    it("leaves excluded zones out of the occupancy: an idle designated wing hides no pressure", function()
      local m = metrics{ by_kind = {
        step_down = { open = 40, occupied = 23, held = 1, surge_open = 4 },
        rehab = { open = 20, occupied = 19, held = 0 },
      } }
      m.by_zone = {
        { zone = "red", kind = "step_down", open = 20, occupied = 2, held = 0, surge_open = 4 },
        { zone = "green", kind = "step_down", open = 20, occupied = 21, held = 1, surge_open = 0 },
        { zone = "red-care", kind = "care_home", open = 10, occupied = 0, held = 0, surge_open = 0 },
      }
      expect(plugin.measure(m).occupancy).to_be_near(43 / 56)
      plugin.configure(t.settings{ occupancy_excluded_zones = { "red", "red-care" } })
      -- (24 + 19 - 2) over (36 + 20 - 16): the red wing's core beds and its
      -- two people out; a zone of a kind not scored changes nothing.
      expect(plugin.measure(m).occupancy).to_be_near(41 / 40)
      expect(plugin.score(m) > 0).to_be(true)
    end)

    it("takes occupancy over every open bed with occupancy_of open", function()
      plugin.configure(t.settings{ occupancy_of = "open" })
      local v = plugin.measure(metrics{ by_kind = {
        step_down = { open = 44, occupied = 40, held = 2, surge_open = 8 },
      } })
      expect(v.occupancy).to_be_near(42 / 44)
    end)

    it("leaves held beds out when count_held is off", function()
      plugin.configure(t.settings{ count_held = false })
      local v = plugin.measure(metrics{ by_kind = { step_down = { open = 40, occupied = 30, held = 4 } } })
      expect(v.occupancy).to_be_near(0.75)
    end)

    it("has no occupancy when the kinds have no open beds", function()
      expect(plugin.measure(metrics{ by_kind = { care_home = { open = 10, occupied = 10 } } }).occupancy)
        .to_be_nil()
      expect(plugin.measure(metrics{ by_kind = { rehab = { open = 0, occupied = 0 } } }).occupancy).to_be_nil()
    end)

    it("reads NCTR, waiting, bed-days lost of people still in hospital, and the surge share", function()
      local v = plugin.measure(metrics{ nctr = 12, waiting = 30, bed_days_lost = 44, surge_share = 0.05 })
      expect(v.nctr).to_be(12)
      expect(v.waiting).to_be(30)
      expect(v.bed_days_lost).to_be(44)
      expect(v.surge_share).to_be_near(0.05)
    end)

    it("works out the NCTR share only when acute_beds is set", function()
      expect(plugin.measure(metrics{ nctr = 50 }).nctr_share).to_be_nil()
      plugin.configure(t.settings{ acute_beds = 400 })
      expect(plugin.measure(metrics{ nctr = 50 }).nctr_share).to_be_near(0.125)
    end)

    it("has nothing for an empty table", function()
      expect(plugin.measure({})).to_equal({})
    end)
  end)

  describe("score", function()
    it("is 0 with every parameter at 0 points", function()
      local s, parts = plugin.score(metrics{ by_kind = { rehab = { open = 10, occupied = 1 } }, nctr = 0,
        waiting = 0, bed_days_lost = 0, surge_share = 0 })
      expect(s).to_be(0)
      expect(#parts).to_be(5)
    end)

    it("is score_max with every parameter at 3 points", function()
      plugin.configure(t.settings{ acute_beds = 100 })
      local s, parts = plugin.score(metrics{ by_kind = { rehab = { open = 10, occupied = 10 } }, nctr = 40,
        waiting = 50, bed_days_lost = 100, surge_share = 0.1 })
      expect(s).to_be_near(44)
      expect(#parts).to_be(6)
    end)

    it("weighs each parameter's points", function()
      -- occupancy 2 points x 3, waiting 1 point x 1, out of 3 x (3 + 1 + 1 + 2 + 1)
      local s = plugin.score(metrics{ by_kind = { rehab = { open = 100, occupied = 92 } }, nctr = 0,
        waiting = 10, bed_days_lost = 0, surge_share = 0 })
      expect(s).to_be_near(44 * 7 / 24)
    end)

    it("leaves parameters without data out of the scale", function()
      local s, parts = plugin.score(metrics{ by_kind = { rehab = { open = 100, occupied = 97 } } })
      expect(s).to_be_near(44)
      expect(parts).to_equal({ { name = "occupancy", value = 0.97, points = 3, weight = 3 } })
    end)

    it("leaves parameters of weight 0 out", function()
      plugin.configure(t.settings{ weight_occupancy = 0 })
      local s = plugin.score(metrics{ by_kind = { rehab = { open = 100, occupied = 97 } }, waiting = 0 })
      expect(s).to_be(0)
    end)

    it("is 0 when nothing is measured", function()
      expect(plugin.score({})).to_be(0)
    end)

    it("follows score_max", function()
      plugin.configure(t.settings{ score_max = 100, level_bands = { 25, 50, 75 } })
      expect(plugin.score(metrics{ by_kind = { rehab = { open = 100, occupied = 97 } } })).to_be_near(100)
    end)
  end)

  describe("levels", function()
    it("cuts the score at level_bands, each band the start of its level", function()
      expect(plugin.level_for(0)).to_be(1)
      expect(plugin.level_for(10.99)).to_be(1)
      expect(plugin.level_for(11)).to_be(2)
      expect(plugin.level_for(21.99)).to_be(2)
      expect(plugin.level_for(22)).to_be(3)
      expect(plugin.level_for(33)).to_be(4)
      expect(plugin.level_for(44)).to_be(4)
    end)
  end)

  describe("settings", function()
    it("refuses thresholds that do not rise", function()
      expect(function() plugin.configure(t.settings{ waiting_points = { 10, 10, 20 } }) end)
        .to_fail("waiting_points: 10, 10, 20 must rise")
    end)

    it("refuses bands that do not rise or lie outside the score", function()
      expect(function() plugin.configure(t.settings{ level_bands = { 22, 11, 33 } }) end)
        .to_fail("level_bands")
      expect(function() plugin.configure(t.settings{ level_bands = { 11, 22, 45 } }) end)
        .to_fail("at most score_max")
      expect(function() plugin.configure(t.settings{ level_bands = { 0, 22, 33 } }) end)
        .to_fail("above 0")
    end)
  end)
end)
