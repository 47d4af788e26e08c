local M = {}
function M.setup()
  ct.on("plugin.ping", function() ct.emit("pong") end)
end
return M
