-- caretide.repl: what `caretide repl` shows. The host runs these in the
-- REPL's own sandbox and prints the text they return.
--
--   show(...)               the results of an evaluation, one per line
--   complete(env, text)     names that complete text ("ct.met" -> "ct.metrics")
--   explain(decision)       a decision and the trace of every plugin step
--   escalation(round)       an escalation round: the level and each step
--   capacity(metrics)       beds per facility and zone from ct.metrics()
--   plugins(status)         the plugin manager's status list
--
-- Plain Lua: no io, os or debug, like the rest of the SDK.
local inspect = require("caretide.inspect")

local M = {}

local KEYWORDS = { "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
  "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true",
  "until", "while" }

-- show(...) -> text: each value pretty-printed (tables over several lines,
-- cycles marked), several values one per line; "" for none.
function M.show(...)
  local n = select("#", ...)
  local out = {}
  for i = 1, n do
    out[i] = inspect.inspect((select(i, ...)), { max_length = 20000 })
  end
  return table.concat(out, "\n")
end

local function identifier(k)
  return type(k) == "string" and k:find("^[%a_][%w_]*$") ~= nil
end

-- complete(env, text) -> sorted list of completions of text, an
-- expression path like "ct.kv.g" or "string.fo" or a bare "pri". Walks
-- tables with rawget and next, so no metamethod runs.
function M.complete(env, text)
  local path, sep, partial = text:match("^(.-)([%.:]?)([%w_]*)$")
  if not path then return {} end
  local t = env
  if sep == "" then
    path = ""
  else
    for name in path:gmatch("[^%.:]+") do
      if type(t) ~= "table" or not identifier(name) then return {} end
      t = rawget(t, name)
    end
    if path:find("[^%w_%.:]") or path:find("^[%.:]") then return {} end
  end
  if type(t) == "string" and sep == ":" then t = string end
  if type(t) ~= "table" then return {} end
  local seen, out = {}, {}
  local function add(name)
    if not seen[name] and name:sub(1, #partial) == partial then
      seen[name] = true
      out[#out + 1] = path .. sep .. name
    end
  end
  local k, v = next(t)
  while k ~= nil do
    if identifier(k) and (sep ~= ":" or type(v) == "function") then add(k) end
    k, v = next(t, k)
  end
  if sep == "" then
    for _, w in ipairs(KEYWORDS) do add(w) end
  end
  table.sort(out)
  return out
end

local function ms(x)
  if type(x) ~= "number" then return "" end
  return ("%.2f ms"):format(x)
end

-- The output of a traced step, on one line.
local function step_output(e)
  local o = e.output
  if e.hook == "rank" and type(o) == "table" then
    -- The order, and for the first few what the plugin said about them.
    local beds = {}
    for i = 1, math.min(#o, 6) do
      local c, notes = o[i], {}
      if i <= 3 and c.score ~= nil then notes[#notes + 1] = "score " .. inspect.scalar(c.score) end
      if i <= 3 and c.reason ~= nil then notes[#notes + 1] = inspect.scalar(c.reason) end
      beds[i] = tostring(c.bed) .. (#notes > 0 and (" (" .. table.concat(notes, ", ") .. ")") or "")
    end
    return ("%d candidate%s%s%s"):format(#o, #o == 1 and "" or "s", #o > 0 and ": " or "",
      table.concat(beds, ", ") .. (#o > 6 and ", ..." or ""))
  end
  if e.hook == "admit" and type(o) == "table" then
    if o[1] == true then return "true" end
    return "false" .. (o[2] ~= nil and (", " .. inspect.line(o[2], 200)) or "")
  end
  return inspect.line(o, 200)
end

-- One entry per plugin step: plugin, version, hook, time, then what it
-- returned or why it failed.
local function trace_lines(lines, trace)
  local w = 0
  for _, e in ipairs(trace) do
    w = math.max(w, #(tostring(e.plugin) .. " " .. tostring(e.version)))
  end
  for i, e in ipairs(trace) do
    lines[#lines + 1] = ("  %2d  %-" .. w .. "s  %-8s %10s"):format(i,
      tostring(e.plugin) .. " " .. tostring(e.version), tostring(e.hook), ms(e.ms))
    if e.error then
      lines[#lines + 1] = "        !! " .. tostring(e.error) ..
        (e.fallback and (" (fallback: " .. tostring(e.fallback) .. ")") or "")
    else
      lines[#lines + 1] = "        -> " .. step_output(e)
    end
  end
end

-- explain(decision) -> text: the outcome, then one entry per plugin step
-- (plugin, version, hook, time, what it returned or why it failed), then
-- the reasons recorded with the decision.
function M.explain(d)
  local lines = {}
  local head = ("referral %s: %s"):format(tostring(d.referral), tostring(d.outcome))
  if d.bed then
    head = head .. (" bed %s (zone %s, facility %s)"):format(d.bed, tostring(d.zone),
      tostring(d.facility))
  end
  if d.pathway then head = head .. ", pathway " .. d.pathway end
  if d.priority then head = head .. ", priority " .. tostring(d.priority) end
  lines[1] = head
  local trace = d.trace or {}
  if #trace == 0 then
    lines[#lines + 1] = "no plugin answered: the host's defaults applied"
  else
    lines[#lines + 1] = "trace:"
  end
  trace_lines(lines, trace)
  if d.reasons and #d.reasons > 0 then
    lines[#lines + 1] = "reasons:"
    for _, r in ipairs(d.reasons) do
      lines[#lines + 1] = "  - " .. (type(r) == "string" and r or inspect.line(r, 200))
    end
  end
  return table.concat(lines, "\n")
end

-- escalation(round) -> text: round = {level, reason, actions, changed,
-- trace}, as the host's escalation round gives it.
function M.escalation(r)
  local lines = {}
  if (r.level or 0) == 0 then
    lines[1] = "no plugin proposed a level"
  else
    lines[1] = ("level %s%s: %s"):format(tostring(r.level),
      r.changed and " (changed)" or " (unchanged)", tostring(r.reason))
  end
  for _, a in ipairs(r.actions or {}) do
    lines[#lines + 1] = "  action: " .. inspect.line(a, 200)
  end
  local trace = r.trace or {}
  if #trace > 0 then
    lines[#lines + 1] = "trace:"
    trace_lines(lines, trace)
  end
  return table.concat(lines, "\n")
end

local function pct(x)
  return ("%5.1f%%"):format((x or 0) * 100)
end

-- capacity(metrics) -> text: a row per zone (facility, zone, kind, beds
-- total / available / held / occupied / blocked, occupancy), then the
-- area's totals and the waiting referrals.
function M.capacity(m)
  local rows = { { "facility", "zone", "kind", "total", "avail", "held", "occ", "blocked", "occupancy" } }
  for _, z in ipairs(m.by_zone or {}) do
    rows[#rows + 1] = { z.facility, z.zone .. (z.closed and " (closed)" or ""), z.kind,
      z.total, z.available, z.held, z.occupied, z.blocked, pct(z.occupancy) }
  end
  local b = m.beds or {}
  rows[#rows + 1] = { "total", "", "", b.total, b.available, b.held, b.occupied, b.blocked,
    pct(b.occupancy) }
  local widths = {}
  for _, r in ipairs(rows) do
    for i, c in ipairs(r) do widths[i] = math.max(widths[i] or 0, #tostring(c)) end
  end
  local out = {}
  for _, r in ipairs(rows) do
    local cells = {}
    for i, c in ipairs(r) do
      local f = i <= 3 and ("%-" .. widths[i] .. "s") or ("%" .. widths[i] .. "s")
      cells[i] = f:format(tostring(c))
    end
    out[#out + 1] = (table.concat(cells, "  "):gsub("%s+$", ""))
  end
  local waiting = m.waiting and m.waiting.total or 0
  out[#out + 1] = ("surge beds open: %s; waiting referrals: %s; delayed: %s"):format(
    tostring(b.surge_open or 0), tostring(waiting), tostring(m.delayed or 0))
  return table.concat(out, "\n")
end

-- plugins(status) -> text: one line per plugin of the running set.
function M.plugins(list)
  if #list == 0 then return "no plugins configured" end
  local out = {}
  for _, p in ipairs(list) do
    out[#out + 1] = ("%-20s %-10s %-11s calls %-6s errors %-4s timeouts %-4s memory %d KiB"):format(
      tostring(p.name), tostring(p.version), tostring(p.state), tostring(p.calls),
      tostring(p.errors), tostring(p.timeouts), (p.memory or 0) // 1024)
  end
  return table.concat(out, "\n")
end

return M
