/*
 * The area config loader. Walks the YAML tree (yaml_tree.h) against the
 * schema written out below, collecting every error with its position, and
 * builds the plain-data ct_config only when there are none.
 */
#include "config.h"
#include "natid.h"

#include "error.h"
#include "util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bed range may not expand to more than this many beds. */
#define MAX_RANGE 100000
#define MAX_ID_LEN 64

typedef struct loader {
    const char *file;
    const char *dir;
    ct_diags *diags;
    size_t errors;
    ct_config *cfg;
    /* The organisations' ids sorted (load_facilities), so that naming one
     * costs a binary search, not a walk: an England-sized area names
     * about 1,500 from 15,000 facilities. */
    const char **org_ids;
    size_t norg_ids;
} loader;

static bool known_org(const loader *l, const char *id);

static void err(loader *l, const ct_node *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void err(loader *l, const ct_node *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ct_diags_add(l->diags, l->file, n ? n->line : 0, n ? n->col : 0, "%s",
                 msg);
    l->errors++;
}

/* Checks that every key of map is allowed; suggests the nearest one. */
static void check_keys(loader *l, const ct_node *map,
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
            err(l, k, "unknown key '%s' in %s; did you mean '%s'?",
                k->value, where, best);
        else
            err(l, k, "unknown key '%s' in %s", k->value, where);
    }
}

static bool is_map(loader *l, const ct_node *n, const char *what)
{
    if (n && n->kind == CT_NODE_MAP)
        return true;
    err(l, n, "%s must be a mapping, not %s", what, ct_node_describe(n));
    return false;
}

static bool is_seq(loader *l, const ct_node *n, const char *what)
{
    if (n && n->kind == CT_NODE_SEQ)
        return true;
    err(l, n, "%s must be a list, not %s", what, ct_node_describe(n));
    return false;
}

static bool is_scalar(loader *l, const ct_node *n, const char *what)
{
    if (n && n->kind == CT_NODE_SCALAR && !ct_node_is_null(n))
        return true;
    err(l, n, "%s must be a value, not %s", what, ct_node_describe(n));
    return false;
}

/* A required or optional string field; returns a copy or NULL. */
static char *get_string(loader *l, const ct_node *map, const char *key,
                        bool required, const char *where)
{
    const ct_node *n = ct_node_get(map, key);
    if (!n) {
        if (required)
            err(l, map, "%s is missing required key '%s'", where, key);
        return NULL;
    }
    char what[128];
    snprintf(what, sizeof what, "'%s'", key);
    if (!is_scalar(l, n, what))
        return NULL;
    return strdup(n->value);
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_ID_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
            return false;
    return true;
}

/* An optional national identifier (natid.h) checked for form by ok;
 * what names it in the message ("an ODS organisation code"). */
static char *get_natid(loader *l, const ct_node *map, const char *key,
                       bool (*ok)(const char *), const char *what,
                       const char *example)
{
    char *v = get_string(l, map, key, false, NULL);
    if (v && !ok(v)) {
        err(l, ct_node_get(map, key), "'%s' is not %s (expected the form %s)",
            v, what, example);
        free(v);
        return NULL;
    }
    return v;
}

/* An id field: required, [A-Za-z0-9._-]{1,64}. */
static char *get_id(loader *l, const ct_node *map, const char *key,
                    const char *where)
{
    char *id = get_string(l, map, key, true, where);
    if (id && !valid_id(id)) {
        err(l, ct_node_get(map, key),
            "'%s' is not a valid id: use 1 to %d letters, digits, '-', '_' "
            "or '.'",
            id, MAX_ID_LEN);
        free(id);
        return NULL;
    }
    return id;
}

static bool get_bool(loader *l, const ct_node *map, const char *key,
                     bool def)
{
    const ct_node *n = ct_node_get(map, key);
    if (!n)
        return def;
    if (n->kind == CT_NODE_SCALAR && !n->quoted) {
        if (strcmp(n->value, "true") == 0)
            return true;
        if (strcmp(n->value, "false") == 0)
            return false;
    }
    err(l, n, "'%s' must be true or false", key);
    return def;
}

static int64_t get_int(loader *l, const ct_node *map, const char *key,
                       int64_t def, int64_t min, int64_t max)
{
    const ct_node *n = ct_node_get(map, key);
    if (!n)
        return def;
    if (n->kind == CT_NODE_SCALAR && !n->quoted && *n->value) {
        errno = 0;
        char *end;
        long long v = strtoll(n->value, &end, 10);
        if (!*end && !errno) {
            if (v < min || v > max) {
                err(l, n, "'%s' must be between %lld and %lld, got %lld",
                    key, (long long)min, (long long)max, v);
                return def;
            }
            return v;
        }
    }
    err(l, n, "'%s' must be a whole number", key);
    return def;
}

static int64_t get_duration(loader *l, const ct_node *map, const char *key,
                            int64_t def, int64_t min, int64_t max)
{
    const ct_node *n = ct_node_get(map, key);
    if (!n)
        return def;
    int64_t v;
    if (n->kind != CT_NODE_SCALAR || ct_parse_duration_ms(n->value, &v)) {
        err(l, n, "'%s' must be a duration like 50ms, 30s, 15m, 4h or 14d",
            key);
        return def;
    }
    if (v < min || v > max) {
        err(l, n, "'%s' is out of range (%lld ms to %lld ms)", key,
            (long long)min, (long long)max);
        return def;
    }
    return v;
}

static uint64_t get_size(loader *l, const ct_node *map, const char *key,
                         uint64_t def, uint64_t min, uint64_t max)
{
    const ct_node *n = ct_node_get(map, key);
    if (!n)
        return def;
    uint64_t v;
    if (n->kind != CT_NODE_SCALAR || ct_parse_size(n->value, &v)) {
        err(l, n, "'%s' must be a size like 64MiB, 512KiB or 4096", key);
        return def;
    }
    if (v < min || v > max) {
        err(l, n, "'%s' is out of range (%llu to %llu bytes)", key,
            (unsigned long long)min, (unsigned long long)max);
        return def;
    }
    return v;
}

/* --- area, server, storage ---------------------------------------- */

static void load_area(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"id", "name", "stale_after", NULL};
    if (!n) {
        err(l, l->cfg->root, "missing required section 'area'");
        return;
    }
    if (!is_map(l, n, "'area'"))
        return;
    check_keys(l, n, keys, "'area'");
    l->cfg->area_id = get_id(l, n, "id", "'area'");
    l->cfg->area_name = get_string(l, n, "name", false, "'area'");
    /* How long a provider may go without updating before the wall names
     * it: a day by default, from a minute to 30 days. */
    l->cfg->stale_after_ms = get_duration(l, n, "stale_after", 24 * 3600000LL,
                                          60000, 30 * 86400000LL);
}

