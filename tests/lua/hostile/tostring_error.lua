-- An error object whose __tostring never returns: the host must not call it
-- unguarded when formatting the error.
error(setmetatable({}, {
    __tostring = function()
        while true do end
    end,
}))
