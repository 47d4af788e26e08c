/*
 * Existing residents (docs/api.md "Existing residents"): PUT and DELETE
 * /v1/beds/{id}/resident, a bed occupied by someone without a referral in
 * caretide, recorded by its provider (capacity_resident.h).
 */
#include "api_int.h"

#include "capacity_resident.h"
#include "capacity_view.h"
#include "error.h"

#include <string.h>

/* The bed of the path when the caller may change it: 404 for none, 403
 * for another organisation's. */
static int bed_owned(ct_http_req *r, ct_capacity *cap, const char **id)
{
    *id = ct_http_req_param(r, "id");
    char org[CT_CAP_ID_MAX];
    ct_cap_error cerr = {0};
    int rc = ct_capacity_view_bed_org(cap, *id, org, &cerr);
    if (rc)
        return ct_api__cap_reply(r, rc, &cerr, NULL);
    char what[CT_CAP_ID_MAX + 8];
    snprintf(what, sizeof what, "bed %s", *id);
    return ct_http_req_owns_known(r, what, org);
}

static int bed_reply(ct_http_req *r, ct_capacity *cap, const char *id,
                     bool created)
{
    json_t *bed = ct_api__bed_json(cap, id);
    return bed ? ct_http_reply_json(r, 200,
                                    json_pack("{s:o, s:b}", "bed", bed,
                                              "created", created))
               : CT_ENOMEM;
}

/* "expected_end": a UK day (the stay ends as it begins) or a time; null
 * or absent for none. */
static int expected_end(ct_http_req *r, int64_t *out)
{
    *out = 0;
    json_t *body = NULL, *v = NULL;
    int err = ct_http_req_json(r, &body);
    if (err || json_is_null(json_object_get(body, "expected_end")))
        return err;
    if ((err = ct_http_field_json(r, "expected_end", false, JSON_STRING,
                                  &v)) ||
        !v)
        return err;
    const char *s = json_string_value(v);
    int64_t ms;
    if (ct_clock_parse(s, &ms))
        return ct_http_error(r, 400, "invalid", "expected_end",
                             "'expected_end' must be YYYY-MM-DD or "
                             "YYYY-MM-DDTHH:MM:SSZ");
    *out = strlen(s) == 10 ? ct_clock_uk_midnight(ms / 86400000) : ms;
    return 0;
}

/* PUT /v1/beds/{id}/resident {"expected_end": DAY|TIME|null, "note"}:
 * hub ALL, provider OWN, admin ALL. Records a resident in an available
 * bed, or sets the expected end of the one there. 200 {"bed", "created"}. */
int ct_api__resident_put(ct_http_req *r, void *app)
{
    static const char *const keys[] = {"expected_end", "note", NULL};
    ct_capacity *cap = ct_daemon_capacity(app);
    const char *id, *note = NULL;
    int64_t end = 0;
    size_t len;
    int err;
    /* No body at all: a resident with no expected end. */
    ct_http_req_body(r, &len);
    if (len && ((err = ct_http_field_only(r, NULL, keys)) ||
                (err = ct_http_field_string(r, "note", false,
                                            CT_RESIDENT_NOTE_MAX, &note)) ||
                (err = expected_end(r, &end))))
        return err;
    if ((err = bed_owned(r, cap, &id)))
        return err;
    if (note && !*note)
        return ct_http_error(r, 400, "invalid", "note",
                             "'note' must not be empty");
    if (end && end <= ct_clock_now(ct_daemon_clock(app)))
        return ct_http_error(r, 400, "invalid", "expected_end",
                             "'expected_end' must be in the future");
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    ct_cap_error cerr = {0};
    bool created = false;
    int rc = ct_capacity_resident_set(cap, id, end, note, actor, &created,
                                      &cerr);
    return rc ? ct_api__cap_reply(r, rc, &cerr, NULL)
              : bed_reply(r, cap, id, created);
}

/* DELETE /v1/beds/{id}/resident: the resident left; the bed is free and
 * offered down the waiting list. 200 {"bed"}; 409 when it has none. */
int ct_api__resident_delete(ct_http_req *r, void *app)
{
    ct_capacity *cap = ct_daemon_capacity(app);
    const char *id;
    int err;
    if ((err = bed_owned(r, cap, &id)))
        return err;
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    ct_cap_error cerr = {0};
    int rc = ct_capacity_resident_leave(cap, id, actor, &cerr);
    return rc ? ct_api__cap_reply(r, rc, &cerr, NULL)
              : bed_reply(r, cap, id, false);
}
