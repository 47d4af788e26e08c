/*
 * The capacity report (report.h): the read view of capacity_view.h with
 * occupancy, surge share, data age and cohorts added, and occupancy over
 * the period.
 *
 * The history is rebuilt, not stored: holds and occupancies alive at each
 * sample time come from the assignment table, which keeps every one with
 * its start and end; open beds are today's, with the later block,
 * unblock and surge events undone, walking back from now. So the history
 * covers everything the store remembers, on a virtual clock as on the
 * real one, without a writer on a schedule. (It counts today's beds: a
 * bed added or retired by a config change counts as if it always was or
 * never was.)
 */
#include "area.h"
#include "capacity.h"
#include "log.h"
#include "capacity_view.h"
#include "error.h"
#include "report_int.h"

#include <stdlib.h>
#include <string.h>

/* At most this many samples, plus the end. */
#define MAX_SAMPLES 200

static int64_t jint(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static json_t *ratio_or_zero(int64_t a, int64_t b)
{
    return json_real(b > 0 ? (double)a / (double)b : 0.0);
}

/* Adds occupancy and surge_share to a totals object of the view. */
static int add_shares(json_t *t)
{
    int64_t open = jint(t, "open");
    int64_t surge_open = jint(json_object_get(t, "surge"), "open");
    return json_object_set_new(t, "occupancy",
                               ratio_or_zero(jint(t, "occupied"), open)) ||
                   json_object_set_new(t, "surge_share",
                                       ratio_or_zero(surge_open, open))
               ? CT_ENOMEM
               : 0;
}

/* ---- data age ---------------------------------------------------------- */

/* Raises facility id's last_change in by_fac to at. */
static int note_change(json_t *by_fac, const char *id, int64_t at)
{
    if (!id)
        return 0;
    json_t *v = json_object_get(by_fac, id);
    if (v) {
        if (at > json_integer_value(v))
            json_integer_set(v, at);
        return 0;
    }
    return json_object_set_new(by_fac, id, json_integer(at)) ? CT_ENOMEM : 0;
}

static int read_changes(ct_capacity *c, ct_report_stmt id, json_t *by_fac,
                        ct_cap_error *err)
{
    sqlite3_stmt *st = ct_report__stmt(c, id, err);
    if (!st)
        return CT_ESTORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (sqlite3_column_type(st, 1) != SQLITE_NULL &&
            note_change(by_fac, ct_report__col(st, 0),
                        sqlite3_column_int64(st, 1))) {
            rc = SQLITE_NOMEM;
            break;
        }
    sqlite3_reset(st);
    if (rc == SQLITE_NOMEM)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    return rc == SQLITE_DONE
               ? 0
               : ct_area__dberr(c, err, rc, "reading bed changes");
}

/* Sets last_change and data_age_hours on o from by_id[id] (null when
 * nothing changed). */
static int set_age(json_t *o, const json_t *by_id, int64_t now)
{
    json_t *last =
        json_object_get(by_id, json_string_value(json_object_get(o, "id")));
    int64_t at = last ? json_integer_value(last) : 0;
    return json_object_set_new(o, "last_change",
                               last ? json_integer(at) : json_null()) ||
                   json_object_set_new(
                       o, "data_age_hours",
                       last ? json_real((double)(now > at ? now - at : 0) /
                                        (double)CT_REPORT__HOUR_MS)
                            : json_null())
               ? CT_ENOMEM
               : 0;
}

/* The providers: each organisation running a facility, with the newest
 * change of any of its facilities, stalest first (never changed first). */
static int providers(ct_capacity *c, json_t *view, int64_t now,
                     ct_cap_error *err)
{
    json_t *list = json_array(), *by_org = json_object();
    int rc = 0;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(view, "facilities"), i, f)
    {
        const char *org = json_string_value(json_object_get(f, "org"));
        if (!org || !list || !by_org)
            continue;
        json_t *p = json_object_get(by_org, org);
        if (!p) {
            sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_ORG_NAME, err);
            if (!st) {
                rc = CT_ESTORE;
                goto done;
            }
            sqlite3_bind_text(st, 1, org, -1, SQLITE_TRANSIENT);
            const char *name = sqlite3_step(st) == SQLITE_ROW
                                   ? ct_report__col(st, 0)
                                   : NULL;
            p = json_pack("{s:s, s:s, s:[], s:n}", "org", org, "name",
                          name ? name : org, "facilities", "last_change");
            sqlite3_reset(st);
            if (!p || json_object_set_new(by_org, org, p) ||
                json_array_append(list, p)) {
                rc = CT_ENOMEM;
                goto done;
            }
        }
        json_t *last = json_object_get(f, "last_change");
        json_t *mine = json_object_get(p, "last_change");
        if (json_is_integer(last) &&
            (!json_is_integer(mine) ||
             json_integer_value(last) > json_integer_value(mine)))
            json_object_set(p, "last_change", last);
        json_array_append(json_object_get(p, "facilities"),
                          json_object_get(f, "id"));
    }
    if (!list || !by_org) {
        rc = CT_ENOMEM;
        goto done;
    }
    /* Stalest first: never changed, then the oldest change (insertion
     * sort: a handful of providers). */
    size_t n = json_array_size(list);
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0; b--) {
            json_t *x = json_object_get(json_array_get(list, b - 1),
                                        "last_change");
            json_t *y = json_object_get(json_array_get(list, b),
                                        "last_change");
            bool swap = json_is_integer(x) &&
                        (!json_is_integer(y) ||
                         json_integer_value(y) < json_integer_value(x));
            if (!swap)
                break;
            json_t *t = json_incref(json_array_get(list, b - 1));
            json_array_set(list, b - 1, json_array_get(list, b));
            json_array_set_new(list, b, t);
        }
    json_array_foreach(list, i, f)
    {
        json_t *last = json_object_get(f, "last_change");
        int64_t at = json_is_integer(last) ? json_integer_value(last) : 0;
        if (json_object_set_new(
                f, "data_age_hours",
                json_is_integer(last)
                    ? json_real((double)(now > at ? now - at : 0) /
                                (double)CT_REPORT__HOUR_MS)
                    : json_null())) {
            rc = CT_ENOMEM;
            goto done;
        }
    }
    if (json_object_set(view, "providers", list))
        rc = CT_ENOMEM;
