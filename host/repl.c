/*
 * The REPL's session: the scratch host, the console sandbox, evaluation of
 * chunks (expression first, as lua.c does), the dot commands, and
 * completion. Formatting of results, traces and tables is Lua
 * (caretide.repl) run in the console.
 */
#include "repl.h"

#include "capacity.h"
#include "clock.h"
#include "config.h"
#include "error.h"
#include "host.h"
#include "capacity_waitlist.h"
#include "intake.h"
#include "isolation.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "plugins.h"
#include "referral.h"
#include "sandbox.h"
#include "store_int.h"
#include "store_sql_repl.h"
#include "util.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* The statements of this unit, apart from the store's list. */
CT_STMT_SET_DEFINE(repl_stmts, CT_STMTS_REPL, CT_STMT_REPL__COUNT);

#define DEFAULT_TIMEOUT_MS 10000
#define CONSOLE_MEMORY ((size_t)256 << 20)
#define ACTOR "repl"

/* caretide.repl's functions by index, so C reaches them with lua_rawgeti,
 * which cannot raise. */
static const char tools_src[] =
    "local r = require('caretide.repl')\n"
    "return { r.show, r.complete, r.explain, r.capacity, r.plugins,\n"
    "  r.escalation }\n";
enum { T_SHOW = 1, T_COMPLETE, T_EXPLAIN, T_CAPACITY, T_PLUGINS,
       T_ESCALATION };

struct ct_repl {
    ct_repl_options o;
    uv_loop_t loop;
    bool loop_open;
    ct_config *cfg;
    ct_store *store;
    char *store_desc;
    ct_clock *clock;
    ct_host *host;
    ct_capacity *cap; /* the host's */
    ct_plugins *m;    /* the host's */
    ct_sandbox *con;
    int tools_ref;
    ct_timer escalate; /* the escalation round, as in the daemon */
    ct_buf pending;    /* lines of an incomplete chunk */
};

static void on_escalate(ct_timer *t, void *data)
{
    ct_repl *r = data;
    ct_timer_start(t, ct_clock_now(r->clock) + CT_INTAKE_ESCALATE_EVERY_MS,
                   on_escalate, r);
    ct_cap_error err = {0};
    if (ct_plugins_count(r->m) &&
        ct_intake_escalate(r->cap, r->m, NULL, NULL, &err))
        ct_log_warn("repl", "escalation round failed: %s", err.message);
}

