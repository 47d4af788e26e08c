/*
 * Bearer token check against the configured SHA-256 hashes.
 */
#include "auth.h"

#include "clock.h"
#include "error.h"
#include "token.h"

#include <sodium.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longer tokens are refused before hashing: nothing legitimate is this
 * long and it bounds the work an anonymous caller can ask for. */
#define MAX_TOKEN_LEN 512

typedef struct entry {
    uint8_t sha256[32];
    ct_principal who;
} entry;

struct ct_auth {
    entry *tokens;
    size_t ntokens;
    char (*orgs)[65]; /* the configured organisations */
    size_t norgs;
    const ct_tokens *store;  /* borrowed */
    const ct_clock *clock;   /* borrowed */
};

void ct_auth_set_tokens(ct_auth *a, const ct_tokens *t, const ct_clock *clock)
{
    a->store = t;
    a->clock = clock;
}

bool ct_principal_personal(const ct_principal *p)
{
    return p && (p->role == CT_ROLE_HUB || p->role == CT_ROLE_HOSPITAL ||
                 p->role == CT_ROLE_PROVIDER);
}

void ct_principal_actor(const ct_principal *p, char out[CT_AUTH_ACTOR_MAX])
{
    switch (p->kind) {
    case CT_PRINCIPAL_USER:
        snprintf(out, CT_AUTH_ACTOR_MAX, "user:%s@%s/%s", p->name, p->org,
                 ct_role_name(p->role));
        return;
    case CT_PRINCIPAL_CLIENT:
        snprintf(out, CT_AUTH_ACTOR_MAX, "client:%s@%s/%s", p->name, p->org,
                 ct_role_name(p->role));
        return;
    case CT_PRINCIPAL_DISPLAY:
        snprintf(out, CT_AUTH_ACTOR_MAX, "display:%s", p->name);
        return;
    case CT_PRINCIPAL_ORG:
        break;
    }
    snprintf(out, CT_AUTH_ACTOR_MAX, "org:%s/%s", p->org,
             ct_role_name(p->role));
}

int ct_auth_check_clash(const ct_config *cfg, const ct_tokens *t, char *why,
                        size_t n)
{
    for (size_t i = 0; i < cfg->norgs; i++)
        for (size_t j = 0; j < cfg->orgs[i].ntokens; j++) {
            const ct_token *hit = NULL;
            if (ct_tokens_match(t, cfg->orgs[i].tokens[j].sha256, 0, &hit) !=
                CT_TOKEN_NONE) {
                snprintf(why, n,
                         "the token at line %u (organisation %s) has the "
                         "same secret as token %lld of the token store; "
                         "every token must be its own secret",
                         cfg->orgs[i].tokens[j].line, cfg->orgs[i].id,
                         (long long)hit->id);
                return CT_ECONFIG;
            }
        }
    return 0;
}

int ct_auth_new(const ct_config *cfg, ct_auth **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return CT_EINVAL;
    size_t n = 0;
    for (size_t i = 0; i < cfg->norgs; i++)
        n += cfg->orgs[i].ntokens;
    ct_auth *a = calloc(1, sizeof *a);
    if (!a)
        return CT_ENOMEM;
    a->tokens = calloc(n ? n : 1, sizeof *a->tokens);
    if (!a->tokens) {
        free(a);
        return CT_ENOMEM;
    }
    a->orgs = calloc(cfg->norgs ? cfg->norgs : 1, sizeof *a->orgs);
    if (!a->orgs) {
        ct_auth_free(a);
        return CT_ENOMEM;
    }
    for (size_t i = 0; i < cfg->norgs; i++) {
        const ct_config_org *o = &cfg->orgs[i];
        if (strlen(o->id) >= sizeof a->tokens[0].who.org) {
            ct_auth_free(a);
            return CT_EINVAL;
        }
        for (size_t t = 0; t < o->ntokens; t++) {
            entry *e = &a->tokens[a->ntokens++];
            memcpy(e->sha256, o->tokens[t].sha256, sizeof e->sha256);
            e->who.role = o->tokens[t].role;
            e->who.kind = CT_PRINCIPAL_ORG;
            strcpy(e->who.org, o->id);
        }
        strcpy(a->orgs[a->norgs++], o->id);
    }
    *out = a;
    return 0;
}

