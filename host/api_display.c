/*
 * Display credentials over the API (display.h): POST /v1/displays issues
 * one for a named screen and answers its secret and link once; GET lists
 * them (no secrets); POST /v1/displays/{name}/revoke revokes one, at
 * once. The hub and admins only; each change is an audited event.
 */
#include "api_int.h"

#include "display.h"
#include "error.h"

#include <stdio.h>

/* POST /v1/displays {"name": "hub-wall"} */
int ct_api__display_issue(ct_http_req *r, void *app)
{
    static const char *const keys[] = {"name", NULL};
    const char *name = NULL;
    int err;
    if ((err = ct_http_field_only(r, NULL, keys)) ||
        (err = ct_http_field_string(r, "name", true, CT_DISPLAY_NAME_MAX,
                                    &name)))
        return err;
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    char secret[CT_DISPLAY_SECRET_LEN + 1];
    ct_cap_error cerr = {0};
    int rc = ct_display_issue(ct_daemon_capacity(app),
                              ct_daemon_displays(app), name, actor, secret,
                              &cerr);
    if (rc)
        return ct_api__cap_reply(r, rc, &cerr, "name");
    /* The link opens the dashboard in wall mode; the secret rides in the
     * fragment, which browsers never send to a server or a proxy log. */
    char link[CT_DISPLAY_SECRET_LEN + 16];
    snprintf(link, sizeof link, "/#display=%s", secret);
    json_t *out = json_pack("{s:s, s:s, s:s}", "name", name, "secret",
                            secret, "link", link);
    return out ? ct_http_reply_json(r, 201, out) : CT_ENOMEM;
}

/* GET /v1/displays */
int ct_api__display_list(ct_http_req *r, void *app)
{
    json_t *out = NULL;
    ct_cap_error cerr = {0};
    int rc = ct_display_list_json(ct_daemon_capacity(app), &out, &cerr);
    return rc ? ct_api__cap_reply(r, rc, &cerr, NULL)
              : ct_http_reply_json(r, 200, out);
}

/* POST /v1/displays/{name}/revoke */
int ct_api__display_revoke(ct_http_req *r, void *app)
{
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    ct_cap_error cerr = {0};
    int rc = ct_display_revoke(ct_daemon_capacity(app),
                               ct_daemon_displays(app),
                               ct_http_req_param(r, "id"), actor, &cerr);
    if (rc)
        return ct_api__cap_reply(r, rc, &cerr, NULL);
    json_t *out = json_pack("{s:s, s:b}", "name", ct_http_req_param(r, "id"),
                            "revoked", 1);
    return out ? ct_http_reply_json(r, 200, out) : CT_ENOMEM;
}
