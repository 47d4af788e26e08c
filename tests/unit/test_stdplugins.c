/*
 * The standard plugins (plugins/stepdown, discharge_hub, winter_surge) in
 * the real host: the demo area (config/demo.yaml, with its plugin
 * settings) on a scratch store and a virtual clock, referrals decided by
 * the pipeline, host events delivered to the plugins, their schedules run
 * by the clock, escalation through the plugin manager. Their own Lua tests
 * (plugins/ * /test) check each rule; this checks that they work together in
 * the sandbox against the host's real views and actions.
 */
#include "capacity_fixture.h"
#include "isolation.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "plugins.h"
#include "reconcile.h"
#include "referral.h"
#include "store_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Monday 2026-11-23T07:00:00Z: the 08:00 summary falls within a test. */
#define START (CAP_FX_START - HOUR_MS)

typedef struct sfx {
    cap_fx f;
    ct_plugins *m;
} sfx;

static void on_event(const ct_capacity_event *ev, void *data)
{
    sfx *s = data;
    json_array_append_new(
        s->f.events,
        json_pack("{s:I, s:I, s:s, s:s, s:O}", "seq", (json_int_t)ev->seq,
                  "at", (json_int_t)ev->at, "actor", ev->actor, "kind",
                  ev->kind, "payload", (json_t *)ev->payload));
}

