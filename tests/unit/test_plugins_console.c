/*
 * The plugin manager's functions for the analyst tools (host/plugins.c):
 * a running plugin's sandbox, the REPL's console with the real `ct`, and
 * line callbacks set before a plugin's init.lua runs (coverage).
 */
#include "capacity_fixture.h"
#include "kv.h"
#include "plugins.h"

#include <lua.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct pfx {
    cap_fx f;
    ct_plugins *m;
} pfx;

static void open_with(pfx *p, const char *plugins, ct_sandbox_line_fn fn,
                      void *ud)
{
    size_t n = strlen(cap_fx_area) + strlen(plugins) + 256;
    char *yaml = malloc(n);
    snprintf(yaml, n,
             "%splugin_path: [\"" CT_SOURCE_DIR "/tests/plugins\"]\n"
             "plugins:\n%s",
             cap_fx_area, plugins);
    cap_fx_open(&p->f, yaml);
    free(yaml);
    ct_diags d = {0};
    int rc = ct_plugins_new_traced(p->f.cap, p->f.cfg, fn, ud, &p->m, &d);
    cr_assert_eq(rc, 0, "plugins: %s", d.len ? d.items[0].message : "?");
    ct_diags_free(&d);
}

/* Runs code in sb; it must succeed and return one string (copied). */
static char *eval(ct_sandbox *sb, const char *code)
{
    int rc = ct_sandbox_load(sb, "console", code, strlen(code));
    if (rc == 0)
        rc = ct_sandbox_call(sb, "console", 0, 1);
    cr_assert_eq(rc, 0, "%s: %s", code, ct_sandbox_last_error(sb)->message);
    lua_State *L = ct_sandbox_state(sb);
    const char *s = lua_tostring(L, -1);
    char *out = strdup(s ? s : "(not a string)");
    lua_settop(L, 0);
    return out;
}

#define EVAL_EQ(sb, code, want)                                              \
    do {                                                                     \
        char *got_ = eval((sb), (code));                                     \
        cr_assert_str_eq(got_, (want), "%s", (code));                        \
        free(got_);                                                          \
    } while (0)

Test(plugins_console, sandbox_of_a_running_plugin)
{
    pfx p;
    open_with(&p, "  - name: triage_p2\n  - name: greeter\n", NULL, NULL);
    ct_sandbox *sb = ct_plugins_sandbox(p.m, "greeter");
    cr_assert_not_null(sb);
    cr_assert_str_eq(ct_sandbox_name(sb), "greeter");
    cr_assert_null(ct_plugins_sandbox(p.m, "nobody"));
    /* The real ct, with the plugin's own settings. */
    EVAL_EQ(ct_plugins_sandbox(p.m, "triage_p2"),
            "return ct.plugin.name .. ' ' .. ct.settings.pathway",
            "triage_p2 P2");
    ct_plugins_free(p.m);
    cap_fx_close(&p.f);
}

Test(plugins_console, console_has_the_host_api_and_sdk)
{
    pfx p;
    open_with(&p, "  - name: triage_p2\n", NULL, NULL);
    ct_sandbox *con = NULL;
    cr_assert_eq(ct_plugins_console_new(p.m, "repl", NULL, &con), 0);
    EVAL_EQ(con, "return ct.format_time(ct.now())",
            "2026-11-23T08:00:00.000Z");
    EVAL_EQ(con, "return tostring(ct.kv.set('k', {1, 2}))", "true");
    json_t *v = NULL;
    cr_assert_eq(ct_kv_get(p.f.store, "repl", "k", &v), 0,
                 "kv namespace of the console is 'repl'");
    cr_assert_eq(json_array_size(v), 2);
    json_decref(v);
    EVAL_EQ(con, "return require('caretide.inspect').inspect({a = 1})",
            "{a = 1}");
    EVAL_EQ(con,
            "local ok, err = pcall(ct.every, '15m', function() end)\n"
            "return tostring(ok) .. ': ' .. err",
            "false: ct.every(interval, fn) is only allowed in setup()");
    /* Survives a reload of the set. */
    ct_diags d = {0};
    cr_assert_eq(ct_plugins_reload(p.m, p.f.cfg, &d), 0);
    EVAL_EQ(con, "return ct.plugin.name", "repl");
    ct_plugins_console_free(con);
    ct_plugins_console_free(NULL);
    ct_plugins_free(p.m);
    cap_fx_close(&p.f);
}

struct seen {
    int init_lines; /* lines of init.lua, while it loads and later */
    int lib_lines;  /* lines of lib/util.lua */
};

static void on_line(void *ud, const char *source, int line)
{
    struct seen *s = ud;
    (void)line;
    if (strcmp(source, "@init.lua") == 0)
        s->init_lines++;
    else if (strcmp(source, "@lib/util.lua") == 0)
        s->lib_lines++;
}

Test(plugins_console, line_hook_from_before_init_runs)
{
    struct seen s = {0};
    pfx p;
    open_with(&p, "  - name: greeter\n", on_line, &s);
    /* Loading ran init.lua's main chunk and required lib/util.lua. */
    cr_assert_gt(s.init_lines, 0);
    cr_assert_gt(s.lib_lines, 0);
    int before = s.init_lines;
    ct_diags d = {0};
    cr_assert_eq(ct_plugins_reload(p.m, p.f.cfg, &d), 0);
    cr_assert_gt(s.init_lines, before, "reloaded sandboxes are traced too");
    ct_plugins_free(p.m);
    cap_fx_close(&p.f);
}
