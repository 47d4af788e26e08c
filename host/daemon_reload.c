/*
 * The daemon's reload (SIGHUP, POST /v1/admin/reload, changed plugin
 * files), in two steps so that the event loop never waits for plugin
 * tests:
 *
 *  1. Signed bundles' own tests run in a child process, `caretide plugin
 *     selftest --json` on the same config file. A test that never ends
 *     (one Lua instruction can run for minutes: docs/sandbox.md) costs a
 *     process, killed after limits.self_test_timeout, while the loop goes
 *     on serving.
 *  2. Once the child has answered and no group commit is open, the
 *     config loads and each reload hook prepares, with the child's results
 *     (ct_plugins_set_pretested): a signed bundle is activated only when
 *     the child passed its tests on the very bytes verified here, so a
 *     bundle replaced between the two steps is refused. A hook with
 *     prepare_start (the plugins: init.lua and setup() are plugin code)
 *     works off the loop while the loop serves requests, and says when it
 *     has ended (ct_daemon_reload_prepared).
 *  3. Then, with no group commit open again, the store is reconciled and
 *     the new set swapped in (ct_daemon__reload_commit).
 *
 * One reload at a time: another request while one runs is CT_EBUSY (the
 * API answers 409); a SIGHUP or a file change meanwhile reloads again once
 * it has ended. At shutdown the child is killed and the caller told.
 */
#include "daemon_int.h"

#include "error.h"
#include "log.h"
#include "plugins.h"
#include "util.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT "daemon"
/* The child's answer is one line per plugin: far below this. */
#define OUT_MAX ((size_t)4 << 20)

struct ct_daemon__reload {
    ct_daemon *d;
    uv_process_t proc;
    uv_pipe_t out;
    uv_timer_t timer;
    int open;             /* handles not yet closed */
    bool timed_out, too_long, stopped, unstarted;
    int64_t exit_status;
    int term_signal;
    ct_buf buf;           /* the child's stdout */
    char actor[256];
    ct_daemon_reload_fn cb;
    void *ud;
    ct_commit_req wait;
    json_t *results;
    ct_daemon__pending pending; /* steps 2 and 3 */
    bool preparing;             /* a prepare_start hook is at work */
    ct_diags diags;
    ct_reconcile_stats stats;
};

typedef struct ct_daemon__reload job;

json_t *ct_daemon_reload_pretested(const ct_daemon *d)
{
    return d->pretested;
}

/* Tells the caller, frees the job, and reloads again when asked meanwhile. */
static void complete(job *j, int err, ct_diags *diags,
                     const ct_reconcile_stats *stats)
{
    ct_daemon *d = j->d;
    d->reloading = NULL;
    if (j->cb)
        j->cb(err, diags, stats, j->ud);
    json_decref(j->results);
    ct_buf_free(&j->buf);
    ct_diags_free(&j->diags);
    free(j);
    if (d->reload_again && !d->stopping) {
        d->reload_again = false;
        ct_daemon_request_reload(d);
    }
}

/* A reload that ended before step 2: logged and counted like one that
 * failed there. */
