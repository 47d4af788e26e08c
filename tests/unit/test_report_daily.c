/*
 * The wall's reports (host/report_daily.c): today against yesterday and
 * last week, the daily series, the hub's list of delayed people and their
 * CSV (host/report_csv.c), on a dataset written through the capacity API
 * on a virtual clock, every figure worked out by hand (comments).
 *
 * The clock starts on 2026-11-23 at 08:00 UTC (capacity fixture: care
 * home H01-H06 run by homes, "Homes Ltd").
 *
 *   23rd 08:00  A (ready 20th, awaiting_p3_bed / homes), B (22nd, nothing
 *               recorded), C (23rd), D (21st, awaiting_p3_bed / homes)
 *   23rd 09:00  A held in H01
 *   23rd 10:00  B held in H02 (expires after 4h, at 14:00)
 *   23rd 11:00  A confirmed (2h after its hold) and discharged
 *   23rd 12:00  escalation 1 -> 2
 *   24th 02:00  escalation 2 -> 3
 *   24th 06:00  escalation 3 -> 1
 *   24th 12:00  C: awaiting_p1_care / council
 *   24th 20:00  D discharged
 *   25th 08:00  the reports are read
 *
 * Delay days (whole days from the ready date to the end of the wait):
 * A 20th -> 23rd: 3 (lost on the 21st, 22nd, 23rd); B 22nd -> now: 3
 * (23rd, 24th, 25th); C 23rd -> now: 2 (24th, 25th); D 21st -> 24th: 3
 * (22nd, 23rd, 24th). In all 11.
 */
#include "capacity_fixture.h"
#include "escalation.h"
#include "metrics.h"
#include "referral.h"
#include "report.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cap_fx f;
static int64_t A, B, C, D;

static const int64_t D23 = 1795392000000LL; /* 2026-11-23T00:00:00Z */

static void at(int64_t day, int64_t hour)
{
    cr_assert(ct_clock_advance_to(f.clock,
                                  D23 + day * DAY_MS + hour * HOUR_MS) >= 0);
}

static void escalate(int level)
{
    json_t *a = json_array();
    bool changed = false;
    CAP_OK(ct_escalation_record(f.cap, level, "test", a, "plugin:t",
                                &changed, &cap_err));
    json_decref(a);
}

static int64_t referral(unsigned i, const char *ready)
{
    char nhs[11];
    cap_fx_nhs(i, nhs);
    return cap_fx_referral(&f, nhs, ready, CT_PATHWAY_P3, NULL);
}

static void dataset(void)
{
    cap_fx_open(&f, NULL);
    cr_assert_eq(ct_clock_now(f.clock), D23 + 8 * HOUR_MS);
    A = referral(1, "2026-11-20");
    B = referral(2, "2026-11-22");
    C = referral(3, "2026-11-23");
    D = referral(4, "2026-11-21");
    CAP_OK(ct_referral_set_delay(f.cap, A, "awaiting_p3_bed", "homes", "hub",
                                 &cap_err));
    CAP_OK(ct_referral_set_delay(f.cap, D, "awaiting_p3_bed", "homes", "hub",
                                 &cap_err));
    at(0, 9);
    CAP_OK(ct_capacity_hold(f.cap, A, "H01", 0, "hub", NULL, &cap_err));
    at(0, 10);
    CAP_OK(ct_capacity_hold(f.cap, B, "H02", 0, "hub", NULL, &cap_err));
    at(0, 11);
    CAP_OK(ct_capacity_confirm(f.cap, A, "homes", NULL, &cap_err));
    CAP_OK(ct_referral_discharge(f.cap, A, "acute", &cap_err));
    at(0, 12);
    escalate(2);
    at(1, 2);
    escalate(3);
    at(1, 6);
    escalate(1);
    at(1, 12);
    CAP_OK(ct_referral_set_delay(f.cap, C, "awaiting_p1_care", "council", "hub",
                                 &cap_err));
    at(1, 20);
    CAP_OK(ct_referral_discharge(f.cap, D, "acute", &cap_err));
    at(2, 8);
}

static void teardown(void) { cap_fx_close(&f); }

TestSuite(report_daily, .init = dataset, .fini = teardown);

static json_t *get(json_t *o, const char *path)
{
    char buf[200];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k;
         k = strtok_r(NULL, ".", &save))
        v = json_is_array(v) ? json_array_get(v, (size_t)atoi(k))
                             : json_object_get(v, k);
    cr_assert_not_null(v, "no %s", path);
    return v;
}

