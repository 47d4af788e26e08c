-- Reports items 1..total as "job.item" events, batch items a call, keeping
-- its place in ct.kv and answering true while items remain. Its first
-- attempt at item fail_at raises after reporting part of that slice: the
-- host must undo the whole slice, so the retry reports each item once.
local M = {}
local failed = false -- in the Lua state, not the store: survives the undo

function M.setup(settings)
  ct.every("1h", function()
    local at = ct.kv.get("at") or 0
    local last = math.min(at + settings.batch, settings.total)
    for i = at + 1, last do
      ct.emit("job.item", { item = i })
      if i == settings.fail_at and not failed then
        failed = true
        error("storage hiccup at item " .. i)
      end
    end
    ct.kv.set("at", last)
    return last < settings.total
  end)
end

return M
