/*
 * The watchdog (ct_sandbox_set_watchdog): a sandbox's top-level calls run
 * on a thread of its own while the caller waits, so that the caller can
 * stop waiting when one Lua instruction outlives the deadline (the count
 * hook only fires between instructions: a table store that rehashes
 * integer keys colliding in Lua 5.4's hash costs the square of the table's
 * size in one instruction, minutes with a 64 MiB table).
 *
 * While the caller waits it touches nothing the worker does, so a call on
 * the worker is exactly a call on the caller's thread: the host functions
 * it makes (the store, the capacity handle) run while their owner is
 * blocked. When the caller gives up ("abandons" the call), the worker may
 * still be running plugin code, so from then on it must reach nothing of
 * the host: every way out of Lua into the host (host functions, the
 * embedder's clock, its source callback) passes a gate that refuses once
 * the call is abandoned, and the caller gives up only while no host
 * function is running. A host function that raises leaves without passing
 * the gate again; the worker notices at the next instruction of that
 * thread (its count hook is set to one instruction inside host functions)
 * or where the error is caught (the pcall and coroutine wrappers, the end
 * of the call), so "inside a host function" is never stale for longer
 * than the unwinding takes.
 *
 * An abandoned sandbox runs nothing more. Closing it while its call still
 * runs hands the sandbox to the worker, which frees it when the call ends.
 *
 * With a host gate (ct_sandbox_set_host_gate) the caller need not be the
 * embedder's own thread: a reload loads plugins from a thread of its own
 * while the event loop serves requests, and each passage into the host
 * first has the gate hold the loop, so that the host still sees one
 * thing at a time.
 */
#include "sandbox_int.h"

#include "error.h"
#include "log.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* How often the caller looks again while a host function finishes. */
#define HOST_POLL_NS (10 * 1000000LL)
/* The caller gives up when the worker's CPU time passes the deadline plus
 * the grace. The wall clock is the backstop, for a worker that gets no CPU
 * at all (or waits in a way no CPU clock sees): this many times the
 * deadline plus the grace. Load that slows a worker less than this does
 * not fail its calls. */
#define BACKSTOP 10
/* How often the caller reads the worker's CPU clock at least. */
#define CPU_POLL_NS (5 * 1000000LL)
#define WORKER_STACK ((size_t)8 << 20)

enum job { JOB_IDLE, JOB_RUN, JOB_DONE, JOB_QUIT };

struct ct_sandbox__worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t go;   /* caller -> worker: a job or quit */
    pthread_cond_t done; /* worker -> caller: done, or out of the host */
    int64_t grace_ns;
    enum job job;
    bool abandoned; /* the caller gave up on the running call */
    bool returned;  /* the abandoned call has returned */
    bool retired;   /* closed meanwhile: the worker frees the sandbox */
    bool in_host;   /* written by the worker only */
    int nargs, nresults, base, status;
    int64_t started_ns; /* handed over */
    int64_t began_ns;   /* picked up by the worker; 0 before */
    int64_t began_cpu;  /* the worker's CPU clock then */
    clockid_t cpu_clock; /* the worker thread's, for the caller */
    bool has_cpu_clock;
    int64_t returned_ns;
    /* The host gate (ct_sandbox_set_host_gate): set while no call runs;
     * gate_held is written by the thread passing into the host only. */
    ct_sandbox_gate_fn gate_enter, gate_leave;
    void *gate_ud;
    bool gate_held;
    int64_t extra_ns; /* deadline given back for gate waits this call */
};

/* Sandboxes closed while an abandoned call of theirs still runs. */
static atomic_int retired_running;

/* The host lent back to the loop while this thread's calls run. */
static _Thread_local const ct_sandbox_lend *thread_lend;

void ct_sandbox_set_thread_lend(const ct_sandbox_lend *lend)
{
    thread_lend = lend;
}

static void lock(struct ct_sandbox__worker *w)
{
    pthread_mutex_lock(&w->mu);
}

static void unlock(struct ct_sandbox__worker *w)
{
    pthread_mutex_unlock(&w->mu);
}

static void worker_destroy(struct ct_sandbox__worker *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->go);
    pthread_cond_destroy(&w->done);
    free(w);
}

static void gate_release(struct ct_sandbox__worker *w)
{
    if (!w->gate_held)
        return;
    w->gate_held = false;
    w->gate_leave(w->gate_ud);
}

