/*
 * Internals shared by the report files (report.c: periods, delays,
 * escalation, decisions; report_capacity.c: the capacity report and its
 * occupancy history; report_csv.c; report_national.c: the national
 * returns). Not for use outside those files.
 */
#ifndef CT_REPORT_INT_H
#define CT_REPORT_INT_H

#include "report.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>

#define CT_REPORT__DAY_MS 86400000LL
#define CT_REPORT__HOUR_MS 3600000LL
#define CT_REPORT__LEVELS 4

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

/* One CSV field (RFC 4180 quoting), then ',' or, when last, a line end. */
void ct_report__csv_field(FILE *out, const char *s, bool last);

/* The national returns' CSV (report_national.c); docs/reports.md lists
 * the columns. */
void ct_report__tracker_csv(FILE *out, const json_t *rep);
void ct_report__sitrep_csv(FILE *out, const json_t *rep);

#endif
