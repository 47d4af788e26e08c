/*
 * caretide plugin keygen|pack|sign|verify|install|list|diff|selftest: signed
 * plugin bundles from the publisher's side (keys, packing, signing) and the
 * area's (verifying, installing, seeing what runs and how its settings
 * differ from the published defaults). docs/bundles.md has the formats.
 * The bundle subcommands (keygen .. install) are in cmd_plugin_bundle.c.
 */
#include "cmd_plugin_int.h"
#include "cli.h"

#include "bundle.h"
#include "clock.h"
#include "config.h"
#include "diag.h"
#include "error.h"
#include "log.h"
#include "manifest.h"
#include "plugin_check.h"
#include "plugins.h"
#include "signkey.h"
#include "trust.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} subcommand;

static const subcommand *find_sub(const char *name);

static int sub_help(const char *name)
{
    const subcommand *s = find_sub(name);
    if (s)
        fputs(s->usage, stdout);
    return CT_EXIT_OK;
}

/* "caretide plugin SUB: message" and a pointer to the help. */
int ct_cmd_plugin__usage_error(const char *sub, const char *msg,
                               const char *arg)
{
    fprintf(stderr, "caretide plugin %s: %s%s%s%s\n", sub, msg, arg ? " '" : "",
            arg ? arg : "", arg ? "'" : "");
    fprintf(stderr, "Try 'caretide plugin %s --help'.\n", sub);
    return CT_EXIT_USAGE;
}

/* Handles the options every subcommand shares; returns -1 when c was one
 * of them and parsing goes on, else an exit status. */
int ct_cmd_plugin__common_opt(const char *sub, int c, char **argv,
                              const char **fmt, const char **lvl)
{
    switch (c) {
    case 'F': *fmt = optarg; return -1;
    case 'L': *lvl = optarg; return -1;
    case 'h': return sub_help(sub);
    case ':':
        return ct_cmd_plugin__usage_error(
            sub, "option needs a value:", argv[optind - 1]);
    default:
        return ct_cmd_plugin__usage_error(sub, "unknown option",
                                          argv[optind - 1]);
    }
}

void ct_cmd_plugin__print_refusal(const char *what, const ct_bundle_info *info)
{
    printf("%s: refused (%s): %s\n", what,
           ct_bundle_problem_name(info->problem), info->reason);
}

static void format_expiry(int64_t ms, char *buf, size_t size)
{
    char iso[32];
    if (ms == INT64_MAX) {
        snprintf(buf, size, "never expires");
    } else if (ms % 86400000 == 0) {
        /* A date in the key file: valid through the day before. */
        ct_clock_format(ms - 86400000, iso, sizeof iso);
        snprintf(buf, size, "valid through %.10s", iso);
    } else {
        ct_clock_format(ms, iso, sizeof iso);
        snprintf(buf, size, "valid until %s", iso);
    }
}

void ct_cmd_plugin__print_provenance(const ct_bundle_info *info)
{
    printf("  bundle sha256:%s\n", info->bundle_hash);
    if (info->is_signed) {
        char exp[64];
        format_expiry(info->key_expires_ms, exp, sizeof exp);
        printf("  signed by key %s (%s), %s\n", info->key_id, info->signer,
               exp);
    } else {
        printf("  unsigned\n");
    }
}

bool ct_cmd_plugin__is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --- list and diff ---------------------------------------------------- */

typedef struct found {
    char *name;
    char *dir;
    const ct_config_plugin *entry; /* NULL when not configured */
    bool shadowed; /* a plugin of that name earlier in plugin_path wins */
} found;

typedef struct found_list {
    found *items;
    size_t len, cap;
} found_list;

static void found_add(found_list *l, const char *name, const char *dir,
                      const ct_config_plugin *entry)
{
    bool shadowed = false;
    for (size_t i = 0; i < l->len; i++)
        if (strcmp(l->items[i].name, name) == 0)
            shadowed = true;
    if (ct_grow(&l->items, &l->cap, l->len, sizeof *l->items, 16))
        return;
    char *n = strdup(name), *d = strdup(dir);
    if (!n || !d) {
        free(n);
        free(d);
        return;
    }
    l->items[l->len++] = (found){n, d, entry, shadowed};
}

