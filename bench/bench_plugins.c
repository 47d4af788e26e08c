/*
 * Benchmark of the plugin host's overhead: one triage + rank + admit round
 * through three small plugins (bench/plugins) in the host (sandboxes,
 * deadlines, JSON across the border, traces, fallbacks), against calling
 * the same Lua functions on a bare lua_State with the same data pushed and
 * read back. Prints both and their ratio; the target is a ratio of
 * at most 2. Runs A and B alternately so machine noise hits both.
 *
 * Usage: bench_plugins [ROUNDS] [CANDIDATES]
 */
#include "capacity.h"
#include "clock.h"
#include "config.h"
#include "host.h"
#include "log.h"
#include "plugins.h"
#include "store.h"

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *make_referral(void)
{
    return json_pack(
        "{s:i, s:s, s:i, s:s, s:s, s:s, s:n, s:s, s:i, s:[s,s],"
        " s:{s:i, s:[s,s], s:s, s:{s:{s:s, s:b}}},"
        " s:{s:n, s:n, s:i}}",
        "id", 42, "nhs_number", "9990000018", "age", 84, "from_org",
        "demo-acute", "ready_date", "2026-11-23", "requested_pathway", "P2",
        "decided_pathway", "state", "received", "priority", 0, "needs",
        "nursing", "dementia", "person", "age", 84, "needs", "nursing",
        "dementia", "usual_residence", "home", "infections", "covid",
        "status", "negative", "isolating", 0, "delay", "reason",
        "responsible_org", "days", 0);
}

static json_t *make_candidates(int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        char bed[16];
        snprintf(bed, sizeof bed, "OAK-%03d", i + 1);
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s,s], s:b, s:b, s:b}",
                         "bed", bed, "zone", "oakwood-main", "facility",
                         "oakwood", "kind", "care_home", "org",
                         i % 3 ? "oakwood-care" : "demo-acute", "tags",
                         "nursing", i % 4 ? "dementia" : "bariatric",
                         "designated", 0, "surge", i % 5 == 0,
                         "isolation_room", 0));
    }
    return a;
}

/* --- the bare side: plain Lua, plain conversions --------------------------- */

static void push(lua_State *L, const json_t *v)
{
    size_t i;
    const char *k;
    json_t *x;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        lua_createtable(L, 0, (int)json_object_size(v));
        json_object_foreach((json_t *)v, k, x)
        {
            push(L, x);
            lua_setfield(L, -2, k);
        }
        break;
    case JSON_ARRAY:
        lua_createtable(L, (int)json_array_size(v), 0);
        json_array_foreach(v, i, x)
        {
            push(L, x);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        lua_pushboolean(L, json_is_true(v));
        break;
    default:
        lua_pushnil(L);
    }
}

static json_t *pull(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TTABLE: {
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
        if (n > 0) {
            json_t *a = json_array();
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, idx, i);
                json_array_append_new(a, pull(L, -1));
                lua_pop(L, 1);
            }
            return a;
        }
        json_t *o = json_object();
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            if (lua_type(L, -2) == LUA_TSTRING)
                json_object_set_new(o, lua_tostring(L, -2), pull(L, -1));
            lua_pop(L, 1);
        }
        return o;
    }
    case LUA_TSTRING:
        return json_string(lua_tostring(L, idx));
    case LUA_TNUMBER:
        return lua_isinteger(L, idx) ? json_integer(lua_tointeger(L, idx))
                                     : json_real(lua_tonumber(L, idx));
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    default:
        return json_null();
    }
}

typedef struct bare {
    lua_State *L;
    int triage, rank, admit;
} bare;

static int bare_hook(lua_State *L, const char *dir, const char *hook)
{
    char path[512];
    snprintf(path, sizeof path, CT_SOURCE_DIR "/bench/plugins/%s/init.lua",
             dir);
    if (luaL_dofile(L, path)) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        exit(1);
    }
    lua_getfield(L, -1, hook);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    return ref;
}

static void bare_round(bare *b, const json_t *ref, const json_t *cands)
{
    lua_State *L = b->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->triage);
    push(L, ref);
    if (lua_pcall(L, 1, 1, 0))
        exit(1);
    json_decref(pull(L, -1));
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->rank);
    push(L, ref);
    push(L, cands);
    if (lua_pcall(L, 2, 1, 0))
        exit(1);
    json_t *ranked = pull(L, -1);
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->admit);
    push(L, ref);
    push(L, json_array_get(ranked, 0));
    if (lua_pcall(L, 2, 2, 0))
        exit(1);
    (void)lua_toboolean(L, -2);
    lua_pop(L, 2);
    json_decref(ranked);
}

