/*
 * Beds, surge capacity, blocks, holds and their expiry; the handle shared
 * by the capacity units and its change wrapper (capacity_int.h).
 */
#include "capacity_int.h"
#include "capacity_waitlist.h"

#include "audit.h"
#include "error.h"
#include "referral.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TTL_MS (4 * 3600 * 1000LL)
#define MAX_TTL_MS (90 * 86400 * 1000LL) /* longer is a mistake, not a hold */
#define DUE_BATCH 256 /* rows of due work read at a time */
#define RETRY_MS 1000

/* ---- errors and statements ------------------------------------------ */

int ct_capacity__fail(ct_cap_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int ct_capacity__dberr(ct_capacity *c, ct_cap_error *err, int rc,
                       const char *what)
{
    const char *msg = sqlite3_errmsg(ct_store__db(c->store));
    int code = ct_err_from_sqlite(rc);
    if (code == CT_OK)
        code = CT_ESTORE;
    if (code != CT_ECONFLICT)
        ct_log_error("capacity", "%s: %s", what, msg);
    return ct_capacity__fail(err, code, "storage error while %s: %s", what,
                             msg);
}

sqlite3_stmt *ct_capacity__stmt(ct_capacity *c, ct_stmt id,
                                ct_cap_error *err)
{
    sqlite3_stmt *st = ct_store__stmt(c->store, id);
    if (!st)
        ct_capacity__fail(err, CT_ESTORE,
                          "storage error: cannot prepare a statement");
    return st;
}

int ct_capacity__check_text(const char *what, const char *s, size_t max,
                            ct_cap_error *err)
{
    if (!s || !*s)
        return ct_capacity__fail(err, CT_EINVAL, "%s is required", what);
    if (strlen(s) > max)
        return ct_capacity__fail(err, CT_EINVAL,
                                 "%s is longer than %zu bytes", what, max);
    return 0;
}

/* Steps st to SQLITE_DONE and resets it. */
static int step_done(ct_capacity *c, sqlite3_stmt *st, const char *what,
                     ct_cap_error *err)
{
    int rc = sqlite3_step(st);
    int out = rc == SQLITE_DONE ? 0 : ct_capacity__dberr(c, err, rc, what);
    sqlite3_reset(st);
    return out;
}

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
    ct_copy_str(dst, n, (const char *)sqlite3_column_text(st, col));
}

/* ---- handle ---------------------------------------------------------- */

static void hold_timer_cb(ct_timer *t, void *data);

/* The embedder's callback, on the bus for the host's events. */
static void to_callback(const ct_event *e, void *data)
{
    ct_capacity *c = data;
    ct_capacity_event ev = {e->seq, e->at, e->actor, e->kind, e->payload};
    c->event_cb(&ev, c->event_data);
}

int ct_capacity_new(ct_store *s, ct_clock *clock,
                    const ct_capacity_options *opts, ct_capacity **out)
{
    if (!s || !clock || !out)
        return CT_EINVAL;
    *out = NULL;
    ct_capacity *c = calloc(1, sizeof *c);
    if (!c)
        return CT_ENOMEM;
    c->store = s;
    c->clock = clock;
    c->hold_ttl_ms = DEFAULT_TTL_MS;
    if (opts) {
        if (opts->hold_ttl_ms < 0 || opts->hold_ttl_ms > MAX_TTL_MS)
            goto fail_inval;
        if (opts->hold_ttl_ms)
            c->hold_ttl_ms = opts->hold_ttl_ms;
        c->event_cb = opts->event_cb;
        c->event_data = opts->event_data;
        c->external_timers = opts->external_timers;
        if (opts->npathogens) {
            c->pathogens = calloc(opts->npathogens, sizeof *c->pathogens);
            if (!c->pathogens)
                goto fail_nomem;
            c->npathogens = opts->npathogens;
            for (size_t i = 0; i < opts->npathogens; i++)
                if (!(c->pathogens[i] = ct_strdup(opts->pathogens[i])))
                    goto fail_nomem;
        }
    }
    /* Savepoints (changes inside a caller's transaction) keep their
     * journal in memory: the store sees to that (store.c,
     * configure_library). The candidates' store watcher first: the index
     * is in step before the bus delivers anything. */
    int rc;
    if ((rc = ct_candidates__new(c)))
        goto fail_rc;
    if ((rc = ct_events_new(s, clock, &c->events)))
        goto fail_watch;
    if ((rc = ct_capacity_waitlist__new(c)))
        goto fail_watch;
    if (c->event_cb &&
        (rc = ct_events_subscribe(c->events, CT_EVENTS_HOST, to_callback,
                                  c)))
        goto fail_watch;
    ct_timer_init(clock, &c->hold_timer);
    ct_timer_init(clock, &c->iso_timer);
    ct_capacity__schedule_holds(c);
    ct_isolation__schedule(c);
    *out = c;
    return 0;

fail_inval:
    rc = CT_EINVAL;
    goto fail_rc;
fail_nomem:
    rc = CT_ENOMEM;
    goto fail_rc;
fail_watch:
    ct_capacity_waitlist__free(c);
    ct_events_free(c->events);
    ct_candidates__free(c);
fail_rc:
    for (size_t i = 0; i < c->npathogens; i++)
        free(c->pathogens[i]);
    free(c->pathogens);
    free(c);
    return rc;
}

