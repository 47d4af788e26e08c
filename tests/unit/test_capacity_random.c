/*
 * Seeded random walk over the capacity units: thousands of holds,
 * confirms, expiries, discharges, blocks, cohort changes, surge changes,
 * zone closures and infection results, with the invariants checked after
 * every step from the rows themselves:
 *   - no bed and no referral with two active assignments;
 *   - bed.status equals what its assignment and block say; referral states
 *     agree with their assignments; metrics equal a recount;
 *   - no cohort breach among held beds, and among occupied beds only
 *     breaches that a new test result caused and an isolation.breach event
 *     reported (the rule is re-implemented here in SQL, independently);
 *   - no hold in a closed zone or on a closed surge bed; nothing overdue
 *     on the clock;
 *   - a refused step writes nothing; a bed offered by candidate search can
 *     be held;
 *   - the audit chain verifies, periodically and at the end;
 *   - the whole-area counts kept incrementally (the area index: metrics
 *     by zone and by cohort, the capacity view) equal a recount of the
 *     rows, also after steps rolled back in a caller's transaction.
 * CT_RANDOM_SEED and CT_RANDOM_STEPS override the defaults.
 */
#include "candidates.h"
#include "capacity_view.h"
#include "capacity_fixture.h"
#include "isolation.h"
#include "metrics.h"
#include "referral.h"
#include "util.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEOPLE 40

static cap_fx f;
static uint64_t rng;
static uint64_t seed;
static int step;
static char people[PEOPLE][11];
static ct_candidate_list cands;
/* Referrals whose occupant was reported in breach by isolation.breach. */
static json_t *reported;

