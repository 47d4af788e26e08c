/*
 * The plugin's environment: which standard functions it gets, and the
 * replacements that keep them inside the sandbox. Opened once per state by
 * ct_sandbox__open_env, in protected mode, before any plugin code runs.
 *
 * Kept as is: assert, error, getmetatable, ipairs, next, pairs, rawequal,
 * rawget, rawlen, rawset, select, tonumber, tostring, type, _G, _VERSION,
 * math, and most of coroutine and utf8.
 * Replaced: print (to the log), load (text only, size-limited), require
 * (own files and preloads), collectgarbage ("count"), setmetatable (no
 * __gc), pcall/xpcall and coroutine.create/wrap/resume/close (deadline),
 * utf8.len/offset/codepoint (deadline, results), os (host clock).
 * Removed: dofile, loadfile, warn, io, debug, package.loadlib/searchers/
 * path/cpath, string.dump.
 */
#include "sandbox_int.h"

#include "error.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <stddef.h>
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Registry key of the value package.loaded[name] holds while name loads. */
#define LOADING_KEY "ct.sandbox.loading"

/* ------------------------------------------------------------------ */
/* Base functions                                                     */

/* print(...) */
static int sb_print(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    ct_log_info(sb->log_unit, "%s", lua_tostring(L, -1));
    return 0;
}

/* collectgarbage("count") -> kilobytes */
static int sb_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");
    if (strcmp(opt, "count") != 0)
        return luaL_error(L,
                          "collectgarbage('%s') is not allowed in the "
                          "sandbox (only 'count')",
                          opt);
    lua_pushnumber(L, (lua_Number)ct_sandbox_from_state(L)->mem_used / 1024);
    return 1;
}

/*
 * setmetatable(table, metatable|nil) -> table
 * Finalizers run with hooks disabled, so a __gc that never returned would
 * hang the host beyond any deadline; plugins may not set them. Lua only
 * registers an object for finalization when its metatable has __gc at
 * setmetatable time, so adding __gc later has no effect.
 */
static int sb_setmetatable(lua_State *L)
{
    /* Arguments are checked here too: errors raised by the original, which
     * we call from C, would not know the function's name. */
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: __gc metamethods are not "
                                 "allowed in the sandbox");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* ------------------------------------------------------------------ */
/* Wrappers that keep the deadline                                    */

static int guarded_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    /* An error caught here left any host function it came from. */
    ct_sandbox__host_clear(ct_sandbox_from_state(L));
    ct_sandbox__rethrow(L);
    return lua_gettop(L);
}

/*
 * f(...) -> f's results, for upvalue 1 = f. Used for the functions that catch
 * errors or switch threads (pcall, xpcall, coroutine.resume and .close;
 * wrapped() below does the same itself): the clock is read before each,
 * and a deadline error the callee swallowed is raised again after it. The
 * continuation keeps pcall's support for yields.
 */
static int guarded(lua_State *L)
{
    ct_sandbox__deadline(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_callk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, guarded_k);
    return guarded_k(L, LUA_OK, 0);
}

/* Replaces t[name] with wrapper(t[name]). */
static void wrap_field(lua_State *L, int t, const char *name,
                       lua_CFunction wrapper)
{
    lua_getfield(L, t, name);
    lua_pushcclosure(L, wrapper, 1);
    lua_setfield(L, t, name);
}

/* pcall(f, ...) -> ok, results | false, error; upvalue 1 is Lua's */
static int sb_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    return guarded(L);
}

/* coroutine.resume(co, ...) -> ok, values; upvalue 1 is Lua's */
static int co_resume(lua_State *L)
{
    luaL_argexpected(L, lua_tothread(L, 1), 1, "coroutine");
    return guarded(L);
}

/* xpcall's message handler as the plugin gave it (upvalue 1), skipped once
 * the deadline has passed: the deadline error is raised inside the hook,
 * where hooks are off, so the handler would run without a deadline. */
