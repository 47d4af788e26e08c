-- caretide.fixtures through caretide.test: NHS numbers, referrals,
-- candidates and areas.
local t = require("caretide.test")

-- The modulus 11 rule written out again here, independently of the SDK, so
-- a mistake in one is not repeated in the other (docs/domain.md "NHS number").
local function mod11_ok(s)
  if #s ~= 10 or s:find("%D") then return false end
  local sum = 0
  for i = 1, 9 do sum = sum + tonumber(s:sub(i, i)) * (11 - i) end
  local check = 11 - sum % 11
  if check == 11 then check = 0 end
  return check ~= 10 and check == tonumber(s:sub(10))
end

describe("nhs_number", function()
  it("starts the test range at 999 000 0018 (999 000 000 has no valid check digit)", function()
    expect(t.nhs_number(1)).to_be("9990000018")
    expect(t.nhs_number(2)).to_be("9990000026")
  end)

  it("gives 1000 distinct, increasing, valid numbers in the 999 range", function()
    local prev = nil
    for n = 1, 1000 do
      local s = t.nhs_number(n)
      expect(mod11_ok(s)).to_be(true)
      expect(s).to_match("^999%d%d%d%d%d%d%d$")
      if prev then expect(tonumber(s)).to_be_greater_than(tonumber(prev)) end
      prev = s
    end
  end)

  it("skips no valid number: the 1000th is the 1000th valid base after 999000000", function()
    local count, base = 0, 999000000
    while count < 1000 do
      base = base + 1
      for c = 0, 9 do
        if mod11_ok(tostring(base) .. c) then
          count = count + 1
          break
        end
      end
    end
    local last = t.nhs_number(1000)
    expect(last:sub(1, 9)).to_be(tostring(base))
  end)

  it("answers the same for a number asked again after a larger one", function()
    local fifth = t.nhs_number(5)
    t.nhs_number(500)
    expect(t.nhs_number(5)).to_be(fifth)
  end)

  it("refuses n that is not a positive integer", function()
    expect(function() t.nhs_number(0) end).to_fail("positive integer")
    expect(function() t.nhs_number(1.5) end).to_fail("positive integer")
    expect(function() t.nhs_number("1") end).to_fail("positive integer")
  end)

  it("validates numbers with the modulus 11 check", function()
    expect(t.nhs_number_valid("9434765919")).to_be(true)
    expect(t.nhs_number_valid("9434765918")).to_be(false)
    expect(t.nhs_number_valid("9990000000")).to_be(false)
    expect(t.nhs_number_valid("999000001")).to_be(false)
    expect(t.nhs_number_valid("999 000 0018")).to_be(false)
    expect(t.nhs_number_valid(9990000018)).to_be(false)
  end)

  it("refuses the never-issued repeated-digit numbers, which pass the check", function()
    for d = 0, 9 do
      expect(t.nhs_number_valid(tostring(d):rep(10))).to_be(false)
    end
  end)
end)