/* --- the scratch host --------------------------------------------------- */

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The page size of db; 0 (the store's default) when it cannot be read. */
static int page_size_of(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int n = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* An in-memory copy of the database at path (read-only; any schema this
 * build knows, migrated in memory). */
static int scratch_copy(const char *path, ct_store **out, ct_diags *d)
{
    sqlite3 *src = NULL;
    int rc = sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        ct_diags_add(d, path, 0, 0, "cannot open the database: %s",
                     src ? sqlite3_errmsg(src) : "out of memory");
        sqlite3_close(src);
        return CT_EIO;
    }
    /* SQLite copies into an in-memory database only at the source's page
     * size (an older database may have SQLite's 4 KiB, not the 8 KiB a new
     * store gets). */
    ct_store_options so = {.page_size = page_size_of(src)};
    ct_store *dst = NULL;
    if ((rc = ct_store_open(":memory:", &so, &dst))) {
        ct_diags_add(d, path, 0, 0, "cannot make the scratch copy: %s",
                     ct_strerror(rc));
        sqlite3_close(src);
        return rc;
    }
    sqlite3 *db = ct_store__db(dst);
    sqlite3_backup *b = sqlite3_backup_init(db, "main", src, "main");
    int st = b ? sqlite3_backup_step(b, -1) : sqlite3_errcode(db);
    if (b && sqlite3_backup_finish(b) != SQLITE_OK && st == SQLITE_DONE)
        st = sqlite3_errcode(db);
    if (st != SQLITE_DONE) {
        ct_diags_add(d, path, 0, 0, "cannot copy the database: %s",
                     sqlite3_errstr(st));
        rc = ct_err_from_sqlite(st);
    } else {
        rc = ct_store__migrate(db, ct_store__migrations,
                               ct_store__nmigrations);
        if (rc)
            ct_diags_add(d, path, 0, 0, "cannot use the database: %s",
                         ct_strerror(rc));
    }
    sqlite3_close(src);
    if (rc) {
        ct_store_close(dst);
        return rc;
    }
    *out = dst;
    return 0;
}

/* The newest event's time, 0 when none. */
static int64_t last_event_at(ct_store *s)
{
    sqlite3_stmt *st =
        ct_store__stmt_of(s, &repl_stmts, CT_STMT_REPL_LAST_EVENT_AT);
    int64_t at = 0;
    if (st && sqlite3_step(st) == SQLITE_ROW)
        at = sqlite3_column_int64(st, 0);
    if (st)
        sqlite3_reset(st);
    return at;
}

static int open_store(ct_repl *r, ct_diags *d)
{
    const char *path = r->o.db_path ? r->o.db_path : r->cfg->db_path;
    ct_buf desc = {0};
    int rc;
    if (r->o.live) {
        ct_store_options so = {.sync = r->cfg->sync};
        rc = ct_store_open(path, &so, &r->store);
        ct_buf_printf(&desc, "the live database %s; changes are kept", path);
    } else if (path && exists(path)) {
        rc = scratch_copy(path, &r->store, d);
        ct_buf_printf(&desc, "a scratch copy of %s; nothing is saved", path);
    } else {
        rc = ct_store_open(":memory:", NULL, &r->store);
        ct_buf_printf(&desc, "a scratch store made from the config (no "
                             "database at %s); nothing is saved",
                      path ? path : "all");
    }
    r->store_desc = desc.data;
    if (rc) {
        if (!d->len)
            ct_diags_add(d, path ? path : "<store>", 0, 0,
                         "cannot open the database: %s", ct_strerror(rc));
        return rc;
    }
    return 0;
}

/* print(...) in the console writes to the REPL's output, not the log. */
static int l_print(lua_State *L)
{
    ct_repl *r = lua_touserdata(L, lua_upvalueindex(1));
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1)
            fputc('\t', r->o.out);
        fwrite(s, 1, len, r->o.out);
        lua_pop(L, 1);
    }
    fputc('\n', r->o.out);
    fflush(r->o.out);
    return 0;
}

/* The organisation made-up referrals come from: the area's first
 * hospital (the owner of its first acute facility), else its first
 * organisation, never the demo's "demo-acute" in another area. */
static const char *first_hospital(const ct_config *cfg)
{
    for (size_t i = 0; i < cfg->nfacilities; i++)
        if (cfg->facilities[i].kind == CT_FACILITY_ACUTE &&
            cfg->facilities[i].org)
            return cfg->facilities[i].org;
    return cfg->norgs ? cfg->orgs[0].id : NULL;
}

/* Console globals: print, inspect and t (the test data builders), whose
 * defaults come from the area. */
static int console_setup(lua_State *L)
{
    ct_repl *r = lua_touserdata(L, 1);
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, l_print, 1);
    lua_setglobal(L, "print");
    const char *from = first_hospital(r->cfg);
    if (from) {
        lua_getglobal(L, "require");
        lua_pushstring(L, "caretide.fixtures");
        lua_call(L, 1, 1);
        lua_getfield(L, -1, "use_area");
        lua_createtable(L, 0, 1);
        lua_pushstring(L, from);
        lua_setfield(L, -2, "from_org");
        lua_call(L, 1, 0);
        lua_pop(L, 1);
    }
    static const char *const mods[][2] = {{"inspect", "caretide.inspect"},
                                          {"t", "caretide.test"}};
    for (size_t i = 0; i < CT_ARRAY_LEN(mods); i++) {
        lua_getglobal(L, "require");
        lua_pushstring(L, mods[i][1]);
        lua_call(L, 1, 1);
        lua_setglobal(L, mods[i][0]);
    }
    return 0;
}

static int open_console(ct_repl *r, ct_diags *d)
{
    ct_sandbox_limits lim = {.memory = CONSOLE_MEMORY,
                             .deadline_ms = r->o.timeout_ms};
    int rc = ct_plugins_console_new(r->m, "repl", &lim, &r->con);
    if (rc == 0)
        rc = ct_sandbox_setup(r->con, console_setup, r);
    if (rc == 0)
        rc = ct_sandbox_load(r->con, "caretide-repl", tools_src,
                             sizeof tools_src - 1);
    if (rc == 0)
        rc = ct_sandbox_call(r->con, "caretide-repl", 0, 1);
    if (rc == 0)
        rc = ct_sandbox_ref(r->con, "repl tools", &r->tools_ref);
    if (rc)
        ct_diags_add(d, "<repl>", 0, 0, "cannot set up the console: %s",
                     r->con ? ct_sandbox_last_error(r->con)->message
                            : ct_strerror(rc));
    return rc;
}

