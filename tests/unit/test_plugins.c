/*
 * The plugin manager through the decision pipeline: composition order,
 * fallbacks, quarantine, result shapes, events, schedules, escalation and
 * reload, with the test plugins under tests/plugins.
 */
#include "capacity_fixture.h"
#include "capacity_view.h"
#include "bundle.h"
#include "fixtures.h"
#include "signkey.h"
#include "trust.h"
#include "isolation.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "plugins.h"
#include "referral.h"
#include "testrun.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Signed bundles run their own tests before activation: with caretide
 * test's runner, as the binary registers it (main.c). */
__attribute__((constructor)) static void register_runner(void)
{
    ct_plugins_set_self_test(ct_testrun_self_test);
}

static char *area_with(const char *plugins, const char *extra)
{
    size_t n = strlen(cap_fx_area) + strlen(plugins) + strlen(extra) + 256;
    char *s = malloc(n);
    /* A generous deadline unless the test sets its own: these machines are
     * shared and the sanitizer builds slow. */
    snprintf(s, n,
             "%s"
             "plugin_path: [\"" CT_SOURCE_DIR "/tests/plugins\"]\n"
             "plugins:\n%s%s%s",
             cap_fx_area, plugins, extra,
             strstr(extra, "limits:") ? "" : "limits: {plugin_deadline: 2s}\n");
    return s;
}

typedef struct pfx {
    cap_fx f;
    ct_plugins *m;
} pfx;

static void open_with(pfx *p, const char *plugins, const char *extra)
{
    char *yaml = area_with(plugins, extra);
    cap_fx_open(&p->f, yaml);
    free(yaml);
    ct_diags d = {0};
    int rc = ct_plugins_new(p->f.cap, p->f.cfg, &p->m, &d);
    cr_assert_eq(rc, 0, "plugins: %s", d.len ? d.items[0].message : "?");
    ct_diags_free(&d);
}

static void close_pfx(pfx *p)
{
    ct_plugins_free(p->m);
    cap_fx_close(&p->f);
}

/* A referral for the n-th test person, requesting pathway. */
static int64_t refer(pfx *p, int n, int pathway)
{
    static const char *const nhs[] = {"9990000018", "9990000026",
                                      "9990000034", "9990000042",
                                      "9990000050"};
    ct_referral_input in = {.nhs_number = nhs[n],
                            .age = 81,
                            .from_org = "acute",
                            .ready_date = "2026-11-23",
                            .requested_pathway = pathway,
                            .priority = 0};
    int64_t id = 0;
    CAP_OK(ct_referral_create(p->f.cap, &in, "org:acute", &id, &cap_err));
    return id;
}

static json_t *decide(pfx *p, int64_t id)
{
    json_t *d = NULL;
    CAP_OK(ct_pipeline_decide(p->f.cap, p->m, id, "org:acute", &d,
                              &cap_err));
    return d;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* True when the JSON text of v contains needle. */
static bool dumps_has(const json_t *v, const char *needle)
{
    char *text = json_dumps(v, 0);
    bool has = text && strstr(text, needle);
    free(text);
    return has;
}

/* The trace entries of one plugin and hook. */
static size_t traced(const json_t *d, const char *plugin, const char *hook)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(json_object_get(d, "trace"), i, e)
    {
        if (strcmp(str(e, "plugin"), plugin) == 0 &&
            strcmp(str(e, "hook"), hook) == 0)
            n++;
    }
    return n;
}

/* A rank step's trace names the beds it was given and keeps of its answer
 * only each bed and what the plugin added; the host's candidates are
 * recorded once, as beds, with the decision. */
Test(plugins, rank_trace_is_compact)
{
    pfx p;
    open_with(&p, "  - name: ranker\n", "");
    int64_t id = refer(&p, 0, CT_PATHWAY_P2);
    json_t *d = decide(&p, id);
    json_t *cands = json_object_get(d, "candidates");
    cr_assert(json_is_array(cands) && json_array_size(cands) > 1);
    cr_assert(json_is_string(json_array_get(cands, 0)));
    json_t *rank = NULL, *e;
    size_t i, n = json_array_size(cands);
    json_array_foreach(json_object_get(d, "trace"), i, e)
        if (strcmp(str(e, "hook"), "rank") == 0) rank = e;
    cr_assert_not_null(rank);
    json_t *in = json_object_get(rank, "input");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(in, 0),
                                                    "id")),
                 id, "the referral as the plugin saw it");
    cr_assert(json_equal(json_array_get(in, 1), cands),
              "the first rank got the host's list");
    json_t *out = json_object_get(rank, "output");
    cr_assert_eq(json_array_size(out), n);
    /* Reversed, each with its bed, score and reason and nothing else. */
    json_t *first = json_array_get(out, 0);
    cr_assert(json_equal(json_object_get(first, "bed"),
                         json_array_get(cands, n - 1)));
    cr_assert_eq(json_integer_value(json_object_get(first, "score")),
                 (json_int_t)n);
    cr_assert_str_eq(str(first, "reason"), "reversed");
    cr_assert_eq(json_object_size(first), 3, "only bed and what was added");
    json_decref(d);
    close_pfx(&p);
}

