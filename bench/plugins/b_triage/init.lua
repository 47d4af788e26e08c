local M = {}
function M.triage(r)
  local p = r.person or {}
  local covid = p.infections and p.infections.covid
  if covid and covid.isolating then
    return { pathway = "step_down", reason = "isolating", priority = 3 }
  end
  for _, need in ipairs(r.needs or {}) do
    if need == "nursing" then
      return { pathway = "P3", reason = "nursing needs", priority = 1 }
    end
  end
  return { pathway = "P2", reason = "rehab", priority = 0 }
end
return M
