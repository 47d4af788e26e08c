local M = {}
function M.setup()
  ct.on("isolation.ended", function() ct.emit("ping") end)
  ct.on("plugin.pong", function() ct.emit("ping") end)
end
return M
