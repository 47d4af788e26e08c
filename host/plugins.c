/*
 * The plugin manager: sets of loaded plugins and their life cycle (load,
 * self-test, prepare/apply/reload). Hook calls are in plugins_hooks.c,
 * events and schedules in plugins_events.c, status and the analysts'
 * console in plugins_status.c.
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


ct_capacity *ct_plugins__capacity(ct_plugins *m) { return m->cap; }
const ct_config *ct_plugins__config(ct_plugins *m) { return m->cfg; }

int64_t ct_plugins__clock(void *ud)
{
    return ct_clock_now(ct_capacity_clock(ud));
}

/* --- life cycle of one plugin ------------------------------------------ */

static const char *bundle_source(void *ud, const char *relpath, size_t *len)
{
    return (const char *)ct_bundle_file(ud, relpath, len);
}

void ct_plugins__plugin_free(ct_plugin *p)
{
    if (!p)
        return;
    if (p->mgr)
        ct_plugins__forget_due(p->mgr, p);
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
    ct_sandbox_set_clock(p->sb, ct_plugins__clock, m->cap);
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
    /* The hooks it has, noted now: the health page asks from the loop
     * while the plugin's state may be in a call on the host thread. */
    for (int h = 0; h < CT_HOOK_COUNT; h++)
        if (ct_sandbox_get_hook(p->sb, ct_plugins__hook_names[h]) == 0) {
            lua_State *L = ct_sandbox_state(p->sb);
            lua_settop(L, lua_gettop(L) - 1);
            p->hook_mask |= 1u << h;
        }
    return p;
fail:
    ct_plugins__plugin_free(p);
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
        ct_plugins__plugin_free(s->items[i]);
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
            ct_plugins__plugin_free(p);
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
                                 ct_plugins__on_bus_event, m);
    if (rc) {
        free(m);
        return rc;
    }
    m->loading = cfg;
    m->cur = set_load(m, cfg, diags);
    m->loading = NULL;
    if (!m->cur) {
        ct_events_unsubscribe(ct_capacity_events(cap),
                              ct_plugins__on_bus_event, m);
        ct_plugins__drop_queue(m);
        free(m->queue);
        free(m);
        return CT_ECONFIG;
    }
    set_arm(m->cap, m->cur);
    *out = m;
    return 0;
}

void ct_plugins__drop_queue(ct_plugins *m)
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
    ct_events_unsubscribe(ct_capacity_events(m->cap),
                          ct_plugins__on_bus_event, m);
    ct_plugins_abort(m);
    set_free(m->loaded);
    set_free(m->cur);
    ct_plugins__drop_queue(m);
    free(m->queue);
    free(m->due);
    for (size_t i = 0; i < m->nanswers; i++)
        free(m->answers[i].from);
    free(m->answers);
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
