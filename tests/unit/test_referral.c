/* Referral creation, life cycle, delays and reads (host/referral.c). */
#include "capacity_fixture.h"
#include "referral.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static cap_fx f;
static char nhs[4][11];

static void setup(void)
{
    cap_fx_open(&f, NULL);
    for (unsigned i = 0; i < 4; i++)
        cap_fx_nhs(i, nhs[i]);
}
static void teardown(void) { cap_fx_close(&f); }

TestSuite(referral, .init = setup, .fini = teardown);

static ct_referral get(int64_t id)
{
    ct_referral r;
    CAP_OK(ct_referral_get(f.cap, id, &r, &cap_err));
    return r;
}

static ct_referral_input input(void)
{
    static const char *const needs[] = {"nursing", "dementia", "nursing"};
    return (ct_referral_input){
        .nhs_number = "999 000 0018",
        .age = 84,
        .needs = needs,
        .nneeds = 3,
        .from_org = "acute",
        .ready_date = "2026-11-22",
        .requested_pathway = CT_PATHWAY_P3,
        .priority = 2,
    };
}

/* ---- create ---------------------------------------------------------- */

Test(referral, create)
{
    ct_referral_input in = input();
    int64_t id = 0;
    CAP_OK(ct_referral_create(f.cap, &in, "org:acute", &id, &cap_err));
    cr_assert_eq(id, 1);
    ct_referral r = get(id);
    cr_assert_str_eq(r.nhs_number, "9990000018", "normalised");
    cr_assert_eq(r.age, 84);
    cr_assert_str_eq(r.from_org, "acute");
    cr_assert_str_eq(r.ready_date, "2026-11-22");
    cr_assert_eq(r.requested_pathway, CT_PATHWAY_P3);
    cr_assert_eq(r.decided_pathway, -1);
    cr_assert_eq(r.state, CT_REFERRAL_RECEIVED);
    cr_assert_eq(r.priority, 2);
    cr_assert_str_eq(r.delay_reason, "");
    cr_assert_eq(r.created_at, CAP_FX_START);
    cr_assert_eq(r.delay_days, 1);
    char *needs = cap_fx_text(&f, "SELECT needs FROM referral WHERE "
                                  "id = 1", NULL);
    cr_assert_str_eq(needs, "[\"nursing\",\"dementia\"]", "deduplicated");
    free(needs);
    json_t *p = cap_fx_last(&f, "referral.created");
    cr_assert_str_eq(json_string_value(json_object_get(p, "nhs_number")),
                     "9990000018");
}

/* Finding 1 and 2 of issue 14: clinical data is the referral's own, and a
 * person has one active referral, so another organisation can neither
 * read nor overwrite it, nor hold a second bed for the same person. */
Test(referral, one_active_referral_per_person)
{
    ct_referral_input in = input();
    in.usual_residence = "care_home";
    int64_t a = 0, b = 0;
    CAP_OK(ct_referral_create(f.cap, &in, "org:acute", &a, &cap_err));
    for (int i = 0; i < 2; i++) {
        in.age = 40;
        in.from_org = i ? "council" : "acute";
        CAP_REFUSED(&f, CT_ECONFLICT,
                    ct_referral_create(f.cap, &in, "org:x", &b, &cap_err),
                    "already has an active referral (1)");
        cr_assert_eq(b, a, "the existing referral is named to the caller");
    }
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM referral", NULL), 1);
    cr_assert_eq(get(a).age, 84, "nothing of the refused referral kept");

    /* Once it has ended, a new referral is the person's; its clinical data
     * is its own, the earlier referral's stays as it was. */
    CAP_OK(ct_referral_cancel(f.cap, a, "duplicate", "org:acute", &cap_err));
    in = input();
    in.age = 85;
    in.nneeds = 1;
    in.from_org = "council";
    CAP_OK(ct_referral_create(f.cap, &in, "org:council", &b, &cap_err));
    cr_assert_neq(b, a);
    cr_assert_eq(get(b).age, 85);
    cr_assert_eq(get(a).age, 84);
    char *home = cap_fx_text(&f, "SELECT coalesce(usual_residence, 'none')"
                                 " FROM referral WHERE id = 2", NULL);
    cr_assert_str_eq(home, "none", "not carried over from another referral");
    free(home);
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM person", NULL), 1);
}

