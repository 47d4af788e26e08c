-- Its schedule always fails; its triage always answers P1. Quarantine of
-- the schedule must leave triage running.
local M = {}

function M.setup()
  ct.every("1m", function() error("the job always fails") end)
end

function M.triage()
  return { pathway = "P1", reason = "badjob triage still answers" }
end

return M
