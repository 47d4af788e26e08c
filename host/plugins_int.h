/*
 * Plugin manager internals shared between the manager's files
 * (host/plugins*.c: sets and reload, hooks, events, status, and
 * plugins_hostapi.c, the `ct` module plugins call). Not for use outside
 * them.
 */
#ifndef CT_PLUGINS_INT_H
#define CT_PLUGINS_INT_H

#include "bundle.h"
#include "clock.h"
#include "events.h"
#include "manifest.h"
#include "plugins.h"
#include "sandbox.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ct_plugin ct_plugin;

/* Failures are counted, and quarantine applies, per hook, per schedule and
 * per event handler: a schedule that keeps overrunning is stopped alone
 * and never takes the plugin's triage with it. */
typedef struct ct_plugin_guard {
    uint64_t consecutive; /* failures since the last success */
    uint64_t unconfirmed; /* consecutive before the last call succeeded */
    uint64_t history;     /* its last 64 calls, newest in bit 0: 1 failed */
    bool quarantined;     /* not called again until the plugin reloads */
} ct_plugin_guard;

/* The decision hooks, each with its own guard. */
enum { CT_HOOK_TRIAGE, CT_HOOK_RANK, CT_HOOK_ADMIT, CT_HOOK_ESCALATE, CT_HOOK_DELAY,
       CT_HOOK_QUEUE, CT_HOOK_COUNT };

/* A ct.every or ct.daily schedule: a timer on the host clock calling a
 * Lua function held by registry reference. */
typedef struct ct_plugin_schedule {
    ct_timer timer;
    ct_plugin *plugin;
    int ref;
    int64_t interval_ms; /* every: the period; daily: one day */
    int daily_minute;    /* minutes after midnight UTC; -1 for every */
    ct_plugin_guard guard;
    uint32_t slices; /* calls in a row that answered "more" */
    char name[48]; /* "every 15m #1", for logs, traces and status */
} ct_plugin_schedule;

/* A ct.on subscription. */
typedef struct ct_plugin_sub {
    char *event;
    int ref;
    ct_plugin_guard guard;
} ct_plugin_sub;

struct ct_plugin {
    ct_plugins *mgr;
    char *dir;
    ct_manifest *manifest;
    json_t *settings;
    char settings_hash[65];
    char bundle_hash[65]; /* "" for a plain directory */
    char key_id[17];      /* "" when unsigned */
    ct_bundle *bundle;    /* the verified files the sandbox runs; NULL for
                             a plain directory (read from disk) */
    ct_sandbox *sb;
    ct_plugin_guard hooks[CT_HOOK_COUNT];
    unsigned hook_mask; /* bit h: it had hook h once loaded (CT_HOOK_*) */
    bool in_setup; /* ct.every/daily/on are allowed only in setup() */
    bool live;     /* part of the running set (schedules armed) */
    bool stuck;    /* the watchdog gave up a call: all of it quarantined */
    uint64_t calls, errors, timeouts;
    int64_t decision_ns;  /* CPU budget: spent in this decision */
    bool overran;         /* this decision's budget was used up */
    ct_plugin_guard budget; /* decisions over budget, as calls of a part */
    int64_t minute_ns;    /* spent on events and schedules in minute_at */
    int64_t minute_at;    /* minute of minute_ns: monotonic, or the
                             host clock's when it is virtual */
    char budget_msg[256];
    int64_t emit_minute;  /* host-clock minute of emit_bytes */
    size_t emit_bytes;    /* ct.emit payload bytes in that minute */
    ct_plugin_sub *subs;
    size_t nsubs;
    ct_plugin_schedule **scheds;
    size_t nscheds;
    /* ct.isolation_length calls of setup, applied while the set is live. */
    struct ct_plugin_iso {
        char pathogen[64];
        int64_t ms;
    } *iso;
    size_t niso;
};

/* --- the manager, shared by plugins.c (sets, life cycle), plugins_hooks.c
 * (hook calls), plugins_events.c (events, schedules) and plugins_status.c
 * (status, the analysts' console) ------------------------------------------ */

typedef struct set {
    ct_plugin **items;
    size_t n;
} set;

typedef struct queued {
    char *kind;
    json_t *payload;
    char *from; /* the plugin whose event handler emitted it, or NULL */
    int depth;  /* events it answers: 0 for the host's */
} queued;

/* An event a handler recorded inside the embedder's write (due mode):
 * heard from the bus only after that write's commit, when nobody answers
 * any more, so who emitted it in answer to what is kept by its seq. */
typedef struct answered {
    int64_t seq;
    char *from;
    int depth;
} answered;

