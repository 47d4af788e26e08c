/*
 * The scratch host of one plugin test: a ":memory:" store and a virtual
 * clock under the daemon's host assembly (host.h: capacity, plugins),
 * and the hooks caretide.test calls through run_test's options (load_area,
 * advance, set_time, clock, traceback), registered as C closures in the
 * plugin's sandbox.
 */
#include "testrun_int.h"

#include "error.h"
#include "intake.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Every test's clock starts here: a Monday morning, the fixtures'
 * "today" (the clock only moves forward from it). */
#define TEST_START "2025-01-06T08:00:00Z"

/* Runs in the plugin's sandbox with its (opts, id): declares the file's
 * tests, runs one, and returns every test's name and that result. */
static const char driver[] =
    "local opts, id = ...\n"
    "local t = require('caretide.test')\n"
    "t.expose(_G)\n"
    "opts.load_test()()\n"
    "local names = {}\n"
    "for i, p in ipairs(t.plan()) do names[i] = p.name end\n"
    "opts.names = names -- for the host, should the test not return\n"
    "local result\n"
    "if id <= #names then result = t.run_test(id, opts) end\n"
    "t.reset()\n"
    "return names, result\n";

/* --- the scratch area ------------------------------------------------- */

static const char *diag_text(const ct_diags *d, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < d->len && n < size; i++) {
        const ct_diag *g = &d->items[i];
        int w = g->line ? snprintf(buf + n, size - n, "%s%s:%u: %s",
                                   i ? "\n" : "", g->file, g->line,
                                   g->message)
                        : snprintf(buf + n, size - n, "%s%s: %s",
                                   i ? "\n" : "", g->file, g->message);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    return buf;
}

/* Drops members whose value is an empty table ({} from Lua), which the
 * config would read as a wrong type: empty tags and cohorts mean none. */
static void drop_empty(json_t *v)
{
    const char *k;
    json_t *x;
    void *tmp;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach_safe(v, tmp, k, x)
        {
            if ((json_is_object(x) && json_object_size(x) == 0) ||
                (json_is_array(x) && json_array_size(x) == 0))
                json_object_del(v, k);
            else
                drop_empty(x);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) drop_empty(x);
    }
}

/* Loads an area config given as JSON (which YAML reads as it is). */
static int load_json_config(const char *name, json_t *c, ct_config **out,
                            ct_diags *d)
{
    char *text = json_dumps(c, 0);
    if (!text)
        return CT_ENOMEM;
    int rc = ct_config_load_text(name, ".", text, strlen(text), out, d);
    free(text);
    return rc;
}

int ct_testrun__suite_config(ct_testrun_suite *s)
{
    json_t *c = json_pack(
        "{s:{s:s, s:s}, s:[sss], s:[{s:s, s:s}, {s:s, s:s}], s:[], s:[],"
        " s:[{s:s, s:s}]}",
        "area", "id", "caretide-test", "name", "caretide test",
        "pathogens", "covid", "flu", "norovirus", "organisations", "id",
        "demo-acute", "name", "demo-acute", "id", "demo-council", "name",
        "demo-council", "facilities", "plugin_path", "plugins", "name",
        s->name, "path", s->dir);
    if (!c)
        return CT_ENOMEM;
    ct_diags d = {0};
    int rc = load_json_config("<caretide test>", c, &s->cfg, &d);
    json_decref(c);
    if (rc) {
        char buf[2048];
        free(s->problem);
        s->problem = ct_strdup(diag_text(&d, buf, sizeof buf));
    }
    ct_diags_free(&d);
    return rc;
}

/* --- hooks for caretide.test -------------------------------------------- */

static ct_testrun_env *env_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* opts.load_test() -> function: the test file, compiled in the sandbox
 * with the chunk name results use. */
