/*
 * The wall's daily series (report.h): delays, bed-days lost, occupancy,
 * escalation and providers' hold responses per UK day (daily), and the
 * referral rows and delay episodes the wall's reports read
 * (report_int.h; today and people are in report_today.c).
 *
 * The wall's reports read the referral rows as the delays report does: a
 * referral is in hospital at time T from its creation until its wait ends
 * (referral.h's ct_referral_wait_end), and past its ready date at T when
 * ct_referral_delay_days(ready date, T) is at least 1. The series are
 * rebuilt from rows, so they cover the area's whole life. A delay is
 * attributed, at each time and on each day, to the delay episode in force
 * that UK day (delay.h): a person whose care-home wait became a home-care
 * wait counts for the care home before and for home care after, as the
 * delays report apportions bed-days. Days are UK days (Europe/London),
 * cut at the UK midnight.
 */
#include "report.h"

#include "area.h"
#include "capacity.h"
#include "log.h"
#include "clock.h"
#include "delay.h"
#include "error.h"
#include "referral.h"
#include "report_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY CT_REPORT__DAY_MS
#define DEFAULT_DAYS 28
#define MAX_DAYS 366

static int64_t floor_day(int64_t ms)
{
    return ms >= 0 ? ms / DAY : -((-ms + DAY - 1) / DAY);
}

static void day_text(int64_t day, char out[11])
{
    ct_clock_day_text(day, out);
}

/* ---- delay episodes -------------------------------------------------- */

void ct_report__episodes_free(ct_report_episodes *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->items[i].reason);
        free(e->items[i].reason_text);
        free(e->items[i].org);
        free(e->items[i].org_name);
    }
    free(e->items);
    memset(e, 0, sizeof *e);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int ct_report__episodes_load(ct_capacity *c, int64_t id,
                             ct_report_episodes *e, ct_cap_error *err)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->items[i].reason);
        free(e->items[i].reason_text);
        free(e->items[i].org);
        free(e->items[i].org_name);
    }
    e->n = 0;
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_EPISODES, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (ct_grow(&e->items, &e->cap, e->n, sizeof *e->items, 4)) {
            rc = SQLITE_NOMEM;
            break;
        }
        ct_report_episode *it = &e->items[e->n];
        const char *to = ct_report__col(st, 5);
        it->from = ct_delay_day(ct_report__col(st, 4));
        it->to = to ? ct_delay_day(to) : INT64_MAX;
        it->reason = dup_or_null(ct_report__col(st, 0));
        it->reason_text = dup_or_null(ct_report__col(st, 1));
        it->org = dup_or_null(ct_report__col(st, 2));
        it->org_name = dup_or_null(ct_report__col(st, 3));
        e->n++;
        if (!it->reason || !it->org ||
            (ct_report__col(st, 1) && !it->reason_text) ||
            (ct_report__col(st, 3) && !it->org_name)) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(st);
    if (rc == SQLITE_NOMEM)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    return rc == SQLITE_DONE ? 0
                             : ct_area__dberr(c, err, rc,
                                              "reading delay episodes");
}

const ct_report_episode *ct_report__episode_at(const ct_report_episodes *e,
                                               int64_t day)
{
    /* Episodes never overlap (delay.h); one re-decided on its first day
     * covers no day at all. */
    for (size_t i = 0; i < e->n; i++)
        if (e->items[i].from <= day && day < e->items[i].to)
            return &e->items[i];
    return NULL;
}

void ct_report__row_read(sqlite3_stmt *st, ct_report_row *r)
{
    r->id = sqlite3_column_int64(st, 0);
    r->ready = ct_report__col(st, 1);
    r->state = ct_report__col(st, 2);
    int state = ct_referral_state_parse(r->state);
    int64_t discharged = sqlite3_column_int64(st, 3);
    r->updated = sqlite3_column_int64(st, 4);
    r->created = sqlite3_column_int64(st, 5);
    r->reason = ct_report__col(st, 6);
    r->org = ct_report__col(st, 7);
    r->org_name = ct_report__col(st, 8);
    r->nhs = ct_report__col(st, 9);
    r->from_org = ct_report__col(st, 10);
    r->pathway = ct_report__col(st, 11);
    r->reason_text = ct_report__col(st, 12);
    r->end = ct_referral_wait_end(state < 0 ? CT_REFERRAL_RECEIVED
                                            : (ct_referral_state)state,
                                  discharged, r->updated, INT64_MAX);
    int64_t ms = 0;
    r->ready_day = r->ready && ct_clock_parse(r->ready, &ms) == 0
                       ? floor_day(ms)
                       : INT64_MAX;
}

