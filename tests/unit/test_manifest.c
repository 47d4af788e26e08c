#include "error.h"
#include "manifest.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static const char good[] =
    "name: stepdown\n"                                   /* 1 */
    "version: 1.2.0\n"                                   /* 2 */
    "api: 1\n"                                           /* 3 */
    "description: Designated settings for isolation\n"   /* 4 */
    "publisher: Central team\n"                          /* 5 */
    "fallback: manual_review\n"                          /* 6 */
    "settings:\n"                                        /* 7 */
    "  isolation_days:\n"                                /* 8 */
    "    type: integer\n"                                /* 9 */
    "    default: 14\n"                                  /* 10 */
    "    min: 1\n"                                       /* 11 */
    "    max: 28\n"                                      /* 12 */
    "    doc: Days of isolation from the positive test\n"/* 13 */
    "  window:\n"                                        /* 14 */
    "    type: duration\n"                               /* 15 */
    "    default: 48h\n"                                 /* 16 */
    "    max: 7d\n"                                      /* 17 */
    "    doc: How recent a positive test counts\n"       /* 18 */
    "  mode:\n"                                          /* 19 */
    "    type: enum\n"                                   /* 20 */
    "    values: [strict, relaxed]\n"                    /* 21 */
    "    default: strict\n"                              /* 22 */
    "    doc: Placement strictness\n"                    /* 23 */
    "  weights:\n"                                       /* 24 */
    "    type: list\n"                                   /* 25 */
    "    items: number\n"                                /* 26 */
    "    default: [0.5, 1.5]\n"                          /* 27 */
    "    doc: Ranking weights\n"                         /* 28 */
    "  exempt:\n"                                        /* 29 */
    "    type: boolean\n"                                /* 30 */
    "    default: true\n"                                /* 31 */
    "    doc: Prior infection exemption\n";              /* 32 */

static ct_manifest *parse(const char *text, ct_diags *d)
{
    ct_manifest *m = NULL;
    int rc = ct_manifest_parse("p/plugin.yaml", text, strlen(text), &m, d);
    if (rc)
        cr_assert_null(m);
    return m;
}

/* Parses YAML for overrides (as if from the area config). */
static ct_node *yaml(const char *text)
{
    ct_diags d = {0};
    ct_node *n = NULL;
    cr_assert_eq(ct_yaml_parse("area.yaml", text, strlen(text), &n, &d), 0);
    ct_diags_free(&d);
    return n;
}

static char *edit(const char *from, const char *to)
{
    const char *at = strstr(good, from);
    cr_assert_not_null(at, "'%s' not in manifest", from);
    size_t n = strlen(good) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - good), good, to,
             at + strlen(from));
    return out;
}

static void expect_manifest_error(const char *from, const char *to,
                                  uint32_t line, uint32_t col,
                                  const char *needle)
{
    char *t = edit(from, to);
    ct_diags d = {0};
    cr_assert_null(parse(t, &d));
    cr_assert_geq(d.len, 1);
    cr_expect_eq(d.items[0].line, line, "%u:%u %s", d.items[0].line,
                 d.items[0].col, d.items[0].message);
    cr_expect_eq(d.items[0].col, col, "%u:%u %s", d.items[0].line,
                 d.items[0].col, d.items[0].message);
    cr_expect(strstr(d.items[0].message, needle), "'%s' lacks '%s'",
              d.items[0].message, needle);
    ct_diags_free(&d);
    free(t);
}

Test(manifest, parses_defaults_typed)
{
    ct_diags d = {0};
    ct_manifest *m = parse(good, &d);
    cr_assert_not_null(m, "%s", d.len ? d.items[0].message : "");
    cr_assert_str_eq(m->name, "stepdown");
    cr_assert_eq(m->api, 1);
    cr_assert_eq(m->fallback, CT_FALLBACK_MANUAL_REVIEW);
    cr_assert_eq(m->nsettings, 5);
    json_t *s = NULL;
    cr_assert_eq(ct_manifest_settings(m, "area.yaml", NULL, &s, &d), 0);
    cr_assert_eq(json_integer_value(json_object_get(s, "isolation_days")), 14);
    cr_assert_eq(json_integer_value(json_object_get(s, "window")),
                 48LL * 3600 * 1000);
    cr_assert_str_eq(json_string_value(json_object_get(s, "mode")), "strict");
    cr_assert(json_is_true(json_object_get(s, "exempt")));
    cr_assert_eq(json_array_size(json_object_get(s, "weights")), 2);
    json_t *dev = ct_manifest_deviations(m, s);
    cr_assert_eq(json_array_size(dev), 0);
    json_decref(dev);
    json_decref(s);
    ct_manifest_free(m);
}

