/*
 * bench_capacity: what a placement costs. On a generated area (5,000 beds
 * by default), each referral gets a candidate search and a hold of the
 * first candidate, with its audit event:
 *   (a) batched: many holds in one transaction, synchronous NORMAL;
 *   (b) one transaction per hold, synchronous FULL, on a real file (each
 *       commit also rewrites the audit head file, as the daemon does);
 * plus the parts on their own: candidate search alone, ct_audit_append
 * alone, and the audit hashing alone (canonical JSON + SHA-256).
 *
 * Prints figures; asserts nothing (not a test). The machine is usually
 * shared, so each figure is the best and the median of several rounds,
 * in wall time and in process CPU time. Options:
 *   --beds N (5000) --rounds N (5) --limit N (10) --full N (200; 0 skips (b))
 *   --dir PATH (a fresh directory under $TMPDIR)
 */
#include "audit.h"
#include "candidates.h"
#include "capacity.h"
#include "config.h"
#include "error.h"
#include "host.h"
#include "isolation.h"
#include "json_canon.h"
#include "log.h"
#include "referral.h"
#include "sha256.h"
#include "store.h"
#include "util.h"

#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOUR_MS 3600000LL
#define START_MS 1795420800000LL /* 2026-11-23T08:00:00Z */

static int opt_beds = 5000, opt_rounds = 5, opt_limit = 10, opt_full = 200;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc, const ct_cap_error *err)
{
    fprintf(stderr, "bench_capacity: %s: %s%s%s\n", what, ct_strerror(rc),
            err ? ": " : "", err ? err->message : "");
    exit(1);
}

/* ---- the area -------------------------------------------------------- */

/* Facilities of 100 beds in 4 zones of 25: 60% care homes, the rest
 * step-down and rehab; a covid-positive zone of isolation rooms in every
 * tenth facility (5% of beds), covid-negative care homes, a dementia zone
 * per care home, bariatric beds here and there. */
static char *area_yaml(int beds)
{
    ct_buf y = {0};
    ct_buf_puts(&y, "area: {id: bench, name: Bench}\n"
                    "pathogens: [covid, flu, norovirus]\n"
                    "organisations:\n"
                    "  - {id: acute, name: Acute}\n"
                    "  - {id: council, name: Council}\n"
                    "  - {id: homes, name: Homes}\n"
                    "facilities:\n");
    static const char *const kinds[] = {"care_home", "care_home", "step_down",
                                        "care_home", "rehab"};
    for (int f = 0; f < beds / 100; f++) {
        const char *kind = kinds[f % 5];
        bool home = strcmp(kind, "care_home") == 0;
        ct_buf_printf(&y,
                      "  - id: f%03d\n    name: F%03d\n    kind: %s\n"
                      "    organisation: %s\n    designated_setting: %s\n"
                      "    zones:\n",
                      f, f, kind, home ? "homes" : "council",
                      f % 10 == 0 ? "true" : "false");
        for (int z = 0; z < 4; z++) {
            bool red = f % 10 == 0 && z == 0;
            ct_buf_printf(&y, "      - id: f%03d-z%d\n", f, z);
            if (red)
                ct_buf_puts(&y, "        cohort: {covid: positive}\n");
            else if (home)
                ct_buf_puts(&y, "        cohort: {covid: negative}\n");
            ct_buf_printf(&y, "        beds:\n");
            const char *tags = red              ? "[isolation_room, nursing]"
                               : home && z == 3 ? "[dementia, nursing]"
                               : home           ? "[nursing]"
                                                : "[rehab]";
            ct_buf_printf(&y,
                          "          - range: B%03d%d-01..B%03d%d-24\n"
                          "            tags: %s\n"
                          "          - id: B%03d%d-25\n"
                          "            tags: [bariatric, nursing]\n",
                          f, z, f, z, tags, f, z);
        }
    }
    return y.data;
}

typedef struct bench {
    ct_config *cfg;
    ct_store *store;
    ct_clock *clock;
    ct_host *host;
    ct_capacity *cap; /* the host's */
    int64_t *refs;
    int nrefs;
} bench;

