/*
 * The daemon behind `caretide run`: one libuv loop owning the area config,
 * the store, the group committer, the metrics registry, the HTTP server
 * (routes in api.c) and the signals: SIGHUP reloads, SIGTERM and SIGINT
 * shut down gracefully (stop accepting, let in-flight requests finish,
 * commit, close the database, exit 0).
 *
 * Route handlers get the daemon as their app pointer and reach the other
 * units through the accessors below. Units that join the daemon later
 * (capacity timers, the plugin manager) hook in at start-up: they hold
 * readiness back while loading, register metrics on ct_daemon_prom, add
 * reload hooks, and contribute to GET /v1/health.
 */
#ifndef CT_DAEMON_H
#define CT_DAEMON_H

#include "capacity.h"
#include "clock.h"
#include "commit.h"
#include "config.h"
#include "diag.h"
#include "http.h"
#include "plugins.h"
#include "prom.h"
#include "reconcile.h"
#include "store.h"
#include "token.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

typedef struct ct_daemon ct_daemon;

/*
 * A unit that joins the daemon from above (the plugin manager's glue,
 * daemon_plugins.h): the daemon never calls up into it, its owner hands
 * it over in the options. start runs at start-up once the host is open
 * and before the HTTP server starts (a CT_E* code fails start-up; *data
 * is passed back to the others); stop runs when shutdown begins (or a
 * failed start-up is undone) and closes its loop handles; free runs after
 * the loop has ended, before the host closes. stop and free may be NULL
 * and run even when start failed.
 */
typedef struct ct_daemon_unit {
    const char *name;
    int (*start)(ct_daemon *d, void **data);
    void (*stop)(ct_daemon *d, void *data);
    void (*free)(ct_daemon *d, void *data);
} ct_daemon_unit;

#define CT_DAEMON_MAX_UNITS 8

typedef struct ct_daemon_options {
    const char *config_path;  /* NULL: the embedded demo area */
    const char *listen_host;  /* override of server.listen, or NULL */
    int listen_port;          /* override (0-65535), or -1 */
    const char *db_path;      /* override of storage.path, or NULL */
    bool per_request_commit;  /* no group commit (benchmark comparison) */
    bool restored;            /* accept a database older than its audit
                                 head file as a restore (audited) */
    int64_t check_every_ms;   /* background integrity and chain check
                                 period; 0 never */
    const char *ship_dir;     /* ship changes for a standby there (ship.h),
                                 or NULL */
    bool allow_demo_tokens;   /* serve the published demo tokens on an
                                 address that is not loopback */
    FILE *out;                /* the start-up banner (stdout) */
    /* The HTTP routes (api.h's table; borrowed for the daemon's life). */
    const ct_http_route *routes;
    size_t nroutes;
    /* Error bodies of routes in another dialect (api.h's FHIR one), or
     * NULL. */
    const ct_http_dialect *dialect;
    /* Units that join the daemon, started in order (at most
     * CT_DAEMON_MAX_UNITS; borrowed). */
    const ct_daemon_unit *const *units;
    size_t nunits;
} ct_daemon_options;

/*
 * Runs the daemon until SIGTERM or SIGINT. Returns the process exit
 * status: 0 after a clean shutdown, 1 when start-up fails (the reason is
 * logged or, for config errors, printed as file:line:col diagnostics).
 */
int ct_daemon_run(const ct_daemon_options *opts);

/* ---- for handlers and units ------------------------------------------- */

/* Borrowed; valid while the daemon runs. The config is replaced by a
 * reload: do not keep pointers into it across loop turns. */
uv_loop_t *ct_daemon_loop(ct_daemon *d);
ct_store *ct_daemon_store(ct_daemon *d);
ct_commit *ct_daemon_commit(ct_daemon *d);
ct_prom *ct_daemon_prom(ct_daemon *d);
const ct_config *ct_daemon_config(ct_daemon *d);
/* The real host clock on the loop: hold expiry, isolation ends and plugin
 * schedules start their ct_timer on it. It closes before the committer at
 * shutdown, so a timer callback may always write (ct_commit_write). */
ct_clock *ct_daemon_clock(ct_daemon *d);

/*
 * The capacity handle on the daemon's store and clock (borrowed; valid
 * while the daemon runs). Its hold expiry and isolation ends run on the
 * host clock as writes of the group commit; its events are delivered
 * after each commit (logged, and dispatched to the plugins when set).
 */
