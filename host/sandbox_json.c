/*
 * Values across the border: Lua values to jansson and back, for hook
 * arguments, hook results and decision traces. Lua to JSON reads tables
 * raw (no metamethods, no plugin code), calls nothing that can raise, and
 * reports the first bad value with its path ("result.candidates[2].score
 * is not a finite number (nan)"). JSON to Lua runs in protected mode since
 * it allocates in the plugin's state.
 */
#include "sandbox_int.h"

#include "error.h"
#include "log.h"
#include "util.h"

#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Lua to JSON                                                        */

typedef struct conv {
    ct_sandbox *sb;
    lua_State *L;
    const char *what; /* name of the root in messages */
    unsigned flags;
    size_t values;
    const void **open; /* tables on the current path, for cycles */
    /* The path to the value being converted, as steps; only formatted
     * into `path` when a message needs it (formatting every step cost a
     * fifth of a plugin call). */
    struct step {
        const char *key; /* NULL for an array index */
        size_t len;
        lua_Integer index;
    } *steps;
    size_t nsteps;
    ct_buf path;
    int code;
    size_t bytes, max_bytes; /* the copy so far, and the output limit */
    const char *match;       /* pairs array items with like's by this
                                string field (NULL: by position) */
    /* The match fields of keys_of's items, in its order (like_item). */
    struct like_key {
        const char *s; /* NULL: the item has none */
        size_t len;
    } *keys;
    const json_t *keys_of;
} conv;

/* What a value costs toward the output limit: its bytes (a string's or a
 * key's) plus a fixed share for the node that holds it. */
#define NODE_COST 16

static json_t *conv_fail(conv *c, int code, const char *fmt, ...)
    CT_PRINTF(3, 4);
static json_t *conv_fail(conv *c, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->code = ct_sandbox__error(c->sb, code, NULL, NULL, "%s", msg);
    return NULL;
}

static bool is_identifier(const char *s, size_t n);

static const char *path(conv *c)
{
    c->path.len = 0;
    if (ct_buf_puts(&c->path, c->what))
        return c->what;
    for (size_t i = 0; i < c->nsteps; i++) {
        const struct step *st = &c->steps[i];
        size_t n = st->len;
        if (!st->key)
            ct_buf_printf(&c->path, "[%lld]", (long long)st->index);
        else if (is_identifier(st->key, n))
            ct_buf_printf(&c->path, ".%.*s", (int)n, st->key);
        else
            ct_buf_printf(&c->path, "[\"%.*s%s\"]", (int)(n > 40 ? 40 : n),
                          st->key, n > 40 ? "..." : "");
    }
    return c->path.data;
}

static bool is_identifier(const char *s, size_t n)
{
    if (n == 0 || n > 40 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_'))
            return false;
    }
    return true;
}

/* Appends one step to the path (the key stays on the Lua stack while the
 * step is in use); returns the mark to cut back to. */
static size_t path_key(conv *c, const char *k, size_t n)
{
    size_t mark = c->nsteps;
    c->steps[c->nsteps++] = (struct step){k, n, 0};
    return mark;
}

static size_t path_index(conv *c, lua_Integer i)
{
    size_t mark = c->nsteps;
    c->steps[c->nsteps++] = (struct step){NULL, 0, i};
    return mark;
}

static void path_cut(conv *c, size_t mark)
{
    if (mark <= c->nsteps)
        c->nsteps = mark;
}

static json_t *conv_value(conv *c, int idx, int depth, const json_t *like);

/* Charges n bytes to the copy; false (error recorded) past the limit. */
static bool charge(conv *c, size_t n)
{
    if (n <= c->max_bytes - c->bytes) {
        c->bytes += n;
        return true;
    }
    char lim[32];
    ct_sandbox__fmt_size(lim, sizeof lim, c->max_bytes);
    conv_fail(c, CT_ELIMIT,
              "%s is larger than the output limit of %s (at %s)", c->what,
              lim, path(c));
    return false;
}