/* The next valid NHS number in the 999 range after *n. */
static void next_nhs(unsigned *n, char out[11])
{
    for (;;) {
        unsigned v = (*n)++ % 1000000u;
        char s[11] = "999";
        for (int k = 8; k >= 3; k--, v /= 10)
            s[k] = (char)('0' + v % 10);
        int sum = 0;
        for (int k = 0; k < 9; k++)
            sum += (s[k] - '0') * (10 - k);
        int check = (11 - sum % 11) % 11;
        if (check == 10)
            continue;
        s[9] = (char)('0' + check);
        s[10] = '\0';
        memcpy(out, s, 11);
        return;
    }
}

static void open_bench(bench *b, const char *path, ct_sync_mode sync,
                       const char *yaml, int nrefs)
{
    memset(b, 0, sizeof *b);
    ct_diags d = {0};
    int rc = ct_config_load_text("bench.yaml", ".", yaml, strlen(yaml),
                                 &b->cfg, &d);
    if (rc) {
        ct_diags_print(&d, stderr);
        die("config", rc, NULL);
    }
    ct_store_options so = {.sync = sync};
    if ((rc = ct_store_open(path, &so, &b->store)))
        die("open", rc, NULL);
    ct_clock_new_virtual(START_MS, &b->clock);
    /* The daemon's host (host.h), without plugins: the area reconciled,
     * capacity with its pathogens and the 4h hold time. */
    if ((rc = ct_host_open(b->cfg, b->store, b->clock, 0, NULL, &b->host,
                           &d))) {
        ct_diags_print(&d, stderr);
        die("host", rc, NULL);
    }
    ct_diags_free(&d);
    b->cap = ct_host_capacity(b->host);

    /* Referrals (not timed): 60% P3, 25% P2, 15% step-down; some needs;
     * 3% covid positive and isolating. One transaction. */
    b->refs = calloc((size_t)nrefs, sizeof *b->refs);
    b->nrefs = nrefs;
    ct_cap_error err;
    ct_store_begin(b->store);
    static const char *const nursing[] = {"nursing"};
    static const char *const dementia[] = {"dementia"};
    static const char *const heavy[] = {"bariatric"};
    unsigned n = 0;
    char nhs[11];
    for (int i = 0; i < nrefs; i++) {
        next_nhs(&n, nhs);
        int p = i % 20;
        ct_pathway pw = p < 12 ? CT_PATHWAY_P3
                        : p < 17 ? CT_PATHWAY_P2
                                 : CT_PATHWAY_STEP_DOWN;
        ct_referral_input in = {.nhs_number = nhs,
                                .age = 80,
                                .from_org = "acute",
                                .ready_date = "2026-11-23",
                                .requested_pathway = -1};
        if (pw == CT_PATHWAY_P3 && i % 2)
            in.needs = nursing, in.nneeds = 1;
        if (pw == CT_PATHWAY_P3 && i % 10 == 4)
            in.needs = dementia, in.nneeds = 1;
        if (i % 100 == 7)
            in.needs = heavy, in.nneeds = 1;
        if ((rc = ct_referral_create(b->cap, &in, "org:acute", &b->refs[i],
                                     &err)) ||
            (rc = ct_referral_triage(b->cap, b->refs[i], pw, 0, NULL,
                                     "org:council", &err)))
            die("referral", rc, &err);
        if (i % 33 == 0) {
            ct_infection_update u = {nhs, "covid", CT_INFECTION_POSITIVE,
                                     START_MS - HOUR_MS,
                                     START_MS + 10 * 24 * HOUR_MS};
            if ((rc = ct_isolation_set_status(b->cap, &u, "org:acute", NULL,
                                              &err)))
                die("infection", rc, &err);
        }
    }
    if ((rc = ct_store_commit(b->store)))
        die("commit", rc, NULL);
    ct_audit_sync_head(b->store);
}

static void close_bench(bench *b)
{
    ct_host_close(b->host);
    ct_clock_close(b->clock, NULL, NULL);
    ct_store_close(b->store);
    ct_config_free(b->cfg);
    free(b->refs);
}

