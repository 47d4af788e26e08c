/*
 * Schema migrations, forward only. Never edit a released entry: add a new
 * one. Times are integer milliseconds since the Unix epoch (UTC) on the
 * host clock; calendar dates (discharge ready date) are 'YYYY-MM-DD' text.
 */
#include "store_int.h"
#include "store_sql_report.h"

#include "util.h"

/* A whole schema reads best as one script, longer than the 4095 characters
 * ISO C guarantees a string literal; GCC and Clang have no such limit. */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Woverlength-strings"
#endif

static const char schema_v1[] =
    "CREATE TABLE organisation ("
    "  id   TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL"
    ") STRICT;"

    "CREATE TABLE facility ("
    "  id         TEXT PRIMARY KEY,"
    "  name       TEXT NOT NULL,"
    "  kind       TEXT NOT NULL CHECK (kind IN ('acute','step_down','rehab',"
    "               'care_home','home_care','virtual_ward')),"
    "  org_id     TEXT NOT NULL REFERENCES organisation(id),"
    "  designated INTEGER NOT NULL DEFAULT 0 CHECK (designated IN (0,1)),"
    "  retired    INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0,1))"
    ") STRICT;"

    /* closed/closed_reason are live state; declared_closed is what the
     * config said at the last reconcile (see ct_store_reconcile). */
    "CREATE TABLE zone ("
    "  id              TEXT PRIMARY KEY,"
    "  facility_id     TEXT NOT NULL REFERENCES facility(id),"
    "  name            TEXT NOT NULL,"
    "  closed          INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0,1)),"
    "  closed_reason   TEXT,"
    "  declared_closed INTEGER NOT NULL DEFAULT 0,"
    "  retired         INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0,1))"
    ") STRICT;"
    "CREATE INDEX zone_by_facility ON zone(facility_id);"

    /* A pathogen with no row is open. */
    "CREATE TABLE zone_cohort ("
    "  zone_id  TEXT NOT NULL REFERENCES zone(id),"
    "  pathogen TEXT NOT NULL,"
    "  cohort   TEXT NOT NULL CHECK (cohort IN ('open','positive','negative')),"
    "  declared TEXT CHECK (declared IN ('open','positive','negative')),"
    "  PRIMARY KEY (zone_id, pathogen)"
    ") STRICT, WITHOUT ROWID;"

    /* status mirrors the active assignment and the block, kept in the same
     * transaction, so candidate search reads one indexed column. A surge
     * bed counts only while surge_open. */
    "CREATE TABLE bed ("
    "  id             TEXT PRIMARY KEY,"
    "  zone_id        TEXT NOT NULL REFERENCES zone(id),"
    "  status         TEXT NOT NULL DEFAULT 'available'"
    "                   CHECK (status IN ('available','held','occupied','blocked')),"
    "  blocked_reason TEXT,"
    "  surge          INTEGER NOT NULL DEFAULT 0 CHECK (surge IN (0,1)),"
    "  surge_open     INTEGER NOT NULL DEFAULT 0 CHECK (surge_open IN (0,1)),"
    "  retired        INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0,1)),"
    "  CHECK ((status = 'blocked') = (blocked_reason IS NOT NULL))"
    ") STRICT;"
    "CREATE INDEX bed_by_zone_status ON bed(zone_id, status) WHERE retired = 0;"

    "CREATE TABLE bed_tag ("
    "  bed_id TEXT NOT NULL REFERENCES bed(id),"
    "  tag    TEXT NOT NULL,"
    "  PRIMARY KEY (bed_id, tag)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX bed_tag_by_tag ON bed_tag(tag, bed_id);"

    "CREATE TABLE person ("
    "  nhs_number      TEXT PRIMARY KEY CHECK (length(nhs_number) = 10),"
    "  age             INTEGER CHECK (age BETWEEN 0 AND 130),"
    "  needs           TEXT NOT NULL DEFAULT '[]',"
    "  usual_residence TEXT"
    ") STRICT;"

    "CREATE TABLE infection ("
    "  nhs_number         TEXT NOT NULL REFERENCES person(nhs_number),"
    "  pathogen           TEXT NOT NULL,"
    "  status             TEXT NOT NULL"
    "                       CHECK (status IN ('negative','positive','awaiting','unknown')),"
    "  tested_at          INTEGER,"
    "  isolation_end      INTEGER,"
    "  isolation_notified INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (nhs_number, pathogen)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX infection_pending_end ON infection(isolation_end)"
    "  WHERE isolation_end IS NOT NULL AND isolation_notified = 0;"

    "CREATE TABLE referral ("
    "  id                INTEGER PRIMARY KEY,"
    "  nhs_number        TEXT NOT NULL REFERENCES person(nhs_number),"
    "  from_org          TEXT NOT NULL REFERENCES organisation(id),"
    "  ready_date        TEXT NOT NULL,"
    "  requested_pathway TEXT,"
    "  decided_pathway   TEXT,"
    "  state             TEXT NOT NULL DEFAULT 'received' CHECK (state IN"
    "    ('received','triaged','waiting','held','placed','discharged',"
    "     'completed','cancelled')),"
    "  priority          INTEGER NOT NULL DEFAULT 0,"
    "  delay_reason      TEXT,"
    "  responsible_org   TEXT REFERENCES organisation(id),"
    "  created_at        INTEGER NOT NULL,"
    "  updated_at        INTEGER NOT NULL,"
    "  discharged_at     INTEGER,"
    "  idempotency_key   TEXT,"
    "  decision          TEXT"
    ") STRICT;"
    "CREATE INDEX referral_by_state ON referral(state, ready_date);"
    "CREATE INDEX referral_by_org ON referral(from_org, state);"
    "CREATE UNIQUE INDEX referral_idempotency ON referral(from_org, idempotency_key)"
    "  WHERE idempotency_key IS NOT NULL;"

    /* A hold or an occupancy of a bed by a referral. The partial unique
     * index is the schema's own guarantee of at most one active hold or
     * occupant per bed, whatever the C code does. */
    "CREATE TABLE assignment ("
    "  id          INTEGER PRIMARY KEY,"
    "  bed_id      TEXT NOT NULL REFERENCES bed(id),"
    "  referral_id INTEGER NOT NULL REFERENCES referral(id),"
    "  kind        TEXT NOT NULL CHECK (kind IN ('hold','occupancy')),"
    "  active      INTEGER NOT NULL CHECK (active IN (0,1)),"
    "  started_at  INTEGER NOT NULL,"
    "  expires_at  INTEGER,"
    "  ended_at    INTEGER,"
    "  end_reason  TEXT,"
    "  CHECK (active = 1 OR ended_at IS NOT NULL)"
    ") STRICT;"
    "CREATE UNIQUE INDEX assignment_one_active_per_bed ON assignment(bed_id)"
    "  WHERE active = 1;"
    "CREATE INDEX assignment_hold_expiry ON assignment(expires_at)"
    "  WHERE active = 1 AND kind = 'hold';"
    "CREATE INDEX assignment_by_referral ON assignment(referral_id, active);"

    "CREATE TABLE escalation ("
    "  seq     INTEGER PRIMARY KEY,"
    "  at      INTEGER NOT NULL,"
    "  level   INTEGER NOT NULL CHECK (level BETWEEN 1 AND 4),"
    "  reason  TEXT NOT NULL,"
    "  actions TEXT NOT NULL DEFAULT '[]'"
    ") STRICT;"

    /* The audit log: append-only, hash-chained (host/audit.c). */
    "CREATE TABLE event ("
    "  seq       INTEGER PRIMARY KEY,"
    "  at        INTEGER NOT NULL,"
    "  actor     TEXT NOT NULL,"
    "  kind      TEXT NOT NULL,"
    "  payload   TEXT NOT NULL,"
    "  prev_hash BLOB NOT NULL,"
    "  hash      BLOB NOT NULL"
    ") STRICT;"
    "CREATE TABLE chain_head ("
    "  id   INTEGER PRIMARY KEY CHECK (id = 1),"
    "  seq  INTEGER NOT NULL,"
    "  hash BLOB NOT NULL"
    ") STRICT;"

    "CREATE TABLE plugin_kv ("
    "  plugin TEXT NOT NULL,"
    "  key    TEXT NOT NULL,"
    "  value  TEXT NOT NULL,"
    "  PRIMARY KEY (plugin, key)"
    ") STRICT, WITHOUT ROWID;";

