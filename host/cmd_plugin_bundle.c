/*
 * caretide plugin keygen|pack|sign|verify|install: the publisher's side
 * of signed plugin bundles (keys, packing, signing) and the area's
 * (verifying, installing). docs/bundles.md has the formats.
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

/* --- keygen ----------------------------------------------------------- */

int ct_cmd_plugin__keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"expires", required_argument, NULL, 'e'},
        {"force", no_argument, NULL, 'f'},
        CT_PLUGIN_COMMON_LONG_OPTS,
        {NULL, 0, NULL, 0},
    };
    const char *expires = NULL, *fmt = NULL, *lvl = NULL;
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
        if (c == 'e')
            expires = optarg;
        else if (c == 'f')
            force = true;
        else {
            int r = ct_cmd_plugin__common_opt("keygen", c, argv, &fmt, &lvl);
            if (r >= 0)
                return r;
        }
    }
    if (optind >= argc)
        return ct_cmd_plugin__usage_error("keygen", "missing NAME", NULL);
    if (optind + 1 < argc)
        return ct_cmd_plugin__usage_error("keygen", "unexpected argument",
                                          argv[optind + 1]);
    if (ct_cli_logging("plugin", fmt, lvl))
        return CT_EXIT_USAGE;
    const char *prefix = argv[optind];
    const char *base = strrchr(prefix, '/');
    base = base ? base + 1 : prefix;
    int64_t ms;
    char why[160];
    if (expires && strlen(expires) == 10 &&
        ct_clock_parse_day(expires, &ms, why, sizeof why))
        return ct_cmd_plugin__usage_error("keygen", why, NULL);
    if (expires && ct_trust_parse_expiry(expires, &ms))
        return ct_cmd_plugin__usage_error("keygen",
                                          "--expires wants a date like "
                                          "2027-03-31, not",
                                          expires);
    /* A key that has already expired verifies nothing it signs. */
    if (expires && ms <= ct_bundle_wall_ms())
        return ct_cmd_plugin__usage_error(
            "keygen",
            "--expires is in the past; a key "
            "must be valid for at least today, not",
            expires);
    ct_signkey k;
    int rc = ct_signkey_generate(base, expires, &k);
    if (rc == CT_EINVAL)
        return ct_cmd_plugin__usage_error("keygen",
                                          "NAME must end in 1 to 64 letters, "
                                          "digits, '.', '_' or '-', not",
                                          base);
    if (rc) {
        fprintf(stderr, "caretide plugin keygen: %s\n", ct_strerror(rc));
        return CT_EXIT_FAIL;
    }
    char key[PATH_MAX], pub[PATH_MAX];
    snprintf(key, sizeof key, "%s.key", prefix);
    snprintf(pub, sizeof pub, "%s.pub", prefix);
    rc = ct_signkey_write(&k, key, pub, force);
    if (rc == CT_EEXISTS)
        fprintf(stderr, "caretide plugin keygen: %s or %s exists; keys are "
                        "never overwritten without --force\n",
                key, pub);
    else if (rc)
        fprintf(stderr, "caretide plugin keygen: cannot write %s and %s: "
                        "%s\n",
                key, pub, rc == CT_EIO ? strerror(errno) : ct_strerror(rc));
    else
        printf("key %s (%s)\n  secret: %s (keep it safe; it signs)\n"
               "  public: %s (give it to areas for trust.keys)\n",
               k.id, k.name, key, pub);
    ct_signkey_clear(&k);
    return rc ? CT_EXIT_FAIL : CT_EXIT_OK;
}

/* --- pack ------------------------------------------------------------- */

int ct_cmd_plugin__pack(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        CT_PLUGIN_COMMON_LONG_OPTS,
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL, *fmt = NULL, *lvl = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        if (c == 'o')
            output = optarg;
        else {
            int r = ct_cmd_plugin__common_opt("pack", c, argv, &fmt, &lvl);
            if (r >= 0)
                return r;
        }
    }
    if (optind >= argc)
        return ct_cmd_plugin__usage_error("pack", "missing DIR", NULL);
    if (optind + 1 < argc)
        return ct_cmd_plugin__usage_error("pack", "unexpected argument",
                                          argv[optind + 1]);
    if (ct_cli_logging("plugin", fmt, lvl))
        return CT_EXIT_USAGE;
    const char *dir = argv[optind];
    ct_diags d = {0};
    ct_bundle *b = NULL;
    /* Code that does not compile is not published. */
    int rc = ct_plugin_check_lua(dir, &d);
    if (!rc)
        rc = ct_bundle_pack(dir, &b, &d);
    if (rc) {
        ct_diags_print(&d, stdout);
        ct_diags_free(&d);
        return CT_EXIT_FAIL;
    }
    ct_diags_free(&d);
    ct_bundle_info info;
    rc = ct_bundle_verify(b, NULL, false, ct_bundle_wall_ms(), &info);
    char path[PATH_MAX];
    if (output)
        snprintf(path, sizeof path, "%s", output);
    else
        snprintf(path, sizeof path, "%s-%s" CT_BUNDLE_EXT, info.name,
                 info.version);
    if (!rc)
        rc = ct_bundle_write(b, path);
    ct_bundle_free(b);
    if (rc) {
        fprintf(stderr, "caretide plugin pack: cannot write %s: %s\n", path,
                info.reason[0] ? info.reason : ct_strerror(rc));
        return CT_EXIT_FAIL;
    }
    printf("packed %s %s (%zu files) into %s\n", info.name, info.version,
           info.nfiles, path);
    ct_cmd_plugin__print_provenance(&info);
    return CT_EXIT_OK;
}

