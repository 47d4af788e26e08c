/* Candidate search (host/candidates.c). */
#include "candidates.h"
#include "capacity_fixture.h"
#include "fixtures.h"
#include "isolation.h"
#include "referral.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cap_fx f;
static ct_candidate_list list;
static char nhs[12][11];

static void setup(void)
{
    cap_fx_open(&f, NULL);
    for (unsigned i = 0; i < 12; i++)
        cap_fx_nhs(i, nhs[i]);
}
static void teardown(void)
{
    ct_candidate_list_free(&list);
    cap_fx_close(&f);
}

TestSuite(candidates, .init = setup, .fini = teardown);

#define ALL_KINDS ((1u << CT_FACILITY__COUNT) - 1)

/* The bed ids found, joined with spaces (static buffer). */
static const char *found(const ct_candidate_query *q)
{
    static char out[1024];
    CAP_OK(ct_candidates_find(f.cap, q, &list, &cap_err));
    out[0] = '\0';
    for (size_t i = 0; i < list.len; i++) {
        if (i)
            strcat(out, " ");
        strcat(out, list.items[i].bed_id);
    }
    return out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The space-separated words of s in sorted order (static buffer). */
static const char *sorted(const char *s)
{
    static char buf[1024], out[1024];
    char *words[128];
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", s);
    for (char *w = strtok(buf, " "); w && n < 128; w = strtok(NULL, " "))
        words[n++] = w;
    qsort(words, n, sizeof *words, cmp_str);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(out, " ");
        strcat(out, words[i]);
    }
    return out;
}

static const char *found_for(int64_t referral)
{
    ct_candidate_query q = {.referral_id = referral, .pathway = -1};
    return found(&q);
}

Test(candidates, by_pathway_and_needs)
{
    static const char *const nursing[] = {"nursing", NULL};
    int64_t r = cap_fx_referral(&f, nhs[0], "2026-11-23", CT_PATHWAY_P3,
                                nursing);
    cr_assert_str_eq(found_for(r), "H01 H02 H03 H04 H05 H06 M01 M02");
    const ct_candidate *c = &list.items[4];
    cr_assert_str_eq(c->bed_id, "H05");
    cr_assert_str_eq(c->zone_id, "home-main");
    cr_assert_str_eq(c->facility_id, "home");
    cr_assert_eq(c->kind, CT_FACILITY_CARE_HOME);
    cr_assert_str_eq(c->org_id, "homes");
    cr_assert_eq(c->ntags, 2);
    cr_assert_str_eq(c->tags[0], "bariatric");
    cr_assert_str_eq(c->tags[1], "nursing");
    cr_assert_not(c->designated);
    cr_assert_not(c->surge);
    cr_assert_not(c->isolation_room);
    /* The zone's cohorts that are not open, in the area's pathogen order. */
    cr_assert_eq(c->ncohorts, 2);
    cr_assert_str_eq(c->cohort_pathogens[0], "covid");
    cr_assert_eq(c->cohorts[0], CT_COHORT_NEGATIVE);
    cr_assert_str_eq(c->cohort_pathogens[1], "norovirus");
    cr_assert_eq(c->cohorts[1], CT_COHORT_NEGATIVE);
    c = &list.items[6];
    cr_assert_str_eq(c->zone_id, "home-memory");
    cr_assert_eq(c->ncohorts, 0, "every pathogen open");
    cr_assert_null(c->cohorts);

    static const char *const heavy[] = {"bariatric", NULL};
    r = cap_fx_referral(&f, nhs[1], "2026-11-23", CT_PATHWAY_P3, heavy);
    cr_assert_str_eq(found_for(r), "H05 H06");
    static const char *const none_has[] = {"nursing", "hydrotherapy", NULL};
    r = cap_fx_referral(&f, nhs[2], "2026-11-23", CT_PATHWAY_P3, none_has);
    cr_assert_str_eq(found_for(r), "");
}

