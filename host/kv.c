#include "kv.h"

#include "error.h"
#include "log.h"
#include "store_int.h"
#include "store_json.h"

#include <stdlib.h>
#include <string.h>

static int check_key(const char *key)
{
    size_t n = strlen(key);
    return n == 0 || n > CT_KV_MAX_KEY ? CT_EINVAL : 0;
}

/* Statement id with the plugin and the key bound (?1, ?2, borrowed until
 * the statement is stepped); NULL on a prepare error. */
static sqlite3_stmt *key_stmt(ct_store *s, ct_stmt id, const char *plugin,
                              const char *key)
{
    sqlite3_stmt *st = ct_store__stmt(s, id);
    if (st) {
        sqlite3_bind_text(st, 1, plugin, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    }
    return st;
}

int ct_kv_get(ct_store *s, const char *plugin, const char *key,
              json_t **out)
{
    *out = NULL;
    sqlite3_stmt *st = key_stmt(s, CT_STMT_KV_GET, plugin, key);
    if (!st)
        return CT_ESTORE;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return CT_ENOTFOUND;
    if (rc != SQLITE_ROW)
        return ct_err_from_sqlite(rc);
    json_error_t jerr;
    *out = json_loads((const char *)sqlite3_column_text(st, 0),
                      JSON_DECODE_ANY, &jerr);
    sqlite3_reset(st);
    return *out ? 0 : CT_ECORRUPT;
}

typedef struct put_args {
    const char *plugin, *key, *text;
    uint64_t limit;
} put_args;

static int do_put(ct_store *s, void *arg)
{
    put_args *a = arg;
    sqlite3_stmt *st = key_stmt(s, CT_STMT_KV_USAGE, a->plugin, a->key);
    if (!st)
        return CT_ESTORE;
    if (sqlite3_step(st) != SQLITE_ROW)
        return CT_ESTORE;
    uint64_t used = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    uint64_t add = strlen(a->key) + strlen(a->text);
    if (used + add > a->limit)
        return CT_ELIMIT;
    st = key_stmt(s, CT_STMT_KV_PUT, a->plugin, a->key);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 3, a->text, -1, SQLITE_STATIC);
    return ct_store__step_done(s, st);
}

int ct_kv_set(ct_store *s, const char *plugin, const char *key,
              const json_t *value, uint64_t limit)
{
    if (check_key(key) || !value)
        return CT_EINVAL;
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY |
                                       JSON_SORT_KEYS);
    if (!text)
        return CT_ENOMEM;
    put_args a = {plugin, key, text, limit};
    int rc = ct_store_run(s, do_put, &a);
    free(text);
    return rc;
}

typedef struct del_args {
    const char *plugin, *key;
    int existed;
} del_args;

static int do_delete(ct_store *s, void *arg)
{
    del_args *a = arg;
    sqlite3_stmt *st = key_stmt(s, CT_STMT_KV_DELETE, a->plugin, a->key);
    if (!st)
        return CT_ESTORE;
    int rc = ct_store__step_done(s, st);
    a->existed = !rc && sqlite3_changes(ct_store__db(s)) > 0;
    return rc;
}

int ct_kv_delete(ct_store *s, const char *plugin, const char *key,
                 int *existed)
{
    if (check_key(key))
        return CT_EINVAL;
    del_args a = {plugin, key, 0};
    int rc = ct_store_run(s, do_delete, &a);
    if (existed)
        *existed = a.existed;
    return rc;
}

static json_t *key_json(sqlite3_stmt *st, void *unused)
{
    (void)unused;
    return json_string((const char *)sqlite3_column_text(st, 0));
}

int ct_kv_keys(ct_store *s, const char *plugin, json_t **out)
{
    *out = NULL;
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_KV_KEYS);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_STATIC);
    int rc = ct_store_json_rows(st, key_json, NULL, out);
    return rc ? ct_err_from_sqlite(rc) : 0;
}