static int xpcall_handler(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    ct_sandbox__host_clear(sb); /* the error left its host function */
    if (sb->armed && sb->tripped)
        return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* xpcall(f, msgh, ...) -> ok, results | false, error; upvalue 1 is Lua's */
static int sb_xpcall(lua_State *L)
{
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, xpcall_handler, 1);
    lua_replace(L, 2);
    return guarded(L);
}

/* coroutine.create(f) -> thread */
static int co_create(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_State *co = lua_newthread(L);
    ct_sandbox__hook_thread(ct_sandbox_from_state(L), co);
    lua_pushvalue(L, 1);
    lua_xmove(L, co, 1);
    return 1;
}

/*
 * Closing a coroutine runs its __close handlers on its own C stack count:
 * Lua 5.4.4's lua_resetthread does not carry the closer's count over (5.4.6
 * added lua_closethread for that), so a chain of handlers that each close
 * another coroutine nests without bound and overflows the C stack. The
 * sandbox counts the nesting itself; the caller decrements after the close,
 * which never raises (Lua's close runs the handlers in protected mode, and
 * co_close calls it through lua_pcall).
 */
#define CLOSE_DEPTH_MAX 100

static void close_enter(lua_State *L, ct_sandbox *sb, const char *fn)
{
    if (sb->close_depth >= CLOSE_DEPTH_MAX)
        ct_sandbox__limit(L, "coroutine nesting limit of 100",
                          "%s inside %d others", fn, sb->close_depth);
    sb->close_depth++;
}

/*
 * wrapped(...) -> values: the function coroutine.wrap returns (upvalue 1:
 * the thread). Like Lua's:
 * resumes, returns what the coroutine yields or returns, and on an error
 * closes the coroutine's to-be-closed variables and raises the error with
 * position information. Unlike it: looks at the clock first, raises the
 * deadline error when the hook suspended the coroutine, and never closes a
 * coroutine the hook killed.
 */
static int wrapped(lua_State *L)
{
    lua_State *co = lua_tothread(L, lua_upvalueindex(1));
    ct_sandbox__deadline(L);
    int narg = lua_gettop(L);
    if (!lua_checkstack(co, narg))
        return luaL_error(L, "too many arguments to resume");
    lua_xmove(L, co, narg);
    int nres;
    int status = lua_resume(co, L, narg, &nres);
    ct_sandbox__host_clear(ct_sandbox_from_state(L));
    if (status == LUA_OK || status == LUA_YIELD) {
        if (!lua_checkstack(L, nres + 1)) {
            lua_pop(co, nres);
            return luaL_error(L, "too many results to resume");
        }
        lua_xmove(co, L, nres);
        ct_sandbox__rethrow(L);
        return nres;
    }
    lua_xmove(co, L, 1);
    ct_sandbox__rethrow(L);
    status = lua_status(co);
    if (status != LUA_OK && status != LUA_YIELD && !ct_sandbox__killed(co)) {
        ct_sandbox *sb = ct_sandbox_from_state(L);
        close_enter(L, sb, "coroutine.wrap");
        status = lua_resetthread(co); /* runs its __close handlers */
        sb->close_depth--;            /* lua_resetthread never raises */
        ct_sandbox__host_clear(sb);
        lua_xmove(co, L, 1);
    }
    if (status != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return lua_error(L);
}

/* coroutine.wrap(f) -> function */
static int co_wrap(lua_State *L)
{
    co_create(L);
    lua_pushcclosure(L, wrapped, 1);
    return 1;
}

/* coroutine.close(co) -> true | false, error; upvalue 1 is Lua's */
static int co_close(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);
    luaL_argexpected(L, co, 1, "coroutine");
    if (ct_sandbox__killed(co)) {
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "coroutine was stopped by the deadline; its "
                           "to-be-closed variables stay open");
        return 2;
    }
    ct_sandbox *sb = ct_sandbox_from_state(L);
    ct_sandbox__deadline(L);
    close_enter(L, sb, "coroutine.close");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    sb->close_depth--;
    ct_sandbox__host_clear(sb);
    if (status != LUA_OK)
        return lua_error(L);
    ct_sandbox__rethrow(L);
    return lua_gettop(L);
}

