/*
 * The audit of the token store (token.h). The token file changes outside
 * the database (the CLI edits it while the daemon runs), so the daemon
 * compares it with what the chain last recorded of each credential
 * (table token_seen) and appends one event per change, with the actor the
 * file names for it: token.added, token.rotated, token.revoked,
 * token.expiry_changed, token.removed (display.issued, display.rotated,
 * display.revoked for screens on a wall). Nothing secret goes into an
 * event: no secret, no hash.
 */
#ifndef CT_TOKEN_AUDIT_H
#define CT_TOKEN_AUDIT_H

#include "events.h"
#include "store.h"
#include "token.h"

#include <stdint.h>

/*
 * Records the events of every difference between t and token_seen on the
 * area's event bus (audited only, not delivered to plugins), and brings
 * token_seen in line, inside the caller's open transaction on the bus's
 * store (the caller rolls back on an error). *events (may be NULL) gets
 * how many were recorded. Borrows bus and t.
 */
int ct_token_audit_sync(ct_events *bus, const ct_tokens *t, int *events);

/*
 * Moves the display credentials of migration 9 (table display) into t,
 * keeping who issued and revoked them and when, and empties the table,
 * inside the caller's transaction. A credential whose hash t already
 * holds is not added again. *moved gets how many were added; the caller
 * saves t before it commits.
 */
int ct_token_import_displays(ct_store *s, ct_tokens *t, int *moved);

#endif
