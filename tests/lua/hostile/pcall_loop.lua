-- Catches its own timeout and goes on looping.
while true do
    pcall(function()
        while true do end
    end)
end
