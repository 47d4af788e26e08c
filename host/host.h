/*
 * The host assembly: one function puts together what every front-end
 * runs on, so that the daemon, the REPL, `caretide test`, `caretide
 * check`'s dry run and the benchmarks run the same host and refuse the
 * same things. On a store and a clock the caller made, ct_host_open
 *
 *   1. reconciles the area (cfg) into the store,
 *   2. opens the capacity handle with the area's pathogens and hold time
 *      (isolation, referrals and candidates are bound to it),
 *   3. loads the area's plugins in order (the plugin manager; their
 *      setup gives the isolation lengths, the area's policy),
 *   4. delivers every committed capacity event to the embedder's
 *      callback, then to the plugins.
 *
 * What differs between the front-ends is the flags below, not code.
 * Flow of a change (docs/internals.md "Units"): front-end -> intake ->
 * store -> plugins -> capacity -> audit -> events.
 */
#ifndef CT_HOST_H
#define CT_HOST_H

#include "capacity.h"
#include "clock.h"
#include "config.h"
#include "diag.h"
#include "plugins.h"
#include "reconcile.h"
#include "sandbox.h"
#include "store.h"

typedef struct ct_host ct_host;

enum {
    /* The embedder drives hold expiry and isolation ends itself
     * (ct_capacity_next_expiry and friends): the daemon does, so that
     * timer work shares its group commit. Otherwise the capacity handle
     * runs them on the clock (a virtual clock fires them as it moves). */
    CT_HOST_EXTERNAL_TIMERS = 1u << 0,
    /* Plugins that do not load are reported in diags and left out: the
     * host opens with none (the REPL, which helps fix them). Otherwise a
     * plugin that does not load fails the open, as in the daemon. */
    CT_HOST_KEEP_GOING = 1u << 1,
    /* The area is not reconciled into the store: `caretide check`'s dry
     * run of an area without plugins, where nothing would read it and a
     * loaded config cannot fail to go into an empty store (config.c has
     * checked ids, references and kinds). */
    CT_HOST_NO_AREA = 1u << 2,
};

typedef struct ct_host_hooks {
    /* Every committed capacity event, before the plugins get it (the
     * daemon's metrics and timers). May be NULL. */
    ct_capacity_event_cb on_event;
    void *event_data;
    /* Coverage: the line callback of every plugin sandbox, set before the
     * plugin's init.lua runs (ct_plugins_new_traced). May be NULL. */
    ct_sandbox_line_fn line_fn;
    void *line_ud;
    /* > 0: plugin calls on threads of their own, given up this long past
     * their deadline (ct_plugins_options.watchdog_ms): the daemon's, whose
     * loop must never wait for one instruction that does not end. */
    int64_t watchdog_ms;
    /* Filled by the reconcile at open when not NULL. */
    ct_reconcile_stats *stats;
} ct_host_hooks;

/*
 * Assembles the host on store and clock (both borrowed: they must outlive
 * the host). cfg is borrowed until the next ct_host_reload or the close.
 * hooks may be NULL (copied). Every problem with the area or its plugins
 * is added to diags. On success *out owns the host: close it with
 * ct_host_close before the store and the clock.
 */
int ct_host_open(const ct_config *cfg, ct_store *store, ct_clock *clock,
                 unsigned flags, const ct_host_hooks *hooks, ct_host **out,
                 ct_diags *diags);
/* Frees the plugins, then the capacity handle. NULL is harmless. */
void ct_host_close(ct_host *h);

/*
 * Re-matches the waiting list until its round is done (intake.h,
 * ct_intake_rematch, at most a bounded number of batches): what the REPL
 * runs after each input, and what the host runs by itself on the clock
 * after a committed change marked the list, unless the embedder drives
 * the timers (the daemon runs one batch per loop turn instead). Returns
 * how many referrals were decided again.
 */
int ct_host_settle(ct_host *h);

/* Borrowed; valid until ct_host_close. The plugin manager keeps its
 * identity across reloads. */
ct_capacity *ct_host_capacity(ct_host *h);
ct_plugins *ct_host_plugins(ct_host *h);
ct_store *ct_host_store(ct_host *h);
ct_clock *ct_host_clock(ct_host *h);

/*
 * Reconciles cfg (borrowed for the call) into the store and has the
 * capacity handle re-read what it caches (the area index, the next hold
 * expiry and isolation end). Pathogens and the hold time stay as opened
 * (the daemon takes them at restart). stats may be NULL.
 */
int ct_host_reconcile(ct_host *h, const ct_config *cfg,
                      ct_reconcile_stats *stats, ct_diags *diags);

/*
 * A reload as the REPL's .reload and tests do it in one step: reconcile,
 * then the plugins loaded fresh from cfg (kept running on failure). cfg is
 * borrowed as in ct_host_open. The daemon reloads in two halves through
 * ct_plugins_prepare/apply instead, with its other reload hooks.
 */
int ct_host_reload(ct_host *h, const ct_config *cfg, ct_diags *diags);

/*
 * Loads every plugin of cfg as `caretide run` would (setup() with the
 * area's settings, a bundle's own tests) on a scratch copy of the area in
 * memory, on a virtual clock at today's date, then throws it all away:
 * what `caretide check` runs so that a passing check means the daemon will
 * start. CT_ECONFIG with diagnostics. An area without plugins is not
 * copied (CT_HOST_NO_AREA): nothing would run on the copy, and the copy
 * of an England-sized area is seconds of work that cannot fail.
 */
int ct_host_dry_run(const ct_config *cfg, ct_diags *diags);

#endif
