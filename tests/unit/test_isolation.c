/* Infection status, the segregation rule, cohorts, closure and isolation
 * ends (host/isolation.c). */
#include "capacity_fixture.h"
#include "isolation.h"
#include "referral.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static cap_fx f;
static char nhs[6][11];

static void setup(void)
{
    cap_fx_open(&f, NULL);
    for (unsigned i = 0; i < 6; i++)
        cap_fx_nhs(i, nhs[i]);
}
static void teardown(void) { cap_fx_close(&f); }

TestSuite(isolation, .init = setup, .fini = teardown);

static const char *bed_status(const char *bed)
{
    static char s[16];
    char *t = cap_fx_text(&f, "SELECT status FROM bed WHERE id = ?1", bed);
    snprintf(s, sizeof s, "%s", t);
    free(t);
    return s;
}

/* A step-down referral for person i (no needs). */
static int64_t referral(unsigned i)
{
    return cap_fx_referral(&f, nhs[i], "2026-11-23", CT_PATHWAY_STEP_DOWN,
                           NULL);
}

/* ---- the rule -------------------------------------------------------- */

Test(isolation, rule_truth_table)
{
    const int64_t now = 1000, future = 2000, past = 500;
    enum { NONE = -1 };
    struct {
        ct_cohort cohort;
        int status;
        int64_t end;
        bool room;
        bool want;
    } cases[] = {
        /* open takes anyone */
        {CT_COHORT_OPEN, CT_INFECTION_POSITIVE, future, false, true},
        {CT_COHORT_OPEN, CT_INFECTION_AWAITING, INT64_MAX, false, true},
        {CT_COHORT_OPEN, NONE, INT64_MAX, false, true},
        /* negative refuses anyone isolating */
        {CT_COHORT_NEGATIVE, CT_INFECTION_POSITIVE, future, false, false},
        {CT_COHORT_NEGATIVE, CT_INFECTION_POSITIVE, INT64_MAX, false, false},
        {CT_COHORT_NEGATIVE, CT_INFECTION_AWAITING, INT64_MAX, false, false},
        {CT_COHORT_NEGATIVE, CT_INFECTION_POSITIVE, past, false, true},
        {CT_COHORT_NEGATIVE, CT_INFECTION_NEGATIVE, INT64_MAX, false, true},
        {CT_COHORT_NEGATIVE, CT_INFECTION_UNKNOWN, INT64_MAX, false, true},
        {CT_COHORT_NEGATIVE, NONE, INT64_MAX, false, true},
        /* ... except in an isolation room */
        {CT_COHORT_NEGATIVE, CT_INFECTION_POSITIVE, future, true, true},
        {CT_COHORT_NEGATIVE, CT_INFECTION_AWAITING, INT64_MAX, true, true},
        /* positive takes only people who tested positive */
        {CT_COHORT_POSITIVE, CT_INFECTION_POSITIVE, future, false, true},
        {CT_COHORT_POSITIVE, CT_INFECTION_POSITIVE, past, false, true},
        {CT_COHORT_POSITIVE, CT_INFECTION_NEGATIVE, INT64_MAX, false, false},
        {CT_COHORT_POSITIVE, CT_INFECTION_NEGATIVE, INT64_MAX, true, false},
        {CT_COHORT_POSITIVE, CT_INFECTION_UNKNOWN, INT64_MAX, false, false},
        {CT_COHORT_POSITIVE, NONE, INT64_MAX, true, false},
        {CT_COHORT_POSITIVE, CT_INFECTION_AWAITING, INT64_MAX, false, false},
        /* an isolation room takes anyone isolating */
        {CT_COHORT_POSITIVE, CT_INFECTION_AWAITING, INT64_MAX, true, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = NULL;
        bool got = ct_isolation_admits(cases[i].cohort, cases[i].status,
                                       cases[i].end, now, cases[i].room,
                                       &why);
        cr_assert_eq(got, cases[i].want, "case %zu", i);
        cr_assert_eq(why == NULL, got, "case %zu: why only on refusal", i);
    }
    cr_assert(ct_isolation_isolating(CT_INFECTION_AWAITING, INT64_MAX, now));
    cr_assert(ct_isolation_isolating(CT_INFECTION_POSITIVE, INT64_MAX, now));
    cr_assert_not(ct_isolation_isolating(CT_INFECTION_POSITIVE, now, now),
                  "isolation ends at its end time");
    cr_assert_not(ct_isolation_isolating(CT_INFECTION_NEGATIVE, future, now));
}

/* ---- infection status ------------------------------------------------ */

/* Issue 14: another organisation's report never lowers a record that
 * isolates the person; the same organisation's may; a stricter one
 * always applies. */
Test(isolation, stricter_status_applies_between_organisations)
{
    int64_t end = CAP_FX_START + 10 * DAY_MS;
    ct_infection_update pos = {"9990000018", "covid", CT_INFECTION_POSITIVE,
                               CAP_FX_START - HOUR_MS, end};
    ct_infection_update neg = {"9990000018", "covid", CT_INFECTION_NEGATIVE,
                               CAP_FX_START, 0};
    ct_infection_update early = pos;
    early.isolation_end = end - DAY_MS;
    ct_infection_result res;
    ct_infection i;
    CAP_OK(ct_isolation_report(f.cap, &pos, "acute", 1, "org:acute", &res,
                               &cap_err));
    cr_assert_not(res.conflict);
    const ct_infection_update *lower[] = {&neg, &early};
    for (int k = 0; k < 2; k++) {
        CAP_OK(ct_isolation_report(f.cap, lower[k], "council", 2,
                                   "org:council", &res, &cap_err));
        cr_assert(res.conflict);
        CAP_OK(ct_isolation_get(f.cap, "9990000018", "covid", &i, &cap_err));
        cr_assert_eq(i.status, CT_INFECTION_POSITIVE);
        cr_assert_eq(i.isolation_end, end, "the later end is kept");
        json_t *c = cap_fx_last(&f, "infection.conflict");
        cr_assert_str_eq(json_string_value(json_object_get(c, "applied_from")),
                         "acute");
        cr_assert_eq(json_integer_value(json_object_get(c, "referral")), 2);
    }
    /* Stricter from another organisation: applies. */
    ct_infection_update later = pos;
    later.isolation_end = end + DAY_MS;
    CAP_OK(ct_isolation_report(f.cap, &later, "council", 2, "org:council",
                               &res, &cap_err));
    cr_assert_not(res.conflict);
    CAP_OK(ct_isolation_get(f.cap, "9990000018", "covid", &i, &cap_err));
    cr_assert_eq(i.isolation_end, end + DAY_MS);
    /* The organisation that set it may lower it (a new test). */
    CAP_OK(ct_isolation_report(f.cap, &neg, "council", 2, "org:council",
                               &res, &cap_err));
    cr_assert_not(res.conflict);
    CAP_OK(ct_isolation_get(f.cap, "9990000018", "covid", &i, &cap_err));
    cr_assert_eq(i.status, CT_INFECTION_NEGATIVE);
    /* A record that no longer isolates is replaced by anyone's. */
    CAP_OK(ct_isolation_report(f.cap, &neg, "acute", 3, "org:acute", &res,
                               &cap_err));
    cr_assert_not(res.conflict);
}

Test(isolation, status_record)
{
    int64_t end = CAP_FX_START + 10 * DAY_MS;
    ct_infection_update u = {"999-000-0018", "covid", CT_INFECTION_POSITIVE,
                             CAP_FX_START - HOUR_MS, end};
    ct_infection_result res;
    CAP_OK(ct_isolation_set_status(f.cap, &u, "org:acute", &res, &cap_err));
    cr_assert_eq(res.holds_released, 0);
    ct_infection i;
    CAP_OK(ct_isolation_get(f.cap, "9990000018", "covid", &i, &cap_err));
    cr_assert_eq(i.status, CT_INFECTION_POSITIVE);
    cr_assert_eq(i.tested_at, CAP_FX_START - HOUR_MS);
    cr_assert_eq(i.isolation_end, end);
    cr_assert(i.isolating);
    cr_assert_not(i.end_notified);
    json_t *p = cap_fx_last(&f, "infection.updated");
    cr_assert(json_is_null(json_object_get(p, "previous")));
    cr_assert_eq(ct_isolation_next_end(f.cap), end);

    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_isolation_get(f.cap, "9990000018", "flu", &i, &cap_err),
                "no flu record for NHS number 9990000018");
    json_t *a;
    CAP_OK(ct_isolation_person_json(f.cap, "9990000018", &a, &cap_err));
    cr_assert_eq(json_array_size(a), 1);
    cr_assert(json_is_true(json_object_get(json_array_get(a, 0),
                                           "isolating")));
    json_decref(a);

    /* A later negative result replaces it and clears the isolation. */
    u = (ct_infection_update){"9990000018", "covid", CT_INFECTION_NEGATIVE,
                              CAP_FX_START, 0};
    CAP_OK(ct_isolation_set_status(f.cap, &u, "org:acute", NULL, &cap_err));
    CAP_OK(ct_isolation_get(f.cap, "9990000018", "covid", &i, &cap_err));
    cr_assert_eq(i.status, CT_INFECTION_NEGATIVE);
    cr_assert_eq(i.isolation_end, 0);
    cr_assert_str_eq(json_string_value(json_object_get(
                         cap_fx_last(&f, "infection.updated"), "previous")),
                     "positive");
    cr_assert_eq(ct_isolation_next_end(f.cap), INT64_MAX);
}