/* Capacity. A referral, like a bed, has at most one active hold or
 * occupancy. bed.status follows the active assignment by trigger, so the
 * schema itself keeps the mirror: an assignment starting makes its bed
 * held or occupied, one ending makes it available; starting one on a
 * blocked bed fails the bed's CHECK (blocked with a reason). A person's
 * placements are found from their NHS number. */
static const char schema_v2[] =
    "CREATE UNIQUE INDEX assignment_one_active_per_referral"
    "  ON assignment(referral_id) WHERE active = 1;"
    "CREATE INDEX referral_by_person ON referral(nhs_number);"
    "CREATE TRIGGER assignment_starts AFTER INSERT ON assignment"
    "  WHEN NEW.active = 1"
    "  BEGIN UPDATE bed SET status = CASE NEW.kind WHEN 'hold' THEN 'held'"
    "                                 ELSE 'occupied' END"
    "        WHERE id = NEW.bed_id; END;"
    "CREATE TRIGGER assignment_ends AFTER UPDATE OF active ON assignment"
    "  WHEN OLD.active = 1 AND NEW.active = 0"
    "  BEGIN UPDATE bed SET status = 'available' WHERE id = NEW.bed_id; END;";

/* The HTTP API's Idempotency-Key: the SHA-256 of the request that made a
 * referral (its canonical JSON), so that the same key sent again with a
 * different body is refused rather than answered with another request's
 * result. */
