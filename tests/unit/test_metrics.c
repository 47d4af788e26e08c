/* Metrics (host/metrics.c). */
#include "capacity_fixture.h"
#include "isolation.h"
#include "metrics.h"
#include "referral.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cap_fx f;
static char nhs[6][11];

static void setup(void)
{
    cap_fx_open(&f, NULL);
    for (unsigned i = 0; i < 6; i++)
        cap_fx_nhs(i, nhs[i]);
}
static void teardown(void) { cap_fx_close(&f); }

TestSuite(metrics, .init = setup, .fini = teardown);

static json_int_t jint(json_t *o, const char *path)
{
    /* "a.b.c" */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = o;
    for (char *k = strtok(buf, "."); k; k = strtok(NULL, "."))
        v = json_object_get(v, k);
    cr_assert(json_is_integer(v), "%s is not an integer", path);
    return json_integer_value(v);
}

static json_t *metrics(void)
{
    json_t *m = NULL;
    CAP_OK(ct_metrics_json(f.cap, &m, &cap_err));
    return m;
}

Test(metrics, empty_area)
{
    ct_metrics m;
    CAP_OK(ct_metrics_collect(f.cap, &m, &cap_err));
    cr_assert_eq(m.at, CAP_FX_START);
    cr_assert_eq(m.beds.total, 23, "26 beds, 3 closed surge beds");
    cr_assert_eq(m.beds.available, 23);
    cr_assert_eq(m.beds.open, 23);
    cr_assert_eq(m.beds.surge_open, 0);
    cr_assert_eq(m.surge_share, 0.0);
    cr_assert_eq(m.by_kind[CT_FACILITY_STEP_DOWN].total, 9);
    cr_assert_eq(m.by_kind[CT_FACILITY_CARE_HOME].total, 8);
    cr_assert_eq(m.by_kind[CT_FACILITY_REHAB].total, 3);
    cr_assert_eq(m.by_kind[CT_FACILITY_HOME_CARE].total, 3);
    cr_assert_eq(m.by_kind[CT_FACILITY_ACUTE].total, 0);
    cr_assert_eq(m.waiting, 0);
    cr_assert_eq(m.nctr, 0);
    cr_assert_eq(m.bed_days_lost, 0);
}

