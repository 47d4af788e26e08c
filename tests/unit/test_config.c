#include "config.h"
#include "error.h"
#include "fixtures.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* A small valid area that tests edit one line at a time. */
static const char base[] =
    "area: {id: t, name: Test}\n"                        /* 1 */
    "organisations:\n"                                   /* 2 */
    "  - id: acute\n"                                    /* 3 */
    "    name: Acute\n"                                  /* 4 */
    "    tokens:\n"                                      /* 5 */
    "      - role: hospital\n"                           /* 6 */
    "        sha256: 4875ee56e62cd4d8ae855db7a617b969fe279e0043ac7b7392c71dfca47de9c5\n"
    "facilities:\n"                                      /* 8 */
    "  - id: sd\n"                                       /* 9 */
    "    name: Step-down\n"                              /* 10 */
    "    kind: step_down\n"                              /* 11 */
    "    organisation: acute\n"                          /* 12 */
    "    zones:\n"                                       /* 13 */
    "      - id: red\n"                                  /* 14 */
    "        cohort: {covid: positive}\n"                /* 15 */
    "        beds:\n"                                    /* 16 */
    "          - range: R01..R10\n"                      /* 17 */
    "            tags: [isolation_room]\n"               /* 18 */
    "          - id: R-SURGE\n"                          /* 19 */
    "            surge: true\n";                         /* 20 */

static ct_config *load(const char *text, ct_diags *d)
{
    ct_config *cfg = NULL;
    int rc = ct_config_load_text("t.yaml", ".", text, strlen(text), &cfg, d);
    if (rc)
        cr_assert_null(cfg);
    return cfg;
}

/* Asserts exactly one diagnostic at line:col containing needle. */
static void expect_one(const char *text, uint32_t line, uint32_t col,
                       const char *needle)
{
    ct_diags d = {0};
    ct_config *cfg = load(text, &d);
    cr_assert_null(cfg, "config should fail: %s", needle);
    cr_assert_eq(d.len, 1, "want 1 diagnostic, got %zu (first: %s)", d.len,
                 d.len ? d.items[0].message : "-");
    cr_expect_eq(d.items[0].line, line, "line %u, want %u: %s",
                 d.items[0].line, line, d.items[0].message);
    cr_expect_eq(d.items[0].col, col, "col %u, want %u: %s", d.items[0].col,
                 col, d.items[0].message);
    cr_expect(strstr(d.items[0].message, needle), "'%s' lacks '%s'",
              d.items[0].message, needle);
    ct_diags_free(&d);
}

/* base with the first occurrence of from replaced by to. */
static char *edit(const char *from, const char *to)
{
    const char *at = strstr(base, from);
    cr_assert_not_null(at, "edit: '%s' not in base", from);
    size_t n = strlen(base) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - base), base, to,
             at + strlen(from));
    return out;
}

Test(config, loads_base_and_expands_ranges)
{
    ct_diags d = {0};
    ct_config *cfg = load(base, &d);
    cr_assert_not_null(cfg, "%s", d.len ? d.items[0].message : "");
    cr_assert_str_eq(cfg->area_id, "t");
    cr_assert_eq(cfg->nfacilities, 1);
    const ct_config_zone *z = &cfg->facilities[0].zones[0];
    cr_assert_eq(z->nbeds, 11);
    cr_assert_eq(cfg->nbeds, 11);
    cr_assert_str_eq(z->beds[0].id, "R01");
    cr_assert_str_eq(z->beds[9].id, "R10");
    cr_assert_eq(z->beds[9].ntags, 1);
    cr_assert_str_eq(z->beds[9].tags[0], "isolation_room");
    cr_assert(z->beds[10].surge);
    cr_assert_not(z->beds[0].surge);
    cr_assert_eq(z->ncohorts, 1);
    cr_assert_eq(z->cohorts[0].cohort, CT_COHORT_POSITIVE);
    cr_assert_eq(cfg->orgs[0].tokens[0].role, CT_ROLE_HOSPITAL);
    cr_assert_eq(cfg->orgs[0].tokens[0].sha256[0], 0x48);
    /* Defaults. */
    cr_assert_str_eq(cfg->listen_host, "127.0.0.1");
    cr_assert_eq(cfg->listen_port, 8470);
    cr_assert_eq(cfg->sync, CT_SYNC_FULL);
    cr_assert_eq(cfg->limits.plugin_memory, 64u << 20);
    cr_assert_eq(cfg->limits.plugin_deadline_ms, 50);
    cr_assert_eq(cfg->npathogens, 3);
    ct_config_free(cfg);
    ct_diags_free(&d);
}

