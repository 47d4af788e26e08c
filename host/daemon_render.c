/*
 * Whole-area answers built off the loop (daemon.h, ct_daemon_render).
 *
 * GET /v1/capacity on an England-sized area (500,000 beds in 31,000
 * zones) is an 11 MB body: tens of milliseconds to build even when its
 * counts cost O(zones), and every write makes the cached one old. Built
 * on the loop, each rebuild held every write behind it. Here the loop
 * only copies the bed counts (ct_cap_counts_take, O(zones), at a moment
 * when no group is open, so the copy is committed data; while a write
 * waits for plugin code the job counts with SQL on its snapshot instead)
 * and hands them to a job in libuv's thread pool, which reads the rest (names, cohorts,
 * referral figures) on a read-only connection of its own, in one
 * snapshot that has every commit the copy has, and builds the text. The
 * requests wait suspended (ct_http_req_later); each is answered by the
 * first body built from data at least as new as it asked for, so a change
 * is still visible to the next read after its commit. Requests that came
 * while a job ran start the next one. *
 * And the other GET routes while a group is open (a write's plugins may
 * run for seconds, docs/sandbox.md "Reads beside the host thread"): the
 * loop runs their handlers on a read-only connection of its own, whose
 * snapshot is the last commit, through a read-only capacity handle made
 * for each handler (ct_daemon__read_begin).
 */
#include "daemon_int.h"

#include "capacity_view.h"
#include "error.h"
#include "handoff.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNIT "daemon"

typedef struct waiter {
    ct_http_req *r;
    uint64_t version; /* the data version it arrived at */
} waiter;

typedef struct ct_daemon__render ct_daemon__render;
struct ct_daemon__render {
    ct_daemon *d;
    unsigned slot;
    ct_daemon_render_fn build;
    void *arg;
    waiter *w;
    size_t nw, capw;
    /* The job: running from queue to its after-work callback. */
    bool running, deferred;
    uv_work_t work;
    ct_commit_req wait; /* for the open group to end */
    ct_store *store;    /* the job's own connection, read-only */
    ct_capacity *reader;
    char *area_id, *area_name; /* the config's at the copy (a reload may
                                  swap it while the job runs) */
    ct_cap_counts *counts;
    uint64_t version;
    int64_t at;
    int rc;
    char *body;
    size_t len;
    uint64_t queued_ns, began_ns, built_ns; /* for the debug log */
    double cpu_ms; /* the build's own CPU time */
    struct ct_daemon__render *next; /* the daemon's list */
};

static void start(ct_daemon__render *j);

