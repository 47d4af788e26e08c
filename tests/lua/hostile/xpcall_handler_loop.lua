-- A message handler that never returns, then more looping.
xpcall(function()
    while true do end
end, function(e)
    while true do end
end)
while true do end
