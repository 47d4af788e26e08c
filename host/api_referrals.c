/*
 * Referrals: POST /v1/referrals (with Idempotency-Key), GET one and lists,
 * and the actions confirm, discharge, complete, cancel and delay.
 *
 * Who owns a referral, for the OWN cells of the role matrix: a hospital
 * owns the referrals it made (from_org); a provider owns a referral while
 * it is held or placed in one of its facilities, and only then. What each
 * role sees of a referral is cut down in api_access.c.
 */
#include "api_int.h"
#include "audit.h"

#include "capacity_view.h"
#include "clock.h"
#include "daemon.h"
#include "delay.h"
#include "error.h"
#include "intake.h"
#include "isolation.h"
#include "log.h"
#include "pipeline.h"
#include "referral.h"
#include "referral_key.h"
#include "util.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NEEDS CT_REFERRAL_MAX_NEEDS
#define MAX_TAG CT_REFERRAL_MAX_TAG

/* ---- shared ------------------------------------------------------------ */

/*
 * For the hub: where the status applied to the person (the stricter of
 * what organisations reported, isolation.h) differs from what this
 * referral reported, {pathogen, reported, applied, isolation_end}.
 */
static void add_conflicts(ct_capacity *cap, json_t *ref)
{
    const char *nhs = json_string_value(json_object_get(ref, "nhs_number"));
    json_t *list = json_array();
    const char *pathogen;
    json_t *rep;
    json_object_foreach(json_object_get(ref, "infections"), pathogen, rep)
    {
        ct_infection inf;
        ct_cap_error e = {0};
        if (!nhs || ct_isolation_get(cap, nhs, pathogen, &inf, &e))
            continue;
        const char *said = json_string_value(json_object_get(rep, "status"));
        json_int_t end =
            json_integer_value(json_object_get(rep, "isolation_end"));
        const char *applied = ct_infection_status_name(inf.status);
        if (said && strcmp(said, applied) == 0 && end == inf.isolation_end)
            continue;
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:o}", "pathogen", pathogen,
                            "reported", said ? said : "", "applied", applied,
                            "isolation_end",
                            inf.isolation_end
                                ? json_integer(inf.isolation_end)
                                : json_null()));
    }
    json_object_set_new(ref, "infection_conflicts", list);
}

/* {"referral": ref, "decision": the stored text or null}, as
 * ct_http_reply_json would write it. Takes ownership of ref. */
