/*
 * The waiting list (capacity_waitlist.h): its order in SQL, and the re-match
 * round's state beside the capacity handle, kept honest across rollbacks.
 */
#include "capacity_waitlist.h"

#include "capacity_int.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

/* Below every priority's negation: the top of the list. */
#define TOP_PRIORITY (-(int64_t)2000000000)

struct ct_wait {
    ct_capacity *c;
    unsigned pending; /* marks not yet taken by a round */
    unsigned round;   /* the running round's bits; 0: none */
    /* The round's position: the key of the last entry passed. */
    int64_t at_neg_priority;
    char at_ready[11];
    int64_t at_id;
    /* The plugins' order (capacity_waitlist.h), owned; NULL: the host's.
     * at_index is the round's position in it; want_order says a round
     * started from the top and has not been given one yet. */
    int64_t *order;
    size_t norder, at_index;
    bool want_order;
    /* Moves with every change to the state above, so that a rollback past
     * one (the store watcher) can tell and mark the list again. */
    uint64_t gen;
};

/* The waiting list's state, in the area handle's CT_AREA_WAITLIST slot. */
static struct ct_wait *wait_of(const ct_capacity *c)
{
    return ct_area__slot(c, CT_AREA_WAITLIST);
}

/* Events that may let a waiting referral fit, and those that may change
 * every answer (capacity_waitlist.h). */
static const char *const capacity_kinds[] = {
    "bed.unblocked",     "hold.expired",        "hold.released",
    "hold.declined",     "referral.completed",  "referral.cancelled",
    "surge.opened",      "zone.opened",         "zone.cohort_set",
    "isolation.ended",   "infection.updated",   "referral.ready_date_set",
    "referral.updated",  "resident.left",
};
static const char *const policy_kinds[] = {
    "escalation.changed", "policy.published", "policy.changed",
};

static void tap(const char *kind, void *data)
{
    ct_capacity *c = data;
    for (size_t i = 0; i < CT_ARRAY_LEN(policy_kinds); i++)
        if (strcmp(kind, policy_kinds[i]) == 0) {
            ct_capacity_waitlist_mark(c, CT_WAITLIST_CAPACITY | CT_WAITLIST_POLICY);
            return;
        }
    for (size_t i = 0; i < CT_ARRAY_LEN(capacity_kinds); i++)
        if (strcmp(kind, capacity_kinds[i]) == 0) {
            ct_capacity_waitlist_mark(c, CT_WAITLIST_CAPACITY);
            return;
        }
}

static void to_top(struct ct_wait *w)
{
    w->at_neg_priority = TOP_PRIORITY;
    w->at_ready[0] = '\0';
    w->at_id = 0;
    w->at_index = 0;
    w->want_order = true;
}

/* The store watcher: a rollback past a change to the round's state (a
 * batch of decisions undone) makes the whole list due again. */
static size_t on_mark(void *data)
{
    struct ct_wait *w = data;
    return (size_t)w->gen;
}

static void on_undo(void *data, size_t mark, bool whole)
{
    (void)whole;
    struct ct_wait *w = data;
    if ((size_t)w->gen != mark)
        ct_capacity_waitlist_mark(w->c, CT_WAITLIST_CAPACITY | CT_WAITLIST_POLICY);
}

static void on_committed(void *data) { (void)data; }

static const ct_store_watcher watcher = {on_mark, on_undo, on_committed};

int ct_capacity_waitlist__new(ct_capacity *c)
{
    struct ct_wait *w = calloc(1, sizeof *w);
    if (!w)
        return CT_ENOMEM;
    w->c = c;
    to_top(w);
    int rc = ct_store_watch(ct_area_store(c), &watcher, w);
    if (rc) {
        free(w);
        return rc;
    }
    ct_area__set_slot(c, CT_AREA_WAITLIST, w);
    /* Whatever waits in the store was matched by whoever ran before; a
     * start (or a restart after a crash mid-round) looks again. */
    w->pending = CT_WAITLIST_CAPACITY;
    ct_events_set_tap(ct_area_events(c), tap, c);
    return 0;
}

