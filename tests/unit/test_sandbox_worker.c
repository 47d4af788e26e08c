/*
 * The sandbox's watchdog (host/sandbox_worker.c): calls on a thread of
 * their own, given up when one instruction outlives the deadline
 * (tests/lua/hostile/table_rehash.lua, a table store that rehashes
 * colliding keys for a second or more), and a host that nothing reaches
 * once it has given up. Nothing here is timed: "given up in time" is
 * "returned while the instruction was still running", which the sandbox
 * itself reports.
 */
#define _GNU_SOURCE /* sched_getcpu, pthread_setaffinity_np */
#include "error.h"
#include "log.h"
#include "sandbox.h"

#include <criterion/criterion.h>
#include <lauxlib.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOSTILE_DIR CT_SOURCE_DIR "/tests/lua/hostile"
/* The rehash of 2^15 colliding keys: a second or more on these machines,
 * the keys themselves a few milliseconds. */
#define K "16"

static FILE *log_file;

static void quiet_log(void)
{
    log_file = tmpfile();
    cr_assert_not_null(log_file);
    ct_log_set_stream(log_file);
}

static void restore_log(void)
{
    ct_log_set_stream(NULL);
    if (log_file)
        fclose(log_file);
    log_file = NULL;
}

TestSuite(sandbox_worker, .init = quiet_log, .fini = restore_log);

static const ct_sandbox_limits lim = {.deadline_ms = 100};

/* Host functions the chunks call. touched counts host work done. */
static int touched;

/* boom() raises, as host functions do on bad arguments */
static int l_boom(lua_State *L)
{
    return luaL_error(L, "boom");
}