void ct_capacity_free(ct_capacity *c)
{
    if (!c)
        return;
    ct_timer_stop(&c->hold_timer);
    ct_timer_stop(&c->iso_timer);
    ct_capacity_waitlist__free(c);
    ct_events_free(c->events);
    ct_candidates__free(c);
    free(c->iso_lengths);
    for (size_t i = 0; i < c->npathogens; i++)
        free(c->pathogens[i]);
    free(c->pathogens);
    free(c);
}

int ct_capacity_refresh(ct_capacity *c)
{
    ct_candidates__invalidate(c);
    /* A reconcile may add beds or zones, a reload change the policy. */
    ct_capacity_waitlist_mark(c, CT_WAITLIST_CAPACITY | CT_WAITLIST_POLICY);
    ct_capacity__schedule_holds(c);
    ct_isolation__schedule(c);
    return 0;
}

int ct_capacity_set_pathogens(ct_capacity *c, const char *const *names,
                              size_t n)
{
    char **v = n ? calloc(n, sizeof *v) : NULL;
    if (n && !v)
        return CT_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!(v[i] = ct_strdup(names[i]))) {
            while (i-- > 0)
                free(v[i]);
            free(v);
            return CT_ENOMEM;
        }
    for (size_t i = 0; i < c->npathogens; i++)
        free(c->pathogens[i]);
    free(c->pathogens);
    c->pathogens = v;
    c->npathogens = n;
    return 0;
}

ct_store *ct_capacity_store(ct_capacity *c) { return c->store; }
ct_clock *ct_capacity_clock(ct_capacity *c) { return c->clock; }
ct_events *ct_capacity_events(ct_capacity *c) { return c->events; }

/* ---- changes and events ---------------------------------------------- */

/* direct: inside a caller's transaction, no savepoint (capacity_int.h). */
static int begin(ct_capacity *c, bool direct, ct_cap_error *err)
{
    if (c->in_change)
        return ct_capacity__fail(err, CT_ESTATE,
                                 "a capacity change is already in progress");
    c->direct = c->wrote = false;
    if (direct && ct_store_in_transaction(c->store)) {
        c->own_tx = false;
        c->direct = true;
    } else {
        int rc = ct_store_enter(c->store, &c->own_tx);
        if (rc)
            return ct_capacity__fail(err, rc, "cannot begin: %s",
                                     ct_strerror(rc));
    }
    c->in_change = true;
    return 0;
}

int ct_capacity__begin(ct_capacity *c, ct_cap_error *err)
{
    return begin(c, false, err);
}

int ct_capacity__begin_direct(ct_capacity *c, ct_cap_error *err)
{
    return begin(c, true, err);
}

void ct_capacity__wrote(ct_capacity *c)
{
    c->wrote = true;
}

int ct_capacity__finish(ct_capacity *c, int rc, ct_cap_error *err)
{
    if (!c->in_change)
        return rc;
    /* The index takes the change first and the change ends before the
     * commit: the bus delivers its events inside that commit, and what a
     * subscriber does may be a change of its own. A commit that fails
     * after this rolls back, and the watcher marks the index stale. */
    if (rc == 0)
        ct_candidates__apply(c);
    else
        ct_candidates__discard(c);
    c->in_change = false;
    if (c->direct) {
        /* Refused before the first write: nothing to undo. Failed after it
         * (storage or memory): without a savepoint the half-made change
         * cannot be taken back alone, so the caller's transaction goes,
         * as SQLite itself ends it on I/O, full-disk and out-of-memory
         * errors. */
        if (rc && c->wrote && ct_store_in_transaction(c->store)) {
            ct_log_error("capacity", "a change failed part-way (%s); its "
                         "transaction is rolled back",
                         err ? err->message : "?");
            ct_store_rollback(c->store);
            if (err) {
                size_t n = strlen(err->message);
                ct_copy_str(err->message + n, sizeof err->message - n,
                            "; the transaction was rolled back");
            }
        }
        return rc;
    }
    int end = ct_store_leave(c->store, c->own_tx, rc);
    if (end && !rc)
        ct_capacity__fail(err, end, "cannot commit: %s", ct_strerror(end));
    return end;
}

int ct_capacity__emit(ct_capacity *c, const char *actor, const char *kind,
                      json_t *payload, ct_cap_error *err)
{
    if (!payload) /* json_pack and friends failed */
        return ct_capacity__fail(err, CT_ENOMEM, "out of memory");
    int rc = ct_events_record(c->events, actor, kind, payload, 0, NULL,
                              NULL);
    if (rc)
        return ct_capacity__fail(err, rc, "cannot append audit event %s: %s",
                                 kind, ct_strerror(rc));
    return 0;
}

int ct_capacity__emit_members(ct_capacity *c, const char *actor,
                              const char *kind, ct_json_member *m, size_t n,
                              ct_cap_error *err)
{
    int rc = ct_events_record_members(c->events, actor, kind, m, n, 0, NULL);
    if (rc)
        return ct_capacity__fail(err, rc, "cannot append audit event %s: %s",
                                 kind, ct_strerror(rc));
    return 0;
}

/* ---- beds ------------------------------------------------------------ */

typedef struct bed_row {
    ct_bed_info info;
    bool zone_closed, zone_retired, facility_retired, occupancy;
    char closed_reason[200];
} bed_row;