static uint64_t next(void)
{
    /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

static int pick(int n) { return n > 0 ? (int)(next() % (uint64_t)n) : 0; }
static bool chance(int percent) { return pick(100) < percent; }

static const char *const pathogens[] = {"covid", "flu", "norovirus"};
static const char *const tags[] = {"nursing", "dementia", "bariatric",
                                   "isolation_room"};

/* ---- area ------------------------------------------------------------ */

static char *area(void)
{
    ct_buf y = {0};
    ct_buf_puts(&y, "area: {id: rnd, name: Random}\n"
                    "pathogens: [covid, flu, norovirus]\n"
                    "organisations:\n"
                    "  - {id: acute, name: Acute}\n"
                    "  - {id: council, name: Council}\n"
                    "  - {id: homes, name: Homes}\n"
                    "facilities:\n");
    static const struct {
        const char *id, *kind, *org;
        int designated;
    } facs[] = {{"sd", "step_down", "council", 1},
                {"ch", "care_home", "homes", 0},
                {"rh", "rehab", "council", 0},
                {"hc", "home_care", "council", 0}};
    static const char *const cohorts[] = {
        "{covid: positive}", "{covid: negative, flu: negative}",
        "{covid: open}",
        "{covid: negative, norovirus: negative}", "{flu: positive}"};
    for (int fi = 0; fi < 4; fi++) {
        ct_buf_printf(&y,
                      "  - id: %s\n    name: %s\n    kind: %s\n"
                      "    organisation: %s\n    designated_setting: %s\n"
                      "    zones:\n",
                      facs[fi].id,
                      /* text the view's writer must escape as jansson */
                      fi == 1 ? "\"The \\\"Caf\\u00e9\\\" \\U0001F3E5 home\""
                              : "F",
                      facs[fi].kind, facs[fi].org,
                      facs[fi].designated ? "true" : "false");
        for (int z = 0; z < 3; z++) {
            ct_buf_printf(&y,
                          "      - id: %s-z%d\n        cohort: %s\n"
                          "        beds:\n",
                          facs[fi].id, z, cohorts[(fi + z) % 5]);
            for (int b = 0; b < 6; b++) {
                const char *t = b == 0   ? "[isolation_room, nursing]"
                                : b == 1 ? "[nursing, bariatric]"
                                : b == 2 ? "[dementia]"
                                         : "[nursing]";
                ct_buf_printf(&y,
                              "          - id: %c%d-%d\n"
                              "            tags: %s\n"
                              "            surge: %s\n",
                              facs[fi].id[0] - 32, z, b, t,
                              b == 5 ? "true" : "false");
            }
        }
    }
    return y.data;
}

/* ---- invariants ------------------------------------------------------ */

static long long count(const char *sql)
{
    return cap_fx_int(&f, sql, NULL);
}

#define NONE(sql, what)                                                      \
    do {                                                                     \
        long long n_ = count(sql);                                           \
        cr_assert_eq(n_, 0, "seed %" PRIu64 " step %d: %lld %s", seed,       \
                     step, n_, what);                                        \
    } while (0)

/* The segregation rule written again, in SQL, for the check: the breach
 * of an active assignment a in zone cohort zc for infection i. */
#define ISOLATING(now)                                                       \
    "coalesce(i.status = 'awaiting' OR (i.status = 'positive' AND "          \
    "(i.isolation_end IS NULL OR i.isolation_end > " now ")), 0)"
#define BREACHES(now)                                                        \
    "SELECT a.id, a.kind, a.referral_id FROM assignment a"                   \
    " JOIN bed b ON b.id = a.bed_id"                                         \
    " JOIN referral r ON r.id = a.referral_id"                               \
    " JOIN zone_cohort zc ON zc.zone_id = b.zone_id"                         \
    " LEFT JOIN infection i ON i.nhs_number = r.nhs_number"                  \
    "      AND i.pathogen = zc.pathogen"                                     \
    " WHERE a.active = 1 AND zc.cohort <> 'open'"                            \
    " AND NOT ((EXISTS (SELECT 1 FROM bed_tag t WHERE t.bed_id = b.id"       \
    "                   AND t.tag = 'isolation_room') AND " ISOLATING(now)   \
    ")"                                                                      \
    "  OR (zc.cohort = 'negative' AND NOT " ISOLATING(now) ")"                \
    "  OR (zc.cohort = 'positive' AND i.status IS 'positive'))"

static void check_breaches(void)
{
    const char *sql = BREACHES("?1");
    sqlite3_stmt *st;
    sqlite3 *db = ct_store__db(f.store);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK,
                 "%s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, ct_clock_now(f.clock));
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(st, 1);
        int64_t ref = sqlite3_column_int64(st, 2);
        cr_assert_str_eq(kind, "occupancy",
                         "seed %" PRIu64 " step %d: hold %lld breaches its "
                         "zone's cohort",
                         seed, step, (long long)sqlite3_column_int64(st, 0));
        char key[32];
        snprintf(key, sizeof key, "%" PRId64, ref);
        cr_assert_not_null(json_object_get(reported, key),
                           "seed %" PRIu64 " step %d: referral %" PRId64
                           " occupies a bed in breach, never reported",
                           seed, step, ref);
    }
    sqlite3_finalize(st);
}

static void check_metrics(void)
{
    ct_metrics m;
    CAP_OK(ct_metrics_collect(f.cap, &m, &cap_err));
#define COUNTED                                                              \
    "SELECT count(*) FROM bed b JOIN zone z ON z.id = b.zone_id"             \
    " WHERE b.retired = 0 AND (b.surge = 0 OR b.surge_open = 1"              \
    "  OR b.status IN ('held','occupied'))"
    cr_assert_eq(m.beds.total, count(COUNTED), "step %d", step);
    /* Free beds of a closed zone are closed: neither available nor open. */
    cr_assert_eq(m.beds.available, count(COUNTED " AND b.status = "
                                                 "'available' AND z.closed = 0"));
    cr_assert_eq(m.beds.closed, count(COUNTED " AND b.status = "
                                              "'available' AND z.closed = 1"));
    cr_assert_eq(m.beds.open, m.beds.total - m.beds.blocked - m.beds.closed);
    cr_assert_eq(m.beds.held, count("SELECT count(*) FROM assignment WHERE "
                                    "active = 1 AND kind = 'hold'"));
    cr_assert_eq(m.beds.occupied,
                 count("SELECT count(*) FROM assignment WHERE active = 1 "
                       "AND kind = 'occupancy'"));
    cr_assert_eq(m.beds.blocked, count(COUNTED " AND b.blocked_reason IS "
                                               "NOT NULL"));
    cr_assert_eq(m.beds.surge_open,
                 count(COUNTED " AND b.surge = 1 AND b.status <> "
                               "'blocked' AND NOT (z.closed = 1 AND "
                               "b.status = 'available')"));
    /* Waiting for capacity: P0 needs no bed (metrics.h). */
    cr_assert_eq(m.waiting, count("SELECT count(*) FROM referral WHERE "
                                  "state IN ('received','triaged',"
                                  "'waiting') AND coalesce(decided_pathway,"
                                  " requested_pathway, '') <> 'P0'"));
    int64_t sum = 0;
    for (int k = 0; k < CT_FACILITY__COUNT; k++)
        sum += m.by_kind[k].total;
    cr_assert_eq(sum, m.beds.total);
#undef COUNTED
}

