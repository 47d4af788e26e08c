/*
 * The plugin sandbox (host/sandbox*.c). Hostile plugin code lives in
 * tests/lua/hostile/, one file per case; each hostile test checks the code
 * returned, that the message names the plugin and the rule, that the
 * counters moved, and that the same sandbox still runs a normal call
 * afterwards.
 */
#include "error.h"
#include "fixtures.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

#include <criterion/criterion.h>
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOSTILE_DIR CT_SOURCE_DIR "/tests/lua/hostile"

static FILE *log_file;

static void quiet_log(void)
{
    log_file = tmpfile();
    cr_assert_not_null(log_file);
    ct_log_setup(CT_LOG_TEXT, CT_LOG_DEBUG);
    ct_log_set_stream(log_file);
}

static void restore_log(void)
{
    ct_log_set_stream(NULL);
    if (log_file)
        fclose(log_file);
    log_file = NULL;
}

/* Everything logged since quiet_log(); caller frees. */
static char *logged(void)
{
    fflush(log_file);
    long n = ftell(log_file);
    char *s = calloc(1, (size_t)n + 1);
    cr_assert_not_null(s);
    rewind(log_file);
    cr_assert_eq(fread(s, 1, (size_t)n, log_file), (size_t)n);
    return s;
}

TestSuite(sandbox, .init = quiet_log, .fini = restore_log);

/* Tests that are not about the deadline get a generous one: these
 * machines are shared and the sanitizer builds are slow, so 50 ms can
 * pass while a legitimate call is still running. */
static const ct_sandbox_limits calm = {.deadline_ms = 1000};
/* The default limits, for the tests that expect the 50 ms deadline. */
static const ct_sandbox_limits standard = {.deadline_ms = 50};

static ct_sandbox *make(const char *dir, const ct_sandbox_limits *lim)
{
    ct_sandbox *sb = NULL;
    if (!lim)
        lim = &calm;
    int rc = ct_sandbox_new("hostile", dir, lim, &sb);
    cr_assert_eq(rc, 0, "ct_sandbox_new: %s", ct_err_name(rc));
    return sb;
}

static const char *msg(ct_sandbox *sb)
{
    return ct_sandbox_last_error(sb)->message;
}

/* Compiles and runs code with `what` = "test"; leaves nres results. */
static int run(ct_sandbox *sb, const char *code, int nres)
{
    int rc = ct_sandbox_load(sb, "test", code, strlen(code));
    if (rc)
        return rc;
    return ct_sandbox_call(sb, "test", 0, nres);
}

/* Runs code that must succeed and return one string; returns a copy. */
static char *run_str(ct_sandbox *sb, const char *code)
{
    int rc = run(sb, code, 1);
    cr_assert_eq(rc, 0, "%s: %s", ct_err_name(rc), msg(sb));
    lua_State *L = ct_sandbox_state(sb);
    cr_assert(lua_type(L, -1) == LUA_TSTRING, "result is a %s",
              luaL_typename(L, -1));
    char *s = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return s;
}

static void assert_run_str(ct_sandbox *sb, const char *code, const char *want)
{
    char *got = run_str(sb, code);
    cr_assert_str_eq(got, want, "code: %s", code);
    free(got);
}

static void assert_contains(const char *s, const char *part)
{
    cr_assert(strstr(s, part) != NULL, "\"%s\" does not contain \"%s\"", s,
              part);
}

/* The sandbox still does ordinary work, strings and coroutines included. */
static void assert_usable(ct_sandbox *sb)
{
    assert_run_str(sb,
                   "local co = coroutine.wrap(function(a) "
                   "  return (a:gsub('%w+', string.upper)) end) "
                   "local t = {} for i = 1, 1000 do t[i] = i end "
                   "return co('ok ' .. #t)",
                   "OK 1000");
}

enum counter { TIMEOUTS, MEM_ERRORS, LIMIT_ERRORS, PLAIN_ERRORS };

/*
 * Loads tests/lua/hostile/<file>, runs it and checks the outcome: code,
 * the plugin's name and the rule in the message, the counter, and a normal
 * call afterwards.
 */
static void hostile(const char *file, const ct_sandbox_limits *lim, int want,
                    enum counter counter, const char *rule)
{
    if (!lim)
        lim = want == CT_ETIMEOUT ? &standard : &calm;
    ct_sandbox *sb = make(HOSTILE_DIR, lim);
    int rc = ct_sandbox_load_file(sb, file);
    cr_assert_eq(rc, 0, "%s: %s", file, msg(sb));
    rc = ct_sandbox_call(sb, file, 0, LUA_MULTRET);
    cr_assert_eq(rc, want, "%s: %s (%s)", file, ct_err_name(rc), msg(sb));
    assert_contains(msg(sb), "plugin 'hostile': ");
    assert_contains(msg(sb), rule);
    assert_contains(msg(sb), file);
    cr_assert_eq(lua_gettop(ct_sandbox_state(sb)), 0);

    ct_sandbox_stats st;
    ct_sandbox_stats_get(sb, &st);
    cr_assert_eq(st.calls, 1);
    cr_assert_eq(st.errors, 1);
    cr_assert_eq(st.timeouts, counter == TIMEOUTS);
    cr_assert_eq(st.mem_errors, counter == MEM_ERRORS);
    cr_assert_eq(st.limit_errors, counter == LIMIT_ERRORS);

    assert_usable(sb);
    ct_sandbox_stats_get(sb, &st);
    cr_assert_eq(st.calls, 2);
    cr_assert_eq(st.errors, 1);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

static const char *const deadline = "deadline of 50 ms exceeded in ";

/* ------------------------------------------------------------------ */
/* Deadline                                                           */

Test(sandbox, infinite_loop)
{
    hostile("infinite_loop.lua", NULL, CT_ETIMEOUT, TIMEOUTS, deadline);
}

Test(sandbox, loop_in_coroutine)
{
    hostile("coroutine_loop.lua", NULL, CT_ETIMEOUT, TIMEOUTS, deadline);
}

Test(sandbox, loop_in_wrapped_coroutine)
{
    hostile("coroutine_wrap_loop.lua", NULL, CT_ETIMEOUT, TIMEOUTS, deadline);
}

Test(sandbox, many_short_coroutines)
{
    hostile("many_coroutines.lua", NULL, CT_ETIMEOUT, TIMEOUTS, deadline);
}

Test(sandbox, pcall_catching_its_timeout)
{
    hostile("pcall_loop.lua", NULL, CT_ETIMEOUT, TIMEOUTS, deadline);
}

Test(sandbox, xpcall_handler_that_loops)
{
    hostile("xpcall_handler_loop.lua", NULL, CT_ETIMEOUT, TIMEOUTS, deadline);
}

Test(sandbox, pcall_in_tail_position)
{
    hostile("pcall_tail.lua", NULL, CT_ETIMEOUT, TIMEOUTS, deadline);
}

Test(sandbox, every_catcher_rethrows)
{
    hostile("error_swallow.lua", NULL, CT_ETIMEOUT, TIMEOUTS, deadline);
}

Test(sandbox, error_object_with_looping_tostring)
{
    hostile("tostring_error.lua", NULL, CT_ETIMEOUT, TIMEOUTS, deadline);
}

Test(sandbox, close_handler_that_loops)
{
    hostile("close_loop.lua", NULL, CT_ETIMEOUT, TIMEOUTS, deadline);
}

Test(sandbox, close_handler_looping_during_unwinding)
{
    hostile("close_unwinding.lua", NULL, CT_ETIMEOUT, TIMEOUTS, deadline);
}

Test(sandbox, coroutine_killed_holding_close_handler)
{
    hostile("wrap_close_unyieldable.lua", NULL, CT_ETIMEOUT, TIMEOUTS,
            deadline);
}

Test(sandbox, xpcall_handler_in_coroutine_callback)
{
    hostile("xpcall_in_coroutine.lua", NULL, CT_ETIMEOUT, TIMEOUTS, deadline);
}

Test(sandbox, killed_coroutine_never_closed)
{
    ct_sandbox *sb = make(HOSTILE_DIR, NULL);
    cr_assert_eq(ct_sandbox_load_file(sb, "close_killed_later.lua"), 0);
    cr_assert_eq(ct_sandbox_call(sb, "first", 0, 0), CT_ETIMEOUT);
    /* A later call, no longer past any deadline, tries to close it. */
    assert_run_str(sb,
                   "local ok, e = coroutine.close(killed) "
                   "return coroutine.status(killed) .. ' ' .. tostring(ok) "
                   ".. ' ' .. e",
                   "dead false coroutine was stopped by the deadline; its "
                   "to-be-closed variables stay open");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, coroutine_suspended_by_deadline_resumes_later)
{
    /* Where it can, the hook suspends a coroutine rather than killing it:
     * a later call may resume it, and it carries on from where it was. */
    ct_sandbox *sb = make(NULL, NULL);
    cr_assert_eq(run(sb,
                     "progress = 0 "
                     "co = coroutine.create(function() "
                     "  while true do progress = progress + 1 end end) "
                     "coroutine.resume(co)",
                     0),
                 CT_ETIMEOUT);
    assert_run_str(sb,
                   "first = progress "
                   "return coroutine.status(co) .. ' ' .. "
                   "tostring(progress > 0)",
                   "suspended true");
    const char *code = "coroutine.resume(co)";
    cr_assert_eq(ct_sandbox_load(sb, "again", code, strlen(code)), 0);
    cr_assert_eq(ct_sandbox_call_deadline(sb, "again", 0, 0, 10), CT_ETIMEOUT);
    assert_run_str(sb, "return tostring(progress > first)", "true");
    /* A coroutine can also be closed normally after such a stop. */
    assert_run_str(sb, "return tostring(coroutine.close(co))", "true");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, table_move_of_nils)
{
    hostile("table_move.lua", NULL, CT_ETIMEOUT, TIMEOUTS, deadline);
}

Test(sandbox, matcher_checks_the_clock)
{
    /* With no step limit to speak of, the deadline inside the matcher
     * stops the backtracking. */
    ct_sandbox_limits lim = {.max_match_steps = UINT64_MAX / 2};
    hostile("pattern_backtrack.lua", &lim, CT_ETIMEOUT, TIMEOUTS, deadline);
}

Test(sandbox, custom_deadline)
{
    ct_sandbox_limits lim = {.deadline_ms = 20};
    hostile("infinite_loop.lua", &lim, CT_ETIMEOUT, TIMEOUTS,
            "deadline of 20 ms exceeded in infinite_loop.lua");
}

Test(sandbox, deadline_per_call)
{
    ct_sandbox *sb = make(NULL, NULL);
    const char *code = "while true do end";
    cr_assert_eq(ct_sandbox_load(sb, "loop", code, strlen(code)), 0);
    cr_assert_eq(ct_sandbox_call_deadline(sb, "setup", 0, 0, 10), CT_ETIMEOUT);
    assert_contains(msg(sb), "deadline of 10 ms exceeded in setup");
    assert_contains(ct_sandbox_last_error(sb)->detail,
                    "loop:1: deadline of 10 ms exceeded");
    assert_usable(sb);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, coroutine_left_tripped_recovers)
{
    /* A coroutine that timed out in one call is resumed in the next: its
     * hook must not still fire on every instruction with a stale deadline. */
    ct_sandbox *sb = make(NULL, NULL);
    cr_assert_eq(run(sb,
                     "co = coroutine.create(function() "
                     "  while true do coroutine.yield(1) end end) "
                     "coroutine.resume(co) "
                     "while true do coroutine.resume(co) end",
                     0),
                 CT_ETIMEOUT);
    assert_run_str(sb,
                   "local n = 0 for i = 1, 1000 do "
                   "  local ok, v = coroutine.resume(co) n = n + v end "
                   "return tostring(n)",
                   "1000");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

/* ------------------------------------------------------------------ */
/* Recursion, finalizers, errors                                      */

/* Growing the stack to Lua's limit takes about 100 ms: give it the time,
 * so that the limit, not the deadline, stops it. */
static const ct_sandbox_limits slow = {.deadline_ms = 5000};

Test(sandbox, deep_lua_recursion)
{
    hostile("deep_recursion.lua", &slow, CT_EPLUGIN, PLAIN_ERRORS,
            "stack overflow");
}

Test(sandbox, recursion_through_c)
{
    hostile("c_recursion.lua", &slow, CT_EPLUGIN, PLAIN_ERRORS,
            "stack overflow");
}

/* The daemon finding: 40,000 nested coroutine.close calls overflowed the C
 * stack (SIGSEGV). The nesting limit stops the chain; the error travels
 * back through every __close and the call fails without a crash. */
Test(sandbox, close_chain_nested)
{
    static const ct_sandbox_limits roomy = {.memory = (size_t)256 << 20,
                                            .deadline_ms = 20000};
    hostile("close_chain.lua", &roomy, CT_ELIMIT, LIMIT_ERRORS,
            "coroutine nesting limit of 100 exceeded in close_chain.lua");
}

Test(sandbox, string_pack_bomb)
{
    hostile("string_pack.lua", NULL, CT_ELIMIT, LIMIT_ERRORS,
            "string length limit of 256 KiB exceeded in string_pack.lua "
            "(string.pack: a result over 262144 bytes)");
}

/* A traceback of a stack 100,000 calls deep walked the call list from the
 * top for each level it printed (about a second); past 1,000 levels it
 * shows the head only. */
Test(sandbox, deep_traceback_is_bounded)
{
    ct_sandbox *sb = make(NULL, &slow);
    cr_assert_eq(run(sb,
                     "local function down(n) if n == 0 then error('bottom') "
                     "end return 1 + down(n - 1) end return down(100000)",
                     0),
                 CT_EPLUGIN);
    const char *tb = ct_sandbox_last_error(sb)->traceback;
    assert_contains(tb, "(more than 1000 levels)");
    size_t lines = 0;
    for (const char *c = tb; *c; c++)
        lines += *c == '\n';
    cr_assert_leq(lines, 12, "%s", tb);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

/* Spends ms of this thread's CPU time: work, as the deadline counts it
 * (docs/sandbox.md "Which clock counts"; a sleep is not). */
static void spin_cpu_ms(long ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 1000; i++)
            x += (unsigned long)i;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) <
             ms * 1000000L);
}

