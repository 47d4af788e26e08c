/*
 * The host API plugins call (host/plugins_hostapi.c), through the plugin manager
 * with the test plugins under tests/plugins: calls from coroutines, and
 * arguments at the edges of their ranges.
 */
#include "capacity_fixture.h"
#include "fixtures.h"
#include "kv.h"
#include "pipeline.h"
#include "referral.h"
#include "plugins.h"
#include "sandbox.h"

#include <lua.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pfx {
    cap_fx f;
    ct_plugins *m;
} pfx;

static void open_with(pfx *p, const char *plugins, const char *extra)
{
    size_t n = strlen(cap_fx_area) + strlen(plugins) + strlen(extra) + 256;
    char *yaml = malloc(n);
    snprintf(yaml, n,
             "%s"
             "plugin_path: [\"" CT_SOURCE_DIR "/tests/plugins\"]\n"
             "plugins:\n%s%s%s",
             cap_fx_area, plugins, extra,
             strstr(extra, "limits:") ? "" : "limits: {plugin_deadline: 2s}\n");
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

static const char *seen(const json_t *v, const char *k)
{
    const char *s = json_string_value(json_object_get(v, k));
    cr_assert_not_null(s, "seen.%s is not a string", k);
    return s;
}

TestSuite(hostapi);

Test(hostapi, calls_from_coroutines_use_the_coroutine_stack)
{
    pfx p;
    open_with(&p, "  - name: costack\n", "");
    json_t *v = NULL;
    cr_assert_eq(ct_kv_get(p.f.store, "costack", "seen", &v), 0);
    cr_assert_str_eq(seen(v, "capacity"), "table");
    cr_assert_str_eq(seen(v, "beds"), "table");
    cr_assert(json_is_true(json_object_get(v, "emit")));
    cr_assert_str_eq(seen(v, "on"), "ok");
    json_decref(v);
    cr_assert_eq(ct_kv_get(p.f.store, "costack", "from_co", &v), 0);
    cr_assert_eq(json_integer_value(json_object_get(v, "n")), 7);
    json_decref(v);
    char *where = cap_fx_text(&p.f,
                              "SELECT group_concat(json_extract(payload, "
                              "'$.where')) FROM event WHERE kind = ?1",
                              "plugin.costack.tested");
    cr_assert_str_eq(where, "coroutine");
    free(where);
    close_pfx(&p);
}

Test(hostapi, format_time_and_surge_count_ranges)
{
    pfx p;
    open_with(&p, "  - name: costack\n", "");
    json_t *v = NULL;
    cr_assert_eq(ct_kv_get(p.f.store, "costack", "seen", &v), 0);
    cr_assert(strstr(seen(v, "format_min"), "expected format_time(ms"),
              "%s", seen(v, "format_min"));
    cr_assert(strstr(seen(v, "format_max"), "expected format_time(ms"),
              "%s", seen(v, "format_max"));
    cr_assert_str_eq(seen(v, "format_edge"), "9999-12-31T23:59:59.999Z");
    /* The wrapped count was "all": no surge bed may have opened. */
    cr_assert_eq(cap_fx_int(&p.f,
                            "SELECT count(*) FROM event WHERE kind = ?1",
                            "surge.opened"),
                 0);
    json_decref(v);
    close_pfx(&p);
}

/* Found on main: a result or host API argument holding one 256 KiB string
 * 400 times was converted in full (100 MiB) without being charged to the
 * plugin. Conversions are held to the output limit: the call fails (the
 * fallback applies), the argument is refused, nothing large is stored. */
Test(hostapi, amplified_results_and_arguments_hit_the_output_limit)
{
    pfx p;
    open_with(&p, "  - name: amplifier\n  - name: triage_p2\n", "");
    json_t *v = NULL;
    cr_assert_eq(ct_kv_get(p.f.store, "amplifier", "kv_result", &v), 0);
    cr_assert(json_is_false(json_object_get(v, "ok")));
    cr_assert(strstr(json_string_value(json_object_get(v, "err")),
                     "output limit of 1 MiB"),
              "%s", json_string_value(json_object_get(v, "err")));
    json_decref(v);
    cr_assert_eq(ct_kv_get(p.f.store, "amplifier", "emit_result", &v), 0);
    cr_assert(json_is_false(json_object_get(v, "ok")));
    cr_assert(strstr(json_string_value(json_object_get(v, "err")),
                     "output limit of 1 MiB"),
              "%s", json_string_value(json_object_get(v, "err")));
    json_decref(v);
    cr_assert_eq(ct_kv_get(p.f.store, "amplifier", "many", &v), CT_ENOTFOUND);

    ct_referral_input in = {.nhs_number = "9990000018", .age = 80,
                            .from_org = "acute", .ready_date = "2026-11-23",
                            .requested_pathway = -1};
    int64_t id = 0;
    CAP_OK(ct_referral_create(p.f.cap, &in, "org:acute", &id, &cap_err));
    json_t *d = NULL;
    CAP_OK(ct_pipeline_decide(p.f.cap, p.m, id, "org:acute", &d, &cap_err));
    cr_assert_str_eq(json_string_value(json_object_get(d, "pathway")), "P2");
    json_t *e = json_array_get(json_object_get(d, "trace"), 0);
    const char *err = json_string_value(json_object_get(e, "error"));
    cr_assert(err && strstr(err, "output limit of 1 MiB"), "%s", err);
    json_decref(d);
    /* Nothing of the amplified result reached the store. */
    cr_assert_lt(cap_fx_int(&p.f, "SELECT max(length(payload)) FROM event",
                            NULL),
                 1 << 20);
    close_pfx(&p);
}

/* Found on main: any plugin could overwrite another's policy values and
 * fill the shared policy store. A key belongs to its first publisher while
 * that plugin is loaded; every change is audited; each publisher's values
 * count against its own kv quota. */
Test(hostapi, policy_values_belong_to_their_publisher)
{
    pfx p;
    open_with(&p, "  - name: publisher\n  - name: squatter\n", "");
    json_t *v = NULL;
    cr_assert_eq(ct_kv_get(p.f.store, "squatter", "seen", &v), 0);
    json_t *ow = json_object_get(v, "overwrite");
    cr_assert(json_is_false(json_object_get(ow, "ok")));
    cr_assert_str_eq(json_string_value(json_object_get(ow, "code")),
                     "CT_EDENIED");
    cr_assert_str_eq(json_string_value(json_object_get(ow, "err")),
                     "policy 'ranking' is published by plugin 'publisher'");
    cr_assert_str_eq(seen(v, "ranking"), "tight");
    cr_assert(json_is_true(json_object_get(v, "own")));
    json_t *fill = json_object_get(v, "fill");
    cr_assert(json_is_object(fill), "the policy store took 4 MB");
    cr_assert_str_eq(json_string_value(json_object_get(fill, "code")),
                     "CT_ELIMIT");
    json_decref(v);
    /* One audit event per change, under the publisher's name. */
    cr_assert_eq(cap_fx_int(&p.f,
                            "SELECT count(*) FROM event WHERE kind = ?1 "
                            "AND actor = 'plugin:publisher'",
                            "policy.published"),
                 1);
    cr_assert_eq(cap_fx_int(&p.f,
                            "SELECT count(*) FROM event WHERE kind = ?1 "
                            "AND json_extract(payload, '$.key') = "
                            "'squatter_level'",
                            "policy.published"),
                 1);
    close_pfx(&p);
}

/* ct.emit: a payload over 16 KiB is refused, and a plugin's events are
 * held to 256 KiB a minute (on main six referrals made 36 MB of audit). */
Test(hostapi, emit_quota)
{
    pfx p;
    open_with(&p, "  - name: emitter\n", "");
    json_t *v = NULL;
    cr_assert_eq(ct_kv_get(p.f.store, "emitter", "seen", &v), 0);
    cr_assert_str_eq(seen(v, "big"), "event payload is over the 16 KiB limit");
    cr_assert_eq(json_integer_value(json_object_get(v, "accepted")), 17,
                 "17 events of 15 KiB fit in 256 KiB");
    cr_assert_str_eq(seen(v, "refused"),
                     "the plugin's emit quota of 256 KiB a minute is used up");
    json_decref(v);
    close_pfx(&p);
}

/* What the listener plugin has been delivered so far, joined with ','. */
static char *heard(pfx *p)
{
    ct_sandbox *sb = ct_plugins_sandbox(p->m, "listener");
    cr_assert_not_null(sb);
    lua_State *L = ct_sandbox_state(sb);
    int top = lua_gettop(L);
    cr_assert_eq(ct_sandbox_push_main(sb), 0);
    lua_getfield(L, -1, "heard");
    char buf[1024] = "";
    size_t n = 0;
    for (lua_Integer i = 1; lua_geti(L, -1, i) == LUA_TSTRING; i++) {
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", n ? "," : "",
                              lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_settop(L, top);
    return strdup(buf);
}

static int64_t new_referral(pfx *p, const char *nhs)
{
    ct_referral_input in = {.nhs_number = nhs, .age = 80,
                            .from_org = "acute", .ready_date = "2026-11-23",
                            .requested_pathway = -1};
    int64_t id = 0;
    CAP_OK(ct_referral_create(p->f.cap, &in, "org:acute", &id, &cap_err));
    return id;
}

/* Issue 16: plugin events (ct.emit, policy.changed) were delivered at the
 * end of each hook, before the decision's transaction committed, so a
 * decision rolled back afterwards had already told every listener about
 * events that never happened (and are not in the audit log). Deliveries
 * happen after the commit; a rollback drops them. */
Test(hostapi, events_of_a_rolled_back_decision_are_never_delivered)
{
    pfx p;
    open_with(&p, "  - name: txemit\n  - name: listener\n", "");
    int64_t id = new_referral(&p, "9990000018");
    cr_assert_eq(ct_store_begin(p.f.store), 0);
    json_t *d = NULL;
    CAP_OK(ct_pipeline_decide(p.f.cap, p.m, id, "org:acute", &d, &cap_err));
    json_decref(d);
    char *h = heard(&p);
    cr_assert_str_eq(h, "", "delivered before the commit: %s", h);
    free(h);
    ct_store_rollback(p.f.store);
    h = heard(&p);
    cr_assert_str_eq(h, "", "delivered from a rolled-back decision: %s", h);
    free(h);
    cr_assert_eq(cap_fx_int(&p.f, "SELECT count(*) FROM event WHERE kind "
                                  "IN ('plugin.tried', 'policy.published')",
                            NULL),
                 0);
    /* The same decision committed: each event once, after the commit. */
    CAP_OK(ct_pipeline_decide(p.f.cap, p.m, id, "org:acute", &d, &cap_err));
    json_decref(d);
    h = heard(&p);
    cr_assert_str_eq(h, "plugin.tried,policy.changed:tx_level", "%s", h);
    free(h);
    close_pfx(&p);
}

/* A decision inside a caller's transaction (the group commit) delivers
 * nothing until that transaction commits. */
Test(hostapi, events_wait_for_the_callers_commit)
{
    pfx p;
    open_with(&p, "  - name: txemit\n  - name: listener\n", "");
    int64_t id = new_referral(&p, "9990000018");
    cr_assert_eq(ct_store_begin(p.f.store), 0);
    json_t *d = NULL;
    CAP_OK(ct_pipeline_decide(p.f.cap, p.m, id, "org:acute", &d, &cap_err));
    json_decref(d);
    char *h = heard(&p);
    cr_assert_str_eq(h, "", "delivered before the commit: %s", h);
    free(h);
    cr_assert_eq(ct_store_commit(p.f.store), 0);
    h = heard(&p);
    cr_assert_str_eq(h, "plugin.tried,policy.changed:tx_level", "%s", h);
    free(h);
    close_pfx(&p);
}

/* Issue 16: a refused ct.policy.set (another plugin's key, or over the kv
 * quota) is announced to nobody; a successful one is audited as
 * policy.published and announced as policy.changed once. */
Test(hostapi, only_successful_policy_sets_are_announced_and_audited)
{
    pfx p;
    open_with(&p,
              "  - name: listener\n  - name: publisher\n  - name: squatter\n",
              "");
    ct_plugins_flush(p.m); /* what setup emitted */
    char *h = heard(&p);
    /* publisher's ranking, squatter's own squatter_level and the fill keys
     * it managed before the quota refused one; never squatter's refused
     * overwrite of ranking, nor the refused fill. */
    json_t *v = NULL;
    cr_assert_eq(ct_kv_get(p.f.store, "squatter", "seen", &v), 0);
    json_int_t refused_at =
        json_integer_value(json_object_get(json_object_get(v, "fill"), "at"));
    json_decref(v);
    cr_assert_gt(refused_at, 1);
    char want[1024];
    size_t n = (size_t)snprintf(want, sizeof want,
                                "policy.changed:ranking,"
                                "policy.changed:squatter_level");
    for (json_int_t i = 1; i < refused_at; i++)
        n += (size_t)snprintf(want + n, sizeof want - n,
                              ",policy.changed:fill%lld", (long long)i);
    cr_assert_str_eq(h, want);
    free(h);
    long long published = cap_fx_int(
        &p.f, "SELECT count(*) FROM event WHERE kind = ?1",
        "policy.published");
    cr_assert_eq(published, 2 + (refused_at - 1),
                 "one audit record per successful set");
    close_pfx(&p);
}