/* A zone's counted beds (metrics.h) recounted from the rows, ?1 the zone,
 * the condition appended. */
#define ZONE_COUNTED                                                         \
    "SELECT count(*) FROM bed b JOIN zone z ON z.id = b.zone_id"             \
    " WHERE b.zone_id = ?1 AND b.retired = 0 AND (b.surge = 0"               \
    "  OR b.surge_open = 1 OR b.status IN ('held','occupied'))"

static long long zone_count(const char *zone, const char *cond)
{
    char sql[512];
    snprintf(sql, sizeof sql, "%s%s", ZONE_COUNTED, cond);
    return cap_fx_int(&f, sql, zone);
}

static long long count_zone_closed(const char *zone)
{
    return cap_fx_int(&f, "SELECT closed FROM zone WHERE id = ?1", zone);
}

static long long field(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_integer(v), "seed %" PRIu64 " step %d: no %s", seed,
              step, k);
    return (long long)json_integer_value(v);
}

#define SAME(got, want, what, zone)                                          \
    cr_assert_eq((got), (want),                                              \
                 "seed %" PRIu64 " step %d: zone %s: %s %lld, recount %lld", \
                 seed, step, (zone), (what), (long long)(got),               \
                 (long long)(want))

/* The incremental counts against a recount: metrics by zone and cohort,
 * and every zone of the capacity view. */