Test(candidates, pathway_kinds)
{
    int64_t r = cap_fx_referral(&f, nhs[0], "2026-11-23", CT_PATHWAY_P1,
                                NULL);
    cr_assert_str_eq(found_for(r), "HC01 HC02 HC03");
    ct_candidate_query q = {.referral_id = r, .pathway = CT_PATHWAY_P2};
    cr_assert_str_eq(found(&q), "G01 G02 G03 G04 G07 W01 W02 W03",
                     "P2: rehab and step-down; red is covid positive");
    q.pathway = CT_PATHWAY_P0;
    cr_assert_str_eq(found(&q), "", "P0 needs no bed");
    q.pathway = -1;
    q.kinds = 1u << CT_FACILITY_REHAB;
    cr_assert_str_eq(found(&q), "W01 W02 W03", "kinds override the pathway");
    /* No pathway at all: every kind, zone by zone (green, home-main,
     * home-memory, north, red, ward), beds in id order within a zone. */
    r = cap_fx_referral(&f, nhs[1], "2026-11-23", -1, NULL);
    cr_assert_str_eq(found_for(r), "G01 G02 G03 G04 G07 H01 H02 H03 H04 H05 "
                                   "H06 M01 M02 HC01 HC02 HC03 W01 W02 W03");
    q = (ct_candidate_query){.referral_id = r, .pathway = -1,
                             .facility_id = "rehab", .limit = 2};
    cr_assert_str_eq(found(&q), "W01 W02");
    static const char *const extra[] = {"dementia"};
    q = (ct_candidate_query){.referral_id = r, .pathway = -1, .tags = extra,
                             .ntags = 1};
    cr_assert_str_eq(found(&q), "M01 M02");
}

