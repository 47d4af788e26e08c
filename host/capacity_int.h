/*
 * Internals shared by the capacity units (capacity.c, referral.c,
 * isolation.c, candidates.c, metrics.c): the handle's body, the
 * transaction wrapper that makes each change one transaction (or one
 * savepoint inside the caller's) with its audit events, and the few
 * cross-unit steps (ending assignments, referral transitions, the
 * admission check). Not for use outside host/.
 */
#ifndef CT_CAPACITY_INT_H
#define CT_CAPACITY_INT_H

#include "capacity.h"
#include "events.h"
#include "json_canon.h"
#include "log.h"
#include "store_int.h"
#include "util.h"

#include <stdarg.h>

/* What a change did to the area index (candidates.c, ct_candidates__note). */
typedef enum ct_cap_idxkind {
    CT_IDX_BED_STATUS, /* value: ct_bed_status */
    CT_IDX_BED_SURGE,  /* value: surge open */
    CT_IDX_ZONE_CLOSED,
    CT_IDX_ZONE_COHORT, /* value: ct_cohort for pathogen */
} ct_cap_idxkind;

struct ct_capacity {
    ct_store *store; /* borrowed */
    ct_clock *clock; /* borrowed */
    int64_t hold_ttl_ms;
    char **pathogens; /* owned copies; NULL when any name goes */
    size_t npathogens;
    /* Isolation length per pathogen (host/isolation.h), owned. */
    struct ct_iso_length {
        char pathogen[64];
        int64_t ms;
    } *iso_lengths;
    size_t niso_lengths;
    ct_capacity_event_cb event_cb;
    void *event_data;
    bool external_timers; /* the embedder runs expiry and isolation ends */

    ct_timer hold_timer; /* next hold expiry */
    ct_timer iso_timer;  /* next isolation end */

    /* The area's event bus (events.h): audit records and deliveries after
     * commit. Owned. */
    ct_events *events;

    /* The change in progress: own_tx when it began the transaction itself,
     * otherwise it runs under a savepoint in the caller's. */
    bool in_change;
    bool own_tx;
    bool direct; /* in the caller's transaction without a savepoint */
    bool wrote;  /* a direct change has written */

    /* The area index candidate search runs on, with its freshness and
     * the notes of the change in progress: the candidates' own
     * (candidates.c). Only advisory: holds check everything again in SQL. */
    struct ct_cand *cand;

    /* The waiting list's re-match state (capacity_waitlist.c). */
    struct ct_wait *wait;
};

/* Fills err (may be NULL) and returns code. */
int ct_capacity__fail(ct_cap_error *err, int code, const char *fmt, ...)
    CT_PRINTF(3, 4);
/* For a failed SQLite step or prepare: logs it with what was being done,
 * fills err and returns the translated code. */
int ct_capacity__dberr(ct_capacity *c, ct_cap_error *err, int rc,
                       const char *what);
/* 0 when the organisation is in the area, else CT_ENOTFOUND naming it
 * (referral.c; referrals and delay episodes both check their orgs). */
int ct_capacity__org_exists(ct_capacity *c, const char *org,
                            ct_cap_error *err);
/* The cached statement, or NULL with err filled (CT_ESTORE). */
sqlite3_stmt *ct_capacity__stmt(ct_capacity *c, ct_stmt id,
                                ct_cap_error *err);
/* Steps st to SQLITE_DONE and resets it; what names it in an error. */
int ct_capacity__step_done(ct_capacity *c, sqlite3_stmt *st, const char *what,
                           ct_cap_error *err);
/* Copies column col of st's row into dst (n bytes, truncated). */
void ct_capacity__copy_col(char *dst, size_t n, sqlite3_stmt *st, int col);

/* A hold longer than this is a mistake, not a hold. */
#define CT_CAP_HOLD_TTL_MAX_MS (90 * 86400 * 1000LL)

/* A bed with what decides whether it can change (capacity_beds.c). */
typedef struct ct_cap_bed_row {
    ct_bed_info info;
    bool zone_closed, zone_retired, facility_retired, occupancy;
    char closed_reason[200];
} ct_cap_bed_row;
/* Reads bed_id into *b; CT_ENOTFOUND when there is none. */
int ct_capacity__load_bed(ct_capacity *c, const char *bed_id,
                          ct_cap_bed_row *b, ct_cap_error *err);
/* CT_ESTATE "bed X is retired" unless the bed can change at all. */
int ct_capacity__bed_in_service(const ct_cap_bed_row *b, ct_cap_error *err);
/* CT_ESTATE saying why the bed, not available, cannot do verb. */
int ct_capacity__bed_state_error(const ct_cap_bed_row *b, const char *verb,
                                 ct_cap_error *err);

/* CT_EINVAL unless s is a non-empty string of at most max bytes. */
int ct_capacity__check_text(const char *what, const char *s, size_t max,
                            ct_cap_error *err);