/* ------------------------------------------------------------------ */
/* load                                                               */

#define READER_SLOT 5

struct fn_reader {
    size_t total, max;
    bool too_big;
};

static const char *fn_reader(lua_State *L, void *ud, size_t *size)
{
    struct fn_reader *r = ud;
    luaL_checkstack(L, 2, "too many nested functions");
    lua_pushvalue(L, 1);
    lua_call(L, 0, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        *size = 0;
        return NULL;
    }
    if (!lua_isstring(L, -1))
        luaL_error(L, "reader function must return a string");
    lua_replace(L, READER_SLOT);
    const char *s = lua_tolstring(L, READER_SLOT, size);
    r->total += *size;
    if (r->total > r->max) {
        r->too_big = true;
        *size = 0;
        return NULL;
    }
    return s;
}

static int chunk_limit(lua_State *L, size_t len)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    char size[32], desc[64];
    ct_sandbox__fmt_size(size, sizeof size, sb->lim.max_chunk);
    snprintf(desc, sizeof desc, "chunk size limit of %s", size);
    return ct_sandbox__limit(L, desc, "load: chunk of %zu bytes", len);
}

/* load(chunk [, chunkname [, mode [, env]]]) -> function | fail, message */
static int sb_load(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    const char *mode = luaL_optstring(L, 3, "bt");
    int env = !lua_isnone(L, 4) ? 4 : 0;
    int status;
    if (!strchr(mode, 't'))
        return luaL_error(L,
                          "load: mode '%s' is not allowed in the sandbox "
                          "(text chunks only)",
                          mode);
    ct_sandbox__deadline(L);
    if (s) {
        if (len > sb->lim.max_chunk)
            return chunk_limit(L, len);
        const char *chunkname = luaL_optstring(L, 2, s);
        status = ct_sandbox__load_text(L, s, len, chunkname);
    } else {
        const char *chunkname = luaL_optstring(L, 2, "=(load)");
        luaL_checktype(L, 1, LUA_TFUNCTION);
        lua_settop(L, READER_SLOT);
        struct fn_reader r = {0, sb->lim.max_chunk, false};
        status = lua_load(L, fn_reader, &r, chunkname, "t");
        if (r.too_big)
            return chunk_limit(L, r.total);
    }
    /* Parsing is not interrupted by the hook: look at the clock after. */
    ct_sandbox__deadline(L);
    if (status == LUA_OK) {
        if (env) {
            lua_pushvalue(L, env);
            if (!lua_setupvalue(L, -2, 1))
                lua_pop(L, 1);
        }
        return 1;
    }
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
}

/* ------------------------------------------------------------------ */
/* require                                                            */

/* Dotted names of identifiers: "util", "lib.rules". Anything else (paths,
 * "..", absolute names, C-module names with '-') is refused up front. */
static bool valid_module(const char *name, size_t len)
{
    if (len == 0 || len > 128)
        return false;
    bool start = true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.') {
            if (start)
                return false;
            start = true;
            continue;
        }
        if (!(isalnum(c) || c == '_') || (start && isdigit(c)))
            return false;
        start = false;
    }
    return !start;
}

/*
 * Finds the loader for name: a preload, or an own file. Pushes the loader
 * and its extra value (":preload:" or the file path).
 */
