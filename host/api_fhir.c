/*
 * The FHIR R4 façade under /fhir/R4 (docs/fhir.md): the HTTP side of the
 * translation in fhir.h. Routes are rows of the one role matrix in api.c,
 * so the façade has the API's tokens, roles and audit; a referral goes
 * through the API's own intake (ct_api__referral_intake) after fhir_in.c
 * has turned the ServiceRequest into its body, and what a caller may see
 * is cut by api_access.c before fhir_out.c turns it into resources.
 *
 * Errors: the dialect below makes every error under /fhir/ an
 * OperationOutcome; an error of the intake names the FHIR element the
 * field came from (the request's context is the field-to-FHIRPath table).
 */
#include "api_int.h"

#include "capacity_view.h"
#include "error.h"
#include "fhir.h"
#include "natid.h"
#include "pipeline.h"
#include "referral.h"
#include "referral_place.h"
#include "util.h"
#include "version.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FHIR_BASE_PATH "/fhir/R4"
/* When the façade last changed what it offers. */
#define CT_FHIR_CAPABILITY_DATE "2026-12-07"

static json_t *fhir_error(ct_http_req *r, unsigned status, const json_t *e)
{
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *field = json_string_value(json_object_get(e, "field"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *expr = ct_fhir_path_for(ct_http_req_ctx(r), field);
    /* The API's message names its own field; say the element instead. */
    char text[700];
    const char *at = expr && field && msg ? strstr(msg, field) : NULL;
    if (at)
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - msg), msg, expr,
                 at + strlen(field));
    return ct_fhir_outcome(ct_fhir_issue_type(status, code), expr, code,
                           at ? text : msg);
}

const ct_http_dialect ct_api_fhir_dialect = {
    .prefix = "/fhir/",
    .content_type = CT_FHIR_CONTENT_TYPE,
    .error = fhir_error,
};

/* An OperationOutcome of the façade's own: status, issue type, element. */
static int outcome(ct_http_req *r, unsigned status, const char *code,
                   const char *expr, const char *msg)
{
    json_t *oo = ct_fhir_outcome(code, expr, NULL, msg);
    if (!oo)
        return CT_ENOMEM;
    int err = ct_http_reply_json(r, status, oo);
    if (err)
        return err;
    return status == 404 ? CT_ENOTFOUND : CT_EINVAL;
}

/* "http://host:port/fhir/R4" for fullUrl, from the Host header. */
static void base_url(ct_http_req *r, char *out, size_t size)
{
    const char *host = ct_http_req_header(r, "Host");
    snprintf(out, size, "http://%s" FHIR_BASE_PATH,
             host && *host ? host : "localhost");
}

/* A token search value "system|code" or "code": the code. */
static const char *token(const char *v)
{
    const char *bar = v ? strchr(v, '|') : NULL;
    return bar ? bar + 1 : v;
}

/* ---- metadata ------------------------------------------------------------ */

typedef struct capability {
    const char *type, *profile;
    const char *interactions[3];
    const char *params[4][2]; /* name, type */
} capability;

static const capability capabilities[] = {
    {"ServiceRequest", "UKCore-ServiceRequest", {"create", "read", "update"},
     {{NULL, NULL}}},
    {"Task", "UKCore-Task", {"read", "search-type", "update"},
     {{"status", "token"}, {"_count", "number"}, {NULL, NULL}}},
    {"Location", "UKCore-Location", {"read", "search-type", NULL},
     {{"partof", "reference"},
      {"operational-status", "token"},
      {"organization", "token"},
      {NULL, NULL}}},
    {"HealthcareService", "UKCore-HealthcareService",
     {"read", "search-type", NULL},
     {{"organization", "token"}, {NULL, NULL}}},
};