/* The text of config/<name> (static buffer, until the next call). */
static char *read_config(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/config/%s", CT_SOURCE_DIR, name);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "%s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    cr_assert(feof(fp), "%s fits the buffer", path);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

/* Opens config/<name> (with its plugins) on a scratch store. */
static void open_area(sfx *s, const char *name)
{
    memset(s, 0, sizeof *s);
    ct_log_setup(CT_LOG_AUTO, CT_LOG_ERROR);
    const char *yaml = read_config(name);
    char file[512];
    snprintf(file, sizeof file, "%s/config/%s", CT_SOURCE_DIR, name);
    ct_diags d = {0};
    int rc = ct_config_load_text(file, CT_SOURCE_DIR "/config", yaml,
                                 strlen(yaml), &s->f.cfg, &d);
    if (rc)
        ct_diags_print(&d, stderr);
    cr_assert_eq(rc, 0, "config/%s loads", name);
    cr_assert_geq(s->f.cfg->nplugins, 3, "%s configures the plugins", name);
    ct_store_options so = {.sync = CT_SYNC_NORMAL};
    cr_assert_eq(ct_store_open(":memory:", &so, &s->f.store), 0);
    rc = ct_store_reconcile(s->f.store, s->f.cfg, NULL, &d);
    cr_assert_eq(rc, 0, "reconcile");
    cr_assert_eq(ct_clock_new_virtual(START, &s->f.clock), 0);
    s->f.events = json_array();
    ct_capacity_options o = {
        .hold_ttl_ms = s->f.cfg->limits.hold_ttl_ms,
        .pathogens = (const char *const *)s->f.cfg->pathogens,
        .npathogens = s->f.cfg->npathogens,
        .event_cb = on_event,
        .event_data = s,
    };
    cr_assert_eq(ct_capacity_new(s->f.store, s->f.clock, &o, &s->f.cap), 0);
    rc = ct_plugins_new(s->f.cap, s->f.cfg, &s->m, &d);
    if (rc)
        ct_diags_print(&d, stderr);
    cr_assert_eq(rc, 0, "the standard plugins load and set up");
    ct_diags_free(&d);
}

static void open_demo(sfx *s)
{
    open_area(s, "demo.yaml");
}

static void close_demo(sfx *s)
{
    ct_plugins_free(s->m);
    cap_fx_close(&s->f);
}

static void advance(sfx *s, int64_t ms)
{
    /* Small steps: events reach the plugins close to when they happen. */
    for (int64_t done = 0; done < ms;) {
        int64_t step = ms - done < 15 * 60000 ? ms - done : 15 * 60000;
        cr_assert_geq(ct_clock_advance(s->f.clock, step), 0);
        done += step;
    }
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* o.k1.k2... (NULL-terminated keys), borrowed; NULL when missing. */
static json_t *at(json_t *o, ...)
{
    va_list ap;
    va_start(ap, o);
    for (const char *k; o && (k = va_arg(ap, const char *));)
        o = json_object_get(o, k);
    va_end(ap);
    return o;
}

static bool dumps_has(const json_t *v, const char *needle)
{
    char *text = json_dumps(v, 0);
    bool has = text && strstr(text, needle);
    free(text);
    return has;
}

typedef struct person {
    int n;             /* the n-th test NHS number */
    const char *ready; /* discharge ready date */
    int requested;     /* ct_pathway or -1 */
    const char *needs[4];
    const char *org; /* referring organisation; NULL: demo-acute */
} person;

static int64_t refer(sfx *s, const person *p)
{
    char nhs[11];
    cap_fx_nhs((unsigned)p->n, nhs);
    size_t n = 0;
    while (n < 4 && p->needs[n])
        n++;
    ct_referral_input in = {.nhs_number = nhs,
                            .age = 84,
                            .needs = p->needs,
                            .nneeds = n,
                            .from_org = p->org ? p->org : "demo-acute",
                            .ready_date = p->ready,
                            .requested_pathway = p->requested};
    int64_t id = 0;
    CAP_OK(ct_referral_create(s->f.cap, &in, "org:demo-acute", &id, &cap_err));
    return id;
}

static json_t *decide(sfx *s, int64_t id)
{
    json_t *d = NULL;
    CAP_OK(ct_pipeline_decide(s->f.cap, s->m, id, "org:demo-council", &d,
                              &cap_err));
    return d;
}

static void infection(sfx *s, int n, const char *pathogen,
                      ct_infection_status status, int64_t tested_at,
                      int64_t isolation_end)
{
    char nhs[11];
    cap_fx_nhs((unsigned)n, nhs);
    ct_infection_update u = {nhs, pathogen, status, tested_at, isolation_end};
    CAP_OK(ct_isolation_set_status(s->f.cap, &u, "org:demo-acute", NULL,
                                   &cap_err));
}

/* A negative covid test an hour ago: under stepdown's 2020/21 rule set a
 * care-home discharge needs one from the 48 hours before. */
static void tested(sfx *s, int n)
{
    infection(s, n, "covid", CT_INFECTION_NEGATIVE,
              ct_clock_now(s->f.clock) - HOUR_MS, 0);
}

static void usual_residence(sfx *s, int n, const char *where)
{
    char nhs[11], sql[200];
    cap_fx_nhs((unsigned)n, nhs);
    snprintf(sql, sizeof sql,
             "UPDATE referral SET usual_residence = '%s' WHERE nhs_number = "
             "'%s'",
             where, nhs);
    cr_assert_eq(sqlite3_exec(ct_store__db(s->f.store), sql, NULL, NULL, NULL),
                 SQLITE_OK);
}

static json_t *kv(sfx *s, const char *plugin, const char *key)
{
    json_t *v = NULL;
    int rc = ct_kv_get(s->f.store, plugin, key, &v);
    return rc == 0 ? v : NULL;
}

/* The trace entry of one plugin's hook in a decision. */
static json_t *traced(const json_t *d, const char *plugin, const char *hook)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(d, "trace"), i, e)
    {
        if (strcmp(str(e, "plugin"), plugin) == 0 &&
            strcmp(str(e, "hook"), hook) == 0)
            return e;
    }
    return NULL;
}

