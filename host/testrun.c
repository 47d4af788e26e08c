/*
 * caretide test's runner: which plugins and files to run, one scratch
 * host per test (testrun_host.c), results and coverage formatted by the
 * SDK and written as they come.
 */
#include "testrun_int.h"

#include "error.h"
#include "manifest.h"
#include "plugin_check.h"
#include "sandbox.h"
#include "util.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_TIMEOUT_MS 5000
#define MAX_DEPTH 8 /* of a plugin's directories, for coverage */

struct ct_testrun {
    ct_testrun_options o;
    ct_testrun_suite *suites;
    size_t nsuites;
    ct_sandbox *fmt; /* the SDK's formatters, outside any plugin */
    int fmt_ref;
    unsigned passed, failed, pending, number;
};

/* The formatters: {format_test, summary, coverage}, by index so that C
 * reaches them with lua_rawgeti, which cannot raise. */
static const char formatters[] =
    "local t = require('caretide.test')\n"
    "local cov = require('caretide.coverage_report')\n"
    "local function set(list)\n"
    "  local m = {}\n"
    "  for _, l in ipairs(list) do m[l] = true end\n"
    "  return m\n"
    "end\n"
    "return {\n"
    "  function(r, style, n) return t.format_test(r, style, n) end,\n"
    "  function(p, f, pending, style) return t.summary(p, f, pending, style) "
    "end,\n"
    "  function(files, min)\n"
    "    local data = {}\n"
    "    for _, f in ipairs(files) do\n"
    "      data[f.name] = { lines_code = set(f.code), lines_hit = set(f.hit) }\n"
    "    end\n"
    "    local report = cov.build(data)\n"
    "    local msg\n"
    "    if min then\n"
    "      local ok, m = cov.check(report, min)\n"
    "      if not ok then msg = m end\n"
    "    end\n"
    "    return cov.format(report) .. (msg and ('\\n' .. msg) or '')\n"
    "  end,\n"
    "}\n";

enum { FMT_TEST = 1, FMT_SUMMARY = 2, FMT_COVERAGE = 3 };

/* --- life cycle ------------------------------------------------------- */

int ct_testrun_new(const ct_testrun_options *opts, ct_testrun **out)
{
    *out = NULL;
    ct_testrun *r = calloc(1, sizeof *r);
    if (!r)
        return CT_ENOMEM;
    r->o = *opts;
    if (!r->o.out)
        r->o.out = stdout;
    if (r->o.timeout_ms <= 0)
        r->o.timeout_ms = DEFAULT_TIMEOUT_MS;
    r->fmt_ref = LUA_NOREF;
    ct_sandbox_limits lim = {.deadline_ms = 10000};
    int rc = ct_sandbox_new("caretide-test", NULL, &lim, &r->fmt);
    if (rc == 0)
        rc = ct_plugins_preload_sdk(r->fmt);
    if (rc == 0)
        rc = ct_sandbox_load(r->fmt, "caretide-test-format", formatters,
                             sizeof formatters - 1);
    if (rc == 0)
        rc = ct_sandbox_call(r->fmt, "formatters", 0, 1);
    if (rc == 0)
        rc = ct_sandbox_ref(r->fmt, "testrun formatters", &r->fmt_ref);
    if (rc) {
        ct_testrun_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

static void suite_free(ct_testrun_suite *s)
{
    free(s->dir);
    free(s->label);
    free(s->name);
    free(s->problem);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    ct_config_free(s->cfg);
    for (size_t i = 0; i < s->ncov; i++)
        ct_coverage_file_free(&s->cov[i]);
    free(s->cov);
}

void ct_testrun_free(ct_testrun *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nsuites; i++)
        suite_free(&r->suites[i]);
    free(r->suites);
    if (r->fmt_ref != LUA_NOREF)
        ct_sandbox_unref(r->fmt, r->fmt_ref);
    ct_sandbox_close(r->fmt);
    free(r);
}

size_t ct_testrun_plugins(const ct_testrun *r)
{
    return r->nsuites;
}

/* --- discovery ----------------------------------------------------------- */

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* A path or name built with printf; malloc'd ("" when out of memory,
 * which then names nothing that exists). */