/*
 * The change wrapper: begin opens a transaction, or a savepoint when the
 * caller has one open (ct_store_enter); finish(rc) commits (rc == 0) or
 * rolls back (rc < 0) and returns rc, or the commit's error. The bus
 * delivers the change's events after the commit that keeps them and drops
 * them with a rollback. Changes do not nest.
 */
int ct_capacity__begin(ct_capacity *c, ct_cap_error *err);
int ct_capacity__finish(ct_capacity *c, int rc, ct_cap_error *err);

/*
 * For a change on the hot path (a hold) inside a caller's transaction: no
 * savepoint, whose journal copies every page the change touches, about a
 * tenth of a batched hold. Such a change must read and check everything
 * that can refuse before its first write, which must be a one-row INSERT
 * without triggers (SQLite checks its constraints before writing), and
 * call ct_capacity__wrote once that write has succeeded. A failure after it (storage, memory) cannot be
 * undone alone: finish rolls the caller's whole transaction back, as
 * SQLite itself does on I/O, full-disk and out-of-memory errors, and says
 * so in err. Outside a transaction it is ct_capacity__begin.
 */
int ct_capacity__begin_direct(ct_capacity *c, ct_cap_error *err);
void ct_capacity__wrote(ct_capacity *c);

/* Records an event (ct_events_record) inside the open change: the audit
 * log now, delivery after the commit. Takes ownership of payload; NULL (a failed
 * json_pack) is CT_ENOMEM. */
int ct_capacity__emit(ct_capacity *c, const char *actor, const char *kind,
                      json_t *payload, ct_cap_error *err);
/* The same with a flat payload of strings and integers (json_canon.h),
 * borrowed and sorted in place: no json_t unless a subscriber wants it.
 * For the hot paths. */
int ct_capacity__emit_members(ct_capacity *c, const char *actor,
                              const char *kind, ct_json_member *m, size_t n,
                              ct_cap_error *err);

/*
 * Work that falls due on the clock (hold expiry, isolation ends), done in
 * one change in batches: stmt takes (now, batch) and answers the due rows
 * in order; read copies the current row into a row of size bytes; run
 * does one (within the change); then reschedule restarts the timer.
 * Returns how many were done, or a CT_E* code (logged with failed).
 */
typedef struct ct_cap_due {
    ct_stmt stmt;
    size_t size;
    const char *finding; /* "finding due holds" */
    const char *failed;  /* "hold expiry failed" */
    void (*read)(sqlite3_stmt *st, void *row);
    int (*run)(ct_capacity *c, void *row, ct_cap_error *err);
    void (*reschedule)(ct_capacity *c);
} ct_cap_due;

int ct_capacity__run_due(ct_capacity *c, const ct_cap_due *d);
/* The earliest due time stmt answers (one row, one column, NULL for
 * none), INT64_MAX when there is none. */
int64_t ct_capacity__next_due(ct_capacity *c, ct_stmt stmt);
/* Restarts t at next (stops it at INT64_MAX), unless the embedder runs
 * the timers (external_timers). */
void ct_capacity__rearm(ct_capacity *c, ct_timer *t, int64_t next,
                        ct_timer_cb cb);

/* The referral's active assignment, inside a change. */
typedef struct ct_cap_assignment {
    int64_t id;
    int64_t referral_id;
    bool occupancy; /* else hold */
    int64_t started_at;
    int64_t expires_at; /* 0 for occupancies */
    char bed_id[CT_CAP_ID_MAX];
} ct_cap_assignment;

/* Finds the active assignment of a referral: 0, or CT_ENOTFOUND when none
 * (err not filled then), or a store error. */
int ct_capacity__active_of(ct_capacity *c, int64_t referral_id,
                           ct_cap_assignment *out, ct_cap_error *err);
/* Sets bed_id's status as an assignment or a resident's stay starts or
 * ends (and when its occupancy last changed): CT_ESTATE for a blocked
 * bed, CT_ENOTFOUND for none. Inside a change. */
int ct_capacity__set_mirror(ct_capacity *c, const char *bed_id,
                            ct_bed_status status, ct_cap_error *err);
/* Ends assignment a (end_reason copied) and frees its bed. No event, no
 * referral change: the caller does both. */
int ct_capacity__end(ct_capacity *c, const ct_cap_assignment *a,
                     const char *end_reason, ct_cap_error *err);
/* Ends the active hold a and sends its referral back to waiting, with a
 * "hold.released" event carrying why. */
int ct_capacity__release_hold(ct_capacity *c, const ct_cap_assignment *a,
                              const char *why, const char *actor,
                              ct_cap_error *err);
/* Restarts the hold timer at the earliest active hold expiry. */
void ct_capacity__schedule_holds(ct_capacity *c);

/* Referral steps used by holds (referral.c). */
typedef struct ct_ref_row {
    int64_t id;
    ct_referral_state state;
    char nhs_number[11];
    int pathway; /* decided, else requested, else -1 */
    char *needs; /* owned: the person's needs, a JSON array of tags */
} ct_ref_row;

/* Loads a referral (CT_ENOTFOUND naming it). Free with ct_referral__row_free. */
int ct_referral__load(ct_capacity *c, int64_t id, ct_ref_row *out,
                      ct_cap_error *err);