/* Issue 22, finding 2: a positive recorded without an end ends after the
 * pathogen's isolation length (the area's policy), counted from the test;
 * a covid positive from 30 days ago no longer isolates for ever. */
Test(isolation, end_derived_from_the_pathogen_length)
{
    cr_assert_eq(ct_isolation_set_length(f.cap, "covid", 10 * DAY_MS), 0);
    cr_assert_eq(ct_isolation_set_length(f.cap, "flu", 5 * DAY_MS), 0);
    cr_assert_eq(ct_isolation_set_length(f.cap, "", DAY_MS), CT_EINVAL);
    cr_assert_eq(ct_isolation_set_length(f.cap, "flu", -1), CT_EINVAL);
    ct_infection_update u = {"9990000018", "covid", CT_INFECTION_POSITIVE,
                             CAP_FX_START - 30 * DAY_MS, 0};
    CAP_OK(ct_isolation_set_status(f.cap, &u, "org:acute", NULL, &cap_err));
    ct_infection i;
    CAP_OK(ct_isolation_get(f.cap, "9990000018", "covid", &i, &cap_err));
    cr_assert_eq(i.isolation_end, CAP_FX_START - 20 * DAY_MS);
    cr_assert_not(i.isolating, "30 days after a positive, with 10 to isolate");
    json_t *p = cap_fx_last(&f, "infection.updated");
    cr_assert_eq(json_integer_value(json_object_get(p, "isolation_length_ms")),
                 10 * DAY_MS, "the audit says where the end came from");

    /* Without a test time the length runs from now. */
    u = (ct_infection_update){"9990000026", "flu", CT_INFECTION_POSITIVE, 0, 0};
    CAP_OK(ct_isolation_set_status(f.cap, &u, "org:acute", NULL, &cap_err));
    CAP_OK(ct_isolation_get(f.cap, "9990000026", "flu", &i, &cap_err));
    cr_assert_eq(i.isolation_end, CAP_FX_START + 5 * DAY_MS);
    cr_assert(i.isolating);
    cr_assert_eq(ct_isolation_next_end(f.cap), CAP_FX_START - 20 * DAY_MS,
                 "the covid end, long past, is still to be announced");

    /* A given end wins; a pathogen with no length keeps the old rule. */
    u = (ct_infection_update){"9990000034", "flu", CT_INFECTION_POSITIVE,
                              CAP_FX_START, CAP_FX_START + DAY_MS};
    CAP_OK(ct_isolation_set_status(f.cap, &u, "org:acute", NULL, &cap_err));
    CAP_OK(ct_isolation_get(f.cap, "9990000034", "flu", &i, &cap_err));
    cr_assert_eq(i.isolation_end, CAP_FX_START + DAY_MS);
    cr_assert_null(json_object_get(cap_fx_last(&f, "infection.updated"),
                                   "isolation_length_ms"));
    u = (ct_infection_update){"9990000034", "norovirus",
                              CT_INFECTION_POSITIVE, CAP_FX_START, 0};
    CAP_OK(ct_isolation_set_status(f.cap, &u, "org:acute", NULL, &cap_err));
    CAP_OK(ct_isolation_get(f.cap, "9990000034", "norovirus", &i, &cap_err));
    cr_assert_eq(i.isolation_end, 0);

    /* 0 forgets a length; clearing forgets all. */
    cr_assert_eq(ct_isolation_set_length(f.cap, "flu", 0), 0);
    cr_assert_eq(ct_isolation_length(f.cap, "flu"), 0);
    cr_assert_eq(ct_isolation_length(f.cap, "covid"), 10 * DAY_MS);
    ct_isolation_clear_lengths(f.cap);
    cr_assert_eq(ct_isolation_length(f.cap, "covid"), 0);
}