describe("referral", function()
  it("builds a complete referral with defaults", function()
    expect(t.referral()).to_equal({
      id = 1,
      nhs_number = "9990000018",
      from_org = "demo-acute",
      ready_date = "2025-01-06",
      requested_pathway = "P1",
      state = "received",
      priority = 0,
      person = {
        age = 80,
        needs = {},
        usual_residence = "home",
        infections = { covid = { status = "negative" } },
      },
      delay = { days = 0 },
    })
  end)

  it("numbers referrals within a test and starts again in the next", function()
    local a, b = t.referral(), t.referral()
    expect(a.id).to_be(1)
    expect(b.id).to_be(2)
    expect(b.nhs_number).to_be(t.nhs_number(2))
  end)

  it("starts again at 1 in a new test", function()
    expect(t.referral().id).to_be(1)
  end)

  it("merges nested overrides and replaces lists", function()
    local r = t.referral({
      pathway = "P2",
      person = { age = 92, needs = { "dementia" }, infections = { flu = { status = "positive" } } },
    })
    expect(r.pathway).to_be("P2")
    expect(r.requested_pathway).to_be("P1")
    expect(r.person).to_equal({
      age = 92,
      needs = { "dementia" },
      usual_residence = "home",
      infections = { covid = { status = "negative" }, flu = { status = "positive" } },
    })
  end)

  it("replaces with an empty table and removes with none", function()
    local r = t.referral({ person = { infections = {}, usual_residence = t.none },
      requested_pathway = t.none })
    expect(r.person.infections).to_equal({})
    expect(r.person.usual_residence).to_be_nil()
    expect(r.requested_pathway).to_be_nil()
  end)

  it("does not share tables between referrals or with the overrides", function()
    local needs = { "nursing" }
    local a = t.referral({ person = { needs = needs } })
    local b = t.referral()
    needs[2] = "changed"
    a.person.infections.covid.status = "positive"
    expect(a.person.needs).to_equal({ "nursing" })
    expect(b.person.infections.covid.status).to_be("negative")
  end)

  it("rejects values the host would never send, naming the field", function()
    expect(function() t.referral({ pathway = "P4" }) end)
      .to_fail('referral: pathway must be one of P0, P1, P2, P3, step_down %(got "P4"%)')
    expect(function() t.referral({ state = "lost" }) end).to_fail("state must be one of")
    expect(function() t.referral({ nhs_number = "9990000019" }) end)
      .to_fail("nhs_number 9990000019 fails the modulus 11 check")
    expect(function() t.referral({ person = { age = 131 } }) end).to_fail("person.age")
    expect(function() t.referral({ person = { infections = { covid = { status = "postive" } } } })
    end).to_fail("person.infections.covid.status must be one of")
    expect(function() t.referral({ ready_date = "6/1/2025" }) end).to_fail("ready_date")
    expect(function() t.referral({ delay = { days = -1 } }) end).to_fail("delay.days")
    expect(function() t.referral("P1") end).to_fail("expected referral{")
  end)

  it("reports a bad override at the caller's line", function()
    -- pcall(error, "", 2) yields "file:line: " of the line it is on.
    local pos = select(2, pcall(error, "", 2)); local ok, err = pcall(function() t.referral({ priority = 1.5 }) end)
    expect(ok).to_be(false)
    expect(pos).to_match("^tests/lua/sdk/fixtures_spec.lua:%d+: $")
    expect(err).to_be(pos .. "referral: priority must be an integer")
  end)

  describe("with a host clock", function()
    before_each(function()
      rawset(_G, "ct", {
        now = function() return 1736899200000 end,
        format_time = function(ms, what)
          expect(ms).to_be(1736899200000)
          expect(what).to_be("date")
          return "2025-01-15"
        end,
      })
    end)
    after_each(function() rawset(_G, "ct", nil) end)

    it("makes the referral ready today on that clock", function()
      expect(t.referral().ready_date).to_be("2025-01-15")
    end)
  end)
end)

describe("unknown fields", function()
  it("refuses a misspelt referral field, naming the closest", function()
    expect(function() t.referral({ persn = { age = 90 } }) end)
      .to_fail('referral has no field "persn"; did you mean "person"%?')
    expect(function() t.referral({ priorty = 5 }) end)
      .to_fail('did you mean "priority"%?')
  end)

  it("refuses misspelt nested fields, with their path", function()
    expect(function() t.referral({ person = { neds = { "nursing" } } }) end)
      .to_fail('no field "person.neds"; did you mean "person.needs"%?')
    expect(function() t.referral({ delay = { reson = "P1" } }) end)
      .to_fail('did you mean "delay.reason"%?')
    expect(function()
      t.referral({ person = { infections = { covid = { stauts = "positive" } } } })
    end).to_fail('no field "person.infections.covid.stauts"; did you mean '
      .. '"person.infections.covid.status"%?')
  end)

  it("names the fields when nothing is close", function()
    expect(function() t.referral({ wibble = 1 }) end)
      .to_fail('referral has no field "wibble" %(fields: age, bed, ')
  end)

  it("accepts every field the host gives, and any pathogen", function()
    local r = t.referral({ decided_pathway = "P2", delay_days = 3, bed = "WH-G01",
      person = { infections = { norovirus = { status = "negative", tested_at = 1 } } } })
    expect(r.bed).to_be("WH-G01")
    expect(r.person.infections.norovirus.tested_at).to_be(1)
  end)

  it("refuses a misspelt candidate field, keeps rank's annotations", function()
    expect(function() t.candidate({ zoen = "willow-red" }) end)
      .to_fail('candidate has no field "zoen"; did you mean "zone"%?')
    expect(function() t.candidate({ tag = { "nursing" } }) end)
      .to_fail('did you mean "tags"%?')
    expect(t.candidate({ score = 3, reason = "near" }).score).to_be(3)
  end)
end)

