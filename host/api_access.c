/*
 * Least privilege for the answers that carry personal data (docs/api.md
 * "Access rules"). The route table decides who may call a route; these
 * decide what an answer may show the caller: hub, hospital and provider
 * work with people and see a referral's clinical data (within the OWN
 * rules of the route table); viewer and admin run the area and see
 * aggregate figures and pseudonymous referral ids only, never NHS
 * numbers, needs, ages, residence or infection details, in referrals,
 * decisions, reports or audit payloads.
 *
 * Redaction keeps what is known safe rather than removing what is known
 * personal, so that a field added later is hidden until someone decides
 * it may be shown.
 */
#include "api_int.h"

#include "events.h"
#include "error.h"

#include <string.h>

bool ct_api__sees_personal(const ct_http_req *r)
{
    return ct_principal_personal(ct_http_req_principal(r));
}

void ct_api__scope_referrals(const ct_http_req *r, ct_referral_filter *f)
{
    const ct_principal *p = ct_http_req_principal(r);
    if (ct_http_req_access(r) != CT_ACCESS_OWN)
        return;
    if (p->role == CT_ROLE_PROVIDER)
        f->at_org = p->org;
    else
        f->from_org = p->org;
}

int ct_api__audit_read(ct_http_req *r, void *app, const char *what,
                       json_t *ids)
{
    if (!ct_api__sees_personal(r) || json_array_size(ids) == 0) {
        json_decref(ids);
        return 0;
    }
    char actor[CT_API__ACTOR_MAX], route[200];
    ct_api__actor(r, actor);
    snprintf(route, sizeof route, "GET %s", ct_http_req_route(r)->pattern);
    return ct_events_record(
        ct_capacity_events(ct_daemon_capacity(app)), actor, "access.read",
        json_pack("{s:s, s:s, s:o}", "route", route, "request",
                  ct_http_req_id(r), what, ids),
        CT_EVENT_QUIET, NULL, NULL);
}

static bool listed(const char *key, const char *const *keep)
{
    for (; *keep; keep++)
        if (strcmp(key, *keep) == 0)
            return true;
    return false;
}

/* Deletes every member of o not in keep. */
static void keep_only(json_t *o, const char *const *keep)
{
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(o, tmp, key, v)
    {
        if (!listed(key, keep))
            json_object_del(o, key);
    }
}

void ct_api__redact_referral(const ct_http_req *r, json_t *ref)
{
    static const char *const keep[] = {
        "id",           "from_org",        "ready_date",
        "requested_pathway", "decided_pathway", "state",
        "priority",     "delay_reason",    "responsible_org",
        "created_at",   "updated_at",      "discharged_at",
        "delay_days",   "bed",             "hold",
        "occupancy",    "hold_expires_at", "delays", NULL};
    if (!ref || ct_api__sees_personal(r))
        return;
    keep_only(ref, keep);
    /* Who coded a delay names a member of staff (user:NAME@org): the
     * audit log's readers see it, not every viewer. */
    size_t i;
    json_t *ep;
    json_array_foreach(json_object_get(ref, "delays"), i, ep)
        json_object_del(ep, "recorded_by");
}

void ct_api__redact_waiting(const ct_http_req *r, json_t *e)
{
    /* Why a person waits names their needs (the tag no bed carries) and
     * the plugins' words about them: as a decision's reasons, not shown. */
    static const char *const keep[] = {
        "id",         "position",        "from_org",     "priority",
        "ready_date", "days_past_ready", "requested_pathway", "pathway",
        "outcome",    "deferred",        "updated_at",   "delay_reason",
        "responsible_org", NULL};
    if (json_is_object(e) && !ct_api__sees_personal(r))
        keep_only(e, keep);
}

void ct_api__redact_decision(const ct_http_req *r, json_t *d)
{
    static const char *const keep[] = {
        "referral", "outcome", "pathway",  "priority",        "bed",
        "zone",     "facility", "hold_id", "hold_expires_at", "plugins",
        "trace",    NULL};
    /* Which plugin ran which hook, and whether it failed; not what it
     * was given or answered (the person) nor its words (reasons). */
    static const char *const step[] = {"plugin", "version", "hook", "ms",
                                       "fallback", NULL};
    if (!json_is_object(d) || ct_api__sees_personal(r))
        return;
    keep_only(d, keep);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(d, "trace"), i, s)
    {
        bool failed = json_object_get(s, "error") != NULL;
        if (json_is_object(s))
            keep_only(s, step);
        if (failed)
            json_object_set_new(s, "failed", json_true());
    }
}

void ct_api__redact_event(const ct_http_req *r, json_t *ev)
{
    /* Scalars that name places, states and pseudonymous ids. */
    static const char *const keep[] = {
        "referral", "bed",      "zone",      "facility", "org",
        "from_org", "responsible_org", "from", "to",     "state",
        "pathway",  "requested_pathway", "decided_pathway", "outcome",
        "hold",     "hold_id",  "occupancy", "expires_at", "level",
        "cohort",   "pathogen", "closed",    "surge",    "plugin",
        "version",  "ready_date", "delay_reason", "priority", "kind",
        "count",    "episode",  "ended",     "was",      "resident",
        "expected_end", "started_at", "supersedes", NULL};
    json_t *p = json_object_get(ev, "payload");
    if (!json_is_object(p) || ct_api__sees_personal(r))
        return;
    const char *kind = json_string_value(json_object_get(ev, "kind"));
    /* A decision event carries the whole decision: shown as to a viewer. */
    json_t *d = json_object_get(p, "decision");
    if (json_is_object(d))
        json_incref(d);
    else
        d = NULL;
    keep_only(p, keep);
    if (d) {
        ct_api__redact_decision(r, d);
        json_object_set_new(p, "decision", d);
    }
    /* An infection's pathogen with a person's referral is itself a
     * detail; the kind names it already. */
    if (kind && (strncmp(kind, "infection.", 10) == 0 ||
                 strncmp(kind, "isolation.", 10) == 0))
        json_object_del(p, "pathogen");
    json_object_set_new(ev, "redacted", json_true());
}