Test(plugins, triage_rank_admit_compose_in_order)
{
    pfx p;
    open_with(&p,
              "  - name: triage_p2\n  - name: ranker\n  - name: picky\n", "");
    int64_t id = refer(&p, 0, CT_PATHWAY_P1);
    json_t *d = decide(&p, id);
    cr_assert_str_eq(str(d, "outcome"), "held");
    cr_assert_str_eq(str(d, "pathway"), "P2", "triage_p2 overrides P1");
    /* ranker reversed the list, so the rehab ward came first, and picky
     * refused each of its beds before a step-down bed was held. */
    cr_assert_str_neq(str(d, "zone"), "ward");
    cr_assert_eq(traced(d, "triage_p2", "triage"), 1);
    cr_assert_eq(traced(d, "ranker", "rank"), 1);
    cr_assert_eq(traced(d, "picky", "admit"), 4, "3 ward beds + the held");
    json_t *reasons = json_object_get(d, "reasons");
    cr_assert(dumps_has(reasons, "zone ward is refused"));
    /* The decision is stored, audited and the bed held. */
    json_t *stored = NULL;
    CAP_OK(ct_pipeline_stored_decision(p.f.cap, id, &stored, &cap_err));
    cr_assert(json_equal(stored, d));
    cr_assert_eq(cap_fx_int(&p.f, "SELECT count(*) FROM event WHERE kind = "
                                  "'referral.decided'",
                            NULL),
                 1);
    ct_referral r;
    CAP_OK(ct_referral_get(p.f.cap, id, &r, &cap_err));
    cr_assert_eq(r.state, CT_REFERRAL_HELD);
    cr_assert_str_eq(r.bed_id, str(d, "bed"));
    /* Provenance names each plugin with its settings hash. */
    json_t *prov = json_object_get(d, "plugins");
    cr_assert_eq(json_array_size(prov), 3);
    cr_assert_eq(strlen(str(json_array_get(prov, 0), "settings_hash")), 64);
    json_decref(stored);
    json_decref(d);
    close_pfx(&p);
}

Test(plugins, first_answer_wins_and_skip_fallback)
{
    pfx p;
    open_with(&p, "  - name: skipper\n  - name: triage_p2\n"
                  "    settings: {pathway: P3}\n",
              "");
    json_t *d = decide(&p, refer(&p, 0, -1));
    cr_assert_str_eq(str(d, "pathway"), "P3");
    cr_assert_str_eq(str(d, "zone"), "home-main");
    json_t *e = json_array_get(json_object_get(d, "trace"), 0);
    cr_assert_str_eq(str(e, "plugin"), "skipper");
    cr_assert(strstr(str(e, "error"), "skipper always fails"));
    cr_assert_str_eq(str(e, "fallback"), "skip");
    json_decref(d);
    close_pfx(&p);
}

Test(plugins, deadline_then_manual_review_then_quarantine)
{
    pfx p;
    open_with(&p, "  - name: looper\n  - name: triage_p2\n",
              "limits: {quarantine_after: 2, plugin_deadline: 20ms}\n");
    for (int i = 0; i < 3; i++) {
        int64_t id = refer(&p, i, CT_PATHWAY_P2);
        json_t *d = decide(&p, id);
        cr_assert_str_eq(str(d, "outcome"), "manual_review",
                         "looper's fallback is manual review (call %d)", i);
        json_t *e = json_array_get(json_object_get(d, "trace"), 0);
        if (i < 2)
            cr_assert(strstr(str(e, "error"), "deadline of 20 ms exceeded"),
                      "%s", str(e, "error"));
        else
            cr_assert(strstr(str(e, "error"), "quarantined"));
        cr_assert_eq(traced(d, "triage_p2", "triage"), 0,
                     "manual review stops the pipeline");
        ct_referral r;
        CAP_OK(ct_referral_get(p.f.cap, id, &r, &cap_err));
        cr_assert_eq(r.state, CT_REFERRAL_WAITING);
        json_decref(d);
    }
    json_t *st = ct_plugins_status(p.m);
    json_t *looper = json_array_get(st, 0);
    cr_assert_str_eq(str(looper, "state"), "quarantined");
    cr_assert_eq(json_integer_value(json_object_get(looper, "timeouts")), 2);
    cr_assert_eq(json_integer_value(json_object_get(looper, "calls")), 2);
    json_decref(st);
    /* A reload brings it back. */
    ct_diags dg = {0};
    cr_assert_eq(ct_plugins_reload(p.m, p.f.cfg, &dg), 0);
    st = ct_plugins_status(p.m);
    cr_assert_str_eq(str(json_array_get(st, 0), "state"), "active");
    json_decref(st);
    ct_diags_free(&dg);
    close_pfx(&p);
}

Test(plugins, wrong_shapes_and_invented_beds_are_contained)
{
    pfx p;
    open_with(&p, "  - name: badshape\n  - name: triage_p2\n"
                  "  - name: inventor\n",
              "");
    json_t *d = decide(&p, refer(&p, 0, -1));
    /* badshape's P9 is refused and skipped; triage_p2 answers. */
    cr_assert_str_eq(str(d, "pathway"), "P2");
    json_t *e = json_array_get(json_object_get(d, "trace"), 0);
    cr_assert(strstr(str(e, "error"), "no valid pathway"), "%s",
              str(e, "error"));
    /* Its rank answer is refused too; the host's list goes on. The
     * inventor's red-zone bed (the person is not covid positive) is
     * ignored: only host candidates can be held. */
    cr_assert_str_eq(str(d, "outcome"), "held");
    cr_assert_str_neq(str(d, "bed"), "R01");
    cr_assert(dumps_has(json_object_get(d, "reasons"),
                        "not one of the host's candidates (bed R01)"));
    json_t *st = ct_plugins_status(p.m);
    cr_assert_eq(json_integer_value(
                     json_object_get(json_array_get(st, 0), "errors")),
                 2);
    json_decref(st);
    json_decref(d);
    close_pfx(&p);
}

/* Found on main: a wrong-shaped answer reset the failure count (the call
 * itself had succeeded), so badshape was never quarantined. */
Test(plugins, wrong_shapes_count_toward_quarantine)
{
    pfx p;
    open_with(&p, "  - name: badshape\n  - name: triage_p2\n",
              "limits: {quarantine_after: 2, plugin_deadline: 2s}\n");
    for (int i = 0; i < 2; i++)
        json_decref(decide(&p, refer(&p, i, -1)));
    json_t *st = ct_plugins_status(p.m);
    cr_assert_str_eq(str(json_array_get(st, 0), "state"), "quarantined");
    json_decref(st);
    close_pfx(&p);
}