Test(candidates, state_of_beds_and_zones)
{
    static const char *const nursing[] = {"nursing", NULL};
    int64_t r = cap_fx_referral(&f, nhs[0], "2026-11-23", CT_PATHWAY_P3,
                                nursing);
    int64_t other = cap_fx_referral(&f, nhs[1], "2026-11-23", CT_PATHWAY_P3,
                                    NULL);
    CAP_OK(ct_capacity_hold(f.cap, other, "H01", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_block(f.cap, "H02", "flooded", "a", &cap_err));
    CAP_OK(ct_isolation_close_zone(f.cap, "home-memory", "flu outbreak", "a",
                                   NULL, &cap_err));
    cr_assert_str_eq(found_for(r), "H03 H04 H05 H06");
    CAP_OK(ct_capacity_confirm(f.cap, other, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_unblock(f.cap, "H02", "a", &cap_err));
    CAP_OK(ct_isolation_open_zone(f.cap, "home-memory", "a", &cap_err));
    cr_assert_str_eq(found_for(r), "H02 H03 H04 H05 H06 M01 M02");
}

Test(candidates, infection_and_surge)
{
    int64_t r = cap_fx_referral(&f, nhs[0], "2026-11-23",
                                CT_PATHWAY_STEP_DOWN, NULL);
    cap_fx_infection(&f, nhs[0], "covid", CT_INFECTION_POSITIVE,
                     CAP_FX_START + 10 * DAY_MS);
    cr_assert_str_eq(found_for(r), "G07 R01 R02 R03 R04");
    cr_assert(list.items[0].isolation_room);
    cr_assert(list.items[0].designated);
    CAP_OK(ct_capacity_surge_open(f.cap, "sd", CT_SURGE_ALL, "a", NULL,
                                  &cap_err));
    cr_assert_str_eq(found_for(r), "G07 R01 R02 R03 R04 R05");
    cr_assert(list.items[5].surge);
    /* When the isolation ends the green wing opens to the person too. */
    ct_clock_advance(f.clock, 10 * DAY_MS);
    cr_assert_str_eq(found_for(r),
                     "G01 G02 G03 G04 G05 G06 G07 R01 R02 R03 R04 R05");
    /* A negative person: green only. */
    int64_t n = cap_fx_referral(&f, nhs[1], "2026-11-23",
                                CT_PATHWAY_STEP_DOWN, NULL);
    cr_assert_str_eq(found_for(n), "G01 G02 G03 G04 G05 G06 G07");
}

Test(candidates, refusals_and_json)
{
    ct_candidate_query q = {.referral_id = 77, .pathway = -1};
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_candidates_find(f.cap, &q, &list, &cap_err),
                "referral 77 does not exist");
    int64_t r = cap_fx_referral(&f, nhs[0], "2026-11-23", CT_PATHWAY_P1,
                                NULL);
    q = (ct_candidate_query){.referral_id = r, .pathway = 12};
    CAP_REFUSED(&f, CT_EINVAL, ct_candidates_find(f.cap, &q, &list, &cap_err),
                "pathway 12 is not a pathway");
    q = (ct_candidate_query){.referral_id = r, .pathway = -1,
                             .kinds = 1u << 9};
    CAP_REFUSED(&f, CT_EINVAL, ct_candidates_find(f.cap, &q, &list, &cap_err),
                "name no kind");

    cr_assert_str_eq(found_for(r), "HC01 HC02 HC03");
    json_t *a = ct_candidates_json(&list);
    cr_assert_eq(json_array_size(a), 3);
    char *text = json_dumps(json_array_get(a, 0), JSON_SORT_KEYS);
    cr_assert_str_eq(text,
                     "{\"bed\": \"HC01\", \"cohort\": {}, \"designated\": "
                     "false, \"facility\": \"hc\", \"isolation_room\": false, "
                     "\"kind\": \"home_care\", \"org\": \"council\", "
                     "\"surge\": false, \"tags\": [\"reablement\"], \"zone\": "
                     "\"north\"}");
    free(text);
    json_decref(a);
}

/* Every bed is a candidate exactly when a hold on it would succeed: the SQL
 * search and the C admission checks agree, for people of every kind. */
Test(candidates, agree_with_holds)
{
    /* Some state first: busy, blocked, closed, surge partly open. */
    int64_t busy = cap_fx_referral(&f, nhs[11], "2026-11-23",
                                   CT_PATHWAY_P3, NULL);
    CAP_OK(ct_capacity_hold(f.cap, busy, "H03", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_block(f.cap, "W02", "repairs", "a", &cap_err));
    CAP_OK(ct_isolation_close_zone(f.cap, "north", "staffing", "a", NULL,
                                   &cap_err));
    CAP_OK(ct_capacity_surge_open(f.cap, "sd", 1, "a", NULL, &cap_err));

    struct {
        const char *pathogen;
        int status;
        int64_t end;
        const char *const *needs;
    } people[] = {
        {NULL, 0, 0, NULL},
        {"covid", CT_INFECTION_NEGATIVE, 0, NULL},
        {"covid", CT_INFECTION_POSITIVE, CAP_FX_START + DAY_MS, NULL},
        {"covid", CT_INFECTION_POSITIVE, 0, NULL},
        {"covid", CT_INFECTION_AWAITING, 0, NULL},
        {"covid", CT_INFECTION_UNKNOWN, 0, NULL},
        {"norovirus", CT_INFECTION_POSITIVE, 0, NULL},
        {"flu", CT_INFECTION_POSITIVE, 0, NULL},
        {NULL, 0, 0, (const char *const[]){"bariatric", NULL}},
        {NULL, 0, 0, (const char *const[]){"isolation_room", "nursing", NULL}},
    };
    sqlite3_stmt *beds;
    cr_assert_eq(sqlite3_prepare_v2(ct_store__db(f.store),
                                    "SELECT id FROM bed ORDER BY id", -1,
                                    &beds, NULL),
                 SQLITE_OK);
    for (size_t p = 0; p < sizeof people / sizeof people[0]; p++) {
        int64_t r = cap_fx_referral(&f, nhs[p], "2026-11-23",
                                    CT_PATHWAY_STEP_DOWN, people[p].needs);
        if (people[p].pathogen) {
            ct_infection_update u = {nhs[p], people[p].pathogen,
                                     (ct_infection_status)people[p].status,
                                     0, people[p].end};
            CAP_OK(ct_isolation_set_status(f.cap, &u, "a", NULL, &cap_err));
        }
        ct_candidate_query q = {.referral_id = r, .pathway = -1,
                                .kinds = ALL_KINDS};
        char want[1024] = "";
        sqlite3_reset(beds);
        while (sqlite3_step(beds) == SQLITE_ROW) {
            const char *bed = (const char *)sqlite3_column_text(beds, 0);
            cr_assert_eq(ct_store_begin(f.store), 0);
            ct_cap_error e;
            int rc = ct_capacity_hold(f.cap, r, bed, 0, "a", NULL, &e);
            ct_store_rollback(f.store);
            cr_assert(rc == 0 || rc == CT_ESTATE || rc == CT_ECOHORT ||
                          rc == CT_ECLOSED || rc == CT_ECAPACITY,
                      "%s: %s", bed, e.message);
            if (rc == 0) {
                if (*want)
                    strcat(want, " ");
                strcat(want, bed);
            }
        }
        cr_assert_str_eq(sorted(found(&q)), want, "person %zu", p);
    }
    sqlite3_finalize(beds);
    /* The clock moves: person 2's isolation ends, the answers still agree
     * (checked by the next search being a superset). */
    ct_clock_advance(f.clock, 2 * DAY_MS);
    ct_candidate_query q = {.referral_id = 3, .pathway = -1,
                            .kinds = ALL_KINDS};
    cr_assert_not_null(strstr(found(&q), "G01"));
}

/* Thousands of beds: rows come in id order up to the limit, from both the
 * available-bed walk and the rare-tag walk. */
Test(candidates, thousands_of_beds)
{
    cap_fx_close(&f);
    ct_buf y = {0};
    ct_buf_puts(&y, "area: {id: big, name: Big}\n"
                    "organisations: [{id: acute, name: A}, {id: o, name: O}]\n"
                    "facilities:\n");
    for (int fac = 0; fac < 40; fac++) {
        ct_buf_printf(&y,
                      "  - id: f%02d\n    name: F\n    kind: care_home\n"
                      "    organisation: o\n    zones:\n",
                      fac);
        for (int z = 0; z < 3; z++) {
            ct_buf_printf(&y,
                          "      - id: z%02d-%d\n        cohort: {covid: %s}\n"
                          "        beds:\n"
                          "          - range: B%02d%d-001..B%02d%d-024\n"
                          "            tags: [nursing]\n"
                          "          - id: B%02d%d-025\n"
                          "            tags: [nursing, bariatric]\n",
                          fac, z, z == 2 ? "positive" : "negative", fac, z,
                          fac, z, fac, z);
        }
    }
    cap_fx_open(&f, y.data);
    ct_buf_free(&y);
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM bed", NULL), 3000);
    int64_t r = cap_fx_referral(&f, nhs[0], "2026-11-23", CT_PATHWAY_P3,
                                NULL);
    ct_candidate_query q = {.referral_id = r, .pathway = -1, .limit = 3};
    cr_assert_str_eq(found(&q), "B000-001 B000-002 B000-003");
    for (int i = 1; i <= 2; i++) {
        char bed[16];
        snprintf(bed, sizeof bed, "B000-%03d", i);
        int64_t o = cap_fx_referral(&f, nhs[i], "2026-11-23", CT_PATHWAY_P3,
                                    NULL);
        CAP_OK(ct_capacity_hold(f.cap, o, bed, 0, "a", NULL, &cap_err));
    }
    cr_assert_str_eq(found(&q), "B000-003 B000-004 B000-005");
    q.limit = 0;
    CAP_OK(ct_candidates_find(f.cap, &q, &list, &cap_err));
    cr_assert_eq(list.len, 2000 - 2, "negative zones only, two held");
    /* Bariatric beds are rare: the search walks them. */
    static const char *const heavy[] = {"bariatric", NULL};
    int64_t h = cap_fx_referral(&f, nhs[5], "2026-11-23", CT_PATHWAY_P3,
                                heavy);
    q = (ct_candidate_query){.referral_id = h, .pathway = -1, .limit = 4};
    cr_assert_str_eq(found(&q), "B000-025 B001-025 B010-025 B011-025");
}

/* The index follows every change without a reload, and reloads after a
 * caller's rollback, another connection's commit or a refresh. */
Test(candidates, index_keeps_in_step)
{
    cap_fx_close(&f);
    const char *dir = ct_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/area.db", dir);
    cap_fx_open_path(&f, NULL, path, CT_SYNC_NORMAL);
    int64_t r = cap_fx_referral(&f, nhs[0], "2026-11-23", CT_PATHWAY_P2,
                                NULL);
    int64_t o = cap_fx_referral(&f, nhs[1], "2026-11-23", CT_PATHWAY_P2,
                                NULL);
    cr_assert_str_eq(found_for(r), "G01 G02 G03 G04 G07 W01 W02 W03");
    CAP_OK(ct_capacity_hold(f.cap, o, "G01", 0, "a", NULL, &cap_err));
    CAP_OK(ct_capacity_block(f.cap, "W01", "x", "a", &cap_err));
    CAP_OK(ct_capacity_surge_open(f.cap, "sd", 1, "a", NULL, &cap_err));
    cr_assert_str_eq(found_for(r), "G02 G03 G04 G05 G07 W02 W03");
    CAP_OK(ct_isolation_set_cohort(f.cap, "ward", "covid",
                                   CT_COHORT_POSITIVE, "a", &cap_err));
    CAP_OK(ct_isolation_close_zone(f.cap, "green", "outbreak", "a", NULL,
                                   &cap_err));
    cr_assert_str_eq(found_for(r), "", "the hold in green was released too");
    CAP_OK(ct_isolation_open_zone(f.cap, "green", "a", &cap_err));
    CAP_OK(ct_isolation_set_cohort(f.cap, "ward", "covid", CT_COHORT_OPEN,
                                   "a", &cap_err));
    cr_assert_str_eq(found_for(r), "G01 G02 G03 G04 G05 G07 W02 W03");

    /* A caller's batch rolled back: the index forgets what it saw. */
    cr_assert_eq(ct_store_begin(f.store), 0);
    CAP_OK(ct_capacity_block(f.cap, "W02", "x", "a", &cap_err));
    cr_assert_str_eq(found_for(r), "G01 G02 G03 G04 G05 G07 W03");
    ct_store_rollback(f.store);
    cr_assert_str_eq(found_for(r), "G01 G02 G03 G04 G05 G07 W02 W03");

    /* Another connection commits: noticed by data_version. */
    sqlite3 *other;
    cr_assert_eq(sqlite3_open(path, &other), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(other,
                              "UPDATE bed SET status = 'blocked', "
                              "blocked_reason = 'elsewhere' WHERE id = 'W03'",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    cr_assert_str_eq(found_for(r), "G01 G02 G03 G04 G05 G07 W02");

    /* A batch reads data_version once (no one else can commit while it
     * writes); the next batch reads it again and sees a commit made by
     * another connection in between. */
    cr_assert_eq(ct_store_begin(f.store), 0);
    cr_assert_str_eq(found_for(r), "G01 G02 G03 G04 G05 G07 W02");
    cr_assert_str_eq(found_for(r), "G01 G02 G03 G04 G05 G07 W02");
    cr_assert_eq(ct_store_commit(f.store), 0);
    cr_assert_eq(sqlite3_exec(other,
                              "UPDATE bed SET status = 'blocked', "
                              "blocked_reason = 'elsewhere' WHERE id = 'W02'",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    cr_assert_eq(ct_store_begin(f.store), 0);
    cr_assert_str_eq(found_for(r), "G01 G02 G03 G04 G05 G07");
    cr_assert_eq(ct_store_commit(f.store), 0);
    cr_assert_eq(sqlite3_exec(other,
                              "UPDATE bed SET status = 'available', "
                              "blocked_reason = NULL WHERE id = 'W02'",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(other);
    cr_assert_str_eq(found_for(r), "G01 G02 G03 G04 G05 G07 W02");

    /* The same connection behind the handle's back: refresh. */
    cr_assert_eq(sqlite3_exec(ct_store__db(f.store),
                              "UPDATE bed SET status = 'available', "
                              "blocked_reason = NULL WHERE id = 'W03'",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    cr_assert_eq(ct_capacity_refresh(f.cap), 0);
    cr_assert_str_eq(found_for(r), "G01 G02 G03 G04 G05 G07 W02 W03");
    cap_fx_close(&f);
    ct_test_rmtree(dir);
    cap_fx_open(&f, NULL); /* for teardown */
}

/* Outside a transaction a search reads in a snapshot of its own and ends
 * it, found or not; inside one it leaves the caller's open. */
Test(candidates, searches_leave_transactions_as_they_were)
{
    ct_candidate_query q = {.referral_id = 77, .pathway = -1};
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_candidates_find(f.cap, &q, &list, &cap_err),
                "referral 77 does not exist");
    cr_assert_not(ct_store_in_transaction(f.store));
    int64_t r = cap_fx_referral(&f, nhs[0], "2026-11-23", CT_PATHWAY_P1,
                                NULL);
    cr_assert_str_eq(found_for(r), "HC01 HC02 HC03");
    cr_assert_not(ct_store_in_transaction(f.store));
    cr_assert_eq(ct_store_begin(f.store), 0);
    cr_assert_str_eq(found_for(r), "HC01 HC02 HC03");
    CAP_OK(ct_capacity_hold(f.cap, r, "HC01", 0, "org:council", NULL,
                            &cap_err));
    cr_assert_str_eq(found_for(r), "HC02 HC03");
    cr_assert(ct_store_in_transaction(f.store));
    cr_assert_eq(ct_store_commit(f.store), 0);
    cr_assert_str_eq(found_for(r), "HC02 HC03", "the index kept its notes");
}
