/*
 * The wall's reports of now (report.h): who is past their discharge ready
 * date now against a day and a week ago (today), and the hub's list of
 * delayed people (people). Both read the referral rows and attribute each
 * delay to its episode as the daily series do (report_daily.c, whose
 * opening comment gives the rule).
 */
#include "report.h"

#include "area.h"
#include "capacity.h"
#include "log.h"
#include "clock.h"
#include "error.h"
#include "referral.h"
#include "report_int.h"

#include <stdlib.h>
#include <string.h>

#define DAY CT_REPORT__DAY_MS
#define NLEN 4

static const char *const length_names[NLEN] = {"1-2d", "3-6d", "7-13d",
                                               "14d+"};

static int length_bucket(int64_t days)
{
    return days < 3 ? 0 : days < 7 ? 1 : days < 14 ? 2 : 3;
}

/* ---- today ------------------------------------------------------------- */

#define NT 3 /* now, yesterday, last week */

/* Counts of one group (or the area) at the three times. */
typedef struct tcount {
    int64_t n[NT], bed_days, max_days, len[NLEN];
} tcount;

/* One person d days past their ready date at time i (0: now). */
static void tcount_add(tcount *t, int i, int64_t d)
{
    t->n[i]++;
    if (i == 0) {
        t->bed_days += d;
        if (d > t->max_days)
            t->max_days = d;
        t->len[length_bucket(d)]++;
    }
}

static int tcount_fill(json_t *o, const tcount *t)
{
    json_t *len = json_object();
    for (int b = 0; len && b < NLEN; b++)
        if (json_object_set_new(len, length_names[b], json_integer(t->len[b])))
            return CT_ENOMEM;
    if (!len || json_object_set_new(o, "now", json_integer(t->n[0])) ||
        json_object_set_new(o, "yesterday", json_integer(t->n[1])) ||
        json_object_set_new(o, "last_week", json_integer(t->n[2])) ||
        json_object_set_new(o, "bed_days", json_integer(t->bed_days)) ||
        json_object_set_new(o, "max_days", json_integer(t->max_days)) ||
        json_object_set_new(o, "by_length", len))
        return CT_ENOMEM;
    return 0;
}

/* A group: key, name and counts; reasons only inside an organisation. */
typedef struct tgroup {
    char key[CT_CAP_ID_MAX];
    json_t *name;
    tcount t;
    json_t *reasons; /* {reason: count now}, organisations only */
} tgroup;

typedef struct tgroups {
    tgroup *items;
    size_t n, cap;
} tgroups;

static tgroup *tgroup_of(tgroups *g, const char *key, json_t *(*name)(void *),
                         void *arg)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->items[i].key, key) == 0)
            return &g->items[i];
    if (ct_grow(&g->items, &g->cap, g->n, sizeof *g->items, 16))
        return NULL;
    tgroup *it = &g->items[g->n];
    memset(it, 0, sizeof *it);
    snprintf(it->key, sizeof it->key, "%s", key);
    if (!(it->name = name(arg)) || !(it->reasons = json_object())) {
        json_decref(it->name);
        return NULL;
    }
    g->n++;
    return it;
}

static void tgroups_free(tgroups *g)
{
    for (size_t i = 0; i < g->n; i++) {
        json_decref(g->items[i].name);
        json_decref(g->items[i].reasons);
    }
    free(g->items);
}

static int by_now(const void *a, const void *b)
{
    const tgroup *x = a, *y = b;
    for (int i = 0; i < NT; i++)
        if (x->t.n[i] != y->t.n[i])
            return x->t.n[i] > y->t.n[i] ? -1 : 1;
    if (x->t.bed_days != y->t.bed_days)
        return x->t.bed_days > y->t.bed_days ? -1 : 1;
    return strcmp(x->key, y->key);
}

struct name_arg {
    const char *key, *name;
};

static json_t *org_name_cb(void *arg)
{
    struct name_arg *a = arg;
    return ct_report__org_name(a->key, a->name);
}

