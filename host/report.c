/*
 * Reports (report.h): periods, the delays report, the escalation report
 * and recent decisions. The capacity report is in report_capacity.c.
 */
#include "report.h"

#include "area.h"
#include "capacity.h"
#include "log.h"
#include "clock.h"
#include "error.h"
#include "referral.h"
#include "report_int.h"
#include "store_json.h"
#include "util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CT_STMT_SET_DEFINE(report_stmts, CT_STMTS_REPORT, CT_STMT_REPORT__COUNT);

sqlite3_stmt *ct_report__stmt(ct_capacity *c, ct_report_stmt id,
                              ct_cap_error *err)
{
    sqlite3_stmt *st =
        ct_store__stmt_of(ct_capacity_store(c), &report_stmts, (int)id);
    if (!st)
        ct_area__fail(err, CT_ESTORE,
                      "storage error: cannot prepare a statement");
    return st;
}

static const char *const by_names[] = {"org", "reason", "pathway"};

const char *ct_report_by_name(ct_report_by by)
{
    return (unsigned)by < CT_REPORT_BY__COUNT ? by_names[by] : NULL;
}

int ct_report_by_parse(const char *s)
{
    for (int i = 0; s && i < CT_REPORT_BY__COUNT; i++)
        if (strcmp(s, by_names[i]) == 0)
            return i;
    return -1;
}

const char *ct_report__col(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : NULL;
}

json_t *ct_report__period_json(const ct_report_period *p)
{
    return json_pack("{s:o, s:o}", "from",
                     p->from[0] ? json_string(p->from) : json_null(), "to",
                     p->to[0] ? json_string(p->to) : json_null());
}

static int parse_day(const char *what, const char *s, char out[11],
                     int64_t *ms, char *msg, size_t msglen)
{
    char why[160];
    if (ct_clock_parse_day(s, ms, why, sizeof why)) {
        snprintf(msg, msglen, "%s: %s", what, why);
        return CT_EINVAL;
    }
    memcpy(out, s, 11);
    return 0;
}

int ct_report_period_parse(const char *from, const char *to,
                           ct_report_period *out, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    out->from_ms = out->from_day = INT64_MIN;
    out->to_ms = out->to_day = INT64_MAX;
    if (msglen)
        msg[0] = '\0';
    int64_t ms;
    if (from && *from) {
        if (parse_day("from", from, out->from, &ms, msg, msglen))
            return CT_EINVAL;
        out->from_day = ct_clock_uk_day(ms); /* UTC midnight: that UK day */
        out->from_ms = ct_clock_uk_midnight(out->from_day);
    }
    if (to && *to) {
        if (parse_day("to", to, out->to, &ms, msg, msglen))
            return CT_EINVAL;
        out->to_day = ct_clock_uk_day(ms);
        out->to_ms = ct_clock_uk_midnight(out->to_day + 1);
    }
    if (out->from[0] && out->to[0] && strcmp(out->from, out->to) > 0) {
        snprintf(msg, msglen, "from (%s) is after to (%s)", out->from,
                 out->to);
        return CT_EINVAL;
    }
    return 0;
}

/* ---- delays ------------------------------------------------------------ */

typedef struct figures {
    int64_t referrals, delayed, days, max_days;
    int64_t discharged, on_ready, in_hospital, delayed_in_hospital;
} figures;

typedef struct group {
    char key[CT_CAP_ID_MAX];
    char text[CT_DELAY_TEXT_MAX + 1]; /* a reason's label, "" if none */
    figures f;
} group;

typedef struct groups {
    group *items;
    size_t n, cap;
} groups;

static group *group_find(groups *g, const char *key)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->items[i].key, key) == 0)
            return &g->items[i];
    if (ct_grow(&g->items, &g->cap, g->n, sizeof *g->items, 16))
        return NULL;
    group *it = &g->items[g->n++];
    memset(it, 0, sizeof *it);
    snprintf(it->key, sizeof it->key, "%s", key);
    return it;
}

static void count(figures *f, int64_t days, bool discharged, bool cancelled)
{
    f->referrals++;
    f->days += days;
    if (days > 0)
        f->delayed++;
    if (days > f->max_days)
        f->max_days = days;
    if (discharged) {
        f->discharged++;
        if (days == 0)
            f->on_ready++;
    } else if (!cancelled) {
        f->in_hospital++;
        if (days > 0)
            f->delayed_in_hospital++;
    }
}

