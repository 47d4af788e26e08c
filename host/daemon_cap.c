/*
 * The capacity handle on the daemon's loop.
 *
 * Timers: the handle leaves its timers to the daemon (external_timers).
 * Hold expiry, isolation ends and the daily snapshot (report.h) each have
 * a ct_timer on the host clock;
 * when one is due its work runs as a write of the group commit
 * (ct_commit_write), so it shares the loop turn's transaction and fsync
 * with the requests, and its events go out after that commit like theirs.
 * Both timers are re-read from the store one loop turn after any capacity
 * event (a hold made, ended, an infection recorded) and after a failed
 * group; a failed run is retried after RETRY_MS, never in a tight loop.
 *
 * Events: changes made inside a group are queued by the handle; after the
 * group commits the audit head file is synced and the events delivered
 * (logged, dispatched to plugins); a write rolled back alone has its
 * events dropped and the candidate index reloaded; a failed group drops
 * them all.
 */
#include "daemon_int.h"

#include "audit.h"
#include "capacity_view.h"
#include "capacity_waitlist.h"
#include "error.h"
#include "escalation.h"
#include "intake.h"
#include "isolation.h"
#include "log.h"
#include "metrics.h"
#include "report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define UNIT "daemon"
#define RETRY_MS 1000
/* The audit head file is synced at most this often: it may lag the
 * database (audit.h), and one fsync fewer per group commit is most of a
 * small group's cost. */
#define HEAD_SYNC_MS 200

/* ---- accessors --------------------------------------------------------- */

ct_capacity *ct_daemon_capacity(ct_daemon *d)
{
    return d->snap_cap ? d->snap_cap : d->cap;
}

ct_plugins *ct_daemon_plugins(ct_daemon *d)
{
    return d->host ? ct_host_plugins(d->host) : NULL;
}

/* The version lives in the area handle (area.h); none before the
 * capacity opens and after it closes. */
uint64_t ct_daemon_data_version(const ct_daemon *d)
{
    return d->cap ? ct_area_data_version(d->cap) : 0;
}

void ct_daemon__data_changed(ct_daemon *d)
{
    if (d->cap)
        ct_area_data_changed(d->cap);
}

/* ---- reply cache ------------------------------------------------------- */

int ct_daemon_cache_get(ct_daemon *d, unsigned slot, int64_t max_age_ms,
                        char **body, size_t *len)
{
    *body = NULL;
    *len = 0;
    if (slot >= CT_DAEMON_CACHE_SLOTS || !d->clock)
        return CT_ENOTFOUND;
    ct_daemon__cached *c = &d->cache[slot];
    int64_t age = ct_clock_now(d->clock) - c->at;
    if (!c->body || c->version != ct_daemon_data_version(d) || age < 0 ||
        age >= max_age_ms)
        return CT_ENOTFOUND;
    char *copy = malloc(c->len + 1);
    if (!copy)
        return CT_ENOMEM;
    memcpy(copy, c->body, c->len + 1);
    *body = copy;
    *len = c->len;
    return 0;
}

void ct_daemon_cache_put(ct_daemon *d, unsigned slot, const char *body,
                         size_t len)
{
    if (d->clock)
        ct_daemon_cache_put_at(d, slot, body, len, ct_daemon_data_version(d),
                               ct_clock_now(d->clock));
}

void ct_daemon_cache_put_at(ct_daemon *d, unsigned slot, const char *body,
                            size_t len, uint64_t version, int64_t at)
{
    if (slot >= CT_DAEMON_CACHE_SLOTS || !d->clock)
        return;
    ct_daemon__cached *c = &d->cache[slot];
    if (c->body && c->version > version)
        return; /* a newer body is there already */
    free(c->body);
    c->body = malloc(len + 1);
    if (!c->body)
        return;
    memcpy(c->body, body, len);
    c->body[len] = '\0';
    c->len = len;
    c->version = version;
    c->at = at;
}

/* ---- timers ------------------------------------------------------------ */

static void on_due(ct_timer *t, void *data);

/* Sets u's timer at the next due time the store says (not before a
 * retry), or stops it when nothing is pending. */
static void arm(ct_daemon__due *u)
{
    int64_t next = u->next(u->d->cap);
    if (next == INT64_MAX) {
        ct_timer_stop(&u->timer);
        return;
    }
    if (next < u->retry_at)
        next = u->retry_at;
    if (!ct_timer_active(&u->timer) || u->timer.due != next)
        ct_timer_start(&u->timer, next, on_due, u);
}

