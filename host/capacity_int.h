/*
 * Internals of the capacity module, beds and holds (capacity.c,
 * capacity_beds.c, capacity_holds.c, capacity_counts.c,
 * capacity_resident.c, capacity_view.c, capacity_waitlist.c): their own
 * state in the area handle's slot, reading a bed, and ending
 * assignments. Not for use outside those files: the area handle and its
 * change wrapper are area.h's, and what referrals and isolation need of
 * holds goes through the handle's hooks.
 */
#ifndef CT_CAPACITY_INT_H
#define CT_CAPACITY_INT_H

#include "area.h"
#include "candidates.h"
#include "capacity.h"
#include "isolation.h"
#include "log.h"
#include "referral.h"
#include "store_int.h"
#include "util.h"

/* Beds and holds' own state, in the handle's CT_AREA_HOLDS slot. */
typedef struct ct_cap_state {
    int64_t hold_ttl_ms;
    ct_timer hold_timer; /* next hold expiry */
    ct_capacity_event_cb event_cb; /* the embedder's, may be NULL */
    void *event_data;
} ct_cap_state;

static inline ct_cap_state *ct_capacity__state(const ct_capacity *c)
{
    return ct_area__slot(c, CT_AREA_HOLDS);
}

/* A hold longer than this is a mistake, not a hold. */
#define CT_CAP_HOLD_TTL_MAX_MS (90 * 86400 * 1000LL)

/* CT_EINVAL unless bed_id and actor are both non-empty text of their
 * lengths (the bed id first). */
int ct_capacity__check_bed_actor(const char *bed_id, const char *actor,
                                 ct_cap_error *err);

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

#endif
