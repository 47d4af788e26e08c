/*
 * The host thread (docs/sandbox.md, "Decisions off the loop"): host work
 * that may call plugin code (a referral's decision, the waiting list, an
 * escalation round: every write of the group commit) runs on a thread of
 * its own while the event loop carries on, so that the loop never waits
 * for plugin code.
 *
 * The host (the store, the capacity handle, the plugin manager, all that
 * the loop owns) is used by one thread at a time, as by a baton. The loop
 * hands a job to the host thread and waits while it runs host code; the
 * host thread gives the baton back when the job ends, or while it waits
 * for a plugin call (ct_sandbox_set_thread_lend): the plugin's thread runs
 * plugin code and the loop its turn. A passage of that plugin into the
 * host (a ct.* function) asks the loop for the baton, and once the call
 * has ended the host thread asks for it back; the loop hands it over only
 * between its own callbacks (an async handle) and waits only for host
 * code. A job whose plugin calls let the loop go is "parked": its done
 * callback runs on the loop when it ends. While a job is parked the
 * embedder keeps the loop off the job's state (the group commit queues
 * writes and keeps its group open, so reads wait for it; the host clock
 * holds its timers): see on_park.
 *
 * Everything here but the job itself runs on the loop's thread.
 */
#ifndef CT_HANDOFF_H
#define CT_HANDOFF_H

#include <stdbool.h>
#include <uv.h>

typedef struct ct_handoff ct_handoff;

/* A job: runs on the host thread, holding the host. */
typedef int (*ct_handoff_fn)(void *arg);
/* On the loop, when a parked job has ended with result. */
typedef void (*ct_handoff_done)(void *arg, int result);

/*
 * A host thread for loop (borrowed; must outlive it). on_park(parked,
 * data) runs on the loop when a job first parks (true) and when it has
 * ended (false, before its done); may be NULL. *out is closed with
 * ct_handoff_close. CT_ENOMEM without a thread.
 */
int ct_handoff_new(uv_loop_t *loop, void (*on_park)(bool parked, void *data),
                   void *data, ct_handoff **out);

/*
 * Runs fn(arg) on the host thread and waits while it holds the host.
 * Returns 1 with *result when it ended without parking; 0 when it parked
 * (done(arg, result) runs on the loop later; nothing else may be run
 * until then); CT_ESTATE when a job is parked already.
 */
int ct_handoff_run(ct_handoff *h, ct_handoff_fn fn, void *arg,
                   ct_handoff_done done, int *result);

/* Whether a job is parked. */
bool ct_handoff_busy(const ct_handoff *h);

/* Whether the caller is the host thread (inside a job: run nested work
 * inline). */
bool ct_handoff_on_thread(const ct_handoff *h);

/* On the loop: serves the parked job's passages until it has ended and
 * its done has run (at shutdown; plugin calls have deadlines). */
void ct_handoff_finish(ct_handoff *h);

/* Ends the thread and closes the loop's handle; no job may be parked.
 * The memory is freed once libuv has closed the handle. */
void ct_handoff_close(ct_handoff *h);

#endif
