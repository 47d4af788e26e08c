/*
 * The waiting list served in order (host/capacity_waitlist.c, the
 * re-match in host/intake.c; docs/plugins.md "The waiting list"): its
 * order, a freed bed offered to the first referral in it that fits
 * before any new referral, bounded batches with new referrals queued
 * behind a round, rollbacks, declined beds, explained waits, and a
 * seeded random walk over referrals, bed changes, existing residents,
 * surge, closures,
 * isolation ends and policy changes that checks the fairness invariant
 * and that every wait has a reason after every step.
 */
#include "capacity_fixture.h"
#include "capacity_resident.h"
#include "capacity_waitlist.h"
#include "intake.h"
#include "isolation.h"
#include "pipeline.h"
#include "referral.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A care home of 40 nursing beds (B01..B40, four of them surge, two
 * zones), a bariatric pair and a covid-positive red zone; a step-down
 * unit for people isolating. */
static const char area[] =
    "area: {id: w, name: Waiting list}\n"
    "pathogens: [covid]\n"
    "organisations:\n"
    "  - {id: acute, name: Acute Trust}\n"
    "  - {id: homes, name: Homes Ltd}\n"
    "facilities:\n"
    "  - id: home\n"
    "    name: Care home\n"
    "    kind: care_home\n"
    "    organisation: homes\n"
    "    zones:\n"
    "      - id: east\n"
    "        name: East\n"
    "        cohort: {covid: negative}\n"
    "        beds:\n"
    "          - range: B01..B20\n"
    "            tags: [nursing]\n"
    "      - id: west\n"
    "        name: West\n"
    "        beds:\n"
    "          - range: B21..B36\n"
    "            tags: [nursing]\n"
    "          - range: B37..B40\n"
    "            tags: [nursing]\n"
    "            surge: true\n"
    "          - range: X01..X02\n"
    "            tags: [nursing, bariatric]\n"
    "      - id: red\n"
    "        name: Red\n"
    "        cohort: {covid: positive}\n"
    "        beds:\n"
    "          - range: R01..R02\n"
    "            tags: [nursing]\n";

static cap_fx f;
static int seq_nhs;

static void setup(void)
{
    cap_fx_open(&f, area);
    seq_nhs = 0;
}
static void teardown(void) { cap_fx_close(&f); }

TestSuite(waitlist, .init = setup, .fini = teardown);

/* Referral intake with the host's defaults (no plugins): P3. */
static int64_t refer(const char *ready, int priority, const char *need2,
                     json_t **decision)
{
    char nhs[11];
    cap_fx_nhs((unsigned)++seq_nhs, nhs);
    const char *needs[] = {"nursing", need2};
    ct_intake_request r = {.in = {.nhs_number = nhs,
                                  .age = 85,
                                  .needs = needs,
                                  .nneeds = need2 ? 2 : 1,
                                  .from_org = "acute",
                                  .ready_date = ready,
                                  .requested_pathway = CT_PATHWAY_P3,
                                  .priority = priority}};
    ct_intake_result res;
    CAP_OK(ct_intake_referral(f.cap, NULL, &r, "org:acute", &res, &cap_err));
    if (decision)
        *decision = res.decision;
    else
        json_decref(res.decision);
    return res.id;
}

static const char *outcome(const json_t *d)
{
    return json_string_value(json_object_get(d, "outcome"));
}

static ct_referral get(int64_t id)
{
    ct_referral r;
    CAP_OK(ct_referral_get(f.cap, id, &r, &cap_err));
    return r;
}

static void block(const char *bed)
{
    CAP_OK(ct_capacity_block(f.cap, bed, "repair", "org:homes", &cap_err));
}

static void unblock(const char *bed)
{
    CAP_OK(ct_capacity_unblock(f.cap, bed, "org:homes", &cap_err));
}

/* Runs re-match batches until the round is done; returns how many. */
static int settle(void)
{
    int batches = 0;
    while (ct_capacity_waitlist_pending(f.cap)) {
        ct_intake_rematch_stats st;
        CAP_OK(ct_intake_rematch(f.cap, NULL, &st, &cap_err));
        cr_assert(++batches < 1000, "the round never ends");
    }
    return batches;
}

static void block_all_but(int keep)
{
    char id[16];
    for (int i = keep + 1; i <= 36; i++) {
        snprintf(id, sizeof id, "B%02d", i);
        block(id);
    }
}