Test(referral, create_refusals)
{
    ct_referral_input in = input();
    int64_t id = 0;
    in.nhs_number = "9990000019";
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_create(f.cap, &in, "org:acute", &id, &cap_err),
                "NHS number '9990000019' is not valid");
    in = input();
    in.from_org = "elsewhere";
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_referral_create(f.cap, &in, "org:acute", &id, &cap_err),
                "organisation elsewhere does not exist");
    static const char *const dates[] = {"2026-02-30", "2026-11-2",
                                        "tomorrow", "2026/11/22", ""};
    for (size_t i = 0; i < 5; i++) {
        in = input();
        in.ready_date = dates[i];
        CAP_REFUSED(&f, CT_EINVAL,
                    ct_referral_create(f.cap, &in, "org:acute", &id,
                                       &cap_err),
                    "ready date must be a date YYYY-MM-DD");
    }
    in = input();
    in.age = 131;
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_create(f.cap, &in, "org:acute", &id, &cap_err),
                "age 131 is out of range");
    in = input();
    in.requested_pathway = CT_PATHWAY__COUNT;
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_create(f.cap, &in, "org:acute", &id, &cap_err),
                "is not a pathway");
    static const char *const bad[] = {"has space"};
    in = input();
    in.needs = bad;
    in.nneeds = 1;
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_create(f.cap, &in, "org:acute", &id, &cap_err),
                "need 'has space' is not a tag");
    in = input();
    in.usual_residence = "castle";
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_create(f.cap, &in, "org:acute", &id, &cap_err),
                "usual residence 'castle' is not one of home, care_home, "
                "supported_living, no_fixed_abode or other");
    in = input();
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_create(f.cap, &in, "", &id, &cap_err),
                "actor is required");
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM referral", NULL), 0);
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM person", NULL), 0);
}

Test(referral, idempotency_key)
{
    ct_referral_input in = input();
    in.idempotency_key = "req-1";
    int64_t a = 0, b = 0;
    CAP_OK(ct_referral_create(f.cap, &in, "org:acute", &a, &cap_err));
    CAP_REFUSED(&f, CT_EEXISTS,
                ct_referral_create(f.cap, &in, "org:acute", &b, &cap_err),
                "already exists for this key");
    cr_assert_eq(b, a);
    /* Another organisation may use the same key (for another person: one
     * active referral per person). */
    in.from_org = "council";
    in.nhs_number = "9990000026";
    CAP_OK(ct_referral_create(f.cap, &in, "org:council", &b, &cap_err));
    cr_assert_neq(b, a);
}

/* ---- life cycle ------------------------------------------------------ */

Test(referral, transition_table)
{
#define S(x) CT_REFERRAL_##x
    static const struct {
        ct_referral_state from, to;
    } ok[] = {
        {S(RECEIVED), S(TRIAGED)},   {S(RECEIVED), S(DISCHARGED)},
        {S(RECEIVED), S(CANCELLED)}, {S(TRIAGED), S(TRIAGED)},
        {S(TRIAGED), S(WAITING)},    {S(TRIAGED), S(HELD)},
        {S(TRIAGED), S(DISCHARGED)}, {S(TRIAGED), S(CANCELLED)},
        {S(WAITING), S(TRIAGED)},    {S(WAITING), S(HELD)},
        {S(WAITING), S(DISCHARGED)}, {S(WAITING), S(CANCELLED)},
        {S(HELD), S(WAITING)},       {S(HELD), S(PLACED)},
        {S(HELD), S(CANCELLED)},     {S(PLACED), S(DISCHARGED)},
        {S(PLACED), S(CANCELLED)},   {S(DISCHARGED), S(COMPLETED)},
    };
#undef S
    int allowed = 0;
    for (int a = 0; a < CT_REFERRAL__COUNT; a++)
        for (int b = 0; b < CT_REFERRAL__COUNT; b++) {
            bool want = false;
            for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
                want = want || (ok[i].from == (ct_referral_state)a &&
                                ok[i].to == (ct_referral_state)b);
            cr_assert_eq(ct_referral_can(a, b), want, "%s -> %s",
                         ct_referral_state_name(a), ct_referral_state_name(b));
            allowed += want;
        }
    cr_assert_eq(allowed, 18);
    cr_assert_not(ct_referral_can(CT_REFERRAL__COUNT, CT_REFERRAL_HELD));
}

