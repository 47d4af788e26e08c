/*
 * Sandbox life cycle, the capped allocator, the deadline, and the one
 * wrapper every call into plugin code goes through.
 *
 * The deadline is checked in four places, so that no way of running code
 * escapes it: a count hook on every thread (every hook_interval VM
 * instructions), the wrappers of pcall/xpcall/coroutine.resume/close/wrap
 * (which catch errors or switch threads), the bounded C functions (every
 * few thousand steps), and load/require. Once the deadline has passed the
 * call is "tripped": every later check raises again at once and the hook of
 * the running thread fires on every instruction, so a plugin that catches
 * the error only gets to run until its next instruction.
 */
#include "sandbox_int.h"

#include "error.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Bytes of a Lua 5.4 string object before its contents, plus the NUL. */
#define STRING_OVERHEAD 25
#define DETAIL_MAX 2048
#define TRACEBACK_HEAD 10
#define TRACEBACK_TAIL 11

static const ct_sandbox_limits default_limits = {
    .memory = (size_t)64 << 20,
    .deadline_ms = 50,
    .hook_interval = 256,
    .max_string = (size_t)256 << 10,
    .max_subject = (size_t)256 << 10,
    .max_match_steps = 1000000,
    .max_results = 10000,
    .max_chunk = (size_t)1 << 20,
    .json_max_depth = 32,
    .json_max_values = 100000,
    .json_max_bytes = (size_t)1 << 20,
};

void ct_sandbox_limits_default(ct_sandbox_limits *out)
{
    *out = default_limits;
}

int64_t ct_sandbox__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ct_sandbox__cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t real_clock_ms(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ct_sandbox__fmt_size(char *buf, size_t n, size_t bytes)
{
    if (bytes >= ((size_t)1 << 20) && bytes % ((size_t)1 << 20) == 0)
        snprintf(buf, n, "%zu MiB", bytes >> 20);
    else if (bytes >= 1024 && bytes % 1024 == 0)
        snprintf(buf, n, "%zu KiB", bytes >> 10);
    else
        snprintf(buf, n, "%zu bytes", bytes);
}

ct_sandbox *ct_sandbox_from_state(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* Each thread's extra space holds flags; new threads copy the main
 * thread's, which are zero. */
#define THREAD_KILLED ((uintptr_t)1)

bool ct_sandbox__killed(lua_State *co)
{
    return (*(uintptr_t *)lua_getextraspace(co) & THREAD_KILLED) != 0;
}

/* ------------------------------------------------------------------ */
/* Memory                                                             */

/*
 * Lua's allocator contract: ptr NULL means a new block, and then osize is
 * the type of the object being created. Growth past the cap fails (Lua
 * raises "not enough memory" after an emergency collection); shrinking
 * never fails. New string objects are also held to max_string, which bounds
 * the cost of every VM instruction that scans a string (comparison,
 * concatenation, number coercion).
 */
static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    ct_sandbox *sb = ud;
    size_t old = ptr ? osize : 0;

    if (nsize == 0) {
        free(ptr);
        sb->mem_used -= old;
        return NULL;
    }
    if (nsize > old) {
        if (!ptr && osize == LUA_TSTRING &&
            nsize > sb->lim.max_string + STRING_OVERHEAD) {
            sb->string_refused = nsize - STRING_OVERHEAD;
            return NULL;
        }
        if (nsize - old > sb->lim.memory - sb->mem_used) {
            sb->mem_refused = true;
            return NULL;
        }
    }
    void *p = realloc(ptr, nsize);
    if (!p) {
        sb->mem_refused = true;
        return NULL;
    }
    sb->mem_used = sb->mem_used - old + nsize;
    if (sb->mem_used > sb->mem_peak)
        sb->mem_peak = sb->mem_used;
    return p;
}

/* ------------------------------------------------------------------ */
/* Deadline                                                           */

static void deadline_hook(lua_State *L, lua_Debug *ar);

/* The deadline's count hook, plus line events while a line callback is
 * set (coverage). */
static int hook_mask(const ct_sandbox *sb)
{
    return LUA_MASKCOUNT | (sb->line_fn ? LUA_MASKLINE : 0);
}

/* level 0 names the running Lua function (inside the hook), level 1 the
 * caller of a C function. */
static int raise_deadline(lua_State *L, int level)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    sb->tripped = true;
    lua_sethook(L, deadline_hook, hook_mask(sb), 1);
    luaL_where(L, level);
    lua_pushfstring(L, "deadline of %I ms exceeded",
                    (LUAI_UACINT)sb->deadline_ms);
    lua_concat(L, 2);
    return lua_error(L);
}