static const char *describe_key(lua_State *L, int idx, char *buf, size_t n)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        if (lua_isinteger(L, idx))
            snprintf(buf, n, "%lld", (long long)lua_tointeger(L, idx));
        else
            snprintf(buf, n, "%.14g", (double)lua_tonumber(L, idx));
        return buf;
    }
    if (lua_type(L, idx) == LUA_TBOOLEAN)
        return lua_toboolean(L, idx) ? "true" : "false";
    return luaL_typename(L, idx);
}

/* ---- what the host gave, taken back as it was ---------------------- */

/*
 * A hook's answer is mostly what the host gave it (rank returns the
 * candidates reordered, annotated or as they were). Where a Lua value
 * converts to exactly a value of `like` (the arguments' JSON), that value
 * is taken with a new reference instead of built again: the same result,
 * without the allocations. The comparison reads the table raw, allocates
 * nothing in the plugin's state and raises nothing; the copy is charged
 * to the limits as a conversion would be, and whatever would fail a limit
 * is converted as before, so every message stays the same.
 */
static bool same_value(conv *c, int idx, const json_t *like, int depth);

static bool same_table(conv *c, int idx, const json_t *like, int depth)
{
    lua_State *L = c->L;
    size_t n = json_is_object(like)  ? json_object_size(like)
               : json_is_array(like) ? json_array_size(like)
                                     : 0;
    /* An empty table's kind depends on the flags: converted as before. */
    if (n == 0 || depth >= c->sb->lim.json_max_depth || !lua_checkstack(L, 3))
        return false;
    bool object = json_is_object(like), same = true;
    size_t count = 0;
    lua_pushnil(L);
    while (same && lua_next(L, idx)) {
        const json_t *v = NULL;
        if (object && lua_type(L, -2) == LUA_TSTRING) {
            size_t klen;
            const char *k = lua_tolstring(L, -2, &klen); /* a string */
            v = memchr(k, '\0', klen) ? NULL
                                      : json_object_getn(like, k, klen);
        } else if (!object && lua_isinteger(L, -2)) {
            lua_Integer i = lua_tointeger(L, -2);
            v = i >= 1 && (lua_Unsigned)i <= n ? json_array_get(like,
                                                                (size_t)i - 1)
                                               : NULL;
        }
        same = v && ++count <= n && same_value(c, lua_gettop(L), v, depth + 1);
        lua_pop(L, 1);
    }
    if (!same)
        lua_pop(L, 1); /* the key lua_next left */
    return same && count == n;
}

static bool same_value(conv *c, int idx, const json_t *like, int depth)
{
    lua_State *L = c->L;
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        return lua_toboolean(L, idx) ? json_is_true(like) : json_is_false(like);
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return json_is_integer(like) &&
                   json_integer_value(like) == lua_tointeger(L, idx);
        if (json_is_real(like)) {
            double a = (double)lua_tonumber(L, idx), b = json_real_value(like);
            return memcmp(&a, &b, sizeof a) == 0; /* -0.0 is not 0.0 */
        }
        return false;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return json_is_string(like) && json_string_length(like) == len &&
               memcmp(json_string_value(like), s, len) == 0;
    }
    case LUA_TTABLE:
        return same_table(c, lua_absindex(L, idx), like, depth);
    default: return false;
    }
}

/* Charges like's members (and what they hold) as converting them would;
 * false, nothing recorded, where a limit would fail. */
static bool account_value(conv *c, const json_t *v, int depth);

static bool account_members(conv *c, const json_t *v, int depth)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            size_t klen = strlen(k);
            if (klen > c->max_bytes - c->bytes)
                return false;
            c->bytes += klen;
            if (!account_value(c, m, depth + 1))
                return false;
        }
        return true;
    }
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!account_value(c, json_array_get(v, i), depth + 1))
            return false;
    return true;
}

static bool account_value(conv *c, const json_t *v, int depth)
{
    if (++c->values > c->sb->lim.json_max_values)
        return false;
    size_t cost = NODE_COST + (json_is_string(v) ? json_string_length(v) : 0);
    if (cost > c->max_bytes - c->bytes)
        return false;
    c->bytes += cost;
    if (!json_is_object(v) && !json_is_array(v))
        return true;
    return depth < c->sb->lim.json_max_depth && account_members(c, v, depth);
}

