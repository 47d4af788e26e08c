#include "config.h"
#include "error.h"
#include "plugin_check.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

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