static json_t *reason_name_cb(void *arg)
{
    struct name_arg *a = arg;
    return ct_report__reason_name(a->key, a->name);
}

/* A new reference to the name of group key in g (the key if none). */
static json_t *group_name(const tgroups *g, const char *key)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->items[i].key, key) == 0)
            return json_incref(g->items[i].name);
    return ct_report__reason_name(key, NULL);
}

/* An organisation's reasons now, largest first, as [{key, name, now}];
 * names as the reasons' groups have them. */
static json_t *reasons_list(const json_t *counts, const tgroups *names)
{
    json_t *list = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)counts, k, v)
    {
        size_t i = 0;
        while (i < json_array_size(list) &&
               json_integer_value(json_object_get(json_array_get(list, i),
                                                  "now")) >=
                   json_integer_value(v))
            i++;
        if (!list ||
            json_array_insert_new(list, i,
                                  json_pack("{s:s, s:o, s:I}", "key", k,
                                            "name", group_name(names, k),
                                            "now",
                                            json_integer_value(v)))) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

static json_t *tgroups_json(tgroups *g, const tgroups *reason_names)
{
    if (g->n)
        qsort(g->items, g->n, sizeof *g->items, by_now);
    json_t *list = json_array();
    for (size_t i = 0; list && i < g->n; i++) {
        tgroup *it = &g->items[i];
        json_t *o = json_pack("{s:s, s:O}", "key", it->key, "name", it->name);
        if (!o || tcount_fill(o, &it->t) ||
            (reason_names &&
             json_object_set_new(o, "reasons",
                                 reasons_list(it->reasons, reason_names))) ||
            json_array_append_new(list, o)) {
            json_decref(o);
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

int ct_report_today_json(ct_capacity *c, json_t **out, ct_cap_error *err)
{
    *out = NULL;
    int64_t now = ct_clock_now(ct_capacity_clock(c));
    int64_t times[NT] = {now, now - DAY, now - 7 * DAY};
    sqlite3_stmt *st = ct_report__past_ready(c, times[NT - 1], now, err);
    if (!st)
        return CT_ESTORE;
    tcount total = {0};
    tgroups orgs = {0}, reasons = {0};
    ct_report_episodes eps = {0};
    int rc, erc = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ct_report_row r;
        ct_report__row_read(st, &r);
        int64_t d[NT];
        bool any = false;
        for (int i = 0; i < NT; i++)
            any |= (d[i] = ct_report__past_at(&r, times[i])) > 0;
        if (!any)
            continue;
        if ((erc = ct_report__episodes_load(c, r.id, &eps, err)))
            break;
        for (int i = 0; i < NT && rc == SQLITE_ROW; i++) {
            if (d[i] <= 0)
                continue;
            ct_report_attr a =
                ct_report__attr_at(&r, &eps, ct_clock_uk_day(times[i]));
            struct name_arg oa = {ct_report__key_or_none(a.org), a.org_name};
            struct name_arg ra = {ct_report__key_or_none(a.reason),
                                  a.reason_text};
            tgroup *o = tgroup_of(&orgs, oa.key, org_name_cb, &oa);
            tgroup *g = o ? tgroup_of(&reasons, ra.key, reason_name_cb, &ra)
                          : NULL;
            if (!g) {
                rc = SQLITE_NOMEM;
                break;
            }
            tcount_add(&total, i, d[i]);
            tcount_add(&o->t, i, d[i]);
            tcount_add(&g->t, i, d[i]);
            if (i > 0)
                continue;
            json_t *v = json_object_get(o->reasons, ra.key);
            if (v ? json_integer_set(v, json_integer_value(v) + 1)
                  : json_object_set_new(o->reasons, ra.key,
                                        json_integer(1)))
                rc = SQLITE_NOMEM;
        }
        if (rc != SQLITE_ROW)
            break;
    }
    ct_report__episodes_free(&eps);
    sqlite3_reset(st);
    if (erc) {
        rc = erc;
        goto done;
    }
    if (rc != SQLITE_DONE) {
        rc = rc == SQLITE_NOMEM
                 ? ct_area__fail(err, CT_ENOMEM, "out of memory")
                 : ct_area__dberr(c, err, rc, "reading delays");
        goto done;
    }
    json_t *tot = json_object();
    if (tot && tcount_fill(tot, &total)) {
        json_decref(tot);
        tot = NULL;
    }
    *out = json_pack("{s:s, s:I, s:{s:I, s:I, s:I}, s:o, s:o, s:o}",
                     "report", "today", "at", (json_int_t)now, "times",
                     "now", (json_int_t)times[0], "yesterday",
                     (json_int_t)times[1], "last_week", (json_int_t)times[2],
                     "totals", tot, "orgs", tgroups_json(&orgs, &reasons),
                     "reasons", tgroups_json(&reasons, NULL));
    rc = *out ? 0 : ct_area__fail(err, CT_ENOMEM, "out of memory");
done:
    tgroups_free(&orgs);
    tgroups_free(&reasons);
    return rc;
}

/* ---- people ------------------------------------------------------------ */

/* Why referral id waits (its decision's why), or JSON null when it does
 * not wait or has none. */
static json_t *why_of(ct_capacity *c, int64_t id, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_WHY, err);
    json_t *v = NULL;
    if (!st)
        return json_null();
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_reset(st);
    return v ? v : json_null();
}

int ct_report_people_json(ct_capacity *c, json_t **out, ct_cap_error *err)
{
    *out = NULL;
    int64_t now = ct_clock_now(ct_capacity_clock(c));
    sqlite3_stmt *st = ct_report__past_ready(c, now, now, err);
    if (!st)
        return CT_ESTORE;
    json_t *list = json_array();
    if (!list)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    ct_report_episodes eps = {0};
    int rc, erc = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ct_report_row r;
        ct_report__row_read(st, &r);
        int64_t d = ct_report__past_at(&r, now);
        if (d <= 0)
            continue;
        if ((erc = ct_report__episodes_load(c, r.id, &eps, err)))
            break;
        ct_report_attr a = ct_report__attr_at(&r, &eps, ct_clock_uk_day(now));
        const char *reason = ct_report__key_or_none(a.reason);
        const char *org = ct_report__key_or_none(a.org);
        json_t *o = json_pack(
            "{s:I, s:s, s:s, s:o, s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:I}",
            "referral", (json_int_t)r.id, "nhs_number", r.nhs ? r.nhs : "",
            "from_org", r.from_org ? r.from_org : "", "pathway",
            r.pathway ? json_string(r.pathway) : json_null(), "state",
            r.state ? r.state : "", "ready_date", r.ready,
            "days_past_ready", (json_int_t)d, "reason",
            a.reason ? json_string(a.reason) : json_null(), "reason_text",
            ct_report__reason_name(reason, a.reason_text), "responsible_org",
            a.org ? json_string(a.org) : json_null(), "responsible_org_name",
            ct_report__org_name(org, a.org_name), "updated_at",
            (json_int_t)r.updated);
        if (o)
            json_object_set_new(o, "why", why_of(c, r.id, err));
        /* Longest first: insert before the first shorter wait. */
        size_t i = 0;
        while (i < json_array_size(list) &&
               json_integer_value(json_object_get(json_array_get(list, i),
                                                  "days_past_ready")) >= d)
            i++;
        if (json_array_insert_new(list, i, o)) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(st);
    ct_report__episodes_free(&eps);
    if (erc) {
        json_decref(list);
        return erc;
    }
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return rc == SQLITE_NOMEM
                   ? ct_area__fail(err, CT_ENOMEM, "out of memory")
                   : ct_area__dberr(c, err, rc, "reading delays");
    }
    *out = json_pack("{s:s, s:I, s:o}", "report", "delayed_people", "at",
                     (json_int_t)now, "people", list);
    return *out ? 0 : ct_area__fail(err, CT_ENOMEM, "out of memory");
}