/* like's item for the table at idx (an item of an array being
 * converted): the one whose match field holds the same text, looked for
 * from position i on; or like's item i without a match field. like's
 * match fields are read once per conversion (c->keys): a rank's 50
 * reordered candidates each looked up through jansson cost more than
 * converting them. */
static const json_t *like_item(conv *c, int idx, const json_t *like, size_t i)
{
    lua_State *L = c->L;
    if (!json_is_array(like))
        return NULL;
    if (!c->match)
        return json_array_get(like, i);
    if (lua_type(L, idx) != LUA_TTABLE || !lua_checkstack(L, 3))
        return NULL;
    const char *want = NULL;
    size_t wlen = 0, mlen = strlen(c->match);
    lua_pushnil(L);
    while (!want && lua_next(L, idx)) {
        size_t klen;
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
            const char *k = lua_tolstring(L, -2, &klen);
            if (klen == mlen && memcmp(k, c->match, mlen) == 0)
                want = lua_tolstring(L, -1, &wlen); /* kept by the table */
        }
        lua_pop(L, 1);
    }
    if (want)
        lua_pop(L, 1);
    else
        return NULL;
    size_t n = json_array_size(like);
    if (c->keys_of != like) {
        struct like_key *k = realloc(c->keys, (n ? n : 1) * sizeof *k);
        if (!k)
            return NULL; /* converted without like: the same result */
        c->keys = k;
        c->keys_of = like;
        for (size_t j = 0; j < n; j++) {
            const json_t *f = json_object_get(json_array_get(like, j),
                                              c->match);
            k[j].s = json_string_value(f);
            k[j].len = k[j].s ? json_string_length(f) : 0;
        }
    }
    for (size_t j = 0; j < n; j++) {
        const struct like_key *k = &c->keys[(i + j) % n];
        if (k->s && k->len == wlen && memcmp(k->s, want, wlen) == 0)
            return json_array_get(like, (i + j) % n);
    }
    return NULL;
}

static json_t *conv_array(conv *c, int idx, int depth, lua_Integer n,
                          const json_t *like)
{
    lua_State *L = c->L;
    json_t *arr = json_array();
    if (!arr)
        return conv_fail(c, CT_ENOMEM, "out of memory converting %s", c->what);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        size_t mark = path_index(c, i);
        json_t *v = conv_value(c, lua_gettop(L), depth + 1,
                               like_item(c, lua_gettop(L), like,
                                         (size_t)i - 1));
        path_cut(c, mark);
        lua_pop(L, 1);
        if (!v || json_array_append_new(arr, v) != 0) {
            json_decref(arr);
            return v ? conv_fail(c, CT_ENOMEM, "out of memory converting %s",
                                 c->what)
                     : NULL;
        }
    }
    return arr;
}

