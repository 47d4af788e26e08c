---@meta caretide
-- The host API that caretide gives every plugin, as module `caretide` and
-- global `ct`. These stubs document each function for editors (lua-language-
-- server) and readers; the implementations live in the host (host/hostapi*.c).
--
-- Two error channels (STYLE.md 8): misuse (wrong argument types) raises an
-- error quoting the signature; expected failures (a bed already held, a
-- cohort change refused) return `nil, message, code`.
--
-- Values cross as plain tables: plugins never see pointers or userdata.
-- Views are snapshots: changing a returned table changes nothing in the host.

---@class ct
ct = {}

---The plugin's effective settings: the published defaults with the area's
---overrides applied. Durations are milliseconds. Read-only.
---@type table<string, any>
ct.settings = {}

---This plugin's name and version, from its plugin.yaml.
---@type {name: string, version: string}
ct.plugin = {}

---The host clock in milliseconds since the Unix epoch (UTC). Virtual in
---tests, the REPL and simulation.
---@return integer
function ct.now() end

---Formats a host-clock time as ISO 8601 UTC, or as a date with `"date"`.
---`ms` must fall in the years 0000 to 9999 (an error otherwise).
---@param ms integer
---@param what? "datetime"|"date"
---@return string
function ct.format_time(ms, what) end

---Parses "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM[:SS]Z".
---@param text string
---@return integer|nil ms, string? err
function ct.parse_time(text) end

---Parses a duration such as "15m", "48h", "14d" into milliseconds.
---@param text string
---@return integer|nil ms, string? err
function ct.duration(text) end

---Whole days from date `from` to date `to` (YYYY-MM-DD), negative if before.
---@param from string
---@param to string
---@return integer
function ct.days_between(from, to) end

---Logging to the host's log, tagged with the plugin's name.
ct.log = {}
---@param fmt string
---@param ... any
function ct.log.debug(fmt, ...) end
---@param fmt string
---@param ... any
function ct.log.info(fmt, ...) end
---@param fmt string
---@param ... any
function ct.log.warn(fmt, ...) end
---@param fmt string
---@param ... any
function ct.log.error(fmt, ...) end

---Runs `fn` every `interval` (a duration string) on the host clock. Only in
---setup(). Returns a schedule id. Each call runs under
---limits.schedule_deadline in one transaction; when `fn` returns true
---(more work left) it is called again on the next loop turn.
---@param interval string
---@param fn fun(): boolean?
---@return integer
function ct.every(interval, fn) end

---Runs `fn` every day at `hhmm` ("08:00", UTC) on the host clock. Only in
---setup().
---@param hhmm string
---@param fn fun()
---@return integer
function ct.daily(hhmm, fn) end

---Gives the host the isolation length of a pathogen (a duration string or
---milliseconds): a positive result recorded without an isolation end ends
---this long after its test. Only in setup(); the first plugin in the
---area's order that names a pathogen wins.
---@param pathogen string
---@param length string|integer
function ct.isolation_length(pathogen, length) end

---Subscribes to a host or plugin event, e.g. "isolation.ended",
---"hold.expired", "referral.delayed". Only in setup().
---@param event string
---@param fn fun(payload: table)
function ct.on(event, fn) end

---Emits an event to every subscriber (other plugins included) and records
---it in the audit log (kind "plugin.<event>", actor "plugin:<name>"), in
---the transaction of the decision or change that is running, if any.
---Names are dotted; the "plugin." prefix is added. A payload is at most
---16 KiB and a plugin's events 256 KiB a minute (nil, err, "CT_ELIMIT").
---@param event string
---@param payload? table
---@return true|nil ok, string? err, string? code
function ct.emit(event, payload) end

---A durable key-value store private to this plugin (size-limited by the
---area's limits.plugin_kv). Values are JSON-able tables, strings, numbers
---or booleans.
ct.kv = {}
---@param key string
---@return any|nil
function ct.kv.get(key) end
---@param key string
---@param value any
---@return true|nil ok, string? err, string? code
function ct.kv.set(key, value) end
---@param key string
---@return boolean existed
function ct.kv.delete(key) end
---@return string[]
function ct.kv.keys() end

---Capacity per facility and zone: total, available, held, occupied,
---blocked, surge (open and closed), and each zone's cohorts.
---@return table
function ct.capacity() end

---Beds matching a filter: {facility=, zone=, status=, tag=}.
---@param filter? table
---@return table[]
function ct.beds(filter) end

---A referral by id, or nil.
---@param id integer
---@return table|nil
function ct.referral(id) end

---Referrals matching {state=, pathway=, from_org=}, oldest first.
---@param filter? table
---@return table[]
function ct.referrals(filter) end

---The metrics the escalation policy reads: occupancy by facility kind and
---zone, available beds by cohort, waiting referrals by pathway and days
---past their discharge ready date (waiting.by_pathway[p]["<1d"|"1-3d"|
---"3-7d"|"7-14d"|"14d+"], oldest_days; not yet past counts as "<1d"),
---NCTR count, bed-days lost, surge share.
---@return table
function ct.metrics() end

---The area's current escalation level {level=, since=, reason=}.
---@return table
function ct.escalation() end

---Area-wide policy values that one plugin sets and others read (for
---instance winter_surge tightening placement rules at level 3).
ct.policy = {}
---@param key string
---@return any|nil
function ct.policy.get(key) end
---Publishes a value (audited as policy.published). A key belongs to the
---plugin that first published it while that plugin is loaded; others get
---nil, err, "CT_EDENIED".
---@param key string
---@param value any
---@return true|nil ok, string? err, string? code
function ct.policy.set(key, value) end

---Actions that go through the host's invariants. Each returns true, or
---nil, message, code when the host refuses.
ct.act = {}
---Opens surge beds of a facility (all, or `count` of them, 1 to 100000).
---@param facility string
---@param count? integer
---@return true|nil ok, string? err, string? code
function ct.act.open_surge(facility, count) end
---Closes open surge beds that are free (all, or `count`, 1 to 100000).
---@param facility string
---@param count? integer
---@return true|nil ok, string? err, string? code
function ct.act.close_surge(facility, count) end
---@param bed string
---@param reason string
---@return true|nil ok, string? err, string? code
function ct.act.block_bed(bed, reason) end
---@param bed string
---@return true|nil ok, string? err, string? code
function ct.act.unblock_bed(bed) end
---Sets a zone's cohort for one pathogen; refused while someone in the
---zone would break it.
---@param zone string
---@param pathogen string
---@param cohort "positive"|"negative"|"open"
---@return true|nil ok, string? err, string? code
function ct.act.set_cohort(zone, pathogen, cohort) end

return ct
