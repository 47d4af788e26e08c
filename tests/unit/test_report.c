/*
 * Reports (host/report.c, host/report_capacity.c) against a dataset
 * written through the capacity API on a virtual clock, every figure
 * worked out by hand beforehand (the comments show the sums).
 *
 * The area is the capacity fixture's: step-down sd (red R01-R04 and surge
 * R05; green G01-G04, G07 and surge G05-G06), care home (H01-H06 in
 * home-main, M01-M02 in home-memory, organisation homes), rehab W01-W03
 * and home care HC01-HC03 (organisation council). The clock starts on
 * 2026-11-23 at 08:00 UTC.
 *
 * Timeline:
 *   23rd 08:00  referrals A (ready 20th, P2, delay awaiting_p2_bed /
 *               council), B (23rd, P3), C (18th, P3, awaiting_p3_bed /
 *               homes), D (24th, P1), E (21st, P3, awaiting_p3_bed /
 *               homes), F (25th, P2)
 *   23rd 09:30  A held in W01
 *   23rd 10:00  A placed (W01 occupied) and discharged
 *   23rd 11:00  B held in H01
 *   23rd 12:00  B placed and discharged; escalation 1 -> 2
 *   23rd 13:00  H02 blocked
 *   23rd 14:00  one surge bed of sd opened (G05)
 *   24th 00:00  escalation 2 -> 3
 *   24th 15:00  D cancelled
 *   24th 16:00  A completed (W01 free)
 *   24th 18:00  escalation 3 -> 1
 *   25th 08:30  E discharged (no bed)
 *   25th 09:00  the reports are read
 */
#include "capacity_fixture.h"
#include "escalation.h"
#include "metrics.h"
#include "pipeline.h"
#include "referral.h"
#include "report.h"
#include "store_sql_report.h"
#include "util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static cap_fx f;
static int64_t A, B, C, D, E, F;

static const int64_t D23 = 1795392000000LL; /* 2026-11-23T00:00:00Z */

static void at(int64_t day, int64_t hour, int64_t minute)
{
    int64_t t = D23 + day * DAY_MS + hour * HOUR_MS + minute * 60000;
    cr_assert_eq(ct_clock_advance_to(f.clock, t) >= 0, true);
}

static void escalate(int level, const char *reason, const char *actions)
{
    json_t *a = json_loads(actions, 0, NULL);
    cr_assert_not_null(a);
    bool changed = false;
    CAP_OK(ct_escalation_record(f.cap, level, reason, a,
                                "plugin:winter_surge", &changed, &cap_err));
    cr_assert(changed);
    json_decref(a);
}

static int64_t referral(unsigned i, const char *ready, int pathway)
{
    char nhs[11];
    cap_fx_nhs(i, nhs);
    return cap_fx_referral(&f, nhs, ready, pathway, NULL);
}

static void dataset(void)
{
    cap_fx_open(&f, NULL);
    cr_assert_eq(ct_clock_now(f.clock), D23 + 8 * HOUR_MS);
    A = referral(1, "2026-11-20", CT_PATHWAY_P2);
    B = referral(2, "2026-11-23", CT_PATHWAY_P3);
    C = referral(3, "2026-11-18", CT_PATHWAY_P3);
    D = referral(4, "2026-11-24", CT_PATHWAY_P1);
    E = referral(5, "2026-11-21", CT_PATHWAY_P3);
    F = referral(6, "2026-11-25", CT_PATHWAY_P2);
    CAP_OK(ct_referral_set_delay(f.cap, A, "awaiting_p2_bed", "council", "hub",
                                 &cap_err));
    /* The reason's label comes from the reason list (plugin data) with
     * the episode; the report names the group with it. */
    ct_delay_input c_delay = {"awaiting_p3_bed",
                              "Pathway 3: care home bed not available",
                              "homes", NULL};
    CAP_OK(ct_delay_start(f.cap, C, &c_delay, "hub", NULL, &cap_err));
    CAP_OK(ct_referral_set_delay(f.cap, E, "awaiting_p3_bed", "homes", "hub",
                                 &cap_err));
    at(0, 9, 30);
    CAP_OK(ct_capacity_hold(f.cap, A, "W01", 0, "hub", NULL, &cap_err));
    at(0, 10, 0);
    CAP_OK(ct_capacity_confirm(f.cap, A, "council", NULL, &cap_err));
    CAP_OK(ct_referral_discharge(f.cap, A, "acute", &cap_err));
    at(0, 11, 0);
    CAP_OK(ct_capacity_hold(f.cap, B, "H01", 0, "hub", NULL, &cap_err));
    at(0, 12, 0);
    CAP_OK(ct_capacity_confirm(f.cap, B, "homes", NULL, &cap_err));
    CAP_OK(ct_referral_discharge(f.cap, B, "acute", &cap_err));
    escalate(2, "occupancy above 90%",
             "[{\"plugin\": \"winter_surge\", \"action\": \"open_surge\"}]");
    at(0, 13, 0);
    CAP_OK(ct_capacity_block(f.cap, "H02", "deep clean", "homes", &cap_err));
    at(0, 14, 0);
    CAP_OK(ct_capacity_surge_open(f.cap, "sd", 1, "hub", NULL, &cap_err));
    at(1, 0, 0);
    escalate(3, "NCTR above 15%",
             "[{\"plugin\": \"winter_surge\", \"action\": \"open_surge\"},"
             " {\"plugin\": \"winter_surge\","
             "  \"action\": {\"kind\": \"alert\", \"to\": \"leaders\"}}]");
    at(1, 15, 0);
    CAP_OK(ct_referral_cancel(f.cap, D, "went home with family", "acute",
                              &cap_err));
    at(1, 16, 0);
    CAP_OK(ct_referral_complete(f.cap, A, "council", &cap_err));
    at(1, 18, 0);
    escalate(1, "pressure eased", "[]");
    at(2, 8, 30);
    CAP_OK(ct_referral_discharge(f.cap, E, "acute", &cap_err));
    at(2, 9, 0);
}

