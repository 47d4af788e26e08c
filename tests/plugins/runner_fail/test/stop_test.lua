-- The first test of a file runs past the deadline in the test's own code:
-- it fails at its line, under its name, and the next test still runs.
describe("deadline", function()
  it("spins in the test", function()
    local n = 0
    while true do n = n + 1 end
  end)

  it("runs after the one stopped", function()
    expect(1 + 1).to_be(2)
  end)
end)