void ct_capacity_waitlist__free(ct_capacity *c)
{
    struct ct_wait *w = wait_of(c);
    if (!w)
        return;
    ct_events_set_tap(ct_area_events(c), NULL, NULL);
    ct_store_unwatch(ct_area_store(c), &watcher, w);
    free(w->order);
    free(w);
    ct_area__set_slot(c, CT_AREA_WAITLIST, NULL);
}

void ct_capacity_waitlist_mark(ct_capacity *c, unsigned why)
{
    struct ct_wait *w = wait_of(c);
    if (!w)
        return;
    w->pending |= why;
    w->gen++;
}

bool ct_capacity_waitlist_pending(ct_capacity *c)
{
    struct ct_wait *k = wait_of(c);
    return k && (k->pending || k->round);
}

int64_t ct_capacity_waitlist_next(ct_capacity *c)
{
    return ct_capacity_waitlist_pending(c) ? ct_clock_now(ct_area_clock(c))
                                           : INT64_MAX;
}

unsigned ct_capacity_waitlist_round(ct_capacity *c)
{
    struct ct_wait *w = wait_of(c);
    if (!w)
        return 0;
    if (w->pending) {
        /* A mark during a round: whatever freed may suit a referral the
         * round has passed, so it starts again from the top. */
        w->round |= w->pending;
        w->pending = 0;
        to_top(w);
        w->gen++;
    }
    return w->round;
}

bool ct_capacity_waitlist_wants_order(ct_capacity *c)
{
    struct ct_wait *k = wait_of(c);
    return k && k->round && k->want_order;
}

int ct_capacity_waitlist_set_order(ct_capacity *c, const int64_t *ids,
                                   size_t n)
{
    struct ct_wait *w = wait_of(c);
    int64_t *copy = NULL;
    if (n) {
        if (!(copy = malloc(n * sizeof *copy)))
            return CT_ENOMEM;
        memcpy(copy, ids, n * sizeof *copy);
    }
    free(w->order);
    w->order = copy;
    w->norder = n;
    w->at_index = 0;
    w->want_order = false;
    w->gen++;
    return 0;
}

void ct_capacity_waitlist_passed(ct_capacity *c, const ct_capacity_waitlist_entry *e)
{
    struct ct_wait *w = wait_of(c);
    w->at_index = e->index + 1;
    w->at_neg_priority = -(int64_t)e->priority;
    memcpy(w->at_ready, e->ready_date, sizeof w->at_ready);
    w->at_id = e->id;
    w->gen++;
}

void ct_capacity_waitlist_round_done(ct_capacity *c)
{
    struct ct_wait *w = wait_of(c);
    w->round = 0;
    to_top(w);
    w->gen++;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

static unsigned kinds_of(const char *text)
{
    unsigned k = 0;
    json_t *a = *text ? json_loads(text, 0, NULL) : NULL;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        int kind = ct_facility_kind_parse(json_string_value(v));
        if (kind >= 0)
            k |= 1u << kind;
    }
    json_decref(a);
    return k;
}

static void read_entry(sqlite3_stmt *st, ct_capacity_waitlist_entry *e)
{
    memset(e, 0, sizeof *e);
    e->id = sqlite3_column_int64(st, 0);
    e->priority = sqlite3_column_int(st, 1);
    ct_copy_str(e->ready_date, sizeof e->ready_date, col_text(st, 2));
    e->pathway = sqlite3_column_type(st, 3) == SQLITE_NULL
                     ? -1
                     : ct_pathway_parse(col_text(st, 3));
    const char *outcome = col_text(st, 4);
    e->decided = *outcome != '\0';
    e->manual = strcmp(outcome, "manual_review") == 0;
    e->deferred = sqlite3_column_int(st, 5) != 0;
    e->kinds = kinds_of(col_text(st, 6));
}

/* The entries of the plugins' order from the round's position on, skipping
 * referrals that no longer wait. */