static void parse_listen(loader *l, const ct_node *n)
{
    const char *s = n->value;
    const char *colon = strrchr(s, ':');
    const char *host = s, *host_end = colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') {
            err(l, n, "'listen' must be ADDRESS:PORT, got '%s'", s);
            return;
        }
        host = s + 1;
        host_end = close;
        colon = close + 1;
    }
    if (!colon || colon == s || !colon[1]) {
        err(l, n, "'listen' must be ADDRESS:PORT, got '%s'", s);
        return;
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (*end || errno || port < 0 || port > 65535) {
        err(l, n, "'listen' port must be 0 to 65535, got '%s'", colon + 1);
        return;
    }
    free(l->cfg->listen_host);
    l->cfg->listen_host = strndup(host, (size_t)(host_end - host));
    l->cfg->listen_port = (uint16_t)port;
}

static void load_server(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"listen", NULL};
    l->cfg->listen_host = strdup("127.0.0.1");
    l->cfg->listen_port = 8470;
    if (!n || !is_map(l, n, "'server'"))
        return;
    check_keys(l, n, keys, "'server'");
    const ct_node *listen = ct_node_get(n, "listen");
    if (listen && is_scalar(l, listen, "'listen'"))
        parse_listen(l, listen);
}

static void load_storage(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"path", "synchronous", NULL};
    l->cfg->sync = CT_SYNC_FULL;
    if (n && is_map(l, n, "'storage'")) {
        check_keys(l, n, keys, "'storage'");
        l->cfg->db_path = get_string(l, n, "path", false, "'storage'");
        const ct_node *sync = ct_node_get(n, "synchronous");
        if (sync && is_scalar(l, sync, "'synchronous'")) {
            if (strcmp(sync->value, "full") == 0)
                l->cfg->sync = CT_SYNC_FULL;
            else if (strcmp(sync->value, "normal") == 0)
                l->cfg->sync = CT_SYNC_NORMAL;
            else
                err(l, sync, "'synchronous' must be full or normal, got '%s'",
                    sync->value);
        }
    }
    if (!l->cfg->db_path)
        l->cfg->db_path = strdup("caretide.db");
}

/* --- string lists ---------------------------------------------------- */

/* Reads a list of ids into *out; duplicates are errors. */
static void load_id_list(loader *l, const ct_node *n, const char *what,
                         char ***out, size_t *count)
{
    if (!is_seq(l, n, what))
        return;
    *out = calloc(n->len ? n->len : 1, sizeof **out);
    if (!*out)
        return;
    for (size_t i = 0; i < n->len; i++) {
        const ct_node *it = n->items[i];
        if (!is_scalar(l, it, "each item"))
            continue;
        if (!valid_id(it->value)) {
            err(l, it, "'%s' is not a valid name in %s", it->value, what);
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < *count; j++)
            if (strcmp((*out)[j], it->value) == 0)
                dup = 1;
        if (dup) {
            err(l, it, "'%s' is listed twice in %s", it->value, what);
            continue;
        }
        (*out)[(*count)++] = strdup(it->value);
    }
}

static void load_pathogens(loader *l, const ct_node *n)
{
    ct_config *c = l->cfg;
    if (n) {
        load_id_list(l, n, "'pathogens'", &c->pathogens, &c->npathogens);
        return;
    }
    static const char *const defaults[] = {"covid", "flu", "norovirus"};
    c->pathogens = calloc(CT_ARRAY_LEN(defaults), sizeof *c->pathogens);
    if (!c->pathogens)
        return;
    for (size_t i = 0; i < CT_ARRAY_LEN(defaults); i++)
        c->pathogens[c->npathogens++] = strdup(defaults[i]);
}

static bool known_pathogen(const ct_config *c, const char *p)
{
    for (size_t i = 0; i < c->npathogens; i++)
        if (strcmp(c->pathogens[i], p) == 0)
            return true;
    return false;
}

/* Joins a relative path onto the config's directory. */
static char *resolve(const loader *l, const char *path)
{
    if (path[0] == '/' || !l->dir || !*l->dir || strcmp(l->dir, ".") == 0)
        return strdup(path);
    size_t n = strlen(l->dir) + strlen(path) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", l->dir, path);
    return out;
}

/* --- organisations and tokens --------------------------------------- */

static void hash_secret(const char *secret, uint8_t out[32])
{
    crypto_hash_sha256(out, (const unsigned char *)secret, strlen(secret));
}

/* A token's secret from a file: the first line, surrounding whitespace
 * removed. Tokens shorter than 16 characters are refused. */
static int token_from_text(loader *l, const ct_node *n, char *text,
                           uint8_t out[32])
{
    char *s = text;
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strcspn(s, "\r\n");
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    *e = '\0';
    if (strlen(s) < 16) {
        err(l, n, "token is too short: use at least 16 characters");
        return -1;
    }
    hash_secret(s, out);
    return 0;
}

static void load_token(loader *l, const ct_node *n, ct_config_token *t)
{
    static const char *const keys[] = {"role", "sha256", "env", "file",
                                       NULL};
    t->line = n->line;
    if (!is_map(l, n, "a token"))
        return;
    check_keys(l, n, keys, "a token");
    const ct_node *role = ct_node_get(n, "role");
    if (!role)
        err(l, n, "token is missing required key 'role'");
    else if (is_scalar(l, role, "'role'")) {
        int r = ct_role_parse(role->value);
        if (r < 0)
            err(l, role, "unknown role '%s'; expected %s", role->value,
                ct_role_list());
        else
            t->role = (ct_role)r;
    }
    const ct_node *sha = ct_node_get(n, "sha256");
    const ct_node *env = ct_node_get(n, "env");
    const ct_node *file = ct_node_get(n, "file");
    int sources = !!sha + !!env + !!file;
    if (sources != 1) {
        err(l, n, "token needs exactly one of 'sha256', 'env' or 'file' "
                  "(plain tokens are never written in config)");
        return;
    }
    if (sha && is_scalar(l, sha, "'sha256'") &&
        ct_hex_decode(sha->value, t->sha256, 32))
        err(l, sha, "'sha256' must be 64 hex digits (the SHA-256 of the "
                    "token, e.g. from: printf %%s TOKEN | sha256sum)");
    if (env && is_scalar(l, env, "'env'")) {
        const char *v = getenv(env->value);
        if (!v)
            err(l, env, "environment variable '%s' is not set", env->value);
        else {
            char *copy = strdup(v);
            if (copy) {
                token_from_text(l, env, copy, t->sha256);
                sodium_memzero(copy, strlen(copy));
                free(copy);
            }
        }
    }
    if (file && is_scalar(l, file, "'file'")) {
        char *path = resolve(l, file->value), *text = NULL;
        size_t len = 0;
        if (!path || ct_read_file(path, &text, &len))
            err(l, file, "cannot read token file '%s'",
                path ? path : file->value);
        else
            token_from_text(l, file, text, t->sha256);
        if (text)
            sodium_memzero(text, len);
        free(text);
        free(path);
    }
}