static int l_load_test(lua_State *L)
{
    ct_testrun_env *e = env_of(L);
    char path[PATH_MAX + 64];
    if (e->file[0] == '/') /* an area's test outside its directory */
        snprintf(path, sizeof path, "%s", e->file);
    else
        snprintf(path, sizeof path, "%s/%s", e->s->dir, e->file);
    char *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (e->s->bundle) {
        /* A self-test reads the verified bytes, never the disk. */
        const uint8_t *b = ct_bundle_file(e->s->bundle, e->file, &len);
        if (!b || !(text = malloc(len ? len : 1)))
            rc = b ? CT_ENOMEM : CT_ENOTFOUND;
        else
            memcpy(text, b, len);
    } else {
        rc = ct_read_file(path, &text, &len);
    }
    if (rc)
        return luaL_error(L, "cannot read %s: %s", e->chunk, ct_strerror(rc));
    lua_pushfstring(L, "@%s", e->chunk);
    int st = luaL_loadbufferx(L, text, len, lua_tostring(L, -1), "t");
    free(text);
    if (st != LUA_OK)
        return lua_error(L);
    return 1;
}

/* opts.load_area(area) -> nil: area from caretide.fixtures' area{},
 * which has the shape of the config's sections; it replaces the test's
 * facilities (reconcile retires what it does not list). */
static int l_load_area(lua_State *L)
{
    ct_testrun_env *e = env_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    json_t *area = NULL;
    ct_sandbox *sb = ct_sandbox_from_state(L);
    if (ct_sandbox_to_json(sb, 1, "area", 0, &area))
        return luaL_error(L, "load_area: %s",
                          ct_sandbox_last_error(sb)->detail);
    drop_empty(area);
    json_t *c = json_pack("{s:{s:s, s:s}, s:O?, s:O?, s:O?}", "area", "id",
                          "caretide-test", "name", "caretide test",
                          "pathogens", json_object_get(area, "pathogens"),
                          "organisations",
                          json_object_get(area, "organisations"),
                          "facilities", json_object_get(area, "facilities"));
    json_decref(area);
    if (!c)
        return luaL_error(L, "load_area: not an area{} table");
    ct_config *cfg = NULL;
    ct_diags d = {0};
    char msg[1024];
    int rc = load_json_config("load_area", c, &cfg, &d);
    json_decref(c);
    /* The test's area replaces the scratch one, pathogens included (as a
     * restart would in the daemon). */
    if (rc == 0 && (rc = ct_host_reconcile(e->host, cfg, NULL, &d)) == 0)
        rc = ct_capacity_set_pathogens(
            e->cap, (const char *const *)cfg->pathogens, cfg->npathogens);
    diag_text(&d, msg, sizeof msg);
    if (rc && !msg[0])
        snprintf(msg, sizeof msg, "%s", ct_strerror(rc));
    ct_diags_free(&d);
    ct_config_free(cfg);
    if (rc)
        return luaL_error(L, "load_area: %s", msg);
    return 0;
}

/* opts.refer(referral) -> decision | nil, message, code: referral intake
 * (intake.h) of a caretide.fixtures referral on the test's host, as the
 * API runs it. Only in an area's own tests: a plugin's tests run inside
 * its sandbox, which the decision would have to call back into. */
static int l_refer(lua_State *L)
{
    ct_testrun_env *e = env_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!e->s->area_tests)
        return luaL_error(L, "refer works only in an area's own tests "
                             "(caretide test --config); a plugin's tests "
                             "call its hooks instead");
    json_t *ref = NULL;
    ct_sandbox *sb = ct_sandbox_from_state(L);
    if (ct_sandbox_to_json(sb, 1, "referral", 0, &ref))
        return luaL_error(L, "refer: %s", ct_sandbox_last_error(sb)->detail);
    ct_intake_parsed p;
    ct_intake_from_fixture(ref, ct_clock_now(e->clock), &p);
    ct_intake_result res;
    ct_cap_error err = {0};
    int rc = ct_intake_referral(e->cap, e->m, &p.req, "test", &res, &err);
    json_decref(ref);
    if (rc) {
        lua_pushnil(L);
        lua_pushstring(L, err.message[0] ? err.message : ct_strerror(rc));
        lua_pushstring(L, ct_err_name(rc));
        return 3;
    }
    rc = ct_sandbox_push_json(sb, res.decision);
    json_decref(res.decision);
    if (rc)
        return luaL_error(L, "refer: %s", ct_strerror(rc));
    return 1;
}