/* --- sign ------------------------------------------------------------- */

int ct_cmd_plugin__sign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"output", required_argument, NULL, 'o'},
        CT_PLUGIN_COMMON_LONG_OPTS,
        {NULL, 0, NULL, 0},
    };
    const char *keyfile = NULL, *output = NULL, *fmt = NULL, *lvl = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":k:o:h", opts, NULL)) != -1) {
        if (c == 'k')
            keyfile = optarg;
        else if (c == 'o')
            output = optarg;
        else {
            int r = ct_cmd_plugin__common_opt("sign", c, argv, &fmt, &lvl);
            if (r >= 0)
                return r;
        }
    }
    if (optind >= argc)
        return ct_cmd_plugin__usage_error("sign", "missing BUNDLE or DIR",
                                          NULL);
    if (optind + 1 < argc)
        return ct_cmd_plugin__usage_error("sign", "unexpected argument",
                                          argv[optind + 1]);
    if (!keyfile)
        return ct_cmd_plugin__usage_error("sign", "--key NAME.key is required",
                                          NULL);
    if (ct_cli_logging("plugin", fmt, lvl))
        return CT_EXIT_USAGE;
    const char *target = argv[optind];
    if (output && ct_cmd_plugin__is_dir(target))
        return ct_cmd_plugin__usage_error(
            "sign",
            "--output applies to bundle files, not "
            "directories:",
            target);
    ct_diags d = {0};
    ct_signkey k;
    if (ct_signkey_load(keyfile, &k, &d)) {
        ct_diags_print(&d, stderr);
        ct_diags_free(&d);
        return CT_EXIT_FAIL;
    }
    ct_diags_free(&d);
    int64_t now = ct_bundle_wall_ms();
    ct_bundle_info info;
    int rc;
    if (ct_cmd_plugin__is_dir(target)) {
        rc = ct_bundle_sign_dir(target, &k, now, &info);
    } else {
        ct_bundle *b = NULL;
        rc = ct_bundle_read(target, &b, &info);
        if (!rc)
            rc = ct_bundle_sign(b, &k, now, &info);
        if (!rc && (rc = ct_bundle_write(b, output ? output : target)))
            snprintf(info.reason, sizeof info.reason, "cannot write %s: %s",
                     output ? output : target, ct_strerror(rc));
        ct_bundle_free(b);
    }
    ct_signkey_clear(&k);
    if (rc) {
        ct_cmd_plugin__print_refusal(target, &info);
        return CT_EXIT_FAIL;
    }
    printf("signed %s %s with key %s (%s)\n", info.name, info.version,
           info.key_id, info.signer);
    ct_cmd_plugin__print_provenance(&info);
    return CT_EXIT_OK;
}

/* --- verify and install ----------------------------------------------- */

/* The config's trusted keys plus each --key file, into t. */
static int build_trust(const ct_config *cfg, char **keys, size_t nkeys,
                       ct_trust *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; cfg && i < cfg->trust.nkeys; i++) {
        ct_trust_key k = cfg->trust.keys[i];
        k.name = ct_strdup(k.name);
        k.file = ct_strdup(k.file);
        if (ct_trust_add(t, &k))
            ct_trust_key_clear(&k);
    }
    ct_diags d = {0};
    int rc = 0;
    for (size_t i = 0; i < nkeys && !rc; i++) {
        ct_trust_key k;
        rc = ct_trust_key_load(keys[i], &k, &d);
        if (!rc && ct_trust_add(t, &k))
            ct_trust_key_clear(&k); /* trusted already */
    }
    if (rc)
        ct_diags_print(&d, stderr);
    ct_diags_free(&d);
    return rc;
}

/* Options shared by verify and install. */
typedef struct trust_opts {
    const char *config;
    const char *dir;
    char *keys[16];
    size_t nkeys;
    const char *fmt, *lvl;
    bool allow_downgrade; /* install: accept a lower version */
} trust_opts;