done:
    json_decref(list);
    json_decref(by_org);
    if (rc == CT_ENOMEM)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    return rc;
}

/* last_change and data_age_hours on each facility and zone, and the
 * providers' list. */
static int data_age(ct_capacity *c, json_t *view, int64_t now,
                    ct_cap_error *err)
{
    json_t *facilities = json_object_get(view, "facilities");
    json_t *by_fac = json_object(), *by_zone = json_object();
    int rc;
    if (!by_fac || !by_zone) {
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = read_changes(c, CT_STMT_REP_BED_CHANGES, by_fac, err)) ||
        (rc = read_changes(c, CT_STMT_REP_FACILITY_EVENTS, by_fac, err)) ||
        (rc = read_changes(c, CT_STMT_REP_ZONE_BED_CHANGES, by_zone, err)) ||
        (rc = read_changes(c, CT_STMT_REP_ZONE_EVENTS, by_zone, err)))
        goto done;
    size_t i, j;
    json_t *f, *z;
    json_array_foreach(facilities, i, f)
    {
        if (set_age(f, by_fac, now)) {
            rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
            goto done;
        }
        json_array_foreach(json_object_get(f, "zones"), j, z)
            if (set_age(z, by_zone, now)) {
                rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
                goto done;
            }
    }
    rc = providers(c, view, now, err);
done:
    json_decref(by_fac);
    json_decref(by_zone);
    return rc;
}

int ct_report_capacity_flag_stale(json_t *rep, int64_t stale_after_ms)
{
    if (stale_after_ms <= 0)
        stale_after_ms = 24 * CT_REPORT__HOUR_MS;
    int64_t at = json_integer_value(json_object_get(rep, "at"));
    json_t *since = json_object_get(rep, "since");
    /* Never changed counts as stale once the area itself is older than
     * the interval: a provider that never once updated is the worst. */
    bool old_area = json_is_integer(since) &&
                    at - json_integer_value(since) > stale_after_ms;
    json_t *names = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(rep, "providers"), i, p)
    {
        json_t *last = json_object_get(p, "last_change");
        bool stale = json_is_integer(last)
                         ? at - json_integer_value(last) > stale_after_ms
                         : old_area;
        if (json_object_set_new(p, "stale", json_boolean(stale)) ||
            (stale && json_array_append(names, json_object_get(p, "name"))))
            break;
    }
    if (!names ||
        json_object_set_new(rep, "stale_after_hours",
                            json_real((double)stale_after_ms /
                                      (double)CT_REPORT__HOUR_MS)) ||
        json_object_set_new(rep, "stale_providers", names))
        return CT_ENOMEM;
    return 0;
}