static int load_bed(ct_capacity *c, const char *bed_id, bed_row *b,
                    ct_cap_error *err)
{
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_CAP_BED_GET, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, bed_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return ct_capacity__fail(err, CT_ENOTFOUND, "bed %s does not exist",
                                 bed_id);
    }
    if (rc != SQLITE_ROW) {
        rc = ct_capacity__dberr(c, err, rc, "reading a bed");
        sqlite3_reset(st);
        return rc;
    }
    memset(b, 0, sizeof *b);
    ct_bed_info *i = &b->info;
    ct_copy_str(i->id, sizeof i->id, bed_id);
    copy_col(i->zone_id, sizeof i->zone_id, st, 0);
    copy_col(i->facility_id, sizeof i->facility_id, st, 1);
    i->kind = (ct_facility_kind)ct_facility_kind_parse(
        (const char *)sqlite3_column_text(st, 2));
    i->status = (ct_bed_status)ct_bed_status_parse(
        (const char *)sqlite3_column_text(st, 3));
    copy_col(i->blocked_reason, sizeof i->blocked_reason, st, 4);
    i->surge = sqlite3_column_int(st, 5);
    i->surge_open = sqlite3_column_int(st, 6);
    i->retired = sqlite3_column_int(st, 7);
    b->zone_closed = sqlite3_column_int(st, 8);
    b->zone_retired = sqlite3_column_int(st, 9);
    b->facility_retired = sqlite3_column_int(st, 10);
    copy_col(b->closed_reason, sizeof b->closed_reason, st, 11);
    sqlite3_reset(st);
    if (i->status != CT_BED_HELD && i->status != CT_BED_OCCUPIED)
        return 0;
    /* bed.status follows the active assignment in the same transaction,
     * so only a held or occupied bed has one to read. */
    if (!(st = ct_capacity__stmt(c, CT_STMT_CAP_BED_ACTIVE, err)))
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, bed_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        i->assignment_id = sqlite3_column_int64(st, 0);
        i->referral_id = sqlite3_column_int64(st, 1);
        const unsigned char *kind = sqlite3_column_text(st, 2);
        b->occupancy = kind && strcmp((const char *)kind, "occupancy") == 0;
        i->expires_at = sqlite3_column_int64(st, 3);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? 0
                               : ct_capacity__dberr(c, err, rc,
                                                    "reading a bed's "
                                                    "assignment");
    }
    sqlite3_reset(st);
    return rc;
}

int ct_capacity_bed(ct_capacity *c, const char *bed_id, ct_bed_info *out,
                    ct_cap_error *err)
{
    int rc = ct_capacity__check_text("bed id", bed_id, CT_CAP_ID_MAX - 1, err);
    if (rc)
        return rc;
    bed_row b;
    if ((rc = load_bed(c, bed_id, &b, err)))
        return rc;
    *out = b.info;
    return 0;
}

static int set_bed_status(ct_capacity *c, const char *bed_id,
                          ct_bed_status status, const char *reason,
                          ct_cap_error *err)
{
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_CAP_BED_SET_STATUS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, bed_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ct_bed_status_name(status), -1, SQLITE_STATIC);
    if (reason)
        sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    int rc = step_done(c, st, "updating a bed", err);
    if (rc == 0)
        ct_candidates__note(c, CT_IDX_BED_STATUS, bed_id, NULL, (int)status);
    return rc;
}

/* CT_ESTATE "bed X is occupied" unless the bed can change at all. */
static int bed_in_service(const bed_row *b, ct_cap_error *err)
{
    if (b->info.retired || b->zone_retired || b->facility_retired)
        return ct_capacity__fail(err, CT_ESTATE, "bed %s is retired",
                                 b->info.id);
    return 0;
}

static int bed_state_error(const bed_row *b, const char *verb,
                           ct_cap_error *err)
{
    if (b->info.status == CT_BED_BLOCKED)
        return ct_capacity__fail(err, CT_ESTATE,
                                 "bed %s is blocked (%s); cannot %s",
                                 b->info.id, b->info.blocked_reason, verb);
    return ct_capacity__fail(err, CT_ESTATE,
                             "bed %s is %s by referral %" PRId64
                             "; cannot %s",
                             b->info.id, ct_bed_status_name(b->info.status),
                             b->info.referral_id, verb);
}

int ct_capacity_block(ct_capacity *c, const char *bed_id, const char *reason,
                      const char *actor, ct_cap_error *err)
{
    int rc;
    if ((rc = ct_capacity__check_text("bed id", bed_id, CT_CAP_ID_MAX - 1,
                                      err)) ||
        (rc = ct_capacity__check_text("block reason", reason, 200, err)) ||
        (rc = ct_capacity__check_text("actor", actor, 200, err)))
        return rc;
    if ((rc = ct_capacity__begin(c, err)))
        return rc;
    bed_row b;
    if ((rc = load_bed(c, bed_id, &b, err)) || (rc = bed_in_service(&b, err)))
        goto done;
    if (b.info.status != CT_BED_AVAILABLE) {
        rc = bed_state_error(&b, "block", err);
        goto done;
    }
    if ((rc = set_bed_status(c, bed_id, CT_BED_BLOCKED, reason, err)))
        goto done;
    rc = ct_capacity__emit(c, actor, "bed.blocked",
                           json_pack("{s:s, s:s, s:s}", "bed", bed_id, "zone",
                                     b.info.zone_id, "reason", reason),
                           err);
done:
    return ct_capacity__finish(c, rc, err);
}

