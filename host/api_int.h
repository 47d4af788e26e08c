/*
 * Internals of the HTTP API shared by api.c (the route table, the daemon's
 * own routes and these helpers) and the handler files api_capacity.c
 * (capacity and beds), api_resident.c (existing residents), api_referrals.c (referrals), api_waitlist.c (the
 * waiting list), api_area.c (escalation, audit), api_report.c (reports), api_fhir.c (the FHIR
 * façade) and api_dashboard.c (the dashboard's files). Not for use outside those files.
 */
#ifndef CT_API_INT_H
#define CT_API_INT_H

#include "api.h"
#include "capacity.h"
#include "capacity_view.h"
#include "daemon.h"

#include <stdint.h>

/* Longest actor string (auth.h). */
#define CT_API__ACTOR_MAX CT_AUTH_ACTOR_MAX

/* The caller as an audit actor: "org:demo-acute/hospital" for a config
 * token, "user:jsmith@demo-acute/hospital" for a named user (auth.h). */
void ct_api__actor(const ct_http_req *r, char out[CT_API__ACTOR_MAX]);

/*
 * Replies to a refusal of the capacity units: CT_EINVAL 400 (field names
 * the input when not NULL), CT_ENOTFOUND 404, CT_ESTATE, CT_ECAPACITY,
 * CT_ECOHORT, CT_ECLOSED, CT_EEXISTS and CT_ECONFLICT 409, CT_EDENIED
 * 403, each with err's message; anything else is returned for the server
 * to answer 500. Returns the code for the handler to return.
 */
int ct_api__cap_reply(ct_http_req *r, int rc, const ct_cap_error *err,
                      const char *field);

/* Least privilege (api_access.c): whether the caller's role works with
 * people (hub, hospital, provider), and answers cut down in place to what
 * viewer and admin may see (nothing personal; a no-op for the others). */
bool ct_api__sees_personal(const ct_http_req *r);
void ct_api__redact_referral(const ct_http_req *r, json_t *ref);
void ct_api__redact_decision(const ct_http_req *r, json_t *decision);
/* The OWN rule of a referral listing (docs/api.md "Access rules"): a
 * provider's caller sees the referrals held or placed at its
 * organisation, any other the referrals its organisation sent; nothing
 * changes for the routes' full access. */
void ct_api__scope_referrals(const ct_http_req *r, ct_referral_filter *f);
/* An entry of the waiting list (capacity_waitlist.h): its place, dates and
 * pathway, not the person nor why (which names their needs). */
void ct_api__redact_waiting(const ct_http_req *r, json_t *entry);
/* An audit event {seq, at, actor, kind, payload, ...}: the payload keeps
 * places, states and ids, and the event is marked "redacted": true. */
void ct_api__redact_event(const ct_http_req *r, json_t *event);

/*
 * Audited access: records that the caller read a person's data through
 * this request, as one access.read event {route, request, WHAT: ids} in
 * the request's transaction (the route is CT_ROUTE_AUDITED, so the answer
 * leaves only once the event is on disk). ids is a new JSON array the
 * call takes (referral ids, or event seqs for the audit log); nothing is
 * recorded for viewer and admin, who see nothing personal, nor for an
 * empty list. Returns 0 or a CT_E* code for the handler to return.
 */
int ct_api__audit_read(ct_http_req *r, void *app, const char *what,
                       json_t *ids);

/* 200 with one page of a listing, {name: list, next}: next is the last
 * item's key when the page is full (limit items; the client asks again
 * after it), null when the listing ends here. Takes list. */
int ct_api__page_reply(ct_http_req *r, const char *name, json_t *list,
                       int64_t limit, const char *key);

/* The {id} path segment as a referral id (1..2^53): 404 naming it when
 * it is not one. */
int ct_api__referral_id(ct_http_req *r, int64_t *id);

/* Referral id as ct_referral_get_json gives it, into *ref (new, the
 * caller's); or the capacity's refusal replied (404 for an unknown id)
 * and its code returned. */
int ct_api__referral(ct_http_req *r, ct_capacity *cap, int64_t id,
                     json_t **ref);
/* The decision a referral's reply shows: decision when given (taken),
 * else the stored one, else JSON null when there is none. */
json_t *ct_api__decision(ct_capacity *cap, int64_t id, json_t *decision);

