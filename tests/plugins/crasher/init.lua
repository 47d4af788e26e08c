-- The daemon finding: a chain of 40,000 coroutines whose __close handlers
-- each close the previous one, built a few thousand per call to stay under
-- the deadline, then closed: on main nested coroutine.close overflowed the
-- C stack and the daemon died (SIGSEGV). Here 2,000 in four calls: past
-- the sandbox's nesting limit of 100 (tests/unit/test_sandbox.c closes the
-- full 40,000 in one call).
local M = {}
local prev, n = nil, 0
local function link(p)
  local co = coroutine.create(function()
    local guard <close> = setmetatable({}, { -- luacheck: ignore 211 (held for its __close)
      __close = function()
        if p then
          local ok, err = coroutine.close(p)
          if not ok then error(err, 0) end
        end
      end,
    })
    coroutine.yield()
  end)
  coroutine.resume(co)
  return co
end
function M.triage()
  for _ = 1, 500 do
    prev = link(prev)
    n = n + 1
  end
  if n >= 2000 then
    local last = prev
    prev, n = nil, 0
    assert(coroutine.close(last))
  end
  return nil
end
return M