Test(config, demo_is_valid_and_realistic)
{
    ct_diags d = {0};
    ct_config *cfg = NULL;
    cr_assert_eq(ct_config_load_demo(&cfg, &d), 0);
    const ct_config_facility *sd = ct_config_find_facility(cfg,
                                                           "willow-stepdown");
    cr_assert_not_null(sd);
    cr_assert(sd->designated);
    size_t beds = 0;
    for (size_t i = 0; i < sd->nzones; i++)
        for (size_t j = 0; j < sd->zones[i].nbeds; j++)
            beds += !sd->zones[i].beds[j].surge;
    cr_assert_eq(beds, 36, "36 rooms, got %zu", beds);
    /* Every role has a demo token. */
    int roles[CT_ROLE__COUNT] = {0};
    for (size_t i = 0; i < cfg->norgs; i++)
        for (size_t j = 0; j < cfg->orgs[i].ntokens; j++)
            roles[cfg->orgs[i].tokens[j].role]++;
    for (int r = 0; r < CT_ROLE__COUNT; r++)
        cr_assert(roles[r] > 0, "no demo token for role %s",
                  ct_role_name((ct_role)r));
    ct_config_free(cfg);
    ct_diags_free(&d);
}

Test(config, tab_in_indentation)
{
    char *t = edit("    name: Acute\n", "\tname: Acute\n");
    expect_one(t, 4, 1, "tab character");
    free(t);
}

/* An indentation error said in plain words, and not hiding the errors of
 * the other sections (nor what only the line left out would explain). */
Test(config, yaml_error_in_plain_words_beside_other_errors)
{
    char *t = edit("    name: Acute\n", "    name: Acute\n   name: Acute again\n");
    char *u = malloc(strlen(t) + 64);
    sprintf(u, "%slimits: {hold_ttl: forever}\n", t);
    ct_diags d = {0};
    cr_assert_null(load(u, &d));
    cr_assert_eq(d.len, 2, "got %zu, first: %s", d.len,
                 d.len ? d.items[0].message : "-");
    cr_expect_eq(d.items[0].line, 5);
    cr_expect(strstr(d.items[0].message, "indented to match neither the "
                                         "entries of the list that starts "
                                         "at line 3, column 3 nor their "
                                         "keys"),
              "%s", d.items[0].message);
    cr_expect_null(strstr(d.items[0].message, "did not find expected"));
    cr_expect_eq(d.items[1].line, 22);
    cr_expect(strstr(d.items[1].message, "'hold_ttl' must be a duration"),
              "%s", d.items[1].message);
    ct_diags_free(&d);
    free(u);
    free(t);
}

/* Two syntax errors in one file: both are reported, each once. */
Test(config, every_yaml_syntax_error_is_reported)
{
    char *t = edit("    kind: step_down\n",
                   "    kind: step_down: now\n");
    char *u = malloc(strlen(t) + 64);
    sprintf(u, "%slimits:\n  hold_ttl: 4h\n max_body: 1MiB\n", t);
    ct_diags d = {0};
    cr_assert_null(load(u, &d));
    cr_assert_eq(d.len, 2, "got %zu, first: %s", d.len,
                 d.len ? d.items[0].message : "-");
    cr_expect_eq(d.items[0].line, 11);
    cr_expect(strstr(d.items[0].message, "a ':' where no key can start"),
              "%s", d.items[0].message);
    cr_expect_eq(d.items[1].line, 23);
    cr_expect(strstr(d.items[1].message, "indented to match no key"),
              "%s", d.items[1].message);
    ct_diags_free(&d);
    free(u);
    free(t);
}