/* GET /fhir/R4/metadata (public, as /v1/health): what the façade does. */
int ct_api__fhir_metadata(ct_http_req *r, void *app)
{
    const ct_config *cfg = ct_daemon_config(app);
    json_t *res = json_array();
    for (size_t i = 0; res && i < CT_ARRAY_LEN(capabilities); i++) {
        const capability *c = &capabilities[i];
        json_t *inter = json_array(), *params = json_array();
        for (size_t j = 0; j < 3 && c->interactions[j]; j++)
            json_array_append_new(inter, json_pack("{s:s}", "code",
                                                   c->interactions[j]));
        for (size_t j = 0; j < 4 && c->params[j][0]; j++)
            json_array_append_new(params,
                                  json_pack("{s:s, s:s}", "name",
                                            c->params[j][0], "type",
                                            c->params[j][1]));
        json_array_append_new(
            res, json_pack("{s:s, s:[s+], s:o, s:o}", "type", c->type,
                           "supportedProfile",
                           "https://fhir.hl7.org.uk/StructureDefinition/",
                           c->profile, "interaction", inter, "searchParam",
                           params));
    }
    json_t *security = json_pack(
        "{s:[{s:[{s:s, s:s}]}], s:s}", "service", "coding", "system",
        "http://terminology.hl7.org/CodeSystem/restful-security-service",
        "code", "OAuth", "description",
        "Bearer tokens of the caretide API (docs/api.md), with the same "
        "roles and access rules");
    json_t *rest = json_pack("[{s:s, s:o, s:o}]", "mode", "server",
                             "security", security, "resource", res);
    json_t *cs = json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s+}, s:s, s:[s], s:o}",
        "resourceType", "CapabilityStatement", "status", "active", "date",
        CT_FHIR_CAPABILITY_DATE, "kind", "instance", "software", "name",
        "caretide", "version", CT_VERSION, "implementation", "description",
        "caretide FHIR facade for ",
        cfg->area_name ? cfg->area_name : cfg->area_id, "fhirVersion",
        CT_FHIR_VERSION, "format", "application/fhir+json", "rest", rest);
    return ct_http_reply_json(r, 200, cs);
}

/* ---- Task ------------------------------------------------------------------ */

/* The referral (cut to what the caller may see) as kind: "Task" or
 * "ServiceRequest". Takes ownership of decision (NULL: the stored one). */
static int resource_of(ct_http_req *r, ct_daemon *d, int64_t id,
                       const char *kind, json_t *decision, json_t **out)
{
    ct_capacity *cap = ct_daemon_capacity(d);
    json_t *ref;
    *out = NULL;
    int rc = ct_api__referral(r, cap, id, &ref);
    if (rc) {
        json_decref(decision);
        return rc;
    }
    decision = ct_api__decision(cap, id, decision);
    char fac[CT_CAP_ID_MAX], org[CT_CAP_ID_MAX];
    ct_referral_place(cap, ref, fac, org, sizeof fac);
    ct_api__redact_referral(r, ref);
    ct_api__redact_decision(r, decision);
    const ct_config *cfg = ct_daemon_config(d);
    ct_fhir_place place = {fac, org};
    *out = strcmp(kind, "Task") == 0
               ? ct_fhir_task(ref, decision, &place, cfg)
               : ct_fhir_service_request(ref, cfg);
    json_decref(ref);
    json_decref(decision);
    return *out ? 0 : CT_ENOMEM;
}

/* Replies the Task of referral id with status; takes decision. */
static int task_reply(ct_http_req *r, ct_daemon *d, int64_t id,
                      unsigned status, json_t *decision)
{
    json_t *task;
    int err = resource_of(r, d, id, "Task", decision, &task);
    return err ? err : ct_http_reply_json(r, status, task);
}

/*
 * A referral posted as FHIR (want: the resourceType the route takes): read
 * by fhir_in.c into the API's body, then the API's intake. 201 with the
 * Task (Location: its URL), or 200 with it for a replayed
 * Idempotency-Key.
 */
static int create(ct_http_req *r, ct_daemon *d, const char *want)
{
    json_t *res;
    int err = ct_http_req_json(r, &res);
    if (err)
        return err;
    const char *rt = json_string_value(json_object_get(res, "resourceType"));
    if (!rt || strcmp(rt, want) != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "this endpoint takes a %s, not %s", want,
                 rt ? rt : "a resource without resourceType");
        return outcome(r, 400, "structure", "resourceType", msg);
    }
    const ct_principal *who = ct_http_req_principal(r);
    ct_fhir_area area = {ct_daemon_config(d),
                         ct_clock_now(ct_daemon_clock(d)), who->org};
    ct_fhir_referral fr;
    ct_fhir_error fe;
    if ((err = ct_fhir_referral_read(res, &area, &fr, &fe))) {
        if (err == CT_ENOMEM)
            return err;
        return outcome(r, fe.status, fe.code, fe.expression, fe.message);
    }
    /* The API's body from here on (the request owns it; res goes with
     * it), and the table the dialect names elements from. */
    json_t *paths = fr.paths;
    ct_http_req_set_json(r, fr.body);
    ct_http_req_set_ctx(r, paths);
    int64_t id;
    json_t *decision;
    bool replayed;
    err = ct_api__referral_intake(r, d, &id, &decision, &replayed);
    ct_http_req_set_ctx(r, NULL);
    json_decref(paths);
    if (err)
        return err;
    if ((err = task_reply(r, d, id, replayed ? 200 : 201, decision)))
        return err;
    char loc[64];
    snprintf(loc, sizeof loc, FHIR_BASE_PATH "/Task/%" PRId64, id);
    if (replayed)
        err = ct_http_reply_header(r, "Idempotent-Replayed", "true");
    return err ? err : ct_http_reply_header(r, "Location", loc);
}