/* Remembers the Lua line the deadline first stopped (ar describes a
 * running function), for the error to name. */
static void note_stop(lua_State *L, ct_sandbox *sb, lua_Debug *ar)
{
    if (sb->tripped || !lua_getinfo(L, "Sl", ar) || ar->currentline <= 0)
        return;
    snprintf(sb->stopped_src, sizeof sb->stopped_src, "%s", ar->short_src);
    sb->stopped_line = ar->currentline;
}

static bool past_deadline(ct_sandbox *sb)
{
    return sb->armed &&
           (sb->tripped || (ct_sandbox__mono_ns() >= sb->deadline_ns &&
                            ct_sandbox__cpu_ns() >= sb->cpu_deadline_ns));
}

/*
 * An error raised inside a hook propagates with hooks disabled until it
 * lands in a pcall, which re-enables them; a message handler (xpcall's)
 * runs before that, and a coroutine it kills stays hookless for good, so
 * closing it later would run its __close handlers without a deadline. So in
 * a coroutine the hook yields instead when it can (the resuming wrapper
 * then raises in the resumer), and a coroutine it must kill is marked so
 * that nothing closes it. xpcall skips the plugin's handler once tripped.
 */
static void deadline_hook(lua_State *L, lua_Debug *ar)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    /* Running Lua: not inside a host function (one that raised). */
    ct_sandbox__host_clear(sb);
    if (ar->event == LUA_HOOKLINE) {
        /* Line events only count; the count events keep the deadline. */
        if (sb->line_fn && lua_getinfo(L, "S", ar))
            sb->line_fn(sb->line_ud, ar->source, ar->currentline);
        return;
    }
    if (past_deadline(sb)) {
        note_stop(L, sb, ar);
        sb->tripped = true;
        lua_sethook(L, deadline_hook, hook_mask(sb), 1);
        if (lua_isyieldable(L)) { /* never the main thread */
            lua_yield(L, 0);
            return;
        }
        if (L != sb->L)
            *(uintptr_t *)lua_getextraspace(L) |= THREAD_KILLED;
        raise_deadline(L, 0);
    }
    /* A thread left on a 1-instruction interval by an earlier trip, or
     * one whose mask predates a change of the line callback. */
    if (lua_gethookcount(L) != sb->lim.hook_interval ||
        lua_gethookmask(L) != hook_mask(sb))
        lua_sethook(L, deadline_hook, hook_mask(sb), sb->lim.hook_interval);
}

void ct_sandbox__deadline(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    if (past_deadline(sb)) {
        lua_Debug ar;
        if (lua_getstack(L, 1, &ar))
            note_stop(L, sb, &ar);
        raise_deadline(L, 1);
    }
}

void ct_sandbox_check_deadline(lua_State *L)
{
    ct_sandbox__deadline(L);
}

/* A host function (upvalue 1) between two looks at the clock. Called
 * directly, not through lua_call: it uses no upvalues of its own. */
static int timed(lua_State *L)
{
    lua_CFunction f = lua_tocfunction(L, lua_upvalueindex(1));
    ct_sandbox *sb = ct_sandbox_from_state(L);
    ct_sandbox__deadline(L);
    if (sb->worker) {
        /* Through the watchdog's gate. Should f raise, the hook on the
         * next instruction of this thread says it is out again. */
        ct_sandbox__host_enter(L);
        lua_sethook(L, deadline_hook, hook_mask(sb), 1);
    }
    int n = f(L);
    if (sb->worker) {
        lua_sethook(L, deadline_hook, hook_mask(sb),
                    sb->tripped ? 1 : sb->lim.hook_interval);
        ct_sandbox__host_leave(L);
    }
    ct_sandbox__deadline(L);
    return n;
}

void ct_sandbox_setfuncs_timed(lua_State *L, const luaL_Reg *funcs)
{
    for (; funcs->name; funcs++) {
        lua_pushcfunction(L, funcs->func);
        lua_pushcclosure(L, timed, 1);
        lua_setfield(L, -2, funcs->name);
    }
}