Test(referral, whole_journey)
{
    int64_t id = cap_fx_referral(&f, nhs[0], "2026-11-23", -1, NULL);
    CAP_OK(ct_referral_triage(f.cap, id, CT_PATHWAY_P2, 5, "needs rehab",
                              "org:council", &cap_err));
    ct_referral r = get(id);
    cr_assert_eq(r.state, CT_REFERRAL_TRIAGED);
    cr_assert_eq(r.decided_pathway, CT_PATHWAY_P2);
    cr_assert_eq(r.priority, 5);
    json_t *p = cap_fx_last(&f, "referral.triaged");
    cr_assert_str_eq(json_string_value(json_object_get(p, "reason")),
                     "needs rehab");
    CAP_OK(ct_referral_queue(f.cap, id, "org:council", &cap_err));
    cr_assert_eq(get(id).state, CT_REFERRAL_WAITING);
    CAP_OK(ct_capacity_hold(f.cap, id, "W01", 0, "org:council", NULL,
                            &cap_err));
    r = get(id);
    cr_assert_eq(r.state, CT_REFERRAL_HELD);
    cr_assert_str_eq(r.bed_id, "W01");
    cr_assert_not(r.occupancy);
    cr_assert_eq(r.hold_expires_at, CAP_FX_START + 4 * HOUR_MS);
    CAP_OK(ct_capacity_confirm(f.cap, id, "org:council", NULL, &cap_err));
    cr_assert_eq(get(id).state, CT_REFERRAL_PLACED);
    ct_clock_advance(f.clock, 2 * DAY_MS);
    CAP_OK(ct_referral_discharge(f.cap, id, "org:acute", &cap_err));
    r = get(id);
    cr_assert_eq(r.state, CT_REFERRAL_DISCHARGED);
    cr_assert_eq(r.discharged_at, CAP_FX_START + 2 * DAY_MS);
    cr_assert_eq(r.delay_days, 2);
    cr_assert(r.occupancy, "the person is now in the bed");
    cr_assert_str_eq(json_string_value(json_object_get(
                         cap_fx_last(&f, "referral.discharged"), "bed")),
                     "W01");
    ct_clock_advance(f.clock, 14 * DAY_MS);
    cr_assert_eq(get(id).delay_days, 2, "delay stops at discharge");
    CAP_OK(ct_referral_complete(f.cap, id, "org:council", &cap_err));
    r = get(id);
    cr_assert_eq(r.state, CT_REFERRAL_COMPLETED);
    cr_assert_eq(r.assignment_id, 0);
    cr_assert_eq(cap_fx_int(&f, "SELECT status = 'available' FROM bed "
                                "WHERE id = 'W01'",
                            NULL),
                 1);
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM assignment WHERE "
                                "kind = 'occupancy' AND end_reason = "
                                "'completed'",
                            NULL),
                 1);
}

