/*
 * The route table of the HTTP API, the daemon's own handlers and the
 * helpers the other handler files share (api_int.h).
 */
#include "api_int.h"

#include "error.h"
#include "log.h"
#include "pipeline.h"
#include "referral.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT "api"

/* ---- helpers ----------------------------------------------------------- */

void ct_api__actor(const ct_http_req *r, char out[CT_API__ACTOR_MAX])
{
    const ct_principal *p = ct_http_req_principal(r);
    if (p)
        ct_principal_actor(p, out);
    else
        snprintf(out, CT_API__ACTOR_MAX, "anonymous");
}

int ct_api__cap_reply(ct_http_req *r, int rc, const ct_cap_error *err,
                      const char *field)
{
    const char *msg = err && err->message[0] ? err->message : ct_strerror(rc);
    const char *code;
    unsigned status = ct_http_status_for(rc, &code);
    /* A refusal the client can act on, said in the unit's own words; the
     * rest (busy, full, internal) is the server's general reply. */
    if (status && status < 422) {
        ct_http_error(r, status, code, status == 400 ? field : NULL, "%s",
                      msg);
        return rc;
    }
    ct_log_error(UNIT, "request %s: %s (%s)", ct_http_req_id(r), msg,
                 ct_err_name(rc));
    return rc;
}

int ct_api__page_reply(ct_http_req *r, const char *name, json_t *list,
                       int64_t limit, const char *key)
{
    size_t n = json_array_size(list);
    json_t *last = n == (size_t)limit ? json_array_get(list, n - 1) : NULL;
    return ct_http_reply_json(
        r, 200,
        json_pack("{s:o, s:O}", name, list, "next",
                  last ? json_object_get(last, key) : json_null()));
}

int ct_api__referral(ct_http_req *r, ct_capacity *cap, int64_t id,
                     json_t **ref)
{
    ct_cap_error err = {0};
    int rc = ct_referral_get_json(cap, id, ref, &err);
    return rc ? ct_api__cap_reply(r, rc, &err, NULL) : 0;
}

json_t *ct_api__decision(ct_capacity *cap, int64_t id, json_t *decision)
{
    ct_cap_error err = {0};
    if (!decision && ct_pipeline_stored_decision(cap, id, &decision, &err))
        decision = json_null();
    return decision;
}

int ct_api__referral_id(ct_http_req *r, int64_t *id)
{
    const char *s = ct_http_req_param(r, "id");
    char *end = NULL;
    errno = 0;
    long long v = s && *s >= '1' && *s <= '9' ? strtoll(s, &end, 10) : 0;
    if (!end || *end || errno || v < 1 || v > (1LL << 53))
        return ct_http_error(r, 404, "not_found", NULL,
                             "referral '%s' does not exist", s ? s : "");
    *id = v;
    return 0;
}

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

/* The end of a reload an API caller waits for. */
static void on_reloaded(int err, ct_diags *diags,
                        const ct_reconcile_stats *stats, void *ud)
{
    ct_http_req *r = ud;
    if (err == CT_ECONFIG || (err && diags->len))
        reload_refused(r, err, diags);
    else if (!err) {
        const ct_config *cfg = ct_daemon_config(ct_http_req_app(r));
        ct_http_reply_json(r, 200,
                           json_pack("{s:s, s:s, s:o}", "status", "reloaded",
                                     "area", cfg->area_id, "changes",
                                     stats_json(stats)));
    }
    ct_http_req_done(r, err);
}

/* POST /v1/admin/reload, optional body {"reason": "..."}: reloads the
 * config file like SIGHUP and answers once it has (the bundles' own tests
 * run in a child process meanwhile: the loop goes on serving). 409 while
 * another reload runs. */
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
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    err = ct_daemon_reload_start(app, actor, on_reloaded, r);
    if (err == CT_ESTATE)
        return ct_http_error(r, 503, "unavailable", NULL,
                             "the daemon is shutting down; no reload");
    if (err == CT_EBUSY)
        return ct_http_error(r, 409, "conflict", NULL,
                             "a reload is already running; send this again "
                             "once it has ended");
    if (err)
        return err;
    ct_http_req_later(r);
    return 0;
}