/* One pass over the referrals: search, hold the first candidate. Returns
 * holds made; *searches counts searches. */
static int place_all(bench *b, ct_candidate_list *l, int max, int *searches)
{
    ct_cap_error err;
    int holds = 0;
    for (int i = 0; i < b->nrefs && holds < max; i++) {
        ct_candidate_query q = {.referral_id = b->refs[i], .pathway = -1,
                                .limit = (size_t)opt_limit};
        int rc = ct_candidates_find(b->cap, &q, l, &err);
        if (rc)
            die("search", rc, &err);
        (*searches)++;
        if (l->len == 0)
            continue;
        rc = ct_capacity_hold(b->cap, b->refs[i], l->items[0].bed_id, 0,
                              "plugin:bench", NULL, &err);
        if (rc)
            die("hold", rc, &err);
        holds++;
    }
    return holds;
}

/* ---- runs ------------------------------------------------------------ */

/* Wall and CPU seconds of one measured stretch. */
typedef struct span {
    double wall, cpu;
} span;

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static span begin_span(void) { return (span){now_s(), cpu_s()}; }
static span end_span(span s) { return (span){now_s() - s.wall, cpu_s() - s.cpu}; }

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Prints ops per second, best and median over n rounds of ops each. */
static void report(const char *what, const span *rounds, int n, int ops,
                   const char *unit)
{
    double w[64], c[64];
    for (int i = 0; i < n; i++) {
        w[i] = rounds[i].wall;
        c[i] = rounds[i].cpu;
    }
    qsort(w, (size_t)n, sizeof *w, by_double);
    qsort(c, (size_t)n, sizeof *c, by_double);
    printf("%-26s %8.0f %s/s best, %8.0f median (wall); %8.0f best "
           "(cpu); %6.1f us each at best\n",
           what, ops / w[0], unit, ops / w[n / 2], ops / c[0],
           w[0] / ops * 1e6);
}

static void run_batched(const char *dir, const char *yaml)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/batched.db", dir);
    bench b;
    int nrefs = opt_beds * 9 / 10;
    open_bench(&b, path, CT_SYNC_NORMAL, yaml, nrefs);
    ct_candidate_list l = {0};
    ct_cap_error err;
    span rounds[64] = {{0, 0}};
    int n = opt_rounds < 64 ? opt_rounds : 64;
    printf("area: %d beds, %d referrals (3%% covid positive), candidate "
           "limit %d, %d rounds\n",
           opt_beds, nrefs, opt_limit, n);

    /* Candidate search alone, on the empty area. */
    for (int r = 0; r < n; r++) {
        span s = begin_span();
        for (int i = 0; i < nrefs; i++) {
            ct_candidate_query q = {.referral_id = b.refs[i], .pathway = -1,
                                    .limit = (size_t)opt_limit};
            int rc = ct_candidates_find(b.cap, &q, &l, &err);
            if (rc)
                die("search", rc, &err);
        }
        rounds[r] = end_span(s);
    }
    report("candidate search alone:", rounds, n, nrefs, "searches");

    /* (a): a round places every referral it can in one transaction; not
     * timed in between, every hold expires and the referrals wait again. */
    int holds = 0;
    for (int r = 0; r < n; r++) {
        int searches = 0;
        span s = begin_span();
        int rc = ct_store_begin(b.store);
        if (rc)
            die("begin", rc, NULL);
        int h = place_all(&b, &l, nrefs, &searches);
        if ((rc = ct_store_commit(b.store)))
            die("commit", rc, NULL);
        rounds[r] = end_span(s);
        if (r && h != holds)
            die("rounds differ", CT_ESTATE, NULL);
        holds = h;
        ct_audit_sync_head(b.store);
        ct_clock_advance(b.clock, 5 * HOUR_MS);
    }
    report("(a) batched, NORMAL:", rounds, n, holds, "holds");
    printf("    (%d holds a round: search + hold + audit event each, one "
           "commit a round)\n",
           holds);
    ct_candidate_list_free(&l);

    /* ct_audit_append alone, same payload shape as hold.created. */
    json_t *p = json_pack("{s:I, s:I, s:s, s:s, s:s, s:I, s:I}", "hold",
                          (json_int_t)1, "referral", (json_int_t)1, "bed",
                          "B0001-01", "zone", "f000-z1", "facility", "f000",
                          "expires_at", (json_int_t)START_MS, "ttl_ms",
                          (json_int_t)(4 * HOUR_MS));
    int ne = 10000;
    for (int r = 0; r < n; r++) {
        ct_store_begin(b.store);
        span s = begin_span();
        for (int i = 0; i < ne; i++) {
            json_object_set_new(p, "hold", json_integer(i));
            if (ct_audit_append(b.store, START_MS, "plugin:bench",
                                "hold.created", p, NULL))
                die("append", CT_ESTORE, NULL);
        }
        rounds[r] = end_span(s);
        ct_store_commit(b.store);
        ct_audit_sync_head(b.store);
    }
    report("ct_audit_append alone:", rounds, n, ne, "events");

    /* The hashing alone: canonical JSON text and SHA-256 over it, with the
     * writer and the hash audit.c uses. */
    uint8_t prev[32] = {0}, out[32];
    ct_buf t = {0};
    for (int r = 0; r < n; r++) {
        span s = begin_span();
        for (int i = 0; i < ne; i++) {
            json_object_set_new(p, "hold", json_integer(i));
            json_t *ev = json_pack("{s:s, s:I, s:s, s:O, s:I}", "actor",
                                   "plugin:bench", "at",
                                   (json_int_t)START_MS, "kind",
                                   "hold.created", "payload", p, "seq",
                                   (json_int_t)i);
            t.len = 0;
            if (ct_json_canon(&t, ev))
                die("canonical JSON", CT_ENOMEM, NULL);
            ct_sha256_pair(prev, 32, t.data, t.len, out);
            memcpy(prev, out, 32);
            json_decref(ev);
        }
        rounds[r] = end_span(s);
    }
    ct_buf_free(&t);
    report("  audit JSON + SHA-256:", rounds, n, ne, "events");
    json_decref(p);
    close_bench(&b);
}