Test(waitlist, order_is_priority_then_ready_date_then_arrival)
{
    block_all_but(0);
    block("X01");
    block("X02");
    settle();
    int64_t a = refer("2026-11-20", 0, NULL, NULL);
    int64_t b = refer("2026-11-23", 5, NULL, NULL);
    int64_t c = refer("2026-11-18", 0, NULL, NULL);
    int64_t d = refer("2026-11-18", 0, NULL, NULL);
    json_t *page = NULL;
    ct_waitlist_query q = {.limit = 100};
    CAP_OK(ct_capacity_waitlist_json(f.cap, &q, &page, &cap_err));
    json_t *list = json_object_get(page, "waiting");
    cr_assert_eq(json_array_size(list), 4);
    cr_assert_eq(json_integer_value(json_object_get(page, "total")), 4);
    int64_t want[] = {b, c, d, a};
    for (size_t i = 0; i < 4; i++) {
        json_t *e = json_array_get(list, i);
        cr_assert_eq(json_integer_value(json_object_get(e, "id")), want[i],
                     "position %zu", i + 1);
        cr_assert_eq(json_integer_value(json_object_get(e, "position")),
                     (json_int_t)i + 1);
    }
    json_decref(page);
    /* Beds free one at a time go down the list in that order. */
    const char *beds[] = {"B01", "B02", "B03", "B04"};
    for (size_t i = 0; i < 4; i++) {
        unblock(beds[i]);
        cr_assert(ct_capacity_waitlist_pending(f.cap));
        settle();
        ct_referral r = get(want[i]);
        cr_assert_eq(r.state, CT_REFERRAL_HELD, "referral %zu", i + 1);
        cr_assert_str_eq(r.bed_id, beds[i]);
        for (size_t j = i + 1; j < 4; j++)
            cr_assert_eq(get(want[j]).state, CT_REFERRAL_WAITING);
    }
}

Test(waitlist, a_freed_bed_goes_to_the_waiting_referral_before_a_new_one)
{
    block_all_but(1);
    block("X01");
    block("X02");
    int64_t first = refer("2026-11-23", 0, NULL, NULL);
    cr_assert_eq(get(first).state, CT_REFERRAL_HELD);
    json_t *d = NULL;
    int64_t waiting = refer("2026-11-20", 25, NULL, &d);
    cr_assert_str_eq(outcome(d), "waiting");
    json_decref(d);
    /* Unblocked: the re-match has not run yet when the new referral
     * arrives; intake runs it first. */
    unblock("B02");
    int64_t late = refer("2026-11-23", 0, NULL, &d);
    cr_assert_str_eq(outcome(d), "waiting", "the new referral took B02");
    json_decref(d);
    ct_referral r = get(waiting);
    cr_assert_eq(r.state, CT_REFERRAL_HELD);
    cr_assert_str_eq(r.bed_id, "B02");
    /* The re-match is a decision of its own, audited, by the list. */
    cr_assert_eq(cap_fx_int(&f,
                            "SELECT count(*) FROM event WHERE kind = "
                            "'referral.decided' AND actor = ?1",
                            "waiting-list"),
                 1);
    /* A hold released goes on down the list. */
    CAP_OK(ct_referral_cancel(f.cap, first, "went home", "org:acute",
                              &cap_err));
    settle();
    r = get(late);
    cr_assert_eq(r.state, CT_REFERRAL_HELD);
    cr_assert_str_eq(r.bed_id, "B01");
}

/* Existing residents (capacity_resident.h): their bed is occupied and no
 * hold takes it; when they leave, or their expected end passes on the
 * clock, the bed goes to the waiting referral first. */