Test(isolation, status_refusals)
{
    ct_infection_update u = {nhs[0], "covd", CT_INFECTION_POSITIVE, 0, 0};
    CAP_REFUSED(&f, CT_EINVAL,
                ct_isolation_set_status(f.cap, &u, "a", NULL, &cap_err),
                "pathogen covd is not tracked here (covid, flu, norovirus)");
    u = (ct_infection_update){"1234567890", "covid", CT_INFECTION_POSITIVE, 0,
                              0};
    CAP_REFUSED(&f, CT_EINVAL,
                ct_isolation_set_status(f.cap, &u, "a", NULL, &cap_err),
                "NHS number '1234567890' is not valid");
    u = (ct_infection_update){nhs[0], "covid", CT_INFECTION_POSITIVE,
                              CAP_FX_START + 1, 0};
    CAP_REFUSED(&f, CT_EINVAL,
                ct_isolation_set_status(f.cap, &u, "a", NULL, &cap_err),
                "test time must not be in the future");
    u = (ct_infection_update){nhs[0], "covid", CT_INFECTION_NEGATIVE, 0,
                              CAP_FX_START + DAY_MS};
    CAP_REFUSED(&f, CT_EINVAL,
                ct_isolation_set_status(f.cap, &u, "a", NULL, &cap_err),
                "an isolation end goes with a positive result only");
    u = (ct_infection_update){nhs[0], "covid", CT_INFECTION_POSITIVE,
                              CAP_FX_START, CAP_FX_START - DAY_MS};
    CAP_REFUSED(&f, CT_EINVAL,
                ct_isolation_set_status(f.cap, &u, "a", NULL, &cap_err),
                "isolation must end after the test");
    u = (ct_infection_update){nhs[0], "covid", (ct_infection_status)7, 0, 0};
    CAP_REFUSED(&f, CT_EINVAL,
                ct_isolation_set_status(f.cap, &u, "a", NULL, &cap_err),
                "infection status 7 is not a status");
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM person", NULL), 0);
}