static json_t *ratio_or_null(int64_t a, int64_t b)
{
    return b > 0 ? json_real((double)a / (double)b) : json_null();
}

static json_t *figures_json(const figures *f)
{
    return json_pack("{s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:o, s:I, s:I}",
                     "referrals", (json_int_t)f->referrals, "delayed",
                     (json_int_t)f->delayed, "bed_days_lost",
                     (json_int_t)f->days, "mean_delay_days",
                     ratio_or_null(f->days, f->delayed), "max_delay_days",
                     (json_int_t)f->max_days, "discharged",
                     (json_int_t)f->discharged, "discharged_on_ready_date",
                     (json_int_t)f->on_ready, "share_on_ready_date",
                     ratio_or_null(f->on_ready, f->discharged),
                     "in_hospital", (json_int_t)f->in_hospital,
                     "delayed_in_hospital",
                     (json_int_t)f->delayed_in_hospital);
}

static int by_loss(const void *a, const void *b)
{
    const group *x = a, *y = b;
    if (x->f.days != y->f.days)
        return x->f.days > y->f.days ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* A person's name for a group key. */
static json_t *group_name(ct_capacity *c, ct_report_by by, const group *gr,
                          ct_cap_error *err)
{
    const char *key = gr->key;
    static const char *const none[] = {"No responsible organisation recorded",
                                       "No delay reason recorded",
                                       "No pathway decided"};
    if (strcmp(key, "none") == 0)
        return json_string(none[by]);
    if (by == CT_REPORT_BY_REASON) /* the label the reason list gave */
        return json_string(gr->text[0] ? gr->text : key);
    if (by == CT_REPORT_BY_PATHWAY)
        return json_string(key);
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_ORG_NAME, err);
    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    json_t *name = sqlite3_step(st) == SQLITE_ROW && ct_report__col(st, 0)
                       ? json_string(ct_report__col(st, 0))
                       : json_string(key);
    sqlite3_reset(st);
    return name;
}

/* One referral's delay days by group key (an organisation or a reason):
 * the spans of its episodes, summed per key. */
typedef struct shares {
    groups g;
    ct_report_by by;
} shares;

static int add_span(void *ud, const ct_delay_span *sp)
{
    shares *s = ud;
    const char *key = s->by == CT_REPORT_BY_REASON ? sp->reason : sp->org;
    group *it = group_find(&s->g, key && *key ? key : "none");
    if (!it)
        return CT_ENOMEM;
    if (s->by == CT_REPORT_BY_REASON && sp->reason_text)
        snprintf(it->text, sizeof it->text, "%s", sp->reason_text);
    it->f.days += sp->to_day - sp->from_day;
    return 0;
}

/*
 * Counts one referral into total and its groups. By pathway the referral
 * is one group; by organisation or reason its delay days go to the
 * episodes that cover them (delay.h), so a person counts in each group
 * that has some of their days and the bed-days sum to the total. A
 * referral with no delay day counts under its current reason or
 * organisation.
 */
static int count_referral(ct_capacity *c, sqlite3_stmt *st, ct_report_by by,
                          int64_t now, figures *total, groups *g,
                          shares *sh, ct_cap_error *err)
{
    int state = ct_referral_state_parse(ct_report__col(st, 1));
    int64_t discharged_at = sqlite3_column_int64(st, 2);
    int64_t end = ct_referral_wait_end(
        state < 0 ? CT_REFERRAL_RECEIVED : (ct_referral_state)state,
        discharged_at, sqlite3_column_int64(st, 3), now);
    int64_t days = ct_referral_delay_days(ct_report__col(st, 0), end);
    if (days < 0)
        days = 0;
    bool discharged = discharged_at != 0;
    bool cancelled = state == CT_REFERRAL_CANCELLED;
    count(total, days, discharged, cancelled);
    sh->g.n = 0;
    sh->by = by;
    int rc = 0;
    if (by != CT_REPORT_BY_PATHWAY && days > 0) {
        int64_t ready = ct_delay_day(ct_report__col(st, 0));
        rc = ct_delay_spans(c, sqlite3_column_int64(st, 7), ready,
                            ready + days, add_span, sh, err);
        if (rc == CT_ENOMEM)
            return ct_area__fail(err, CT_ENOMEM, "out of memory");
        if (rc)
            return rc;
    }
    if (sh->g.n == 0) {
        /* Columns 4, 5 and 6: reason, responsible_org, pathway. */
        static const int key_col[] = {5, 4, 6};
        const char *key = ct_report__col(st, key_col[by]);
        group *it = group_find(&sh->g, key && *key ? key : "none");
        if (!it)
            return ct_area__fail(err, CT_ENOMEM, "out of memory");
        it->f.days = days;
    }
    for (size_t i = 0; i < sh->g.n; i++) {
        const group *one = &sh->g.items[i];
        group *it = group_find(g, one->key);
        if (!it)
            return ct_area__fail(err, CT_ENOMEM, "out of memory");
        if (one->text[0])
            memcpy(it->text, one->text, sizeof it->text);
        count(&it->f, one->f.days, discharged, cancelled);
    }
    return 0;
}