static int parse_trust_opts(const char *sub, int argc, char **argv,
                            bool with_dir, trust_opts *o)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"dir", required_argument, NULL, 'd'},
        {"allow-downgrade", no_argument, NULL, 'D'},
        CT_PLUGIN_COMMON_LONG_OPTS,
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    int c;
    while ((c = getopt_long(argc, argv, ":c:k:h", opts, NULL)) != -1) {
        if (c == 'c')
            o->config = optarg;
        else if (c == 'k') {
            if (o->nkeys == CT_ARRAY_LEN(o->keys))
                return ct_cmd_plugin__usage_error(sub, "too many --key options",
                                                  NULL);
            o->keys[o->nkeys++] = optarg;
        } else if (c == 'd' && with_dir)
            o->dir = optarg;
        else if (c == 'd')
            return ct_cmd_plugin__usage_error(sub, "unknown option", "--dir");
        else if (c == 'D' && with_dir)
            o->allow_downgrade = true;
        else if (c == 'D')
            return ct_cmd_plugin__usage_error(sub, "unknown option",
                                              "--allow-downgrade");
        else {
            int r = ct_cmd_plugin__common_opt(sub, c, argv, &o->fmt, &o->lvl);
            if (r >= 0)
                return r;
        }
    }
    if (optind >= argc)
        return ct_cmd_plugin__usage_error(
            sub, with_dir ? "missing BUNDLE" : "missing BUNDLE or DIR", NULL);
    if (optind + 1 < argc)
        return ct_cmd_plugin__usage_error(sub, "unexpected argument",
                                          argv[optind + 1]);
    if (ct_cli_logging("plugin", o->fmt, o->lvl))
        return CT_EXIT_USAGE;
    return -1;
}

int ct_cmd_plugin__verify(int argc, char **argv)
{
    trust_opts o;
    int r = parse_trust_opts("verify", argc, argv, false, &o);
    if (r >= 0)
        return r;
    if (!o.config && !o.nkeys)
        return ct_cmd_plugin__usage_error("verify",
                                          "name the trusted keys with --key "
                                          "NAME.pub or --config FILE",
                                          NULL);
    const char *target = argv[optind];
    ct_config *cfg = NULL;
    if (o.config && ct_cli_load_config(o.config, &cfg, stderr))
        return CT_EXIT_FAIL;
    ct_trust t;
    int rc = build_trust(cfg, o.keys, o.nkeys, &t);
    ct_config_free(cfg);
    if (rc)
        return CT_EXIT_FAIL;
    ct_bundle_info info;
    int64_t now = ct_bundle_wall_ms();
    if (ct_cmd_plugin__is_dir(target)) {
        rc = ct_bundle_verify_dir(target, &t, true, now, &info);
    } else {
        ct_bundle *b = NULL;
        rc = ct_bundle_read(target, &b, &info);
        if (!rc)
            rc = ct_bundle_verify(b, &t, true, now, &info);
        ct_bundle_free(b);
    }
    ct_trust_clear(&t);
    if (rc) {
        ct_cmd_plugin__print_refusal(target, &info);
        return CT_EXIT_FAIL;
    }
    printf("%s: ok: %s %s by %s, %zu files\n", target, info.name,
           info.version, info.publisher, info.nfiles);
    ct_cmd_plugin__print_provenance(&info);
    return CT_EXIT_OK;
}

/* The version installed in dir, for the message; "" when none. */
static void installed_version(const char *dir, char *out, size_t size)
{
    ct_diags d = {0};
    ct_manifest *m = NULL;
    out[0] = '\0';
    if (ct_manifest_load(dir, &m, &d) == 0)
        snprintf(out, size, "%s", m->version);
    ct_manifest_free(m);
    ct_diags_free(&d);
}

const ct_config_plugin *ct_cmd_plugin__find_entry(const ct_config *cfg,
                                                  const char *name)
{
    for (size_t i = 0; cfg && i < cfg->nplugins; i++)
        if (cfg->plugins[i].name && strcmp(cfg->plugins[i].name, name) == 0)
            return &cfg->plugins[i];
    return NULL;
}

/* install's gate: the bundle's own tests, on the unpacked copy, before it
 * replaces anything. */
typedef struct gate_args {
    const ct_trust *trust;
    const ct_bundle *bundle; /* the verified bytes: tests read from here */
    ct_diags diags;
} gate_args;

static int tests_gate(void *ud, const char *dir, const ct_bundle_info *info,
                      char *reason, size_t size)
{
    gate_args *g = ud;
    int rc = ct_plugins_self_test(dir, info->name, info->version, g->trust,
                                  g->bundle, &g->diags);
    if (rc)
        snprintf(reason, size, "%s",
                 g->diags.len ? g->diags.items[0].message
                              : "its own tests failed");
    return rc;
}

