/*
 * GET /v1/waiting-list (docs/api.md "The waiting list"): the referrals
 * that wait, in the order the host serves them, each with why it waits.
 */
#include "api_int.h"

#include "capacity_waitlist.h"
#include "error.h"

/* GET /v1/waiting-list?after=&limit=: hub ALL, hospital OWN (its own
 * referrals, at their places in the whole list), viewer and admin ALL
 * without the person (pseudonymous ids and figures). A read of people's
 * data, audited as access.read naming the referrals shown. */
int ct_api__waitlist(ct_http_req *r, void *app)
{
    ct_capacity *cap = ct_daemon_capacity(app);
    int64_t after, limit;
    int err;
    if ((err = ct_http_query_int(r, "after", 0, INT64_MAX, 0, &after)) ||
        (err = ct_http_query_int(r, "limit", 1, 1000, 100, &limit)))
        return err;
    const ct_principal *p = ct_http_req_principal(r);
    ct_waitlist_query q = {
        .from_org = ct_http_req_access(r) == CT_ACCESS_OWN ? p->org : NULL,
        .after = after,
        .limit = (int)limit};
    ct_cap_error cerr = {0};
    json_t *page = NULL;
    int rc = ct_capacity_waitlist_json(cap, &q, &page, &cerr);
    if (rc)
        return ct_api__cap_reply(r, rc, &cerr, NULL);
    json_t *ids = json_array(), *e;
    size_t i;
    json_array_foreach(json_object_get(page, "waiting"), i, e)
    {
        json_array_append(ids, json_object_get(e, "id"));
        ct_api__redact_waiting(r, e);
    }
    if ((err = ct_api__audit_read(r, app, "referrals", ids))) {
        json_decref(page);
        return err;
    }
    return ct_http_reply_json(r, 200, page);
}