static int delays_read(ct_capacity *c, const ct_report_period *p,
                       ct_report_by by, int64_t now, figures *total,
                       groups *g, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_DELAYS, err);
    if (!st)
        return CT_ESTORE;
    if (p->from[0])
        sqlite3_bind_text(st, 1, p->from, -1, SQLITE_STATIC);
    if (p->to[0])
        sqlite3_bind_text(st, 2, p->to, -1, SQLITE_STATIC);
    shares sh = {0};
    int rc, crc = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW &&
           !(crc = count_referral(c, st, by, now, total, g, &sh, err)))
        ;
    sqlite3_reset(st);
    free(sh.g.items);
    if (crc)
        return crc;
    return rc == SQLITE_DONE
               ? 0
               : ct_area__dberr(c, err, rc, "reading delays");
}

int ct_report_delays_json(ct_capacity *c, const ct_report_period *p,
                          ct_report_by by, json_t **out, ct_cap_error *err)
{
    *out = NULL;
    if ((unsigned)by >= CT_REPORT_BY__COUNT)
        return ct_area__fail(err, CT_EINVAL, "unknown grouping %d", by);
    int64_t now = ct_clock_now(ct_capacity_clock(c));
    figures total = {0};
    groups g = {0};
    int rc = delays_read(c, p, by, now, &total, &g, err);
    if (rc)
        goto done;
    if (g.n) /* qsort wants a non-NULL array even when empty */
        qsort(g.items, g.n, sizeof *g.items, by_loss);
    json_t *list = json_array();
    for (size_t i = 0; list && i < g.n; i++) {
        json_t *o = figures_json(&g.items[i].f);
        json_t *name = group_name(c, by, &g.items[i], err);
        if (!o || !name ||
            json_object_set_new(o, "key", json_string(g.items[i].key)) ||
            json_object_set_new(o, "name", name) ||
            json_array_append_new(list, o)) {
            json_decref(o);
            json_decref(list);
            list = NULL;
        }
    }
    if (list)
        *out = json_pack("{s:s, s:I, s:o, s:s, s:o, s:o}", "report",
                         "delays", "at", (json_int_t)now, "period",
                         ct_report__period_json(p), "by",
                         ct_report_by_name(by), "totals",
                         figures_json(&total), "groups", list);
    if (!*out) /* a failed name lookup has filled err already */
        rc = err && err->code ? err->code
                              : ct_area__fail(err, CT_ENOMEM,
                                              "out of memory");
done:
    free(g.items);
    return rc;
}

/* ---- escalation -------------------------------------------------------- */

/* The name of an action as plugins wrote it: a string, or an object's
 * action, kind, type or name member, else its JSON text. */
static char *action_label(const json_t *a)
{
    if (json_is_string(a))
        return ct_strdup(json_string_value(a));
    static const char *const keys[] = {"action", "kind", "type", "name"};
    for (size_t i = 0; json_is_object(a) && i < CT_ARRAY_LEN(keys); i++) {
        const char *s = json_string_value(json_object_get(a, keys[i]));
        if (s)
            return ct_strdup(s);
    }
    return json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* Counts each action of a change (entries {plugin, action} or bare). */
static int tally_actions(json_t *tally, const json_t *actions)
{
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a)
    {
        const json_t *what = json_object_get(a, "action");
        const char *plugin = json_string_value(json_object_get(a, "plugin"));
        char *label = action_label(what && json_is_object(a) ? what : a);
        if (!label)
            return CT_ENOMEM;
        json_t *found = NULL, *e;
        size_t j;
        json_array_foreach(tally, j, e)
        {
            const char *p = json_string_value(json_object_get(e, "plugin"));
            if (strcmp(json_string_value(json_object_get(e, "action")),
                       label) == 0 &&
                ((!p && !plugin) || (p && plugin && strcmp(p, plugin) == 0)))
                found = e;
        }
        int rc = 0;
        if (found) {
            json_t *n = json_object_get(found, "count");
            json_integer_set(n, json_integer_value(n) + 1);
        } else if (json_array_append_new(
                       tally, json_pack("{s:s, s:o, s:i}", "action", label,
                                        "plugin",
                                        plugin ? json_string(plugin)
                                               : json_null(),
                                        "count", 1))) {
            rc = CT_ENOMEM;
        }
        free(label);
        if (rc)
            return rc;
    }
    return 0;
}

