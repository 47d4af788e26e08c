/*
 * Area-wide reads: GET /v1/escalation and GET /v1/audit.
 */
#include "api_int.h"

#include "audit.h"
#include "error.h"
#include "escalation.h"
#include "notify.h"

#include <stdlib.h>
#include <string.h>

/* GET /v1/escalation?limit=N: every role. The current level (1 when none
 * was ever recorded), since when, why, its actions and the latest N
 * changes (default 20). */
int ct_api__escalation(ct_http_req *r, void *app)
{
    int64_t limit;
    int err = ct_http_query_int(r, "limit", 1, 1000, 20, &limit);
    if (err)
        return err;
    json_t *e;
    if ((err = ct_escalation_json(ct_daemon_store(app), (int)limit, &e)))
        return err;
    return ct_http_reply_json(r, 200, e);
}

/* GET /v1/audit?after=SEQ&limit=N: hub, viewer and admin. Events after
 * seq, oldest first, at most N (default 100, at most 1000), hashes in
 * hex; next is the seq to pass as after, null when the page is short. */
int ct_api__audit(ct_http_req *r, void *app)
{
    int64_t after, limit;
    int err;
    if ((err = ct_http_query_int(r, "after", 0, INT64_MAX, 0, &after)) ||
        (err = ct_http_query_int(r, "limit", 1, 1000, 100, &limit)))
        return err;
    json_t *events;
    if ((err = ct_audit_list_json(ct_daemon_store(app), after, (int)limit,
                                  &events)))
        return err;
    size_t n = json_array_size(events), i;
    json_t *ev;
    /* The hub reads whole payloads, NHS numbers among them: the range
     * read is recorded (first and last seq). */
    if (n && (err = ct_api__audit_read(
                  r, app, "events",
                  json_pack("[O, O]",
                            json_object_get(json_array_get(events, 0), "seq"),
                            json_object_get(json_array_get(events, n - 1),
                                            "seq"))))) {
        json_decref(events);
        return err;
    }
    json_array_foreach(events, i, ev) ct_api__redact_event(r, ev);
    return ct_api__page_reply(r, "events", events, limit, "seq");
}

/* GET /v1/notifications?status=&before=&limit=: the outbox of referrer
 * notifications, newest first, each with its attempts (notify.h). Ids,
 * states and delivery only: no payloads, no people. */
int ct_api__notifications(ct_http_req *r, void *app)
{
    int64_t before, limit;
    int err;
    if ((err = ct_http_query_int(r, "before", 1, INT64_MAX, 0, &before)) ||
        (err = ct_http_query_int(r, "limit", 1, 500, 100, &limit)))
        return err;
    const char *status = ct_http_req_query(r, "status");
    if (status && strcmp(status, "pending") != 0 &&
        strcmp(status, "delivered") != 0 && strcmp(status, "failed") != 0)
        return ct_http_error(r, 400, "invalid", "status",
                             "'status' must be pending, delivered or failed");
    json_t *list;
    if ((err = ct_notify_list_json(ct_daemon_store(app),
                                   ct_daemon_config(app)->area_id, status,
                                   before, (int)limit, &list)))
        return err;
    return ct_api__page_reply(r, "notifications", list, limit, "id");
}

/* GET /v1/notifications/{id}: one notification and its attempts. */
int ct_api__notification_get(ct_http_req *r, void *app)
{
    const char *text = ct_http_req_param(r, "id");
    char *end = NULL;
    long long id = text ? strtoll(text, &end, 10) : 0;
    if (!text || !*text || *end || id <= 0)
        return ct_http_error(r, 404, "not_found", NULL,
                             "notification '%s' does not exist",
                             text ? text : "");
    json_t *one;
    int err = ct_notify_get_json(ct_daemon_store(app),
                                 ct_daemon_config(app)->area_id, id, &one);
    if (err == CT_ENOTFOUND)
        return ct_http_error(r, 404, "not_found", NULL,
                             "notification %lld does not exist", id);
    if (err)
        return err;
    return ct_http_reply_json(r, 200, one);
}