/* Found on main: a triage reason over 500 bytes made the whole decision
 * fail (every POST /v1/referrals a 400) and a priority of 2^31 wrapped.
 * Out-of-range answers are plugin failures: the fallback applies, the
 * referral is decided, and they count toward quarantine. */
Test(plugins, out_of_range_triage_is_a_plugin_failure)
{
    pfx p;
    open_with(&p, "  - name: overflow\n  - name: triage_p2\n",
              "limits: {quarantine_after: 3, plugin_deadline: 2s}\n");
    static const char *const why[] = {"reason longer than 500 bytes",
                                      "priority outside",
                                      "priority outside"};
    for (int i = 0; i < 3; i++) {
        int64_t id = refer(&p, i, -1);
        json_t *d = decide(&p, id);
        cr_assert_str_eq(str(d, "pathway"), "P2", "decision %d", i);
        json_t *e = json_array_get(json_object_get(d, "trace"), 0);
        cr_assert(strstr(str(e, "error"), why[i]), "%s", str(e, "error"));
        ct_referral r;
        CAP_OK(ct_referral_get(p.f.cap, id, &r, &cap_err));
        cr_assert_eq(r.priority, 2, "triage_p2's priority, not a wrapped one");
        json_decref(d);
    }
    json_t *st = ct_plugins_status(p.m);
    cr_assert_str_eq(str(json_array_get(st, 0), "state"), "quarantined");
    json_decref(st);
    close_pfx(&p);
}

/* rank returning each bed 20 times: each is offered to admit once. */
Test(plugins, a_bed_ranked_twice_is_tried_once)
{
    pfx p;
    open_with(&p, "  - name: hog\n",
              "limits: {plugin_deadline: 10s, plugin_decision_budget: 60s}\n");
    json_t *d = decide(&p, refer(&p, 0, CT_PATHWAY_P2));
    cr_assert(dumps_has(json_object_get(d, "reasons"), "ranked again"));
    size_t beds = json_array_size(json_object_get(d, "candidates"));
    cr_assert_gt(beds, 0);
    cr_assert_eq(traced(d, "hog", "admit"), beds);
    json_decref(d);
    close_pfx(&p);
}

/* Found on main: total plugin CPU was unbounded. Every call of hog stays
 * under its deadline, but its admits in one decision, and its event
 * handlers, are held to their budgets (a few ms here), and each call past
 * a budget is a failure that counts. */
Test(plugins, cpu_budgets_per_decision_and_per_minute)
{
    pfx p;
    open_with(&p, "  - name: hog\n",
              "limits: {plugin_deadline: 2s, quarantine_after: 1000, "
              "plugin_decision_budget: 5ms, plugin_minute_budget: 5ms}\n");
    json_t *d = decide(&p, refer(&p, 0, CT_PATHWAY_P2));
    cr_assert(dumps_has(json_object_get(d, "trace"),
                        "CPU budget of 5 ms a decision used up"),
              "the admits ran to the end");
    json_decref(d);
    json_t *st = ct_plugins_status(p.m);
    cr_assert_gt(json_integer_value(
                     json_object_get(json_array_get(st, 0), "errors")),
                 0);
    json_decref(st);
    /* Its 20 handlers of the same event share the minute's budget. */
    json_t *ev = json_object();
    ct_plugins_dispatch(p.m, "test.event", ev);
    json_decref(ev);
    st = ct_plugins_status(p.m);
    json_int_t errors =
        json_integer_value(json_object_get(json_array_get(st, 0), "errors"));
    json_decref(st);
    cr_assert_gt(errors, 1, "no handler was refused");
    close_pfx(&p);
}

Test(plugins, no_plugins_host_defaults)
{
    pfx p;
    open_with(&p, "  []\n", "");
    json_t *d = decide(&p, refer(&p, 0, CT_PATHWAY_P3));
    cr_assert_str_eq(str(d, "outcome"), "held");
    cr_assert_str_eq(str(d, "pathway"), "P3");
    json_decref(d);
    d = decide(&p, refer(&p, 1, -1));
    cr_assert_str_eq(str(d, "outcome"), "manual_review");
    json_decref(d);
    d = decide(&p, refer(&p, 2, CT_PATHWAY_P0));
    cr_assert_str_eq(str(d, "outcome"), "home");
    json_decref(d);
    close_pfx(&p);
}

Test(plugins, schedules_and_events_on_the_virtual_clock)
{
    pfx p;
    open_with(&p, "  - name: scheduler\n", "");
    cr_assert_geq(ct_clock_advance(p.f.clock, HOUR_MS), 5);
    json_t *v = NULL;
    cr_assert_eq(ct_kv_get(p.f.store, "scheduler", "ticks", &v), 0);
    cr_assert_eq(json_integer_value(v), 4, "15m over one hour");
    json_decref(v);
    cr_assert_eq(ct_kv_get(p.f.store, "scheduler", "mornings", &v), 0);
    cr_assert_eq(json_integer_value(v), 1, "08:30 passed once");
    json_decref(v);
    json_t *ev = json_pack("{s:s, s:s}", "nhs_number", "9990000018",
                           "pathogen", "covid");
    ct_plugins_dispatch(p.m, "isolation.ended", ev);
    json_decref(ev);
    cr_assert_eq(ct_kv_get(p.f.store, "scheduler", "ended", &v), 0);
    cr_assert_str_eq(json_string_value(v), "9990000018");
    json_decref(v);
    /* Its own emit came back to it through the queue. */
    cr_assert_eq(ct_kv_get(p.f.store, "scheduler", "noticed", &v), 0);
    cr_assert_str_eq(json_string_value(v), "9990000018");
    json_decref(v);
    /* ... and is in the audit log, in its own transaction here. */
    cr_assert_eq(cap_fx_int(&p.f,
                            "SELECT count(*) FROM event WHERE kind = "
                            "'plugin.noticed' AND actor = 'plugin:scheduler' "
                            "AND payload LIKE '%9990000018%'",
                            NULL),
                 1);
    close_pfx(&p);
}

