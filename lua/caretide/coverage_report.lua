-- caretide.coverage_report: turns the line hits the host collects (with a
-- C line hook, which plugins cannot have) into the report of
-- `caretide test --coverage`.
--
--   local cov = require("caretide.coverage_report")
--   local report = cov.build({
--     ["stepdown/init.lua"] = {
--       lines_code = {[3] = true, [4] = true, [9] = true},  -- executable lines
--       lines_hit  = {[3] = 12, [4] = 1},                   -- line -> count
--     },
--   })
--   cov.format(report)          -> text, one line per file and a total
--   cov.check(report, 80)       -> ok, message   (--min-coverage 80)
--
-- Both inputs are maps from line number to a value: in lines_code any
-- truthy value marks a line that holds code (the host takes them from the
-- compiled chunk's active lines); in lines_hit a count above zero or true
-- marks a line that ran. Hits on lines that are not code are ignored.
local M = {}

local function sorted_lines(map, what, file)
  local out = {}
  for line, v in pairs(map or {}) do
    if math.type(line) ~= "integer" or line < 1 then
      error(("coverage_report: %s of %s must be keyed by line number"):format(what, file), 3)
    end
    if v and v ~= 0 then out[#out + 1] = line end
  end
  table.sort(out)
  return out
end

-- ranges({3, 4, 5, 9}) -> "3-5, 9" (the lines must be sorted).
function M.ranges(lines)
  local parts = {}
  local i = 1
  while i <= #lines do
    local j = i
    while j < #lines and lines[j + 1] == lines[j] + 1 do j = j + 1 end
    parts[#parts + 1] = i == j and tostring(lines[i]) or (lines[i] .. "-" .. lines[j])
    i = j + 1
  end
  return table.concat(parts, ", ")
end

local function percent(hit, code)
  if code == 0 then return 100.0 end
  return hit * 100.0 / code
end

-- build(data) -> {files = {{file=, code=, hit=, percent=, missed={lines},
-- uncovered="12-15, 20"}, ...} sorted by file, total = {code=, hit=,
-- percent=}}. A file without code counts as fully covered.
function M.build(data)
  if type(data) ~= "table" then error("expected build({[file] = {lines_code=, lines_hit=}})", 2) end
  local names = {}
  for file in pairs(data) do names[#names + 1] = file end
  table.sort(names)
  local report = { files = {}, total = { code = 0, hit = 0 } }
  for _, file in ipairs(names) do
    local entry = data[file]
    local code = sorted_lines(entry.lines_code, "lines_code", file)
    local hits = {}
    for _, line in ipairs(sorted_lines(entry.lines_hit, "lines_hit", file)) do
      hits[line] = true
    end
    local missed, hit = {}, 0
    for _, line in ipairs(code) do
      if hits[line] then hit = hit + 1 else missed[#missed + 1] = line end
    end
    report.files[#report.files + 1] = {
      file = file, code = #code, hit = hit, percent = percent(hit, #code),
      missed = missed, uncovered = M.ranges(missed),
    }
    report.total.code = report.total.code + #code
    report.total.hit = report.total.hit + hit
  end
  report.total.percent = percent(report.total.hit, report.total.code)
  return report
end

-- format(report) -> text:
--   stepdown/init.lua    45/50   90.0%  uncovered: 12-15, 20
--   total                45/50   90.0%
function M.format(report)
  local width = #"total"
  for _, f in ipairs(report.files) do width = math.max(width, #f.file) end
  local row = "%-" .. width .. "s  %9s  %5.1f%%"
  local lines = {}
  for _, f in ipairs(report.files) do
    local line = row:format(f.file, f.hit .. "/" .. f.code, f.percent)
    if f.uncovered ~= "" then line = line .. "  uncovered: " .. f.uncovered end
    lines[#lines + 1] = line
  end
  local t = report.total
  lines[#lines + 1] = row:format("total", t.hit .. "/" .. t.code, t.percent)
  return table.concat(lines, "\n")
end

-- check(report, min_percent) -> true, or false and a message. Compared
-- exactly (hit * 100 >= min * code), not on the rounded figure.
function M.check(report, min_percent)
  if type(min_percent) ~= "number" or min_percent < 0 or min_percent > 100 then
    error("expected check(report, percent from 0 to 100)", 2)
  end
  local t = report.total
  if t.hit * 100 >= min_percent * t.code then return true end
  return false, ("coverage %.1f%% is below the minimum %s%%"):format(t.percent,
    tostring(min_percent))
end

return M