Test(stdplugins, triage_and_placement_in_the_demo_area)
{
    sfx s;
    open_demo(&s);
    /* No needs, no request: home (P0), no bed. */
    json_t *d = decide(&s, refer(&s, &(person){.n = 1,
                                               .ready = "2026-11-23",
                                               .requested = -1,
                                               .needs = {0}}));
    cr_assert_str_eq(str(d, "outcome"), "home");
    cr_assert_str_eq(str(d, "pathway"), "P0");
    json_decref(d);

    /* Reablement: P1, a home-care slot. */
    d = decide(&s, refer(&s, &(person){.n = 2,
                                       .ready = "2026-11-23",
                                       .requested = -1,
                                       .needs = {"reablement", 0}}));
    cr_assert_str_eq(str(d, "pathway"), "P1");
    cr_assert_str_eq(str(d, "facility"), "shire-homecare");
    json_decref(d);

    /* Rehab: P2 at Elm Ward (the trust's community services: the same
     * organisation by the demo's org_links). */
    d = decide(&s, refer(&s, &(person){.n = 3,
                                       .ready = "2026-11-23",
                                       .requested = -1,
                                       .needs = {"rehab", 0}}));
    cr_assert_str_eq(str(d, "pathway"), "P2");
    cr_assert_str_eq(str(d, "facility"), "elm-rehab");
    json_t *rank = traced(d, "discharge_hub", "rank");
    cr_assert_not_null(rank);
    cr_assert(dumps_has(json_object_get(rank, "output"), "same organisation"));
    json_decref(d);

    /* Nursing: P3, Oakwood (band 1) before Riverside (band 2), a plain
     * nursing bed before a bariatric one; not before a recent test. */
    int64_t nursing = refer(&s, &(person){.n = 4,
                                          .ready = "2026-11-23",
                                          .requested = -1,
                                          .needs = {"nursing", 0}});
    d = decide(&s, nursing);
    cr_assert_str_eq(str(d, "outcome"), "waiting");
    cr_assert(dumps_has(d, "no covid test result from the 48h before a "
                           "care-home discharge"));
    json_decref(d);
    tested(&s, 4);
    d = decide(&s, nursing);
    cr_assert_str_eq(str(d, "pathway"), "P3");
    cr_assert_str_eq(str(d, "bed"), "OAK-001");
    json_decref(d);

    /* A returning care-home resident: P0 (P3b). */
    int64_t id = refer(&s, &(person){.n = 5,
                                     .ready = "2026-11-23",
                                     .requested = CT_PATHWAY_P1,
                                     .needs = {"nursing", 0}});
    usual_residence(&s, 5, "care_home");
    d = decide(&s, id);
    cr_assert_str_eq(str(d, "outcome"), "home");
    cr_assert(dumps_has(d, "returning care-home resident"));
    json_decref(d);
    close_demo(&s);
}

Test(stdplugins, positive_needing_a_care_home_goes_to_a_designated_red_wing)
{
    sfx s;
    open_demo(&s);
    int64_t now = ct_clock_now(s.f.clock);
    int64_t id = refer(&s, &(person){.n = 1,
                                     .ready = "2026-11-23",
                                     .requested = CT_PATHWAY_P3,
                                     .needs = {"nursing", 0}});
    infection(&s, 1, "covid", CT_INFECTION_POSITIVE, now - 20 * HOUR_MS, 0);
    json_t *d = decide(&s, id);
    cr_assert_str_eq(str(d, "pathway"), "step_down");
    cr_assert_str_eq(str(d, "zone"), "willow-red");
    json_t *t = traced(d, "stepdown", "triage");
    cr_assert(dumps_has(json_object_get(t, "output"),
                        "covid positive, tested 20h before discharge"));
    /* rank and admit see the triaged pathway; the trace keeps what
     * triage saw. */
    cr_assert_str_eq(str(json_object_get(t, "input"), "state"), "received");
    cr_assert(
        json_is_null(json_object_get(json_object_get(t, "input"), "pathway")));
    json_t *r = traced(d, "stepdown", "rank");
    cr_assert_str_eq(
        str(json_array_get(json_object_get(r, "input"), 0), "pathway"),
        "step_down");
    json_decref(d);

    /* Positive for flu, going to rehab: P2 still (issue 22, finding 4),
     * in one of Elm Ward's isolation rooms, since flu is cohorted apart
     * and the ward is open for it. */
    id = refer(&s, &(person){.n = 2,
                             .ready = "2026-11-23",
                             .requested = CT_PATHWAY_P2,
                             .needs = {"rehab", 0}});
    infection(&s, 2, "flu", CT_INFECTION_POSITIVE, now - HOUR_MS, 0);
    d = decide(&s, id);
    cr_assert_str_eq(str(d, "pathway"), "P2");
    cr_assert_str_eq(str(d, "bed"), "ELM-19");
    cr_assert(dumps_has(traced(d, "discharge_hub", "triage"),
                        "isolating (flu positive) in an isolation room"));
    json_decref(d);

    /* Awaiting a covid result, for a care home: no care-home admission
     * until it comes; the referral waits. */
    id = refer(&s, &(person){.n = 3,
                             .ready = "2026-11-23",
                             .requested = CT_PATHWAY_P3,
                             .needs = {"residential", 0}});
    infection(&s, 3, "covid", CT_INFECTION_AWAITING, now, 0);
    d = decide(&s, id);
    cr_assert_str_eq(str(d, "outcome"), "waiting", "%s",
                     json_dumps(d, JSON_COMPACT));
    cr_assert(dumps_has(json_object_get(d, "reasons"),
                        "result awaited: no care-home admission"));
    json_decref(d);
    close_demo(&s);
}