Test(referral, illegal_transitions_name_the_state)
{
    int64_t id = cap_fx_referral(&f, nhs[0], "2026-11-23", -1, NULL);
    CAP_REFUSED(&f, CT_ESTATE, ct_referral_queue(f.cap, id, "a", &cap_err),
                "referral 1 is received; cannot queue");
    CAP_REFUSED(&f, CT_ESTATE,
                ct_referral_complete(f.cap, id, "a", &cap_err),
                "referral 1 is received; cannot complete");
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_confirm(f.cap, id, "a", NULL, &cap_err),
                "referral 1 is received; cannot confirm");
    CAP_OK(ct_referral_triage(f.cap, id, CT_PATHWAY_P3, 0, NULL, "a",
                              &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, id, "H01", 0, "a", NULL, &cap_err));
    CAP_REFUSED(&f, CT_ESTATE,
                ct_referral_triage(f.cap, id, CT_PATHWAY_P2, 0, NULL, "a",
                                   &cap_err),
                "referral 1 is held; cannot triage");
    CAP_REFUSED(&f, CT_ESTATE,
                ct_referral_discharge(f.cap, id, "a", &cap_err),
                "referral 1 is held; cannot discharge");
    CAP_REFUSED(&f, CT_ESTATE, ct_referral_queue(f.cap, id, "a", &cap_err),
                "referral 1 is held; cannot queue");
    CAP_OK(ct_capacity_confirm(f.cap, id, "a", NULL, &cap_err));
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_hold(f.cap, id, "H02", 0, "a", NULL, &cap_err),
                "referral 1 is placed; cannot hold");
    CAP_OK(ct_referral_discharge(f.cap, id, "a", &cap_err));
    CAP_REFUSED(&f, CT_ESTATE,
                ct_referral_cancel(f.cap, id, "changed mind", "a", &cap_err),
                "referral 1 is discharged; cannot cancel");
    CAP_OK(ct_referral_complete(f.cap, id, "a", &cap_err));
    CAP_REFUSED(&f, CT_ESTATE,
                ct_referral_complete(f.cap, id, "a", &cap_err),
                "referral 1 is completed; cannot complete");
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_referral_queue(f.cap, 42, "a", &cap_err),
                "referral 42 does not exist");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_triage(f.cap, id, (ct_pathway)9, 0, NULL, "a",
                                   &cap_err),
                "pathway 9 is not a pathway");
}

Test(referral, discharge_without_a_bed)
{
    /* P0: home with no new support, straight from triage. */
    int64_t id = cap_fx_referral(&f, nhs[0], "2026-11-23", CT_PATHWAY_P0,
                                 NULL);
    CAP_OK(ct_referral_discharge(f.cap, id, "org:acute", &cap_err));
    ct_referral r = get(id);
    cr_assert_eq(r.state, CT_REFERRAL_DISCHARGED);
    cr_assert_eq(r.assignment_id, 0);
    cr_assert_null(json_object_get(cap_fx_last(&f, "referral.discharged"),
                                   "bed"));
    CAP_OK(ct_referral_complete(f.cap, id, "org:acute", &cap_err));
}

Test(referral, cancel_ends_holds_and_occupancies)
{
    int64_t a = cap_fx_referral(&f, nhs[0], "2026-11-23", CT_PATHWAY_P3,
                                NULL);
    int64_t b = cap_fx_referral(&f, nhs[1], "2026-11-23", CT_PATHWAY_P3,
                                NULL);
    int64_t c = cap_fx_referral(&f, nhs[2], "2026-11-23", -1, NULL);
    CAP_OK(ct_capacity_hold(f.cap, a, "H01", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, b, "H02", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_confirm(f.cap, b, "a", NULL, &cap_err));
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_cancel(f.cap, a, "", "a", &cap_err),
                "cancel reason is required");
    CAP_OK(ct_referral_cancel(f.cap, a, "died", "org:acute", &cap_err));
    CAP_OK(ct_referral_cancel(f.cap, b, "went home", "org:acute", &cap_err));
    CAP_OK(ct_referral_cancel(f.cap, c, "duplicate", "org:acute", &cap_err));
    cr_assert_eq(get(a).state, CT_REFERRAL_CANCELLED);
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM bed WHERE status <> "
                                "'available'",
                            NULL),
                 0);
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM assignment WHERE "
                                "end_reason = 'cancelled'",
                            NULL),
                 2);
    json_t *p = cap_fx_last(&f, "referral.cancelled");
    cr_assert_str_eq(json_string_value(json_object_get(p, "reason")),
                     "duplicate");
    /* The hold timer has nothing left to do. */
    ct_clock_advance(f.clock, DAY_MS);
    cr_assert_eq(cap_fx_events(&f, "hold.expired"), 0);
}

/* ---- delays ---------------------------------------------------------- */