describe("waiting", function()
  it("builds entries of the waiting list in order, as a queue hook gets them", function()
    local a, b = t.waiting(), t.waiting({ priority = 50, needs = { "bariatric" } })
    expect(a.id).to_be(1)
    expect(b.position).to_be(2)
    expect(b.priority).to_be(50)
    expect(b.needs).to_equal({ "bariatric" })
    expect(a.outcome).to_be("waiting")
    expect(t.nhs_number_valid(b.nhs_number)).to_be(true)
  end)

  it("refuses a misspelt field and an outcome that does not wait", function()
    expect(function() t.waiting({ priorty = 1 }) end)
      .to_fail('waiting has no field "priorty"; did you mean "priority"%?')
    expect(function() t.waiting({ outcome = "held" }) end)
      .to_fail("outcome must be one of waiting, manual_review")
  end)
end)

describe("candidate", function()
  it("builds a bed in the demo area's green wing by default", function()
    expect(t.candidate()).to_equal({
      bed = "WH-G01",
      zone = "willow-green",
      facility = "willow-stepdown",
      kind = "step_down",
      org = "demo-council",
      tags = { "nursing" },
      designated = false,
      surge = false,
      isolation_room = false,
      cohort = { covid = "negative" },
    })
    expect(t.candidate().bed).to_be("WH-G02")
  end)

  it("takes overrides and checks kind and cohorts", function()
    local c = t.candidate({ kind = "care_home", cohort = { covid = "positive" },
      tags = { "dementia" } })
    expect(c.kind).to_be("care_home")
    expect(c.cohort).to_equal({ covid = "positive" })
    expect(c.tags).to_equal({ "dementia" })
    expect(function() t.candidate({ kind = "hotel" }) end).to_fail("kind")
    expect(function() t.candidate({ facility_kind = "care_home" }) end).to_fail("not `facility_kind`")
    expect(function() t.candidate({ cohort = { flu = "maybe" } }) end).to_fail("cohort.flu")
  end)
end)

