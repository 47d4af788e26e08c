---@meta caretide
-- The host API that caretide gives every plugin, as module `caretide` and
-- global `ct`. These stubs document each function for editors (lua-language-
-- server) and readers; the implementations live in the host (host/hostapi*.c).
--
-- Two error channels (docs/style.md 8): misuse (wrong argument types) raises an
-- error quoting the signature; expected failures (a bed already held, a
-- cohort change refused) return `nil, message, code`.
--
-- Values cross as plain tables: plugins never see pointers or userdata.
-- Views are snapshots: changing a returned table changes nothing in the host.

-- Values that cross the border ------------------------------------------------

---@alias ct.Pathway "P0"|"P1"|"P2"|"P3"|"step_down"
---@alias ct.ReferralState "received"|"triaged"|"waiting"|"held"|"placed"|"discharged"|"completed"|"cancelled"
---@alias ct.Cohort "positive"|"negative"|"open"
---@alias ct.BedStatus "available"|"held"|"occupied"|"blocked"

---One pathogen's result for a person. Times are host-clock milliseconds.
---@class ct.Infection
---@field status "negative"|"positive"|"awaiting"|"unknown"
---@field tested_at? integer
---@field isolation_end? integer positive only
---@field isolating? boolean positive and before isolation_end

---The person a referral is about (absent for viewer-level views).
---@class ct.Person
---@field age? integer
---@field needs string[]
---@field usual_residence? "home"|"care_home"|"supported_living"|"no_fixed_abode"|"other"
---@field infections table<string, ct.Infection> by pathogen

---Why a referral is delayed past its ready date, and for how long.
---@class ct.Delay
---@field reason? string
---@field responsible_org? string
---@field days integer whole days past the ready date (0 when not past)