int ct_capacity_unblock(ct_capacity *c, const char *bed_id, const char *actor,
                        ct_cap_error *err)
{
    int rc;
    if ((rc = ct_capacity__check_text("bed id", bed_id, CT_CAP_ID_MAX - 1,
                                      err)) ||
        (rc = ct_capacity__check_text("actor", actor, 200, err)))
        return rc;
    if ((rc = ct_capacity__begin(c, err)))
        return rc;
    bed_row b;
    if ((rc = load_bed(c, bed_id, &b, err)) || (rc = bed_in_service(&b, err)))
        goto done;
    if (b.info.status != CT_BED_BLOCKED) {
        rc = ct_capacity__fail(err, CT_ESTATE, "bed %s is %s, not blocked",
                               bed_id, ct_bed_status_name(b.info.status));
        goto done;
    }
    if ((rc = set_bed_status(c, bed_id, CT_BED_AVAILABLE, NULL, err)))
        goto done;
    rc = ct_capacity__emit(c, actor, "bed.unblocked",
                           json_pack("{s:s, s:s, s:s}", "bed", bed_id, "zone",
                                     b.info.zone_id, "was_blocked_for",
                                     b.info.blocked_reason),
                           err);
done:
    return ct_capacity__finish(c, rc, err);
}

/* ---- surge ----------------------------------------------------------- */

static int surge_counts(ct_capacity *c, const char *fac, ct_surge_result *r,
                        ct_cap_error *err)
{
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_CAP_SURGE_COUNTS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, fac, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = ct_capacity__dberr(c, err, rc, "counting surge beds");
        sqlite3_reset(st);
        return rc;
    }
    r->total = sqlite3_column_int(st, 0);
    r->open = (int)sqlite3_column_double(st, 1);
    r->busy_open = (int)sqlite3_column_double(st, 2);
    sqlite3_reset(st);
    return 0;
}

static int surge_change(ct_capacity *c, const char *fac, int n, bool open,
                        const char *actor, ct_surge_result *res,
                        ct_cap_error *err)
{
    int rc;
    if ((rc = ct_capacity__check_text("facility id", fac, CT_CAP_ID_MAX - 1,
                                      err)) ||
        (rc = ct_capacity__check_text("actor", actor, 200, err)))
        return rc;
    if (n != CT_SURGE_ALL && n < 1)
        return ct_capacity__fail(err, CT_EINVAL,
                                 "surge bed count must be 1 or more, or all");
    if ((rc = ct_capacity__begin(c, err)))
        return rc;
    ct_surge_result r = {0};
    json_t *beds = NULL;
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_CAP_FACILITY_GET, err);
    if (!st) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_text(st, 1, fac, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    int retired = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        rc = ct_capacity__fail(err, CT_ENOTFOUND,
                               "facility %s does not exist", fac);
        goto done;
    }
    if (rc != SQLITE_ROW) {
        rc = ct_capacity__dberr(c, err, rc, "reading a facility");
        goto done;
    }
    if (retired) {
        rc = ct_capacity__fail(err, CT_ESTATE, "facility %s is retired", fac);
        goto done;
    }
    if ((rc = surge_counts(c, fac, &r, err)))
        goto done;
    if (r.total == 0) {
        rc = ct_capacity__fail(err, CT_ECAPACITY,
                               "facility %s has no surge beds", fac);
        goto done;
    }
    int can = open ? r.total - r.open : r.open - r.busy_open;
    if (n == CT_SURGE_ALL) {
        n = can;
    } else if (n > can) {
        rc = open ? ct_capacity__fail(err, CT_ECAPACITY,
                                      "facility %s has %d closed surge beds; "
                                      "cannot open %d",
                                      fac, can, n)
                  : ct_capacity__fail(err, CT_ECAPACITY,
                                      "facility %s has %d open surge beds "
                                      "free to close; cannot close %d",
                                      fac, can, n);
        goto done;
    }
    if (n == 0) /* all already open, or all closable already closed */
        goto done;

    /* Pick first, then update: the pick statement scans bed. */
    if (!(beds = json_array())) {
        rc = ct_capacity__fail(err, CT_ENOMEM, "out of memory");
        goto done;
    }
    if (!(st = ct_capacity__stmt(c, CT_STMT_CAP_SURGE_PICK, err))) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_text(st, 1, fac, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, open ? 0 : 1);
    sqlite3_bind_int(st, 3, n);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (json_array_append_new(
                beds, json_string((const char *)sqlite3_column_text(st, 0)))) {
            sqlite3_reset(st);
            rc = ct_capacity__fail(err, CT_ENOMEM, "out of memory");
            goto done;
        }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        rc = ct_capacity__dberr(c, err, rc, "choosing surge beds");
        goto done;
    }
    rc = 0;
    size_t i;
    json_t *v;
    json_array_foreach(beds, i, v)
    {
        if (!(st = ct_capacity__stmt(c, CT_STMT_CAP_SURGE_SET, err))) {
            rc = CT_ESTORE;
            goto done;
        }
        sqlite3_bind_text(st, 1, json_string_value(v), -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, open);
        if ((rc = step_done(c, st, "opening or closing a surge bed", err)))
            goto done;
        ct_candidates__note(c, CT_IDX_BED_SURGE, json_string_value(v), NULL,
                            open);
    }
    r.changed = (int)json_array_size(beds);
    r.open += open ? r.changed : -r.changed;
    rc = ct_capacity__emit(
        c, actor, open ? "surge.opened" : "surge.closed",
        json_pack("{s:s, s:O, s:i, s:i, s:i}", "facility", fac, "beds", beds,
                  "changed", r.changed, "open", r.open, "total", r.total),
        err);
