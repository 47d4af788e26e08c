/*
 * The area config loader. Walks the YAML tree (yaml_tree.h) against the
 * schema written out below, collecting every error with its position, and
 * builds the plain-data ct_config only when there are none.
 */
#include "config_int.h"
#include "natid.h"

#include "error.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- area, server, storage ---------------------------------------- */

static void load_area(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"id", "name", "stale_after", NULL};
    if (!n) {
        ct_config_read_err(&l->rd, l->cfg->root,
                           "missing required section 'area'");
        return;
    }
    if (!ct_config_read_map(&l->rd, n, "'area'"))
        return;
    ct_config_read_keys(&l->rd, n, keys, "'area'");
    l->cfg->area_id = ct_config_read_id(&l->rd, n, "id", "'area'");
    l->cfg->area_name =
        ct_config_read_string(&l->rd, n, "name", false, "'area'");
    /* How long a provider may go without updating before the wall names
     * it: a day by default, from a minute to 30 days. */
    l->cfg->stale_after_ms = ct_config_read_duration(
        &l->rd, n, "stale_after", 24 * 3600000LL, 60000, 30 * 86400000LL);
}

static void parse_listen(loader *l, const ct_node *n)
{
    const char *s = n->value;
    const char *colon = strrchr(s, ':');
    const char *host = s, *host_end = colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') {
            ct_config_read_err(&l->rd, n,
                               "'listen' must be ADDRESS:PORT, got '%s'", s);
            return;
        }
        host = s + 1;
        host_end = close;
        colon = close + 1;
    }
    if (!colon || colon == s || !colon[1]) {
        ct_config_read_err(&l->rd, n, "'listen' must be ADDRESS:PORT, got '%s'",
                           s);
        return;
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (*end || errno || port < 0 || port > 65535) {
        ct_config_read_err(
            &l->rd, n, "'listen' port must be 0 to 65535, got '%s'", colon + 1);
        return;
    }
    free(l->cfg->listen_host);
    l->cfg->listen_host = strndup(host, (size_t)(host_end - host));
    l->cfg->listen_port = (uint16_t)port;
}

static void load_server(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"listen", NULL};
    l->cfg->listen_host = strdup("127.0.0.1");
    l->cfg->listen_port = 8470;
    if (!n || !ct_config_read_map(&l->rd, n, "'server'"))
        return;
    ct_config_read_keys(&l->rd, n, keys, "'server'");
    const ct_node *listen = ct_node_get(n, "listen");
    if (listen && ct_config_read_scalar(&l->rd, listen, "'listen'"))
        parse_listen(l, listen);
}

static void load_storage(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"path", "synchronous", NULL};
    l->cfg->sync = CT_SYNC_FULL;
    if (n && ct_config_read_map(&l->rd, n, "'storage'")) {
        ct_config_read_keys(&l->rd, n, keys, "'storage'");
        l->cfg->db_path =
            ct_config_read_string(&l->rd, n, "path", false, "'storage'");
        const ct_node *sync = ct_node_get(n, "synchronous");
        if (sync && ct_config_read_scalar(&l->rd, sync, "'synchronous'")) {
            if (strcmp(sync->value, "full") == 0)
                l->cfg->sync = CT_SYNC_FULL;
            else if (strcmp(sync->value, "normal") == 0)
                l->cfg->sync = CT_SYNC_NORMAL;
            else
                ct_config_read_err(
                    &l->rd, sync,
                    "'synchronous' must be full or normal, got '%s'",
                    sync->value);
        }
    }
    if (!l->cfg->db_path)
        l->cfg->db_path = strdup("caretide.db");
}

/* --- string lists ---------------------------------------------------- */