/* ---- cohorts ----------------------------------------------------------- */

static int cohort_add(json_t *cohorts, const char *pathogen,
                      const char *cohort, const json_t *totals)
{
    json_t *p = json_object_get(cohorts, pathogen);
    if (!p) {
        p = json_object();
        if (!p || json_object_set_new(cohorts, pathogen, p))
            return CT_ENOMEM;
    }
    json_t *e = json_object_get(p, cohort);
    if (!e) {
        e = json_pack("{s:i, s:i, s:i, s:i}", "zones", 0, "total", 0,
                      "available", 0, "occupied", 0);
        if (!e || json_object_set_new(p, cohort, e))
            return CT_ENOMEM;
    }
    static const char *const keys[] = {"total", "available", "occupied"};
    json_integer_set(json_object_get(e, "zones"), jint(e, "zones") + 1);
    for (size_t i = 0; i < 3; i++)
        json_integer_set(json_object_get(e, keys[i]),
                         jint(e, keys[i]) + jint(totals, keys[i]));
    return 0;
}

/* Shares on every totals object, and the cohort summary. */
static int enrich(json_t *view, json_t *cohorts)
{
    if (add_shares(json_object_get(view, "totals")))
        return CT_ENOMEM;
    size_t i, j;
    json_t *f, *z;
    json_array_foreach(json_object_get(view, "facilities"), i, f)
    {
        if (add_shares(json_object_get(f, "totals")))
            return CT_ENOMEM;
        json_array_foreach(json_object_get(f, "zones"), j, z)
        {
            json_t *t = json_object_get(z, "totals");
            if (add_shares(t))
                return CT_ENOMEM;
            const char *pathogen;
            json_t *cohort;
            json_object_foreach(json_object_get(z, "cohorts"), pathogen,
                                cohort)
            {
                if (cohort_add(cohorts, pathogen, json_string_value(cohort),
                               t))
                    return CT_ENOMEM;
            }
        }
    }
    return 0;
}

/* ---- history ----------------------------------------------------------- */

typedef struct history {
    int64_t *t; /* sample times, ascending */
    size_t n;
    size_t nfac;
    const char **fac;   /* facility ids, borrowed from the view */
    int64_t *open_now;  /* per facility */
    int64_t *d_occ, *d_held, *d_open; /* nfac x (n + 1) differences */
} history;

static void history_free(history *h)
{
    free(h->t);
    free(h->fac);
    free(h->open_now);
    free(h->d_occ);
    free(h->d_held);
    free(h->d_open);
}

