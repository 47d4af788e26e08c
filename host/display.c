/*
 * Display credentials (display.h): the display entries of the token store.
 */
#include "display.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ct_display_issue(ct_tokens *t, const char *name, const char *actor,
                     int64_t now, char secret[CT_DISPLAY_SECRET_LEN + 1],
                     char *why, size_t n)
{
    ct_token proto;
    memset(&proto, 0, sizeof proto);
    proto.kind = CT_TOKEN_DISPLAY;
    proto.expires_at = CT_TOKEN_NEVER;
    if (!name || strlen(name) >= sizeof proto.name) {
        snprintf(why, n, "a display name is 1 to %d letters, digits, '-', "
                 "'_' or '.'", CT_DISPLAY_NAME_MAX);
        return CT_EINVAL;
    }
    memcpy(proto.name, name, strlen(name) + 1);
    int rc = ct_tokens_add(t, &proto, now, actor, secret, NULL, why, n);
    if (rc == CT_EEXISTS)
        snprintf(why, n, "display '%s' already has a valid credential; "
                 "revoke it first", name);
    return rc;
}

int ct_display_revoke(ct_tokens *t, const char *name, const char *actor,
                      int64_t now, char *why, size_t n)
{
    const ct_token *tok =
        name ? ct_tokens_find_name(t, CT_TOKEN_DISPLAY, name) : NULL;
    if (!tok) {
        snprintf(why, n, "no valid display credential named '%s'",
                 name ? name : "");
        return CT_ENOTFOUND;
    }
    return ct_tokens_revoke(t, tok->id, now, actor, why, n);
}

static json_t *opt_time(int64_t at)
{
    return at == 0 || at == CT_TOKEN_NEVER ? json_null()
                                           : json_integer((json_int_t)at);
}

static int by_name(const void *a, const void *b)
{
    const ct_token *x = *(const ct_token *const *)a;
    const ct_token *y = *(const ct_token *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->id > y->id) - (x->id < y->id);
}

json_t *ct_display_list_json(const ct_tokens *t)
{
    size_t n = ct_tokens_count(t), k = 0;
    const ct_token **v = calloc(n ? n : 1, sizeof *v);
    json_t *list = json_array();
    if (!v || !list) {
        free(v);
        json_decref(list);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (ct_tokens_at(t, i)->kind == CT_TOKEN_DISPLAY)
            v[k++] = ct_tokens_at(t, i);
    qsort(v, k, sizeof *v, by_name);
    for (size_t i = 0; i < k; i++) {
        const ct_token *tok = v[i];
        json_t *o = json_pack(
            "{s:I, s:s, s:I, s:s, s:o, s:o, s:o}", "id",
            (json_int_t)tok->id, "name", tok->name, "issued_at",
            (json_int_t)tok->created_at, "issued_by", tok->created_by,
            "expires_at", opt_time(tok->expires_at), "revoked_at",
            opt_time(tok->revoked_at), "revoked_by",
            tok->revoked_by[0] ? json_string(tok->revoked_by) : json_null());
        if (json_array_append_new(list, o)) {
            free(v);
            json_decref(list);
            return NULL;
        }
    }
    free(v);
    return json_pack("{s:o}", "displays", list);
}
