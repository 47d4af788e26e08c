local M = {}
function M.rank(_, candidates)
  local out = {}
  for i = #candidates, 1, -1 do
    local c = candidates[i]
    c.score = i
    c.reason = "reversed"
    out[#out + 1] = c
  end
  return out
end
return M