Test(manifest, overrides_apply_and_deviate)
{
    ct_diags d = {0};
    ct_manifest *m = parse(good, &d);
    ct_node *o = yaml("isolation_days: 10\nwindow: 24h\nmode: relaxed\n");
    json_t *s = NULL;
    cr_assert_eq(ct_manifest_settings(m, "area.yaml", o, &s, &d), 0);
    cr_assert_eq(json_integer_value(json_object_get(s, "isolation_days")), 10);
    json_t *dev = ct_manifest_deviations(m, s);
    cr_assert_eq(json_array_size(dev), 3);
    char h1[65], h2[65];
    ct_manifest_settings_hash(s, h1);
    json_t *def = NULL;
    cr_assert_eq(ct_manifest_settings(m, "area.yaml", NULL, &def, &d), 0);
    ct_manifest_settings_hash(def, h2);
    cr_assert_str_neq(h1, h2);
    json_decref(def);
    json_decref(dev);
    json_decref(s);
    ct_node_free(o);
    ct_manifest_free(m);
}

static void expect_override_error(const char *text, uint32_t line,
                                  uint32_t col, const char *needle)
{
    ct_diags d = {0};
    ct_manifest *m = parse(good, &d);
    ct_node *o = yaml(text);
    json_t *s = NULL;
    cr_assert_eq(ct_manifest_settings(m, "area.yaml", o, &s, &d), CT_ECONFIG);
    cr_assert_null(s);
    cr_assert_eq(d.len, 1, "got %zu diagnostics", d.len);
    cr_expect_str_eq(d.items[0].file, "area.yaml");
    cr_expect_eq(d.items[0].line, line);
    cr_expect_eq(d.items[0].col, col);
    cr_expect(strstr(d.items[0].message, needle), "'%s' lacks '%s'",
              d.items[0].message, needle);
    ct_diags_free(&d);
    ct_node_free(o);
    ct_manifest_free(m);
}

Test(manifest, override_errors_name_config_position)
{
    expect_override_error("isolation_dayz: 3\n", 1, 1,
                          "no setting 'isolation_dayz'; did you mean "
                          "'isolation_days'?");
    expect_override_error("mode: lax\n", 1, 7,
                          "must be one of strict, relaxed, got 'lax'");
    expect_override_error("isolation_days: 40\n", 1, 17, "out of range");
    expect_override_error("isolation_days: \"10\"\n", 1, 17,
                          "must be an integer");
    expect_override_error("window: 8d\n", 1, 9, "out of range");
    expect_override_error("window: soon\n", 1, 9, "must be a duration");
    expect_override_error("exempt: yes\n", 1, 9, "true or false");
    expect_override_error("weights: [1, x]\n", 1, 14, "must be a number");
    expect_override_error("weights: 3\n", 1, 10, "must be a list");
}

Test(manifest, manifest_errors)
{
    expect_manifest_error("version: 1.2.0\n", "version: 1.2\n", 2, 10,
                          "not semver");
    expect_manifest_error("api: 1\n", "api: 2\n", 3, 6,
                          "unsupported plugin api '2'");
    expect_manifest_error("fallback: manual_review\n", "fallback: retry\n",
                          6, 11, "fallback must be");
    expect_manifest_error("    default: 14\n", "    default: 40\n", 10, 14,
                          "out of range");
    expect_manifest_error("    type: integer\n", "    type: int\n", 9, 11,
                          "unknown type 'int'");
    expect_manifest_error("    default: strict\n", "    default: loose\n", 22,
                          14, "must be one of strict, relaxed");
    expect_manifest_error("name: stepdown\n", "name: Step Down\n", 1, 7,
                          "lowercase");
    expect_manifest_error("publisher: Central team\n",
                          "publisher: Central team\nauthor: x\n", 6, 1,
                          "unknown key 'author'");
    expect_manifest_error("    doc: Placement strictness\n", "", 20, 5,
                          "needs a 'doc'");
}