/* Two plugins answering each other's events forever: the loop stops after
 * its rounds and the warning names the events still queued and the
 * plugins that kept it going. */
Test(plugins, dropped_events_name_the_events_and_plugins)
{
    pfx p;
    open_with(&p, "  - name: pinger\n  - name: ponger\n", "");
    FILE *log = tmpfile();
    cr_assert_not_null(log);
    ct_log_setup(CT_LOG_TEXT, CT_LOG_DEBUG);
    ct_log_set_stream(log);
    json_t *ev = json_pack("{s:s}", "nhs_number", "9990000018");
    ct_plugins_dispatch(p.m, "isolation.ended", ev);
    json_decref(ev);
    ct_log_set_stream(NULL);
    char text[4096] = {0};
    rewind(log);
    size_t n = fread(text, 1, sizeof text - 1, log);
    fclose(log);
    text[n] = '\0';
    cr_assert_not_null(strstr(text, "dropped 1 event still queued after 64 "
                                    "rounds (plugin.ping x1): plugins "
                                    "pinger, ponger kept emitting in answer "
                                    "to each other"),
                       "%s", text);
    /* The loop is over: a new event starts from an empty queue. */
    cr_assert_eq(cap_fx_int(&p.f,
                            "SELECT count(*) FROM event WHERE kind IN "
                            "('plugin.ping', 'plugin.pong')",
                            NULL),
                 65);
    close_pfx(&p);
}

/* Issue 22, finding 1: a long scheduled job works in slices, each one
 * transaction with its progress; a slice that fails part-way is undone
 * whole (its events too), so the retry reports every item once. */
Test(plugins, schedule_slices_commit_whole_and_resume)
{
    pfx p;
    open_with(&p, "  - name: slicer\n", "");
    const char *items = "SELECT count(*) FROM event WHERE kind = "
                        "'plugin.job.item'";
    const char *distinct =
        "SELECT count(DISTINCT json_extract(payload, '$.item')) FROM event "
        "WHERE kind = 'plugin.job.item'";
    /* The first hour: items 1-10, then the slice 11-20 fails at 14. */
    ct_clock_advance(p.f.clock, HOUR_MS);
    cr_assert_eq(cap_fx_int(&p.f, items, NULL), 10,
                 "the failed slice left none of its events");
    json_t *v = NULL;
    cr_assert_eq(ct_kv_get(p.f.store, "slicer", "at", &v), 0);
    cr_assert_eq(json_integer_value(v), 10, "its place is the last kept slice");
    json_decref(v);
    /* The next hour resumes there and finishes in two more slices. */
    ct_clock_advance(p.f.clock, HOUR_MS);
    cr_assert_eq(cap_fx_int(&p.f, items, NULL), 25);
    cr_assert_eq(cap_fx_int(&p.f, distinct, NULL), 25, "no item twice");
    json_t *st = ct_plugins_status(p.m);
    json_t *sl = json_array_get(st, 0);
    cr_assert_eq(json_integer_value(json_object_get(sl, "errors")), 1);
    cr_assert_str_eq(str(sl, "state"), "active");
    json_decref(st);
    close_pfx(&p);
}

/* Quarantine is per hook and per schedule: a schedule that keeps failing
 * is stopped alone, and the same plugin's triage goes on answering. */
Test(plugins, failing_schedule_never_stops_triage)
{
    pfx p;
    open_with(&p, "  - name: badjob\n",
              "limits: {quarantine_after: 2, plugin_deadline: 2s}\n");
    ct_clock_advance(p.f.clock, 5 * 60000);
    json_t *st = ct_plugins_status(p.m);
    json_t *b = json_array_get(st, 0);
    cr_assert_str_eq(str(b, "state"), "degraded");
    cr_assert_eq(json_integer_value(json_object_get(b, "errors")), 2,
                 "not called once quarantined");
    json_t *q = json_object_get(b, "quarantined");
    cr_assert_eq(json_array_size(q), 1);
    cr_assert_str_eq(json_string_value(json_array_get(q, 0)), "every 1m #1");
    json_decref(st);
    int64_t id = refer(&p, 0, CT_PATHWAY_P2);
    json_t *d = decide(&p, id);
    cr_assert_str_neq(str(d, "outcome"), "manual_review");
    cr_assert_str_eq(str(d, "pathway"), "P1", "badjob's triage answered");
    json_decref(d);
    cr_assert_eq(cap_fx_int(&p.f,
                            "SELECT count(*) FROM event WHERE kind = "
                            "'plugin.quarantined' AND json_extract(payload, "
                            "'$.hook') = 'every 1m #1'",
                            NULL),
                 0, "plugin.quarantined is an event between plugins");
    close_pfx(&p);
}

/* Issue 22, finding 2: plugins give the host each pathogen's isolation
 * length in setup; the first plugin in the area's order wins, and a
 * reload replaces them. */
Test(plugins, isolation_lengths_from_setup)
{
    pfx p;
    open_with(&p, "  - name: isolator\n"
                  "    settings: {covid: 10d}\n"
                  "  - name: isolator2\n", "");
    cr_assert_eq(ct_isolation_length(p.f.cap, "covid"), 10 * DAY_MS);
    cr_assert_eq(ct_isolation_length(p.f.cap, "flu"), 3 * DAY_MS,
                 "only isolator2 names flu");
    close_pfx(&p);
}

