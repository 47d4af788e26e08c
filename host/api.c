/*
 * The route table of the HTTP API and the daemon's own handlers.
 */
#include "api.h"

#include "daemon.h"
#include "error.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define UNIT "api"

/* GET /v1/health: no token; 200 when ready, 503 while starting. */
static int health(ct_http_req *r, void *app)
{
    bool ready;
    json_t *h = ct_daemon_health(app, &ready);
    return ct_http_reply_json(r, ready ? 200 : 503, h);
}

/* GET /metrics: Prometheus text. A READ route, so collectors may query
 * the store outside any open group. */
static int metrics(ct_http_req *r, void *app)
{
    ct_buf b = {0};
    int err = ct_prom_render(ct_daemon_prom(app), &b);
    if (err) {
        ct_buf_free(&b);
        return err;
    }
    return ct_http_reply_buf(r, 200, CT_PROM_CONTENT_TYPE, b.data, b.len);
}

static json_t *stats_json(const ct_reconcile_stats *s)
{
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, "
                     "s:i}",
                     "orgs_added", s->orgs_added, "orgs_changed",
                     s->orgs_changed, "facilities_added",
                     s->facilities_added, "facilities_changed",
                     s->facilities_changed, "facilities_retired",
                     s->facilities_retired, "zones_added", s->zones_added,
                     "zones_changed", s->zones_changed, "zones_retired",
                     s->zones_retired, "beds_added", s->beds_added,
                     "beds_changed", s->beds_changed, "beds_retired",
                     s->beds_retired);
}

static int reload_refused(ct_http_req *r, int err, const ct_diags *diags)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < diags->len; i++) {
        const ct_diag *g = &diags->items[i];
        json_array_append_new(
            list, g->line ? json_sprintf("%s:%u:%u: %s", g->file, g->line,
                                         g->col, g->message)
                          : json_sprintf("%s: %s", g->file, g->message));
    }
    json_t *body = json_pack(
        "{s:{s:s, s:s+, s:n, s:o*}}", "error", "code", "invalid_config",
        "message", "the configuration was not reloaded: ", ct_strerror(err),
        "field", "diagnostics", list);
    return ct_http_reply_json(r, 422, body);
}

/* POST /v1/admin/reload, optional body {"reason": "..."}: reloads the
 * config file like SIGHUP. A READ route: it runs outside any group,
 * since reconcile needs a transaction of its own. */
static int reload(ct_http_req *r, void *app)
{
    static const char *const keys[] = {"reason", NULL};
    const char *reason = NULL;
    size_t len;
    ct_http_req_body(r, &len);
    int err;
    if (len && ((err = ct_http_field_only(r, NULL, keys)) ||
                (err = ct_http_field_string(r, "reason", false, 500,
                                            &reason))))
        return err;
    const ct_principal *who = ct_http_req_principal(r);
    ct_log_info(UNIT, "reload requested by %s (%s), request %s%s%s",
                who->org, ct_role_name(who->role), ct_http_req_id(r),
                reason ? ": " : "", reason ? reason : "");
    ct_diags diags = {0};
    ct_reconcile_stats stats;
    err = ct_daemon_reload(app, &diags, &stats);
    if (err == CT_ECONFIG || (err && diags.len)) {
        err = reload_refused(r, err, &diags);
        ct_diags_free(&diags);
        return err;
    }
    ct_diags_free(&diags);
    if (err)
        return err;
    const ct_config *cfg = ct_daemon_config(app);
    return ct_http_reply_json(r, 200,
                              json_pack("{s:s, s:s, s:o}", "status",
                                        "reloaded", "area", cfg->area_id,
                                        "changes", stats_json(&stats)));
}

/*
 * The role matrix. Each row: method, path, kind, public, then the access
 * of each role in ct_role order (hub, hospital, provider, viewer, admin):
 * NONE is refused with 403, OWN limits the caller to its organisation's
 * data (the handler checks with ct_http_req_owns), ALL allows.
 */
#define ROLES(hub, hospital, provider, viewer, admin)                    \
    {CT_ACCESS_##hub, CT_ACCESS_##hospital, CT_ACCESS_##provider,        \
     CT_ACCESS_##viewer, CT_ACCESS_##admin}

const ct_http_route ct_api_routes[] = {
    {CT_HTTP_GET, "/v1/health", CT_ROUTE_PLAIN, true,
     ROLES(ALL, ALL, ALL, ALL, ALL), health},
    {CT_HTTP_GET, "/metrics", CT_ROUTE_READ, false,
     ROLES(ALL, ALL, ALL, ALL, ALL), metrics},
    {CT_HTTP_POST, "/v1/admin/reload", CT_ROUTE_READ, false,
     ROLES(NONE, NONE, NONE, NONE, ALL), reload},
};

const size_t ct_api_nroutes = CT_ARRAY_LEN(ct_api_routes);

void ct_api_print_routes(FILE *out)
{
    static const char *const kinds[] = {"plain", "read", "write"};
    for (size_t i = 0; i < ct_api_nroutes; i++) {
        const ct_http_route *rt = &ct_api_routes[i];
        fprintf(out, "%s %s %s", ct_http_method_name(rt->method),
                rt->pattern, kinds[rt->kind]);
        if (rt->public) {
            fputs(" public\n", out);
            continue;
        }
        for (int role = 0; role < CT_ROLE__COUNT; role++)
            fprintf(out, " %s=%s", ct_role_name((ct_role)role),
                    ct_access_name(rt->access[role]));
        fputc('\n', out);
    }
}