/*
 * Two tokens with the same hash are the same secret: the later silently
 * won and the earlier's organisation or role was unreachable (issue 14).
 * An error naming both lines; hashes are compared in full.
 */
static void check_unique_token(loader *l, const ct_node *n,
                               const ct_config_token *t)
{
    static const uint8_t zero[32];
    if (sodium_memcmp(t->sha256, zero, 32) == 0)
        return; /* not read: its own error is reported */
    const ct_config *c = l->cfg;
    for (size_t i = 0; i < c->norgs; i++)
        for (size_t j = 0; j < c->orgs[i].ntokens; j++) {
            const ct_config_token *o = &c->orgs[i].tokens[j];
            if (o != t && o->line != t->line &&
                sodium_memcmp(o->sha256, t->sha256, 32) == 0) {
                err(l, n, "duplicate token: the same secret as the token at "
                          "line %u (organisation %s); every token must be "
                          "its own",
                    o->line, c->orgs[i].id ? c->orgs[i].id : "?");
                return;
            }
        }
}

/* Why url cannot be a webhook's address, or NULL: libcurl's own URL
 * parser, so that what check accepts is what the sender can reach. */
static const char *url_problem(const char *url)
{
    CURLU *h = curl_url();
    if (!h)
        return "cannot be checked (out of memory)";
    const char *why = NULL;
    char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL;
    if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK)
        why = "is not a URL (want http://HOST[:PORT]/PATH or https://...)";
    else if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
             (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        why = "must be http:// or https://";
    else if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
             !*host)
        why = "has no host";
    else if (curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK ||
             curl_url_get(h, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK)
        why = "must not carry a user or password (give a 'secret' from env: "
              "or file:)";
    else if (strchr(url, '?') || strchr(url, '#'))
        why = "must not have a query or fragment";
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(h);
    return why;
}

/* A webhook's secret: exactly one of env or file, the first line,
 * surrounding whitespace removed; at least 16 characters. */
static char *notify_secret(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"env", "file", NULL};
    if (!is_map(l, n, "'secret'"))
        return NULL;
    check_keys(l, n, keys, "a webhook secret");
    const ct_node *env = ct_node_get(n, "env"), *file = ct_node_get(n, "file");
    if (!!env + !!file != 1) {
        err(l, n, "'secret' needs exactly one of 'env' or 'file' (secrets "
                  "are never written in config)");
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    const ct_node *at = env ? env : file;
    if (!is_scalar(l, at, env ? "'env'" : "'file'"))
        return NULL;
    if (env) {
        const char *v = getenv(env->value);
        if (!v)
            err(l, env, "environment variable '%s' is not set", env->value);
        else if ((text = strdup(v)))
            len = strlen(text);
    } else {
        char *path = resolve(l, file->value);
        if (!path || ct_read_file(path, &text, &len))
            err(l, file, "cannot read secret file '%s'",
                path ? path : file->value);
        free(path);
    }
    if (!text)
        return NULL;
    char *s = text;
    while (isspace((unsigned char)*s))
        s++;
    size_t k = strcspn(s, "\r\n");
    while (k > 0 && isspace((unsigned char)s[k - 1]))
        k--;
    char *out = NULL;
    if (k < 16)
        err(l, at, "the secret is too short: use at least 16 characters");
    else if ((out = malloc(k + 1))) {
        memcpy(out, s, k);
        out[k] = '\0';
    }
    sodium_memzero(text, len);
    free(text);
    return out;
}

/* An organisation's notify: mapping (docs/config.md "notify"). */
static ct_config_notify *load_notify(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"url", "format", "auth", "secret",
                                       NULL};
    if (!is_map(l, n, "'notify'"))
        return NULL;
    check_keys(l, n, keys, "'notify'");
    ct_config_notify *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->line = n->line;
    w->url = get_string(l, n, "url", true, "'notify'");
    const ct_node *u = ct_node_get(n, "url");
    const char *why = w->url ? url_problem(w->url) : NULL;
    if (why)
        err(l, u, "'url' %s", why);
    const ct_node *f = ct_node_get(n, "format");
    if (f && is_scalar(l, f, "'format'")) {
        if (strcmp(f->value, "fhir-rest-hook") == 0)
            w->format = CT_NOTIFY_FHIR;
        else if (strcmp(f->value, "json") == 0)
            w->format = CT_NOTIFY_JSON;
        else
            err(l, f, "unknown format '%s'; expected fhir-rest-hook or json",
                f->value);
    }
    const ct_node *sec = ct_node_get(n, "secret");
    if (sec)
        w->secret = notify_secret(l, sec);
    const ct_node *a = ct_node_get(n, "auth");
    w->auth = sec ? CT_NOTIFY_AUTH_HMAC : CT_NOTIFY_AUTH_NONE;
    if (a && is_scalar(l, a, "'auth'")) {
        if (strcmp(a->value, "hmac") == 0)
            w->auth = CT_NOTIFY_AUTH_HMAC;
        else if (strcmp(a->value, "bearer") == 0)
            w->auth = CT_NOTIFY_AUTH_BEARER;
        else if (strcmp(a->value, "none") == 0)
            w->auth = CT_NOTIFY_AUTH_NONE;
        else
            err(l, a, "unknown auth '%s'; expected hmac, bearer or none",
                a->value);
        if (w->auth != CT_NOTIFY_AUTH_NONE && !sec)
            err(l, a, "auth '%s' needs a 'secret' (env: or file:)",
                a->value);
        if (w->auth == CT_NOTIFY_AUTH_NONE && sec)
            err(l, a, "auth 'none' with a 'secret': say hmac or bearer");
    }
    return w;
}

static void notify_free(ct_config_notify *w)
{
    if (!w)
        return;
    free(w->url);
    if (w->secret) {
        sodium_memzero(w->secret, strlen(w->secret));
        free(w->secret);
    }
    free(w);
}

