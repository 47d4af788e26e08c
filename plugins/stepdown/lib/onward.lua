-- Onward moves out of step-down: when a person's isolation is over (and the
-- clinical check is due), the next step of their referral is planned: home,
-- a rehab bed, back to their care home or a new care-home placement. The
-- plan is kept in the store and announced as "onward.planned" for the hub,
-- which makes the move through the API.
--
-- Store key (ct.kv):
--   plans  {["<referral id>"] = plan}, dropped when the referral ends
local util = require("lib.util")

local O = {}
local S

local KEY = "plans"

function O.configure(settings)
  S = settings
end

-- Where the person goes next: to, pathway, reason.
function O.destination(view)
  local person = view.person or {}
  if person.usual_residence == "care_home" then
    return "care_home", "P0", "back to their care home (P3b)"
  end
  local requested = view.requested_pathway
  if requested and S.care_home_set[requested] then
    return "care_home", requested, "a new care-home placement (" .. requested .. ")"
  end
  if requested == "P2" then return "rehab", "P2", "a rehab or recovery bed, then home" end
  if requested == "P1" then return "home", "P1", "home with support (P1)" end
  return "home", "P0", "home (P0)"
end

function O.get(id)
  return (ct.kv.get(KEY) or {})[tostring(id)]
end

-- plan(view, ended_at, why) -> plan, or nil, "already planned": the onward
-- step for a referral whose isolation ended at ended_at.
function O.plan(view, ended_at, why)
  local plans = ct.kv.get(KEY) or {}
  local key = tostring(view.id)
  if plans[key] then return nil, "already planned" end
  local to, pathway, where = O.destination(view)
  local move_after = ended_at + S.clinical_check
  local plan = {
    referral = view.id,
    nhs_number = view.nhs_number,
    step = 2, -- hospital to step-down was the first
    from_bed = view.bed,
    to = to,
    pathway = pathway,
    reason = where .. "; " .. why,
    isolation_ended_at = ended_at,
    move_after = move_after,
    move_after_date = ct.format_time(move_after, "date"),
    planned_at = ct.now(),
  }
  if to == "care_home" and S.return_isolation > 0 then
    plan.isolate_until = move_after + S.return_isolation
  end
  plans[key] = plan
  local ok, err = ct.kv.set(KEY, plans)
  if not ok then ct.log.error("cannot keep the onward plan: %s", tostring(err)) end
  ct.emit("onward.planned", plan)
  ct.log.info("referral %s: onward to %s (%s) after %s: %s", tostring(view.id), to, pathway,
    plan.move_after_date, plan.reason)
  return plan
end

-- prune(active): drops plans of referrals no longer in step-down (active is
-- a set of ids as strings).
function O.prune(active)
  local plans = ct.kv.get(KEY)
  if not plans then return end
  local changed = false
  for key in pairs(plans) do
    if not active[key] then
      plans[key] = nil
      changed = true
    end
  end
  if changed then ct.kv.set(KEY, plans) end
end

-- Whether a referral is in a step-down bed: pathway step_down, with the
-- bed confirmed (placed) or the person there (discharged).
function O.in_step_down(r)
  return util.pathway(r) == "step_down" and (r.state == "placed" or r.state == "discharged")
end

return O