static int reply_with_stored(ct_http_req *r, ct_capacity *cap, int64_t id,
                             unsigned status, json_t *ref)
{
    char *rtext = json_dumps(ref, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(ref);
    if (!rtext)
        return CT_ENOMEM;
    ct_buf b = {0};
    ct_cap_error err = {0};
    int rc = ct_buf_puts(&b, "{\"referral\":");
    if (!rc)
        rc = ct_buf_puts(&b, rtext);
    free(rtext);
    if (!rc)
        rc = ct_buf_puts(&b, ",\"decision\":");
    if (!rc) {
        size_t mark = b.len;
        rc = ct_referral_decision_text(cap, id, &b, &err);
        if (rc == CT_ENOTFOUND) {
            b.len = mark;
            rc = ct_buf_puts(&b, "null");
        }
    }
    if (!rc)
        rc = ct_buf_puts(&b, "}");
    if (rc) {
        ct_buf_free(&b);
        return rc == CT_ENOMEM ? rc : CT_ESTORE;
    }
    return ct_http_reply_json_text(r, status, b.data, b.len);
}

/* The referral as JSON with its stored decision (null when none). */
static int referral_reply(ct_http_req *r, ct_capacity *cap, int64_t id,
                          unsigned status, json_t *decision)
{
    json_t *ref;
    int rc = ct_api__referral(r, cap, id, &ref);
    if (rc) {
        json_decref(decision);
        return rc;
    }
    const ct_principal *p = ct_http_req_principal(r);
    if (p && p->role == CT_ROLE_HUB)
        add_conflicts(cap, ref);
    ct_api__redact_referral(r, ref);
    if (ct_api__sees_personal(r)) {
        /* The decision as it was stored and audited: its one text
         * (referral.h), not parsed and written again. */
        json_decref(decision);
        return reply_with_stored(r, cap, id, status, ref);
    }
    decision = ct_api__decision(cap, id, decision);
    ct_api__redact_decision(r, decision);
    return ct_http_reply_json(r, status,
                              json_pack("{s:o, s:o}", "referral", ref,
                                        "decision", decision));
}

/*
 * Reads the {id} referral's organisations and checks the caller may act
 * on it. Another organisation's referral is 404 with the same message as
 * a missing one, so ids cannot be probed for who holds a person. A
 * provider's referral is the one held or placed in its facilities, for
 * reads as for actions: its access ends with the hold or the placement.
 */
int ct_api__referral_owned(ct_http_req *r, ct_capacity *cap, int64_t *id)
{
    int err;
    if ((err = ct_api__referral_id(r, id)))
        return err;
    ct_referral_orgs o;
    ct_cap_error cerr = {0};
    int rc = ct_capacity_view_referral_orgs(cap, *id, &o, &cerr);
    if (rc)
        return ct_api__cap_reply(r, rc, &cerr, NULL);
    const ct_principal *p = ct_http_req_principal(r);
    const char *owner = o.from_org;
    if (p && p->role == CT_ROLE_PROVIDER)
        owner = o.holder_org;
    if (!p || ct_auth_owns(p, ct_http_req_access(r), owner))
        return 0;
    return ct_http_error(r, 404, "not_found", NULL,
                         "referral %" PRId64 " does not exist", *id);
}

/* owned() for a body that is only a required, non-empty "reason" of at
 * most max bytes (decline, cancel); *reason points into the body. */
static int owned_with_reason(ct_http_req *r, ct_capacity *cap, size_t max,
                             int64_t *id, const char **reason)
{
    static const char *const keys[] = {"reason", NULL};
    int err;
    if ((err = ct_api__referral_owned(r, cap, id)) ||
        (err = ct_http_field_only(r, NULL, keys)) ||
        (err = ct_http_field_string(r, "reason", true, max, reason)))
        return err;
    if (!**reason)
        return ct_http_error(r, 400, "invalid", "reason",
                             "'reason' must not be empty");
    return 0;
}

/*
 * A refused action: 409s name the referral's current state in the
 * message and as error.state; other refusals as ct_api__cap_reply.
 */
static int refused(ct_http_req *r, ct_capacity *cap, int64_t id, int rc,
                   const ct_cap_error *err, const char *field)
{
    const char *code;
    bool conflict = ct_http_status_for(rc, &code) == 409;
    ct_referral ref;
    ct_cap_error e2 = {0};
    if (!conflict || ct_referral_get(cap, id, &ref, &e2))
        return ct_api__cap_reply(r, rc, err, field);
    const char *state = ct_referral_state_name(ref.state);
    char named[64];
    snprintf(named, sizeof named, " is %s", state);
    char msg[400];
    if (strstr(err->message, named))
        snprintf(msg, sizeof msg, "%s", err->message);
    else
        snprintf(msg, sizeof msg, "%s (referral %" PRId64 " is %s)",
                 err->message, id, state);
    ct_http_reply_json(r, 409,
                       json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "code",
                                 code, "message", msg, "field", "state",
                                 state));
    return rc;
}

/* ---- POST /v1/referrals ------------------------------------------------ */

typedef struct referral_in {
    ct_referral_input in;
    char nhs[11];
    char ready[11];
    const char *needs[MAX_NEEDS];
    ct_intake_infection inf[16];
    size_t ninf;
    const char *key;
} referral_in;

static int read_needs(ct_http_req *r, referral_in *v)
{
    json_t *a;
    int err = ct_http_field_json(r, "needs", false, JSON_ARRAY, &a);
    if (err || !a)
        return err;
    if (json_array_size(a) > MAX_NEEDS)
        return ct_http_error(r, 400, "invalid", "needs",
                             "'needs' lists at most %d tags", MAX_NEEDS);
    size_t i;
    json_t *t;
    json_array_foreach(a, i, t)
    {
        if (!json_is_string(t) || !ct_referral_tag_valid(json_string_value(t)))
            return ct_http_error(r, 400, "invalid", "needs",
                                 "'needs' must be a list of tags (letters, "
                                 "digits, _ - . up to %d); item %zu is not",
                                 MAX_TAG, i);
        v->needs[i] = json_string_value(t);
    }
    v->in.needs = v->needs;
    v->in.nneeds = json_array_size(a);
    return 0;
}