describe("area", function()
  it("fills a whole default area from nothing", function()
    expect(t.area()).to_equal({
      pathogens = { "covid", "flu", "norovirus" },
      organisations = { { id = "demo-acute", name = "demo-acute" },
        { id = "demo-council", name = "demo-council" } },
      facilities = { {
        id = "test-unit", name = "test-unit", kind = "step_down", organisation = "demo-council",
        designated_setting = false,
        zones = { { id = "test-unit-main", name = "test-unit-main", cohort = {}, closed = false,
          beds = { { range = "test-unit-main-01..test-unit-main-10", tags = {}, surge = false } } } },
      } },
    })
  end)

  it("keeps what the test gives and lists every organisation", function()
    local a = t.area({
      organisations = { { id = "oakwood-care", name = "Oakwood Care Homes Ltd" } },
      facilities = {
        { id = "willow", kind = "step_down", designated_setting = true, zones = {
          { id = "red", cohort = { covid = "positive" }, beds = 4 },
          { id = "green", closed = true, beds = { { range = "G01..G03", tags = { "nursing" } },
            { id = "G-SURGE", surge = true } } },
        } },
        { id = "oak", kind = "care_home", organisation = "oakwood-care" },
      },
    })
    local willow = a.facilities[1]
    expect(willow.designated_setting).to_be(true)
    expect(willow.zones[1].cohort).to_equal({ covid = "positive" })
    expect(willow.zones[1].beds).to_equal({ { range = "red-01..red-04", tags = {}, surge = false } })
    expect(willow.zones[2].closed).to_be(true)
    expect(willow.zones[2].beds[2]).to_equal({ id = "G-SURGE", tags = {}, surge = true })
    expect(a.organisations).to_equal({
      { id = "oakwood-care", name = "Oakwood Care Homes Ltd" },
      { id = "demo-acute", name = "demo-acute" },
      { id = "demo-council", name = "demo-council" },
    })
    expect(t.bed_ids(a)).to_equal({ "red-01", "red-02", "red-03", "red-04", "G01", "G02", "G03",
      "G-SURGE", "oak-main-01", "oak-main-02", "oak-main-03", "oak-main-04", "oak-main-05",
      "oak-main-06", "oak-main-07", "oak-main-08", "oak-main-09", "oak-main-10" })
  end)

  it("expands ranges keeping the zero padding of the first bed", function()
    local a = t.area({ facilities = { { id = "f", zones = { { id = "z", beds = {
      { range = "OAK-008..OAK-011" }, { range = "R9..R10" } } } } } } })
    expect(t.bed_ids(a)).to_equal({ "OAK-008", "OAK-009", "OAK-010", "OAK-011", "R9", "R10" })
  end)

  it("is unchanged by a second pass", function()
    local a = t.area({ facilities = { { id = "f", zones = { { id = "z", beds = 3 } } } } })
    expect(t.area(a)).to_equal(a)
  end)

  it("rejects duplicate ids, bad ranges, unknown kinds and undeclared pathogens", function()
    expect(function()
      t.area({ facilities = { { id = "f", zones = { { id = "z", beds = { { id = "B1" } } },
        { id = "y", beds = { { id = "B1" } } } } } } })
    end).to_fail("area: zone y: bed id B1 is used twice")
    expect(function()
      t.area({ facilities = { { id = "f" }, { id = "f" } } })
    end).to_fail("facility id f is used twice")
    expect(function()
      t.area({ facilities = { { id = "f", zones = { { id = "z", beds = { { range = "A1..B3" } } } } } } })
    end).to_fail("same prefix")
    expect(function()
      t.area({ facilities = { { id = "f", zones = { { id = "z", beds = { { range = "A9..A3" } } } } } } })
    end).to_fail("runs backwards")
    expect(function()
      t.area({ facilities = { { id = "f", zones = { { id = "z", beds = { { id = "x", range = "A1..A2" } } } } } } })
    end).to_fail("exactly one of id or range")
    expect(function() t.area({ facilities = { { id = "f", kind = "hotel" } } }) end)
      .to_fail("kind must be one of")
    expect(function()
      t.area({ pathogens = { "covid" }, facilities = { { id = "f", zones = { { id = "z",
        cohort = { flu = "positive" }, beds = 1 } } } } })
    end).to_fail("undeclared pathogen flu")
    expect(function() t.area({ facilities = { { id = "bad id" } } }) end)
      .to_fail("is not 1%-64 letters")
  end)
end)

describe("settings", function()
  -- ct exists only under caretide test; here a stand-in for one test.
  local function with_host(defaults, fn)
    rawset(_G, "ct", { defaults = defaults })
    local ok, err = pcall(fn)
    rawset(_G, "ct", nil)
    if not ok then error(err, 0) end
  end

  it("copies plugin.yaml's defaults with the changes, never altering ct.defaults", function()
    local defaults = { threshold = 0.8, bands = { "a=1" } }
    with_host(defaults, function()
      local s = t.settings{ threshold = 0.9 }
      expect(s).to_equal({ threshold = 0.9, bands = { "a=1" } })
      s.bands[1] = "b=2"
      expect(defaults).to_equal({ threshold = 0.8, bands = { "a=1" } })
      expect(t.settings()).to_equal(defaults)
      expect(rawequal(t.settings(), defaults)).to_be(false)
    end)
  end)

  it("refuses changes that are not a table, and runs only in the host", function()
    with_host({}, function()
      expect(function() t.settings("x") end).to_fail("expected settings{name = value, ...}")
    end)
    expect(function() t.settings() end).to_fail("only under caretide test")
  end)
end)