void ct_sandbox__rethrow(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    if (sb->armed && sb->tripped)
        raise_deadline(L, 1);
}

void ct_sandbox__hook_thread(ct_sandbox *sb, lua_State *co)
{
    lua_sethook(co, deadline_hook, hook_mask(sb),
                sb->tripped ? 1 : sb->lim.hook_interval);
}

static void arm(ct_sandbox *sb, int64_t now_ns, int64_t deadline_ms)
{
    sb->armed = true;
    sb->tripped = false;
    sb->stopped_src[0] = '\0';
    sb->stopped_line = 0;
    sb->deadline_ms = deadline_ms;
    sb->deadline_ns = now_ns + deadline_ms * 1000000;
    /* This thread's clock; a watchdog's worker sets its own (worker_main). */
    sb->cpu_begin_ns = ct_sandbox__cpu_ns();
    sb->cpu_end_ns = sb->cpu_begin_ns;
    sb->cpu_deadline_ns = sb->cpu_begin_ns + deadline_ms * 1000000;
    sb->close_depth = 0;
    lua_sethook(sb->L, deadline_hook, hook_mask(sb), sb->lim.hook_interval);
}

static void reset_call_flags(ct_sandbox *sb)
{
    sb->mem_refused = false;
    sb->string_refused = 0;
    sb->limit_raised[0] = '\0';
    sb->limit_desc[0] = '\0';
    sb->limit_ctx[0] = '\0';
}

static void disarm(ct_sandbox *sb)
{
    sb->armed = false;
    sb->tripped = false;
    reset_call_flags(sb);
}

/* ------------------------------------------------------------------ */
/* Limits raised by bounded functions                                 */

int ct_sandbox__limit(lua_State *L, const char *limit, const char *fmt, ...)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sb->limit_ctx, sizeof sb->limit_ctx, fmt, ap);
    va_end(ap);
    snprintf(sb->limit_desc, sizeof sb->limit_desc, "%s", limit);
    snprintf(sb->limit_raised, sizeof sb->limit_raised, "%s exceeded (%s)",
             sb->limit_desc, sb->limit_ctx);
    luaL_where(L, 1);
    lua_pushstring(L, sb->limit_raised);
    lua_concat(L, 2);
    lua_error(L);
    abort(); /* not reached: lua_error does not return */
}

int ct_sandbox__string_limit(lua_State *L, const char *fn, size_t len)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    char lim[32], desc[64];
    ct_sandbox__fmt_size(lim, sizeof lim, sb->lim.max_string);
    snprintf(desc, sizeof desc, "string length limit of %s", lim);
    ct_sandbox__limit(L, desc, "%s: result of %zu bytes", fn, len);
}

/* ------------------------------------------------------------------ */
/* Errors                                                             */

static char *dup_n(const char *s, size_t n)
{
    if (n > DETAIL_MAX)
        n = DETAIL_MAX;
    return ct_strndup(s, n);
}

void ct_sandbox__error_reset(ct_sandbox *sb)
{
    free(sb->err.message);
    free(sb->err.detail);
    free(sb->err.traceback);
    free(sb->err.file);
    free(sb->err.text);
    memset(&sb->err, 0, sizeof sb->err);
    sb->err.pub.message = sb->err.pub.detail = sb->err.pub.traceback = "";
    sb->err.pub.file = sb->err.pub.text = "";
}

int ct_sandbox__error(ct_sandbox *sb, int code, char *detail, char *traceback,
                      const char *fmt, ...)
{
    ct_sandbox__error_reset(sb);
    ct_buf b = {0};
    ct_buf_printf(&b, "plugin '%s': ", sb->name);
    va_list ap;
    va_start(ap, fmt);
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ct_buf_puts(&b, line);
    /* One line for logs: the detail may carry newlines of its own. */
    for (size_t i = 0; b.data && i < b.len; i++)
        if (b.data[i] == '\n' || b.data[i] == '\r')
            b.data[i] = ' ';
    sb->err.message = b.data;
    sb->err.detail = detail;
    sb->err.traceback = traceback;
    sb->err.pub.code = code;
    sb->err.pub.message = b.data ? b.data : ct_strerror(code);
    sb->err.pub.detail = detail ? detail : "";
    sb->err.pub.traceback = traceback ? traceback : "";
    return code;
}