static const char schema_v3[] =
    "ALTER TABLE referral ADD COLUMN request_sha256 BLOB;";

/* Reports (host/report.c): the occupancy history is rebuilt from
 * assignments and capacity events rather than stored, so these indexes
 * keep it to index ranges: assignments by end time and by bed (the last
 * change of a bed), events by kind and time. */
static const char schema_v4[] =
    "CREATE INDEX assignment_by_end ON assignment(ended_at)"
    "  WHERE ended_at IS NOT NULL;"
    "CREATE INDEX assignment_by_bed ON assignment(bed_id, started_at);"
    "CREATE INDEX event_by_kind ON event(kind, at);";

/*
 * The same tables with cheaper CHECKs. SQLite (3.40) evaluates a constant
 * IN list of more than two values through an ephemeral table it builds on
 * every run of the statement, and every placement writes bed.status and
 * referral.state: the IN lists of those two CHECKs were a sixth of a
 * batched hold. An OR chain of equalities accepts exactly the same values.
 * The SQLite way: new table, copy (rowids kept), drop, rename, indexes and
 * the triggers that name bed again; the migrator runs this with foreign
 * keys off and checks them before commit.
 */
static const char schema_v5[] =
    "DROP TRIGGER assignment_starts;"
    "DROP TRIGGER assignment_ends;"

    "CREATE TABLE bed_v5 ("
    "  id             TEXT PRIMARY KEY,"
    "  zone_id        TEXT NOT NULL REFERENCES zone(id),"
    "  status         TEXT NOT NULL DEFAULT 'available'"
    "                   CHECK (status = 'available' OR status = 'held' OR"
    "                          status = 'occupied' OR status = 'blocked'),"
    "  blocked_reason TEXT,"
    "  surge          INTEGER NOT NULL DEFAULT 0 CHECK (surge IN (0,1)),"
    "  surge_open     INTEGER NOT NULL DEFAULT 0 CHECK (surge_open IN (0,1)),"
    "  retired        INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0,1)),"
    "  CHECK ((status = 'blocked') = (blocked_reason IS NOT NULL))"
    ") STRICT;"
    "INSERT INTO bed_v5 (rowid, id, zone_id, status, blocked_reason, surge,"
    "                    surge_open, retired)"
    "  SELECT rowid, id, zone_id, status, blocked_reason, surge, surge_open,"
    "         retired FROM bed;"
    "DROP TABLE bed;"
    "ALTER TABLE bed_v5 RENAME TO bed;"
    "CREATE INDEX bed_by_zone_status ON bed(zone_id, status) WHERE retired = 0;"

    "CREATE TABLE referral_v5 ("
    "  id                INTEGER PRIMARY KEY,"
    "  nhs_number        TEXT NOT NULL REFERENCES person(nhs_number),"
    "  from_org          TEXT NOT NULL REFERENCES organisation(id),"
    "  ready_date        TEXT NOT NULL,"
    "  requested_pathway TEXT,"
    "  decided_pathway   TEXT,"
    "  state             TEXT NOT NULL DEFAULT 'received' CHECK ("
    "    state = 'received' OR state = 'triaged' OR state = 'waiting' OR"
    "    state = 'held' OR state = 'placed' OR state = 'discharged' OR"
    "    state = 'completed' OR state = 'cancelled'),"
    "  priority          INTEGER NOT NULL DEFAULT 0,"
    "  delay_reason      TEXT,"
    "  responsible_org   TEXT REFERENCES organisation(id),"
    "  created_at        INTEGER NOT NULL,"
    "  updated_at        INTEGER NOT NULL,"
    "  discharged_at     INTEGER,"
    "  idempotency_key   TEXT,"
    "  decision          TEXT,"
    "  request_sha256    BLOB"
    ") STRICT;"
    "INSERT INTO referral_v5"
    "  SELECT id, nhs_number, from_org, ready_date, requested_pathway,"
    "         decided_pathway, state, priority, delay_reason,"
    "         responsible_org, created_at, updated_at, discharged_at,"
    "         idempotency_key, decision, request_sha256 FROM referral;"
    "DROP TABLE referral;"
    "ALTER TABLE referral_v5 RENAME TO referral;"
    "CREATE INDEX referral_by_state ON referral(state, ready_date);"
    "CREATE INDEX referral_by_org ON referral(from_org, state);"
    "CREATE UNIQUE INDEX referral_idempotency ON referral(from_org, idempotency_key)"
    "  WHERE idempotency_key IS NOT NULL;"
    "CREATE INDEX referral_by_person ON referral(nhs_number);"

    "CREATE TRIGGER assignment_starts AFTER INSERT ON assignment"
    "  WHEN NEW.active = 1"
    "  BEGIN UPDATE bed SET status = CASE NEW.kind WHEN 'hold' THEN 'held'"
    "                                 ELSE 'occupied' END"
    "        WHERE id = NEW.bed_id; END;"
    "CREATE TRIGGER assignment_ends AFTER UPDATE OF active ON assignment"
    "  WHEN OLD.active = 1 AND NEW.active = 0"
    "  BEGIN UPDATE bed SET status = 'available' WHERE id = NEW.bed_id; END;";