/* A time at path: "YYYY-MM-DD" or ISO 8601 UTC ("...T10:30:00Z"). */
static int read_time(ct_http_req *r, const char *path, int64_t *out)
{
    const char *s = NULL;
    int err = ct_http_field_string(r, path, false, 40, &s);
    if (err || !s)
        return err;
    if (ct_clock_parse(s, out) || *out <= 0)
        return ct_http_error(r, 400, "invalid", path,
                             "'%s' must be a time written "
                             "YYYY-MM-DDTHH:MM:SSZ (UTC) or YYYY-MM-DD",
                             path);
    return 0;
}

/* The area's pathogen closest to name, or NULL. */
static const char *closest(const ct_config *cfg, const char *name)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < cfg->npathogens; i++) {
        size_t dist = ct_levenshtein(name, cfg->pathogens[i]);
        if (dist < best_d) {
            best_d = dist;
            best = cfg->pathogens[i];
        }
    }
    return best;
}

static bool tracked(const ct_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->npathogens; i++)
        if (strcmp(cfg->pathogens[i], name) == 0)
            return true;
    return cfg->npathogens == 0;
}

static int read_infections(ct_http_req *r, const ct_config *cfg,
                           int64_t now, referral_in *v)
{
    static const char *const keys[] = {"status", "tested_at",
                                       "isolation_end", NULL};
    json_t *o;
    int err = ct_http_field_json(r, "infections", false, JSON_OBJECT, &o);
    if (err || !o)
        return err;
    const char *name;
    json_t *val;
    json_object_foreach(o, name, val)
    {
        char base[128], path[160];
        snprintf(base, sizeof base, "infections.%s", name);
        if (strlen(name) > 63 || strchr(name, '.') || !tracked(cfg, name)) {
            const char *best = strlen(name) < 64 ? closest(cfg, name) : NULL;
            if (best)
                return ct_http_error(r, 400, "unknown_field", base,
                                     "pathogen '%s' is not tracked in this "
                                     "area; did you mean '%s'?",
                                     name, best);
            return ct_http_error(r, 400, "unknown_field", base,
                                 "pathogen '%s' is not tracked in this area",
                                 name);
        }
        if (!json_is_object(val))
            return ct_http_error(r, 400, "invalid", base,
                                 "'%s' must be an object {status, "
                                 "tested_at, isolation_end}",
                                 base);
        if (v->ninf == CT_ARRAY_LEN(v->inf))
            return ct_http_error(r, 400, "invalid", "infections",
                                 "too many infections");
        ct_intake_infection *in = &v->inf[v->ninf];
        in->pathogen = name;
        int status = 0;
        snprintf(path, sizeof path, "%s.status", base);
        if ((err = ct_http_field_only(r, base, keys)) ||
            (err = ct_http_field_enum(r, path, true,
                                      ct_infection_status_parse,
                                      "negative, positive, awaiting or "
                                      "unknown",
                                      &status)))
            return err;
        in->status = (ct_infection_status)status;
        snprintf(path, sizeof path, "%s.tested_at", base);
        if ((err = read_time(r, path, &in->tested_at)))
            return err;
        if (in->tested_at > now)
            return ct_http_error(r, 400, "invalid", path,
                                 "'%s' is in the future", path);
        snprintf(path, sizeof path, "%s.isolation_end", base);
        if ((err = read_time(r, path, &in->isolation_end)))
            return err;
        if (in->isolation_end && in->status != CT_INFECTION_POSITIVE)
            return ct_http_error(r, 400, "invalid", path,
                                 "'%s' goes with status positive only",
                                 path);
        v->ninf++;
    }
    return 0;
}