/* The first sample at or after at (n when none). */
static size_t lower_bound(const history *h, int64_t at)
{
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->t[mid] < at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static long fac_index(const history *h, const char *id)
{
    for (size_t i = 0; id && i < h->nfac; i++)
        if (strcmp(h->fac[i], id) == 0)
            return (long)i;
    return -1;
}

static int64_t choose_step(int64_t span)
{
    static const int64_t steps[] = {
        CT_REPORT__HOUR_MS,      3 * CT_REPORT__HOUR_MS,
        6 * CT_REPORT__HOUR_MS,  12 * CT_REPORT__HOUR_MS,
        CT_REPORT__DAY_MS,       7 * CT_REPORT__DAY_MS,
        28 * CT_REPORT__DAY_MS};
    for (size_t i = 0; i < CT_ARRAY_LEN(steps); i++)
        if (span / steps[i] <= MAX_SAMPLES)
            return steps[i];
    return span / MAX_SAMPLES + 1;
}

static int history_init(history *h, const json_t *facilities, int64_t start,
                        int64_t end, int64_t step)
{
    size_t n = 1;
    if (end > start)
        n = (size_t)((end - start + step - 1) / step) + 1;
    h->t = calloc(n, sizeof *h->t);
    h->nfac = json_array_size(facilities);
    size_t cells = (h->nfac ? h->nfac : 1) * (n + 1);
    h->fac = calloc(h->nfac ? h->nfac : 1, sizeof *h->fac);
    h->open_now = calloc(h->nfac ? h->nfac : 1, sizeof *h->open_now);
    h->d_occ = calloc(cells, sizeof *h->d_occ);
    h->d_held = calloc(cells, sizeof *h->d_held);
    h->d_open = calloc(cells, sizeof *h->d_open);
    if (!h->t || !h->fac || !h->open_now || !h->d_occ || !h->d_held ||
        !h->d_open)
        return CT_ENOMEM;
    for (int64_t at = start; at < end; at += step)
        h->t[h->n++] = at;
    h->t[h->n++] = end;
    for (size_t i = 0; i < h->nfac; i++) {
        const json_t *f = json_array_get(facilities, i);
        h->fac[i] = json_string_value(json_object_get(f, "id"));
        h->open_now[i] = jint(json_object_get(f, "totals"), "open");
    }
    return 0;
}

/* Holds and occupancies: +1 from the first sample at or after the start,
 * -1 from the first at or after the end. */
static int read_assignments(ct_capacity *c, history *h, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_ASSIGNMENTS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, h->t[0]);
    sqlite3_bind_int64(st, 2, h->t[h->n - 1]);
    int rc;
    size_t w = h->n + 1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long f = fac_index(h, ct_report__col(st, 0));
        if (f < 0)
            continue; /* a retired facility */
        const char *kind = ct_report__col(st, 1);
        int64_t *d = kind && strcmp(kind, "hold") == 0 ? h->d_held : h->d_occ;
        int64_t ended = sqlite3_column_int64(st, 3);
        size_t k0 = lower_bound(h, sqlite3_column_int64(st, 2));
        size_t k1 = ended ? lower_bound(h, ended) : h->n;
        if (k0 < k1) {
            d[(size_t)f * w + k0]++;
            d[(size_t)f * w + k1]--;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE
               ? 0
               : ct_area__dberr(c, err, rc, "reading assignments");
}

/* Open beds: an event at time e changed them by delta, so every sample
 * before e had delta fewer... undone here. */
static int read_open_changes(ct_capacity *c, history *h, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_OPEN_CHANGES, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, h->t[0]);
    int rc;
    size_t w = h->n + 1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long f = fac_index(h, ct_report__col(st, 2));
        const char *kind = ct_report__col(st, 1);
        if (f < 0 || !kind)
            continue;
        int64_t changed = sqlite3_column_int64(st, 3);
        int64_t delta = strcmp(kind, "surge.opened") == 0   ? changed
                        : strcmp(kind, "surge.closed") == 0 ? -changed
                        : strcmp(kind, "bed.blocked") == 0  ? -1
                                                            : 1;
        size_t kb = lower_bound(h, sqlite3_column_int64(st, 0));
        h->d_open[(size_t)f * w] -= delta;
        h->d_open[(size_t)f * w + kb] += delta;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE
               ? 0
               : ct_area__dberr(c, err, rc, "reading capacity events");
}

/* Prefix sums of one facility's differences into a JSON array; adds
 * each value into area[k]. */