static json_t *conv_object(conv *c, int idx, int depth, const json_t *like)
{
    lua_State *L = c->L;
    json_t *obj = json_object();
    if (!obj)
        return conv_fail(c, CT_ENOMEM, "out of memory converting %s", c->what);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t klen;
        const char *k = lua_tolstring(L, -2, &klen); /* a string: no cast */
        size_t mark = path_key(c, k, klen);
        json_t *v = NULL;
        const json_t *was = NULL; /* like's member of the same key */
        if (!charge(c, klen))
            ;
        else if (memchr(k, '\0', klen))
            conv_fail(c, CT_EPLUGIN, "%s: key contains a NUL byte", path(c));
        else {
            was = json_is_object(like) ? json_object_getn(like, k, klen)
                                       : NULL;
            v = conv_value(c, lua_gettop(L), depth + 1, was);
        }
        /* A key like has is known to be valid UTF-8: not checked again. */
        if (v && (was ? json_object_setn_new_nocheck(obj, k, klen, v)
                      : json_object_set_new(obj, k, v)) != 0) {
            v = NULL;
            conv_fail(c, CT_EPLUGIN, "%s: key is not valid UTF-8", path(c));
        }
        path_cut(c, mark);
        lua_pop(L, 1);
        if (!v) {
            lua_pop(L, 1);
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

static json_t *conv_table(conv *c, int idx, int depth, const json_t *like)
{
    lua_State *L = c->L;
    ct_sandbox *sb = c->sb;
    if (like && same_table(c, idx, like, depth)) {
        size_t values = c->values, bytes = c->bytes;
        if (account_members(c, like, depth))
            return json_incref((json_t *)like);
        c->values = values;
        c->bytes = bytes;
    }
    if (depth >= sb->lim.json_max_depth)
        return conv_fail(c, CT_ELIMIT,
                         "%s is nested deeper than the JSON depth limit of "
                         "%d (at %s)",
                         c->what, sb->lim.json_max_depth, path(c));
    const void *self = lua_topointer(L, idx);
    for (int i = 0; i < depth; i++)
        if (c->open[i] == self)
            return conv_fail(c, CT_EPLUGIN, "%s has a cycle at %s", c->what,
                             path(c));
    c->open[depth] = self;
    if (!lua_checkstack(L, 4))
        return conv_fail(c, CT_ELIMIT, "stack limit exceeded converting %s",
                         c->what);

    /* One pass over the keys decides between array and object. */
    size_t count = 0, strings = 0;
    lua_Integer max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        if (count > sb->lim.json_max_values) {
            lua_pop(L, 1);
            return conv_fail(c, CT_ELIMIT,
                             "%s has more than the JSON limit of %zu values",
                             c->what, sb->lim.json_max_values);
        }
        if (lua_type(L, -1) == LUA_TSTRING) {
            strings++;
        } else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
            if (lua_tointeger(L, -1) > max)
                max = lua_tointeger(L, -1);
        } else {
            char buf[48];
            const char *k = describe_key(L, -1, buf, sizeof buf);
            lua_pop(L, 1);
            return conv_fail(c, CT_EPLUGIN,
                             "%s has a key %s; tables must have string keys "
                             "or be arrays indexed 1..n",
                             path(c), k);
        }
    }
    if (count == 0)
        return (c->flags & CT_SANDBOX_JSON_EMPTY_ARRAY) ? json_array()
                                                        : json_object();
    if (strings == count)
        return conv_object(c, idx, depth, like);
    if (strings > 0)
        return conv_fail(c, CT_EPLUGIN,
                         "%s mixes string keys and array indices", path(c));
    if ((lua_Unsigned)max != count)
        return conv_fail(c, CT_EPLUGIN,
                         "%s is an array with holes (%zu values, largest "
                         "index %lld)",
                         path(c), count, (long long)max);
    return conv_array(c, idx, depth, max, like);
}

static json_t *conv_value(conv *c, int idx, int depth, const json_t *like)
{
    lua_State *L = c->L;
    if (++c->values > c->sb->lim.json_max_values)
        return conv_fail(c, CT_ELIMIT,
                         "%s has more than the JSON limit of %zu values",
                         c->what, c->sb->lim.json_max_values);
    if (!charge(c, NODE_COST +
                       (lua_type(L, idx) == LUA_TSTRING ? lua_rawlen(L, idx)
                                                        : 0)))
        return NULL;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return json_null();
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        if (lua_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        double d = (double)lua_tonumber(L, idx);
        if (!isfinite(d))
            return conv_fail(c, CT_EPLUGIN, "%s is not a finite number (%s)",
                             path(c),
                             isnan(d) ? "nan"
                             : d > 0  ? "inf"
                                      : "-inf");
        return json_real(d);
    }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (json_is_string(like) && json_string_length(like) == len &&
            memcmp(json_string_value(like), s, len) == 0)
            return json_incref((json_t *)like);
        json_t *j = json_stringn(s, len);
        return j ? j
                 : conv_fail(c, CT_EPLUGIN, "%s is not valid UTF-8", path(c));
    }
    case LUA_TTABLE: return conv_table(c, lua_absindex(L, idx), depth, like);
    default:
        return conv_fail(c, CT_EPLUGIN,
                         "%s is a %s, which cannot cross into the host",
                         path(c), luaL_typename(L, idx));
    }
}