/*
 * Reports read events of bed, surge and zone kinds only; every other
 * event (a hold, a referral, a decision: most of them) paid for an index
 * entry no query used, a twentieth of a placement. The index now holds
 * the kinds the reports read, and their queries (store_sql_report.h)
 * repeat CT_SQL_CAPACITY_EVENT so SQLite can use it.
 */
static const char schema_v6[] =
    "DROP INDEX event_by_kind;"
    "CREATE INDEX event_capacity_by_kind ON event(kind, at)"
    "  WHERE " CT_SQL_CAPACITY_EVENT ";";

/*
 * Writes that every placement paid for and nothing needed.
 *
 * Index entries no query reads: each status change of a bed rewrote its
 * bed_by_zone_status entry, though the queries that find beds by zone
 * filter a zone's few beds on status as cheaply without it (search itself
 * runs on the in-memory index); referral_by_org was used by no statement
 * at all (organisations are never deleted, and listings by organisation
 * walk referrals in id order), yet every change of a referral's state
 * rewrote it.
 *
 * Two indexes of a referral's assignments become one: keyed on the
 * referral and on nullif(active, 0), which is 1 while the assignment is
 * active and NULL once ended, it finds all of a referral's assignments and
 * still allows only one active (a unique index treats NULLs as distinct).
 *
 * assignment_by_bed served one report, the time of the newest start or
 * end of an assignment on each bed (a facility's data age); the bed row
 * that every start and end rewrites now keeps that time itself
 * (assignment_changed_at, filled here from the assignments).
 *
 * The bed mirror's triggers: a trigger makes SQLite run its program as a
 * sub-frame and keep a statement journal for the INSERT or UPDATE that
 * fires it. capacity.c (insert_assignment, ct_capacity__end) now sets
 * bed.status in the same transaction as the assignment change, the only
 * two places assignments start or end; a blocked bed still refuses to
 * become held or occupied by its CHECK (blocked with a reason), and the
 * unique index still allows one active assignment per bed.
 *
 * Together a fifth of a batched search and hold.
 */