/* POST /fhir/R4/ServiceRequest: as POST /v1/referrals. */
int ct_api__fhir_request_create(ct_http_req *r, void *app)
{
    return create(r, app, "ServiceRequest");
}

/* POST /fhir/R4 with a Bundle holding the ServiceRequest. */
int ct_api__fhir_bundle(ct_http_req *r, void *app)
{
    return create(r, app, "Bundle");
}

/*
 * PUT /fhir/R4/ServiceRequest/{id} with status "revoked": the referrer
 * withdraws the referral, as POST /v1/referrals/{id}/cancel (the reason:
 * the first note's text). 200 with the Task. Any other change is not
 * taken here (422): the later steps are the JSON API's.
 */
int ct_api__fhir_request_update(ct_http_req *r, void *app)
{
    json_t *res;
    int64_t id;
    /* Another organisation's referral is 404 whatever the body says. */
    int err = ct_api__referral_owned(r, ct_daemon_capacity(app), &id);
    if (err || (err = ct_http_req_json(r, &res)))
        return err;
    const char *rt = json_string_value(json_object_get(res, "resourceType"));
    if (!rt || strcmp(rt, "ServiceRequest") != 0)
        return outcome(r, 400, "structure", "resourceType",
                       "this endpoint takes a ServiceRequest");
    const char *st = json_string_value(json_object_get(res, "status"));
    if (!st)
        return outcome(r, 400, "required", "ServiceRequest.status",
                       "ServiceRequest.status is required (1..1)");
    if (strcmp(st, "revoked") != 0)
        return outcome(r, 422, "business-rule", "ServiceRequest.status",
                       "only status 'revoked' (withdrawing the referral) is "
                       "taken here; the later steps are the JSON API's");
    const char *why = json_string_value(json_object_get(
        json_array_get(json_object_get(res, "note"), 0), "text"));
    const ct_principal *who = ct_http_req_principal(r);
    char reason[200];
    snprintf(reason, sizeof reason, "revoked by %s", who->org);
    json_t *body = json_pack("{s:s}", "reason", why && *why ? why : reason);
    json_t *paths = json_pack("{s:s}", "reason", "ServiceRequest.note[0].text");
    if (!body || !paths) {
        json_decref(body);
        json_decref(paths);
        return CT_ENOMEM;
    }
    ct_http_req_set_json(r, body);
    ct_http_req_set_ctx(r, paths);
    err = ct_api__referral_cancel(r, app);
    ct_http_req_set_ctx(r, NULL);
    json_decref(paths);
    if (err)
        return err;
    /* The cancel answered with the referral; answer the Task instead. */
    return task_reply(r, app, id, 200, NULL);
}

/* ---- Task updates: confirm, decline, discharge, complete, cancel ---------- */

/* The version of a Task (meta.versionId, the referral's last change) as
 * an ETag: W/"MS". */
static int etag_of(ct_http_req *r, ct_daemon *d, int64_t id, char *out,
                   size_t size)
{
    json_t *ref;
    int rc = ct_api__referral(r, ct_daemon_capacity(d), id, &ref);
    if (rc)
        return rc;
    snprintf(out, size, "W/\"%" JSON_INTEGER_FORMAT "\"",
             json_integer_value(json_object_get(ref, "updated_at")));
    json_decref(ref);
    return 0;
}

/* The Task of referral id with its ETag. */
static int task_reply_tagged(ct_http_req *r, ct_daemon *d, int64_t id)
{
    char tag[40];
    int err = etag_of(r, d, id, tag, sizeof tag);
    if (err || (err = task_reply(r, d, id, 200, NULL)))
        return err;
    return ct_http_reply_header(r, "ETag", tag);
}

/* What a Task update asks for, as one of the JSON API's actions. */
typedef struct task_action {
    const char *name;                 /* "confirm", ... */
    const char *route;                /* its JSON route */
    int (*handler)(ct_http_req *, void *);
    bool reason;                      /* takes {"reason"} */
} task_action;