static json_int_t jint(json_t *o, const char *path)
{
    json_t *v = get(o, path);
    cr_assert(json_is_integer(v), "%s is not an integer", path);
    return json_integer_value(v);
}

static const char *jstr(json_t *o, const char *path)
{
    json_t *v = get(o, path);
    cr_assert(json_is_string(v), "%s is not a string", path);
    return json_string_value(v);
}

/* The report's CSV as a string (freed by the caller). */
static char *csv(const json_t *rep)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cr_assert_not_null(out);
    cr_assert_eq(ct_report_csv(rep, out), 0);
    fclose(out);
    return text;
}

Test(report_daily, today_against_yesterday_and_last_week)
{
    json_t *rep = NULL;
    CAP_OK(ct_report_today_json(f.cap, &rep, &cap_err));
    /* Now (25th 08:00): B (3 days), C (2). A day ago: B (2), C (1) and D
     * (3, discharged that evening). A week ago none had been referred. */
    cr_assert_eq(jint(rep, "totals.now"), 2);
    cr_assert_eq(jint(rep, "totals.yesterday"), 3);
    cr_assert_eq(jint(rep, "totals.last_week"), 0);
    cr_assert_eq(jint(rep, "totals.bed_days"), 3 + 2);
    cr_assert_eq(jint(rep, "totals.max_days"), 3);
    cr_assert_eq(jint(rep, "totals.by_length.1-2d"), 1);
    cr_assert_eq(jint(rep, "totals.by_length.3-6d"), 1);
    cr_assert_eq(jint(rep, "totals.by_length.14d+"), 0);
    cr_assert_eq(jint(rep, "times.yesterday"), D23 + DAY_MS + 8 * HOUR_MS);
    /* Most delayed now first; ties by bed-days: none (B, 3) before council
     * (C, 2); homes has nobody now but had D yesterday. */
    cr_assert_eq(json_array_size(get(rep, "orgs")), 3);
    cr_assert_str_eq(jstr(rep, "orgs.0.key"), "none");
    cr_assert_str_eq(jstr(rep, "orgs.0.name"),
                     "No responsible organisation recorded");
    cr_assert_str_eq(jstr(rep, "orgs.1.key"), "council");
    cr_assert_str_eq(jstr(rep, "orgs.1.name"), "Council");
    cr_assert_eq(jint(rep, "orgs.1.now"), 1);
    cr_assert_eq(jint(rep, "orgs.1.yesterday"), 1);
    cr_assert_str_eq(jstr(rep, "orgs.1.reasons.0.key"), "awaiting_p1_care");
    cr_assert_eq(jint(rep, "orgs.1.reasons.0.now"), 1);
    cr_assert_str_eq(jstr(rep, "orgs.2.key"), "homes");
    cr_assert_eq(jint(rep, "orgs.2.now"), 0);
    cr_assert_eq(jint(rep, "orgs.2.yesterday"), 1);
    cr_assert_eq(json_array_size(get(rep, "orgs.2.reasons")), 0);
    cr_assert_str_eq(jstr(rep, "reasons.0.key"), "none");
    cr_assert_str_eq(jstr(rep, "reasons.1.key"), "awaiting_p1_care");
    cr_assert_str_eq(jstr(rep, "reasons.2.key"), "awaiting_p3_bed");
    cr_assert_eq(jint(rep, "reasons.2.yesterday"), 1);

    char *text = csv(rep);
    cr_assert_not_null(strstr(text, "level,key,name,now,yesterday,last_week,"
                                    "bed_days,max_days,days_1_2,days_3_6,"
                                    "days_7_13,days_14_plus\n"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "\narea,total,"
                                    "\"Past their ready date, in "
                                    "hospital\",2,3,0,5,3,1,1,0,0\n"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "\norg,council,Council,1,1,0,2,2,1,0,0,0\n"),
                       "%s", text);
    free(text);
    json_decref(rep);
}

Test(report_daily, the_delays_now_equal_the_metrics)
{
    json_t *rep = NULL;
    CAP_OK(ct_report_today_json(f.cap, &rep, &cap_err));
    ct_metrics m;
    CAP_OK(ct_metrics_collect(f.cap, &m, &cap_err));
    cr_assert_eq(jint(rep, "totals.now"), m.delayed);
    json_decref(rep);
}

static json_t *daily(const char *from, const char *to)
{
    ct_report_period p;
    char msg[160];
    cr_assert_eq(ct_report_period_parse(from, to, &p, msg, sizeof msg), 0,
                 "%s", msg);
    json_t *rep = NULL;
    CAP_OK(ct_report_daily_json(f.cap, &p, &rep, &cap_err));
    return rep;
}