static void teardown(void) { cap_fx_close(&f); }

TestSuite(report, .init = dataset, .fini = teardown);

/* ---- helpers ------------------------------------------------------------ */

static json_t *get(json_t *o, const char *path)
{
    char buf[160];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k;
         k = strtok_r(NULL, ".", &save)) {
        if (json_is_array(v))
            v = json_array_get(v, (size_t)atoi(k));
        else
            v = json_object_get(v, k);
    }
    cr_assert_not_null(v, "no %s", path);
    return v;
}

static json_int_t jint(json_t *o, const char *path)
{
    json_t *v = get(o, path);
    cr_assert(json_is_integer(v), "%s is not an integer", path);
    return json_integer_value(v);
}

static double jnum(json_t *o, const char *path)
{
    json_t *v = get(o, path);
    cr_assert(json_is_number(v), "%s is not a number", path);
    return json_number_value(v);
}

static const char *jstr(json_t *o, const char *path)
{
    json_t *v = get(o, path);
    cr_assert(json_is_string(v), "%s is not a string", path);
    return json_string_value(v);
}

static void near(double got, double want, const char *what)
{
    cr_assert(fabs(got - want) < 1e-9, "%s: %.12f, want %.12f", what, got,
              want);
}

static ct_report_period period(const char *from, const char *to)
{
    ct_report_period p;
    char msg[160];
    cr_assert_eq(ct_report_period_parse(from, to, &p, msg, sizeof msg), 0,
                 "%s", msg);
    return p;
}

/* The group with key in a delays report. */
static json_t *group(json_t *rep, const char *key)
{
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(rep, "groups"), i, g)
    {
        if (strcmp(json_string_value(json_object_get(g, "key")), key) == 0)
            return g;
    }
    cr_assert_fail("no group %s", key);
    return NULL;
}

/* Figures of one group or the totals, in delay_cols order. */
static void figures(json_t *g, json_int_t referrals, json_int_t delayed,
                    json_int_t days, json_int_t max, json_int_t discharged,
                    json_int_t on_ready, json_int_t in_hospital,
                    json_int_t delayed_in_hospital)
{
    cr_assert_eq(jint(g, "referrals"), referrals);
    cr_assert_eq(jint(g, "delayed"), delayed);
    cr_assert_eq(jint(g, "bed_days_lost"), days);
    cr_assert_eq(jint(g, "max_delay_days"), max);
    cr_assert_eq(jint(g, "discharged"), discharged);
    cr_assert_eq(jint(g, "discharged_on_ready_date"), on_ready);
    cr_assert_eq(jint(g, "in_hospital"), in_hospital);
    cr_assert_eq(jint(g, "delayed_in_hospital"), delayed_in_hospital);
}

static json_t *delays(const char *from, const char *to, ct_report_by by)
{
    ct_report_period p = period(from, to);
    json_t *rep = NULL;
    CAP_OK(ct_report_delays_json(f.cap, &p, by, &rep, &cap_err));
    return rep;
}

/* ---- delays ------------------------------------------------------------- */

Test(report, delays_totals)
{
    /* Delay days to the end of each wait:
     *   A ready 20th, discharged 23rd      3
     *   B ready 23rd, discharged 23rd      0 (on its ready date)
     *   C ready 18th, waiting on 25th      7
     *   D ready 24th, cancelled 24th       0
     *   E ready 21st, discharged 25th      4
     *   F ready 25th, waiting on 25th      0
     * 14 bed-days; delayed A, C, E; mean 14/3; discharged A, B, E, one
     * of them on the ready date; in hospital C and F, C delayed. */
    json_t *rep = delays(NULL, NULL, CT_REPORT_BY_ORG);
    cr_assert_str_eq(jstr(rep, "report"), "delays");
    cr_assert_eq(jint(rep, "at"), D23 + 2 * DAY_MS + 9 * HOUR_MS);
    cr_assert_str_eq(jstr(rep, "by"), "org");
    cr_assert(json_is_null(get(rep, "period.from")));
    json_t *t = get(rep, "totals");
    figures(t, 6, 3, 14, 7, 3, 1, 2, 1);
    near(jnum(t, "mean_delay_days"), 14.0 / 3.0, "mean");
    near(jnum(t, "share_on_ready_date"), 1.0 / 3.0, "share on DRD");
    json_decref(rep);
}