/* Text for any error object, without running plugin code unless the
 * object has __tostring, which then runs protected. */
static int tostring_p(lua_State *L)
{
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
        return 1;
    lua_pushnil(L);
    return 1;
}

char *ct_sandbox__describe(lua_State *L, int idx)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    char buf[64];
    size_t len;
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        const char *s = lua_tolstring(L, idx, &len);
        return dup_n(s, len);
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(L, idx));
        else
            snprintf(buf, sizeof buf, "%.14g", (double)lua_tonumber(L, idx));
        return ct_strdup(buf);
    case LUA_TNIL: return ct_strdup("nil");
    case LUA_TBOOLEAN:
        return ct_strdup(lua_toboolean(L, idx) ? "true" : "false");
    default:
        if (!(sb->armed && sb->tripped) && lua_checkstack(L, 3)) {
            lua_pushcfunction(L, tostring_p);
            lua_pushvalue(L, idx);
            if (lua_pcall(L, 1, 1, 0) == LUA_OK &&
                lua_type(L, -1) == LUA_TSTRING) {
                const char *s = lua_tolstring(L, -1, &len);
                char *d = dup_n(s, len);
                lua_pop(L, 1);
                return d;
            }
            lua_pop(L, 1);
        }
        snprintf(buf, sizeof buf, "(error object is a %s value)",
                 luaL_typename(L, idx));
        return ct_strdup(buf);
    }
}

/*
 * The deepest level, or TRACEBACK_DEEP when the stack is deeper. Each
 * lua_getstack walks the call list from the top, so a full traceback of a
 * stack 100,000 calls deep cost a second; past TRACEBACK_DEEP levels the
 * traceback shows only the head.
 */
#define TRACEBACK_DEEP 1000

static int last_level(lua_State *L)
{
    lua_Debug ar;
    if (lua_getstack(L, TRACEBACK_DEEP, &ar))
        return TRACEBACK_DEEP;
    int lo = 1, hi = 1;
    while (lua_getstack(L, hi, &ar)) {
        lo = hi;
        hi *= 2;
    }
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (lua_getstack(L, mid, &ar))
            lo = mid + 1;
        else
            hi = mid;
    }
    return hi - 1;
}

/* A traceback in C memory: the handler must not need Lua memory, which may
 * be exactly what ran out. */
static char *traceback(lua_State *L, int level)
{
    ct_buf b = {0};
    lua_Debug ar;
    int last = last_level(L);
    bool skip = last - level > TRACEBACK_HEAD + TRACEBACK_TAIL;
    ct_buf_puts(&b, "stack traceback:");
    while (lua_getstack(L, level, &ar)) {
        if (skip && level == TRACEBACK_HEAD + 1 && last == TRACEBACK_DEEP) {
            ct_buf_printf(&b, "\n\t...\t(more than %d levels)",
                          TRACEBACK_DEEP);
            break;
        }
        if (skip && level == TRACEBACK_HEAD + 1) {
            int to = last - TRACEBACK_TAIL + 1;
            ct_buf_printf(&b, "\n\t...\t(skipping %d levels)", to - level);
            level = to;
            continue;
        }
        lua_getinfo(L, "Slnt", &ar);
        ct_buf_printf(&b, "\n\t%s:", ar.short_src);
        if (ar.currentline > 0)
            ct_buf_printf(&b, "%d:", ar.currentline);
        if (*ar.namewhat != '\0')
            ct_buf_printf(&b, " in %s '%s'", ar.namewhat, ar.name);
        else if (*ar.what == 'm')
            ct_buf_puts(&b, " in main chunk");
        else if (*ar.what != 'C')
            ct_buf_printf(&b, " in function <%s:%d>", ar.short_src,
                          ar.linedefined);
        else
            ct_buf_puts(&b, " in ?");
        if (ar.istailcall)
            ct_buf_puts(&b, "\n\t(...tail calls...)");
        level++;
    }
    return b.data;
}

/* Message handler of every protected call: keeps the error's text and a
 * traceback in C memory and returns the error object unchanged. */