/* A backup name chosen by the caller: one plain file name. */
static bool backup_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 100 || n[0] == '.')
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
              *p == '-'))
            return false;
    return true;
}

/* POST /v1/admin/backup, optional body {"name": "FILE"}: starts a
 * backup into the backups directory beside the database and answers 202
 * at once; GET /v1/health shows its progress and outcome (docs/api.md).
 * A PLAIN route: it only queues work for the thread pool. */
static int backup(ct_http_req *r, void *app)
{
    static const char *const keys[] = {"name", NULL};
    const char *name = NULL;
    size_t len;
    ct_http_req_body(r, &len);
    int err;
    if (len && ((err = ct_http_field_only(r, NULL, keys)) ||
                (err = ct_http_field_string(r, "name", false, 100, &name))))
        return err;
    if (name && !backup_name_ok(name))
        return ct_http_error(r, 400, "invalid", "name",
                             "expected a plain file name of letters, digits, "
                             "'.', '_' and '-'");
    char *path = NULL;
    err = ct_daemon_backup_start(app, name, &path);
    if (err == CT_EBUSY)
        return ct_http_error(r, 409, "busy", NULL,
                             "a backup is already running");
    if (err == CT_EEXISTS)
        return ct_http_error(r, 409, "exists", "name",
                             "a backup of that name exists");
    if (err)
        return err;
    const ct_principal *who = ct_http_req_principal(r);
    ct_log_info(UNIT, "backup to %s requested by %s (%s), request %s", path,
                who->org, ct_role_name(who->role), ct_http_req_id(r));
    return ct_http_reply_json(r, 202,
                              json_pack("{s:s, s:s, s:s}", "status",
                                        "started", "path", path, "progress",
                                        "GET /v1/health, member backup"));
}

/*
 * The role matrix. Each row: method, path, kind, public, then the access
 * of each role in ct_role order (hub, hospital, provider, viewer, admin):
 * NONE is refused with 403, OWN limits the caller to its organisation's
 * data (the handler checks with ct_http_req_owns), ALL allows.
 */