/* opts.advance(duration) -> integer: timers fired */
static int l_advance(lua_State *L)
{
    ct_testrun_env *e = env_of(L);
    int64_t ms = 0;
    if (lua_type(L, 1) == LUA_TNUMBER) {
        ms = (int64_t)luaL_checkinteger(L, 1);
    } else {
        const char *s = luaL_checkstring(L, 1);
        if (ct_parse_duration_ms(s, &ms))
            return luaL_error(L, "advance: not a duration: '%s' (expected "
                                 "e.g. 15m, 48h, 14d)", s);
    }
    luaL_argcheck(L, ms >= 0, 1, "expected advance(duration) with a "
                                 "duration of 0 or more");
    int n = ct_clock_advance(e->clock, ms);
    if (n < 0)
        return luaL_error(L, "advance: %s", ct_strerror(n));
    lua_pushinteger(L, n);
    return 1;
}

/* opts.set_time(time) -> integer: timers fired */
static int l_set_time(lua_State *L)
{
    ct_testrun_env *e = env_of(L);
    const char *s = luaL_checkstring(L, 1);
    int64_t at;
    if (ct_clock_parse(s, &at))
        return luaL_error(L, "set_time: not a time: '%s' (expected "
                             "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z)", s);
    int64_t now = ct_clock_now(e->clock);
    if (at < now) {
        char buf[40];
        ct_clock_format(now, buf, sizeof buf);
        return luaL_error(L, "set_time: the clock only moves forward (it is "
                             "%s already)", buf);
    }
    int n = ct_clock_advance_to(e->clock, at);
    if (n < 0)
        return luaL_error(L, "set_time: %s", ct_strerror(n));
    lua_pushinteger(L, n);
    return 1;
}

/* opts.clock() -> number: wall-clock milliseconds, for durations */
static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec * 1e3 +
                          (lua_Number)ts.tv_nsec / 1e6);
    return 1;
}

/* opts.traceback() -> string: the stack of the error being handled */
static int l_traceback(lua_State *L)
{
    luaL_traceback(L, L, NULL, 1);
    return 1;
}

static const luaL_Reg hooks[] = {
    {"load_test", l_load_test}, {"load_area", l_load_area},
    {"advance", l_advance},     {"set_time", l_set_time},
    {"clock", l_clock},         {"traceback", l_traceback},
    {"refer", l_refer},
    {NULL, NULL},
};

/* In the sandbox, protected: require("init") returns the hooks table
 * setup ran on, and run_test's options are kept in the registry. */
