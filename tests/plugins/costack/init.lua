-- Host API calls made from a coroutine must use the coroutine's stack: on
-- main, ct.capacity() inside a coroutine returned the function itself, and
-- ct.kv.set/ct.emit read their argument from the main thread. Each check
-- records what it saw in ct.kv under "seen" for the host test to compare.
local M = {}

local seen = {}

local function in_coroutine(fn, ...)
  local co = coroutine.wrap(fn)
  return co(...)
end

function M.setup()
  seen.capacity = type(in_coroutine(function() return ct.capacity() end))
  seen.beds = type(in_coroutine(function() return ct.beds{ facility = "sd" } end))
  in_coroutine(function(v) ct.kv.set("from_co", v) end, { n = 7 })
  seen.emit = in_coroutine(function()
    return ct.emit("costack.tested", { where = "coroutine" })
  end)
  seen.on = in_coroutine(function()
    ct.on("costack.tested", function(ev) ct.kv.set("heard", ev.payload or ev) end)
    return "ok"
  end)

  local ok, err = pcall(ct.format_time, math.mininteger)
  seen.format_min = ok and "formatted" or err
  ok, err = pcall(ct.format_time, math.maxinteger)
  seen.format_max = ok and "formatted" or err
  seen.format_edge = ct.format_time(253402300799999)

  ok, err = pcall(ct.act.open_surge, "sd", 4294967295)
  seen.surge_wrap = ok and "accepted" or err
  ct.kv.set("seen", seen)
end
return M
