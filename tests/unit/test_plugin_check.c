#include "bundle.h"
#include "config.h"
#include "error.h"
#include "fixtures.h"
#include "plugin_check.h"
#include "signkey.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An area naming plugins from tests/plugins with extra entry lines. */
static ct_config *area(const char *plugins, ct_diags *d)
{
    char text[4096];
    snprintf(text, sizeof text,
             "area: {id: t}\n"
             "plugin_path: [\"" CT_SOURCE_DIR "/tests/plugins\"]\n"
             "organisations: [{id: o, name: O}]\n"
             "facilities:\n"
             "  - {id: f, name: F, kind: rehab, organisation: o,\n"
             "     zones: [{id: z, beds: [{range: B1..B3}]}]}\n"
             "plugins:\n%s",
             plugins);
    ct_config *cfg = NULL;
    cr_assert_eq(ct_config_load_text("area.yaml", ".", text, strlen(text),
                                     &cfg, d),
                 0, "%s", d->len ? d->items[0].message : "");
    return cfg;
}

Test(plugin_check, good_plugin_with_overrides)
{
    ct_diags d = {0};
    ct_config *cfg = area("  - name: greeter\n"
                          "    settings: {limit: 5}\n",
                          &d);
    char *dir = NULL;
    ct_manifest *m = NULL;
    json_t *s = NULL;
    cr_assert_eq(ct_plugin_check_entry(cfg, &cfg->plugins[0], &dir, &m, &s,
                                       &d),
                 0, "%s", d.len ? d.items[0].message : "");
    cr_assert(strstr(dir, "tests/plugins/greeter"));
    cr_assert_eq(json_integer_value(json_object_get(s, "limit")), 5);
    cr_assert_str_eq(json_string_value(json_object_get(s, "greeting")),
                     "hello");
    free(dir);
    json_decref(s);
    ct_manifest_free(m);
    ct_config_free(cfg);
    ct_diags_free(&d);
}

Test(plugin_check, lua_syntax_error_as_file_line)
{
    ct_diags d = {0};
    ct_config *cfg = area("  - name: broken\n", &d);
    cr_assert_eq(ct_plugin_check_all(cfg, &d), CT_ECONFIG);
    cr_assert_eq(d.len, 1);
    cr_assert(strstr(d.items[0].file, "tests/plugins/broken/init.lua"));
    cr_assert_eq(d.items[0].line, 8, "line %u: %s", d.items[0].line,
                 d.items[0].message);
    cr_assert(strstr(d.items[0].message, "'end' expected"), "%s",
              d.items[0].message);
    ct_config_free(cfg);
    ct_diags_free(&d);
}

Test(plugin_check, unknown_plugin_and_bad_setting)
{
    ct_diags d = {0};
    ct_config *cfg = area("  - name: nosuch\n"
                          "  - name: greeter\n"
                          "    settings: {limmit: 5}\n",
                          &d);
    cr_assert_eq(ct_plugin_check_all(cfg, &d), CT_ECONFIG);
    cr_assert_eq(d.len, 2);
    cr_assert_eq(d.items[0].line, 8);
    cr_assert(strstr(d.items[0].message, "plugin 'nosuch' not found"));
    cr_assert_str_eq(d.items[1].file, "area.yaml");
    cr_assert_eq(d.items[1].line, 10);
    cr_assert_eq(d.items[1].col, 16);
    cr_assert(strstr(d.items[1].message, "did you mean 'limit'?"), "%s",
              d.items[1].message);
    ct_config_free(cfg);
    ct_diags_free(&d);
}

/* --- trust: signed bundles at check ---------------------------------- */

/* Installs tests/plugins/greeter, packed and signed by k (or unsigned),
 * under parent; returns the installed directory. */
static char *install_greeter(const char *parent, const ct_signkey *k)
{
    ct_bundle *b = NULL;
    ct_diags d = {0};
    ct_bundle_info info;
    cr_assert_eq(ct_bundle_pack(CT_SOURCE_DIR "/tests/plugins/greeter", &b,
                                &d),
                 0, "%s", d.len ? d.items[0].message : "");
    if (k)
        cr_assert_eq(ct_bundle_sign(b, k, ct_bundle_wall_ms(), &info), 0);
    char *dir = NULL;
    cr_assert_eq(ct_bundle_install(b, parent, NULL, false, 0, &info, &dir),
                 k ? CT_ESIGNATURE : 0, "%s", info.reason);
    if (k) /* Install needs trust; verify first with the key trusted. */
        cr_assert_eq(info.problem, CT_BUNDLE_UNKNOWN_KEY);
    if (k) {
        ct_trust t = {0};
        ct_trust_key tk = {0};
        memcpy(tk.id, k->id, sizeof tk.id);
        memcpy(tk.public_key, k->public_key, 32);
        tk.expires_ms = INT64_MAX;
        cr_assert_eq(ct_trust_add(&t, &tk), 0);
        cr_assert_eq(ct_bundle_install(b, parent, &t, true,
                                       ct_bundle_wall_ms(), &info, &dir),
                     0, "%s", info.reason);
        ct_trust_clear(&t);
    }
    ct_bundle_free(b);
    ct_diags_free(&d);
    return dir;
}

