/*
 * Escalation level and history (escalation.h): one row per change in table
 * escalation, written with its audit event through the capacity change
 * wrapper.
 */
#include "escalation.h"

#include "area.h"
#include "capacity.h"
#include "error.h"
#include "log.h"
#include "store_json.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT "escalation"

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

static int db_error(ct_store *s, int rc, const char *what)
{
    ct_log_error(UNIT, "%s: %s", what, sqlite3_errmsg(ct_store__db(s)));
    int code = ct_err_from_sqlite(rc);
    return code ? code : CT_ESTORE;
}

int ct_escalation_current(ct_store *s, ct_escalation *out)
{
    memset(out, 0, sizeof *out);
    out->level = CT_ESCALATION_MIN;
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_ESC_CURRENT);
    if (!st)
        return CT_ESTORE;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->seq = sqlite3_column_int64(st, 0);
        out->at = sqlite3_column_int64(st, 1);
        out->level = sqlite3_column_int(st, 2);
        snprintf(out->reason, sizeof out->reason, "%s", col(st, 3));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(s, rc, "reading the escalation level");
    return 0;
}

/* The actions column as JSON (an empty array if it does not parse). */
static json_t *actions_of(sqlite3_stmt *st, int i)
{
    json_t *a = json_loads(col(st, i), JSON_DECODE_ANY, NULL);
    return a ? a : json_array();
}

/* One change of level as the history lists it. */
static json_t *change_json(sqlite3_stmt *st, void *unused)
{
    (void)unused;
    return json_pack("{s:I, s:I, s:i, s:s, s:o}", "seq",
                     (json_int_t)sqlite3_column_int64(st, 0), "at",
                     (json_int_t)sqlite3_column_int64(st, 1), "level",
                     sqlite3_column_int(st, 2), "reason", col(st, 3),
                     "actions", actions_of(st, 4));
}

int ct_escalation_history_json(ct_store *s, int64_t before_seq, int limit,
                               json_t **out)
{
    *out = NULL;
    if (limit < 1 || limit > 1000)
        return CT_EINVAL;
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_ESC_HISTORY);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, before_seq);
    sqlite3_bind_int(st, 2, limit);
    int rc = ct_store_json_rows(st, change_json, NULL, out);
    return rc ? db_error(s, rc, "reading the escalation history") : 0;
}

int ct_escalation_json(ct_store *s, int history_limit, json_t **out)
{
    *out = NULL;
    json_t *history;
    int err = ct_escalation_history_json(s, INT64_MAX, history_limit,
                                         &history);
    if (err)
        return err;
    /* The newest change is the current level: one read, no race between
     * the two. */
    json_t *cur = json_array_get(history, 0);
    json_t *o;
    if (cur)
        o = json_pack("{s:O, s:O, s:O, s:O, s:o}", "level",
                      json_object_get(cur, "level"), "since",
                      json_object_get(cur, "at"), "reason",
                      json_object_get(cur, "reason"), "actions",
                      json_object_get(cur, "actions"), "history", history);
    else
        o = json_pack("{s:i, s:n, s:n, s:[], s:o}", "level",
                      CT_ESCALATION_MIN, "since", "reason", "actions",
                      "history", history);
    if (!o)
        return CT_ENOMEM;
    *out = o;
    return 0;
}

int ct_escalation_record(ct_capacity *c, int level, const char *reason,
                         const json_t *actions, const char *actor,
                         bool *changed, ct_cap_error *err)
{
    if (changed)
        *changed = false;
    bool did = false;
    int rc;
    if (level < CT_ESCALATION_MIN || level > CT_ESCALATION_MAX)
        return ct_area__fail(err, CT_EINVAL,
                             "escalation level %d is not between %d and "
                             "%d",
                             level, CT_ESCALATION_MIN, CT_ESCALATION_MAX);
    if ((rc = ct_area__check_text("reason", reason,
                                  CT_ESCALATION_REASON_MAX, err)) ||
        (rc = ct_area__check_text("actor", actor, 200, err)))
        return rc;
    if (actions && !json_is_array(actions))
        return ct_area__fail(err, CT_EINVAL,
                             "escalation actions must be a list");
    char *text = actions ? json_dumps(actions, JSON_COMPACT |
                                                   JSON_ENSURE_ASCII)
                         : ct_strdup("[]");
    if (!text)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    if ((rc = ct_area__begin(c, err)))
        goto fail_text;
    ct_store *s = ct_capacity_store(c);
    ct_escalation cur;
    if ((rc = ct_escalation_current(s, &cur))) {
        ct_area__fail(err, rc, "cannot read the escalation level: %s",
                      ct_strerror(rc));
        goto done;
    }
    if (cur.level == level)
        goto done;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_ESC_INSERT, err);
    if (!st) {
        rc = CT_ESTORE;
        goto done;
    }
    int64_t now = ct_clock_now(ct_capacity_clock(c));
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, level);
    sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        rc = ct_area__dberr(c, err, step, "recording an escalation");
        goto done;
    }
    int64_t seq = sqlite3_last_insert_rowid(ct_store__db(s));
    json_t *p = json_pack("{s:i, s:i, s:s, s:o, s:I}", "from", cur.level,
                          "to", level, "reason", reason, "actions",
                          json_loads(text, 0, NULL), "escalation",
                          (json_int_t)seq);
    if ((rc = ct_area__emit(c, actor, "escalation.changed", p, err)))
        goto done;
    did = true;
done:
    rc = ct_area__finish(c, rc, err);
    if (rc == 0 && did && changed)
        *changed = true;
    if (rc == 0 && did)
        ct_log_info(UNIT, "escalation level %d -> %d by %s: %s", cur.level,
                    level, actor, reason);
fail_text:
    free(text);
    return rc;
}