static char *text(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static char *text(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s)
        return calloc(1, 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static bool has_manifest(const char *dir)
{
    char *path = text("%s/plugin.yaml", dir);
    bool yes = path && is_file(path);
    free(path);
    return yes;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of entries of dir accepted by keep, sorted; NULL-terminated. */
static char **list_dir(const char *dir, bool (*keep)(const char *, void *),
                       void *ud)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **v = calloc(1, sizeof *v);
    size_t n = 0;
    struct dirent *de;
    while (v && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !keep(de->d_name, ud))
            continue;
        char **w = realloc(v, (n + 2) * sizeof *v);
        if (!w)
            break;
        v = w;
        v[n] = strdup(de->d_name);
        if (v[n])
            v[++n] = NULL;
    }
    closedir(d);
    if (v)
        qsort(v, n, sizeof *v, cmp_str);
    return v;
}

static void free_list(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static bool test_file_name(const char *name, void *ud)
{
    (void)ud;
    return ends_with(name, "_test.lua");
}

static bool plugin_subdir(const char *name, void *ud)
{
    char *path = text("%s/%s", (const char *)ud, name);
    bool yes = path && is_dir(path) && has_manifest(path);
    free(path);
    return yes;
}

/* The suite for the plugin at dir (a real path), added when new. */
static ct_testrun_suite *suite_for(ct_testrun *r, const char *dir)
{
    for (size_t i = 0; i < r->nsuites; i++)
        if (strcmp(r->suites[i].dir, dir) == 0)
            return &r->suites[i];
    ct_testrun_suite *v =
        realloc(r->suites, (r->nsuites + 1) * sizeof *r->suites);
    if (!v)
        return NULL;
    r->suites = v;
    ct_testrun_suite *s = &v[r->nsuites];
    memset(s, 0, sizeof *s);
    s->bundle = r->o.bundle;
    s->dir = strdup(dir);
    const char *slash = strrchr(dir, '/');
    s->label = strdup(slash && slash[1] ? slash + 1 : dir);
    if (!s->dir || !s->label) {
        suite_free(s);
        return NULL;
    }
    r->nsuites++;
    return s;
}

static int add_file(ct_testrun_suite *s, const char *rel)
{
    for (size_t i = 0; i < s->nfiles; i++)
        if (strcmp(s->files[i], rel) == 0)
            return 0;
    char **v = realloc(s->files, (s->nfiles + 1) * sizeof *v);
    if (!v)
        return CT_ENOMEM;
    s->files = v;
    if (!(v[s->nfiles] = strdup(rel)))
        return CT_ENOMEM;
    s->nfiles++;
    qsort(s->files, s->nfiles, sizeof *s->files, cmp_str);
    return 0;
}

/* A plugin directory (real path); file NULL for all its tests. */
static int add_plugin(ct_testrun *r, const char *dir, const char *file)
{
    ct_testrun_suite *s = suite_for(r, dir);
    if (!s)
        return CT_ENOMEM;
    if (file)
        return add_file(s, file);
    if (s->bundle) {
        /* The verified bytes list the tests: a file added on disk since
         * is not one of them. */
        int rc = 0;
        for (size_t i = 0; i < ct_bundle_count(s->bundle) && rc == 0; i++) {
            const char *rel = ct_bundle_path_at(s->bundle, i);
            if (strncmp(rel, "test/", 5) == 0 && !strchr(rel + 5, '/') &&
                test_file_name(rel + 5, NULL))
                rc = add_file(s, rel);
        }
        return rc;
    }
    char *tdir = text("%s/test", dir);
    char **names = tdir && is_dir(tdir) ? list_dir(tdir, test_file_name, NULL)
                                        : NULL;
    free(tdir);
    int rc = 0;
    for (size_t i = 0; names && names[i] && rc == 0; i++) {
        char *rel = text("test/%s", names[i]);
        rc = rel ? add_file(s, rel) : CT_ENOMEM;
        free(rel);
    }
    free_list(names);
    return rc;
}

int ct_testrun_add(ct_testrun *r, const char *path, ct_diags *diags)
{
    char *real = realpath(path, NULL);
    if (!real) {
        ct_diags_add(diags, path, 0, 0, "no such file or directory");
        return CT_ENOTFOUND;
    }
    int rc = 0;
    if (is_file(real)) {
        /* PLUGIN/test/NAME_test.lua */
        char *slash = strrchr(real, '/');
        char *file = slash + 1;
        *slash = '\0';
        char *up = strrchr(real, '/');
        if (!ends_with(file, "_test.lua") || !up ||
            strcmp(up + 1, "test") != 0 || (*up = '\0', !has_manifest(real))) {
            ct_diags_add(diags, path, 0, 0,
                         "not a plugin test file (expected "
                         "PLUGIN/test/NAME_test.lua beside PLUGIN/"
                         "plugin.yaml)");
            rc = CT_EINVAL;
        } else {
            char *rel = text("test/%s", file);
            rc = add_plugin(r, real, rel);
            free(rel);
        }
    } else if (has_manifest(real)) {
        rc = add_plugin(r, real, NULL);
    } else {
        char **subs = list_dir(real, plugin_subdir, real);
        if (!subs || !subs[0]) {
            ct_diags_add(diags, path, 0, 0,
                         "neither a plugin (no plugin.yaml) nor a directory "
                         "of plugins");
            rc = CT_EINVAL;
        }
        for (size_t i = 0; subs && subs[i] && rc == 0; i++) {
            char *dir = text("%s/%s", real, subs[i]);
            rc = add_plugin(r, dir, NULL);
            free(dir);
        }
        free_list(subs);
    }
    free(real);
    return rc;
}

int ct_testrun_add_config(ct_testrun *r, const ct_config *cfg,
                          ct_diags *diags)
{
    int rc = 0;
    for (size_t i = 0; i < cfg->nplugins; i++) {
        char *dir = ct_plugin_check_resolve(cfg, &cfg->plugins[i], diags);
        char *real = dir ? realpath(dir, NULL) : NULL;
        if (!real)
            rc = CT_ECONFIG;
        else if (add_plugin(r, real, NULL))
            rc = CT_ENOMEM;
        free(real);
        free(dir);
    }
    return rc;
}

/* The area's own test files: each tests entry, a *_test.lua file or a
 * directory of them, named relative to the config's directory when under
 * it. */
static int add_area_tests(ct_testrun *r, const ct_config *cfg,
                          ct_diags *diags)
{
    char *base = realpath(cfg->dir, NULL);
    if (!base)
        return CT_ENOMEM;
    ct_testrun_suite *s = NULL;
    int rc = 0;
    for (size_t i = 0; i < cfg->ntests && rc == 0; i++) {
        char *real = realpath(cfg->tests[i], NULL);
        if (!real || (!is_dir(real) && !ends_with(real, "_test.lua"))) {
            ct_diags_add(diags, cfg->file, cfg->test_lines[i], 0,
                         "tests: %s is %s", cfg->tests[i],
                         real ? "neither a directory nor a *_test.lua file"
                              : "not there");
            free(real);
            rc = CT_ECONFIG;
            break;
        }
        if (!s) {
            /* A suite of its own, named after the area. */
            s = suite_for(r, base);
            if (!s) {
                free(real);
                rc = CT_ENOMEM;
                break;
            }
            free(s->label);
            s->label = ct_strdup(cfg->area_id);
            s->area = cfg;
            s->area_tests = true;
        }
        size_t bn = strlen(base);
        bool under = strncmp(real, base, bn) == 0 && real[bn] == '/';
        char **names = is_dir(real) ? list_dir(real, test_file_name, NULL)
                                    : NULL;
        if (!is_dir(real)) {
            rc = add_file(s, under ? real + bn + 1 : real);
        } else {
            for (size_t j = 0; names && names[j] && rc == 0; j++) {
                char *rel = text("%s/%s", under ? real + bn + 1 : real,
                                 names[j]);
                rc = add_file(s, rel);
                free(rel);
            }
        }
        free_list(names);
        free(real);
    }
    free(base);
    return rc;
}

int ct_testrun_add_area(ct_testrun *r, const ct_config *cfg,
                        ct_diags *diags)
{
    size_t first = r->nsuites;
    int rc = ct_testrun_add_config(r, cfg, diags);
    for (size_t i = first; i < r->nsuites; i++)
        r->suites[i].area = cfg;
    int trc = add_area_tests(r, cfg, diags);
    return rc ? rc : trc;
}

/* --- coverage files -------------------------------------------------------- */

static bool any_entry(const char *name, void *ud)
{
    (void)name;
    (void)ud;
    return true;
}

/* One source file of the plugin (sub relative to its directory). */
static int add_code_file(ct_testrun_suite *s, const char *sub,
                         const char *path)
{
    char *src = NULL, *err = NULL;
    size_t len = 0;
    if (ct_read_file(path, &src, &len))
        return 0;
    ct_coverage_file *v = realloc(s->cov, (s->ncov + 1) * sizeof *v);
    if (!v) {
        free(src);
        return CT_ENOMEM;
    }
    s->cov = v;
    char *name = text("%s/%s", s->label, sub);
    char *source = text("@%s", sub);
    /* A file that does not compile fails the plugin's load anyway. */
    if (ct_coverage_file_init(&v[s->ncov], name, source, src, len, &err) ==
        0)
        s->ncov++;
    free(name);
    free(source);
    free(err);
    free(src);
    return 0;
}

/* Every .lua file of the plugin except its tests, as coverage files. */
static int collect_code(ct_testrun_suite *s, const char *rel, int depth)
{
    char *dir = text("%s%s%s", s->dir, *rel ? "/" : "", rel);
    char **names = depth <= MAX_DEPTH ? list_dir(dir, any_entry, NULL)
                                      : NULL;
    free(dir);
    int rc = 0;
    for (size_t i = 0; names && names[i] && rc == 0; i++) {
        char *sub = text("%s%s%s", rel, *rel ? "/" : "", names[i]);
        char *path = text("%s/%s", s->dir, sub);
        if (is_dir(path)) {
            if (!(depth == 0 && strcmp(names[i], "test") == 0))
                rc = collect_code(s, sub, depth + 1);
        } else if (ends_with(names[i], ".lua") && is_file(path)) {
            rc = add_code_file(s, sub, path);
        }
        free(path);
        free(sub);
    }
    free_list(names);
    return rc;
}

/* --- output ---------------------------------------------------------------- */

/* Calls formatter idx with the nargs values already pushed above it;
 * returns its text (malloc'd) or NULL. The formatter is pushed below the
 * arguments by the caller through push_formatter. */
static char *call_formatter(ct_testrun *r, int nargs)
{
    if (ct_sandbox_call(r->fmt, "format", nargs, 1))
        return ct_strdup(ct_sandbox_last_error(r->fmt)->message);
    lua_State *L = ct_sandbox_state(r->fmt);
    size_t len = 0;
    const char *s = lua_tolstring(L, -1, &len);
    char *out = s ? ct_strndup(s, len) : NULL;
    lua_settop(L, lua_gettop(L) - 1);
    return out;
}

static void push_formatter(ct_testrun *r, int idx)
{
    lua_State *L = ct_sandbox_state(r->fmt);
    ct_sandbox_push_ref(r->fmt, r->fmt_ref);
    lua_rawgeti(L, -1, idx);
    lua_remove(L, -2);
}

static const char *style(const ct_testrun *r)
{
    return r->o.tap ? "tap" : "plain";
}

/* Pushes a JSON value (consumed); false when it could not be. */
static bool push_json(ct_testrun *r, json_t *v)
{
    int rc = v ? ct_sandbox_push_json(r->fmt, v) : CT_ENOMEM;
    json_decref(v);
    return rc == 0;
}

/* Counts and writes one result (consumed). */
static void report(ct_testrun *r, json_t *result)
{
    if (r->o.on_result && result)
        r->o.on_result(result, r->o.on_result_ud);
    const char *status = json_string_value(json_object_get(result, "status"));
    if (status && strcmp(status, "pass") == 0)
        r->passed++;
    else if (status && strcmp(status, "pending") == 0)
        r->pending++;
    else
        r->failed++;
    r->number++;
    lua_State *L = ct_sandbox_state(r->fmt);
    int top = lua_gettop(L);
    push_formatter(r, FMT_TEST);
    char *text = NULL;
    if (push_json(r, result) && push_json(r, json_string(style(r)))) {
        lua_pushinteger(L, (lua_Integer)r->number);
        text = call_formatter(r, 3);
    }
    lua_settop(L, top);
    fprintf(r->o.out, "%s\n", text ? text : "(cannot format a result)");
    fflush(r->o.out);
    free(text);
}

/* Writes text with every line prefixed (TAP comments) or as it is. */
static void write_lines(ct_testrun *r, const char *text)
{
    if (!r->o.tap) {
        fprintf(r->o.out, "%s\n", text);
        return;
    }
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(r->o.out, "# %.*s\n", (int)n, p);
        p += n + (nl ? 1 : 0);
    }
}

/* The coverage table over every suite; false when below the minimum. */
static bool report_coverage(ct_testrun *r)
{
    json_t *files = json_array();
    int code = 0, hit = 0;
    for (size_t i = 0; i < r->nsuites; i++) {
        ct_testrun_suite *s = &r->suites[i];
        for (size_t j = 0; j < s->ncov; j++) {
            ct_coverage_file *f = &s->cov[j];
            json_t *c = json_array(), *h = json_array();
            for (int l = 1; l <= f->nlines; l++) {
                if (!f->code[l])
                    continue;
                json_array_append_new(c, json_integer(l));
                code++;
                if (f->hits[l]) {
                    json_array_append_new(h, json_integer(l));
                    hit++;
                }
            }
            json_array_append_new(files, json_pack("{s:s, s:o, s:o}", "name",
                                                   f->name, "code", c, "hit",
                                                   h));
        }
    }
    lua_State *L = ct_sandbox_state(r->fmt);
    int top = lua_gettop(L);
    push_formatter(r, FMT_COVERAGE);
    char *text = NULL;
    if (push_json(r, files)) {
        if (r->o.min_coverage >= 0)
            lua_pushnumber(L, r->o.min_coverage);
        else
            lua_pushnil(L);
        text = call_formatter(r, 2);
    }
    lua_settop(L, top);
    write_lines(r, text ? text : "(cannot format the coverage report)");
    free(text);
    if (r->o.min_coverage < 0)
        return true;
    return (double)hit * 100.0 >= r->o.min_coverage * (double)code;
}

static void report_summary(ct_testrun *r)
{
    lua_State *L = ct_sandbox_state(r->fmt);
    int top = lua_gettop(L);
    push_formatter(r, FMT_SUMMARY);
    lua_pushinteger(L, r->passed);
    lua_pushinteger(L, r->failed);
    lua_pushinteger(L, r->pending);
    char *text = NULL;
    if (push_json(r, json_string(style(r))))
        text = call_formatter(r, 4);
    lua_settop(L, top);
    if (text)
        fprintf(r->o.out, "%s\n", text);
    else
        fprintf(r->o.out, "%u passed, %u failed\n", r->passed, r->failed);
    fflush(r->o.out);
    free(text);
}

/* --- running ----------------------------------------------------------------- */

/* The line of the first frame of traceback in chunk (Lua shortens long
 * chunk names to "...tail"), or 0. */
static int traceback_line(const char *tb, const char *chunk)
{
    for (const char *p = strstr(tb, "\n\t"); p; p = strstr(p + 1, "\n\t")) {
        const char *name = p + 2;
        const char *colon = strchr(name, ':');
        if (!colon)
            break;
        size_t n = (size_t)(colon - name), cn = strlen(chunk);
        bool same = (n == cn && strncmp(name, chunk, n) == 0) ||
                    (n > 3 && strncmp(name, "...", 3) == 0 && cn >= n - 3 &&
                     strncmp(chunk + cn - (n - 3), name + 3, n - 3) == 0);
        if (same)
            return atoi(colon + 1);
    }
    return 0;
}

/* A failure the test API could not report itself: the plugin did not
 * load, the file did not, or the deadline stopped the test. */
static json_t *failure(int64_t id, const char *name, const char *chunk,
                       const char *message, const char *tb)
{
    json_t *res = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)id,
                            "name", name, "status", "fail", "file", chunk,
                            "message", message);
    if (!res)
        return NULL;
    /* An error raised at the top of the test file names its line. */
    size_t cn = strlen(chunk);
    int line = 0;
    if (strncmp(message, chunk, cn) == 0 && message[cn] == ':') {
        char *end;
        long l = strtol(message + cn + 1, &end, 10);
        if (end != message + cn + 1 && *end == ':' && l > 0) {
            line = (int)l;
            json_object_set_new(res, "message",
                                json_string(end[1] == ' ' ? end + 2
                                                          : end + 1));
        }
    }
    if (!line && tb)
        line = traceback_line(tb, chunk);
    if (line)
        json_object_set_new(res, "line", json_integer(line));
    if (tb && *tb)
        json_object_set_new(res, "traceback", json_string(tb));
    return res;
}