/* The episode in force on `day`; a referral with no episode at all (a
 * delay set before episodes existed) keeps its current attribution. */
ct_report_attr ct_report__attr_at(const ct_report_row *r,
                                  const ct_report_episodes *e, int64_t day)
{
    if (!e->n)
        return (ct_report_attr){r->reason, r->reason_text, r->org,
                                r->org_name};
    const ct_report_episode *ep = ct_report__episode_at(e, day);
    if (!ep)
        return (ct_report_attr){NULL, NULL, NULL, NULL};
    return (ct_report_attr){ep->reason, ep->reason_text, ep->org,
                            ep->org_name};
}

/* Days past the ready date at t when in hospital then, else 0. */
int64_t ct_report__past_at(const ct_report_row *r, int64_t t)
{
    if (r->ready_day == INT64_MAX || r->created > t || r->end <= t)
        return 0;
    int64_t d = ct_clock_uk_day(t) - r->ready_day;
    return d > 0 ? d : 0;
}

/* Binds and starts REP_PAST_READY for delays at some time in [from, to]. */
sqlite3_stmt *ct_report__past_ready(ct_capacity *c, int64_t from, int64_t to,
                                    ct_cap_error *err)
{
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_PAST_READY, err);
    if (!st)
        return NULL;
    char day[11];
    day_text(ct_clock_uk_day(to), day);
    sqlite3_bind_text(st, 1, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    return st;
}

const char *ct_report__key_or_none(const char *k)
{
    return k && *k ? k : "none";
}

/* A reason's label is the one its episode was recorded with (the area's
 * reason list is plugin data, delay.h), else its code. */
json_t *ct_report__reason_name(const char *key, const char *text)
{
    if (strcmp(key, "none") == 0)
        return json_string("No delay reason recorded");
    return json_string(text && *text ? text : key);
}

json_t *ct_report__org_name(const char *key, const char *name)
{
    if (strcmp(key, "none") == 0)
        return json_string("No responsible organisation recorded");
    return json_string(name ? name : key);
}

/* ---- daily ------------------------------------------------------------- */

/* Per-key series of n days: {key: {name, values: [n]}} built in C arrays
 * first. */
typedef struct series {
    char key[CT_CAP_ID_MAX];
    json_t *name;
    int64_t *v;
} series;

typedef struct series_set {
    series *items;
    size_t n, cap, days;
} series_set;

static int64_t *series_of(series_set *s, const char *key, json_t *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].key, key) == 0) {
            json_decref(name);
            return s->items[i].v;
        }
    if (!name)
        return NULL;
    if (ct_grow(&s->items, &s->cap, s->n, sizeof *s->items, 16)) {
        json_decref(name);
        return NULL;
    }
    series *it = &s->items[s->n];
    snprintf(it->key, sizeof it->key, "%s", key);
    it->name = name;
    if (!(it->v = calloc(s->days, sizeof *it->v))) {
        json_decref(name);
        return NULL;
    }
    s->n++;
    return it->v;
}

static void series_free(series_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        json_decref(s->items[i].name);
        free(s->items[i].v);
    }
    free(s->items);
}

