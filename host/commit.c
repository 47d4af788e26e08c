/*
 * Group commit on a libuv loop. Requests are kept on three intrusive
 * lists: the writes of the open group, finished ones whose callbacks are
 * due, and jobs deferred until the open group ends.
 */
#include "commit.h"

#include "error.h"
#include "handoff.h"
#include "log.h"

#include <stdlib.h>

#define UNIT "commit"

typedef struct list {
    ct_commit_req *head, **tail;
} list;

struct ct_commit {
    uv_loop_t *loop;
    ct_store *store;
    ct_commit_options opts;
    uv_check_t check;
    uv_idle_t idle;
    bool armed;
    bool open;     /* a group's transaction is open */
    bool closing;
    int handles;   /* not yet closed */
    unsigned group_writes, group_failed;
    int last_status; /* of the last group that ended */
    list group, done, deferred;
    /* With a host thread: the write whose function is parked there, and
     * the writes that came meanwhile, in order. */
    ct_handoff *handoff;
    ct_commit_req *parked;
    list waiting;
    ct_commit_stats stats;
    void (*close_cb)(void *data);
    void *close_data;
};

static void list_init(list *l)
{
    l->head = NULL;
    l->tail = &l->head;
}

static void list_push(list *l, ct_commit_req *r)
{
    r->next = NULL;
    *l->tail = r;
    l->tail = &r->next;
}

static bool list_empty(const list *l)
{
    return l->head == NULL;
}

/* Moves every element of from to the end of to, setting their status. */
static void list_move(list *to, list *from, int status)
{
    for (ct_commit_req *r = from->head; r; r = r->next)
        r->status = status;
    if (!from->head)
        return;
    *to->tail = from->head;
    to->tail = from->tail;
    list_init(from);
}

static void on_check(uv_check_t *h);

static void on_idle(uv_idle_t *h)
{
    /* Only here so that the loop polls without blocking while work is
     * pending; the work itself happens in on_check. */
    (void)h;
}

static void arm(ct_commit *c)
{
    if (c->armed || c->closing)
        return;
    uv_check_start(&c->check, on_check);
    if (!c->parked) /* a parked write ends through the handoff's async */
        uv_idle_start(&c->idle, on_idle);
    c->armed = true;
}

static void disarm(ct_commit *c)
{
    if (!c->armed)
        return;
    uv_check_stop(&c->check);
    uv_idle_stop(&c->idle);
    c->armed = false;
}

int ct_commit_new(uv_loop_t *loop, ct_store *store,
                  const ct_commit_options *opts, ct_commit **out)
{
    *out = NULL;
    ct_commit *c = calloc(1, sizeof *c);
    if (!c)
        return CT_ENOMEM;
    c->loop = loop;
    c->store = store;
    if (opts)
        c->opts = *opts;
    list_init(&c->group);
    list_init(&c->done);
    list_init(&c->deferred);
    list_init(&c->waiting);
    /* Neither init can fail (libuv only links the handle into the loop). */
    uv_check_init(loop, &c->check);
    uv_idle_init(loop, &c->idle);
    c->check.data = c;
    c->idle.data = c;
    *out = c;
    return 0;
}

static void before_write(ct_commit *c)
{
    if (c->opts.before_write)
        c->opts.before_write(c->opts.write_data);
}

static void after_write(ct_commit *c, int result)
{
    if (c->opts.after_write)
        c->opts.after_write(result, c->opts.write_data);
}

static void report_group(ct_commit *c, int status, uint64_t ns)
{
    c->stats.groups++;
    if (status)
        c->stats.failed_groups++;
    if (c->opts.on_group) {
        ct_commit_group_info info = {c->group_writes, c->group_failed,
                                     status, ns};
        c->opts.on_group(&info, c->opts.on_group_data);
    }
    c->group_writes = c->group_failed = 0;
    c->last_status = status;
}

/* The group's transaction is gone (commit failed, or SQLite rolled it
 * back under a write): every member hears err. */
static void fail_group(ct_commit *c, int err)
{
    ct_store_rollback(c->store);
    c->open = false;
    list_move(&c->done, &c->group, err);
    report_group(c, err, 0);
}

