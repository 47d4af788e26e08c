/*
 * Reports: the "transparent data" that lets a hub and its partners see
 * where people wait and who is responsible (docs/domain.md), computed from the
 * store at the moment of the call and returned as JSON for the HTTP API
 * (GET /v1/reports/...), the dashboard and `caretide report`.
 *
 *   delays      referrals by responsible organisation, national delay
 *               reason or pathway: how many, how many delayed, delay days
 *               (bed-days lost) and the share discharged on their
 *               discharge ready date. Delay days are referral.h's
 *               ct_referral_delay_days to ct_referral_wait_end, the same
 *               figures as metrics.h and GET /v1/referrals.
 *   capacity    now per facility, zone and cohort with occupancy, surge
 *               share and data age, and occupancy over the period,
 *               rebuilt from the assignments and capacity events.
 *   escalation  time spent at each level in the period, the changes with
 *               their reasons, and the actions taken.
 *   decisions   the newest decisions with their traces.
 *
 * A period is a range of calendar days in England (Europe/London, as
 * delay days are: clock.h ct_clock_uk_day), both ends included and
 * either open. The delays report takes the referrals whose ready date is
 * in it; the others take the time from the first day's midnight to the
 * end of the last day, or now, whichever is first. docs/reports.md
 * explains every figure for hub staff.
 *
 * Reports read through a capacity handle (its store and clock): on a
 * read-only store they write nothing. Results are new JSON objects the
 * caller owns.
 */
#ifndef CT_REPORT_H
#define CT_REPORT_H

#include "capacity.h"
#include "config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

typedef enum ct_report_by {
    CT_REPORT_BY_ORG,     /* responsible organisation */
    CT_REPORT_BY_REASON,  /* national delay reason */
    CT_REPORT_BY_PATHWAY, /* decided pathway, else requested */
    CT_REPORT_BY__COUNT
} ct_report_by;

/* "org", "reason", "pathway"; parse returns the value or -1. */
const char *ct_report_by_name(ct_report_by by);
int ct_report_by_parse(const char *s);

typedef struct ct_report_period {
    char from[11], to[11]; /* "YYYY-MM-DD", "" when open */
    int64_t from_ms;       /* from's UK midnight; INT64_MIN when open */
    int64_t to_ms;         /* the UK midnight after to; INT64_MAX when open */
    int64_t from_day, to_day; /* UK day numbers (to included); INT64_MIN
                                 and INT64_MAX when open */
} ct_report_period;

/*
 * Fills *out from the two dates (either may be NULL or "" for open).
 * CT_EINVAL with a message for a person in msg (naming "from" or "to")
 * for a date that is not a real YYYY-MM-DD, or from after to.
 */
int ct_report_period_parse(const char *from, const char *to,
                           ct_report_period *out, char *msg, size_t msglen);

/*
 * The delays report:
 *   {report: "delays", at, period {from, to}, by,
 *    totals: FIGURES, groups: [{key, name, FIGURES...}]}
 * where FIGURES are referrals, delayed (delay days > 0), bed_days_lost
 * (the delay days summed), mean_delay_days (over the delayed; null when
 * none), max_delay_days, discharged (discharged or completed),
 * discharged_on_ready_date (of those, no delay day), share_on_ready_date
 * (null when none discharged), in_hospital (not yet discharged nor
 * cancelled) and delayed_in_hospital. Groups come largest bed_days_lost
 * first, then by key; key "none" gathers referrals with no responsible
 * organisation, reason or pathway recorded.
 */
int ct_report_delays_json(ct_capacity *c, const ct_report_period *p,
                          ct_report_by by, json_t **out, ct_cap_error *err);

/*
 * The capacity report: capacity_view.h's picture with, on the area, each
 * facility and each zone, occupancy (occupied / open) and surge_share
 * (open surge beds / open beds); on each facility and zone last_change
 * (ms or null) and data_age_hours (null when its beds never changed);
 * providers [{org, name, facilities: [ids], last_change,
 * data_age_hours}], stalest first; since (the first audited event, or
 * null); cohorts
 * {pathogen: {open|positive|negative: {zones, total, available,
 * occupied}}}; and history, occupancy over the period (by default the
 * last 7 days):
 *   {step_ms, at: [ms...], area: {open: [], occupied: [], held: []},
 *    facilities: [{id, name, open: [], occupied: [], held: []}]}
 * sampled every step (1h to 7d, at most about 200 points) from the start
 * of the period, the last point being its end or now.
 */
