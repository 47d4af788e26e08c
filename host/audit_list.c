/*
 * Reading the audit log page by page (ct_audit_list_json in audit.h).
 */
#include "audit.h"

#include "error.h"
#include "log.h"
#include "store_int.h"
#include "store_json.h"
#include "util.h"

static json_t *hash_json(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_bytes(st, i) != 32)
        return json_null();
    char hex[65];
    ct_hex_encode(sqlite3_column_blob(st, i), 32, hex);
    return json_string(hex);
}

static json_t *event_json(sqlite3_stmt *st, void *unused)
{
    (void)unused;
    const char *payload = (const char *)sqlite3_column_text(st, 4);
    json_t *p = json_loads(payload ? payload : "{}", 0, NULL);
    return json_pack("{s:I, s:I, s:s, s:s, s:o, s:o, s:o}", "seq",
                     (json_int_t)sqlite3_column_int64(st, 0), "at",
                     (json_int_t)sqlite3_column_int64(st, 1), "actor",
                     (const char *)sqlite3_column_text(st, 2), "kind",
                     (const char *)sqlite3_column_text(st, 3), "payload",
                     p ? p : json_object(), "prev_hash", hash_json(st, 5),
                     "hash", hash_json(st, 6));
}

int ct_audit_list_json(ct_store *s, int64_t after, int limit, json_t **out)
{
    *out = NULL;
    if (limit < 1 || limit > 1000 || after < 0)
        return CT_EINVAL;
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_VIEW_AUDIT_LIST);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int(st, 2, limit);
    int rc = ct_store_json_rows(st, event_json, NULL, out);
    if (rc) {
        ct_log_error("audit", "listing events: %s",
                     sqlite3_errmsg(ct_store__db(s)));
        int err = ct_err_from_sqlite(rc);
        return err ? err : CT_ESTORE;
    }
    return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t ? t : "";
}

int ct_audit_access_json(ct_store *s, int64_t referral, json_t **out)
{
    *out = NULL;
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_AUDIT_ACCESS);
    if (!st)
        return CT_ESTORE;
    json_t *reads = json_array(), *by = json_object();
    if (!reads || !by) {
        json_decref(reads);
        json_decref(by);
        return CT_ENOMEM;
    }
    sqlite3_bind_int64(st, 1, referral);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        json_int_t at = sqlite3_column_int64(st, 1);
        const char *actor = col_text(st, 2);
        json_array_append_new(
            reads, json_pack("{s:I, s:I, s:s, s:s, s:s}", "seq",
                             (json_int_t)sqlite3_column_int64(st, 0), "at",
                             at, "actor", actor, "route", col_text(st, 3),
                             "request", col_text(st, 4)));
        json_t *a = json_object_get(by, actor);
        if (!a) {
            a = json_pack("{s:s, s:i, s:I, s:I}", "actor", actor, "reads", 0,
                          "first_at", at, "last_at", at);
            json_object_set_new(by, actor, a);
        }
        json_object_set_new(
            a, "reads",
            json_integer(json_integer_value(json_object_get(a, "reads")) +
                         1));
        json_object_set_new(a, "last_at", json_integer(at));
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        json_decref(reads);
        json_decref(by);
        return ct_err_from_sqlite(step);
    }
    json_t *readers = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(by, k, v) json_array_append(readers, v);
    json_decref(by);
    *out = json_pack("{s:I, s:o, s:o}", "referral", (json_int_t)referral,
                     "reads", reads, "readers", readers);
    return *out ? 0 : CT_ENOMEM;
}
