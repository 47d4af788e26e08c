/*
 * The area handle (area.h): the store, the clock, the event bus and the
 * pathogens, the change wrapper every unit of the area's state writes
 * through, its errors and statements, the hooks that let lower units ask
 * upper ones, and due work on the clock.
 */
#include "area.h"

#include "error.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUE_BATCH 256 /* rows of due work read at a time */

struct ct_area {
    ct_store *store; /* borrowed */
    ct_clock *clock; /* borrowed */
    char **pathogens; /* owned copies; NULL when any name goes */
    size_t npathogens;
    bool external_timers; /* the embedder runs due work */

    /* The area's event bus (events.h): audit records and deliveries after
     * commit. Owned. */
    ct_events *events;

    /* The change in progress: own_tx when it began the transaction itself,
     * otherwise it runs under a savepoint in the caller's. */
    bool in_change;
    bool own_tx;
    bool direct; /* in the caller's transaction without a savepoint */
    bool wrote;  /* a direct change has written */

    ct_area_hooks hooks;
    void *slots[CT_AREA__SLOTS]; /* the units' own state, theirs */
    void (*slot_free[CT_AREA__SLOTS])(void *); /* set: the handle frees it */

    uint64_t data_version; /* moves whenever committed data may change */
};

/* ---- the handle ------------------------------------------------------ */

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int ct_area__new(ct_store *s, ct_clock *clock, const char *const *pathogens,
                 size_t npathogens, bool external_timers, ct_area **out)
{
    if (!s || !clock || !out)
        return CT_EINVAL;
    *out = NULL;
    ct_area *c = calloc(1, sizeof *c);
    if (!c)
        return CT_ENOMEM;
    c->store = s;
    c->clock = clock;
    c->external_timers = external_timers;
    int rc;
    if ((rc = ct_area_set_pathogens(c, pathogens, npathogens)))
        goto fail_rc;
    if ((rc = ct_events_new(s, clock, &c->events)))
        goto fail_rc;
    *out = c;
    return 0;

fail_rc:
    free_names(c->pathogens, c->npathogens);
    free(c);
    return rc;
}

int ct_area__new_reader(const ct_area *from, ct_store *s, ct_clock *clock,
                        ct_area **out)
{
    *out = NULL;
    ct_area *r = calloc(1, sizeof *r);
    if (!r)
        return CT_ENOMEM;
    r->store = s;
    r->clock = clock;
    r->external_timers = true;
    if (ct_area_set_pathogens(r, (const char *const *)from->pathogens,
                              from->npathogens)) {
        free(r);
        return CT_ENOMEM;
    }
    *out = r;
    return 0;
}

void ct_area__free(ct_area *c)
{
    if (!c)
        return;
    for (int i = 0; i < CT_AREA__SLOTS; i++)
        if (c->slot_free[i] && c->slots[i])
            c->slot_free[i](c->slots[i]);
    ct_events_free(c->events);
    free_names(c->pathogens, c->npathogens);
    free(c);
}

ct_store *ct_area_store(const ct_area *c) { return c->store; }
ct_clock *ct_area_clock(const ct_area *c) { return c->clock; }
ct_events *ct_area_events(const ct_area *c) { return c->events; }
uint64_t ct_area_data_version(const ct_area *a)
{
    return a->data_version;
}

void ct_area_data_changed(ct_area *a)
{
    a->data_version++;
}

bool ct_area__external_timers(const ct_area *c) { return c->external_timers; }
bool ct_area__in_change(const ct_area *c) { return c->in_change; }

size_t ct_area_npathogens(const ct_area *c)
{
    return c->npathogens;
}

const char *ct_area_pathogen(const ct_area *c, size_t i)
{
    return c->pathogens[i];
}

int ct_area_set_pathogens(ct_area *c, const char *const *names, size_t n)
{
    char **v = n ? calloc(n, sizeof *v) : NULL;
    if (n && !v)
        return CT_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!(v[i] = ct_strdup(names[i]))) {
            free_names(v, i);
            return CT_ENOMEM;
        }
    free_names(c->pathogens, c->npathogens);
    c->pathogens = v;
    c->npathogens = n;
    return 0;
}

void *ct_area__slot(const ct_area *c, ct_area_slot s)
{
    return c->slots[s];
}

void ct_area__set_slot(ct_area *c, ct_area_slot s, void *state)
{
    c->slots[s] = state;
}