Test(plugins, escalation_highest_level_and_actions_through_the_host)
{
    pfx p;
    open_with(&p, "  - name: escalator\n"
                  "  - name: picky\n",
              "");
    json_t *m = NULL, *out = NULL, *trace = json_array();
    CAP_OK(ct_metrics_json(p.f.cap, &m, &cap_err));
    cr_assert_eq(ct_plugins_escalate(p.m, m, trace, &out), 0);
    cr_assert_eq(json_integer_value(json_object_get(out, "level")), 2);
    json_decref(out);
    json_decref(m);
    json_decref(trace);
    close_pfx(&p);

    open_with(&p, "  - name: escalator\n    settings: {level: 3}\n", "");
    CAP_OK(ct_metrics_json(p.f.cap, &m, &cap_err));
    trace = json_array();
    cr_assert_eq(ct_plugins_escalate(p.m, m, trace, &out), 0);
    cr_assert_eq(json_integer_value(json_object_get(out, "level")), 3);
    cr_assert_eq(json_array_size(json_object_get(out, "actions")), 1);
    cr_assert_eq(cap_fx_int(&p.f, "SELECT count(*) FROM bed WHERE surge = 1 "
                                  "AND surge_open = 1 AND id LIKE 'R%'",
                            NULL),
                 1, "escalator opened the step-down surge bed");
    cr_assert_eq(cap_fx_int(&p.f, "SELECT count(*) FROM event WHERE actor = "
                                  "'plugin:escalator'",
                            NULL),
                 1, "the action is audited under the plugin's name");
    json_decref(out);
    json_decref(m);
    json_decref(trace);
    close_pfx(&p);
}

Test(plugins, reload_keeps_running_set_on_failure)
{
    pfx p;
    open_with(&p, "  - name: triage_p2\n", "");
    char *bad = area_with("  - name: setupfail\n", "");
    ct_config *cfg2 = NULL;
    ct_diags d = {0};
    cr_assert_eq(ct_config_load_text("area2.yaml", ".", bad, strlen(bad),
                                     &cfg2, &d),
                 0);
    cr_assert_eq(ct_plugins_reload(p.m, cfg2, &d), CT_ECONFIG);
    cr_assert_geq(d.len, 1);
    cr_assert(strstr(d.items[0].message, "setup refuses"), "%s",
              d.items[0].message);
    /* Still the old set. */
    json_t *dec = decide(&p, refer(&p, 0, -1));
    cr_assert_str_eq(str(dec, "pathway"), "P2");
    json_decref(dec);
    ct_diags_free(&d);
    /* A good reload swaps. */
    char *good = area_with("  - name: ranker\n", "");
    ct_config *cfg3 = NULL;
    cr_assert_eq(ct_config_load_text("area3.yaml", ".", good, strlen(good),
                                     &cfg3, &d),
                 0);
    cr_assert_eq(ct_plugins_reload(p.m, cfg3, &d), 0);
    dec = decide(&p, refer(&p, 1, CT_PATHWAY_P3));
    cr_assert_eq(traced(dec, "ranker", "rank"), 1);
    cr_assert_eq(traced(dec, "triage_p2", "triage"), 0);
    json_decref(dec);
    close_pfx(&p);
    ct_config_free(cfg2);
    ct_config_free(cfg3);
    free(bad);
    free(good);
    ct_diags_free(&d);
}

Test(plugins, provenance_names_bundle_hash_and_key_id)
{
    /* A central team signs triage_p2; the area trusts its key. */
    char dir[256], keyp[300], pubp[300], parent[300];
    snprintf(dir, sizeof dir, "%s", ct_test_tmpdir());
    snprintf(keyp, sizeof keyp, "%s/central.key", dir);
    snprintf(pubp, sizeof pubp, "%s/central.pub", dir);
    snprintf(parent, sizeof parent, "%s/plugins", dir);
    cr_assert_eq(mkdir(parent, 0755), 0);
    ct_signkey k;
    cr_assert_eq(ct_signkey_generate("central", NULL, &k), 0);
    cr_assert_eq(ct_signkey_write(&k, keyp, pubp, false), 0);
    ct_diags d = {0};
    ct_bundle *b = NULL;
    cr_assert_eq(ct_bundle_pack(CT_SOURCE_DIR "/tests/plugins/triage_p2", &b,
                                &d),
                 0);
    ct_bundle_info info;
    cr_assert_eq(ct_bundle_sign(b, &k, ct_bundle_wall_ms(), &info), 0, "%s",
                 info.reason);
    ct_trust t = {0};
    ct_trust_key tk = {0};
    cr_assert_eq(ct_trust_key_load(pubp, &tk, &d), 0);
    cr_assert_eq(ct_trust_add(&t, &tk), 0);
    char *installed = NULL;
    cr_assert_eq(ct_bundle_install(b, parent, &t, true, ct_bundle_wall_ms(),
                                   &info, &installed),
                 0, "%s", info.reason);

    char yaml[8192];
    snprintf(yaml, sizeof yaml,
             "%strust:\n  require_signed: true\n  keys: [{file: %s}]\n"
             "plugin_path: [\"%s\"]\nplugins:\n  - name: triage_p2\n",
             cap_fx_area, pubp, parent);
    pfx p;
    cap_fx_open(&p.f, yaml);
    cr_assert_eq(ct_plugins_new(p.f.cap, p.f.cfg, &p.m, &d), 0, "%s",
                 d.len ? d.items[0].message : "");
    json_t *dec = decide(&p, refer(&p, 0, -1));
    json_t *prov = json_array_get(json_object_get(dec, "plugins"), 0);
    cr_assert_str_eq(str(prov, "name"), "triage_p2");
    cr_assert_str_eq(str(prov, "bundle_hash"), info.bundle_hash);
    cr_assert_str_eq(str(prov, "key_id"), k.id);
    /* The audit event of the decision carries the same provenance. */
    char *payload = cap_fx_text(&p.f, "SELECT payload FROM event WHERE kind "
                                      "= 'referral.decided'",
                                NULL);
    cr_assert(strstr(payload, info.bundle_hash));
    free(payload);
    json_decref(dec);
    close_pfx(&p);
    free(installed);
    ct_bundle_free(b);
    ct_trust_clear(&t);
    ct_signkey_clear(&k);
    ct_diags_free(&d);
    ct_test_rmtree(dir);
}