int ct_report__first_event(ct_capacity *c, int64_t *at, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_FIRST_EVENT, err);
    if (!st)
        return CT_ESTORE;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *at = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0
                            : ct_area__dberr(c, err, rc,
                                             "reading the first event");
}

int ct_report__span(ct_capacity *c, const ct_report_period *p,
                    int64_t default_ms, int64_t *start, int64_t *end,
                    ct_cap_error *err)
{
    int64_t now = ct_clock_now(ct_capacity_clock(c));
    *end = p->to_ms < now ? p->to_ms : now;
    if (p->from_ms != INT64_MIN) {
        *start = p->from_ms;
    } else if (default_ms > 0) {
        *start = *end - default_ms;
    } else {
        *start = *end;
        int rc = ct_report__first_event(c, start, err);
        if (rc)
            return rc;
    }
    if (*start > *end)
        *start = *end; /* a period in the future: nothing yet */
    return 0;
}

typedef struct esc_walk {
    int64_t start, end;
    int64_t at_level[CT_REPORT__LEVELS + 1];
    int level;        /* the level in force */
    int64_t since_ms; /* since when */
    int level_at_start;
    json_t *changes, *tally;
    json_t *current; /* the newest change, borrowed from changes or NULL */
    int64_t cur_at;
    int cur_level;
    char *cur_reason; /* owned */
} esc_walk;

/* Credits the level in force from w->since_ms up to t, clipped to the
 * period. */
static void credit(esc_walk *w, int64_t t)
{
    int64_t a = w->since_ms > w->start ? w->since_ms : w->start;
    int64_t b = t < w->end ? t : w->end;
    if (b > a)
        w->at_level[w->level] += b - a;
}

static int esc_row(esc_walk *w, sqlite3_stmt *st)
{
    int64_t seq = sqlite3_column_int64(st, 0);
    int64_t at = sqlite3_column_int64(st, 1);
    int level = sqlite3_column_int(st, 2);
    const char *reason = ct_report__col(st, 3);
    if (level < 1 || level > CT_REPORT__LEVELS)
        return 0; /* the schema's CHECK forbids it; never count it */
    credit(w, at);
    int from = w->level;
    w->level = level;
    w->since_ms = at;
    if (at <= w->start)
        w->level_at_start = level;
    free(w->cur_reason);
    w->cur_reason = ct_strdup(reason ? reason : "");
    w->cur_at = at;
    w->cur_level = level;
    if (at <= w->start)
        return 0;
    json_t *actions = json_loads(ct_report__col(st, 4)
                                     ? ct_report__col(st, 4)
                                     : "[]",
                                 JSON_DECODE_ANY, NULL);
    if (!json_is_array(actions)) {
        json_decref(actions);
        actions = json_array();
    }
    if (tally_actions(w->tally, actions)) {
        json_decref(actions);
        return CT_ENOMEM;
    }
    return json_array_append_new(
               w->changes,
               json_pack("{s:I, s:I, s:i, s:i, s:s, s:o}", "seq",
                         (json_int_t)seq, "at", (json_int_t)at, "from", from,
                         "to", level, "reason", reason ? reason : "",
                         "actions", actions))
               ? CT_ENOMEM
               : 0;
}

static json_t *levels_json(const esc_walk *w)
{
    json_t *list = json_array();
    int64_t span = w->end - w->start;
    for (int l = 1; list && l <= CT_REPORT__LEVELS; l++)
        if (json_array_append_new(
                list,
                json_pack("{s:i, s:I, s:f, s:o}", "level", l, "ms",
                          (json_int_t)w->at_level[l], "hours",
                          (double)w->at_level[l] / 3600000.0, "share",
                          ratio_or_null(w->at_level[l], span)))) {
            json_decref(list);
            return NULL;
        }
    return list;
}

