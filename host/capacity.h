/*
 * Capacity: beds and slots, surge capacity, blocks, holds and occupancies,
 * the core of docs/design.md principle 1 ("plugins propose, the host disposes").
 *
 * One ct_capacity handle per store binds the units that change placement
 * state: this one (beds, surge, holds, expiry), referral.h (life cycle),
 * isolation.h (infection status, cohorts, closure), candidates.h (search)
 * and metrics.h. The handle is the area handle (area.h: store, clock,
 * event bus, the change wrapper); ct_capacity_new opens it with every
 * unit's own state. Holds and isolation each keep a timer on the host
 * clock (the next hold expiry, the next isolation end), so both happen by
 * themselves, on a virtual clock when ct_clock_advance passes them.
 *
 * Every state change runs as one transaction together with its audit event
 * (ct_store_run's rule, store.h). When the caller already has a transaction
 * open (a batch, group commit) the change runs inside it under a
 * savepoint, so a refused change still writes nothing. A refused change
 * returns a negative CT_E* code and fills a ct_cap_error naming the thing
 * refused, for example "bed WH-R03 is occupied".
 *
 * Events go through the area's event bus (events.h, ct_capacity_events):
 * recorded in the audit log with the change and delivered after the
 * commit that keeps them, whoever began the transaction; a rollback drops
 * them. The embedder's callback is one subscriber (the host's events);
 * the plugin manager subscribes to the bus itself.
 *
 * Not thread-safe: one handle is used from one thread (the loop's).
 */
#ifndef CT_CAPACITY_H
#define CT_CAPACITY_H

#include "area.h"
#include "candidates.h"
#include "clock.h"
#include "events.h"
#include "model.h"
#include "store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A copy of the area's bed counts by zone (capacity_view.h). */
typedef struct ct_cap_counts ct_cap_counts;

/* One committed event as the callback sees it. Everything is borrowed and
 * valid only during the callback; payload is the audited JSON object. */
typedef struct ct_capacity_event {
    int64_t seq; /* audit seq */
    int64_t at;  /* host clock, ms */
    const char *actor;
    const char *kind; /* "hold.expired", "isolation.ended", ... */
    const json_t *payload;
} ct_capacity_event;

typedef void (*ct_capacity_event_cb)(const ct_capacity_event *ev, void *data);

typedef struct ct_capacity_options {
    int64_t hold_ttl_ms; /* default time to live of a hold; 0 means 4h */
    /* Pathogens the area tracks (config "pathogens"). When given, infection
     * and cohort calls refuse other names. Copied. */
    const char *const *pathogens;
    size_t npathogens;
    ct_capacity_event_cb event_cb; /* may be NULL */
    void *event_data;
    /* The embedder drives hold expiry and isolation ends itself with
     * ct_capacity_next_expiry/ct_capacity_expire_due and
     * ct_isolation_next_end/ct_isolation_notify_due (the daemon does, so
     * that timer writes share its group commit): the handle then starts
     * no timer of its own. */
    bool external_timers;
} ct_capacity_options;

/*
 * Creates the handle on an open store and a clock, both borrowed: they must
 * outlive it. Registers the segregation rule as an SQL function on the
 * store's connection and starts the timers for holds and isolations
 * already pending in the store (after a restart, overdue ones fire at the
 * clock's next chance). opts may be NULL. Free with ct_capacity_free.
 */
int ct_capacity_new(ct_store *s, ct_clock *clock,
                    const ct_capacity_options *opts, ct_capacity **out);
/* Stops the timers and frees the handle; undelivered events are dropped.
 * NULL is harmless. */
void ct_capacity_free(ct_capacity *c);

/*
 * Makes the next candidate search reload the area index and reschedules
 * the timers. The handle notices its own changes, rollbacks through the
 * store (a watcher it installs, store.h) and commits by other
 * connections; call this after anything else: ct_store_reconcile, direct
 * SQL on the same connection (savepoints made with SQL included).
 */
int ct_capacity_refresh(ct_capacity *c);

/* Replaces the pathogens infection and cohort calls accept (as
 * ct_capacity_options; copied; none: any name). The test host takes a
 * test's area{} pathogens with it. */
int ct_capacity_set_pathogens(ct_capacity *c, const char *const *names,
                              size_t n);

/* The store and clock the handle was made with, and its event bus
 * (borrowed). */
ct_store *ct_capacity_store(ct_capacity *c);
ct_clock *ct_capacity_clock(ct_capacity *c);
ct_events *ct_capacity_events(ct_capacity *c);

