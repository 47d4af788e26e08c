/*
 * Display credentials: the secret of a named screen on a wall (a "display
 * link", docs/reports.md "The wall"). A display sees aggregate figures
 * only, never personal data: the route table marks the few routes it may
 * read (host/api.c), and the dashboard opens with no sign-in when the
 * link carries the secret (#display=SECRET).
 *
 * Displays are entries of kind display in the token store (token.h),
 * beside named users and machine clients: issued and revoked through the
 * API (api_display.c) or `caretide token add --display NAME` and `token
 * revoke`; the chain records display.issued and display.revoked with who
 * did it (token_audit.h). These functions work on a store the caller has
 * loaded and saves (ct_daemon_tokens_edit).
 */
#ifndef CT_DISPLAY_H
#define CT_DISPLAY_H

#include "token.h"

#include <jansson.h>
#include <stdint.h>

#define CT_DISPLAY_NAME_MAX CT_TOKEN_NAME_MAX
#define CT_DISPLAY_SECRET_LEN CT_TOKEN_SECRET_LEN

/*
 * Issues a credential for the screen called name (letters, digits, '-',
 * '_', '.'; at most 64) by actor at now: CT_EEXISTS when name already
 * has a valid one, CT_EINVAL for a bad name, each with a sentence in why.
 * The secret (NUL-terminated) is written to secret, for the caller to
 * show once.
 */
int ct_display_issue(ct_tokens *t, const char *name, const char *actor,
                     int64_t now, char secret[CT_DISPLAY_SECRET_LEN + 1],
                     char *why, size_t n);

/* Revokes name (CT_ENOTFOUND when no valid credential has it). */
int ct_display_revoke(ct_tokens *t, const char *name, const char *actor,
                      int64_t now, char *why, size_t n);

/* {displays: [{id, name, issued_at, issued_by, expires_at, revoked_at,
 * revoked_by}]} by name, a new object; no secrets, no hashes. */
json_t *ct_display_list_json(const ct_tokens *t);

#endif