static void load_orgs(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"id", "name", "ods_code", "tokens",
                                       "notify", NULL};
    ct_config *c = l->cfg;
    if (!n) {
        err(l, c->root, "missing required section 'organisations'");
        return;
    }
    if (!is_seq(l, n, "'organisations'"))
        return;
    c->orgs = calloc(n->len ? n->len : 1, sizeof *c->orgs);
    if (!c->orgs)
        return;
    for (size_t i = 0; i < n->len; i++) {
        const ct_node *o = n->items[i];
        if (!is_map(l, o, "an organisation"))
            continue;
        check_keys(l, o, keys, "an organisation");
        ct_config_org *org = &c->orgs[c->norgs++];
        org->line = o->line;
        org->id = get_id(l, o, "id", "an organisation");
        org->name = get_string(l, o, "name", true, "an organisation");
        org->ods_code = get_natid(l, o, "ods_code", ct_natid_ods_valid,
                                  "an ODS organisation code",
                                  "of 3 to 10 upper-case letters and "
                                  "digits, e.g. RXX or 8KL52");
        for (size_t j = 0; org->id && j + 1 < c->norgs; j++) {
            if (c->orgs[j].id && strcmp(c->orgs[j].id, org->id) == 0)
                err(l, ct_node_get(o, "id"),
                    "duplicate organisation id '%s' (first at line %u)",
                    org->id, c->orgs[j].line);
        }
        for (size_t j = 0; org->ods_code && j + 1 < c->norgs; j++) {
            if (c->orgs[j].ods_code &&
                strcmp(c->orgs[j].ods_code, org->ods_code) == 0)
                err(l, ct_node_get(o, "ods_code"),
                    "ODS code '%s' is already organisation '%s''s (line %u)",
                    org->ods_code, c->orgs[j].id ? c->orgs[j].id : "?",
                    c->orgs[j].line);
        }
        const ct_node *nt = ct_node_get(o, "notify");
        if (nt)
            org->notify = load_notify(l, nt);
        const ct_node *toks = ct_node_get(o, "tokens");
        if (!toks || !is_seq(l, toks, "'tokens'"))
            continue;
        org->tokens = calloc(toks->len ? toks->len : 1, sizeof *org->tokens);
        if (!org->tokens)
            continue;
        for (size_t j = 0; j < toks->len; j++) {
            ct_config_token *t = &org->tokens[org->ntokens++];
            load_token(l, toks->items[j], t);
            check_unique_token(l, toks->items[j], t);
        }
    }
}

/* --- facilities, zones, beds ----------------------------------------- */

/* Splits "WH-R07" into prefix "WH-R", number 7 and width 2. */
static bool split_numbered(const char *s, size_t *prefix_len, long *num,
                           int *width)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && isdigit((unsigned char)s[i - 1]))
        i--;
    if (i == n || n - i > 9)
        return false;
    *prefix_len = i;
    *num = strtol(s + i, NULL, 10);
    *width = (int)(n - i);
    return true;
}

typedef struct bed_list {
    ct_config_bed *items;
    size_t len, cap;
} bed_list;

static ct_config_bed *bed_push(bed_list *b)
{
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        ct_config_bed *p = realloc(b->items, cap * sizeof *p);
        if (!p)
            return NULL;
        b->items = p;
        b->cap = cap;
    }
    ct_config_bed *bed = &b->items[b->len++];
    memset(bed, 0, sizeof *bed);
    return bed;
}

static char **copy_tags(loader *l, const ct_node *n, size_t *count)
{
    char **tags = NULL;
    *count = 0;
    if (n)
        load_id_list(l, n, "'tags'", &tags, count);
    return tags;
}

/* One entry of a zone's beds list: {id: X} or {range: A..B}, with tags
 * and surge. Appends the beds it names. */
static void load_bed_entry(loader *l, const ct_node *n, bed_list *beds)
{
    static const char *const keys[] = {"id", "range", "tags", "surge", NULL};
    if (!is_map(l, n, "a bed entry"))
        return;
    check_keys(l, n, keys, "a bed entry");
    const ct_node *id = ct_node_get(n, "id");
    const ct_node *range = ct_node_get(n, "range");
    if (!!id + !!range != 1) {
        err(l, n, "a bed entry needs exactly one of 'id' or 'range'");
        return;
    }
    bool surge = get_bool(l, n, "surge", false);
    const ct_node *tags_node = ct_node_get(n, "tags");
    size_t first = beds->len;
    if (id) {
        char *bid = get_id(l, n, "id", "a bed entry");
        if (!bid)
            return;
        ct_config_bed *b = bed_push(beds);
        if (!b) {
            free(bid);
            return;
        }
        b->id = bid;
    } else {
        if (!is_scalar(l, range, "'range'"))
            return;
        const char *s = range->value, *dots = strstr(s, "..");
        char *lo = dots ? strndup(s, (size_t)(dots - s)) : NULL;
        const char *hi = dots ? dots + 2 : NULL;
        size_t plo, phi;
        long a, z;
        int wlo, whi;
        if (!lo || !split_numbered(lo, &plo, &a, &wlo) ||
            !split_numbered(hi, &phi, &z, &whi) || plo != phi ||
            strncmp(lo, hi, plo) != 0 || !valid_id(lo) || !valid_id(hi)) {
            err(l, range, "'range' must look like WH-R01..WH-R14 (same "
                          "prefix, numbers at the end), got '%s'", s);
            free(lo);
            return;
        }
        if (z < a) {
            err(l, range, "'range' %s ends before it starts", s);
            free(lo);
            return;
        }
        if (z - a + 1 > MAX_RANGE) {
            err(l, range, "'range' %s names more than %d beds", s,
                MAX_RANGE);
            free(lo);
            return;
        }
        int width = wlo == whi ? wlo : 0;
        for (long k = a; k <= z; k++) {
            ct_config_bed *b = bed_push(beds);
            char buf[MAX_ID_LEN + 16];
            snprintf(buf, sizeof buf, "%.*s%0*ld", (int)plo, lo, width, k);
            if (!b || !(b->id = strdup(buf)))
                break;
        }
        free(lo);
    }
    size_t ntags = 0;
    char **tags = copy_tags(l, tags_node, &ntags);
    for (size_t i = first; i < beds->len; i++) {
        ct_config_bed *b = &beds->items[i];
        b->surge = surge;
        b->line = n->line;
        b->col = n->col;
        b->tags = calloc(ntags ? ntags : 1, sizeof *b->tags);
        for (size_t t = 0; b->tags && t < ntags; t++)
            if ((b->tags[b->ntags] = strdup(tags[t])))
                b->ntags++;
    }
    for (size_t t = 0; t < ntags; t++)
        free(tags[t]);
    free(tags);
}