static void check_zone_counts(void)
{
    json_t *m = NULL, *view = NULL;
    CAP_OK(ct_metrics_json(f.cap, &m, &cap_err));
    CAP_OK(ct_capacity_view_json(f.cap, &view, &cap_err));
    json_t *zones = json_object_get(m, "by_zone"), *z;
    size_t i;
    cr_assert_eq((long long)json_array_size(zones),
                 count("SELECT count(DISTINCT b.zone_id) FROM bed b"
                       " WHERE b.retired = 0 AND (b.surge = 0 OR"
                       " b.surge_open = 1 OR b.status IN"
                       " ('held','occupied'))"),
                 "seed %" PRIu64 " step %d: zones with counted beds", seed,
                 step);
    json_array_foreach(zones, i, z) {
        const char *id = json_string_value(json_object_get(z, "zone"));
        bool closed = json_is_true(json_object_get(z, "closed"));
        SAME(closed, count_zone_closed(id), "closed", id);
        SAME(field(z, "total"), zone_count(id, ""), "total", id);
        SAME(field(z, "held"), zone_count(id, " AND b.status = 'held'"),
             "held", id);
        SAME(field(z, "occupied"),
             zone_count(id, " AND b.status = 'occupied'"), "occupied", id);
        SAME(field(z, "blocked"),
             zone_count(id, " AND b.status = 'blocked'"), "blocked", id);
        long long free_beds = zone_count(id, " AND b.status = 'available'");
        SAME(field(z, "available"), closed ? 0 : free_beds, "available",
             id);
        /* ("closed" is the zone's closure here, not a count.) */
        SAME(field(z, "open"),
             field(z, "total") - field(z, "blocked") -
                 (closed ? free_beds : 0),
             "open", id);
        SAME(field(z, "surge_open"),
             zone_count(id, closed ? " AND b.surge = 1 AND b.status"
                                     " IN ('held','occupied')"
                                   : " AND b.surge = 1 AND b.status"
                                     " <> 'blocked'"),
             "surge_open", id);
    }
    /* Admittable beds by cohort, per pathogen. */
    json_t *by = json_object_get(m, "available_by_cohort");
    for (size_t p = 0; p < CT_ARRAY_LEN(pathogens); p++) {
        json_t *o = json_object_get(by, pathogens[p]);
        static const char *const cohorts[] = {"open", "positive",
                                              "negative"};
        for (int k = 0; k < 3; k++) {
            char sql[700];
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM bed b JOIN zone z"
                     " ON z.id = b.zone_id LEFT JOIN zone_cohort zc"
                     " ON zc.zone_id = z.id AND zc.pathogen = ?1"
                     " WHERE b.retired = 0 AND b.status = 'available'"
                     " AND z.closed = 0 AND (b.surge = 0 OR"
                     " b.surge_open = 1)"
                     " AND coalesce(zc.cohort, 'open') = '%s'",
                     cohorts[k]);
            long long want = cap_fx_int(&f, sql, pathogens[p]);
            long long got = o ? field(o, cohorts[k]) : 0;
            SAME(got, want, cohorts[k], pathogens[p]);
        }
    }
    /* The view: every zone, and the area totals their sum. */
    json_t *fac, *vz;
    size_t j, k, nzones = 0;
    long long area_total = 0;
    json_array_foreach(json_object_get(view, "facilities"), j, fac)
        json_array_foreach(json_object_get(fac, "zones"), k, vz) {
            const char *id = json_string_value(json_object_get(vz, "id"));
            json_t *t = json_object_get(vz, "totals");
            bool closed = json_is_true(json_object_get(vz, "closed"));
            long long free_beds =
                zone_count(id, " AND b.status = 'available'");
            nzones++;
            area_total += field(t, "total");
            SAME(field(t, "total"), zone_count(id, ""), "view total", id);
            SAME(field(t, "available"), closed ? 0 : free_beds,
                 "view available", id);
            SAME(field(t, "held"), zone_count(id, " AND b.status = 'held'"),
                 "view held", id);
            SAME(field(t, "blocked"),
                 zone_count(id, " AND b.status = 'blocked'"), "view blocked",
                 id);
            json_t *surge = json_object_get(t, "surge");
            SAME(field(surge, "total"),
                 cap_fx_int(&f, "SELECT count(*) FROM bed WHERE zone_id = ?1"
                                " AND retired = 0 AND surge = 1", id),
                 "view surge", id);
            SAME(field(surge, "open"),
                 cap_fx_int(&f, "SELECT count(*) FROM bed WHERE zone_id = ?1"
                                " AND retired = 0 AND surge = 1"
                                " AND surge_open = 1", id),
                 "view surge open", id);
        }
    cr_assert_eq((long long)nzones,
                 count("SELECT count(*) FROM zone WHERE retired = 0"));
    cr_assert_eq(field(json_object_get(view, "totals"), "total"), area_total);

    /* A copy of the counts gives the same view, as a json_t and written
     * straight into text, also through a reader on its own handle (what
     * the daemon does off the loop). */
    ct_cap_counts *kc = NULL;
    CAP_OK(ct_cap_counts_take(f.cap, &kc, &cap_err));
    json_t *copy = NULL;
    CAP_OK(ct_capacity_view_json_from(f.cap, kc, &copy, &cap_err));
    char *want = json_dumps(view, JSON_COMPACT | JSON_ENSURE_ASCII);
    char *got = json_dumps(copy, JSON_COMPACT | JSON_ENSURE_ASCII);
    cr_assert_str_eq(got, want, "seed %" PRIu64 " step %d", seed, step);
    ct_capacity *reader = NULL;
    cr_assert_eq(ct_capacity_reader_new(f.cap, f.store, &reader), 0);
    ct_buf text = {0};
    CAP_OK(ct_capacity_view_text_from(reader, kc, &text, &cap_err));
    cr_assert_str_eq(text.data, want, "seed %" PRIu64 " step %d", seed,
                     step);
    ct_buf_free(&text);
    ct_capacity_reader_free(reader);
    free(want);
    free(got);
    json_decref(copy);
    ct_cap_counts_free(kc);
    json_decref(m);
    json_decref(view);
}

