/*
 * The plugin manager's status and provenance (for /v1/plugins, the
 * audit and the CLI) and the analysts' console on a plugin's sandbox.
 */
#include "plugins_int.h"

#include "error.h"
#include "log.h"
#include "util.h"

#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

bool ct_plugins__has_hook(const ct_plugin *p, int h)
{
    return (p->hook_mask >> h) & 1u;
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
        parts += ct_plugins__has_hook(p, h) || p->hooks[h].quarantined;
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
        ct_plugins__each_guard(p, add_quarantined, out);
        ct_plugins__each_guard(p, max_consecutive, &consecutive);
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
    ct_sandbox_set_clock(p->sb, ct_plugins__clock, m->cap);
    ct_sandbox_set_userdata(p->sb, p);
    if ((rc = ct_plugins_preload_sdk(p->sb)) || (rc = ct_hostapi_open(p)))
        goto fail;
    *out = p->sb;
    return 0;
fail:
    ct_plugins__plugin_free(p);
    return rc;
}

void ct_plugins_console_free(ct_sandbox *sb)
{
    if (sb)
        ct_plugins__plugin_free(ct_sandbox_userdata(sb));
}