/* Reads a list of ids into *out; duplicates are errors. */
void ct_config__load_id_list(loader *l, const ct_node *n, const char *what,
                             char ***out, size_t *count)
{
    if (!ct_config_read_seq(&l->rd, n, what))
        return;
    *out = calloc(n->len ? n->len : 1, sizeof **out);
    if (!*out)
        return;
    for (size_t i = 0; i < n->len; i++) {
        const ct_node *it = n->items[i];
        if (!ct_config_read_scalar(&l->rd, it, "each item"))
            continue;
        if (!ct_config_read_valid_id(it->value)) {
            ct_config_read_err(&l->rd, it, "'%s' is not a valid name in %s",
                               it->value, what);
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < *count; j++)
            if (strcmp((*out)[j], it->value) == 0)
                dup = 1;
        if (dup) {
            ct_config_read_err(&l->rd, it, "'%s' is listed twice in %s",
                               it->value, what);
            continue;
        }
        (*out)[(*count)++] = strdup(it->value);
    }
}

static void load_pathogens(loader *l, const ct_node *n)
{
    ct_config *c = l->cfg;
    if (n) {
        ct_config__load_id_list(l, n, "'pathogens'", &c->pathogens,
                                &c->npathogens);
        return;
    }
    static const char *const defaults[] = {"covid", "flu", "norovirus"};
    c->pathogens = calloc(CT_ARRAY_LEN(defaults), sizeof *c->pathogens);
    if (!c->pathogens)
        return;
    for (size_t i = 0; i < CT_ARRAY_LEN(defaults); i++)
        c->pathogens[c->npathogens++] = strdup(defaults[i]);
}

bool ct_config__known_pathogen(const ct_config *c, const char *p)
{
    for (size_t i = 0; i < c->npathogens; i++)
        if (strcmp(c->pathogens[i], p) == 0)
            return true;
    return false;
}

/* Joins a relative path onto the config's directory. */
char *ct_config__resolve(const loader *l, const char *path)
{
    if (path[0] == '/' || !l->dir || !*l->dir || strcmp(l->dir, ".") == 0)
        return strdup(path);
    size_t n = strlen(l->dir) + strlen(path) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", l->dir, path);
    return out;
}

/* --- trust, plugins and limits -------------------------------------- */

/* One trusted key: inline, or `file: NAME.pub` alone. */
static void load_trust_key(loader *l, const ct_node *n)
{
    ct_trust *t = &l->cfg->trust;
    ct_trust_key key;
    const ct_node *file = n->kind == CT_NODE_MAP ? ct_node_get(n, "file")
                                                 : NULL;
    int rc;
    if (file) {
        if (n->len != 1) {
            ct_config_read_err(
                &l->rd, n,
                "a key given by 'file' takes no other keys (the file "
                "has them)");
            return;
        }
        if (!ct_config_read_scalar(&l->rd, file, "'file'"))
            return;
        char *path = ct_config__resolve(l, file->value);
        if (!path)
            return;
        rc = ct_trust_key_load(path, &key, l->rd.diags);
        free(path);
    } else {
        rc = ct_trust_key_parse(l->rd.file, n, &key, l->rd.diags);
    }
    if (rc) {
        l->rd.errors++;
        return;
    }
    const ct_trust_key *dup = ct_trust_find(t, key.id);
    if (dup)
        ct_config_read_err(&l->rd, n,
                           "key '%s' is trusted twice (first at line %u)",
                           key.id, dup->line);
    else if (ct_trust_add(t, &key) == 0)
        return;
    ct_trust_key_clear(&key);
}

static void load_trust(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"require_signed", "keys", NULL};
    if (!n || ct_node_is_null(n) || !ct_config_read_map(&l->rd, n, "'trust'"))
        return;
    ct_config_read_keys(&l->rd, n, keys, "'trust'");
    l->cfg->trust.require_signed =
        ct_config_read_bool(&l->rd, n, "require_signed", false);
    const ct_node *list = ct_node_get(n, "keys");
    if (!list || ct_node_is_null(list) ||
        !ct_config_read_seq(&l->rd, list, "'keys'"))
        return;
    for (size_t i = 0; i < list->len; i++)
        load_trust_key(l, list->items[i]);
}