int ct_report_capacity_json(ct_capacity *c, const ct_report_period *p,
                            json_t **out, ct_cap_error *err);

/*
 * Marks the capacity report's providers that have not updated within
 * stale_after_ms (the area's area.stale_after): stale: true on each such
 * provider, stale_providers [names] and stale_after_hours on the report.
 * A provider that never changed anything is stale once the area's first
 * event is older than the interval. CT_ENOMEM.
 */
int ct_report_capacity_flag_stale(json_t *rep, int64_t stale_after_ms);

/*
 * The escalation report:
 *   {report: "escalation", at, period {from, to, start, end}, current
 *    {level, since, reason}, level_at_start, levels: [{level, ms, hours,
 *    share}] (1..4), changes: [{seq, at, from, to, reason, actions}],
 *    actions: [{action, plugin, count}]}
 * over the period; an open start is the first audited event.
 */
int ct_report_escalation_json(ct_capacity *c, const ct_report_period *p,
                              json_t **out, ct_cap_error *err);

/*
 * The newest decisions (at most limit, 1..100), newest first:
 *   {report: "decisions", at, decisions: [{referral, state, from_org,
 *    ready_date, created_at, pathway, decision}]}
 * where decision is the stored decision with its trace (pipeline.h).
 */
int ct_report_decisions_json(ct_capacity *c, int limit, json_t **out,
                             ct_cap_error *err);

/*
 * The wall's first screen (report_daily.c): people past their discharge
 * ready date and still in hospital now, a day ago and a week ago at the
 * same time of day, by responsible organisation and by national delay
 * reason:
 *   {report: "today", at, times {now, yesterday, last_week},
 *    totals: COUNTS, orgs: [{key, name, COUNTS, reasons: [{key, name,
 *    now}]}], reasons: [{key, name, COUNTS}]}
 * where COUNTS are now, yesterday, last_week, bed_days (days past the
 * ready date of those delayed now, summed), max_days and by_length
 * {"1-2d", "3-6d", "7-13d", "14d+"} (of those now). Groups come most
 * delayed now first; key "none" gathers delays not attributed yet. Each
 * count goes to the delay episode in force on that UK day (delay.h).
 */
int ct_report_today_json(ct_capacity *c, json_t **out, ct_cap_error *err);

/*
 * Daily series over the period's days (by default the 28 days to today):
 *   {report: "daily", at, period {from, to}, days: ["YYYY-MM-DD"...],
 *    delayed {total: [], by_org: {key: {name, values: []}}, by_reason},
 *    bed_days_lost {total, by_org, by_reason},
 *    occupancy {open: [], occupied: [], held: [], share: []},
 *    escalation {level: [], max_level: []},
 *    holds {confirmed: [], expired: [], declined: [],
 *           confirm_hours_median: [],
 *           by_provider: {org: {name, confirmed, expired, declined,
 *                               confirm_hours_median}}}}
 * Each day is read at its end (today: now): delayed are the people past
 * their ready date and in hospital then; bed_days_lost the delay days
 * that fell on the day (summed over days they make the delays report's
 * figure); occupancy and level at the day's end; max_level the highest
 * level of the day; holds those that ended on the day, confirmed,
 * expired or declined by the provider, and the median hours from hold to confirmation (null when
 * none). A day with a snapshot (below) is read from it; others are rebuilt
 * from the stored rows, like the occupancy history; sources says which,
 * per day.
 */
int ct_report_daily_json(ct_capacity *c, const ct_report_period *p,
                         json_t **out, ct_cap_error *err);

/*
 * Providers' answers to holds over the period (report_flow.c; by default
 * the 28 UK days to now): per organisation running the held beds
 * (provider response times, kept per organisation for the reports):
 *   {report: "providers", at, period, start, end, totals: P,
 *    providers: [P...]}
 * where P is {org, name, holds (confirmed + declined + expired),
 * confirmed, declined, expired (nobody answered in time), expired_share,
 * confirm_hours_median, confirm_hours_p90, decline_hours_median} (hours
 * from the hold to the answer; null when none). Holds the hub released
 * are not the provider's answer and are left out. Most expired share
 * first, then the slowest to confirm.
 */