static const char schema_v7[] =
    "DROP INDEX referral_by_org;"
    "DROP INDEX bed_by_zone_status;"
    "CREATE INDEX bed_by_zone ON bed(zone_id) WHERE retired = 0;"
    "DROP TRIGGER assignment_starts;"
    "DROP TRIGGER assignment_ends;"
    "DROP INDEX assignment_by_referral;"
    "DROP INDEX assignment_one_active_per_referral;"
    "CREATE UNIQUE INDEX assignment_by_referral"
    "  ON assignment(referral_id, nullif(active, 0));"
    "ALTER TABLE bed ADD COLUMN assignment_changed_at INTEGER;"
    "UPDATE bed SET assignment_changed_at ="
    "  (SELECT coalesce(a.ended_at, a.started_at) FROM assignment a"
    "    WHERE a.bed_id = bed.id ORDER BY a.started_at DESC, a.id DESC"
    "    LIMIT 1);"
    "DROP INDEX assignment_by_bed;";

/*
 * Clinical data belongs to the referral that sent it (docs/api.md "Access
 * rules"). Age, needs and usual residence were kept per person and
 * overwritten by any organisation's referral, so one hospital read and
 * changed another's patient; they move to the referral (existing
 * referrals take what the person row held), with the infections as the
 * referral reported them. The person keeps only the infection records
 * used for segregation, each with the organisation whose report set it
 * (NULL: the host, the REPL, or before this migration), so that another
 * organisation's report can never lower it (host/isolation.c).
 */
static const char schema_v8[] =
    "ALTER TABLE referral ADD COLUMN age INTEGER"
    "  CHECK (age BETWEEN 0 AND 130);"
    "ALTER TABLE referral ADD COLUMN needs TEXT NOT NULL DEFAULT '[]';"
    "ALTER TABLE referral ADD COLUMN usual_residence TEXT;"
    "ALTER TABLE referral ADD COLUMN infections TEXT;"
    "UPDATE referral SET"
    "  age = (SELECT p.age FROM person p WHERE p.nhs_number = referral.nhs_number),"
    "  needs = (SELECT p.needs FROM person p"
    "            WHERE p.nhs_number = referral.nhs_number),"
    "  usual_residence = (SELECT p.usual_residence FROM person p"
    "                      WHERE p.nhs_number = referral.nhs_number);"
    "ALTER TABLE person DROP COLUMN age;"
    "ALTER TABLE person DROP COLUMN needs;"
    "ALTER TABLE person DROP COLUMN usual_residence;"
    "ALTER TABLE infection ADD COLUMN source_org TEXT;";

/*
 * Display credentials: a screen on a wall opens the dashboard with a
 * long-lived secret of its own, which sees aggregate figures only and is
 * revoked without touching anyone's token (host/display.c). Kept hashed;
 * a revoked row stays, so the list says who issued and revoked what.
 */
static const char schema_v9[] =
    "CREATE TABLE display ("
    "  name       TEXT PRIMARY KEY,"
    "  sha256     BLOB NOT NULL CHECK (length(sha256) = 32),"
    "  issued_at  INTEGER NOT NULL,"
    "  issued_by  TEXT NOT NULL,"
    "  revoked_at INTEGER,"
    "  revoked_by TEXT"
    ") STRICT;";

/*
 * Named users: credentials move to the token store, a file beside the
 * database that the CLI edits while the daemon runs (host/token.h); the
 * display table of migration 9 is emptied into it at the daemon's next
 * start. The chain audits every change of that file once: token_seen is
 * what it last recorded of each credential (host/token_audit.c).
 * Reads of a person's data are audited as access.read events, indexed
 * for the access report (host/audit_list.c).
 */
