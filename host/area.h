/*
 * The area handle: what every unit of an area's state works on, and
 * nothing of beds, holds, referrals or isolation themselves. It holds the
 * store and the host clock (borrowed), the area's event bus (owned:
 * events.h, the one audit append path and the deliveries after commit),
 * the data version, the pathogens the area tracks, and the change in
 * progress: one transaction, or one savepoint inside the caller's
 * (ct_store_enter), per change, with its audit events.
 *
 * The units above it each keep their own state in a slot of the handle
 * (candidate search its index, capacity its holds and the waiting list,
 * isolation its lengths and timer), opaque here. A lower unit never calls
 * up: what referrals and isolation need done by capacity (end a
 * placement, release a hold), what delays need written in the referral's
 * row (ct_area__set_delay) and what every change tells the candidates'
 * index (ct_area__note) go through the hooks capacity and candidate
 * search register at open (docs/internals.md "Units and the one-way
 * flow").
 *
 * The public name of the handle stays ct_capacity (capacity.h opens it,
 * with every unit's state): the API's functions take that name.
 */
#ifndef CT_AREA_H
#define CT_AREA_H

#include "clock.h"
#include "events.h"
#include "json_canon.h"
#include "log.h"
#include "store_int.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ct_area ct_area;
/* The handle the API passes around (capacity.h). */
typedef ct_area ct_capacity;

/* Longest id of a bed, zone, facility or organisation, with its NUL. */
#define CT_CAP_ID_MAX 128

/* Why a call failed: code is the returned CT_E* code, message says what
 * and why in words for a person. */
typedef struct ct_cap_error {
    int code;
    char message[256];
} ct_cap_error;

/* ---- the handle ------------------------------------------------------ */

/* Opens the handle on store and clock (borrowed; they must outlive it)
 * with a copy of the pathogens (none: any name goes). external_timers:
 * the embedder runs due work itself (ct_area__rearm does nothing).
 * CT_EINVAL, CT_ENOMEM. */
int ct_area__new(ct_store *s, ct_clock *clock, const char *const *pathogens,
                 size_t npathogens, bool external_timers, ct_area **out);
/* A read-only handle on another connection s of the same database, for
 * reads off the loop (capacity_view.h): from's pathogens, clock (the
 * reader's own, borrowed), no event bus, no timers. */
int ct_area__new_reader(const ct_area *from, ct_store *s, ct_clock *clock,
                        ct_area **out);
/* Frees the handle and its bus; the units free their slots first. */
void ct_area__free(ct_area *a);

ct_store *ct_area_store(const ct_area *a);
ct_clock *ct_area_clock(const ct_area *a);
ct_events *ct_area_events(const ct_area *a);
/* The pathogens the area tracks (none: any name goes); a name is valid
 * until the next set. */
size_t ct_area_npathogens(const ct_area *a);
const char *ct_area_pathogen(const ct_area *a, size_t i);
/* Replaces them with copies of names. CT_ENOMEM leaves them. */
int ct_area_set_pathogens(ct_area *a, const char *const *names, size_t n);
bool ct_area__external_timers(const ct_area *a);

/* The area's data version: a counter that moves whenever committed data
 * may have changed, for caches of what was read from it (the daemon's
 * reply cache, daemon.h). Whoever sees committed data change (a kept
 * write, a delivered event, a reload) calls ct_area_data_changed. */
uint64_t ct_area_data_version(const ct_area *a);
void ct_area_data_changed(ct_area *a);

/* The units' own state (opaque here): each unit sets its slot when it
 * opens on the handle and clears it when it closes. */
typedef enum ct_area_slot {
    CT_AREA_CANDIDATES, /* candidates_int.h: the area index */
    CT_AREA_HOLDS,      /* capacity_int.h: hold time, the hold timer */
    CT_AREA_WAITLIST,   /* capacity_waitlist.c: the re-match state */
    CT_AREA_ISOLATION,  /* isolation.c: lengths, the isolation timer */
    CT_AREA_METRICS,    /* metrics.c: the last answer, kept while unchanged */
    CT_AREA__SLOTS
} ct_area_slot;
void *ct_area__slot(const ct_area *a, ct_area_slot s);
void ct_area__set_slot(ct_area *a, ct_area_slot s, void *state);
/* For a unit that is never opened or closed itself (metrics: any reader
 * of the handle): the handle frees state with free_fn when it is freed,
 * or when the slot is set again. */