static void load_plugins(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"name", "path", "settings",
                                       "require_signed", NULL};
    ct_config *c = l->cfg;
    if (!n)
        return;
    if (!ct_config_read_seq(&l->rd, n, "'plugins'"))
        return;
    c->plugins = calloc(n->len ? n->len : 1, sizeof *c->plugins);
    if (!c->plugins)
        return;
    for (size_t i = 0; i < n->len; i++) {
        const ct_node *p = n->items[i];
        if (!ct_config_read_map(&l->rd, p, "a plugin entry"))
            continue;
        ct_config_read_keys(&l->rd, p, keys, "a plugin entry");
        ct_config_plugin *pl = &c->plugins[c->nplugins++];
        pl->line = p->line;
        pl->col = p->col;
        pl->name = ct_config_read_id(&l->rd, p, "name", "a plugin entry");
        char *path =
            ct_config_read_string(&l->rd, p, "path", false, "a plugin entry");
        if (path) {
            pl->path = ct_config__resolve(l, path);
            free(path);
        }
        pl->require_signed = ct_config_read_bool(&l->rd, p, "require_signed",
                                                 c->trust.require_signed);
        const ct_node *settings = ct_node_get(p, "settings");
        if (settings && !ct_node_is_null(settings) &&
            ct_config_read_map(&l->rd, settings, "'settings'"))
            pl->settings = settings;
        for (size_t j = 0; pl->name && j + 1 < c->nplugins; j++)
            if (c->plugins[j].name &&
                strcmp(c->plugins[j].name, pl->name) == 0)
                ct_config_read_err(
                    &l->rd, ct_node_get(p, "name"),
                    "plugin '%s' is listed twice (first at line %u)", pl->name,
                    c->plugins[j].line);
    }
}

static void load_plugin_path(loader *l, const ct_node *n)
{
    ct_config *c = l->cfg;
    if (n) {
        char **raw = NULL;
        size_t count = 0;
        if (!ct_config_read_seq(&l->rd, n, "'plugin_path'"))
            return;
        raw = calloc(n->len ? n->len : 1, sizeof *raw);
        if (!raw)
            return;
        for (size_t i = 0; i < n->len; i++)
            if (ct_config_read_scalar(&l->rd, n->items[i],
                                      "each 'plugin_path' entry"))
                raw[count++] = ct_config__resolve(l, n->items[i]->value);
        c->plugin_path = raw;
        c->nplugin_path = count;
        return;
    }
    c->plugin_path = calloc(2, sizeof *c->plugin_path);
    if (!c->plugin_path)
        return;
    c->plugin_path[c->nplugin_path++] = ct_config__resolve(l, "plugins");
    c->plugin_path[c->nplugin_path++] = strdup(CT_PLUGIN_INSTALL_DIR);
}

/* tests: [PATH, ...], the area's own test files (docs/testing.md). */
static void load_tests(loader *l, const ct_node *n)
{
    ct_config *c = l->cfg;
    if (!n || !ct_config_read_seq(&l->rd, n, "'tests'"))
        return;
    c->tests = calloc(n->len ? n->len : 1, sizeof *c->tests);
    c->test_lines = calloc(n->len ? n->len : 1, sizeof *c->test_lines);
    if (!c->tests || !c->test_lines)
        return;
    for (size_t i = 0; i < n->len; i++)
        if (ct_config_read_scalar(&l->rd, n->items[i], "each 'tests' entry")) {
            c->test_lines[c->ntests] = n->items[i]->line;
            c->tests[c->ntests++] = ct_config__resolve(l, n->items[i]->value);
        }
}

