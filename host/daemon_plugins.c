/*
 * The plugin manager inside the daemon (daemon_plugins.h): reload hooks,
 * file watching, the escalation round on the host clock, health and
 * metrics, through daemon.h only.
 *
 * A reload loads the new set (each plugin's init.lua and setup(), plugin
 * code) on a thread of its own, the loader, so that the event loop never
 * waits for it. The plugins' host functions still need the loop's
 * objects (the store, the capacity handle, the clock, the manager), so
 * each passage of the new plugins' code into the host goes through a
 * gate: the plugin's thread asks the loop (an async handle), the loop,
 * once no group commit is open, holds still until the passage has ended,
 * and the host is used by one thread at a time exactly as when the loop
 * waits for a call. The loop waits only for host code, never for plugin
 * code.
 */
#include "daemon_plugins.h"

#include "error.h"
#include "intake.h"
#include "log.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define UNIT "plugins"

/* How soon after start-up the host first asks the plugins for the
 * escalation level (then every CT_INTAKE_ESCALATE_EVERY_MS). */
#define ESCALATE_FIRST_MS 1000
/* Changes to plugin files settle for this long before a reload. */
#define WATCH_SETTLE_MS 500
#define MAX_WATCHES 64

/* The off-loop load of a reload (one at a time: reloads are). */
typedef struct loader {
    uv_async_t async;  /* plugin threads and the loader -> the loop */
    bool async_open;
    bool running;      /* the loader thread exists (not yet joined) */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Under mu: a plugin thread wants the host (want), has it (granted),
     * is done with it (released); the loader has ended (done). */
    bool want, granted, released, done;
    ct_commit_req defer;
    bool deferred;     /* defer is queued behind a group commit */
    const ct_config *next;
    ct_diags *diags;
} loader;

typedef struct state {
    ct_daemon *d;
    loader ld;
    ct_plugins *m;
    ct_timer escalate;
    ct_commit_req esc_req;
    bool esc_busy;
    uv_fs_event_t *watch[MAX_WATCHES]; /* each freed by its close callback */
    size_t nwatch;
    uv_timer_t settle;
    bool settle_open;
    /* Events and schedules due (ct_plugins_set_due), run as writes of
     * the group commit, so on the host thread (handoff.h). */
    uv_async_t due_async;
    bool due_open;
    ct_commit_req due_req;
    bool due_busy, due_more;
    bool stopping;
} state;

/* --- escalation on the host clock -------------------------------------- */

static int escalate_write(ct_store *s, void *arg)
{
    (void)s;
    state *u = arg;
    json_t *out = NULL;
    bool changed = false;
    ct_cap_error err = {0};
    int rc = ct_intake_escalate(ct_daemon_capacity(u->d), u->m, &out, &changed, &err);
    if (rc && err.message[0])
        ct_log_error(UNIT, "escalation not recorded: %s", err.message);
    else if (changed)
        ct_log_info(UNIT, "escalation level %d: %s",
                    (int)json_integer_value(json_object_get(out, "level")),
                    json_string_value(json_object_get(out, "reason")));
    json_decref(out);
    return rc;
}

static void escalate_done(ct_commit_req *r, int status)
{
    state *u = r->data;
    u->esc_busy = false;
    if (status)
        ct_log_warn(UNIT, "escalation round failed: %s", ct_strerror(status));
}

static void on_escalate(ct_timer *t, void *data)
{
    state *u = data;
    ct_timer_start(t,
                   ct_clock_now(ct_daemon_clock(u->d)) + CT_INTAKE_ESCALATE_EVERY_MS,
                   on_escalate, u);
    if (u->esc_busy || u->stopping || ct_plugins_count(u->m) == 0)
        return;
    u->esc_req.data = u;
    u->esc_busy = ct_commit_write(ct_daemon_commit(u->d), &u->esc_req, escalate_write,
                                  u, escalate_done) == 0;
}