/* The Idempotency-Key header: printable ASCII, 1 to 200 characters. */
static int read_key(ct_http_req *r, referral_in *v)
{
    const char *k = ct_http_req_header(r, "Idempotency-Key");
    if (!k)
        return 0;
    size_t n = strlen(k);
    bool ok = n >= 1 && n <= CT_REFERRAL_KEY_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = k[i] >= 0x20 && k[i] < 0x7f;
    if (!ok)
        return ct_http_error(r, 400, "invalid", "Idempotency-Key",
                             "the Idempotency-Key header must be 1 to %d "
                             "printable ASCII characters",
                             CT_REFERRAL_KEY_MAX);
    v->key = k;
    v->in.idempotency_key = k;
    return 0;
}

/* Checks every field of the body; nothing is written. */
static int read_referral(ct_http_req *r, ct_daemon *d, referral_in *v)
{
    static const char *const keys[] = {
        "nhs_number", "from_org", "ready_date", "requested_pathway",
        "age",        "needs",    "priority",   "infections",
        "usual_residence", NULL};
    const ct_config *cfg = ct_daemon_config(d);
    const ct_principal *who = ct_http_req_principal(r);
    int64_t age = -1, priority = 0;
    int pathway = -1, residence = -1, err;
    memset(v, 0, sizeof *v);
    if ((err = ct_http_field_only(r, NULL, keys)) ||
        (err = ct_http_field_nhs(r, "nhs_number", true, v->nhs)) ||
        (err = ct_http_field_date(r, "ready_date", true, v->ready)) ||
        (err = ct_http_field_enum(r, "requested_pathway", false,
                                  ct_pathway_parse,
                                  "P0, P1, P2, P3 or step_down", &pathway)) ||
        (err = ct_http_field_enum(r, "usual_residence", false,
                                  ct_residence_parse, ct_residence_list(),
                                  &residence)) ||
        (err = ct_http_field_int(r, "age", false, 0, 130, &age, NULL)) ||
        (err = ct_http_field_int(r, "priority", false, -1000000, 1000000,
                                 &priority, NULL)) ||
        (err = ct_http_field_string(r, "from_org", false, CT_CAP_ID_MAX - 1,
                                    &v->in.from_org)) ||
        (err = read_needs(r, v)) ||
        (err = read_infections(r, cfg,
                               ct_clock_now(ct_daemon_clock(d)), v)) ||
        (err = read_key(r, v)))
        return err;
    if (!v->in.from_org)
        v->in.from_org = who->org;
    else if (ct_http_req_access(r) != CT_ACCESS_ALL &&
             strcmp(v->in.from_org, who->org) != 0)
        return ct_http_error(r, 403, "forbidden", "from_org",
                             "a hospital refers from its own organisation "
                             "(%s), not %s",
                             who->org, v->in.from_org);
    v->in.nhs_number = v->nhs;
    v->in.ready_date = v->ready;
    v->in.age = (int)age;
    v->in.priority = (int)priority;
    v->in.requested_pathway = pathway;
    v->in.usual_residence =
        residence >= 0 ? ct_residence_name((ct_residence)residence) : NULL;
    return 0;
}

/*
 * 409 for a person who already has an active referral. Those who may
 * read that referral (the hub, the hospital that made it) are told which
 * one; anyone else gets the same opaque conflict whoever holds it, so the
 * answer does not say which organisation is treating the person.
 */
static int already_referred(ct_http_req *r, ct_capacity *cap, int64_t id)
{
    ct_referral_orgs o;
    ct_cap_error cerr = {0};
    const ct_principal *p = ct_http_req_principal(r);
    bool may_see = ct_capacity_view_referral_orgs(cap, id, &o, &cerr) == 0 &&
                   (ct_http_req_access(r) == CT_ACCESS_ALL ||
                    strcmp(o.from_org, p->org) == 0);
    if (!may_see) {
        ct_http_reply_json(
            r, 409,
            json_pack("{s:{s:s, s:s, s:s}}", "error", "code", "conflict",
                      "message",
                      "this person cannot be referred now; ask the transfer "
                      "of care hub",
                      "field", "nhs_number"));
        return CT_ECONFLICT;
    }
    char msg[160];
    snprintf(msg, sizeof msg,
             "this person already has an active referral (%" PRId64
             "); act on it or cancel it first",
             id);
    ct_http_reply_json(r, 409,
                       json_pack("{s:{s:s, s:s, s:s, s:I}}", "error", "code",
                                 "exists", "message", msg, "field",
                                 "nhs_number", "referral", (json_int_t)id));
    return CT_ECONFLICT;
}