static void found_free(found_list *l)
{
    for (size_t i = 0; i < l->len; i++) {
        free(l->items[i].name);
        free(l->items[i].dir);
    }
    free(l->items);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every plugin the config can see: explicit paths, then each plugin_path
 * directory's plugins in name order. */
static void find_plugins(const ct_config *cfg, found_list *l)
{
    for (size_t i = 0; i < cfg->nplugins; i++)
        if (cfg->plugins[i].path && cfg->plugins[i].name)
            found_add(l, cfg->plugins[i].name, cfg->plugins[i].path,
                      &cfg->plugins[i]);
    for (size_t i = 0; i < cfg->nplugin_path; i++) {
        DIR *d = opendir(cfg->plugin_path[i]);
        if (!d)
            continue;
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            char yaml[PATH_MAX];
            struct stat st;
            if (e->d_name[0] == '.')
                continue;
            snprintf(yaml, sizeof yaml, "%s/%s/plugin.yaml",
                     cfg->plugin_path[i], e->d_name);
            if (stat(yaml, &st) || !S_ISREG(st.st_mode))
                continue;
            if (ct_grow(&names, &cap, n, sizeof *names, 16))
                break;
            if (!(names[n] = strdup(e->d_name)))
                break;
            n++;
        }
        closedir(d);
        if (n > 1)
            qsort(names, n, sizeof *names, name_cmp);
        for (size_t j = 0; j < n; j++) {
            char dir[PATH_MAX];
            snprintf(dir, sizeof dir, "%s/%s", cfg->plugin_path[i],
                     names[j]);
            const ct_config_plugin *entry =
                ct_cmd_plugin__find_entry(cfg, names[j]);
            if (entry && entry->path)
                entry = NULL; /* configured elsewhere */
            found_add(l, names[j], dir, entry);
            free(names[j]);
        }
        free(names);
    }
}

/* Effective settings and deviations of a configured plugin; NULL (with
 * *invalid) when its overrides do not check. */
static json_t *deviations(const ct_config *cfg, const ct_config_plugin *p,
                          const ct_manifest *m, json_t **settings_out,
                          bool *invalid)
{
    ct_diags d = {0};
    json_t *settings = NULL;
    *invalid = false;
    if (ct_manifest_settings(m, cfg->file, p->settings, &settings, &d)) {
        *invalid = true;
        ct_diags_free(&d);
        return NULL;
    }
    ct_diags_free(&d);
    json_t *dev = ct_manifest_deviations(m, settings);
    if (settings_out)
        *settings_out = settings;
    else
        json_decref(settings);
    return dev;
}

/*
 * The options of a subcommand that takes only --config and the common
 * ones: loads the config into *cfg (the caller frees it) and returns -1,
 * or returns the exit status (help, usage, a config that does not load).
 */
static int config_only(const char *cmd, int argc, char **argv,
                       ct_config **cfg, bool *json)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        CT_PLUGIN_COMMON_LONG_OPTS,
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *fmt = NULL, *lvl = NULL;
    int c;
    *cfg = NULL;
    *json = false;
    while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'j')
            *json = true;
        else {
            int r = ct_cmd_plugin__common_opt(cmd, c, argv, &fmt, &lvl);
            if (r >= 0)
                return r;
        }
    }
    if (optind < argc)
        return ct_cmd_plugin__usage_error(cmd, "unexpected argument",
                                          argv[optind]);
    if (ct_cli_logging("plugin", fmt, lvl))
        return CT_EXIT_USAGE;
    if (ct_cli_load_config(config, cfg, stderr))
        return CT_EXIT_FAIL;
    return -1;
}

/* Prints rows (objects with the keys of cols) as a table whose columns
 * are as wide as their widest value, however long a publisher's name. */
static void print_table(json_t *rows, const char *const *cols,
                        const char *const *heads, size_t ncols)
{
    int width[8] = {0};
    for (size_t c = 0; c < ncols; c++) {
        width[c] = (int)strlen(heads[c]);
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r) {
            const char *v = json_string_value(json_object_get(r, cols[c]));
            if (v && (int)strlen(v) > width[c])
                width[c] = (int)strlen(v);
        }
    }
    for (size_t c = 0; c < ncols; c++)
        printf("%-*s%s", c + 1 < ncols ? width[c] : 0, heads[c],
               c + 1 < ncols ? "  " : "\n");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        for (size_t c = 0; c < ncols; c++) {
            const char *v = json_string_value(json_object_get(r, cols[c]));
            printf("%-*s%s", c + 1 < ncols ? width[c] : 0, v ? v : "?",
                   c + 1 < ncols ? "  " : "\n");
        }
    }
}

