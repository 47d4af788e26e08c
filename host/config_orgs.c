/*
 * The area config's organisations, their API tokens and webhooks
 * (config.h).
 */
#include "config_int.h"
#include "natid.h"

#include "util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        ct_config_read_err(&l->rd, n,
                           "token is too short: use at least 16 characters");
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
    if (!ct_config_read_map(&l->rd, n, "a token"))
        return;
    ct_config_read_keys(&l->rd, n, keys, "a token");
    const ct_node *role = ct_node_get(n, "role");
    if (!role)
        ct_config_read_err(&l->rd, n, "token is missing required key 'role'");
    else if (ct_config_read_scalar(&l->rd, role, "'role'")) {
        int r = ct_role_parse(role->value);
        if (r < 0)
            ct_config_read_err(&l->rd, role, "unknown role '%s'; expected %s",
                               role->value, ct_role_list());
        else
            t->role = (ct_role)r;
    }
    const ct_node *sha = ct_node_get(n, "sha256");
    const ct_node *env = ct_node_get(n, "env");
    const ct_node *file = ct_node_get(n, "file");
    int sources = !!sha + !!env + !!file;
    if (sources != 1) {
        ct_config_read_err(
            &l->rd, n,
            "token needs exactly one of 'sha256', 'env' or 'file' "
            "(plain tokens are never written in config)");
        return;
    }
    if (sha && ct_config_read_scalar(&l->rd, sha, "'sha256'") &&
        ct_hex_decode(sha->value, t->sha256, 32))
        ct_config_read_err(&l->rd, sha,
                           "'sha256' must be 64 hex digits (the SHA-256 of the "
                           "token, e.g. from: printf %%s TOKEN | sha256sum)");
    if (env && ct_config_read_scalar(&l->rd, env, "'env'")) {
        const char *v = getenv(env->value);
        if (!v)
            ct_config_read_err(&l->rd, env,
                               "environment variable '%s' is not set",
                               env->value);
        else {
            char *copy = strdup(v);
            if (copy) {
                token_from_text(l, env, copy, t->sha256);
                sodium_memzero(copy, strlen(copy));
                free(copy);
            }
        }
    }
    if (file && ct_config_read_scalar(&l->rd, file, "'file'")) {
        char *path = ct_config__resolve(l, file->value), *text = NULL;
        size_t len = 0;
        if (!path || ct_read_file(path, &text, &len))
            ct_config_read_err(&l->rd, file, "cannot read token file '%s'",
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
                ct_config_read_err(
                    &l->rd, n,
                    "duplicate token: the same secret as the token at "
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
    if (!ct_config_read_map(&l->rd, n, "'secret'"))
        return NULL;
    ct_config_read_keys(&l->rd, n, keys, "a webhook secret");
    const ct_node *env = ct_node_get(n, "env"), *file = ct_node_get(n, "file");
    if (!!env + !!file != 1) {
        ct_config_read_err(
            &l->rd, n,
            "'secret' needs exactly one of 'env' or 'file' (secrets "
            "are never written in config)");
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    const ct_node *at = env ? env : file;
    if (!ct_config_read_scalar(&l->rd, at, env ? "'env'" : "'file'"))
        return NULL;
    if (env) {
        const char *v = getenv(env->value);
        if (!v)
            ct_config_read_err(&l->rd, env,
                               "environment variable '%s' is not set",
                               env->value);
        else if ((text = strdup(v)))
            len = strlen(text);
    } else {
        char *path = ct_config__resolve(l, file->value);
        if (!path || ct_read_file(path, &text, &len))
            ct_config_read_err(&l->rd, file, "cannot read secret file '%s'",
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
        ct_config_read_err(
            &l->rd, at, "the secret is too short: use at least 16 characters");
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
    if (!ct_config_read_map(&l->rd, n, "'notify'"))
        return NULL;
    ct_config_read_keys(&l->rd, n, keys, "'notify'");
    ct_config_notify *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->line = n->line;
    w->url = ct_config_read_string(&l->rd, n, "url", true, "'notify'");
    const ct_node *u = ct_node_get(n, "url");
    const char *why = w->url ? url_problem(w->url) : NULL;
    if (why)
        ct_config_read_err(&l->rd, u, "'url' %s", why);
    const ct_node *f = ct_node_get(n, "format");
    if (f && ct_config_read_scalar(&l->rd, f, "'format'")) {
        if (strcmp(f->value, "fhir-rest-hook") == 0)
            w->format = CT_NOTIFY_FHIR;
        else if (strcmp(f->value, "json") == 0)
            w->format = CT_NOTIFY_JSON;
        else
            ct_config_read_err(
                &l->rd, f,
                "unknown format '%s'; expected fhir-rest-hook or json",
                f->value);
    }
    const ct_node *sec = ct_node_get(n, "secret");
    if (sec)
        w->secret = notify_secret(l, sec);
    const ct_node *a = ct_node_get(n, "auth");
    w->auth = sec ? CT_NOTIFY_AUTH_HMAC : CT_NOTIFY_AUTH_NONE;
    if (a && ct_config_read_scalar(&l->rd, a, "'auth'")) {
        if (strcmp(a->value, "hmac") == 0)
            w->auth = CT_NOTIFY_AUTH_HMAC;
        else if (strcmp(a->value, "bearer") == 0)
            w->auth = CT_NOTIFY_AUTH_BEARER;
        else if (strcmp(a->value, "none") == 0)
            w->auth = CT_NOTIFY_AUTH_NONE;
        else
            ct_config_read_err(
                &l->rd, a, "unknown auth '%s'; expected hmac, bearer or none",
                a->value);
        if (w->auth != CT_NOTIFY_AUTH_NONE && !sec)
            ct_config_read_err(&l->rd, a,
                               "auth '%s' needs a 'secret' (env: or file:)",
                               a->value);
        if (w->auth == CT_NOTIFY_AUTH_NONE && sec)
            ct_config_read_err(
                &l->rd, a, "auth 'none' with a 'secret': say hmac or bearer");
    }
    return w;
}

void ct_config__notify_free(ct_config_notify *w)
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

void ct_config__load_orgs(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"id",     "name",   "ods_code",
                                       "tokens", "notify", NULL};
    ct_config *c = l->cfg;
    if (!n) {
        ct_config_read_err(&l->rd, c->root,
                           "missing required section 'organisations'");
        return;
    }
    if (!ct_config_read_seq(&l->rd, n, "'organisations'"))
        return;
    c->orgs = calloc(n->len ? n->len : 1, sizeof *c->orgs);
    if (!c->orgs)
        return;
    for (size_t i = 0; i < n->len; i++) {
        const ct_node *o = n->items[i];
        if (!ct_config_read_map(&l->rd, o, "an organisation"))
            continue;
        ct_config_read_keys(&l->rd, o, keys, "an organisation");
        ct_config_org *org = &c->orgs[c->norgs++];
        org->line = o->line;
        org->id = ct_config_read_id(&l->rd, o, "id", "an organisation");
        org->name =
            ct_config_read_string(&l->rd, o, "name", true, "an organisation");
        org->ods_code =
            ct_config_read_natid(&l->rd, o, "ods_code", ct_natid_ods_valid,
                                 "an ODS organisation code",
                                 "of 3 to 10 upper-case letters and "
                                 "digits, e.g. RXX or 8KL52");
        for (size_t j = 0; org->id && j + 1 < c->norgs; j++) {
            if (c->orgs[j].id && strcmp(c->orgs[j].id, org->id) == 0)
                ct_config_read_err(
                    &l->rd, ct_node_get(o, "id"),
                    "duplicate organisation id '%s' (first at line %u)",
                    org->id, c->orgs[j].line);
        }
        for (size_t j = 0; org->ods_code && j + 1 < c->norgs; j++) {
            if (c->orgs[j].ods_code &&
                strcmp(c->orgs[j].ods_code, org->ods_code) == 0)
                ct_config_read_err(
                    &l->rd, ct_node_get(o, "ods_code"),
                    "ODS code '%s' is already organisation '%s''s (line %u)",
                    org->ods_code, c->orgs[j].id ? c->orgs[j].id : "?",
                    c->orgs[j].line);
        }
        const ct_node *nt = ct_node_get(o, "notify");
        if (nt)
            org->notify = load_notify(l, nt);
        const ct_node *toks = ct_node_get(o, "tokens");
        if (!toks || !ct_config_read_seq(&l->rd, toks, "'tokens'"))
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
