/*
 * The audit of the token store (token_audit.h).
 */
#include "token_audit.h"

#include "error.h"
#include "store_int.h"
#include "store_sql_display.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* The statements of this unit, apart from the store's list. */
CT_STMT_SET_DEFINE(display_stmts, CT_STMTS_DISPLAY, CT_STMT_DISPLAY__COUNT);

static const char *event_kind(const ct_token *tok, const char *what)
{
    static char buf[40];
    snprintf(buf, sizeof buf, "%s.%s",
             tok->kind == CT_TOKEN_DISPLAY ? "display" : "token", what);
    return buf;
}

static int emit(ct_events *bus, const char *actor, const ct_token *tok,
                const char *what, json_t *extra)
{
    json_t *p = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)tok->id,
                          "kind", ct_token_kind_name(tok->kind), "name",
                          tok->name);
    if (!p) {
        json_decref(extra);
        return CT_ENOMEM;
    }
    if (extra && json_object_update(p, extra)) {
        json_decref(extra);
        json_decref(p);
        return CT_ENOMEM;
    }
    json_decref(extra);
    return ct_events_record(bus, actor[0] ? actor : "host",
                            event_kind(tok, what), p, CT_EVENT_QUIET, NULL,
                            NULL);
}

static json_t *expiry(int64_t at)
{
    return at == CT_TOKEN_NEVER ? json_null() : json_integer((json_int_t)at);
}

/* What an added credential is: for a person or client, who and with
 * which role; the expiry for all. */
static json_t *added_payload(const ct_token *tok)
{
    if (tok->kind == CT_TOKEN_DISPLAY)
        return json_pack("{s:o}", "expires_at", expiry(tok->expires_at));
    return json_pack("{s:s, s:s, s:s, s:o}", "display_name",
                     tok->display_name, "org", tok->org, "role",
                     ct_role_name(tok->role), "expires_at",
                     expiry(tok->expires_at));
}

static int put_seen(ct_store *s, const ct_token *tok)
{
    sqlite3_stmt *st =
        ct_store__stmt_of(s, &display_stmts, CT_STMT_TOKEN_SEEN_PUT);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, tok->id);
    sqlite3_bind_blob(st, 2, tok->sha256, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, tok->expires_at);
    if (tok->revoked_at)
        sqlite3_bind_int64(st, 4, tok->revoked_at);
    else
        sqlite3_bind_null(st, 4);
    return ct_store__step_done(s, st);
}

/* One credential against its token_seen row. */
static int sync_one(ct_events *bus, const ct_token *tok, int *n)
{
    ct_store *s = ct_events_store(bus);
    sqlite3_stmt *st =
        ct_store__stmt_of(s, &display_stmts, CT_STMT_TOKEN_SEEN_GET);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, tok->id);
    int step = sqlite3_step(st);
    bool seen = step == SQLITE_ROW;
    bool same_hash = false, was_revoked = false;
    int64_t was_expires = 0;
    if (seen) {
        same_hash = sqlite3_column_bytes(st, 0) == 32 &&
                    sodium_memcmp(sqlite3_column_blob(st, 0), tok->sha256,
                                  32) == 0;
        was_expires = sqlite3_column_int64(st, 1);
        was_revoked = sqlite3_column_type(st, 2) != SQLITE_NULL;
    }
    sqlite3_reset(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return ct_err_from_sqlite(step);
    int rc = 0, before = *n;
    if (!seen) {
        rc = emit(bus, tok->created_by, tok,
                  tok->kind == CT_TOKEN_DISPLAY ? "issued" : "added",
                  added_payload(tok));
        (*n)++;
    } else if (!same_hash) {
        rc = emit(bus, tok->rotated_by, tok, "rotated",
                  json_pack("{s:o}", "expires_at", expiry(tok->expires_at)));
        (*n)++;
    } else if (was_expires != tok->expires_at) {
        rc = emit(bus, tok->rotated_by, tok, "expiry_changed",
                  json_pack("{s:o}", "expires_at", expiry(tok->expires_at)));
        (*n)++;
    }
    if (!rc && tok->revoked_at && !was_revoked) {
        rc = emit(bus, tok->revoked_by, tok, "revoked", NULL);
        (*n)++;
    }
    if (!rc && *n != before)
        rc = put_seen(s, tok);
    return rc;
}