/* SHA-256 of the body in canonical JSON: the same request however its
 * keys are ordered or spaced. */
static int fingerprint(ct_http_req *r, uint8_t out[32])
{
    json_t *body;
    int err = ct_http_req_json(r, &body);
    if (err)
        return err;
    char *text = json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT |
                                      JSON_ENSURE_ASCII);
    if (!text)
        return CT_ENOMEM;
    crypto_hash_sha256(out, (const unsigned char *)text, strlen(text));
    free(text);
    return 0;
}

/* The same key again: the first referral when the request is the same
 * (the caller answers 200, Idempotent-Replayed: true), 422 when it is
 * not. */
static int replay(ct_http_req *r, const referral_in *v, int64_t id,
                  const uint8_t sha[32], bool has_sha, const uint8_t want[32])
{
    if (!has_sha || sodium_memcmp(sha, want, 32) != 0)
        return ct_http_error(r, 422, "idempotency_key_reused",
                             "Idempotency-Key",
                             "Idempotency-Key '%s' was used for referral "
                             "%" PRId64 " with a different request; use a "
                             "new key for a new referral",
                             v->key, id);
    return 0;
}

int ct_api__referral_intake(ct_http_req *r, void *app, int64_t *out_id,
                            json_t **out_decision, bool *replayed)
{
    ct_daemon *d = app;
    ct_capacity *cap = ct_daemon_capacity(d);
    referral_in v;
    uint8_t sha[32];
    int err;
    *out_decision = NULL;
    *replayed = false;
    if ((err = read_referral(r, d, &v)) ||
        (v.key && (err = fingerprint(r, sha))))
        return err;
    ct_cap_error cerr = {0};
    int rc;
    if (v.key) {
        int64_t id;
        uint8_t old[32];
        bool has;
        rc = ct_referral_key_find(cap, v.in.from_org, v.key, &id, old, &has,
                                  &cerr);
        if (rc == 0) {
            if ((err = replay(r, &v, id, old, has, sha)))
                return err;
            *out_id = id;
            *replayed = true;
            return 0;
        }
        if (rc != CT_ENOTFOUND)
            return ct_api__cap_reply(r, rc, &cerr, NULL);
    }
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    /* Referral intake (intake.h), in this write's savepoint: the referral,
     * the person's infections, the key's fingerprint, the decision. */
    ct_intake_request in = {.in = v.in,
                            .inf = v.inf,
                            .ninf = v.ninf,
                            .key_sha = v.key ? sha : NULL};
    ct_intake_result res;
    rc = ct_intake_referral(cap, ct_daemon_plugins(d), &in, actor, &res,
                            &cerr);
    int64_t id = res.id;
    bool stored = res.step != CT_INTAKE_STORE;
    if (rc == CT_ENOTFOUND && !stored) /* the only thing looked up */
        return ct_http_error(r, 400, "invalid", "from_org", "%s",
                             cerr.message);
    if (rc == CT_ECONFLICT && id > 0 && !stored)
        return already_referred(r, cap, id);
    if (rc)
        return ct_api__cap_reply(r, rc, &cerr,
                                 res.field[0] ? res.field : NULL);
    *out_decision = res.decision;
    *out_id = id;
    return 0;
}

/*
 * POST /v1/referrals: hub ALL, hospital OWN. The intake, then 201
 * {referral, decision} with Location (200 and Idempotent-Replayed: true
 * for a replay).
 */
int ct_api__referral_create(ct_http_req *r, void *app)
{
    ct_capacity *cap = ct_daemon_capacity(app);
    int64_t id;
    json_t *decision;
    bool replayed;
    int err = ct_api__referral_intake(r, app, &id, &decision, &replayed);
    if (err)
        return err;
    if (replayed) {
        err = referral_reply(r, cap, id, 200, NULL);
        return err ? err
                   : ct_http_reply_header(r, "Idempotent-Replayed", "true");
    }
    if ((err = referral_reply(r, cap, id, 201, decision)))
        return err;
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/referrals/%" PRId64, id);
    return ct_http_reply_header(r, "Location", loc);
}

/* ---- reads ------------------------------------------------------------- */

