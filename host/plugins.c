/*
 * The plugin manager: sets of loaded plugins, hook composition with
 * fallbacks and quarantine, events, schedules and reload.
 */
#include "plugins_int.h"

#include "events.h"
#include "bundle.h"
#include "error.h"
#include "isolation.h"
#include "log.h"
#include "plugin_check.h"
#include "referral.h"
#include "util.h"

#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Emitted events delivered per flush at most: plugins that answer each
 * other's events forever stop here. */
#define MAX_EVENT_ROUNDS 64

typedef struct set {
    ct_plugin **items;
    size_t n;
} set;

typedef struct queued {
    char *kind;
    json_t *payload;
    char *from; /* the plugin whose event handler emitted it, or NULL */
} queued;

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
    int running; /* plugin calls under way: events wait in the queue */
    ct_sandbox_line_fn line_fn; /* coverage (ct_plugins_new_traced) */
    void *line_ud;
    int64_t watchdog_ms; /* ct_plugins_options */
    json_t *pretested; /* ct_plugins_set_pretested: the next prepare's */
    ct_plugins_gate gate; /* while ct_plugins_prepare_load runs gated */
    set *loaded; /* built by prepare_load, checked by prepare_end */
};

static void enqueue(ct_plugins *m, const char *kind, json_t *payload);
static void drop_queue(ct_plugins *m);
static void on_bus_event(const ct_event *ev, void *data);

ct_capacity *ct_plugins__capacity(ct_plugins *m) { return m->cap; }
const ct_config *ct_plugins__config(ct_plugins *m) { return m->cfg; }

static int64_t clock_fn(void *ud)
{
    return ct_clock_now(ct_capacity_clock(ud));
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* --- life cycle of one plugin ------------------------------------------ */

static const char *bundle_source(void *ud, const char *relpath, size_t *len)
{
    return (const char *)ct_bundle_file(ud, relpath, len);
}

static void plugin_free(ct_plugin *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nscheds; i++) {
        ct_plugin_schedule *s = p->scheds[i];
        ct_timer_stop(&s->timer);
        ct_sandbox_unref(p->sb, s->ref);
        free(s);
    }
    free(p->scheds);
    free(p->iso);
    for (size_t i = 0; i < p->nsubs; i++) {
        ct_sandbox_unref(p->sb, p->subs[i].ref);
        free(p->subs[i].event);
    }
    free(p->subs);
    if (p->sb && ct_sandbox_close(p->sb) == CT_ESTATE) {
        ct_log_error("plugins", "plugin '%s' leaked Lua registry references",
                     p->manifest ? p->manifest->name : "?");
#ifdef CT_DEBUG_REFS
        abort(); /* debug builds fail loudly on reference leaks */
#endif
    }
    json_decref(p->settings);
    ct_manifest_free(p->manifest);
    ct_bundle_free(p->bundle); /* after the sandbox that read from it */
    free(p->dir);
    free(p);
}

int ct_plugins_preload_sdk(ct_sandbox *sb)
{
    for (const ct_embedded *e = ct_embedded_files; e->name; e++) {
        const char *prefix = "lua/";
        size_t n = strlen(e->name);
        if (strncmp(e->name, prefix, 4) != 0 || n < 9 ||
            strcmp(e->name + n - 4, ".lua") != 0)
            continue;
        char mod[128];
        snprintf(mod, sizeof mod, "%.*s", (int)(n - 8), e->name + 4);
        for (char *c = mod; *c; c++)
            if (*c == '/')
                *c = '.';
        int rc = ct_sandbox_preload_source(sb, mod, e->name + 4, e->data,
                                           e->len);
        if (rc)
            return rc;
    }
    return 0;
}

/* Adds the sandbox's last error as a diagnostic (file:line when known). */
static void sandbox_diag(ct_plugin *p, ct_diags *diags, const char *file)
{
    const ct_sandbox_error *e = ct_sandbox_last_error(p->sb);
    if (e->line > 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", p->dir, e->file);
        ct_diags_add(diags, path, (uint32_t)e->line, 0, "%s", e->text);
    } else {
        ct_diags_add(diags, file, 0, 0, "%s", e->message);
    }
}

/* A gated load (ct_plugins_prepare_load): each passage into the host
 * holds the loop first, and the manager's own state, the loop's, is
 * touched only meanwhile. Events a setup emits then wait in the queue as
 * during any plugin call. */
static void gate_enter(void *ud)
{
    ct_plugins *m = ((ct_plugin *)ud)->mgr;
    m->gate.enter(m->gate.ud);
    m->running++;
}

static void gate_leave(void *ud)
{
    ct_plugins *m = ((ct_plugin *)ud)->mgr;
    m->running--;
    m->gate.leave(m->gate.ud);
}

static ct_plugin *plugin_load(ct_plugins *m, const ct_config *cfg,
                              const ct_config_plugin *entry, ct_diags *diags)
{
    ct_plugin *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->mgr = m;
    if (ct_plugin_check_entry(cfg, entry, &p->dir, &p->manifest,
                              &p->settings, diags))
        goto fail;
    ct_manifest_settings_hash(p->settings, p->settings_hash);
    /* Provenance for decision records: what was verified at load. */
    ct_bundle_info info;
    if (ct_plugin_check_trust(cfg, entry, p->dir, ct_bundle_wall_ms(), &info,
                              &p->bundle, diags))
        goto fail;
    snprintf(p->bundle_hash, sizeof p->bundle_hash, "%s", info.bundle_hash);
    snprintf(p->key_id, sizeof p->key_id, "%s", info.key_id);
    ct_sandbox_limits lim;
    ct_sandbox_limits_default(&lim);
    lim.memory = (size_t)cfg->limits.plugin_memory;
    lim.deadline_ms = cfg->limits.plugin_deadline_ms;
    char init[4096];
    snprintf(init, sizeof init, "%s/init.lua", p->dir);
    int rc = ct_sandbox_new(p->manifest->name, p->dir, &lim, &p->sb);
    if (rc == 0 && m->watchdog_ms > 0)
        rc = ct_sandbox_set_watchdog(p->sb, m->watchdog_ms);
    if (rc == 0 && m->gate.enter) /* needs the watchdog's thread */
        rc = ct_sandbox_set_host_gate(p->sb, gate_enter, gate_leave, p);
    if (rc) {
        ct_diags_add(diags, init, 0, 0, "cannot create the sandbox: %s",
                     ct_strerror(rc));
        goto fail;
    }
    ct_sandbox_set_clock(p->sb, clock_fn, m->cap);
    ct_sandbox_set_userdata(p->sb, p);
    if (p->bundle) /* run the verified bytes, never the disk's */
        ct_sandbox_set_source(p->sb, bundle_source, p->bundle);
    if (m->line_fn)
        ct_sandbox_set_line_hook(p->sb, m->line_fn, m->line_ud);
    if (ct_plugins_preload_sdk(p->sb) || ct_hostapi_open(p)) {
        sandbox_diag(p, diags, init);
        goto fail;
    }
    if (ct_sandbox_load_main(p->sb, "init.lua")) {
        sandbox_diag(p, diags, init);
        goto fail;
    }
    if (ct_sandbox_get_hook(p->sb, "setup") == 0) {
        ct_sandbox_push_json(p->sb, p->settings);
        p->in_setup = true;
        /* setup builds tables and schedules: a longer deadline. */
        int64_t dl = lim.deadline_ms * 10 < 5000 ? lim.deadline_ms * 10 : 5000;
        bool gated = m->gate.enter != NULL; /* the gate counts it then */
        if (!gated)
            m->running++;
        rc = ct_sandbox_call_deadline(p->sb, "setup", 1, 0, dl);
        if (!gated)
            m->running--;
        p->in_setup = false;
        if (rc) {
            sandbox_diag(p, diags, init);
            goto fail;
        }
    } else if (ct_sandbox_last_error(p->sb)->code == CT_EPLUGIN &&
               *ct_sandbox_last_error(p->sb)->message) {
        sandbox_diag(p, diags, init);
        goto fail;
    }
    return p;
fail:
    plugin_free(p);
    return NULL;
}