static json_t *series(const int64_t *d, size_t n, int64_t base,
                      int64_t *area)
{
    json_t *a = json_array();
    int64_t v = base;
    for (size_t k = 0; a && k < n; k++) {
        v += d[k];
        int64_t x = v > 0 ? v : 0;
        area[k] += x;
        if (json_array_append_new(a, json_integer(x))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *history_json(const history *h, const json_t *facilities,
                            int64_t step)
{
    size_t w = h->n + 1;
    int64_t *area = calloc(3 * h->n, sizeof *area);
    json_t *list = json_array(), *out = NULL;
    if (!area || !list)
        goto done;
    for (size_t i = 0; i < h->nfac; i++) {
        const json_t *f = json_array_get(facilities, i);
        json_t *o = json_pack(
            "{s:s, s:O, s:o, s:o, s:o}", "id", h->fac[i], "name",
            json_object_get(f, "name"), "open",
            series(h->d_open + i * w, h->n, h->open_now[i], area),
            "occupied", series(h->d_occ + i * w, h->n, 0, area + h->n),
            "held", series(h->d_held + i * w, h->n, 0, area + 2 * h->n));
        if (json_array_append_new(list, o))
            goto done;
    }
    out = json_pack("{s:I, s:o, s:{s:o, s:o, s:o}, s:O}", "step_ms",
                    (json_int_t)step, "at", ct_report__ints(h->t, h->n), "area",
                    "open", ct_report__ints(area, h->n), "occupied",
                    ct_report__ints(area + h->n, h->n), "held",
                    ct_report__ints(area + 2 * h->n, h->n), "facilities", list);
done:
    json_decref(list);
    free(area);
    return out;
}

static int history_build(ct_capacity *c, const ct_report_period *p,
                         const json_t *facilities, json_t **out,
                         ct_cap_error *err)
{
    *out = NULL;
    int64_t start, end;
    int rc = ct_report__span(c, p, 7 * CT_REPORT__DAY_MS, &start, &end, err);
    if (rc)
        return rc;
    if (p->from_ms == INT64_MIN) /* a default start on a whole hour */
        start -= ((start % CT_REPORT__HOUR_MS) + CT_REPORT__HOUR_MS) %
                 CT_REPORT__HOUR_MS;
    int64_t step = choose_step(end - start);
    history h = {0};
    if ((rc = history_init(&h, facilities, start, end, step))) {
        rc = ct_area__fail(err, rc, "out of memory");
        goto done;
    }
    if ((rc = read_assignments(c, &h, err)) ||
        (rc = read_open_changes(c, &h, err)))
        goto done;
    if (!(*out = history_json(&h, facilities, step)))
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
done:
    history_free(&h);
    return rc;
}

int ct_report__beds_at(ct_capacity *c, const int64_t *t, size_t n,
                       int64_t *open, int64_t *occupied, int64_t *held,
                       ct_cap_error *err)
{
    memset(open, 0, n * sizeof *open);
    memset(occupied, 0, n * sizeof *occupied);
    memset(held, 0, n * sizeof *held);
    if (!n)
        return 0;
    json_t *view = NULL;
    int rc = ct_capacity_view_json(c, &view, err);
    if (rc)
        return rc;
    const json_t *facilities = json_object_get(view, "facilities");
    history h = {0};
    /* history_init samples evenly; these times are the caller's. */
    if ((rc = history_init(&h, facilities, t[0], t[0], 1))) {
        rc = ct_area__fail(err, rc, "out of memory");
        goto done;
    }
    size_t cells = (h.nfac ? h.nfac : 1) * (n + 1);
    int64_t *tt = malloc(n * sizeof *tt);
    int64_t *d[3] = {calloc(cells, sizeof(int64_t)),
                     calloc(cells, sizeof(int64_t)),
                     calloc(cells, sizeof(int64_t))};
    if (!tt || !d[0] || !d[1] || !d[2]) {
        free(tt);
        free(d[0]);
        free(d[1]);
        free(d[2]);
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(tt, t, n * sizeof *tt);
    free(h.t);
    free(h.d_occ);
    free(h.d_held);
    free(h.d_open);
    h.t = tt;
    h.n = n;
    h.d_occ = d[0];
    h.d_held = d[1];
    h.d_open = d[2];
    if ((rc = read_assignments(c, &h, err)) ||
        (rc = read_open_changes(c, &h, err)))
        goto done;
    size_t w = n + 1;
    for (size_t f = 0; f < h.nfac; f++) {
        int64_t vo = h.open_now[f], vc = 0, vh = 0;
        for (size_t k = 0; k < n; k++) {
            vo += h.d_open[f * w + k];
            vc += h.d_occ[f * w + k];
            vh += h.d_held[f * w + k];
            open[k] += vo > 0 ? vo : 0;
            occupied[k] += vc > 0 ? vc : 0;
            held[k] += vh > 0 ? vh : 0;
        }
    }
done:
    history_free(&h);
    json_decref(view);
    return rc;
}

int ct_report_capacity_json(ct_capacity *c, const ct_report_period *p,
                            json_t **out, ct_cap_error *err)
{
    *out = NULL;
    json_t *view = NULL, *cohorts = NULL, *hist = NULL;
    int rc = ct_capacity_view_json(c, &view, err);
    if (rc)
        return rc;
    int64_t now = ct_clock_now(ct_capacity_clock(c));
    json_t *facilities = json_object_get(view, "facilities");
    if (!(cohorts = json_object()) || enrich(view, cohorts)) {
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
        goto done;
    }
    int64_t since = 0;
    if ((rc = data_age(c, view, now, err)) ||
        (rc = ct_report__first_event(c, &since, err)) ||
        (rc = history_build(c, p, facilities, &hist, err)))
        goto done;
    if (json_object_set_new(view, "report", json_string("capacity")) ||
        json_object_set_new(view, "period", ct_report__period_json(p)) ||
        json_object_set_new(view, "since",
                            since ? json_integer(since) : json_null()) ||
        json_object_set(view, "cohorts", cohorts) ||
        json_object_set(view, "history", hist)) {
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
        goto done;
    }
    *out = view;
    view = NULL;
done:
    json_decref(view);
    json_decref(cohorts);
    json_decref(hist);
    return rc;
}