int ct_report_escalation_json(ct_capacity *c, const ct_report_period *p,
                              json_t **out, ct_cap_error *err)
{
    *out = NULL;
    esc_walk w = {.level = 1, .level_at_start = 1, .cur_level = 1,
                  .since_ms = INT64_MIN};
    int rc = ct_report__span(c, p, 0, &w.start, &w.end, err);
    if (rc)
        return rc;
    w.changes = json_array();
    w.tally = json_array();
    if (!w.changes || !w.tally) {
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
        goto done;
    }
    int64_t now = ct_clock_now(ct_capacity_clock(c));
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_ESCALATIONS, err);
    if (!st) {
        rc = CT_ESTORE;
        goto done;
    }
    /* Every change up to now: the current level is the newest even when
     * the period ended before it. */
    sqlite3_bind_int64(st, 1, now == INT64_MAX ? now : now + 1);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int64(st, 1) >= w.end) {
            /* After the period: only the current level. */
            free(w.cur_reason);
            const char *r = ct_report__col(st, 3);
            w.cur_reason = ct_strdup(r ? r : "");
            w.cur_at = sqlite3_column_int64(st, 1);
            w.cur_level = sqlite3_column_int(st, 2);
            continue;
        }
        if ((rc = esc_row(&w, st)))
            break;
    }
    sqlite3_reset(st);
    if (rc) {
        rc = ct_area__fail(err, rc, "out of memory");
        goto done;
    }
    if (step != SQLITE_DONE) {
        rc = ct_area__dberr(c, err, step, "reading escalations");
        goto done;
    }
    credit(&w, w.end);
    json_t *levels = levels_json(&w);
    json_t *period = ct_report__period_json(p);
    if (period) {
        json_object_set_new(period, "start", json_integer(w.start));
        json_object_set_new(period, "end", json_integer(w.end));
    }
    *out = json_pack(
        "{s:s, s:I, s:o, s:{s:i, s:o, s:o}, s:i, s:o, s:O, s:O}", "report",
        "escalation", "at", (json_int_t)now, "period", period, "current",
        "level", w.cur_level, "since",
        w.cur_at ? json_integer(w.cur_at) : json_null(), "reason",
        w.cur_reason ? json_string(w.cur_reason) : json_null(),
        "level_at_start", w.level_at_start, "levels", levels, "changes",
        w.changes, "actions", w.tally);
    if (!*out)
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
done:
    json_decref(w.changes);
    json_decref(w.tally);
    free(w.cur_reason);
    return rc;
}

/* ---- decisions --------------------------------------------------------- */

/* One referral's decision as the decisions report lists it. */
static json_t *decision_json(sqlite3_stmt *st, void *unused)
{
    (void)unused;
    const char *pathway = ct_report__col(st, 5);
    json_t *decision =
        json_loads(ct_report__col(st, 6), JSON_DECODE_ANY, NULL);
    return json_pack(
        "{s:I, s:s, s:s, s:s, s:I, s:o, s:o}", "referral",
        (json_int_t)sqlite3_column_int64(st, 0), "state",
        ct_report__col(st, 1), "from_org", ct_report__col(st, 2),
        "ready_date", ct_report__col(st, 3), "created_at",
        (json_int_t)sqlite3_column_int64(st, 4), "pathway",
        pathway ? json_string(pathway) : json_null(), "decision",
        decision ? decision : json_null());
}

int ct_report_decisions_json(ct_capacity *c, int limit, json_t **out,
                             ct_cap_error *err)
{
    *out = NULL;
    if (limit < 1 || limit > 100)
        return ct_area__fail(err, CT_EINVAL,
                             "limit must be from 1 to 100, not %d",
                             limit);
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_DECISIONS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int(st, 1, limit);
    json_t *list;
    int rc = ct_store_json_rows(st, decision_json, NULL, &list);
    if (rc) {
        return rc == SQLITE_NOMEM
                   ? ct_area__fail(err, CT_ENOMEM, "out of memory")
                   : ct_area__dberr(c, err, rc, "reading decisions");
    }
    *out = json_pack("{s:s, s:I, s:o}", "report", "decisions", "at",
                     (json_int_t)ct_clock_now(ct_capacity_clock(c)),
                     "decisions", list);
    return *out ? 0 : ct_area__fail(err, CT_ENOMEM, "out of memory");
}