/* ---- placement by the rule ------------------------------------------- */

Test(isolation, holds_follow_the_rule)
{
    int64_t pos = referral(0), await = referral(1), neg = referral(2),
            none = referral(3), done = referral(4);
    cap_fx_infection(&f, nhs[0], "covid", CT_INFECTION_POSITIVE,
                     CAP_FX_START + 10 * DAY_MS);
    cap_fx_infection(&f, nhs[1], "covid", CT_INFECTION_AWAITING, 0);
    cap_fx_infection(&f, nhs[2], "covid", CT_INFECTION_NEGATIVE, 0);
    /* Person 4 tested positive 14 days ago and has finished isolating. */
    ct_infection_update u = {nhs[4], "covid", CT_INFECTION_POSITIVE,
                             CAP_FX_START - 14 * DAY_MS,
                             CAP_FX_START - 4 * DAY_MS};
    CAP_OK(ct_isolation_set_status(f.cap, &u, "a", NULL, &cap_err));

    CAP_REFUSED(&f, CT_ECOHORT,
                ct_capacity_hold(f.cap, pos, "G01", 0, "a", NULL, &cap_err),
                "bed G01 is in zone green, covid negative; the person is "
                "positive and isolating for covid");
    CAP_REFUSED(&f, CT_ECOHORT,
                ct_capacity_hold(f.cap, await, "G01", 0, "a", NULL,
                                 &cap_err),
                "the person is awaiting a result for covid");
    CAP_REFUSED(&f, CT_ECOHORT,
                ct_capacity_hold(f.cap, neg, "R01", 0, "a", NULL, &cap_err),
                "bed R01 is in zone red, covid positive; the person is "
                "negative for covid");
    CAP_REFUSED(&f, CT_ECOHORT,
                ct_capacity_hold(f.cap, none, "R01", 0, "a", NULL, &cap_err),
                "the person is not known to be positive for covid");
    /* The care home is negative for norovirus too. */
    cap_fx_infection(&f, nhs[3], "norovirus", CT_INFECTION_POSITIVE, 0);
    CAP_REFUSED(&f, CT_ECOHORT,
                ct_capacity_hold(f.cap, none, "H01", 0, "a", NULL, &cap_err),
                "zone home-main, norovirus negative");

    CAP_OK(ct_capacity_hold(f.cap, pos, "R01", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, neg, "G01", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, done, "G02", 0, "a", NULL, &cap_err));
    /* Isolation rooms take anyone isolating: G07 is one in green. */
    CAP_OK(ct_capacity_hold(f.cap, await, "G07", 0, "a", NULL, &cap_err));
    /* No cohort (memory floor, ward): anyone. */
    CAP_OK(ct_capacity_hold(f.cap, none, "M01", 0, "a", NULL, &cap_err));
    CAP_OK(ct_isolation_check(f.cap, nhs[4], "R02", &cap_err));
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_isolation_check(f.cap, nhs[4], "Z9", &cap_err),
                "bed Z9 does not exist");
}