void ct_auth_free(ct_auth *a)
{
    if (!a)
        return;
    sodium_memzero(a->tokens, a->ntokens * sizeof *a->tokens);
    free(a->tokens);
    free(a->orgs);
    free(a);
}

size_t ct_auth_count(const ct_auth *a)
{
    return a->ntokens;
}

/* The token in "Bearer TOKEN" (scheme case-insensitive, RFC 6750
 * token68 characters), or NULL. */
static const char *bearer_token(const char *header, size_t *len)
{
    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return NULL;
    const char *t = header + 7;
    while (*t == ' ')
        t++;
    size_t n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789-._~+/=");
    size_t end = n;
    while (t[end] == ' ' || t[end] == '\t')
        end++;
    if (n == 0 || n > MAX_TOKEN_LEN || t[end] != '\0')
        return NULL;
    *len = n;
    return t;
}

int ct_auth_bearer(const ct_auth *a, const char *header, ct_principal *p)
{
    size_t len = 0;
    const char *token = bearer_token(header, &len);
    if (!token)
        return CT_EDENIED;
    uint8_t h[32];
    crypto_hash_sha256(h, (const unsigned char *)token, len);

    /* Every entry is compared; the match is selected with masks, not a
     * branch, so the time does not depend on which entry matched. */
    size_t found = 0;
    unsigned matched = 0;
    for (size_t i = 0; i < a->ntokens; i++) {
        unsigned eq = (unsigned)(sodium_memcmp(h, a->tokens[i].sha256,
                                               sizeof h) == 0);
        size_t mask = (size_t)0 - (size_t)eq;
        found = (found & ~mask) | (i & mask);
        matched |= eq;
    }
    /* The token store: compared only when no config token matched (the
     * two never share a secret: ct_auth_check_clash). */
    const ct_token *tok = NULL;
    ct_token_match m = CT_TOKEN_NONE;
    if (!matched && a->store)
        m = ct_tokens_match(a->store, h,
                            a->clock ? ct_clock_now(a->clock) : 0, &tok);
    sodium_memzero(h, sizeof h);
    if (matched) {
        *p = a->tokens[found].who;
        return 0;
    }
    if (m == CT_TOKEN_EXPIRED)
        return CT_ETIMEOUT;
    if (m != CT_TOKEN_VALID)
        return CT_EDENIED;
    /* A person or client of an organisation the area no longer lists
     * has no access, whatever the store says. */
    if (tok->kind != CT_TOKEN_DISPLAY) {
        bool known = false;
        for (size_t i = 0; i < a->norgs && !known; i++)
            known = strcmp(a->orgs[i], tok->org) == 0;
        if (!known)
            return CT_EDENIED;
    }
    memset(p, 0, sizeof *p);
    p->role = tok->role;
    p->token_id = tok->id;
    snprintf(p->name, sizeof p->name, "%s", tok->name);
    switch (tok->kind) {
    case CT_TOKEN_DISPLAY:
        p->kind = CT_PRINCIPAL_DISPLAY;
        p->display = true;
        p->role = CT_ROLE_VIEWER;
        snprintf(p->org, sizeof p->org, "%s", tok->name);
        break;
    case CT_TOKEN_USER:
        p->kind = CT_PRINCIPAL_USER;
        snprintf(p->org, sizeof p->org, "%s", tok->org);
        break;
    case CT_TOKEN_CLIENT:
        p->kind = CT_PRINCIPAL_CLIENT;
        snprintf(p->org, sizeof p->org, "%s", tok->org);
        break;
    }
    return 0;
}

bool ct_auth_owns(const ct_principal *p, ct_access granted,
                  const char *owner_org)
{
    switch (granted) {
    case CT_ACCESS_ALL:
        return true;
    case CT_ACCESS_OWN:
        return owner_org && strcmp(owner_org, p->org) == 0;
    case CT_ACCESS_NONE:
        break;
    }
    return false;
}

const char *ct_access_name(ct_access a)
{
    switch (a) {
    case CT_ACCESS_NONE: return "none";
    case CT_ACCESS_OWN: return "own";
    case CT_ACCESS_ALL: return "all";
    }
    return "none";
}