Test(referral, delay_days_are_derived)
{
    /* Now is 2026-11-23 08:00 UTC. */
    cr_assert_eq(ct_referral_delay_days("2026-11-20", CAP_FX_START), 3);
    cr_assert_eq(ct_referral_delay_days("2026-11-23", CAP_FX_START), 0);
    cr_assert_eq(ct_referral_delay_days("2026-11-30", CAP_FX_START), 0);
    cr_assert_eq(ct_referral_delay_days("2026-11-22",
                                        CAP_FX_START + 16 * HOUR_MS - 1),
                 1, "23:59:59.999 is still the 23rd");
    cr_assert_eq(ct_referral_delay_days("2026-11-22",
                                        CAP_FX_START + 16 * HOUR_MS),
                 2);
    cr_assert_eq(ct_referral_delay_days("2025-12-31", CAP_FX_START), 327);
    cr_assert_eq(ct_referral_delay_days("bad", CAP_FX_START), -1);

    int64_t id = cap_fx_referral(&f, nhs[0], "2026-11-20", -1, NULL);
    cr_assert_eq(get(id).delay_days, 3);
    ct_clock_advance(f.clock, DAY_MS);
    cr_assert_eq(get(id).delay_days, 4, "grows while waiting");
    CAP_OK(ct_referral_cancel(f.cap, id, "x", "a", &cap_err));
    ct_clock_advance(f.clock, 3 * DAY_MS);
    cr_assert_eq(get(id).delay_days, 4, "stops when cancelled");
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM pragma_table_info("
                                "'referral') WHERE name LIKE '%delay_days%'",
                            NULL),
                 0, "never stored");
}

Test(referral, delay_reason_and_responsible_org)
{
    int64_t id = cap_fx_referral(&f, nhs[0], "2026-11-20", CT_PATHWAY_P1,
                                 NULL);
    CAP_OK(ct_referral_set_delay(f.cap, id, "awaiting_p1_care", "council",
                                 "org:council", &cap_err));
    ct_referral r = get(id);
    cr_assert_str_eq(r.delay_reason, "awaiting_p1_care");
    cr_assert_str_eq(r.responsible_org, "council");
    json_t *p = cap_fx_last(&f, "referral.delay_set");
    cr_assert_str_eq(json_string_value(json_object_get(p, "reason")),
                     "awaiting_p1_care");
    cr_assert_str_eq(json_string_value(json_object_get(p, "from")),
                     "2026-11-20", "the first covers the delay from its start");
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_referral_set_delay(f.cap, id, "awaiting_p1_care", "nobody",
                                      "a", &cap_err),
                "organisation nobody does not exist");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_set_delay(f.cap, id, "Not A Code", "council",
                                      "a", &cap_err),
                "lower-case letters, digits and '_', not 'Not A Code'");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_set_delay(f.cap, id, "awaiting_transport", NULL,
                                      "a", &cap_err),
                "responsible organisation is required");
    CAP_OK(ct_referral_clear_delay(f.cap, id, "a", &cap_err));
    r = get(id);
    cr_assert_str_eq(r.delay_reason, "");
    cr_assert_str_eq(r.responsible_org, "");
    CAP_REFUSED(&f, CT_ESTATE, ct_referral_clear_delay(f.cap, id, "a", &cap_err),
                "referral 1 has no open delay");
    CAP_OK(ct_referral_set_delay(f.cap, id, "awaiting_p1_care", "council",
                                 "a", &cap_err));
    p = cap_fx_last(&f, "referral.delay_set");
    cr_assert_str_eq(json_string_value(json_object_get(p, "from")),
                     "2026-11-23", "a later one from today (UK)");
    int64_t later = cap_fx_referral(&f, nhs[1], "2026-11-25", -1, NULL);
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_set_delay(f.cap, later, "awaiting_p1_care",
                                      "council", "a", &cap_err),
                "ready date (2026-11-25) is after today (2026-11-23): there "
                "is no delay to record yet");
    CAP_OK(ct_referral_discharge(f.cap, id, "a", &cap_err));
    /* Coded after discharge (issue 21, finding 4), within the days the
     * person waited: the latest reason (from today, the day they left)
     * has none of them to correct. */
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_set_delay(f.cap, id, "awaiting_transport", "acute",
                                      "a", &cap_err),
                "the person left hospital on 2026-11-23: a delay coded "
                "afterwards starts before that day, not on 2026-11-23");
    /* One who left without a reason: coded two days later, from the
     * ready date, then the latest corrected; never before its start. */
    int64_t gone = cap_fx_referral(&f, nhs[2], "2026-11-20", CT_PATHWAY_P1,
                                   NULL);
    CAP_OK(ct_referral_discharge(f.cap, gone, "a", &cap_err));
    ct_clock_advance(f.clock, 2 * DAY_MS);
    const char *field = NULL;
    ct_delay_input first = {"awaiting_p1_care", NULL, "council", NULL};
    CAP_OK(ct_delay_start(f.cap, gone, &first, "user:coder", &field,
                          &cap_err));
    p = cap_fx_last(&f, "referral.delay_set");
    cr_assert(json_is_true(json_object_get(p, "retrospective")));
    cr_assert_str_eq(json_string_value(json_object_get(p, "left")),
                     "2026-11-23");
    cr_assert_str_eq(json_string_value(json_object_get(p, "from")),
                     "2026-11-20");
    ct_delay_input fix = {"awaiting_transport", NULL, "acute", "2026-11-22"};
    CAP_OK(ct_delay_start(f.cap, gone, &fix, "user:coder", &field,
                          &cap_err));
    r = get(gone);
    cr_assert_str_eq(r.delay_reason, "awaiting_transport");
    cr_assert_eq(r.delay_days, 3, "still the days until they left");
    ct_delay_input early = {"awaiting_p1_care", NULL, "council",
                            "2026-11-21"};
    CAP_REFUSED(&f, CT_EINVAL,
                ct_delay_start(f.cap, gone, &early, "user:coder", &field,
                               &cap_err),
                "the history is not rewritten");
    /* A cancelled referral takes none. */
    CAP_OK(ct_referral_cancel(f.cap, later, "x", "a", &cap_err));
    CAP_REFUSED(&f, CT_ESTATE,
                ct_referral_set_delay(f.cap, later, "awaiting_transport",
                                      "acute", "a", &cap_err),
                "is cancelled; cannot record a delay");
}