static void load_limits(loader *l, const ct_node *n)
{
    static const char *const keys[] = {
        "plugin_memory", "plugin_deadline", "schedule_deadline",
        "quarantine_after", "quarantine_window", "plugin_kv", "max_body", "hold_ttl",
        "request_timeout", "plugin_decision_budget", "plugin_minute_budget",
        "header_timeout", "connections_per_address", "self_test_timeout",
        NULL};
    ct_config_limits *lim = &l->cfg->limits;
    const uint64_t MiB = 1024 * 1024;
    if (n && !ct_config_read_map(&l->rd, n, "'limits'"))
        n = NULL;
    if (n)
        ct_config_read_keys(&l->rd, n, keys, "'limits'");
    lim->plugin_memory = ct_config_read_size(&l->rd, n, "plugin_memory",
                                             64 * MiB, 1 * MiB, 4096 * MiB);
    lim->plugin_deadline_ms =
        ct_config_read_duration(&l->rd, n, "plugin_deadline", 50, 1, 60000);
    /* Scheduled jobs run between requests on the same loop: their own
     * budget, longer than a hook's, still short enough not to stall the
     * API; long jobs work in slices (docs/plugins.md). */
    /* The loop waits for a call at most its deadline plus the watchdog's
     * 200 ms (docs/sandbox.md): 500 ms keeps health within a second. */
    lim->schedule_deadline_ms =
        ct_config_read_duration(&l->rd, n, "schedule_deadline", 500, 1, 60000);
    lim->quarantine_after =
        (uint32_t)ct_config_read_int(&l->rd, n, "quarantine_after", 5, 1, 1000);
    /* A part that fails now and then, never twice in a row, is still
     * quarantined once quarantine_after of its last quarantine_window
     * calls failed: the default is one call in four. */
    lim->quarantine_window =
        (uint32_t)ct_config_read_int(&l->rd, n, "quarantine_window", 20, 1, 64);
    lim->plugin_decision_budget_ms = ct_config_read_duration(
        &l->rd, n, "plugin_decision_budget", 250, 1, 600000);
    lim->plugin_minute_budget_ms = ct_config_read_duration(
        &l->rd, n, "plugin_minute_budget", 5000, 1, 60000);
    lim->plugin_kv_bytes =
        ct_config_read_size(&l->rd, n, "plugin_kv", 1 * MiB, 1024, 1024 * MiB);
    lim->max_body =
        ct_config_read_size(&l->rd, n, "max_body", 64 * 1024, 1024, 64 * MiB);
    lim->hold_ttl_ms = ct_config_read_duration(
        &l->rd, n, "hold_ttl", 4 * 3600000LL, 1000, 30 * 86400000LL);
    lim->request_timeout_ms = ct_config_read_duration(
        &l->rd, n, "request_timeout", 10000, 100, 600000);
    lim->header_timeout_ms = ct_config_read_duration(
        &l->rd, n, "header_timeout", 10000, 100, 600000);
    lim->connections_per_address = (uint32_t)ct_config_read_int(
        &l->rd, n, "connections_per_address", 64, 1, 1024);
    /* A reload runs signed bundles' own tests in a child process, killed
     * after this long (docs/sandbox.md). */
    lim->self_test_timeout_ms = ct_config_read_duration(
        &l->rd, n, "self_test_timeout", 60000, 1000, 3600000);
}

/* Retries of notifications (docs/config.md "notifications"). */
static void load_notifications(loader *l, const ct_node *n)
{
    static const char *const keys[] = {"max_attempts", "backoff",
                                       "max_backoff", "timeout", NULL};
    ct_config_notifications *o = &l->cfg->notifications;
    if (n && !ct_config_read_map(&l->rd, n, "'notifications'"))
        n = NULL;
    if (n)
        ct_config_read_keys(&l->rd, n, keys, "'notifications'");
    o->max_attempts =
        (uint32_t)ct_config_read_int(&l->rd, n, "max_attempts", 10, 1, 1000);
    o->backoff_ms =
        ct_config_read_duration(&l->rd, n, "backoff", 10000, 100, 3600000);
    o->max_backoff_ms = ct_config_read_duration(&l->rd, n, "max_backoff",
                                                3600000, 100, 7 * 86400000LL);
    o->timeout_ms =
        ct_config_read_duration(&l->rd, n, "timeout", 10000, 100, 300000);
    if (n && o->max_backoff_ms < o->backoff_ms)
        ct_config_read_err(
            &l->rd,
            ct_node_get(n, "max_backoff") ? ct_node_get(n, "max_backoff") : n,
            "'max_backoff' must not be shorter than 'backoff'");
}

/* --- entry points ---------------------------------------------------- */

/* The section of root (its index) that holds line, or -1 before the
 * first: a section runs from its key to the line before the next key. */
static long section_of(const ct_node *root, uint32_t line)
{
    long at = -1;
    for (size_t i = 0; root->kind == CT_NODE_MAP && i < root->len; i++)
        if (ct_node_key(root, i)->line <= line)
            at = (long)i;
    return at;
}

