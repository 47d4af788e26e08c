/*
 * API authentication and the role rules. Bearer tokens come from two
 * places, both kept only as SHA-256 hashes: the area config (organisation
 * tokens, for machine clients and the demo) and the token store
 * (token.h: named users, machine clients, screens on a wall), which can
 * expire and be revoked. A request's token is hashed and compared against
 * every hash in constant time, so neither timing nor an early exit tells
 * which token (if any) was close.
 *
 * What a role may do on a route is one cell of the role matrix, kept in
 * the route table (host/api.c): NONE (403), ALL, or OWN: allowed, but
 * only on data of the caller's own organisation (a hospital's referrals,
 * a provider's beds), which the handler checks with ct_auth_owns once it
 * knows the owner. The rules in words:
 *   hub       reads and changes everything (the area's coordinator)
 *   hospital  creates referrals, sees and changes only its own
 *   provider  reads capacity, changes only its own facilities' beds
 *   viewer    reads only
 *   admin     reads everything and may reload; no clinical changes
 */
#ifndef CT_AUTH_H
#define CT_AUTH_H

#include "config.h"
#include "model.h"

#include <stdbool.h>

typedef enum ct_access {
    CT_ACCESS_NONE,
    CT_ACCESS_OWN,
    CT_ACCESS_ALL,
} ct_access;

/* What kind of credential called. */
typedef enum ct_principal_kind {
    CT_PRINCIPAL_ORG,     /* an organisation token of the config */
    CT_PRINCIPAL_USER,    /* a named person (token store) */
    CT_PRINCIPAL_CLIENT,  /* a machine client (token store) */
    CT_PRINCIPAL_DISPLAY, /* a screen on a wall (token store) */
} ct_principal_kind;

/* Who is calling: the organisation and role the token is bound to, and
 * for the token store's credentials the name (user id, client, screen)
 * and the entry's id. A display credential (display.h) calls as a viewer
 * with display set and org holding the screen's name; it may use only
 * the routes marked for displays (aggregate figures). */
typedef struct ct_principal {
    ct_role role;
    char org[65]; /* organisation id (ids are at most 64 characters) */
    bool display;
    ct_principal_kind kind;
    char name[65];
    int64_t token_id; /* 0 for a config token */
} ct_principal;

/* Whether the principal works with people (hub, hospital, provider):
 * it sees personal data, and each read of it is recorded in the audit
 * chain (docs/api.md "Audited access"). Viewers, admins and displays see
 * aggregates and pseudonymous ids only, and their reads are not. */
bool ct_principal_personal(const ct_principal *p);

/* Longest audit actor: "client:" + name + "@" + org + "/" + role. */
#define CT_AUTH_ACTOR_MAX 160

/* The caller as an audit actor: "org:ORG/ROLE" for a config token,
 * "user:ID@ORG/ROLE", "client:NAME@ORG/ROLE", "display:NAME". */
void ct_principal_actor(const ct_principal *p, char out[CT_AUTH_ACTOR_MAX]);

struct ct_tokens;
struct ct_clock;

typedef struct ct_auth ct_auth;

/* Builds the token table from cfg (hashes and org ids are copied, so cfg
 * may be freed after). *out is freed with ct_auth_free. */
int ct_auth_new(const ct_config *cfg, ct_auth **out);
void ct_auth_free(ct_auth *a);

/*
 * Checks an Authorization header value ("Bearer TOKEN"; header may be
 * NULL). Returns 0 and fills *p for a configured token or a valid entry
 * of the token store; CT_ETIMEOUT for a store entry whose expiry has
 * passed; CT_EDENIED for a missing, malformed, unknown or revoked token.
 * The comparison runs over every token whatever matches.
 */
int ct_auth_bearer(const ct_auth *a, const char *header, ct_principal *p);

/* The token store consulted after the configured tokens, and the clock
 * its expiries are read against (both borrowed; NULL for none). The
 * daemon swaps the store whenever its file changes. */
void ct_auth_set_tokens(ct_auth *a, const struct ct_tokens *t,
                        const struct ct_clock *clock);

/* 0, or CT_ECONFIG with a sentence in why when a token of cfg has the
 * same secret as an entry of the store (every secret must be its own:
 * the later would never match). */
int ct_auth_check_clash(const ct_config *cfg, const struct ct_tokens *t,
                        char *why, size_t n);

/* Number of configured tokens. */
size_t ct_auth_count(const ct_auth *a);

/*
 * Whether p, granted access on a route, may touch data owned by
 * owner_org: ALL always, OWN only when owner_org is p's organisation,
 * NONE never. owner_org may be NULL (owned by nobody: only ALL).
 */
bool ct_auth_owns(const ct_principal *p, ct_access granted,
                  const char *owner_org);

/* "none", "own", "all". */
const char *ct_access_name(ct_access a);

#endif
