/*
 * Flow out of hospital (report.h): how each provider answers the holds
 * the hub places in its beds (providers), and which pathways people left
 * hospital on (pathways), over a period. Both read the stored rows: holds
 * with their start and end and why they ended, referrals with their
 * discharge time and pathway.
 */
#include "report.h"

#include "area.h"
#include "capacity.h"
#include "log.h"
#include "clock.h"
#include "error.h"
#include "report_int.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_DAYS 28

/* ---- providers ---------------------------------------------------------- */

typedef struct prov {
    char key[CT_CAP_ID_MAX];
    char *name;
    int64_t confirmed, declined, expired;
    int64_t *conf_ms, *dec_ms; /* hold to answer, for percentiles */
    size_t nconf, ndec, capconf, capdec;
} prov;

typedef struct provs {
    prov *items;
    size_t n, cap;
} provs;

static prov *prov_of(provs *p, const char *key, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].key, key) == 0)
            return &p->items[i];
    if (ct_grow(&p->items, &p->cap, p->n, sizeof *p->items, 8))
        return NULL;
    prov *it = &p->items[p->n];
    memset(it, 0, sizeof *it);
    snprintf(it->key, sizeof it->key, "%s", key);
    if (!(it->name = ct_strdup(name ? name : key)))
        return NULL;
    p->n++;
    return it;
}

static int push_ms(int64_t **v, size_t *n, size_t *cap, int64_t ms)
{
    if (ct_grow(v, cap, *n, sizeof **v, 16))
        return CT_ENOMEM;
    (*v)[(*n)++] = ms;
    return 0;
}

static int cmp_ms(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0 < q <= 1) in hours by the nearest-rank method, or null
 * when there is nothing; sorts v. The median (q 0.5) of an even count is
 * the mean of the middle two, as the daily report's is. */
static json_t *hours_at(int64_t *v, size_t n, double q)
{
    if (!n)
        return json_null();
    qsort(v, n, sizeof *v, cmp_ms);
    double ms;
    if (q == 0.5)
        ms = n % 2 ? (double)v[n / 2]
                   : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0;
    else {
        size_t rank = (size_t)(q * (double)n + 0.999999);
        ms = (double)v[(rank ? rank : 1) - 1];
    }
    return json_real(ms / (double)CT_REPORT__HOUR_MS);
}

static json_t *prov_json(prov *p)
{
    int64_t holds = p->confirmed + p->declined + p->expired;
    return json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "org", p->key,
        "name", p->name, "holds", (json_int_t)holds, "confirmed",
        (json_int_t)p->confirmed, "declined", (json_int_t)p->declined,
        "expired", (json_int_t)p->expired, "expired_share",
        holds ? json_real((double)p->expired / (double)holds) : json_null(),
        "confirm_hours_median", hours_at(p->conf_ms, p->nconf, 0.5),
        "confirm_hours_p90", hours_at(p->conf_ms, p->nconf, 0.9),
        "decline_hours_median", hours_at(p->dec_ms, p->ndec, 0.5));
}

/* Most expired share first (holds nobody answered), then the slowest. */
static int by_expired(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    double ex = json_real_value(json_object_get(x, "expired_share"));
    double ey = json_real_value(json_object_get(y, "expired_share"));
    if (ex != ey)
        return ex > ey ? -1 : 1;
    double mx = json_real_value(json_object_get(x, "confirm_hours_median"));
    double my = json_real_value(json_object_get(y, "confirm_hours_median"));
    if (mx != my)
        return mx > my ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "org")),
                  json_string_value(json_object_get(y, "org")));
}

static void provs_free(provs *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].name);
        free(p->items[i].conf_ms);
        free(p->items[i].dec_ms);
    }
    free(p->items);
}

/* The period's times: by default the 28 days to now. */
static int span(ct_capacity *c, const ct_report_period *p, int64_t *start,
                int64_t *end, ct_cap_error *err)
{
    int64_t now = ct_clock_now(ct_capacity_clock(c));
    int64_t d = p->from_day != INT64_MIN
                    ? p->from_day
                    : ct_clock_uk_day(now) - (DEFAULT_DAYS - 1);
    ct_report_period q = *p;
    q.from_ms = ct_clock_uk_midnight(d);
    int rc = ct_report__span(c, &q, 0, start, end, err);
    if (!rc && *end == now)
        (*end)++; /* up to now, what happened at this very ms included */
    return rc;
}