static void end_group(ct_commit *c)
{
    if (!c->open)
        return;
    uint64_t t0 = uv_hrtime();
    int err = ct_store_commit(c->store);
    uint64_t ns = uv_hrtime() - t0;
    if (err) {
        ct_log_error(UNIT, "group commit of %u writes failed: %s",
                     c->group_writes, ct_strerror(err));
        fail_group(c, err);
        return;
    }
    c->open = false;
    list_move(&c->done, &c->group, 0);
    report_group(c, 0, ns);
}

static void dispatch(ct_commit *c)
{
    /* Callbacks may queue new writes: detach the list first. */
    list due = c->done;
    list_init(&c->done);
    for (ct_commit_req *r = due.head, *next; r; r = next) {
        next = r->next;
        r->cb(r, r->status);
    }
    /* Deferred jobs run only while no group is open, one at a time, so
     * none of them sees a write a callback above (or a job before it)
     * may have made this turn. */
    while (!c->open && !list_empty(&c->deferred)) {
        ct_commit_req *r = c->deferred.head;
        c->deferred.head = r->next;
        if (!c->deferred.head)
            c->deferred.tail = &c->deferred.head;
        r->cb(r, c->last_status);
    }
}

static bool busy(const ct_commit *c)
{
    return c->open || !list_empty(&c->done) || !list_empty(&c->deferred) ||
           c->parked || !list_empty(&c->waiting);
}

static void on_check(uv_check_t *h)
{
    ct_commit *c = h->data;
    if (!c->parked) /* a parked write's group stays open until it ends */
        end_group(c);
    dispatch(c);
    if (!busy(c))
        disarm(c);
}

static int call_fn(void *arg)
{
    ct_commit *c = arg;
    ct_commit_req *r = c->parked;
    return r->fn(c->store, r->arg);
}

static void finish_write(ct_commit *c, ct_commit_req *r);
static void run_waiting(ct_commit *c);

static void on_parked_done(void *arg, int result)
{
    ct_commit *c = arg;
    ct_commit_req *r = c->parked;
    c->parked = NULL;
    if (c->armed)
        uv_idle_start(&c->idle, on_idle);
    r->result = result;
    finish_write(c, r);
    if (!c->closing)
        run_waiting(c);
}

/* Runs r's function: on the host thread when there is one (unless this
 * is that thread: a write inside a job runs inline). false when it
 * parked: finish_write runs when it ends. */
static bool run_fn(ct_commit *c, ct_commit_req *r)
{
    if (!c->handoff || ct_handoff_on_thread(c->handoff)) {
        r->result = r->fn(c->store, r->arg);
        return true;
    }
    c->parked = r;
    int result = 0;
    int rc = ct_handoff_run(c->handoff, call_fn, c, on_parked_done, &result);
    if (rc == 0) {
        /* Nothing to do before it ends: the loop may sleep in poll (the
         * idle handle would make it spin while plugin code runs). */
        if (c->parked) /* (it may have ended already: then done ran) */
            uv_idle_stop(&c->idle);
        return false;
    }
    c->parked = NULL;
    r->result = rc == 1 ? result : rc;
    return true;
}

/* Begins r: its transaction or savepoint, then its function. */
static int start_write(ct_commit *c, ct_commit_req *r)
{
    int err;
    if (!c->open) {
        if ((err = ct_store_begin(c->store)))
            return err;
        c->open = true;
    }
    r->status = 0;
    arm(c);
    if (!c->opts.per_request && (err = ct_store_savepoint(c->store))) {
        if (!ct_store_in_transaction(c->store))
            fail_group(c, err);
        return err;
    }
    c->stats.writes++;
    if (c->opts.per_request)
        c->group_writes = 1;
    else
        c->group_writes++;
    before_write(c);
    if (run_fn(c, r))
        finish_write(c, r);
    return 0;
}