static ct_plugins_test_fn self_test_fn;

void ct_plugins_set_self_test(ct_plugins_test_fn fn)
{
    self_test_fn = fn;
}

/* ct_plugins_self_test, adding one to *tested and the tests that passed to
 * *passed when the plugin has tests. */
static int self_test_counted(const char *dir, const char *name,
                             const char *version, const ct_trust *trust,
                             const ct_bundle *bundle, ct_diags *diags,
                             unsigned *tested, unsigned *passed)
{
    /* The tests load the bundle themselves: never test inside a test. */
    static bool testing;
    char tests[4096];
    snprintf(tests, sizeof tests, "%s/test", dir);
    /* Whether there are tests, from the verified bytes when given. */
    bool any = false;
    struct stat st;
    for (size_t i = 0; bundle && !any && i < ct_bundle_count(bundle); i++)
        any = strncmp(ct_bundle_path_at(bundle, i), "test/", 5) == 0;
    if (!bundle)
        any = stat(tests, &st) == 0 && S_ISDIR(st.st_mode);
    if (testing || !any)
        return 0;
    if (!self_test_fn) {
        ct_diags_add(diags, tests, 0, 0,
                     "plugin '%s' %s not activated: its own tests cannot "
                     "run (no test runner in this program)",
                     name, version);
        return CT_EPLUGIN;
    }
    ct_plugins_test_result res = {0};
    ct_diags td = {0};
    testing = true;
    ct_log_quiet("self-test");
    int rc = self_test_fn(dir, trust, bundle, &res, &td);
    ct_log_quiet(NULL);
    testing = false;
    (*tested)++;
    *passed += res.passed;
    if (rc == 0 && res.failed == 0) {
        ct_log_debug("plugins", "plugin '%s' %s: its own tests pass (%u)",
                     name, version, res.passed);
    } else {
        ct_diags_add(diags, tests, 0, 0,
                     "plugin '%s' %s not activated: its own tests failed "
                     "(%u passed, %u failed)%s%s",
                     name, version, res.passed, res.failed ? res.failed : 1,
                     res.first_failure[0] ? ": " : "", res.first_failure);
        rc = CT_EPLUGIN;
    }
    for (size_t i = 0; i < td.len; i++)
        ct_diags_add(diags, td.items[i].file, td.items[i].line,
                     td.items[i].col, "%s", td.items[i].message);
    ct_diags_free(&td);
    return rc;
}

/*
 * A signed bundle's own tests run, each in a fresh sandbox, store and
 * virtual clock, before the bundle is activated; a bundle whose tests fail
 * is not. Plain plugin directories are the area's own and tested with
 * `caretide test` instead.
 */
static int self_test(ct_plugin *p, const ct_config *cfg, ct_diags *diags,
                     unsigned *tested, unsigned *passed)
{
    if (!*p->bundle_hash)
        return 0;
    return self_test_counted(p->dir, p->manifest->name, p->manifest->version,
                             &cfg->trust, p->bundle, diags, tested, passed);
}

/*
 * With a child's results (ct_plugins_set_pretested): the bundle's tests ran
 * in another process, and this is activated only when they passed on these
 * very bytes (the row's bundle hash is the one verified here).
 */
static int pretested(ct_plugins *m, ct_plugin *p, ct_diags *diags)
{
    if (!*p->bundle_hash)
        return 0;
    char tests[4096];
    snprintf(tests, sizeof tests, "%s/test", p->dir);
    const char *name = p->manifest->name, *version = p->manifest->version;
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(m->pretested, "plugins"), i, row) {
        const char *n = json_string_value(json_object_get(row, "name"));
        if (!n || strcmp(n, name) != 0)
            continue;
        const char *h = json_string_value(json_object_get(row, "bundle_hash"));
        const char *r = json_string_value(json_object_get(row, "result"));
        const char *msg = json_string_value(json_object_get(row, "message"));
        if (!h || strcmp(h, p->bundle_hash) != 0)
            break;
        if (r && strcmp(r, "pass") == 0)
            return 0;
        ct_diags_add(diags, tests, 0, 0, "%s",
                     msg ? msg : "its own tests did not pass");
        return CT_EPLUGIN;
    }
    ct_diags_add(diags, tests, 0, 0,
                 "plugin '%s' %s not activated: its bundle changed while its "
                 "own tests ran (these bytes were not tested); reload again",
                 name, version);
    return CT_EPLUGIN;
}

void ct_plugins_set_pretested(ct_plugins *m, json_t *results)
{
    json_decref(m->pretested);
    m->pretested = json_incref(results);
}

int ct_plugins_self_test(const char *dir, const char *name,
                         const char *version, const ct_trust *trust,
                         const ct_bundle *bundle, ct_diags *diags)
{
    unsigned tested = 0, passed = 0;
    return self_test_counted(dir, name, version, trust, bundle, diags,
                             &tested, &passed);
}

/* --- sets -------------------------------------------------------------- */

static void set_free(set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        plugin_free(s->items[i]);
    free(s->items);
    free(s);
}

static set *set_load(ct_plugins *m, const ct_config *cfg, ct_diags *diags)
{
    set *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->items = calloc(cfg->nplugins ? cfg->nplugins : 1, sizeof *s->items);
    if (!s->items) {
        free(s);
        return NULL;
    }
    size_t before = diags->len;
    unsigned tested = 0, passed = 0;
    for (size_t i = 0; i < cfg->nplugins; i++) {
        ct_plugin *p = plugin_load(m, cfg, &cfg->plugins[i], diags);
        if (p && (m->pretested ? pretested(m, p, diags)
                               : self_test(p, cfg, diags, &tested, &passed))) {
            plugin_free(p);
            p = NULL;
        }
        if (p)
            s->items[s->n++] = p;
    }
    /* One line for all of them: each test's own logging went to debug. */
    if (tested)
        ct_log_info("plugins", "self-tests: %u plugin%s, %u passed", tested,
                    tested == 1 ? "" : "s", passed);
    if (diags->len != before || s->n != cfg->nplugins) {
        set_free(s);
        return NULL;
    }
    return s;
}

/* Arms the set's schedules and gives the host its isolation lengths: for
 * each pathogen, the first plugin in the area's order that names one. */
static void set_arm(ct_capacity *cap, set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        s->items[i]->live = true;
        for (size_t j = 0; j < s->items[i]->nscheds; j++)
            ct_plugins__schedule_arm(s->items[i]->scheds[j], false);
    }
    ct_isolation_clear_lengths(cap);
    for (size_t i = s->n; i-- > 0;) {
        ct_plugin *p = s->items[i];
        for (size_t j = 0; j < p->niso; j++)
            if (ct_isolation_set_length(cap, p->iso[j].pathogen,
                                        p->iso[j].ms))
                ct_log_error("plugins", "plugin '%s': cannot keep the "
                             "isolation length of %s",
                             p->manifest->name, p->iso[j].pathogen);
    }
}

int ct_plugins_new(ct_capacity *cap, const ct_config *cfg, ct_plugins **out,
                   ct_diags *diags)
{
    return ct_plugins_new_traced(cap, cfg, NULL, NULL, out, diags);
}

