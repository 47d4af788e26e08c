/*
 * Display credentials (display.h).
 */
#include "display.h"

#include "capacity_int.h"
#include "clock.h"
#include "error.h"
#include "log.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define UNIT "display"

typedef struct entry {
    char name[CT_DISPLAY_NAME_MAX + 1];
    uint8_t sha256[32];
} entry;

struct ct_displays {
    entry *items;
    size_t n, cap;
};

static int add(ct_displays *d, const char *name, const uint8_t h[32])
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 8;
        entry *items = realloc(d->items, cap * sizeof *items);
        if (!items)
            return CT_ENOMEM;
        d->items = items;
        d->cap = cap;
    }
    entry *e = &d->items[d->n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    memcpy(e->sha256, h, sizeof e->sha256);
    return 0;
}

static void drop(ct_displays *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->items[i].name, name) == 0) {
            sodium_memzero(&d->items[i], sizeof d->items[i]);
            d->items[i] = d->items[--d->n];
            return;
        }
}

int ct_displays_load(ct_capacity *c, ct_displays **out, ct_cap_error *err)
{
    *out = NULL;
    ct_displays *d = calloc(1, sizeof *d);
    if (!d)
        return ct_capacity__fail(err, CT_ENOMEM, "out of memory");
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_DISPLAY_ACTIVE, err);
    if (!st) {
        free(d);
        return CT_ESTORE;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!name || sqlite3_column_bytes(st, 1) != 32)
            continue; /* the schema's CHECK forbids it */
        if (add(d, name, sqlite3_column_blob(st, 1))) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        ct_displays_free(d);
        return rc == SQLITE_NOMEM
                   ? ct_capacity__fail(err, CT_ENOMEM, "out of memory")
                   : ct_capacity__dberr(c, err, rc,
                                        "reading display credentials");
    }
    *out = d;
    return 0;
}

void ct_displays_free(ct_displays *d)
{
    if (!d)
        return;
    if (d->items)
        sodium_memzero(d->items, d->cap * sizeof *d->items);
    free(d->items);
    free(d);
}

bool ct_displays_match(const ct_displays *d, const uint8_t h[32],
                       char name[CT_DISPLAY_NAME_MAX + 1])
{
    if (!d)
        return false;
    /* As ct_auth_bearer: every entry compared, the match picked by mask. */
    size_t found = 0;
    unsigned matched = 0;
    for (size_t i = 0; i < d->n; i++) {
        unsigned eq =
            (unsigned)(sodium_memcmp(h, d->items[i].sha256, 32) == 0);
        size_t mask = (size_t)0 - (size_t)eq;
        found = (found & ~mask) | (i & mask);
        matched |= eq;
    }
    if (!matched)
        return false;
    memcpy(name, d->items[found].name, sizeof d->items[found].name);
    return true;
}

static int check_name(const char *name, ct_cap_error *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > CT_DISPLAY_NAME_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789-_.") != n)
        return ct_capacity__fail(err, CT_EINVAL,
                                 "a display name is 1 to %d letters, digits, "
                                 "'-', '_' or '.'",
                                 CT_DISPLAY_NAME_MAX);
    return 0;
}

