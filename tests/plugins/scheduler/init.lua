local M = {}
function M.setup()
  ct.every("15m", function()
    ct.kv.set("ticks", (ct.kv.get("ticks") or 0) + 1)
  end)
  ct.daily("08:30", function()
    ct.kv.set("mornings", (ct.kv.get("mornings") or 0) + 1)
  end)
  ct.on("isolation.ended", function(ev)
    ct.kv.set("ended", ev.nhs_number or "?")
    ct.emit("noticed", { who = ev.nhs_number })
  end)
  ct.on("plugin.noticed", function(ev)
    ct.kv.set("noticed", ev.who)
  end)
end
return M