static void find_loader(lua_State *L, const char *name)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    if (lua_getfield(L, -1, name) != LUA_TNIL) {
        lua_remove(L, -2);
        lua_pushliteral(L, ":preload:");
        return;
    }
    lua_pop(L, 2);

    /* valid_module() capped the name at 128 bytes. */
    char rel[2][160];
    size_t n = strlen(name);
    for (size_t i = 0; i < n; i++)
        rel[0][i] = rel[1][i] = name[i] == '.' ? '/' : name[i];
    memcpy(rel[0] + n, ".lua", 5);
    memcpy(rel[1] + n, "/init.lua", 10);

    for (int i = 0; i < 2; i++) {
        int rc = ct_sandbox__compile_own(L, rel[i]);
        if (rc == 0) {
            lua_pushstring(L, rel[i]);
            return;
        }
        if (rc == CT_ELIMIT) {
            char size[32], desc[64];
            ct_sandbox__fmt_size(size, sizeof size, sb->lim.max_chunk);
            snprintf(desc, sizeof desc, "chunk size limit of %s", size);
            ct_sandbox__limit(L, desc, "require: %s", rel[i]);
        }
        if (rc != CT_ENOTFOUND) {
            lua_pushfstring(L, "require '%s': %s", name, lua_tostring(L, -1));
            lua_error(L);
        }
        lua_pop(L, 1);
    }
    luaL_error(L,
               "module '%s' not found: no preloaded module and no file %s "
               "or %s in plugin '%s'",
               name, rel[0], rel[1], sb->name);
}

/* require(name) -> module, loaderdata */
static int sb_require(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    lua_settop(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE); /* 2 */
    lua_getfield(L, LUA_REGISTRYINDEX, LOADING_KEY);          /* 3 */
    lua_getfield(L, 2, name);
    if (lua_rawequal(L, -1, 3))
        return luaL_error(L, "require: module '%s' requires itself", name);
    if (lua_toboolean(L, -1))
        return 1;
    lua_pop(L, 1);
    if (!valid_module(name, len))
        return luaL_error(L,
                          "require: '%s' is not a module name (use dotted "
                          "names of the plugin's own files, like 'lib.util')",
                          name);
    ct_sandbox__deadline(L);
    find_loader(L, name); /* 4: loader, 5: extra */

    lua_pushvalue(L, 3);
    lua_setfield(L, 2, name);
    lua_pushvalue(L, 4);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 5);
    /* Protected only to forget the half-loaded module; the error goes on. */
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        ct_sandbox__host_clear(ct_sandbox_from_state(L));
        lua_pushnil(L);
        lua_setfield(L, 2, name);
        ct_sandbox__rethrow(L);
        return lua_error(L);
    }
    if (!lua_isnil(L, -1))
        lua_setfield(L, 2, name);
    else
        lua_pop(L, 1);
    if (lua_getfield(L, 2, name) == LUA_TNIL || lua_rawequal(L, -1, 3)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, 2, name);
    }
    lua_pushvalue(L, 5);
    return 2;
}

/* ------------------------------------------------------------------ */
/* utf8: deadline and results limit                                   */

/* f(...) -> f's results, for upvalue 1 = f. utf8.len, utf8.offset and
 * utf8.codepoint scan strings in C: look at the clock before each, so a
 * loop of them cannot run long between hook checks. */
