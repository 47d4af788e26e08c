-- A schedule storm: 100 jobs due every second, each working 40 ms, under
-- its deadline. Due together they were 4 s of one loop turn; the minute's
-- CPU budget stops the plugin after 5 s a minute, but not one long turn.
local P = {}
local function work()
  local stop = ct.now() + 40
  while ct.now() < stop do end
end
function P.setup()
  for _ = 1, 100 do
    ct.every("1s", work)
  end
end
return P