/* GET /v1/referrals/{id}: hub, viewer, admin ALL; hospital OWN (its own);
 * provider OWN (held, placed or last held in its facilities). */
int ct_api__referral_get(ct_http_req *r, void *app)
{
    ct_capacity *cap = ct_daemon_capacity(app);
    int64_t id;
    int err = ct_api__referral_owned(r, cap, &id);
    if (!err)
        err = ct_api__audit_read(r, app, "referrals",
                                 json_pack("[I]", (json_int_t)id));
    return err ? err : referral_reply(r, cap, id, 200, NULL);
}

/* GET /v1/referrals?state=&after=&limit=: hospital OWN lists its own,
 * provider OWN the ones in its facilities, others all. {referrals, next}
 * where next is the id to pass as after, null at the end. */
int ct_api__referral_list(ct_http_req *r, void *app)
{
    ct_capacity *cap = ct_daemon_capacity(app);
    ct_referral_filter f = {.state = -1};
    int64_t after, limit;
    int err;
    if ((err = ct_http_query_enum(r, "state", ct_referral_state_parse,
                                  "received, triaged, waiting, held, "
                                  "placed, discharged, completed or "
                                  "cancelled",
                                  &f.state)) ||
        (err = ct_http_query_int(r, "after", 0, INT64_MAX, 0, &after)) ||
        (err = ct_http_query_int(r, "limit", 1, 1000, 100, &limit)))
        return err;
    f.after = after;
    f.limit = (int)limit;
    ct_api__scope_referrals(r, &f);
    ct_cap_error cerr = {0};
    json_t *list;
    int rc = ct_capacity_view_referrals_json(cap, &f, &list, &cerr);
    if (rc)
        return ct_api__cap_reply(r, rc, &cerr, NULL);
    size_t i;
    json_t *it, *ids = json_array();
    json_array_foreach(list, i, it) {
        json_array_append(ids, json_object_get(it, "id"));
        ct_api__redact_referral(r, it);
    }
    /* One event for the page, naming every referral on it. */
    if ((err = ct_api__audit_read(r, app, "referrals", ids))) {
        json_decref(list);
        return err;
    }
    return ct_api__page_reply(r, "referrals", list, f.limit, "id");
}

/* ---- actions ----------------------------------------------------------- */

typedef int (*action_fn)(ct_capacity *c, int64_t id, const char *actor,
                         ct_cap_error *err);

static int confirm(ct_capacity *c, int64_t id, const char *actor,
                   ct_cap_error *err)
{
    return ct_capacity_confirm(c, id, actor, NULL, err);
}

/* An action with an empty body (or {}): owner check, the change, 200 with
 * the referral. */
static int simple_action(ct_http_req *r, void *app, action_fn fn)
{
    static const char *const none[] = {NULL};
    ct_capacity *cap = ct_daemon_capacity(app);
    int64_t id;
    size_t len;
    int err;
    ct_http_req_body(r, &len);
    if ((err = ct_api__referral_owned(r, cap, &id)) ||
        (len && (err = ct_http_field_only(r, NULL, none))))
        return err;
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    ct_cap_error cerr = {0};
    int rc = fn(cap, id, actor, &cerr);
    return rc ? refused(r, cap, id, rc, &cerr, NULL)
              : referral_reply(r, cap, id, 200, NULL);
}

/* POST /v1/referrals/{id}/confirm: hub ALL, provider OWN (held in its
 * facility). The hold becomes an occupancy; the referral is placed. */
int ct_api__referral_confirm(ct_http_req *r, void *app)
{
    return simple_action(r, app, confirm);
}

/* POST /v1/referrals/{id}/discharge: hub ALL, hospital OWN. The person
 * has left hospital. */
int ct_api__referral_discharge(ct_http_req *r, void *app)
{
    return simple_action(r, app, ct_referral_discharge);
}

/* POST /v1/referrals/{id}/complete: hub ALL, provider OWN (placed in its
 * facility). The stay has ended and the bed is free. */
int ct_api__referral_complete(ct_http_req *r, void *app)
{
    return simple_action(r, app, ct_referral_complete);
}

/* POST /v1/referrals/{id}/decline {"reason": "..."}: hub ALL, provider
 * OWN (the hold is in its facility). The provider refuses the person: the
 * hold is freed at once (not after its time to live), the referral waits
 * again, and "hold.declined" names the provider for the reports. */