static int clocked(lua_State *L)
{
    ct_sandbox__deadline(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* Positions as utf8 reads them: negative from the end, 0 when before it. */
static lua_Integer relative(lua_Integer pos, size_t len)
{
    if (pos >= 0)
        return pos;
    if (0u - (size_t)pos > len)
        return 0;
    return (lua_Integer)len + pos + 1;
}

/* The argument checks of each function are repeated before calling the
 * original from C, where its own errors would name the function '?'. */

/* utf8.len(s [, i [, j [, lax]]]) -> count | fail, position */
static int sb_utf8_len(lua_State *L)
{
    size_t len;
    luaL_checklstring(L, 1, &len);
    lua_Integer i = relative(luaL_optinteger(L, 2, 1), len);
    lua_Integer j = relative(luaL_optinteger(L, 3, -1), len);
    luaL_argcheck(L, 1 <= i && i - 1 <= (lua_Integer)len, 2,
                  "initial position out of bounds");
    luaL_argcheck(L, j - 1 < (lua_Integer)len, 3,
                  "final position out of bounds");
    return clocked(L);
}

/* utf8.offset(s, n [, i]) -> position */
static int sb_utf8_offset(lua_State *L)
{
    size_t len;
    luaL_checklstring(L, 1, &len);
    lua_Integer n = luaL_checkinteger(L, 2);
    lua_Integer i = n >= 0 ? 1 : (lua_Integer)len + 1;
    i = relative(luaL_optinteger(L, 3, i), len);
    luaL_argcheck(L, 1 <= i && i - 1 <= (lua_Integer)len, 3,
                  "position out of bounds");
    return clocked(L);
}

/* utf8.codepoint(s [, i [, j [, lax]]]) -> code points */
static int sb_codepoint(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    size_t len;
    luaL_checklstring(L, 1, &len);
    lua_Integer i = relative(luaL_optinteger(L, 2, 1), len);
    lua_Integer j = relative(luaL_optinteger(L, 3, i), len);
    luaL_argcheck(L, i >= 1, 2, "out of bounds");
    luaL_argcheck(L, j <= (lua_Integer)len, 3, "out of bounds");
    if (j - i >= sb->lim.max_results) {
        char desc[64];
        snprintf(desc, sizeof desc, "results limit of %d", sb->lim.max_results);
        ct_sandbox__limit(L, desc, "utf8.codepoint: %lld bytes",
                          (long long)(j - i + 1));
    }
    return clocked(L);
}

/* ------------------------------------------------------------------ */
/* os: time from the embedder's clock                                 */

static int64_t now_ms(lua_State *L)
{
    /* The embedder's clock is the host's (watchdog's gate); it does not
     * raise. */
    ct_sandbox__host_enter(L);
    int64_t now = ct_sandbox_now_ms(ct_sandbox_from_state(L));
    ct_sandbox__host_leave(L);
    return now;
}

static int date_field(lua_State *L, const char *key, int d, int delta)
{
    int isnum;
    int t = lua_getfield(L, -1, key);
    lua_Integer res = lua_tointegerx(L, -1, &isnum);
    if (!isnum) {
        if (t != LUA_TNIL)
            return luaL_error(L, "field '%s' is not an integer", key);
        if (d < 0)
            return luaL_error(L, "field '%s' missing in date table", key);
        res = d;
    } else {
        if (res >= 0 ? res - delta > INT_MAX
                     : res < (lua_Integer)INT_MIN + delta)
            return luaL_error(L, "field '%s' is out-of-bound", key);
        res -= delta;
    }
    lua_pop(L, 1);
    return (int)res;
}

static void set_date_fields(lua_State *L, const struct tm *tm)
{
    static const struct {
        const char *key;
        size_t off;
        int delta;
    } ints[] = {
        {"year", offsetof(struct tm, tm_year), 1900},
        {"month", offsetof(struct tm, tm_mon), 1},
        {"day", offsetof(struct tm, tm_mday), 0},
        {"hour", offsetof(struct tm, tm_hour), 0},
        {"min", offsetof(struct tm, tm_min), 0},
        {"sec", offsetof(struct tm, tm_sec), 0},
        {"yday", offsetof(struct tm, tm_yday), 1},
        {"wday", offsetof(struct tm, tm_wday), 1},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        int v;
        memcpy(&v, (const char *)tm + ints[i].off, sizeof v);
        lua_pushinteger(L, (lua_Integer)v + ints[i].delta);
        lua_setfield(L, -2, ints[i].key);
    }
    if (tm->tm_isdst >= 0) {
        lua_pushboolean(L, tm->tm_isdst);
        lua_setfield(L, -2, "isdst");
    }
}

/* os.time([table]) -> integer seconds */
static int os_time(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        int64_t ms = now_ms(L);
        lua_pushinteger(
            L, (lua_Integer)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000)));
        return 1;
    }
    struct tm tm = {0};
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    tm.tm_year = date_field(L, "year", -1, 1900);
    tm.tm_mon = date_field(L, "month", -1, 1);
    tm.tm_mday = date_field(L, "day", -1, 0);
    tm.tm_hour = date_field(L, "hour", 12, 0);
    tm.tm_min = date_field(L, "min", 0, 0);
    tm.tm_sec = date_field(L, "sec", 0, 0);
    tm.tm_isdst =
        lua_getfield(L, 1, "isdst") == LUA_TNIL ? -1 : lua_toboolean(L, -1);
    lua_pop(L, 1);
    time_t t = mktime(&tm);
    if (t == (time_t)-1)
        return luaL_error(L, "time result cannot be represented in this "
                             "installation");
    set_date_fields(L, &tm);
    lua_pushinteger(L, (lua_Integer)t);
    return 1;
}