static void check(void)
{
    NONE("SELECT count(*) FROM (SELECT bed_id FROM assignment WHERE "
         "active = 1 GROUP BY bed_id HAVING count(*) > 1)",
         "beds with two active holds or occupants");
    NONE("SELECT count(*) FROM (SELECT referral_id FROM assignment WHERE "
         "active = 1 GROUP BY referral_id HAVING count(*) > 1)",
         "referrals with two active assignments");
    NONE("SELECT count(*) FROM (SELECT r.nhs_number FROM referral r"
         " JOIN assignment a ON a.referral_id = r.id AND a.active = 1"
         " GROUP BY r.nhs_number HAVING count(*) > 1)",
         "people holding two beds");
    NONE("SELECT count(*) FROM bed b LEFT JOIN assignment a"
         " ON a.bed_id = b.id AND a.active = 1"
         " WHERE b.status IS NOT CASE WHEN a.kind = 'hold' THEN 'held'"
         "   WHEN a.kind = 'occupancy' THEN 'occupied'"
         "   WHEN b.blocked_reason IS NOT NULL THEN 'blocked'"
         "   ELSE 'available' END",
         "beds whose status disagrees with their rows");
    NONE("SELECT count(*) FROM referral r LEFT JOIN assignment a"
         " ON a.referral_id = r.id AND a.active = 1"
         " WHERE (r.state = 'held') IS NOT (a.kind IS 'hold')"
         "    OR (r.state = 'placed' AND a.kind IS NOT 'occupancy')"
         "    OR (r.state IN ('received','triaged','waiting','completed',"
         "                    'cancelled') AND a.id IS NOT NULL)",
         "referrals whose state disagrees with their assignments");
    NONE("SELECT count(*) FROM assignment a JOIN bed b ON b.id = a.bed_id"
         " JOIN zone z ON z.id = b.zone_id"
         " WHERE a.active = 1 AND a.kind = 'hold' AND z.closed = 1",
         "holds in closed zones");
    NONE("SELECT count(*) FROM assignment a JOIN bed b ON b.id = a.bed_id"
         " WHERE a.active = 1 AND b.surge = 1 AND b.surge_open = 0",
         "assignments on closed surge beds");
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM assignment WHERE active = 1 AND "
             "kind = 'hold' AND expires_at <= %" PRId64,
             ct_clock_now(f.clock));
    NONE(sql, "holds overdue on the clock");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM infection WHERE isolation_notified = 0 "
             "AND isolation_end <= %" PRId64,
             ct_clock_now(f.clock));
    NONE(sql, "isolation ends not notified");
    check_breaches();
    check_metrics();
}

static void verify_audit(void)
{
    ct_audit_report r;
    int rc = ct_audit_verify(f.store, &r);
    cr_assert_eq(rc, 0, "seed %" PRIu64 " step %d: audit: %s", seed, step,
                 r.reason);
}

/* ---- choosing things ------------------------------------------------- */

/* A referral in state (or any, -1), or a random id that may not exist. */
static int64_t referral_in(int state)
{
    int64_t max = count("SELECT coalesce(max(id), 0) FROM referral");
    if (state < 0 || chance(10))
        return 1 + pick((int)max + 2);
    char *ids = cap_fx_text(&f,
                            "SELECT coalesce(group_concat(id, ' '), '') FROM "
                            "referral WHERE state = ?1",
                            ct_referral_state_name((ct_referral_state)state));
    int n = 0;
    for (char *p = ids; *p; p++)
        n += *p == ' ';
    int64_t id = 0;
    if (*ids) {
        int k = pick(n + 1);
        char *p = ids;
        while (k-- > 0)
            p = strchr(p, ' ') + 1;
        id = strtoll(p, NULL, 10);
    } else {
        id = 1 + pick((int)max + 1);
    }
    free(ids);
    return id;
}