int ct_repl_new(const ct_repl_options *opts, ct_repl **out, ct_diags *d)
{
    *out = NULL;
    ct_repl *r = calloc(1, sizeof *r);
    if (!r)
        return CT_ENOMEM;
    r->o = *opts;
    r->tools_ref = LUA_NOREF;
    if (!r->o.out)
        r->o.out = stdout;
    if (!r->o.err)
        r->o.err = stderr;
    if (r->o.timeout_ms <= 0)
        r->o.timeout_ms = DEFAULT_TIMEOUT_MS;
    int rc = uv_loop_init(&r->loop);
    if (rc) {
        free(r);
        return ct_err_from_uv(rc);
    }
    r->loop_open = true;
    rc = r->o.config_path ? ct_config_load_file(r->o.config_path, &r->cfg, d)
                          : ct_config_load_demo(&r->cfg, d);
    if (rc || (rc = open_store(r, d)))
        goto fail;
    if (r->o.live) {
        rc = ct_clock_new_real(&r->loop, &r->clock);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        int64_t last = last_event_at(r->store);
        rc = ct_clock_new_virtual(last > now ? last : now, &r->clock);
    }
    if (rc)
        goto fail;
    /* Plugins that do not load are reported and left out, so the REPL
     * still starts to help fix them (.reload tries again). */
    size_t before = d->len;
    if ((rc = ct_host_open(r->cfg, r->store, r->clock, CT_HOST_KEEP_GOING,
                           NULL, &r->host, d)))
        goto fail;
    r->cap = ct_host_capacity(r->host);
    r->m = ct_host_plugins(r->host);
    bool plugins_failed = d->len != before;
    if ((rc = open_console(r, d)))
        goto fail;
    ct_timer_init(r->clock, &r->escalate);
    ct_timer_start(&r->escalate,
                   ct_clock_now(r->clock) + CT_INTAKE_ESCALATE_EVERY_MS,
                   on_escalate, r);
    *out = r;
    return plugins_failed ? CT_EPLUGIN : 0;
fail:
    ct_repl_free(r);
    return rc ? rc : CT_ECONFIG;
}

static void clock_closed(ct_clock *c, void *data)
{
    (void)c;
    *(bool *)data = true;
}

void ct_repl_free(ct_repl *r)
{
    if (!r)
        return;
    if (r->con) {
        if (r->tools_ref != LUA_NOREF)
            ct_sandbox_unref(r->con, r->tools_ref);
        ct_plugins_console_free(r->con);
    }
    if (r->clock)
        ct_timer_stop(&r->escalate);
    ct_host_close(r->host);
    if (r->clock) {
        bool closed = false;
        ct_clock_close(r->clock, clock_closed, &closed);
        while (!closed && uv_run(&r->loop, UV_RUN_ONCE))
            ;
    }
    ct_store_close(r->store);
    ct_config_free(r->cfg);
    if (r->loop_open) {
        uv_run(&r->loop, UV_RUN_DEFAULT);
        uv_loop_close(&r->loop);
    }
    ct_buf_free(&r->pending);
    free(r->store_desc);
    free(r);
}

uv_loop_t *ct_repl_loop(ct_repl *r)
{
    return &r->loop;
}

void ct_repl_describe(ct_repl *r, FILE *out)
{
    char now[40];
    ct_clock_format(ct_clock_now(r->clock), now, sizeof now);
    fprintf(out,
            "caretide repl: area %s (%s), %zu plugin(s)\n"
            "data: %s\n"
            "clock: %s, %s\n"
            "Type .help for commands, Ctrl-D to leave.\n",
            r->cfg->area_id, r->cfg->file, ct_plugins_count(r->m),
            r->store_desc, now,
            ct_clock_is_virtual(r->clock) ? "virtual (.advance moves it)"
                                          : "real");
}

/* --- evaluation ------------------------------------------------------------ */