---A delay someone asks to record (the `delay` hook's second argument).
---@class ct.DelayRequest
---@field reason string the code given
---@field responsible_org string
---@field from string YYYY-MM-DD, the UK day the delay starts
---@field org {id: string, name: string, facility_kinds: string[]} the responsible organisation

---The `delay` hook's answer: the first non-nil one decides.
---@class ct.DelayVerdict
---@field valid boolean
---@field text? string the reason's label (valid only), kept with the episode
---@field message? string why not (required when not valid)
---@field field? "reason"|"responsible_org"|"from" the input at fault

---A referral as a hook receives it (docs/plugins.md "Hooks").
---@class ct.Referral
---@field id integer
---@field nhs_number string
---@field from_org string
---@field ready_date string YYYY-MM-DD
---@field requested_pathway? ct.Pathway
---@field pathway? ct.Pathway the triaged pathway, once triaged
---@field state ct.ReferralState
---@field priority integer
---@field needs string[]
---@field delay ct.Delay
---@field person ct.Person

---A bed the host offers for a referral: it already passes the host's rules.
---A plugin may add `score` and `reason`; a bed it invents is ignored.
---@class ct.Candidate
---@field bed string
---@field zone string
---@field facility string
---@field kind string facility kind: care_home, step_down, ...
---@field org string owning organisation
---@field tags string[]
---@field designated boolean a designated setting
---@field surge boolean a surge bed
---@field isolation_room boolean
---@field cohort table<string, ct.Cohort> the zone's cohorts that are not open
---@field available_at? integer when a held or occupied bed frees, host-clock ms
---@field score? number added by a ranking plugin
---@field reason? string added by a ranking plugin

---triage's answer: the first non-nil answer wins.
---@class ct.Triage
---@field pathway ct.Pathway
---@field reason string
---@field priority? integer
---@field kinds? string[] facility kinds that serve the pathway here (step_down, rehab, care_home, ...)

---escalate's answer: the highest level wins; actions are what it did.
---@class ct.Escalation
---@field level 1|2|3|4
---@field reason string
---@field actions? string[]

---The area's current escalation level (ct.escalation()).
---@class ct.EscalationState
---@field level 1|2|3|4
---@field since integer host-clock ms
---@field reason? string
---@field history table[] the last changes, newest first

---A bed as the capacity views show it (ct.beds()).
---@class ct.Bed
---@field id string
---@field facility string
---@field zone string
---@field org string
---@field status ct.BedStatus
---@field tags string[]
---@field surge boolean
---@field surge_open boolean
---@field blocked_reason? string
---@field referral? integer held or occupied by this referral
---@field hold_expires_at? integer
---@field resident? ct.Resident an existing resident (no referral)

---An existing resident's stay (ct.act.record_resident): nothing personal.
---@class ct.Resident
---@field id integer
---@field since integer ms
---@field expected_end? integer ms

---A plugin's effective settings: published defaults (plugin.yaml) with the
---area's overrides; durations in milliseconds, sizes in bytes.
---@class ct.Settings: table<string, any>

---What a plugin's init.lua returns. Every hook is optional.
---@class ct.Plugin
---@field setup? fun(settings: ct.Settings) once per load; the only place for ct.every, ct.daily, ct.on
---@field triage? fun(referral: ct.Referral): ct.Triage|nil
---@field rank? fun(referral: ct.Referral, candidates: ct.Candidate[]): ct.Candidate[]
---@field admit? fun(referral: ct.Referral, candidate: ct.Candidate): boolean, string?
---@field escalate? fun(metrics: table): ct.Escalation|nil
---@field delay? fun(referral: ct.Referral, delay: ct.DelayRequest): ct.DelayVerdict|nil
---The waiting list reordered (or its ids); nobody can be left off.
---@field queue? fun(waiting: ct.WaitingEntry[]): ct.WaitingEntry[]|integer[]

---An entry of the waiting list as a queue hook gets it, in the host's order
---(priority, then time past the ready date, then arrival) or the previous
---plugin's. Build one in tests with t.waiting{...}.
---@class ct.WaitingEntry
---@field id integer the referral
---@field position integer its place in the host's order
---@field from_org string
---@field priority integer
---@field ready_date string YYYY-MM-DD
---@field days_past_ready integer UK days
---@field requested_pathway? ct.Pathway
---@field pathway? ct.Pathway
---@field outcome "waiting"|"manual_review"
---@field deferred boolean
---@field updated_at integer ms
---@field delay_reason? string
---@field responsible_org? string
---@field nhs_number string
---@field needs string[]

-- The API ---------------------------------------------------------------------

---@class ct
ct = {}

---The plugin's effective settings: the published defaults with the area's
---overrides applied. Durations are milliseconds. Read-only.
---@type ct.Settings
ct.settings = {}

---The plugin's published defaults (plugin.yaml), typed as in ct.settings
---(durations in milliseconds) but without the area's overrides: what a
---plugin's own tests pin. Read-only.
---@type ct.Settings
ct.defaults = {}

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
---@param fn fun(payload: table) the payload has `event` set to the event's name
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
---The value, or nil when there is none; nil, err, code when the store
---cannot be read.
---@param key string
---@return any|nil value, string? err, string? code
function ct.kv.get(key) end
---@param key string
---@param value any
---@return true|nil ok, string? err, string? code
function ct.kv.set(key, value) end
---Whether the key existed; nil, err, code when the store cannot be written.
---@param key string
---@return boolean|nil existed, string? err, string? code
function ct.kv.delete(key) end
---@return string[]|nil keys, string? err, string? code
function ct.kv.keys() end

---Capacity per facility and zone: total, available, held, occupied,
---blocked, surge (open and closed), and each zone's cohorts.
---@return table|nil view, string? err, string? code
function ct.capacity() end

---Beds matching a filter: {facility=, zone=, status=, tag=}.
---@param filter? {facility?: string, zone?: string, status?: ct.BedStatus, tag?: string}
---@return ct.Bed[]|nil beds, string? err, string? code
function ct.beds(filter) end

---A referral by id, or nil.
---@param id integer
---@return ct.Referral|nil referral, string? err, string? code
function ct.referral(id) end

---What ct.referrals lists.
---@class ct.ReferralFilter
---@field state? ct.ReferralState
---@field pathway? string only referrals of this decided pathway
---@field discharged_before? integer only referrals discharged before this time (ms)
---@field after? integer
---@field limit? integer 1 to 1000

---Referrals in a state (all without), by id after `after`, at most `limit` (1 to 1000);
---only those of decided `pathway`, and discharged before `discharged_before` (ms), when given.
---@param filter? ct.ReferralFilter
---@return table[]|nil referrals, string? err, string? code
function ct.referrals(filter) end

---The metrics the escalation policy reads: occupancy by facility kind and
---zone, available beds by cohort, waiting referrals by pathway and days
---past their discharge ready date (waiting.by_pathway[p]["<1d"|"1-3d"|
---"3-7d"|"7-14d"|"14d+"], oldest_days; not yet past counts as "<1d"),
---NCTR count, bed-days lost, surge share.
---@return table|nil metrics, string? err, string? code
function ct.metrics() end

---The area's current escalation level {level=, since=, reason=}.
---@return ct.EscalationState|nil state, string? err, string? code
function ct.escalation() end

---Area-wide policy values that one plugin sets and others read (for
---instance winter_surge tightening placement rules at level 3).
ct.policy = {}
---The value, or nil when none is published; nil, err, code when the store
---cannot be read.
---@param key string
---@return any|nil value, string? err, string? code
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
---Records an existing resident (someone without a referral in caretide)
---in an available bed, with an optional expected end (ms, in the future);
---for a bed that has one, sets its expected end. The bed is occupied until
---`resident_left` or the expected end, then offered down the waiting list.
---@param bed string
---@param expected_end? integer
---@return true|nil ok, string? err, string? code
function ct.act.record_resident(bed, expected_end) end
---The resident of a bed left: the bed is free for the waiting list.
---@param bed string
---@return true|nil ok, string? err, string? code
function ct.act.resident_left(bed) end
---Sets a zone's cohort for one pathogen; refused while someone in the
---zone would break it.
---@param zone string
---@param pathogen string
---@param cohort ct.Cohort
---@return true|nil ok, string? err, string? code
function ct.act.set_cohort(zone, pathogen, cohort) end

return ct