Test(manifest, semver)
{
    cr_assert(ct_semver_valid("0.1.0"));
    cr_assert(ct_semver_valid("10.20.30-rc.1+build.5"));
    cr_assert_not(ct_semver_valid("1.0"));
    cr_assert_not(ct_semver_valid("01.0.0"));
    cr_assert_not(ct_semver_valid("1.0.0-"));
    cr_assert_not(ct_semver_valid("v1.0.0"));
}

/* semver precedence, for install's downgrade check. */
Test(manifest, semver_order)
{
    static const char *const ordered[] = {
        "1.0.0-alpha",      "1.0.0-alpha.1", "1.0.0-alpha.beta",
        "1.0.0-beta",       "1.0.0-beta.2",  "1.0.0-beta.11",
        "1.0.0-rc.1",       "1.0.0",         "1.0.1",
        "1.1.0",            "1.10.0",        "2.0.0",
    };
    size_t n = sizeof ordered / sizeof ordered[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = ct_semver_cmp(ordered[i], ordered[j]);
            cr_assert(i < j ? c < 0 : i > j ? c > 0 : c == 0, "%s vs %s: %d",
                      ordered[i], ordered[j], c);
        }
    cr_assert_eq(ct_semver_cmp("1.0.0+build.1", "1.0.0+build.2"), 0);
}

/* Reference settings (manifest_form.c): shapes at parse, the area's ids
 * for overrides, needs no bed meets as warnings. */
static const char refs[] =
    "name: refs\nversion: 1.0.0\napi: 1\ndescription: d\npublisher: p\n"
    "settings:\n"
    "  surge:\n    type: list\n    items: facility\n    default: []\n"
    "    doc: d\n"
    "  bands:\n    type: list\n    items: string\n"
    "    form: \"[organisation/]facility=band\"\n"
    "    default: [\"fen-view=1\"]\n    doc: d\n"
    "  home:\n    type: zone\n    default: sedge-red\n    doc: d\n"
    "  needs:\n    type: list\n    items: need\n"
    "    default: [reablement, telecare]\n    doc: d\n";

static const char *const ids_fac[] = {"fen-view", "reedbeds"};
static const char *const ids_zone[] = {"sedge-red", "sedge-covid"};
static const char *const ids_org[] = {"fen-acute", "fen-council"};
static const char *const ids_tag[] = {"reablement", "nursing"};
static const ct_manifest_area area = {
    .ids = {ids_fac, ids_zone, ids_org, ids_tag, ids_tag},
    .n = {2, 2, 2, 2, 2},
};

static size_t settings_in(const char *over, ct_diags *d, ct_diags *w)
{
    ct_diags pd = {0};
    ct_manifest *m = parse(refs, &pd);
    cr_assert_not_null(m, "%s", pd.len ? pd.items[0].message : "");
    ct_node *o = over ? yaml(over) : NULL;
    json_t *s = NULL;
    int rc = ct_manifest_settings_in(m, "area.yaml", o, &area, 7, 5, &s, d,
                                     w);
    cr_assert_eq(rc == 0, d->len == 0, "rc %d with %zu errors", rc, d->len);
    cr_assert_eq(s != NULL, rc == 0);
    json_decref(s);
    ct_node_free(o);
    ct_manifest_free(m);
    return d->len;
}

