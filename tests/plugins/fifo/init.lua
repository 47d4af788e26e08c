-- A queue hook: the waiting list in arrival order (the referral id),
-- whatever the priority; or, with mode = broken, an answer of the wrong
-- shape, after which the host serves its own order.
local M = {}

function M.queue(waiting)
  if ct.settings.mode == "broken" then
    return "not a list"
  end
  table.sort(waiting, function(a, b) return a.id < b.id end)
  return waiting
end

return M