int ct_report_providers_json(ct_capacity *c, const ct_report_period *p,
                             json_t **out, ct_cap_error *err);

/*
 * Pathway shares (report_flow.c): the people who left hospital in the
 * period (by default the 28 UK days to now) by decided pathway:
 *   {report: "pathways", at, period, start, end, discharges,
 *    pathways: [{pathway, discharges, share}]} for P0 (with
 * returning_residents: back to their care home, P3b in the sitrep), P1,
 * P2, P3, step_down and unknown. The national planning assumption to
 * compare with is plugin data (discharge_hub's planning_shares).
 */
int ct_report_pathways_json(ct_capacity *c, const ct_report_period *p,
                            json_t **out, ct_cap_error *err);

/*
 * Daily snapshots (report_snapshot.c): the host keeps each UK day's
 * figures of the daily report once the day has ended, and the daily
 * report reads a day from its snapshot when there is one (sources:
 * "snapshot"), else rebuilds it ("rebuilt"; today is "live").
 *
 * take records day `day` (a UK day number, ended by now) in one change,
 * audited as report.snapshot {day, rows}; a day that has one already is
 * left alone (*taken false). CT_EINVAL for a day not over yet.
 * next is when a snapshot is next due: now when yesterday has none (and
 * the area existed then), else the next UK midnight. due takes
 * yesterday's if it is missing: 1 taken, 0 nothing to do, or a CT_E*
 * code. The daemon runs them on its clock (daemon_cap.c).
 */
int ct_report_snapshot_take(ct_capacity *c, int64_t day, bool *taken,
                            ct_cap_error *err);
int64_t ct_report_snapshot_next(ct_capacity *c);
int ct_report_snapshot_due(ct_capacity *c);

/*
 * The people past their ready date and in hospital now, longest first,
 * for the hub (personal data: never for viewers or displays):
 *   {report: "delayed_people", at, people: [{referral, nhs_number,
 *    from_org, pathway, state, ready_date, days_past_ready, reason,
 *    reason_text, responsible_org, responsible_org_name, updated_at}]}
 */
int ct_report_people_json(ct_capacity *c, json_t **out, ct_cap_error *err);

/*
 * National returns (report_national.c), organisations by ODS code and
 * homes by CQC location id from cfg (NULL: those columns empty):
 *
 * The Capacity Tracker's vacancy fields now, per care home and bed type
 * (residential, nursing, dementia_residential, dementia_nursing, from the
 * beds' tags; surge beds only while open):
 *   {report: "capacity_tracker", at, date, homes: [{facility, name,
 *    cqc_location_id, ods_site_code, provider_ods_code, provider,
 *    admissions_closed, bed_types: [{bed_type, max_capacity, occupied,
 *    vacant_reserved, vacant_accepting, vacant_not_accepting}]}]}
 */
int ct_report_capacity_tracker_json(ct_capacity *c, const ct_config *cfg,
                                    json_t **out, ct_cap_error *err);
/*
 * The daily discharge sitrep per day of the period (today when open),
 * each day read at its end (today: now):
 *   {report: "sitrep", at, period, days: [{date, at, nctr, delayed,
 *    discharged: {P0, P1, P2, P3, P3b, unknown}, delays: [{reason,
 *    reason_text, responsible_org, responsible_ods_code,
 *    responsible_name, people, delay_days}]}]}
 * nctr: referred people past or on their ready date and in hospital;
 * delayed: those past it; discharged: left hospital that day, by the
 * sitrep's pathway (P0 returning to a care home: P3b; step_down: P2).
 * CT_EINVAL for more than 366 days.
 */
int ct_report_sitrep_json(ct_capacity *c, const ct_config *cfg,
                          const ct_report_period *p, json_t **out,
                          ct_cap_error *err);

/*
 * Writes a report made by the functions above as CSV to out (the
 * report's "report" member says which). CT_EINVAL for a report with no
 * CSV form (decisions), CT_EIO when writing failed. docs/reports.md gives
 * each CSV's columns.
 */
int ct_report_csv(const json_t *rep, FILE *out);

#endif