static void run_full(const char *dir, const char *yaml)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/full.db", dir);
    bench b;
    open_bench(&b, path, CT_SYNC_FULL, yaml, opt_full);
    ct_candidate_list l = {0};
    int searches = 0;
    double t0 = now_s();
    int holds = place_all(&b, &l, opt_full, &searches);
    double t = now_s() - t0;
    printf("(b) per operation, FULL:  %8.0f holds/s     %6.1f ms per "
           "search+hold+audit+commit  (%d holds, file %s)\n",
           holds / t, t / holds * 1e3, holds, path);
    ct_candidate_list_free(&l);
    close_bench(&b);
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--beds") == 0)
            opt_beds = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--rounds") == 0)
            opt_rounds = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--limit") == 0)
            opt_limit = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--full") == 0)
            opt_full = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--dir") == 0)
            dir = argv[++i];
        else {
            fprintf(stderr, "usage: bench_capacity [--beds N] [--rounds N] "
                            "[--limit N] [--full N] [--dir PATH]\n");
            return 2;
        }
    }
    if (opt_beds < 100 || opt_beds > 1000000 || opt_rounds < 1 ||
        opt_rounds > 64 || opt_limit < 1 || opt_full < 0) {
        fprintf(stderr, "bench_capacity: numbers out of range\n");
        return 2;
    }
    ct_log_setup(CT_LOG_TEXT, CT_LOG_WARN);
    if (sodium_init() < 0)
        return 1;
    char tmp[512];
    if (!dir) {
        const char *base = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/caretide-bench-XXXXXX",
                 base && *base ? base : "/tmp");
        if (!mkdtemp(tmp)) {
            perror("mkdtemp");
            return 1;
        }
        dir = tmp;
    }
    char *yaml = area_yaml(opt_beds);
    run_batched(dir, yaml);
    if (opt_full > 0) /* --full 0: the batched figures only */
        run_full(dir, yaml);
    free(yaml);
    if (dir == tmp)
        nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
