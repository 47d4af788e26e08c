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
#include "delay.h"
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
                                    "responsible_org_name,updated_at,why\n"),
                       "%s", text);
    /* Not waiting (triaged): no why. */
    cr_assert(json_is_null(get(rep, "people.1.why")));
    cr_assert_not_null(strstr(text, ",2026-11-24T12:00:00.000Z,\n"), "%s",
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

/* A delay is a history (host/delay.h): B waited for a care-home bed (homes)
 * from its ready date, the 22nd, and from today, the 25th, for home care
 * (council). Each day goes to the episode in force then, not to the one
 * named last: yesterday and the 23rd-24th are the care home's, today the
 * council's. */
Test(report_daily, each_day_goes_to_the_episode_in_force)
{
    ct_delay_input homes = {"awaiting_p3_bed", "P3 care-home bed", "homes",
                            "2026-11-22"};
    ct_delay_input council = {"awaiting_p1_care", NULL, "council",
                              "2026-11-25"};
    CAP_OK(ct_delay_start(f.cap, B, &homes, "hub", NULL, &cap_err));
    CAP_OK(ct_delay_start(f.cap, B, &council, "hub", NULL, &cap_err));

    json_t *rep = NULL;
    CAP_OK(ct_report_today_json(f.cap, &rep, &cap_err));
    /* Now: B and C both the council's; yesterday: B the care home's (with
     * D), C the council's. */
    cr_assert_str_eq(jstr(rep, "orgs.0.key"), "council");
    cr_assert_eq(jint(rep, "orgs.0.now"), 2);
    cr_assert_eq(jint(rep, "orgs.0.yesterday"), 1);
    cr_assert_str_eq(jstr(rep, "orgs.1.key"), "homes");
    cr_assert_eq(jint(rep, "orgs.1.now"), 0);
    cr_assert_eq(jint(rep, "orgs.1.yesterday"), 2);
    cr_assert_eq(json_array_size(get(rep, "orgs")), 2, "nobody unattributed");
    json_decref(rep);

    rep = daily("2026-11-22", "2026-11-25");
    /* Delayed at each day's end (D referred on the 23rd, discharged the
     * 24th): homes D and B on the 23rd, B on the 24th, nobody on the 25th;
     * the council C from the 24th and B on the 25th. */
    series_is(rep, "delayed.by_org.homes.values", (int64_t[]){0, 2, 1, 0}, 4);
    series_is(rep, "delayed.by_org.council.values", (int64_t[]){0, 0, 1, 2},
              4);
    /* Lost days: A the 21st-23rd, D the 22nd-24th, B the 23rd-24th for a
     * care-home bed and the 25th for home care, C the 24th-25th. */
    series_is(rep, "bed_days_lost.by_reason.awaiting_p3_bed.values",
              (int64_t[]){2, 3, 2, 0}, 4);
    series_is(rep, "bed_days_lost.by_reason.awaiting_p1_care.values",
              (int64_t[]){0, 0, 1, 2}, 4);
    cr_assert_null(json_object_get(get(rep, "delayed.by_org"), "none"));
    json_decref(rep);

    CAP_OK(ct_report_people_json(f.cap, &rep, &cap_err));
    cr_assert_eq(jint(rep, "people.0.referral"), B);
    cr_assert_str_eq(jstr(rep, "people.0.responsible_org"), "council");
    json_decref(rep);

    ct_report_period p;
    char msg[160];
    cr_assert_eq(ct_report_period_parse("2026-11-24", "2026-11-25", &p, msg,
                                        sizeof msg),
                 0);
    CAP_OK(ct_report_sitrep_json(f.cap, NULL, &p, &rep, &cap_err));
    /* At the 24th's end: B (2 days) the care home's (D left that evening);
     * the 25th: the council's, B (3) and C (2). */
    bool homes24 = false, council25 = false;
    for (size_t d = 0; d < 2; d++) {
        json_t *g;
        size_t i;
        json_array_foreach(get(rep, d ? "days.1.delays" : "days.0.delays"), i,
                           g)
        {
            const char *org = json_string_value(
                json_object_get(g, "responsible_org"));
            json_int_t people = json_integer_value(json_object_get(g, "people"));
            if (d == 0 && strcmp(org, "homes") == 0)
                homes24 = people == 1;
            if (d == 1 && strcmp(org, "council") == 0)
                council25 = people == 2;
            cr_assert(!(d == 1 && strcmp(org, "homes") == 0),
                      "the 25th is not the care home's");
        }
    }
    cr_assert(homes24 && council25);
    json_decref(rep);
}

/* Days are UK days: in July a hold confirmed at 23:30 UTC is confirmed at
 * 00:30 BST, the next day, and a period's first day starts at 23:00 UTC
 * the evening before. */
Test(report_daily, days_are_cut_at_the_uk_midnight)
{
    ct_report_period p;
    char msg[160];
    cr_assert_eq(ct_report_period_parse("2027-07-16", "2027-07-16", &p, msg,
                                        sizeof msg),
                 0);
    cr_assert_eq(p.from_ms, D23 + 235 * DAY_MS - HOUR_MS);
    cr_assert_eq(p.to_ms, D23 + 236 * DAY_MS - HOUR_MS);
    cr_assert_eq(ct_report_period_parse("2026-11-24", NULL, &p, msg,
                                        sizeof msg),
                 0);
    cr_assert_eq(p.from_ms, D23 + DAY_MS, "GMT in November");

    at(234, 22); /* 2027-07-15 22:00 UTC, 23:00 BST */
    int64_t e = referral(9, "2027-07-14");
    CAP_OK(ct_capacity_hold(f.cap, e, "H03", 0, "hub", NULL, &cap_err));
    at(234, 23); /* 2027-07-16 00:00 BST */
    cr_assert(ct_clock_advance(f.clock, 30 * 60000) >= 0);
    CAP_OK(ct_capacity_confirm(f.cap, e, "homes", NULL, &cap_err));
    CAP_OK(ct_referral_discharge(f.cap, e, "acute", &cap_err));
    json_t *rep = daily("2027-07-15", "2027-07-16");
    series_is(rep, "holds.confirmed", (int64_t[]){0, 1}, 2);
    /* Ready the 14th, discharged in the first minutes of the 16th: lost
     * the 15th and the 16th, as B and C (still waiting) did. */
    series_is(rep, "bed_days_lost.total", (int64_t[]){3, 3}, 2);
    json_decref(rep);

    cr_assert_eq(ct_report_period_parse("2027-07-16", "2027-07-16", &p, msg,
                                        sizeof msg),
                 0);
    CAP_OK(ct_report_sitrep_json(f.cap, NULL, &p, &rep, &cap_err));
    cr_assert_eq(jint(rep, "days.0.discharged.P3"), 1);
    json_decref(rep);
}

/* The host keeps each day's figures once the day is over (migration 12):
 * the daily report reads a kept day from its snapshot, so a delay recorded
 * later for that day does not rewrite what the wall showed then. */
Test(report_daily, a_kept_day_is_read_from_its_snapshot)
{
    /* The 25th 08:00: the 24th has ended and has no snapshot yet. */
    cr_assert_eq(ct_report_snapshot_next(f.cap), ct_clock_now(f.clock));
    cr_assert_eq(ct_report_snapshot_due(f.cap), 1);
    cr_assert_eq(ct_report_snapshot_next(f.cap), D23 + 3 * DAY_MS,
                 "next at the 26th's midnight");
    cr_assert_eq(ct_report_snapshot_due(f.cap), 0);
    bool taken = true;
    CAP_OK(ct_report_snapshot_take(f.cap, 20781, &taken, &cap_err));
    cr_assert(!taken, "the 24th is kept once");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_report_snapshot_take(f.cap, 20782, &taken, &cap_err),
                "ended");
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM event"
                                " WHERE kind = 'report.snapshot'",
                            NULL),
                 1);

    /* Now B's delay is recorded from its ready date: the care home's. */
    ct_delay_input homes = {"awaiting_p3_bed", NULL, "homes", "2026-11-22"};
    CAP_OK(ct_delay_start(f.cap, B, &homes, "hub", NULL, &cap_err));
    json_t *rep = daily("2026-11-23", "2026-11-25");
    cr_assert_str_eq(jstr(rep, "sources.0"), "rebuilt");
    cr_assert_str_eq(jstr(rep, "sources.1"), "snapshot");
    cr_assert_str_eq(jstr(rep, "sources.2"), "live");
    /* The 23rd is rebuilt (homes B and D), the 24th as kept (B then
     * unattributed, C the council's), today live (B the care home's). */
    series_is(rep, "delayed.by_org.homes.values", (int64_t[]){2, 0, 1}, 3);
    series_is(rep, "delayed.by_org.none.values", (int64_t[]){0, 1, 0}, 3);
    series_is(rep, "delayed.by_org.council.values", (int64_t[]){0, 1, 1}, 3);
    series_is(rep, "delayed.total", (int64_t[]){2, 2, 2}, 3);
    series_is(rep, "escalation.max_level", (int64_t[]){2, 3, 1}, 3);
    char *text = csv(rep);
    cr_assert_not_null(strstr(text, "\n2026-11-24,delayed,org,none,"
                                    "No responsible organisation recorded,"
                                    "1\n"),
                       "%s", text);
    free(text);
    json_decref(rep);
}