static const task_action task_actions[] = {
    {"confirm", "/v1/referrals/{id}/confirm", ct_api__referral_confirm,
     false},
    {"decline", "/v1/referrals/{id}/decline", ct_api__referral_decline, true},
    {"discharge", "/v1/referrals/{id}/discharge", ct_api__referral_discharge,
     false},
    {"complete", "/v1/referrals/{id}/complete", ct_api__referral_complete,
     false},
    {"cancel", "/v1/referrals/{id}/cancel", ct_api__referral_cancel, true},
};

static const task_action *action_named(const char *name)
{
    for (size_t i = 0; i < CT_ARRAY_LEN(task_actions); i++)
        if (strcmp(task_actions[i].name, name) == 0)
            return &task_actions[i];
    return NULL;
}

/* The caller's cell on the action's JSON route (the one role matrix). */
static ct_access access_of(const ct_http_req *r, const task_action *a)
{
    const ct_principal *p = ct_http_req_principal(r);
    for (size_t i = 0; p && i < ct_api_nroutes; i++) {
        const ct_http_route *rt = &ct_api_routes[i];
        if (rt->method == CT_HTTP_POST && strcmp(rt->pattern, a->route) == 0)
            return rt->access[p->role];
    }
    return CT_ACCESS_NONE;
}

/* The referral-state code of the Task's businessStatus, or NULL. */
static const char *business_state(const json_t *task)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(task, "businessStatus"),
                                       "coding"),
                       i, c)
    {
        const char *sys = json_string_value(json_object_get(c, "system"));
        if (sys && strcmp(sys, CT_FHIR_SYS_STATE) == 0)
            return json_string_value(json_object_get(c, "code"));
    }
    return NULL;
}

/*
 * The action a Task sent back asks for, from the referral's state now:
 * status rejected declines the hold, cancelled cancels; otherwise the
 * businessStatus's referral state (when it names another) or the status
 * says where the referral goes: in-progress confirms (placed), in-progress
 * with businessStatus discharged discharges, completed completes. NULL with *why when the change is no action
 * caretide takes; "" when nothing changes.
 */
static const char *action_for(const char *state, const char *status,
                              const char *bs, char *why, size_t n)
{
    if (strcmp(status, "rejected") == 0)
        return "decline";
    if (strcmp(status, "cancelled") == 0)
        return strcmp(state, "cancelled") == 0 ? "" : "cancel";
    const char *target = NULL;
    /* Only discharge is not a Task.status of its own; any other referral
     * state in businessStatus is the one the client read, and ignored. */
    if (bs && strcmp(bs, "discharged") == 0 && strcmp(bs, state) != 0) {
        target = bs;
        if (strcmp(ct_fhir_task_status(bs), status) != 0) {
            snprintf(why, n,
                     "businessStatus %s goes with Task.status '%s', not '%s'",
                     bs, ct_fhir_task_status(bs), status);
            return NULL;
        }
    } else if (strcmp(status, ct_fhir_task_status(state)) == 0) {
        return "";
    } else if (strcmp(status, "in-progress") == 0) {
        target = "placed";
    } else if (strcmp(status, "completed") == 0) {
        target = "completed";
    }
    if (target && strcmp(target, "placed") == 0)
        return "confirm";
    if (target && strcmp(target, "discharged") == 0)
        return "discharge";
    if (target && strcmp(target, "completed") == 0)
        return "complete";
    snprintf(why, n,
             "a Task of a referral in state %s (status '%s') cannot be set "
             "to '%s'%s%s: caretide takes in-progress (confirm the hold), "
             "rejected (decline it), in-progress with businessStatus "
             "discharged, completed and cancelled; holds and waiting are "
             "its own decisions",
             state, ct_fhir_task_status(state), status,
             bs ? " with businessStatus " : "", bs ? bs : "");
    return NULL;
}

/*
 * PUT /fhir/R4/Task/{id}: the Task read back with its status changed (and
 * If-Match: its ETag) carries out the JSON API's action on the referral,
 * under that action's cell of the role matrix, with its checks and audit:
 * in-progress confirms a hold (provider, hub), rejected declines it
 * (statusReason.text the reason; provider, hub), businessStatus discharged
 * discharges (hospital, hub), completed completes (provider, hub),
 * cancelled cancels (hospital, hub). 200 with the Task and its new ETag;
 * 412 when If-Match names another version.
 */