static int ordered_entries(ct_capacity *c, ct_capacity_waitlist_entry *out,
                           size_t max, size_t *n, ct_cap_error *err)
{
    struct ct_wait *w = wait_of(c);
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_WAIT_ONE, err);
    if (!st)
        return CT_ESTORE;
    for (size_t i = w->at_index; i < w->norder && *n < max; i++) {
        sqlite3_bind_int64(st, 1, w->order[i]);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            read_entry(st, &out[*n]);
            out[(*n)++].index = i;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return ct_area__dberr(c, err, rc, "reading the waiting list");
    }
    return 0;
}

int ct_capacity_waitlist_entries(ct_capacity *c, ct_capacity_waitlist_entry *out, size_t max,
                        size_t *n, ct_cap_error *err)
{
    *n = 0;
    struct ct_wait *w = wait_of(c);
    if (w->order)
        return ordered_entries(c, out, max, n, err);
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_WAIT_AFTER, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, w->at_neg_priority);
    sqlite3_bind_text(st, 2, w->at_ready, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, w->at_id);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
    int rc;
    while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
        read_entry(st, &out[(*n)++]);
    if (*n < max && rc != SQLITE_DONE) {
        sqlite3_reset(st);
        return ct_area__dberr(c, err, rc, "reading the waiting list");
    }
    sqlite3_reset(st);
    return 0;
}

static json_t *text_or_null(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL
               ? json_null()
               : json_string(col_text(st, i));
}

/* A JSON column (an array or object) as a value; null when absent. */
static json_t *json_col(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return json_null();
    json_t *v = json_loads(col_text(st, i), 0, NULL);
    return v ? v : json_null();
}

/* UK days from the ready date to today, none before it. */
static int64_t days_past(const char *ready, int64_t today)
{
    int64_t ms;
    if (ct_clock_parse(ready, &ms))
        return 0;
    int64_t d = today - ms / 86400000;
    return d > 0 ? d : 0;
}

static json_t *entry_json(sqlite3_stmt *st, int64_t today)
{
    return json_pack(
        "{s:I, s:I, s:s, s:i, s:s, s:I, s:o, s:o, s:o, s:b, s:I, s:o,"
        " s:o, s:s, s:o, s:o, s:o}",
        "id", (json_int_t)sqlite3_column_int64(st, 0), "position",
        (json_int_t)sqlite3_column_int64(st, 1), "from_org", col_text(st, 6),
        "priority", sqlite3_column_int(st, 2), "ready_date", col_text(st, 3),
        "days_past_ready", (json_int_t)days_past(col_text(st, 3), today),
        "requested_pathway", text_or_null(st, 4), "pathway",
        text_or_null(st, 5), "outcome", text_or_null(st, 9), "deferred",
        sqlite3_column_int(st, 10) != 0, "updated_at",
        (json_int_t)sqlite3_column_int64(st, 13), "delay_reason",
        text_or_null(st, 14), "responsible_org", text_or_null(st, 15),
        "nhs_number", col_text(st, 7), "needs", json_col(st, 8), "reasons",
        json_col(st, 12), "why", json_col(st, 11));
}

typedef struct ranked {
    int64_t rank;
    json_t *e;
} ranked;

static int by_rank(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

/* Reads the page's rows (or, for the plugins' order, every row) into
 * *items, positioned in the host's order. */
static int read_rows(ct_capacity *c, const char *org, int64_t after,
                     int64_t limit, ranked **items, size_t *n,
                     ct_cap_error *err)
{
    *items = NULL;
    *n = 0;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_WAIT_PAGE, err);
    if (!st)
        return CT_ESTORE;
    if (org)
        sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int64(st, 3, limit);
    int64_t today = ct_clock_uk_day(ct_clock_now(ct_area_clock(c)));
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (ct_grow(items, &cap, *n, sizeof **items, 64))
            break;
        json_t *o = entry_json(st, today);
        if (!o)
            break;
        (*items)[(*n)++] = (ranked){sqlite3_column_int64(st, 1), o};
    }
    sqlite3_bind_null(st, 1);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    for (size_t i = 0; i < *n; i++)
        json_decref((*items)[i].e);
    free(*items);
    *items = NULL;
    *n = 0;
    return rc == SQLITE_ROW
               ? ct_area__fail(err, CT_ENOMEM, "out of memory")
               : ct_area__dberr(c, err, rc, "reading the waiting list");
}