Test(config, truncated_flow_sequence)
{
    char *t = edit("tags: [isolation_room]\n", "tags: [isolation_room\n");
    ct_diags d = {0};
    cr_assert_null(load(t, &d));
    cr_assert_eq(d.len, 1);
    cr_assert(strstr(d.items[0].message, "the '[' at line 18, column 19 is "
                                         "not closed with ']'"),
              "%s", d.items[0].message);
    cr_assert_geq(d.items[0].line, 18);
    ct_diags_free(&d);
    free(t);
}

Test(config, empty_file)
{
    expect_one("", 0, 0, "file is empty");
    expect_one("# nothing here\n", 0, 0, "file is empty");
}

Test(config, unknown_key_with_suggestion)
{
    char *t = edit("    kind: step_down\n", "    knid: step_down\n");
    ct_diags d = {0};
    cr_assert_null(load(t, &d));
    /* The unknown key, and the missing 'kind' it was meant to be. */
    cr_assert_eq(d.len, 2);
    cr_assert_eq(d.items[0].line, 11);
    cr_assert_eq(d.items[0].col, 5);
    cr_assert_str_eq(d.items[0].message,
                     "unknown key 'knid' in a facility; did you mean 'kind'?");
    cr_assert(strstr(d.items[1].message, "missing required key 'kind'"));
    ct_diags_free(&d);
    free(t);
}

Test(config, unknown_key_without_suggestion)
{
    char *t = edit("    name: Step-down\n",
                   "    name: Step-down\n    colour: blue\n");
    expect_one(t, 11, 5, "unknown key 'colour' in a facility");
    free(t);
}

Test(config, wrong_types)
{
    char *t = edit("            surge: true\n", "            surge: \"yes\"\n");
    expect_one(t, 20, 20, "'surge' must be true or false");
    free(t);
    t = edit("    zones:\n", "    zones: 3\n    x_zones:\n");
    ct_diags d = {0};
    cr_assert_null(load(t, &d));
    cr_assert(strstr(d.items[0].message, "unknown key 'x_zones'") ||
              strstr(d.items[0].message, "'zones' must be a list"));
    ct_diags_free(&d);
    free(t);
}

Test(config, duplicate_ids)
{
    char *t = edit("          - id: R-SURGE\n", "          - id: R05\n");
    expect_one(t, 19, 13, "duplicate bed id 'R05' (first at line 17)");
    free(t);
    t = edit("  - id: acute\n    name: Acute\n",
             "  - id: acute\n    name: Acute\n  - id: acute\n    name: B\n");
    expect_one(t, 5, 9, "duplicate organisation id 'acute' (first at line 3)");
    free(t);
}

Test(config, duplicate_yaml_key)
{
    char *t = edit("    name: Step-down\n",
                   "    name: Step-down\n    name: Again\n");
    expect_one(t, 11, 5, "duplicate key 'name' (first at line 10)");
    free(t);
}

Test(config, dangling_reference)
{
    char *t = edit("    organisation: acute\n", "    organisation: acut\n");
    expect_one(t, 12, 19, "unknown organisation 'acut'");
    free(t);
    t = edit("{covid: positive}", "{measles: positive}");
    expect_one(t, 15, 18, "unknown pathogen 'measles'");
    free(t);
}

Test(config, out_of_range_values)
{
    char *t = edit("area: {id: t, name: Test}\n",
                   "area: {id: t, name: Test}\nlimits: {plugin_deadline: 5m}\n");
    expect_one(t, 2, 27, "'plugin_deadline' is out of range");
    free(t);
    t = edit("area: {id: t, name: Test}\n",
             "area: {id: t, name: Test}\nserver: {listen: \"127.0.0.1:70000\"}\n");
    expect_one(t, 2, 18, "port must be 0 to 65535");
    free(t);
    t = edit("range: R01..R10", "range: R10..R01");
    expect_one(t, 17, 20, "ends before it starts");
    free(t);
}

Test(config, enum_values)
{
    char *t = edit("kind: step_down", "kind: stepdown");
    expect_one(t, 11, 11, "unknown facility kind 'stepdown'; expected acute, "
                          "step_down, rehab, care_home, home_care or "
                          "virtual_ward");
    free(t);
    t = edit("role: hospital", "role: nurse");
    expect_one(t, 6, 15, "unknown role 'nurse'");
    free(t);
}