Test(stdplugins, isolation_end_plans_the_onward_move)
{
    sfx s;
    open_demo(&s);
    int64_t now = ct_clock_now(s.f.clock);
    int64_t id = refer(&s, &(person){.n = 1,
                                     .ready = "2026-11-23",
                                     .requested = CT_PATHWAY_P3,
                                     .needs = {"nursing", 0}});
    infection(&s, 1, "covid", CT_INFECTION_POSITIVE, now - 2 * HOUR_MS,
              now + 3 * DAY_MS);
    json_t *d = decide(&s, id);
    cr_assert_str_eq(str(d, "zone"), "willow-red");
    json_decref(d);
    CAP_OK(
        ct_capacity_confirm(s.f.cap, id, "org:demo-council", NULL, &cap_err));
    CAP_OK(ct_referral_discharge(s.f.cap, id, "org:demo-acute", &cap_err));
    json_t *plans = kv(&s, "stepdown", "plans");
    cr_assert(plans == NULL || json_object_size(plans) == 0);
    json_decref(plans);
    advance(&s, 3 * DAY_MS);
    cr_assert_eq(cap_fx_events(&s.f, "isolation.ended"), 1);
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)id);
    plans = kv(&s, "stepdown", "plans");
    json_t *plan = json_object_get(plans, key);
    cr_assert_not_null(plan, "onward plan for %s", key);
    cr_assert_str_eq(str(plan, "to"), "care_home");
    cr_assert_str_eq(str(plan, "pathway"), "P3");
    cr_assert_eq(json_integer_value(json_object_get(plan, "move_after")),
                 now + 4 * DAY_MS, "isolation end + 24h clinical check");
    cr_assert_eq(json_integer_value(json_object_get(plan, "isolate_until")),
                 now + 18 * DAY_MS, "then 14 days on return");
    json_decref(plans);
    close_demo(&s);
}

Test(stdplugins, delays_harm_and_the_daily_summary)
{
    sfx s;
    open_demo(&s);
    /* Ready 2 days ago, no reason: reported by the 15-minute check. */
    int64_t late = refer(&s, &(person){.n = 1,
                                       .ready = "2026-11-21",
                                       .requested = CT_PATHWAY_P3,
                                       .needs = {"dementia", "bariatric", 0}});
    /* Ready 14 days ago with a reason: a harm event. */
    int64_t harm = refer(&s, &(person){.n = 2,
                                       .ready = "2026-11-09",
                                       .requested = CT_PATHWAY_P3,
                                       .needs = {"dementia", "bariatric", 0}});
    CAP_OK(ct_referral_set_delay(s.f.cap, harm, "awaiting_p3_bed",
                                 "demo-council", "org:demo-council",
                                 &cap_err));
    json_decref(decide(&s, late));
    json_decref(decide(&s, harm));
    advance(&s, 15 * 60000);
    json_t *flags = kv(&s, "discharge_hub", "flags");
    char a[32], b[32];
    snprintf(a, sizeof a, "%lld", (long long)late);
    snprintf(b, sizeof b, "%lld", (long long)harm);
    cr_assert_str_eq(str(json_object_get(flags, a), "m"), "2026-11-23");
    cr_assert(json_is_true(json_object_get(json_object_get(flags, b), "h")));
    cr_assert_null(json_object_get(json_object_get(flags, b), "m"));
    json_decref(flags);
    /* 08:00: the summary by organisation and reason. */
    advance(&s, HOUR_MS);
    json_t *sum = kv(&s, "discharge_hub", "summary:2026-11-23");
    cr_assert_not_null(sum);
    json_t *totals = json_object_get(sum, "totals");
    cr_assert_eq(json_integer_value(json_object_get(totals, "delayed")), 2);
    cr_assert_eq(json_integer_value(json_object_get(totals, "delay_days")),
                 16);
    cr_assert_eq(json_integer_value(json_object_get(totals, "missing_reason")),
                 1);
    cr_assert_eq(
        json_integer_value(at(sum, "by_org", "demo-council", "reasons",
                              "awaiting_p3_bed", "delay_days", NULL)),
        14);
    json_decref(sum);
    close_demo(&s);
}