/* Issue 22 finding 6: a new reason replaced the old one, so every
 * bed-day went to the last organisation named. Now each reason is an
 * episode with its days, and the days are split between them. */
Test(referral, delay_episodes_keep_history)
{
    /* 2026-11-23 08:00Z now; ready on the 20th: 3 delay days so far. */
    int64_t id = cap_fx_referral(&f, nhs[0], "2026-11-20", CT_PATHWAY_P3,
                                 NULL);
    const char *field = NULL;
    ct_delay_input a = {"awaiting_p3_bed", "Care home bed", "homes",
                        "2026-11-20"};
    CAP_OK(ct_delay_start(f.cap, id, &a, "org:council", &field, &cap_err));
    ct_delay_input b = {"awaiting_p1_care", NULL, "council", "2026-11-22"};
    CAP_OK(ct_delay_start(f.cap, id, &b, "org:council", &field, &cap_err));
    json_t *p = cap_fx_last(&f, "referral.delay_set");
    cr_assert_eq(json_integer_value(json_object_get(p, "ended")), 1);
    json_t *ref;
    CAP_OK(ct_referral_get_json(f.cap, id, &ref, &cap_err));
    json_t *eps = json_object_get(ref, "delays");
    cr_assert_eq(json_array_size(eps), 2);
    json_t *e0 = json_array_get(eps, 0), *e1 = json_array_get(eps, 1);
    cr_assert_str_eq(json_string_value(json_object_get(e0, "to")),
                     "2026-11-22");
    cr_assert_eq(json_integer_value(json_object_get(e0, "days")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(e0, "text")),
                     "Care home bed");
    cr_assert(json_is_null(json_object_get(e1, "to")));
    cr_assert_eq(json_integer_value(json_object_get(e1, "days")), 1);
    cr_assert_eq(json_integer_value(json_object_get(ref, "delay_days")), 3);
    json_decref(ref);

    /* A re-decision on the same day takes that day: no day counts twice. */
    ct_delay_input c = {"awaiting_p1_care", NULL, "homes", "2026-11-22"};
    CAP_OK(ct_delay_start(f.cap, id, &c, "org:council", &field, &cap_err));
    CAP_OK(ct_referral_get_json(f.cap, id, &ref, &cap_err));
    eps = json_object_get(ref, "delays");
    int64_t sum = 0;
    for (size_t i = 0; i < json_array_size(eps); i++)
        sum += json_integer_value(
            json_object_get(json_array_get(eps, i), "days"));
    cr_assert_eq(json_array_size(eps), 3);
    cr_assert_eq(sum, 3, "episodes share the 3 delay days");
    json_decref(ref);

    /* Refused, each naming its field, and nothing changes. */
    ct_delay_input before = {"awaiting_p3_bed", NULL, "homes", "2026-11-19"};
    CAP_REFUSED(&f, CT_EINVAL,
                ct_delay_start(f.cap, id, &before, "a", &field, &cap_err),
                "starts on or after the discharge ready date (2026-11-20), "
                "not on 2026-11-19");
    cr_assert_str_eq(field, "from");
    ct_delay_input rewrite = {"awaiting_p3_bed", NULL, "homes", "2026-11-21"};
    CAP_REFUSED(&f, CT_EINVAL,
                ct_delay_start(f.cap, id, &rewrite, "a", &field, &cap_err),
                "the history is not rewritten");
    cr_assert_str_eq(field, "from");
    ct_delay_input future = {"awaiting_p3_bed", NULL, "homes", "2026-11-24"};
    CAP_REFUSED(&f, CT_EINVAL,
                ct_delay_start(f.cap, id, &future, "a", &field, &cap_err),
                "cannot start in the future");
    ct_delay_input nobody = {"awaiting_p3_bed", NULL, "nobody", NULL};
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_delay_start(f.cap, id, &nobody, "a", &field, &cap_err),
                "organisation nobody does not exist");
    cr_assert_str_eq(field, "responsible_org");
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM delay_episode", NULL),
                 3);
}