/* A bed as read now. Strings are copies (truncated to CT_CAP_ID_MAX). */
typedef struct ct_bed_info {
    char id[CT_CAP_ID_MAX];
    char zone_id[CT_CAP_ID_MAX];
    char facility_id[CT_CAP_ID_MAX];
    ct_facility_kind kind;
    ct_bed_status status;
    char blocked_reason[256];
    bool surge, surge_open, retired;
    int64_t referral_id;   /* active hold or occupant; 0 when none */
    int64_t assignment_id; /* that assignment; 0 when none */
    int64_t expires_at;    /* hold expiry; 0 when not held */
} ct_bed_info;

int ct_capacity_bed(ct_capacity *c, const char *bed_id, ct_bed_info *out,
                    ct_cap_error *err);

/*
 * Blocks an available bed (staff sickness, repairs, deep clean) with a
 * reason; a held or occupied bed cannot be blocked (CT_ESTATE). Unblock
 * makes a blocked bed available again. actor names who acts
 * ("org:oakwood-care"); it and reason are copied into the audit event.
 */
int ct_capacity_block(ct_capacity *c, const char *bed_id, const char *reason,
                      const char *actor, ct_cap_error *err);
int ct_capacity_unblock(ct_capacity *c, const char *bed_id, const char *actor,
                        ct_cap_error *err);

/* Surge capacity of a facility: opens or closes its surge beds, n of them
 * or all (CT_SURGE_ALL), lowest bed ids first. */
#define CT_SURGE_ALL (-1)

typedef struct ct_surge_result {
    int changed;   /* beds opened or closed by this call */
    int open;      /* surge beds of the facility open afterwards */
    int total;     /* surge beds of the facility (not retired) */
    int busy_open; /* on close all: open ones left open, held or occupied */
} ct_surge_result;

/*
 * Opening n needs n closed surge beds (CT_ECAPACITY otherwise, nothing
 * changes). Closing n needs n open surge beds that are not held or
 * occupied (blocked ones close too); closing all closes every such bed
 * and leaves busy ones open, counted in busy_open, to be closed by a later
 * call. res may be NULL.
 */
int ct_capacity_surge_open(ct_capacity *c, const char *facility_id, int n,
                           const char *actor, ct_surge_result *res,
                           ct_cap_error *err);
int ct_capacity_surge_close(ct_capacity *c, const char *facility_id, int n,
                            const char *actor, ct_surge_result *res,
                            ct_cap_error *err);

/*
 * Holds bed_id for a referral that is triaged or waiting, for ttl_ms (0:
 * the default TTL). Refused unless the bed is available, not retired, open
 * (surge beds only while surge is open), its zone and facility are open to
 * admissions, it carries every tag the person needs and the segregation
 * rule admits the person for every pathogen (isolation.h). The referral
 * becomes held; at expiry the hold ends by itself (end_reason "expired")
 * and the referral goes back to waiting. hold_id may be NULL.
 */
int ct_capacity_hold(ct_capacity *c, int64_t referral_id, const char *bed_id,
                     int64_t ttl_ms, const char *actor, int64_t *hold_id,
                     ct_cap_error *err);
/* Turns the referral's active hold into an occupancy (the bed becomes
 * occupied, the referral placed), re-checking the admission rules.
 * occupancy_id may be NULL. */
int ct_capacity_confirm(ct_capacity *c, int64_t referral_id,
                        const char *actor, int64_t *occupancy_id,
                        ct_cap_error *err);
/* Ends the referral's active hold early (reason copied into the history
 * and the event); the referral goes back to waiting. */
int ct_capacity_release(ct_capacity *c, int64_t referral_id,
                        const char *reason, const char *actor,
                        ct_cap_error *err);
/* The same when the provider running the bed refuses the person: the hold
 * ends as "declined" (reports count declines per provider) and the event
 * hold.declined {referral, hold, bed, provider, reason} joins
 * hold.released in the same change. */
int ct_capacity_decline(ct_capacity *c, int64_t referral_id,
                        const char *provider, const char *reason,
                        const char *actor, ct_cap_error *err);

/* Expires every hold due at the clock's current time, in one transaction
 * (the hold timer calls this; public for the daemon's start-up and
 * tests). Returns how many expired, or a CT_E* code. */
int ct_capacity_expire_due(ct_capacity *c);
/* When the next hold expires, INT64_MAX when none is active. */
int64_t ct_capacity_next_expiry(ct_capacity *c);

/* For the host's read units (the view, metrics): the zones of a copy of
 * the counts (capacity_counts.c) when k is not
 * NULL, else ct_candidates__zones: what the view and metrics count from. */
int ct_cap_counts__walk(ct_capacity *c, const ct_cap_counts *k,
                        ct_cap_zone_fn fn, void *ud, ct_cap_error *err);
/* The counts k copied for zone_id into *out (pointers valid while k is),
 * or false when k has no such zone. */
bool ct_cap_counts__find(const ct_cap_counts *k, const char *zone_id,
                         ct_cap_zone_counts *out);

#endif