Test(report, delays_match_the_referral_view)
{
    /* Each referral's delay_days as GET /v1/referrals/{id} shows it. */
    static const int64_t want[] = {3, 0, 7, 0, 4, 0};
    int64_t ids[] = {A, B, C, D, E, F};
    for (size_t i = 0; i < 6; i++) {
        ct_referral r;
        CAP_OK(ct_referral_get(f.cap, ids[i], &r, &cap_err));
        cr_assert_eq(r.delay_days, want[i], "referral %zu: %lld", i,
                     (long long)r.delay_days);
    }
}

Test(report, delays_by_organisation)
{
    /* homes: C 7 + E 4 = 11, C still in; council: A 3; none: B, D, F. */
    json_t *rep = delays(NULL, NULL, CT_REPORT_BY_ORG);
    json_t *groups = get(rep, "groups");
    cr_assert_eq(json_array_size(groups), 3);
    cr_assert_str_eq(jstr(rep, "groups.0.key"), "homes", "largest first");
    cr_assert_str_eq(jstr(rep, "groups.1.key"), "council");
    cr_assert_str_eq(jstr(rep, "groups.2.key"), "none");
    json_t *homes = group(rep, "homes");
    figures(homes, 2, 2, 11, 7, 1, 0, 1, 1);
    cr_assert_str_eq(jstr(homes, "name"), "Homes Ltd");
    near(jnum(homes, "mean_delay_days"), 5.5, "homes mean");
    near(jnum(homes, "share_on_ready_date"), 0.0, "homes share");
    json_t *council = group(rep, "council");
    figures(council, 1, 1, 3, 3, 1, 0, 0, 0);
    cr_assert_str_eq(jstr(council, "name"), "Council");
    json_t *none = group(rep, "none");
    figures(none, 3, 0, 0, 0, 1, 1, 1, 0);
    cr_assert(json_is_null(get(none, "mean_delay_days")));
    near(jnum(none, "share_on_ready_date"), 1.0, "none share");
    json_decref(rep);
}

Test(report, delays_by_reason)
{
    json_t *rep = delays(NULL, NULL, CT_REPORT_BY_REASON);
    cr_assert_eq(json_array_size(get(rep, "groups")), 3);
    json_t *p3 = group(rep, "awaiting_p3_bed");
    figures(p3, 2, 2, 11, 7, 1, 0, 1, 1);
    cr_assert_str_eq(jstr(p3, "name"),
                     "Pathway 3: care home bed not available");
    figures(group(rep, "awaiting_p2_bed"), 1, 1, 3, 3, 1, 0, 0, 0);
    cr_assert_str_eq(jstr(group(rep, "none"), "name"),
                     "No delay reason recorded");
    json_decref(rep);
}

Test(report, delays_by_pathway)
{
    /* P3: B 0 + C 7 + E 4; P2: A 3 + F 0; P1: D 0. */
    json_t *rep = delays(NULL, NULL, CT_REPORT_BY_PATHWAY);
    cr_assert_str_eq(jstr(rep, "groups.0.key"), "P3");
    cr_assert_str_eq(jstr(rep, "groups.1.key"), "P2");
    cr_assert_str_eq(jstr(rep, "groups.2.key"), "P1");
    figures(group(rep, "P3"), 3, 2, 11, 7, 2, 1, 1, 1);
    figures(group(rep, "P2"), 2, 1, 3, 3, 1, 0, 1, 0);
    figures(group(rep, "P1"), 1, 0, 0, 0, 0, 0, 0, 0);
    json_decref(rep);
}

Test(report, delays_in_a_period_of_ready_dates)
{
    /* Ready 20th to 23rd: A (3), B (0), E (4). */
    json_t *rep = delays("2026-11-20", "2026-11-23", CT_REPORT_BY_ORG);
    cr_assert_str_eq(jstr(rep, "period.from"), "2026-11-20");
    cr_assert_str_eq(jstr(rep, "period.to"), "2026-11-23");
    figures(get(rep, "totals"), 3, 2, 7, 4, 3, 1, 0, 0);
    figures(group(rep, "homes"), 1, 1, 4, 4, 1, 0, 0, 0);
    json_decref(rep);
    /* One day: only C was ready on the 18th. */
    rep = delays("2026-11-18", "2026-11-18", CT_REPORT_BY_ORG);
    figures(get(rep, "totals"), 1, 1, 7, 7, 0, 0, 1, 1);
    json_decref(rep);
    /* Open start. */
    rep = delays(NULL, "2026-11-19", CT_REPORT_BY_ORG);
    cr_assert_eq(jint(rep, "totals.referrals"), 1);
    json_decref(rep);
}