int ct_token_audit_sync(ct_events *bus, const ct_tokens *t, int *events)
{
    ct_store *s = ct_events_store(bus);
    int n = 0, rc = 0;
    for (size_t i = 0; !rc && i < ct_tokens_count(t); i++)
        rc = sync_one(bus, ct_tokens_at(t, i), &n);
    /* Entries gone from the file (edited by hand): say so, once. */
    int64_t *gone = NULL;
    size_t ngone = 0, cap = 0;
    sqlite3_stmt *st =
        rc ? NULL
           : ct_store__stmt_of(s, &display_stmts, CT_STMT_TOKEN_SEEN_IDS);
    if (!rc && !st)
        rc = CT_ESTORE;
    int step = SQLITE_DONE;
    while (st && (step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (ct_tokens_find(t, id))
            continue;
        if (ngone == cap) {
            cap = cap ? 2 * cap : 8;
            int64_t *g = realloc(gone, cap * sizeof *g);
            if (!g) {
                step = SQLITE_NOMEM;
                break;
            }
            gone = g;
        }
        gone[ngone++] = id;
    }
    if (st) {
        sqlite3_reset(st);
        if (step != SQLITE_DONE)
            rc = ct_err_from_sqlite(step);
    }
    for (size_t i = 0; !rc && i < ngone; i++) {
        rc = ct_events_record(bus, "host", "token.removed",
                              json_pack("{s:I}", "id", (json_int_t)gone[i]),
                              CT_EVENT_QUIET, NULL, NULL);
        sqlite3_stmt *del = rc ? NULL
                               : ct_store__stmt_of(s, &display_stmts,
                                                   CT_STMT_TOKEN_SEEN_DELETE);
        if (!rc && !del)
            rc = CT_ESTORE;
        if (del) {
            sqlite3_bind_int64(del, 1, gone[i]);
            rc = ct_store__step_done(s, del);
        }
        n++;
    }
    free(gone);
    if (events)
        *events = rc ? 0 : n;
    return rc;
}

int ct_token_import_displays(ct_store *s, ct_tokens *t, int *moved)
{
    *moved = 0;
    sqlite3_stmt *st =
        ct_store__stmt_of(s, &display_stmts, CT_STMT_DISPLAY_OLD);
    if (!st)
        return CT_ESTORE;
    int step, rc = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 1) != 32)
            continue; /* the schema's CHECK forbids it */
        ct_token tok;
        memset(&tok, 0, sizeof tok);
        tok.kind = CT_TOKEN_DISPLAY;
        tok.role = CT_ROLE_VIEWER;
        ct_copy_str(tok.name, sizeof tok.name,
                    (const char *)sqlite3_column_text(st, 0));
        memcpy(tok.sha256, sqlite3_column_blob(st, 1), 32);
        if (ct_tokens_match(t, tok.sha256, 0, NULL) != CT_TOKEN_NONE)
            continue;
        tok.created_at = sqlite3_column_int64(st, 2);
        ct_copy_str(tok.created_by, sizeof tok.created_by,
                    (const char *)sqlite3_column_text(st, 3));
        tok.expires_at = CT_TOKEN_NEVER;
        if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
            tok.revoked_at = sqlite3_column_int64(st, 4);
            ct_copy_str(tok.revoked_by, sizeof tok.revoked_by,
                        (const char *)sqlite3_column_text(st, 5));
        }
        /* A revoked credential of a name that is valid again in the
         * store is history; a second valid one cannot be. */
        if (!tok.revoked_at &&
            ct_tokens_find_name(t, CT_TOKEN_DISPLAY, tok.name))
            continue;
        /* Issued (and revoked) events are in the chain already. */
        if ((rc = ct_tokens_import(t, &tok, NULL, 0)) ||
            (rc = put_seen(s, ct_tokens_at(t, ct_tokens_count(t) - 1))))
            break;
        (*moved)++;
    }
    sqlite3_reset(st);
    if (rc)
        return rc;
    if (step != SQLITE_DONE)
        return ct_err_from_sqlite(step);
    sqlite3_stmt *del =
        ct_store__stmt_of(s, &display_stmts, CT_STMT_DISPLAY_OLD_DELETE);
    return del ? ct_store__step_done(s, del) : CT_ESTORE;
}
