local M = {}
function M.admit(_, bed)
  if bed.zone == ct.settings.refuse_zone then
    return false, "zone " .. bed.zone .. " is refused"
  end
  return true
end
return M