Test(report, periods_are_checked)
{
    ct_report_period p;
    char msg[160];
    cr_assert_eq(ct_report_period_parse("2026-02-30", NULL, &p, msg,
                                        sizeof msg),
                 CT_EINVAL);
    cr_assert_str_eq(msg, "from: 2026-02-30 does not exist: February 2026 "
                          "has 28 days");
    cr_assert_eq(ct_report_period_parse("2026-13-01", NULL, &p, msg,
                                        sizeof msg),
                 CT_EINVAL);
    cr_assert_not_null(strstr(msg, "does not exist"), "%s", msg);
    cr_assert_eq(ct_report_period_parse("26-11-01", NULL, &p, msg,
                                        sizeof msg),
                 CT_EINVAL);
    cr_assert_str_eq(msg, "from: '26-11-01' is not a date YYYY-MM-DD");
    cr_assert_eq(ct_report_period_parse(NULL, "2026-11-23T00:00Z", &p, msg,
                                        sizeof msg),
                 CT_EINVAL);
    cr_assert_str_eq(msg, "to: '2026-11-23T00:00Z' is not a date YYYY-MM-DD");
    cr_assert_eq(ct_report_period_parse("2026-11-24", "2026-11-23", &p, msg,
                                        sizeof msg),
                 CT_EINVAL);
    cr_assert_not_null(strstr(msg, "is after"), "%s", msg);
    cr_assert_eq(ct_report_period_parse("", "", &p, msg, sizeof msg), 0);
    cr_assert_eq(p.from_ms, INT64_MIN);
    cr_assert_eq(p.to_ms, INT64_MAX);
    p = period("2026-11-23", "2026-11-23");
    cr_assert_eq(p.from_ms, D23);
    cr_assert_eq(p.to_ms, D23 + DAY_MS, "the whole of the last day");
    cr_assert_eq(ct_report_by_parse("reason"), CT_REPORT_BY_REASON);
    cr_assert_eq(ct_report_by_parse("colour"), -1);
}

/* ---- capacity ----------------------------------------------------------- */

static json_t *facility(json_t *rep, const char *id)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(rep, "facilities"), i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "id")), id) == 0)
            return x;
    }
    cr_assert_fail("no facility %s", id);
    return NULL;
}

static json_t *capacity(const char *from, const char *to)
{
    ct_report_period p = period(from, to);
    json_t *rep = NULL;
    CAP_OK(ct_report_capacity_json(f.cap, &p, &rep, &cap_err));
    return rep;
}

Test(report, capacity_now)
{
    /* Counted beds: rehab 3, home 8, sd 9 + G05 = 10, hc 3: 24. H02
     * blocked: 23 open; H01 occupied (B, never completed). */
    json_t *rep = capacity(NULL, NULL);
    cr_assert_str_eq(jstr(rep, "report"), "capacity");
    json_t *t = get(rep, "totals");
    cr_assert_eq(jint(t, "total"), 24);
    cr_assert_eq(jint(t, "open"), 23);
    cr_assert_eq(jint(t, "occupied"), 1);
    cr_assert_eq(jint(t, "available"), 22);
    cr_assert_eq(jint(t, "surge.open"), 1);
    cr_assert_eq(jint(t, "surge.total"), 3);
    near(jnum(t, "occupancy"), 1.0 / 23.0, "area occupancy");
    near(jnum(t, "surge_share"), 1.0 / 23.0, "area surge share");

    json_t *home = facility(rep, "home");
    cr_assert_eq(jint(home, "totals.open"), 7);
    near(jnum(home, "totals.occupancy"), 1.0 / 7.0, "home occupancy");
    json_t *sd = facility(rep, "sd");
    cr_assert_eq(jint(sd, "totals.total"), 10);
    near(jnum(sd, "totals.surge_share"), 0.1, "sd surge share");
    near(jnum(sd, "zones.0.totals.surge_share"), 1.0 / 6.0,
         "green: G05 of 6");
    near(jnum(facility(rep, "rehab"), "totals.occupancy"), 0.0, "rehab");
    json_decref(rep);
}