/* A C function standing for one long instruction (the colliding-key table
 * rehash) or a slow host call: it returns, but after the deadline. */
static int spin_80ms(lua_State *L)
{
    spin_cpu_ms(80);
    (void)L;
    return 0;
}

static int register_spin(lua_State *L)
{
    lua_pushcfunction(L, spin_80ms);
    lua_setglobal(L, "spin_80ms");
    return 0;
}

/* Found on main: the clock was not read after a call returned, so a call
 * that overran inside one instruction counted as a success and the plugin
 * was never quarantined. */
Test(sandbox, overrun_in_one_instruction_is_a_timeout)
{
    ct_sandbox *sb = make(NULL, &standard);
    cr_assert_eq(ct_sandbox_setup(sb, register_spin, NULL), 0);
    cr_assert_eq(run(sb, "spin_80ms() return 1", 1), CT_ETIMEOUT, "%s",
                 msg(sb));
    assert_contains(msg(sb), "deadline of 50 ms exceeded in test");
    ct_sandbox_stats st;
    ct_sandbox_stats_get(sb, &st);
    cr_assert_eq(st.timeouts, 1);
    cr_assert_eq(lua_gettop(ct_sandbox_state(sb)), 0);
    assert_usable(sb);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

static int spin_1ms(lua_State *L)
{
    spin_cpu_ms(1);
    (void)L;
    return 0;
}

static int register_timed(lua_State *L)
{
    static const luaL_Reg host[] = {{"spin_1ms", spin_1ms}, {NULL, NULL}};
    lua_pushglobaltable(L);
    ct_sandbox_setfuncs_timed(L, host);
    lua_pop(L, 1);
    return 0;
}

/* Found on main: host functions never read the clock, so a loop of
 * ct.beds() ran 200 ms past a 50 ms deadline between two VM checks. Here
 * the VM's own check is all but off (one every 10^9 instructions): only
 * the host function's checks can stop the loop at the deadline. */
Test(sandbox, host_functions_check_the_deadline)
{
    ct_sandbox_limits lim = {.deadline_ms = 50, .hook_interval = 1000000000};
    ct_sandbox *sb = make(NULL, &lim);
    cr_assert_eq(ct_sandbox_setup(sb, register_timed, NULL), 0);
    cr_assert_eq(run(sb, "n = 0 for i = 1, 500 do spin_1ms() n = i end", 0),
                 CT_ETIMEOUT, "%s", msg(sb));
    lua_State *L = ct_sandbox_state(sb);
    lua_getglobal(L, "n");
    lua_Integer n = lua_tointeger(L, -1);
    lua_pop(L, 1);
    cr_assert_lt(n, 500, "the loop ran to its end: %lld calls",
                 (long long)n);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, gc_finalizer_refused)
{
    hostile("gc_finalizer.lua", NULL, CT_EPLUGIN, PLAIN_ERRORS,
            "__gc metamethods are not allowed");
}

Test(sandbox, late_gc_never_runs)
{
    ct_sandbox *sb = make(HOSTILE_DIR, NULL);
    cr_assert_eq(ct_sandbox_load_file(sb, "gc_late.lua"), 0);
    cr_assert_eq(ct_sandbox_call(sb, "gc_late", 0, 1), 0, "%s", msg(sb));
    cr_assert_str_eq(lua_tostring(ct_sandbox_state(sb), -1), "collected");
    lua_pop(ct_sandbox_state(sb), 1);
    /* Closing frees the object too; no finalizer may run then either. */
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, error_object_with_tostring)
{
    ct_sandbox *sb = make(NULL, NULL);
    cr_assert_eq(run(sb,
                     "error(setmetatable({}, {__tostring = function() "
                     "  return 'custom failure' end}))",
                     0),
                 CT_EPLUGIN);
    cr_assert_str_eq(msg(sb),
                     "plugin 'hostile': error in test: custom failure");
    cr_assert_eq(run(sb, "error({})", 0), CT_EPLUGIN);
    assert_contains(msg(sb), "(error object is a table value)");
    cr_assert_eq(run(sb, "error(42)", 0), CT_EPLUGIN);
    assert_contains(msg(sb), "error in test: 42");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, runtime_error_with_traceback)
{
    ct_sandbox *sb = make(NULL, NULL);
    cr_assert_eq(run(sb,
                     "local function inner() local x = nil; return x.y end\n"
                     "local function outer() return 1 + inner() end\n"
                     "outer()",
                     0),
                 CT_EPLUGIN);
    const ct_sandbox_error *e = ct_sandbox_last_error(sb);
    cr_assert_eq(e->code, CT_EPLUGIN);
    cr_assert_str_eq(e->message,
                     "plugin 'hostile': error in test: test:1: attempt to "
                     "index a nil value (local 'x')");
    cr_assert_str_eq(e->detail,
                     "test:1: attempt to index a nil value (local 'x')");
    assert_contains(e->traceback, "stack traceback:");
    assert_contains(e->traceback, "test:1: in ");
    assert_contains(e->traceback, "test:2: in ");
    cr_assert_eq(e->line, 0);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

/* ------------------------------------------------------------------ */
/* Memory and string limits                                           */

/* Small enough to fill quickly; the deadline is raised so that slow
 * (sanitizer) builds also meet the cap first. */
static const ct_sandbox_limits small_memory = {.memory = (size_t)2 << 20,
                                               .deadline_ms = 5000};

Test(sandbox, memory_cap_table_growth)
{
    hostile("memory_table.lua", &small_memory, CT_ELIMIT, MEM_ERRORS,
            "memory limit of 2 MiB exceeded in ");
}

Test(sandbox, memory_cap_many_strings)
{
    hostile("memory_strings.lua", &small_memory, CT_ELIMIT, MEM_ERRORS,
            "memory limit of 2 MiB exceeded in ");
}

Test(sandbox, memory_error_caught_and_rethrown)
{
    hostile("memory_caught.lua", &small_memory, CT_ELIMIT, MEM_ERRORS,
            "memory limit of 2 MiB exceeded in ");
}

Test(sandbox, string_rep_bomb)
{
    hostile("string_rep.lua", NULL, CT_ELIMIT, LIMIT_ERRORS,
            "string length limit of 256 KiB exceeded in string_rep.lua "
            "(string.rep: result of 1000000000 bytes)");
}

Test(sandbox, table_concat_bomb)
{
    hostile("table_concat.lua", NULL, CT_ELIMIT, LIMIT_ERRORS,
            "string length limit of 256 KiB exceeded in table_concat.lua "
            "(table.concat: result of ");
}

Test(sandbox, concat_operator_bomb)
{
    hostile("concat_doubling.lua", NULL, CT_ELIMIT, LIMIT_ERRORS,
            "string length limit of 256 KiB exceeded in "
            "concat_doubling.lua (a string of 524288 bytes)");
}

Test(sandbox, string_length_boundary)
{
    ct_sandbox *sb = make(NULL, NULL);
    /* Exactly max_string bytes, built by a library function and by the
     * concatenation operator, is allowed; one more byte is not. */
    assert_run_str(sb, "return tostring(#('x'):rep(262144))", "262144");
    assert_run_str(sb,
                   "local h = ('x'):rep(131072) return tostring(#(h .. h))",
                   "262144");
    cr_assert_eq(run(sb, "local h = ('x'):rep(131072) return h .. h .. 'y'",
                     0),
                 CT_ELIMIT);
    cr_assert_str_eq(msg(sb), "plugin 'hostile': string length limit of 256 "
                              "KiB exceeded in test (a string of 262145 "
                              "bytes)");
    cr_assert_eq(run(sb, "return ('x'):rep(262145)", 0), CT_ELIMIT);
    cr_assert_eq(run(sb, "return ('ab'):rep(131073, '')", 0), CT_ELIMIT);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, empty_string_rep_does_not_spin)
{
    ct_sandbox *sb = make(HOSTILE_DIR, NULL);
    cr_assert_eq(ct_sandbox_load_file(sb, "empty_rep.lua"), 0);
    cr_assert_eq(ct_sandbox_call(sb, "empty_rep", 0, 2), 0, "%s", msg(sb));
    lua_State *L = ct_sandbox_state(sb);
    cr_assert_eq(lua_tointeger(L, -1), 0);
    cr_assert_eq(lua_tointeger(L, -2), 0);
    lua_pop(L, 2);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, memory_accounting)
{
    ct_sandbox *sb = make(NULL, &small_memory);
    ct_sandbox_stats st;
    ct_sandbox_stats_get(sb, &st);
    cr_assert_eq(st.mem_limit, (size_t)2 << 20);
    cr_assert_gt(st.mem_used, 0);
    size_t before = st.mem_used;
    cr_assert_eq(run(sb, "keep = {} for i = 1, 10000 do keep[i] = i end", 0),
                 0);
    ct_sandbox_stats_get(sb, &st);
    cr_assert_gt(st.mem_used, before + 10000 * 8);
    cr_assert_geq(st.mem_peak, st.mem_used);
    assert_run_str(sb,
                   "return collectgarbage('count') > 100 and 'counted' or "
                   "'no'",
                   "counted");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

/* ------------------------------------------------------------------ */
/* Patterns and other bounded functions                               */

/* The step limit stops these in about 16 ms; the deadline is raised only
 * so that slow (sanitizer) builds see the same error. */
Test(sandbox, pathological_pattern)
{
    hostile("pattern_backtrack.lua", &slow, CT_ELIMIT, LIMIT_ERRORS,
            "pattern step limit of 1000000 exceeded in "
            "pattern_backtrack.lua (string.find: pattern too complex");
}

Test(sandbox, pathological_pattern_in_every_function)
{
    ct_sandbox *sb = make(NULL, &slow);
    static const char *const calls[] = {
        "string.match(('a'):rep(300), '.-.-.-b')",
        "string.gsub(('a'):rep(300), '.-.-.-b', '')",
        "for m in string.gmatch(('a'):rep(300), '.-.-.-b') do end",
        "string.find(('a'):rep(300), '(.-)(.-)(.-)%1b')",
        "string.find(('('):rep(300), '.-%b()x')",
        "string.rep('x', 200000):find(string.rep('x', 100000) .. 'y', 1, "
        "true)",
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        const char *code = calls[i];
        cr_assert_eq(run(sb, code, 0), CT_ELIMIT, "%s: %s", calls[i], msg(sb));
        assert_contains(msg(sb), "pattern step limit of 1000000 exceeded");
    }
    assert_usable(sb);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, subject_length_limit)
{
    ct_sandbox_limits lim = {.max_subject = 1000};
    ct_sandbox *sb = make(NULL, &lim);
    cr_assert_eq(run(sb, "return ('a'):rep(1001):find('b')", 0), CT_ELIMIT);
    assert_contains(msg(sb), "subject length limit of 1000 bytes exceeded in "
                             "test (string.find: subject of 1001 bytes)");
    assert_run_str(sb, "return tostring(('a'):rep(1000):find('a', 1000))",
                   "1000");
    /* The plugin may catch a limit and carry on. */
    assert_run_str(sb,
                   "local ok, e = pcall(function() "
                   "  return string.gsub(('a'):rep(2000), 'a', 'b') end) "
                   "return e",
                   "test:1: subject length limit of 1000 bytes exceeded "
                   "(string.gsub: subject of 2000 bytes)");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, results_limit)
{
    ct_sandbox *sb = make(NULL, NULL);
    cr_assert_eq(run(sb, "return select('#', table.unpack({}, 1, 1e6))", 0),
                 CT_ELIMIT);
    assert_contains(msg(sb), "results limit of 10000 exceeded in test "
                             "(table.unpack: 1000000 values)");
    cr_assert_eq(run(sb, "return ('x'):rep(20000):byte(1, -1)", 0), CT_ELIMIT);
    assert_contains(msg(sb), "string.byte: 20000 values");
    cr_assert_eq(run(sb, "return utf8.codepoint(('x'):rep(20000), 1, -1)", 0),
                 CT_ELIMIT);
    /* Wrapped functions keep their names in argument errors. */
    static const char *const argerrs[][2] = {
        {"utf8.codepoint('abc', -9, -1)",
         "bad argument #2 to 'codepoint' (out of bounds)"},
        {"utf8.len('abc', 9)",
         "bad argument #2 to 'len' (initial position out of bounds)"},
        {"utf8.offset('abc', 1, 9)",
         "bad argument #3 to 'offset' (position out of bounds)"},
        {"string.unpack('b', 'abc', 9)",
         "bad argument #3 to 'unpack' (initial position out of string)"},
        {"pcall()", "bad argument #1 to 'pcall' (value expected)"},
        {"xpcall(print)", "bad argument #2 to 'xpcall' (function expected, "
                          "got no value)"},
        {"coroutine.resume(1)",
         "bad argument #1 to 'resume' (coroutine expected, got number)"},
        {"coroutine.close(1)",
         "bad argument #1 to 'close' (coroutine expected, got number)"},
        {"setmetatable(1, {})",
         "bad argument #1 to 'setmetatable' (table expected, got number)"},
        {"setmetatable({}, 1)", "bad argument #2 to 'setmetatable' (nil or "
                                "table expected, got number)"},
        {"coroutine.wrap(1)",
         "bad argument #1 to 'wrap' (function expected, got number)"},
    };
    for (size_t i = 0; i < CT_ARRAY_LEN(argerrs); i++) {
        char code[200];
        snprintf(code, sizeof code,
                 "return select(2, pcall(function() "
                 "return %s end))",
                 argerrs[i][0]);
        char *got = run_str(sb, code);
        assert_contains(got, argerrs[i][1]);
        free(got);
    }
    assert_run_str(sb,
                   "return table.concat({utf8.codepoint('h\\u{e9}!', 1, "
                   "-1)}, ',')",
                   "104,233,33");
    cr_assert_eq(run(sb, "string.format('%099999d', 1)", 0), CT_EPLUGIN);
    assert_contains(msg(sb), "invalid conversion");
    cr_assert_eq(run(sb,
                     "return string.unpack(('b'):rep(20000), "
                     "('x'):rep(20000))",
                     0),
                 CT_ELIMIT);
    assert_run_str(sb,
                   "local t = {} for i = 1, 10000 do t[i] = i end "
                   "return tostring(select('#', table.unpack(t)))",
                   "10000");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

/*
 * The same snippet runs in the sandbox and in a stock Lua state; the
 * results, error messages included, must be identical.
 */
static const char pattern_cases[] =
    "local cases = {\n"
    " {'find', 'hello world', 'o w'}, {'find', 'hello world', 'l+'},\n"
    " {'find', 'hello', 'l', 1, true}, {'find', 'hello', '', 10},\n"
    " {'find', 'hello', '', 6}, {'find', 'hello', '^h'},\n"
    " {'find', 'hello', '^e'}, {'find', 'a.b', '.', 1, true},\n"
    " {'find', 'hello', 'l', -2}, {'find', 'hello', 'l', -100},\n"
    " {'find', 'hello', 'xyz', 3, true}, {'find', 'a\\0b', '\\0', 1, true},\n"
    " {'find', 'a+b', '+', 1, true}, {'find', 'abc', '[a'},\n"
    " {'find', 'abc', '%'}, {'find', 'abc', '(()'}, {'find', 'abc', 'a)'},\n"
    " {'find', 'abc', '%f'}, {'find', 'abc', '%b'}, {'find', 'abc', '(a'},\n"
    " {'find', 'hello', '(l)(l)'}, {'find', 'hello', '()ll()'},\n"
    " {'match', 'key = value', '(%w+)%s*=%s*(%w+)'},\n"
    " {'match', '  trim me  ', '^%s*(.-)%s*$'},\n"
    " {'match', '2024-01-15', '(%d+)-(%d+)-(%d+)'},\n"
    " {'match', 'THE (quick) fox', '%((%a+)%)'},\n"
    " {'match', 'f(a(b)c)d', '%b()'},\n"
    " {'match', 'THE (quick) fox', '%f[%a]%a+'},\n"
    " {'match', 'hello', '.-(l+)(.*)'}, {'match', '[test]', '[%[%]]+'},\n"
    " {'match', 'a]b', '[]]'}, {'match', 'a-b', '[a-]+'},\n"
    " {'match', 'x^y', '[%^x]+'}, {'match', 'abcabc', '(abc)%1'},\n"
    " {'match', 'hello', '(h)(e)(l)(l)(o)'}, {'match', 'hello$', 'o%$'},\n"
    " {'match', 'a$b', 'a$b'}, {'match', '', '.*'}, {'match', 'abc', 'x*'},\n"
    " {'match', 'abc', 'b?c'}, {'match', 'aaab', 'a-b'},\n"
    " {'match', 'zz', '%z'}, {'match', 'Hello', '%u%l+'},\n"
    " {'match', ' \\t\\n', '%s+'}, {'match', 'a1_', '[%w_]+'},\n"
    " {'match', '0x1F', '%x+', 3}, {'match', '!?', '%p+'},\n"
    " {'match', 'abc', '%A'}, {'match', 'ab12', '%D+'},\n"
    " {'match', 'caf\\195\\169', '[\\128-\\255]+'}, {'match', 'abc', '%1'},\n"
    " {'match', 'ab', '(a)%2'}, {'match', 'ab', '(a%1)'},\n"
    " {'match', 'THE END', '%f[%z]'}, {'match', 'word', '%f[%w]%w+%f[%W]'},\n"
    " {'match', 'abc', '[^%a]'}, {'match', '123abc', '^[^%a]+'},\n"
    " {'match', 'a.b.c', '^(.-)%.'}, {'match', 'x', '[x-]'},\n"
    " {'match', '-', '[x-]'}, {'match', 'b', '[a-c]'},\n"
    " {'match', 'abc', '[c-a]'},\n"
    " {'match', 'hello', 'l*', 3}, {'match', 'hello', '', 100},\n"
    " {'gsub', 'hello world', 'o', '0'},\n"
    " {'gsub', 'hello world', '(%w+)', '<%1>'},\n"
    " {'gsub', 'hello world', '%w+', '%0 %0', 1}, {'gsub', 'abc', '', '-'},\n"
    " {'gsub', 'hello', 'l', {l = 'L'}}, {'gsub', 'hello', 'l', {}},\n"
    " {'gsub', 'hello', '(l)', string.upper}, {'gsub', 'abc', '%w', '%2'},\n"
    " {'gsub', 'abc', '%w', '%x'}, {'gsub', 'abc', '%w', '%'},\n"
    " {'gsub', 'hello world', '^h', 'H'}, {'gsub', 'abc', 'b*', '-'},\n"
    " {'gsub', 'x = 1, y = 2', '(%w+) = (%w+)', '%2 = %1'},\n"
    " {'gsub', 'abc', '()', '%1'}, {'gsub', 'abc', 'b', 7},\n"
    " {'gsub', 'abc', 'b', true}, {'gsub', 'abc', '.', {a = 1, b = true}},\n"
    " {'gsub', 'a b c', '%s', '%%'}, {'gsub', 'hello', 'l', 'L', 0},\n"
    " {'gsub', 'hello', 'l', 'L', -1}, {'gsub', 'abc', '^', '>'},\n"
    " {'gsub', 'abc', '$', '<'}, {'gsub', 'a,b,,c', ',', ';'},\n"
    " {'gmatch', 'one two three', '%a+'}, {'gmatch', 'a,b,,c', '([^,]*)'},\n"
    " {'gmatch', 'abc', ''}, {'gmatch', 'k=v, a=b', '(%w+)=(%w+)'},\n"
    " {'gmatch', 'hello', 'l', 4}, {'gmatch', 'hello', '()l'},\n"
    " {'gmatch', '^a^a', '^a'}, {'gmatch', 'abc', '.', -1},\n"
    " {'rep', 'ab', 3, ','}, {'rep', 'x', 0}, {'rep', '', 5},\n"
    " {'rep', 'ab', 1, ','},\n"
    " {'rep', 'ab', 4}, {'rep', 'x', -3, ','}, {'rep', '', 3, ','},\n"
    " {'byte', 'hello', 1, -1}, {'byte', 'hello', -2}, {'byte', 'hello', 10},\n"
    " {'byte', 'hello'}, {'byte', 'hello', 0}, {'byte', 'hello', 3, 2},\n"
    "}\n"
    "local function ser(...)\n"
    "  local out = {}\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    out[#out + 1] = type(v) .. ':' .. tostring(v)\n"
    "  end\n"
    "  return table.concat(out, ',')\n"
    "end\n"
    "local lines = {}\n"
    "for i, c in ipairs(cases) do\n"
    "  local ok, res = pcall(function()\n"
    "    if c[1] == 'gmatch' then\n"
    "      local acc = {}\n"
    "      for a, b in string.gmatch(c[2], c[3], c[4]) do\n"
    "        acc[#acc + 1] = ser(a, b)\n"
    "      end\n"
    "      return table.concat(acc, ';')\n"
    "    end\n"
    "    return ser(string[c[1]](table.unpack(c, 2, 6)))\n"
    "  end)\n"
    "  lines[#lines + 1] = i .. ' ' .. tostring(ok) .. ' ' .. res\n"
    "end\n"
    "return table.concat(lines, '\\n')\n";

Test(sandbox, patterns_behave_like_lua)
{
    lua_State *ref = luaL_newstate();
    luaL_openlibs(ref);
    cr_assert_eq(
        luaL_loadbuffer(ref, pattern_cases, strlen(pattern_cases), "@test"), 0);
    cr_assert_eq(lua_pcall(ref, 0, 1, 0), 0, "%s", lua_tostring(ref, -1));
    const char *want = lua_tostring(ref, -1);

    ct_sandbox *sb = make(NULL, NULL);
    char *got = run_str(sb, pattern_cases);
    /* Report the first differing line, not two pages. */
    if (strcmp(got, want) != 0) {
        size_t i = 0, start = 0;
        while (got[i] && got[i] == want[i])
            if (got[i++] == '\n')
                start = i;
        cr_assert_fail("sandbox: %.*s\nlua:     %.*s",
                       (int)strcspn(got + start, "\n"), got + start,
                       (int)strcspn(want + start, "\n"), want + start);
    }
    cr_assert_gt(strlen(got), 2000); /* every case ran */
    free(got);
    lua_close(ref);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, table_functions_behave_like_lua)
{
    static const char code[] =
        "local out = {}\n"
        "local function add(...) out[#out + 1] = table.concat({...}, ' ') "
        "end\n"
        "local t = {5, 2, 8, 1, 9, 3, 7, 4, 6, 10}\n"
        "table.sort(t) add(table.concat(t, ','))\n"
        "table.sort(t, function(a, b) return a > b end) "
        "add(table.concat(t, ','))\n"
        "local w = {'pear', 'apple', 'fig'} table.sort(w) "
        "add(table.concat(w, ','))\n"
        "local big = {} for i = 1, 500 do big[i] = (i * 7919) % 503 end\n"
        "table.sort(big) local ok = true\n"
        "for i = 2, #big do ok = ok and big[i - 1] <= big[i] end "
        "add(tostring(ok), #big)\n"
        "local l = {1, 2, 3} table.insert(l, 4) table.insert(l, 1, 0) "
        "add(table.concat(l, ','))\n"
        "add(tostring(table.remove(l)), tostring(table.remove(l, 1)), "
        "table.concat(l, ','))\n"
        "add(tostring(table.remove({})), #l)\n"
        "local m = table.move({1, 2, 3, 4, 5}, 2, 4, 1) "
        "add(table.concat(m, ','))\n"
        "local m2 = table.move({1, 2, 3, 4, 5}, 1, 3, 3) "
        "add(table.concat(m2, ','))\n"
        "local m3 = table.move({1, 2, 3}, 1, 3, 2, {}) "
        "add(tostring(m3[1]), m3[2], m3[4])\n"
        "add(table.concat({1, 2, 3}, ', ', 2, 3), table.concat({}, 'x'))\n"
        "add(select('#', table.unpack({1, 2, nil, 4}, 1, 4)))\n"
        "add(select(2, pcall(table.concat, {1, {}, 3})))\n"
        "add(select(2, pcall(table.insert, {1}, 5, 2)))\n"
        "add(select(2, pcall(table.insert, {1}, 1, 2, 3)))\n"
        "add(tostring(select(2, pcall(table.sort, {1, 'x'})):find("
        "'attempt to compare', 1, true)))\n"
        "add(table.pack(1, 2, 3).n)\n"
        "return table.concat(out, '\\n')\n";
    lua_State *ref = luaL_newstate();
    luaL_openlibs(ref);
    cr_assert_eq(luaL_loadbuffer(ref, code, strlen(code), "@test"), 0);
    cr_assert_eq(lua_pcall(ref, 0, 1, 0), 0, "%s", lua_tostring(ref, -1));
    ct_sandbox *sb = make(NULL, NULL);
    assert_run_str(sb, code, lua_tostring(ref, -1));
    lua_close(ref);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

/* table.sort is stable, and costs at most n*ceil(log2 n) comparisons
 * whatever the input (a rank hook sorts through a Lua comparator on every
 * decision: comparisons are its cost; a heapsort made twice as many). An
 * inconsistent comparator still ends with every value once. */
Test(sandbox, table_sort_stable_and_bounded)
{
    ct_sandbox *sb = make(NULL, NULL);
    assert_run_str(
        sb,
        "local out = {}\n"
        "for _, n in ipairs({2, 3, 50, 64, 1000, 1001}) do\n"
        "  for _, shape in ipairs({'random', 'sorted', 'reversed', 'equal'}) do\n"
        "    local t = {}\n"
        "    for i = 1, n do\n"
        "      local k = shape == 'sorted' and i or shape == 'reversed' and -i\n"
        "        or shape == 'equal' and 0 or (i * 7919) % 37\n"
        "      t[i] = {k = k, i = i}\n"
        "    end\n"
        "    local calls = 0\n"
        "    table.sort(t, function(a, b) calls = calls + 1 return a.k < b.k end)\n"
        "    local ok = true\n"
        "    for i = 2, n do\n"
        "      local a, b = t[i - 1], t[i]\n"
        "      ok = ok and (a.k < b.k or (a.k == b.k and a.i < b.i))\n"
        "    end\n"
        "    local bound = n * math.ceil(math.log(n, 2))\n"
        "    if not ok or calls > bound then\n"
        "      out[#out + 1] = ('%s %d: ok %s, %d calls > %d'):format(shape, n,\n"
        "        tostring(ok), calls, bound)\n"
        "    end\n"
        "  end\n"
        "end\n"
        "local t, seen = {}, {}\n"
        "for i = 1, 300 do t[i] = i end\n"
        "local flip = 0\n"
        "table.sort(t, function() flip = flip + 1 return flip % 3 == 0 end)\n"
        "for _, v in ipairs(t) do seen[v] = (seen[v] or 0) + 1 end\n"
        "for i = 1, 300 do if seen[i] ~= 1 then out[#out + 1] = 'lost ' .. i end end\n"
        "return #out == 0 and 'ok' or table.concat(out, '; ')",
        "ok");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

/* ------------------------------------------------------------------ */
/* What plugins do not get                                            */

Test(sandbox, dangerous_functions_absent)
{
    ct_sandbox *sb = make(NULL, NULL);
    assert_run_str(sb,
                   "local names = {'io', 'debug', 'dofile', 'loadfile', "
                   "'warn', 'loadstring', 'module', 'newproxy'}\n"
                   "local out = {}\n"
                   "for _, n in ipairs(names) do out[#out + 1] = "
                   "tostring(_G[n]) end\n"
                   "for _, n in ipairs({'exit', 'execute', 'getenv', "
                   "'remove', 'rename', 'tmpname', 'setlocale'}) do\n"
                   "  out[#out + 1] = tostring(os[n]) end\n"
                   "for _, n in ipairs({'loadlib', 'searchers', 'searchpath', "
                   "'path', 'cpath'}) do\n"
                   "  out[#out + 1] = tostring(package[n]) end\n"
                   "out[#out + 1] = tostring(string.dump)\n"
                   "out[#out + 1] = tostring(('').dump)\n"
                   "return table.concat(out, ',')",
                   "nil,nil,nil,nil,nil,nil,nil,nil,nil,nil,nil,nil,nil,nil,"
                   "nil,nil,nil,nil,nil,nil,nil,nil");
    /* What remains of os. */
    assert_run_str(sb,
                   "local k = {} for n in pairs(os) do k[#k + 1] = n end "
                   "table.sort(k) return table.concat(k, ',')",
                   "clock,date,difftime,time");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, string_metatable_frozen)
{
    ct_sandbox *sb = make(NULL, NULL);
    assert_run_str(sb, "return tostring(getmetatable(''))", "false");
    cr_assert_eq(run(sb, "getmetatable('').__index.upper = nil", 0),
                 CT_EPLUGIN);
    cr_assert_eq(run(sb, "string.upper = function() return 'pwned' end", 0),
                 CT_EPLUGIN);
    assert_contains(msg(sb), "the string library is read-only");
    cr_assert_eq(run(sb, "setmetatable('', {})", 0), CT_EPLUGIN);
    cr_assert_eq(run(sb, "setmetatable(string, {})", 0), CT_EPLUGIN);
    assert_contains(msg(sb), "cannot change a protected metatable");
    cr_assert_eq(run(sb, "require('string').lower = nil", 0), CT_EPLUGIN);
    /* The library can be listed, but not reached through pairs. */
    assert_run_str(sb,
                   "local n, lib = 0, select(2, pairs(string)) "
                   "for k, v in pairs(string) do n = n + 1 "
                   "  assert(type(v) == 'function') end "
                   "return tostring(n > 10 and lib == string)",
                   "true");
    /* rawset only shadows a name in the plugin's own proxy. */
    assert_run_str(sb,
                   "rawset(string, 'upper', function() return 'pwned' end) "
                   "return ('abc'):upper() .. (string.upper('x'))",
                   "ABCpwned");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, collectgarbage_counts_only)
{
    ct_sandbox *sb = make(NULL, NULL);
    static const char *const refused[] = {
        "collectgarbage()",
        "collectgarbage('collect')",
        "collectgarbage('stop')",
        "collectgarbage('step', 100)",
        "collectgarbage('incremental')",
        "collectgarbage('generational')",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        cr_assert_eq(run(sb, refused[i], 0), CT_EPLUGIN, "%s", refused[i]);
        assert_contains(msg(sb), "is not allowed in the sandbox (only "
                                 "'count')");
    }
    assert_run_str(sb, "return math.type(collectgarbage('count'))", "float");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, binary_chunks_refused)
{
    /* A binary chunk made by a stock state, since the sandbox has no
     * string.dump. */
    lua_State *ref = luaL_newstate();
    luaL_openlibs(ref);
    cr_assert_eq(luaL_dostring(ref, "return string.dump(function() "
                                    "return 'ran' end)"),
                 0);
    size_t len;
    const char *bin = lua_tolstring(ref, -1, &len);

    ct_sandbox *sb = make(NULL, NULL);
    cr_assert_eq(ct_sandbox_load(sb, "bin", bin, len), CT_EPLUGIN);
    assert_contains(msg(sb), "attempt to load a binary chunk (mode is 't')");

    lua_State *L = ct_sandbox_state(sb);
    lua_pushlstring(L, bin, len);
    lua_setglobal(L, "bin");
    assert_run_str(sb, "local f, e = load(bin) return tostring(f) .. ' ' .. e",
                   "nil attempt to load a binary chunk (mode is 't')");
    assert_run_str(sb, "local f, e = load(bin, 'x', 'bt') return e",
                   "attempt to load a binary chunk (mode is 't')");
    cr_assert_eq(run(sb, "load(bin, 'x', 'b')", 0), CT_EPLUGIN);
    assert_contains(msg(sb), "mode 'b' is not allowed");
    /* A reader function that hands over the bytes piece by piece. */
    assert_run_str(sb,
                   "local i = 0 local f, e = load(function() i = i + 1 "
                   "return i <= #bin and bin:sub(i, i) or nil end) return e",
                   "attempt to load a binary chunk (mode is 't')");
    assert_run_str(sb, "return load('return ...', 'x', 't', {})('text ok')",
                   "text ok");
    lua_close(ref);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, load_environment_and_size)
{
    ct_sandbox_limits lim = {.max_chunk = 1000};
    ct_sandbox *sb = make(NULL, &lim);
    assert_run_str(sb,
                   "local env = {x = 'from env'} "
                   "return load('return x', 'c', 't', env)()",
                   "from env");
    cr_assert_eq(run(sb, "load(('-'):rep(2000))", 0), CT_ELIMIT);
    assert_contains(msg(sb), "chunk size limit of 1000 bytes exceeded in "
                             "test (load: chunk of 2000 bytes)");
    cr_assert_eq(run(sb, "load(function() return ('-- '):rep(100) end)", 0),
                 CT_ELIMIT);
    char big[1200];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(ct_sandbox_load(sb, "big", big, strlen(big)), CT_ELIMIT);
    assert_contains(msg(sb), "chunk size limit of 1000 bytes exceeded "
                             "loading big (1199 bytes)");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

/* ------------------------------------------------------------------ */
/* require and plugin files                                           */

static char *plugin_dir(void)
{
    char *dir = strdup(ct_test_tmpdir());
    char path[512];
    free(ct_test_write_file(dir, "init.lua",
                            "local util = require('util')\n"
                            "local rules = require('lib.rules')\n"
                            "return {\n"
                            "  triage = function(r) return {pathway = "
                            "rules.pathway(r), note = util.shout('ok')} end,\n"
                            "  rank = 42,\n"
                            "}\n"));
    free(ct_test_write_file(dir, "util.lua",
                            "loads = (loads or 0) + 1\n"
                            "return {shout = function(s) return s:upper() "
                            "end}\n"));
    snprintf(path, sizeof path, "%s/lib", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    free(ct_test_write_file(dir, "lib/rules.lua",
                            "local name, file = ...\n"
                            "where = name .. ' ' .. file\n"
                            "return {pathway = function(r) return r.age > 80 "
                            "and 'P2' or 'P1' end}\n"));
    free(ct_test_write_file(dir, "evil.so",
                            "\x7f"
                            "ELF not really"));
    free(ct_test_write_file(dir, "broken.lua", "local x = = 1\n"));
    free(ct_test_write_file(dir, "loops.lua", "while true do end\n"));
    free(ct_test_write_file(dir, "cycle_a.lua", "return require('cycle_b')"));
    free(ct_test_write_file(dir, "cycle_b.lua", "return require('cycle_a')"));
    free(ct_test_write_file(dir, "fails.lua", "error('module failed')"));
    snprintf(path, sizeof path, "%s/pipe.lua", dir);
    cr_assert_eq(mkfifo(path, 0600), 0); /* would block a reader */
    return dir;
}

static const char *const require_refused[][2] = {
    {"../x", "is not a module name"},
    {"/etc/passwd", "is not a module name"},
    {"lib/rules", "is not a module name"},
    {"..", "is not a module name"},
    {"", "is not a module name"},
    {"evil", "module 'evil' not found: no preloaded module and no file "
             "evil.lua or evil/init.lua in plugin 'hostile'"},
    {"lfs", "module 'lfs' not found"},
    {"socket.core", "module 'socket.core' not found"},
    {"missing", "module 'missing' not found"},
    {"pipe", "module 'pipe' not found"},
    {"broken", "broken.lua:1: unexpected symbol near '='"},
    {"cycle_a", "module 'cycle_a' requires itself"},
    {"fails", "fails.lua:1: module failed"},
};

Test(sandbox, require_own_files_only)
{
    char *dir = plugin_dir();
    ct_sandbox *sb = make(dir, NULL);
    assert_run_str(sb,
                   "local u = require('util') local u2 = require('util') "
                   "return u.shout('x') .. tostring(u == u2) .. loads",
                   "Xtrue1");
    assert_run_str(sb, "require('lib.rules') return where",
                   "lib.rules lib/rules.lua");
    for (size_t i = 0; i < CT_ARRAY_LEN(require_refused); i++) {
        char code[128];
        snprintf(code, sizeof code, "require('%s')", require_refused[i][0]);
        cr_assert_eq(run(sb, code, 0), CT_EPLUGIN, "%s: %s", code, msg(sb));
        assert_contains(msg(sb), require_refused[i][1]);
    }
    /* A failed module is not left half-loaded. */
    cr_assert_eq(run(sb, "require('fails')", 0), CT_EPLUGIN);
    assert_contains(msg(sb), "module failed");
    /* Standard modules are the sandbox's versions. */
    assert_run_str(sb,
                   "return tostring(require('string') == string and "
                   "require('os') == os and require('table') == table)",
                   "true");
    /* A module that runs away is under the caller's deadline. */
    cr_assert_eq(run(sb, "require('loops')", 0), CT_ETIMEOUT);
    assert_usable(sb);
    cr_assert_eq(ct_sandbox_close(sb), 0);
    ct_test_rmtree(dir);
    free(dir);
}

Test(sandbox, require_symlink_out_of_directory)
{
    char *dir = plugin_dir();
    char *outside = strdup(ct_test_tmpdir());
    char *target = ct_test_write_file(outside, "secret.lua", "return 'leaked'");
    char link[512];
    snprintf(link, sizeof link, "%s/sneaky.lua", dir);
    cr_assert_eq(symlink(target, link), 0);
    ct_sandbox *sb = make(dir, NULL);
    cr_assert_eq(run(sb, "return require('sneaky')", 0), CT_EPLUGIN);
    assert_contains(msg(sb), "outside the plugin directory");
    cr_assert_eq(ct_sandbox_load_file(sb, "sneaky.lua"), CT_EDENIED);
    cr_assert_eq(ct_sandbox_load_file(sb, "../x.lua"), CT_EINVAL);
    cr_assert_eq(ct_sandbox_load_file(sb, "/etc/passwd"), CT_EINVAL);
    cr_assert_eq(ct_sandbox_load_file(sb, "nothere.lua"), CT_ENOTFOUND);
    cr_assert_eq(ct_sandbox_close(sb), 0);
    free(target);
    ct_test_rmtree(outside);
    ct_test_rmtree(dir);
    free(outside);
    free(dir);
}

static int open_sdk(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_pushstring(L, "from C");
    lua_setfield(L, -2, "origin");
    return 1;
}

Test(sandbox, preloaded_modules)
{
    ct_sandbox *sb = make(NULL, NULL);
    cr_assert_eq(ct_sandbox_preload(sb, "caretide", open_sdk), 0);
    static const char sdk[] =
        "local name = ...\n"
        "return {name = name, greet = function(s) return 'hi ' .. s end}\n";
    cr_assert_eq(ct_sandbox_preload_source(sb, "caretide.test",
                                           "caretide/test.lua", sdk,
                                           strlen(sdk)),
                 0);
    assert_run_str(sb,
                   "local c = require('caretide') "
                   "local t, how = require('caretide.test') "
                   "return c.origin .. ' ' .. t.greet(t.name) .. ' ' .. how",
                   "from C hi caretide.test :preload:");
    /* Without a directory there are no own files. */
    cr_assert_eq(run(sb, "require('util')", 0), CT_EPLUGIN);
    assert_contains(msg(sb), "module 'util' not found");
    static const char bad[] = "return {";
    cr_assert_eq(
        ct_sandbox_preload_source(sb, "bad", "bad.lua", bad, strlen(bad)), 0);
    cr_assert_eq(run(sb, "require('bad')", 0), CT_EPLUGIN);
    assert_contains(msg(sb), "error in test: bad.lua:1: unexpected symbol "
                             "near <eof>");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, load_main_and_hooks)
{
    char *dir = plugin_dir();
    ct_sandbox *sb = make(dir, NULL);
    cr_assert_eq(ct_sandbox_get_hook(sb, "triage"), CT_ENOTFOUND);
    cr_assert_eq(ct_sandbox_load_main(sb, "init.lua"), 0, "%s", msg(sb));
    cr_assert_eq(ct_sandbox_load_main(sb, "init.lua"), CT_ESTATE);

    lua_State *L = ct_sandbox_state(sb);
    cr_assert_eq(ct_sandbox_get_hook(sb, "triage"), 0);
    json_t *arg = json_pack("{s:i, s:s}", "age", 84, "nhs", "9990000018");
    cr_assert_eq(ct_sandbox_push_json(sb, arg), 0);
    json_decref(arg);
    cr_assert_eq(ct_sandbox_call(sb, "triage", 1, 1), 0, "%s", msg(sb));
    json_t *res = NULL;
    cr_assert_eq(ct_sandbox_to_json(sb, -1, "result", 0, &res), 0, "%s",
                 msg(sb));
    lua_pop(L, 1);
    char *text = json_dumps(res, JSON_SORT_KEYS | JSON_COMPACT);
    cr_assert_str_eq(text, "{\"note\":\"OK\",\"pathway\":\"P2\"}");
    free(text);
    json_decref(res);

    cr_assert_eq(ct_sandbox_get_hook(sb, "admit"), CT_ENOTFOUND);
    cr_assert_eq(ct_sandbox_get_hook(sb, "rank"), CT_EPLUGIN);
    cr_assert_str_eq(msg(sb), "plugin 'hostile': hook 'rank' is a number, "
                              "expected a function");
    cr_assert_eq(lua_gettop(L), 0);
    cr_assert_eq(ct_sandbox_push_main(sb), 0);
    cr_assert(lua_istable(L, -1));
    lua_pop(L, 1);
    cr_assert_eq(ct_sandbox_close(sb), 0);
    ct_test_rmtree(dir);
    free(dir);
}

Test(sandbox, syntax_error_position)
{
    char *dir = plugin_dir();
    ct_sandbox *sb = make(dir, NULL);
    cr_assert_eq(ct_sandbox_load_main(sb, "broken.lua"), CT_EPLUGIN);
    const ct_sandbox_error *e = ct_sandbox_last_error(sb);
    char want[600];
    snprintf(want, sizeof want, "%s/broken.lua", dir);
    cr_assert_str_eq(e->file, want);
    cr_assert_eq(e->line, 1);
    cr_assert_str_eq(e->text, "unexpected symbol near '='");
    cr_assert_str_eq(e->detail, "broken.lua:1: unexpected symbol near '='");
    cr_assert_str_eq(e->message, "plugin 'hostile': broken.lua:1: unexpected "
                                 "symbol near '='");
    /* Strings loaded by the embedder report their chunk name. */
    const char *code = "x = 1\ny = = 2";
    cr_assert_eq(ct_sandbox_load(sb, "repl", code, strlen(code)), CT_EPLUGIN);
    cr_assert_str_eq(e->file, "repl");
    cr_assert_eq(e->line, 2);
    cr_assert_eq(ct_sandbox_load_main(sb, "nothere.lua"), CT_ENOTFOUND);
    cr_assert_eq(ct_sandbox_close(sb), 0);
    ct_test_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------------ */
/* print, os, clock                                                   */

static int64_t fixed_clock(void *ud)
{
    return *(int64_t *)ud;
}

Test(sandbox, os_on_host_clock)
{
    ct_sandbox *sb = make(NULL, NULL);
    int64_t now = 1700000000123; /* 2023-11-14T22:13:20.123Z */
    ct_sandbox_set_clock(sb, fixed_clock, &now);
    cr_assert_eq(ct_sandbox_now_ms(sb), now);
    assert_run_str(sb, "return tostring(os.time())", "1700000000");
    assert_run_str(sb, "return os.date('!%Y-%m-%d %H:%M:%S')",
                   "2023-11-14 22:13:20");
    assert_run_str(sb, "return os.date('!%Y-%m-%d', 0)", "1970-01-01");
    assert_run_str(sb,
                   "local t = os.date('!*t') "
                   "return t.year .. '-' .. t.month .. '-' .. t.day "
                   ".. ' ' .. t.hour .. ' ' .. t.wday .. ' ' .. t.yday",
                   "2023-11-14 22 3 318");
    assert_run_str(sb, "return tostring(os.difftime(10, 4))", "6.0");
    assert_run_str(sb,
                   "local t = os.time({year = 2024, month = 1, day = 31, "
                   "hour = 12}) "
                   "return os.date('%Y-%m-%d %H', t)",
                   "2024-01-31 12");
    cr_assert_eq(run(sb, "os.date('%Q')", 0), CT_EPLUGIN);
    assert_contains(msg(sb), "invalid conversion specifier '%Q'");
    cr_assert_eq(run(sb, "os.time({year = 2024})", 0), CT_EPLUGIN);
    assert_contains(msg(sb), "field 'month' missing in date table");
    now += 2500;
    assert_run_str(sb, "return tostring(os.clock() >= 2.5)", "true");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, print_goes_to_the_log)
{
    ct_sandbox *sb = make(NULL, NULL);
    cr_assert_eq(run(sb, "print('hello', 42, nil, true)", 0), 0);
    char *log = logged();
    assert_contains(log, "plugin:hostile: hello\t42\tnil\ttrue");
    free(log);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

/* ------------------------------------------------------------------ */
/* JSON                                                               */

static int to_json(ct_sandbox *sb, const char *code, unsigned flags, char **out)
{
    *out = NULL;
    int rc = run(sb, code, 1);
    cr_assert_eq(rc, 0, "%s", msg(sb));
    json_t *j = NULL;
    rc = ct_sandbox_to_json(sb, -1, "result", flags, &j);
    lua_pop(ct_sandbox_state(sb), 1);
    if (rc == 0) {
        *out = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(j);
    }
    return rc;
}

static void assert_json(ct_sandbox *sb, const char *code, unsigned flags,
                        const char *want)
{
    char *got;
    cr_assert_eq(to_json(sb, code, flags, &got), 0, "%s: %s", code, msg(sb));
    cr_assert_str_eq(got, want, "%s", code);
    free(got);
}

static void assert_json_fails(ct_sandbox *sb, const char *code, int want,
                              const char *message)
{
    char *got;
    int rc = to_json(sb, code, 0, &got);
    cr_assert_eq(rc, want, "%s: %s", code, ct_err_name(rc));
    cr_assert_str_eq(msg(sb), message, "%s", code);
    cr_assert_eq(lua_gettop(ct_sandbox_state(sb)), 0);
}

/* Runs fn (a chunk given like) and converts its result both ways: plain
 * and against like. Returns the second; *plain the first (NULL on error,
 * with *plain_rc and *plain_msg). */
static json_t *both_ways(ct_sandbox *sb, const char *fn, const json_t *like,
                         int *plain_rc, char **plain_msg, json_t **plain,
                         int *rc)
{
    lua_State *L = ct_sandbox_state(sb);
    cr_assert_eq(ct_sandbox_load(sb, "fn", fn, strlen(fn)), 0);
    cr_assert_eq(ct_sandbox_push_json(sb, like), 0);
    cr_assert_eq(ct_sandbox_call(sb, "fn", 1, 1), 0, "%s", msg(sb));
    *plain_rc = ct_sandbox_to_json(sb, -1, "result", 0, plain);
    *plain_msg = strdup(msg(sb));
    json_t *out = NULL;
    *rc = ct_sandbox_to_json_like(sb, -1, "result", 0, like, "bed", &out);
    lua_pop(L, 1);
    cr_assert_eq(lua_gettop(L), 0);
    return out;
}

/* Issue 18: rank's answer is mostly the candidates it was given. Parts
 * equal to them are taken from them (shared, not copied); the result is
 * the plain conversion's, and so is every failure and its message. */
Test(sandbox, lua_to_json_like_shares_what_came_back_unchanged)
{
    ct_sandbox *sb = make(NULL, NULL);
    json_error_t jerr;
    json_t *like = json_loads(
        "[{\"bed\":\"A\",\"tags\":[\"x\",\"y\"],\"n\":1,\"r\":0.5,"
        "\"ok\":true,\"cohort\":{\"covid\":\"negative\"}},"
        "{\"bed\":\"B\",\"tags\":[],\"n\":2,\"r\":-0.0},"
        "{\"bed\":\"C\",\"tags\":[\"z\"],\"n\":3}]",
        0, &jerr);
    cr_assert_not_null(like);
    /* Reordered, one dropped, one copied and annotated, one changed in a
     * nested table. */
    static const char fn[] =
        "local c = ...\n"
        "local a = {}\n"
        "for k, v in pairs(c[1]) do a[k] = v end\n"
        "a.score = 2.5\n"
        "c[3].tags[1] = 'w'\n"
        "return {c[3], a, c[2]}";
    int prc, rc;
    char *pmsg;
    json_t *plain, *out = both_ways(sb, fn, like, &prc, &pmsg, &plain, &rc);
    cr_assert_eq(prc, 0);
    cr_assert_eq(rc, 0, "%s", msg(sb));
    char *p = json_dumps(plain, JSON_SORT_KEYS | JSON_COMPACT);
    char *o = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
    cr_assert_str_eq(o, p);
    json_t *c3 = json_array_get(out, 0), *a = json_array_get(out, 1);
    /* C changed inside: a new object, its unchanged bed shared. */
    cr_assert_neq(c3, json_array_get(like, 2));
    cr_assert_eq(json_object_get(c3, "bed"),
                 json_object_get(json_array_get(like, 2), "bed"));
    /* A copied with a score: new, its tags and cohort tables shared. */
    cr_assert_neq(a, json_array_get(like, 0));
    cr_assert_eq(json_object_get(a, "tags"),
                 json_object_get(json_array_get(like, 0), "tags"));
    cr_assert_eq(json_object_get(a, "cohort"),
                 json_object_get(json_array_get(like, 0), "cohort"));
    /* B unchanged but for its empty tags, which convert to an object as
     * they always have: so B is rebuilt, -0.0 kept. */
    cr_assert(json_is_object(json_object_get(json_array_get(out, 2), "tags")));
    free(p);
    free(o);
    free(pmsg);
    json_decref(plain);
    json_decref(out);

    /* Returned as given: the very objects. */
    static const char same[] = "local c = ...\nreturn {c[1], c[3]}";
    out = both_ways(sb, same, like, &prc, &pmsg, &plain, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_eq(json_array_get(out, 0), json_array_get(like, 0));
    cr_assert_eq(json_array_get(out, 1), json_array_get(like, 2));
    cr_assert(json_equal(out, plain));
    free(pmsg);
    json_decref(plain);
    json_decref(out);
    cr_assert_eq(ct_sandbox_close(sb), 0);

    /* Limits: the same failure, the same words, shared or not. */
    ct_sandbox_limits tight = calm;
    tight.json_max_values = 12;
    sb = make(NULL, &tight);
    out = both_ways(sb, same, like, &prc, &pmsg, &plain, &rc);
    cr_assert_eq(prc, CT_ELIMIT);
    cr_assert_eq(rc, CT_ELIMIT);
    cr_assert_null(out);
    cr_assert_str_eq(msg(sb), pmsg);
    free(pmsg);
    cr_assert_eq(ct_sandbox_close(sb), 0);
    tight = calm;
    tight.json_max_bytes = 150;
    sb = make(NULL, &tight);
    out = both_ways(sb, same, like, &prc, &pmsg, &plain, &rc);
    cr_assert_eq(prc, CT_ELIMIT);
    cr_assert_eq(rc, CT_ELIMIT);
    cr_assert_str_eq(msg(sb), pmsg);
    free(pmsg);
    cr_assert_eq(ct_sandbox_close(sb), 0);
    json_decref(like);
}

Test(sandbox, lua_to_json)
{
    ct_sandbox *sb = make(NULL, NULL);
    assert_json(sb, "return {a = 1, b = 'x', c = {1, 2.5, true}, d = {}}", 0,
                "{\"a\":1,\"b\":\"x\",\"c\":[1,2.5,true],\"d\":{}}");
    assert_json(sb, "return {}", CT_SANDBOX_JSON_EMPTY_ARRAY, "[]");
    assert_json(sb, "return nil", 0, "null");
    assert_json(sb, "return 'caf\\u{e9}'", 0, "\"caf\xc3\xa9\"");
    assert_json(sb,
                "return setmetatable({}, {__index = function() "
                "while true do end end})",
                0, "{}");
    assert_json(sb, "local shared = {1} return {shared, shared}", 0,
                "[[1],[1]]");

    assert_json_fails(sb, "local t = {a = {b = {}}} t.a.b.c = t return t",
                      CT_EPLUGIN,
                      "plugin 'hostile': result has a cycle at result.a.b.c");
    assert_json_fails(sb, "local t = {1, 2} t[3] = {t} return t", CT_EPLUGIN,
                      "plugin 'hostile': result has a cycle at "
                      "result[3][1]");
    assert_json_fails(sb, "return {f = print}", CT_EPLUGIN,
                      "plugin 'hostile': result.f is a function, which "
                      "cannot cross into the host");
    assert_json_fails(sb, "return {co = coroutine.create(print)}", CT_EPLUGIN,
                      "plugin 'hostile': result.co is a thread, which "
                      "cannot cross into the host");
    assert_json_fails(sb, "return {score = 0/0}", CT_EPLUGIN,
                      "plugin 'hostile': result.score is not a finite "
                      "number (nan)");
    assert_json_fails(sb, "return {{x = math.huge}}", CT_EPLUGIN,
                      "plugin 'hostile': result[1].x is not a finite "
                      "number (inf)");
    assert_json_fails(sb, "return {1, 2, x = 3}", CT_EPLUGIN,
                      "plugin 'hostile': result mixes string keys and array "
                      "indices");
    assert_json_fails(sb, "return {[1] = 1, [3] = 3}", CT_EPLUGIN,
                      "plugin 'hostile': result is an array with holes (2 "
                      "values, largest index 3)");
    assert_json_fails(sb, "return {[1.5] = 1}", CT_EPLUGIN,
                      "plugin 'hostile': result has a key 1.5; tables must "
                      "have string keys or be arrays indexed 1..n");
    assert_json_fails(sb, "return {[true] = 1}", CT_EPLUGIN,
                      "plugin 'hostile': result has a key true; tables must "
                      "have string keys or be arrays indexed 1..n");
    assert_json_fails(sb, "return {['odd key'] = {[0] = 1}}", CT_EPLUGIN,
                      "plugin 'hostile': result[\"odd key\"] has a key 0; "
                      "tables must have string keys or be arrays indexed "
                      "1..n");
    assert_json_fails(sb, "return {name = '\\xff'}", CT_EPLUGIN,
                      "plugin 'hostile': result.name is not valid UTF-8");
    assert_json_fails(sb, "return {['\\xff'] = 1}", CT_EPLUGIN,
                      "plugin 'hostile': result[\"\xff\"]: key is not "
                      "valid UTF-8");
    assert_json_fails(sb,
                      "local t = {} local c = t for i = 1, 40 do c.n = {} "
                      "c = c.n end return t",
                      CT_ELIMIT,
                      "plugin 'hostile': result is nested deeper than the "
                      "JSON depth limit of 32 (at result.n.n.n.n.n.n.n.n.n."
                      "n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n)");
    assert_json_fails(sb,
                      "local t = {} for i = 1, 200000 do t[i] = i end "
                      "return t",
                      CT_ELIMIT,
                      "plugin 'hostile': result has more than the JSON "
                      "limit of 100000 values");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, json_to_lua)
{
    ct_sandbox *sb = make(NULL, NULL);
    json_error_t jerr;
    json_t *j = json_loads("{\"name\":\"Ada\",\"age\":84,\"score\":0.5,"
                           "\"tags\":[\"a\",\"b\"],\"ok\":true,\"gone\":null,"
                           "\"nested\":{\"list\":[1,null,3]}}",
                           0, &jerr);
    cr_assert_not_null(j);
    lua_State *L = ct_sandbox_state(sb);
    static const char fn[] =
        "local v = ...\n"
        "return table.concat({v.name, math.type(v.age), math.type(v.score), "
        "#v.tags, v.tags[2], tostring(v.ok), tostring(v.gone), "
        "tostring(v.nested.list[2]), v.nested.list[3]}, ',')";
    cr_assert_eq(ct_sandbox_load(sb, "fn", fn, strlen(fn)), 0);
    cr_assert_eq(ct_sandbox_push_json(sb, j), 0);
    cr_assert_eq(ct_sandbox_call(sb, "fn", 1, 1), 0, "%s", msg(sb));
    cr_assert_str_eq(lua_tostring(L, -1),
                     "Ada,integer,float,2,b,true,nil,nil,3");
    lua_pop(L, 1);
    json_decref(j);

    /* Round trip. */
    j = json_loads("{\"a\":[1,2,{\"b\":\"c\"}],\"d\":-1.25,\"e\":false}", 0,
                   &jerr);
    cr_assert_eq(ct_sandbox_push_json(sb, j), 0);
    json_t *back = NULL;
    cr_assert_eq(ct_sandbox_to_json(sb, -1, "value", 0, &back), 0);
    lua_pop(L, 1);
    cr_assert(json_equal(j, back));
    json_decref(back);
    json_decref(j);

    /* Too deep, and over the memory cap. */
    json_t *deep = json_array();
    for (int i = 0; i < 40; i++) {
        json_t *outer = json_array();
        json_array_append_new(outer, deep);
        deep = outer;
    }
    cr_assert_eq(ct_sandbox_push_json(sb, deep), CT_ELIMIT);
    assert_contains(msg(sb), "JSON depth limit of 32 exceeded");
    json_decref(deep);
    cr_assert_eq(lua_gettop(L), 0);
    cr_assert_eq(ct_sandbox_close(sb), 0);

    ct_sandbox_limits tiny = {.memory = (size_t)1 << 20};
    sb = make(NULL, &tiny);
    json_t *big = json_array();
    for (int i = 0; i < 100000; i++)
        json_array_append_new(big, json_string("a string of some length"));
    cr_assert_eq(ct_sandbox_push_json(sb, big), CT_ELIMIT);
    assert_contains(msg(sb), "memory limit of 1 MiB exceeded");
    json_decref(big);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

/* ------------------------------------------------------------------ */
/* API: references, setup, misuse                                     */

Test(sandbox, references_are_counted)
{
    ct_sandbox *sb = make(NULL, NULL);
    lua_State *L = ct_sandbox_state(sb);
    int ref;
    cr_assert_eq(run(sb, "return function(x) return x * 2 end", 1), 0);
    cr_assert_eq(ct_sandbox_ref(sb, "test handler", &ref), 0);
    cr_assert_eq(lua_gettop(L), 0);
    cr_assert_eq(ct_sandbox_ref_count(sb), 1);
    cr_assert_eq(ct_sandbox_push_ref(sb, ref), 0);
    lua_pushinteger(L, 21);
    cr_assert_eq(ct_sandbox_call(sb, "handler", 1, 1), 0);
    cr_assert_eq(lua_tointeger(L, -1), 42);
    lua_pop(L, 1);
    ct_sandbox_unref(sb, ref);
    cr_assert_eq(ct_sandbox_ref_count(sb), 0);
    cr_assert_eq(ct_sandbox_close(sb), 0);

    /* A leaked reference makes close fail loudly. */
    sb = make(NULL, NULL);
    L = ct_sandbox_state(sb);
    lua_pushinteger(L, 7);
    cr_assert_eq(ct_sandbox_ref(sb, "forgotten owner", &ref), 0);
    cr_assert_eq(ct_sandbox_close(sb), CT_ESTATE);
    char *log = logged();
    assert_contains(log, "1 registry reference(s) leaked");
#ifdef CT_DEBUG_REFS
    assert_contains(log, "held by forgotten owner");
#endif
    free(log);
}

struct reg_state {
    int calls;
};

/* double(n) -> n * 2 */
static int l_double(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    struct reg_state *rs = ct_sandbox_userdata(ct_sandbox_from_state(L));
    rs->calls++;
    lua_pushinteger(L, n * 2);
    return 1;
}

/* spin(): host work that respects the deadline */
static int l_spin(lua_State *L)
{
    for (;;)
        ct_sandbox_check_deadline(L);
    return 0;
}

static const luaL_Reg host_funcs[] = {
    {"double", l_double},
    {"spin", l_spin},
    {NULL, NULL},
};

static int register_host(lua_State *L)
{
    cr_assert_str_eq(lua_touserdata(L, 1), "ud");
    luaL_newlib(L, host_funcs);
    lua_setglobal(L, "host");
    return 0;
}

static int failing_setup(lua_State *L)
{
    return luaL_error(L, "setup went wrong");
}

Test(sandbox, setup_registers_host_functions)
{
    ct_sandbox *sb = make(NULL, NULL);
    struct reg_state rs = {0};
    ct_sandbox_set_userdata(sb, &rs);
    cr_assert_eq(ct_sandbox_userdata(sb), &rs);
    cr_assert_str_eq(ct_sandbox_name(sb), "hostile");
    cr_assert_eq(ct_sandbox_setup(sb, register_host, "ud"), 0);
    assert_run_str(sb, "return tostring(host.double(21))", "42");
    cr_assert_eq(rs.calls, 1);
    cr_assert_eq(run(sb, "host.double('x')", 0), CT_EPLUGIN);
    assert_contains(msg(sb), "bad argument #1 to 'double'");
    cr_assert_eq(run(sb, "pcall(host.spin) while true do end", 0), CT_ETIMEOUT);
    cr_assert_eq(ct_sandbox_setup(sb, failing_setup, NULL), CT_EPLUGIN);
    assert_contains(msg(sb), "setup went wrong");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox, bad_arguments)
{
    ct_sandbox *sb;
    cr_assert_eq(ct_sandbox_new("", NULL, NULL, &sb), CT_EINVAL);
    cr_assert_null(sb);
    cr_assert_eq(ct_sandbox_new("a b", NULL, NULL, &sb), CT_EINVAL);
    cr_assert_eq(ct_sandbox_new("x", "/nonexistent/dir", NULL, &sb),
                 CT_ENOTFOUND);
    ct_sandbox_limits lim = {.memory = 1000};
    cr_assert_eq(ct_sandbox_new("x", NULL, &lim, &sb), CT_EINVAL);
    lim = (ct_sandbox_limits){.deadline_ms = -1};
    cr_assert_eq(ct_sandbox_new("x", NULL, &lim, &sb), CT_EINVAL);
    ct_sandbox_limits def;
    ct_sandbox_limits_default(&def);
    cr_assert_eq(def.memory, (size_t)64 << 20);
    cr_assert_eq(def.deadline_ms, 50);

    sb = make(NULL, NULL);
    cr_assert_eq(ct_sandbox_call(sb, "nothing", 0, 0), CT_ESTATE);
    /* Calling a non-function is the plugin's error, not a crash. */
    lua_pushinteger(ct_sandbox_state(sb), 1);
    cr_assert_eq(ct_sandbox_call(sb, "number", 0, 0), CT_EPLUGIN);
    assert_contains(msg(sb), "attempt to call a number value");
    cr_assert_eq(ct_sandbox_close(sb), 0);
    cr_assert_eq(ct_sandbox_close(NULL), 0);
}

/* ------------------------------------------------------------------ */
/* Line callback (coverage)                                           */

struct lines_seen {
    int hits[16]; /* per line of the chunk "lines" */
    int other;    /* lines of other chunks */
};

static void count_line(void *ud, const char *source, int line)
{
    struct lines_seen *ls = ud;
    if (strcmp(source, "@lines") == 0 && line > 0 && line < 16)
        ls->hits[line]++;
    else
        ls->other++;
}

Test(sandbox, line_hook_sees_every_line_run)
{
    ct_sandbox *sb = make(NULL, NULL);
    struct lines_seen ls = {0};
    ct_sandbox_set_line_hook(sb, count_line, &ls);
    static const char code[] =
        "local n = 0\n"                           /* 1 */
        "for i = 1, 3 do\n"                       /* 2 */
        "  n = n + i\n"                           /* 3 */
        "end\n"                                   /* 4 */
        "local co = coroutine.wrap(function()\n"  /* 5 */
        "  coroutine.yield(n)\n"                  /* 6 */
        "end)\n"                                  /* 7 */
        "if n > 100 then\n"                       /* 8 */
        "  n = 0\n"                               /* 9 */
        "end\n"                                   /* 10 */
        "return co()\n";                          /* 11 */
    cr_assert_eq(ct_sandbox_load(sb, "lines", code, strlen(code)), 0);
    cr_assert_eq(ct_sandbox_call(sb, "test", 0, 1), 0);
    lua_State *L = ct_sandbox_state(sb);
    cr_assert_eq(lua_tointeger(L, -1), 6);
    lua_settop(L, 0);
    cr_assert_eq(ls.hits[1], 1);
    cr_assert_geq(ls.hits[3], 3, "the loop body, three times");
    cr_assert_eq(ls.hits[6], 1, "inside the coroutine");
    cr_assert_eq(ls.hits[8], 1);
    cr_assert_eq(ls.hits[9], 0, "the branch not taken");
    cr_assert_eq(ls.hits[11], 1);

    /* The deadline still holds with line events on. */
    cr_assert_eq(run(sb, "while true do end", 0), CT_ETIMEOUT);
    cr_assert_gt(ls.other, 0, "lines of the chunk 'test'");

    /* Off: nothing more is counted. */
    ct_sandbox_set_line_hook(sb, NULL, NULL);
    memset(&ls, 0, sizeof ls);
    cr_assert_eq(ct_sandbox_load(sb, "lines", code, strlen(code)), 0);
    cr_assert_eq(ct_sandbox_call(sb, "test", 0, 0), 0);
    cr_assert_eq(ls.hits[1] + ls.hits[3] + ls.other, 0);
    cr_assert_eq(run(sb, "while true do end", 0), CT_ETIMEOUT);
    cr_assert_eq(ct_sandbox_close(sb), 0);
}