int ct_display_issue(ct_capacity *c, ct_displays *d, const char *name,
                     const char *actor,
                     char secret[CT_DISPLAY_SECRET_LEN + 1],
                     ct_cap_error *err)
{
    secret[0] = '\0';
    int rc;
    if ((rc = check_name(name, err)) ||
        (rc = ct_capacity__check_text("actor", actor, 200, err)))
        return rc;
    if (sodium_init() < 0)
        return ct_capacity__fail(err, CT_EINVAL, "libsodium did not start");
    uint8_t raw[32], h[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(secret, CT_DISPLAY_SECRET_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    crypto_hash_sha256(h, (const unsigned char *)secret,
                       CT_DISPLAY_SECRET_LEN);
    if ((rc = ct_capacity__begin(c, err)))
        goto fail;
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_DISPLAY_ISSUE, err);
    if (!st) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, h, sizeof h, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ct_clock_now(ct_capacity_clock(c)));
    sqlite3_bind_text(st, 4, actor, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int changes = sqlite3_changes(ct_store__db(ct_capacity_store(c)));
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        rc = ct_capacity__dberr(c, err, step, "issuing a display credential");
        goto done;
    }
    if (changes == 0) {
        rc = ct_capacity__fail(err, CT_ECONFLICT,
                               "display '%s' already has a valid "
                               "credential; revoke it first",
                               name);
        goto done;
    }
    /* The event names the screen; the secret and its hash stay out of
     * the audit log. */
    rc = ct_capacity__emit(c, actor, "display.issued",
                           json_pack("{s:s}", "name", name), err);
done:
    rc = ct_capacity__finish(c, rc, err);
    if (rc == 0 && (rc = add(d, name, h)))
        ct_capacity__fail(err, rc, "out of memory");
    if (rc == 0)
        ct_log_info(UNIT, "display '%s' issued by %s", name, actor);
fail:
    sodium_memzero(h, sizeof h);
    if (rc)
        sodium_memzero(secret, CT_DISPLAY_SECRET_LEN + 1);
    return rc;
}

int ct_display_revoke(ct_capacity *c, ct_displays *d, const char *name,
                      const char *actor, ct_cap_error *err)
{
    int rc;
    if ((rc = check_name(name, err)) ||
        (rc = ct_capacity__check_text("actor", actor, 200, err)))
        return rc;
    if ((rc = ct_capacity__begin(c, err)))
        return rc;
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_DISPLAY_REVOKE, err);
    if (!st) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ct_clock_now(ct_capacity_clock(c)));
    sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int changes = sqlite3_changes(ct_store__db(ct_capacity_store(c)));
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        rc = ct_capacity__dberr(c, err, step,
                                "revoking a display credential");
        goto done;
    }
    if (changes == 0) {
        rc = ct_capacity__fail(err, CT_ENOTFOUND,
                               "no valid display credential named '%s'",
                               name);
        goto done;
    }
    rc = ct_capacity__emit(c, actor, "display.revoked",
                           json_pack("{s:s}", "name", name), err);
done:
    rc = ct_capacity__finish(c, rc, err);
    /* Forgotten in memory even if the write failed: a revocation that
     * fails closed is the safe side. */
    if (rc == 0 || rc == CT_ESTORE)
        drop(d, name);
    if (rc == 0)
        ct_log_info(UNIT, "display '%s' revoked by %s", name, actor);
    return rc;
}

int ct_display_list_json(ct_capacity *c, json_t **out, ct_cap_error *err)
{
    *out = NULL;
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_DISPLAY_LIST, err);
    if (!st)
        return CT_ESTORE;
    json_t *list = json_array();
    if (!list)
        return ct_capacity__fail(err, CT_ENOMEM, "out of memory");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_pack(
            "{s:s, s:I, s:s, s:o, s:o}", "name",
            (const char *)sqlite3_column_text(st, 0), "issued_at",
            (json_int_t)sqlite3_column_int64(st, 1), "issued_by",
            (const char *)sqlite3_column_text(st, 2), "revoked_at",
            sqlite3_column_type(st, 3) == SQLITE_NULL
                ? json_null()
                : json_integer(sqlite3_column_int64(st, 3)),
            "revoked_by",
            sqlite3_column_type(st, 4) == SQLITE_NULL
                ? json_null()
                : json_string((const char *)sqlite3_column_text(st, 4)));
        if (json_array_append_new(list, o)) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return rc == SQLITE_NOMEM
                   ? ct_capacity__fail(err, CT_ENOMEM, "out of memory")
                   : ct_capacity__dberr(c, err, rc, "listing displays");
    }
    *out = json_pack("{s:o}", "displays", list);
    return *out ? 0 : ct_capacity__fail(err, CT_ENOMEM, "out of memory");
}