Test(report, capacity_data_age)
{
    /* Last changes: rehab W01 freed 24th 16:00 (17h before 25th 09:00);
     * home H02 blocked 23rd 13:00 (44h; H01's occupancy began at
     * 12:00); sd surge opened 23rd 14:00 (43h); home care never. */
    json_t *rep = capacity(NULL, NULL);
    json_t *rehab = facility(rep, "rehab");
    cr_assert_eq(jint(rehab, "last_change"), D23 + DAY_MS + 16 * HOUR_MS);
    near(jnum(rehab, "data_age_hours"), 17.0, "rehab age");
    near(jnum(facility(rep, "home"), "data_age_hours"), 44.0, "home age");
    near(jnum(facility(rep, "sd"), "data_age_hours"), 43.0, "sd age");
    json_t *hc = facility(rep, "hc");
    cr_assert(json_is_null(get(hc, "last_change")));
    cr_assert(json_is_null(get(hc, "data_age_hours")));
    /* Zones too: home-main (H01, H02) 44h; home-memory never changed;
     * sd's green zone never had a bed change of its own (the surge was
     * opened for the facility). */
    near(jnum(facility(rep, "home"), "zones.0.data_age_hours"), 44.0,
         "home-main age");
    cr_assert(json_is_null(get(facility(rep, "home"), "zones.1.last_change")));
    /* Providers: homes (home) changed 44h ago; council (sd, rehab, hc)
     * 17h ago, its newest facility. Stalest first. */
    cr_assert_str_eq(jstr(rep, "providers.0.org"), "homes");
    cr_assert_str_eq(jstr(rep, "providers.0.name"), "Homes Ltd");
    near(jnum(rep, "providers.0.data_age_hours"), 44.0, "homes age");
    cr_assert_str_eq(jstr(rep, "providers.1.org"), "council");
    near(jnum(rep, "providers.1.data_age_hours"), 17.0, "council age");
    cr_assert_eq(json_array_size(get(rep, "providers.1.facilities")), 3);
    /* With a day's interval, homes is named; with 12h both are. */
    cr_assert_eq(ct_report_capacity_flag_stale(rep, DAY_MS), 0);
    cr_assert(json_is_true(get(rep, "providers.0.stale")));
    cr_assert(json_is_false(get(rep, "providers.1.stale")));
    cr_assert_eq(json_array_size(get(rep, "stale_providers")), 1);
    cr_assert_str_eq(jstr(rep, "stale_providers.0"), "Homes Ltd");
    near(jnum(rep, "stale_after_hours"), 24.0, "interval");
    cr_assert_eq(ct_report_capacity_flag_stale(rep, 12 * HOUR_MS), 0);
    cr_assert_eq(json_array_size(get(rep, "stale_providers")), 2);
    json_decref(rep);
}

Test(report, capacity_cohorts)
{
    /* covid: red positive (R01-R04); green (6 with G05) and home-main
     * (6; H01 occupied, H02 blocked) negative; memory, ward, north open.
     * norovirus: home-main negative, the other five zones open. */
    json_t *rep = capacity(NULL, NULL);
    json_t *c = get(rep, "cohorts");
    cr_assert_eq(jint(c, "covid.positive.zones"), 1);
    cr_assert_eq(jint(c, "covid.positive.total"), 4);
    cr_assert_eq(jint(c, "covid.negative.zones"), 2);
    cr_assert_eq(jint(c, "covid.negative.total"), 12);
    cr_assert_eq(jint(c, "covid.negative.available"), 10);
    cr_assert_eq(jint(c, "covid.negative.occupied"), 1);
    cr_assert_eq(jint(c, "covid.open.zones"), 3);
    cr_assert_eq(jint(c, "covid.open.total"), 8);
    cr_assert_eq(jint(c, "norovirus.negative.total"), 6);
    cr_assert_eq(jint(c, "norovirus.open.zones"), 5);
    cr_assert_eq(jint(c, "norovirus.open.total"), 18);
    cr_assert_eq(jint(c, "flu.open.zones"), 6);
    cr_assert_eq(jint(c, "flu.open.available"), 22);
    json_decref(rep);
}

/* The value at sample k of a series at path. */
static json_int_t sample(json_t *rep, const char *path, size_t k)
{
    json_t *a = get(rep, path);
    cr_assert(json_is_array(a), "%s", path);
    json_t *v = json_array_get(a, k);
    cr_assert(json_is_integer(v), "%s[%zu]", path, k);
    return json_integer_value(v);
}

static json_t *fac_series(json_t *rep, const char *id)
{
    size_t i;
    json_t *x;
    json_array_foreach(get(rep, "history.facilities"), i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "id")), id) == 0)
            return x;
    }
    cr_assert_fail("no series for %s", id);
    return NULL;
}