void ct_area__set_slot_owned(ct_area *c, ct_area_slot s, void *state,
                             void (*free_fn)(void *))
{
    if (c->slot_free[s] && c->slots[s] && c->slots[s] != state)
        c->slot_free[s](c->slots[s]);
    c->slots[s] = state;
    c->slot_free[s] = free_fn;
}

/* ---- hooks ----------------------------------------------------------- */

void ct_area__set_hooks(ct_area *c, const ct_area_hooks *h)
{
    if (h->active_of)
        c->hooks.active_of = h->active_of;
    if (h->end)
        c->hooks.end = h->end;
    if (h->release_hold)
        c->hooks.release_hold = h->release_hold;
    if (h->note)
        c->hooks.note = h->note;
    if (h->apply)
        c->hooks.apply = h->apply;
    if (h->discard)
        c->hooks.discard = h->discard;
    if (h->set_delay)
        c->hooks.set_delay = h->set_delay;
}

/* Without capacity on the handle there are no placements. */
int ct_area__active_of(ct_area *c, int64_t referral_id,
                       ct_cap_assignment *out, ct_cap_error *err)
{
    return c->hooks.active_of ? c->hooks.active_of(c, referral_id, out, err)
                              : CT_ENOTFOUND;
}

int ct_area__end(ct_area *c, const ct_cap_assignment *as,
                 const char *end_reason, ct_cap_error *err)
{
    return c->hooks.end ? c->hooks.end(c, as, end_reason, err)
                        : ct_area__fail(err, CT_ESTATE, "no beds to free");
}

int ct_area__set_delay(ct_area *c, int64_t referral_id, const char *reason,
                       const char *org, ct_cap_error *err)
{
    return c->hooks.set_delay
               ? c->hooks.set_delay(c, referral_id, reason, org, err)
               : ct_area__fail(err, CT_ESTATE, "no referrals to record a "
                                               "delay in");
}

int ct_area__release_hold(ct_area *c, const ct_cap_assignment *as,
                          const char *why, const char *actor,
                          ct_cap_error *err)
{
    return c->hooks.release_hold
               ? c->hooks.release_hold(c, as, why, actor, err)
               : ct_area__fail(err, CT_ESTATE, "no holds to release");
}

void ct_area__note(ct_area *c, ct_cap_idxkind kind, const char *id,
                   const char *pathogen, int value)
{
    if (c->hooks.note)
        c->hooks.note(c, kind, id, pathogen, value);
}

/* ---- errors and statements ------------------------------------------- */

int ct_area__fail(ct_cap_error *err, int code, const char *fmt, ...)
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

int ct_area__dberr(ct_area *c, ct_cap_error *err, int rc,
                   const char *what)
{
    const char *msg = sqlite3_errmsg(ct_store__db(c->store));
    int code = ct_err_from_sqlite(rc);
    if (code == CT_OK)
        code = CT_ESTORE;
    if (code != CT_ECONFLICT)
        ct_log_error("capacity", "%s: %s", what, msg);
    return ct_area__fail(err, code, "storage error while %s: %s", what,
                         msg);
}

sqlite3_stmt *ct_area__stmt(ct_area *c, ct_stmt id,
                            ct_cap_error *err)
{
    sqlite3_stmt *st = ct_store__stmt(c->store, id);
    if (!st)
        ct_area__fail(err, CT_ESTORE,
                      "storage error: cannot prepare a statement");
    return st;
}

int ct_area__check_text(const char *what, const char *s, size_t max,
                        ct_cap_error *err)
{
    if (!s || !*s)
        return ct_area__fail(err, CT_EINVAL, "%s is required", what);
    if (strlen(s) > max)
        return ct_area__fail(err, CT_EINVAL,
                             "%s is longer than %zu bytes", what, max);
    return 0;
}

/* Steps st to SQLITE_DONE and resets it. */
int ct_area__step_done(ct_area *c, sqlite3_stmt *st, const char *what,
                       ct_cap_error *err)
{
    int rc = sqlite3_step(st);
    int out = rc == SQLITE_DONE ? 0 : ct_area__dberr(c, err, rc, what);
    sqlite3_reset(st);
    return out;
}

