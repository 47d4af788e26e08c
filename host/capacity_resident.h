/*
 * Existing residents (docs/capacity.md "Existing residents"): a bed
 * occupied by someone who came without a referral in caretide, as its
 * provider records them, with an optional expected end. The bed is
 * occupied like any other (counts, searches, dashboards, FHIR Location,
 * reports) and no hold can take it; when the resident leaves or the
 * expected end passes, the bed is free and offered down the waiting list
 * (resident.left, which the waiting list hears).
 *
 * Nothing personal is kept: a stay names the bed, its times, who recorded
 * it and an optional note of at most 200 bytes.
 */
#ifndef CT_CAPACITY_RESIDENT_H
#define CT_CAPACITY_RESIDENT_H

#include "capacity.h"

#define CT_RESIDENT_NOTE_MAX 200

/* A bed's open stay. */
typedef struct ct_resident {
    int64_t id;
    int64_t started_at;
    int64_t expected_end; /* 0: none */
} ct_resident;

/*
 * Records a resident in bed_id, which must be available and in service
 * (else CT_ESTATE naming what holds it), with expected_end (ms after the
 * clock's now, else CT_EINVAL; 0 for none) and note (may be NULL); or,
 * when the bed has a resident already, sets its expected end (note
 * ignored). *created says which. Audited as resident.recorded {bed, zone,
 * facility, resident, expected_end, note} or resident.updated {bed,
 * resident, expected_end: {was, now}} with actor (copied).
 */
int ct_capacity_resident_set(ct_capacity *c, const char *bed_id,
                             int64_t expected_end, const char *note,
                             const char *actor, bool *created,
                             ct_cap_error *err);

/* The resident of bed_id left: the stay ends, the bed is available.
 * CT_ESTATE when the bed has no resident. Audited as resident.left {bed,
 * zone, facility, resident, reason "left", started_at}. */
int ct_capacity_resident_leave(ct_capacity *c, const char *bed_id,
                               const char *actor, ct_cap_error *err);

/* bed_id's open stay into *out: 0, or CT_ENOTFOUND when it has none. */
int ct_capacity_resident_get(ct_capacity *c, const char *bed_id,
                             ct_resident *out, ct_cap_error *err);

/* Ends every stay whose expected end has come (resident.left, actor
 * host, reason "expected_end"), in one change: the hold timer runs it
 * (ct_capacity_expire_due). How many, or a CT_E* code. */
int ct_capacity_resident_end_due(ct_capacity *c);
/* The earliest expected end of an open stay; INT64_MAX when none. */
int64_t ct_capacity_resident_next_end(ct_capacity *c);

#endif