done:
    json_decref(beds);
    rc = ct_capacity__finish(c, rc, err);
    if (rc == 0 && res)
        *res = r;
    return rc;
}

int ct_capacity_surge_open(ct_capacity *c, const char *facility_id, int n,
                           const char *actor, ct_surge_result *res,
                           ct_cap_error *err)
{
    return surge_change(c, facility_id, n, true, actor, res, err);
}

int ct_capacity_surge_close(ct_capacity *c, const char *facility_id, int n,
                            const char *actor, ct_surge_result *res,
                            ct_cap_error *err)
{
    return surge_change(c, facility_id, n, false, actor, res, err);
}

/* ---- holds ----------------------------------------------------------- */

int ct_capacity__active_of(ct_capacity *c, int64_t referral_id,
                           ct_cap_assignment *out, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_CAP_ACTIVE_OF_REFERRAL,
                                         err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, referral_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->id = sqlite3_column_int64(st, 0);
        out->referral_id = referral_id;
        copy_col(out->bed_id, sizeof out->bed_id, st, 1);
        out->occupancy = strcmp((const char *)sqlite3_column_text(st, 2),
                                "occupancy") == 0;
        out->started_at = sqlite3_column_int64(st, 3);
        out->expires_at = sqlite3_column_int64(st, 4);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = CT_ENOTFOUND;
    } else {
        rc = ct_capacity__dberr(c, err, rc, "reading an assignment");
    }
    sqlite3_reset(st);
    return rc;
}

/* bed.status follows the bed's active assignment, and
 * bed.assignment_changed_at is when one last started or ended: set here,
 * in the same transaction, by the only two places an assignment starts or
 * ends (insert_assignment and ct_capacity__end). A blocked bed keeps its
 * reason, so its CHECK refuses it held or occupied. */
static int set_mirror(ct_capacity *c, const char *bed_id,
                      ct_bed_status status, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_CAP_BED_MIRROR, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, bed_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ct_bed_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ct_clock_now(c->clock));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return ct_capacity__fail(err, CT_ESTATE,
                                 "bed %s is blocked and cannot be %s", bed_id,
                                 ct_bed_status_name(status));
    if (rc != SQLITE_DONE)
        return ct_capacity__dberr(c, err, rc, "updating a bed's status");
    if (sqlite3_changes(ct_store__db(c->store)) != 1)
        return ct_capacity__fail(err, CT_ENOTFOUND, "bed %s does not exist",
                                 bed_id);
    ct_candidates__note(c, CT_IDX_BED_STATUS, bed_id, NULL, status);
    return 0;
}

int ct_capacity__end(ct_capacity *c, const ct_cap_assignment *a,
                     const char *end_reason, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_CAP_ASSIGN_END, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, a->id);
    sqlite3_bind_int64(st, 2, ct_clock_now(c->clock));
    sqlite3_bind_text(st, 3, end_reason, -1, SQLITE_STATIC);
    int rc = step_done(c, st, "ending an assignment", err);
    if (rc)
        return rc;
    if (sqlite3_changes(ct_store__db(c->store)) != 1)
        return ct_capacity__fail(err, CT_ECONFLICT,
                                 "assignment %" PRId64 " is no longer active",
                                 a->id);
    return set_mirror(c, a->bed_id, CT_BED_AVAILABLE, err);
}

/* Ends a hold as end (released, declined) and puts the referral back to
 * waiting, with the hold.released event. */
static int end_hold(ct_capacity *c, const ct_cap_assignment *a,
                    const char *end, const char *why, const char *actor,
                    ct_cap_error *err)
{
    int rc;
    if ((rc = ct_capacity__end(c, a, end, err)) ||
        (rc = ct_referral__move(c, a->referral_id, CT_REFERRAL_HELD,
                                CT_REFERRAL_WAITING, err)))
        return rc;
    return ct_capacity__emit(
        c, actor, "hold.released",
        json_pack("{s:I, s:I, s:s, s:s}", "hold", (json_int_t)a->id,
                  "referral", (json_int_t)a->referral_id, "bed", a->bed_id,
                  "reason", why),
        err);
}

int ct_capacity__release_hold(ct_capacity *c, const ct_cap_assignment *a,
                              const char *why, const char *actor,
                              ct_cap_error *err)
{
    return end_hold(c, a, "released", why, actor, err);
}