Test(plugins, capacity_bed_and_escalation_views)
{
    pfx p;
    open_with(&p, "  - name: views\n", "");
    json_t *v = NULL;
    cr_assert_eq(ct_kv_get(p.f.store, "views", "sd_beds", &v), 0);
    cr_assert_eq(json_integer_value(v), 12);
    json_decref(v);
    cr_assert_eq(ct_kv_get(p.f.store, "views", "isolation_rooms", &v), 0);
    cr_assert_eq(json_integer_value(v), 6);
    json_decref(v);
    cr_assert_eq(ct_kv_get(p.f.store, "views", "held", &v), 0);
    cr_assert_eq(json_integer_value(v), 0);
    json_decref(v);
    cr_assert_eq(ct_kv_get(p.f.store, "views", "capacity_is_table", &v), 0);
    cr_assert(json_is_true(v));
    json_decref(v);
    cr_assert_eq(ct_kv_get(p.f.store, "views", "level", &v), 0);
    cr_assert_eq(json_integer_value(v), 1, "level 1 when nothing recorded");
    json_decref(v);
    cr_assert_eq(ct_kv_get(p.f.store, "views", "unknown", &v), 0);
    cr_assert(json_is_true(json_object_get(v, "ok")));
    cr_assert_str_eq(json_string_value(json_object_get(v, "code")),
                     "CT_ENOTFOUND");
    json_decref(v);
    close_pfx(&p);
}

/* Signs and installs a test plugin under parent; returns the trust YAML
 * line for its key (static). */
static void sign_install(const char *name, const char *keyp,
                         const char *pubp, const char *parent)
{
    ct_signkey k;
    ct_diags d = {0};
    cr_assert_eq(ct_signkey_load(keyp, &k, &d), 0);
    char src[512];
    snprintf(src, sizeof src, CT_SOURCE_DIR "/tests/plugins/%s", name);
    ct_bundle *b = NULL;
    cr_assert_eq(ct_bundle_pack(src, &b, &d), 0);
    ct_bundle_info info;
    cr_assert_eq(ct_bundle_sign(b, &k, ct_bundle_wall_ms(), &info), 0);
    ct_trust t = {0};
    ct_trust_key tk = {0};
    cr_assert_eq(ct_trust_key_load(pubp, &tk, &d), 0);
    cr_assert_eq(ct_trust_add(&t, &tk), 0);
    char *installed = NULL;
    cr_assert_eq(ct_bundle_install(b, parent, &t, true, ct_bundle_wall_ms(),
                                   &info, &installed),
                 0, "%s", info.reason);
    free(installed);
    ct_trust_clear(&t);
    ct_bundle_free(b);
    ct_signkey_clear(&k);
    ct_diags_free(&d);
}

Test(plugins, bundle_self_test_before_activation)
{
    char dir[256], keyp[300], pubp[300], parent[300];
    snprintf(dir, sizeof dir, "%s", ct_test_tmpdir());
    snprintf(keyp, sizeof keyp, "%s/central.key", dir);
    snprintf(pubp, sizeof pubp, "%s/central.pub", dir);
    snprintf(parent, sizeof parent, "%s/plugins", dir);
    cr_assert_eq(mkdir(parent, 0755), 0);
    ct_signkey k;
    cr_assert_eq(ct_signkey_generate("central", NULL, &k), 0);
    cr_assert_eq(ct_signkey_write(&k, keyp, pubp, false), 0);
    ct_signkey_clear(&k);
    sign_install("triage_p2", keyp, pubp, parent);
    sign_install("runner_fail", keyp, pubp, parent);

    char yaml[8192];
#define SIGNED_AREA                                                          \
    "%strust:\n  require_signed: true\n  keys: [{file: %s}]\n"              \
    "plugin_path: [\"%s\"]\nplugins:\n  - name: %s\n"
    snprintf(yaml, sizeof yaml, SIGNED_AREA, cap_fx_area, pubp, parent,
             "triage_p2");
    pfx p;
    cap_fx_open(&p.f, yaml);
    ct_diags d = {0};
    /* The runtime holds no test runner: without one registered, a signed
     * bundle with tests is not activated. */
    ct_plugins_set_self_test(NULL);
    cr_assert_eq(ct_plugins_new(p.f.cap, p.f.cfg, &p.m, &d), CT_ECONFIG);
    cr_assert(d.len && strstr(d.items[0].message, "its own tests cannot "
                                                   "run"),
              "%s", d.len ? d.items[0].message : "no diagnostic");
    ct_diags_free(&d);
    ct_plugins_set_self_test(ct_testrun_self_test);
    cr_assert_eq(ct_plugins_new(p.f.cap, p.f.cfg, &p.m, &d), 0,
                 "a bundle whose tests pass is activated: %s",
                 d.len ? d.items[0].message : "");
    /* A reload to a bundle whose own tests fail is refused. */
    snprintf(yaml, sizeof yaml, SIGNED_AREA, cap_fx_area, pubp, parent,
             "runner_fail");
    ct_config *cfg2 = NULL;
    cr_assert_eq(ct_config_load_text("area2.yaml", ".", yaml, strlen(yaml),
                                     &cfg2, &d),
                 0);
    cr_assert_eq(ct_plugins_reload(p.m, cfg2, &d), CT_ECONFIG);
    bool said = false;
    /* The first failing test, from the runner's structured results. */
    for (size_t i = 0; i < d.len; i++)
        said = said || (strstr(d.items[i].message, "not activated: its own "
                                                   "tests failed (2 passed, "
                                                   "7 failed): runner_fail/"
                                                   "test/broken_test.lua: "
                                                   "attempt to call a nil "
                                                   "value"));
    cr_assert(said, "%s", d.len ? d.items[0].message : "no diagnostic");
    /* triage_p2 still answers. */
    json_t *dec = decide(&p, refer(&p, 0, -1));
    cr_assert_str_eq(str(dec, "pathway"), "P2");
    json_decref(dec);
    close_pfx(&p);
    ct_config_free(cfg2);
    ct_diags_free(&d);
    ct_test_rmtree(dir);
}