/* touch() -> true: host work */
static int l_touch(lua_State *L)
{
    touched++;
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg host_funcs[] = {
    {"boom", l_boom},
    {"touch", l_touch},
    {NULL, NULL},
};

static int open_host(lua_State *L)
{
    lua_newtable(L);
    ct_sandbox_setfuncs_timed(L, host_funcs);
    lua_setglobal(L, "host");
    return 0;
}

static ct_sandbox *make(void)
{
    ct_sandbox *sb = NULL;
    int rc = ct_sandbox_new("stuck", HOSTILE_DIR, &lim, &sb);
    cr_assert_eq(rc, 0, "%s", ct_err_name(rc));
    cr_assert_eq(ct_sandbox_set_watchdog(sb, 100), 0);
    cr_assert_eq(ct_sandbox_setup(sb, open_host, NULL), 0);
    touched = 0;
    return sb;
}

static const char *msg(ct_sandbox *sb)
{
    return ct_sandbox_last_error(sb)->message;
}

/* Runs code (with the rehash chunk as the global `rehash`). */
static int run(ct_sandbox *sb, const char *code)
{
    cr_assert_eq(ct_sandbox_load_file(sb, "table_rehash.lua"), 0, "%s",
                 msg(sb));
    lua_setglobal(ct_sandbox_state(sb), "rehash");
    cr_assert_eq(ct_sandbox_load(sb, "test", code, strlen(code)), 0, "%s",
                 msg(sb));
    return ct_sandbox_call(sb, "test", 0, 1);
}

/* The call came back while the instruction still ran, and was given up. */
static void assert_abandoned(ct_sandbox *sb, int rc)
{
    cr_assert_eq(rc, CT_ETIMEOUT, "%s: %s", ct_err_name(rc), msg(sb));
    cr_assert(strstr(msg(sb), "abandoned") != NULL, "%s", msg(sb));
    int64_t running = -1;
    cr_assert(ct_sandbox_abandoned(sb, &running));
    cr_assert_gt(running, 0, "the stuck call had already returned");
}

/* Closes an abandoned sandbox and waits (bounded, for a hung test only)
 * for its worker to free it when the instruction ends. */
static void close_and_drain(ct_sandbox *sb)
{
    cr_assert_eq(ct_sandbox_close(sb), 0);
    for (int i = 0; i < 6000 && ct_sandbox_retired_running() > 0; i++)
        usleep(50 * 1000);
    cr_assert_eq(ct_sandbox_retired_running(), 0,
                 "the abandoned call never ended");
}

Test(sandbox_worker, ordinary_calls_run_as_before)
{
    ct_sandbox *sb = make();
    const char *code = "local co = coroutine.wrap(function(a) "
                       "  coroutine.yield(a * 2) end) "
                       "local ok = pcall(host.boom) "
                       "return tostring(co(21)) .. tostring(ok) .. "
                       "tostring(host.touch())";
    cr_assert_eq(ct_sandbox_load(sb, "test", code, strlen(code)), 0);
    cr_assert_eq(ct_sandbox_call(sb, "test", 0, 1), 0, "%s", msg(sb));
    cr_assert_str_eq(lua_tostring(ct_sandbox_state(sb), -1), "42falsetrue");
    lua_settop(ct_sandbox_state(sb), 0);
    cr_assert_eq(touched, 1);
    /* A loop is stopped by the deadline, not abandoned. */
    const char *loop = "while true do end";
    cr_assert_eq(ct_sandbox_load(sb, "loop", loop, strlen(loop)), 0);
    cr_assert_eq(ct_sandbox_call(sb, "loop", 0, 0), CT_ETIMEOUT);
    cr_assert(!ct_sandbox_abandoned(sb, NULL));
    cr_assert(strstr(msg(sb), "abandoned") == NULL, "%s", msg(sb));
    cr_assert_eq(ct_sandbox_load(sb, "test", code, strlen(code)), 0);
    cr_assert_eq(ct_sandbox_call(sb, "test", 0, 1), 0, "%s", msg(sb));
    lua_settop(ct_sandbox_state(sb), 0);
    cr_assert_eq(ct_sandbox_close(sb), 0);
    cr_assert_eq(ct_sandbox_retired_running(), 0);
}

Test(sandbox_worker, one_long_instruction_is_abandoned)
{
    ct_sandbox *sb = make();
    assert_abandoned(sb, run(sb, "return rehash(" K ")"));
    /* Nothing runs in it again; its figures stay as they were. */
    const char *code = "return 1";
    cr_assert_eq(ct_sandbox_load(sb, "again", code, strlen(code)),
                 CT_ESTATE);
    json_t *v = json_integer(1);
    cr_assert_eq(ct_sandbox_push_json(sb, v), CT_ESTATE);
    json_decref(v);
    cr_assert_eq(ct_sandbox_push_main(sb), CT_ESTATE);
    ct_sandbox_stats st;
    ct_sandbox_stats_get(sb, &st);
    cr_assert_eq(st.timeouts, 1);
    cr_assert_gt(st.mem_used, 0);
    close_and_drain(sb);
}

/* The host is never reached after the call is given up: the store that
 * host functions use belongs to the caller again. */
Test(sandbox_worker, no_host_function_runs_after_abandon)
{
    ct_sandbox *sb = make();
    assert_abandoned(sb, run(sb, "local go = rehash(" K ", true) "
                                 "host.touch() go() host.touch() "
                                 "return os.time()"));
    close_and_drain(sb);
    cr_assert_eq(touched, 1);
}

/* A host function that raised left the gate without passing it again;
 * the worker must be seen back in Lua before the instruction that hangs,
 * however the error was caught. */
Test(sandbox_worker, a_host_error_caught_by_pcall_does_not_hold_the_gate)
{
    ct_sandbox *sb = make();
    assert_abandoned(sb, run(sb, "local go = rehash(" K ", true) "
                                 "pcall(host.boom) return go()"));
    close_and_drain(sb);
}

Test(sandbox_worker, a_host_error_in_xpcall_handler_does_not_hold_the_gate)
{
    ct_sandbox *sb = make();
    assert_abandoned(sb, run(sb, "local go = rehash(" K ", true) "
                                 "return xpcall(host.boom, go)"));
    close_and_drain(sb);
}

Test(sandbox_worker, a_host_error_in_a_close_handler_does_not_hold_the_gate)
{
    ct_sandbox *sb = make();
    assert_abandoned(
        sb, run(sb, "local go = rehash(" K ", true) "
                    "return pcall(function() "
                    "local guard <close> = setmetatable({}, {__close = go}) "
                    "host.boom() end)"));
    close_and_drain(sb);
}

Test(sandbox_worker, a_host_error_in_a_coroutine_does_not_hold_the_gate)
{
    ct_sandbox *sb = make();
    assert_abandoned(sb, run(sb, "local go = rehash(" K ", true) "
                                 "coroutine.resume(coroutine.create("
                                 "host.boom)) "
                                 "pcall(coroutine.wrap(host.boom)) "
                                 "return go()"));
    close_and_drain(sb);
}

/* The host gate (ct_sandbox_set_host_gate), as a reload uses it while the
 * loop goes on: held exactly while a host function runs, released however
 * the function leaves (returns, raises into pcall, an xpcall handler, a
 * __close handler, a coroutine, or out of the call). held() is a plain C
 * function (not through the gate) that says whether the gate is held, so
 * the chunk can look from Lua code. */
static int gate_enters, gate_leaves;
static bool gate_held, touched_held;

static void test_gate_enter(void *ud)
{
    (void)ud;
    cr_assert(!gate_held, "the gate was entered twice");
    gate_held = true;
    gate_enters++;
}

static void test_gate_leave(void *ud)
{
    (void)ud;
    cr_assert(gate_held, "the gate was left without being entered");
    gate_held = false;
    gate_leaves++;
}

static int l_held(lua_State *L)
{
    lua_pushboolean(L, gate_held);
    return 1;
}

static int l_touch_held(lua_State *L)
{
    touched_held = gate_held;
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg gated_funcs[] = {
    {"boom", l_boom},
    {"touch", l_touch_held},
    {NULL, NULL},
};

static int open_gated(lua_State *L)
{
    lua_newtable(L);
    ct_sandbox_setfuncs_timed(L, gated_funcs);
    lua_setglobal(L, "host");
    lua_register(L, "held", l_held);
    return 0;
}

Test(sandbox_worker, the_host_gate_is_held_only_inside_host_functions)
{
    ct_sandbox *sb = NULL;
    cr_assert_eq(ct_sandbox_new("gated", HOSTILE_DIR, &lim, &sb), 0);
    cr_assert_eq(ct_sandbox_set_host_gate(sb, test_gate_enter,
                                          test_gate_leave, NULL),
                 CT_EINVAL, "a gate needs the watchdog's thread");
    cr_assert_eq(ct_sandbox_set_watchdog(sb, 100), 0);
    cr_assert_eq(ct_sandbox_setup(sb, open_gated, NULL), 0);
    cr_assert_eq(ct_sandbox_set_host_gate(sb, test_gate_enter,
                                          test_gate_leave, NULL),
                 0);
    gate_enters = gate_leaves = 0;
    gate_held = touched_held = false;
    const char *code =
        "local r = {} "
        "local function note() r[#r + 1] = tostring(held()) end "
        "note() host.touch() note() "
        "pcall(host.boom) note() "
        "xpcall(host.boom, note) note() "
        "coroutine.resume(coroutine.create(host.boom)) note() "
        "pcall(coroutine.wrap(host.boom)) note() "
        "pcall(function() "
        "  local g <close> = setmetatable({}, {__close = note}) "
        "  host.boom() end) note() "
        "os.time() note() "
        "return table.concat(r, ' ')";
    cr_assert_eq(ct_sandbox_load(sb, "test", code, strlen(code)), 0);
    cr_assert_eq(ct_sandbox_call(sb, "test", 0, 1), 0, "%s", msg(sb));
    const char *got = lua_tostring(ct_sandbox_state(sb), -1);
    cr_assert_str_eq(got, "false false false false false false false "
                          "false false false");
    lua_settop(ct_sandbox_state(sb), 0);
    cr_assert(touched_held, "a host function ran without the gate");
    cr_assert_geq(gate_enters, 7);
    cr_assert_eq(gate_enters, gate_leaves);
    /* An error out of a host function that ends the call. */
    const char *out = "host.boom()";
    cr_assert_eq(ct_sandbox_load(sb, "out", out, strlen(out)), 0);
    cr_assert_eq(ct_sandbox_call(sb, "out", 0, 0), CT_EPLUGIN, "%s",
                 msg(sb));
    cr_assert(!gate_held, "the call ended with the gate held");
    cr_assert_eq(gate_enters, gate_leaves);
    cr_assert_eq(ct_sandbox_set_host_gate(sb, NULL, NULL, NULL), 0);
    int before = gate_enters;
    cr_assert_eq(ct_sandbox_load(sb, "test", code, strlen(code)), 0);
    cr_assert_eq(ct_sandbox_call(sb, "test", 0, 1), 0, "%s", msg(sb));
    lua_settop(ct_sandbox_state(sb), 0);
    cr_assert_eq(gate_enters, before, "a cleared gate was still used");
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

/* ---- which clock the deadline counts ---------------------------------- */

/* Threads that spin on one CPU, to take it from the call under test. */
typedef struct spinner {
    pthread_t thread;
    int cpu;
} spinner;

static atomic_bool spin_stop;

static void pin_to(pthread_t t, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    cr_assert_eq(pthread_setaffinity_np(t, sizeof set, &set), 0);
}

static void *spin(void *arg)
{
    spinner *s = arg;
    pin_to(pthread_self(), s->cpu);
    /* Bounded: a test that hangs stops spinning after 30 s anyway. */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    volatile unsigned long x = 0;
    while (!atomic_load(&spin_stop)) {
        for (int i = 0; i < 100000; i++)
            x += (unsigned long)i;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 30)
            break;
    }
    return NULL;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define SPINNERS 4
static const ct_sandbox_limits slow_lim = {.deadline_ms = 300};
static const char *const work =
    "local n = ... local x = 0 for i = 1, n do x = x + i % 7 end return x";

/* Runs work(n) once; its CPU time in ns, or the error. */
static int run_work(ct_sandbox *sb, lua_Integer n, int64_t *cpu_ns)
{
    cr_assert_eq(ct_sandbox_load(sb, "work", work, strlen(work)), 0);
    lua_pushinteger(ct_sandbox_state(sb), n);
    int rc = ct_sandbox_call(sb, "work", 1, 0);
    *cpu_ns = ct_sandbox_last_call_ns(sb);
    return rc;
}

/* A call that needs a third of its deadline in CPU time, slowed to over
 * its deadline in wall time by threads spinning on the same CPU, is not
 * failed: the machine's load is not the plugin's time. (Counted on the
 * wall clock, as before December 2026, it failed with CT_ETIMEOUT.) */
static void preempted_call_passes(bool watchdog)
{
    int cpu = sched_getcpu();
    cr_assert_geq(cpu, 0);
    pin_to(pthread_self(), cpu); /* the worker made below inherits it */
    ct_sandbox *sb = NULL;
    cr_assert_eq(ct_sandbox_new("preempted", HOSTILE_DIR, &slow_lim, &sb), 0);
    if (watchdog)
        cr_assert_eq(ct_sandbox_set_watchdog(sb, 100), 0);
    cr_assert_eq(ct_sandbox_setup(sb, open_host, NULL), 0);
    /* Calibrated here, alone on the CPU: n for about 100 ms of CPU. */
    int64_t cpu_ns = 0;
    lua_Integer n = 200000;
    for (;;) {
        cr_assert_eq(run_work(sb, n, &cpu_ns), 0, "%s", msg(sb));
        if (cpu_ns >= 20 * 1000000LL)
            break;
        n *= 4;
    }
    n = (lua_Integer)((double)n * 100e6 / (double)cpu_ns);

    spinner s[SPINNERS];
    atomic_store(&spin_stop, false);
    for (int i = 0; i < SPINNERS; i++) {
        s[i].cpu = cpu;
        cr_assert_eq(pthread_create(&s[i].thread, NULL, spin, &s[i]), 0);
    }
    int64_t t0 = wall_ns();
    int rc = run_work(sb, n, &cpu_ns);
    int64_t wall = wall_ns() - t0;
    atomic_store(&spin_stop, true);
    for (int i = 0; i < SPINNERS; i++)
        pthread_join(s[i].thread, NULL);
    cr_log_info("%s: %.0f ms of CPU in %.0f ms of wall time",
                watchdog ? "watchdog" : "in place", (double)cpu_ns / 1e6,
                (double)wall / 1e6);
    if (wall <= slow_lim.deadline_ms * 1000000LL)
        cr_skip_test("the spinning threads did not slow the call past its "
                     "deadline (%.0f ms): nothing to show",
                     (double)wall / 1e6);
    cr_assert_eq(rc, 0, "a call of %.0f ms of CPU failed after %.0f ms: %s",
                 (double)cpu_ns / 1e6, (double)wall / 1e6, msg(sb));
    cr_assert_lt(cpu_ns, slow_lim.deadline_ms * 1000000LL);
    cr_assert(!ct_sandbox_abandoned(sb, NULL));
    cr_assert_eq(ct_sandbox_close(sb), 0);
}

Test(sandbox_worker, a_preempted_call_is_not_failed_in_place)
{
    preempted_call_passes(false);
}

Test(sandbox_worker, a_preempted_call_is_not_failed_on_the_watchdog)
{
    preempted_call_passes(true);
}

/* CPU-bound code is still stopped at its deadline, having used it. */
Test(sandbox_worker, cpu_bound_code_is_stopped_at_its_deadline)
{
    for (int watchdog = 0; watchdog < 2; watchdog++) {
        ct_sandbox *sb = NULL;
        cr_assert_eq(ct_sandbox_new("spin", HOSTILE_DIR, &lim, &sb), 0);
        if (watchdog)
            cr_assert_eq(ct_sandbox_set_watchdog(sb, 100), 0);
        cr_assert_eq(ct_sandbox_setup(sb, open_host, NULL), 0);
        const char *loop = "while true do end";
        cr_assert_eq(ct_sandbox_load(sb, "loop", loop, strlen(loop)), 0);
        cr_assert_eq(ct_sandbox_call(sb, "loop", 0, 0), CT_ETIMEOUT, "%s",
                     msg(sb));
        cr_assert(!ct_sandbox_abandoned(sb, NULL));
        cr_assert(strstr(msg(sb), "deadline of 100 ms exceeded") != NULL,
                  "%s", msg(sb));
        cr_assert_geq(ct_sandbox_last_call_ns(sb), 100 * 1000000LL,
                      "stopped after %lld ns of CPU",
                      (long long)ct_sandbox_last_call_ns(sb));
        cr_assert_eq(ct_sandbox_close(sb), 0);
    }
}
