-- On main any plugin could overwrite another's policy values and fill the
-- shared policy store without limit.
local M = {}
function M.setup()
  local seen = {}
  local ok, err, code = ct.policy.set("ranking", "loose")
  seen.overwrite = { ok = ok or false, err = err, code = code }
  seen.ranking = ct.policy.get("ranking")
  seen.own = ct.policy.set("squatter_level", 3) or false
  local chunk, refused = string.rep("p", 200 * 1024), nil
  for i = 1, 20 do
    local ok2, err2, code2 = ct.policy.set("fill" .. i, chunk)
    if not ok2 then refused = { at = i, err = err2, code = code2 } break end
  end
  seen.fill = refused or false
  ct.kv.set("seen", seen)
end
return M