static void *worker_main(void *arg)
{
    ct_sandbox *sb = arg;
    struct ct_sandbox__worker *w = sb->worker;
    lock(w);
    for (;;) {
        while (w->job == JOB_IDLE || w->job == JOB_DONE)
            pthread_cond_wait(&w->go, &w->mu);
        if (w->job == JOB_QUIT)
            break;
        /* The deadline counts from here, on this thread's CPU clock:
         * waiting for a CPU to run on is the machine's time, not the
         * plugin's. */
        w->began_ns = ct_sandbox__mono_ns();
        w->began_cpu = ct_sandbox__cpu_ns();
        sb->deadline_ns = w->began_ns + sb->deadline_ms * 1000000;
        sb->cpu_begin_ns = w->began_cpu;
        sb->cpu_deadline_ns = w->began_cpu + sb->deadline_ms * 1000000;
        pthread_cond_broadcast(&w->done);
        unlock(w);
        int status = lua_pcall(sb->L, w->nargs, w->nresults, w->base);
        sb->cpu_end_ns = ct_sandbox__cpu_ns();
        gate_release(w); /* an error out of a host function ended the call */
        lock(w);
        w->status = status;
        w->in_host = false;
        if (!w->abandoned) {
            w->job = JOB_DONE;
            pthread_cond_broadcast(&w->done);
            continue;
        }
        /* Nobody waits for this call: end it here, on the worker, which
         * alone still uses the state. */
        w->returned = true;
        w->returned_ns = ct_sandbox__mono_ns();
        w->job = JOB_IDLE;
        bool retired = w->retired;
        unlock(w);
        lua_settop(sb->L, 0);
        ct_log_warn(sb->log_unit, "the abandoned call has returned");
        if (retired) {
            pthread_detach(pthread_self());
            sb->worker = NULL;
            ct_sandbox__destroy(sb);
            worker_destroy(w);
            atomic_fetch_sub(&retired_running, 1);
            return NULL;
        }
        lock(w);
    }
    unlock(w);
    return NULL;
}

int ct_sandbox_set_watchdog(ct_sandbox *sb, int64_t grace_ms)
{
    if (sb->worker || grace_ms <= 0)
        return CT_EINVAL;
    struct ct_sandbox__worker *w = calloc(1, sizeof *w);
    if (!w)
        return CT_ENOMEM;
    w->grace_ns = grace_ms * 1000000;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->go, &ca);
    pthread_cond_init(&w->done, &ca);
    pthread_condattr_destroy(&ca);
    sb->worker = w;

    if (ct_thread_start(&w->thread, WORKER_STACK, worker_main, sb)) {
        sb->worker = NULL;
        worker_destroy(w);
        return CT_ENOMEM;
    }
    /* Without it (never on Linux) the wall clock alone decides. */
    w->has_cpu_clock = pthread_getcpuclockid(w->thread, &w->cpu_clock) == 0;
    return 0;
}

static struct timespec abs_time(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000),
                          (long)(ns % 1000000000)};
    return ts;
}

int ct_sandbox__pcall(ct_sandbox *sb, bool outer, int nargs, int nresults,
                      int base)
{
    struct ct_sandbox__worker *w = sb->worker;
    if (!w || !outer) {
        int status = lua_pcall(sb->L, nargs, nresults, base);
        if (outer)
            sb->cpu_end_ns = ct_sandbox__cpu_ns();
        return status;
    }
    lock(w);
    /* On a thread that holds the host on the loop's leave: the loop has
     * it back while the plugin runs, and the plugin's passages into the
     * host ask the loop (set while no call runs, as the gate must be). */
    const ct_sandbox_lend *lend = w->gate_enter ? NULL : thread_lend;
    if (lend) {
        w->gate_enter = lend->gate_enter;
        w->gate_leave = lend->gate_leave;
        w->gate_ud = lend->ud;
    }
    w->nargs = nargs;
    w->nresults = nresults;
    w->base = base;
    w->in_host = false;
    w->started_ns = ct_sandbox__mono_ns();
    w->began_ns = 0;
    w->extra_ns = 0;
    w->job = JOB_RUN;
    pthread_cond_signal(&w->go);
    if (lend) {
        unlock(w);
        lend->release(lend->ud);
        lock(w);
    }
    while (w->job == JOB_RUN) {
        if (!w->began_ns) {
            pthread_cond_wait(&w->done, &w->mu);
            continue;
        }
        int64_t limit = sb->deadline_ms * 1000000 + w->grace_ns;
        int64_t backstop = w->began_ns + BACKSTOP * limit + w->extra_ns;
        int64_t now = ct_sandbox__mono_ns();
        /* The worker's CPU time left; it cannot pass before the wall
         * clock has, so the clock is read only once that could be. */
        int64_t left = w->began_ns + limit + w->extra_ns - now;
        if (left <= 0 && w->has_cpu_clock) {
            struct timespec ts;
            left = clock_gettime(w->cpu_clock, &ts) == 0
                       ? limit - ((int64_t)ts.tv_sec * 1000000000 +
                                  ts.tv_nsec - w->began_cpu)
                       : 0;
            if (left > 0 && left < CPU_POLL_NS)
                left = CPU_POLL_NS;
        }
        bool over = left <= 0 || now >= backstop;
        /* Never while a host function runs: it may be using the store. */
        if (over && !w->in_host)
            break;
        int64_t wake = over ? now + HOST_POLL_NS : now + left;
        struct timespec until = abs_time(wake < backstop || over ? wake
                                                                 : backstop);
        pthread_cond_timedwait(&w->done, &w->mu, &until);
    }
    /* Once abandoned, the worker raises before it reaches the gate, and a
     * finished call has released it: the gate can go. */
    if (lend)
        w->gate_enter = w->gate_leave = NULL;
    if (w->job == JOB_DONE) {
        w->job = JOB_IDLE;
        int status = w->status;
        unlock(w);
        if (lend)
            lend->acquire(lend->ud);
        return status;
    }
    w->abandoned = true;
    unlock(w);
    if (lend)
        lend->acquire(lend->ud);
    sb->abandoned = true;
    sb->frozen_mem_used = sb->mem_used;
    sb->frozen_mem_peak = sb->mem_peak;
    return CT_SANDBOX__ABANDONED;
}

