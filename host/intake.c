/*
 * Referral intake and the escalation round (intake.h), the use cases the
 * API, the REPL and tests share.
 */
#include "intake.h"

#include "candidates.h"
#include "capacity_view.h"
#include "error.h"
#include "escalation.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "referral_key.h"
#include "capacity_waitlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void ct_intake_from_fixture(const json_t *ref, int64_t now,
                            ct_intake_parsed *out)
{
    memset(out, 0, sizeof *out);
    json_t *person = json_object_get(ref, "person");
    size_t nneeds = 0, ninf = 0, i;
    json_t *v;
    json_array_foreach(json_object_get(person, "needs"), i, v)
    {
        if (json_is_string(v) && nneeds < CT_INTAKE_MAX_NEEDS)
            out->needs[nneeds++] = json_string_value(v);
    }
    const char *pathogen;
    json_object_foreach(json_object_get(person, "infections"), pathogen, v)
    {
        const char *status = json_string_value(json_object_get(v, "status"));
        const char *end =
            json_string_value(json_object_get(v, "isolation_end"));
        int64_t end_ms = 0;
        if (end && ct_clock_parse(end, &end_ms))
            end_ms = 0;
        int sv = ct_infection_status_parse(status ? status : "");
        if (sv < 0 || ninf == CT_INTAKE_MAX_INFECTIONS)
            continue;
        out->inf[ninf++] = (ct_intake_infection){
            pathogen, (ct_infection_status)sv,
            sv == CT_INFECTION_POSITIVE ? now : 0, end_ms};
    }
    json_t *age = json_object_get(person, "age");
    const char *rp =
        json_string_value(json_object_get(ref, "requested_pathway"));
    ct_referral_input *in = &out->req.in;
    in->nhs_number = json_string_value(json_object_get(ref, "nhs_number"));
    in->age = json_is_integer(age) ? (int)json_integer_value(age) : -1;
    in->needs = out->needs;
    in->nneeds = nneeds;
    in->from_org = json_string_value(json_object_get(ref, "from_org"));
    in->ready_date = json_string_value(json_object_get(ref, "ready_date"));
    in->requested_pathway = rp ? ct_pathway_parse(rp) : -1;
    in->priority = (int)json_integer_value(json_object_get(ref, "priority"));
    in->usual_residence =
        json_string_value(json_object_get(person, "usual_residence"));
    out->req.inf = out->inf;
    out->req.ninf = ninf;
}

/* The infections as the referral reports them, a JSON object text keyed
 * by pathogen (times as ms), into *out (caller frees; NULL when none). */
static int infections_text(const ct_intake_request *r, char **out)
{
    *out = NULL;
    if (!r->ninf)
        return 0;
    json_t *o = json_object();
    for (size_t i = 0; o && i < r->ninf; i++) {
        const ct_intake_infection *in = &r->inf[i];
        json_t *e = json_pack(
            "{s:s, s:o, s:o}", "status", ct_infection_status_name(in->status),
            "tested_at",
            in->tested_at ? json_integer(in->tested_at) : json_null(),
            "isolation_end",
            in->isolation_end ? json_integer(in->isolation_end)
                              : json_null());
        if (!e || json_object_set_new(o, in->pathogen, e)) {
            json_decref(o);
            o = NULL;
        }
    }
    if (o)
        *out = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(o);
    return *out ? 0 : CT_ENOMEM;
}