/* --- events and schedules off the loop --------------------------------------- */

/*
 * Delivering events to ct.on handlers and calling a schedule are plugin
 * code: each runs as a write of the group commit, whose function runs on
 * the host thread, so the loop goes on while the plugin's code runs (one
 * schedule call, or one delivery of the queue, per write; writes that
 * come meanwhile take their turn in between). A handler's or schedule's
 * writes stand or fall in the write's savepoint, and the events they
 * record go out after that group commits, to the next delivery.
 */
static int due_write(ct_store *s, void *arg)
{
    (void)s;
    state *u = arg;
    u->due_more = ct_plugins_run_due(u->m);
    return 0;
}

static void due_start(state *u);

static void due_written(ct_commit_req *r, int status)
{
    state *u = r->data;
    u->due_busy = false;
    if (status)
        ct_log_warn(UNIT, "plugin events or schedule not kept: %s",
                    ct_strerror(status));
    if (u->due_more)
        due_start(u);
}

static void due_start(state *u)
{
    if (u->due_busy || u->stopping)
        return;
    ct_commit *c = ct_daemon_commit(u->d);
    u->due_req.data = u;
    int err = c ? ct_commit_write(c, &u->due_req, due_write, u, due_written)
                : CT_ESTATE;
    if (err) {
        ct_log_warn(UNIT, "plugin events or schedule not run: %s",
                    ct_strerror(err));
        return;
    }
    u->due_busy = true;
}

/* From the bus (inside a commit) and the clock: start on the next turn. */
static void on_due(void *ud)
{
    state *u = ud;
    if (u->due_open)
        uv_async_send(&u->due_async);
}

static void on_due_async(uv_async_t *a)
{
    due_start(a->data);
}

/* --- reload -------------------------------------------------------------- */

static void watch_start(state *u);

static int reload_prepare(ct_daemon *d, const ct_config *next,
                          ct_diags *diags, void *data)
{
    state *u = data;
    ct_plugins_set_pretested(u->m, ct_daemon_reload_pretested(d));
    int err = ct_plugins_prepare(u->m, next, diags);
    ct_plugins_set_pretested(u->m, NULL);
    return err;
}

/* --- the off-loop load ------------------------------------------------------- */

/* A plugin thread: returns once the loop holds still for it. */
static void gate_enter(void *ud)
{
    loader *ld = ud;
    pthread_mutex_lock(&ld->mu);
    ld->want = true;
    pthread_mutex_unlock(&ld->mu);
    uv_async_send(&ld->async);
    pthread_mutex_lock(&ld->mu);
    while (!ld->granted)
        pthread_cond_wait(&ld->cv, &ld->mu);
    pthread_mutex_unlock(&ld->mu);
}

/* Returns once the loop has taken the host back, so that the next
 * passage cannot see this one's grant. */
static void gate_leave(void *ud)
{
    loader *ld = ud;
    pthread_mutex_lock(&ld->mu);
    ld->released = true;
    pthread_cond_broadcast(&ld->cv);
    while (ld->granted)
        pthread_cond_wait(&ld->cv, &ld->mu);
    pthread_mutex_unlock(&ld->mu);
}

/* The loop: holds still while one passage into the host runs. Bounded by
 * host code: host functions watch the plugin's deadline in long work. */
static void serve(loader *ld)
{
    pthread_mutex_lock(&ld->mu);
    if (ld->want && !ld->granted) {
        ld->granted = true;
        pthread_cond_broadcast(&ld->cv);
        while (!ld->released)
            pthread_cond_wait(&ld->cv, &ld->mu);
        ld->want = ld->granted = ld->released = false;
        pthread_cond_broadcast(&ld->cv);
    }
    pthread_mutex_unlock(&ld->mu);
}