static int to_json(ct_sandbox *sb, lua_State *L, int idx, const char *what,
                   unsigned flags, const json_t *like, const char *match,
                   json_t **out)
{
    ct_sandbox__error_reset(sb);
    *out = NULL;
    conv c = {sb,  L, what, flags, 0,     NULL, NULL, 0,
              {0}, 0, 0,    0,     match, NULL, NULL};
    size_t left = sb->lim.memory > sb->mem_used ? sb->lim.memory - sb->mem_used
                                                : 0;
    c.max_bytes = left < sb->lim.json_max_bytes ? left
                                                : sb->lim.json_max_bytes;
    c.open = calloc((size_t)sb->lim.json_max_depth + 1, sizeof *c.open);
    c.steps = calloc((size_t)sb->lim.json_max_depth + 2, sizeof *c.steps);
    if (!c.open || !c.steps) {
        free(c.open);
        free(c.steps);
        ct_buf_free(&c.path);
        return ct_sandbox__error(sb, CT_ENOMEM, NULL, NULL,
                                 "out of memory converting %s", what);
    }
    int top = lua_gettop(L);
    *out = conv_value(&c, lua_absindex(L, idx), 0, like);
    lua_settop(L, top);
    free(c.keys);
    free(c.open);
    free(c.steps);
    ct_buf_free(&c.path);
    return *out ? 0 : c.code;
}

int ct_sandbox_to_json(ct_sandbox *sb, int idx, const char *what,
                       unsigned flags, json_t **out)
{
    if (sb->abandoned) {
        *out = NULL;
        return ct_sandbox__refuse_abandoned(sb);
    }
    return to_json(sb, sb->L, idx, what, flags, NULL, NULL, out);
}

int ct_sandbox_to_json_like(ct_sandbox *sb, int idx, const char *what,
                            unsigned flags, const json_t *like,
                            const char *match, json_t **out)
{
    if (sb->abandoned) {
        *out = NULL;
        return ct_sandbox__refuse_abandoned(sb);
    }
    return to_json(sb, sb->L, idx, what, flags, like, match, out);
}

int ct_sandbox_lua_to_json(lua_State *L, int idx, const char *what,
                           unsigned flags, json_t **out)
{
    return to_json(ct_sandbox_from_state(L), L, idx, what, flags, NULL, NULL,
                   out);
}

/* ------------------------------------------------------------------ */
/* JSON to Lua                                                        */

/* push_value looks at the clock once per this many values: converting
 * 10,000 beds for ct.beds() is work the deadline must see. */
#define PUSH_CLOCK_EVERY 1024

static void push_value(lua_State *L, const json_t *v, int depth)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    if (++sb->push_count % PUSH_CLOCK_EVERY == 0)
        ct_sandbox__deadline(L);
    if (depth > sb->lim.json_max_depth) {
        char desc[64];
        snprintf(desc, sizeof desc, "JSON depth limit of %d",
                 sb->lim.json_max_depth);
        ct_sandbox__limit(L, desc, "a value nested %d levels deep", depth);
    }
    luaL_checkstack(L, 3, "JSON value too deep");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        lua_createtable(L, 0, (int)json_object_size(v));
        json_object_foreach ((json_t *)v, key, val) {
            if (json_is_null(val))
                continue;
            push_value(L, val, depth + 1);
            lua_setfield(L, -2, key);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            push_value(L, json_array_get(v, i), depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        break;
    case JSON_REAL: lua_pushnumber(L, (lua_Number)json_real_value(v)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    case JSON_NULL:
    default: lua_pushnil(L); break;
    }
}

static int push_json_p(lua_State *L)
{
    push_value(L, lua_touserdata(L, 1), 0);
    return 1;
}

int ct_sandbox_push_json(ct_sandbox *sb, const json_t *v)
{
    if (sb->abandoned)
        return ct_sandbox__refuse_abandoned(sb);
    ct_sandbox__error_reset(sb);
    if (!v)
        return ct_sandbox__error(sb, CT_EINVAL, NULL, NULL,
                                 "no JSON value to push");
    lua_pushlightuserdata(sb->L, (void *)v);
    return ct_sandbox__protected(sb, push_json_p, 1, 1, "JSON argument");
}

void ct_sandbox_lua_push_json(lua_State *L, const json_t *v)
{
    if (!v)
        luaL_error(L, "no JSON value to push");
    push_value(L, v, 0);
}