/* r's function has run: keep or roll back its changes. */
static void finish_write(ct_commit *c, ct_commit_req *r)
{
    int err;
    if (c->opts.per_request) {
        if (r->result) {
            c->stats.failed_writes++;
            c->group_failed = 1;
            ct_store_rollback(c->store);
            c->open = false;
            after_write(c, r->result);
            list_push(&c->done, r);
            report_group(c, 0, 0);
            return;
        }
        list_push(&c->group, r);
        end_group(c);
        if (c->last_status == 0) /* else on_group has told */
            after_write(c, 0);
        return;
    }
    list_push(&c->group, r);
    if (!ct_store_in_transaction(c->store)) {
        /* SQLite ends the whole transaction on some errors (I/O, full
         * disk, out of memory): the group is lost, not just this write. */
        ct_log_error(UNIT, "a write ended the group's transaction; %u "
                     "writes are rolled back", c->group_writes);
        /* The write's own error says why (a full disk, say). */
        fail_group(c, r->result < 0 ? r->result : CT_ESTORE);
        return;
    }
    if (r->result) {
        c->stats.failed_writes++;
        c->group_failed++;
        err = ct_store_rollback_to(c->store);
    } else {
        err = ct_store_release(c->store);
    }
    if (err) {
        ct_log_error(UNIT, "ending a write's savepoint: %s",
                     ct_strerror(err));
        fail_group(c, err);
        return;
    }
    after_write(c, r->result);
}

/* The writes that waited for a parked one, in order, until one parks. */
static void run_waiting(ct_commit *c)
{
    while (!c->parked && !list_empty(&c->waiting)) {
        ct_commit_req *r = c->waiting.head;
        c->waiting.head = r->next;
        if (!c->waiting.head)
            c->waiting.tail = &c->waiting.head;
        int err = start_write(c, r);
        if (err) { /* told through its callback, as the caller is gone */
            r->result = err;
            r->status = err;
            list_push(&c->done, r);
            arm(c);
        }
    }
}

int ct_commit_write(ct_commit *c, ct_commit_req *r, ct_commit_fn fn,
                    void *arg, ct_commit_cb cb)
{
    if (c->closing)
        return CT_ESTATE;
    r->cb = cb;
    r->fn = fn;
    r->arg = arg;
    if (c->parked || !list_empty(&c->waiting)) {
        r->status = 0;
        list_push(&c->waiting, r);
        arm(c);
        return 0;
    }
    int err = start_write(c, r);
    /* Writes its function made (queued behind it) run now. */
    if (!c->parked && !list_empty(&c->waiting))
        run_waiting(c);
    return err;
}

void ct_commit_set_handoff(ct_commit *c, ct_handoff *h)
{
    c->handoff = h;
}

int ct_commit_defer(ct_commit *c, ct_commit_req *r, ct_commit_cb cb)
{
    if (!c->open)
        return CT_ESTATE;
    r->cb = cb;
    r->result = 0;
    r->status = 0;
    list_push(&c->deferred, r);
    arm(c);
    return 0;
}

bool ct_commit_pending(const ct_commit *c)
{
    return c->open;
}

void ct_commit_get_stats(const ct_commit *c, ct_commit_stats *out)
{
    *out = c->stats;
}

static void on_closed(uv_handle_t *h)
{
    ct_commit *c = h->data;
    if (--c->handles > 0)
        return;
    void (*cb)(void *) = c->close_cb;
    void *data = c->close_data;
    free(c);
    if (cb)
        cb(data);
}

void ct_commit_close(ct_commit *c, void (*cb)(void *data), void *data)
{
    /* Refuse new writes first, so that the flush below terminates. */
    c->closing = true;
    /* A parked write and those waiting for it end first (their plugin
     * calls have deadlines). */
    for (;;) {
        if (c->parked)
            ct_handoff_finish(c->handoff);
        else if (!list_empty(&c->waiting))
            run_waiting(c);
        else
            break;
    }
    end_group(c);
    dispatch(c);
    disarm(c);
    c->close_cb = cb;
    c->close_data = data;
    c->handles = 2;
    uv_close((uv_handle_t *)&c->check, on_closed);
    uv_close((uv_handle_t *)&c->idle, on_closed);
}