Test(report, occupancy_history)
{
    /* The 23rd: hourly samples 00:00 .. 23:00 and the end, 24th 00:00. */
    json_t *rep = capacity("2026-11-23", "2026-11-23");
    cr_assert_eq(jint(rep, "history.step_ms"), HOUR_MS);
    json_t *times = get(rep, "history.at");
    cr_assert_eq(json_array_size(times), 25);
    cr_assert_eq(jint(rep, "history.at.0"), D23);
    cr_assert_eq(jint(rep, "history.at.24"), D23 + DAY_MS);

    /* rehab: W01 occupied from 10:00 (held 09:30-10:00, between two
     * samples, so never seen held). */
    json_t *rehab = fac_series(rep, "rehab");
    for (size_t k = 0; k < 25; k++) {
        cr_assert_eq(sample(rehab, "occupied", k), k >= 10 ? 1 : 0,
                     "rehab at %zu", k);
        cr_assert_eq(sample(rehab, "held", k), 0);
        cr_assert_eq(sample(rehab, "open", k), 3);
    }
    /* home: H01 held 11:00-12:00, occupied from 12:00; H02 blocked from
     * 13:00, so 8 open before and 7 from then. */
    json_t *home = fac_series(rep, "home");
    for (size_t k = 0; k < 25; k++) {
        cr_assert_eq(sample(home, "held", k), k == 11 ? 1 : 0, "held %zu",
                     k);
        cr_assert_eq(sample(home, "occupied", k), k >= 12 ? 1 : 0,
                     "occupied %zu", k);
        cr_assert_eq(sample(home, "open", k), k >= 13 ? 7 : 8, "open %zu",
                     k);
    }
    /* sd: 9 open until the surge bed at 14:00, then 10. */
    json_t *sd = fac_series(rep, "sd");
    for (size_t k = 0; k < 25; k++)
        cr_assert_eq(sample(sd, "open", k), k >= 14 ? 10 : 9, "sd %zu", k);
    /* The area: 09:00 nothing; 11:00 one occupied, one held, 23 open;
     * 13:00 22 open (H02 blocked, surge not yet open), two occupied;
     * the end 23 open, two occupied. */
    cr_assert_eq(sample(rep, "history.area.occupied", 9), 0);
    cr_assert_eq(sample(rep, "history.area.open", 9), 23);
    cr_assert_eq(sample(rep, "history.area.occupied", 11), 1);
    cr_assert_eq(sample(rep, "history.area.held", 11), 1);
    cr_assert_eq(sample(rep, "history.area.open", 13), 22);
    cr_assert_eq(sample(rep, "history.area.occupied", 13), 2);
    cr_assert_eq(sample(rep, "history.area.open", 24), 23);
    cr_assert_eq(sample(rep, "history.area.occupied", 24), 2);
    json_decref(rep);
}

Test(report, occupancy_history_ends_now)
{
    /* Open period: the last 7 days from the hour, every hour, the last
     * sample now (25th 09:00): W01 freed, H01 still occupied. */
    json_t *rep = capacity(NULL, NULL);
    json_t *times = get(rep, "history.at");
    size_t n = json_array_size(times);
    cr_assert_eq(jint(rep, "history.at.0"), D23 + 2 * DAY_MS + 9 * HOUR_MS -
                                                7 * DAY_MS);
    cr_assert_eq(json_integer_value(json_array_get(times, n - 1)),
                 D23 + 2 * DAY_MS + 9 * HOUR_MS);
    cr_assert_eq(sample(rep, "history.area.occupied", n - 1),
                 jint(rep, "totals.occupied"), "the end is now");
    cr_assert_eq(sample(rep, "history.area.open", n - 1),
                 jint(rep, "totals.open"));
    /* A week ago, before the dataset began: nothing held or occupied;
     * sd's surge bed closed and H02 not blocked: 9 + 8 + 3 + 3 = 23. */
    cr_assert_eq(sample(rep, "history.area.occupied", 0), 0);
    cr_assert_eq(sample(rep, "history.area.open", 0), 23);
    json_decref(rep);
}

/* ---- escalation ---------------------------------------------------------- */

static json_t *escalation(const char *from, const char *to)
{
    ct_report_period p = period(from, to);
    json_t *rep = NULL;
    CAP_OK(ct_report_escalation_json(f.cap, &p, &rep, &cap_err));
    return rep;
}

Test(report, escalation_time_at_each_level)
{
    /* 23rd 00:00 to 25th 00:00 (48h): level 1 until 12:00 (12h) and
     * from 24th 18:00 (6h) = 18h; level 2 12:00-24:00 = 12h; level 3
     * 24th 00:00-18:00 = 18h. */
    json_t *rep = escalation("2026-11-23", "2026-11-24");
    cr_assert_eq(jint(rep, "period.start"), D23);
    cr_assert_eq(jint(rep, "period.end"), D23 + 2 * DAY_MS);
    cr_assert_eq(jint(rep, "levels.0.ms"), 18 * HOUR_MS);
    cr_assert_eq(jint(rep, "levels.1.ms"), 12 * HOUR_MS);
    cr_assert_eq(jint(rep, "levels.2.ms"), 18 * HOUR_MS);
    cr_assert_eq(jint(rep, "levels.3.ms"), 0);
    near(jnum(rep, "levels.0.share"), 0.375, "share at 1");
    near(jnum(rep, "levels.1.share"), 0.25, "share at 2");
    near(jnum(rep, "levels.2.hours"), 18.0, "hours at 3");
    cr_assert_eq(jint(rep, "level_at_start"), 1);
    cr_assert_eq(json_array_size(get(rep, "changes")), 3);
    cr_assert_eq(jint(rep, "changes.0.from"), 1);
    cr_assert_eq(jint(rep, "changes.0.to"), 2);
    cr_assert_str_eq(jstr(rep, "changes.1.reason"), "NCTR above 15%");
    cr_assert_eq(jint(rep, "current.level"), 1);
    cr_assert_eq(jint(rep, "current.since"), D23 + DAY_MS + 18 * HOUR_MS);
    cr_assert_str_eq(jstr(rep, "current.reason"), "pressure eased");
    /* open_surge twice, alert once, by the plugin. */
    cr_assert_eq(json_array_size(get(rep, "actions")), 2);
    cr_assert_str_eq(jstr(rep, "actions.0.action"), "open_surge");
    cr_assert_str_eq(jstr(rep, "actions.0.plugin"), "winter_surge");
    cr_assert_eq(jint(rep, "actions.0.count"), 2);
    cr_assert_str_eq(jstr(rep, "actions.1.action"), "alert");
    cr_assert_eq(jint(rep, "actions.1.count"), 1);
    json_decref(rep);
}

