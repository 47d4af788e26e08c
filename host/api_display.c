/*
 * Display credentials over the API (display.h): POST /v1/displays issues
 * one for a named screen and answers its secret and link once; GET lists
 * them (no secrets); POST /v1/displays/{name}/revoke revokes one, at
 * once. The hub and admins only; each change is an audited event. They
 * are entries of the token store (token.h), which `caretide token`
 * manages too.
 */
#include "api_int.h"

#include "display.h"
#include "error.h"

#include <stdio.h>

typedef struct edit {
    const char *name;
    const char *actor;
    int64_t now;
    char secret[CT_DISPLAY_SECRET_LEN + 1];
    char why[200];
} edit;

static int issue(ct_tokens *t, void *arg)
{
    edit *e = arg;
    return ct_display_issue(t, e->name, e->actor, e->now, e->secret, e->why,
                            sizeof e->why);
}

static int revoke(ct_tokens *t, void *arg)
{
    edit *e = arg;
    return ct_display_revoke(t, e->name, e->actor, e->now, e->why,
                             sizeof e->why);
}

static int edited(ct_http_req *r, int rc, const edit *e, const char *field)
{
    switch (rc) {
    case CT_EINVAL:
        return ct_http_error(r, 400, "invalid", field, "%s", e->why);
    case CT_ENOTFOUND:
        return ct_http_error(r, 404, "not_found", NULL, "%s", e->why);
    case CT_EEXISTS:
        return ct_http_error(r, 409, "conflict", NULL, "%s", e->why);
    default:
        return rc;
    }
}

/* POST /v1/displays {"name": "hub-wall"} */
int ct_api__display_issue(ct_http_req *r, void *app)
{
    static const char *const keys[] = {"name", NULL};
    edit e = {0};
    int err;
    if ((err = ct_http_field_only(r, NULL, keys)) ||
        (err = ct_http_field_string(r, "name", true, CT_DISPLAY_NAME_MAX,
                                    &e.name)))
        return err;
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    e.actor = actor;
    e.now = ct_clock_now(ct_daemon_clock(app));
    int rc = ct_daemon_tokens_edit(app, issue, &e, e.why, sizeof e.why);
    if (rc)
        return edited(r, rc, &e, "name");
    /* The link opens the dashboard in wall mode; the secret rides in the
     * fragment, which browsers never send to a server or a proxy log. */
    char link[CT_DISPLAY_SECRET_LEN + 16];
    snprintf(link, sizeof link, "/#display=%s", e.secret);
    json_t *out = json_pack("{s:s, s:s, s:s}", "name", e.name, "secret",
                            e.secret, "link", link);
    return out ? ct_http_reply_json(r, 201, out) : CT_ENOMEM;
}

/* GET /v1/displays */
int ct_api__display_list(ct_http_req *r, void *app)
{
    json_t *out = ct_display_list_json(ct_daemon_tokens(app));
    return out ? ct_http_reply_json(r, 200, out) : CT_ENOMEM;
}

/* POST /v1/displays/{name}/revoke */
int ct_api__display_revoke(ct_http_req *r, void *app)
{
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    edit e = {.name = ct_http_req_param(r, "id"), .actor = actor};
    e.now = ct_clock_now(ct_daemon_clock(app));
    int rc = ct_daemon_tokens_edit(app, revoke, &e, e.why, sizeof e.why);
    if (rc)
        return edited(r, rc, &e, NULL);
    json_t *out = json_pack("{s:s, s:b}", "name", e.name, "revoked", 1);
    return out ? ct_http_reply_json(r, 200, out) : CT_ENOMEM;
}
