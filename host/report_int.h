/*
 * Internals shared by the report files (report.c: periods, delays,
 * escalation, decisions; report_capacity.c: the capacity report and its
 * occupancy history; report_csv.c; report_national.c: the national
 * returns; report_daily.c: the wall's daily series, its rows and delay
 * episodes; report_today.c: today and people). Not for use outside those files.
 */
#ifndef CT_REPORT_INT_H
#define CT_REPORT_INT_H

#include "report.h"
#include "store_sql_report.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>

#define CT_REPORT__DAY_MS 86400000LL
#define CT_REPORT__HOUR_MS 3600000LL
#define CT_REPORT__LEVELS 4

/* A JSON array of v[0..n), a new reference; NULL when out of memory. */
json_t *ct_report__ints(const int64_t *v, size_t n);

/* A text column, NULL for SQL NULL. Borrowed until the next step. */
const char *ct_report__col(sqlite3_stmt *st, int i);

/* {from, to} of the period (null for an open end), a new object. */
json_t *ct_report__period_json(const ct_report_period *p);

/*
 * The times a report covers: end is the period's end or now, whichever
 * is first; start is the period's start or, when open, end - default_ms
 * (default_ms > 0) or the first audited event. start <= end.
 */
int ct_report__span(ct_capacity *c, const ct_report_period *p,
                    int64_t default_ms, int64_t *start, int64_t *end,
                    ct_cap_error *err);

/* When the first audited event happened, into *at (left alone when the
 * area has none yet). */
int ct_report__first_event(ct_capacity *c, int64_t *at, ct_cap_error *err);

/*
 * The area's open, occupied and held beds at each of the n times t
 * (ascending), rebuilt as the capacity report's history is: written into
 * open, occupied and held (n each, caller's arrays).
 */
int ct_report__beds_at(ct_capacity *c, const int64_t *t, size_t n,
                       int64_t *open, int64_t *occupied, int64_t *held,
                       ct_cap_error *err);

/*
 * A referral's delay episodes (delay.h), so that each day of a delay goes
 * to the reason and organisation in force that day rather than the
 * latest ones (report_daily.c). Strings are owned by the set.
 */
typedef struct ct_report_episode {
    char *reason, *reason_text, *org, *org_name;
    int64_t from, to; /* UK day numbers, to excluded; INT64_MAX while open */
} ct_report_episode;

typedef struct ct_report_episodes {
    ct_report_episode *items;
    size_t n, cap;
} ct_report_episodes;

/* Replaces the set's contents with referral id's episodes, oldest first.
 * CT_ENOMEM, CT_ESTORE. */
int ct_report__episodes_load(ct_capacity *c, int64_t id,
                             ct_report_episodes *e, ct_cap_error *err);
void ct_report__episodes_free(ct_report_episodes *e);

/* Who answered for UK day `day`: the episode covering it, or NULL when
 * none does (a day before the first episode, or after the last ended). */
const ct_report_episode *ct_report__episode_at(const ct_report_episodes *e,
                                               int64_t day);

/* One referral row of REP_PAST_READY, with its wait worked out
 * (report_daily.c). Strings borrowed until the next step. */
typedef struct ct_report_row {
    int64_t id, ready_day, created, end; /* end INT64_MAX while open */
    const char *ready, *state, *reason, *org, *org_name, *nhs, *from_org,
        *pathway, *reason_text;
    int64_t updated;
} ct_report_row;

/* Who answered for a delay on a UK day. */
typedef struct ct_report_attr {
    const char *reason, *reason_text, *org, *org_name;
} ct_report_attr;

void ct_report__row_read(sqlite3_stmt *st, ct_report_row *r);
/* The episode in force on `day`; a referral with no episode at all (a
 * delay set before episodes existed) keeps its current attribution. */
ct_report_attr ct_report__attr_at(const ct_report_row *r,
                                  const ct_report_episodes *e, int64_t day);
/* Days past the ready date at t when in hospital then, else 0. */
int64_t ct_report__past_at(const ct_report_row *r, int64_t t);
/* Binds and starts REP_PAST_READY for delays at some time in [from, to]. */
sqlite3_stmt *ct_report__past_ready(ct_capacity *c, int64_t from, int64_t to,
                                    ct_cap_error *err);
/* k, or "none" for NULL or empty. */
const char *ct_report__key_or_none(const char *k);
/* A reason's or an organisation's name for a key ("none" explained). */
json_t *ct_report__reason_name(const char *key, const char *text);
json_t *ct_report__org_name(const char *key, const char *name);

/*
 * The daily report's figures in long form (report_csv.c), the rows of its
 * CSV and of the host's daily snapshots (report_snapshot.c): fn(ud, day,
 * figure, group, key, name, value) for every value of day index `only`
 * (every day when negative); a non-zero return stops the walk and is
 * returned. ct_report__daily_area lists the area's figures after the
 * delayed and bed-days groups ({section, member, figure}, NULL-ended),
 * those from ct_report__daily_first_provider on per provider too.
 */
typedef int (*ct_report__daily_fn)(void *ud, const char *day,
                                   const char *figure, const char *group,
                                   const char *key, const char *name,
                                   const json_t *value);
int ct_report__daily_walk(const json_t *rep, int64_t only,
                          ct_report__daily_fn fn, void *ud);
typedef struct ct_report__daily_figure {
    const char *section, *member, *figure;
} ct_report__daily_figure;
extern const ct_report__daily_figure ct_report__daily_area[];
extern const size_t ct_report__daily_first_provider;

/*
 * The daily report over UK days [first, last] rebuilt from the stored
 * rows, without the snapshots (report_daily.c).
 */
int ct_report__daily_build(ct_capacity *c, int64_t first, int64_t last,
                           json_t **out, ct_cap_error *err);

/*
 * Puts the host's snapshots (report_snapshot.c) over the days of rep
 * that have one, and adds sources: ["snapshot" | "rebuilt" | "live"] per
 * day.
 */
int ct_report__snapshot_overlay(ct_capacity *c, json_t *rep, int64_t first,
                                int64_t today, ct_cap_error *err);

/* One CSV field (RFC 4180 quoting), then ',' or, when last, a line end. */
void ct_report__csv_field(FILE *out, const char *s, bool last);

/* The national returns' CSV (report_national.c); docs/reports.md lists
 * the columns. */
void ct_report__tracker_csv(FILE *out, const json_t *rep);
void ct_report__sitrep_csv(FILE *out, const json_t *rep);

/* The reports' cached statement id (store_sql_report.h: a statement set
 * of their own), or NULL with err filled (CT_ESTORE). Borrowed, as
 * ct_store__stmt's. */
sqlite3_stmt *ct_report__stmt(ct_capacity *c, ct_report_stmt id,
                              ct_cap_error *err);

#endif