/* report_int.h */
json_t *ct_report__ints(const int64_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t k = 0; a && k < n; k++)
        if (json_array_append_new(a, json_integer(v[k]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *series_json(const series_set *s)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < s->n; i++)
        if (json_object_set_new(o, s->items[i].key,
                                json_pack("{s:O, s:o}", "name",
                                          s->items[i].name, "values",
                                          ct_report__ints(s->items[i].v,
                                                          s->days)))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

typedef struct daily {
    int64_t d0, nd, now;
    int64_t *t; /* each day's reading time: its last ms, or now */
    int64_t *delayed, *lost;
    series_set d_org, d_reason, l_org, l_reason;
} daily;

/* Adds one to the series of key (named name, which it takes) on day k. */
static int bump_series(series_set *s, size_t k, const char *key, json_t *name)
{
    int64_t *v = series_of(s, key, name);
    if (!v)
        return CT_ENOMEM;
    v[k]++;
    return 0;
}

/* One referral into the delayed and bed-days series, each day to the
 * episode in force that day. */
static int daily_referral(daily *w, const ct_report_row *r,
                          const ct_report_episodes *eps)
{
    /* Bed-days lost on day D: ready_day < D <= the day the wait ended. */
    int64_t last = ct_clock_uk_day(r->end == INT64_MAX ? w->now : r->end);
    for (int64_t k = 0; k < w->nd; k++) {
        int64_t day = w->d0 + k;
        bool delayed = ct_report__past_at(r, w->t[k]) > 0;
        bool lost = day > r->ready_day && day <= last;
        if (!delayed && !lost)
            continue;
        if (delayed) {
            ct_report_attr a =
                ct_report__attr_at(r, eps, ct_clock_uk_day(w->t[k]));
            const char *org = ct_report__key_or_none(a.org);
            const char *reason = ct_report__key_or_none(a.reason);
            w->delayed[k]++;
            if (bump_series(&w->d_org, (size_t)k, org,
                            ct_report__org_name(org, a.org_name)) ||
                bump_series(&w->d_reason, (size_t)k, reason,
                            ct_report__reason_name(reason, a.reason_text)))
                return CT_ENOMEM;
        }
        if (lost) {
            ct_report_attr a = ct_report__attr_at(r, eps, day);
            const char *org = ct_report__key_or_none(a.org);
            const char *reason = ct_report__key_or_none(a.reason);
            w->lost[k]++;
            if (bump_series(&w->l_org, (size_t)k, org,
                            ct_report__org_name(org, a.org_name)) ||
                bump_series(&w->l_reason, (size_t)k, reason,
                            ct_report__reason_name(reason, a.reason_text)))
                return CT_ENOMEM;
        }
    }
    return 0;
}

static int daily_delays(ct_capacity *c, daily *w, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_report__past_ready(c, ct_clock_uk_midnight(w->d0),
                                  w->t[w->nd - 1], err);
    if (!st)
        return CT_ESTORE;
    ct_report_episodes eps = {0};
    int rc, erc = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ct_report_row r;
        ct_report__row_read(st, &r);
        if ((erc = ct_report__episodes_load(c, r.id, &eps, err)))
            break;
        if (daily_referral(w, &r, &eps)) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(st);
    ct_report__episodes_free(&eps);
    if (erc)
        return erc;
    if (rc == SQLITE_NOMEM)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    return rc == SQLITE_DONE ? 0
                             : ct_area__dberr(c, err, rc,
                                              "reading delays");
}

/* The level at each day's end and the highest of each day. */
static int daily_levels(ct_capacity *c, const daily *w, int64_t *level,
                        int64_t *max, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_ESCALATIONS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, w->now + 1);
    int64_t cur = 1; /* level 1 until one was ever set */
    size_t k = 0, nd = (size_t)w->nd;
    for (size_t i = 0; i < nd; i++)
        level[i] = max[i] = 0;
    int rc;
    /* Changes in time order: each closes the days that ended before it
     * with the level then in force; one inside day k raises its max with
     * the levels before and after it. */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t at = sqlite3_column_int64(st, 1);
        int64_t lvl = sqlite3_column_int(st, 2);
        if (lvl < 1 || lvl > CT_REPORT__LEVELS)
            continue;
        for (; k < nd && w->t[k] < at; k++) {
            level[k] = cur;
            if (cur > max[k])
                max[k] = cur;
        }
        bool inside = k < nd && at >= ct_clock_uk_midnight(w->d0 + (int64_t)k);
        if (inside && cur > max[k])
            max[k] = cur;
        cur = lvl;
        if (inside && cur > max[k])
            max[k] = cur;
    }
    sqlite3_reset(st);
    for (; k < nd; k++) {
        level[k] = cur;
        if (cur > max[k])
            max[k] = cur;
    }
    return rc == SQLITE_DONE ? 0
                             : ct_area__dberr(c, err, rc,
                                              "reading escalations");
}

/* Hold to confirmation times, for medians. */
typedef struct response {
    size_t who; /* index in the providers' series, SIZE_MAX: area */
    int64_t day, ms;
} response;

static int by_group_day_ms(const void *a, const void *b)
{
    const response *x = a, *y = b;
    if (x->who != y->who)
        return x->who < y->who ? -1 : 1;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return x->ms < y->ms ? -1 : x->ms > y->ms;
}

/* Medians in hours of a sorted run per day into an array of nd (null on
 * days without one). */
static json_t *medians(const response *r, size_t n, size_t who, int64_t nd)
{
    json_t *a = json_array();
    for (int64_t k = 0; a && k < nd; k++)
        if (json_array_append_new(a, json_null())) {
            json_decref(a);
            return NULL;
        }
    size_t i = 0;
    while (a && i < n) {
        size_t j = i;
        while (j < n && r[j].who == r[i].who && r[j].day == r[i].day)
            j++;
        if (r[i].who == who) {
            size_t m = j - i;
            double med = m % 2 ? (double)r[i + m / 2].ms
                               : ((double)r[i + m / 2 - 1].ms +
                                  (double)r[i + m / 2].ms) /
                                     2.0;
            json_array_set_new(a, (size_t)r[i].day,
                               json_real(med / (double)CT_REPORT__HOUR_MS));
        }
        i = j;
    }
    return a;
}

typedef struct holds {
    int64_t *confirmed, *expired, *declined;
    series_set p_conf, p_exp, p_dec;
    response *resp;
    size_t nresp, capresp;
} holds;

static int add_response(holds *h, size_t who, int64_t day, int64_t ms)
{
    if (ct_grow(&h->resp, &h->capresp, h->nresp, sizeof *h->resp, 64))
        return CT_ENOMEM;
    h->resp[h->nresp++] = (response){who, day, ms};
    return 0;
}

static size_t series_index(const series_set *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].key, key) == 0)
            return i;
    return SIZE_MAX;
}