static int env_setup(lua_State *L)
{
    ct_testrun_env *e = lua_touserdata(L, 1);
    if (!e->s->area_tests) {
        lua_getglobal(L, "package");
        lua_getfield(L, -1, "loaded");
        ct_sandbox_push_main(e->sb);
        lua_setfield(L, -2, "init");
        lua_pop(L, 2);
    }
    lua_createtable(L, 0, 8);
    lua_pushstring(L, e->chunk);
    lua_setfield(L, -2, "file");
    lua_pushlightuserdata(L, e);
    luaL_setfuncs(L, hooks, 1);
    e->opts_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* --- life cycle ------------------------------------------------------------ */

int ct_testrun__env_open(ct_testrun_env *e, ct_testrun_suite *s,
                         const char *file, bool coverage)
{
    memset(e, 0, sizeof *e);
    e->s = s;
    e->file = file;
    e->opts_ref = LUA_NOREF;
    snprintf(e->chunk, sizeof e->chunk, "%s/%s", s->label, file);
    ct_diags d = {0};
    const char *step = "open a scratch store";
    ct_store_options so = {.sync = CT_SYNC_NORMAL};
    int64_t start = 0;
    int rc = ct_store_open(":memory:", &so, &e->store);
    if (rc)
        goto fail;
    step = "start the virtual clock";
    if ((rc = ct_clock_parse(TEST_START, &start)) ||
        (rc = ct_clock_new_virtual(start, &e->clock)))
        goto fail;
    /* The daemon's host (host.h), on the scratch store and clock: the
     * area, capacity with its pathogens, the plugins, their events. */
    /* The whole area in an area run, else the plugin alone. */
    step = "set up the host";
    s->last = NULL;
    ct_host_hooks hh = {.line_fn = coverage ? ct_testrun__line : NULL,
                        .line_ud = s};
    if ((rc = ct_host_open(s->area ? s->area : s->cfg, e->store, e->clock,
                           0, &hh, &e->host, &d)))
        goto fail;
    e->cap = ct_host_capacity(e->host);
    e->m = ct_host_plugins(e->host);
    if (s->area_tests) {
        step = "set up the area test's sandbox";
        if ((rc = ct_plugins_console_new(e->m, "area", NULL, &e->console)))
            goto fail;
        e->sb = e->console;
    } else {
        e->sb = ct_plugins_sandbox(e->m, s->name);
    }
    if (!e->sb) {
        rc = CT_ESTATE;
        goto fail;
    }
    if ((rc = ct_sandbox_setup(e->sb, env_setup, e))) {
        ct_diags_add(&d, e->chunk, 0, 0, "%s",
                     ct_sandbox_last_error(e->sb)->message);
        goto fail;
    }
    ct_diags_free(&d);
    return 0;
fail:
    if (d.len) {
        diag_text(&d, e->problem, sizeof e->problem);
    } else {
        snprintf(e->problem, sizeof e->problem, "cannot %s: %s", step,
                 ct_strerror(rc));
    }
    ct_diags_free(&d);
    ct_testrun__env_close(e);
    return rc;
}

void ct_testrun__env_close(ct_testrun_env *e)
{
    /* The options table dies with the sandbox: it is not an embedder
     * reference (ct_sandbox_ref) and needs no release. */
    ct_plugins_console_free(e->console);
    e->console = NULL;
    ct_host_close(e->host);
    e->host = NULL;
    e->m = NULL;
    e->sb = NULL;
    e->cap = NULL;
    if (e->clock)
        ct_clock_close(e->clock, NULL, NULL);
    e->clock = NULL;
    ct_store_close(e->store);
    e->store = NULL;
}

int ct_testrun__env_run(ct_testrun_env *e, int64_t id, int64_t timeout_ms,
                        json_t **names, json_t **result)
{
    *names = *result = NULL;
    int rc = ct_sandbox_load(e->sb, "caretide-test", driver,
                             sizeof driver - 1);
    if (rc)
        return rc;
    lua_State *L = ct_sandbox_state(e->sb);
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->opts_ref);
    lua_pushinteger(L, (lua_Integer)id);
    rc = ct_sandbox_call_deadline(e->sb, "test", 2, 2, timeout_ms);
    if (rc) {
        /* The file's test names, when it got as far as declaring them: the
         * run goes on with the next test. */
        lua_rawgeti(L, LUA_REGISTRYINDEX, e->opts_ref);
        lua_getfield(L, -1, "names");
        if (lua_istable(L, -1) && (*names = json_array())) {
            /* Read by hand: the sandbox's converter would reset the error
             * the caller is about to report. */
            lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, -1, i);
                const char *name = lua_tostring(L, -1);
                json_array_append_new(*names, json_string(name ? name : "?"));
                lua_pop(L, 1);
            }
        }
        lua_settop(L, lua_gettop(L) - 2);
        return rc;
    }
    rc = ct_sandbox_to_json(e->sb, -2, "plan", CT_SANDBOX_JSON_EMPTY_ARRAY,
                            names);
    if (rc == 0)
        rc = ct_sandbox_to_json(e->sb, -1, "result", 0, result);
    lua_settop(L, lua_gettop(L) - 2);
    if (rc) {
        json_decref(*names);
        *names = NULL;
    }
    return rc;
}

void ct_testrun__line(void *ud, const char *source, int line)
{
    ct_testrun_suite *s = ud;
    ct_coverage_file *f = s->last;
    if (!f || strcmp(f->source, source) != 0) {
        f = NULL;
        for (size_t i = 0; i < s->ncov && !f; i++)
            if (strcmp(s->cov[i].source, source) == 0)
                f = &s->cov[i];
        if (!f)
            return;
        s->last = f;
    }
    ct_coverage_hit(f, line);
}