int ct_api__referral_decline(ct_http_req *r, void *app)
{
    ct_capacity *cap = ct_daemon_capacity(app);
    int64_t id;
    const char *reason = NULL;
    int err;
    if ((err = owned_with_reason(r, cap, 400, &id, &reason)))
        return err;
    ct_referral_orgs o;
    ct_cap_error cerr = {0};
    int rc = ct_capacity_view_referral_orgs(cap, id, &o, &cerr);
    if (rc)
        return ct_api__cap_reply(r, rc, &cerr, NULL);
    if (!*o.holder_org)
        return ct_http_error(r, 409, "conflict", NULL,
                             "referral %" PRId64 " has no hold to decline",
                             id);
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    rc = ct_capacity_decline(cap, id, o.holder_org, reason, actor, &cerr);
    return rc ? refused(r, cap, id, rc, &cerr, NULL)
              : referral_reply(r, cap, id, 200, NULL);
}

/* POST /v1/referrals/{id}/cancel {"reason": "..."}: hub ALL, hospital
 * OWN. Ends any hold or occupancy. */
int ct_api__referral_cancel(ct_http_req *r, void *app)
{
    ct_capacity *cap = ct_daemon_capacity(app);
    int64_t id;
    const char *reason = NULL;
    int err;
    if ((err = owned_with_reason(r, cap, 500, &id, &reason)))
        return err;
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    ct_cap_error cerr = {0};
    int rc = ct_referral_cancel(cap, id, reason, actor, &cerr);
    return rc ? refused(r, cap, id, rc, &cerr, NULL)
              : referral_reply(r, cap, id, 200, NULL);
}

/* POST /v1/referrals/{id}/delay {"reason": code, "responsible_org": org,
 * "from": "YYYY-MM-DD"}: hub ALL, hospital OWN. Starts a delay episode
 * (host/delay.h) once the area's reason list accepts it. */
int ct_api__referral_delay(ct_http_req *r, void *app)
{
    static const char *const keys[] = {"reason", "responsible_org", "from",
                                       "episode", NULL};
    ct_capacity *cap = ct_daemon_capacity(app);
    int64_t id, episode = 0;
    const char *reason = NULL, *org = NULL;
    char from[11] = "";
    bool has_from = false;
    int err;
    if ((err = ct_api__referral_owned(r, cap, &id)) ||
        (err = ct_http_field_only(r, NULL, keys)) ||
        (err = ct_http_field_int(r, "episode", false, 1, INT64_MAX, &episode,
                                 NULL)) ||
        (err = ct_http_field_string(r, "reason", true, CT_DELAY_REASON_MAX,
                                    &reason)) ||
        (err = ct_http_field_string(r, "responsible_org", true,
                                    CT_CAP_ID_MAX - 1, &org)) ||
        (err = ct_http_field_date(r, "from", false, from)))
        return err;
    has_from = from[0] != '\0';
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    ct_cap_error cerr = {0};
    const char *field = NULL;
    /* The reason list's check and the episode: the intake's, as the REPL
     * and the simulator record a delay; with "episode", a correction. */
    ct_delay_input in = {reason, NULL, org, has_from ? from : NULL};
    int rc = ct_intake_delay_episode(cap, ct_daemon_plugins(app), id, episode,
                                     &in, actor, &field, &cerr);
    if (rc == CT_EPLUGIN)
        return ct_http_error(r, 503, "plugin_failed", "reason",
                             "the area's delay reason check failed (see the "
                             "log); nothing was recorded, try again");
    if (rc && field)
        return ct_http_error(r, 400, "invalid", field, "%s", cerr.message);
    return rc ? refused(r, cap, id, rc, &cerr, NULL)
              : referral_reply(r, cap, id, 200, NULL);
}

/* POST /v1/referrals/{id}/ready_date {"ready_date", "reason"}: hub ALL,
 * hospital OWN. Resets the discharge ready date, audited with why. */