/*
 * The intake of a referral (api_referrals.c), shared by POST /v1/referrals
 * and the FHIR façade (api_fhir.c): validates the request's JSON body,
 * then records the referral, the person's infections and the decision.
 * 0 with *id and *decision (new; NULL for a replay, *replayed true, of an
 * Idempotency-Key used with the same request); on refusal it has replied
 * and returns the error.
 */
int ct_api__referral_intake(ct_http_req *r, void *app, int64_t *id,
                            json_t **decision, bool *replayed);
/* The {id} referral when the caller may see it (the OWN rules of the
 * referral routes); otherwise replies 404 and returns the error. */
int ct_api__referral_owned(ct_http_req *r, ct_capacity *cap, int64_t *id);

/* Bed id as GET /v1/beds shows it (new), NULL when it cannot be read. */
json_t *ct_api__bed_json(ct_capacity *cap, const char *id);

/* Handlers, listed in the route table in api.c. */
int ct_api__capacity(ct_http_req *r, void *app);
int ct_api__beds(ct_http_req *r, void *app);
int ct_api__bed_patch(ct_http_req *r, void *app);
int ct_api__zone_patch(ct_http_req *r, void *app);
int ct_api__resident_put(ct_http_req *r, void *app);
int ct_api__resident_delete(ct_http_req *r, void *app);
int ct_api__referral_create(ct_http_req *r, void *app);
int ct_api__referral_get(ct_http_req *r, void *app);
int ct_api__referral_list(ct_http_req *r, void *app);
int ct_api__referral_confirm(ct_http_req *r, void *app);
int ct_api__referral_discharge(ct_http_req *r, void *app);
int ct_api__referral_complete(ct_http_req *r, void *app);
int ct_api__referral_cancel(ct_http_req *r, void *app);
int ct_api__referral_decline(ct_http_req *r, void *app);
int ct_api__referral_delay(ct_http_req *r, void *app);
int ct_api__referral_ready_date(ct_http_req *r, void *app);
int ct_api__referral_patch(ct_http_req *r, void *app);
int ct_api__referral_decide(ct_http_req *r, void *app);
int ct_api__waitlist(ct_http_req *r, void *app);
int ct_api__escalation(ct_http_req *r, void *app);
int ct_api__audit(ct_http_req *r, void *app);
int ct_api__notifications(ct_http_req *r, void *app);
int ct_api__notification_get(ct_http_req *r, void *app);
int ct_api__report_delays(ct_http_req *r, void *app);
int ct_api__report_capacity(ct_http_req *r, void *app);
int ct_api__report_escalation(ct_http_req *r, void *app);
int ct_api__report_decisions(ct_http_req *r, void *app);
int ct_api__report_today(ct_http_req *r, void *app);
int ct_api__report_daily(ct_http_req *r, void *app);
int ct_api__report_providers(ct_http_req *r, void *app);
int ct_api__report_pathways(ct_http_req *r, void *app);
int ct_api__report_people(ct_http_req *r, void *app);
int ct_api__display_issue(ct_http_req *r, void *app);
int ct_api__display_list(ct_http_req *r, void *app);
int ct_api__display_revoke(ct_http_req *r, void *app);
int ct_api__report_access(ct_http_req *r, void *app);
int ct_api__fhir_metadata(ct_http_req *r, void *app);
int ct_api__fhir_bundle(ct_http_req *r, void *app);
int ct_api__fhir_request_create(ct_http_req *r, void *app);
int ct_api__fhir_request_read(ct_http_req *r, void *app);
int ct_api__fhir_request_update(ct_http_req *r, void *app);
int ct_api__fhir_task_read(ct_http_req *r, void *app);
int ct_api__fhir_task_update(ct_http_req *r, void *app);
int ct_api__fhir_task_search(ct_http_req *r, void *app);
int ct_api__fhir_location_read(ct_http_req *r, void *app);
int ct_api__fhir_location_search(ct_http_req *r, void *app);
int ct_api__fhir_service_read(ct_http_req *r, void *app);
int ct_api__fhir_service_search(ct_http_req *r, void *app);
int ct_api__dashboard_page(ct_http_req *r, void *app);
int ct_api__dashboard_js(ct_http_req *r, void *app);
int ct_api__dashboard_css(ct_http_req *r, void *app);
int ct_api__dashboard_chart_js(ct_http_req *r, void *app);

#endif