static void load_cohorts(loader *l, const ct_node *n, ct_config_zone *z)
{
    if (!is_map(l, n, "'cohort'"))
        return;
    z->cohorts = calloc(n->len ? n->len : 1, sizeof *z->cohorts);
    if (!z->cohorts)
        return;
    for (size_t i = 0; i < n->len; i++) {
        const ct_node *k = ct_node_key(n, i), *v = ct_node_value(n, i);
        if (!known_pathogen(l->cfg, k->value)) {
            err(l, k, "unknown pathogen '%s' in 'cohort'; declare it under "
                      "'pathogens'", k->value);
            continue;
        }
        if (!is_scalar(l, v, "a cohort"))
            continue;
        int c = ct_cohort_parse(v->value);
        if (c < 0) {
            err(l, v, "unknown cohort '%s' for %s; expected %s", v->value,
                k->value, ct_cohort_list());
            continue;
        }
        ct_config_cohort *cc = &z->cohorts[z->ncohorts++];
        cc->pathogen = strdup(k->value);
        cc->cohort = (ct_cohort)c;
    }
}

static void load_zone(loader *l, const ct_node *n, ct_config_zone *z)
{
    static const char *const keys[] = {"id", "name", "cohort", "closed",
                                       "beds", NULL};
    z->line = n->line;
    z->col = n->col;
    if (!is_map(l, n, "a zone"))
        return;
    check_keys(l, n, keys, "a zone");
    z->id = get_id(l, n, "id", "a zone");
    z->name = get_string(l, n, "name", false, "a zone");
    if (!z->name && z->id)
        z->name = strdup(z->id);
    z->closed = get_bool(l, n, "closed", false);
    const ct_node *cohort = ct_node_get(n, "cohort");
    if (cohort)
        load_cohorts(l, cohort, z);
    const ct_node *beds = ct_node_get(n, "beds");
    if (!beds) {
        err(l, n, "zone '%s' is missing required key 'beds'",
            z->id ? z->id : "?");
        return;
    }
    if (!is_seq(l, beds, "'beds'"))
        return;
    bed_list list = {0};
    for (size_t i = 0; i < beds->len; i++)
        load_bed_entry(l, beds->items[i], &list);
    z->beds = list.items;
    z->nbeds = list.len;
    l->cfg->nbeds += list.len;
}

static void load_facility(loader *l, const ct_node *n, ct_config_facility *f)
{
    static const char *const keys[] = {"id",           "name",
                                       "kind",         "organisation",
                                       "ods_site_code", "cqc_location_id",
                                       "designated_setting", "zones", NULL};
    f->line = n->line;
    if (!is_map(l, n, "a facility"))
        return;
    check_keys(l, n, keys, "a facility");
    f->id = get_id(l, n, "id", "a facility");
    f->name = get_string(l, n, "name", true, "a facility");
    const ct_node *kind = ct_node_get(n, "kind");
    if (!kind)
        err(l, n, "facility is missing required key 'kind'");
    else if (is_scalar(l, kind, "'kind'")) {
        int k = ct_facility_kind_parse(kind->value);
        if (k < 0)
            err(l, kind, "unknown facility kind '%s'; expected %s",
                kind->value, ct_facility_kind_list());
        else
            f->kind = (ct_facility_kind)k;
    }
    f->org = get_string(l, n, "organisation", true, "a facility");
    if (f->org && !known_org(l, f->org))
        err(l, ct_node_get(n, "organisation"),
            "facility '%s' names unknown organisation '%s'",
            f->id ? f->id : "?", f->org);
    f->ods_site = get_natid(l, n, "ods_site_code", ct_natid_ods_valid,
                            "an ODS site code",
                            "of 3 to 10 upper-case letters and digits, "
                            "e.g. RXX01");
    f->cqc_location = get_natid(l, n, "cqc_location_id", ct_natid_cqc_valid,
                                "a CQC location id",
                                "1- and 6 to 14 digits, e.g. 1-101674693");
    f->designated = get_bool(l, n, "designated_setting", false);
    const ct_node *zones = ct_node_get(n, "zones");
    if (!zones) {
        err(l, n, "facility '%s' is missing required key 'zones'",
            f->id ? f->id : "?");
        return;
    }
    if (!is_seq(l, zones, "'zones'"))
        return;
    f->zones = calloc(zones->len ? zones->len : 1, sizeof *f->zones);
    if (!f->zones)
        return;
    for (size_t i = 0; i < zones->len; i++)
        load_zone(l, zones->items[i], &f->zones[f->nzones++]);
}

typedef struct ref {
    const char *id;
    uint32_t line, col;
} ref;

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool known_org(const loader *l, const char *id)
{
    if (!l->org_ids) /* out of memory sorting them: walk the list */
        return ct_config_find_org(l->cfg, id) != NULL;
    return bsearch(&id, l->org_ids, l->norg_ids, sizeof *l->org_ids,
                   str_cmp) != NULL;
}

static int ref_cmp(const void *a, const void *b)
{
    const ref *x = a, *y = b;
    int d = strcmp(x->id, y->id);
    if (d)
        return d;
    return (x->line > y->line) - (x->line < y->line);
}

/* Reports ids used twice across the whole area: facilities, zones, beds. */
static void check_unique_ids(loader *l, const ct_node *n)
{
    const ct_config *c = l->cfg;
    /* Facilities, zones and beds: sorted by id, so that an England-sized
     * area (15,000 homes, 500,000 beds) is checked in n log n. */
    ref *facs = calloc(c->nfacilities ? c->nfacilities : 1, sizeof *facs);
    size_t fi = 0;
    for (size_t i = 0; facs && i < c->nfacilities; i++) {
        const ct_node *id = ct_node_get(n->items[i], "id");
        if (c->facilities[i].id && id)
            facs[fi++] = (ref){c->facilities[i].id, id->line, id->col};
    }
    if (facs) {
        qsort(facs, fi, sizeof *facs, ref_cmp);
        for (size_t i = 1; i < fi; i++) {
            if (strcmp(facs[i].id, facs[i - 1].id) != 0)
                continue;
            size_t first = i - 1;
            while (first > 0 && strcmp(facs[first - 1].id, facs[i].id) == 0)
                first--;
            const ct_config_facility *f1 =
                ct_config_find_facility(c, facs[first].id);
            ct_diags_add(l->diags, l->file, facs[i].line, facs[i].col,
                         "duplicate facility id '%s' (first at line %u)",
                         facs[i].id, f1 ? f1->line : facs[first].line);
            l->errors++;
        }
        free(facs);
    }
    /* Zones and beds: a sorted index keeps this fast for large areas. */
    size_t nz = 0, nb = 0;
    for (size_t i = 0; i < c->nfacilities; i++) {
        nz += c->facilities[i].nzones;
        for (size_t j = 0; j < c->facilities[i].nzones; j++)
            nb += c->facilities[i].zones[j].nbeds;
    }
    ref *zones = calloc(nz ? nz : 1, sizeof *zones);
    ref *beds = calloc(nb ? nb : 1, sizeof *beds);
    if (!zones || !beds) {
        free(zones);
        free(beds);
        return;
    }
    size_t zi = 0, bi = 0;
    for (size_t i = 0; i < c->nfacilities; i++)
        for (size_t j = 0; j < c->facilities[i].nzones; j++) {
            const ct_config_zone *z = &c->facilities[i].zones[j];
            if (z->id)
                zones[zi++] = (ref){z->id, z->line, z->col};
            for (size_t k = 0; k < z->nbeds; k++)
                beds[bi++] = (ref){z->beds[k].id, z->beds[k].line,
                                    z->beds[k].col};
        }
    struct {
        ref *items;
        size_t n;
        const char *what;
    } sets[] = {{zones, zi, "zone"}, {beds, bi, "bed"}};
    for (size_t s = 0; s < 2; s++) {
        ref *r = sets[s].items;
        /* By id then line, so "first at" names the earliest. */
        qsort(r, sets[s].n, sizeof *r, ref_cmp);
        for (size_t i = 1; i < sets[s].n; i++) {
            if (strcmp(r[i].id, r[i - 1].id) == 0) {
                size_t first = i - 1;
                while (first > 0 && strcmp(r[first - 1].id, r[i].id) == 0)
                    first--;
                ct_diags_add(l->diags, l->file, r[i].line, r[i].col,
                             "duplicate %s id '%s' (first at line %u)",
                             sets[s].what, r[i].id, r[first].line);
                l->errors++;
            }
        }
    }
    free(zones);
    free(beds);
}