/* os.clock() -> seconds on the host clock since the sandbox was created or
 * its clock set */
static int os_clock(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    lua_pushnumber(L, (lua_Number)(now_ms(L) - sb->created_ms) / 1000);
    return 1;
}

/* os.difftime(t2, t1) -> seconds */
static int os_difftime(lua_State *L)
{
    lua_Integer t2 = luaL_checkinteger(L, 1);
    lua_Integer t1 = luaL_checkinteger(L, 2);
    lua_pushnumber(L, (lua_Number)t2 - (lua_Number)t1);
    return 1;
}

/* The conversions C99 strftime defines; anything else is refused rather
 * than handed to strftime. */
static const char date_single[] = "aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyYzZ%";
static const char *const date_double[] = {
    "Ec", "EC", "Ex", "EX", "Ey", "EY", "Od", "Oe", "OH", "OI",
    "Om", "OM", "OS", "Ou", "OU", "OV", "Ow", "OW", "Oy"};

static size_t date_spec(const char *p, const char *end)
{
    if (p < end && *p != '\0' && strchr(date_single, *p))
        return 1;
    for (size_t i = 0; end - p >= 2 && i < CT_ARRAY_LEN(date_double); i++)
        if (p[0] == date_double[i][0] && p[1] == date_double[i][1])
            return 2;
    return 0;
}

