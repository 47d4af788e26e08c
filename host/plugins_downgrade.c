/*
 * Downgrades at reload. A reload that would replace a running plugin by a
 * lower version is a rollback, perhaps to a release withdrawn for a
 * reason: refused, as `caretide plugin install` refuses it, unless the
 * install was told --allow-downgrade. That install leaves an allowance
 * beside the plugin's directory (PARENT/.NAME.allow-downgrade, "FROM TO"),
 * which lets the daemon load exactly version TO once; the daemon then
 * records the downgrade as a `plugin.downgraded` event in the audit chain
 * and removes the allowance.
 */
#include "plugins_int.h"

#include "events.h"
#include "error.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int ct_plugins_allowance_path(const char *plugin_dir, char *out, size_t n)
{
    size_t len = strlen(plugin_dir);
    while (len > 1 && plugin_dir[len - 1] == '/')
        len--;
    size_t base = len;
    while (base > 0 && plugin_dir[base - 1] != '/')
        base--;
    int w = snprintf(out, n, "%.*s.%.*s.allow-downgrade", (int)base,
                     plugin_dir, (int)(len - base), plugin_dir + base);
    return w < 0 || (size_t)w >= n ? CT_EINVAL : 0;
}

/* The allowance for p's directory, when it allows p's version: its FROM
 * in from. */
static bool allowance(const ct_plugin *p, char *path, size_t n, char *from,
                      size_t nfrom)
{
    if (ct_plugins_allowance_path(p->dir, path, n))
        return false;
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char a[65] = "", b[65] = "";
    bool ok = fscanf(f, "%64s %64s", a, b) == 2 &&
              strcmp(b, p->manifest->version) == 0;
    fclose(f);
    if (ok)
        snprintf(from, nfrom, "%s", a);
    return ok;
}

int ct_plugins__check_downgrade(const ct_plugin *old, const ct_plugin *next,
                                const char *file,
                                const ct_config_plugin *entry,
                                ct_diags *diags)
{
    const char *was = old->manifest->version, *now = next->manifest->version;
    if (!ct_semver_valid(was) || !ct_semver_valid(now) ||
        ct_semver_cmp(now, was) >= 0)
        return 0;
    char path[4096], from[65];
    if (allowance(next, path, sizeof path, from, sizeof from)) {
        ct_log_warn("plugins", "plugin '%s': downgrading from %s to %s, as "
                               "allowed by `caretide plugin install "
                               "--allow-downgrade`",
                    next->manifest->name, was, now);
        return 0;
    }
    ct_diags_add(diags, file, entry->line, entry->col,
                 "plugin '%s' %s is older than the running %s: a reload "
                 "refuses a downgrade; install it with `caretide plugin "
                 "install --allow-downgrade` to allow it (audited)",
                 next->manifest->name, now, was);
    return CT_EDENIED;
}

struct record {
    ct_capacity *cap;
    const ct_plugin *p;
    const char *from;
};

static int record(ct_store *s, void *arg)
{
    (void)s;
    const struct record *r = arg;
    return ct_events_record(
        ct_capacity_events(r->cap), "host", "plugin.downgraded",
        json_pack("{s:s, s:s, s:s, s:s}", "plugin", r->p->manifest->name,
                  "from", r->from, "to", r->p->manifest->version,
                  "allowed_by", "caretide plugin install --allow-downgrade"),
        0, NULL, NULL);
}

void ct_plugins__audit_downgrade(ct_plugin *p, ct_capacity *cap)
{
    char path[4096], from[65];
    if (!p->dir || !allowance(p, path, sizeof path, from, sizeof from))
        return;
    struct record r = {cap, p, from};
    int rc = ct_store_run(ct_capacity_store(cap), record, &r);
    if (rc) {
        /* The allowance stays: the next start or reload tries again. */
        ct_log_error("plugins", "plugin '%s': the downgrade from %s to %s "
                                "is not audited yet: %s",
                     p->manifest->name, from, p->manifest->version,
                     ct_strerror(rc));
        return;
    }
    if (unlink(path) && errno != ENOENT)
        ct_log_warn("plugins", "cannot remove %s: %s", path, strerror(errno));
    ct_log_info("plugins", "plugin '%s': downgrade from %s to %s audited",
                p->manifest->name, from, p->manifest->version);
}
