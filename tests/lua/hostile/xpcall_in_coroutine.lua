-- xpcall with a looping handler, inside a coroutine, inside a callback.
local co = coroutine.wrap(function()
    table.sort({3, 2, 1}, function(a, b)
        xpcall(function() while true do end end,
               function() while true do end end)
        return a < b
    end)
end)
co()