static int insert_assignment(ct_capacity *c, const char *bed_id,
                             int64_t referral_id, bool occupancy,
                             int64_t expires_at, int64_t *id,
                             ct_cap_error *err)
{
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_CAP_ASSIGN_INSERT, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, bed_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, referral_id);
    sqlite3_bind_text(st, 3, occupancy ? "occupancy" : "hold", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, ct_clock_now(c->clock));
    if (!occupancy)
        sqlite3_bind_int64(st, 5, expires_at);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        *id = sqlite3_last_insert_rowid(ct_store__db(c->store));
        ct_capacity__wrote(c);
        return set_mirror(c, bed_id,
                          occupancy ? CT_BED_OCCUPIED : CT_BED_HELD, err);
    }
    /* The unique indexes are the last word on one active
     * assignment per bed and per referral. */
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return ct_capacity__fail(err, CT_ECONFLICT,
                                 "bed %s or referral %" PRId64
                                 " already has an active assignment",
                                 bed_id, referral_id);
    return ct_capacity__dberr(c, err, rc, "inserting an assignment");
}

/* The rules every admission passes, for a hold and again at confirm. The
 * bed's own status is checked by the caller. */
static int admission_check(ct_capacity *c, const ct_ref_row *r,
                           const bed_row *b, ct_cap_error *err)
{
    int rc = bed_in_service(b, err);
    if (rc)
        return rc;
    if (b->info.surge && !b->info.surge_open)
        return ct_capacity__fail(err, CT_ECAPACITY,
                                 "bed %s is a surge bed and surge capacity "
                                 "at %s is not open",
                                 b->info.id, b->info.facility_id);
    if (b->zone_closed)
        return ct_capacity__fail(err, CT_ECLOSED,
                                 "zone %s is closed to admissions (%s)",
                                 b->info.zone_id, b->closed_reason);
    if (r->needs && strcmp(r->needs, "[]") != 0) {
        sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_CAP_BED_MISSING_TAG,
                                             err);
        if (!st)
            return CT_ESTORE;
        sqlite3_bind_text(st, 1, b->info.id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->needs, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            rc = ct_capacity__fail(err, CT_ECAPACITY,
                                   "bed %s lacks tag %s that referral %" PRId64
                                   " needs",
                                   b->info.id, sqlite3_column_text(st, 0),
                                   r->id);
        else if (rc == SQLITE_DONE)
            rc = 0;
        else
            rc = ct_capacity__dberr(c, err, rc, "checking bed tags");
        sqlite3_reset(st);
        if (rc)
            return rc;
    }
    return ct_isolation__check_bed(c, r->nhs_number, b->info.id,
                                   b->info.zone_id, err);
}

static void arm_hold_timer(ct_capacity *c, int64_t due)
{
    if (c->external_timers)
        return;
    if (!ct_timer_active(&c->hold_timer) || due < c->hold_timer.due)
        ct_timer_start(&c->hold_timer, due, hold_timer_cb, c);
}

int ct_capacity_hold(ct_capacity *c, int64_t referral_id, const char *bed_id,
                     int64_t ttl_ms, const char *actor, int64_t *hold_id,
                     ct_cap_error *err)
{
    int rc;
    if ((rc = ct_capacity__check_text("bed id", bed_id, CT_CAP_ID_MAX - 1,
                                      err)) ||
        (rc = ct_capacity__check_text("actor", actor, 200, err)))
        return rc;
    if (ttl_ms < 0 || ttl_ms > MAX_TTL_MS)
        return ct_capacity__fail(err, CT_EINVAL,
                                 "hold time to live must be between 0 "
                                 "(default) and 90 days");
    if (ttl_ms == 0)
        ttl_ms = c->hold_ttl_ms;
    if (!ct_json_canon_is_text(actor, strlen(actor)))
        return ct_capacity__fail(err, CT_EINVAL, "actor is not UTF-8 text");
    /* Without a savepoint: everything that can refuse is read and checked
     * before the first write (capacity_int.h). */
    if ((rc = ct_capacity__begin_direct(c, err)))
        return rc;
    int64_t now = ct_clock_now(c->clock), expires = now + ttl_ms, id = 0;
    ct_ref_row r = {0};
    bed_row b;
    if ((rc = ct_referral__load(c, referral_id, &r, err)) ||
        (rc = ct_referral__guard(referral_id, r.state, CT_REFERRAL_HELD,
                                 "hold", err)) ||
        (rc = load_bed(c, bed_id, &b, err)))
        goto done;
    if (b.info.status != CT_BED_AVAILABLE && bed_in_service(&b, NULL) == 0) {
        rc = bed_state_error(&b, "hold", err);
        goto done;
    }
    if ((rc = admission_check(c, &r, &b, err)))
        goto done;
    /* The event's text is checked now so that appending it cannot refuse
     * after the writes (the ids come from the store, the actor was
     * checked above). */
    if (!ct_json_canon_is_text(bed_id, strlen(bed_id)) ||
        !ct_json_canon_is_text(b.info.zone_id, strlen(b.info.zone_id)) ||
        !ct_json_canon_is_text(b.info.facility_id,
                               strlen(b.info.facility_id))) {
        rc = ct_capacity__fail(err, CT_EINVAL,
                               "bed %s has ids that are not UTF-8 text",
                               bed_id);
        goto done;
    }
    /* The first write: SQLite checks a one-row INSERT's unique indexes
     * and foreign keys before it writes anything, so a refusal here still
     * leaves nothing. */
    if ((rc = insert_assignment(c, bed_id, referral_id, false, expires, &id,
                                err)))
        goto done;
    if ((rc = ct_referral__move(c, referral_id, r.state, CT_REFERRAL_HELD,
                                err)))
        goto done;
    /* In key order, which the canonical writer then only confirms. */
    ct_json_member payload[] = {
        {"bed", bed_id, 0},
        {"expires_at", NULL, expires},
        {"facility", b.info.facility_id, 0},
        {"hold", NULL, id},
        {"referral", NULL, referral_id},
        {"ttl_ms", NULL, ttl_ms},
        {"zone", b.info.zone_id, 0},
    };
    rc = ct_capacity__emit_members(c, actor, "hold.created", payload,
                                   CT_ARRAY_LEN(payload), err);
done:
    ct_referral__row_free(&r);
    rc = ct_capacity__finish(c, rc, err);
    if (rc == 0) {
        arm_hold_timer(c, expires);
        if (hold_id)
            *hold_id = id;
    }
    return rc;
}