/* Provider response times, per organisation, for the reports: homes
 * confirmed A's hold after 2 hours and let B's expire; then declines C's
 * after 30 minutes. The hub's own release is not an answer. */
Test(report_daily, providers_answers_to_holds)
{
    at(2, 9);
    CAP_OK(ct_capacity_hold(f.cap, C, "H02", 0, "hub", NULL, &cap_err));
    cr_assert(ct_clock_advance(f.clock, 30 * 60000) >= 0);
    CAP_OK(ct_capacity_decline(f.cap, C, "homes", "no staff", "org:homes",
                               &cap_err));
    ct_report_period p;
    char msg[160];
    cr_assert_eq(ct_report_period_parse("2026-11-23", NULL, &p, msg,
                                        sizeof msg),
                 0);
    json_t *rep = NULL;
    CAP_OK(ct_report_providers_json(f.cap, &p, &rep, &cap_err));
    cr_assert_eq(json_array_size(get(rep, "providers")), 1);
    cr_assert_str_eq(jstr(rep, "providers.0.org"), "homes");
    cr_assert_str_eq(jstr(rep, "providers.0.name"), "Homes Ltd");
    cr_assert_eq(jint(rep, "providers.0.holds"), 3);
    cr_assert_eq(jint(rep, "providers.0.confirmed"), 1);
    cr_assert_eq(jint(rep, "providers.0.expired"), 1);
    cr_assert_eq(jint(rep, "providers.0.declined"), 1);
    cr_assert_float_eq(json_real_value(get(rep, "providers.0.expired_share")),
                       1.0 / 3, 1e-9);
    cr_assert_float_eq(
        json_real_value(get(rep, "providers.0.confirm_hours_median")), 2.0,
        1e-9);
    cr_assert_float_eq(
        json_real_value(get(rep, "providers.0.decline_hours_median")), 0.5,
        1e-9);
    cr_assert_eq(jint(rep, "totals.holds"), 3);
    char *text = csv(rep);
    cr_assert_not_null(strstr(text, "\nhomes,Homes Ltd,3,1,1,1,"), "%s", text);
    free(text);
    json_decref(rep);

    /* Only the 25th: the decline alone. */
    cr_assert_eq(ct_report_period_parse("2026-11-25", "2026-11-25", &p, msg,
                                        sizeof msg),
                 0);
    CAP_OK(ct_report_providers_json(f.cap, &p, &rep, &cap_err));
    cr_assert_eq(jint(rep, "providers.0.holds"), 1);
    cr_assert(json_is_null(get(rep, "providers.0.confirm_hours_median")));
    json_decref(rep);
}