static int daily_holds(ct_capacity *c, const daily *w, holds *h,
                       ct_cap_error *err)
{
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_HOLDS_ENDED, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, ct_clock_uk_midnight(w->d0));
    sqlite3_bind_int64(st, 2, w->t[w->nd - 1] + 1);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *org = ct_report__key_or_none(ct_report__col(st, 0));
        const char *name = ct_report__col(st, 1);
        int64_t started = sqlite3_column_int64(st, 2);
        int64_t ended = sqlite3_column_int64(st, 3);
        const char *why = ct_report__col(st, 4);
        int64_t k = ct_clock_uk_day(ended) - w->d0;
        if (k < 0 || k >= w->nd || !why)
            continue;
        bool conf = strcmp(why, "confirmed") == 0;
        bool dec = strcmp(why, "declined") == 0;
        if (!conf && !dec && strcmp(why, "expired") != 0)
            continue; /* released by the hub: not the provider's answer */
        int64_t *pc = series_of(&h->p_conf, org, json_string(name ? name
                                                                   : org));
        int64_t *pe = series_of(&h->p_exp, org, json_string(name ? name
                                                                  : org));
        int64_t *pd = series_of(&h->p_dec, org, json_string(name ? name
                                                                  : org));
        if (!pc || !pe || !pd) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (conf) {
            h->confirmed[k]++;
            pc[k]++;
            if (add_response(h, series_index(&h->p_conf, org), k,
                             ended - started) ||
                add_response(h, SIZE_MAX, k, ended - started)) {
                rc = SQLITE_NOMEM;
                break;
            }
        } else if (dec) {
            h->declined[k]++;
            pd[k]++;
        } else {
            h->expired[k]++;
            pe[k]++;
        }
    }
    sqlite3_reset(st);
    if (rc == SQLITE_NOMEM)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    return rc == SQLITE_DONE ? 0
                             : ct_area__dberr(c, err, rc,
                                              "reading holds");
}

static json_t *holds_json(holds *h, int64_t nd)
{
    if (h->nresp)
        qsort(h->resp, h->nresp, sizeof *h->resp, by_group_day_ms);
    json_t *prov = json_object();
    for (size_t i = 0; prov && i < h->p_conf.n; i++) {
        const series *s = &h->p_conf.items[i];
        size_t e = series_index(&h->p_exp, s->key);
        size_t d = series_index(&h->p_dec, s->key);
        json_t *o = json_pack(
            "{s:O, s:o, s:o, s:o, s:o}", "name", s->name, "confirmed",
            ct_report__ints(s->v, (size_t)nd), "expired",
            ct_report__ints(h->p_exp.items[e].v, (size_t)nd), "declined",
            ct_report__ints(h->p_dec.items[d].v, (size_t)nd),
            "confirm_hours_median", medians(h->resp, h->nresp, i, nd));
        if (json_object_set_new(prov, s->key, o)) {
            json_decref(prov);
            prov = NULL;
        }
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "confirmed",
                     ct_report__ints(h->confirmed, (size_t)nd), "expired",
                     ct_report__ints(h->expired, (size_t)nd), "declined",
                     ct_report__ints(h->declined, (size_t)nd),
                     "confirm_hours_median",
                     medians(h->resp, h->nresp, SIZE_MAX, nd), "by_provider",
                     prov);
}

static json_t *occupancy_json(const int64_t *open, const int64_t *occ,
                              const int64_t *held, int64_t nd)
{
    json_t *share = json_array();
    for (int64_t k = 0; share && k < nd; k++)
        if (json_array_append_new(
                share, open[k] > 0 ? json_real((double)occ[k] /
                                               (double)open[k])
                                   : json_null())) {
            json_decref(share);
            share = NULL;
        }
    return json_pack("{s:o, s:o, s:o, s:o}", "open",
                     ct_report__ints(open, (size_t)nd), "occupied",
                     ct_report__ints(occ, (size_t)nd), "held",
                     ct_report__ints(held, (size_t)nd), "share", share);
}