static const char *random_bed(void)
{
    static char bed[16];
    static const char fac[] = "SCRH";
    snprintf(bed, sizeof bed, "%c%d-%d", fac[pick(4)], pick(3), pick(6));
    return bed;
}

static const char *random_zone(void)
{
    static char z[16];
    static const char *const fac[] = {"sd", "ch", "rh", "hc"};
    snprintf(z, sizeof z, "%s-z%d", fac[pick(4)], pick(3));
    return z;
}

static const char *random_facility(void)
{
    static const char *const fac[] = {"sd", "ch", "rh", "hc", "zz"};
    return fac[pick(5)];
}

/* ---- steps ----------------------------------------------------------- */

static int op_create(void)
{
    const char *needs[3];
    size_t n = 0;
    if (chance(40))
        needs[n++] = tags[pick(3)];
    if (chance(10))
        needs[n++] = tags[pick(4)];
    char ready[16];
    int64_t day = ct_clock_now(f.clock) + (pick(11) - 7) * DAY_MS;
    ct_clock_format(day, ready, sizeof ready);
    ready[10] = '\0';
    ct_referral_input in = {
        .nhs_number = people[pick(PEOPLE)],
        .age = 60 + pick(40),
        .needs = needs,
        .nneeds = n,
        .from_org = chance(95) ? "acute" : "nobody",
        .ready_date = ready,
        .requested_pathway = pick(CT_PATHWAY__COUNT + 1) - 1,
    };
    return ct_referral_create(f.cap, &in, "org:acute", NULL, &cap_err);
}

static int op_hold(void)
{
    int64_t r = referral_in(chance(50) ? CT_REFERRAL_WAITING
                                       : CT_REFERRAL_TRIAGED);
    int64_t ttl = chance(50) ? 0 : (1 + pick(8)) * HOUR_MS;
    if (chance(70)) {
        ct_candidate_query q = {.referral_id = r, .pathway = -1,
                                .limit = (size_t)pick(6)};
        int rc = ct_candidates_find(f.cap, &q, &cands, &cap_err);
        if (rc || cands.len == 0)
            return rc;
        const char *bed = cands.items[pick((int)cands.len)].bed_id;
        ct_referral ref;
        CAP_OK(ct_referral_get(f.cap, r, &ref, &cap_err));
        rc = ct_capacity_hold(f.cap, r, bed, ttl, "org:council", NULL,
                              &cap_err);
        if (ref.state == CT_REFERRAL_TRIAGED ||
            ref.state == CT_REFERRAL_WAITING)
            cr_assert_eq(rc, 0,
                         "seed %" PRIu64 " step %d: candidate %s refused: %s",
                         seed, step, bed, cap_err.message);
        return rc;
    }
    return ct_capacity_hold(f.cap, r, random_bed(), ttl, "org:council", NULL,
                            &cap_err);
}

static int op_infection(void)
{
    ct_infection_status s = (ct_infection_status)pick(CT_INFECTION__COUNT);
    int64_t now = ct_clock_now(f.clock);
    ct_infection_update u = {
        .nhs_number = people[pick(PEOPLE)],
        .pathogen = pathogens[pick(3)],
        .status = s,
        .tested_at = chance(80) ? now - pick(48) * HOUR_MS : 0,
        .isolation_end = s == CT_INFECTION_POSITIVE && chance(80)
                             ? now + (1 + pick(240)) * HOUR_MS
                             : 0,
    };
    if (u.tested_at < 0)
        u.tested_at = 0;
    return ct_isolation_set_status(f.cap, &u, "org:acute", NULL, &cap_err);
}