static void series_is(json_t *rep, const char *path, const int64_t *want,
                      size_t n)
{
    json_t *a = get(rep, path);
    cr_assert_eq(json_array_size(a), n, "%s has %zu days", path,
                 json_array_size(a));
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(json_integer_value(json_array_get(a, k)), want[k],
                     "%s[%zu] = %lld, want %lld", path, k,
                     (long long)json_integer_value(json_array_get(a, k)),
                     (long long)want[k]);
}

Test(report_daily, series_by_day)
{
    json_t *rep = daily("2026-11-21", "2026-11-30");
    /* Days to come have no figures: the 21st to today, the 25th. */
    cr_assert_eq(json_array_size(get(rep, "days")), 5);
    cr_assert_str_eq(jstr(rep, "days.0"), "2026-11-21");
    cr_assert_str_eq(jstr(rep, "days.4"), "2026-11-25");
    /* At each day's end (the 25th: now): nobody was referred before the
     * 23rd; the 23rd B (1 day) and D (2); the 24th B and C (D left at
     * 20:00); now B and C. */
    series_is(rep, "delayed.total", (int64_t[]){0, 0, 2, 2, 2}, 5);
    series_is(rep, "delayed.by_org.homes.values", (int64_t[]){0, 0, 1, 0, 0},
              5);
    series_is(rep, "delayed.by_org.council.values",
              (int64_t[]){0, 0, 0, 1, 1}, 5);
    series_is(rep, "delayed.by_reason.none.values",
              (int64_t[]){0, 0, 1, 1, 1}, 5);
    cr_assert_str_eq(jstr(rep, "delayed.by_org.homes.name"), "Homes Ltd");
    /* Bed-days lost on each day: 21st A; 22nd A, D; 23rd A, D, B; 24th D,
     * B, C; 25th B, C. */
    series_is(rep, "bed_days_lost.total", (int64_t[]){1, 2, 3, 3, 2}, 5);
    series_is(rep, "bed_days_lost.by_reason.awaiting_p3_bed.values",
              (int64_t[]){1, 2, 2, 1, 0}, 5);
    /* A occupies H01 from the 23rd 11:00 (discharged, not completed). */
    series_is(rep, "occupancy.occupied", (int64_t[]){0, 0, 1, 1, 1}, 5);
    series_is(rep, "occupancy.held", (int64_t[]){0, 0, 0, 0, 0}, 5);
    cr_assert(jint(rep, "occupancy.open.4") > 0);
    /* Level 2 from the 23rd 12:00, 3 on the 24th 02:00-06:00, then 1. */
    series_is(rep, "escalation.level", (int64_t[]){1, 1, 2, 1, 1}, 5);
    series_is(rep, "escalation.max_level", (int64_t[]){1, 1, 2, 3, 1}, 5);
    /* A's hold confirmed after 2h, B's expired, both at homes' H01-H02. */
    series_is(rep, "holds.confirmed", (int64_t[]){0, 0, 1, 0, 0}, 5);
    series_is(rep, "holds.expired", (int64_t[]){0, 0, 1, 0, 0}, 5);
    series_is(rep, "holds.by_provider.homes.expired",
              (int64_t[]){0, 0, 1, 0, 0}, 5);
    cr_assert(fabs(json_real_value(get(rep, "holds.confirm_hours_median.2")) -
                   2.0) < 1e-9);
    cr_assert(json_is_null(get(rep, "holds.confirm_hours_median.3")));
    cr_assert(fabs(json_real_value(get(
                       rep, "holds.by_provider.homes.confirm_hours_median.2")) -
                   2.0) < 1e-9);

    char *text = csv(rep);
    cr_assert_not_null(strstr(text, "day,figure,group,key,name,value\n"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "\n2026-11-23,delayed,org,homes,Homes "
                                    "Ltd,1\n"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "\n2026-11-24,escalation_max_level,area,"
                                    "total,,3\n"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "\n2026-11-23,hold_to_confirm_hours_"
                                    "median,provider,homes,Homes Ltd,2\n"),
                       "%s", text);
    free(text);
    json_decref(rep);
}

Test(report_daily, bed_days_add_up_to_the_delays_report)
{
    json_t *rep = daily("2026-11-01", NULL);
    json_int_t sum = 0;
    size_t k;
    json_t *v;
    json_array_foreach(get(rep, "bed_days_lost.total"), k, v)
        sum += json_integer_value(v);
    ct_report_period all;
    char msg[160];
    cr_assert_eq(ct_report_period_parse(NULL, NULL, &all, msg, sizeof msg), 0);
    json_t *delays = NULL;
    CAP_OK(ct_report_delays_json(f.cap, &all, CT_REPORT_BY_ORG, &delays,
                                 &cap_err));
    cr_assert_eq(sum, 11);
    cr_assert_eq(sum, jint(delays, "totals.bed_days_lost"));
    json_decref(delays);
    json_decref(rep);
}

