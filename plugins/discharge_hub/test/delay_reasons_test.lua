-- discharge_hub's delay hook: reasons come from the national list the
-- area chose (plugin data), and the organisation named must be able to
-- answer for the reason (issue 22, finding 6).
local t = require("caretide.test")
local plugin = require("init")
local lists = require("lib.delay_reasons")

local function org(id, kinds) return { id = id, name = id, facility_kinds = kinds } end

local function delay(reason, o)
  return { reason = reason, responsible_org = o.id, from = "2025-01-06", org = o }
end

describe("delay reasons", function()
  before_each(function() plugin.configure(t.settings()) end)

  it("accepts a national reason with an organisation that can answer for it", function()
    local v = plugin.delay({}, delay("awaiting_p3_bed", org("oakwood-care", { "care_home" })))
    expect(v.valid).to_be(true)
    expect(v.text).to_be("Pathway 3: awaiting a care home bed")
  end)

  it("refuses a P2 bed delay blamed on a care home, naming the field", function()
    local v = plugin.delay({}, delay("awaiting_p2_bed", org("oakwood-care", { "care_home" })))
    expect(v.valid).to_be(false)
    expect(v.field).to_be("responsible_org")
    expect(v.message).to_match(
      "community provider, a council or an integrated care board; oakwood%-care is a care provider")
  end)

  it("refuses an unknown reason with the closest code", function()
    local v = plugin.delay({}, delay("awaiting_p3_bd", org("demo-council", {})))
    expect(v.valid).to_be(false)
    expect(v.field).to_be("reason")
    expect(v.message).to_match("did you mean 'awaiting_p3_bed'%?")
    expect(v.message).to_match("national list nhse_2023")
  end)

  it("reads an organisation's type from org_types before its facilities", function()
    plugin.configure(t.settings{ org_types = { "demo-council=council" } })
    local council = org("demo-council", { "step_down", "home_care" })
    expect(plugin.delay({}, delay("homeless_nrpf", council)).valid).to_be(true)
    plugin.configure(t.settings())
    local v = plugin.delay({}, delay("homeless_nrpf", council))
    expect(v.valid).to_be(false)
  end)

  it("refuses an organisation that runs nothing and is not typed", function()
    local v = plugin.delay({}, delay("awaiting_p1_care", org("somebody", {})))
    expect(v.valid).to_be(false)
    expect(v.message).to_match("runs no facility of the area and org_types does not name its type")
  end)

  it("refuses a malformed org_types entry at configure", function()
    expect(function() plugin.configure(t.settings{ org_types = { "x=hospital" } }) end)
      .to_fail("org_types: \"x=hospital\"")
  end)

  it("ships each list with unique codes, a text and responsible kinds", function()
    for name, list in pairs(lists) do
      local seen = {}
      expect(list.version).to_be(name)
      for _, r in ipairs(list.reasons) do
        expect(seen[r.code]).to_be_nil()
        seen[r.code] = true
        expect(r.code).to_match("^[a-z0-9_]+$")
        expect(#r.text > 0).to_be(true)
        expect(#r.responsible > 0).to_be(true)
      end
    end
  end)
end)
