/*
 * API authentication and the role rules. Bearer tokens are configured per
 * organisation with a role (hub, hospital, provider, viewer, admin) and
 * kept only as SHA-256 hashes; a request's token is hashed and compared
 * against every configured hash in constant time, so neither timing nor
 * an early exit tells which token (if any) was close.
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

/* Who is calling: the organisation and role the token is bound to. A
 * display credential (display.h) calls as a viewer with display set and
 * org holding the screen's name; it may use only the routes marked for
 * displays (aggregate figures). */
typedef struct ct_principal {
    ct_role role;
    char org[65]; /* organisation id (ids are at most 64 characters) */
    bool display;
} ct_principal;

typedef struct ct_displays ct_displays;

typedef struct ct_auth ct_auth;

/* Builds the token table from cfg (hashes and org ids are copied, so cfg
 * may be freed after). *out is freed with ct_auth_free. */
int ct_auth_new(const ct_config *cfg, ct_auth **out);
void ct_auth_free(ct_auth *a);

/*
 * Checks an Authorization header value ("Bearer TOKEN"; header may be
 * NULL). Returns 0 and fills *p for a configured token; CT_EDENIED for a
 * missing, malformed or unknown token. The comparison runs over every
 * configured token whatever matches.
 */
int ct_auth_bearer(const ct_auth *a, const char *header, ct_principal *p);

/* The display credentials consulted after the configured tokens
 * (borrowed; NULL for none). Kept by the daemon across reloads. */
void ct_auth_set_displays(ct_auth *a, const ct_displays *d);

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
