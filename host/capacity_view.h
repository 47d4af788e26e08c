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
#include "util.h"

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

/*
 * Whole-area reads off the loop (docs/internals.md, "Whole-area reads"):
 * the area's bed counts are kept by zone as beds change (the area index),
 * so copying them costs O(zones) on the loop; a reader on a connection of
 * its own (another thread) then builds the view and the metrics from the
 * copy and its own snapshot of the rest, and the loop keeps serving
 * writes.
 *
 * ct_cap_counts_take copies c's counts now (loading the index first if it
 * may lag the store); *out is the caller's, freed by ct_cap_counts_free
 * (NULL is harmless). ct_capacity_warm only loads the index (a start does
 * it once, so that the first search or read does not).
 */
int ct_cap_counts_take(ct_capacity *c, ct_cap_counts **out,
                       ct_cap_error *err);
void ct_cap_counts_free(ct_cap_counts *k);
int ct_capacity_warm(ct_capacity *c, ct_cap_error *err);

/*
 * A capacity handle that only reads, on store s (a connection of its own,
 * used by one thread at a time) with the pathogens of c (copied) and a
 * clock of its own at c's time now: no index, events or timers. For ct_capacity_view_json_from and
 * ct_metrics_json_from with a copy of the counts. Free with
 * ct_capacity_reader_free (NULL is harmless); s stays the caller's.
 */
int ct_capacity_reader_new(ct_capacity *c, ct_store *s, ct_capacity **out);
void ct_capacity_reader_free(ct_capacity *r);
/* Sets the reader's clock (never backwards): the "at" of its answers. */
void ct_capacity_reader_at(ct_capacity *r, int64_t now_ms);

/* ct_capacity_view_json with the bed counts of k (not NULL). */
int ct_capacity_view_json_from(ct_capacity *c, const ct_cap_counts *k,
                               json_t **out, ct_cap_error *err);
/* The same view appended to out as the text json_dumps (JSON_COMPACT |
 * JSON_ENSURE_ASCII) makes of it, without building it: a fraction of the
 * time at England scale. On error out's length past what it had is
 * undefined. */
int ct_capacity_view_text_from(ct_capacity *c, const ct_cap_counts *k,
                               ct_buf *out, ct_cap_error *err);

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