/* The referral's active hold, or CT_ESTATE when it has none (a referral in
 * state held always has one; the check guards against a damaged store). */
static int active_hold(ct_capacity *c, int64_t referral_id,
                       ct_cap_assignment *a, ct_cap_error *err)
{
    int rc = ct_capacity__active_of(c, referral_id, a, err);
    if (rc == CT_ENOTFOUND || (rc == 0 && a->occupancy))
        return ct_capacity__fail(err, CT_ESTATE,
                                 "referral %" PRId64 " has no active hold",
                                 referral_id);
    return rc;
}

int ct_capacity_confirm(ct_capacity *c, int64_t referral_id,
                        const char *actor, int64_t *occupancy_id,
                        ct_cap_error *err)
{
    int rc;
    if ((rc = ct_capacity__check_text("actor", actor, 200, err)))
        return rc;
    if ((rc = ct_capacity__begin(c, err)))
        return rc;
    int64_t id = 0;
    ct_ref_row r = {0};
    ct_cap_assignment a;
    bed_row b;
    if ((rc = ct_referral__load(c, referral_id, &r, err)) ||
        (rc = ct_referral__guard(referral_id, r.state, CT_REFERRAL_PLACED,
                                 "confirm", err)) ||
        (rc = active_hold(c, referral_id, &a, err)) ||
        (rc = load_bed(c, a.bed_id, &b, err)))
        goto done;
    if (a.expires_at <= ct_clock_now(c->clock)) {
        /* The timer has not run yet; the hold is over all the same. */
        rc = ct_capacity__fail(err, CT_ESTATE,
                               "hold %" PRId64 " on bed %s has expired",
                               a.id, a.bed_id);
        goto done;
    }
    if ((rc = admission_check(c, &r, &b, err)) ||
        (rc = ct_capacity__end(c, &a, "confirmed", err)) ||
        (rc = insert_assignment(c, a.bed_id, referral_id, true, 0, &id,
                                err)) ||
        (rc = ct_referral__move(c, referral_id, r.state, CT_REFERRAL_PLACED,
                                err)))
        goto done;
    rc = ct_capacity__emit(
        c, actor, "hold.confirmed",
        json_pack("{s:I, s:I, s:I, s:s, s:s}", "hold", (json_int_t)a.id,
                  "occupancy", (json_int_t)id, "referral",
                  (json_int_t)referral_id, "bed", a.bed_id, "zone",
                  b.info.zone_id),
        err);
done:
    ct_referral__row_free(&r);
    rc = ct_capacity__finish(c, rc, err);
    if (rc == 0 && occupancy_id)
        *occupancy_id = id;
    return rc;
}

static int release(ct_capacity *c, int64_t referral_id, const char *provider,
                   const char *reason, const char *actor, ct_cap_error *err)
{
    int rc;
    if ((rc = ct_capacity__check_text("release reason", reason,
                                      provider ? 400 : 200, err)) ||
        (rc = ct_capacity__check_text("actor", actor, 200, err)) ||
        (provider && (rc = ct_capacity__check_text("provider", provider,
                                                   CT_CAP_ID_MAX - 1, err))))
        return rc;
    if ((rc = ct_capacity__begin(c, err)))
        return rc;
    ct_ref_row r = {0};
    ct_cap_assignment a;
    if ((rc = ct_referral__load(c, referral_id, &r, err)) ||
        (rc = ct_referral__guard(referral_id, r.state,
                                 r.state == CT_REFERRAL_HELD
                                     ? CT_REFERRAL_WAITING
                                     : CT_REFERRAL__COUNT,
                                 "release a hold", err)) ||
        (rc = active_hold(c, referral_id, &a, err)))
        goto done;
    if (!provider) {
        rc = ct_capacity__release_hold(c, &a, reason, actor, err);
        goto done;
    }
    char why[600];
    snprintf(why, sizeof why, "declined by %s: %s", provider, reason);
    if ((rc = end_hold(c, &a, "declined", why, actor, err)))
        goto done;
    rc = ct_capacity__emit(
        c, actor, "hold.declined",
        json_pack("{s:I, s:I, s:s, s:s, s:s}", "referral",
                  (json_int_t)referral_id, "hold", (json_int_t)a.id, "bed",
                  a.bed_id, "provider", provider, "reason", reason),
        err);
done:
    ct_referral__row_free(&r);
    return ct_capacity__finish(c, rc, err);
}