static int run_list(int argc, char **argv)
{
    static const char *const cols[] = {"name",   "version",  "publisher",
                                       "key",    "status",   "settings",
                                       "dir"};
    static const char *const heads[] = {"NAME",   "VERSION",  "PUBLISHER",
                                        "KEY",    "STATUS",   "SETTINGS",
                                        "DIR"};
    ct_config *cfg = NULL;
    bool json;
    int done = config_only("list", argc, argv, &cfg, &json);
    if (done >= 0)
        return done;
    found_list l = {0};
    find_plugins(cfg, &l);
    int64_t now = ct_bundle_wall_ms();
    json_t *rows = json_array();
    for (size_t i = 0; i < l.len; i++) {
        const found *f = &l.items[i];
        bool required = f->entry ? f->entry->require_signed
                                 : cfg->trust.require_signed;
        ct_bundle_info info;
        int rc = ct_bundle_verify_dir(f->dir, &cfg->trust, required, now,
                                      &info);
        ct_diags d = {0};
        ct_manifest *m = NULL;
        ct_manifest_load(f->dir, &m, &d);
        ct_diags_free(&d);
        char status[64], settings[32];
        if (f->shadowed)
            snprintf(status, sizeof status, "shadowed");
        else if (rc)
            snprintf(status, sizeof status, "refused: %s",
                     ct_bundle_problem_name(info.problem));
        else
            snprintf(status, sizeof status, "ok");
        if (!f->entry || f->shadowed)
            snprintf(settings, sizeof settings, "not configured");
        else if (!m)
            snprintf(settings, sizeof settings, "?");
        else {
            bool invalid;
            json_t *dev = deviations(cfg, f->entry, m, NULL, &invalid);
            if (invalid)
                snprintf(settings, sizeof settings, "invalid");
            else if (json_array_size(dev) == 0)
                snprintf(settings, sizeof settings, "defaults");
            else
                snprintf(settings, sizeof settings, "%zu differ",
                         json_array_size(dev));
            json_decref(dev);
        }
        /* key: null when unsigned, as in diff --json. */
        json_t *row = json_pack(
            "{s:s, s:s, s:s, s:s?, s:s, s:s, s:s}", "name", f->name,
            "version", m ? m->version : "?", "publisher",
            m ? m->publisher : "?", "key",
            info.key_id[0] ? info.key_id : NULL, "status", status,
            "settings", settings, "dir", f->dir);
        if (row && rc && !f->shadowed) {
            json_object_set_new(row, "problem", json_string(
                ct_bundle_problem_name(info.problem)));
            json_object_set_new(row, "reason", json_string(info.reason));
        }
        json_array_append_new(rows, row);
        ct_manifest_free(m);
    }
    if (json) {
        json_t *doc = json_pack("{s:o}", "plugins", rows);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(doc);
    } else {
        size_t k;
        json_t *r0;
        json_array_foreach(rows, k, r0) {
            if (!json_is_string(json_object_get(r0, "key")))
                json_object_set_new(r0, "key", json_string("unsigned"));
        }
        print_table(rows, cols, heads, CT_ARRAY_LEN(cols));
        bool first = true;
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r) {
            const char *why = json_string_value(json_object_get(r, "reason"));
            if (!why)
                continue;
            printf("%s%s: refused (%s): %s\n", first ? "\n" : "",
                   json_string_value(json_object_get(r, "name")),
                   json_string_value(json_object_get(r, "problem")), why);
            first = false;
        }
        if (l.len == 0)
            printf("(no plugins found in plugin_path)\n");
        json_decref(rows);
    }
    found_free(&l);
    ct_config_free(cfg);
    return CT_EXIT_OK;
}

/* Durations in ms back to the config's notation ("2d", "1h30m"). */
static void format_duration(int64_t ms, char *buf, size_t size)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000},
                 {"s", 1000},     {"ms", 1}};
    size_t at = 0;
    buf[0] = '\0';
    if (ms == 0) {
        snprintf(buf, size, "0s");
        return;
    }
    for (size_t i = 0; i < CT_ARRAY_LEN(units) && at < size; i++) {
        int64_t n = ms / units[i].ms;
        if (n) {
            at += (size_t)snprintf(buf + at, size - at, "%lld%s",
                                   (long long)n, units[i].unit);
            ms -= n * units[i].ms;
        }
    }
}

