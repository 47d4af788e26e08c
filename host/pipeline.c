/*
 * The decision pipeline. One referral goes through triage, candidate
 * search, rank, admit and hold in one transaction (or one savepoint of the
 * caller's), and leaves a decision record whose trace says which plugins
 * ran, what each saw and answered, and why the host did what it did.
 */
#include "pipeline.h"

#include "area.h"
#include "candidates.h"
#include "capacity.h"
#include "capacity_view.h"
#include "error.h"
#include "isolation.h"
#include "json_canon.h"
#include "log.h"
#include "referral.h"
#include "store_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ct_pipeline_stored_decision(ct_capacity *cap, int64_t id, json_t **out,
                                ct_cap_error *err)
{
    return ct_referral_decision(cap, id, out, err);
}

bool ct_pipeline_declined(ct_capacity *cap, int64_t id, const char *bed_id)
{
    sqlite3_stmt *st = ct_area__stmt(cap, CT_STMT_WAIT_DECLINED, NULL);
    if (!st)
        return false;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, bed_id, -1, SQLITE_STATIC);
    bool yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return yes;
}

/* State of one run, so the steps below stay short. */
typedef struct run {
    ct_capacity *cap;
    ct_plugins *plugins;
    int64_t id;
    const char *actor;
    ct_cap_error *err;
    json_t *view;    /* the referral as plugins see it */
    json_t *trace;   /* plugin steps */
    json_t *candidates; /* the host's candidates' beds, in its order */
    json_t *reasons; /* host's own explanations */
    int pathway;     /* ct_pathway or -1 */
    unsigned kinds;  /* facility kinds the triage named; 0: the host's
                        default for the pathway (candidates.h) */
    int priority;
    bool manual;
    unsigned flags;  /* CT_PIPELINE_* */
    json_t *drops;   /* beds plugins left out: {plugin, bed, reason} */
    json_t *refused; /* beds admit refused: {bed, reason} */
    json_t *why;     /* a wait's structured reasons (explain_wait) */
} run;