int ct_report_daily_json(ct_capacity *c, const ct_report_period *p,
                         json_t **out, ct_cap_error *err)
{
    *out = NULL;
    int64_t today = ct_clock_uk_day(ct_clock_now(ct_capacity_clock(c)));
    int64_t last = p->to_day != INT64_MAX ? p->to_day : today;
    if (last > today)
        last = today; /* no figures for days to come */
    int64_t first = p->from_day != INT64_MIN ? p->from_day
                                             : last - (DEFAULT_DAYS - 1);
    if (last - first + 1 > MAX_DAYS)
        return ct_area__fail(err, CT_EINVAL,
                             "the daily report covers at most %d days",
                             MAX_DAYS);
    json_t *rep = NULL;
    int rc = ct_report__daily_build(c, first, last, &rep, err);
    if (!rc && json_object_set_new(rep, "period", ct_report__period_json(p)))
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
    if (!rc)
        rc = ct_report__snapshot_overlay(c, rep, first, today, err);
    if (rc) {
        json_decref(rep);
        return rc;
    }
    *out = rep;
    return 0;
}

int ct_report__daily_build(ct_capacity *c, int64_t first, int64_t last,
                           json_t **out, ct_cap_error *err)
{
    *out = NULL;
    daily w = {0};
    holds h = {0};
    w.now = ct_clock_now(ct_capacity_clock(c));
    w.d0 = first;
    w.nd = last >= first ? last - first + 1 : 0;
    size_t nd = (size_t)w.nd, alloc = nd ? nd : 1;
    int rc = 0;
    w.t = calloc(alloc, sizeof *w.t);
    w.delayed = calloc(alloc, sizeof *w.delayed);
    w.lost = calloc(alloc, sizeof *w.lost);
    int64_t *buf = calloc(5 * alloc, sizeof *buf);
    h.confirmed = calloc(alloc, sizeof *h.confirmed);
    h.expired = calloc(alloc, sizeof *h.expired);
    h.declined = calloc(alloc, sizeof *h.declined);
    json_t *days = json_array();
    if (!w.t || !w.delayed || !w.lost || !buf || !h.confirmed ||
        !h.expired || !h.declined || !days) {
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
        goto done;
    }
    w.d_org.days = w.d_reason.days = w.l_org.days = w.l_reason.days =
        h.p_conf.days = h.p_exp.days = h.p_dec.days = alloc;
    for (size_t k = 0; k < nd; k++) {
        int64_t end = ct_clock_uk_midnight(w.d0 + (int64_t)k + 1) - 1;
        w.t[k] = end < w.now ? end : w.now;
        char d[11];
        day_text(w.d0 + (int64_t)k, d);
        if (json_array_append_new(days, json_string(d))) {
            rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
            goto done;
        }
    }
    int64_t *open = buf, *occ = buf + alloc, *held = buf + 2 * alloc,
            *level = buf + 3 * alloc, *maxl = buf + 4 * alloc;
    if (nd && ((rc = daily_delays(c, &w, err)) ||
               (rc = ct_report__beds_at(c, w.t, nd, open, occ, held, err)) ||
               (rc = daily_levels(c, &w, level, maxl, err)) ||
               (rc = daily_holds(c, &w, &h, err))))
        goto done;
    *out = json_pack(
        "{s:s, s:I, s:o, s:O, s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o},"
        " s:o, s:{s:o, s:o}, s:o}",
        "report", "daily", "at", (json_int_t)w.now, "period",
        json_null(), "days", days, "delayed", "total",
        ct_report__ints(w.delayed, nd), "by_org", series_json(&w.d_org),
        "by_reason", series_json(&w.d_reason), "bed_days_lost", "total",
        ct_report__ints(w.lost, nd), "by_org", series_json(&w.l_org),
        "by_reason", series_json(&w.l_reason), "occupancy",
        occupancy_json(open, occ, held, w.nd), "escalation", "level",
        ct_report__ints(level, nd), "max_level", ct_report__ints(maxl, nd),
        "holds", holds_json(&h, w.nd));
    if (!*out)
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
done:
    json_decref(days);
    free(w.t);
    free(w.delayed);
    free(w.lost);
    free(buf);
    free(h.confirmed);
    free(h.expired);
    free(h.declined);
    free(h.resp);
    series_free(&w.d_org);
    series_free(&w.d_reason);
    series_free(&w.l_org);
    series_free(&w.l_reason);
    series_free(&h.p_conf);
    series_free(&h.p_exp);
    series_free(&h.p_dec);
    return rc;
}
