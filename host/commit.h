/*
 * Group commit (docs/design.md principle 4): writes that arrive in the same
 * loop turn share one transaction and so one fsync, and each writer hears
 * the outcome only after that commit.
 *
 * The first write of a turn begins a transaction; every write runs in its
 * own SAVEPOINT inside it, so a write that fails rolls back alone and the
 * others stand. At the end of the turn (a uv_check callback, after the
 * poll phase that delivered the requests) the transaction commits and
 * every writer's callback runs with the outcome: 0 when it is on disk, a
 * CT_E* code when the commit failed and nothing of the group was kept.
 * While a group is open an idle handle keeps the loop from blocking, so a
 * write made from a timer callback is not left waiting for I/O.
 *
 * Work that must not see uncommitted changes (reads answered to clients)
 * or that needs a transaction of its own (config reconcile) is deferred
 * with ct_commit_defer to run right after the open group ends.
 *
 * With per_request set, each write is its own transaction committed at
 * once (the comparison for the benchmark); callbacks still run at the end
 * of the turn, so callers see the same sequence either way.
 *
 * Life cycle follows libuv's: ct_commit_new, then ct_commit_close with a
 * callback; the memory is freed after libuv has closed the handles.
 */
#ifndef CT_COMMIT_H
#define CT_COMMIT_H

#include "store.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct ct_commit ct_commit;
typedef struct ct_commit_req ct_commit_req;

/* A write: changes the store inside the open transaction. Returns 0 to
 * keep its changes, a negative CT_E* code to have them rolled back. */
typedef int (*ct_commit_fn)(ct_store *s, void *arg);

/* The outcome: status 0 when the group (or the deferred point) was
 * reached with everything on disk; a CT_E* code when the commit failed. */
typedef void (*ct_commit_cb)(ct_commit_req *r, int status);

/*
 * A queued write or deferred job, embedded by the caller (no allocation)
 * and owned by it; it must stay valid until its callback runs. result is
 * what the write function returned (0 for deferred jobs); data is the
 * caller's. The other fields are private.
 */
struct ct_commit_req {
    void *data;
    int result;
    ct_commit_cb cb;
    int status;
    ct_commit_req *next;
    ct_commit_fn fn; /* a write waiting for a parked one (handoff.h) */
    void *arg;
};

/* Reported after each group ends, for metrics (may be NULL). */
typedef struct ct_commit_group_info {
    unsigned writes;      /* writes in the group */
    unsigned failed;      /* of which rolled back to their savepoint */
    int status;           /* 0 committed, or the commit's CT_E* code */
    uint64_t commit_ns;   /* time spent in COMMIT (the fsync) */
} ct_commit_group_info;

typedef struct ct_commit_options {
    bool per_request; /* one transaction per write: no grouping */
    void (*on_group)(const ct_commit_group_info *info, void *data);
    void *on_group_data;
    /* Around each write, for units that keep state beside the store
     * (queued events, caches): before_write runs just before the write's
     * function, after_write once its changes are kept (result 0: in the
     * group, or committed in per-request mode) or rolled back (result is
     * the function's error). A whole group that fails to commit is told
     * through on_group instead. Either may be NULL. */
    void (*before_write)(void *data);
    void (*after_write)(int result, void *data);
    void *write_data;
} ct_commit_options;

/*
 * A new group committer for store on loop (both borrowed; they must
 * outlive it). opts may be NULL. *out is closed with ct_commit_close.
 */
int ct_commit_new(uv_loop_t *loop, ct_store *store,
                  const ct_commit_options *opts, ct_commit **out);

/*
 * Ends any open group (commit and callbacks) at once, then closes the
 * handles; cb(data) runs once the memory is freed (may be NULL).
 */
void ct_commit_close(ct_commit *c, void (*cb)(void *data), void *data);

/*
 * Runs fn(store, arg) now, inside the current group (beginning one if
 * needed) and its own savepoint; r->result gets fn's return value, and a
 * failing fn's changes are rolled back. Returns 0 when r is queued: cb(r,
 * status) runs at the end of the turn. Returns a CT_E* code, leaving r
 * unqueued and cb never called, when no transaction could be begun (or
 * when called while the committer is closing: CT_ESTATE).
 *
 * With a host thread (ct_commit_set_handoff), fn runs there, and a write
 * whose plugin calls let the loop go (it "parks") keeps the group open
 * until it ends: the turn's end does not commit, ct_commit_pending stays
 * true (reads and deferred work wait), and writes that come meanwhile
 * wait in order and run once it has ended, in the same group (a write
 * that then cannot begin hears the error through cb). r->result is set
 * by the time cb runs, not necessarily on return.
 */
int ct_commit_write(ct_commit *c, ct_commit_req *r, ct_commit_fn fn,
                    void *arg, ct_commit_cb cb);

/*
 * Queues r to run after the open group ends, outside any transaction;
 * cb(r, status) gets the group's status. CT_ESTATE when no group is open
 * (nothing to wait for: do the work now); cb is then never called.
 */
int ct_commit_defer(ct_commit *c, ct_commit_req *r, ct_commit_cb cb);

/* Runs every write's function on h's host thread from now on (borrowed;
 * must outlive the committer). */
struct ct_handoff;
void ct_commit_set_handoff(ct_commit *c, struct ct_handoff *h);

/* Whether a group is open (writes made this turn, not yet committed). */
bool ct_commit_pending(const ct_commit *c);

/* Totals since ct_commit_new. */
typedef struct ct_commit_stats {
    uint64_t groups;         /* transactions committed or failed */
    uint64_t failed_groups;  /* of which failed to commit */
    uint64_t writes;         /* writes run */
    uint64_t failed_writes;  /* of which rolled back by their function */
} ct_commit_stats;

void ct_commit_get_stats(const ct_commit *c, ct_commit_stats *out);

#endif
