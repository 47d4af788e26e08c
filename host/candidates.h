/*
 * Candidate search: for a referral, the beds that pass every host rule
 * right now, as rows for the plugins' rank hooks to reorder, drop and
 * annotate (docs/design.md "Plugin contract").
 *
 * A candidate bed is available (not held, occupied or blocked), not
 * retired, a surge bed only while its facility's surge is open, in a zone
 * and facility open to admissions, carries every tag the person needs plus
 * any the query adds, passes the segregation rule for every pathogen
 * (isolation.h) and, when a pathway applies, belongs to a facility of a
 * kind that serves it:
 *
 *   P0 none (home, no new support)   P1 home_care, virtual_ward
 *   P2 rehab, step_down              P3 care_home
 *   step_down step_down
 *
 * The search runs on an in-memory index of the area kept by the capacity
 * handle: it skips whole zones that cannot take the person (kind,
 * closure, cohorts, nothing free) and tests the beds of the others with a
 * few comparisons, stopping at the limit, so it costs microseconds at
 * thousands of beds. Rows come zone by zone (zone id order), beds in id
 * order within a zone; ranking is the plugins'. The store stays the
 * authority: a hold checks every rule again (capacity.h). The index
 * follows the capacity units' own changes, rollbacks and other
 * connections' commits by itself; call ct_capacity_refresh after changing
 * the area through the same connection otherwise (ct_store_reconcile).
 */
#ifndef CT_CANDIDATES_H
#define CT_CANDIDATES_H

#include "area.h"
#include "model.h"

typedef struct ct_candidate {
    const char *bed_id;
    const char *zone_id;
    const char *facility_id;
    const char *org_id; /* the facility's organisation */
    ct_facility_kind kind;
    const char *const *tags; /* the bed's tags, sorted */
    size_t ntags;
    bool designated;     /* the facility is a designated setting */
    bool surge;          /* an open surge bed */
    bool isolation_room; /* tagged isolation_room */
    /* The zone's cohorts that are not open: pathogen names and cohorts. */
    const char *const *cohort_pathogens;
    const ct_cohort *cohorts;
    size_t ncohorts;
} ct_candidate;

/* Results; a zeroed struct is an empty list. Strings point into the list's
 * own storage, valid until the next search into it or ct_candidate_list_free.
 * Reusing one list across searches avoids allocation. */
typedef struct ct_candidate_list {
    ct_candidate *items;
    size_t len;
    /* storage */
    size_t cap;
    char *text;
    size_t text_len, text_cap;
    const char **tagv; /* tags, then cohort pathogens, per candidate */
    size_t ntagv, tagv_cap;
    ct_cohort *cohortv;
    size_t ncohortv, cohortv_cap;
} ct_candidate_list;

void ct_candidate_list_free(ct_candidate_list *l);

typedef struct ct_candidate_query {
    int64_t referral_id;
    int pathway;    /* ct_pathway; -1: the referral's decided, else requested */
    unsigned kinds; /* facility kinds, bits 1u << ct_facility_kind; 0: by
                       the pathway (every kind when there is none) */
    const char *const *tags; /* required on top of the person's needs */
    size_t ntags;
    const char *facility_id; /* only this facility; NULL for any */
    size_t limit;            /* at most this many rows; 0 for all */
} ct_candidate_query;

/* The facility kinds that serve a pathway (bits as above) when no triage
 * answer names them: a fallback so that an area without a triage plugin
 * still places people. The area's mapping is policy and lives in the
 * plugins (discharge_hub's pathway_kinds, the triage answer's kinds). */
unsigned ct_candidates_kinds_for(ct_pathway p);

/* Fills out with the candidates for q (strings borrowed as above).
 * CT_ENOTFOUND for an unknown referral, CT_EINVAL for a bad query. */
int ct_candidates_find(ct_capacity *c, const ct_candidate_query *q,
                       ct_candidate_list *out, ct_cap_error *err);

/*
 * Why the host's rules find no bed, or fewer than expected: every bed of
 * the area counted once under the first rule that keeps it from the
 * person, in this order: "pathway" (a facility kind the pathway does not
 * use), "tags" (an object: the first of the person's needs the bed lacks
 * -> beds), "cohort" (segregation), "closed" (zone or facility closed to
 * admissions), "surge_closed", then by status "held", "occupied",
 * "blocked", and "available" (passing every rule: any left out were left
 * by plugins or declined). Also "held_beds" (ids, at most 64),
 * "surge_beds" (facility -> closed surge beds that would take the
 * person) and "isolation_ends" (ms, when segregation alone keeps the
 * person out until the isolation ends). A new object in *out.
 */
int ct_candidates_explain(ct_capacity *c, const ct_candidate_query *q,
                          json_t **out, ct_cap_error *err);

/* The list as a new JSON array of objects {bed, zone, facility, kind, org,
 * tags, designated, surge, isolation_room}; NULL when out of memory. */
json_t *ct_candidates_json(const ct_candidate_list *l);

/* ---- internals for the area's units (capacity, metrics) -------------- */

/* The area index (candidates_index.c). new makes the candidates' state in
 * the handle's CT_AREA_CANDIDATES slot (it follows the store's rollbacks
 * itself, as a watcher) and registers the handle's index hooks (note,
 * apply, discard: area.h), free frees it, invalidate makes the next
 * search reload. */
int ct_candidates__new(ct_capacity *c);
void ct_candidates__free(ct_capacity *c);
void ct_candidates__invalidate(ct_capacity *c);

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
 * rows instead (CT_EBUSY). A non-zero return of fn stops the walk and is
 * returned. */
int ct_candidates__zones(ct_capacity *c, ct_cap_zone_fn fn, void *ud,
                         ct_cap_error *err);


#endif