int ct_api__fhir_task_update(ct_http_req *r, void *app)
{
    ct_daemon *d = app;
    int64_t id;
    json_t *res;
    /* Another organisation's referral is 404 whatever the body says. */
    int err = ct_api__referral_owned(r, ct_daemon_capacity(d), &id);
    if (err || (err = ct_http_req_json(r, &res)))
        return err;
    const char *rt = json_string_value(json_object_get(res, "resourceType"));
    if (!rt || strcmp(rt, "Task") != 0)
        return outcome(r, 400, "structure", "resourceType",
                       "this endpoint takes a Task");
    const json_t *jid = json_object_get(res, "id");
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    if (jid && (!json_is_string(jid) ||
                strcmp(json_string_value(jid), idtext) != 0))
        return outcome(r, 400, "value", "Task.id",
                       "Task.id must be the id in the URL");
    const char *status = json_string_value(json_object_get(res, "status"));
    if (!status)
        return outcome(r, 400, "required", "Task.status",
                       "Task.status is required (1..1)");
    if (!ct_fhir_task_status_valid(status))
        return outcome(r, 400, "code-invalid", "Task.status",
                       "Task.status must be a code of "
                       "http://hl7.org/fhir/ValueSet/task-status");
    const char *intent = json_string_value(json_object_get(res, "intent"));
    if (!intent)
        return outcome(r, 400, "required", "Task.intent",
                       "Task.intent is required (1..1)");
    if (!ct_fhir_task_intent_valid(intent))
        return outcome(r, 400, "code-invalid", "Task.intent",
                       "Task.intent must be a code of "
                       "http://hl7.org/fhir/ValueSet/task-intent");
    /* Version-aware update: a Task changed since the client read it is
     * not changed again on its stale view. */
    char tag[40];
    if ((err = etag_of(r, d, id, tag, sizeof tag)))
        return err;
    const char *match = ct_http_req_header(r, "If-Match");
    if (match && *match && strcmp(match, tag) != 0 &&
        strcmp(match, tag + 2) != 0) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "If-Match %.60s is not the Task's version %s: read it "
                 "again",
                 match, tag);
        json_t *oo = ct_fhir_outcome("conflict", NULL, NULL, msg);
        if (!oo)
            return CT_ENOMEM;
        if ((err = ct_http_reply_json(r, 412, oo)))
            return err;
        return CT_ECONFLICT;
    }
    json_t *ref;
    int rc = ct_api__referral(r, ct_daemon_capacity(d), id, &ref);
    if (rc)
        return rc;
    char state[32], why[600];
    snprintf(state, sizeof state, "%s",
             json_string_value(json_object_get(ref, "state")));
    json_decref(ref);
    const char *bs = business_state(res);
    const char *name = action_for(state, status, bs, why, sizeof why);
    if (!name)
        return outcome(r, 422, "business-rule", "Task.status", why);
    if (!*name)
        return task_reply_tagged(r, d, id); /* nothing to change */
    const task_action *a = action_named(name);
    ct_access access = access_of(r, a);
    if (access == CT_ACCESS_NONE) {
        const ct_principal *p = ct_http_req_principal(r);
        char msg[200];
        snprintf(msg, sizeof msg, "role %s may not %s a referral",
                 p ? ct_role_name(p->role) : "?", a->name);
        json_t *oo = ct_fhir_outcome("forbidden", NULL, NULL, msg);
        if (!oo)
            return CT_ENOMEM;
        if ((err = ct_http_reply_json(r, 403, oo)))
            return err;
        return CT_EDENIED;
    }
    ct_http_req_set_access(r, access);
    /* The action's body, and where each of its fields came from. */
    const char *reason = json_string_value(
        json_object_get(json_object_get(res, "statusReason"), "text"));
    json_t *body = json_object(), *paths = json_object();
    if (!body || !paths) {
        json_decref(body);
        json_decref(paths);
        return CT_ENOMEM;
    }
    if (a->reason) {
        const ct_principal *p = ct_http_req_principal(r);
        char dflt[200];
        snprintf(dflt, sizeof dflt, "cancelled by %s", p ? p->org : "?");
        if (reason || strcmp(a->name, "cancel") != 0)
            json_object_set_new(body, "reason",
                                reason ? json_string(reason) : json_null());
        else
            json_object_set_new(body, "reason", json_string(dflt));
        json_object_set_new(paths, "reason",
                            json_string("Task.statusReason.text"));
    }
    if (a->reason && !reason && strcmp(a->name, "decline") == 0) {
        json_decref(body);
        json_decref(paths);
        return outcome(r, 400, "required", "Task.statusReason.text",
                       "declining a hold needs the reason in "
                       "Task.statusReason.text");
    }
    ct_http_req_set_json(r, body);
    ct_http_req_set_ctx(r, paths);
    err = a->handler(r, d);
    ct_http_req_set_ctx(r, NULL);
    json_decref(paths);
    if (err)
        return err;
    /* The action answered with the referral; answer the Task instead. */
    return task_reply_tagged(r, d, id);
}

