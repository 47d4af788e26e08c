/*
 * Reading settings out of a YAML tree with positioned diagnostics
 * (config_read.h).
 */
#include "config_read.h"

#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ct_config_read_err(ct_config_reader *r, const ct_node *n, const char *fmt,
                        ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ct_diags_add(r->diags, r->file, n ? n->line : 0, n ? n->col : 0, "%s", msg);
    r->errors++;
}

/* Checks that every key of map is allowed; suggests the nearest one. */
void ct_config_read_keys(ct_config_reader *r, const ct_node *map,
                         const char *const *allowed, const char *where)
{
    for (size_t i = 0; i < map->len; i++) {
        const ct_node *k = ct_node_key(map, i);
        const char *best = NULL;
        size_t best_d = SIZE_MAX;
        int known = 0;
        for (const char *const *a = allowed; *a; a++) {
            if (strcmp(*a, k->value) == 0) {
                known = 1;
                break;
            }
            size_t d = ct_levenshtein(k->value, *a);
            if (d < best_d) {
                best_d = d;
                best = *a;
            }
        }
        if (known)
            continue;
        size_t klen = strlen(k->value);
        if (best && best_d <= 2 && best_d < klen)
            ct_config_read_err(r, k,
                               "unknown key '%s' in %s; did you mean '%s'?",
                               k->value, where, best);
        else
            ct_config_read_err(r, k, "unknown key '%s' in %s", k->value, where);
    }
}

bool ct_config_read_keyed(ct_config_reader *r, const ct_node *n,
                          const char *const *allowed, const char *where)
{
    if (!ct_config_read_map(r, n, where))
        return false;
    ct_config_read_keys(r, n, allowed, where);
    return true;
}

bool ct_config_read_map(ct_config_reader *r, const ct_node *n, const char *what)
{
    if (n && n->kind == CT_NODE_MAP)
        return true;
    ct_config_read_err(r, n, "%s must be a mapping, not %s", what,
                       ct_node_describe(n));
    return false;
}

bool ct_config_read_seq(ct_config_reader *r, const ct_node *n, const char *what)
{
    if (n && n->kind == CT_NODE_SEQ)
        return true;
    ct_config_read_err(r, n, "%s must be a list, not %s", what,
                       ct_node_describe(n));
    return false;
}

bool ct_config_read_scalar(ct_config_reader *r, const ct_node *n,
                           const char *what)
{
    if (n && n->kind == CT_NODE_SCALAR && !ct_node_is_null(n))
        return true;
    ct_config_read_err(r, n, "%s must be a value, not %s", what,
                       ct_node_describe(n));
    return false;
}

/* A required or optional string field; returns a copy or NULL. */
char *ct_config_read_string(ct_config_reader *r, const ct_node *map,
                            const char *key, bool required, const char *where)
{
    const ct_node *n = ct_node_get(map, key);
    if (!n) {
        if (required)
            ct_config_read_err(r, map, "%s is missing required key '%s'", where,
                               key);
        return NULL;
    }
    char what[128];
    snprintf(what, sizeof what, "'%s'", key);
    if (!ct_config_read_scalar(r, n, what))
        return NULL;
    return strdup(n->value);
}

bool ct_config_read_valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CT_CONFIG_ID_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
            return false;
    return true;
}

/* An optional national identifier (natid.h) checked for form by ok;
 * what names it in the message ("an ODS organisation code"). */
char *ct_config_read_natid(ct_config_reader *r, const ct_node *map,
                           const char *key, bool (*ok)(const char *),
                           const char *what, const char *example)
{
    char *v = ct_config_read_string(r, map, key, false, NULL);
    if (v && !ok(v)) {
        ct_config_read_err(r, ct_node_get(map, key),
                           "'%s' is not %s (expected the form %s)", v, what,
                           example);
        free(v);
        return NULL;
    }
    return v;
}