static void load_facilities(loader *l, const ct_node *n)
{
    ct_config *c = l->cfg;
    if (!n) {
        err(l, c->root, "missing required section 'facilities'");
        return;
    }
    if (!is_seq(l, n, "'facilities'"))
        return;
    c->facilities = calloc(n->len ? n->len : 1, sizeof *c->facilities);
    if (!c->facilities)
        return;
    l->org_ids = calloc(c->norgs ? c->norgs : 1, sizeof *l->org_ids);
    for (size_t i = 0; l->org_ids && i < c->norgs; i++)
        if (c->orgs[i].id)
            l->org_ids[l->norg_ids++] = c->orgs[i].id;
    if (l->org_ids)
        qsort(l->org_ids, l->norg_ids, sizeof *l->org_ids, str_cmp);
    for (size_t i = 0; i < n->len; i++)
        load_facility(l, n->items[i], &c->facilities[c->nfacilities++]);
    free(l->org_ids);
    l->org_ids = NULL;
    check_unique_ids(l, n);
}

/* --- trust, plugins and limits -------------------------------------- */

/* One trusted key: inline, or `file: NAME.pub` alone. */
static void load_trust_key(loader *l, const ct_node *n)
{
    ct_trust *t = &l->cfg->trust;
    ct_trust_key key;
    const ct_node *file = n->kind == CT_NODE_MAP ? ct_node_get(n, "file")
                                                 : NULL;
    int rc;
    if (file) {
        if (n->len != 1) {
            err(l, n, "a key given by 'file' takes no other keys (the file "
                      "has them)");
            return;
        }
        if (!is_scalar(l, file, "'file'"))
            return;
        char *path = resolve(l, file->value);
        if (!path)
            return;
        rc = ct_trust_key_load(path, &key, l->diags);
        free(path);
    } else {
        rc = ct_trust_key_parse(l->file, n, &key, l->diags);
    }
    if (rc) {
        l->errors++;
        return;
    }
    const ct_trust_key *dup = ct_trust_find(t, key.id);
    if (dup)
        err(l, n, "key '%s' is trusted twice (first at line %u)", key.id,
            dup->line);
    else if (ct_trust_add(t, &key) == 0)
        return;
    ct_trust_key_clear(&key);
}

static void load_trust(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"require_signed", "keys", NULL};
    if (!n || ct_node_is_null(n) || !is_map(l, n, "'trust'"))
        return;
    check_keys(l, n, keys, "'trust'");
    l->cfg->trust.require_signed = get_bool(l, n, "require_signed", false);
    const ct_node *list = ct_node_get(n, "keys");
    if (!list || ct_node_is_null(list) || !is_seq(l, list, "'keys'"))
        return;
    for (size_t i = 0; i < list->len; i++)
        load_trust_key(l, list->items[i]);
}

static void load_plugins(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"name", "path", "settings",
                                       "require_signed", NULL};
    ct_config *c = l->cfg;
    if (!n)
        return;
    if (!is_seq(l, n, "'plugins'"))
        return;
    c->plugins = calloc(n->len ? n->len : 1, sizeof *c->plugins);
    if (!c->plugins)
        return;
    for (size_t i = 0; i < n->len; i++) {
        const ct_node *p = n->items[i];
        if (!is_map(l, p, "a plugin entry"))
            continue;
        check_keys(l, p, keys, "a plugin entry");
        ct_config_plugin *pl = &c->plugins[c->nplugins++];
        pl->line = p->line;
        pl->col = p->col;
        pl->name = get_id(l, p, "name", "a plugin entry");
        char *path = get_string(l, p, "path", false, "a plugin entry");
        if (path) {
            pl->path = resolve(l, path);
            free(path);
        }
        pl->require_signed = get_bool(l, p, "require_signed",
                                      c->trust.require_signed);
        const ct_node *settings = ct_node_get(p, "settings");
        if (settings && !ct_node_is_null(settings) &&
            is_map(l, settings, "'settings'"))
            pl->settings = settings;
        for (size_t j = 0; pl->name && j + 1 < c->nplugins; j++)
            if (c->plugins[j].name &&
                strcmp(c->plugins[j].name, pl->name) == 0)
                err(l, ct_node_get(p, "name"),
                    "plugin '%s' is listed twice (first at line %u)",
                    pl->name, c->plugins[j].line);
    }
}

static void load_plugin_path(loader *l, const ct_node *n)
{
    ct_config *c = l->cfg;
    if (n) {
        char **raw = NULL;
        size_t count = 0;
        if (!is_seq(l, n, "'plugin_path'"))
            return;
        raw = calloc(n->len ? n->len : 1, sizeof *raw);
        if (!raw)
            return;
        for (size_t i = 0; i < n->len; i++)
            if (is_scalar(l, n->items[i], "each 'plugin_path' entry"))
                raw[count++] = resolve(l, n->items[i]->value);
        c->plugin_path = raw;
        c->nplugin_path = count;
        return;
    }
    c->plugin_path = calloc(2, sizeof *c->plugin_path);
    if (!c->plugin_path)
        return;
    c->plugin_path[c->nplugin_path++] = resolve(l, "plugins");
    c->plugin_path[c->nplugin_path++] = strdup(CT_PLUGIN_INSTALL_DIR);
}