/* Ranks items by the plugins' order (the ones it does not name after it,
 * in the host's order) and sorts them. */
static void plugin_rank(const struct ct_wait *w, ranked *items, size_t n)
{
    json_t *at = json_object();
    char key[24];
    for (size_t i = 0; at && i < w->norder; i++) {
        snprintf(key, sizeof key, "%lld", (long long)w->order[i]);
        json_object_set_new(at, key, json_integer((json_int_t)i));
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%lld",
                 (long long)json_integer_value(
                     json_object_get(items[i].e, "id")));
        json_t *v = json_object_get(at, key);
        items[i].rank = v ? json_integer_value(v)
                          : (int64_t)w->norder + items[i].rank;
    }
    json_decref(at);
    qsort(items, n, sizeof *items, by_rank);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(items[i].e, "position",
                            json_integer((json_int_t)i + 1));
}

int ct_capacity_waitlist_json(ct_capacity *c, const ct_waitlist_query *q,
                              json_t **out, ct_cap_error *err)
{
    *out = NULL;
    if (!q->all && (q->limit < 1 || q->limit > 1000))
        return ct_area__fail(err, CT_EINVAL,
                             "limit must be from 1 to 1000");
    struct ct_wait *w = wait_of(c);
    bool plugins = w && w->order && !q->host_order;
    ranked *items = NULL;
    size_t n = 0;
    /* The host's order pages in SQL; the plugins' is sorted here. */
    int rc = plugins ? read_rows(c, NULL, 0, -1, &items, &n, err)
                     : read_rows(c, q->from_org, q->after,
                                 q->all ? -1 : q->limit, &items, &n, err);
    if (rc)
        return rc;
    int64_t total = 0;
    if (plugins) {
        plugin_rank(w, items, n);
        total = (int64_t)n;
    } else {
        sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_WAIT_COUNT, err);
        if (!st || (rc = sqlite3_step(st)) != SQLITE_ROW) {
            if (st)
                sqlite3_reset(st);
            for (size_t i = 0; i < n; i++)
                json_decref(items[i].e);
            free(items);
            return st ? ct_area__dberr(c, err, rc,
                                       "counting the waiting list")
                      : CT_ESTORE;
        }
        total = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    json_t *a = json_array();
    int64_t last = 0;
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = items[i].e;
        int64_t pos = json_integer_value(json_object_get(e, "position"));
        const char *org = json_string_value(json_object_get(e, "from_org"));
        bool keep = !plugins || ((!q->from_org || strcmp(org, q->from_org) == 0) &&
                                 pos > q->after &&
                                 (q->all || shown < (size_t)q->limit));
        if (keep && a && json_array_append(a, e) == 0) {
            shown++;
            last = pos;
        }
        json_decref(e);
    }
    free(items);
    bool full = !q->all && shown == (size_t)q->limit && last < total;
    *out = a ? json_pack("{s:o, s:I, s:o}", "waiting", a, "total",
                         (json_int_t)total, "next",
                         full ? json_integer(last) : json_null())
             : NULL;
    return *out ? 0 : ct_area__fail(err, CT_ENOMEM, "out of memory");
}

int ct_capacity_waitlist_any(ct_capacity *c, bool *any, ct_cap_error *err)
{
    *any = false;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_WAIT_ANY, err);
    if (!st)
        return CT_ESTORE;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        *any = true;
    else if (rc != SQLITE_DONE)
        return ct_area__dberr(c, err, rc, "reading the waiting list");
    return 0;
}
