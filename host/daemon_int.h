/*
 * Daemon internals shared by daemon.c (life cycle, config, signals),
 * daemon_cap.c (the host on the loop: capacity timers through the group
 * commit, events, metrics and the reply cache) and daemon_guard.c (the
 * guard over the database). Not for use outside those files: units that
 * join the daemon (daemon_plugins.c) use daemon.h.
 */
#ifndef CT_DAEMON_INT_H
#define CT_DAEMON_INT_H

#include "auth.h"
#include "capacity.h"
#include "daemon.h"
#include "host.h"
#include "http.h"

#define CT_DAEMON__MAX_HOOKS 8

typedef struct ct_daemon__health_hook {
    ct_daemon_health_fn fn;
    void *data;
} ct_daemon__health_hook;

/* A cached reply body (ct_daemon_cache_get/put). */
typedef struct ct_daemon__cached {
    char *body; /* owned; NULL when empty */
    size_t len;
    uint64_t version;
    int64_t at; /* host clock */
} ct_daemon__cached;

/* A timer-driven capacity write (hold expiry, isolation ends, the daily
 * snapshot). */
typedef struct ct_daemon__due {
    ct_daemon *d;
    ct_timer timer;
    ct_commit_req req;
    bool queued;        /* req is in a group, its callback not yet run */
    int64_t retry_at;   /* after a failure, not before this */
    int count;          /* done by the last run */
    const char *what;   /* for logs */
    int64_t (*next)(ct_capacity *c);
    int (*run)(ct_capacity *c); /* count done, or a CT_E* code */
    int (*run_d)(ct_daemon *d); /* instead of run when set */
} ct_daemon__due;

struct ct_daemon {
    uv_loop_t loop;
    ct_daemon_options opts;
    ct_config *cfg;
    ct_auth *auth;
    struct ct_daemon__tokens *tk; /* daemon_tokens.c */
    ct_store *store;
    ct_clock *clock;
    ct_commit *commit;
    struct ct_handoff *handoff; /* the host thread the commit's writes run on */
    ct_prom *prom;
    ct_http *http;
    ct_host *host;    /* capacity and plugins (host.h), daemon_cap.c */
    ct_capacity *cap; /* the host's */
    void *unit_data[CT_DAEMON_MAX_UNITS]; /* opts.units' */
    size_t units_started;
    struct ct_daemon__guard *guard; /* daemon_guard.c */
    uv_signal_t sigterm, sigint, sighup;
    int signals_open;
    int holds; /* readiness holds; start-up holds one */
    bool stopping;
    struct ct_daemon__reload *reloading; /* daemon_reload.c; NULL idle */
    bool reload_again;  /* asked again while one ran */
    json_t *pretested;  /* the self-test child's results, during step 2 */
    ct_daemon_reload_hook hooks[CT_DAEMON__MAX_HOOKS];
    size_t nhooks;
    ct_daemon__health_hook health[CT_DAEMON__MAX_HOOKS];
    size_t nhealth;
    ct_prom_family *m_ready, *m_reloads, *m_groups, *m_writes, *m_group_size,
        *m_commit_seconds, *m_events;
    /* set by the caretide_beds collector (daemon_cap.c) */
    ct_prom_family *m_occupancy, *m_surge_share, *m_waiting, *m_nctr,
        *m_delayed, *m_bed_days;

    /* daemon_cap.c */
    ct_daemon__due expiry, isolation, snapshot;
    ct_daemon__due queue; /* the waiting list's re-match (capacity_waitlist.h) */
    ct_timer rearm;       /* re-reads when the next expiry and end are due */
    ct_timer head_timer;  /* syncs the audit head file, HEAD_SYNC_MS late */
    bool head_dirty;
    ct_daemon__cached cache[CT_DAEMON_CACHE_SLOTS];
    struct ct_daemon__render *renders; /* daemon_render.c */
    /* Reads beside an open group (daemon_render.c): a read-only
     * connection of the loop's own, opened on first use, and while a GET
     * handler runs on it the read-only capacity handle over it, which
     * ct_daemon_capacity and ct_daemon_store then return. */
    ct_store *snap_store;
    ct_capacity *snap_cap;
};