/* tests: [PATH, ...], the area's own test files (docs/testing.md). */
static void load_tests(loader *l, const ct_node *n)
{
    ct_config *c = l->cfg;
    if (!n || !is_seq(l, n, "'tests'"))
        return;
    c->tests = calloc(n->len ? n->len : 1, sizeof *c->tests);
    c->test_lines = calloc(n->len ? n->len : 1, sizeof *c->test_lines);
    if (!c->tests || !c->test_lines)
        return;
    for (size_t i = 0; i < n->len; i++)
        if (is_scalar(l, n->items[i], "each 'tests' entry")) {
            c->test_lines[c->ntests] = n->items[i]->line;
            c->tests[c->ntests++] = resolve(l, n->items[i]->value);
        }
}

static void load_limits(loader *l, const ct_node *n)
{
    static const char *const keys[] = {
        "plugin_memory", "plugin_deadline", "schedule_deadline",
        "quarantine_after", "plugin_kv", "max_body", "hold_ttl",
        "request_timeout", "plugin_decision_budget", "plugin_minute_budget",
        "header_timeout", "connections_per_address", "self_test_timeout",
        NULL};
    ct_config_limits *lim = &l->cfg->limits;
    const uint64_t MiB = 1024 * 1024;
    if (n && !is_map(l, n, "'limits'"))
        n = NULL;
    if (n)
        check_keys(l, n, keys, "'limits'");
    lim->plugin_memory =
        get_size(l, n, "plugin_memory", 64 * MiB, 1 * MiB, 4096 * MiB);
    lim->plugin_deadline_ms =
        get_duration(l, n, "plugin_deadline", 50, 1, 60000);
    /* Scheduled jobs run between requests on the same loop: their own
     * budget, longer than a hook's, still short enough not to stall the
     * API; long jobs work in slices (docs/plugins.md). */
    /* The loop waits for a call at most its deadline plus the watchdog's
     * 200 ms (docs/sandbox.md): 500 ms keeps health within a second. */
    lim->schedule_deadline_ms =
        get_duration(l, n, "schedule_deadline", 500, 1, 60000);
    lim->quarantine_after =
        (uint32_t)get_int(l, n, "quarantine_after", 5, 1, 1000);
    lim->plugin_decision_budget_ms =
        get_duration(l, n, "plugin_decision_budget", 250, 1, 600000);
    lim->plugin_minute_budget_ms =
        get_duration(l, n, "plugin_minute_budget", 5000, 1, 60000);
    lim->plugin_kv_bytes = get_size(l, n, "plugin_kv", 1 * MiB, 1024,
                                    1024 * MiB);
    lim->max_body = get_size(l, n, "max_body", 64 * 1024, 1024, 64 * MiB);
    lim->hold_ttl_ms = get_duration(l, n, "hold_ttl", 4 * 3600000LL, 1000,
                                    30 * 86400000LL);
    lim->request_timeout_ms =
        get_duration(l, n, "request_timeout", 10000, 100, 600000);
    lim->header_timeout_ms =
        get_duration(l, n, "header_timeout", 10000, 100, 600000);
    lim->connections_per_address = (uint32_t)get_int(
        l, n, "connections_per_address", 64, 1, 1024);
    /* A reload runs signed bundles' own tests in a child process, killed
     * after this long (docs/sandbox.md). */
    lim->self_test_timeout_ms =
        get_duration(l, n, "self_test_timeout", 60000, 1000, 3600000);
}

/* Retries of notifications (docs/config.md "notifications"). */
static void load_notifications(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"max_attempts", "backoff",
                                       "max_backoff", "timeout", NULL};
    ct_config_notifications *o = &l->cfg->notifications;
    if (n && !is_map(l, n, "'notifications'"))
        n = NULL;
    if (n)
        check_keys(l, n, keys, "'notifications'");
    o->max_attempts = (uint32_t)get_int(l, n, "max_attempts", 10, 1, 1000);
    o->backoff_ms = get_duration(l, n, "backoff", 10000, 100, 3600000);
    o->max_backoff_ms =
        get_duration(l, n, "max_backoff", 3600000, 100, 7 * 86400000LL);
    o->timeout_ms = get_duration(l, n, "timeout", 10000, 100, 300000);
    if (n && o->max_backoff_ms < o->backoff_ms)
        err(l, ct_node_get(n, "max_backoff") ? ct_node_get(n, "max_backoff")
                                              : n,
            "'max_backoff' must not be shorter than 'backoff'");
}

/* --- entry points ---------------------------------------------------- */

/* The section of root (its index) that holds line, or -1 before the
 * first: a section runs from its key to the line before the next key. */
static long section_of(const ct_node *root, uint32_t line)
{
    long at = -1;
    for (size_t i = 0; root->kind == CT_NODE_MAP && i < root->len; i++)
        if (ct_node_key(root, i)->line <= line)
            at = (long)i;
    return at;
}

/*
 * After YAML syntax errors (diags [syntax, check)) the rest of the file
 * was checked with the lines in error left out. What is found in a
 * section that held such a line may only be the hole they left (a key
 * missing because its line was left out), and so is what has no line:
 * only the errors of untouched sections are kept.
 */
static void keep_untouched(ct_diags *d, size_t syntax, size_t check,
                           const ct_node *root)
{
    size_t out = check;
    for (size_t i = check; i < d->len; i++) {
        ct_diag *g = &d->items[i];
        long sec = g->line && g->line > 1 ? section_of(root, g->line) : -1;
        bool touched = sec < 0;
        for (size_t j = syntax; !touched && j < check; j++)
            touched = section_of(root, d->items[j].line) == sec;
        if (touched) {
            free(g->file);
            free(g->message);
        } else {
            d->items[out++] = *g;
        }
    }
    d->len = out;
}

static int load_text(const char *file, const char *dir, const char *text,
                     size_t len, bool keep_partial, ct_config **out,
                     ct_diags *diags);

int ct_config_load_text(const char *file, const char *dir, const char *text,
                        size_t len, ct_config **out, ct_diags *diags)
{
    return load_text(file, dir, text, len, false, out, diags);
}