/* A reload takes a self-test child's results (ct_plugins_set_pretested):
 * a signed bundle is activated only when a row names the very bytes it
 * verified and says "pass"; its tests do not run in this process. */
Test(plugins, pretested_results_gate_the_exact_bytes)
{
    char dir[256], keyp[300], pubp[300], parent[300];
    snprintf(dir, sizeof dir, "%s", ct_test_tmpdir());
    snprintf(keyp, sizeof keyp, "%s/central.key", dir);
    snprintf(pubp, sizeof pubp, "%s/central.pub", dir);
    snprintf(parent, sizeof parent, "%s/plugins", dir);
    cr_assert_eq(mkdir(parent, 0755), 0);
    ct_signkey k;
    cr_assert_eq(ct_signkey_generate("central", NULL, &k), 0);
    cr_assert_eq(ct_signkey_write(&k, keyp, pubp, false), 0);
    ct_signkey_clear(&k);
    sign_install("runner_fail", keyp, pubp, parent);
    char yaml[8192];
    snprintf(yaml, sizeof yaml, SIGNED_AREA, cap_fx_area, pubp, parent,
             "runner_fail");
    ct_config *cfg = NULL;
    ct_diags d = {0};
    cr_assert_eq(ct_config_load_text("area.yaml", ".", yaml, strlen(yaml),
                                     &cfg, &d),
                 0);
    pfx p;
    cap_fx_open(&p.f, cap_fx_area);
    cr_assert_eq(ct_plugins_new(p.f.cap, p.f.cfg, &p.m, &d), 0);
    /* Its hash as verified. */
    ct_bundle_info info;
    char pdir[400];
    snprintf(pdir, sizeof pdir, "%s/runner_fail", parent);
    cr_assert_eq(ct_bundle_verify_dir(pdir, &cfg->trust, true,
                                      ct_bundle_wall_ms(), &info),
                 0);

    /* Other bytes passed: refused, saying the bundle changed. */
    json_t *r = json_pack("{s:[{s:s, s:s, s:s}]}", "plugins", "name",
                          "runner_fail", "bundle_hash", "00ff", "result",
                          "pass");
    ct_plugins_set_pretested(p.m, r);
    cr_assert_eq(ct_plugins_reload(p.m, cfg, &d), CT_ECONFIG);
    cr_assert(d.len && strstr(d.items[d.len - 1].message,
                              "its bundle changed while its own tests ran"),
              "%s", d.len ? d.items[d.len - 1].message : "no diagnostic");
    ct_diags_free(&d);
    json_decref(r);

    /* These bytes passed in the child: activated, although its tests fail
     * here (they did not run here). */
    r = json_pack("{s:[{s:s, s:s, s:s}]}", "plugins", "name", "runner_fail",
                  "bundle_hash", info.bundle_hash, "result", "pass");
    ct_plugins_set_pretested(p.m, r);
    cr_assert_eq(ct_plugins_reload(p.m, cfg, &d), 0, "%s",
                 d.len ? d.items[0].message : "");
    json_decref(r);

    /* These bytes failed there: refused with the child's message. */
    r = json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "plugins", "name",
                  "runner_fail", "bundle_hash", info.bundle_hash, "result",
                  "fail", "message", "plugin 'runner_fail' failed there");
    ct_plugins_set_pretested(p.m, r);
    cr_assert_eq(ct_plugins_reload(p.m, cfg, &d), CT_ECONFIG);
    cr_assert(d.len && strstr(d.items[d.len - 1].message, "failed there"));
    json_decref(r);
    ct_plugins_set_pretested(p.m, NULL);
    close_pfx(&p);
    ct_config_free(cfg);
    ct_diags_free(&d);
    ct_test_rmtree(dir);
}

/* Found on main: installed bundles were verified at start, but init.lua
 * and modules required later were read from disk when needed, so a file
 * replaced after start ran under the genuine bundle's hash. Code runs from
 * the verified bytes held in memory. */
Test(plugins, only_verified_bytes_run)
{
    char dir[256], keyp[300], pubp[300], parent[300];
    snprintf(dir, sizeof dir, "%s", ct_test_tmpdir());
    snprintf(keyp, sizeof keyp, "%s/central.key", dir);
    snprintf(pubp, sizeof pubp, "%s/central.pub", dir);
    snprintf(parent, sizeof parent, "%s/plugins", dir);
    cr_assert_eq(mkdir(parent, 0755), 0);
    ct_signkey k;
    cr_assert_eq(ct_signkey_generate("central", NULL, &k), 0);
    cr_assert_eq(ct_signkey_write(&k, keyp, pubp, false), 0);
    ct_signkey_clear(&k);
    sign_install("lazy", keyp, pubp, parent);
    char yaml[8192];
    snprintf(yaml, sizeof yaml, SIGNED_AREA, cap_fx_area, pubp, parent,
             "lazy");
    pfx p;
    cap_fx_open(&p.f, yaml);
    ct_diags d = {0};
    cr_assert_eq(ct_plugins_new(p.f.cap, p.f.cfg, &p.m, &d), 0, "%s",
                 d.len ? d.items[0].message : "");
    /* After start, both files are replaced on disk. */
    char path[400];
    snprintf(path, sizeof path, "%s/lazy/lib/late.lua", parent);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("return { pathway = \"P3\", reason = \"replaced\" }\n", f);
    fclose(f);
    json_t *dec = decide(&p, refer(&p, 0, -1));
    cr_assert_str_eq(str(dec, "pathway"), "P2", "the replaced file ran");
    json_decref(dec);
    close_pfx(&p);
    ct_diags_free(&d);
    ct_test_rmtree(dir);
}