static const char schema_v10[] =
    "CREATE TABLE token_seen ("
    "  id         INTEGER PRIMARY KEY,"
    "  sha256     BLOB NOT NULL,"
    "  expires_at INTEGER,"
    "  revoked_at INTEGER"
    ") STRICT;"
    /* Reads of personal data are events too (access.read); the report of
     * who read a referral finds them without walking the chain. */
    "CREATE INDEX event_access ON event(kind, seq)"
    "  WHERE kind = 'access.read';";

/*
 * Delay episodes (host/delay.h): a referral's delay is a history, each
 * reason with its responsible organisation and the UK days it covers, so
 * that bed-days go to whoever was responsible at the time instead of the
 * last one named. A referral's delay_reason and responsible_org stay as
 * the open episode's. Existing delays become one episode from the ready
 * date.
 */
static const char schema_v11[] =
    "CREATE TABLE delay_episode ("
    "  id              INTEGER PRIMARY KEY,"
    "  referral_id     INTEGER NOT NULL REFERENCES referral(id),"
    "  reason          TEXT NOT NULL,"
    "  reason_text     TEXT,"
    "  responsible_org TEXT NOT NULL REFERENCES organisation(id),"
    "  from_day        TEXT NOT NULL,"
    "  to_day          TEXT CHECK (to_day IS NULL OR to_day >= from_day),"
    "  recorded_at     INTEGER NOT NULL,"
    "  recorded_by     TEXT NOT NULL"
    ") STRICT;"
    "CREATE INDEX delay_episode_by_referral"
    "  ON delay_episode(referral_id, from_day, id);"
    "CREATE UNIQUE INDEX delay_episode_one_open ON delay_episode(referral_id)"
    "  WHERE to_day IS NULL;"
    "INSERT INTO delay_episode (referral_id, reason, responsible_org,"
    "                           from_day, recorded_at, recorded_by)"
    "  SELECT id, delay_reason, responsible_org, ready_date, updated_at,"
    "         'migration'"
    "    FROM referral"
    "   WHERE delay_reason IS NOT NULL AND responsible_org IS NOT NULL;";

/*
 * Daily snapshots (host/report_snapshot.c): after each UK day ends the
 * host keeps that day's figures of the daily report (docs/reports.md
 * "Daily"), in the long form of its CSV, so the series show what was known
 * at the day's end and survive restarts rather than being recomputed from
 * the rows as they are now. snapshot_day says which days have one (a day
 * may have no per-organisation rows at all).
 */
static const char schema_v12[] =
    "CREATE TABLE snapshot_day ("
    "  day      TEXT PRIMARY KEY,"
    "  taken_at INTEGER NOT NULL,"
    "  rows     INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE snapshot ("
    "  day    TEXT NOT NULL REFERENCES snapshot_day(day),"
    "  figure TEXT NOT NULL,"
    "  grp    TEXT NOT NULL,"
    "  key    TEXT NOT NULL,"
    "  name   TEXT NOT NULL,"
    "  value  ANY,"
    "  PRIMARY KEY (day, figure, grp, key)"
    ") STRICT, WITHOUT ROWID;";

/*
 * What the last reconcile loaded (host/store_reconcile.c): the SHA-256 of
 * every config value it writes. A start with the same config skips the
 * reconcile, which on an England-sized area (500,000 beds) was most of
 * a restart.
 */
static const char schema_v13[] =
    "CREATE TABLE config_loaded ("
    "  id     INTEGER PRIMARY KEY CHECK (id = 1),"
    "  sha256 BLOB NOT NULL CHECK (length(sha256) = 32)"
    ") STRICT;";

/*
 * The notification outbox (host/notify.h, docs/api.md "Notifications"): a
 * referral's change writes a row for the referring organisation's webhook
 * in the same transaction as the change, so a notification is never lost
 * nor sent for a change that was rolled back. Rows are delivered after
 * the commit, at least once, and every attempt is kept. The secret is in
 * neither table.
 */