Test(metrics, beds_and_cohorts)
{
    int64_t a = cap_fx_referral(&f, nhs[0], "2026-11-23", CT_PATHWAY_P3,
                                NULL);
    int64_t b = cap_fx_referral(&f, nhs[1], "2026-11-23", CT_PATHWAY_P3,
                                NULL);
    CAP_OK(ct_capacity_hold(f.cap, a, "H01", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, b, "H02", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_confirm(f.cap, b, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_block(f.cap, "W01", "repairs", "a", &cap_err));
    CAP_OK(ct_capacity_surge_open(f.cap, "sd", 1, "a", NULL, &cap_err));

    ct_metrics m;
    CAP_OK(ct_metrics_collect(f.cap, &m, &cap_err));
    cr_assert_eq(m.beds.total, 24);
    cr_assert_eq(m.beds.available, 21);
    cr_assert_eq(m.beds.held, 1);
    cr_assert_eq(m.beds.occupied, 1);
    cr_assert_eq(m.beds.blocked, 1);
    cr_assert_eq(m.beds.open, 23);
    cr_assert_eq(m.beds.surge_open, 1);
    cr_assert(fabs(m.surge_share - 1.0 / 23) < 1e-12);
    cr_assert(fabs(m.occupancy - 1.0 / 23) < 1e-12);
    cr_assert_eq(m.by_kind[CT_FACILITY_CARE_HOME].held, 1);
    cr_assert_eq(m.by_kind[CT_FACILITY_REHAB].blocked, 1);
    cr_assert_eq(m.by_kind[CT_FACILITY_STEP_DOWN].surge_open, 1);

    json_t *j = metrics();
    cr_assert_eq(jint(j, "beds.total"), 24);
    cr_assert_eq(jint(j, "by_kind.care_home.occupied"), 1);
    cr_assert_null(json_object_get(json_object_get(j, "by_kind"), "acute"));
    json_t *zones = json_object_get(j, "by_zone");
    cr_assert_eq(json_array_size(zones), 6);
    json_t *z = json_array_get(zones, 1); /* sorted: green, hc..., */
    size_t i;
    json_array_foreach(zones, i, z)
    {
        if (strcmp(json_string_value(json_object_get(z, "zone")),
                   "home-main") == 0)
            break;
    }
    cr_assert_not_null(z);
    cr_assert_eq(jint(z, "total"), 6);
    cr_assert_eq(jint(z, "held"), 1);
    cr_assert_eq(jint(z, "occupied"), 1);
    cr_assert_str_eq(json_string_value(json_object_get(z, "kind")),
                     "care_home");
    cr_assert(json_is_false(json_object_get(z, "closed")));
    /* Admittable beds by cohort, per pathogen. */
    cr_assert_eq(jint(j, "available_by_cohort.covid.positive"), 4);
    cr_assert_eq(jint(j, "available_by_cohort.covid.negative"), 10);
    cr_assert_eq(jint(j, "available_by_cohort.covid.open"), 7);
    cr_assert_eq(jint(j, "available_by_cohort.norovirus.negative"), 4);
    cr_assert_eq(jint(j, "available_by_cohort.norovirus.open"), 17);
    cr_assert_eq(jint(j, "available_by_cohort.flu.open"), 21,
                 "configured pathogens appear even without cohorts");
    json_decref(j);

    CAP_OK(ct_isolation_close_zone(f.cap, "home-memory", "flu", "a", NULL,
                                   &cap_err));
    j = metrics();
    cr_assert_eq(jint(j, "available_by_cohort.covid.open"), 5,
                 "a closed zone admits nobody");
    /* Issue 22, finding 5: its two free beds are closed, neither
     * available nor open. */
    cr_assert_eq(jint(j, "beds.available"), 19);
    cr_assert_eq(jint(j, "beds.closed"), 2);
    cr_assert_eq(jint(j, "beds.open"),
                 jint(j, "beds.total") - jint(j, "beds.blocked") - 2);
    json_decref(j);
}

Test(metrics, waiting_nctr_and_delays)
{
    int64_t a = cap_fx_referral(&f, nhs[0], "2026-11-23", CT_PATHWAY_P3,
                                NULL);
    int64_t b = cap_fx_referral(&f, nhs[1], "2026-11-23", CT_PATHWAY_P3,
                                NULL);
    CAP_OK(ct_capacity_hold(f.cap, a, "H01", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, b, "H02", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_confirm(f.cap, b, "a", NULL, &cap_err));
    ct_referral_input in = {.nhs_number = nhs[2],
                            .age = -1,
                            .from_org = "acute",
                            .ready_date = "2026-11-20",
                            .requested_pathway = CT_PATHWAY_P1};
    int64_t c;
    CAP_OK(ct_referral_create(f.cap, &in, "a", &c, &cap_err));
    int64_t d = cap_fx_referral(&f, nhs[3], "2026-11-23", CT_PATHWAY_P2,
                                NULL);
    CAP_OK(ct_referral_queue(f.cap, d, "a", &cap_err));
    /* Keep the hold alive over the two days. */
    ct_clock_advance(f.clock, 2 * DAY_MS);
    cap_fx_referral(&f, nhs[4], "2026-11-30", CT_PATHWAY_P3, NULL);
    /* Now 2026-11-25 08:00; a's hold expired after 4h: it waits again. */

    ct_metrics m;
    CAP_OK(ct_metrics_collect(f.cap, &m, &cap_err));
    cr_assert_eq(m.waiting, 4, "a (expired hold), c, d, e");
    cr_assert_eq(m.nctr, 4, "a, b, c, d: ready by today, not discharged");
    cr_assert_eq(m.delayed, 4);
    cr_assert_eq(m.bed_days_lost, 2 + 2 + 5 + 2);
    cr_assert_eq(m.bed_days_lost_open, 11);

    json_t *j = metrics();
    cr_assert_eq(jint(j, "waiting.total"), 4);
    /* Waits count from the discharge ready date, not the referral: c
     * was referred 2 days ago but has been ready since 2026-11-20, 5 days
     * ago; e is not ready until 2026-11-30. */
    cr_assert_eq(jint(j, "waiting.by_pathway.P1.total"), 1);
    cr_assert_eq(jint(j, "waiting.by_pathway.P1.3-7d"), 1);
    cr_assert_eq(jint(j, "waiting.by_pathway.P1.1-3d"), 0);
    cr_assert_eq(jint(j, "waiting.by_pathway.P2.1-3d"), 1);
    cr_assert_eq(jint(j, "waiting.by_pathway.P3.total"), 2);
    cr_assert_eq(jint(j, "waiting.by_pathway.P3.<1d"), 1);
    cr_assert_eq(jint(j, "waiting.by_pathway.P3.1-3d"), 1);
    cr_assert(fabs(json_real_value(json_object_get(
                       json_object_get(json_object_get(
                                           json_object_get(j, "waiting"),
                                           "by_pathway"),
                                       "P1"),
                       "oldest_days")) -
                   5.0) < 1e-9);
    json_decref(j);

    /* b leaves hospital: its delay stops at 2 days. */
    CAP_OK(ct_referral_discharge(f.cap, b, "a", &cap_err));
    CAP_OK(ct_referral_set_delay(f.cap, c, "awaiting_p1_care", "council", "a",
                                 &cap_err));
    ct_clock_advance(f.clock, DAY_MS);
    CAP_OK(ct_metrics_collect(f.cap, &m, &cap_err));
    cr_assert_eq(m.nctr, 3);
    cr_assert_eq(m.bed_days_lost, 3 + 2 + 6 + 3);
    cr_assert_eq(m.bed_days_lost_open, 12);
    j = metrics();
    cr_assert_eq(jint(j, "nctr"), 3);
    cr_assert_eq(jint(j, "bed_days_lost.total"), 14);
    cr_assert_eq(jint(j, "bed_days_lost.by_reason.awaiting_p1_care"), 6);
    cr_assert_eq(jint(j, "bed_days_lost.by_reason.none"), 8);
    cr_assert_eq(jint(j, "bed_days_lost.by_org.council"), 6);
    json_decref(j);

    /* Metrics equal a recount from the rows. */
    cr_assert_eq(m.waiting,
                 cap_fx_int(&f, "SELECT count(*) FROM referral WHERE state "
                                "IN ('received','triaged','waiting')",
                            NULL));
}

/* Issue 22 finding 8: a P0 person going home needs no bed; waiting for
 * transport is not waiting for capacity, so escalation does not count
 * them. They are still NCTR (in a hospital bed past their ready date). */
Test(metrics, p0_is_not_waiting_for_capacity)
{
    int64_t home = cap_fx_referral(&f, nhs[0], "2026-11-22", CT_PATHWAY_P0,
                                   NULL);
    CAP_OK(ct_referral_triage(f.cap, home, CT_PATHWAY_P0, 0, "home", "a",
                              &cap_err));
    cap_fx_referral(&f, nhs[1], "2026-11-22", CT_PATHWAY_P1, NULL);
    ct_metrics m;
    CAP_OK(ct_metrics_collect(f.cap, &m, &cap_err));
    cr_assert_eq(m.waiting, 1, "only the P1");
    cr_assert_eq(m.nctr, 2, "both are past their ready date in hospital");
}

/* Issue 20: metrics leave out waits that ended before 23:00 UTC of their
 * ready date (no day lost, in GMT or BST). A discharge at 23:30 UTC in
 * summer is 00:30 BST the next UK day: one day lost, which a cut at
 * midnight UTC would have dropped. */
Test(metrics, wait_ending_after_bst_midnight_loses_a_day)
{
    int64_t a = cap_fx_referral(&f, nhs[0], "2027-06-15", CT_PATHWAY_P3,
                                NULL);
    int64_t b = cap_fx_referral(&f, nhs[1], "2027-06-15", CT_PATHWAY_P3,
                                NULL);
    CAP_OK(ct_capacity_hold(f.cap, a, "H01", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_confirm(f.cap, a, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, b, "H02", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_confirm(f.cap, b, "a", NULL, &cap_err));
    /* 2027-06-15 22:30 UTC (23:30 BST): b leaves on its ready date. */
    cr_assert(ct_clock_advance_to(f.clock, 1813102200000LL - HOUR_MS) >= 0);
    CAP_OK(ct_referral_discharge(f.cap, b, "a", &cap_err));
    /* 23:30 UTC, 00:30 BST on the 16th: a leaves a day late. */
    cr_assert(ct_clock_advance_to(f.clock, 1813102200000LL) >= 0);
    CAP_OK(ct_referral_discharge(f.cap, a, "a", &cap_err));
    ct_clock_advance(f.clock, 3 * DAY_MS);
    ct_metrics m;
    CAP_OK(ct_metrics_collect(f.cap, &m, &cap_err));
    cr_assert_eq(m.bed_days_lost, 1, "a's one day; b lost none");
    cr_assert_eq(m.bed_days_lost_open, 0);
    json_t *j = metrics();
    cr_assert_eq(jint(j, "bed_days_lost.total"), 1);
    cr_assert_eq(jint(j, "bed_days_lost.by_reason.none"), 1);
    json_decref(j);
}

static void exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "");
    sqlite3_free(msg);
}

/* Issue 20: the last answer is kept while no row changes the same UK
 * day; each way it could go stale must work it out again. */
Test(metrics, kept_answer_follows_every_change)
{
    int64_t a = cap_fx_referral(&f, nhs[0], "2026-11-22", CT_PATHWAY_P3,
                                NULL);
    json_t *j = metrics();
    cr_assert_eq(jint(j, "at"), CAP_FX_START);
    cr_assert_eq(jint(j, "beds.held"), 0);
    cr_assert_eq(jint(j, "bed_days_lost.total"), 1);
    json_decref(j);

    /* The same answer later the same day, with the new time. */
    ct_clock_advance(f.clock, HOUR_MS);
    j = metrics();
    cr_assert_eq(jint(j, "at"), CAP_FX_START + HOUR_MS);
    cr_assert_eq(jint(j, "bed_days_lost.total"), 1);
    json_decref(j);

    /* A change through the host. */
    CAP_OK(ct_capacity_hold(f.cap, a, "H01", 0, "a", NULL, &cap_err));
    j = metrics();
    cr_assert_eq(jint(j, "beds.held"), 1);
    json_decref(j);

    /* A change written to the rows directly on the same connection (the
     * delays are read from the rows). */
    exec_sql(ct_store__db(f.store),
             "UPDATE referral SET ready_date = '2026-11-20'");
    j = metrics();
    cr_assert_eq(jint(j, "bed_days_lost.total"), 3);
    json_decref(j);

    /* A change rolled back: the answer is the rows' again. */
    exec_sql(ct_store__db(f.store),
             "BEGIN; UPDATE referral SET ready_date = '2026-11-10';"
             " ROLLBACK");
    j = metrics();
    cr_assert_eq(jint(j, "bed_days_lost.total"), 3);
    json_decref(j);

    /* A new UK day with no row changed: one more day lost. */
    cr_assert(ct_clock_advance_to(f.clock, 1795478340000LL) >= 0); /* 23:59 */
    j = metrics();
    cr_assert_eq(jint(j, "bed_days_lost.total"), 3);
    json_decref(j);
    ct_clock_advance(f.clock, 2 * 60000);
    j = metrics();
    cr_assert_eq(jint(j, "bed_days_lost.total"), 4);
    json_decref(j);
}

/* Another connection's commit (the daemon's readers share the database)
 * is a change the kept answer must not hide. */
Test(metrics_file, kept_answer_sees_another_connections_commit)
{
    char path[] = "/tmp/ct_metrics_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    cap_fx g;
    cap_fx_open_path(&g, NULL, path, CT_SYNC_NORMAL);
    json_t *m = NULL;
    CAP_OK(ct_metrics_json(g.cap, &m, &cap_err));
    cr_assert_eq(jint(m, "beds.blocked"), 0);
    json_decref(m);
    sqlite3 *other;
    cr_assert_eq(sqlite3_open(path, &other), SQLITE_OK);
    sqlite3_busy_timeout(other, 5000);
    exec_sql(other, "UPDATE bed SET status = 'blocked',"
                    " blocked_reason = 'leak' WHERE id = 'W01'");
    sqlite3_close(other);
    CAP_OK(ct_metrics_json(g.cap, &m, &cap_err));
    cr_assert_eq(jint(m, "beds.blocked"), 1);
    json_decref(m);
    cap_fx_close(&g);
    unlink(path);
    char side[sizeof path + 8];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}
