/*
 * Bearer token check against the configured SHA-256 hashes.
 */
#include "auth.h"

#include "display.h"
#include "error.h"

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
    const ct_displays *displays; /* borrowed */
};

void ct_auth_set_displays(ct_auth *a, const ct_displays *d)
{
    a->displays = d;
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
            strcpy(e->who.org, o->id);
        }
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
    /* A display credential: compared only when no token matched, so a
     * person's token always keeps its role. */
    char name[CT_DISPLAY_NAME_MAX + 1];
    bool display = !matched && ct_displays_match(a->displays, h, name);
    sodium_memzero(h, sizeof h);
    if (display) {
        memset(p, 0, sizeof *p);
        p->role = CT_ROLE_VIEWER;
        p->display = true;
        snprintf(p->org, sizeof p->org, "%s", name);
        return 0;
    }
    if (!matched)
        return CT_EDENIED;
    *p = a->tokens[found].who;
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
