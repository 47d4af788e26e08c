/*
 * The host assembly (host.h): store reconciled, capacity, plugins, events.
 * The daemon (daemon_cap.c), the REPL (repl.c), the test runner
 * (testrun_host.c), `caretide check` (ct_host_dry_run) and the benchmarks
 * all open their host here.
 */
#include "host.h"

#include "bundle.h"
#include "error.h"
#include "intake.h"
#include "log.h"
#include "capacity_waitlist.h"

#include <stdlib.h>

/* Batches one settle runs before it lets the clock move on: a list that
 * keeps being marked is taken up again a second later. */
#define SETTLE_BATCHES 64
#define SETTLE_RETRY_MS 1000

struct ct_host {
    unsigned flags;
    ct_host_hooks hooks;
    ct_store *store;
    ct_clock *clock;
    ct_capacity *cap;
    ct_plugins *plugins;
    /* The area without its plugins, when they failed to load with
     * CT_HOST_KEEP_GOING: the manager borrows its config. */
    ct_config bare;
    /* Without CT_HOST_EXTERNAL_TIMERS: re-matches the waiting list on the
     * clock once a committed event left it pending. */
    ct_timer settle;
};

static void on_settle(ct_timer *t, void *data)
{
    (void)t;
    ct_host_settle(data);
}

/* The bus after a commit: a change that marked the waiting list has it
 * re-matched at the clock's next chance (a virtual clock's next move, a
 * real one's next loop turn), never inside the plugin code that made
 * the change. */
static void on_committed_event(const ct_event *ev, void *data)
{
    (void)ev;
    ct_host *h = data;
    if (!ct_capacity_waitlist_pending(h->cap) || ct_timer_active(&h->settle))
        return;
    /* Nobody waiting: nothing to re-match (the next intake looks). */
    bool any = false;
    ct_cap_error err = {0};
    if (ct_capacity_waitlist_any(h->cap, &any, &err) == 0 && any)
        ct_timer_start(&h->settle, ct_clock_now(h->clock), on_settle, h);
}

static int load_plugins(ct_host *h, const ct_config *cfg, ct_diags *diags)
{
    ct_plugins_options opts = {.line_fn = h->hooks.line_fn,
                               .line_ud = h->hooks.line_ud,
                               .watchdog_ms = h->hooks.watchdog_ms};
    int rc = ct_plugins_new_with(h->cap, cfg, &opts, &h->plugins, diags);
    if (rc == 0 || !(h->flags & CT_HOST_KEEP_GOING))
        return rc;
    h->bare = *cfg;
    h->bare.nplugins = 0;
    return ct_plugins_new_with(h->cap, &h->bare, &opts, &h->plugins, diags);
}

int ct_host_open(const ct_config *cfg, ct_store *store, ct_clock *clock,
                 unsigned flags, const ct_host_hooks *hooks, ct_host **out,
                 ct_diags *diags)
{
    *out = NULL;
    ct_host *h = calloc(1, sizeof *h);
    if (!h)
        return CT_ENOMEM;
    h->flags = flags;
    if (hooks)
        h->hooks = *hooks;
    h->store = store;
    h->clock = clock;
    int rc = (flags & CT_HOST_NO_AREA)
                 ? 0
                 : ct_store_reconcile(store, cfg, h->hooks.stats, diags);
    if (rc)
        goto fail;
    ct_capacity_options co = {
        .hold_ttl_ms = cfg->limits.hold_ttl_ms,
        .pathogens = (const char *const *)cfg->pathogens,
        .npathogens = cfg->npathogens,
        /* The embedder's callback, before the plugins: the plugin manager
         * subscribes to the area's event bus itself (events.h). */
        .event_cb = h->hooks.on_event,
        .event_data = h->hooks.event_data,
        .external_timers = (flags & CT_HOST_EXTERNAL_TIMERS) != 0,
    };
    if ((rc = ct_capacity_new(store, clock, &co, &h->cap)))
        goto fail;
    if ((rc = load_plugins(h, cfg, diags)))
        goto fail_cap;
    ct_timer_init(clock, &h->settle);
    if (!(flags & CT_HOST_EXTERNAL_TIMERS) &&
        (rc = ct_events_subscribe(ct_capacity_events(h->cap), CT_EVENTS_ALL,
                                  on_committed_event, h)))
        goto fail_plugins;
    *out = h;
    return 0;

fail_plugins:
    ct_plugins_free(h->plugins);
fail_cap:
    ct_capacity_free(h->cap);
fail:
    free(h);
    return rc;
}

void ct_host_close(ct_host *h)
{
    if (!h)
        return;
    ct_timer_stop(&h->settle);
    ct_events_unsubscribe(ct_capacity_events(h->cap), on_committed_event, h);
    ct_plugins_free(h->plugins);
    h->plugins = NULL;
    ct_capacity_free(h->cap);
    free(h);
}

int ct_host_settle(ct_host *h)
{
    ct_timer_stop(&h->settle);
    int decided = 0;
    for (int i = 0; i < SETTLE_BATCHES && ct_capacity_waitlist_pending(h->cap); i++) {
        ct_intake_rematch_stats st;
        ct_cap_error err = {0};
        int rc = ct_intake_rematch(h->cap, h->plugins, &st, &err);
        if (rc) {
            ct_log_warn("host", "%s", err.message);
            break;
        }
        decided += st.decided;
    }
    if (ct_capacity_waitlist_pending(h->cap) &&
        !(h->flags & CT_HOST_EXTERNAL_TIMERS))
        ct_timer_start(&h->settle, ct_clock_now(h->clock) + SETTLE_RETRY_MS,
                       on_settle, h);
    return decided;
}

ct_capacity *ct_host_capacity(ct_host *h) { return h->cap; }
ct_plugins *ct_host_plugins(ct_host *h) { return h->plugins; }
ct_store *ct_host_store(ct_host *h) { return h->store; }
ct_clock *ct_host_clock(ct_host *h) { return h->clock; }

int ct_host_reconcile(ct_host *h, const ct_config *cfg,
                      ct_reconcile_stats *stats, ct_diags *diags)
{
    int rc = ct_store_reconcile(h->store, cfg, stats, diags);
    if (rc == 0)
        rc = ct_capacity_refresh(h->cap);
    return rc;
}

int ct_host_reload(ct_host *h, const ct_config *cfg, ct_diags *diags)
{
    int rc = ct_host_reconcile(h, cfg, NULL, diags);
    return rc ? rc : ct_plugins_reload(h->plugins, cfg, diags);
}

int ct_host_dry_run(const ct_config *cfg, ct_diags *diags)
{
    ct_store *store = NULL;
    ct_clock *clock = NULL;
    ct_host *h = NULL;
    ct_store_options so = {.sync = CT_SYNC_NORMAL};
    int rc = ct_store_open(":memory:", &so, &store);
    if (rc)
        goto fail;
    /* The plugins see today's date, as at a start. */
    if ((rc = ct_clock_new_virtual(ct_bundle_wall_ms(), &clock)))
        goto fail_store;
    rc = ct_host_open(cfg, store, clock,
                      cfg->nplugins ? 0 : CT_HOST_NO_AREA, NULL, &h, diags);
    ct_host_close(h);
    ct_clock_close(clock, NULL, NULL);
fail_store:
    ct_store_close(store);
fail:
    if (rc && diags->len == 0)
        ct_diags_add(diags, cfg->file, 0, 0,
                     "cannot load the plugins on a scratch copy: %s",
                     ct_strerror(rc));
    return rc ? CT_ECONFIG : 0;
}