/* Metrics that score level 4 with the demo's settings, and level 1. */
static json_t *pressure(sfx *s, bool high)
{
    json_t *m = NULL;
    CAP_OK(ct_metrics_json(s->f.cap, &m, &cap_err));
    if (high) {
        const char *kinds[] = {"step_down", "rehab"};
        for (int i = 0; i < 2; i++) {
            json_t *k = at(m, "by_kind", kinds[i], NULL);
            json_object_set_new(
                k, "occupied",
                json_integer(json_integer_value(json_object_get(k, "open"))));
        }
        json_object_set_new(m, "nctr", json_integer(70));
        json_object_set_new(json_object_get(m, "waiting"), "total",
                            json_integer(60));
        json_object_set_new(json_object_get(m, "bed_days_lost"), "open",
                            json_integer(150));
    }
    return m;
}

static int escalate(sfx *s, bool high)
{
    json_t *m = pressure(s, high), *trace = json_array(), *out = NULL;
    cr_assert_eq(ct_plugins_escalate(s->m, m, trace, &out), 0);
    int level = (int)json_integer_value(json_object_get(out, "level"));
    json_decref(out);
    json_decref(trace);
    json_decref(m);
    return level;
}

static long long surge_open(sfx *s)
{
    return cap_fx_int(&s->f,
                      "SELECT count(*) FROM bed WHERE surge = 1 AND "
                      "surge_open = 1",
                      NULL);
}

Test(stdplugins, escalation_opens_surge_and_tightens_ranking_then_steps_down)
{
    sfx s;
    open_demo(&s);
    cr_assert_eq(escalate(&s, false), 1);
    cr_assert_eq(surge_open(&s), 0);
    cr_assert_eq(escalate(&s, true), 4);
    cr_assert_eq(surge_open(&s), 12, "Willow's 8 and Elm's 4");
    json_t *v = NULL;
    cr_assert_eq(ct_kv_get(s.f.store, "@policy:winter_surge", "ranking", &v), 0);
    cr_assert_str_eq(json_string_value(v), "tight");
    json_decref(v);
    /* The hub ranks for flow now. */
    json_t *d = decide(&s, refer(&s, &(person){.n = 1,
                                               .ready = "2026-11-23",
                                               .requested = -1,
                                               .needs = {"nursing", 0}}));
    cr_assert(dumps_has(traced(d, "discharge_hub", "rank"), "capacity tight"));
    json_decref(d);
    /* Pressure gone: one level per 2 hours, surge closed below 3. */
    cr_assert_eq(escalate(&s, false), 4);
    advance(&s, 2 * HOUR_MS);
    cr_assert_eq(escalate(&s, false), 3);
    cr_assert_eq(surge_open(&s), 12);
    advance(&s, 2 * HOUR_MS);
    cr_assert_eq(escalate(&s, false), 2);
    cr_assert_eq(surge_open(&s), 0);
    cr_assert_eq(ct_kv_get(s.f.store, "@policy:winter_surge", "ranking", &v), 0);
    cr_assert_str_eq(json_string_value(v), "normal");
    json_decref(v);
    advance(&s, 2 * HOUR_MS);
    cr_assert_eq(escalate(&s, false), 1);
    json_t *st = kv(&s, "winter_surge", "state");
    cr_assert_eq(json_integer_value(json_object_get(st, "level")), 1);
    json_decref(st);
    close_demo(&s);
}