static int msgh(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    free(sb->cap_detail);
    free(sb->cap_traceback);
    sb->cap_detail = ct_sandbox__describe(L, 1);
    sb->cap_traceback = traceback(L, 1);
    lua_settop(L, 1);
    return 1;
}

static void clear_capture(ct_sandbox *sb)
{
    free(sb->cap_detail);
    free(sb->cap_traceback);
    sb->cap_detail = sb->cap_traceback = NULL;
}

/*
 * Turns a failed protected call into a code and message. The error object
 * is on the top of the stack. The handler ran only for runtime errors;
 * memory errors and errors in the handler leave a string object.
 */
static int classify(ct_sandbox *sb, int status, bool ok_but_tripped,
                    const char *what)
{
    lua_State *L = sb->L;
    char *detail, *tb = NULL;
    if (ok_but_tripped) {
        detail = ct_strdup("");
    } else if (status == LUA_ERRRUN && sb->cap_detail) {
        detail = sb->cap_detail;
        tb = sb->cap_traceback;
        sb->cap_detail = sb->cap_traceback = NULL;
    } else {
        detail = ct_sandbox__describe(L, -1);
    }
    clear_capture(sb);
    const char *d = detail ? detail : "";
    char size[32];

    if (sb->armed && sb->tripped) {
        sb->stats.timeouts++;
        if (!*d) {
            free(detail);
            detail = NULL;
        }
        if (!sb->stopped_line)
            return ct_sandbox__error(sb, CT_ETIMEOUT, detail, tb,
                                     "deadline of %lld ms exceeded in %s",
                                     (long long)sb->deadline_ms, what);
        ct_sandbox__error(sb, CT_ETIMEOUT, detail, tb,
                          "deadline of %lld ms exceeded in %s, at %s:%d",
                          (long long)sb->deadline_ms, what, sb->stopped_src,
                          sb->stopped_line);
        /* file:line: text for `caretide check` and load errors; without
         * the text they printed "lib/util.lua:6:0: " and nothing else. */
        char text[96];
        snprintf(text, sizeof text, "deadline of %lld ms exceeded in %s",
                 (long long)sb->deadline_ms, what);
        free(sb->err.text);
        sb->err.text = ct_strdup(text);
        if ((sb->err.file = ct_strdup(sb->stopped_src)) && sb->err.text) {
            sb->err.pub.file = sb->err.file;
            sb->err.pub.line = sb->stopped_line;
            sb->err.pub.text = sb->err.text;
        }
        return CT_ETIMEOUT;
    }
    if (status == LUA_ERRMEM ||
        ((status == LUA_ERRERR || strstr(d, "not enough memory")) &&
         (sb->mem_refused || sb->string_refused))) {
        if (sb->string_refused && !sb->mem_refused) {
            sb->stats.limit_errors++;
            ct_sandbox__fmt_size(size, sizeof size, sb->lim.max_string);
            return ct_sandbox__error(sb, CT_ELIMIT, detail, tb,
                                     "string length limit of %s exceeded in %s "
                                     "(a string of %zu bytes)",
                                     size, what, sb->string_refused);
        }
        sb->stats.mem_errors++;
        ct_sandbox__fmt_size(size, sizeof size, sb->lim.memory);
        return ct_sandbox__error(sb, CT_ELIMIT, detail, tb,
                                 "memory limit of %s exceeded in %s", size,
                                 what);
    }
    if (sb->limit_raised[0] && strstr(d, sb->limit_raised)) {
        sb->stats.limit_errors++;
        return ct_sandbox__error(sb, CT_ELIMIT, detail, tb,
                                 "%s exceeded in %s (%s)", sb->limit_desc, what,
                                 sb->limit_ctx);
    }
    return ct_sandbox__error(sb, CT_EPLUGIN, detail, tb, "error in %s: %s",
                             what, d);
}

const ct_sandbox_error *ct_sandbox_last_error(const ct_sandbox *sb)
{
    return &sb->err.pub;
}

/* ------------------------------------------------------------------ */
/* Calls                                                              */

int ct_sandbox__refuse_abandoned(ct_sandbox *sb)
{
    return ct_sandbox__error(sb, CT_ESTATE, NULL, NULL,
                             "a call of the plugin was abandoned; it runs "
                             "nothing more until it is reloaded");
}