static void *loader_main(void *arg)
{
    state *u = arg;
    loader *ld = &u->ld;
    ct_plugins_gate gate = {gate_enter, gate_leave, ld};
    ct_plugins_prepare_load(u->m, ld->next, &gate, ld->diags);
    pthread_mutex_lock(&ld->mu);
    ld->done = true;
    pthread_mutex_unlock(&ld->mu);
    uv_async_send(&ld->async);
    return NULL;
}

static void on_async(uv_async_t *a);

static void on_group_ended(ct_commit_req *r, int status)
{
    (void)status;
    state *u = r->data;
    u->ld.deferred = false;
    on_async(&u->ld.async);
}

static void on_loader_closed(uv_handle_t *h)
{
    state *u = h->data;
    u->ld.async_open = false;
}

static void on_async(uv_async_t *a)
{
    state *u = a->data;
    loader *ld = &u->ld;
    pthread_mutex_lock(&ld->mu);
    bool want = ld->want && !ld->granted, done = ld->done;
    pthread_mutex_unlock(&ld->mu);
    if (want && !ld->deferred) {
        /* Host functions of a setup run outside any group, as they did
         * when the loop loaded plugins itself. At shutdown the committer
         * may be gone: no group can open then. */
        ct_commit *c = ct_daemon_commit(u->d);
        if (!ct_daemon_stopping(u->d) && c && ct_commit_pending(c)) {
            u->ld.defer.data = u;
            if (ct_commit_defer(c, &ld->defer, on_group_ended) == 0) {
                ld->deferred = true;
                return;
            }
        }
        serve(ld);
    }
    if (!done || !ld->running)
        return;
    pthread_join(ld->thread, NULL);
    ld->running = false;
    ld->done = false;
    int err = ct_plugins_prepare_end(u->m, ld->next, ld->diags);
    ct_plugins_set_pretested(u->m, NULL);
    if (u->stopping && ld->async_open) {
        uv_close((uv_handle_t *)&ld->async, on_loader_closed);
    }
    ct_daemon_reload_prepared(u->d, err);
}

static int reload_prepare_start(ct_daemon *d, const ct_config *next,
                                ct_diags *diags, void *data)
{
    state *u = data;
    loader *ld = &u->ld;
    if (!ld->async_open || ld->running)
        return CT_ESTATE;
    if (!ct_plugins_gated(u->m))
        return CT_EUNSUPPORTED; /* no thread per plugin: on the loop */
    ct_plugins_set_pretested(u->m, ct_daemon_reload_pretested(d));
    int err = ct_plugins_prepare_begin(u->m, next, diags);
    if (err) {
        ct_plugins_set_pretested(u->m, NULL);
        return err;
    }
    ld->next = next;
    ld->diags = diags;
    ld->want = ld->granted = ld->released = ld->done = false;
    if (ct_thread_start(&ld->thread, 0, loader_main, u)) {
        ct_plugins_prepare_end(u->m, next, diags);
        ct_plugins_abort(u->m);
        ct_plugins_set_pretested(u->m, NULL);
        return CT_ENOMEM;
    }
    ld->running = true;
    return 0;
}

static void reload_apply(ct_daemon *d, const ct_config *next, void *data)
{
    (void)d;
    (void)next;
    state *u = data;
    ct_plugins_apply(u->m);
    ct_plugins_audit_downgrades(u->m); /* allowed by install: audited */
    watch_start(u);
}

static void reload_abort(ct_daemon *d, const ct_config *next, void *data)
{
    (void)d;
    (void)next;
    state *u = data;
    ct_plugins_abort(u->m);
    /* A directory replaced by the broken set is a new one: watch it, so
     * that its fix is seen (the old watch follows the removed one). */
    if (!u->stopping)
        watch_start(u);
}

/* --- watching plugin files ------------------------------------------------- */

static void on_settled(uv_timer_t *t)
{
    state *u = t->data;
    if (u->stopping)
        return;
    /* Watched again by path before the reload reads them: a directory
     * replaced (removed and written again, or renamed over) is another
     * one, and its later changes must be seen whatever the reload does. */
    watch_start(u);
    ct_log_info(UNIT, "plugin files changed: reloading");
    ct_daemon_request_reload(u->d);
}