Test(isolation, new_result_releases_holds_and_reports_occupants)
{
    int64_t a = referral(0), b = referral(1);
    CAP_OK(ct_capacity_hold(f.cap, a, "G01", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, b, "G02", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_confirm(f.cap, b, "a", NULL, &cap_err));

    ct_infection_update u = {nhs[0], "covid", CT_INFECTION_POSITIVE,
                             CAP_FX_START, CAP_FX_START + 10 * DAY_MS};
    ct_infection_result res;
    CAP_OK(ct_isolation_set_status(f.cap, &u, "org:acute", &res, &cap_err));
    cr_assert_eq(res.holds_released, 1);
    cr_assert_eq(res.breaches, 0);
    cr_assert_str_eq(bed_status("G01"), "available");
    ct_referral r;
    CAP_OK(ct_referral_get(f.cap, a, &r, &cap_err));
    cr_assert_eq(r.state, CT_REFERRAL_WAITING);
    json_t *p = cap_fx_last(&f, "hold.released");
    cr_assert_str_eq(json_string_value(json_object_get(p, "reason")),
                     "person is positive and isolating for covid; zone green "
                     "is covid negative");

    u.nhs_number = nhs[1];
    CAP_OK(ct_isolation_set_status(f.cap, &u, "org:acute", &res, &cap_err));
    cr_assert_eq(res.holds_released, 0);
    cr_assert_eq(res.breaches, 1);
    cr_assert_str_eq(bed_status("G02"), "occupied", "the person is there");
    p = cap_fx_last(&f, "isolation.breach");
    cr_assert_str_eq(json_string_value(json_object_get(p, "bed")), "G02");
    cr_assert_str_eq(json_string_value(json_object_get(p, "zone")), "green");
    cr_assert_eq(json_integer_value(json_object_get(p, "referral")), b);
}

/* ---- isolation ends -------------------------------------------------- */

Test(isolation, end_fires_on_the_clock)
{
    int64_t r = referral(0);
    int64_t end = CAP_FX_START + 10 * DAY_MS;
    cap_fx_infection(&f, nhs[0], "covid", CT_INFECTION_POSITIVE, end);
    CAP_OK(ct_capacity_hold(f.cap, r, "R01", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_confirm(f.cap, r, "a", NULL, &cap_err));
    ct_clock_advance(f.clock, 10 * DAY_MS - 1);
    cr_assert_eq(cap_fx_events(&f, "isolation.ended"), 0);
    ct_clock_advance(f.clock, 1);
    cr_assert_eq(cap_fx_events(&f, "isolation.ended"), 1);
    json_t *last = json_array_get(f.events, json_array_size(f.events) - 1);
    cr_assert_eq(json_integer_value(json_object_get(last, "at")), end);
    json_t *p = json_object_get(last, "payload");
    cr_assert_str_eq(json_string_value(json_object_get(p, "nhs_number")),
                     nhs[0]);
    cr_assert_str_eq(json_string_value(json_object_get(p, "pathogen")),
                     "covid");
    cr_assert_str_eq(json_string_value(json_object_get(p, "bed")), "R01");
    cr_assert_str_eq(json_string_value(json_object_get(p, "placement")),
                     "occupied");
    ct_infection i;
    CAP_OK(ct_isolation_get(f.cap, nhs[0], "covid", &i, &cap_err));
    cr_assert_not(i.isolating);
    cr_assert(i.end_notified);
    /* Fires once; the person may now go to a negative zone. */
    ct_clock_advance(f.clock, 30 * DAY_MS);
    cr_assert_eq(cap_fx_events(&f, "isolation.ended"), 1);
    CAP_OK(ct_isolation_check(f.cap, nhs[0], "G01", &cap_err));
}

Test(isolation, end_moved_fires_at_the_new_time)
{
    cap_fx_infection(&f, nhs[0], "covid", CT_INFECTION_POSITIVE,
                     CAP_FX_START + 10 * DAY_MS);
    cap_fx_infection(&f, nhs[1], "flu", CT_INFECTION_POSITIVE,
                     CAP_FX_START + 5 * DAY_MS);
    /* A later test moves the covid end earlier than the flu one. */
    cap_fx_infection(&f, nhs[0], "covid", CT_INFECTION_POSITIVE,
                     CAP_FX_START + 2 * DAY_MS);
    ct_clock_advance(f.clock, 2 * DAY_MS);
    cr_assert_eq(cap_fx_events(&f, "isolation.ended"), 1);
    ct_clock_advance(f.clock, 3 * DAY_MS);
    cr_assert_eq(cap_fx_events(&f, "isolation.ended"), 2);
    cr_assert_str_eq(json_string_value(json_object_get(
                         cap_fx_last(&f, "isolation.ended"), "pathogen")),
                     "flu");
    ct_clock_advance(f.clock, 10 * DAY_MS);
    cr_assert_eq(cap_fx_events(&f, "isolation.ended"), 2,
                 "the replaced end never fires");
}

Test(isolation, pending_end_survives_a_restart)
{
    cap_fx_infection(&f, nhs[0], "covid", CT_INFECTION_POSITIVE,
                     CAP_FX_START + DAY_MS);
    cap_fx_reopen_capacity(&f);
    ct_clock_advance(f.clock, 2 * DAY_MS);
    cr_assert_eq(cap_fx_events(&f, "isolation.ended"), 1);
}

/* ---- cohorts --------------------------------------------------------- */

Test(isolation, cohort_change_refused_while_it_would_break)
{
    int64_t r = referral(0);
    cap_fx_infection(&f, nhs[0], "covid", CT_INFECTION_NEGATIVE, 0);
    CAP_OK(ct_capacity_hold(f.cap, r, "G03", 0, "a", NULL, &cap_err));
    CAP_REFUSED(&f, CT_ECOHORT,
                ct_isolation_set_cohort(f.cap, "green", "covid",
                                        CT_COHORT_POSITIVE, "org:council",
                                        &cap_err),
                "zone green cannot become covid positive: bed G03 is held by "
                "referral 1, negative for covid");
    ct_cohort c;
    CAP_OK(ct_isolation_get_cohort(f.cap, "green", "covid", &c, &cap_err));
    cr_assert_eq(c, CT_COHORT_NEGATIVE);
    /* Open takes anyone; flu has no cohort yet (open). */
    CAP_OK(ct_isolation_set_cohort(f.cap, "green", "covid", CT_COHORT_OPEN,
                                   "org:council", &cap_err));
    json_t *p = cap_fx_last(&f, "zone.cohort_set");
    cr_assert_str_eq(json_string_value(json_object_get(p, "previous")),
                     "negative");
    CAP_OK(ct_isolation_get_cohort(f.cap, "green", "flu", &c, &cap_err));
    cr_assert_eq(c, CT_COHORT_OPEN);
    CAP_OK(ct_isolation_set_cohort(f.cap, "green", "flu", CT_COHORT_NEGATIVE,
                                   "org:council", &cap_err));
    /* Setting the current cohort writes nothing. */
    int64_t head = ct_audit_head(f.store);
    CAP_OK(ct_isolation_set_cohort(f.cap, "green", "flu", CT_COHORT_NEGATIVE,
                                   "org:council", &cap_err));
    cr_assert_eq(ct_audit_head(f.store), head);
    /* The red wing empty: it may become negative. */
    CAP_OK(ct_isolation_set_cohort(f.cap, "red", "covid", CT_COHORT_NEGATIVE,
                                   "org:council", &cap_err));
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_isolation_set_cohort(f.cap, "blue", "covid",
                                        CT_COHORT_OPEN, "a", &cap_err),
                "zone blue does not exist");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_isolation_set_cohort(f.cap, "red", "ebola",
                                        CT_COHORT_OPEN, "a", &cap_err),
                "pathogen ebola is not tracked here");
}