static char *show_value(const ct_setting *s, const json_t *v)
{
    if (s && s->type == CT_SETTING_DURATION && json_is_integer(v)) {
        char buf[64];
        format_duration(json_integer_value(v), buf, sizeof buf);
        return strdup(buf);
    }
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int run_diff(int argc, char **argv)
{
    ct_config *cfg = NULL;
    bool json;
    int done = config_only("diff", argc, argv, &cfg, &json);
    if (done >= 0)
        return done;
    int status = CT_EXIT_OK;
    size_t total = 0;
    json_t *plugins = json_array();
    for (size_t i = 0; i < cfg->nplugins; i++) {
        const ct_config_plugin *p = &cfg->plugins[i];
        ct_diags d = {0};
        char *dir = ct_plugin_check_resolve(cfg, p, &d);
        ct_manifest *m = NULL;
        if (!dir || ct_manifest_load(dir, &m, &d)) {
            if (json) {
                char *text = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&text, &len);
                if (f) {
                    ct_diags_print(&d, f);
                    fclose(f);
                }
                json_array_append_new(
                    plugins, json_pack("{s:s, s:s, s:s?}", "name", p->name,
                                       "status", "not_found", "error", text));
                free(text);
            } else {
                ct_diags_print(&d, stdout);
            }
            ct_diags_free(&d);
            free(dir);
            status = CT_EXIT_FAIL;
            continue;
        }
        ct_diags_free(&d);
        ct_bundle_info info;
        ct_bundle_verify_dir(dir, &cfg->trust, false, ct_bundle_wall_ms(),
                             &info);
        bool invalid;
        json_t *dev = deviations(cfg, p, m, NULL, &invalid);
        json_t *entry = json_pack(
            "{s:s, s:s, s:s, s:o, s:s}", "name", m->name, "version",
            m->version, "publisher", m->publisher, "key",
            info.is_signed ? json_string(info.key_id) : json_null(), "status",
            invalid ? "invalid"
                    : json_array_size(dev) ? "differs" : "defaults");
        json_t *settings = json_array();
        if (!json)
            printf("%s %s (%s, %s)", m->name, m->version, m->publisher,
                   info.is_signed ? info.key_id : "unsigned");
        if (invalid) {
            if (!json)
                printf(": settings do not check; run caretide check\n");
            status = CT_EXIT_FAIL;
        } else if (json_array_size(dev) == 0) {
            if (!json)
                printf(": published defaults\n");
        } else {
            if (!json)
                printf("\n");
            size_t j;
            json_t *e;
            json_array_foreach(dev, j, e) {
                const char *name =
                    json_string_value(json_object_get(e, "name"));
                const ct_setting *s = ct_manifest_setting(m, name);
                const ct_node *at = ct_node_get(p->settings, name);
                char where[PATH_MAX + 32] = "";
                if (at)
                    snprintf(where, sizeof where, "%s:%u:%u", cfg->file,
                             at->line, at->col);
                json_array_append_new(
                    settings,
                    json_pack("{s:s, s:O, s:O, s:s?}", "name", name,
                              "default", json_object_get(e, "default"),
                              "value", json_object_get(e, "value"), "at",
                              at ? where : NULL));
                total++;
                if (json)
                    continue;
                char *from = show_value(s, json_object_get(e, "default"));
                char *to = show_value(s, json_object_get(e, "value"));
                printf("  %s: %s -> %s", name, from ? from : "?",
                       to ? to : "?");
                if (at)
                    printf("   (%s)", where);
                printf("\n");
                free(from);
                free(to);
            }
        }
        json_object_set_new(entry, "settings", settings);
        json_array_append_new(plugins, entry);
        json_decref(dev);
        ct_manifest_free(m);
        free(dir);
    }
    if (json) {
        json_t *doc = json_pack("{s:o, s:I}", "plugins", plugins, "differ",
                                (json_int_t)total);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(doc);
    } else {
        json_decref(plugins);
        printf("%zu plugins, %zu settings differ from the published "
               "defaults\n",
               cfg->nplugins, total);
    }
    ct_config_free(cfg);
    return status;
}

/*
 * selftest: every configured signed bundle's own tests, as the daemon runs
 * them before activating a bundle. A reloading daemon runs this in a child
 * process (docs/sandbox.md), so that a test that never ends costs a
 * process it can kill, not its event loop; each row names the bundle hash
 * that was tested, so the daemon activates only those exact bytes.
 */