static void print_error(ct_repl *r)
{
    const ct_sandbox_error *e = ct_sandbox_last_error(r->con);
    fprintf(r->o.err, "%s\n",
            e->code != CT_ETIMEOUT && e->detail[0] ? e->detail : e->message);
    fflush(r->o.err);
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* Compiles code, as an expression first (so its value prints); MORE when
 * it is an unfinished chunk and more may come. The function is pushed on
 * success. */
static ct_repl_status compile(ct_repl *r, const char *code, bool more_ok)
{
    ct_buf b = {0};
    if (ct_buf_printf(&b, "return %s;", code) == 0 &&
        ct_sandbox_load(r->con, "repl", b.data, b.len) == 0) {
        ct_buf_free(&b);
        return CT_REPL_OK;
    }
    ct_buf_free(&b);
    if (ct_sandbox_load(r->con, "repl", code, strlen(code)) == 0)
        return CT_REPL_OK;
    const ct_sandbox_error *e = ct_sandbox_last_error(r->con);
    if (more_ok && e->code == CT_EPLUGIN && ends_with(e->detail, "<eof>"))
        return CT_REPL_MORE;
    print_error(r);
    return CT_REPL_ERROR;
}

/* Pushes tools[idx]. */
static void push_tool(ct_repl *r, int idx)
{
    lua_State *L = ct_sandbox_state(r->con);
    ct_sandbox_push_ref(r->con, r->tools_ref);
    lua_rawgeti(L, -1, idx);
    lua_remove(L, -2);
}

/* Calls the tool below the nargs values on the stack and prints the
 * string it returns. */
static ct_repl_status print_tool(ct_repl *r, int nargs)
{
    lua_State *L = ct_sandbox_state(r->con);
    if (ct_sandbox_call(r->con, "format", nargs, 1)) {
        print_error(r);
        return CT_REPL_ERROR;
    }
    size_t len = 0;
    const char *s = lua_tolstring(L, -1, &len);
    if (s && len)
        fprintf(r->o.out, "%.*s\n", (int)len, s);
    fflush(r->o.out);
    lua_settop(L, lua_gettop(L) - 1);
    return CT_REPL_OK;
}

/* Formats a JSON value (consumed) with tools[idx] and prints it. */
static ct_repl_status print_json(ct_repl *r, int idx, json_t *v)
{
    push_tool(r, idx);
    int rc = v ? ct_sandbox_push_json(r->con, v) : CT_ENOMEM;
    json_decref(v);
    if (rc) {
        lua_State *L = ct_sandbox_state(r->con);
        lua_settop(L, lua_gettop(L) - 1);
        fprintf(r->o.err, "cannot show the value: %s\n", ct_strerror(rc));
        return CT_REPL_ERROR;
    }
    return print_tool(r, 1);
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs a chunk and prints what it returns (and how long it took). */
static ct_repl_status run_chunk(ct_repl *r, const char *code, bool more_ok,
                                bool timed)
{
    lua_State *L = ct_sandbox_state(r->con);
    int base = lua_gettop(L);
    ct_repl_status st = compile(r, code, more_ok);
    if (st != CT_REPL_OK)
        return st;
    double t0 = mono_ms();
    int rc = ct_sandbox_call_deadline(r->con, "repl", 0, LUA_MULTRET,
                                      r->o.timeout_ms);
    double t1 = mono_ms();
    ct_plugins_flush(r->m); /* events the console emitted */
    if (rc) {
        print_error(r);
        return CT_REPL_ERROR;
    }
    int n = lua_gettop(L) - base;
    if (n > 0) {
        push_tool(r, T_SHOW);
        lua_insert(L, base + 1);
        st = print_tool(r, n);
    }
    if (timed)
        fprintf(r->o.out, "(%.3f ms)\n", t1 - t0);
    return st;
}

/* --- dot commands ------------------------------------------------------------ */

typedef ct_repl_status (*cmd_fn)(ct_repl *r, const char *arg, bool more_ok);

static ct_repl_status cmd_help(ct_repl *r, const char *arg, bool more_ok);

static ct_repl_status fail_msg(ct_repl *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static ct_repl_status fail_msg(ct_repl *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->o.err, fmt, ap);
    va_end(ap);
    fputc('\n', r->o.err);
    fflush(r->o.err);
    return CT_REPL_ERROR;
}

static ct_repl_status cmd_quit(ct_repl *r, const char *arg, bool more_ok)
{
    (void)r, (void)arg, (void)more_ok;
    return CT_REPL_QUIT;
}

static ct_repl_status cmd_plugins(ct_repl *r, const char *arg, bool more_ok)
{
    (void)arg, (void)more_ok;
    return print_json(r, T_PLUGINS, ct_plugins_status(r->m));
}

static ct_repl_status cmd_capacity(ct_repl *r, const char *arg, bool more_ok)
{
    (void)arg, (void)more_ok;
    json_t *m = NULL;
    ct_cap_error err = {0};
    if (ct_metrics_json(r->cap, &m, &err))
        return fail_msg(r, "capacity: %s", err.message);
    return print_json(r, T_CAPACITY, m);
}

static ct_repl_status cmd_reload(ct_repl *r, const char *arg, bool more_ok)
{
    (void)arg, (void)more_ok;
    ct_diags d = {0};
    ct_config *cfg = NULL;
    int rc = r->o.config_path ? ct_config_load_file(r->o.config_path, &cfg, &d)
                              : ct_config_load_demo(&cfg, &d);
    if (rc == 0 && (rc = ct_host_reload(r->host, cfg, &d)) == 0) {
        ct_config_free(r->cfg);
        r->cfg = cfg;
        cfg = NULL;
        fprintf(r->o.out, "reloaded %s: %zu plugin(s)\n", r->cfg->file,
                ct_plugins_count(r->m));
    }
    ct_diags_print(&d, r->o.err);
    ct_diags_free(&d);
    ct_config_free(cfg);
    if (rc)
        fprintf(r->o.err, "reload failed; the running plugins stay\n");
    fflush(r->o.out);
    fflush(r->o.err);
    return rc ? CT_REPL_ERROR : CT_REPL_OK;
}

static ct_repl_status cmd_escalate(ct_repl *r, const char *arg, bool more_ok)
{
    (void)arg, (void)more_ok;
    json_t *res = NULL;
    ct_cap_error err = {0};
    if (ct_intake_escalate(r->cap, r->m, &res, NULL, &err))
        return fail_msg(r, ".escalate: %s", err.message);
    return print_json(r, T_ESCALATION, res);
}

/* .waiting: the waiting list in the order it is served, one line each
 * with the first reason of the wait (docs/repl.md). */
static ct_repl_status cmd_waiting(ct_repl *r, const char *arg, bool more_ok)
{
    (void)arg, (void)more_ok;
    ct_waitlist_query q = {.limit = 1000};
    json_t *page = NULL, *e;
    ct_cap_error err = {0};
    if (ct_capacity_waitlist_json(r->cap, &q, &page, &err))
        return fail_msg(r, ".waiting: %s", err.message);
    json_t *list = json_object_get(page, "waiting");
    size_t i;
    json_array_foreach(list, i, e)
    {
        const char *pw = json_string_value(json_object_get(e, "pathway"));
        const char *why = json_string_value(
            json_array_get(json_object_get(e, "reasons"), 0));
        fprintf(r->o.out,
                "%lld. referral %lld  %s  priority %lld  ready %s (+%lldd)  "
                "%s%s%s\n",
                (long long)json_integer_value(json_object_get(e, "position")),
                (long long)json_integer_value(json_object_get(e, "id")),
                pw ? pw : "-",
                (long long)json_integer_value(json_object_get(e, "priority")),
                json_string_value(json_object_get(e, "ready_date")),
                (long long)json_integer_value(
                    json_object_get(e, "days_past_ready")),
                json_string_value(json_object_get(e, "outcome"))
                    ? json_string_value(json_object_get(e, "outcome"))
                    : "not decided",
                why ? ": " : "", why ? why : "");
    }
    if (!json_array_size(list))
        fputs("nobody is waiting\n", r->o.out);
    fflush(r->o.out);
    json_decref(page);
    return CT_REPL_OK;
}

static ct_repl_status cmd_explain(ct_repl *r, const char *arg, bool more_ok)
{
    (void)more_ok;
    char *end;
    long long id = strtoll(arg, &end, 10);
    if (end == arg || *end || id <= 0)
        return fail_msg(r, ".explain: expected a referral id, got '%s'", arg);
    json_t *d = NULL;
    ct_cap_error err = {0};
    if (ct_pipeline_stored_decision(r->cap, (int64_t)id, &d, &err))
        return fail_msg(r, ".explain: %s",
                        err.message[0] ? err.message : "no decision stored");
    return print_json(r, T_EXPLAIN, d);
}

static void print_now(ct_repl *r, int fired)
{
    char now[40];
    ct_clock_format(ct_clock_now(r->clock), now, sizeof now);
    if (fired >= 0)
        fprintf(r->o.out, "%s (%d timer%s fired)\n", now, fired,
                fired == 1 ? "" : "s");
    else
        fprintf(r->o.out, "%s\n", now);
    fflush(r->o.out);
}

static ct_repl_status cmd_advance(ct_repl *r, const char *arg, bool more_ok)
{
    (void)more_ok;
    int64_t ms;
    if (ct_parse_duration_ms(arg, &ms))
        return fail_msg(r, ".advance: expected a duration like 15m, 4h or "
                           "2d, got '%s'", arg);
    if (!ct_clock_is_virtual(r->clock))
        return fail_msg(r, "%s", ".advance: the clock is real with --live");
    int n = ct_clock_advance(r->clock, ms);
    if (n < 0)
        return fail_msg(r, ".advance: %s", ct_strerror(n));
    print_now(r, n);
    return CT_REPL_OK;
}

static ct_repl_status cmd_clock(ct_repl *r, const char *arg, bool more_ok)
{
    (void)more_ok;
    if (!*arg) {
        print_now(r, -1);
        return CT_REPL_OK;
    }
    int64_t at;
    if (ct_clock_parse(arg, &at))
        return fail_msg(r, ".clock: expected YYYY-MM-DD or "
                           "YYYY-MM-DDTHH:MM[:SS]Z, got '%s'", arg);
    if (!ct_clock_is_virtual(r->clock))
        return fail_msg(r, "%s", ".clock: the clock is real with --live");
    if (at < ct_clock_now(r->clock))
        return fail_msg(r, "%s", ".clock: the clock only moves forward");
    int n = ct_clock_advance_to(r->clock, at);
    if (n < 0)
        return fail_msg(r, ".clock: %s", ct_strerror(n));
    print_now(r, n);
    return CT_REPL_OK;
}

static ct_repl_status cmd_time(ct_repl *r, const char *arg, bool more_ok)
{
    if (!*arg)
        return fail_msg(r, "%s", ".time: expected a Lua expression or "
                                 "statement to time");
    return run_chunk(r, arg, more_ok, true);
}

/* Referral intake (intake.h) of the made-up referral (a
 * caretide.fixtures referral as JSON): the referral with its clinical
 * data, the infections it reports, the decision, as the API does. */
static int refer(ct_repl *r, json_t *ref, ct_intake_result *res,
                 ct_cap_error *err)
{
    ct_intake_parsed p;
    ct_intake_from_fixture(ref, ct_clock_now(r->clock), &p);
    return ct_intake_referral(r->cap, r->m, &p.req, ACTOR, res, err);
}

/* MORE when expr is an unfinished expression (a table spread over
 * lines); anything else is left to the real compile to report. */
static ct_repl_status unfinished(ct_repl *r, const char *expr, bool more_ok)
{
    ct_buf b = {0};
    ct_repl_status st = CT_REPL_OK;
    lua_State *L = ct_sandbox_state(r->con);
    if (more_ok && *expr && ct_buf_printf(&b, "return %s", expr) == 0) {
        if (ct_sandbox_load(r->con, "repl", b.data, b.len) == 0)
            lua_settop(L, lua_gettop(L) - 1);
        else if (ends_with(ct_sandbox_last_error(r->con)->detail, "<eof>"))
            st = CT_REPL_MORE;
    }
    ct_buf_free(&b);
    return st;
}

/* Whether the store knows the person (any referral or infection record,
 * past or present). */
static bool person_known(ct_repl *r, const char *nhs)
{
    sqlite3_stmt *st =
        ct_store__stmt_of(r->store, &repl_stmts, CT_STMT_REPL_PERSON_KNOWN);
    if (!st || !nhs)
        return false;
    sqlite3_bind_text(st, 1, nhs, -1, SQLITE_STATIC);
    bool known = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return known;
}

static ct_repl_status cmd_referral(ct_repl *r, const char *arg, bool more_ok)
{
    if (unfinished(r, arg, more_ok) == CT_REPL_MORE)
        return CT_REPL_MORE;
    /* A made-up person is nobody the database knows: in a copy of real
     * data (or demo data, also in the 999 range) the fixture's next
     * number may be a stored person, whose referral and infection status
     * a made-up referral must not take over. So take the next number the
     * store has never seen, unless the NHS number was given. */
    bool given = strstr(arg, "nhs_number") != NULL;
    ct_cap_error err = {0};
    ct_intake_result res = {0};
    int rc, tries = 0;
    do {
        ct_buf code = {0};
        ct_buf_printf(&code, "require('caretide.fixtures').referral(%s)",
                      arg);
        lua_State *L = ct_sandbox_state(r->con);
        int base = lua_gettop(L);
        ct_repl_status st = compile(r, code.data ? code.data : "", more_ok);
        ct_buf_free(&code);
        if (st != CT_REPL_OK)
            return st;
        json_t *ref = NULL;
        if (ct_sandbox_call(r->con, "referral", 0, 1) ||
            ct_sandbox_to_json(r->con, -1, "referral", 0, &ref)) {
            lua_settop(L, base);
            print_error(r);
            return CT_REPL_ERROR;
        }
        lua_settop(L, base);
        memset(&err, 0, sizeof err);
        if (!given && person_known(r, json_string_value(json_object_get(
                                          ref, "nhs_number")))) {
            json_decref(ref);
            rc = CT_ECONFLICT;
            res.step = CT_INTAKE_STORE;
            snprintf(err.message, sizeof err.message,
                     "every made-up NHS number tried is a stored person; "
                     "give one with nhs_number = ...");
            continue;
        }
        rc = refer(r, ref, &res, &err);
        json_decref(ref);
    } while (rc == CT_ECONFLICT && res.step == CT_INTAKE_STORE && !given &&
             ++tries < 10000);
    if (rc)
        return fail_msg(r, ".referral: %s", err.message);
    return print_json(r, T_EXPLAIN, res.decision);
}

static const struct command {
    const char *name, *args, *help;
    cmd_fn fn;
} commands[] = {
    {"help", "", "this list", cmd_help},
    {"plugins", "", "the configured plugins: version, state, calls, errors",
     cmd_plugins},
    {"reload", "", "reload the config and plugins (the daemon's reload)",
     cmd_reload},
    {"referral", "{...}",
     "decide a made-up referral (fields as t.referral{...}, from the "
     "area's first hospital, a person the database never stored unless "
     "nhs_number is given) and show each plugin step",
     cmd_referral},
    {"explain", "ID", "the stored decision of referral ID and its trace",
     cmd_explain},
    {"capacity", "", "beds per facility and zone", cmd_capacity},
    {"waiting", "", "the waiting list in the order it is served, with why",
     cmd_waiting},
    {"escalate", "", "ask the plugins for the escalation level now (the "
                     "host does every 15 min) and show each step",
     cmd_escalate},
    {"advance", "DURATION", "move the virtual clock on (15m, 4h, 2d); due "
                            "timers fire",
     cmd_advance},
    {"clock", "[TIME]", "show the clock, or move it on to TIME", cmd_clock},
    {"time", "EXPR", "run EXPR and show how long it took", cmd_time},
    {"quit", "", "leave (also .exit or Ctrl-D)", cmd_quit},
    {"exit", NULL, NULL, cmd_quit},
};

static ct_repl_status cmd_help(ct_repl *r, const char *arg, bool more_ok)
{
    (void)arg, (void)more_ok;
    FILE *o = r->o.out;
    fputs("Lua with the host API: ct.* (ct.metrics(), ct.referrals{}, "
          "ct.kv...), inspect(v),\nt.referral{...} and the other test "
          "builders. An expression prints its value;\nan unfinished chunk "
          "continues on the next line. Commands:\n",
          o);
    for (size_t i = 0; i < CT_ARRAY_LEN(commands); i++) {
        const struct command *c = &commands[i];
        if (!c->help)
            continue;
        char head[40];
        snprintf(head, sizeof head, ".%s %s", c->name, c->args);
        fprintf(o, "  %-20s %s\n", head, c->help);
    }
    fflush(o);
    return CT_REPL_OK;
}

static ct_repl_status dispatch(ct_repl *r, const char *text, bool more_ok)
{
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return CT_REPL_OK;
    if (*p != '.')
        return run_chunk(r, text, more_ok, false);
    size_t n = strcspn(p + 1, " \t\n");
    const char *arg = p + 1 + n;
    while (*arg == ' ' || *arg == '\t' || *arg == '\n')
        arg++;
    for (size_t i = 0; i < CT_ARRAY_LEN(commands); i++) {
        const struct command *c = &commands[i];
        if (strlen(c->name) == n && strncmp(c->name, p + 1, n) == 0) {
            /* Trailing blanks are no part of an argument. */
            char *a = ct_strdup(arg);
            if (!a)
                return CT_REPL_ERROR;
            size_t len = strlen(a);
            while (len && (a[len - 1] == ' ' || a[len - 1] == '\t'))
                a[--len] = '\0';
            ct_repl_status st = c->fn(r, a, more_ok);
            free(a);
            return st;
        }
    }
    fprintf(r->o.err, "unknown command .%.*s (.help lists them)\n", (int)n,
            p + 1);
    fflush(r->o.err);
    return CT_REPL_ERROR;
}

ct_repl_status ct_repl_line(ct_repl *r, const char *line)
{
    if (r->pending.len)
        ct_buf_puts(&r->pending, "\n");
    ct_buf_puts(&r->pending, line);
    ct_repl_status st = dispatch(r, r->pending.data ? r->pending.data : "",
                                 true);
    if (st != CT_REPL_MORE) {
        ct_repl_reset(r);
        /* What the input freed goes to the waiting list in order before
         * the next input (docs/repl.md). */
        ct_host_settle(r->host);
    }
    if (r->o.live)
        uv_run(&r->loop, UV_RUN_NOWAIT);
    return st;
}

ct_repl_status ct_repl_eval(ct_repl *r, const char *code)
{
    ct_repl_reset(r);
    ct_repl_status st = dispatch(r, code, false);
    ct_host_settle(r->host);
    if (r->o.live)
        uv_run(&r->loop, UV_RUN_NOWAIT);
    return st;
}

bool ct_repl_pending(const ct_repl *r)
{
    return r->pending.len > 0;
}

void ct_repl_reset(ct_repl *r)
{
    ct_buf_free(&r->pending);
}

const char *ct_repl_prompt(const ct_repl *r)
{
    return r->pending.len ? "     ...> " : "caretide> ";
}

/* --- completion ------------------------------------------------------------ */

static char **add_match(char **v, size_t *n, const char *s)
{
    char **w = realloc(v, (*n + 2) * sizeof *w);
    if (!w)
        return v;
    w[*n] = ct_strdup(s);
    if (w[*n])
        (*n)++;
    w[*n] = NULL;
    return w;
}

char **ct_repl_complete(ct_repl *r, const char *word, bool line_start)
{
    char **v = NULL;
    size_t n = 0;
    if (line_start && word[0] == '.') {
        for (size_t i = 0; i < CT_ARRAY_LEN(commands); i++) {
            const char *name = commands[i].name;
            if (strncmp(name, word + 1, strlen(word + 1)) == 0) {
                char buf[32];
                snprintf(buf, sizeof buf, ".%s", name);
                v = add_match(v, &n, buf);
            }
        }
        return v;
    }
    lua_State *L = ct_sandbox_state(r->con);
    int base = lua_gettop(L);
    push_tool(r, T_COMPLETE);
    lua_pushglobaltable(L);
    json_t *w = json_string(word);
    int rc = w ? ct_sandbox_push_json(r->con, w) : CT_ENOMEM;
    json_decref(w);
    json_t *list = NULL;
    if (rc || ct_sandbox_call(r->con, "complete", 2, 1) ||
        ct_sandbox_to_json(r->con, -1, "completions",
                           CT_SANDBOX_JSON_EMPTY_ARRAY, &list)) {
        lua_settop(L, base);
        return NULL;
    }
    lua_settop(L, base);
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s)
    {
        if (json_is_string(s))
            v = add_match(v, &n, json_string_value(s));
    }
    json_decref(list);
    return v;
}