Test(report, escalation_level_in_force_at_the_start)
{
    /* The 24th: level 3 from its first instant (the change at 00:00 is
     * before the period, not in it) until 18:00, then 1. */
    json_t *rep = escalation("2026-11-24", "2026-11-24");
    cr_assert_eq(jint(rep, "level_at_start"), 3);
    cr_assert_eq(json_array_size(get(rep, "changes")), 1);
    cr_assert_eq(jint(rep, "levels.2.ms"), 18 * HOUR_MS);
    cr_assert_eq(jint(rep, "levels.0.ms"), 6 * HOUR_MS);
    cr_assert_eq(jint(rep, "levels.1.ms"), 0);
    json_decref(rep);
    /* Open: from the first event (23rd 08:00) to now (25th 09:00), 49h:
     * level 1 4h + 15h = 19h. */
    rep = escalation(NULL, NULL);
    cr_assert_eq(jint(rep, "period.start"), D23 + 8 * HOUR_MS);
    cr_assert_eq(jint(rep, "levels.0.ms"), 19 * HOUR_MS);
    cr_assert_eq(jint(rep, "levels.1.ms"), 12 * HOUR_MS);
    cr_assert_eq(jint(rep, "levels.2.ms"), 18 * HOUR_MS);
    json_decref(rep);
    /* A period after which the level changed: current is still now's. */
    rep = escalation("2026-11-23", "2026-11-23");
    cr_assert_eq(json_array_size(get(rep, "changes")), 1);
    cr_assert_eq(jint(rep, "current.level"), 1);
    cr_assert_eq(jint(rep, "levels.1.ms"), 12 * HOUR_MS);
    json_decref(rep);
}

/* ---- decisions ----------------------------------------------------------- */

Test(report, decisions_newest_first)
{
    json_t *rep = NULL;
    CAP_OK(ct_report_decisions_json(f.cap, 10, &rep, &cap_err));
    cr_assert_eq(json_array_size(get(rep, "decisions")), 0, "none yet");
    json_decref(rep);
    /* Two new referrals decided by the host's defaults. */
    int64_t e = referral(7, "2026-11-25", -1);
    int64_t g = referral(8, "2026-11-25", -1);
    json_t *d1 = NULL, *d2 = NULL;
    CAP_OK(ct_pipeline_decide(f.cap, NULL, e, "hub", &d1, &cap_err));
    CAP_OK(ct_pipeline_decide(f.cap, NULL, g, "hub", &d2, &cap_err));
    CAP_OK(ct_report_decisions_json(f.cap, 10, &rep, &cap_err));
    cr_assert_eq(json_array_size(get(rep, "decisions")), 2);
    cr_assert_eq(jint(rep, "decisions.0.referral"), g);
    cr_assert_eq(jint(rep, "decisions.1.referral"), e);
    cr_assert(json_equal(get(rep, "decisions.1.decision"), d1));
    cr_assert(json_equal(get(rep, "decisions.0.decision"), d2));
    cr_assert(json_is_array(get(rep, "decisions.1.decision.trace")));
    json_decref(rep);
    CAP_OK(ct_report_decisions_json(f.cap, 1, &rep, &cap_err));
    cr_assert_eq(json_array_size(get(rep, "decisions")), 1);
    json_decref(rep);
    cr_assert_eq(ct_report_decisions_json(f.cap, 0, &rep, &cap_err),
                 CT_EINVAL);
    json_decref(d1);
    json_decref(d2);
}

/* ---- an empty area -------------------------------------------------------- */

static void empty_open(void) { cap_fx_open(&f, NULL); }

TestSuite(report_empty, .init = empty_open, .fini = teardown);

Test(report_empty, every_report_on_no_data)
{
    ct_report_period p = period(NULL, NULL);
    json_t *rep = NULL;
    CAP_OK(ct_report_delays_json(f.cap, &p, CT_REPORT_BY_REASON, &rep,
                                 &cap_err));
    cr_assert_eq(jint(rep, "totals.referrals"), 0);
    cr_assert(json_is_null(get(rep, "totals.share_on_ready_date")));
    cr_assert_eq(json_array_size(get(rep, "groups")), 0);
    json_decref(rep);
    CAP_OK(ct_report_capacity_json(f.cap, &p, &rep, &cap_err));
    cr_assert_eq(jint(rep, "totals.total"), 23);
    size_t n = json_array_size(get(rep, "history.at"));
    cr_assert_eq(sample(rep, "history.area.open", n - 1), 23);
    json_decref(rep);
    /* No event yet: an empty period, level 1, no share to speak of. */
    CAP_OK(ct_report_escalation_json(f.cap, &p, &rep, &cap_err));
    cr_assert_eq(jint(rep, "current.level"), 1);
    cr_assert_eq(jint(rep, "levels.0.ms"), 0);
    cr_assert(json_is_null(get(rep, "levels.0.share")));
    json_decref(rep);
    CAP_OK(ct_report_decisions_json(f.cap, 100, &rep, &cap_err));
    cr_assert_eq(json_array_size(get(rep, "decisions")), 0);
    json_decref(rep);
}