static int run_selftest(int argc, char **argv)
{
    ct_config *cfg = NULL;
    bool json;
    int done = config_only("selftest", argc, argv, &cfg, &json);
    if (done >= 0)
        return done;
    int status = CT_EXIT_OK;
    int64_t now = ct_bundle_wall_ms();
    json_t *rows = json_array();
    for (size_t i = 0; i < cfg->nplugins; i++) {
        const ct_config_plugin *p = &cfg->plugins[i];
        ct_diags d = {0};
        char *dir = NULL;
        ct_manifest *m = NULL;
        ct_bundle *b = NULL;
        ct_bundle_info info = {0};
        json_t *row = NULL;
        if (ct_plugin_check_entry(cfg, p, &dir, &m, NULL, &d) ||
            ct_plugin_check_trust(cfg, p, dir, now, &info, &b, &d)) {
            row = json_pack("{s:s, s:s, s:s}", "name", p->name, "result",
                            "error", "message",
                            d.len ? d.items[0].message : "cannot load");
        } else if (!info.bundle_hash[0]) {
            /* A plain directory: the area's own, tested with `caretide
             * test`, never gated. */
            row = json_pack("{s:s, s:s, s:s}", "name", p->name, "version",
                            m->version, "result", "unsigned");
        } else {
            ct_diags td = {0};
            int rc = ct_plugins_self_test(dir, p->name,
                                          m->version, &cfg->trust, b, &td);
            row = json_pack("{s:s, s:s, s:s, s:s}", "name", p->name,
                            "version", m->version, "bundle_hash",
                            info.bundle_hash, "result", rc ? "fail" : "pass");
            if (row && rc)
                json_object_set_new(
                    row, "message",
                    json_string(td.len ? td.items[0].message
                                       : "its own tests failed"));
            ct_diags_free(&td);
        }
        const char *result = json_string_value(json_object_get(row, "result"));
        if (result && (strcmp(result, "fail") == 0 ||
                       strcmp(result, "error") == 0))
            status = CT_EXIT_FAIL;
        if (!json && row) {
            const char *msg =
                json_string_value(json_object_get(row, "message"));
            printf("%s: %s%s%s\n", p->name, result, msg ? ": " : "",
                   msg ? msg : "");
        }
        json_array_append_new(rows, row);
        ct_bundle_free(b);
        ct_manifest_free(m);
        free(dir);
        ct_diags_free(&d);
    }
    if (json) {
        json_t *doc = json_pack("{s:o}", "plugins", rows);
        json_dumpf(doc, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(doc);
    } else {
        json_decref(rows);
    }
    ct_config_free(cfg);
    return status;
}

/* --- dispatch --------------------------------------------------------- */

#define COMMON_HELP CT_CLI_COMMON_HELP

static const subcommand subs[] = {
    {"keygen", ct_cmd_plugin__keygen,
     "Usage: caretide plugin keygen NAME [--expires DATE] [--force]\n"
     "\n"
     "Makes an Ed25519 signing key pair: NAME.key (secret, mode 0600) and\n"
     "NAME.pub (public, for areas' trust.keys). The key id is the first 16\n"
     "hex digits of the SHA-256 of the public key.\n"
     "\n"
     "Options:\n"
     "  --expires DATE    last day the key is valid (YYYY-MM-DD, UTC)\n"
     "  -f, --force       replace existing files\n" COMMON_HELP},
    {"pack", ct_cmd_plugin__pack,
     "Usage: caretide plugin pack DIR [-o FILE]\n"
     "\n"
     "Packs the plugin in DIR into an unsigned bundle, NAME-VERSION.ctb,\n"
     "after checking plugin.yaml and compiling its Lua. Files whose names\n"
     "start with '.' are left out; links and special files are refused.\n"
     "\n"
     "Options:\n"
     "  -o, --output FILE where to write the bundle\n" COMMON_HELP},
    {"sign", ct_cmd_plugin__sign,
     "Usage: caretide plugin sign BUNDLE|DIR --key NAME.key [-o FILE]\n"
     "\n"
     "Signs a bundle's manifest (or an installed plugin directory's), after\n"
     "checking every file against it. Replaces any earlier signature.\n"
     "\n"
     "Options:\n"
     "  -k, --key FILE    secret key from 'caretide plugin keygen'\n"
     "  -o, --output FILE write the signed bundle there, not in "
     "place\n" COMMON_HELP},
    {"verify", ct_cmd_plugin__verify,
     "Usage: caretide plugin verify BUNDLE|DIR [--key NAME.pub]... "
     "[--config FILE]\n"
     "\n"
     "Checks the signature against the trusted keys and every file against\n"
     "the manifest, naming the first mismatch. Exits 0 when it verifies, 1\n"
     "when it is refused (the reason is printed).\n"
     "\n"
     "Options:\n"
     "  -k, --key FILE    trust this public key (repeatable)\n"
     "  -c, --config FILE trust the keys in this area config's "
     "trust.keys\n" COMMON_HELP},
    {"install", ct_cmd_plugin__install,
     "Usage: caretide plugin install BUNDLE [--dir PLUGIN_DIR | --config "
     "FILE] [--key NAME.pub]... [--allow-downgrade]\n"
     "\n"
     "Verifies BUNDLE, unpacks it beside the target, verifies what was\n"
     "written, runs the bundle's own tests there, then swaps it in as\n"
     "PLUGIN_DIR/NAME. An installed version is replaced only by a bundle\n"
     "that verifies and passes its tests, and never by an older version\n"
     "unless --allow-downgrade is given (it leaves PLUGIN_DIR/.NAME.allow-\n"
     "downgrade, which lets a running daemon reload that version once and\n"
     "audit it; a daemon refuses other downgrades at reload); a directory\n"
     "not installed from a\n"
     "bundle is never replaced. A signature is required with --key, or\n"
     "when the config requires one for the plugin.\n"
     "\n"
     "Options:\n"
     "  --dir PLUGIN_DIR  install under this directory\n"
     "  --allow-downgrade install a version older than the installed one\n"
     "                    (logged as a warning)\n"
     "  -c, --config FILE trust its keys and policy; install under its\n"
     "                    first plugin_path entry unless --dir is given\n"
     "  -k, --key FILE    trust this public key (repeatable)\n" COMMON_HELP},
    {"list", run_list,
     "Usage: caretide plugin list [--config FILE] [--json]\n"
     "\n"
     "Lists the plugins in the config's plugin_path and explicit paths with\n"
     "version, publisher, signing key, whether they verify against the\n"
     "area's trust, and whether the area's settings differ from the\n"
     "published defaults.\n"
     "\n"
     "Options:\n"
     "  -c, --config FILE area configuration (default: the embedded demo)\n"
     "  --json            one JSON document: {\"plugins\": [{name, version,\n"
     "                    publisher, key, status, settings, "
     "dir}]}\n" COMMON_HELP},
    {"diff", run_diff,
     "Usage: caretide plugin diff [--config FILE] [--json]\n"
     "\n"
     "For each configured plugin, every setting whose value in the area\n"
     "config differs from the plugin's published default, with where it is\n"
     "set. Exits 1 when a plugin cannot be found or its settings do not\n"
     "check.\n"
     "\n"
     "Options:\n"
     "  -c, --config FILE area configuration (default: the embedded demo)\n"
     "  --json            one JSON document: {\"plugins\": [{name, version,\n"
     "                    status, settings: [{name, default, value, "
     "at}]}]}\n" COMMON_HELP},
    {"selftest", run_selftest,
     "Usage: caretide plugin selftest [--config FILE] [--json]\n"
     "\n"
     "Runs every configured signed bundle's own tests, from its verified\n"
     "bytes, as a daemon does before activating a bundle (a reloading\n"
     "daemon runs this command in a child process). One line per plugin:\n"
     "pass, fail (with the first failure), unsigned (the area's own\n"
     "plugins are tested with 'caretide test') or error. Exits 1 when any\n"
     "bundle fails or cannot be loaded.\n"
     "\n"
     "Options:\n"
     "  -c, --config FILE area configuration (default: the embedded demo)\n"
     "  --json            one JSON line: {\"plugins\": [{name, version,\n"
     "                    bundle_hash, result, message}]}\n" COMMON_HELP},
};

static const subcommand *find_sub(const char *name)
{
    for (size_t i = 0; i < CT_ARRAY_LEN(subs); i++)
        if (strcmp(subs[i].name, name) == 0)
            return &subs[i];
    return NULL;
}

int ct_cmd_plugin(int argc, char **argv)
{
    if (argc < 2)
        return ct_cli_usage_error("plugin", "missing subcommand (keygen, "
                                            "pack, sign, verify, install, "
                                            "list, diff, selftest)");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
        return ct_cli_help("plugin");
    const subcommand *s = find_sub(argv[1]);
    if (!s)
        return ct_cli_usage_error("plugin", "unknown subcommand '%s'",
                                  argv[1]);
    if (sodium_init() < 0)
        return CT_EXIT_FAIL;
    opterr = 0;
    optind = 1;
    return s->run(argc - 1, argv + 1);
}