int ct_plugins_new_traced(ct_capacity *cap, const ct_config *cfg,
                          ct_sandbox_line_fn fn, void *ud, ct_plugins **out,
                          ct_diags *diags)
{
    ct_plugins_options opts = {.line_fn = fn, .line_ud = ud};
    return ct_plugins_new_with(cap, cfg, &opts, out, diags);
}

int ct_plugins_new_with(ct_capacity *cap, const ct_config *cfg,
                        const ct_plugins_options *opts, ct_plugins **out,
                        ct_diags *diags)
{
    *out = NULL;
    ct_plugins *m = calloc(1, sizeof *m);
    if (!m)
        return CT_ENOMEM;
    m->cap = cap;
    m->cfg = cfg;
    if (opts) {
        m->line_fn = opts->line_fn;
        m->line_ud = opts->line_ud;
        m->watchdog_ms = opts->watchdog_ms;
    }
    int rc = ct_events_subscribe(ct_capacity_events(cap), CT_EVENTS_ALL,
                                 on_bus_event, m);
    if (rc) {
        free(m);
        return rc;
    }
    m->loading = cfg;
    m->cur = set_load(m, cfg, diags);
    m->loading = NULL;
    if (!m->cur) {
        ct_events_unsubscribe(ct_capacity_events(cap), on_bus_event, m);
        drop_queue(m);
        free(m->queue);
        free(m);
        return CT_ECONFIG;
    }
    set_arm(m->cap, m->cur);
    *out = m;
    return 0;
}

static void drop_queue(ct_plugins *m)
{
    for (size_t i = 0; i < m->nqueue; i++) {
        free(m->queue[i].kind);
        free(m->queue[i].from);
        json_decref(m->queue[i].payload);
    }
    m->nqueue = 0;
}

void ct_plugins_free(ct_plugins *m)
{
    if (!m)
        return;
    ct_events_unsubscribe(ct_capacity_events(m->cap), on_bus_event, m);
    ct_plugins_abort(m);
    set_free(m->loaded);
    set_free(m->cur);
    drop_queue(m);
    free(m->queue);
    json_decref(m->pretested);
    free(m);
}

int ct_plugins_prepare_begin(ct_plugins *m, const ct_config *cfg,
                             ct_diags *diags)
{
    ct_plugins_abort(m);
    /* Each stuck call holds a thread, a CPU and its state's memory until
     * its instruction ends: one set's worth at most, or reloads could
     * pile them up. */
    int stuck = ct_sandbox_retired_running();
    if (stuck > 0) {
        ct_diags_add(diags, cfg->file, 0, 0,
                     "%d plugin call%s given up before the last reload "
                     "%s still running (one instruction that does not "
                     "end); reload again once %s ended",
                     stuck, stuck == 1 ? "" : "s",
                     stuck == 1 ? "is" : "are",
                     stuck == 1 ? "it has" : "they have");
        ct_log_error("plugins", "reload refused: %d stuck plugin call%s "
                                "still running", stuck,
                     stuck == 1 ? "" : "s");
        return CT_ECONFIG;
    }
    m->loading = cfg;
    return 0;
}

void ct_plugins_prepare_load(ct_plugins *m, const ct_config *cfg,
                             const ct_plugins_gate *gate, ct_diags *diags)
{
    if (gate && gate->enter && m->watchdog_ms > 0)
        m->gate = *gate;
    m->loaded = set_load(m, cfg, diags);
}

bool ct_plugins_gated(const ct_plugins *m)
{
    return m->watchdog_ms > 0;
}

int ct_plugins_prepare_end(ct_plugins *m, const ct_config *cfg,
                           ct_diags *diags)
{
    set *s = m->loaded;
    m->loaded = NULL;
    m->loading = NULL;
    /* From now on the loop calls them and waits: no gate. */
    for (size_t i = 0; s && m->gate.enter && i < s->n; i++)
        ct_sandbox_set_host_gate(s->items[i]->sb, NULL, NULL, NULL);
    m->gate = (ct_plugins_gate){0};
    /* Entries and plugins are in the same order (set_load loads all). */
    int down = 0;
    for (size_t i = 0; s && i < s->n; i++) {
        ct_plugin *p = s->items[i];
        for (size_t j = 0; m->cur && j < m->cur->n; j++)
            if (strcmp(m->cur->items[j]->manifest->name,
                       p->manifest->name) == 0 &&
                ct_plugins__check_downgrade(m->cur->items[j], p, cfg->file,
                                            &cfg->plugins[i], diags))
                down++;
    }
    if (down) {
        set_free(s);
        s = NULL;
    }
    if (!s) {
        ct_log_error("plugins", "reload failed; the running plugins stay");
        return CT_ECONFIG;
    }
    m->next = s;
    m->next_cfg = cfg;
    return 0;
}

int ct_plugins_prepare(ct_plugins *m, const ct_config *cfg,
                       ct_diags *diags)
{
    int rc = ct_plugins_prepare_begin(m, cfg, diags);
    if (rc)
        return rc;
    ct_plugins_prepare_load(m, cfg, NULL, diags);
    return ct_plugins_prepare_end(m, cfg, diags);
}

void ct_plugins_apply(ct_plugins *m)
{
    if (!m->next)
        return;
    /* The swap: nothing runs between these lines, so no call sees half a
     * set. */
    set *old = m->cur;
    m->cur = m->next;
    m->cfg = m->next_cfg;
    m->next = NULL;
    m->next_cfg = NULL;
    set_free(old);
    set_arm(m->cap, m->cur);
    ct_log_info("plugins", "loaded %zu plugin(s)", m->cur->n);
}

void ct_plugins_audit_downgrades(ct_plugins *m)
{
    for (size_t i = 0; m->cur && i < m->cur->n; i++)
        ct_plugins__audit_downgrade(m->cur->items[i], m->cap);
}

void ct_plugins_abort(ct_plugins *m)
{
    set_free(m->next);
    m->next = NULL;
    m->next_cfg = NULL;
}

int ct_plugins_reload(ct_plugins *m, const ct_config *cfg, ct_diags *diags)
{
    int rc = ct_plugins_prepare(m, cfg, diags);
    if (rc == 0)
        ct_plugins_apply(m);
    return rc;
}

size_t ct_plugins_count(const ct_plugins *m)
{
    return m->cur ? m->cur->n : 0;
}

/* --- calling hooks ------------------------------------------------------- */

static const char *const hook_names[CT_HOOK_COUNT] = {
    "triage", "rank", "admit", "escalate", "delay"};

/* Counts a failure of one hook, schedule or handler (its guard, named
 * what) and quarantines that part alone after limits.quarantine_after in
 * a row. */
static void count_failure(ct_plugin *p, ct_plugin_guard *g, const char *what,
                          int rc)
{
    p->errors++;
    if (rc == CT_ETIMEOUT)
        p->timeouts++;
    g->consecutive++;
    uint32_t limit = p->mgr->cfg->limits.quarantine_after;
    if (!g->quarantined && g->consecutive >= limit) {
        g->quarantined = true;
        ct_log_error("plugins",
                     "plugin '%s': %s quarantined after %llu consecutive "
                     "failures; it stays out until the plugin is reloaded "
                     "(its other hooks and schedules go on)",
                     p->manifest->name, what,
                     (unsigned long long)g->consecutive);
        enqueue(
            p->mgr, "plugin.quarantined",
            json_pack("{s:s, s:s, s:I}", "plugin", p->manifest->name,
                      "hook", what, "failures", (json_int_t)g->consecutive));
    }
}

/*
 * The watchdog gave up a call of p: its state belongs to the call's
 * thread until the instruction ends, so nothing of the plugin can run
 * again. All of it is quarantined at once, until it is reloaded.
 */
