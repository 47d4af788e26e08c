/*
 * Daily snapshots (report.h): once a UK day has ended the host keeps its
 * figures of the daily report, in the long form of the report's CSV (day,
 * figure, group, key, name, value; migration 12), so the wall's series
 * show what was known at each day's end and survive restarts. The rows
 * are never rewritten: a delay recorded afterwards for an earlier day
 * changes the delays report (a cohort's bed-days) but not the day's
 * snapshot. Days without one (before the first snapshot, or while the
 * daemon was down at the day's end) are rebuilt from the stored rows, and
 * the report says which is which.
 */
#include "report.h"

#include "area.h"
#include "capacity.h"
#include "log.h"
#include "clock.h"
#include "error.h"
#include "events.h"
#include "report_int.h"

#include <string.h>

static int has_snapshot(ct_capacity *c, const char *day, bool *has,
                        ct_cap_error *err)
{
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_SNAP_HAS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    *has = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? 0
               : ct_area__dberr(c, err, rc, "reading snapshots");
}

typedef struct put {
    ct_capacity *c;
    sqlite3_stmt *st;
    ct_cap_error *err;
    int64_t rows;
} put;

static int put_row(void *ud, const char *day, const char *figure,
                   const char *group, const char *key, const char *name,
                   const json_t *v)
{
    put *p = ud;
    sqlite3_stmt *st = p->st;
    sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, figure, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, group, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, name ? name : "", -1, SQLITE_STATIC);
    if (json_is_integer(v))
        sqlite3_bind_int64(st, 6, json_integer_value(v));
    else if (json_is_real(v))
        sqlite3_bind_double(st, 6, json_real_value(v));
    else
        sqlite3_bind_null(st, 6);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ct_area__dberr(p->c, p->err, rc, "keeping a snapshot");
    p->rows++;
    return 0;
}

int ct_report_snapshot_take(ct_capacity *c, int64_t day, bool *taken,
                            ct_cap_error *err)
{
    if (taken)
        *taken = false;
    int64_t now = ct_clock_now(ct_capacity_clock(c));
    if (ct_clock_uk_midnight(day + 1) > now)
        return ct_area__fail(err, CT_EINVAL,
                             "a day has a snapshot only once it has "
                             "ended");
    char text[11];
    ct_clock_day_text(day, text);
    json_t *rep = NULL;
    int rc = ct_area__begin(c, err);
    if (rc)
        return rc;
    bool has = false;
    if ((rc = has_snapshot(c, text, &has, err)) || has)
        goto done;
    if ((rc = ct_report__daily_build(c, day, day, &rep, err)))
        goto done;
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_SNAP_DAY, err);
    if (!st) {
        rc = CT_ESTORE;
        goto done;
    }
    /* The day's row first (the rows refer to it), its count after. */
    sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, 0);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        rc = ct_area__dberr(c, err, step, "keeping a snapshot");
        goto done;
    }
    put p = {c, ct_report__stmt(c, CT_STMT_REP_SNAP_ROW, err), err, 0};
    if (!p.st) {
        rc = CT_ESTORE;
        goto done;
    }
    if ((rc = ct_report__daily_walk(rep, 0, put_row, &p)))
        goto done;
    /* Audited, never delivered: plugins have nothing to do with it. */
    rc = ct_events_record(ct_capacity_events(c), "host", "report.snapshot",
                          json_pack("{s:s, s:I}", "day", text, "rows",
                                    (json_int_t)p.rows),
                          CT_EVENT_QUIET, NULL, NULL);
    if (rc)
        ct_area__fail(err, rc, "cannot audit the snapshot: %s",
                      ct_strerror(rc));
    else if (taken)
        *taken = true;
done:
    json_decref(rep);
    return ct_area__finish(c, rc, err);
}

/* The first UK day the area has data for, or INT64_MAX when none yet. */
static int64_t first_day(ct_capacity *c)
{
    ct_cap_error err = {0};
    int64_t at = INT64_MAX;
    if (ct_report__first_event(c, &at, &err) || at == INT64_MAX)
        return INT64_MAX;
    return ct_clock_uk_day(at);
}

/* Yesterday, when the area existed then and it has no snapshot yet. */
static bool yesterday_missing(ct_capacity *c, int64_t *day)
{
    int64_t today = ct_clock_uk_day(ct_clock_now(ct_capacity_clock(c)));
    *day = today - 1;
    if (first_day(c) > *day)
        return false;
    char text[11];
    ct_clock_day_text(*day, text);
    ct_cap_error err = {0};
    bool has = true;
    return has_snapshot(c, text, &has, &err) == 0 && !has;
}

int64_t ct_report_snapshot_next(ct_capacity *c)
{
    int64_t now = ct_clock_now(ct_capacity_clock(c)), day;
    if (yesterday_missing(c, &day))
        return now;
    return ct_clock_uk_midnight(ct_clock_uk_day(now) + 1);
}

int ct_report_snapshot_due(ct_capacity *c)
{
    int64_t day;
    if (!yesterday_missing(c, &day))
        return 0;
    ct_cap_error err = {0};
    bool taken = false;
    int rc = ct_report_snapshot_take(c, day, &taken, &err);
    return rc ? rc : taken;
}

/* ---- reading ------------------------------------------------------------ */

/* The index of day text in the report's days, or -1. */
static int64_t day_index(const json_t *days, const char *text)
{
    size_t k;
    json_t *d;
    json_array_foreach(days, k, d)
        if (text && strcmp(json_string_value(d), text) == 0)
            return (int64_t)k;
    return -1;
}

/* The series object of key in section (created with n zeros, or for a
 * provider n zeros of each count and n nulls of the median). */