Test(waitlist, a_residents_bed_goes_down_the_list_when_they_leave)
{
    block_all_but(2);
    block("X01");
    block("X02");
    bool created;
    CAP_OK(ct_capacity_resident_set(f.cap, "B01", 0, "respite", "org:homes",
                                    &created, &cap_err));
    cr_assert(created);
    CAP_OK(ct_capacity_resident_set(f.cap, "B02",
                                    ct_clock_now(f.clock) + 2 * HOUR_MS,
                                    NULL, "org:homes", &created, &cap_err));
    cr_assert_eq(ct_capacity_block(f.cap, "B01", "clean", "t", &cap_err),
                 CT_ESTATE);
    cr_assert(strstr(cap_err.message, "resident"), "%s", cap_err.message);
    json_t *d = NULL;
    int64_t a = refer("2026-11-20", 0, NULL, &d);
    cr_assert_str_eq(outcome(d), "waiting", "a hold took a resident's bed");
    json_decref(d);
    int64_t b = refer("2026-11-23", 0, NULL, NULL);
    CAP_OK(ct_capacity_resident_leave(f.cap, "B01", "org:homes", &cap_err));
    cr_assert_eq(ct_capacity_resident_leave(f.cap, "B01", "org:homes",
                                            &cap_err),
                 CT_ESTATE);
    settle();
    ct_referral r = get(a);
    cr_assert_eq(r.state, CT_REFERRAL_HELD);
    cr_assert_str_eq(r.bed_id, "B01");
    cr_assert_eq(get(b).state, CT_REFERRAL_WAITING);
    /* The expected end passes: B02 is free for the next one. */
    ct_clock_advance(f.clock, 3 * HOUR_MS);
    settle();
    r = get(b);
    cr_assert_eq(r.state, CT_REFERRAL_HELD);
    cr_assert_str_eq(r.bed_id, "B02");
    cr_assert_eq(cap_fx_int(&f,
                            "SELECT count(*) FROM event WHERE kind = "
                            "'resident.left' AND actor = ?1",
                            "host"),
                 1);
}

Test(waitlist, batches_are_bounded_and_new_referrals_queue_behind)
{
    /* 36 ordinary beds blocked, 36 people waiting. */
    block_all_but(0);
    block("X01");
    block("X02");
    int64_t ids[36];
    for (int i = 0; i < 36; i++)
        ids[i] = refer("2026-11-20", 0, NULL, NULL);
    settle();
    /* All 36 free at once, in one transaction. */
    ct_store *s = f.store;
    cr_assert_eq(ct_store_begin(s), 0);
    char id[16];
    for (int i = 1; i <= 36; i++) {
        snprintf(id, sizeof id, "B%02d", i);
        unblock(id);
    }
    cr_assert_eq(ct_store_commit(s), 0);
    ct_intake_rematch_stats st;
    CAP_OK(ct_intake_rematch(f.cap, NULL, &st, &cap_err));
    cr_assert(st.decided <= CT_INTAKE_REMATCH_DECISIONS);
    cr_assert(st.more, "one batch did all 36");
    /* A new referral with the top priority while the round runs: queued,
     * not searched; it has its turn in the round. */
    json_t *d = NULL;
    int64_t urgent = refer("2026-11-23", 100, NULL, &d);
    cr_assert_str_eq(outcome(d), "waiting");
    cr_assert(json_is_true(json_object_get(d, "deferred")));
    cr_assert_gt(json_array_size(json_object_get(d, "reasons")), 0);
    json_decref(d);
    settle();
    /* 36 beds, 37 people: the urgent one is held, and of the others,
     * the last to arrive waits. */
    cr_assert_eq(get(urgent).state, CT_REFERRAL_HELD);
    int waiting = 0;
    for (int i = 0; i < 36; i++)
        if (get(ids[i]).state == CT_REFERRAL_WAITING) {
            waiting++;
            cr_assert_eq(i, 35, "referral %d waits, not the last", i + 1);
        }
    cr_assert_eq(waiting, 1);
}

Test(waitlist, a_rolled_back_round_is_done_again)
{
    block_all_but(0);
    block("X01");
    block("X02");
    int64_t a = refer("2026-11-20", 0, NULL, NULL);
    settle();
    unblock("B05");
    cr_assert_eq(ct_store_begin(f.store), 0);
    ct_intake_rematch_stats st;
    CAP_OK(ct_intake_rematch(f.cap, NULL, &st, &cap_err));
    cr_assert_eq(st.held, 1);
    cr_assert(!ct_capacity_waitlist_pending(f.cap));
    ct_store_rollback(f.store);
    ct_capacity_refresh(f.cap);
    cr_assert(ct_capacity_waitlist_pending(f.cap));
    cr_assert_eq(get(a).state, CT_REFERRAL_WAITING);
    settle();
    cr_assert_eq(get(a).state, CT_REFERRAL_HELD);
}