static void plugin_stuck(ct_plugin *p, const char *what)
{
    if (p->stuck || !ct_sandbox_abandoned(p->sb, NULL))
        return;
    p->stuck = true;
    for (int i = 0; i < CT_HOOK_COUNT; i++)
        p->hooks[i].quarantined = true;
    for (size_t i = 0; i < p->nscheds; i++)
        p->scheds[i]->guard.quarantined = true;
    for (size_t i = 0; i < p->nsubs; i++)
        p->subs[i].guard.quarantined = true;
    ct_log_error("plugins",
                 "plugin '%s': %s did not end and was given up; the whole "
                 "plugin is quarantined until it is reloaded (its call "
                 "runs on alone, on its own thread, until its instruction "
                 "ends)",
                 p->manifest->name, what);
    enqueue(
        p->mgr, "plugin.quarantined",
        json_pack("{s:s, s:s, s:s}", "plugin", p->manifest->name, "hook",
                  what, "reason", "stuck"));
}

/* The guard of a decision hook by name. */
static ct_plugin_guard *hook_guard(ct_plugin *p, const char *hook)
{
    int h = 0;
    while (h < CT_HOOK_COUNT - 1 && strcmp(hook_names[h], hook) != 0)
        h++;
    return &p->hooks[h];
}

/* Visits every guard of p with its name; stops when fn returns true. */
static bool each_guard(const ct_plugin *p,
                       bool (*fn)(const ct_plugin_guard *, const char *,
                                  void *),
                       void *ud)
{
    for (int i = 0; i < CT_HOOK_COUNT; i++)
        if (fn(&p->hooks[i], hook_names[i], ud))
            return true;
    for (size_t i = 0; i < p->nscheds; i++)
        if (fn(&p->scheds[i]->guard, p->scheds[i]->name, ud))
            return true;
    for (size_t i = 0; i < p->nsubs; i++)
        if (fn(&p->subs[i].guard, p->subs[i].event, ud))
            return true;
    return false;
}

static json_t *trace_entry(ct_plugin *p, const char *hook, json_t *input)
{
    return json_pack("{s:s, s:s, s:s, s:o}", "plugin", p->manifest->name,
                     "version", p->manifest->version, "hook", hook, "input",
                     input ? input : json_null());
}