int ct_report_providers_json(ct_capacity *c, const ct_report_period *p,
                             json_t **out, ct_cap_error *err)
{
    *out = NULL;
    int64_t start, end;
    int rc = span(c, p, &start, &end, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_HOLDS_ENDED, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, start);
    sqlite3_bind_int64(st, 2, end);
    provs ps = {0};
    prov all = {.key = "total"};
    int s;
    rc = 0;
    while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *org = ct_report__col(st, 0);
        const char *why = ct_report__col(st, 4);
        int64_t ms = sqlite3_column_int64(st, 3) - sqlite3_column_int64(st, 2);
        if (!why || (strcmp(why, "confirmed") != 0 &&
                     strcmp(why, "declined") != 0 &&
                     strcmp(why, "expired") != 0))
            continue; /* released by the hub: not the provider's answer */
        prov *pv = prov_of(&ps, org ? org : "none", ct_report__col(st, 1));
        if (!pv) {
            rc = CT_ENOMEM;
            break;
        }
        for (int i = 0; i < 2 && !rc; i++) {
            prov *x = i ? &all : pv;
            if (why[0] == 'c') {
                x->confirmed++;
                rc = push_ms(&x->conf_ms, &x->nconf, &x->capconf, ms);
            } else if (why[0] == 'd') {
                x->declined++;
                rc = push_ms(&x->dec_ms, &x->ndec, &x->capdec, ms);
            } else {
                x->expired++;
            }
        }
    }
    sqlite3_reset(st);
    json_t *list = NULL, *tot = NULL;
    if (rc) {
        rc = ct_area__fail(err, rc, "out of memory");
        goto done;
    }
    if (s != SQLITE_DONE) {
        rc = ct_area__dberr(c, err, s, "reading holds");
        goto done;
    }
    all.name = ct_strdup("All providers");
    list = json_array();
    for (size_t i = 0; list && i < ps.n; i++)
        if (json_array_append_new(list, prov_json(&ps.items[i]))) {
            json_decref(list);
            list = NULL;
        }
    if (list && json_array_size(list) > 1) {
        size_t n = json_array_size(list);
        json_t **v = malloc(n * sizeof *v);
        if (v) {
            for (size_t i = 0; i < n; i++)
                v[i] = json_incref(json_array_get(list, i));
            qsort(v, n, sizeof *v, by_expired);
            json_array_clear(list);
            for (size_t i = 0; i < n; i++)
                json_array_append_new(list, v[i]);
            free(v);
        }
    }
    tot = all.name ? prov_json(&all) : NULL;
    if (!list || !tot) {
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
        goto done;
    }
    *out = json_pack("{s:s, s:I, s:o, s:I, s:I, s:O, s:O}", "report",
                     "providers", "at",
                     (json_int_t)ct_clock_now(ct_capacity_clock(c)), "period",
                     ct_report__period_json(p), "start", (json_int_t)start,
                     "end", (json_int_t)end, "totals", tot, "providers",
                     list);
    if (!*out)
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
done:
    json_decref(list);
    json_decref(tot);
    free(all.name);
    free(all.conf_ms);
    free(all.dec_ms);
    provs_free(&ps);
    return rc;
}

/* ---- pathways ----------------------------------------------------------- */

static const char *const pathways[] = {"P0", "P1", "P2", "P3", "step_down",
                                       "unknown"};
#define NPATH (sizeof pathways / sizeof pathways[0])

int ct_report_pathways_json(ct_capacity *c, const ct_report_period *p,
                            json_t **out, ct_cap_error *err)
{
    *out = NULL;
    int64_t start, end;
    int rc = span(c, p, &start, &end, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_DISCHARGES, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, start);
    sqlite3_bind_int64(st, 2, end);
    int64_t n[NPATH] = {0}, returning = 0, total = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *pw = ct_report__col(st, 0);
        const char *home = ct_report__col(st, 1);
        size_t i = NPATH - 1;
        for (size_t j = 0; pw && j < NPATH - 1; j++)
            if (strcmp(pw, pathways[j]) == 0)
                i = j;
        n[i]++;
        total++;
        /* Returning care-home residents are P0 nationally (P3b in the
         * sitrep): counted in P0 and shown apart. */
        if (i == 0 && home && strcmp(home, "care_home") == 0)
            returning++;
    }
    sqlite3_reset(st);
    if (s != SQLITE_DONE)
        return ct_area__dberr(c, err, s, "reading discharges");
    json_t *list = json_array();
    for (size_t i = 0; list && i < NPATH; i++) {
        json_t *o = json_pack("{s:s, s:I, s:o}", "pathway", pathways[i],
                              "discharges", (json_int_t)n[i], "share",
                              total ? json_real((double)n[i] / (double)total)
                                    : json_null());
        if (o && i == 0 &&
            json_object_set_new(o, "returning_residents",
                                json_integer(returning))) {
            json_decref(o);
            o = NULL;
        }
        if (!o || json_array_append_new(list, o)) {
            json_decref(list);
            list = NULL;
        }
    }
    if (list)
        *out = json_pack("{s:s, s:I, s:o, s:I, s:I, s:I, s:o}", "report",
                         "pathways", "at",
                         (json_int_t)ct_clock_now(ct_capacity_clock(c)),
                         "period", ct_report__period_json(p), "start",
                         (json_int_t)start, "end", (json_int_t)end,
                         "discharges", (json_int_t)total, "pathways", list);
    return *out ? 0 : ct_area__fail(err, CT_ENOMEM, "out of memory");
}