/* GET /fhir/R4/Task/{id} and ServiceRequest/{id}: as GET
 * /v1/referrals/{id}. */
static int read_referral(ct_http_req *r, ct_daemon *d, const char *kind)
{
    int64_t id;
    int err = ct_api__referral_owned(r, ct_daemon_capacity(d), &id);
    /* A read of a person's data, recorded as GET /v1/referrals/{id}'s. */
    if (!err)
        err = ct_api__audit_read(r, d, "referrals",
                                 json_pack("[I]", (json_int_t)id));
    if (err)
        return err;
    json_t *res;
    if ((err = resource_of(r, d, id, kind, NULL, &res)))
        return err;
    return ct_http_reply_json(r, 200, res);
}

int ct_api__fhir_task_read(ct_http_req *r, void *app)
{
    int err = read_referral(r, app, "Task");
    if (err)
        return err;
    int64_t id;
    char tag[40];
    if (ct_api__referral_id(r, &id) || etag_of(r, app, id, tag, sizeof tag))
        return 0;
    return ct_http_reply_header(r, "ETag", tag);
}

int ct_api__fhir_request_read(ct_http_req *r, void *app)
{
    return read_referral(r, app, "ServiceRequest");
}

/* Referral states for a Task status (the inverse of fhir_map.c's table). */
static int states_for(const char *task_status, int *out, int max)
{
    int n = 0;
    for (int s = 0; s < CT_REFERRAL__COUNT && n < max; s++)
        if (strcmp(ct_fhir_task_status(
                       ct_referral_state_name((ct_referral_state)s)),
                   task_status) == 0)
            out[n++] = s;
    return n;
}

/* GET /fhir/R4/Task?status=&_count=: as GET /v1/referrals (a hospital
 * sees its own, a provider those in its facilities), by referral id. */
int ct_api__fhir_task_search(ct_http_req *r, void *app)
{
    ct_daemon *d = app;
    ct_capacity *cap = ct_daemon_capacity(d);
    int64_t count;
    int err = ct_http_query_int(r, "_count", 1, 1000, 100, &count);
    if (err)
        return err;
    int states[CT_REFERRAL__COUNT], nstates = 1;
    states[0] = -1;
    const char *st = token(ct_http_req_query(r, "status"));
    if (st && !(nstates = states_for(st, states, CT_REFERRAL__COUNT)))
        return outcome(r, 400, "code-invalid", "Task.status",
                       "status must be a Task status caretide uses: "
                       "requested, accepted, in-progress, completed or "
                       "cancelled");
    json_t *tasks = json_array();
    if (!tasks)
        return CT_ENOMEM;
    for (int k = 0; k < nstates; k++) {
        ct_referral_filter f = {.state = states[k], .limit = (int)count};
        ct_api__scope_referrals(r, &f);
        ct_cap_error cerr = {0};
        json_t *list;
        int rc = ct_capacity_view_referrals_json(cap, &f, &list, &cerr);
        if (rc) {
            json_decref(tasks);
            return ct_api__cap_reply(r, rc, &cerr, NULL);
        }
        size_t i;
        json_t *it;
        json_array_foreach(list, i, it)
        {
            json_t *task;
            int64_t id = json_integer_value(json_object_get(it, "id"));
            if ((err = resource_of(r, d, id, "Task", NULL, &task))) {
                json_decref(list);
                json_decref(tasks);
                return err;
            }
            json_array_append_new(tasks, task);
        }
        json_decref(list);
    }
    while (json_array_size(tasks) > (size_t)count)
        json_array_remove(tasks, json_array_size(tasks) - 1);
    json_t *ids = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        const char *tid = json_string_value(json_object_get(t, "id"));
        json_array_append_new(ids, json_integer(tid ? atoll(tid) : 0));
    }
    if ((err = ct_api__audit_read(r, d, "referrals", ids))) {
        json_decref(tasks);
        return err;
    }
    char base[200];
    base_url(r, base, sizeof base);
    return ct_http_reply_json(r, 200, ct_fhir_searchset(tasks, base));
}

/* ---- Location and HealthcareService ---------------------------------------- */

