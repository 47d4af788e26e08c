local M = {}

function M.triage(referral)
  if referral.person.age > 90 then
    error("cannot triage people over 90")
  end
  return { pathway = "P1", reason = "home first", priority = 0 }
end

function M.spin()
  while true do end
end

return M