/* An area with plugin_path [parent], a trust section and one entry. */
static ct_config *trust_area(const char *parent, const ct_signkey *k,
                             const char *expires, const char *extra,
                             ct_diags *d)
{
    char trust[1024] = "";
    if (k) {
        char b64[64];
        sodium_bin2base64(b64, sizeof b64, k->public_key, 32,
                          sodium_base64_VARIANT_ORIGINAL);
        snprintf(trust, sizeof trust,
                 "trust:\n  require_signed: true\n  keys:\n"
                 "    - {id: %s, public_key: \"%s\", name: central%s%s}\n",
                 k->id, b64, expires ? ", expires: " : "",
                 expires ? expires : "");
    }
    char text[4096];
    snprintf(text, sizeof text,
             "area: {id: t}\n"
             "plugin_path: [\"%s\"]\n"
             "organisations: [{id: o, name: O}]\n"
             "facilities:\n"
             "  - {id: f, name: F, kind: rehab, organisation: o,\n"
             "     zones: [{id: z, beds: [{range: B1..B3}]}]}\n"
             "%s"
             "plugins:\n  - name: greeter\n%s",
             parent, trust, extra ? extra : "");
    ct_config *cfg = NULL;
    cr_assert_eq(ct_config_load_text("area.yaml", ".", text, strlen(text),
                                     &cfg, d),
                 0, "%s", d->len ? d->items[0].message : "");
    return cfg;
}

static void expect_refusal(const ct_config *cfg, const char *needle)
{
    ct_diags d = {0};
    cr_assert_eq(ct_plugin_check_all(cfg, &d), CT_ECONFIG);
    cr_assert_geq(d.len, 1);
    cr_assert_str_eq(d.items[0].file, "area.yaml");
    cr_assert_eq(d.items[0].line, cfg->plugins[0].line);
    cr_assert(strstr(d.items[0].message, needle), "'%s' lacks '%s'",
              d.items[0].message, needle);
    ct_diags_free(&d);
}

Test(plugin_check, signed_bundle_accepted_with_provenance)
{
    char parent[300];
    snprintf(parent, sizeof parent, "%s", ct_test_tmpdir());
    ct_signkey k;
    cr_assert_eq(ct_signkey_generate("central", NULL, &k), 0);
    char *dir = install_greeter(parent, &k);
    ct_diags d = {0};
    ct_config *cfg = trust_area(parent, &k, NULL, NULL, &d);
    cr_assert_eq(ct_plugin_check_all(cfg, &d), 0, "%s",
                 d.len ? d.items[0].message : "");
    ct_bundle_info info;
    cr_assert_eq(ct_plugin_check_trust(cfg, &cfg->plugins[0], dir,
                                       ct_bundle_wall_ms(), &info, NULL, &d),
                 0);
    cr_assert(info.is_signed);
    cr_assert_str_eq(info.key_id, k.id);
    cr_assert_str_eq(info.signer, "central");
    cr_assert_eq(strlen(info.bundle_hash), 64);
    ct_config_free(cfg);
    ct_diags_free(&d);
    ct_signkey_clear(&k);
    free(dir);
    ct_test_rmtree(parent);
}

Test(plugin_check, refusals_at_check)
{
    char parent[300];
    snprintf(parent, sizeof parent, "%s", ct_test_tmpdir());
    ct_signkey k, other;
    cr_assert_eq(ct_signkey_generate("central", NULL, &k), 0);
    cr_assert_eq(ct_signkey_generate("other", NULL, &other), 0);
    ct_diags d = {0};

    /* Unsigned, where the area requires signatures. */
    char *dir = install_greeter(parent, NULL);
    ct_config *cfg = trust_area(parent, &k, NULL, NULL, &d);
    expect_refusal(cfg, "plugin 'greeter' refused (unsigned): no MANIFEST.sig");
    ct_config_free(cfg);
    /* ... allowed for this one plugin. */
    cfg = trust_area(parent, &k, NULL, "    require_signed: false\n", &d);
    cr_assert_eq(ct_plugin_check_all(cfg, &d), 0, "%s",
                 d.len ? d.items[0].message : "");
    ct_config_free(cfg);
    free(dir);
    ct_test_rmtree(parent);
    mkdir(parent, 0700);

    /* Signed by a key the area does not trust. */
    dir = install_greeter(parent, &other);
    cfg = trust_area(parent, &k, NULL, NULL, &d);
    expect_refusal(cfg, "(unknown_key): signed with key");
    ct_config_free(cfg);

    /* Expired key (relative to the real clock). */
    cfg = trust_area(parent, &other, "2001-01-01", NULL, &d);
    expect_refusal(cfg, "(expired_key)");
    ct_config_free(cfg);

    /* Tampered: a file changed after installation. */
    cfg = trust_area(parent, &other, NULL, NULL, &d);
    cr_assert_eq(ct_plugin_check_all(cfg, &d), 0);
    char p[600];
    snprintf(p, sizeof p, "%s/init.lua", dir);
    FILE *f = fopen(p, "a");
    fputs("-- changed\n", f);
    fclose(f);
    expect_refusal(cfg, "(tampered): init.lua: content differs");
    ct_config_free(cfg);
    free(dir);
    ct_test_rmtree(parent);
    mkdir(parent, 0700);

    /* Built for another plugin API, though properly signed. */
    dir = install_greeter(parent, &k);
    snprintf(p, sizeof p, "%s/MANIFEST.json", dir);
    json_error_t je;
    json_t *m = json_load_file(p, 0, &je);
    json_object_set_new(m, "api", json_integer(2));
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS |
                                   JSON_ENSURE_ASCII);
    f = fopen(p, "w");
    fprintf(f, "%s\n", text);
    fclose(f);
    free(text);
    json_decref(m);
    ct_bundle_info info;
    cr_assert_eq(ct_bundle_sign_dir(dir, &k, ct_bundle_wall_ms(), &info), 0,
                 "%s", info.reason);
    cfg = trust_area(parent, &k, NULL, NULL, &d);
    expect_refusal(cfg, "(wrong_api): built for plugin API 2");
    ct_config_free(cfg);
    free(dir);

    ct_diags_free(&d);
    ct_signkey_clear(&k);
    ct_signkey_clear(&other);
    ct_test_rmtree(parent);
}