/* The facilities of the capacity view (a new reference). */
static int facilities(ct_http_req *r, ct_daemon *d, json_t **out)
{
    json_t *view;
    ct_cap_error err = {0};
    int rc = ct_capacity_view_json(ct_daemon_capacity(d), &view, &err);
    if (rc)
        return ct_api__cap_reply(r, rc, &err, NULL);
    *out = json_incref(json_object_get(view, "facilities"));
    json_decref(view);
    return *out ? 0 : CT_ENOMEM;
}

/* The organisation id for organization=ODS (NULL when the parameter is
 * absent); 0, or an OperationOutcome for an unknown code. */
static int org_param(ct_http_req *r, const ct_config *cfg, const char **org)
{
    const char *ods = token(ct_http_req_query(r, "organization"));
    *org = NULL;
    if (!ods)
        return 0;
    const ct_config_org *o = ct_config_find_org_by_ods(cfg, ods);
    if (!o)
        return outcome(r, 400, "code-invalid", "organization",
                       "no organisation of this area has that ODS code");
    *org = o->id;
    return 0;
}

static bool same(const json_t *o, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(o, key));
    return !want || (v && strcmp(v, want) == 0);
}

/* Beds as Locations: f filters; every bed matching when limit allows. */
static int bed_locations(ct_http_req *r, ct_daemon *d, ct_bed_filter *f,
                         json_t *into)
{
    json_t *beds;
    ct_cap_error err = {0};
    int rc = ct_capacity_view_beds_json(ct_daemon_capacity(d), f, &beds,
                                        &err);
    if (rc == CT_ENOTFOUND)
        return outcome(r, 404, "not-found", NULL, err.message);
    if (rc)
        return ct_api__cap_reply(r, rc, &err, NULL);
    size_t i;
    json_t *b;
    json_array_foreach(beds, i, b)
        json_array_append_new(into, ct_fhir_location_bed(b));
    json_decref(beds);
    return 0;
}

/* A Location id or partof value, "f.", "z." or "b." and an encoded place
 * id: its kind in *kind and the caretide id in out; false when it is not
 * one. */
static bool place_id(const char *fid, char *kind, char *out, size_t n)
{
    if (!fid || !strchr("fzb", fid[0]) || fid[0] == '\0' || fid[1] != '.')
        return false;
    *kind = fid[0];
    return ct_fhir_id_get(fid + 2, out, n) == 0;
}

/* GET /fhir/R4/Location/{id}: f.FACILITY, z.ZONE or b.BED. */
int ct_api__fhir_location_read(ct_http_req *r, void *app)
{
    ct_daemon *d = app;
    char kind = 0, pid[CT_FHIR_ID_BUF];
    const char *id =
        place_id(ct_http_req_param(r, "id"), &kind, pid, sizeof pid) ? pid
                                                                      : NULL;
    const ct_config *cfg = ct_daemon_config(d);
    if (id && kind == 'b') {
        json_t *one = json_array();
        ct_bed_filter f = {.bed_id = id, .status = -1, .limit = 1};
        int err = one ? bed_locations(r, d, &f, one) : CT_ENOMEM;
        if (err || json_array_size(one) == 0) {
            json_decref(one);
            return err ? err
                       : outcome(r, 404, "not-found", NULL,
                                 "no such Location");
        }
        json_t *l = json_incref(json_array_get(one, 0));
        json_decref(one);
        return ct_http_reply_json(r, 200, l);
    }
    json_t *facs;
    int err = facilities(r, d, &facs);
    if (err)
        return err;
    size_t i, j;
    json_t *f, *z, *found = NULL;
    json_array_foreach(facs, i, f)
    {
        if (id && kind == 'f' && same(f, "id", id))
            found = ct_fhir_location_facility(f, cfg);
        json_array_foreach(json_object_get(f, "zones"), j, z)
            if (!found && id && kind == 'z' && same(z, "id", id))
                found = ct_fhir_location_zone(z, f);
        if (found)
            break;
    }
    json_decref(facs);
    if (!found)
        return outcome(r, 404, "not-found", NULL, "no such Location");
    return ct_http_reply_json(r, 200, found);
}

/*
 * GET /fhir/R4/Location: facilities and zones; partof=Location/f.X the
 * zones of X; partof=Location/z.Z the beds of Z; operational-status=U
 * (or O, C) the beds in that status, within partof when given;
 * organization=ODS the places of that organisation.
 */