Test(report_daily, default_period_and_limits)
{
    json_t *rep = daily(NULL, NULL);
    cr_assert_eq(json_array_size(get(rep, "days")), 28);
    cr_assert_str_eq(jstr(rep, "days.27"), "2026-11-25");
    json_decref(rep);
    ct_report_period p;
    char msg[160];
    cr_assert_eq(ct_report_period_parse("2020-01-01", NULL, &p, msg,
                                        sizeof msg),
                 0);
    json_t *out = NULL;
    cr_assert_eq(ct_report_daily_json(f.cap, &p, &out, &cap_err), CT_EINVAL);
    cr_assert_null(out);
    cr_assert_not_null(strstr(cap_err.message, "at most 366 days"), "%s",
                       cap_err.message);
}

Test(report_daily, people_longest_first)
{
    json_t *rep = NULL;
    CAP_OK(ct_report_people_json(f.cap, &rep, &cap_err));
    cr_assert_eq(json_array_size(get(rep, "people")), 2);
    cr_assert_eq(jint(rep, "people.0.referral"), B);
    cr_assert_eq(jint(rep, "people.0.days_past_ready"), 3);
    cr_assert(json_is_null(get(rep, "people.0.reason")));
    cr_assert_str_eq(jstr(rep, "people.0.reason_text"),
                     "No delay reason recorded");
    cr_assert_eq(jint(rep, "people.1.referral"), C);
    cr_assert_str_eq(jstr(rep, "people.1.reason"), "awaiting_p1_care");
    cr_assert_str_eq(jstr(rep, "people.1.responsible_org_name"), "Council");
    cr_assert_str_eq(jstr(rep, "people.1.ready_date"), "2026-11-23");
    cr_assert_eq(jint(rep, "people.1.updated_at"),
                 D23 + DAY_MS + 12 * HOUR_MS);
    char nhs[11];
    cap_fx_nhs(3, nhs);
    cr_assert_str_eq(jstr(rep, "people.1.nhs_number"), nhs);
    char *text = csv(rep);
    cr_assert_not_null(strstr(text, "referral,nhs_number,from_org,pathway,"
                                    "state,ready_date,days_past_ready,reason,"
                                    "reason_text,responsible_org,"
                                    "responsible_org_name,updated_at\n"),
                       "%s", text);
    cr_assert_not_null(strstr(text, ",2026-11-24T12:00:00.000Z\n"), "%s",
                       text);
    free(text);
    json_decref(rep);
}

/* A provider that declines a hold frees the bed at once, and the daily
 * report counts the decline against it (issue 22: declines reported per
 * provider). */
Test(report_daily, declines_per_provider)
{
    at(2, 9);
    CAP_OK(ct_capacity_hold(f.cap, C, "H02", 0, "hub", NULL, &cap_err));
    at(2, 10);
    CAP_REFUSED(&f, CT_EINVAL,
                ct_capacity_decline(f.cap, C, "homes", "", "org:homes",
                                    &cap_err),
                "release reason");
    CAP_OK(ct_capacity_decline(f.cap, C, "homes", "no nursing staff tonight",
                               "org:homes/provider", &cap_err));
    json_t *ev = cap_fx_last(&f, "hold.declined");
    cr_assert_str_eq(json_string_value(json_object_get(ev, "provider")),
                     "homes");
    cr_assert_str_eq(json_string_value(json_object_get(ev, "reason")),
                     "no nursing staff tonight");
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM assignment WHERE "
                                "end_reason = 'declined' AND active = 0",
                            NULL),
                 1);
    json_t *rep = daily("2026-11-21", "2026-11-30");
    series_is(rep, "holds.declined", (int64_t[]){0, 0, 0, 0, 1}, 5);
    series_is(rep, "holds.by_provider.homes.declined",
              (int64_t[]){0, 0, 0, 0, 1}, 5);
    series_is(rep, "holds.expired", (int64_t[]){0, 0, 1, 0, 0}, 5);
    char *text = csv(rep);
    cr_assert_not_null(strstr(text, "\n2026-11-25,holds_declined,provider,"
                                    "homes,Homes Ltd,1\n"),
                       "%s", text);
    free(text);
    json_decref(rep);
}
