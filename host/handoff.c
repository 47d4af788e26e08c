/*
 * The host thread and its baton (handoff.h). Under mu: who holds the host
 * (owner), who asks for it (want_host: the host thread after a plugin
 * call; want_plugin: a plugin's passage into the host), and the job.
 * The loop lends the baton (lend) and waits until it is back; the host
 * thread and the plugin threads give it back by setting owner to LOOP.
 */
#include "handoff.h"

#include "error.h"
#include "sandbox.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>

#define HOST_STACK ((size_t)8 << 20)

enum owner { OWN_LOOP, OWN_HOST, OWN_PLUGIN };
enum job { JOB_NONE, JOB_RUN, JOB_ENDED };

struct ct_handoff {
    uv_loop_t *loop;
    uv_async_t async; /* the host thread and plugin threads -> the loop */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    enum owner owner;
    bool want_host, want_plugin, quit;
    enum job job;
    bool parked;
    ct_handoff_fn fn;
    ct_handoff_done done;
    void *arg;
    int result;
    void (*on_park)(bool parked, void *data);
    void *park_data;
    ct_sandbox_lend lend;
};

/* ---- the host thread and the plugin threads ----------------------------- */

static void give_back(struct ct_handoff *h)
{
    pthread_mutex_lock(&h->mu);
    h->owner = OWN_LOOP;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void ask(struct ct_handoff *h, bool *want, enum owner who)
{
    pthread_mutex_lock(&h->mu);
    *want = true;
    pthread_cond_broadcast(&h->cv); /* ct_handoff_finish waits for wants */
    pthread_mutex_unlock(&h->mu);
    uv_async_send(&h->async);
    pthread_mutex_lock(&h->mu);
    while (h->owner != who)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

/* The host thread, before it waits for a plugin call. */
static void lend_release(void *ud)
{
    struct ct_handoff *h = ud;
    pthread_mutex_lock(&h->mu);
    h->parked = true;
    pthread_mutex_unlock(&h->mu);
    give_back(h);
}

/* The host thread, once the plugin call has ended. */
static void lend_acquire(void *ud)
{
    struct ct_handoff *h = ud;
    ask(h, &h->want_host, OWN_HOST);
}

/* A plugin thread passing into the host, and out of it. */
static void gate_enter(void *ud)
{
    struct ct_handoff *h = ud;
    ask(h, &h->want_plugin, OWN_PLUGIN);
}

static void gate_leave(void *ud)
{
    give_back(ud);
}

static void *host_main(void *arg)
{
    struct ct_handoff *h = arg;
    ct_sandbox_set_thread_lend(&h->lend);
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->quit && !(h->job == JOB_RUN && h->owner == OWN_HOST))
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->quit)
            break;
        pthread_mutex_unlock(&h->mu);
        int result = h->fn(h->arg);
        pthread_mutex_lock(&h->mu);
        h->result = result;
        h->job = JOB_ENDED;
        h->owner = OWN_LOOP;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    ct_sandbox_set_thread_lend(NULL);
    return NULL;
}

/* ---- the loop ------------------------------------------------------------- */

/* Under mu: hands the host to who and waits until it is back. Bounded by
 * host code (host functions watch the plugin's deadline in long work). */
static void lend(struct ct_handoff *h, enum owner who)
{
    h->owner = who;
    pthread_cond_broadcast(&h->cv);
    while (h->owner != OWN_LOOP)
        pthread_cond_wait(&h->cv, &h->mu);
}

/* Under mu: serves every passage asked for now. */
static void serve(struct ct_handoff *h)
{
    for (;;) {
        if (h->want_plugin) {
            h->want_plugin = false;
            lend(h, OWN_PLUGIN);
        } else if (h->want_host) {
            h->want_host = false;
            lend(h, OWN_HOST);
        } else {
            return;
        }
    }
}

/* Under mu, on a parked job that has ended: its done, without mu. */
static void complete(struct ct_handoff *h)
{
    ct_handoff_done done = h->done;
    void *arg = h->arg;
    int result = h->result;
    h->job = JOB_NONE;
    h->parked = false;
    pthread_mutex_unlock(&h->mu);
    if (h->on_park)
        h->on_park(false, h->park_data);
    done(arg, result);
    pthread_mutex_lock(&h->mu);
}

static void on_async(uv_async_t *a)
{
    struct ct_handoff *h = a->data;
    pthread_mutex_lock(&h->mu);
    serve(h);
    if (h->job == JOB_ENDED && h->parked)
        complete(h);
    pthread_mutex_unlock(&h->mu);
}

int ct_handoff_new(uv_loop_t *loop, void (*on_park)(bool parked, void *data),
                   void *data, ct_handoff **out)
{
    *out = NULL;
    struct ct_handoff *h = calloc(1, sizeof *h);
    if (!h)
        return CT_ENOMEM;
    h->loop = loop;
    h->on_park = on_park;
    h->park_data = data;
    h->lend = (ct_sandbox_lend){lend_release, lend_acquire, gate_enter,
                                gate_leave, h};
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    int rc = uv_async_init(loop, &h->async, on_async);
    if (rc) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        free(h);
        return ct_err_from_uv(rc);
    }
    h->async.data = h;
    /* Keeps no loop alive by itself: a parked job's write keeps the
     * committer's handles active. */
    uv_unref((uv_handle_t *)&h->async);
    if (ct_thread_start(&h->thread, HOST_STACK, host_main, h)) {
        ct_handoff_close(h);
        return CT_ENOMEM;
    }
    h->started = true;
    *out = h;
    return 0;
}

int ct_handoff_run(ct_handoff *h, ct_handoff_fn fn, void *arg,
                   ct_handoff_done done, int *result)
{
    pthread_mutex_lock(&h->mu);
    if (h->job != JOB_NONE) {
        pthread_mutex_unlock(&h->mu);
        return CT_ESTATE;
    }
    h->fn = fn;
    h->arg = arg;
    h->done = done;
    h->parked = false;
    h->job = JOB_RUN;
    lend(h, OWN_HOST);
    /* Passages the plugin asked for while the job first ran. */
    if (h->job == JOB_RUN)
        serve(h);
    if (h->job == JOB_ENDED && !h->parked) {
        *result = h->result;
        h->job = JOB_NONE;
        pthread_mutex_unlock(&h->mu);
        return 1;
    }
    bool ended = h->job == JOB_ENDED;
    pthread_mutex_unlock(&h->mu);
    if (h->on_park)
        h->on_park(true, h->park_data);
    if (ended) { /* parked, then ended while we served */
        pthread_mutex_lock(&h->mu);
        complete(h);
        pthread_mutex_unlock(&h->mu);
    }
    return 0;
}

bool ct_handoff_busy(const ct_handoff *h)
{
    return h->job != JOB_NONE;
}

bool ct_handoff_on_thread(const ct_handoff *h)
{
    return h && h->started && pthread_equal(pthread_self(), h->thread);
}

void ct_handoff_finish(ct_handoff *h)
{
    pthread_mutex_lock(&h->mu);
    while (h->job != JOB_NONE) {
        serve(h);
        if (h->job == JOB_ENDED) {
            complete(h);
            continue;
        }
        pthread_cond_wait(&h->cv, &h->mu);
    }
    pthread_mutex_unlock(&h->mu);
}

static void on_closed(uv_handle_t *a)
{
    struct ct_handoff *h = a->data;
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}

void ct_handoff_close(ct_handoff *h)
{
    if (!h)
        return;
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        h->quit = true;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    uv_close((uv_handle_t *)&h->async, on_closed);
}