/* The steps, inside a transaction. */
static int intake(ct_capacity *cap, ct_plugins *plugins,
                  const ct_intake_request *r, const char *actor,
                  ct_intake_result *res, ct_cap_error *err)
{
    char *inf = NULL;
    int rc = infections_text(r, &inf);
    if (rc)
        return rc;
    ct_referral_input in = r->in;
    in.infections = inf;
    res->step = CT_INTAKE_STORE;
    rc = ct_referral_create(cap, &in, actor, &res->id, err);
    free(inf);
    if (rc) {
        if (rc == CT_ENOTFOUND) /* the only thing looked up */
            snprintf(res->field, sizeof res->field, "from_org");
        return rc;
    }
    res->step = CT_INTAKE_INFECTIONS;
    for (size_t i = 0; i < r->ninf; i++) {
        const ct_intake_infection *x = &r->inf[i];
        ct_infection_update u = {in.nhs_number, x->pathogen, x->status,
                                 x->tested_at, x->isolation_end};
        if ((rc = ct_isolation_report(cap, &u, in.from_org, res->id, actor,
                                      NULL, err))) {
            snprintf(res->field, sizeof res->field, "infections.%s",
                     x->pathogen);
            return rc;
        }
    }
    res->step = CT_INTAKE_KEY;
    if (r->key_sha && in.idempotency_key &&
        (rc = ct_referral_key_set_sha(cap, res->id, r->key_sha, err)))
        return rc;
    res->step = CT_INTAKE_DECIDE;
    /* The waiting list first (intake.h): a bed that freed is offered to
     * the referrals already waiting, in order, before this one. */
    unsigned flags = 0;
    if (ct_capacity_waitlist_pending(cap)) {
        ct_intake_rematch_stats st = {0};
        if ((rc = ct_intake_rematch(cap, plugins, &st, err)))
            return rc;
        if (st.more)
            flags = CT_PIPELINE_QUEUE_ONLY;
    }
    rc = ct_pipeline_decide_with(cap, plugins, res->id, actor, flags,
                                 &res->decision, err);
    if (rc == 0 && flags)
        ct_capacity_waitlist_mark(cap, CT_WAITLIST_CAPACITY); /* its turn */
    return rc;
}

/* ---- the waiting list ----------------------------------------------- */

#define REMATCH_ACTOR "waiting-list"
#define PAGE 64
/* Candidates the host's rules are asked for before a referral is decided
 * again: one is enough, unless beds are left out for it (then all). */
#define PRECHECK 1

/* Whether the host's rules find a bed for e now that its providers have
 * not declined; errors count as yes (the decision then says what). */
static bool may_fit(ct_capacity *cap, const ct_capacity_waitlist_entry *e,
                    ct_candidate_list *list)
{
    if (e->pathway == CT_PATHWAY_P0)
        return false;
    ct_candidate_query q = {.referral_id = e->id,
                            .pathway = e->pathway,
                            .kinds = e->kinds,
                            .limit = ct_pipeline_declined_beds(cap, e->id)
                                         ? 0
                                         : PRECHECK};
    ct_cap_error err = {0};
    if (ct_candidates_find(cap, &q, list, &err))
        return true;
    for (size_t i = 0; i < list->len; i++)
        if (!ct_pipeline_declined(cap, e->id, list->items[i].bed_id))
            return true;
    return false;
}

/* The plugins' order for a round that starts from the top (their queue
 * hooks, docs/plugins.md "The waiting list"): the first QUEUE_MAX
 * referrals of the host's order go to the hooks, the rest follow as they
 * are. Without a queue hook the host's order is served. A failure to read
 * the list serves the host's order too (logged). */
