/*
 * Read views of the area for the HTTP API and the Lua host API
 * (ct.capacity()): capacity per facility and zone, bed lists, referral
 * lists filtered by organisation, and the ownership lookups behind the
 * API's role rules (a hospital's referrals, a provider's beds).
 *
 * Everything is read through the capacity handle's store at the moment of
 * the call; nothing is cached here. Results are new JSON values the caller
 * owns. Counting follows metrics.h: a bed counts while in service, and a
 * surge bed only while its facility's surge is open (or someone is in
 * it); blocked beds count in total but are not open.
 */
#ifndef CT_CAPACITY_VIEW_H
#define CT_CAPACITY_VIEW_H

#include "capacity.h"

#include <jansson.h>

/*
 * The area's capacity now:
 *   {at, totals, facilities: [{id, name, kind, org, designated, totals,
 *    zones: [{id, name, closed, closed_reason, totals,
 *             cohorts: {pathogen: open|positive|negative}}]}]}
 * where totals is {total, available, held, occupied, blocked, open,
 * surge: {open, total}} and cohorts names every configured pathogen (and
 * any other one a zone has a cohort for). Facilities and zones in id
 * order; retired ones left out.
 */
int ct_capacity_view_json(ct_capacity *c, json_t **out, ct_cap_error *err);

/* Which beds to list; a zeroed filter with status -1 and a limit lists
 * from the start. */
typedef struct ct_bed_filter {
    const char *bed_id;      /* NULL: any */
    const char *facility_id; /* NULL: any */
    const char *zone_id;     /* NULL: any */
    int status;              /* ct_bed_status, or -1 for any */
    const char *const *tags; /* beds carrying every one of these */
    size_t ntags;
    const char *after;       /* bed id to continue after; NULL: start */
    int limit;               /* 1..CT_VIEW_MAX_BEDS */
} ct_bed_filter;

#define CT_VIEW_MAX_BEDS 5000

/*
 * Beds in service in id order as a new array of {id, zone, facility,
 * kind, org, status, blocked_reason, tags, surge, surge_open} plus, when
 * held or occupied, referral (and hold_expires_at for a hold).
 * CT_ENOTFOUND naming an unknown facility or zone; CT_EINVAL for a bad
 * filter.
 */
int ct_capacity_view_beds_json(ct_capacity *c, const ct_bed_filter *f,
                               json_t **out, ct_cap_error *err);

/* Which referrals to list. At most one of from_org and at_org. */
typedef struct ct_referral_filter {
    int state;          /* ct_referral_state, or -1 for any */
    int64_t after;      /* referral id to continue after (0: start) */
    int limit;          /* 1..1000 */
    const char *from_org; /* only this organisation's referrals */
    const char *at_org;   /* only referrals whose latest hold or placement
                             is in a facility of this organisation */
} ct_referral_filter;

/* Referrals in id order as a new array of ct_referral_get_json objects. */
int ct_capacity_view_referrals_json(ct_capacity *c,
                                    const ct_referral_filter *f,
                                    json_t **out, ct_cap_error *err);

/* The number of referrals in each state, indexed by ct_referral_state. */
int ct_capacity_view_referral_states(ct_capacity *c,
                                     int64_t counts[CT_REFERRAL__COUNT],
                                     ct_cap_error *err);

/* The organisations a referral concerns ("" where there is none). */
typedef struct ct_referral_orgs {
    char from_org[CT_CAP_ID_MAX];   /* the referring organisation */
    char holder_org[CT_CAP_ID_MAX]; /* owner of the bed held or occupied */
    char last_org[CT_CAP_ID_MAX];   /* owner of the bed of the latest hold
                                       or placement, active or ended */
} ct_referral_orgs;

/* CT_ENOTFOUND naming the referral when there is none. */
int ct_capacity_view_referral_orgs(ct_capacity *c, int64_t id,
                                   ct_referral_orgs *out, ct_cap_error *err);

/* The organisation owning a facility in service, or a bed's or a zone's
 * facility;
 * CT_ENOTFOUND naming it otherwise. out has CT_CAP_ID_MAX bytes. */
int ct_capacity_view_facility_org(ct_capacity *c, const char *facility_id,
                                  char *out, ct_cap_error *err);
int ct_capacity_view_bed_org(ct_capacity *c, const char *bed_id, char *out,
                             ct_cap_error *err);
int ct_capacity_view_zone_org(ct_capacity *c, const char *zone_id, char *out,
                              ct_cap_error *err);

/*
 * The referral as plugins see it (a new object; ct.referral, the decision
 * pipeline): the referral's fields, ready_date, delay {reason,
 * responsible_org, days}, and person {age, needs, usual_residence,
 * infections {pathogen: {status, tested_at, isolation_end, isolating}}}.
 */
int ct_capacity_view_referral(ct_capacity *cap, int64_t id, json_t **out,
                              ct_cap_error *err);

#endif