Test(stdplugins, rural_county_one_designated_unit_and_its_staffing_cap)
{
    sfx s;
    open_area(&s, "rural-county.yaml");
    int64_t now = ct_clock_now(s.f.clock);
    /* Rehab: the trust's own cottage hospital nearby (band 1, linked
     * organisation) before the one farther away. */
    json_t *d = decide(&s, refer(&s, &(person){.n = 1,
                                               .ready = "2026-11-23",
                                               .requested = -1,
                                               .needs = {"rehab", 0},
                                               .org = "wolds-acute"}));
    cr_assert_str_eq(str(d, "facility"), "northby-cottage");
    json_decref(d);
    /* Positives needing a care home fill Oakleigh's red zone up to its
     * staffing cap of 8 (of 10 rooms); the ninth waits. */
    for (int i = 2; i <= 10; i++) {
        int64_t id = refer(&s, &(person){.n = i,
                                         .ready = "2026-11-23",
                                         .requested = CT_PATHWAY_P3,
                                         .needs = {"nursing", 0},
                                         .org = "wolds-acute"});
        infection(&s, i, "covid", CT_INFECTION_POSITIVE, now - HOUR_MS, 0);
        d = decide(&s, id);
        cr_assert_str_eq(str(d, "pathway"), "step_down");
        if (i <= 9) {
            cr_assert_str_eq(str(d, "zone"), "oakleigh-red", "referral %d", i);
        } else {
            cr_assert_str_eq(str(d, "outcome"), "waiting");
            cr_assert(
                dumps_has(json_object_get(d, "reasons"),
                          "zone oakleigh-red is staffed for 8 and has 8"));
        }
        json_decref(d);
    }
    close_demo(&s);
}

Test(stdplugins, city_system_designated_annex_and_bands_per_trust)
{
    sfx s;
    open_area(&s, "city-system.yaml");
    int64_t now = ct_clock_now(s.f.clock);
    /* Positive, needing a care home: the care-home pathway stays, and only
     * Elmhurst's designated annex is offered. */
    int64_t id = refer(&s, &(person){.n = 1,
                                     .ready = "2026-11-23",
                                     .requested = CT_PATHWAY_P3,
                                     .needs = {"nursing", 0},
                                     .org = "metro-royal"});
    infection(&s, 1, "covid", CT_INFECTION_POSITIVE, now - HOUR_MS, 0);
    json_t *d = decide(&s, id);
    cr_assert_str_eq(str(d, "pathway"), "P3");
    cr_assert_str_eq(str(d, "zone"), "elmhurst-annex");
    json_decref(d);
    /* Negative: the Royal's band-1 home first. */
    id = refer(&s, &(person){.n = 2,
                             .ready = "2026-11-23",
                             .requested = CT_PATHWAY_P3,
                             .needs = {"nursing", 0},
                             .org = "metro-royal"});
    tested(&s, 2);
    d = decide(&s, id);
    cr_assert_str_eq(str(d, "facility"), "parkview");
    json_decref(d);
    /* From the General, Elmhurst is band 3, beyond max_band 2. */
    id = refer(&s, &(person){.n = 3,
                             .ready = "2026-11-23",
                             .requested = CT_PATHWAY_P3,
                             .needs = {"nursing", 0},
                             .org = "metro-general"});
    tested(&s, 3);
    d = decide(&s, id);
    cr_assert_str_eq(str(d, "facility"), "parkview");
    cr_assert_not(dumps_has(
        json_object_get(traced(d, "discharge_hub", "rank"), "output"),
        "ELH-"));
    json_decref(d);
    /* Cardiac needs go to the virtual ward (P1). */
    d = decide(&s, refer(&s, &(person){.n = 4,
                                       .ready = "2026-11-23",
                                       .requested = -1,
                                       .needs = {"cardiac", 0},
                                       .org = "metro-general"}));
    cr_assert_str_eq(str(d, "pathway"), "P1");
    cr_assert_str_eq(str(d, "zone"), "vw-cardiac");
    json_decref(d);
    close_demo(&s);
}