Test(config, tokens_from_env_and_file)
{
    const char *dir = ct_test_tmpdir();
    char *tokfile = ct_test_write_file(dir, "tok", "demo-hospital-token\n");
    setenv("CT_TEST_TOKEN", "another-viewer-token", 1);
    char line[512];
    snprintf(line, sizeof line,
             "      - role: hospital\n        file: %s\n"
             "      - role: viewer\n        env: CT_TEST_TOKEN\n",
             tokfile);
    char *t = edit("      - role: hospital\n        sha256: "
                   "4875ee56e62cd4d8ae855db7a617b969fe279e0043ac7b7392c71dfca"
                   "47de9c5\n",
                   line);
    ct_diags d = {0};
    ct_config *cfg = load(t, &d);
    cr_assert_not_null(cfg, "%s", d.len ? d.items[0].message : "");
    cr_assert_eq(cfg->orgs[0].ntokens, 2);
    /* The file's token hashes like the base's sha256 line. */
    cr_assert_eq(cfg->orgs[0].tokens[0].sha256[0], 0x48);
    ct_config_free(cfg);
    free(t);
    /* The same secret twice is an error at the second (issue 14). */
    setenv("CT_TEST_TOKEN", "demo-hospital-token", 1);
    t = edit("      - role: hospital\n        sha256: "
             "4875ee56e62cd4d8ae855db7a617b969fe279e0043ac7b7392c71dfca"
             "47de9c5\n",
             line);
    expect_one(t, 8, 9, "duplicate token: the same secret as the token at "
                        "line 6 (organisation acute)");
    free(t);
    unsetenv("CT_TEST_TOKEN");
    t = edit("        sha256: 4875ee56e62cd4d8ae855db7a617b969fe279e0043ac7b73"
             "92c71dfca47de9c5\n",
             "        env: CT_TEST_TOKEN\n");
    expect_one(t, 7, 14, "environment variable 'CT_TEST_TOKEN' is not set");
    free(t);
    t = edit("        sha256: 4875ee56e62cd4d8ae855db7a617b969fe279e0043ac7b73"
             "92c71dfca47de9c5\n",
             "        sha256: abc\n");
    expect_one(t, 7, 17, "64 hex digits");
    free(t);
    free(tokfile);
    ct_test_rmtree(dir);
}

Test(config, aliases_refused)
{
    char *t = edit("    name: Acute\n", "    name: &a Acute\n");
    expect_one(t, 4, 11, "anchors are not supported");
    free(t);
}

Test(config, all_errors_in_one_run)
{
    char *t = edit("    kind: step_down\n    organisation: acute\n",
                   "    kind: hotel\n    organisation: nobody\n");
    ct_diags d = {0};
    cr_assert_null(load(t, &d));
    cr_assert_eq(d.len, 2);
    cr_assert_eq(d.items[0].line, 11);
    cr_assert_eq(d.items[1].line, 12);
    ct_diags_free(&d);
    free(t);
}

Test(config, missing_file)
{
    ct_diags d = {0};
    ct_config *cfg = NULL;
    cr_assert_eq(ct_config_load_file("/nonexistent/area.yaml", &cfg, &d),
                 CT_ENOTFOUND);
    cr_assert_eq(d.len, 1);
    cr_assert(strstr(d.items[0].message, "no such file"));
    ct_diags_free(&d);
}

/* National identifiers (natid.h): optional, checked for form, and an ODS
 * code names one organisation only. */