/* An id field: required, [A-Za-z0-9._-]{1,64}. */
char *ct_config_read_id(ct_config_reader *r, const ct_node *map,
                        const char *key, const char *where)
{
    char *id = ct_config_read_string(r, map, key, true, where);
    if (id && !ct_config_read_valid_id(id)) {
        ct_config_read_err(
            r, ct_node_get(map, key),
            "'%s' is not a valid id: use 1 to %d letters, digits, '-', '_' "
            "or '.'",
            id, CT_CONFIG_ID_MAX);
        free(id);
        return NULL;
    }
    return id;
}

/* The scalar under key read by parse into v: n when it parsed; NULL
 * when key is absent (the caller's default) or when it did not parse,
 * then with a diagnostic that key must be expected. The typed readers
 * share it and each check their own range. */
static const ct_node *typed(ct_config_reader *r, const ct_node *map,
                            const char *key, const char *expected,
                            bool (*parse)(const ct_node *n, void *v),
                            void *v)
{
    const ct_node *n = ct_node_get(map, key);
    if (!n)
        return NULL;
    if (n->kind != CT_NODE_SCALAR || !parse(n, v)) {
        ct_config_read_err(r, n, "'%s' must be %s", key, expected);
        return NULL;
    }
    return n;
}

/* true and false unquoted: "true" in quotes is a string. */
static bool parse_bool(const ct_node *n, void *v)
{
    if (n->quoted)
        return false;
    *(bool *)v = strcmp(n->value, "true") == 0;
    return *(bool *)v || strcmp(n->value, "false") == 0;
}

static bool parse_int(const ct_node *n, void *v)
{
    if (n->quoted || !*n->value)
        return false;
    errno = 0;
    char *end;
    long long x = strtoll(n->value, &end, 10);
    *(int64_t *)v = x;
    return !*end && !errno;
}

static bool parse_duration(const ct_node *n, void *v)
{
    return ct_parse_duration_ms(n->value, v) == 0;
}

static bool parse_size(const ct_node *n, void *v)
{
    return ct_parse_size(n->value, v) == 0;
}

bool ct_config_read_bool(ct_config_reader *r, const ct_node *map,
                         const char *key, bool def)
{
    bool v;
    return typed(r, map, key, "true or false", parse_bool, &v) ? v : def;
}

int64_t ct_config_read_int(ct_config_reader *r, const ct_node *map,
                           const char *key, int64_t def, int64_t min,
                           int64_t max)
{
    int64_t v;
    const ct_node *n = typed(r, map, key, "a whole number", parse_int, &v);
    if (!n)
        return def;
    if (v < min || v > max) {
        ct_config_read_err(r, n, "'%s' must be between %lld and %lld, got "
                                 "%lld",
                           key, (long long)min, (long long)max,
                           (long long)v);
        return def;
    }
    return v;
}

int64_t ct_config_read_duration(ct_config_reader *r, const ct_node *map,
                                const char *key, int64_t def, int64_t min,
                                int64_t max)
{
    int64_t v;
    const ct_node *n = typed(r, map, key,
                             "a duration like 50ms, 30s, 15m, 4h or 14d",
                             parse_duration, &v);
    if (!n)
        return def;
    if (v < min || v > max) {
        ct_config_read_err(r, n, "'%s' is out of range (%lld ms to %lld ms)",
                           key, (long long)min, (long long)max);
        return def;
    }
    return v;
}

uint64_t ct_config_read_size(ct_config_reader *r, const ct_node *map,
                             const char *key, uint64_t def, uint64_t min,
                             uint64_t max)
{
    uint64_t v;
    const ct_node *n = typed(r, map, key,
                             "a size like 64MiB, 512KiB or 4096",
                             parse_size, &v);
    if (!n)
        return def;
    if (v < min || v > max) {
        ct_config_read_err(r, n, "'%s' is out of range (%llu to %llu bytes)",
                           key, (unsigned long long)min,
                           (unsigned long long)max);
        return def;
    }
    return v;
}