void ct_area__set_slot_owned(ct_area *a, ct_area_slot s, void *state,
                             void (*free_fn)(void *));

/* ---- hooks: what lower units ask of upper ones ----------------------- */

/* A referral's active assignment (a hold or an occupancy), inside a
 * change. */
typedef struct ct_cap_assignment {
    int64_t id;
    int64_t referral_id;
    bool occupancy; /* else hold */
    int64_t started_at;
    int64_t expires_at; /* 0 for occupancies */
    char bed_id[CT_CAP_ID_MAX];
} ct_cap_assignment;

/* What a change did to the area index (candidates.c). */
typedef enum ct_cap_idxkind {
    CT_IDX_BED_STATUS, /* value: ct_bed_status */
    CT_IDX_BED_SURGE,  /* value: surge open */
    CT_IDX_ZONE_CLOSED,
    CT_IDX_ZONE_COHORT, /* value: ct_cohort for pathogen */
} ct_cap_idxkind;

typedef struct ct_area_hooks {
    /* Placements (capacity_holds.c). active_of: 0, or CT_ENOTFOUND when
     * the referral has none (err not filled then). end: ends the
     * assignment and frees its bed, no event. release_hold: ends an
     * active hold and sends its referral back to waiting, with a
     * "hold.released" event carrying why. */
    int (*active_of)(ct_area *a, int64_t referral_id, ct_cap_assignment *out,
                     ct_cap_error *err);
    int (*end)(ct_area *a, const ct_cap_assignment *as,
               const char *end_reason, ct_cap_error *err);
    int (*release_hold)(ct_area *a, const ct_cap_assignment *as,
                        const char *why, const char *actor,
                        ct_cap_error *err);
    /* The area index (candidates_index.c): note what the change in
     * progress did; apply just before its commit, discard at its
     * rollback. */
    void (*note)(ct_area *a, ct_cap_idxkind kind, const char *id,
                 const char *pathogen, int value);
    void (*apply)(ct_area *a);
    void (*discard)(ct_area *a);
    /* The referral's row (referral.c): its current delay, the open
     * episode's reason and responsible organisation (both NULL: none),
     * which delay episodes (delay.c) keep in step. */
    int (*set_delay)(ct_area *a, int64_t referral_id, const char *reason,
                     const char *org, ct_cap_error *err);
} ct_area_hooks;

/* Sets the hooks of which h has any (the others stay): capacity's and
 * the candidates' at open. h is copied. */
void ct_area__set_hooks(ct_area *a, const ct_area_hooks *h);

int ct_area__active_of(ct_area *a, int64_t referral_id,
                       ct_cap_assignment *out, ct_cap_error *err);
int ct_area__end(ct_area *a, const ct_cap_assignment *as,
                 const char *end_reason, ct_cap_error *err);
int ct_area__release_hold(ct_area *a, const ct_cap_assignment *as,
                          const char *why, const char *actor,
                          ct_cap_error *err);
void ct_area__note(ct_area *a, ct_cap_idxkind kind, const char *id,
                   const char *pathogen, int value);
int ct_area__set_delay(ct_area *a, int64_t referral_id, const char *reason,
                       const char *org, ct_cap_error *err);

/* ---- errors and statements ------------------------------------------- */

/* Fills err (may be NULL) and returns code. */
int ct_area__fail(ct_cap_error *err, int code, const char *fmt, ...)
    CT_PRINTF(3, 4);
/* For a failed SQLite step or prepare: logs it with what was being done,
 * fills err and returns the translated code. */
int ct_area__dberr(ct_area *a, ct_cap_error *err, int rc, const char *what);
/* The cached statement, or NULL with err filled (CT_ESTORE). */
sqlite3_stmt *ct_area__stmt(ct_area *a, ct_stmt id, ct_cap_error *err);
/* Steps st to SQLITE_DONE and resets it; what names it in an error. */
int ct_area__step_done(ct_area *a, sqlite3_stmt *st, const char *what,
                       ct_cap_error *err);