int ct_api__referral_ready_date(ct_http_req *r, void *app)
{
    static const char *const keys[] = {"ready_date", "reason", NULL};
    ct_capacity *cap = ct_daemon_capacity(app);
    int64_t id;
    const char *reason = NULL;
    char date[11];
    int err;
    if ((err = ct_api__referral_owned(r, cap, &id)) ||
        (err = ct_http_field_only(r, NULL, keys)) ||
        (err = ct_http_field_date(r, "ready_date", true, date)) ||
        (err = ct_http_field_string(r, "reason", true, 500, &reason)))
        return err;
    if (!*reason)
        return ct_http_error(r, 400, "invalid", "reason",
                             "'reason' must not be empty");
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    ct_cap_error cerr = {0};
    int rc = ct_referral_set_ready_date(cap, id, date, reason, actor, &cerr);
    if (rc == CT_EINVAL)
        return ct_http_error(r, 400, "invalid", "ready_date", "%s",
                             cerr.message);
    return rc ? refused(r, cap, id, rc, &cerr, NULL)
              : referral_reply(r, cap, id, 200, NULL);
}

/* ---- a referral that changes ------------------------------------------ */

/* A refusal of an update or a decision: 409 with the state, 400 naming
 * the input at fault, else as ct_api__cap_reply. */
static int change_refused(ct_http_req *r, ct_capacity *cap, int64_t id,
                          int rc, const ct_cap_error *err, const char *field)
{
    if (rc == CT_ESTATE)
        return refused(r, cap, id, rc, err, NULL);
    return ct_api__cap_reply(r, rc, err, field && *field ? field : NULL);
}

/* PATCH /v1/referrals/{id}: new needs, priority or test results, audited
 * (referral.updated), then the referral decided again in its turn. */
int ct_api__referral_patch(ct_http_req *r, void *app)
{
    static const char *const keys[] = {"needs", "priority", "infections",
                                       NULL};
    ct_daemon *d = app;
    ct_capacity *cap = ct_daemon_capacity(d);
    int64_t id, priority = 0;
    bool has_priority = false;
    referral_in v;
    memset(&v, 0, sizeof v);
    int err;
    if ((err = ct_api__referral_owned(r, cap, &id)) ||
        (err = ct_http_field_only(r, NULL, keys)) ||
        (err = ct_http_field_int(r, "priority", false, -CT_PRIORITY_MAX,
                                 CT_PRIORITY_MAX, &priority,
                                 &has_priority)) ||
        (err = read_needs(r, &v)) ||
        (err = read_infections(r, ct_daemon_config(d),
                               ct_clock_now(ct_daemon_clock(d)), &v)))
        return err;
    if (!v.in.needs && !has_priority && !v.ninf)
        return ct_http_error(r, 400, "invalid", NULL,
                             "nothing to change: give needs, priority or "
                             "infections");
    ct_intake_update u = {.ch = {.set_needs = v.in.needs != NULL,
                                 .needs = v.needs,
                                 .nneeds = v.in.nneeds,
                                 .set_priority = has_priority,
                                 .priority = (int)priority},
                          .inf = v.inf,
                          .ninf = v.ninf};
    char actor[CT_API__ACTOR_MAX], field[96];
    ct_api__actor(r, actor);
    ct_cap_error cerr = {0};
    json_t *decision = NULL;
    int rc = ct_intake_update_referral(cap, ct_daemon_plugins(d), id, &u,
                                       actor, &decision, field, &cerr);
    if (rc)
        return change_refused(r, cap, id, rc, &cerr, field);
    return referral_reply(r, cap, id, 200, decision);
}

/* POST /v1/referrals/{id}/decide: a new decision, in its turn. */
int ct_api__referral_decide(ct_http_req *r, void *app)
{
    static const char *const keys[] = {NULL};
    ct_daemon *d = app;
    ct_capacity *cap = ct_daemon_capacity(d);
    int64_t id;
    int err;
    if ((err = ct_api__referral_owned(r, cap, &id)) ||
        (err = ct_http_field_only(r, NULL, keys)))
        return err;
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    ct_cap_error cerr = {0};
    json_t *decision = NULL;
    int rc = ct_intake_redecide(cap, ct_daemon_plugins(d), id, actor,
                                &decision, &cerr);
    if (rc)
        return change_refused(r, cap, id, rc, &cerr, NULL);
    return referral_reply(r, cap, id, 200, decision);
}