static int op_surge(void)
{
    int n = chance(30) ? CT_SURGE_ALL : 1 + pick(3);
    ct_surge_result res;
    return chance(50) ? ct_capacity_surge_open(f.cap, random_facility(), n,
                                               "org:council", &res, &cap_err)
                      : ct_capacity_surge_close(f.cap, random_facility(), n,
                                                "org:council", &res,
                                                &cap_err);
}

static int run_step(void)
{
    int w = pick(100);
    if (w < 10)
        return op_create();
    if (w < 20) {
        int64_t r = referral_in(chance(70) ? CT_REFERRAL_RECEIVED
                                           : CT_REFERRAL_WAITING);
        return ct_referral_triage(f.cap, r,
                                  (ct_pathway)(1 + pick(CT_PATHWAY__COUNT -
                                                        1)),
                                  pick(3), NULL, "org:council", &cap_err);
    }
    if (w < 24)
        return ct_referral_queue(f.cap, referral_in(CT_REFERRAL_TRIAGED),
                                 "org:council", &cap_err);
    if (w < 42)
        return op_hold();
    if (w < 50)
        return ct_capacity_confirm(f.cap, referral_in(CT_REFERRAL_HELD),
                                   "org:council", NULL, &cap_err);
    if (w < 52)
        return ct_capacity_release(f.cap, referral_in(CT_REFERRAL_HELD),
                                   "plan changed", "org:council", &cap_err);
    if (w < 58) {
        ct_clock_advance(f.clock, pick(4 * 60) * 60000LL);
        return 0;
    }
    if (w < 63)
        return ct_referral_discharge(f.cap, referral_in(CT_REFERRAL_PLACED),
                                     "org:acute", &cap_err);
    if (w < 68)
        return ct_referral_complete(f.cap,
                                    referral_in(CT_REFERRAL_DISCHARGED),
                                    "org:council", &cap_err);
    if (w < 70)
        return ct_referral_cancel(f.cap, referral_in(-1), "no longer needed",
                                  "org:acute", &cap_err);
    if (w < 74)
        return chance(50) ? ct_capacity_block(f.cap, random_bed(), "repairs",
                                              "org:homes", &cap_err)
                          : ct_capacity_unblock(f.cap, random_bed(),
                                                "org:homes", &cap_err);
    if (w < 79)
        return ct_isolation_set_cohort(f.cap, random_zone(),
                                       pathogens[pick(3)],
                                       (ct_cohort)pick(CT_COHORT__COUNT),
                                       "org:council", &cap_err);
    if (w < 82)
        return op_surge();
    if (w < 92)
        return op_infection();
    if (w < 96)
        return chance(50) ? ct_isolation_close_zone(f.cap, random_zone(),
                                                    "outbreak", "org:council",
                                                    NULL, &cap_err)
                          : ct_isolation_open_zone(f.cap, random_zone(),
                                                   "org:council", &cap_err);
    static const char *const reasons[] = {"awaiting_p1_care",
                                          "awaiting_p3_bed", "Not A Code"};
    return ct_referral_set_delay(f.cap, referral_in(-1), reasons[pick(3)],
                                 chance(90) ? "council" : "nobody",
                                 "org:council", &cap_err);
}

/* A change to beds or zones that moves no clock (a rolled-back step must
 * not swallow timers that fired inside it). */
static int run_change(void)
{
    switch (pick(6)) {
    case 0: return op_hold();
    case 1:
        return ct_capacity_confirm(f.cap, referral_in(CT_REFERRAL_HELD),
                                   "org:council", NULL, &cap_err);
    case 2:
        return chance(50) ? ct_capacity_block(f.cap, random_bed(), "repairs",
                                              "org:homes", &cap_err)
                          : ct_capacity_unblock(f.cap, random_bed(),
                                                "org:homes", &cap_err);
    case 3: return op_surge();
    case 4:
        return ct_isolation_set_cohort(f.cap, random_zone(),
                                       pathogens[pick(3)],
                                       (ct_cohort)pick(CT_COHORT__COUNT),
                                       "org:council", &cap_err);
    default:
        return chance(50) ? ct_isolation_close_zone(f.cap, random_zone(),
                                                    "outbreak", "org:council",
                                                    NULL, &cap_err)
                          : ct_isolation_open_zone(f.cap, random_zone(),
                                                   "org:council", &cap_err);
    }
}