/*
 * After YAML syntax errors (diags [syntax, check)) the rest of the file
 * was checked with the lines in error left out. What is found in a
 * section that held such a line may only be the hole they left (a key
 * missing because its line was left out), and so is what has no line:
 * only the errors of untouched sections are kept.
 */
static void keep_untouched(ct_diags *d, size_t syntax, size_t check,
                           const ct_node *root)
{
    size_t out = check;
    for (size_t i = check; i < d->len; i++) {
        ct_diag *g = &d->items[i];
        long sec = g->line && g->line > 1 ? section_of(root, g->line) : -1;
        bool touched = sec < 0;
        for (size_t j = syntax; !touched && j < check; j++)
            touched = section_of(root, d->items[j].line) == sec;
        if (touched) {
            free(g->file);
            free(g->message);
        } else {
            d->items[out++] = *g;
        }
    }
    d->len = out;
}

static int load_text(const char *file, const char *dir, const char *text,
                     size_t len, bool keep_partial, ct_config **out,
                     ct_diags *diags);

int ct_config_load_text(const char *file, const char *dir, const char *text,
                        size_t len, ct_config **out, ct_diags *diags)
{
    return load_text(file, dir, text, len, false, out, diags);
}

static int load_text(const char *file, const char *dir, const char *text,
                     size_t len, bool keep_partial, ct_config **out,
                     ct_diags *diags)
{
    static const char *const keys[] = {
        "area",       "server",   "storage", "pathogens", "organisations",
        "facilities", "plugins",  "plugin_path", "trust", "limits",
        "tests",      "notifications", NULL};
    *out = NULL;
    if (sodium_init() < 0)
        return CT_ENOMEM;
    ct_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return CT_ENOMEM;
    cfg->file = strdup(file);
    cfg->dir = strdup(dir ? dir : ".");
    loader l = {.rd = {.file = file, .diags = diags}, .dir = cfg->dir,
                .cfg = cfg};

    /* After a syntax error the rest of the file is still checked (with
     * the lines in error left out), so one run shows every error. */
    ct_node *rest = NULL;
    size_t first_syntax = diags->len;
    int rc = ct_yaml_parse_lenient(file, text, len, &cfg->root, &rest, diags);
    size_t first_check = diags->len;
    if (rc && !rest) {
        ct_config_free(cfg);
        return rc == CT_ENOMEM ? rc : CT_ECONFIG;
    }
    if (rc) {
        cfg->root = rest;
        l.rd.errors++;
    }
    const ct_node *root = cfg->root;
    if (root->kind != CT_NODE_MAP) {
        ct_config_read_err(&l.rd, root,
                           "the config must be a mapping of sections (area, "
                           "organisations, facilities, ...), not %s",
                           ct_node_describe(root));
    } else {
        ct_config_read_keys(&l.rd, root, keys, "the config");
        load_area(&l, ct_node_get(root, "area"));
        load_server(&l, ct_node_get(root, "server"));
        load_storage(&l, ct_node_get(root, "storage"));
        load_pathogens(&l, ct_node_get(root, "pathogens"));
        ct_config__load_orgs(&l, ct_node_get(root, "organisations"));
        ct_config__load_facilities(&l, ct_node_get(root, "facilities"));
        load_plugin_path(&l, ct_node_get(root, "plugin_path"));
        load_tests(&l, ct_node_get(root, "tests"));
        load_trust(&l, ct_node_get(root, "trust"));
        load_plugins(&l, ct_node_get(root, "plugins"));
        load_limits(&l, ct_node_get(root, "limits"));
        load_notifications(&l, ct_node_get(root, "notifications"));
    }
    if (rest)
        keep_untouched(diags, first_syntax, first_check, cfg->root);
    if (l.rd.errors) {
        if (keep_partial)
            *out = cfg;
        else
            ct_config_free(cfg);
        return CT_ECONFIG;
    }
    if (cfg->db_path) {
        char *p = ct_config__resolve(&l, cfg->db_path);
        free(cfg->db_path);
        cfg->db_path = p;
    }
    *out = cfg;
    return 0;
}

static int load_file(const char *path, bool keep_partial, ct_config **out,
                     ct_diags *diags);

int ct_config_load_file(const char *path, ct_config **out, ct_diags *diags)
{
    return load_file(path, false, out, diags);
}