/* Every test of one file, a fresh scratch host each. */
static void run_file(ct_testrun *r, ct_testrun_suite *s, const char *file)
{
    json_t *names = NULL;
    char *chunk = text("%s/%s", s->label, file);
    for (int64_t id = 1;; id++) {
        if (s->problem) {
            report(r, failure(id, chunk, chunk, s->problem, NULL));
            break;
        }
        ct_testrun_env e;
        if (ct_testrun__env_open(&e, s, file, r->o.coverage)) {
            report(r, failure(id, chunk, chunk, e.problem, NULL));
            break;
        }
        json_t *plan = NULL, *result = NULL;
        int rc = ct_testrun__env_run(&e, id, r->o.timeout_ms, &plan, &result);
        if (!names && plan)
            names = json_incref(plan);
        if (rc) {
            const ct_sandbox_error *err = ct_sandbox_last_error(e.sb);
            const char *name =
                json_string_value(json_array_get(names, (size_t)id - 1));
            /* Before the file declared its tests, the file itself fails;
             * later only the deadline stops a test this way. */
            char msg[640];
            const char *text = err->detail[0] ? err->detail : err->message;
            if (rc == CT_ETIMEOUT) {
                /* Where it was stopped, when the code running was Lua. */
                /* In the test file, its line (failure() reads the prefix);
                 * elsewhere (the plugin's code), named in the message. */
                char where[200] = "", at[200] = "";
                if (err->line > 0 && strcmp(err->file, chunk) == 0)
                    snprintf(where, sizeof where, "%s:%d: ", chunk,
                             err->line);
                else if (err->line > 0)
                    snprintf(at, sizeof at, ", stopped at %s:%d", err->file,
                             err->line);
                snprintf(msg, sizeof msg,
                         "%sdeadline of %lld ms exceeded (caretide test "
                         "--timeout)%s",
                         where, (long long)r->o.timeout_ms, at);
                text = msg;
            } else if (name) {
                text = err->message;
            }
            report(r, failure(id, name ? name : chunk, chunk, text,
                              err->traceback));
        } else {
            if (json_is_object(result))
                report(r, json_incref(result));
        }
        json_decref(plan);
        json_decref(result);
        ct_testrun__env_close(&e);
        if (!names || id >= (int64_t)json_array_size(names))
            break;
    }
    json_decref(names);
    free(chunk);
}