int ct_cmd_plugin__install(int argc, char **argv)
{
    trust_opts o;
    int r = parse_trust_opts("install", argc, argv, true, &o);
    if (r >= 0)
        return r;
    if (!o.config && !o.dir)
        return ct_cmd_plugin__usage_error(
            "install",
            "say where: --dir PLUGIN_DIR or "
            "--config FILE (its first plugin_path "
            "entry)",
            NULL);
    const char *file = argv[optind];
    ct_config *cfg = NULL;
    if (o.config && ct_cli_load_config(o.config, &cfg, stderr))
        return CT_EXIT_FAIL;
    const char *parent = o.dir;
    if (!parent && cfg->nplugin_path == 0) {
        fprintf(stderr, "caretide plugin install: %s has an empty "
                        "plugin_path; use --dir\n",
                cfg->file);
        ct_config_free(cfg);
        return CT_EXIT_FAIL;
    }
    if (!parent)
        parent = cfg->plugin_path[0];
    ct_trust t;
    ct_bundle *b = NULL;
    ct_bundle_info info;
    char *dir = NULL;
    int status = CT_EXIT_FAIL;
    if (build_trust(cfg, o.keys, o.nkeys, &t))
        goto fail_cfg;
    if (ct_bundle_read(file, &b, &info)) {
        ct_cmd_plugin__print_refusal(file, &info);
        goto fail_trust;
    }
    /* Peek at the name for the policy; the install verifies properly. */
    ct_bundle_info peek;
    ct_bundle_verify(b, NULL, false, 0, &peek);
    const ct_config_plugin *entry = ct_cmd_plugin__find_entry(cfg, peek.name);
    bool required = o.nkeys > 0 || (entry ? entry->require_signed
                                          : cfg && cfg->trust.require_signed);
    char target[PATH_MAX], old[65];
    snprintf(target, sizeof target, "%s/%s", parent, peek.name);
    installed_version(target, old, sizeof old);
    /* A lower version than the installed one is a rollback, perhaps to a
     * release withdrawn for a reason: only on request, and said loudly. */
    if (ct_bundle_verify(b, &t, required, ct_bundle_wall_ms(), &info)) {
        ct_cmd_plugin__print_refusal(file,
                                     &info); /* a refusal on its merits first */
        goto fail_bundle;
    }
    bool downgrade = old[0] && ct_semver_valid(old) &&
                     ct_semver_valid(peek.version) &&
                     ct_semver_cmp(peek.version, old) < 0;
    if (downgrade) {
        if (!o.allow_downgrade) {
            printf("%s: refused (downgrade): %s %s is older than the "
                   "installed %s; give --allow-downgrade to install it "
                   "anyway\n",
                   file, peek.name, peek.version, old);
            goto fail_bundle;
        }
        ct_log_warn("plugin", "downgrading %s from %s to %s "
                              "(--allow-downgrade)",
                    peek.name, old, peek.version);
    }
    gate_args g = {.trust = &t, .bundle = b};
    int irc = ct_bundle_install_gated(b, parent, &t, required,
                                      ct_bundle_wall_ms(), tests_gate, &g,
                                      &info, &dir);
    if (irc)
        ct_cmd_plugin__print_refusal(file, &info);
    for (size_t i = 1; irc && i < g.diags.len; i++)
        printf("  %s\n", g.diags.items[i].message);
    ct_diags_free(&g.diags);
    if (irc)
        goto fail_bundle;
    /* The daemon refuses to reload a lower version unless this says it
     * may, once, and audits it when it loads it (plugins_downgrade.c).
     * Any other install withdraws an earlier allowance. */
    char allow[PATH_MAX];
    if (ct_plugins_allowance_path(target, allow, sizeof allow) == 0) {
        bool kept = false;
        FILE *af = downgrade ? fopen(allow, "w") : NULL;
        if (af) {
            fprintf(af, "%s %s\n", old, info.version);
            kept = fclose(af) == 0;
        } else if (!downgrade) {
            unlink(allow);
        }
        if (kept)
            printf("a running daemon loads it at its next reload and records "
                   "the downgrade in the audit log\n");
        else if (downgrade)
            printf("%s: cannot write %s: a running daemon will refuse to "
                   "reload the downgrade\n", file, allow);
    }
    if (old[0])
        printf("installed %s %s into %s (replacing %s)\n", info.name,
               info.version, dir, old);
    else
        printf("installed %s %s into %s\n", info.name, info.version, dir);
    ct_cmd_plugin__print_provenance(&info);
    status = CT_EXIT_OK;
    free(dir);
fail_bundle:
    ct_bundle_free(b);
fail_trust:
    ct_trust_clear(&t);
fail_cfg:
    ct_config_free(cfg);
    return status;
}