int ct_api__fhir_location_search(ct_http_req *r, void *app)
{
    ct_daemon *d = app;
    const ct_config *cfg = ct_daemon_config(d);
    const char *org = NULL, *part = ct_http_req_query(r, "partof");
    const char *opst = token(ct_http_req_query(r, "operational-status"));
    int err;
    if ((err = org_param(r, cfg, &org)))
        return err;
    if (part && strncmp(part, "Location/", 9) == 0)
        part += 9;
    char kind = 0, pid[CT_FHIR_ID_BUF];
    if (part && (!place_id(part, &kind, pid, sizeof pid) || kind == 'b'))
        return outcome(r, 400, "value", "partof",
                       "partof must be Location/f.FACILITY or "
                       "Location/z.ZONE");
    if (part)
        part = pid;
    json_t *list = json_array();
    if (!list)
        return CT_ENOMEM;
    char base[200];
    base_url(r, base, sizeof base);
    if (opst || (part && kind == 'z')) {
        static const char *const bs[] = {"available", "occupied", "held",
                                         "blocked"};
        ct_bed_filter f = {.status = -1, .limit = CT_VIEW_MAX_BEDS};
        if (part)
            *(kind == 'z' ? &f.zone_id : &f.facility_id) = part;
        int want = -1;
        for (size_t i = 0; opst && i < CT_ARRAY_LEN(bs); i++)
            if (strcmp(ct_fhir_bed_status(bs[i]), opst) == 0)
                want = (int)i;
        if (opst && want < 0) {
            json_decref(list);
            return outcome(r, 400, "code-invalid", "operational-status",
                           "operational-status must be a v2-0116 bed "
                           "status caretide uses: U, O or C");
        }
        json_t *all = json_array();
        if (!all || (err = bed_locations(r, d, &f, all))) {
            json_decref(all);
            json_decref(list);
            return err ? err : CT_ENOMEM;
        }
        size_t i;
        json_t *l;
        json_array_foreach(all, i, l)
        {
            const char *code = json_string_value(json_object_get(
                json_object_get(l, "operationalStatus"), "code"));
            if (!opst || (code && strcmp(code, opst) == 0))
                json_array_append(list, l);
        }
        json_decref(all);
        return ct_http_reply_json(r, 200, ct_fhir_searchset(list, base));
    }
    json_t *facs;
    if ((err = facilities(r, d, &facs))) {
        json_decref(list);
        return err;
    }
    size_t i, j;
    json_t *f, *z;
    json_array_foreach(facs, i, f)
    {
        if (!same(f, "org", org) ||
            (part && !same(f, "id", part)))
            continue;
        if (!part)
            json_array_append_new(list, ct_fhir_location_facility(f, cfg));
        json_array_foreach(json_object_get(f, "zones"), j, z)
            json_array_append_new(list, ct_fhir_location_zone(z, f));
    }
    json_decref(facs);
    return ct_http_reply_json(r, 200, ct_fhir_searchset(list, base));
}

/* GET /fhir/R4/HealthcareService/{id} (a facility id) and the search
 * (organization=ODS). */
static int services(ct_http_req *r, ct_daemon *d, const char *id)
{
    const ct_config *cfg = ct_daemon_config(d);
    const char *org = NULL;
    int err;
    if (!id && (err = org_param(r, cfg, &org)))
        return err;
    json_t *facs, *list = json_array();
    if (!list)
        return CT_ENOMEM;
    if ((err = facilities(r, d, &facs))) {
        json_decref(list);
        return err;
    }
    size_t i;
    json_t *f;
    json_array_foreach(facs, i, f)
        if (same(f, "org", org) && same(f, "id", id))
            json_array_append_new(list, ct_fhir_healthcare_service(f, cfg));
    json_decref(facs);
    if (!id) {
        char base[200];
        base_url(r, base, sizeof base);
        return ct_http_reply_json(r, 200, ct_fhir_searchset(list, base));
    }
    json_t *one = json_incref(json_array_get(list, 0));
    json_decref(list);
    if (!one)
        return outcome(r, 404, "not-found", NULL,
                       "no such HealthcareService");
    return ct_http_reply_json(r, 200, one);
}

int ct_api__fhir_service_read(ct_http_req *r, void *app)
{
    char id[CT_FHIR_ID_BUF];
    if (ct_fhir_id_get(ct_http_req_param(r, "id"), id, sizeof id))
        return outcome(r, 404, "not-found", NULL,
                       "no such HealthcareService");
    return services(r, app, id);
}

int ct_api__fhir_service_search(ct_http_req *r, void *app)
{
    return services(r, app, NULL);
}