/* Reads the manifest and builds the scratch config; on failure the
 * suite's problem says why (every test file then reports it). */
/* The area's trusted keys, copied into a suite's scratch config. */
static void copy_trust(ct_trust *to, const ct_trust *from)
{
    for (size_t i = 0; i < from->nkeys; i++) {
        ct_trust_key k = from->keys[i];
        k.name = ct_strdup(k.name);
        k.file = ct_strdup(k.file);
        if (ct_trust_add(to, &k))
            ct_trust_key_clear(&k);
    }
}

static void prepare(ct_testrun *r, ct_testrun_suite *s)
{
    if (s->area_tests)
        return; /* the area's own files: the area is the config */
    ct_manifest *m = NULL;
    ct_diags d = {0};
    if (ct_manifest_load(s->dir, &m, &d)) {
        ct_buf b = {0};
        for (size_t i = 0; i < d.len; i++)
            ct_buf_printf(&b, "%s%s:%u: %s", i ? "\n" : "", d.items[i].file,
                          d.items[i].line, d.items[i].message);
        s->problem = b.data ? b.data : ct_strdup("cannot read plugin.yaml");
    } else {
        s->name = ct_strdup(m->name);
        if (!s->area && ct_testrun__suite_config(s) == 0 && r->o.trust)
            copy_trust(&s->cfg->trust, r->o.trust);
    }
    ct_manifest_free(m);
    ct_diags_free(&d);
    if (r->o.coverage && !s->problem)
        collect_code(s, "", 0);
}