/* Days are UK days: 23:30 UTC in summer is already the next day. */
Test(referral, delay_days_in_uk_time)
{
    cr_assert_eq(ct_referral_delay_days("2026-07-15",
                                        1784158200000 /* 07-15 23:30Z */),
                 1, "00:30 BST on the 16th");
    cr_assert_eq(ct_referral_delay_days("2026-01-15",
                                        1768519800000 /* 01-15 23:30Z */),
                 0, "23:30 GMT on the 15th");
}

Test(referral, ready_date_moves)
{
    int64_t id = cap_fx_referral(&f, nhs[0], "2026-11-20", -1, NULL);
    CAP_OK(ct_referral_set_ready_date(f.cap, id, "2026-11-22",
                                      "new medical issue", "a", &cap_err));
    cr_assert_str_eq(get(id).ready_date, "2026-11-22");
    cr_assert_eq(get(id).delay_days, 1);
    json_t *p = cap_fx_last(&f, "referral.ready_date_set");
    cr_assert_str_eq(json_string_value(json_object_get(p, "was")),
                     "2026-11-20");
    cr_assert_str_eq(json_string_value(json_object_get(p, "reason")),
                     "new medical issue");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_set_ready_date(f.cap, id, "2026-11-22", NULL, "a",
                                           &cap_err),
                "is 2026-11-22 already");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_set_ready_date(f.cap, id, "2026-13-01", NULL, "a",
                                           &cap_err),
                "ready date must be a date");
    CAP_OK(ct_referral_cancel(f.cap, id, "x", "a", &cap_err));
    CAP_REFUSED(&f, CT_ESTATE,
                ct_referral_set_ready_date(f.cap, id, "2026-11-23", NULL, "a",
                                           &cap_err),
                "referral 1 is cancelled; cannot move the ready date");
}

/* ---- reads ----------------------------------------------------------- */