int ct_capacity_release(ct_capacity *c, int64_t referral_id,
                        const char *reason, const char *actor,
                        ct_cap_error *err)
{
    return release(c, referral_id, NULL, reason, actor, err);
}

int ct_capacity_decline(ct_capacity *c, int64_t referral_id,
                        const char *provider, const char *reason,
                        const char *actor, ct_cap_error *err)
{
    return release(c, referral_id, provider, reason, actor, err);
}

/* ---- expiry ---------------------------------------------------------- */

int64_t ct_capacity__next_due(ct_capacity *c, ct_stmt stmt)
{
    sqlite3_stmt *st = ct_store__stmt(c->store, stmt);
    if (!st)
        return INT64_MAX;
    int64_t next = INT64_MAX;
    if (sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_type(st, 0) != SQLITE_NULL)
        next = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return next;
}

void ct_capacity__rearm(ct_capacity *c, ct_timer *t, int64_t next,
                        ct_timer_cb cb)
{
    if (c->external_timers)
        return;
    if (next == INT64_MAX)
        ct_timer_stop(t);
    else
        ct_timer_start(t, next, cb, c);
}

int64_t ct_capacity_next_expiry(ct_capacity *c)
{
    return ct_capacity__next_due(c, CT_STMT_CAP_NEXT_EXPIRY);
}

void ct_capacity__schedule_holds(ct_capacity *c)
{
    if (!c->external_timers)
        ct_capacity__rearm(c, &c->hold_timer, ct_capacity_next_expiry(c),
                           hold_timer_cb);
}

static int expire_one(ct_capacity *c, const ct_cap_assignment *a,
                      ct_cap_error *err)
{
    int rc;
    if ((rc = ct_capacity__end(c, a, "expired", err)) ||
        (rc = ct_referral__move(c, a->referral_id, CT_REFERRAL_HELD,
                                CT_REFERRAL_WAITING, err)))
        return rc;
    char ttl[64];
    int64_t min = (a->expires_at - a->started_at) / 60000;
    if (min % 60 == 0)
        snprintf(ttl, sizeof ttl, "%" PRId64 "h", min / 60);
    else
        snprintf(ttl, sizeof ttl, "%" PRId64 "m", min);
    char why[128];
    snprintf(why, sizeof why, "not confirmed within %s", ttl);
    return ct_capacity__emit(
        c, "host", "hold.expired",
        json_pack("{s:I, s:I, s:s, s:I, s:I, s:s}", "hold", (json_int_t)a->id,
                  "referral", (json_int_t)a->referral_id, "bed", a->bed_id,
                  "started_at", (json_int_t)a->started_at, "expires_at",
                  (json_int_t)a->expires_at, "reason", why),
        err);
}

int ct_capacity__run_due(ct_capacity *c, const ct_cap_due *d)
{
    ct_cap_error err = {0};
    int rc = ct_capacity__begin(c, &err), total = 0;
    if (rc)
        return rc;
    char *due = calloc(DUE_BATCH, d->size);
    if (!due) {
        rc = CT_ENOMEM;
        goto done;
    }
    for (;;) {
        sqlite3_stmt *st = ct_capacity__stmt(c, d->stmt, &err);
        if (!st) {
            rc = CT_ESTORE;
            goto done;
        }
        sqlite3_bind_int64(st, 1, ct_clock_now(c->clock));
        sqlite3_bind_int(st, 2, DUE_BATCH);
        int n = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            d->read(st, due + (size_t)n++ * d->size);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            rc = ct_capacity__dberr(c, &err, rc, d->finding);
            goto done;
        }
        rc = 0;
        for (int i = 0; i < n; i++)
            if ((rc = d->run(c, due + (size_t)i * d->size, &err)))
                goto done;
        total += n;
        if (n < DUE_BATCH)
            break;
    }
done:
    free(due);
    rc = ct_capacity__finish(c, rc, &err);
    if (rc) {
        ct_log_error("capacity", "%s: %s", d->failed, err.message);
        return rc;
    }
    d->reschedule(c);
    return total;
}

static void read_hold(sqlite3_stmt *st, void *row)
{
    ct_cap_assignment *a = row;
    a->id = sqlite3_column_int64(st, 0);
    a->referral_id = sqlite3_column_int64(st, 1);
    copy_col(a->bed_id, sizeof a->bed_id, st, 2);
    a->started_at = sqlite3_column_int64(st, 3);
    a->expires_at = sqlite3_column_int64(st, 4);
}

static int expire_row(ct_capacity *c, void *row, ct_cap_error *err)
{
    return expire_one(c, row, err);
}

int ct_capacity_expire_due(ct_capacity *c)
{
    static const ct_cap_due d = {
        CT_STMT_CAP_HOLDS_DUE, sizeof(ct_cap_assignment), "finding due holds",
        "hold expiry failed",  read_hold, expire_row,
        ct_capacity__schedule_holds};
    return ct_capacity__run_due(c, &d);
}

static void hold_timer_cb(ct_timer *t, void *data)
{
    ct_capacity *c = data;
    if (ct_capacity_expire_due(c) < 0) /* logged; try again shortly */
        ct_timer_start(t, ct_clock_now(c->clock) + RETRY_MS, hold_timer_cb,
                       c);
}