int ct_testrun_run(ct_testrun *r, ct_testrun_totals *totals)
{
    r->passed = r->failed = r->pending = r->number = 0;
    if (r->o.tap)
        fprintf(r->o.out, "TAP version 13\n");
    for (size_t i = 0; i < r->nsuites; i++) {
        ct_testrun_suite *s = &r->suites[i];
        prepare(r, s);
        if (s->nfiles == 0 && s->problem)
            report(r, failure(1, s->label, s->label, s->problem, NULL));
        else if (s->nfiles == 0)
            fprintf(stderr, "caretide test: %s has no test/*_test.lua\n",
                    s->label);
        for (size_t j = 0; j < s->nfiles; j++)
            run_file(r, s, s->files[j]);
    }
    if (r->o.tap)
        fprintf(r->o.out, "1..%u\n", r->number);
    bool cov_ok = true;
    if (r->o.coverage)
        cov_ok = report_coverage(r);
    report_summary(r);
    if (totals)
        *totals = (ct_testrun_totals){r->passed, r->failed, r->pending,
                                      cov_ok};
    return r->failed == 0 && cov_ok ? 0 : CT_EPLUGIN;
}

/* --- the bundle self-test ------------------------------------------------- */

static void first_failure(const json_t *result, void *ud)
{
    ct_plugins_test_result *res = ud;
    const char *status = json_string_value(json_object_get(result, "status"));
    if (res->first_failure[0] || !status || strcmp(status, "fail") != 0)
        return;
    const char *name = json_string_value(json_object_get(result, "name"));
    const char *msg = json_string_value(json_object_get(result, "message"));
    snprintf(res->first_failure, sizeof res->first_failure, "%s: %s",
             name ? name : "?", msg ? msg : "failed");
}

int ct_testrun_self_test(const char *dir, const ct_trust *trust,
                         const ct_bundle *bundle,
                         ct_plugins_test_result *res, ct_diags *diags)
{
    memset(res, 0, sizeof *res);
    /* Results are taken structured; the text goes nowhere. */
    FILE *out = fopen("/dev/null", "w");
    if (!out)
        return CT_EIO;
    ct_testrun_options opts = {.min_coverage = -1,
                               .out = out,
                               .trust = trust,
                               .bundle = bundle,
                               .on_result = first_failure,
                               .on_result_ud = res};
    ct_testrun *run = NULL;
    ct_testrun_totals totals = {0};
    int rc = ct_testrun_new(&opts, &run);
    if (rc == 0)
        rc = ct_testrun_add(run, dir, diags);
    if (rc == 0)
        rc = ct_testrun_run(run, &totals);
    ct_testrun_free(run);
    fclose(out);
    res->passed = totals.passed;
    res->failed = totals.failed;
    return rc == CT_EPLUGIN ? 0 : rc;
}