ct_capacity *ct_daemon_capacity(ct_daemon *d);

/*
 * Changes the token store (token.h) from inside a write of the group
 * commit: locks and re-reads the file, calls fn(t, arg), and when it
 * returns 0 saves the file, hands the new store to authentication (so a
 * revocation is refused from the next request on) and appends the audit
 * events of the change to the write. fn's error (with its sentence in
 * why) is returned and nothing changes. The actor of each event is the
 * one fn records in the store.
 */
int ct_daemon_tokens_edit(ct_daemon *d, int (*fn)(ct_tokens *t, void *arg),
                          void *arg, char *why, size_t n);

/* The token store as last read (borrowed until the next loop turn). */
const ct_tokens *ct_daemon_tokens(ct_daemon *d);

/*
 * The plugin manager of the daemon's host (host.h), which gets every
 * capacity event after commit. Borrowed; valid while the daemon runs
 * (NULL before start-up has opened the host).
 */
ct_plugins *ct_daemon_plugins(ct_daemon *d);

/*
 * A counter that moves whenever committed data may have changed (a group
 * commit that kept a write, a capacity event), and a small reply cache
 * keyed on it for READ routes whose answer depends only on committed data
 * and the clock (GET /v1/capacity). get returns 0 with a malloc'd copy of
 * the body stored in slot at the current version less than max_age_ms
 * ago, CT_ENOTFOUND otherwise; put stores a copy (failures to store are
 * silently a miss later).
 */
#define CT_DAEMON_CACHE_SLOTS 4
uint64_t ct_daemon_data_version(const ct_daemon *d);
int ct_daemon_cache_get(ct_daemon *d, unsigned slot, int64_t max_age_ms,
                        char **body, size_t *len);
void ct_daemon_cache_put(ct_daemon *d, unsigned slot, const char *body,
                         size_t len);
/* The same for a body built from the data of version at time at. */
void ct_daemon_cache_put_at(ct_daemon *d, unsigned slot, const char *body,
                            size_t len, uint64_t version, int64_t at);

/*
 * Whole-area answers built off the loop (host/daemon_render.c,
 * docs/internals.md "Whole-area reads"). A READ handler that missed its
 * cache slot calls ct_daemon_render and returns what it returns: 0 when
 * the request now waits (ct_http_req_later) for a body that build makes
 * on a thread of libuv's pool, from a copy of the bed counts taken on the
 * loop (ctx->counts, capacity_view.h; NULL when a write was waiting
 * for plugin code: build then counts with SQL on the reader) and a read-only
 * connection of its own (reader, a ct_capacity_reader_new handle whose clock says when the
 * copy was taken); the body, text that build mallocs, is then stored in
 * the slot at the copy's data version and sent to every request that
 * arrived before the copy. CT_EUNSUPPORTED when no other connection can
 * read the data (an in-memory database): the handler answers on the
 * loop. build must touch nothing of the loop's: ctx holds what it needs.
 */
typedef struct ct_daemon_render_ctx {
    const char *area_id, *area_name;
    const ct_cap_counts *counts;
} ct_daemon_render_ctx;
typedef int (*ct_daemon_render_fn)(ct_capacity *reader,
                                   const ct_daemon_render_ctx *ctx,
                                   void *arg, char **body, size_t *len);
int ct_daemon_render(ct_daemon *d, unsigned slot, ct_http_req *r,
                     ct_daemon_render_fn build, void *arg);

/*
 * Readiness: GET /v1/health says "starting" (503) until start-up is done
 * and while any unit holds it back (plugins loading); each hold is
 * matched by one release.
 */
void ct_daemon_ready_hold(ct_daemon *d);
void ct_daemon_ready_release(ct_daemon *d);
bool ct_daemon_ready(const ct_daemon *d);

/*
 * Reload hooks, called in registration order on SIGHUP and POST
 * /v1/admin/reload, outside any transaction, once the new config has
 * loaded cleanly:
 *   prepare(next): do everything that can fail (load plugins into fresh
 *     states, run their tests) without touching what runs; add
 *     diagnostics and return a CT_E* code to abort the reload.
 *   apply(next): swap in what prepare built; cannot fail. Runs after the
 *     store has been reconciled with next.
 *   abort(next): drop what prepare built (a later step failed).
 * Any of them may be NULL; data is passed back. At most 8 hooks.
 */