/* The guard over the database (daemon_guard.c). open takes the lock,
 * refuses a missing, stale, corrupt or broken database (logged) and opens
 * d->store; start adds the timers, metrics and health once the clock and
 * the metrics exist; stop closes its handle at shutdown; free releases the lock after the store has closed.
 * outcome tells it how writes end: an error (a failed group, a write
 * that failed on the store) may degrade, a commit ends a passing state.
 * degraded says whether and why (borrowed until the next loop turn). */
int ct_daemon__guard_open(ct_daemon *d);
int ct_daemon__guard_start(ct_daemon *d);
void ct_daemon__guard_stop(ct_daemon *d); /* closes its loop handle */
void ct_daemon__guard_detach(ct_daemon *d); /* before the store closes */
void ct_daemon__guard_free(ct_daemon *d);
void ct_daemon__guard_outcome(ct_daemon *d, int err, bool committed);
bool ct_daemon__guard_degraded(ct_daemon *d, const char **reason);

/* The token store in the daemon (daemon_tokens.c): start reads the file
 * beside the database (moving migration 9's displays into it), audits what
 * changed since the chain last looked and hands it to authentication,
 * then re-reads it when it changes (a timer); auth_changed gives it to a
 * new ct_auth after a reload; stop closes the timer; free after the loop.
 * check_config refuses a config token with the secret of a stored one. */
int ct_daemon__tokens_start(ct_daemon *d);
void ct_daemon__tokens_auth_changed(ct_daemon *d, ct_auth *auth);
int ct_daemon__tokens_check_config(ct_daemon *d, const ct_config *cfg,
                                   ct_diags *diags);
void ct_daemon__tokens_stop(ct_daemon *d);
void ct_daemon__tokens_free(ct_daemon *d);

/* The reload (daemon_reload.c): stop kills a running self-test process
 * at shutdown (its caller is told); failed logs and counts a reload that
 * failed, with its diagnostics. */
void ct_daemon__reload_stop(ct_daemon *d);
void ct_daemon__reload_failed(ct_daemon *d, int err, const ct_diags *diags);

/* A reload in steps (daemon.c), so that daemon_reload.c can wait for
 * prepare_start hooks on the loop: begin loads the config, the tokens and
 * notes what runs now (no group commit open); each hook is then prepared
 * (p->prepared counts them); commit, with no group commit open again,
 * reconciles the store, applies, audits and swaps; drop aborts what was
 * prepared. begin on failure, commit and drop always, free p's contents
 * and count the reload. ct_daemon_reload_by is these in a row. */
typedef struct ct_daemon__pending {
    ct_config *next;
    ct_auth *auth;
    json_t *plugins_before, *settings_before;
    size_t prepared; /* hooks prepared so far */
} ct_daemon__pending;
int ct_daemon__reload_begin(ct_daemon *d, ct_daemon__pending *p,
                            ct_diags *diags);
int ct_daemon__reload_commit(ct_daemon *d, ct_daemon__pending *p,
                             const char *actor, ct_diags *diags,
                             ct_reconcile_stats *stats);
void ct_daemon__reload_drop(ct_daemon *d, ct_daemon__pending *p, int err,
                            ct_diags *diags);

/* Opens the host (host.h: the area reconciled, stats filled; capacity;
 * the configured plugins, problems printed) on the store and the clock
 * and starts the capacity timers; registers its gauges. */
int ct_daemon__cap_start(ct_daemon *d, ct_reconcile_stats *stats);
/* Closes the host and frees the cache (after the loop has ended). */
void ct_daemon__cap_free(ct_daemon *d);
/* Frees the whole-area render jobs (after the loop has ended), and
 * closes the reads' connection. */
void ct_daemon__render_free(ct_daemon *d);
/* A write now waits for plugin code: whole-area answers waiting for its
 * group to end are built from the last commit instead. */
void ct_daemon__render_parked(ct_daemon *d);

/* ct_http_options.read_begin and read_end (app is the daemon): turn the
 * handlers to the last commit, on d->snap_store, and back. */
bool ct_daemon__read_begin(void *app);
void ct_daemon__read_end(void *app);
/* After a reload reconciled the store. */
void ct_daemon__cap_reloaded(ct_daemon *d);
/* Committed data may have changed: moves the area's data version
 * (ct_daemon_data_version), which keys the reply cache. */
void ct_daemon__data_changed(ct_daemon *d);
/* Commit hooks (ct_commit_options): write brackets and group outcome. */
void ct_daemon__after_write(int result, void *data);
void ct_daemon__group_done(ct_daemon *d, const ct_commit_group_info *info);

#endif