/* os.date([format [, time]]) -> string | table */
static int os_date(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    size_t flen;
    const char *f = luaL_optlstring(L, 1, "%c", &flen);
    const char *end = f + flen;
    int64_t ms = now_ms(L);
    time_t t = lua_isnoneornil(L, 2) ? (time_t)(ms / 1000)
                                     : (time_t)luaL_checkinteger(L, 2);
    struct tm tm, *ok;
    if (*f == '!') {
        ok = gmtime_r(&t, &tm);
        f++;
    } else {
        ok = localtime_r(&t, &tm);
    }
    if (!ok)
        return luaL_error(L, "date result cannot be represented in this "
                             "installation");
    if (strcmp(f, "*t") == 0) {
        lua_createtable(L, 0, 9);
        set_date_fields(L, &tm);
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t count = 0; f < end; count++) {
        if ((count & 1023) == 1023)
            ct_sandbox__deadline(L);
        if (luaL_bufflen(&b) > sb->lim.max_string)
            ct_sandbox__string_limit(L, "os.date", luaL_bufflen(&b));
        if (*f != '%') {
            luaL_addchar(&b, *f++);
            continue;
        }
        f++;
        size_t n = date_spec(f, end);
        if (n == 0)
            return luaL_argerror(L, 1,
                                 lua_pushfstring(L,
                                                 "invalid conversion "
                                                 "specifier '%%%s'",
                                                 f));
        char spec[4] = {'%', f[0], n == 2 ? f[1] : '\0', '\0'};
        char *out = luaL_prepbuffsize(&b, 256);
        /* spec is one conversion from the C99 list checked above. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        luaL_addsize(&b, strftime(out, 256, spec, &tm));
#pragma GCC diagnostic pop
        f += n;
    }
    luaL_pushresult(&b);
    return 1;
}

static const luaL_Reg os_funcs[] = {
    {"clock", os_clock}, {"date", os_date}, {"difftime", os_difftime},
    {"time", os_time},   {NULL, NULL},
};

/* ------------------------------------------------------------------ */
/* Assembly                                                           */

static const luaL_Reg base_funcs[] = {
    {"print", sb_print}, {"collectgarbage", sb_collectgarbage},
    {"load", sb_load},   {"require", sb_require},
    {NULL, NULL},
};

static const char *const base_removed[] = {"dofile", "loadfile", "warn"};

/* Standard libraries opened as they are, then adjusted below. */
static const luaL_Reg std_libs[] = {
    {LUA_GNAME, luaopen_base},
    {LUA_COLIBNAME, luaopen_coroutine},
    {LUA_MATHLIBNAME, luaopen_math},
    {LUA_UTF8LIBNAME, luaopen_utf8},
    {NULL, NULL},
};

/* Libraries replaced by bounded versions; each leaves the table plugins
 * see. */
static const luaL_Reg bounded_libs[] = {
    {LUA_STRLIBNAME, ct_sandbox__open_string},
    {LUA_TABLIBNAME, ct_sandbox__open_table},
    {NULL, NULL},
};

static void adjust_base(lua_State *L)
{
    lua_pushglobaltable(L);
    int g = lua_gettop(L);
    luaL_setfuncs(L, base_funcs, 0);
    for (size_t i = 0; i < sizeof base_removed / sizeof base_removed[0]; i++) {
        lua_pushnil(L);
        lua_setfield(L, g, base_removed[i]);
    }
    wrap_field(L, g, "setmetatable", sb_setmetatable);
    wrap_field(L, g, "pcall", sb_pcall);
    wrap_field(L, g, "xpcall", sb_xpcall);
    lua_pop(L, 1);
}

static void adjust_coroutine(lua_State *L)
{
    lua_getglobal(L, LUA_COLIBNAME);
    int co = lua_gettop(L);
    lua_pushcfunction(L, co_create);
    lua_setfield(L, co, "create");
    lua_pushcfunction(L, co_wrap);
    lua_setfield(L, co, "wrap");
    wrap_field(L, co, "resume", co_resume);
    wrap_field(L, co, "close", co_close);
    lua_pop(L, 1);
}

static void adjust_utf8(lua_State *L)
{
    lua_getglobal(L, LUA_UTF8LIBNAME);
    int u = lua_gettop(L);
    wrap_field(L, u, "len", sb_utf8_len);
    wrap_field(L, u, "offset", sb_utf8_offset);
    wrap_field(L, u, "codepoint", sb_codepoint);
    lua_pop(L, 1);
}

/* package: only what plugins use (loaded, preload); no searchers, paths or
 * loadlib. */
static void open_package(lua_State *L)
{
    lua_createtable(L, 0, 2);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_setfield(L, -2, "loaded");
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_setfield(L, -2, "preload");
    lua_setglobal(L, "package");
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LOADING_KEY);
}

int ct_sandbox__open_env(lua_State *L)
{
    for (const luaL_Reg *lib = std_libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    int loaded = lua_gettop(L);
    for (const luaL_Reg *lib = bounded_libs; lib->func; lib++) {
        lib->func(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, loaded, lib->name);
        lua_setglobal(L, lib->name);
    }
    luaL_newlib(L, os_funcs);
    lua_pushvalue(L, -1);
    lua_setfield(L, loaded, LUA_OSLIBNAME);
    lua_setglobal(L, LUA_OSLIBNAME);
    lua_pop(L, 1);

    adjust_base(L);
    adjust_coroutine(L);
    adjust_utf8(L);
    open_package(L);
    return 0;
}
