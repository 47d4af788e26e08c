/*
 * The host API plugins call (host/hostapi.c), through the plugin manager
 * with the test plugins under tests/plugins: calls from coroutines, and
 * arguments at the edges of their ranges.
 */
#include "capacity_fixture.h"
#include "fixtures.h"
#include "kv.h"
#include "plugins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pfx {
    cap_fx f;
    ct_plugins *m;
} pfx;

static void open_with(pfx *p, const char *plugins, const char *extra)
{
    size_t n = strlen(cap_fx_area) + strlen(plugins) + strlen(extra) + 256;
    char *yaml = malloc(n);
    snprintf(yaml, n,
             "%s"
             "plugin_path: [\"" CT_SOURCE_DIR "/tests/plugins\"]\n"
             "plugins:\n%s%s%s",
             cap_fx_area, plugins, extra,
             strstr(extra, "limits:") ? "" : "limits: {plugin_deadline: 2s}\n");
    cap_fx_open(&p->f, yaml);
    free(yaml);
    ct_diags d = {0};
    int rc = ct_plugins_new(p->f.cap, p->f.cfg, &p->m, &d);
    cr_assert_eq(rc, 0, "plugins: %s", d.len ? d.items[0].message : "?");
    ct_diags_free(&d);
}

static void close_pfx(pfx *p)
{
    ct_plugins_free(p->m);
    cap_fx_close(&p->f);
}

static const char *seen(const json_t *v, const char *k)
{
    const char *s = json_string_value(json_object_get(v, k));
    cr_assert_not_null(s, "seen.%s is not a string", k);
    return s;
}

TestSuite(hostapi);

Test(hostapi, calls_from_coroutines_use_the_coroutine_stack)
{
    pfx p;
    open_with(&p, "  - name: costack\n", "");
    json_t *v = NULL;
    cr_assert_eq(ct_kv_get(p.f.store, "costack", "seen", &v), 0);
    cr_assert_str_eq(seen(v, "capacity"), "table");
    cr_assert_str_eq(seen(v, "beds"), "table");
    cr_assert(json_is_true(json_object_get(v, "emit")));
    cr_assert_str_eq(seen(v, "on"), "ok");
    json_decref(v);
    cr_assert_eq(ct_kv_get(p.f.store, "costack", "from_co", &v), 0);
    cr_assert_eq(json_integer_value(json_object_get(v, "n")), 7);
    json_decref(v);
    char *where = cap_fx_text(&p.f,
                              "SELECT group_concat(json_extract(payload, "
                              "'$.where')) FROM event WHERE kind = ?1",
                              "plugin.costack.tested");
    cr_assert_str_eq(where, "coroutine");
    free(where);
    close_pfx(&p);
}

Test(hostapi, format_time_and_surge_count_ranges)
{
    pfx p;
    open_with(&p, "  - name: costack\n", "");
    json_t *v = NULL;
    cr_assert_eq(ct_kv_get(p.f.store, "costack", "seen", &v), 0);
    cr_assert(strstr(seen(v, "format_min"), "expected format_time(ms"),
              "%s", seen(v, "format_min"));
    cr_assert(strstr(seen(v, "format_max"), "expected format_time(ms"),
              "%s", seen(v, "format_max"));
    cr_assert_str_eq(seen(v, "format_edge"), "9999-12-31T23:59:59.999Z");
    /* The wrapped count was "all": no surge bed may have opened. */
    cr_assert_eq(cap_fx_int(&p.f,
                            "SELECT count(*) FROM event WHERE kind = ?1",
                            "surge.opened"),
                 0);
    json_decref(v);
    close_pfx(&p);
}