Test(config, national_identifiers)
{
    char *t = edit("    name: Acute\n",
                   "    name: Acute\n    ods_code: R9Z\n");
    ct_diags d = {0};
    ct_config *cfg = load(t, &d);
    cr_assert_not_null(cfg, "%s", d.len ? d.items[0].message : "");
    cr_assert_str_eq(cfg->orgs[0].ods_code, "R9Z");
    cr_assert_eq(ct_config_find_org_by_ods(cfg, "R9Z"), &cfg->orgs[0]);
    cr_assert_null(ct_config_find_org_by_ods(cfg, "r9z"));
    cr_assert_null(cfg->facilities[0].cqc_location);
    ct_config_free(cfg);
    ct_diags_free(&d);
    free(t);

    t = edit("    name: Acute\n", "    name: Acute\n    ods_code: r9z\n");
    expect_one(t, 5, 15, "'r9z' is not an ODS organisation code");
    free(t);
    t = edit("    name: Acute\n", "    name: Acute\n    ods_code: R9Z-01\n");
    expect_one(t, 5, 15, "not an ODS organisation code");
    free(t);
    t = edit("    name: Step-down\n",
             "    name: Step-down\n    cqc_location_id: 1-101674693\n"
             "    ods_site_code: R9Z01\n");
    cfg = load(t, &d);
    cr_assert_not_null(cfg, "%s", d.len ? d.items[0].message : "");
    cr_assert_str_eq(cfg->facilities[0].cqc_location, "1-101674693");
    cr_assert_str_eq(cfg->facilities[0].ods_site, "R9Z01");
    ct_config_free(cfg);
    ct_diags_free(&d);
    free(t);
    t = edit("    name: Step-down\n",
             "    name: Step-down\n    cqc_location_id: 101674693\n");
    expect_one(t, 11, 22, "'101674693' is not a CQC location id");
    free(t);
    t = edit("    name: Step-down\n",
             "    name: Step-down\n    cqc_location_id: 1-12a45678\n");
    expect_one(t, 11, 22, "not a CQC location id");
    free(t);
}

Test(config, ods_code_names_one_organisation)
{
    char *t = edit("facilities:\n",
                   "  - id: other\n    name: Other\n    ods_code: R9Z\n"
                   "facilities:\n");
    char *t2 = NULL;
    const char *at = strstr(t, "    name: Acute\n");
    size_t n = strlen(t) + 32;
    t2 = malloc(n);
    snprintf(t2, n, "%.*s    name: Acute\n    ods_code: R9Z\n%s",
             (int)(at - t), t, at + strlen("    name: Acute\n"));
    expect_one(t2, 11, 15, "ODS code 'R9Z' is already organisation 'acute''s");
    free(t);
    free(t2);
}

Test(config, demo_organisations_carry_ods_codes)
{
    ct_diags d = {0};
    ct_config *cfg = NULL;
    cr_assert_eq(ct_config_load_demo(&cfg, &d), 0);
    for (size_t i = 0; i < cfg->norgs; i++)
        cr_assert_not_null(cfg->orgs[i].ods_code, "%s has no ODS code",
                           cfg->orgs[i].id);
    ct_config_free(cfg);
    ct_diags_free(&d);
}

/* An organisation's webhook (notify:) and the retries (notifications:):
 * secrets from env or file only, the URL checked by libcurl's parser,
 * every error at its line and column. */