/* Binds key to the cached statement id and steps it once: 0 with *row on
 * the row found (read it, then sqlite3_reset it) or NULL when there is
 * none (reset already); else the store's error saying it was reading
 * what, *row NULL. The one-row read by id that referrals, decisions and
 * delay episodes each need. */
int ct_area__row(ct_area *a, ct_stmt id, int64_t key, const char *what,
                 sqlite3_stmt **row, ct_cap_error *err);
/* Copies column col of st's row into dst (n bytes, truncated). */
void ct_area__copy_col(char *dst, size_t n, sqlite3_stmt *st, int col);
/* CT_EINVAL unless s is a non-empty string of at most max bytes. */
int ct_area__check_text(const char *what, const char *s, size_t max,
                        ct_cap_error *err);
/* 0 when the organisation is in the area, else CT_ENOTFOUND naming it
 * (referrals and delay episodes both check their orgs). */
int ct_area__org_exists(ct_area *a, const char *org, ct_cap_error *err);

/* ---- changes --------------------------------------------------------- */

/*
 * The change wrapper: begin opens a transaction, or a savepoint when the
 * caller has one open (ct_store_enter); finish(rc) commits (rc == 0) or
 * rolls back (rc < 0) and returns rc, or the commit's error. The bus
 * delivers the change's events after the commit that keeps them and drops
 * them with a rollback. Changes do not nest.
 */
int ct_area__begin(ct_area *a, ct_cap_error *err);
int ct_area__finish(ct_area *a, int rc, ct_cap_error *err);
/* Whether a change is in progress (its index notes not applied yet). */
bool ct_area__in_change(const ct_area *a);

/*
 * For a change on the hot path (a hold) inside a caller's transaction: no
 * savepoint, whose journal copies every page the change touches, about a
 * tenth of a batched hold. Such a change must read and check everything
 * that can refuse before its first write, which must be a one-row INSERT
 * without triggers (SQLite checks its constraints before writing), and
 * call ct_area__wrote once that write has succeeded. A failure after it
 * (storage, memory) cannot be undone alone: finish rolls the caller's
 * whole transaction back, as SQLite itself does on I/O, full-disk and
 * out-of-memory errors, and says so in err. Outside a transaction it is
 * ct_area__begin.
 */
int ct_area__begin_direct(ct_area *a, ct_cap_error *err);
void ct_area__wrote(ct_area *a);

/* Records an event (ct_events_record) inside the open change: the audit
 * log now, delivery after the commit. Takes ownership of payload; NULL (a
 * failed json_pack) is CT_ENOMEM. */
int ct_area__emit(ct_area *a, const char *actor, const char *kind,
                  json_t *payload, ct_cap_error *err);
/* The same with a flat payload of strings and integers (json_canon.h),
 * borrowed and sorted in place: no json_t unless a subscriber wants it.
 * For the hot paths. */
int ct_area__emit_members(ct_area *a, const char *actor, const char *kind,
                          ct_json_member *m, size_t n, ct_cap_error *err);

/* ---- work that falls due on the clock -------------------------------- */

/*
 * Work that falls due on the clock (hold expiry, isolation ends), done in
 * one change in batches: stmt takes (now, batch) and answers the due rows
 * in order; read copies the current row into a row of size bytes; run
 * does one (within the change); then reschedule restarts the timer.
 * Returns how many were done, or a CT_E* code (logged with failed).
 */
typedef struct ct_area_due {
    ct_stmt stmt;
    size_t size;
    const char *finding; /* "finding due holds" */
    const char *failed;  /* "hold expiry failed" */
    void (*read)(sqlite3_stmt *st, void *row);
    int (*run)(ct_area *a, void *row, ct_cap_error *err);
    void (*reschedule)(ct_area *a);
} ct_area_due;

int ct_area__run_due(ct_area *a, const ct_area_due *d);
/* The earliest due time stmt answers (one row, one column, NULL for
 * none), INT64_MAX when there is none. */
int64_t ct_area__next_due(ct_area *a, ct_stmt stmt);
/* Restarts t at next (stops it at INT64_MAX), unless the embedder runs
 * the timers (external_timers). cb gets the handle. */
void ct_area__rearm(ct_area *a, ct_timer *t, int64_t next, ct_timer_cb cb);

#endif