/* Whether file is the base name of the directory h watches. */
static bool is_watched_dir(uv_fs_event_t *h, const char *file)
{
    char path[4096];
    size_t len = sizeof path;
    if (uv_fs_event_getpath(h, path, &len) || len == 0)
        return false;
    path[len < sizeof path ? len : sizeof path - 1] = '\0';
    while (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    const char *base = strrchr(path, '/');
    return strcmp(base ? base + 1 : path, file) == 0;
}

static void on_change(uv_fs_event_t *h, const char *file, int events,
                      int status)
{
    (void)events;
    state *u = h->data;
    if (status < 0 || u->stopping)
        return;
    /* Editors write through temporary files: only Lua and YAML count,
     * and the watched directory itself (removed or renamed away: libuv
     * names it by its own base name). */
    size_t n = file ? strlen(file) : 0;
    if (n && !(n > 4 && strcmp(file + n - 4, ".lua") == 0) &&
        !(n > 5 && strcmp(file + n - 5, ".yaml") == 0) &&
        !is_watched_dir(h, file))
        return;
    uv_timer_start(&u->settle, on_settled, WATCH_SETTLE_MS, 0);
}

static void on_watch_closed(uv_handle_t *h)
{
    free(h);
}

static void watch_stop(state *u)
{
    for (size_t i = 0; i < u->nwatch; i++)
        uv_close((uv_handle_t *)u->watch[i], on_watch_closed);
    u->nwatch = 0;
}

/* Watches the running plugins' directories (again, after a reload). */
static void watch_start(state *u)
{
    watch_stop(u);
    json_t *dirs = ct_plugins_dirs(u->m);
    size_t i;
    json_t *dir;
    json_array_foreach(dirs, i, dir)
    {
        if (u->nwatch == MAX_WATCHES)
            break;
        uv_fs_event_t *h = malloc(sizeof *h);
        if (!h || uv_fs_event_init(ct_daemon_loop(u->d), h)) {
            free(h);
            continue;
        }
        h->data = u;
        if (uv_fs_event_start(h, on_change, json_string_value(dir), 0)) {
            uv_close((uv_handle_t *)h, on_watch_closed);
            continue;
        }
        u->watch[u->nwatch++] = h;
    }
    json_decref(dirs);
}

/* --- health and metrics ------------------------------------------------------ */

static void health(ct_daemon *d, json_t *h, void *data)
{
    (void)d;
    state *u = data;
    json_object_set_new(h, "plugins", ct_plugins_status(u->m));
}

static int collect(ct_prom_family *f, void *data)
{
    state *u = data;
    json_t *st = ct_plugins_status(u->m);
    size_t i;
    json_t *p;
    json_array_foreach(st, i, p)
    {
        const char *name = json_string_value(json_object_get(p, "name"));
        static const char *const counters[] = {"calls", "errors", "timeouts"};
        for (size_t k = 0; k < 3; k++)
            ct_prom_set(f, (const char *[]){name, counters[k]},
                        (double)json_integer_value(
                            json_object_get(p, counters[k])));
        /* How many of its hooks, schedules and handlers are out. */
        ct_prom_set(f, (const char *[]){name, "quarantined"},
                    (double)json_array_size(
                        json_object_get(p, "quarantined")));
        ct_prom_set(f, (const char *[]){name, "memory_bytes"},
                    (double)json_integer_value(json_object_get(p, "memory")));
        /* 1 while a call the watchdog gave up still runs. */
        ct_prom_set(f, (const char *[]){name, "stuck"},
                    json_object_get(p, "stuck_ms") ? 1.0 : 0.0);
    }
    json_decref(st);
    return 0;
}

/* --- life cycle ------------------------------------------------------------- */

static int start(ct_daemon *d, void **data)
{
    state *u = calloc(1, sizeof *u);
    if (!u)
        return CT_ENOMEM;
    u->d = d;
    pthread_mutex_init(&u->ld.mu, NULL);
    pthread_cond_init(&u->ld.cv, NULL);
    *data = u;
    /* Before anything can fail: stop on the failure path stops it. */
    ct_clock *clock = ct_daemon_clock(d);
    ct_timer_init(clock, &u->escalate);
    u->m = ct_daemon_plugins(d); /* loaded with the host (daemon_cap.c) */
    int rc;
    ct_daemon_reload_hook hook = {.prepare = reload_prepare,
                                  .prepare_start = reload_prepare_start,
                                  .apply = reload_apply,
                                  .abort = reload_abort,
                                  .data = u};
    ct_prom_family *f;
    if ((rc = ct_daemon_on_reload(d, &hook)) ||
        (rc = ct_daemon_on_health(d, health, u)) ||
        (rc = ct_prom_gauge_fn(ct_daemon_prom(d), "caretide_plugin",
                               "Per plugin: calls, errors, timeouts "
                               "(since load), quarantined (hooks, "
                               "schedules and handlers out), memory, "
                               "stuck (a given-up call still running)",
                               (const char *[]){"plugin", "what", NULL},
                               collect, u, &f)))
        return rc;
    if ((rc = uv_async_init(ct_daemon_loop(d), &u->ld.async, on_async)))
        return ct_err_from_uv(rc);
    u->ld.async.data = u;
    u->ld.async_open = true;
    uv_timer_init(ct_daemon_loop(d), &u->settle);
    u->settle.data = u;
    u->settle_open = true;
    if ((rc = uv_async_init(ct_daemon_loop(d), &u->due_async, on_due_async)))
        return ct_err_from_uv(rc);
    u->due_async.data = u;
    u->due_open = true;
    ct_plugins_set_due(u->m, on_due, u);
    on_due(u); /* what start-up left */
    watch_start(u);
    ct_timer_start(&u->escalate, ct_clock_now(clock) + ESCALATE_FIRST_MS,
                   on_escalate, u);
    ct_plugins_audit_downgrades(u->m);
    ct_log_info(UNIT, "%zu plugin(s) loaded", ct_plugins_count(u->m));
    return 0;
}

static void on_settle_closed(uv_handle_t *h)
{
    state *u = h->data;
    u->settle_open = false;
}

static void on_due_closed(uv_handle_t *h)
{
    (void)h;
}

static void due_dropped(void *ud)
{
    (void)ud;
}

static void stop(ct_daemon *d, void *data)
{
    (void)d;
    state *u = data;
    if (!u)
        return;
    u->stopping = true;
    ct_timer_stop(&u->escalate);
    watch_stop(u);
    if (u->settle_open && !uv_is_closing((uv_handle_t *)&u->settle))
        uv_close((uv_handle_t *)&u->settle, on_settle_closed);
    /* From here nothing runs plugin code for events and schedules: a
     * chain of handlers answering each other would hold the shutdown.
     * What is still due is dropped with the plugins (it is all in the
     * audit log). */
    ct_plugins_set_due(u->m, due_dropped, NULL);
    if (u->due_open) {
        u->due_open = false;
        uv_close((uv_handle_t *)&u->due_async, on_due_closed);
    }
    /* A load under way ends by itself (its calls have deadlines) and
     * needs the handle until then: closed by on_async. */
    if (u->ld.async_open && !u->ld.running)
        uv_close((uv_handle_t *)&u->ld.async, on_loader_closed);
}

/* The plugins are the host's, closed after this. */
static void unit_free(ct_daemon *d, void *data)
{
    (void)d;
    state *u = data;
    if (u) {
        pthread_mutex_destroy(&u->ld.mu);
        pthread_cond_destroy(&u->ld.cv);
    }
    free(u);
}

const ct_daemon_unit ct_daemon_plugins_unit = {"the plugin manager", start,
                                               stop, unit_free};