static void reason(run *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void reason(run *r, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(r->reasons, json_string(buf));
}

/* Triage: the first plugin answer, else the requested pathway. */
static int triage(run *r)
{
    json_t *answer = NULL;
    if (r->plugins) {
        int rc = ct_plugins_triage(r->plugins, r->view, r->trace, &answer,
                                   &r->manual);
        if (rc)
            return ct_area__fail(r->err, rc, "triage failed: %s",
                                 ct_strerror(rc));
    }
    if (r->manual) {
        json_decref(answer);
        reason(r, "a plugin failed and its fallback is manual review");
        return 0;
    }
    const char *why = NULL;
    if (answer) {
        r->pathway = ct_pathway_parse(
            json_string_value(json_object_get(answer, "pathway")));
        json_t *prio = json_object_get(answer, "priority");
        if (json_is_integer(prio))
            r->priority = (int)json_integer_value(prio);
        /* Which kinds of facility serve the pathway is the area's policy
         * (discharge_hub's pathway_kinds); ct_plugins_triage has checked
         * each name. */
        size_t i;
        json_t *k;
        json_array_foreach(json_object_get(answer, "kinds"), i, k)
        {
            int kind = ct_facility_kind_parse(json_string_value(k));
            if (kind >= 0)
                r->kinds |= 1u << kind;
        }
        why = json_string_value(json_object_get(answer, "reason"));
    } else {
        r->pathway = ct_pathway_parse(json_string_value(
            json_object_get(r->view, "requested_pathway")));
        if (r->pathway >= 0)
            reason(r, "no plugin triaged it: the requested pathway %s applies",
                   ct_pathway_name((ct_pathway)r->pathway));
    }
    if (r->pathway < 0) {
        json_decref(answer);
        r->manual = true;
        reason(r, "no pathway: no plugin triaged it and none was "
                  "requested");
        return 0;
    }
    const char *state =
        json_string_value(json_object_get(r->view, "state"));
    if (state && strcmp(state, "received") != 0 &&
        strcmp(state, "waiting") != 0 && strcmp(state, "triaged") != 0) {
        json_decref(answer);
        return ct_area__fail(r->err, CT_ESTATE,
                             "referral %lld is %s; cannot decide",
                             (long long)r->id, state);
    }
    /* why points into answer: release it only after the triage. */
    int rc = ct_referral_triage(r->cap, r->id, (ct_pathway)r->pathway,
                                r->priority, why ? why : "host default",
                                r->actor, r->err);
    json_decref(answer);
    if (rc)
        return rc;
    /* rank and admit see the referral as triaged: the decided pathway
     * (a step-down decision changes what a bed must be) and priority. A
     * copy: the trace keeps the view triage saw. */
    json_t *v = json_deep_copy(r->view);
    json_t *pw = json_string(ct_pathway_name((ct_pathway)r->pathway));
    bool bad = !v || !pw || json_object_set(v, "decided_pathway", pw) ||
               json_object_set(v, "pathway", pw) ||
               json_object_set_new(v, "state", json_string("triaged")) ||
               json_object_set_new(v, "priority", json_integer(r->priority));
    json_decref(pw);
    if (bad) {
        json_decref(v);
        return ct_area__fail(r->err, CT_ENOMEM, "out of memory");
    }
    json_decref(r->view);
    r->view = v;
    return 0;
}

/* The beds of a candidate list, in its order: what the decision records
 * of the host's candidates (each bed's zone, facility and tags are the
 * area's, and the rank steps' traces say what the plugins made of them). */
static json_t *bed_ids(const json_t *list)
{
    json_t *ids = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
        json_array_append(ids, json_object_get(c, "bed"));
    return ids;
}

size_t ct_pipeline_declined_beds(ct_capacity *cap, int64_t id)
{
    sqlite3_stmt *st = ct_area__stmt(cap, CT_STMT_WAIT_ANY_DECLINED,
                                     NULL);
    if (!st)
        return 0;
    sqlite3_bind_int64(st, 1, id);
    size_t n = sqlite3_step(st) == SQLITE_ROW
                   ? (size_t)sqlite3_column_int64(st, 0)
                   : 0;
    sqlite3_reset(st);
    return n;
}

/* Takes out of the host's candidates the beds whose providers declined
 * this referral (any: there are some); returns how many. */
static size_t drop_declined(run *r, json_t *host, size_t any)
{
    size_t n = 0;
    for (size_t i = 0; any && i < json_array_size(host);) {
        const char *bed = json_string_value(
            json_object_get(json_array_get(host, i), "bed"));
        if (bed && ct_pipeline_declined(r->cap, r->id, bed)) {
            json_array_remove(host, i);
            n++;
        } else {
            i++;
        }
    }
    return n;
}

/* Candidates, rank, admit, hold. Sets *held to the candidate held. */
static int place(run *r, json_t **held, int64_t *hold_id)
{
    *held = NULL;
    ct_candidate_list list = {0};
    /* After a decline or an expiry, every candidate: the beds left out
     * below may be many (a provider's), and as many should stay. */
    size_t refused_by = ct_pipeline_declined_beds(r->cap, r->id);
    size_t keep = r->plugins ? CT_PIPELINE_MAX_CANDIDATES : 1;
    ct_candidate_query q = {.referral_id = r->id,
                            .pathway = r->pathway,
                            .kinds = r->kinds,
                            .limit = refused_by ? 0 : keep};
    int rc = ct_candidates_find(r->cap, &q, &list, r->err);
    if (rc)
        return rc;
    json_t *host = ct_candidates_json(&list);
    ct_candidate_list_free(&list);
    if (!host)
        return ct_area__fail(r->err, CT_ENOMEM, "out of memory");
    size_t declined = drop_declined(r, host, refused_by);
    if (declined)
        reason(r, "%zu bed(s) left out: their provider declined this "
                  "referral or let its hold there expire", declined);
    while (json_array_size(host) > keep)
        json_array_remove(host, keep);
    if (json_array_size(host) == 0) {
        reason(r, "no bed passes the host's rules for pathway %s",
               ct_pathway_name((ct_pathway)r->pathway));
        json_decref(host);
        return 0;
    }
    /* rank replaces the list with what the plugins return; the host's own
     * stays as it was for the membership check. */
    json_t *ranked = json_incref(host);
    /* Plugins may not invent beds: whatever rank returns, only beds that
     * passed the host's rules can be held. */
    json_t *offered = ct_json_key_set(host, "bed");
    if (r->plugins)
        r->candidates = bed_ids(host);
    if (r->plugins &&
        (rc = ct_plugins_rank(r->plugins, r->view, &ranked, r->trace,
                              &r->manual, r->drops))) {
        json_decref(ranked);
        json_decref(host);
        json_decref(offered);
        return ct_area__fail(r->err, rc, "rank failed: %s",
                             ct_strerror(rc));
    }
    if (r->manual) {
        reason(r, "a plugin failed and its fallback is manual review");
        goto done;
    }
    size_t i;
    json_t *c;
    json_t *tried = json_object(); /* a bed ranked twice is tried once */
    json_array_foreach(ranked, i, c)
    {
        const char *bed = json_string_value(json_object_get(c, "bed"));
        if (!bed || !json_object_get(offered, bed)) {
            reason(r, "ignored a ranked entry that is not one of the host's "
                      "candidates (bed %s)", bed ? bed : "missing");
            continue;
        }
        if (json_object_get(tried, bed)) {
            reason(r, "ignored bed %s ranked again", bed);
            continue;
        }
        json_object_set_new(tried, bed, json_true());
        bool allowed = true;
        const char *why = NULL;
        if (r->plugins &&
            (rc = ct_plugins_admit(r->plugins, r->view, c, r->trace,
                                   &allowed, &why, &r->manual)))
            break;
        if (r->manual) {
            reason(r, "a plugin failed and its fallback is manual review");
            break;
        }
        if (!allowed) {
            char msg[400];
            snprintf(msg, sizeof msg, "bed %s refused: %s", bed,
                     why ? why : "no reason given");
            reason(r, "%s", msg);
            json_array_append_new(
                r->refused, json_pack("{s:s, s:s}", "bed", bed, "reason",
                                      why ? why : "no reason given"));
            continue;
        }
        ct_cap_error herr = {0};
        rc = ct_capacity_hold(r->cap, r->id, bed, 0, r->actor, hold_id,
                              &herr);
        if (rc == 0) {
            *held = json_incref(c);
            break;
        }
        /* A hold the host refuses (raced, rule) moves on to the next. */
        reason(r, "%s", herr.message);
        rc = 0;
    }
    json_decref(tried);
done:
    json_decref(ranked);
    json_decref(host);
    json_decref(offered);
    return rc;
}


static int64_t member(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/*
 * A wait's structured reasons (docs/api.md "Why a referral waits"): how
 * many beds each host rule kept from the person, which plugin left out
 * which bed and why, which admit refused, and what would place the
 * person; each also said in words among the reasons.
 */
static void explain_wait(run *r)
{
    json_t *why = json_object(), *ex = NULL;
    if (!why)
        return;
    ct_candidate_query q = {.referral_id = r->id,
                            .pathway = r->pathway,
                            .kinds = r->kinds};
    ct_cap_error e = {0};
    const char *pw = ct_pathway_name((ct_pathway)r->pathway);
    json_t *would = json_array();
    if (r->pathway >= 0 && ct_candidates_explain(r->cap, &q, &ex, &e) == 0) {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(ex, "tags"), k, v)
            reason(r, "%lld bed(s) of pathway %s lack the tag %s",
                   (long long)json_integer_value(v), pw, k);
        if (member(ex, "cohort"))
            reason(r, "%lld bed(s) are in zones whose cohort does not admit "
                      "the person's infection status",
                   (long long)member(ex, "cohort"));
        if (member(ex, "closed"))
            reason(r, "%lld bed(s) are in zones closed to admissions",
                   (long long)member(ex, "closed"));
        long long busy = member(ex, "held") + member(ex, "occupied") +
                         member(ex, "blocked");
        if (busy)
            reason(r, "%lld bed(s) that would suit are full: %lld held, "
                      "%lld occupied, %lld blocked",
                   busy, (long long)member(ex, "held"),
                   (long long)member(ex, "occupied"),
                   (long long)member(ex, "blocked"));
        /* What would place the person: the first hold to expire on a bed
         * that suits, surge beds that would open, an isolation ending. */
        int64_t first = INT64_MAX;
        const char *first_bed = NULL;
        size_t i;
        json_array_foreach(json_object_get(ex, "held_beds"), i, v)
        {
            ct_bed_info b;
            ct_cap_error be = {0};
            if (ct_capacity_bed(r->cap, json_string_value(v), &b, &be) == 0 &&
                b.expires_at && b.expires_at < first) {
                first = b.expires_at;
                first_bed = json_string_value(v);
            }
        }
        char when[40];
        if (first_bed) {
            ct_clock_format(first, when, sizeof when);
            reason(r, "bed %s frees at %s if its hold expires", first_bed,
                   when);
            json_array_append_new(would, json_pack("{s:s, s:s, s:I}", "event",
                                                   "hold_expires", "bed",
                                                   first_bed, "at",
                                                   (json_int_t)first));
        }
        json_object_foreach(json_object_get(ex, "surge_beds"), k, v)
        {
            reason(r, "%lld surge bed(s) at %s would take the person if its "
                      "surge capacity opened",
                   (long long)json_integer_value(v), k);
            json_array_append_new(would,
                                  json_pack("{s:s, s:s, s:O}", "event",
                                            "surge_opens", "facility", k,
                                            "beds", v));
        }
        if (member(ex, "isolation_ends")) {
            ct_clock_format(member(ex, "isolation_ends"), when, sizeof when);
            reason(r, "the person's isolation ends at %s", when);
            json_array_append_new(
                would, json_pack("{s:s, s:I}", "event", "isolation_ends",
                                 "at",
                                 (json_int_t)member(ex, "isolation_ends")));
        }
        json_object_set_new(why, "excluded", ex);
    }
    /* The plugins' drops, one line per plugin and reason. */
    json_t *lines = json_object();
    size_t i;
    json_t *d;
    json_array_foreach(r->drops, i, d)
    {
        char key[600];
        snprintf(key, sizeof key, "%s\x1f%s",
                 json_string_value(json_object_get(d, "plugin")),
                 json_string_value(json_object_get(d, "reason")));
        ct_json_count(lines, key);
    }
    const char *k;
    json_t *v;
    json_object_foreach(lines, k, v)
    {
        const char *sep = strchr(k, '\x1f');
        reason(r, "plugin %.*s left out %lld bed(s): %s",
               (int)(sep ? sep - k : 0), k, (long long)json_integer_value(v),
               sep ? sep + 1 : "");
    }
    json_decref(lines);
    json_object_set(why, "dropped", r->drops);
    json_object_set(why, "refused", r->refused);
    json_object_set_new(why, "would_place", would);
    r->why = why;
}

static json_t *decision_json(run *r, const char *outcome, json_t *held,
                             int64_t hold_id)
{
    json_t *d = json_pack(
        "{s:I, s:s, s:o, s:i, s:O, s:O}", "referral", (json_int_t)r->id,
        "outcome", outcome, "pathway",
        r->pathway >= 0 ? json_string(ct_pathway_name((ct_pathway)r->pathway))
                        : json_null(),
        "priority", r->priority, "reasons", r->reasons, "trace", r->trace);
    if (!d)
        return NULL;
    if (held) {
        json_object_set(d, "bed", json_object_get(held, "bed"));
        json_object_set(d, "zone", json_object_get(held, "zone"));
        json_object_set(d, "facility", json_object_get(held, "facility"));
        json_object_set_new(d, "hold_id", json_integer(hold_id));
        ct_referral ref;
        ct_cap_error e = {0};
        if (ct_referral_get(r->cap, r->id, &ref, &e) == 0)
            json_object_set_new(d, "hold_expires_at",
                                json_integer(ref.hold_expires_at));
    }
    if (r->candidates)
        json_object_set(d, "candidates", r->candidates);
    if (r->kinds) {
        /* What the search looked in: the waiting list's re-match asks the
         * host's rules again with the same kinds (capacity_waitlist.h). */
        json_t *k = json_array();
        for (int i = 0; k && i < CT_FACILITY__COUNT; i++)
            if (r->kinds >> i & 1u)
                json_array_append_new(
                    k, json_string(ct_facility_kind_name((ct_facility_kind)i)));
        json_object_set_new(d, "kinds", k);
    }
    if (r->flags & CT_PIPELINE_QUEUE_ONLY)
        json_object_set_new(d, "deferred", json_true());
    if (r->why)
        json_object_set(d, "why", r->why);
    json_object_set_new(d, "plugins",
                        r->plugins ? ct_plugins_provenance(r->plugins)
                                   : json_array());
    return d;
}

static int record(run *r, json_t *d)
{
    return ct_referral_set_decision(r->cap, r->id, d, r->actor, r->err);
}

/* The whole run, inside an open transaction or savepoint. */
static int decide(run *r, json_t **decision)
{
    int rc = ct_capacity_view_referral(r->cap, r->id, &r->view, r->err);
    if (rc)
        return rc;
    const char *state = json_string_value(json_object_get(r->view, "state"));
    if (!state || (strcmp(state, "received") != 0 &&
                   strcmp(state, "waiting") != 0 &&
                   strcmp(state, "triaged") != 0))
        return ct_area__fail(r->err, CT_ESTATE,
                             "referral %lld is %s; only received, "
                             "triaged or waiting referrals are decided",
                             (long long)r->id, state ? state : "?");
    json_t *prio = json_object_get(r->view, "priority");
    r->priority = json_is_integer(prio) ? (int)json_integer_value(prio) : 0;
    if ((rc = triage(r)))
        return rc;
    json_t *held = NULL;
    int64_t hold_id = 0;
    const char *outcome;
    if (!r->manual && r->pathway == CT_PATHWAY_P0) {
        reason(r, "pathway P0 needs no bed");
        outcome = "home";
    } else {
        if (!r->manual && (r->flags & CT_PIPELINE_QUEUE_ONLY))
            reason(r, "queued in its turn: the waiting list is being "
                      "re-matched after a change in capacity, and earlier "
                      "referrals are offered the beds first");
        else if (!r->manual && (rc = place(r, &held, &hold_id)))
            return rc;
        outcome = held ? "held" : r->manual ? "manual_review" : "waiting";
        if (!held) {
            /* Waiting (or for a person to decide): queue it, from
             * received via triaged when triage did not run. */
            ct_referral ref;
            if ((rc = ct_referral_get(r->cap, r->id, &ref, r->err)))
                return rc;
            if (ref.state == CT_REFERRAL_RECEIVED) {
                int p = r->pathway >= 0 ? r->pathway : ref.requested_pathway;
                if (p < 0)
                    p = CT_PATHWAY_P0; /* recorded only; manual review */
                if ((rc = ct_referral_triage(r->cap, r->id, (ct_pathway)p,
                                             r->priority, "manual review",
                                             r->actor, r->err)))
                    return rc;
            }
            if (ref.state != CT_REFERRAL_WAITING &&
                (rc = ct_referral_queue(r->cap, r->id, r->actor, r->err)))
                return rc;
        }
    }
    if (!held && strcmp(outcome, "home") != 0 &&
        !(r->flags & CT_PIPELINE_QUEUE_ONLY))
        explain_wait(r);
    json_t *d = decision_json(r, outcome, held, hold_id);
    json_decref(held);
    if (!d)
        return ct_area__fail(r->err, CT_ENOMEM, "out of memory");
    if ((rc = record(r, d))) {
        json_decref(d);
        return rc;
    }
    *decision = d;
    return 0;
}

int ct_pipeline_decide(ct_capacity *cap, ct_plugins *plugins, int64_t id,
                       const char *actor, json_t **decision,
                       ct_cap_error *err)
{
    return ct_pipeline_decide_with(cap, plugins, id, actor, 0, decision,
                                   err);
}

int ct_pipeline_decide_with(ct_capacity *cap, ct_plugins *plugins,
                            int64_t id, const char *actor, unsigned flags,
                            json_t **decision, ct_cap_error *err)
{
    *decision = NULL;
    if (plugins && ct_plugins_count(plugins) == 0)
        plugins = NULL; /* the host's defaults, without plugin overhead */
    if (plugins)
        ct_plugins_decision_begin(plugins);
    ct_store *s = ct_capacity_store(cap);
    bool own;
    int rc = ct_store_enter(s, &own);
    if (rc)
        return ct_area__fail(err, rc, "cannot begin: %s",
                             ct_strerror(rc));
    run r = {.cap = cap,
             .plugins = plugins,
             .id = id,
             .actor = actor,
             .err = err,
             .trace = json_array(),
             .reasons = json_array(),
             .pathway = -1,
             .flags = flags,
             .drops = json_array(),
             .refused = json_array()};
    rc = (r.trace && r.reasons && r.drops && r.refused)
             ? decide(&r, decision)
                                : ct_area__fail(err, CT_ENOMEM,
                                                "out of memory");
    int end = ct_store_leave(s, own, rc);
    if (end && !rc)
        ct_area__fail(err, end, "cannot commit: %s", ct_strerror(end));
    if (end) {
        json_decref(*decision);
        *decision = NULL;
    }
    rc = end;
    json_decref(r.view);
    json_decref(r.trace);
    json_decref(r.candidates);
    json_decref(r.reasons);
    json_decref(r.drops);
    json_decref(r.refused);
    json_decref(r.why);
    return rc;
}