int ct_sandbox_call_deadline(ct_sandbox *sb, const char *what, int nargs,
                             int nresults, int64_t deadline_ms)
{
    lua_State *L = sb->L;
    if (sb->depth == 0)
        sb->last_cpu_ns = 0;
    if (sb->abandoned)
        return ct_sandbox__refuse_abandoned(sb);
    ct_sandbox__error_reset(sb);
    if (!what)
        what = "call";
    int base = lua_gettop(L) - nargs;
    if (nargs < 0 || base < 1 || deadline_ms <= 0)
        return ct_sandbox__error(
            sb, CT_ESTATE, NULL, NULL,
            "bad call of %s: %d arguments on a stack of %d", what, nargs,
            lua_gettop(L));
    if (!lua_checkstack(L, 2 + (nresults > 0 ? nresults : 0))) {
        lua_settop(L, base - 1);
        return ct_sandbox__error(sb, CT_ELIMIT, NULL, NULL,
                                 "stack limit exceeded before %s", what);
    }

    bool outer = sb->depth == 0;
    int64_t t0 = ct_sandbox__mono_ns();
    if (outer) {
        reset_call_flags(sb);
        arm(sb, t0, deadline_ms);
    }
    sb->depth++;
    clear_capture(sb);
    lua_pushcfunction(L, msgh);
    lua_insert(L, base);
    int status = ct_sandbox__pcall(sb, outer, nargs, nresults, base);
    uint64_t us = (uint64_t)(ct_sandbox__mono_ns() - t0) / 1000;
    sb->depth--;
    if (status == CT_SANDBOX__ABANDONED) {
        /* The worker still runs it: its stack and flags are the worker's
         * now. */
        sb->stats.calls++;
        sb->stats.errors++;
        sb->stats.timeouts++;
        sb->stats.busy_us += us;
        if (us > sb->stats.max_call_us)
            sb->stats.max_call_us = us;
        /* Its CPU time is the worker's to write still: charge the wall
         * time it was waited for. */
        sb->last_cpu_ns = (int64_t)us * 1000;
        return ct_sandbox__error(
            sb, CT_ETIMEOUT, NULL, NULL,
            "deadline of %lld ms exceeded in %s, and the call was still "
            "running %lld ms later (one instruction that does not end): it "
            "is abandoned and the plugin runs nothing more until it is "
            "reloaded",
            (long long)deadline_ms, what, (long long)(us / 1000));
    }
    if (outer)
        ct_sandbox__host_clear(sb);

    int rc = 0;
    /* The clock once more after the call returns: one instruction or host
     * function can run long past the deadline without a hook firing, and
     * such a call has failed even though it returned. The CPU times are
     * the running thread's, read by it as the call ended. */
    if (outer)
        sb->last_cpu_ns = sb->cpu_end_ns - sb->cpu_begin_ns;
    if (outer && status == LUA_OK && !sb->tripped &&
        sb->cpu_end_ns >= sb->cpu_deadline_ns)
        sb->tripped = true;
    bool tripped = sb->tripped;
    if (status == LUA_OK && !tripped) {
        lua_remove(L, base);
    } else {
        rc = classify(sb, status, status == LUA_OK, what);
        lua_settop(L, base - 1);
        sb->stats.errors++;
    }
    if (outer) {
        disarm(sb);
        sb->stats.busy_us += us;
        if (us > sb->stats.max_call_us)
            sb->stats.max_call_us = us;
    }
    sb->stats.calls++;
    return rc;
}

int64_t ct_sandbox_last_call_ns(const ct_sandbox *sb)
{
    return sb->last_cpu_ns;
}

int ct_sandbox_call(ct_sandbox *sb, const char *what, int nargs, int nresults)
{
    return ct_sandbox_call_deadline(sb, what, nargs, nresults,
                                    sb->lim.deadline_ms);
}

/*
 * Runs fn over the nargs values on the top of the stack in protected mode,
 * without a deadline of its own (host work: registration, conversion).
 * On failure the values are popped and the error recorded.
 */