void ct_referral__row_free(ct_ref_row *r);
/* Fills out from the current row of st, whose first four columns are
 * REF_LOAD's (state, nhs_number, pathway, needs). out must be zeroed. */
int ct_referral__from_row(sqlite3_stmt *st, int64_t id, ct_ref_row *out,
                          ct_cap_error *err);
/* CT_ESTATE "referral 12 is placed; cannot hold" unless from -> to is a
 * transition of the life cycle; verb names the action ("hold"). */
int ct_referral__guard(int64_t id, ct_referral_state from,
                       ct_referral_state to, const char *verb,
                       ct_cap_error *err);
/* Guards and writes the state change (updated_at = now). */
int ct_referral__move(ct_capacity *c, int64_t id, ct_referral_state from,
                      ct_referral_state to, ct_cap_error *err);

/* Isolation steps (isolation.c). */

/*
 * The segregation rule tabulated for one person at the clock's now, for
 * set-based queries: known is ",p1,p2," (pathogens with a record);
 * forbid[r] is ",p:c,..." (pathogen and cohort refused, r = 1 in an
 * isolation room); dflt[r] is ",c," (cohorts refused for pathogens with no
 * record). Every entry comes from ct_isolation_admits, so candidate search
 * applies the same rule as holds. Strings are owned; free with
 * ct_isolation__table_free.
 */
typedef struct ct_iso_table {
    ct_buf known, forbid[2], dflt[2];
} ct_iso_table;

int ct_isolation__table(ct_capacity *c, const char *nhs_number,
                        ct_iso_table *t, ct_cap_error *err);
void ct_isolation__table_free(ct_iso_table *t);
/* CT_ECOHORT naming the pathogen, zone and statuses unless the person may
 * be placed in bed_id now. zone_id is the bed's zone when the caller has
 * read it in this transaction (saves reading the bed again), else NULL. */
int ct_isolation__check_bed(ct_capacity *c, const char *nhs_number,
                            const char *bed_id, const char *zone_id,
                            ct_cap_error *err);
/* Restarts the isolation timer at the earliest un-notified end. */
void ct_isolation__schedule(ct_capacity *c);

/* The area index (candidates.c). new makes the candidates' state (it
 * follows the store's rollbacks itself, as a watcher), free frees it,
 * invalidate makes the next search reload. note records what the change
 * in progress did (value: the bed status, surge open, zone closed, or the cohort); apply runs just before its
 * commit (or savepoint release), discard at its rollback. */
int ct_candidates__new(ct_capacity *c);
void ct_candidates__free(ct_capacity *c);
void ct_candidates__invalidate(ct_capacity *c);
void ct_candidates__note(ct_capacity *c, ct_cap_idxkind kind, const char *id,
                         const char *pathogen, int value);
void ct_candidates__apply(ct_capacity *c);
void ct_candidates__discard(ct_capacity *c);

/* A zone's cohort for one pathogen (not open), the pathogen as an index
 * into ct_cap_zone_counts.pathogens. */
typedef struct ct_cap_cohort {
    int pathogen;
    ct_cohort cohort;
} ct_cap_cohort;

/* One zone in service (its facility too) as the area index counts it,
 * kept as beds change so that whole-area counts cost O(zones). Counted
 * beds are metrics.h's: in service, a surge bed only while open or busy.
 * Every pointer is valid only during the callback. */
typedef struct ct_cap_zone_counts {
    const char *zone_id, *facility_id;
    ct_facility_kind kind;
    bool closed;
    int64_t n[CT_BED__COUNT];     /* counted beds by status */
    int64_t surge[CT_BED__COUNT]; /* of them surge beds */
    int64_t surge_beds;           /* beds in service that are surge beds */
    int64_t surge_beds_open;      /* of them open */
    const char *const *pathogens;
    int npathogens;
    const ct_cap_cohort *cohorts;
    int ncohorts;
} ct_cap_zone_counts;

typedef int (*ct_cap_zone_fn)(void *ud, const ct_cap_zone_counts *z);

/* Calls fn for every zone in service, in zone id order, from the area
 * index (loaded or reloaded first when it may lag the store; outside a
 * transaction in one read snapshot). Nothing is called inside a
 * capacity change whose notes are not applied yet: the caller counts the
 * rows instead (CT_EBUSY). A non-zero return of fn stops the walk and is returned. */
int ct_candidates__zones(ct_capacity *c, ct_cap_zone_fn fn, void *ud,
                         ct_cap_error *err);

/* The zones of a copy of the counts (capacity_counts.c) when k is not
 * NULL, else ct_candidates__zones: what the view and metrics count from. */
int ct_cap_counts__walk(ct_capacity *c, const ct_cap_counts *k,
                        ct_cap_zone_fn fn, void *ud, ct_cap_error *err);
/* The counts k copied for zone_id into *out (pointers valid while k is),
 * or false when k has no such zone. */
bool ct_cap_counts__find(const ct_cap_counts *k, const char *zone_id,
                         ct_cap_zone_counts *out);

#endif