void ct_sandbox__host_enter(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    struct ct_sandbox__worker *w = sb->worker;
    if (!w)
        return;
    lock(w);
    bool gone = w->abandoned;
    if (!gone)
        w->in_host = true;
    unlock(w);
    if (gone) {
        sb->tripped = true;
        ct_sandbox__deadline(L); /* raises: the deadline passed long ago */
    }
    if (!w->gate_enter || w->gate_held)
        return;
    /* Marked in the host first: nobody gives up on the call while it
     * waits for the host's thread. */
    int64_t t0 = ct_sandbox__mono_ns();
    w->gate_enter(w->gate_ud);
    w->gate_held = true;
    if (!sb->armed)
        return;
    int64_t waited = ct_sandbox__mono_ns() - t0;
    lock(w);
    int64_t room = sb->deadline_ms * 1000000 - w->extra_ns;
    if (waited > room)
        waited = room > 0 ? room : 0;
    w->extra_ns += waited;
    unlock(w);
    sb->deadline_ns += waited;
}

void ct_sandbox__host_leave(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    struct ct_sandbox__worker *w = sb->worker;
    if (!w)
        return;
    gate_release(w);
    lock(w);
    w->in_host = false;
    pthread_cond_broadcast(&w->done);
    unlock(w);
}

void ct_sandbox__host_clear(ct_sandbox *sb)
{
    struct ct_sandbox__worker *w = sb->worker;
    /* in_host is written by this thread only: a plain read is enough to
     * skip the lock on the common path. */
    if (!w || !w->in_host)
        return;
    ct_sandbox__host_leave(sb->L);
}

int ct_sandbox_set_host_gate(ct_sandbox *sb, ct_sandbox_gate_fn enter,
                             ct_sandbox_gate_fn leave, void *ud)
{
    struct ct_sandbox__worker *w = sb->worker;
    if (!w || (enter && !leave))
        return CT_EINVAL;
    lock(w);
    w->gate_enter = enter;
    w->gate_leave = enter ? leave : NULL;
    w->gate_ud = enter ? ud : NULL;
    unlock(w);
    return 0;
}

bool ct_sandbox__worker_close(ct_sandbox *sb)
{
    struct ct_sandbox__worker *w = sb->worker;
    if (!w)
        return false;
    lock(w);
    if (w->abandoned && !w->returned) {
        atomic_fetch_add(&retired_running, 1);
        w->retired = true;
        unlock(w);
        return true;
    }
    w->job = JOB_QUIT;
    pthread_cond_signal(&w->go);
    unlock(w);
    pthread_join(w->thread, NULL);
    sb->worker = NULL;
    worker_destroy(w);
    return false;
}

bool ct_sandbox_abandoned(const ct_sandbox *sb, int64_t *running_ms)
{
    if (running_ms)
        *running_ms = 0;
    if (!sb->abandoned)
        return false;
    struct ct_sandbox__worker *w = sb->worker;
    lock(w);
    if (running_ms && !w->returned)
        *running_ms = (ct_sandbox__mono_ns() - w->started_ns) / 1000000;
    unlock(w);
    return true;
}

int ct_sandbox_retired_running(void)
{
    return atomic_load(&retired_running);
}
