/*
 * Outbound notifications (docs/api.md "Notifications", docs/config.md
 * "notify"): when a referral is held, placed, declined, expired,
 * discharged, completed or cancelled, the referring organisation's system
 * is told at its webhook, as a FHIR rest-hook (the Task PUT to
 * URL/Task/{id}) or as caretide's own JSON event.
 *
 * The change writes a row of the outbox (table notification, migration
 * 14) in its own transaction, through the event bus's hook (events.h), so
 * a notification is kept exactly when its change is; the row is sent off
 * the loop's critical path after the commit, with libcurl's multi
 * interface on the daemon's libuv loop, retried with exponential backoff
 * and jitter up to notifications.max_attempts, and every attempt is kept
 * (table notification_attempt). A row not yet delivered when the process
 * dies is sent after the restart: delivery is at least once, and each
 * request carries an Idempotency-Key the receiver can dedupe on.
 *
 * A unit that joins the daemon from above through daemon.h only: `caretide
 * run` hands ct_notify_unit to ct_daemon_run. The listing functions are
 * for GET /v1/notifications (api_area.c).
 */
#ifndef CT_NOTIFY_H
#define CT_NOTIFY_H

#include "daemon.h"

#include <jansson.h>
#include <stdint.h>

extern const ct_daemon_unit ct_notify_unit;

/*
 * The outbox newest first (area: the area id, for the idempotency keys):
 * rows with status (NULL: any; else "pending",
 * "delivered" or "failed") and id below before (0: from the newest), at
 * most limit (1 to 500), each with its attempts. *out is a new array.
 * CT_EINVAL for an unknown status.
 */
int ct_notify_list_json(ct_store *s, const char *area, const char *status,
                        int64_t before, int limit, json_t **out);
/* One row with its attempts (*out new), or CT_ENOTFOUND. */
int ct_notify_get_json(ct_store *s, const char *area, int64_t id,
                       json_t **out);

#endif
