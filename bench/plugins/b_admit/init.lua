local M = {}
function M.admit(r, bed)
  if bed.surge and (r.priority or 0) < 1 then
    return false, "surge beds for priority referrals only"
  end
  return true
end
return M