typedef struct ct_daemon_reload_hook {
    int (*prepare)(ct_daemon *d, const ct_config *next, ct_diags *diags,
                   void *data);
    /* Optional, used instead of prepare by a reload the loop must not
     * wait for (ct_daemon_reload_start): starts the same work off the
     * loop and returns 0, then calls ct_daemon_reload_prepared exactly
     * once, on the loop's thread, when it has ended; next and diags stay
     * valid until then. A CT_E* code instead: it did not start;
     * CT_EUNSUPPORTED: prepare runs instead, on the loop. */
    int (*prepare_start)(ct_daemon *d, const ct_config *next,
                         ct_diags *diags, void *data);
    void (*apply)(ct_daemon *d, const ct_config *next, void *data);
    void (*abort)(ct_daemon *d, const ct_config *next, void *data);
    void *data;
} ct_daemon_reload_hook;

int ct_daemon_on_reload(ct_daemon *d, const ct_daemon_reload_hook *hook);
/* From a prepare_start hook: its work has ended with err (0: prepared,
 * apply or abort follows). */
void ct_daemon_reload_prepared(ct_daemon *d, int err);

/*
 * Starts a reload (daemon_reload.c): signed bundles' own tests first, in a
 * child process (`caretide plugin selftest`, killed after
 * limits.self_test_timeout), while the loop goes on serving; then, with no
 * group commit open, ct_daemon_reload_by with those results. cb gets the
 * outcome as ct_daemon_reload_by returns it (diags and stats are borrowed
 * for the call) exactly once, on a later loop turn, when this returns 0.
 * CT_EBUSY while another reload runs, CT_ESTATE once shutdown began.
 */
typedef void (*ct_daemon_reload_fn)(int err, ct_diags *diags,
                                    const ct_reconcile_stats *stats,
                                    void *ud);
int ct_daemon_reload_start(ct_daemon *d, const char *actor,
                           ct_daemon_reload_fn cb, void *ud);

/* A reload without a caller waiting (SIGHUP, changed plugin files): one
 * starts now, or again once the running one has ended. */
void ct_daemon_request_reload(ct_daemon *d);

/* During a reload's second step, the self-test child's results for
 * ct_plugins_set_pretested (borrowed), or NULL (start-up: tests run in
 * this process before the loop serves anything). */
json_t *ct_daemon_reload_pretested(const ct_daemon *d);

/* True from the moment shutdown begins. */
bool ct_daemon_stopping(const ct_daemon *d);

/*
 * Reloads the config file now: load and check it, run the prepare hooks,
 * reconcile the store, run the apply hooks, swap the config and the
 * token table. On any failure nothing changes and diags says why.
 * CT_ESTATE while a group commit is open (the caller defers: see
 * ct_commit_defer). stats may be NULL.
 */
int ct_daemon_reload(ct_daemon *d, ct_diags *diags,
                     ct_reconcile_stats *stats);

/* The same, naming who asked (the audit actor of the config.reloaded
 * event that records what changed: docs/operations.md "Information
 * governance"). ct_daemon_reload is reload_by(d, "host", ...). */
int ct_daemon_reload_by(ct_daemon *d, const char *actor, ct_diags *diags,
                        ct_reconcile_stats *stats);

/*
 * Starts a backup (backup.h) of the daemon's database into
 * "<database directory>/backups/NAME", a timestamped caretide-*.db when
 * name is NULL, in libuv's thread pool; GET /v1/health reports it
 * (member "backup"). *path is borrowed until the next backup. CT_EBUSY
 * while one runs, CT_EEXISTS when the file exists, CT_EUNSUPPORTED for
 * an in-memory database.
 */
int ct_daemon_backup_start(ct_daemon *d, const char *name, char **path);

/* Health contributors add members to the GET /v1/health object (the
 * plugin manager fills "plugins"). At most 8. */
typedef void (*ct_daemon_health_fn)(ct_daemon *d, json_t *health,
                                    void *data);
int ct_daemon_on_health(ct_daemon *d, ct_daemon_health_fn fn, void *data);
/* Builds the health object (new reference) and says whether ready. */
json_t *ct_daemon_health(ct_daemon *d, bool *ready);

#endif