/* Pathway shares: A and D left on P3; a returning care-home resident on
 * P0 counts in P0 and apart as P3b. */
Test(report_daily, pathway_shares_of_discharges)
{
    int64_t e = referral(11, "2026-11-25");
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)e);
    /* Test data: a resident going back to their home (no API sets both). */
    cr_assert_eq(cap_fx_int(&f, "UPDATE referral SET usual_residence ="
                                " 'care_home', requested_pathway = 'P0',"
                                " decided_pathway = 'P0' WHERE id = ?1"
                                " RETURNING 0",
                            id),
                 0);
    CAP_OK(ct_referral_discharge(f.cap, e, "acute", &cap_err));
    ct_report_period p;
    char msg[160];
    cr_assert_eq(ct_report_period_parse(NULL, NULL, &p, msg, sizeof msg), 0);
    json_t *rep = NULL;
    CAP_OK(ct_report_pathways_json(f.cap, &p, &rep, &cap_err));
    cr_assert_eq(jint(rep, "discharges"), 3);
    cr_assert_str_eq(jstr(rep, "pathways.0.pathway"), "P0");
    cr_assert_eq(jint(rep, "pathways.0.discharges"), 1);
    cr_assert_eq(jint(rep, "pathways.0.returning_residents"), 1);
    cr_assert_str_eq(jstr(rep, "pathways.3.pathway"), "P3");
    cr_assert_eq(jint(rep, "pathways.3.discharges"), 2);
    cr_assert_float_eq(json_real_value(get(rep, "pathways.3.share")),
                       2.0 / 3, 1e-9);
    char *text = csv(rep);
    cr_assert_not_null(strstr(text, "pathway,discharges,share,"
                                    "returning_residents\nP0,1,"),
                       "%s", text);
    free(text);
    json_decref(rep);
    /* The 23rd alone: A. */
    cr_assert_eq(ct_report_period_parse("2026-11-23", "2026-11-23", &p, msg,
                                        sizeof msg),
                 0);
    CAP_OK(ct_report_pathways_json(f.cap, &p, &rep, &cap_err));
    cr_assert_eq(jint(rep, "discharges"), 1);
    json_decref(rep);
}