int ct_sandbox__protected(ct_sandbox *sb, lua_CFunction fn, int nargs,
                          int nresults, const char *what)
{
    lua_State *L = sb->L;
    if (sb->abandoned)
        return ct_sandbox__refuse_abandoned(sb);
    int base = lua_gettop(L) - nargs;
    if (!lua_checkstack(L, 2 + (nresults > 0 ? nresults : 0))) {
        lua_settop(L, base);
        return ct_sandbox__error(sb, CT_ELIMIT, NULL, NULL,
                                 "stack limit exceeded in %s", what);
    }
    if (!sb->armed)
        reset_call_flags(sb);
    clear_capture(sb);
    lua_pushcfunction(L, msgh);
    lua_pushcfunction(L, fn);
    lua_rotate(L, base + 1, 2);
    int status = lua_pcall(L, nargs, nresults, base + 1);
    int rc = 0;
    if (status == LUA_OK) {
        lua_remove(L, base + 1);
    } else {
        rc = classify(sb, status, false, what);
        lua_settop(L, base);
    }
    if (!sb->armed)
        reset_call_flags(sb);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                         */

static int panic(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    const char *msg =
        lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(no message)";
    ct_log_error(sb->log_unit,
                 "unprotected Lua error (a host unit used the state outside "
                 "ct_sandbox_setup or a C function): %s",
                 msg);
    return 0;
}

/* Warnings (a failing __close in a dying coroutine, for instance) arrive in
 * pieces; each message goes to the log as one line. */
static void warnf(void *ud, const char *msg, int tocont)
{
    ct_sandbox *sb = ud;
    if (!tocont && sb->warn_len == 0 && msg[0] == '@')
        return; /* control message ("@on", "@off") */
    size_t n = strlen(msg);
    size_t room = sizeof sb->warn_buf - 1 - sb->warn_len;
    if (n > room)
        n = room;
    memcpy(sb->warn_buf + sb->warn_len, msg, n);
    sb->warn_len += n;
    if (!tocont) {
        sb->warn_buf[sb->warn_len] = '\0';
        ct_log_warn(sb->log_unit, "%s", sb->warn_buf);
        sb->warn_len = 0;
    }
}

static bool valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static int fill_limits(const ct_sandbox_limits *in, ct_sandbox_limits *out)
{
    *out = default_limits;
    if (!in)
        return 0;
#define TAKE(f)                                                                \
    if (in->f < 0)                                                             \
        return CT_EINVAL;                                                      \
    if (in->f)                                                                 \
        out->f = in->f;
    TAKE(deadline_ms)
    TAKE(hook_interval)
    TAKE(max_results)
    TAKE(json_max_depth)
#undef TAKE
#define TAKE(f)                                                                \
    if (in->f)                                                                 \
        out->f = in->f;
    TAKE(memory)
    TAKE(max_string)
    TAKE(max_subject)
    TAKE(max_match_steps)
    TAKE(max_chunk)
    TAKE(json_max_values)
    TAKE(json_max_bytes)
#undef TAKE
    /* Below this the standard libraries do not fit. */
    if (out->memory < ((size_t)256 << 10) || out->max_string < 1024)
        return CT_EINVAL;
    return 0;
}

int ct_sandbox_new(const char *name, const char *dir,
                   const ct_sandbox_limits *limits, ct_sandbox **out)
{
    int rc;
    *out = NULL;
    if (!valid_name(name))
        return CT_EINVAL;
    ct_sandbox *sb = calloc(1, sizeof *sb);
    if (!sb)
        return CT_ENOMEM;
    rc = fill_limits(limits, &sb->lim);
    if (rc)
        goto fail_sb;
    rc = CT_ENOMEM;
    sb->name = ct_strdup(name);
    ct_buf unit = {0};
    if (!sb->name || ct_buf_printf(&unit, "plugin:%s", name))
        goto fail_names;
    sb->log_unit = unit.data;
    if (dir) {
        sb->dir = realpath(dir, NULL);
        struct stat st;
        if (!sb->dir || stat(sb->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            rc = (!sb->dir && errno == ENOMEM) ? CT_ENOMEM : CT_ENOTFOUND;
            goto fail_names;
        }
    }
    sb->clock = real_clock_ms;
    sb->main_ref = LUA_NOREF;
    ct_sandbox__error_reset(sb);

    sb->L = lua_newstate(sb_alloc, sb);
    if (!sb->L)
        goto fail_names;
    *(uintptr_t *)lua_getextraspace(sb->L) = 0;
    lua_atpanic(sb->L, panic);
    lua_setwarnf(sb->L, warnf, sb);
    lua_sethook(sb->L, deadline_hook, hook_mask(sb), sb->lim.hook_interval);

    lua_pushlightuserdata(sb->L, sb);
    rc = ct_sandbox__protected(sb, ct_sandbox__open_env, 1, 0, "setup");
    if (rc) {
        ct_log_error(sb->log_unit, "cannot set up the sandbox: %s",
                     sb->err.pub.message);
        goto fail_state;
    }
    sb->created_ms = sb->clock(sb->clock_ud);
    *out = sb;
    return 0;

fail_state:
    lua_close(sb->L);
fail_names:
    free(sb->dir);
    free(sb->log_unit);
    free(sb->name);
    ct_sandbox__error_reset(sb);
fail_sb:
    free(sb);
    return rc;
}

int ct_sandbox_close(ct_sandbox *sb)
{
    if (!sb)
        return 0;
    int rc = 0;
    if (sb->refs != 0) {
        ct_log_error(sb->log_unit, "%d registry reference(s) leaked", sb->refs);
#ifdef CT_DEBUG_REFS
        for (size_t i = 0; i < sb->ref_owners_len; i++)
            ct_log_error(sb->log_unit, "leaked reference %d held by %s",
                         sb->ref_owners[i].ref, sb->ref_owners[i].owner);
#endif
        rc = CT_ESTATE;
    }
    /* The worker frees it once the abandoned call ends. */
    if (ct_sandbox__worker_close(sb))
        return rc;
    ct_sandbox__destroy(sb);
    return rc;
}

void ct_sandbox__destroy(ct_sandbox *sb)
{
    if (sb->main_ref != LUA_NOREF && !sb->abandoned)
        luaL_unref(sb->L, LUA_REGISTRYINDEX, sb->main_ref);
    /* Plugins cannot attach __gc (setmetatable refuses it), and the main
     * thread holds no pending to-be-closed variables between calls, so
     * this runs no plugin code. */
    lua_close(sb->L);
#ifdef CT_DEBUG_REFS
    free(sb->ref_owners);
#endif
    clear_capture(sb);
    ct_sandbox__error_reset(sb);
    free(sb->dir);
    free(sb->log_unit);
    free(sb->name);
    free(sb);
}

void ct_sandbox_set_clock(ct_sandbox *sb, ct_sandbox_clock_fn now_ms, void *ud)
{
    sb->clock = now_ms ? now_ms : real_clock_ms;
    sb->clock_ud = now_ms ? ud : NULL;
    sb->created_ms = sb->clock(sb->clock_ud);
}

int64_t ct_sandbox_now_ms(const ct_sandbox *sb)
{
    return sb->clock(sb->clock_ud);
}

const char *ct_sandbox_name(const ct_sandbox *sb)
{
    return sb->name;
}

void ct_sandbox_set_userdata(ct_sandbox *sb, void *ud)
{
    sb->userdata = ud;
}

void *ct_sandbox_userdata(const ct_sandbox *sb)
{
    return sb->userdata;
}

void ct_sandbox_set_source(ct_sandbox *sb, ct_sandbox_source_fn fn, void *ud)
{
    sb->source = fn;
    sb->source_ud = ud;
}

void ct_sandbox_set_line_hook(ct_sandbox *sb, ct_sandbox_line_fn fn,
                              void *ud)
{
    if (sb->abandoned)
        return;
    sb->line_fn = fn;
    sb->line_ud = fn ? ud : NULL;
    lua_sethook(sb->L, deadline_hook, hook_mask(sb),
                sb->tripped ? 1 : sb->lim.hook_interval);
}

lua_State *ct_sandbox_state(ct_sandbox *sb)
{
    return sb->L;
}

void ct_sandbox_stats_get(const ct_sandbox *sb, ct_sandbox_stats *out)
{
    *out = sb->stats;
    /* An abandoned call's worker still moves these. */
    out->mem_used = sb->abandoned ? sb->frozen_mem_used : sb->mem_used;
    out->mem_peak = sb->abandoned ? sb->frozen_mem_peak : sb->mem_peak;
    out->mem_limit = sb->lim.memory;
}
