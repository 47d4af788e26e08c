/*
 * Benchmark of the host thread hand-off (host/handoff.c, docs/sandbox.md
 * "Decisions, events and schedules off the loop"): what running plugin
 * calls off the event loop costs, per call, against the same calls made
 * in place. Four ways to make the same plugin calls (a hook that makes
 * one host call, `host.touch()`, and returns its argument):
 *
 *   in place   the loop's thread calls a sandbox without a watchdog
 *              (as caretide test and the simulator do)
 *   watchdog   the loop's thread calls a sandbox with a watchdog: each
 *              call runs on the plugin's thread while the caller waits
 *   host job   the daemon's path: the loop hands a job to the host
 *              thread (ct_handoff_run), which calls the watchdog sandbox;
 *              the host thread lends the host back to the loop while the
 *              plugin runs, the plugin's host call asks the loop for it,
 *              and the host thread asks for it back when the call ends
 *   host job, in place   the same job run on the loop's thread
 *
 * Each job makes CALLS hook calls (a decision's triage, rank and admit).
 * Prints wall and CPU time (the process's, every thread's) per hook call
 * and per job, and the ratios, from rounds that alternate the ways so
 * that machine noise hits each. Figures only; it asserts nothing.
 *
 * Usage: bench_handoff [JOBS] [ROUNDS]
 */
#include "handoff.h"
#include "log.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define CALLS 3 /* hook calls per job, as triage + rank + admit */

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long touched;

/* touch() -> true: host work, through the gate when there is one */
static int l_touch(lua_State *L)
{
    touched++;
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg host_funcs[] = {{"touch", l_touch}, {NULL, NULL}};

static int open_host(lua_State *L)
{
    lua_newtable(L);
    ct_sandbox_setfuncs_timed(L, host_funcs);
    lua_setglobal(L, "host");
    return 0;
}

static ct_sandbox *make(bool watchdog)
{
    static const ct_sandbox_limits lim = {.deadline_ms = 1000};
    ct_sandbox *sb = NULL;
    const char *code = "function hook(x) host.touch() return x end";
    if (ct_sandbox_new("bench", ".", &lim, &sb) ||
        (watchdog && ct_sandbox_set_watchdog(sb, 200)) ||
        ct_sandbox_setup(sb, open_host, NULL) ||
        ct_sandbox_load(sb, "bench", code, strlen(code)) ||
        ct_sandbox_call(sb, "bench", 0, 0)) {
        fprintf(stderr, "bench_handoff: cannot make a sandbox\n");
        exit(1);
    }
    return sb;
}

static int hook(ct_sandbox *sb, int x)
{
    lua_State *L = ct_sandbox_state(sb);
    lua_getglobal(L, "hook");
    lua_pushinteger(L, x);
    int rc = ct_sandbox_call(sb, "hook", 1, 1);
    if (rc == 0)
        lua_settop(L, 0);
    return rc;
}

/* A job: CALLS hook calls. */
static int job(void *arg)
{
    ct_sandbox *sb = arg;
    for (int i = 0; i < CALLS; i++) {
        int rc = hook(sb, i);
        if (rc)
            return rc;
    }
    return 0;
}

static uv_loop_t loop;
static bool done;
static int done_rc;

static void on_done(void *arg, int result)
{
    (void)arg;
    done = true;
    done_rc = result;
}

/* The daemon's path: hand the job over and turn the loop until it has
 * ended. */
static int handed(ct_handoff *h, ct_sandbox *sb)
{
    int result = 0;
    done = false;
    int rc = ct_handoff_run(h, job, sb, on_done, &result);
    if (rc == 1)
        return result;
    if (rc)
        return rc;
    while (!done)
        uv_run(&loop, UV_RUN_ONCE);
    return done_rc;
}

static void on_keep(uv_timer_t *t)
{
    (void)t;
}

typedef struct way {
    const char *name;
    double wall, cpu;
} way;

int main(int argc, char **argv)
{
    long jobs = argc > 1 ? atol(argv[1]) : 2000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (jobs < 1 || rounds < 1) {
        fprintf(stderr, "usage: bench_handoff [JOBS] [ROUNDS]\n");
        return 2;
    }
    ct_log_setup(CT_LOG_TEXT, CT_LOG_ERROR);
    uv_loop_init(&loop);
    /* Keeps the loop blocking in its poll while a job is parked (the
     * hand-off's own async handle keeps nothing alive). */
    uv_timer_t keep;
    uv_timer_init(&loop, &keep);
    uv_timer_start(&keep, on_keep, 3600 * 1000, 0);
    ct_handoff *h = NULL;
    if (ct_handoff_new(&loop, NULL, NULL, &h)) {
        fprintf(stderr, "bench_handoff: no host thread\n");
        return 1;
    }
    ct_sandbox *bare = make(false), *dog = make(true);
    way w[4] = {{"in place", 0, 0},
                {"watchdog", 0, 0},
                {"host job", 0, 0},
                {"host job, in place", 0, 0}};
    int rc = 0;
    for (int r = 0; r < rounds && !rc; r++) {
        for (int k = 0; k < 4 && !rc; k++) {
            double w0 = clock_s(CLOCK_MONOTONIC);
            double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
            for (long i = 0; i < jobs && !rc; i++) {
                switch (k) {
                case 0:
                    for (int c = 0; c < CALLS && !rc; c++)
                        rc = hook(bare, c);
                    break;
                case 1:
                    for (int c = 0; c < CALLS && !rc; c++)
                        rc = hook(dog, c);
                    break;
                case 2:
                    rc = handed(h, dog);
                    break;
                default:
                    rc = job(bare);
                }
            }
            w[k].wall += clock_s(CLOCK_MONOTONIC) - w0;
            w[k].cpu += clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
    }
    if (rc) {
        fprintf(stderr, "bench_handoff: a call failed: %s\n",
                ct_sandbox_last_error(dog)->message);
        return 1;
    }
    double n = (double)jobs * rounds * CALLS;
    printf("%ld jobs of %d hook calls (each making one host call), %d "
           "rounds\n",
           jobs, CALLS, rounds);
    printf("%-20s %12s %12s\n", "", "wall us/call", "CPU us/call");
    for (int k = 0; k < 4; k++)
        printf("%-20s %12.2f %12.2f\n", w[k].name, w[k].wall / n * 1e6,
               w[k].cpu / n * 1e6);
    printf("watchdog / in place: wall %.1fx, CPU %.1fx\n",
           w[1].wall / w[0].wall, w[1].cpu / w[0].cpu);
    printf("host job / the same job in place: wall %.1fx, CPU %.1fx\n",
           w[2].wall / w[3].wall, w[2].cpu / w[3].cpu);
    printf("hand-off cost per hook call: %.2f us wall, %.2f us CPU\n",
           (w[2].wall - w[3].wall) / n * 1e6,
           (w[2].cpu - w[3].cpu) / n * 1e6);
    printf("(host calls made: %ld)\n", touched);
    ct_sandbox_close(bare);
    ct_sandbox_close(dog);
    ct_handoff_close(h);
    uv_close((uv_handle_t *)&keep, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