int ct_config_load_file_partial(const char *path, ct_config **out,
                                ct_diags *diags)
{
    return load_file(path, true, out, diags);
}

int ct_config_load_demo_partial(ct_config **out, ct_diags *diags)
{
    *out = NULL;
    const ct_embedded *e = ct_embedded_find(CT_CONFIG_DEMO);
    if (!e)
        return CT_ENOTFOUND;
    return load_text("<demo>/" CT_CONFIG_DEMO, ".", e->data, e->len, true,
                     out, diags);
}

static int load_file(const char *path, bool keep_partial, ct_config **out,
                     ct_diags *diags)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = ct_read_file(path, &text, &len);
    if (rc) {
        ct_diags_add(diags, path, 0, 0, "cannot read config: %s",
                     rc == CT_ENOTFOUND ? "no such file" : ct_strerror(rc));
        return rc;
    }
    char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = '\0';
    rc = load_text(path, slash ? dir : ".", text, len, keep_partial, out,
                   diags);
    free(dir);
    free(text);
    return rc;
}

int ct_config_load_demo(ct_config **out, ct_diags *diags)
{
    const ct_embedded *e = ct_embedded_find(CT_CONFIG_DEMO);
    if (!e)
        return CT_ENOTFOUND;
    return ct_config_load_text("<demo>/" CT_CONFIG_DEMO, ".", e->data,
                               e->len, out, diags);
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void ct_config_free(ct_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->norgs; i++) {
        free(cfg->orgs[i].id);
        free(cfg->orgs[i].name);
        free(cfg->orgs[i].ods_code);
        free(cfg->orgs[i].tokens);
        ct_config__notify_free(cfg->orgs[i].notify);
    }
    free(cfg->orgs);
    for (size_t i = 0; i < cfg->nfacilities; i++) {
        ct_config_facility *f = &cfg->facilities[i];
        for (size_t j = 0; j < f->nzones; j++) {
            ct_config_zone *z = &f->zones[j];
            for (size_t k = 0; k < z->nbeds; k++) {
                free(z->beds[k].id);
                free_strings(z->beds[k].tags, z->beds[k].ntags);
            }
            free(z->beds);
            for (size_t k = 0; k < z->ncohorts; k++)
                free(z->cohorts[k].pathogen);
            free(z->cohorts);
            free(z->id);
            free(z->name);
        }
        free(f->zones);
        free(f->id);
        free(f->name);
        free(f->org);
        free(f->ods_site);
        free(f->cqc_location);
    }
    free(cfg->facilities);
    for (size_t i = 0; i < cfg->nplugins; i++) {
        free(cfg->plugins[i].name);
        free(cfg->plugins[i].path);
    }
    free(cfg->plugins);
    ct_trust_clear(&cfg->trust);
    free_strings(cfg->pathogens, cfg->npathogens);
    free_strings(cfg->plugin_path, cfg->nplugin_path);
    free_strings(cfg->tests, cfg->ntests);
    free(cfg->test_lines);
    free(cfg->file);
    free(cfg->dir);
    free(cfg->area_id);
    free(cfg->area_name);
    free(cfg->listen_host);
    free(cfg->db_path);
    ct_node_free(cfg->root);
    free(cfg);
}

const ct_config_org *ct_config_find_org(const ct_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->norgs; i++)
        if (cfg->orgs[i].id && strcmp(cfg->orgs[i].id, id) == 0)
            return &cfg->orgs[i];
    return NULL;
}

const ct_config_org *ct_config_find_org_by_ods(const ct_config *cfg,
                                               const char *ods)
{
    for (size_t i = 0; ods && i < cfg->norgs; i++)
        if (cfg->orgs[i].ods_code && strcmp(cfg->orgs[i].ods_code, ods) == 0)
            return &cfg->orgs[i];
    return NULL;
}

const ct_config_facility *ct_config_find_facility(const ct_config *cfg,
                                                  const char *id)
{
    for (size_t i = 0; i < cfg->nfacilities; i++)
        if (cfg->facilities[i].id && strcmp(cfg->facilities[i].id, id) == 0)
            return &cfg->facilities[i];
    return NULL;
}