static void trace_error(json_t *entry, ct_plugin *p, const char *msg)
{
    json_object_set_new(entry, "error", json_string(msg));
    json_object_set_new(entry, "fallback",
                        json_string(ct_fallback_name(p->manifest->fallback)));
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void ct_plugins_decision_begin(ct_plugins *m)
{
    for (size_t i = 0; m->cur && i < m->cur->n; i++)
        m->cur->items[i]->decision_ns = 0;
}

/* PER_SCHEDULE charges the minute's budget like PER_MINUTE, under the
 * schedule's own deadline (limits.schedule_deadline) instead of a hook's. */
enum budget { PER_DECISION, PER_MINUTE, PER_SCHEDULE };

/*
 * ct_sandbox_call within the plugin's CPU budget, on the deadline's clock:
 * the call's deadline is the plugin deadline or what is left of the
 * budget, whichever is less, and the time it took is charged whatever
 * came of it. A budget used up is CT_ELIMIT (before the call: the function
 * and arguments are popped). *msg is the failure's message.
 */
static int budgeted_call(ct_plugin *p, const char *what, int nargs, int nres,
                         enum budget b, const char **msg)
{
    const ct_config_limits *lim = &p->mgr->cfg->limits;
    int64_t t0 = mono_ns();
    int64_t *used = &p->decision_ns, total = lim->plugin_decision_budget_ms;
    const char *per = "a decision";
    if (b != PER_DECISION) {
        /* The minute is the host clock's when it is virtual (the REPL,
         * tests, caretide sim): a simulated minute passes in microseconds,
         * and a budget per real minute would skip a day's schedules by
         * the wall clock, making a seeded run depend on the machine's
         * load. Its CPU is still charged in real time. */
        ct_capacity *cap = ct_plugins__capacity(p->mgr);
        ct_clock *clk = cap ? ct_capacity_clock(cap) : NULL;
        int64_t minute = clk && ct_clock_is_virtual(clk)
                             ? ct_clock_now(clk) / 60000
                             : t0 / 60000000000LL;
        if (minute != p->minute_at) {
            p->minute_at = minute;
            p->minute_ns = 0;
        }
        used = &p->minute_ns;
        total = lim->plugin_minute_budget_ms;
        per = "a minute for events and schedules";
    }
    int64_t left = total - *used / 1000000;
    *msg = NULL;
    if (left <= 0) {
        lua_State *L = ct_sandbox_state(p->sb);
        lua_settop(L, lua_gettop(L) - nargs - 1);
        snprintf(p->budget_msg, sizeof p->budget_msg,
                 "plugin '%s': CPU budget of %lld ms %s used up before %s",
                 p->manifest->name, (long long)total, per, what);
        *msg = p->budget_msg;
        return CT_ELIMIT;
    }
    int64_t dl = b == PER_SCHEDULE ? lim->schedule_deadline_ms
                                   : lim->plugin_deadline_ms;
    p->mgr->running++;
    int rc = ct_sandbox_call_deadline(p->sb, what, nargs, nres,
                                      left < dl ? left : dl);
    p->mgr->running--;
    *used += mono_ns() - t0;
    if (rc == CT_ETIMEOUT)
        plugin_stuck(p, what);
    /* Given up stuck, the call's own message says so. */
    if (rc == CT_ETIMEOUT && left < dl && !p->stuck) {
        snprintf(p->budget_msg, sizeof p->budget_msg,
                 "plugin '%s': CPU budget of %lld ms %s used up in %s",
                 p->manifest->name, (long long)total, per, what);
        *msg = p->budget_msg;
        return CT_ELIMIT;
    }
    if (rc)
        *msg = ct_sandbox_last_error(p->sb)->message;
    return rc;
}

/*
 * Calls hook with up to two JSON arguments and converts nres results.
 * Returns 1 when the plugin has no such hook (nothing traced), 0 on
 * success, a negative code on failure (counted, logged, traced). res must
 * hold nres slots; each gets a new reference (JSON null for nil).
 */
static int call_hook(ct_plugin *p, const char *hook, const json_t *a1,
                     const json_t *a2, int nres, json_t **res,
                     json_t *trace, json_t **entry_out)
{
    for (int i = 0; i < nres; i++)
        res[i] = NULL;
    if (entry_out)
        *entry_out = NULL;
    ct_plugin_guard *g = hook_guard(p, hook);
    if (g->quarantined) {
        /* A stuck plugin's state cannot be looked at: every hook of it
         * is traced as out. */
        if (p->stuck || ct_sandbox_get_hook(p->sb, hook) == 0) {
            if (!p->stuck)
                lua_settop(ct_sandbox_state(p->sb),
                           lua_gettop(ct_sandbox_state(p->sb)) - 1);
            json_t *e = trace_entry(p, hook, NULL);
            trace_error(e, p, p->stuck ? "quarantined (stuck): not called"
                                       : "quarantined: not called");
            if (trace)
                json_array_append_new(trace, e);
            else
                json_decref(e);
            return CT_EQUARANTINED;
        }
        return 1;
    }
    int rc = ct_sandbox_get_hook(p->sb, hook);
    if (rc == CT_ENOTFOUND)
        return 1;
    json_t *input = json_array();
    json_t *entry = NULL;
    const char *budget_msg = NULL;
    double t0 = now_ms();
    if (rc == 0) {
        int nargs = 0;
        const json_t *args[2] = {a1, a2};
        for (int i = 0; i < 2 && args[i]; i++, nargs++) {
            json_array_append(input, (json_t *)args[i]);
            if ((rc = ct_sandbox_push_json(p->sb, args[i]))) {
                lua_settop(ct_sandbox_state(p->sb),
                           lua_gettop(ct_sandbox_state(p->sb)) - nargs - 1);
                break;
            }
        }
        if (rc == 0)
            rc = budgeted_call(p, hook, nargs, nres, PER_DECISION,
                               &budget_msg);
    }
    p->calls++;
    if (rc == 0) {
        for (int i = 0; i < nres && rc == 0; i++)
            rc = ct_sandbox_to_json(p->sb, -nres + i, i ? "result2" : "result",
                                    0, &res[i]);
        lua_settop(ct_sandbox_state(p->sb),
                   lua_gettop(ct_sandbox_state(p->sb)) - nres);
    }
    entry = trace_entry(p, hook, json_array_size(input) == 1
                                     ? json_incref(json_array_get(input, 0))
                                     : json_incref(input));
    json_decref(input);
    json_object_set_new(entry, "ms", json_real(now_ms() - t0));
    if (rc) {
        const char *msg = rc == CT_ELIMIT && budget_msg
                              ? budget_msg
                              : ct_sandbox_last_error(p->sb)->message;
        ct_log_warn("plugins", "%s", msg);
        trace_error(entry, p, msg);
        count_failure(p, g, hook, rc);
        for (int i = 0; i < nres; i++) {
            json_decref(res[i]);
            res[i] = NULL;
        }
    } else {
        /* Provisional until the caller accepts the result's shape:
         * shape_error puts the count back, so a plugin that always answers
         * in the wrong shape still reaches quarantine. */
        g->unconfirmed = g->consecutive;
        g->consecutive = 0;
        json_object_set(entry, "output",
                        nres == 1 ? res[0] : json_pack("[OO]", res[0], res[1]));
        if (nres != 1)
            json_decref(json_object_get(entry, "output"));
    }
    if (trace)
        json_array_append(trace, entry);
    if (entry_out)
        *entry_out = entry;
    else
        json_decref(entry);
    return rc;
}

/* A result of the wrong shape is a failure of the plugin like any other. */
static int shape_error(ct_plugin *p, json_t *entry, const char *hook,
                       const char *what)
{
    char msg[512];
    snprintf(msg, sizeof msg, "plugin '%s': %s returned %s",
             p->manifest->name, hook, what);
    ct_log_warn("plugins", "%s", msg);
    if (entry) {
        json_object_del(entry, "output");
        trace_error(entry, p, msg);
    }
    ct_plugin_guard *g = hook_guard(p, hook);
    g->consecutive = g->unconfirmed;
    count_failure(p, g, hook, CT_EPLUGIN);
    return CT_EPLUGIN;
}

static void fallback(ct_plugin *p, bool *manual)
{
    if (p->manifest->fallback == CT_FALLBACK_MANUAL_REVIEW && manual)
        *manual = true;
}

/* A triage answer's kinds: absent, or a list of facility kinds a person
 * can be discharged to (an empty table arrives as an empty object). */
static bool kinds_ok(const json_t *kinds)
{
    if (!kinds || (json_is_object(kinds) && json_object_size(kinds) == 0))
        return true;
    if (!json_is_array(kinds))
        return false;
    size_t i;
    json_t *k;
    json_array_foreach(kinds, i, k)
    {
        int kind = ct_facility_kind_parse(json_string_value(k));
        if (kind < 0 || kind == CT_FACILITY_ACUTE)
            return false;
    }
    return true;
}

int ct_plugins_triage(ct_plugins *m, const json_t *referral, json_t *trace,
                      json_t **answer, bool *manual)
{
    *answer = NULL;
    for (size_t i = 0; m->cur && i < m->cur->n && !*answer; i++) {
        ct_plugin *p = m->cur->items[i];
        json_t *res, *entry;
        int rc = call_hook(p, "triage", referral, NULL, 1, &res, trace,
                           &entry);
        if (rc == 1)
            continue;
        if (rc == 0 && !json_is_null(res)) {
            const char *pw =
                json_string_value(json_object_get(res, "pathway"));
            json_t *prio = json_object_get(res, "priority");
            json_t *why = json_object_get(res, "reason");
            if (!json_is_object(res) || !pw || ct_pathway_parse(pw) < 0)
                rc = shape_error(p, entry, "triage",
                                 "no valid pathway (expected {pathway = "
                                 "\"P0\"|\"P1\"|\"P2\"|\"P3\"|\"step_down\", "
                                 "reason = string, priority = integer})");
            else if ((prio && !json_is_integer(prio)) ||
                     (why && !json_is_string(why)))
                rc = shape_error(p, entry, "triage",
                                 "a priority that is not an integer or a "
                                 "reason that is not a string");
            /* The ranges the host stores (and the API accepts): an answer
             * outside them is the plugin's failure, never the referral's. */
            else if (why && json_string_length(why) > CT_TRIAGE_REASON_MAX)
                rc = shape_error(p, entry, "triage",
                                 "a reason longer than 500 bytes");
            else if (prio && (json_integer_value(prio) < -CT_PRIORITY_MAX ||
                              json_integer_value(prio) > CT_PRIORITY_MAX))
                rc = shape_error(p, entry, "triage",
                                 "a priority outside -1000000 to 1000000");
            else if (!kinds_ok(json_object_get(res, "kinds")))
                rc = shape_error(p, entry, "triage",
                                 "kinds that are not a list of facility "
                                 "kinds other than acute (step_down, rehab, "
                                 "care_home, home_care, virtual_ward)");
            else
                *answer = json_incref(res);
        }
        json_decref(res);
        json_decref(entry);
        if (rc)
            fallback(p, manual);
        if (*manual)
            break;
    }
    ct_plugins_flush(m);
    return 0;
}

static bool delay_answer_ok(const json_t *res)
{
    json_t *valid = json_object_get(res, "valid");
    json_t *text = json_object_get(res, "text");
    json_t *msg = json_object_get(res, "message");
    const char *field = json_string_value(json_object_get(res, "field"));
    if (!json_is_object(res) || !json_is_boolean(valid))
        return false;
    if (json_is_true(valid))
        return !text || (json_is_string(text) &&
                         json_string_length(text) <= CT_DELAY_TEXT_MAX);
    return json_is_string(msg) && json_string_length(msg) <= 500 &&
           (!json_object_get(res, "field") ||
            (field && (!strcmp(field, "reason") ||
                       !strcmp(field, "responsible_org") ||
                       !strcmp(field, "from"))));
}

int ct_plugins_delay(ct_plugins *m, const json_t *referral,
                     const json_t *delay, json_t *trace, json_t **answer)
{
    *answer = NULL;
    int out = 0;
    ct_plugins_decision_begin(m);
    for (size_t i = 0; m->cur && i < m->cur->n && !*answer && !out; i++) {
        ct_plugin *p = m->cur->items[i];
        json_t *res, *entry;
        int rc = call_hook(p, "delay", referral, delay, 1, &res, trace,
                           &entry);
        if (rc == 1)
            continue;
        if (rc == 0 && !json_is_null(res)) {
            if (!delay_answer_ok(res))
                rc = shape_error(p, entry, "delay",
                                 "no verdict (expected {valid = true, text "
                                 "= string} or {valid = false, message = "
                                 "string, field = \"reason\"|"
                                 "\"responsible_org\"|\"from\"})");
            else
                *answer = json_incref(res);
        }
        json_decref(res);
        json_decref(entry);
        if (rc)
            out = CT_EPLUGIN;
    }
    ct_plugins_flush(m);
    return out;
}

/* rank's answer: a list of tables each naming a bed. */
static bool valid_ranking(const json_t *v)
{
    if (!json_is_array(v))
        return false;
    size_t i;
    json_t *c;
    json_array_foreach(v, i, c) if (!json_is_object(c) ||
                                    !json_is_string(json_object_get(c, "bed")))
        return false;
    return true;
}

/*
 * A rank step's trace without the candidate tables over again (50 of them,
 * twice per plugin, were most of a decision's size and of its cost): the
 * input becomes [referral, bed ids in the order the plugin got them] and
 * each output entry keeps its bed and only the fields the plugin added or
 * changed (score, reason...), in the plugin's order. The host's own list
 * is recorded once with the decision, so every step can be read back.
 */
static void compact_rank_entry(json_t *entry, const json_t *given)
{
    json_t *input = json_object_get(entry, "input");
    json_t *ids = json_array();
    json_t *by_bed = json_object();
    if (!ids || !by_bed)
        goto done;
    size_t i;
    json_t *c;
    json_array_foreach(given, i, c)
    {
        json_t *bed = json_object_get(c, "bed");
        json_array_append(ids, bed);
        if (json_is_string(bed))
            json_object_set(by_bed, json_string_value(bed), c);
    }
    if (json_is_array(input) && json_array_size(input) == 2)
        json_array_set(input, 1, ids);
    json_t *out = json_object_get(entry, "output");
    if (!json_is_array(out))
        goto done;
    json_t *slim = json_array();
    if (!slim)
        goto done;
    json_array_foreach(out, i, c)
    {
        json_t *bed = json_object_get(c, "bed");
        const json_t *was =
            json_is_string(bed) ? json_object_get(by_bed, json_string_value(bed))
                                : NULL;
        json_t *d = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(c, k, v)
        {
            if (strcmp(k, "bed") == 0 ||
                !(was && json_equal(json_object_get(was, k), v)))
                json_object_set(d, k, v);
        }
        json_array_append_new(slim, d);
    }
    json_object_set_new(entry, "output", slim);
done:
    json_decref(ids);
    json_decref(by_bed);
}

/* The beds of before that after lacks, onto drops with plugin p's
 * reasons (why: bed id -> text, may be anything). */
static void note_drops(const ct_plugin *p, const json_t *before,
                       const json_t *after, const json_t *why, json_t *drops)
{
    if (!drops)
        return;
    json_t *kept = json_object();
    size_t i;
    json_t *c;
    json_array_foreach(after, i, c)
    {
        const char *b = json_string_value(json_object_get(c, "bed"));
        if (b)
            json_object_set_new(kept, b, json_true());
    }
    json_array_foreach(before, i, c)
    {
        const char *b = json_string_value(json_object_get(c, "bed"));
        if (!b || json_object_get(kept, b))
            continue;
        const char *r = json_is_object(why)
                            ? json_string_value(json_object_get(why, b))
                            : NULL;
        json_array_append_new(
            drops, json_pack("{s:s, s:s, s:s}", "plugin", p->manifest->name,
                             "bed", b, "reason",
                             r ? r : "dropped without a reason"));
    }
    json_decref(kept);
}

int ct_plugins_rank(ct_plugins *m, const json_t *referral,
                    json_t **candidates, json_t *trace, bool *manual,
                    json_t *drops)
{
    for (size_t i = 0; m->cur && i < m->cur->n; i++) {
        ct_plugin *p = m->cur->items[i];
        json_t *res[2] = {NULL, NULL}, *entry;
        int rc = call_hook(p, "rank", referral, *candidates, 2, res, trace,
                           &entry);
        if (rc == 1)
            continue;
        /* An empty table reads as an object; it is an empty list here. */
        if (rc == 0 && json_is_object(res[0]) &&
            json_object_size(res[0]) == 0) {
            json_decref(res[0]);
            res[0] = json_array();
        }
        if (rc == 0 && !valid_ranking(res[0]))
            rc = shape_error(p, entry, "rank",
                             "something other than a list of candidates "
                             "(tables with a bed field)");
        if (rc == 0) {
            if (entry) {
                /* The trace shows the list, and the reasons for drops
                 * beside it when the plugin gave any. */
                json_object_set(entry, "output", res[0]);
                if (json_is_object(res[1]) && json_object_size(res[1]))
                    json_object_set(entry, "drop_reasons", res[1]);
                compact_rank_entry(entry, *candidates);
            }
            note_drops(p, *candidates, res[0], res[1], drops);
            json_decref(*candidates);
            *candidates = json_incref(res[0]);
        } else {
            fallback(p, manual);
        }
        json_decref(res[0]);
        json_decref(res[1]);
        json_decref(entry);
        if (*manual)
            break;
    }
    ct_plugins_flush(m);
    return 0;
}

int ct_plugins_admit(ct_plugins *m, const json_t *referral,
                     const json_t *candidate, json_t *trace, bool *allowed,
                     const char **reason, bool *manual)
{
    static char why[512];
    *allowed = true;
    *reason = NULL;
    for (size_t i = 0; m->cur && i < m->cur->n && *allowed; i++) {
        ct_plugin *p = m->cur->items[i];
        json_t *res[2], *entry;
        int rc = call_hook(p, "admit", referral, candidate, 2, res, trace,
                           &entry);
        if (rc == 1)
            continue;
        if (rc == 0 && !json_is_boolean(res[0]))
            rc = shape_error(p, entry, "admit",
                             "something other than true or false, reason");
        if (rc == 0 && json_is_false(res[0])) {
            *allowed = false;
            const char *r = json_string_value(res[1]);
            snprintf(why, sizeof why, "%s: %s", p->manifest->name,
                     r ? r : "refused");
            *reason = why;
        }
        json_decref(res[0]);
        json_decref(res[1]);
        json_decref(entry);
        if (rc) {
            /* manual review stops the decision; skip lets the bed pass. */
            fallback(p, manual);
            if (*manual)
                break;
        }
    }
    ct_plugins_flush(m);
    return 0;
}

int ct_plugins_escalate(ct_plugins *m, const json_t *metrics, json_t *trace,
                        json_t **out)
{
    ct_plugins_decision_begin(m); /* an escalation is a decision of its own */
    json_int_t best = 0;
    const char *best_reason = "";
    json_t *actions = json_array();
    json_t *answers = json_array();
    for (size_t i = 0; m->cur && i < m->cur->n; i++) {
        ct_plugin *p = m->cur->items[i];
        json_t *res, *entry;
        int rc = call_hook(p, "escalate", metrics, NULL, 1, &res, trace,
                           &entry);
        if (rc == 1)
            continue;
        if (rc == 0 && !json_is_null(res)) {
            json_t *lv = json_object_get(res, "level");
            json_t *acts = json_object_get(res, "actions");
            if (!json_is_integer(lv) || json_integer_value(lv) < 1 ||
                json_integer_value(lv) > 4)
                rc = shape_error(p, entry, "escalate",
                                 "no level from 1 to 4 (expected {level = "
                                 "1..4, reason = string, actions = {...}})");
            else if (acts && !json_is_array(acts) &&
                     !(json_is_object(acts) && json_object_size(acts) == 0))
                rc = shape_error(p, entry, "escalate",
                                 "actions that are not a list");
            else {
                json_array_append(answers, res);
                if (json_integer_value(lv) > best) {
                    best = json_integer_value(lv);
                    best_reason =
                        json_string_value(json_object_get(res, "reason"));
                    if (!best_reason)
                        best_reason = p->manifest->name;
                }
                size_t j;
                json_t *a;
                if (json_is_array(acts))
                    json_array_foreach(acts, j, a) json_array_append_new(
                        actions, json_pack("{s:s, s:O}", "plugin",
                                           p->manifest->name, "action", a));
            }
        }
        json_decref(res);
        json_decref(entry);
    }
    *out = json_pack("{s:I, s:s, s:o}", "level", best, "reason", best_reason,
                     "actions", actions);
    json_decref(answers);
    ct_plugins_flush(m);
    return *out ? 0 : CT_ENOMEM;
}

/* --- events and schedules -------------------------------------------------- */

static bool matches(const char *pattern, const char *kind)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*')
        return strncmp(pattern, kind, n - 1) == 0;
    return strcmp(pattern, kind) == 0;
}