Test(referral, json_views)
{
    ct_referral_input in = input();
    in.usual_residence = "supported_living";
    int64_t id;
    CAP_OK(ct_referral_create(f.cap, &in, "org:acute", &id, &cap_err));
    cap_fx_referral(&f, nhs[1], "2026-11-23", CT_PATHWAY_P3, NULL);
    CAP_OK(ct_referral_triage(f.cap, id, CT_PATHWAY_P3, 1, NULL, "a",
                              &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, id, "M01", 0, "a", NULL, &cap_err));
    json_t *o = NULL;
    CAP_OK(ct_referral_get_json(f.cap, id, &o, &cap_err));
    cr_assert_str_eq(json_string_value(json_object_get(o, "state")), "held");
    cr_assert_str_eq(json_string_value(json_object_get(o, "bed")), "M01");
    cr_assert_str_eq(json_string_value(json_object_get(o, "decided_pathway")),
                     "P3");
    cr_assert_eq(json_array_size(json_object_get(o, "needs")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(o, "usual_residence")),
                     "supported_living");
    cr_assert(json_is_null(json_object_get(o, "delay_reason")));
    cr_assert_eq(json_integer_value(json_object_get(o, "delay_days")), 1);
    json_decref(o);

    json_t *a = NULL;
    CAP_OK(ct_referral_list_json(f.cap, -1, 0, 10, &a, &cap_err));
    cr_assert_eq(json_array_size(a), 2);
    json_decref(a);
    CAP_OK(ct_referral_list_json(f.cap, CT_REFERRAL_TRIAGED, 0, 10, &a,
                                 &cap_err));
    cr_assert_eq(json_array_size(a), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(a, 0),
                                                    "id")),
                 2);
    json_decref(a);
    CAP_OK(ct_referral_list_json(f.cap, -1, 1, 10, &a, &cap_err));
    cr_assert_eq(json_array_size(a), 1, "after_id pages");
    json_decref(a);
    CAP_REFUSED(&f, CT_EINVAL,
                ct_referral_list_json(f.cap, -1, 0, 0, &a, &cap_err),
                "limit must be between 1 and 1000");
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_referral_get_json(f.cap, 9, &o, &cap_err),
                "referral 9 does not exist");
}

/* ct.referrals' narrowing filters (ct_referral_find_json): only one
 * decided pathway, only discharged before a time; by state through the
 * state's index, without walking every referral ever made. */
Test(referral, find_by_pathway_and_discharge_time)
{
    int64_t p1 = cap_fx_referral(&f, nhs[0], "2026-11-23", CT_PATHWAY_P1, NULL);
    int64_t p3 = cap_fx_referral(&f, nhs[1], "2026-11-23", CT_PATHWAY_P3, NULL);
    int64_t early = cap_fx_referral(&f, nhs[2], "2026-11-23", CT_PATHWAY_P1,
                                    NULL);
    CAP_OK(ct_referral_discharge(f.cap, early, "a", &cap_err));
    int64_t t_early = ct_clock_now(f.clock);
    ct_clock_advance(f.clock, DAY_MS);
    int64_t late = cap_fx_referral(&f, nhs[3], "2026-11-23", CT_PATHWAY_P1,
                                   NULL);
    CAP_OK(ct_referral_discharge(f.cap, late, "a", &cap_err));

    ct_referral_scan s = {.state = CT_REFERRAL_TRIAGED,
                          .pathway = CT_PATHWAY_P3,
                          .limit = 10};
    json_t *a = NULL;
    CAP_OK(ct_referral_find_json(f.cap, &s, &a, &cap_err));
    cr_assert_eq(json_array_size(a), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(a, 0), "id")),
                 p3);
    json_decref(a);
    s.pathway = CT_PATHWAY_P1;
    CAP_OK(ct_referral_find_json(f.cap, &s, &a, &cap_err));
    cr_assert_eq(json_array_size(a), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(a, 0), "id")),
                 p1);
    json_decref(a);

    s = (ct_referral_scan){.state = CT_REFERRAL_DISCHARGED,
                           .pathway = -1,
                           .discharged_before = t_early + 1,
                           .limit = 10};
    CAP_OK(ct_referral_find_json(f.cap, &s, &a, &cap_err));
    cr_assert_eq(json_array_size(a), 1, "only the early discharge");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(a, 0), "id")),
                 early);
    json_decref(a);
    /* The statement is cached: a scan without filters after one with them
     * sees everything again (its bindings cleared). */
    CAP_OK(ct_referral_list_json(f.cap, CT_REFERRAL_DISCHARGED, 0, 10, &a,
                                 &cap_err));
    cr_assert_eq(json_array_size(a), 2);
    json_decref(a);
    s.discharged_before = 0;
    s.pathway = CT_PATHWAY__COUNT;
    CAP_REFUSED(&f, CT_EINVAL, ct_referral_find_json(f.cap, &s, &a, &cap_err),
                "is not a pathway");
}