#define ROLES(hub, hospital, provider, viewer, admin)                    \
    {CT_ACCESS_##hub, CT_ACCESS_##hospital, CT_ACCESS_##provider,        \
     CT_ACCESS_##viewer, CT_ACCESS_##admin, CT_ACCESS_NONE}
/* The same, and a display credential (a screen on a wall, display.h) may
 * read it too: aggregate figures only, never a person. */
#define ROLES_AND_DISPLAY(hub, hospital, provider, viewer, admin)        \
    {CT_ACCESS_##hub, CT_ACCESS_##hospital, CT_ACCESS_##provider,        \
     CT_ACCESS_##viewer, CT_ACCESS_##admin, CT_ACCESS_ALL}

const ct_http_route ct_api_routes[] = {
    {CT_HTTP_GET, "/v1/health", CT_ROUTE_PLAIN, true,
     ROLES(ALL, ALL, ALL, ALL, ALL), health},
    {CT_HTTP_GET, "/metrics", CT_ROUTE_READ, false,
     ROLES(ALL, ALL, ALL, ALL, ALL), metrics},
    {CT_HTTP_POST, "/v1/admin/reload", CT_ROUTE_READ, false,
     ROLES(NONE, NONE, NONE, NONE, ALL), reload},
    {CT_HTTP_POST, "/v1/admin/backup", CT_ROUTE_PLAIN, false,
     ROLES(NONE, NONE, NONE, NONE, ALL), backup},

    {CT_HTTP_GET, "/v1/capacity", CT_ROUTE_READ, false,
     ROLES_AND_DISPLAY(ALL, ALL, ALL, ALL, ALL), ct_api__capacity},
    {CT_HTTP_GET, "/v1/beds", CT_ROUTE_READ, false,
     ROLES(ALL, ALL, ALL, ALL, ALL), ct_api__beds},
    {CT_HTTP_PATCH, "/v1/beds/{id}", CT_ROUTE_WRITE, false,
     ROLES(ALL, NONE, OWN, NONE, NONE), ct_api__bed_patch},
    /* Existing residents: the provider running the bed, the hub, and
     * admins (a stay names no person). */
    {CT_HTTP_PUT, "/v1/beds/{id}/resident", CT_ROUTE_WRITE, false,
     ROLES(ALL, NONE, OWN, NONE, ALL), ct_api__resident_put},
    {CT_HTTP_DELETE, "/v1/beds/{id}/resident", CT_ROUTE_WRITE, false,
     ROLES(ALL, NONE, OWN, NONE, ALL), ct_api__resident_delete},
    {CT_HTTP_PATCH, "/v1/zones/{id}", CT_ROUTE_WRITE, false,
     ROLES(ALL, NONE, OWN, NONE, NONE), ct_api__zone_patch},

    {CT_HTTP_POST, "/v1/referrals", CT_ROUTE_WRITE, false,
     ROLES(ALL, OWN, NONE, NONE, NONE), ct_api__referral_create},
    {CT_HTTP_GET, "/v1/referrals", CT_ROUTE_AUDITED, false,
     ROLES(ALL, OWN, OWN, ALL, ALL), ct_api__referral_list},
    {CT_HTTP_GET, "/v1/referrals/{id}", CT_ROUTE_AUDITED, false,
     ROLES(ALL, OWN, OWN, ALL, ALL), ct_api__referral_get},
    {CT_HTTP_PATCH, "/v1/referrals/{id}", CT_ROUTE_WRITE, false,
     ROLES(ALL, OWN, NONE, NONE, NONE), ct_api__referral_patch},
    {CT_HTTP_POST, "/v1/referrals/{id}/decide", CT_ROUTE_WRITE, false,
     ROLES(ALL, OWN, NONE, NONE, NONE), ct_api__referral_decide},
    {CT_HTTP_POST, "/v1/referrals/{id}/confirm", CT_ROUTE_WRITE, false,
     ROLES(ALL, NONE, OWN, NONE, NONE), ct_api__referral_confirm},
    {CT_HTTP_POST, "/v1/referrals/{id}/discharge", CT_ROUTE_WRITE, false,
     ROLES(ALL, OWN, NONE, NONE, NONE), ct_api__referral_discharge},
    {CT_HTTP_POST, "/v1/referrals/{id}/complete", CT_ROUTE_WRITE, false,
     ROLES(ALL, NONE, OWN, NONE, NONE), ct_api__referral_complete},
    {CT_HTTP_POST, "/v1/referrals/{id}/cancel", CT_ROUTE_WRITE, false,
     ROLES(ALL, OWN, NONE, NONE, NONE), ct_api__referral_cancel},
    {CT_HTTP_POST, "/v1/referrals/{id}/decline", CT_ROUTE_WRITE, false,
     ROLES(ALL, NONE, OWN, NONE, NONE), ct_api__referral_decline},
    {CT_HTTP_POST, "/v1/referrals/{id}/delay", CT_ROUTE_WRITE, false,
     ROLES(ALL, OWN, NONE, NONE, NONE), ct_api__referral_delay},
    {CT_HTTP_POST, "/v1/referrals/{id}/ready_date", CT_ROUTE_WRITE, false,
     ROLES(ALL, OWN, NONE, NONE, NONE), ct_api__referral_ready_date},

    /* The waiting list in order: people, so audited; a provider has no
     * relationship with those who wait. */
    {CT_HTTP_GET, "/v1/waiting-list", CT_ROUTE_AUDITED, false,
     ROLES(ALL, OWN, NONE, ALL, ALL), ct_api__waitlist},

    {CT_HTTP_GET, "/v1/escalation", CT_ROUTE_READ, false,
     ROLES_AND_DISPLAY(ALL, ALL, ALL, ALL, ALL), ct_api__escalation},
    {CT_HTTP_GET, "/v1/audit", CT_ROUTE_AUDITED, false,
     ROLES(ALL, NONE, NONE, ALL, ALL), ct_api__audit},
    /* Notifications to referrers' systems (notify.h): their delivery,
     * for the hub and admins who keep the interfaces running. */
    {CT_HTTP_GET, "/v1/notifications", CT_ROUTE_READ, false,
     ROLES(ALL, NONE, NONE, NONE, ALL), ct_api__notifications},
    {CT_HTTP_GET, "/v1/notifications/{id}", CT_ROUTE_READ, false,
     ROLES(ALL, NONE, NONE, NONE, ALL), ct_api__notification_get},

    {CT_HTTP_GET, "/v1/reports/delays", CT_ROUTE_READ, false,
     ROLES_AND_DISPLAY(ALL, ALL, ALL, ALL, ALL), ct_api__report_delays},
    {CT_HTTP_GET, "/v1/reports/capacity", CT_ROUTE_READ, false,
     ROLES_AND_DISPLAY(ALL, ALL, ALL, ALL, ALL), ct_api__report_capacity},
    {CT_HTTP_GET, "/v1/reports/escalation", CT_ROUTE_READ, false,
     ROLES_AND_DISPLAY(ALL, ALL, ALL, ALL, ALL), ct_api__report_escalation},
    {CT_HTTP_GET, "/v1/reports/decisions", CT_ROUTE_AUDITED, false,
     ROLES(ALL, NONE, NONE, ALL, ALL), ct_api__report_decisions},
    {CT_HTTP_GET, "/v1/reports/today", CT_ROUTE_READ, false,
     ROLES_AND_DISPLAY(ALL, ALL, ALL, ALL, ALL), ct_api__report_today},
    {CT_HTTP_GET, "/v1/reports/daily", CT_ROUTE_READ, false,
     ROLES_AND_DISPLAY(ALL, ALL, ALL, ALL, ALL), ct_api__report_daily},
    {CT_HTTP_GET, "/v1/reports/providers", CT_ROUTE_READ, false,
     ROLES_AND_DISPLAY(ALL, ALL, ALL, ALL, ALL), ct_api__report_providers},
    {CT_HTTP_GET, "/v1/reports/pathways", CT_ROUTE_READ, false,
     ROLES_AND_DISPLAY(ALL, ALL, ALL, ALL, ALL), ct_api__report_pathways},
    /* Names people: the hub only (admin sees no personal data). */
    {CT_HTTP_GET, "/v1/reports/delayed-people", CT_ROUTE_AUDITED, false,
     ROLES(ALL, NONE, NONE, NONE, NONE), ct_api__report_people},

    /* Who read a referral (access.read events): for the hub and admins,
     * who answer a Caldicott or subject access question. */
    {CT_HTTP_GET, "/v1/reports/access", CT_ROUTE_READ, false,
     ROLES(ALL, NONE, NONE, NONE, ALL), ct_api__report_access},

    /* Display credentials for screens on a wall: issued, listed and
     * revoked by the hub (and admins: they carry no personal data). */
    {CT_HTTP_POST, "/v1/displays", CT_ROUTE_WRITE, false,
     ROLES(ALL, NONE, NONE, NONE, ALL), ct_api__display_issue},
    {CT_HTTP_GET, "/v1/displays", CT_ROUTE_READ, false,
     ROLES(ALL, NONE, NONE, NONE, ALL), ct_api__display_list},
    {CT_HTTP_POST, "/v1/displays/{id}/revoke", CT_ROUTE_WRITE, false,
     ROLES(ALL, NONE, NONE, NONE, ALL), ct_api__display_revoke},

    /* The FHIR R4 façade (api_fhir.c): the same cells as the JSON routes
     * it stands beside. */
    {CT_HTTP_GET, "/fhir/R4/metadata", CT_ROUTE_PLAIN, true,
     ROLES(ALL, ALL, ALL, ALL, ALL), ct_api__fhir_metadata},
    {CT_HTTP_POST, "/fhir/R4", CT_ROUTE_WRITE, false,
     ROLES(ALL, OWN, NONE, NONE, NONE), ct_api__fhir_bundle},
    {CT_HTTP_POST, "/fhir/R4/ServiceRequest", CT_ROUTE_WRITE, false,
     ROLES(ALL, OWN, NONE, NONE, NONE), ct_api__fhir_request_create},
    {CT_HTTP_GET, "/fhir/R4/ServiceRequest/{id}", CT_ROUTE_AUDITED, false,
     ROLES(ALL, OWN, OWN, ALL, ALL), ct_api__fhir_request_read},
    /* Revoking: as POST /v1/referrals/{id}/cancel. */
    {CT_HTTP_PUT, "/fhir/R4/ServiceRequest/{id}", CT_ROUTE_WRITE, false,
     ROLES(ALL, OWN, NONE, NONE, NONE), ct_api__fhir_request_update},
    {CT_HTTP_GET, "/fhir/R4/Task", CT_ROUTE_AUDITED, false,
     ROLES(ALL, OWN, OWN, ALL, ALL), ct_api__fhir_task_search},
    {CT_HTTP_GET, "/fhir/R4/Task/{id}", CT_ROUTE_AUDITED, false,
     ROLES(ALL, OWN, OWN, ALL, ALL), ct_api__fhir_task_read},
    /* Confirm, decline, discharge, complete or cancel: each under the
     * cell of its JSON route, applied by the handler. */
    {CT_HTTP_PUT, "/fhir/R4/Task/{id}", CT_ROUTE_WRITE, false,
     ROLES(ALL, OWN, OWN, NONE, NONE), ct_api__fhir_task_update},
    {CT_HTTP_GET, "/fhir/R4/Location", CT_ROUTE_READ, false,
     ROLES(ALL, ALL, ALL, ALL, ALL), ct_api__fhir_location_search},
    {CT_HTTP_GET, "/fhir/R4/Location/{id}", CT_ROUTE_READ, false,
     ROLES(ALL, ALL, ALL, ALL, ALL), ct_api__fhir_location_read},
    {CT_HTTP_GET, "/fhir/R4/HealthcareService", CT_ROUTE_READ, false,
     ROLES(ALL, ALL, ALL, ALL, ALL), ct_api__fhir_service_search},
    {CT_HTTP_GET, "/fhir/R4/HealthcareService/{id}", CT_ROUTE_READ, false,
     ROLES(ALL, ALL, ALL, ALL, ALL), ct_api__fhir_service_read},

    {CT_HTTP_GET, "/", CT_ROUTE_PLAIN, true,
     ROLES(ALL, ALL, ALL, ALL, ALL), ct_api__dashboard_page},
    {CT_HTTP_GET, "/dashboard.js", CT_ROUTE_PLAIN, true,
     ROLES(ALL, ALL, ALL, ALL, ALL), ct_api__dashboard_js},
    {CT_HTTP_GET, "/dashboard.css", CT_ROUTE_PLAIN, true,
     ROLES(ALL, ALL, ALL, ALL, ALL), ct_api__dashboard_css},
    {CT_HTTP_GET, "/vendor/chart.js", CT_ROUTE_PLAIN, true,
     ROLES(ALL, ALL, ALL, ALL, ALL), ct_api__dashboard_chart_js},
};

const size_t ct_api_nroutes = CT_ARRAY_LEN(ct_api_routes);

void ct_api_print_routes(FILE *out)
{
    static const char *const kinds[] = {"plain", "read", "write",
                                        "audited"};
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
        if (rt->access[CT_HTTP_DISPLAY] != CT_ACCESS_NONE)
            fputs(" display", out);
        fputc('\n', out);
    }
}