static void deliver(ct_plugins *m, const char *kind, const json_t *payload)
{
    for (size_t i = 0; m->cur && i < m->cur->n; i++) {
        ct_plugin *p = m->cur->items[i];
        for (size_t j = 0; j < p->nsubs; j++) {
            ct_plugin_guard *g = &p->subs[j].guard;
            if (g->quarantined || !matches(p->subs[j].event, kind))
                continue;
            lua_State *L = ct_sandbox_state(p->sb);
            ct_sandbox_push_ref(p->sb, p->subs[j].ref);
            json_t *arg = json_deep_copy(payload);
            json_object_set_new(arg, "event", json_string(kind));
            int rc = ct_sandbox_push_json(p->sb, arg);
            json_decref(arg);
            if (rc) {
                lua_settop(L, lua_gettop(L) - 1);
                continue;
            }
            char what[160];
            snprintf(what, sizeof what, "on(%s)", kind);
            p->calls++;
            const char *outer = m->answering;
            m->answering = p->manifest->name;
            const char *msg;
            rc = budgeted_call(p, what, 1, 0, PER_MINUTE, &msg);
            m->answering = outer;
            if (rc) {
                ct_log_warn("plugins", "%s",
                            ct_sandbox_last_error(p->sb)->message);
                count_failure(p, g, p->subs[j].event, rc);
            } else {
                g->consecutive = 0;
            }
        }
    }
}