static void on_rearm(ct_timer *t, void *data)
{
    (void)t;
    ct_daemon *d = data;
    arm(&d->expiry);
    arm(&d->isolation);
    arm(&d->snapshot);
    arm(&d->queue);
}

/* Re-reads both due times on the next loop turn (once however many
 * events ask for it). Never after the clock has closed. */
static void schedule_rearm(ct_daemon *d)
{
    if (d->clock && !ct_timer_active(&d->rearm))
        ct_timer_start(&d->rearm, ct_clock_now(d->clock), on_rearm, d);
}

static int due_write(ct_store *s, void *arg)
{
    (void)s;
    ct_daemon__due *u = arg;
    int n = u->run_d ? u->run_d(u->d) : u->run(u->d->cap);
    u->count = n > 0 ? n : 0;
    return n < 0 ? n : 0;
}

static void retry_later(ct_daemon__due *u, int err)
{
    ct_daemon *d = u->d;
    ct_log_error(UNIT, "%s failed (%s); retrying in %d ms", u->what,
                 ct_strerror(err), RETRY_MS);
    if (!d->clock)
        return;
    u->retry_at = ct_clock_now(d->clock) + RETRY_MS;
    arm(u);
}

static void on_due_written(ct_commit_req *r, int status)
{
    ct_daemon__due *u = r->data;
    u->queued = false;
    int err = status ? status : r->result;
    if (err) {
        retry_later(u, err);
        return;
    }
    u->retry_at = 0;
    if (u->count)
        ct_log_info(UNIT, "%s: %d", u->what, u->count);
    if (u->d->clock)
        arm(u);
}

static void on_due(ct_timer *t, void *data)
{
    (void)t;
    ct_daemon__due *u = data;
    if (u->queued)
        return; /* its write is in this turn's group; armed again after */
    u->req.data = u;
    int err = ct_commit_write(u->d->commit, &u->req, due_write, u,
                              on_due_written);
    if (err)
        retry_later(u, err);
    else
        u->queued = true;
}

static int notify_ends(ct_capacity *c)
{
    return ct_isolation_notify_due(c);
}

/* One batch of the waiting list's re-match per loop turn (intake.h): the
 * rest of a round in the next turns, so a burst of changes never holds
 * the loop. Requests in between see the list pending and queue new
 * referrals behind it. */
static int rematch(ct_daemon *d)
{
    ct_intake_rematch_stats st;
    ct_cap_error err = {0};
    int rc = ct_intake_rematch(d->cap, ct_daemon_plugins(d), &st, &err);
    if (rc)
        return rc;
    if (st.decided)
        ct_log_debug(UNIT, "waiting list: %d looked at, %d decided again, "
                           "%d held%s",
                     st.checked, st.decided, st.held,
                     st.more ? "; more to do" : "");
    return st.held;
}

static void due_init(ct_daemon *d, ct_daemon__due *u, const char *what,
                     int64_t (*next)(ct_capacity *),
                     int (*run)(ct_capacity *))
{
    u->d = d;
    u->what = what;
    u->next = next;
    u->run = run;
    ct_timer_init(d->clock, &u->timer);
}

/* ---- the audit head file ---------------------------------------------- */

static void sync_head(ct_daemon *d)
{
    int hs = ct_audit_sync_head(d->store);
    if (hs)
        ct_log_warn(UNIT, "audit head file: %s", ct_strerror(hs));
}

static void on_head_due(ct_timer *t, void *data)
{
    ct_daemon *d = data;
    if (ct_store_in_transaction(d->store)) { /* a timer's write is open */
        ct_timer_start(t, ct_clock_now(d->clock) + HEAD_SYNC_MS,
                       on_head_due, d);
        return;
    }
    d->head_dirty = false;
    sync_head(d);
}

/* After a commit that appended events: sync soon, once for many. */
static void head_changed(ct_daemon *d)
{
    d->head_dirty = true;
    if (!d->clock) { /* shutting down: no timers any more */
        d->head_dirty = false;
        sync_head(d);
        return;
    }
    if (!ct_timer_active(&d->head_timer))
        ct_timer_start(&d->head_timer, ct_clock_now(d->clock) + HEAD_SYNC_MS,
                       on_head_due, d);
}

/* ---- events and the group commit --------------------------------------- */