static void work_cb(uv_work_t *w)
{
    ct_daemon__render *j = w->data;
    j->began_ns = uv_hrtime();
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    ct_capacity_reader_at(j->reader, j->at);
    ct_daemon_render_ctx ctx = {j->area_id, j->area_name, j->counts};
    j->rc = j->build(j->reader, &ctx, j->arg, &j->body, &j->len);
    j->built_ns = uv_hrtime();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    j->cpu_ms = (double)(c1.tv_sec - c0.tv_sec) * 1e3 +
                (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
}

/* Answers the waiters the job's data is new enough for. */
static void answer(ct_daemon__render *j)
{
    size_t keep = 0;
    for (size_t i = 0; i < j->nw; i++) {
        waiter *x = &j->w[i];
        if (j->rc == 0 && x->version > j->version) {
            j->w[keep++] = *x; /* came after the copy: the next job */
            continue;
        }
        char *copy = j->rc ? NULL : malloc(j->len + 1);
        if (copy) {
            memcpy(copy, j->body, j->len + 1);
            ct_http_reply_buf(x->r, 200, "application/json", copy, j->len);
        } else {
            ct_http_error(x->r, 500, "internal", NULL,
                          "the answer could not be built (%s)",
                          ct_strerror(j->rc ? j->rc : CT_ENOMEM));
        }
        ct_http_req_done(x->r, CT_EIO);
    }
    j->nw = keep;
}

static void after_cb(uv_work_t *w, int status)
{
    ct_daemon__render *j = w->data;
    j->running = false;
    if (status)
        j->rc = ct_err_from_uv(status);
    ct_cap_counts_free(j->counts);
    j->counts = NULL;
    ct_log_debug(UNIT, "whole-area answer %u: %zu bytes, %.1f ms waiting "
                 "for a thread, %.1f ms building (%.1f ms of CPU), %.1f ms since",
                 j->slot, j->len, (double)(j->began_ns - j->queued_ns) / 1e6,
                 (double)(j->built_ns - j->began_ns) / 1e6, j->cpu_ms,
                 (double)(uv_hrtime() - j->built_ns) / 1e6);
    if (j->rc)
        ct_log_error(UNIT, "building a whole-area answer: %s",
                     ct_strerror(j->rc));
    else
        ct_daemon_cache_put_at(j->d, j->slot, j->body, j->len, j->version,
                               j->at);
    answer(j);
    free(j->body);
    j->body = NULL;
    if (j->nw && !j->d->stopping)
        start(j);
    else if (j->nw) { /* stopping: nobody will build again */
        j->rc = CT_ESTATE;
        answer(j);
    }
}

static void launch(ct_daemon__render *j, bool by_sql);

static void on_group_ended(ct_commit_req *r, int status)
{
    (void)status;
    ct_daemon__render *j = r->data;
    j->deferred = false;
    start(j);
}

/* A group is open, and the index's counts may hold its writes, not yet
 * committed: a short write is waited for (then the counts are copied,
 * O(zones)); a write that waits for plugin code, which may take seconds,
 * is not (the job counts with SQL on its snapshot, docs/sandbox.md
 * "Reads beside the host thread"). */
static bool parked(const ct_daemon *d)
{
    return d->handoff && ct_handoff_busy(d->handoff);
}

static void start(ct_daemon__render *j)
{
    ct_daemon *d = j->d;
    if (j->running || j->deferred || !j->nw)
        return;
    j->wait.data = j;
    bool open = d->commit && ct_commit_pending(d->commit);
    if (open && !parked(d) &&
        ct_commit_defer(d->commit, &j->wait, on_group_ended) == 0) {
        j->deferred = true;
        return;
    }
    launch(j, open);
}

void ct_daemon__render_parked(ct_daemon *d)
{
    for (ct_daemon__render *j = d->renders; j; j = j->next)
        if (j->deferred && !j->running && j->nw)
            launch(j, true); /* the group's end finds it running or done */
}

/* Copies the counts (or, by_sql, leaves the job to count on its own
 * snapshot, the last commit) and queues the job. */
static void launch(ct_daemon__render *j, bool by_sql)
{
    ct_daemon *d = j->d;
    ct_cap_error err = {0};
    j->rc = 0;
    if (!j->store) {
        /* A read-only connection of the job's own (WAL: it reads while
         * the loop's writes). Opened here once; only jobs use it. */
        ct_store_options so = {.readonly = true};
        j->rc = ct_store_open(d->cfg->db_path, &so, &j->store);
    }
    if (!j->rc && !j->reader)
        j->rc = ct_capacity_reader_new(d->cap, j->store, &j->reader);
    free(j->area_id);
    free(j->area_name);
    j->area_id = ct_strdup(d->cfg->area_id);
    j->area_name = ct_strdup(d->cfg->area_name ? d->cfg->area_name
                                                : d->cfg->area_id);
    if (!j->rc && (!j->area_id || !j->area_name))
        j->rc = CT_ENOMEM;
    if (!j->rc && !by_sql)
        j->rc = ct_cap_counts_take(d->cap, &j->counts, &err);
    if (!j->rc) {
        j->version = ct_daemon_data_version(d);
        j->at = ct_clock_now(d->clock);
        j->work.data = j;
        j->queued_ns = uv_hrtime();
        int rc = uv_queue_work(&d->loop, &j->work, work_cb, after_cb);
        if (rc == 0) {
            j->running = true;
            return;
        }
        j->rc = ct_err_from_uv(rc);
        ct_cap_counts_free(j->counts);
        j->counts = NULL;
    }
    ct_log_error(UNIT, "cannot start a whole-area answer: %s",
                 err.message[0] ? err.message : ct_strerror(j->rc));
    answer(j);
}

int ct_daemon_render(ct_daemon *d, unsigned slot, ct_http_req *r,
                     ct_daemon_render_fn build, void *arg)
{
    const char *path = d->cfg->db_path;
    if (!path || !*path || strcmp(path, ":memory:") == 0 || !d->cap ||
        slot >= CT_DAEMON_CACHE_SLOTS)
        return CT_EUNSUPPORTED; /* nothing another connection can read */
    ct_daemon__render *j = d->renders;
    while (j && j->slot != slot)
        j = j->next;
    if (!j) {
        if (!(j = calloc(1, sizeof *j)))
            return CT_ENOMEM;
        j->d = d;
        j->slot = slot;
        j->next = d->renders;
        d->renders = j;
    }
    j->build = build;
    j->arg = arg;
    if (ct_grow(&j->w, &j->capw, j->nw, sizeof *j->w, 16))
        return CT_ENOMEM;
    ct_http_req_later(r);
    j->w[j->nw++] = (waiter){r, ct_daemon_data_version(d)};
    start(j);
    return 0;
}

/* ---- reads beside an open group ---------------------------------------- */

/* The read-only handle lives for one handler: it copies the pathogens and
 * hold time of the running handle, which a reload may change, and its
 * statements are the connection's, so it costs two allocations. */
bool ct_daemon__read_begin(void *app)
{
    ct_daemon *d = app;
    const char *path = d->cfg->db_path;
    if (!path || !*path || strcmp(path, ":memory:") == 0 || !d->cap ||
        !d->clock || d->snap_cap)
        return false; /* nothing another connection can read */
    if (!d->snap_store) {
        ct_store_options so = {.readonly = true};
        int rc = ct_store_open(path, &so, &d->snap_store);
        if (rc) {
            ct_log_error(UNIT, "cannot open a connection for reads: %s; "
                         "reads wait for writes", ct_strerror(rc));
            return false;
        }
    }
    /* A fresh snapshot: the reads see every commit answered so far. */
    ct_store_end_reads(d->snap_store);
    if (ct_capacity_reader_new(d->cap, d->snap_store, &d->snap_cap))
        return false;
    ct_capacity_reader_at(d->snap_cap, ct_clock_now(d->clock));
    return true;
}

void ct_daemon__read_end(void *app)
{
    ct_daemon *d = app;
    ct_capacity_reader_free(d->snap_cap);
    d->snap_cap = NULL;
    ct_store_end_reads(d->snap_store);
}

/* After the loop has ended: no job runs and nobody waits. */
void ct_daemon__render_free(ct_daemon *d)
{
    ct_store_close(d->snap_store);
    d->snap_store = NULL;
    while (d->renders) {
        ct_daemon__render *j = d->renders;
        d->renders = j->next;
        ct_cap_counts_free(j->counts);
        ct_capacity_reader_free(j->reader);
        ct_store_close(j->store);
        free(j->area_id);
        free(j->area_name);
        free(j->body);
        free(j->w);
        free(j);
    }
}