/* Takes a payload reference; the emitter is the plugin answering now. */
static void enqueue(ct_plugins *m, const char *kind, json_t *payload)
{
    if (m->nqueue == m->capqueue) {
        size_t n = m->capqueue ? 2 * m->capqueue : 8;
        queued *q = realloc(m->queue, n * sizeof *q);
        if (!q) {
            json_decref(payload);
            return;
        }
        m->queue = q;
        m->capqueue = n;
    }
    m->queue[m->nqueue++] =
        (queued){strdup(kind), payload, ct_strdup(m->answering)};
}

/* The bus hands over each committed event (the host's and the plugins'
 * own). It is delivered at once unless plugin code is running (a handler
 * whose own write just committed, a hook, setup): never re-entering a
 * running plugin, it waits in the queue for the loop that runs it. */
static void on_bus_event(const ct_event *ev, void *data)
{
    ct_plugins *m = data;
    enqueue(m, ev->kind, json_incref((json_t *)ev->payload));
    if (!m->running && !m->flushing)
        ct_plugins_flush(m);
}

/* Adds name to the list unless it is there (or NULL). */
static void add_name(const char **names, size_t *n, size_t max,
                     const char *name)
{
    for (size_t i = 0; name && i < *n; i++)
        if (strcmp(names[i], name) == 0)
            return;
    if (name && *n < max)
        names[(*n)++] = name;
}

/* Says what the event loop dropped and who kept it going: each kind
 * still queued with its count, then the plugins that emitted those
 * events or would have answered them. */
static void log_dropped(ct_plugins *m)
{
    const char *names[32];
    size_t nnames = 0;
    ct_buf kinds = {0}, who = {0};
    for (size_t i = 0; i < m->nqueue; i++) {
        const queued *q = &m->queue[i];
        size_t first = 0, n = 0;
        while (first < i && (!q->kind || !m->queue[first].kind ||
                             strcmp(m->queue[first].kind, q->kind) != 0))
            first++;
        if (!q->kind || first < i)
            continue; /* counted with the first of its kind */
        for (size_t j = i; j < m->nqueue; j++) {
            const queued *o = &m->queue[j];
            if (o->kind && strcmp(o->kind, q->kind) == 0) {
                n++;
                add_name(names, &nnames, CT_ARRAY_LEN(names), o->from);
            }
        }
        ct_buf_printf(&kinds, "%s%s x%zu", kinds.len ? ", " : "", q->kind, n);
        for (size_t k = 0; m->cur && k < m->cur->n; k++) {
            const ct_plugin *p = m->cur->items[k];
            for (size_t s = 0; s < p->nsubs; s++)
                if (matches(p->subs[s].event, q->kind))
                    add_name(names, &nnames, CT_ARRAY_LEN(names),
                             p->manifest->name);
        }
    }
    for (size_t i = 0; i < nnames; i++)
        ct_buf_printf(&who, "%s%s", i ? ", " : "", names[i]);
    ct_log_warn("plugins", "dropped %zu event%s still queued after %d "
                           "rounds (%s): plugins %s kept emitting in answer "
                           "to each other",
                m->nqueue, m->nqueue == 1 ? "" : "s", MAX_EVENT_ROUNDS,
                kinds.data ? kinds.data : "", who.data ? who.data : "?");
    ct_buf_free(&kinds);
    ct_buf_free(&who);
}

void ct_plugins_flush(ct_plugins *m)
{
    if (m->flushing)
        return;
    m->flushing = true;
    for (int round = 0; m->nqueue && round < MAX_EVENT_ROUNDS; round++) {
        queued q = m->queue[0];
        memmove(m->queue, m->queue + 1, (m->nqueue - 1) * sizeof *m->queue);
        m->nqueue--;
        if (q.kind && q.payload)
            deliver(m, q.kind, q.payload);
        free(q.kind);
        free(q.from);
        json_decref(q.payload);
    }
    if (m->nqueue) {
        log_dropped(m);
        drop_queue(m);
    }
    m->flushing = false;
}

void ct_plugins_dispatch(ct_plugins *m, const char *kind,
                         const json_t *payload)
{
    deliver(m, kind, payload);
    ct_plugins_flush(m);
}

/*
 * One call of a schedule's function, under the schedule's own deadline
 * (limits.schedule_deadline) and in one transaction: every event and kv
 * write of the call commits together, or none does when it fails, so a
 * retried job never repeats what a failed one half did, and a job that
 * keeps its progress in ct.kv resumes where its last call ended. Returns
 * true when the function answered true: more work is left, call again as
 * soon as the loop has served what waits (requests, triage).
 */
static bool schedule_call(ct_plugin *p, ct_plugin_schedule *s)
{
    ct_store *st = ct_capacity_store(p->mgr->cap);
    lua_State *L = ct_sandbox_state(p->sb);
    bool own;
    int rc = ct_store_enter(st, &own);
    if (rc) {
        ct_log_error("plugins", "plugin '%s': %s not run: %s",
                     p->manifest->name, s->name, ct_strerror(rc));
        return false;
    }
    ct_sandbox_push_ref(p->sb, s->ref);
    p->calls++;
    const char *msg;
    rc = budgeted_call(p, s->name, 0, 1, PER_SCHEDULE, &msg);
    bool more = false;
    if (rc == 0) {
        more = lua_isboolean(L, -1) && lua_toboolean(L, -1);
        lua_settop(L, lua_gettop(L) - 1);
        s->guard.consecutive = 0;
    } else if (rc == CT_ELIMIT && msg && strstr(msg, "used up before")) {
        /* Not run: the minute's budget is spent. Not the job's failure;
         * it runs at its next time. */
        ct_log_warn("plugins", "%s", msg);
    } else {
        ct_log_warn("plugins", "%s", msg ? msg : "schedule failed");
        count_failure(p, &s->guard, s->name, rc);
    }
    /* Undone whole on failure, its events with it (the bus drops them). */
    int end = ct_store_leave(st, own, rc);
    if (end && rc == 0)
        ct_log_error("plugins", "plugin '%s': %s not kept: %s",
                     p->manifest->name, s->name, ct_strerror(end));
    return end ? false : more;
}