/* Remembers occupants reported in breach, from the delivered events. */
static size_t seen;
static void note_breaches(void)
{
    for (; seen < json_array_size(f.events); seen++) {
        json_t *e = json_array_get(f.events, seen);
        if (strcmp(json_string_value(json_object_get(e, "kind")),
                   "isolation.breach") != 0)
            continue;
        char key[32];
        snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(
                     json_object_get(e, "payload"), "referral")));
        json_object_set_new(reported, key, json_true());
    }
}

Test(capacity_random, walk)
{
    const char *s = getenv("CT_RANDOM_SEED");
    const char *n = getenv("CT_RANDOM_STEPS");
    seed = s ? strtoull(s, NULL, 10) : 20261123;
    int steps = n ? atoi(n) : 4000;
    rng = seed ? seed : 1;
    char *yaml = area();
    cap_fx_open(&f, yaml);
    free(yaml);
    reported = json_object();
    for (unsigned i = 0; i < PEOPLE; i++)
        cap_fx_nhs(i, people[i]);

    int counts[2] = {0, 0};
    for (step = 1; step <= steps; step++) {
        memset(&cap_err, 0, sizeof cap_err);
        int64_t head = ct_audit_head(f.store);
        int rc;
        bool rolled_back = chance(5);
        if (rolled_back) {
            /* A step in a caller's transaction that then rolls back (a
             * group commit that fails): nothing it did stays, and the
             * counts kept beside the store follow. */
            cr_assert_eq(ct_store_begin(f.store), 0);
            rc = run_change();
            if (ct_store_in_transaction(f.store))
                ct_store_rollback(f.store);
            cr_assert_eq(ct_audit_head(f.store), head,
                         "seed %" PRIu64 " step %d: rolled back but wrote",
                         seed, step);
            rc = 0;
        } else
            rc = run_step();
        counts[rc != 0]++;
        if (rc) {
            cr_assert(rc == CT_EINVAL || rc == CT_ENOTFOUND ||
                          rc == CT_ESTATE || rc == CT_ECOHORT ||
                          rc == CT_ECLOSED || rc == CT_ECAPACITY ||
                          rc == CT_ECONFLICT,
                      "seed %" PRIu64 " step %d: %s: %s", seed, step,
                      ct_err_name(rc), cap_err.message);
            cr_assert_eq(cap_err.code, rc);
            cr_assert_neq(cap_err.message[0], '\0');
            cr_assert_eq(ct_audit_head(f.store), head,
                         "seed %" PRIu64 " step %d: refused (%s) but wrote",
                         seed, step, cap_err.message);
        }
        note_breaches();
        check();
        if (rolled_back || step % 4 == 0)
            check_zone_counts();
        if (step % 500 == 0)
            verify_audit();
    }
    verify_audit();
    /* The walk did real work, not only refusals. */
    cr_assert_gt(counts[0], steps / 4, "%d of %d steps changed something",
                 counts[0], steps);
    cr_assert_gt(cap_fx_events(&f, "hold.confirmed"), 50);
    cr_assert_gt(cap_fx_events(&f, "hold.expired"), 10);
    cr_assert_gt(cap_fx_events(&f, "isolation.ended"), 5);
    cr_assert_gt(cap_fx_events(&f, "hold.released"), 5);
    cr_log_info("seed %" PRIu64 ": %d steps, %d changed, %d refused; "
                "%zu confirmed, %zu expired, %zu breaches reported",
                seed, steps, counts[0], counts[1],
                cap_fx_events(&f, "hold.confirmed"),
                cap_fx_events(&f, "hold.expired"),
                cap_fx_events(&f, "isolation.breach"));
    ct_candidate_list_free(&cands);
    json_decref(reported);
    cap_fx_close(&f);
}