Test(manifest, references_checked_against_area)
{
    ct_diags d = {0}, w = {0};
    cr_assert_eq(settings_in("surge: [reedbeds]\nbands: [fen-view=2, "
                             "fen-acute/reedbeds=1]\nhome: sedge-covid\n",
                             &d, &w),
                 0, "%s", d.len ? d.items[0].message : "");
    ct_diags_free(&d);
    cr_assert_eq(settings_in("surge: [reed-beds, marsh]\nbands: [fenveiw=1, "
                             "fen-acut/reedbeds=1, fen-view]\n"
                             "home: sedge-covd\n",
                             &d, &w),
                 6);
    const char *want[] = {
        "no facility 'reed-beds' in the area; did you mean 'reedbeds'?",
        "no facility 'marsh' in the area",
        "no facility 'fenveiw' in the area; did you mean 'fen-view'?",
        "no organisation 'fen-acut' in the area; did you mean 'fen-acute'?",
        "'fen-view' should look like [organisation/]facility=band",
        "no zone 'sedge-covd' in the area; did you mean 'sedge-covid'?",
    };
    uint32_t cols[] = {9, 20, 9, 20, 41, 7};
    for (size_t i = 0; i < 6; i++) {
        cr_expect(strstr(d.items[i].message, want[i]), "'%s' lacks '%s'",
                  d.items[i].message, want[i]);
        cr_expect_eq(d.items[i].col, cols[i], "%s at %u",
                     d.items[i].message, d.items[i].col);
    }
    cr_expect(!strstr(d.items[1].message, "did you mean"));
    ct_diags_free(&d);
    ct_diags_free(&w);
}

Test(manifest, needs_no_bed_meets_are_warnings)
{
    ct_diags d = {0}, w = {0};
    /* The default's unmet need, at the plugin's entry. */
    cr_assert_eq(settings_in(NULL, &d, &w), 0);
    cr_assert_eq(w.len, 1);
    cr_expect_eq(w.items[0].line, 7);
    cr_expect(strstr(w.items[0].message, "warning: the default of setting "
                                         "'needs' of plugin 'refs': need "
                                         "'telecare': no bed"),
              "%s", w.items[0].message);
    ct_diags_free(&w);
    /* An override's, at its position; a met need says nothing. */
    cr_assert_eq(settings_in("needs: [nursing, hoist]\n", &d, &w), 0);
    cr_assert_eq(w.len, 1);
    cr_expect_eq(w.items[0].col, 18);
    cr_expect(strstr(w.items[0].message, "need 'hoist'"), "%s",
              w.items[0].message);
    ct_diags_free(&w);
    /* Without an area, shapes only. */
    ct_manifest *m = parse(refs, &d);
    ct_node *o = yaml("surge: [nowhere]\nbands: [x]\n");
    json_t *s = NULL;
    cr_assert_eq(ct_manifest_settings(m, "area.yaml", o, &s, &d),
                 CT_ECONFIG);
    cr_assert_eq(d.len, 1);
    cr_expect(strstr(d.items[0].message, "'x' should look like"));
    ct_diags_free(&d);
    ct_node_free(o);
    ct_manifest_free(m);
}

Test(manifest, forms_checked_at_parse)
{
    struct {
        const char *from, *to, *needle;
    } bad[] = {
        {"    form: \"[organisation/]facility=band\"\n",
         "    form: \"[organisation/]]facility=band\"\n", "optional part"},
        {"    form: \"[organisation/]facility=band\"\n",
         "    form: \"facility=band[]\"\n", "empty form or optional part"},
        {"    form: \"[organisation/]facility=band\"\n",
         "    form: \"==\"\n", "no placeholder"},
        {"    type: zone\n", "    type: zone\n    form: zone\n",
         "'form' applies to strings"},
        {"    default: [\"fen-view=1\"]\n", "    default: [\"fen-view\"]\n",
         "should look like"},
        {"    items: facility\n", "    items: ward\n", "needs 'items'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *at = strstr(refs, bad[i].from);
        cr_assert_not_null(at, "%s", bad[i].from);
        char t[2048];
        snprintf(t, sizeof t, "%.*s%s%s", (int)(at - refs), refs, bad[i].to,
                 at + strlen(bad[i].from));
        ct_diags d = {0};
        cr_assert_null(parse(t, &d), "%s", bad[i].to);
        int found = 0;
        for (size_t j = 0; j < d.len; j++)
            found |= strstr(d.items[j].message, bad[i].needle) != NULL;
        cr_expect(found, "'%s' lacks '%s' (%s)", d.len ? d.items[0].message
                                                       : "",
                  bad[i].needle, bad[i].to);
        ct_diags_free(&d);
    }
}