Test(isolation, cohort_change_respects_isolation_rooms)
{
    int64_t r = referral(0);
    cap_fx_infection(&f, nhs[0], "covid", CT_INFECTION_AWAITING, 0);
    CAP_OK(ct_capacity_hold(f.cap, r, "G07", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_confirm(f.cap, r, "a", NULL, &cap_err));
    /* Green going positive: an isolation room still takes the awaiting
     * person. */
    CAP_OK(ct_isolation_set_cohort(f.cap, "green", "covid",
                                   CT_COHORT_POSITIVE, "org:council",
                                   &cap_err));
}

/* ---- closure --------------------------------------------------------- */

Test(isolation, close_and_open_a_zone)
{
    int64_t a = referral(0), b = referral(1), c = referral(2);
    CAP_OK(ct_capacity_hold(f.cap, a, "G01", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, b, "G02", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_confirm(f.cap, b, "a", NULL, &cap_err));
    int released = -1;
    CAP_OK(ct_isolation_close_zone(f.cap, "green", "norovirus outbreak",
                                   "org:council", &released, &cap_err));
    cr_assert_eq(released, 1);
    cr_assert_str_eq(bed_status("G01"), "available");
    cr_assert_str_eq(bed_status("G02"), "occupied", "occupants stay");
    json_t *p = cap_fx_last(&f, "hold.released");
    cr_assert_str_eq(json_string_value(json_object_get(p, "reason")),
                     "zone green closed to admissions: norovirus outbreak");
    CAP_REFUSED(&f, CT_ECLOSED,
                ct_capacity_hold(f.cap, c, "G03", 0, "a", NULL, &cap_err),
                "zone green is closed to admissions (norovirus outbreak)");
    CAP_REFUSED(&f, CT_ESTATE,
                ct_isolation_close_zone(f.cap, "green", "again", "a", NULL,
                                        &cap_err),
                "zone green is already closed (norovirus outbreak)");
    CAP_OK(ct_isolation_open_zone(f.cap, "green", "org:council", &cap_err));
    CAP_REFUSED(&f, CT_ESTATE,
                ct_isolation_open_zone(f.cap, "green", "a", &cap_err),
                "zone green is not closed");
    CAP_OK(ct_capacity_hold(f.cap, c, "G03", 0, "a", NULL, &cap_err));
    CAP_REFUSED(&f, CT_EINVAL,
                ct_isolation_close_zone(f.cap, "green", "", "a", NULL,
                                        &cap_err),
                "closure reason is required");
}

Test(isolation, confirm_refused_in_a_zone_closed_by_config)
{
    /* Reconcile closes zones without knowing about holds: confirm checks. */
    int64_t r = referral(0);
    CAP_OK(ct_capacity_hold(f.cap, r, "W01", 0, "a", NULL, &cap_err));
    cr_assert_eq(sqlite3_exec(ct_store__db(f.store),
                              "UPDATE zone SET closed = 1, closed_reason = "
                              "'closed in config' WHERE id = 'ward'",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    CAP_REFUSED(&f, CT_ECLOSED,
                ct_capacity_confirm(f.cap, r, "a", NULL, &cap_err),
                "zone ward is closed to admissions (closed in config)");
}