static json_t *series_for(json_t *section, const char *key, const char *name,
                          bool provider, size_t n)
{
    json_t *s = json_object_get(section, key);
    if (s)
        return s;
    static const char *const counts[] = {"confirmed", "expired", "declined"};
    s = json_pack("{s:s}", "name", name);
    for (size_t m = 0; s && m < (provider ? 4 : 1); m++) {
        json_t *a = json_array();
        for (size_t k = 0; a && k < n; k++)
            if (json_array_append_new(a, provider && m == 3
                                             ? json_null()
                                             : json_integer(0))) {
                json_decref(a);
                a = NULL;
            }
        const char *member = !provider ? "values"
                             : m < 3   ? counts[m]
                                       : "confirm_hours_median";
        if (!a || json_object_set_new(s, member, a)) {
            json_decref(s);
            s = NULL;
        }
    }
    if (!s || json_object_set_new(section, key, s))
        return NULL;
    return s;
}

/* Clears day k of every per-group series, before the snapshot's rows go
 * in: a group the rebuild has that day but the snapshot had not is 0. */
static void clear_day(json_t *rep, size_t k)
{
    static const char *const figs[] = {"delayed", "bed_days_lost"};
    static const char *const grps[] = {"by_org", "by_reason"};
    const char *key;
    json_t *s;
    for (size_t f = 0; f < 2; f++)
        for (size_t g = 0; g < 2; g++)
            json_object_foreach(json_object_get(json_object_get(rep, figs[f]),
                                                grps[g]),
                                key, s)
                json_array_set_new(json_object_get(s, "values"), k,
                                   json_integer(0));
    json_object_foreach(json_object_get(json_object_get(rep, "holds"),
                                        "by_provider"),
                        key, s)
    {
        json_array_set_new(json_object_get(s, "confirmed"), k,
                           json_integer(0));
        json_array_set_new(json_object_get(s, "expired"), k, json_integer(0));
        json_array_set_new(json_object_get(s, "declined"), k,
                           json_integer(0));
        json_array_set_new(json_object_get(s, "confirm_hours_median"), k,
                           json_null());
    }
}

static json_t *column_value(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    default:
        return json_null();
    }
}

/* Puts one snapshot row into day k of rep. Unknown figures (from a later
 * version) are left out. */
static int overlay_row(json_t *rep, size_t k, size_t n, const char *figure,
                       const char *group, const char *key, const char *name,
                       json_t *v)
{
    json_t *target = NULL;
    if (strcmp(figure, "delayed") == 0 ||
        strcmp(figure, "bed_days_lost") == 0) {
        json_t *fig = json_object_get(rep, figure);
        if (strcmp(group, "area") == 0) {
            target = json_object_get(fig, "total");
        } else {
            json_t *sec = json_object_get(
                fig, strcmp(group, "org") == 0 ? "by_org" : "by_reason");
            json_t *s = sec ? series_for(sec, key, name, false, n) : NULL;
            if (sec && !s)
                return CT_ENOMEM;
            target = json_object_get(s, "values");
        }
    } else {
        for (const ct_report__daily_figure *a = ct_report__daily_area;
             a->figure; a++) {
            if (strcmp(a->figure, figure) != 0)
                continue;
            if (strcmp(group, "provider") == 0) {
                json_t *sec = json_object_get(json_object_get(rep, "holds"),
                                              "by_provider");
                json_t *s = sec ? series_for(sec, key, name, true, n) : NULL;
                if (sec && !s)
                    return CT_ENOMEM;
                target = json_object_get(s, a->member);
            } else {
                target = json_object_get(json_object_get(rep, a->section),
                                         a->member);
            }
            break;
        }
    }
    if (json_is_array(target) && k < json_array_size(target))
        return json_array_set(target, k, v) ? CT_ENOMEM : 0;
    return 0;
}

int ct_report__snapshot_overlay(ct_capacity *c, json_t *rep, int64_t first,
                                int64_t today, ct_cap_error *err)
{
    json_t *days = json_object_get(rep, "days");
    size_t n = json_array_size(days);
    json_t *sources = json_array();
    for (size_t k = 0; sources && k < n; k++)
        if (json_array_append_new(
                sources, json_string(first + (int64_t)k >= today ? "live"
                                                                 : "rebuilt")))
            json_decref(sources), sources = NULL;
    if (!sources || json_object_set_new(rep, "sources", sources))
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    if (!n)
        return 0;
    char from[11], to[11];
    ct_clock_day_text(first, from);
    ct_clock_day_text(first + (int64_t)n - 1, to);
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_SNAP_DAYS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, from, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t k = day_index(days, ct_report__col(st, 0));
        if (k < 0)
            continue;
        clear_day(rep, (size_t)k);
        json_array_set_new(sources, (size_t)k, json_string("snapshot"));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ct_area__dberr(c, err, rc, "reading snapshots");
    if (!(st = ct_report__stmt(c, CT_STMT_REP_SNAP_ROWS, err)))
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, from, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_TRANSIENT);
    int orc = 0;
    while (!orc && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t k = day_index(days, ct_report__col(st, 0));
        json_t *v = column_value(st, 5);
        if (k >= 0 && v)
            orc = overlay_row(rep, (size_t)k, n, ct_report__col(st, 1),
                              ct_report__col(st, 2), ct_report__col(st, 3),
                              ct_report__col(st, 4), v);
        else if (!v)
            orc = CT_ENOMEM;
        json_decref(v);
    }
    sqlite3_reset(st);
    if (orc)
        return ct_area__fail(err, orc, "out of memory");
    return rc == SQLITE_DONE ? 0
                             : ct_area__dberr(c, err, rc,
                                              "reading snapshots");
}
