/*
 * The capacity handle shared by the capacity units, its errors and
 * statements, and its change wrapper (capacity_int.h). Beds and surge are
 * in capacity_beds.c, holds and their expiry in capacity_holds.c.
 */
#include "capacity_int.h"
#include "capacity_resident.h"
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
int ct_capacity__step_done(ct_capacity *c, sqlite3_stmt *st, const char *what,
                           ct_cap_error *err)
{
    int rc = sqlite3_step(st);
    int out = rc == SQLITE_DONE ? 0 : ct_capacity__dberr(c, err, rc, what);
    sqlite3_reset(st);
    return out;
}

void ct_capacity__copy_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
    ct_copy_str(dst, n, (const char *)sqlite3_column_text(st, col));
}

/* ---- handle ---------------------------------------------------------- */
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
        if (opts->hold_ttl_ms < 0 || opts->hold_ttl_ms > CT_CAP_HOLD_TTL_MAX_MS)
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