/* The delay hook (issue 22): the first answer decides; a wrong shape or an
 * error is CT_EPLUGIN, never an unchecked acceptance. */
Test(plugins, delay_hook_first_answer_decides)
{
    static const struct {
        const char *plugins;
        int rc;
        const char *valid; /* "true", "false" or NULL for no answer */
    } cases[] = {
        {"  - name: delayer2\n", 0, "true"},
        {"  - name: delayer\n    settings: {mode: silent}\n"
         "  - name: delayer2\n", 0, "true"},
        {"  - name: delayer\n    settings: {mode: refuse}\n", 0, "false"},
        {"  - name: delayer\n    settings: {mode: silent}\n", 0, NULL},
        {"  - name: delayer\n    settings: {mode: shape}\n", CT_EPLUGIN, NULL},
        {"  - name: delayer\n    settings: {mode: raise}\n", CT_EPLUGIN, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pfx p;
        open_with(&p, cases[i].plugins, "");
        int64_t id = refer(&p, 0, -1);
        json_t *view = NULL, *answer = NULL;
        CAP_OK(ct_capacity_view_referral(p.f.cap, id, &view, &cap_err));
        json_t *d = json_pack(
            "{s:s, s:s, s:s, s:{s:s, s:s, s:o}}", "reason", "awaiting_x",
            "responsible_org", "acute", "from", "2026-11-23", "org", "id",
            "acute", "name", "Acute", "facility_kinds", json_array());
        cr_assert_not_null(d);
        cr_assert_eq(ct_plugins_delay(p.m, view, d, NULL, &answer),
                     cases[i].rc, "case %zu", i);
        if (!cases[i].valid)
            cr_assert_null(answer, "case %zu", i);
        else
            cr_assert_eq(json_is_true(json_object_get(answer, "valid")),
                         strcmp(cases[i].valid, "true") == 0, "case %zu", i);
        if (i <= 1)
            cr_assert_str_eq(
                json_string_value(json_object_get(answer, "text")),
                "awaiting_x for acute (1)");
        if (i == 2)
            cr_assert_str_eq(
                json_string_value(json_object_get(answer, "field")),
                "responsible_org");
        json_decref(answer);
        json_decref(d);
        json_decref(view);
        close_pfx(&p);
    }
}

/* Issue 22 finding 7: the pathway-to-facility-kind mapping is policy. A
 * triage answer's kinds decide which beds are offered (P2 in a care home
 * where the area says so); without them the host's fallback applies; a
 * kind nobody is discharged to is the plugin's failure. */
Test(plugins, triage_kinds_choose_the_facilities)
{
    pfx p;
    open_with(&p, "  - name: triage_p2\n    settings: {kinds: [care_home]}\n",
              "");
    int64_t id = refer(&p, 0, -1);
    json_t *d = decide(&p, id);
    cr_assert_str_eq(str(d, "outcome"), "held");
    cr_assert_str_eq(str(d, "pathway"), "P2");
    cr_assert_str_eq(str(d, "facility"), "home", "P2 in a care home");
    json_decref(d);
    close_pfx(&p);

    open_with(&p, "  - name: triage_p2\n", "");
    id = refer(&p, 0, -1);
    d = decide(&p, id);
    cr_assert_str_neq(str(d, "facility"), "home", "the fallback: no homes");
    json_decref(d);
    close_pfx(&p);

    open_with(&p, "  - name: triage_p2\n    settings: {kinds: [acute]}\n",
              "");
    id = refer(&p, 0, -1);
    d = decide(&p, id);
    cr_assert_str_eq(str(d, "outcome"), "manual_review");
    cr_assert(dumps_has(json_object_get(d, "trace"), "kinds that are not"));
    json_decref(d);
    close_pfx(&p);
}

/* Found on main: a bundle's own tests were read from its directory on
 * disk after the bundle had been verified, so a test file replaced in
 * between decided whether the bundle was activated. They are read from
 * the verified bytes. */
Test(plugins, self_tests_read_the_verified_bytes)
{
    char dir[256], cmd[800], path[400];
    snprintf(dir, sizeof dir, "%s", ct_test_tmpdir());
    snprintf(cmd, sizeof cmd, "cp -r %s/tests/plugins/runner_demo %s/",
             CT_SOURCE_DIR, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(path, sizeof path, "%s/runner_demo", dir);
    ct_bundle *b = NULL;
    ct_diags d = {0};
    cr_assert_eq(ct_bundle_pack(path, &b, &d), 0);
    cr_assert_eq(ct_plugins_self_test(path, "runner_demo", "1.0.0", NULL, b,
                                      &d),
                 0, "%s", d.len ? d.items[0].message : "");
    /* The tests on disk now fail (and one more is there); the bytes that
     * were checked do not. */
    char *t1 = ct_test_write_file(path, "test/clock_test.lua",
                                  "it('fails', function() error('replaced') "
                                  "end)\n");
    char *t2 = ct_test_write_file(path, "test/extra_test.lua",
                                  "it('fails too', function() "
                                  "error('added') end)\n");
    cr_assert_eq(ct_plugins_self_test(path, "runner_demo", "1.0.0", NULL, b,
                                      &d),
                 0, "the tests on disk ran: %s",
                 d.len ? d.items[0].message : "");
    /* Without the bytes, the disk's tests run (and fail). */
    cr_assert_eq(ct_plugins_self_test(path, "runner_demo", "1.0.0", NULL,
                                      NULL, &d),
                 CT_EPLUGIN);
    free(t1);
    free(t2);
    ct_bundle_free(b);
    ct_diags_free(&d);
    ct_test_rmtree(dir);
}