static void fail(job *j, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(job *j, int err, const char *fmt, ...)
{
    ct_diags diags = {0};
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *file = j->d->opts.config_path ? j->d->opts.config_path
                                              : "(embedded demo)";
    ct_diags_add(&diags, file, 0, 0, "%s", msg);
    ct_daemon__reload_failed(j->d, err, &diags);
    ct_reconcile_stats none = {0};
    complete(j, err, &diags, &none);
    ct_diags_free(&diags);
}

static void on_commit_deferred(ct_commit_req *w, int status);

/* Step 3: everything prepared, no group commit open. */
static void commit_reload(job *j)
{
    ct_daemon *d = j->d;
    if (d->stopping) {
        ct_daemon__reload_drop(d, &j->pending, CT_ESTATE, &j->diags);
        ct_reconcile_stats none = {0};
        complete(j, CT_ESTATE, &j->diags, &none);
        return;
    }
    int err = ct_daemon__reload_commit(d, &j->pending, j->actor, &j->diags,
                                       &j->stats);
    complete(j, err, &j->diags, &j->stats);
}

static void on_commit_deferred(ct_commit_req *w, int status)
{
    (void)status;
    commit_reload(w->data);
}

/* Prepares the hooks in turn from p->prepared on; returns while one works
 * off the loop (ct_daemon_reload_prepared continues). */
static void prepare_next(job *j)
{
    ct_daemon *d = j->d;
    ct_daemon__pending *p = &j->pending;
    int err = 0;
    for (; !err && p->prepared < d->nhooks; p->prepared++) {
        const ct_daemon_reload_hook *h = &d->hooks[p->prepared];
        if (h->prepare_start) {
            d->pretested = j->results;
            err = h->prepare_start(d, p->next, &j->diags, h->data);
            d->pretested = NULL;
            if (!err) {
                j->preparing = true;
                return;
            }
        }
        if ((!h->prepare_start || err == CT_EUNSUPPORTED) && h->prepare) {
            d->pretested = j->results;
            err = h->prepare(d, p->next, &j->diags, h->data);
            d->pretested = NULL;
        }
        if (err)
            break;
    }
    if (err) {
        ct_daemon__reload_drop(d, p, err, &j->diags);
        ct_reconcile_stats none = {0};
        complete(j, err, &j->diags, &none);
        return;
    }
    if (ct_commit_pending(d->commit) && !d->stopping) {
        j->wait.data = j;
        if (ct_commit_defer(d->commit, &j->wait, on_commit_deferred) == 0)
            return;
    }
    commit_reload(j);
}

void ct_daemon_reload_prepared(ct_daemon *d, int err)
{
    job *j = d->reloading;
    if (!j || !j->preparing)
        return;
    j->preparing = false;
    if (!err && d->stopping) {
        j->pending.prepared++; /* prepared: aborted with the others */
        err = CT_ESTATE;
        ct_diags_add(&j->diags, j->pending.next->file, 0, 0,
                     "the daemon is stopping; the reload did not run");
    } else if (!err) {
        j->pending.prepared++;
        prepare_next(j);
        return;
    }
    ct_daemon__reload_drop(d, &j->pending, err, &j->diags);
    ct_reconcile_stats none = {0};
    complete(j, err, &j->diags, &none);
}

/* Step 2, with no group commit open. */
static void run_reload(job *j)
{
    ct_daemon *d = j->d;
    if (d->stopping) {
        fail(j, CT_ESTATE, "the daemon is stopping; the reload did not run");
        return;
    }
    int err = ct_daemon__reload_begin(d, &j->pending, &j->diags);
    if (err) {
        ct_reconcile_stats none = {0};
        complete(j, err, &j->diags, &none);
        return;
    }
    prepare_next(j);
}

static void on_deferred(ct_commit_req *w, int status)
{
    (void)status;
    run_reload(w->data);
}

/* Both handles closed: the child's answer is complete. */
static void finish(job *j)
{
    ct_daemon *d = j->d;
    long long secs = (long long)(d->cfg->limits.self_test_timeout_ms / 1000);
    if (j->unstarted) { /* the caller had the error from start */
        d->reloading = NULL;
        free(j);
        return;
    }
    if (j->stopped || d->stopping) {
        fail(j, CT_ESTATE, "the daemon is stopping; the reload did not run");
        return;
    }
    if (j->timed_out) {
        fail(j, CT_ETIMEOUT,
             "the plugins' own tests did not end within "
             "limits.self_test_timeout (%llds): a test that never ends? "
             "The running configuration stays",
             secs);
        return;
    }
    if (j->too_long) {
        fail(j, CT_EPLUGIN, "the self-test process wrote more than %zu "
                            "bytes; the running configuration stays",
             OUT_MAX);
        return;
    }
    if (j->term_signal) {
        fail(j, CT_EPLUGIN, "the self-test process died of signal %d; the "
                            "running configuration stays",
             j->term_signal);
        return;
    }
    json_error_t jerr;
    j->results = json_loadb(j->buf.data ? j->buf.data : "", j->buf.len, 0,
                            &jerr);
    if (!json_is_array(json_object_get(j->results, "plugins"))) {
        /* Exit 1 without a document: the config did not load there; the
         * reload says why itself (step 2 reads the same file). */
        if (j->exit_status == 1 && j->buf.len == 0) {
            json_decref(j->results);
            j->results = json_pack("{s:[]}", "plugins");
        } else {
            fail(j, CT_EPLUGIN, "the self-test process failed (exit %lld); "
                                "the running configuration stays",
                 (long long)j->exit_status);
            return;
        }
    }
    if (ct_commit_pending(d->commit)) {
        j->wait.data = j;
        if (ct_commit_defer(d->commit, &j->wait, on_deferred) == 0)
            return;
    }
    run_reload(j);
}

static void on_closed(uv_handle_t *h)
{
    job *j = h->data;
    if (--j->open == 0)
        finish(j);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *out)
{
    (void)hint;
    job *j = h->data;
    if (ct_buf_reserve(&j->buf, 64 * 1024)) {
        *out = uv_buf_init(NULL, 0);
        return;
    }
    *out = uv_buf_init(j->buf.data + j->buf.len,
                       (unsigned)(j->buf.cap - j->buf.len));
}

static void kill_child(job *j)
{
    if (!uv_is_closing((uv_handle_t *)&j->proc))
        uv_process_kill(&j->proc, SIGKILL);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    job *j = s->data;
    if (n > 0) {
        j->buf.len += (size_t)n;
        if (j->buf.len > OUT_MAX) {
            j->too_long = true;
            kill_child(j);
            uv_read_stop(s);
            uv_close((uv_handle_t *)s, on_closed);
        }
        return;
    }
    if (n < 0) { /* UV_EOF or an error: the answer ends here */
        uv_read_stop(s);
        uv_close((uv_handle_t *)s, on_closed);
    }
}

static void on_exit_(uv_process_t *p, int64_t status, int sig)
{
    job *j = p->data;
    j->exit_status = status;
    j->term_signal = sig;
    uv_close((uv_handle_t *)p, on_closed);
    uv_close((uv_handle_t *)&j->timer, on_closed);
}

static void on_timeout(uv_timer_t *t)
{
    job *j = t->data;
    j->timed_out = true;
    ct_log_error(UNIT, "reload: the plugins' own tests are still running "
                       "after limits.self_test_timeout; killing them");
    kill_child(j);
}

int ct_daemon_reload_start(ct_daemon *d, const char *actor,
                           ct_daemon_reload_fn cb, void *ud)
{
    if (d->stopping)
        return CT_ESTATE;
    if (d->reloading)
        return CT_EBUSY;
    job *j = calloc(1, sizeof *j);
    if (!j)
        return CT_ENOMEM;
    j->d = d;
    j->cb = cb;
    j->ud = ud;
    snprintf(j->actor, sizeof j->actor, "%s", actor);
    char exe[4096];
    size_t len = sizeof exe;
    int rc = uv_exepath(exe, &len);
    if (rc) {
        free(j);
        return ct_err_from_uv(rc);
    }
    char *args[] = {exe, "plugin", "selftest", "--json", "--log-level",
                    "error", "--log-format", "json",
                    d->opts.config_path ? "--config" : NULL,
                    (char *)d->opts.config_path, NULL};
    uv_pipe_init(&d->loop, &j->out, 0);
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
         .data.stream = (uv_stream_t *)&j->out},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    uv_process_options_t po = {.file = exe, .args = args, .stdio = stdio,
                               .stdio_count = 3, .exit_cb = on_exit_};
    j->proc.data = j->out.data = j->timer.data = j;
    rc = uv_spawn(&d->loop, &j->proc, &po);
    if (rc) {
        /* The pipe alone needs closing; the job is freed after. */
        ct_log_error(UNIT, "reload: cannot start the self-test process: %s",
                     uv_strerror(rc));
        j->unstarted = true;
        j->open = 1;
        uv_close((uv_handle_t *)&j->out, on_closed);
        d->reloading = j;
        return ct_err_from_uv(rc);
    }
    j->open = 3;
    uv_timer_init(&d->loop, &j->timer);
    uv_timer_start(&j->timer, on_timeout,
                   (uint64_t)d->cfg->limits.self_test_timeout_ms, 0);
    uv_read_start((uv_stream_t *)&j->out, on_alloc, on_read);
    d->reloading = j;
    return 0;
}

static void on_signal_reloaded(int err, ct_diags *diags,
                               const ct_reconcile_stats *stats, void *ud)
{
    (void)err;
    (void)diags;
    (void)stats;
    (void)ud; /* ct_daemon_reload_by and fail() have logged it */
}

void ct_daemon_request_reload(ct_daemon *d)
{
    if (d->stopping)
        return;
    if (d->reloading) {
        d->reload_again = true;
        return;
    }
    int err = ct_daemon_reload_start(d, "signal:SIGHUP", on_signal_reloaded,
                                     NULL);
    if (err && err != CT_EBUSY)
        ct_log_error(UNIT, "reload failed (%s); the running config stays",
                     ct_strerror(err));
}

void ct_daemon__reload_stop(ct_daemon *d)
{
    job *j = d->reloading;
    d->reload_again = false;
    if (!j)
        return;
    j->stopped = true;
    if (j->open)
        kill_child(j);
    /* A hook preparing off the loop ends by itself (its plugin calls have
     * deadlines) and says so; the reload is then dropped. */
}