Test(waitlist, an_expired_bed_or_a_declining_provider_is_not_offered_again)
{
    block_all_but(2);
    block("X01");
    block("X02");
    int64_t a = refer("2026-11-20", 0, NULL, NULL);
    cr_assert_str_eq(get(a).bed_id, "B01");
    /* B01's hold expires unanswered: the list offers B02. */
    ct_clock_advance(f.clock, 5 * HOUR_MS);
    settle();
    ct_referral r = get(a);
    cr_assert_eq(r.state, CT_REFERRAL_HELD);
    cr_assert_str_eq(r.bed_id, "B02");
    /* B01 goes to the next one in the list. */
    int64_t b = refer("2026-11-21", 0, NULL, NULL);
    cr_assert_str_eq(get(b).bed_id, "B01");
    /* The home declines a: none of its beds is offered to a again, even
     * one that frees. */
    CAP_OK(ct_capacity_decline(f.cap, a, "homes", "no nursing staff",
                               "org:homes", &cap_err));
    unblock("B03");
    settle();
    cr_assert_eq(get(a).state, CT_REFERRAL_WAITING);
    json_t *d = NULL;
    CAP_OK(ct_pipeline_stored_decision(f.cap, a, &d, &cap_err));
    char *text = json_dumps(json_object_get(d, "reasons"), 0);
    cr_assert(strstr(text, "declined this referral or let its hold"), "%s",
              text);
    free(text);
    json_decref(d);
}

Test(waitlist, a_wait_explains_itself)
{
    /* Bariatric: two beds, one blocked, one held by someone else. */
    block("X01");
    json_t *d = NULL;
    int64_t a = refer("2026-11-20", 0, "bariatric", &d);
    cr_assert_str_eq(outcome(d), "held");
    json_decref(d);
    refer("2026-11-21", 0, "bariatric", &d);
    cr_assert_str_eq(outcome(d), "waiting");
    json_t *ex = json_object_get(json_object_get(d, "why"), "excluded");
    cr_assert_not_null(ex, "no structured reasons");
    /* 42 beds of the home lack the tag; X02 is held, X01 blocked. */
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(ex, "tags"), "bariatric")),
                 42);
    cr_assert_eq(json_integer_value(json_object_get(ex, "held")), 1);
    cr_assert_eq(json_integer_value(json_object_get(ex, "blocked")), 1);
    json_t *would = json_object_get(json_object_get(d, "why"), "would_place");
    cr_assert_eq(json_array_size(would), 1);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(would, 0), "event")),
                     "hold_expires");
    char *text = json_dumps(json_object_get(d, "reasons"), 0);
    cr_assert(strstr(text, "lack the tag bariatric"), "%s", text);
    cr_assert(strstr(text, "bed X02 frees at"), "%s", text);
    free(text);
    json_decref(d);
    (void)a;
}

/* ---- the random walk -------------------------------------------------- */

/* The fairness invariant after a step: the list is settled (no waiting
 * referral could take a free bed now: a decision for it, tried in a
 * savepoint and rolled back, holds nothing), and no hold made in the
 * step is on a bed that a waiting referral already there before the
 * step, earlier in the order, could take under the same rules (the hold released and the waiting one
 * decided, in a savepoint). Every wait has a reason. */
typedef struct held_row {
    int64_t id, hold_at;
    int prio;
    char ready[11];
    char bed[CT_CAP_ID_MAX];
} held_row;

static bool before(int pa, const char *ra, int64_t ia, int pb,
                   const char *rb, int64_t ib)
{
    if (pa != pb)
        return pa > pb;
    int c = strcmp(ra, rb);
    return c ? c < 0 : ia < ib;
}

/* Whether a decision for w (inside a savepoint, undone) holds a bed, or
 * held bed `bed` when given after releasing holder's hold. */
static bool could_take(int64_t w, int64_t holder, const char *bed)
{
    cr_assert_eq(ct_store_begin(f.store), 0);
    ct_cap_error e = {0};
    if (holder)
        cr_assert_eq(ct_capacity_release(f.cap, holder, "check", "test", &e),
                     0, "%s", e.message);
    json_t *d = NULL;
    int rc = ct_pipeline_decide(f.cap, NULL, w, "test", &d, &e);
    cr_assert_eq(rc, 0, "%s", e.message);
    const char *b = json_string_value(json_object_get(d, "bed"));
    bool took = b && (!bed || strcmp(b, bed) == 0);
    if (took && getenv("CT_WALK_TRACE"))
        fprintf(stderr, "referral %lld could take %s\n", (long long)w, b);
    json_decref(d);
    ct_store_rollback(f.store);
    ct_capacity_refresh(f.cap);
    /* The check's own marks are not the walk's. */
    settle();
    return took;
}