/* The reports' event queries use the partial index of capacity events
 * (migration 6): a query that stopped repeating its WHERE would scan every
 * event of the winter. */
Test(report_empty, event_queries_use_the_capacity_index)
{
    static const char *const sql[] = {
#define X(name, text) text,
        CT_STMTS_REPORT(X)
#undef X
    };
    int using = 0;
    for (size_t i = 0; i < CT_ARRAY_LEN(sql); i++) {
        if (!strstr(sql[i], CT_SQL_CAPACITY_EVENT))
            continue;
        ct_buf b = {0};
        ct_buf_printf(&b, "EXPLAIN QUERY PLAN %s", sql[i]);
        const char *q = b.data;
        sqlite3_stmt *st = NULL;
        cr_assert_eq(sqlite3_prepare_v2(ct_store__db(f.store), q, -1, &st,
                                        NULL),
                     SQLITE_OK, "%s", q);
        bool found = false;
        while (sqlite3_step(st) == SQLITE_ROW)
            found |= strstr((const char *)sqlite3_column_text(st, 3),
                            "event_capacity_by_kind") != NULL;
        sqlite3_finalize(st);
        cr_assert(found, "not on the index: %s", sql[i]);
        ct_buf_free(&b);
        using++;
    }
    cr_assert_eq(using, 3); /* open changes, facility and zone events */
}

/* ---- delay episodes (issue 22, finding 6) ------------------------------ */

static void episodes_open(void) { cap_fx_open(&f, NULL); }
TestSuite(report_episodes, .init = episodes_open, .fini = teardown);

/* A care-home bed delay, then a home-care one: each organisation gets the
 * days it was responsible for, the totals count every day once, and a
 * person counts in each group they have days in. */
Test(report_episodes, bed_days_split_between_episodes)
{
    int64_t id = referral(1, "2026-11-18", CT_PATHWAY_P3);
    ct_delay_input homes = {"awaiting_p3_bed", "P3 bed", "homes",
                            "2026-11-18"};
    ct_delay_input council = {"awaiting_p1_care", "P1 care", "council",
                              "2026-11-21"};
    CAP_OK(ct_delay_start(f.cap, id, &homes, "hub", NULL, &cap_err));
    CAP_OK(ct_delay_start(f.cap, id, &council, "hub", NULL, &cap_err));
    ct_clock_advance(f.clock, 2 * DAY_MS); /* the 25th: 7 delay days */
    json_t *rep = delays(NULL, NULL, CT_REPORT_BY_ORG);
    cr_assert_eq(jint(rep, "totals.bed_days_lost"), 7);
    cr_assert_eq(jint(rep, "totals.referrals"), 1);
    figures(group(rep, "homes"), 1, 1, 3, 3, 0, 0, 1, 1);
    figures(group(rep, "council"), 1, 1, 4, 4, 0, 0, 1, 1);
    json_decref(rep);
    rep = delays(NULL, NULL, CT_REPORT_BY_REASON);
    cr_assert_eq(jint(group(rep, "awaiting_p3_bed"), "bed_days_lost"), 3);
    cr_assert_str_eq(jstr(group(rep, "awaiting_p1_care"), "name"),
                     "P1 care");
    json_decref(rep);
    /* The metrics split them the same way. */
    json_t *m = NULL;
    CAP_OK(ct_metrics_json(f.cap, &m, &cap_err));
    cr_assert_eq(jint(m, "bed_days_lost.total"), 7);
    cr_assert_eq(jint(m, "bed_days_lost.by_org.homes"), 3);
    cr_assert_eq(jint(m, "bed_days_lost.by_org.council"), 4);
    json_decref(m);
}

/* A delay recorded late leaves the days before it unattributed. */
Test(report_episodes, days_before_the_first_episode_are_none)
{
    int64_t id = referral(1, "2026-11-20", CT_PATHWAY_P3);
    ct_delay_input homes = {"awaiting_p3_bed", NULL, "homes", "2026-11-22"};
    CAP_OK(ct_delay_start(f.cap, id, &homes, "hub", NULL, &cap_err));
    json_t *rep = delays(NULL, NULL, CT_REPORT_BY_ORG);
    cr_assert_eq(jint(rep, "totals.bed_days_lost"), 3);
    cr_assert_eq(jint(group(rep, "none"), "bed_days_lost"), 2);
    cr_assert_eq(jint(group(rep, "homes"), "bed_days_lost"), 1);
    json_decref(rep);
}
