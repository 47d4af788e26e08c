/*
 * Metrics the policies need (escalation, surge, delays), computed from the
 * rows on demand: occupancy by facility kind and zone, admittable beds by
 * cohort, waiting referrals by pathway and age of wait, NCTR, bed-days
 * lost to delays and the share of open beds that are surge beds.
 *
 * As a jansson object (the plugin runtime hands it to Lua as a table, the
 * daemon serves it) and, for the headline figures, as a C struct.
 */
#ifndef CT_METRICS_H
#define CT_METRICS_H

#include "capacity.h"

/* Beds that count: in service, surge beds only while open. */
typedef struct ct_bed_counts {
    int64_t total;     /* counted beds */
    int64_t available, held, occupied, blocked;
    int64_t closed;     /* free beds of zones closed to admissions */
    int64_t open;       /* total - blocked - closed */
    int64_t surge_open; /* open surge beds among open */
} ct_bed_counts;

typedef struct ct_metrics {
    int64_t at; /* host clock */
    ct_bed_counts beds;
    ct_bed_counts by_kind[CT_FACILITY__COUNT];
    double occupancy;   /* occupied / open, 0 when nothing is open */
    double surge_share; /* surge_open / open, 0 when nothing is open */
    int64_t waiting;    /* referrals received, triaged or waiting for
                           capacity: not P0, who need no bed (awaiting
                           transport is not waiting for the hub) */
    int64_t nctr;    /* ready date today or before, not discharged */
    int64_t delayed; /* ready date before today, not discharged */
    int64_t bed_days_lost;      /* delay days of every referral so far */
    int64_t bed_days_lost_open; /* of those still in hospital */
} ct_metrics;

int ct_metrics_collect(ct_capacity *c, ct_metrics *out, ct_cap_error *err);

/*
 * Everything above as a new JSON object (caller owns *out):
 *   at, beds {total, available, held, occupied, blocked, open, surge_open,
 *   occupancy, surge_share}, by_kind {kind: counts}, by_zone [{zone,
 *   facility, kind, closed, counts}], available_by_cohort {pathogen:
 *   {open, positive, negative}}, waiting {total, by_pathway {pathway|none:
 *   {total, "<1d", "1-3d", "3-7d", "7-14d", "14d+", oldest_days}}},
 *   nctr, delayed, bed_days_lost {total, open, by_reason {reason|none: n},
 *   by_org {org|none: n}}.
 */
int ct_metrics_json(ct_capacity *c, json_t **out, ct_cap_error *err);
/* The same without by_zone (the capacity view has the zones), with the
 * bed counts of k (capacity_view.h, not NULL), for a reader on another
 * thread (ct_capacity_reader_new). */
int ct_metrics_json_from(ct_capacity *c, const ct_cap_counts *k, json_t **out,
                         ct_cap_error *err);

#endif
