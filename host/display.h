/*
 * Display credentials: the secret of a named screen on a wall (a "display
 * link", docs/reports.md "The wall"). A display sees aggregate figures
 * only, never personal data: the route table marks the few routes it may
 * read (host/api.c), and the dashboard opens with no sign-in when the
 * link carries the secret (#display=SECRET).
 *
 * A credential is 32 random bytes, shown once as 43 base64url characters
 * and kept as its SHA-256 hash in the display table, with who issued and
 * revoked it; issuing and revoking are audited events (display.issued,
 * display.revoked) in the same transaction. The daemon keeps the valid
 * hashes in memory (ct_displays), which ct_auth consults after the
 * configured tokens, so a revocation takes effect on the next request
 * and a config reload does not touch displays.
 */
#ifndef CT_DISPLAY_H
#define CT_DISPLAY_H

#include "capacity.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define CT_DISPLAY_NAME_MAX 64
#define CT_DISPLAY_SECRET_LEN 43 /* base64url of 32 bytes, no padding */

typedef struct ct_displays ct_displays;

/* Loads the valid credentials from the store. *out is freed with
 * ct_displays_free. */
int ct_displays_load(ct_capacity *c, ct_displays **out, ct_cap_error *err);
void ct_displays_free(ct_displays *d);

/*
 * Whether the SHA-256 hash h is a valid display credential; when it is,
 * its name is copied into name. Compares every entry whatever matches
 * (constant time in which entry matched).
 */
bool ct_displays_match(const ct_displays *d, const uint8_t h[32],
                       char name[CT_DISPLAY_NAME_MAX + 1]);

/*
 * Issues a credential for the screen called name (letters, digits, '-',
 * '_', '.'; at most 64) by actor: a new row, or a revoked name issued
 * again; CT_ECONFLICT when name is already valid, CT_EINVAL for a bad
 * name. The secret (NUL-terminated) is written to secret, for the caller
 * to show once; d learns the hash when the call succeeds.
 */
int ct_display_issue(ct_capacity *c, ct_displays *d, const char *name,
                     const char *actor,
                     char secret[CT_DISPLAY_SECRET_LEN + 1],
                     ct_cap_error *err);

/* Revokes name (CT_ENOTFOUND when no valid credential has it). */
int ct_display_revoke(ct_capacity *c, ct_displays *d, const char *name,
                      const char *actor, ct_cap_error *err);

/* {displays: [{name, issued_at, issued_by, revoked_at, revoked_by}]},
 * a new object; no secrets, no hashes. */
int ct_display_list_json(ct_capacity *c, json_t **out, ct_cap_error *err);

#endif