static void check_invariant(int step, int64_t since, int64_t last_ref)
{
    sqlite3 *db = ct_store__db(f.store);
    sqlite3_stmt *st;
    /* Waiting referrals, with their order key, creation and decision. */
    cr_assert_eq(sqlite3_prepare_v2(
                     db,
                     "SELECT id, priority, ready_date, created_at, "
                     "json_extract(decision, '$.outcome'), "
                     "json_array_length(decision, '$.reasons') "
                     "FROM referral WHERE state = 'waiting'",
                     -1, &st, NULL),
                 SQLITE_OK);
    struct {
        int64_t id, created;
        int prio;
        char ready[11];
        bool manual;
    } w[256];
    size_t nw = 0;
    while (sqlite3_step(st) == SQLITE_ROW && nw < 256) {
        w[nw].id = sqlite3_column_int64(st, 0);
        w[nw].prio = sqlite3_column_int(st, 1);
        snprintf(w[nw].ready, sizeof w[nw].ready, "%s",
                 sqlite3_column_text(st, 2));
        w[nw].created = sqlite3_column_int64(st, 3);
        const unsigned char *o = sqlite3_column_text(st, 4);
        w[nw].manual = o && strcmp((const char *)o, "manual_review") == 0;
        cr_assert_gt(sqlite3_column_int(st, 5), 0,
                     "step %d: referral %lld waits without a reason", step,
                     (long long)w[nw].id);
        nw++;
    }
    sqlite3_finalize(st);
    held_row h[256];
    size_t nh = 0;
    cr_assert_eq(sqlite3_prepare_v2(
                     db,
                     "SELECT r.id, r.priority, r.ready_date, a.started_at, "
                     "a.bed_id FROM referral r JOIN assignment a ON "
                     "a.referral_id = r.id AND a.active = 1 AND "
                     "a.expires_at IS NOT NULL WHERE r.state = 'held' "
                     "AND a.id > ?1",
                     -1, &st, NULL),
                 SQLITE_OK);
    sqlite3_bind_int64(st, 1, since);
    while (sqlite3_step(st) == SQLITE_ROW && nh < 256) {
        h[nh].id = sqlite3_column_int64(st, 0);
        h[nh].prio = sqlite3_column_int(st, 1);
        snprintf(h[nh].ready, sizeof h[nh].ready, "%s",
                 sqlite3_column_text(st, 2));
        h[nh].hold_at = sqlite3_column_int64(st, 3);
        snprintf(h[nh].bed, sizeof h[nh].bed, "%s",
                 sqlite3_column_text(st, 4));
        nh++;
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < nw; i++) {
        if (w[i].manual)
            continue;
        cr_assert(!could_take(w[i].id, 0, NULL),
                  "step %d: referral %lld waits while a bed it could take "
                  "is free",
                  step, (long long)w[i].id);
        for (size_t j = 0; j < nh && w[i].id <= last_ref; j++)
            if (before(w[i].prio, w[i].ready, w[i].id, h[j].prio,
                       h[j].ready, h[j].id)) {
                cr_assert(!could_take(w[i].id, h[j].id, h[j].bed),
                          "step %d: referral %lld holds %s, which waiting "
                          "referral %lld (earlier in the order) could take",
                          step, (long long)h[j].id, h[j].bed,
                          (long long)w[i].id);
            }
    }
}

