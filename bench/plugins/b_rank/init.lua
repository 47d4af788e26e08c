local M = {}
function M.rank(r, candidates)
  for _, c in ipairs(candidates) do
    local score = 0
    if c.org == r.from_org then score = score + 2 end
    for _, t in ipairs(c.tags) do
      if t == "nursing" then score = score + 1 end
    end
    if c.surge then score = score - 1 end
    c.score = score
  end
  table.sort(candidates, function(a, b)
    if a.score ~= b.score then return a.score > b.score end
    return a.bed < b.bed
  end)
  return candidates
end
return M