Test(config, notify_webhooks)
{
    setenv("CT_TEST_HOOK_SECRET", "  a-webhook-secret-of-enough-length \n",
           1);
    char *t = edit("    name: Acute\n",
                   "    name: Acute\n    notify:\n"
                   "      url: https://epr.example.nhs.uk/fhir\n"
                   "      auth: bearer\n"
                   "      secret: {env: CT_TEST_HOOK_SECRET}\n");
    ct_diags d = {0};
    ct_config *cfg = load(t, &d);
    cr_assert_not_null(cfg, "%s", d.len ? d.items[0].message : "");
    const ct_config_notify *w = cfg->orgs[0].notify;
    cr_assert_not_null(w);
    cr_assert_str_eq(w->url, "https://epr.example.nhs.uk/fhir");
    cr_assert_eq(w->format, CT_NOTIFY_FHIR);
    cr_assert_eq(w->auth, CT_NOTIFY_AUTH_BEARER);
    cr_assert_str_eq(w->secret, "a-webhook-secret-of-enough-length");
    cr_assert_eq(cfg->notifications.max_attempts, 10);
    cr_assert_eq(cfg->notifications.backoff_ms, 10000);
    cr_assert_eq(cfg->notifications.max_backoff_ms, 3600000);
    cr_assert_eq(cfg->notifications.timeout_ms, 10000);
    ct_config_free(cfg);
    ct_diags_free(&d);
    free(t);

    /* A secret makes HMAC the default; json is the other format. */
    t = edit("    name: Acute\n",
             "    name: Acute\n    notify:\n"
             "      url: http://127.0.0.1:9/hook\n      format: json\n"
             "      secret: {env: CT_TEST_HOOK_SECRET}\n");
    cfg = load(t, &d);
    cr_assert_not_null(cfg, "%s", d.len ? d.items[0].message : "");
    cr_assert_eq(cfg->orgs[0].notify->auth, CT_NOTIFY_AUTH_HMAC);
    cr_assert_eq(cfg->orgs[0].notify->format, CT_NOTIFY_JSON);
    ct_config_free(cfg);
    ct_diags_free(&d);
    free(t);

    static const struct {
        const char *text, *needle;
        uint32_t line, col;
    } bad[] = {
        {"      url: ftp://x.example/y\n", "must be http:// or https://", 6,
         12},
        {"      url: https://u:p@x.example/y\n", "user or password", 6, 12},
        {"      url: https://x.example/y?token=1\n", "query", 6, 12},
        {"      url: https://x.example/y\n      format: hl7v2\n",
         "unknown format 'hl7v2'", 7, 15},
        {"      url: https://x.example/y\n      auth: hmac\n",
         "auth 'hmac' needs a 'secret'", 7, 13},
        {"      url: https://x.example/y\n      secret: {env: "
         "CT_TEST_NO_SUCH_VAR}\n",
         "'CT_TEST_NO_SUCH_VAR' is not set", 7, 21},
        {"      url: https://x.example/y\n      secret: plain-text-here\n",
         "'secret' must be a mapping", 7, 15},
        {"      url: https://x.example/y\n      secret: {env: "
         "CT_TEST_SHORT}\n",
         "too short", 7, 21},
        {"      uri: https://x.example/y\n", "did you mean 'url'", 6, 7},
    };
    setenv("CT_TEST_SHORT", "short", 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char with[300];
        snprintf(with, sizeof with, "    name: Acute\n    notify:\n%s",
                 bad[i].text);
        t = edit("    name: Acute\n", with);
        if (strstr(bad[i].text, "uri:")) {
            /* The unknown key and the missing url: both reported. */
            ct_diags dd = {0};
            cr_assert_null(load(t, &dd));
            cr_assert_eq(dd.len, 2);
            cr_expect(strstr(dd.items[0].message, bad[i].needle) ||
                          strstr(dd.items[1].message, bad[i].needle),
                      "%s / %s", dd.items[0].message, dd.items[1].message);
            ct_diags_free(&dd);
        } else {
            expect_one(t, bad[i].line, bad[i].col, bad[i].needle);
        }
        free(t);
    }

    size_t n = strlen(base) + 200;
    t = malloc(n);
    snprintf(t, n, "%snotifications:\n  backoff: 1m\n  max_backoff: 30s\n",
             base);
    expect_one(t, 23, 16, "'max_backoff' must not be shorter than 'backoff'");
    snprintf(t, n, "%snotifications:\n  max_attempts: 0\n", base);
    expect_one(t, 22, 17, "max_attempts");
    snprintf(t, n, "%snotifications:\n  retries: 3\n", base);
    expect_one(t, 22, 3, "unknown key 'retries'");
    snprintf(t, n,
             "%snotifications:\n  max_attempts: 3\n  backoff: 250ms\n"
             "  max_backoff: 1m\n  timeout: 2s\n",
             base);
    cfg = load(t, &d);
    cr_assert_not_null(cfg, "%s", d.len ? d.items[0].message : "");
    cr_assert_eq(cfg->notifications.max_attempts, 3);
    cr_assert_eq(cfg->notifications.backoff_ms, 250);
    cr_assert_eq(cfg->notifications.max_backoff_ms, 60000);
    cr_assert_eq(cfg->notifications.timeout_ms, 2000);
    ct_config_free(cfg);
    ct_diags_free(&d);
    free(t);
}