#define QUEUE_MAX 2000
static void order_list(ct_capacity *cap, ct_plugins *plugins)
{
    if (!plugins || !ct_plugins_has_queue(plugins)) {
        ct_capacity_waitlist_set_order(cap, NULL, 0);
        return;
    }
    ct_waitlist_query q = {.all = true, .host_order = true};
    json_t *page = NULL, *head = json_array(), *e;
    ct_cap_error err = {0};
    int64_t *ids = NULL;
    if (ct_capacity_waitlist_json(cap, &q, &page, &err) || !head) {
        ct_log_error("intake", "waiting list: not ordered: %s", err.message);
        goto done;
    }
    json_t *all = json_object_get(page, "waiting");
    size_t n = json_array_size(all), i, k = 0;
    json_array_foreach(all, i, e)
    {
        if (i == QUEUE_MAX)
            break;
        /* The hooks order people; why they wait is the decisions'. */
        json_object_del(e, "why");
        json_object_del(e, "reasons");
        json_array_append(head, e);
    }
    ct_plugins_queue(plugins, &head, NULL);
    if (n && !(ids = malloc(n * sizeof *ids)))
        goto done;
    json_array_foreach(head, i, e)
        ids[k++] = json_integer_value(json_object_get(e, "id"));
    for (i = QUEUE_MAX; i < n; i++)
        ids[k++] = json_integer_value(
            json_object_get(json_array_get(all, i), "id"));
    ct_capacity_waitlist_set_order(cap, ids, k);
done:
    if (!ids)
        ct_capacity_waitlist_set_order(cap, NULL, 0);
    free(ids);
    json_decref(head);
    json_decref(page);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct rematch_call {
    ct_capacity *cap;
    ct_plugins *plugins;
    ct_intake_rematch_stats *st;
} rematch_call;

static int rematch_fn(ct_store *s, void *arg)
{
    (void)s;
    rematch_call *c = arg;
    ct_intake_rematch_stats *st = c->st;
    ct_capacity_waitlist_entry page[PAGE];
    ct_candidate_list list = {0};
    int rc = 0;
    unsigned bits;
    int64_t until = mono_ms() + CT_INTAKE_REMATCH_MS;
#define SPENT()                                                              \
    (st->decided >= CT_INTAKE_REMATCH_DECISIONS ||                           \
     st->checked >= CT_INTAKE_REMATCH_CHECKS ||                              \
     (st->decided && mono_ms() >= until))
    while ((bits = ct_capacity_waitlist_round(c->cap)) && !SPENT()) {
        if (ct_capacity_waitlist_wants_order(c->cap))
            order_list(c->cap, c->plugins);
        size_t n = 0;
        ct_cap_error err = {0};
        if ((rc = ct_capacity_waitlist_entries(c->cap, page, PAGE, &n, &err))) {
            ct_log_error("intake", "waiting list: %s", err.message);
            break;
        }
        if (n == 0) {
            ct_capacity_waitlist_round_done(c->cap);
            continue; /* a mark may have come in: another round */
        }
        for (size_t i = 0; i < n; i++) {
            if (SPENT())
                break;
            const ct_capacity_waitlist_entry *e = &page[i];
            ct_capacity_waitlist_passed(c->cap, e);
            st->checked++;
            /* A manual review waits for a person, not for capacity: only
             * a policy change (a plugin fixed, say) decides it again. */
            if (e->manual && !(bits & CT_WAITLIST_POLICY))
                continue;
            if (e->decided && !e->deferred && !e->manual &&
                !(bits & CT_WAITLIST_POLICY) && !may_fit(c->cap, e, &list))
                continue;
            json_t *d = NULL;
            ct_cap_error derr = {0};
            int drc = ct_pipeline_decide(c->cap, c->plugins, e->id,
                                         REMATCH_ACTOR, &d, &derr);
            st->decided++;
            if (drc) {
                ct_log_warn("intake",
                            "waiting list: referral %lld not decided "
                            "again: %s",
                            (long long)e->id, derr.message);
                continue;
            }
            const char *outcome =
                json_string_value(json_object_get(d, "outcome"));
            if (outcome && strcmp(outcome, "held") == 0)
                st->held++;
            json_decref(d);
            if (ct_capacity_waitlist_round(c->cap) != bits)
                break; /* marked again: from the top */
        }
    }
#undef SPENT
    ct_candidate_list_free(&list);
    st->more = ct_capacity_waitlist_pending(c->cap);
    return rc;
}

int ct_intake_rematch(ct_capacity *cap, ct_plugins *plugins,
                      ct_intake_rematch_stats *st, ct_cap_error *err)
{
    memset(st, 0, sizeof *st);
    if (!ct_capacity_waitlist_pending(cap))
        return 0;
    rematch_call c = {cap, plugins, st};
    int rc = ct_store_run(ct_capacity_store(cap), rematch_fn, &c);
    if (rc && !err->code) {
        err->code = rc;
        snprintf(err->message, sizeof err->message,
                 "re-matching the waiting list: %s", ct_strerror(rc));
    }
    return rc;
}

typedef struct redecide_call {
    ct_capacity *cap;
    ct_plugins *plugins;
    int64_t id;
    const char *actor;
    json_t **decision;
    ct_cap_error *err;
    const ct_intake_update *u; /* the update first, when not NULL */
    char *field;
} redecide_call;

/* u's changes to referral id, inside the transaction. */
static int nomem(ct_cap_error *err)
{
    err->code = CT_ENOMEM;
    snprintf(err->message, sizeof err->message, "out of memory");
    return CT_ENOMEM;
}

static int update(redecide_call *c)
{
    const ct_intake_update *u = c->u;
    ct_referral ref;
    int rc = ct_referral_get(c->cap, c->id, &ref, c->err);
    if (rc)
        return rc;
    ct_referral_change ch = u->ch;
    ch.pathogen = ch.report = NULL;
    if ((ch.set_needs || ch.set_priority) &&
        (rc = ct_referral_update(c->cap, c->id, &ch, c->actor, c->err)))
        return rc;
    for (size_t i = 0; i < u->ninf; i++) {
        const ct_intake_infection *x = &u->inf[i];
        ct_intake_request one = {.inf = x, .ninf = 1};
        char *text = NULL;
        json_t *o = NULL;
        if ((rc = infections_text(&one, &text)))
            return nomem(c->err);
        o = json_loads(text, 0, NULL);
        free(text);
        char *report =
            o ? json_dumps(json_object_get(o, x->pathogen), JSON_COMPACT)
              : NULL;
        json_decref(o);
        if (!report)
            return nomem(c->err);
        ct_referral_change rep = {.pathogen = x->pathogen, .report = report};
        rc = ct_referral_update(c->cap, c->id, &rep, c->actor, c->err);
        free(report);
        ct_infection_update iu = {ref.nhs_number, x->pathogen, x->status,
                                  x->tested_at, x->isolation_end};
        if (!rc)
            rc = ct_isolation_report(c->cap, &iu, ref.from_org, c->id,
                                     c->actor, NULL, c->err);
        if (rc) {
            if (c->field)
                snprintf(c->field, 96, "infections.%s", x->pathogen);
            return rc;
        }
    }
    return 0;
}

static int redecide_fn(ct_store *s, void *arg)
{
    (void)s;
    redecide_call *c = arg;
    ct_referral ref;
    int rc = c->u ? update(c) : 0;
    if (rc || (rc = ct_referral_get(c->cap, c->id, &ref, c->err)))
        return rc;
    if (ref.state == CT_REFERRAL_HELD &&
        (rc = ct_capacity_release(c->cap, c->id, "decided again", c->actor,
                                  c->err)))
        return rc;
    json_t *d = NULL;
    if ((rc = ct_pipeline_decide_with(c->cap, c->plugins, c->id, c->actor,
                                      CT_PIPELINE_QUEUE_ONLY, &d, c->err)))
        return rc;
    json_decref(d);
    ct_capacity_waitlist_mark(c->cap, CT_WAITLIST_CAPACITY);
    ct_intake_rematch_stats st;
    if ((rc = ct_intake_rematch(c->cap, c->plugins, &st, c->err)))
        return rc;
    return c->decision ? ct_pipeline_stored_decision(c->cap, c->id,
                                                     c->decision, c->err)
                       : 0;
}

/* Runs fn in the store's transaction rule (store.h): a savepoint of the
 * caller's (the daemon's group commit) or a transaction of its own, its
 * events out after the commit or not at all. A failure that set no
 * message of its own gets the code's. */
static int run(ct_capacity *cap, ct_store_fn fn, void *c, ct_cap_error *err)
{
    int rc = ct_store_run(ct_capacity_store(cap), fn, c);
    if (rc && !err->code) {
        err->code = rc;
        snprintf(err->message, sizeof err->message, "%s", ct_strerror(rc));
    }
    return rc;
}

int ct_intake_redecide(ct_capacity *cap, ct_plugins *plugins, int64_t id,
                       const char *actor, json_t **decision,
                       ct_cap_error *err)
{
    return ct_intake_update_referral(cap, plugins, id, NULL, actor, decision,
                                     NULL, err);
}

typedef struct intake_call {
    ct_capacity *cap;
    ct_plugins *plugins;
    const ct_intake_request *r;
    const char *actor;
    ct_intake_result *res;
    ct_cap_error *err;
} intake_call;

static int intake_fn(ct_store *s, void *arg)
{
    (void)s;
    intake_call *c = arg;
    return intake(c->cap, c->plugins, c->r, c->actor, c->res, c->err);
}

int ct_intake_referral(ct_capacity *cap, ct_plugins *plugins,
                       const ct_intake_request *r, const char *actor,
                       ct_intake_result *res, ct_cap_error *err)
{
    memset(res, 0, sizeof *res);
    intake_call c = {cap, plugins, r, actor, res, err};
    int rc = run(cap, intake_fn, &c, err);
    if (rc) {
        json_decref(res->decision);
        res->decision = NULL;
    }
    return rc;
}

int ct_intake_update_referral(ct_capacity *cap, ct_plugins *plugins,
                              int64_t id, const ct_intake_update *u,
                              const char *actor, json_t **decision,
                              char *field, ct_cap_error *err)
{
    if (decision)
        *decision = NULL;
    if (field)
        field[0] = '\0';
    redecide_call c = {cap, plugins, id, actor, decision, err, u, field};
    int rc = run(cap, redecide_fn, &c, err);
    if (rc && decision) {
        json_decref(*decision);
        *decision = NULL;
    }
    return rc;
}

int ct_intake_escalate(ct_capacity *cap, ct_plugins *plugins, json_t **out,
                       bool *changed, ct_cap_error *err)
{
    if (out)
        *out = NULL;
    bool moved = false;
    json_t *metrics = NULL, *res = NULL, *trace = json_array();
    int rc = trace ? ct_metrics_json(cap, &metrics, err) : CT_ENOMEM;
    if (rc == 0)
        rc = ct_plugins_escalate(plugins, metrics, trace, &res);
    json_int_t level =
        res ? json_integer_value(json_object_get(res, "level")) : 0;
    if (rc == 0 && level > 0)
        rc = ct_escalation_record(
            cap, (int)level,
            json_string_value(json_object_get(res, "reason")),
            json_object_get(res, "actions"), "plugins", &moved, err);
    if (rc == 0 && out && res) {
        json_object_set_new(res, "changed", json_boolean(moved));
        json_object_set(res, "trace", trace);
        *out = json_incref(res);
    }
    if (changed)
        *changed = rc == 0 && moved;
    json_decref(metrics);
    json_decref(res);
    json_decref(trace);
    return rc;
}

int ct_intake_delay(ct_capacity *cap, ct_plugins *plugins, int64_t id,
                    const ct_delay_input *in, const char *actor,
                    const char **field, ct_cap_error *err)
{
    return ct_intake_delay_episode(cap, plugins, id, 0, in, actor, field,
                                   err);
}

int ct_intake_delay_episode(ct_capacity *cap, ct_plugins *plugins,
                            int64_t id, int64_t episode,
                            const ct_delay_input *in, const char *actor,
                            const char **field, ct_cap_error *err)
{
    if (field)
        *field = NULL;
    json_t *answer = NULL, *org = NULL, *view = NULL, *d = NULL;
    const char *text = NULL;
    int rc = ct_delay_org_json(cap, in->responsible_org, &org, err);
    if (rc) {
        if (rc == CT_ENOTFOUND && field)
            *field = "responsible_org";
        return rc == CT_ENOTFOUND ? CT_EINVAL : rc;
    }
    if (plugins) {
        char today[11];
        ct_clock_day_text(
            ct_clock_uk_day(ct_clock_now(ct_capacity_clock(cap))), today);
        if ((rc = ct_capacity_view_referral(cap, id, &view, err)))
            goto done;
        d = json_pack("{s:s, s:s, s:s, s:O}", "reason", in->reason,
                      "responsible_org", in->responsible_org, "from",
                      in->from ? in->from : today, "org", org);
        rc = d ? ct_plugins_delay(plugins, view, d, NULL, &answer)
               : CT_ENOMEM;
        if (rc == CT_EPLUGIN)
            snprintf(err->message, sizeof err->message, "%s",
                     "the area's delay reason check failed; nothing was "
                     "recorded");
        if (rc)
            goto done;
        if (answer && json_is_false(json_object_get(answer, "valid"))) {
            const char *f =
                json_string_value(json_object_get(answer, "field"));
            if (field)
                *field = f && strcmp(f, "responsible_org") == 0
                             ? "responsible_org"
                             : "reason";
            snprintf(err->message, sizeof err->message, "%s",
                     json_string_value(json_object_get(answer, "message"))
                         ? json_string_value(
                               json_object_get(answer, "message"))
                         : "refused by the area's reason list");
            rc = err->code = CT_EINVAL;
            goto done;
        }
        if (answer)
            text = json_string_value(json_object_get(answer, "text"));
    }
    ct_delay_input use = *in;
    use.reason_text = text;
    rc = episode ? ct_delay_correct(cap, id, episode, &use, actor, field,
                                    err)
                 : ct_delay_start(cap, id, &use, actor, field, err);
done:
    json_decref(answer);
    json_decref(org);
    json_decref(view);
    json_decref(d);
    return rc;
}