static int load_text(const char *file, const char *dir, const char *text,
                     size_t len, bool keep_partial, ct_config **out,
                     ct_diags *diags)
{
    static const char *const keys[] = {
        "area",       "server",   "storage", "pathogens", "organisations",
        "facilities", "plugins",  "plugin_path", "trust", "limits",
        "tests",      "notifications", NULL};
    *out = NULL;
    if (sodium_init() < 0)
        return CT_ENOMEM;
    ct_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return CT_ENOMEM;
    cfg->file = strdup(file);
    cfg->dir = strdup(dir ? dir : ".");
    loader l = {.file = file, .dir = cfg->dir, .diags = diags, .cfg = cfg};

    /* After a syntax error the rest of the file is still checked (with
     * the lines in error left out), so one run shows every error. */
    ct_node *rest = NULL;
    size_t first_syntax = diags->len;
    int rc = ct_yaml_parse_lenient(file, text, len, &cfg->root, &rest, diags);
    size_t first_check = diags->len;
    if (rc && !rest) {
        ct_config_free(cfg);
        return rc == CT_ENOMEM ? rc : CT_ECONFIG;
    }
    if (rc) {
        cfg->root = rest;
        l.errors++;
    }
    const ct_node *root = cfg->root;
    if (root->kind != CT_NODE_MAP) {
        err(&l, root, "the config must be a mapping of sections (area, "
                      "organisations, facilities, ...), not %s",
            ct_node_describe(root));
    } else {
        check_keys(&l, root, keys, "the config");
        load_area(&l, ct_node_get(root, "area"));
        load_server(&l, ct_node_get(root, "server"));
        load_storage(&l, ct_node_get(root, "storage"));
        load_pathogens(&l, ct_node_get(root, "pathogens"));
        load_orgs(&l, ct_node_get(root, "organisations"));
        load_facilities(&l, ct_node_get(root, "facilities"));
        load_plugin_path(&l, ct_node_get(root, "plugin_path"));
        load_tests(&l, ct_node_get(root, "tests"));
        load_trust(&l, ct_node_get(root, "trust"));
        load_plugins(&l, ct_node_get(root, "plugins"));
        load_limits(&l, ct_node_get(root, "limits"));
        load_notifications(&l, ct_node_get(root, "notifications"));
    }
    if (rest)
        keep_untouched(diags, first_syntax, first_check, cfg->root);
    if (l.errors) {
        if (keep_partial)
            *out = cfg;
        else
            ct_config_free(cfg);
        return CT_ECONFIG;
    }
    if (cfg->db_path) {
        char *p = resolve(&l, cfg->db_path);
        free(cfg->db_path);
        cfg->db_path = p;
    }
    *out = cfg;
    return 0;
}

static int load_file(const char *path, bool keep_partial, ct_config **out,
                     ct_diags *diags);

int ct_config_load_file(const char *path, ct_config **out, ct_diags *diags)
{
    return load_file(path, false, out, diags);
}

int ct_config_load_file_partial(const char *path, ct_config **out,
                                ct_diags *diags)
{
    return load_file(path, true, out, diags);
}

int ct_config_load_demo_partial(ct_config **out, ct_diags *diags)
{
    *out = NULL;
    const ct_embedded *e = ct_embedded_find(CT_CONFIG_DEMO);
    if (!e)
        return CT_ENOTFOUND;
    return load_text("<demo>/" CT_CONFIG_DEMO, ".", e->data, e->len, true,
                     out, diags);
}

static int load_file(const char *path, bool keep_partial, ct_config **out,
                     ct_diags *diags)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = ct_read_file(path, &text, &len);
    if (rc) {
        ct_diags_add(diags, path, 0, 0, "cannot read config: %s",
                     rc == CT_ENOTFOUND ? "no such file" : ct_strerror(rc));
        return rc;
    }
    char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = '\0';
    rc = load_text(path, slash ? dir : ".", text, len, keep_partial, out,
                   diags);
    free(dir);
    free(text);
    return rc;
}

int ct_config_load_demo(ct_config **out, ct_diags *diags)
{
    const ct_embedded *e = ct_embedded_find(CT_CONFIG_DEMO);
    if (!e)
        return CT_ENOTFOUND;
    return ct_config_load_text("<demo>/" CT_CONFIG_DEMO, ".", e->data,
                               e->len, out, diags);
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void ct_config_free(ct_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->norgs; i++) {
        free(cfg->orgs[i].id);
        free(cfg->orgs[i].name);
        free(cfg->orgs[i].ods_code);
        free(cfg->orgs[i].tokens);
        notify_free(cfg->orgs[i].notify);
    }
    free(cfg->orgs);
    for (size_t i = 0; i < cfg->nfacilities; i++) {
        ct_config_facility *f = &cfg->facilities[i];
        for (size_t j = 0; j < f->nzones; j++) {
            ct_config_zone *z = &f->zones[j];
            for (size_t k = 0; k < z->nbeds; k++) {
                free(z->beds[k].id);
                free_strings(z->beds[k].tags, z->beds[k].ntags);
            }
            free(z->beds);
            for (size_t k = 0; k < z->ncohorts; k++)
                free(z->cohorts[k].pathogen);
            free(z->cohorts);
            free(z->id);
            free(z->name);
        }
        free(f->zones);
        free(f->id);
        free(f->name);
        free(f->org);
        free(f->ods_site);
        free(f->cqc_location);
    }
    free(cfg->facilities);
    for (size_t i = 0; i < cfg->nplugins; i++) {
        free(cfg->plugins[i].name);
        free(cfg->plugins[i].path);
    }
    free(cfg->plugins);
    ct_trust_clear(&cfg->trust);
    free_strings(cfg->pathogens, cfg->npathogens);
    free_strings(cfg->plugin_path, cfg->nplugin_path);
    free_strings(cfg->tests, cfg->ntests);
    free(cfg->test_lines);
    free(cfg->file);
    free(cfg->dir);
    free(cfg->area_id);
    free(cfg->area_name);
    free(cfg->listen_host);
    free(cfg->db_path);
    ct_node_free(cfg->root);
    free(cfg);
}

const ct_config_org *ct_config_find_org(const ct_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->norgs; i++)
        if (cfg->orgs[i].id && strcmp(cfg->orgs[i].id, id) == 0)
            return &cfg->orgs[i];
    return NULL;
}

const ct_config_org *ct_config_find_org_by_ods(const ct_config *cfg,
                                               const char *ods)
{
    for (size_t i = 0; ods && i < cfg->norgs; i++)
        if (cfg->orgs[i].ods_code && strcmp(cfg->orgs[i].ods_code, ods) == 0)
            return &cfg->orgs[i];
    return NULL;
}

const ct_config_facility *ct_config_find_facility(const ct_config *cfg,
                                                  const char *id)
{
    for (size_t i = 0; i < cfg->nfacilities; i++)
        if (cfg->facilities[i].id && strcmp(cfg->facilities[i].id, id) == 0)
            return &cfg->facilities[i];
    return NULL;
}