static void on_event(const ct_capacity_event *ev, void *data)
{
    ct_daemon *d = data;
    ct_daemon__data_changed(d);
    ct_prom_add(d->m_events, (const char *[]){ev->kind}, 1);
    ct_log_debug(UNIT, "event %" PRId64 " %s by %s", ev->seq, ev->kind,
                 ev->actor);
    /* The plugin manager hears the same events from the bus itself. */
    schedule_rearm(d);
}

/* The bus after a commit that appended (events.h): sync soon. */
static void head_due(void *data)
{
    head_changed(data);
}

/* A write rolled back to its savepoint, or a whole group lost, takes its
 * events and the index's view of it along (the bus and capacity follow
 * the store's transactions): only the guard and the timers are left. */
void ct_daemon__after_write(int result, void *data)
{
    ct_daemon *d = data;
    if (result)
        ct_daemon__guard_outcome(d, result, false);
}

void ct_daemon__group_done(ct_daemon *d, const ct_commit_group_info *info)
{
    if (!d->cap)
        return;
    if (info->status) {
        schedule_rearm(d);
        return;
    }
    if (info->writes > info->failed)
        ct_daemon__data_changed(d);
}

/* ---- metrics ----------------------------------------------------------- */

/* One collection per scrape: the beds family is collected first and sets
 * the plain gauges registered after it from the same figures. */
static int collect_beds(ct_prom_family *f, void *data)
{
    ct_daemon *d = data;
    ct_metrics m;
    ct_cap_error err = {0};
    int rc = ct_metrics_collect(ct_daemon_capacity(d), &m, &err);
    if (rc)
        return rc;
    for (int k = 0; k < CT_FACILITY__COUNT; k++) {
        const ct_bed_counts *b = &m.by_kind[k];
        const char *kind = ct_facility_kind_name((ct_facility_kind)k);
        struct {
            const char *state;
            int64_t n;
        } rows[] = {{"total", b->total},         {"open", b->open},
                    {"available", b->available}, {"held", b->held},
                    {"occupied", b->occupied},   {"blocked", b->blocked},
                    {"surge_open", b->surge_open}};
        for (size_t i = 0; i < CT_ARRAY_LEN(rows); i++)
            if ((rc = ct_prom_set(f, (const char *[]){kind, rows[i].state},
                                  (double)rows[i].n)))
                return rc;
    }
    ct_prom_set(d->m_occupancy, NULL, m.occupancy);
    ct_prom_set(d->m_surge_share, NULL, m.surge_share);
    ct_prom_set(d->m_waiting, NULL, (double)m.waiting);
    ct_prom_set(d->m_nctr, NULL, (double)m.nctr);
    ct_prom_set(d->m_delayed, NULL, (double)m.delayed);
    ct_prom_set(d->m_bed_days, NULL, (double)m.bed_days_lost_open);
    return 0;
}

static int collect_referrals(ct_prom_family *f, void *data)
{
    ct_daemon *d = data;
    int64_t n[CT_REFERRAL__COUNT];
    ct_cap_error err = {0};
    int rc = ct_capacity_view_referral_states(ct_daemon_capacity(d), n,
                                              &err);
    for (int s = 0; rc == 0 && s < CT_REFERRAL__COUNT; s++)
        rc = ct_prom_set(
            f, (const char *[]){ct_referral_state_name((ct_referral_state)s)},
            (double)n[s]);
    return rc;
}

static int collect_escalation(ct_prom_family *f, void *data)
{
    ct_daemon *d = data;
    ct_escalation e;
    int rc = ct_escalation_current(ct_daemon_store(d), &e);
    return rc ? rc : ct_prom_set(f, NULL, e.level);
}