struct ct_plugins {
    ct_capacity *cap;
    const ct_config *cfg;
    set *cur;
    set *next; /* built by prepare, swapped in by apply */
    const ct_config *next_cfg;
    queued *queue;
    size_t nqueue, capqueue;
    bool flushing;
    const ct_config *loading; /* the config set_load is loading, or NULL */
    const char *answering; /* plugin whose event handler runs now */
    int answering_depth;   /* the depth of the event it answers */
    answered *answers;     /* ct_plugins__note_answer, until delivered */
    size_t nanswers, capanswers;
    int running; /* plugin calls under way: events wait in the queue */
    ct_sandbox_line_fn line_fn; /* coverage (ct_plugins_new_traced) */
    void *line_ud;
    int64_t watchdog_ms; /* ct_plugins_options */
    json_t *pretested; /* ct_plugins_set_pretested: the next prepare's */
    ct_plugins_gate gate; /* while ct_plugins_prepare_load runs gated */
    set *loaded; /* built by prepare_load, checked by prepare_end */
    /* ct_plugins_set_due: work the embedder runs (schedules that fired,
     * in order; the event queue) instead of running it where it falls. */
    ct_plugins_due_fn due_fn;
    void *due_ud;
    ct_plugin_schedule **due;
    size_t ndue, capdue;
};

/* The host clock's time for a sandbox (ud: the capacity handle). */
int64_t ct_plugins__clock(void *ud);

/* Frees a plugin that is in no set (or whose set is being freed). */
void ct_plugins__plugin_free(ct_plugin *p);

/* The decision hooks' names, by CT_HOOK_* index. */
extern const char *const ct_plugins__hook_names[CT_HOOK_COUNT];

/* Counts a failure of one hook, schedule or handler (guard g, named what)
 * and quarantines that part alone after limits.quarantine_after failures
 * in a row or among its last limits.quarantine_window calls. */
void ct_plugins__count_failure(ct_plugin *p, ct_plugin_guard *g,
                               const char *what, int rc);
/* Whether p had hook h (CT_HOOK_*) once loaded; safe from any thread. */
bool ct_plugins__has_hook(const ct_plugin *p, int h);
/* Counts a call of g that succeeded. */
void ct_plugins__count_success(ct_plugin_guard *g);

/* Visits every guard of p with its name; stops when fn returns true. */
bool ct_plugins__each_guard(const ct_plugin *p,
                            bool (*fn)(const ct_plugin_guard *, const char *,
                                       void *),
                            void *ud);

/* CT_PER_SCHEDULE charges the minute's budget like CT_PER_MINUTE, under the
 * schedule's own deadline (limits.schedule_deadline) instead of a hook's. */
enum ct_plugins__budget { CT_PER_DECISION, CT_PER_MINUTE, CT_PER_SCHEDULE };

/* ct_sandbox_call within the plugin's CPU budget (plugins_hooks.c). */
int ct_plugins__budgeted_call(ct_plugin *p, const char *what, int nargs,
                              int nres, enum ct_plugins__budget b,
                              const char **msg);

/* Queues an event for the plugins; takes a payload reference. The emitter
 * is the plugin answering now. */
void ct_plugins__enqueue(ct_plugins *m, const char *kind, json_t *payload);

/* Drops every queued event. */
void ct_plugins__drop_queue(ct_plugins *m);

/* An event recorded with seq by plugin code: if a handler recorded it
 * inside the embedder's write, keeps who and in answer to what. */
void ct_plugins__note_answer(ct_plugins *m, int64_t seq);

/* Forgets p's schedules that are due and not yet run (p is being freed). */
void ct_plugins__forget_due(ct_plugins *m, const ct_plugin *p);

/* A schedule's timer fired: run now, or marked due for the embedder. */
void ct_plugins__schedule_fired(ct_plugin_schedule *s);

/* The event bus's subscriber (data: the manager). */
void ct_plugins__on_bus_event(const ct_event *ev, void *data);

/* The host objects a plugin's `ct` functions reach. Borrowed. */
ct_capacity *ct_plugins__capacity(ct_plugins *m);
const ct_config *ct_plugins__config(ct_plugins *m);

/* Whether a plugin of this name is in the running set or the one being
 * loaded (a policy key's publisher keeps it only while it is). */
bool ct_plugins__loaded(const ct_plugins *m, const char *name);

/* Registers the `ct` module and the global `ct` into p's sandbox. */
int ct_hostapi_open(ct_plugin *p);

/* Arms a schedule's timer for its next due time, or for now when soon
 * (its job said it has more to do). */
void ct_plugins__schedule_arm(ct_plugin_schedule *s, bool soon);

/* Downgrades (plugins_downgrade.c). check: 0 unless next is a lower
 * version than old without an allowance (CT_EDENIED, with a diagnostic at
 * entry's line in file). audit: when an allowance names p's version,
 * records the downgrade in the audit chain and removes the allowance. */
int ct_plugins__check_downgrade(const ct_plugin *old, const ct_plugin *next,
                                const char *file,
                                const ct_config_plugin *entry,
                                ct_diags *diags);
void ct_plugins__audit_downgrade(ct_plugin *p, ct_capacity *cap);

/* Runs a schedule's function now (used by the timers). */
void ct_plugins__run_schedule(ct_plugin_schedule *s);

#endif