Test(waitlist, random_walk_keeps_the_list_fair, .timeout = 120)
{
    unsigned seed = 21;
    const char *env = getenv("CT_WALK_SEED");
    if (env)
        seed = (unsigned)strtoul(env, NULL, 10);
    srand(seed);
    /* Start tight: most beds blocked. */
    block_all_but(4);
    static const char *const days[] = {"2026-11-15", "2026-11-18",
                                       "2026-11-20", "2026-11-23",
                                       "2026-11-25"};
    int64_t refs[512], since;
    size_t nrefs = 0;
    char bed[16];
    for (int step = 0; step < 150; step++) {
        int op = rand() % 13;
        /* Holds made in this step are checked (under the rules the step
         * leaves: a step changes them before it places anyone). */
        since = cap_fx_int(&f, "SELECT coalesce(max(id), 0) FROM assignment",
                           NULL);
        /* ... against the referrals that were there before it. */
        int64_t last_ref = cap_fx_int(
            &f, "SELECT coalesce(max(id), 0) FROM referral", NULL);
        ct_cap_error e = {0};
        switch (op) {
        case 0: case 1: case 2: { /* a referral */
            const char *need = rand() % 6 == 0 ? "bariatric" : NULL;
            json_t *d = NULL;
            int64_t id = refer(days[rand() % 5], rand() % 4 == 0 ? 10 : 0,
                               need, &d);
            json_decref(d);
            if (nrefs < 512)
                refs[nrefs++] = id;
            if (rand() % 5 == 0) { /* tests positive */
                char nhs[11];
                cap_fx_nhs((unsigned)seq_nhs, nhs);
                cap_fx_infection(&f, nhs, "covid", CT_INFECTION_POSITIVE,
                                 ct_clock_now(f.clock) +
                                     (1 + rand() % 48) * HOUR_MS);
            }
            break;
        }
        case 3: /* a bed blocked or unblocked */
            snprintf(bed, sizeof bed, "B%02d", 1 + rand() % 36);
            if (ct_capacity_block(f.cap, bed, "walk", "t", &e))
                ct_capacity_unblock(f.cap, bed, "t", &e);
            break;
        case 4: /* surge */
            if (rand() % 2)
                ct_capacity_surge_open(f.cap, "home", 2, "t", NULL, &e);
            else
                ct_capacity_surge_close(f.cap, "home", CT_SURGE_ALL, "t",
                                        NULL, &e);
            break;
        case 5: /* a zone closed or reopened */
            if (ct_isolation_close_zone(f.cap, rand() % 2 ? "east" : "west",
                                        "outbreak", "t", NULL, &e))
                ct_isolation_open_zone(f.cap, rand() % 2 ? "east" : "west",
                                       "t", &e);
            break;
        case 6: case 7: { /* a held referral confirmed, completed, cancelled */
            if (!nrefs)
                break;
            int64_t id = refs[rand() % nrefs];
            ct_referral r;
            if (ct_referral_get(f.cap, id, &r, &e))
                break;
            if (r.state == CT_REFERRAL_HELD)
                ct_capacity_confirm(f.cap, id, "t", NULL, &e);
            else if (r.state == CT_REFERRAL_PLACED &&
                     !ct_referral_discharge(f.cap, id, "t", &e))
                ct_referral_complete(f.cap, id, "t", &e);
            else if (r.state == CT_REFERRAL_WAITING && rand() % 3 == 0)
                ct_referral_cancel(f.cap, id, "walk", "t", &e);
            break;
        }
        case 8: /* time: holds expire, isolations end */
            ct_clock_advance(f.clock, (1 + rand() % 6) * HOUR_MS);
            break;
        case 9: /* a provider declines */
            if (nrefs) {
                int64_t id = refs[rand() % nrefs];
                ct_capacity_decline(f.cap, id, "homes", "walk", "t", &e);
            }
            break;
        case 10: /* a policy change: the escalation level */
            ct_capacity_waitlist_mark(f.cap, CT_WAITLIST_POLICY);
            break;
        case 12: { /* an existing resident arrives (maybe leaving in a
                    * few hours) or leaves */
            bool created;
            snprintf(bed, sizeof bed, "B%02d", 1 + rand() % 36);
            if (ct_capacity_resident_leave(f.cap, bed, "t", &e))
                ct_capacity_resident_set(
                    f.cap, bed,
                    rand() % 2 ? ct_clock_now(f.clock) +
                                     (1 + rand() % 6) * HOUR_MS
                               : 0,
                    NULL, "t", &created, &e);
            break;
        }
        default: /* an isolation ends early: the cohort of red opens */
            ct_isolation_notify_due(f.cap);
            break;
        }
        if (getenv("CT_WALK_TRACE")) /* which step did what */
            fprintf(stderr, "step %d: op %d %s\n", step, op, e.message);
        /* A third of the steps go on before the list is re-matched: the
         * next change (a referral, say) meets it pending. */
        if (rand() % 3 == 0)
            continue;
        settle();
        check_invariant(step, since, last_ref);
    }
}