/* --- the host side ------------------------------------------------------------ */

static const char area[] =
    "area: {id: bench}\n"
    "plugin_path: [\"" CT_SOURCE_DIR "/bench/plugins\"]\n"
    "organisations: [{id: demo-acute, name: A}, {id: oakwood-care, name: O}]\n"
    "facilities:\n"
    "  - {id: oakwood, name: Oakwood, kind: care_home, organisation: "
    "oakwood-care,\n"
    "     zones: [{id: oakwood-main, beds: [{range: OAK-001..OAK-040}]}]}\n"
    "plugins: [{name: b_triage}, {name: b_rank}, {name: b_admit}]\n";

static void host_round(ct_plugins *m, const json_t *ref, json_t *cands)
{
    json_t *trace = json_array(), *answer = NULL;
    bool manual = false, allowed;
    const char *why;
    ct_plugins_triage(m, ref, trace, &answer, &manual);
    json_t *c = json_incref(cands);
    ct_plugins_rank(m, ref, &c, trace, &manual, NULL);
    ct_plugins_admit(m, ref, json_array_get(c, 0), trace, &allowed, &why,
                     &manual);
    json_decref(c);
    json_decref(answer);
    json_decref(trace);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 20000;
    int ncand = argc > 2 ? atoi(argv[2]) : 20;
    ct_log_setup(CT_LOG_TEXT, CT_LOG_WARN);

    ct_diags d = {0};
    ct_config *cfg = NULL;
    ct_store *store = NULL;
    ct_clock *clock = NULL;
    ct_host *host = NULL;
    if (ct_config_load_text("bench.yaml", ".", area, strlen(area), &cfg, &d) ||
        ct_store_open(":memory:", NULL, &store) ||
        ct_clock_new_virtual(1795420800000LL, &clock) ||
        ct_host_open(cfg, store, clock, 0, NULL, &host, &d)) {
        ct_diags_print(&d, stderr);
        return 1;
    }
    ct_plugins *m = ct_host_plugins(host);
    bare b = {luaL_newstate(), 0, 0, 0};
    luaL_openlibs(b.L);
    b.triage = bare_hook(b.L, "b_triage", "triage");
    b.rank = bare_hook(b.L, "b_rank", "rank");
    b.admit = bare_hook(b.L, "b_admit", "admit");

    json_t *ref = make_referral(), *cands = make_candidates(ncand);
    double best_host = 1e9, best_bare = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_s();
        for (int i = 0; i < rounds; i++)
            bare_round(&b, ref, cands);
        double t1 = now_s();
        for (int i = 0; i < rounds; i++)
            host_round(m, ref, cands);
        double t2 = now_s();
        if (t1 - t0 < best_bare)
            best_bare = t1 - t0;
        if (t2 - t1 < best_host)
            best_host = t2 - t1;
    }
    json_t *st = ct_plugins_status(m);
    size_t i;
    json_t *p;
    json_array_foreach(st, i, p) if (json_integer_value(
                                         json_object_get(p, "errors")))
    {
        fprintf(stderr, "plugin %s failed during the benchmark\n",
                json_string_value(json_object_get(p, "name")));
        return 1;
    }
    json_decref(st);
    printf("plugin round (triage + rank + admit, %d candidates), best of 5 "
           "x %d rounds:\n",
           ncand, rounds);
    printf("  bare lua_State : %8.2f us/round  %9.0f rounds/s\n",
           best_bare / rounds * 1e6, rounds / best_bare);
    printf("  caretide host  : %8.2f us/round  %9.0f rounds/s\n",
           best_host / rounds * 1e6, rounds / best_host);
    printf("  host / bare    : %8.2fx (target: at most 2x)\n",
           best_host / best_bare);

    json_decref(ref);
    json_decref(cands);
    lua_close(b.L);
    ct_host_close(host);
    ct_clock_close(clock, NULL, NULL);
    ct_store_close(store);
    ct_config_free(cfg);
    ct_diags_free(&d);
    return 0;
}