int ct_area__row(ct_area *c, ct_stmt id, int64_t key, const char *what,
                 sqlite3_stmt **row, ct_cap_error *err)
{
    *row = NULL;
    sqlite3_stmt *st = ct_area__stmt(c, id, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, key);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *row = st;
        return 0;
    }
    /* The message before the reset, which may replace it. */
    rc = rc == SQLITE_DONE ? 0 : ct_area__dberr(c, err, rc, what);
    sqlite3_reset(st);
    return rc;
}

void ct_area__copy_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
    ct_copy_str(dst, n, (const char *)sqlite3_column_text(st, col));
}

int ct_area__org_exists(ct_area *c, const char *org,
                        ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_REF_ORG_EXISTS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return ct_area__fail(err, CT_ENOTFOUND,
                             "organisation %s does not exist", org);
    return ct_area__dberr(c, err, rc, "reading an organisation");
}

/* direct: inside a caller's transaction, no savepoint (area.h). */
static int begin(ct_area *c, bool direct, ct_cap_error *err)
{
    if (c->in_change)
        return ct_area__fail(err, CT_ESTATE,
                             "a capacity change is already in progress");
    c->direct = c->wrote = false;
    if (direct && ct_store_in_transaction(c->store)) {
        c->own_tx = false;
        c->direct = true;
    } else {
        int rc = ct_store_enter(c->store, &c->own_tx);
        if (rc)
            return ct_area__fail(err, rc, "cannot begin: %s",
                                 ct_strerror(rc));
    }
    c->in_change = true;
    return 0;
}

/* ---- changes --------------------------------------------------------- */

int ct_area__begin(ct_area *c, ct_cap_error *err)
{
    return begin(c, false, err);
}

int ct_area__begin_direct(ct_area *c, ct_cap_error *err)
{
    return begin(c, true, err);
}

void ct_area__wrote(ct_area *c)
{
    c->wrote = true;
}

int ct_area__finish(ct_area *c, int rc, ct_cap_error *err)
{
    if (!c->in_change)
        return rc;
    /* The index takes the change first and the change ends before the
     * commit: the bus delivers its events inside that commit, and what a
     * subscriber does may be a change of its own. A commit that fails
     * after this rolls back, and the watcher marks the index stale. */
    if (rc == 0 && c->hooks.apply)
        c->hooks.apply(c);
    else if (rc && c->hooks.discard)
        c->hooks.discard(c);
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
        ct_area__fail(err, end, "cannot commit: %s", ct_strerror(end));
    return end;
}

int ct_area__emit(ct_area *c, const char *actor, const char *kind,
                  json_t *payload, ct_cap_error *err)
{
    if (!payload) /* json_pack and friends failed */
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    int rc = ct_events_record(c->events, actor, kind, payload, 0, NULL,
                              NULL);
    if (rc)
        return ct_area__fail(err, rc, "cannot append audit event %s: %s",
                             kind, ct_strerror(rc));
    return 0;
}

int ct_area__emit_members(ct_area *c, const char *actor,
                          const char *kind, ct_json_member *m, size_t n,
                          ct_cap_error *err)
{
    int rc = ct_events_record_members(c->events, actor, kind, m, n, 0, NULL);
    if (rc)
        return ct_area__fail(err, rc, "cannot append audit event %s: %s",
                             kind, ct_strerror(rc));
    return 0;
}
/* ---- work that falls due on the clock -------------------------------- */

int64_t ct_area__next_due(ct_area *c, ct_stmt stmt)
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

void ct_area__rearm(ct_area *c, ct_timer *t, int64_t next,
                    ct_timer_cb cb)
{
    if (c->external_timers)
        return;
    if (next == INT64_MAX)
        ct_timer_stop(t);
    else
        ct_timer_start(t, next, cb, c);
}

int ct_area__run_due(ct_area *c, const ct_area_due *d)
{
    ct_cap_error err = {0};
    int rc = ct_area__begin(c, &err), total = 0;
    if (rc)
        return rc;
    char *due = calloc(DUE_BATCH, d->size);
    if (!due) {
        rc = CT_ENOMEM;
        goto done;
    }
    for (;;) {
        sqlite3_stmt *st = ct_area__stmt(c, d->stmt, &err);
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
            rc = ct_area__dberr(c, &err, rc, d->finding);
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
    rc = ct_area__finish(c, rc, &err);
    if (rc) {
        ct_log_error("capacity", "%s: %s", d->failed, err.message);
        return rc;
    }
    d->reschedule(c);
    return total;
}