/* A job that always answers "more" would otherwise run without end
 * (under the virtual clock, inside one advance). */
#define MAX_SLICES 10000

void ct_plugins__run_schedule(ct_plugin_schedule *s)
{
    ct_plugin *p = s->plugin;
    bool more = !s->guard.quarantined && schedule_call(p, s);
    if (more && ++s->slices >= MAX_SLICES) {
        ct_log_warn("plugins", "plugin '%s': %s answered \"more\" %d times "
                               "in a row; it waits for its next time",
                    p->manifest->name, s->name, MAX_SLICES);
        more = false;
    }
    if (!more)
        s->slices = 0;
    if (p->live)
        ct_plugins__schedule_arm(s, more);
    ct_plugins_flush(p->mgr);
}

/* --- status and provenance ----------------------------------------------- */

static bool add_quarantined(const ct_plugin_guard *g, const char *name,
                            void *ud)
{
    if (g->quarantined)
        json_array_append_new(ud, json_string(name));
    return false;
}

static bool max_consecutive(const ct_plugin_guard *g, const char *name,
                            void *ud)
{
    (void)name;
    uint64_t *max = ud;
    if (g->consecutive > *max)
        *max = g->consecutive;
    return false;
}

/* Whether p has the named hook (a guard that can be used). */
static bool has_hook(const ct_plugin *p, int h)
{
    lua_State *L = ct_sandbox_state(p->sb);
    if (ct_sandbox_get_hook(p->sb, hook_names[h]) != 0)
        return false;
    lua_settop(L, lua_gettop(L) - 1);
    return true;
}

/* "active" with nothing quarantined, "quarantined" when every hook,
 * schedule and handler it has is, "degraded" in between; "stuck" while a
 * call the watchdog gave up still runs. */
static const char *plugin_state(const ct_plugin *p, size_t nquarantined)
{
    int64_t running = 0;
    if (p->stuck && ct_sandbox_abandoned(p->sb, &running))
        return running > 0 ? "stuck" : "quarantined";
    if (nquarantined == 0)
        return "active";
    size_t parts = p->nscheds + p->nsubs;
    for (int h = 0; h < CT_HOOK_COUNT; h++)
        parts += has_hook(p, h) || p->hooks[h].quarantined;
    return nquarantined >= parts ? "quarantined" : "degraded";
}

json_t *ct_plugins_status(const ct_plugins *m)
{
    json_t *a = json_array();
    for (size_t i = 0; m->cur && i < m->cur->n; i++) {
        const ct_plugin *p = m->cur->items[i];
        ct_sandbox_stats st;
        ct_sandbox_stats_get(p->sb, &st);
        json_t *out = json_array();
        uint64_t consecutive = 0;
        each_guard(p, add_quarantined, out);
        each_guard(p, max_consecutive, &consecutive);
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:o}",
                         "name", p->manifest->name, "version",
                         p->manifest->version, "state",
                         plugin_state(p, json_array_size(out)),
                         "calls", (json_int_t)p->calls, "errors",
                         (json_int_t)p->errors, "timeouts",
                         (json_int_t)p->timeouts, "consecutive_failures",
                         (json_int_t)consecutive, "settings_hash",
                         p->settings_hash, "memory", (json_int_t)st.mem_used,
                         "memory_peak", (json_int_t)st.mem_peak,
                         "quarantined", out);
        if (o && *p->bundle_hash)
            json_object_set_new(o, "bundle_hash",
                                json_string(p->bundle_hash));
        if (o && *p->key_id)
            json_object_set_new(o, "key_id", json_string(p->key_id));
        int64_t running = 0;
        if (o && p->stuck && ct_sandbox_abandoned(p->sb, &running) &&
            running > 0)
            json_object_set_new(o, "stuck_ms", json_integer(running));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *ct_plugins_dirs(const ct_plugins *m)
{
    json_t *a = json_array();
    for (size_t i = 0; m->cur && i < m->cur->n; i++)
        json_array_append_new(a, json_string(m->cur->items[i]->dir));
    return a;
}

json_t *ct_plugins_provenance(const ct_plugins *m)
{
    json_t *a = json_array();
    for (size_t i = 0; m->cur && i < m->cur->n; i++) {
        const ct_plugin *p = m->cur->items[i];
        json_t *o = json_pack("{s:s, s:s, s:s}", "name", p->manifest->name,
                              "version", p->manifest->version,
                              "settings_hash", p->settings_hash);
        if (o && *p->bundle_hash)
            json_object_set_new(o, "bundle_hash",
                                json_string(p->bundle_hash));
        if (o && *p->key_id)
            json_object_set_new(o, "key_id", json_string(p->key_id));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *ct_plugins_settings(const ct_plugins *m)
{
    json_t *o = json_object();
    for (size_t i = 0; o && m->cur && i < m->cur->n; i++) {
        const ct_plugin *p = m->cur->items[i];
        json_object_set(o, p->manifest->name,
                        p->settings ? p->settings : json_null());
    }
    return o;
}

bool ct_plugins__loaded(const ct_plugins *m, const char *name)
{
    /* By the configs: a set being loaded is not yet reachable. */
    const ct_config *cfgs[3] = {m->cfg, m->next_cfg, m->loading};
    for (size_t k = 0; k < 3; k++)
        for (size_t i = 0; cfgs[k] && i < cfgs[k]->nplugins; i++)
            if (strcmp(cfgs[k]->plugins[i].name, name) == 0)
                return true;
    return false;
}

/* --- analyst tools: a plugin's sandbox, the console ------------------------ */

ct_sandbox *ct_plugins_sandbox(ct_plugins *m, const char *name)
{
    for (size_t i = 0; m->cur && i < m->cur->n; i++)
        if (strcmp(m->cur->items[i]->manifest->name, name) == 0)
            return m->cur->items[i]->sb;
    return NULL;
}

/* The console is a plugin record outside every set, so the `ct` functions
 * (which find their plugin through the sandbox's userdata) work in it. */
int ct_plugins_console_new(ct_plugins *m, const char *name,
                           const ct_sandbox_limits *lim, ct_sandbox **out)
{
    *out = NULL;
    ct_plugin *p = calloc(1, sizeof *p);
    if (!p)
        return CT_ENOMEM;
    p->mgr = m;
    p->manifest = calloc(1, sizeof *p->manifest);
    p->settings = json_object();
    int rc = CT_ENOMEM;
    if (!p->manifest || !p->settings ||
        !(p->manifest->name = strdup(name)) ||
        !(p->manifest->version = strdup("0.0.0")))
        goto fail;
    ct_manifest_settings_hash(p->settings, p->settings_hash);
    if ((rc = ct_sandbox_new(name, NULL, lim, &p->sb)))
        goto fail;
    ct_sandbox_set_clock(p->sb, clock_fn, m->cap);
    ct_sandbox_set_userdata(p->sb, p);
    if ((rc = ct_plugins_preload_sdk(p->sb)) || (rc = ct_hostapi_open(p)))
        goto fail;
    *out = p->sb;
    return 0;
fail:
    plugin_free(p);
    return rc;
}

void ct_plugins_console_free(ct_sandbox *sb)
{
    if (sb)
        plugin_free(ct_sandbox_userdata(sb));
}