static const char schema_v14[] =
    "CREATE TABLE notification ("
    "  id           INTEGER PRIMARY KEY,"
    "  event_seq    INTEGER NOT NULL,"
    "  referral_id  INTEGER NOT NULL REFERENCES referral(id),"
    "  org          TEXT NOT NULL,"
    "  event        TEXT NOT NULL,"
    "  state        TEXT NOT NULL,"
    "  body         TEXT NOT NULL,"
    "  created_at   INTEGER NOT NULL,"
    "  status       TEXT NOT NULL CHECK (status = 'pending'"
    "                 OR status = 'delivered' OR status = 'failed'),"
    "  attempts     INTEGER NOT NULL DEFAULT 0,"
    "  next_at      INTEGER NOT NULL,"
    "  done_at      INTEGER,"
    "  UNIQUE (event_seq, org)"
    ") STRICT;"
    "CREATE INDEX notification_due ON notification(next_at, id)"
    "  WHERE status = 'pending';"
    "CREATE TABLE notification_attempt ("
    "  notification_id INTEGER NOT NULL REFERENCES notification(id),"
    "  n               INTEGER NOT NULL,"
    "  at              INTEGER NOT NULL,"
    "  duration_ms     INTEGER NOT NULL,"
    "  http_status     INTEGER,"
    "  error           TEXT,"
    "  outcome         TEXT NOT NULL,"
    "  PRIMARY KEY (notification_id, n)"
    ") STRICT, WITHOUT ROWID;";

/*
 * Existing residents (host/capacity_resident.c): a bed occupied by someone
 * who came without a referral in caretide, as a provider records them,
 * with an optional expected end. bed.status says occupied while a stay is
 * open, as it does for an occupancy, so counts, searches and holds read
 * one column; at most one open stay per bed, and the bed's status keeps a
 * stay and an assignment from sharing it. Stays that have ended stay, for
 * the occupancy history the reports rebuild. And delay corrections.
 */
static const char schema_v15[] =
    "CREATE TABLE resident ("
    "  id           INTEGER PRIMARY KEY,"
    "  bed_id       TEXT NOT NULL REFERENCES bed(id),"
    "  started_at   INTEGER NOT NULL,"
    "  expected_end INTEGER,"
    "  ended_at     INTEGER,"
    "  end_reason   TEXT CHECK (end_reason IS NULL OR end_reason = 'left'"
    "                 OR end_reason = 'expected_end'),"
    "  recorded_by  TEXT NOT NULL,"
    "  note         TEXT,"
    "  CHECK ((ended_at IS NULL) = (end_reason IS NULL))"
    ") STRICT;"
    "CREATE UNIQUE INDEX resident_one_per_bed ON resident(bed_id)"
    "  WHERE ended_at IS NULL;"
    "CREATE INDEX resident_expected_end ON resident(expected_end)"
    "  WHERE ended_at IS NULL AND expected_end IS NOT NULL;"
    "CREATE INDEX resident_by_end ON resident(ended_at)"
    "  WHERE ended_at IS NOT NULL;"
    /* A delay episode coded wrongly is corrected by a new one that
     * supersedes it (host/delay.c): the history keeps both, reports read
     * the episodes nothing superseded, and only those can be open. */
    "ALTER TABLE delay_episode ADD COLUMN superseded_by INTEGER"
    "  REFERENCES delay_episode(id);"
    "DROP INDEX delay_episode_one_open;"
    "CREATE UNIQUE INDEX delay_episode_one_open ON delay_episode(referral_id)"
    "  WHERE to_day IS NULL AND superseded_by IS NULL;";

const ct_migration ct_store__migrations[] = {
    {"domain model", schema_v1},
    {"capacity indexes and guards", schema_v2},
    {"referral request fingerprint", schema_v3},
    {"report indexes", schema_v4},
    {"cheaper status checks", schema_v5},
    {"event index for reports only", schema_v6},
    {"no writes that nothing needs", schema_v7},
    {"clinical data per referral", schema_v8},
    {"display credentials", schema_v9},
    {"token store audit", schema_v10},
    {"delay episodes", schema_v11},
    {"daily snapshots", schema_v12},
    {"loaded config hash", schema_v13},
    {"notification outbox", schema_v14},
    {"existing residents, delay corrections", schema_v15},
};
const int ct_store__nmigrations = (int)CT_ARRAY_LEN(ct_store__migrations);