static int register_gauges(ct_daemon *d)
{
    ct_prom *p = d->prom;
    ct_prom_family *f;
    int err = ct_prom_gauge_fn(
        p, "caretide_beds",
        "Beds (and slots) by facility kind and state: total counted, open "
        "(not blocked), available, held, occupied, blocked, open surge beds",
        (const char *[]){"kind", "state", NULL}, collect_beds, d, &f);
    err = err ? err
              : ct_prom_gauge(p, "caretide_bed_occupancy_ratio",
                              "Occupied beds over open beds, whole area",
                              NULL, &d->m_occupancy);
    err = err ? err
              : ct_prom_gauge(p, "caretide_surge_share_ratio",
                              "Open surge beds over open beds", NULL,
                              &d->m_surge_share);
    err = err ? err
              : ct_prom_gauge(p, "caretide_referrals_waiting",
                              "Referrals received, triaged or waiting", NULL,
                              &d->m_waiting);
    err = err ? err
              : ct_prom_gauge(p, "caretide_nctr",
                              "People with no criteria to reside: ready "
                              "today or before, not yet discharged",
                              NULL, &d->m_nctr);
    err = err ? err
              : ct_prom_gauge(p, "caretide_delayed",
                              "People still in hospital past their "
                              "discharge ready date",
                              NULL, &d->m_delayed);
    err = err ? err
              : ct_prom_gauge(p, "caretide_bed_days_lost_open",
                              "Delay days of people still in hospital", NULL,
                              &d->m_bed_days);
    err = err ? err
              : ct_prom_gauge_fn(p, "caretide_referrals",
                                 "Referrals by state",
                                 (const char *[]){"state", NULL},
                                 collect_referrals, d, &f);
    err = err ? err
              : ct_prom_gauge_fn(p, "caretide_escalation_level",
                                 "The area's escalation level, 1 to 4", NULL,
                                 collect_escalation, d, &f);
    err = err ? err
              : ct_prom_counter(p, "caretide_capacity_events_total",
                                "Capacity events delivered after commit, "
                                "by kind",
                                (const char *[]){"kind", NULL}, &d->m_events);
    return err;
}

/* ---- life cycle -------------------------------------------------------- */

/* The loop waits for a plugin call at most this long past the call's
 * deadline; then the call is given up and the plugin quarantined (it is
 * stuck in one instruction: docs/sandbox.md). Longer than the worst
 * overrun between two clock checks (an emergency collection of a full
 * heap), short enough that health answers within a second. */
#define PLUGIN_WATCHDOG_MS 200

int ct_daemon__cap_start(ct_daemon *d, ct_reconcile_stats *stats)
{
    /* The plugins' events reach them through the host; the daemon's
     * callback counts them and re-reads the timers. */
    ct_host_hooks hooks = {.on_event = on_event, .event_data = d,
                           .watchdog_ms = PLUGIN_WATCHDOG_MS,
                           .stats = stats};
    ct_diags diags = {0};
    int err = ct_host_open(d->cfg, d->store, d->clock,
                           CT_HOST_EXTERNAL_TIMERS, &hooks, &d->host, &diags);
    ct_diags_print(&diags, stderr);
    ct_diags_free(&diags);
    if (err) {
        ct_log_error(UNIT, "cannot set up the host (the area, capacity and "
                           "the configured plugins): %s",
                     ct_strerror(err));
        return err;
    }
    d->cap = ct_host_capacity(d->host);
    /* The area index now, not at the first referral or read: at England
     * scale loading it takes most of a second. A failure here only moves
     * that to the first use, which reports it. */
    ct_cap_error cerr = {0};
    if (ct_capacity_warm(d->cap, &cerr))
        ct_log_warn("daemon", "loading the area index: %s", cerr.message);
    ct_events_set_head_sync(ct_capacity_events(d->cap), head_due, d);
    if ((err = register_gauges(d)))
        return err;
    due_init(d, &d->expiry, "holds expired", ct_capacity_next_expiry,
             ct_capacity_expire_due);
    due_init(d, &d->isolation, "isolations ended", ct_isolation_next_end,
             notify_ends);
    /* The day that ended, kept for the daily report (report.h). */
    due_init(d, &d->snapshot, "daily snapshots", ct_report_snapshot_next,
             ct_report_snapshot_due);
    due_init(d, &d->queue, "waiting referrals held",
             ct_capacity_waitlist_next, NULL);
    d->queue.run_d = rematch;
    ct_timer_init(d->clock, &d->rearm);
    ct_timer_init(d->clock, &d->head_timer);
    /* Holds and isolations pending from before a restart: overdue ones
     * run on the first loop turn. */
    on_rearm(&d->rearm, d);
    return 0;
}

void ct_daemon__cap_reloaded(ct_daemon *d)
{
    if (!d->cap)
        return;
    ct_capacity_refresh(d->cap);
    ct_daemon__data_changed(d);
    schedule_rearm(d);
}

void ct_daemon__cap_free(ct_daemon *d)
{
    if (d->head_dirty) /* the last groups, committed at shutdown */
        sync_head(d);
    ct_daemon__render_free(d);
    ct_host_close(d->host);
    d->host = NULL;
    d->cap = NULL;
    for (size_t i = 0; i < CT_DAEMON_CACHE_SLOTS; i++) {
        free(d->cache[i].body);
        d->cache[i].body = NULL;
    }
}
