/*
 * caretide test: run plugin tests (docs/testing.md). The last line of the
 * output is always "N passed, N failed"; the exit status is 0 only when
 * every test passed and coverage met its minimum.
 */
#include "cli.h"

#include "config.h"
#include "diag.h"
#include "error.h"
#include "testrun.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "80", "80.5", "80%" -> 0..100 */
static int parse_percent(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || (*end && strcmp(end, "%") != 0) || !(v >= 0 && v <= 100))
        return CT_EINVAL;
    *out = v;
    return 0;
}

/* --min-coverage: implies --coverage. */
static int min_coverage(const char *cmd, const char *value, void *to)
{
    ct_testrun_options *o = to;
    if (parse_percent(value, &o->min_coverage))
        return ct_cli_usage_error(cmd, "--min-coverage: expected a "
                                       "percentage from 0 to 100, got '%s'",
                                  value);
    o->coverage = true;
    return -1;
}

static int timeout(const char *cmd, const char *value, void *to)
{
    ct_testrun_options *o = to;
    if (ct_parse_duration_ms(value, &o->timeout_ms) || o->timeout_ms < 1)
        return ct_cli_usage_error(cmd, "--timeout: expected a duration "
                                       "like 5s, got '%s'",
                                  value);
    return -1;
}

int ct_cmd_test(int argc, char **argv)
{
    const char *config_path = NULL, *log_format = NULL, *log_level = NULL;
    ct_testrun_options o = {.min_coverage = -1};
    const ct_cli_opt opts[] = {
        {"config", 'c', .text = &config_path},
        {"tap", 0, .flag = &o.tap},
        {"coverage", 0, .flag = &o.coverage},
        {"min-coverage", 0, .parse = min_coverage, .to = &o,
         .has_value = true},
        {"timeout", 0, .parse = timeout, .to = &o, .has_value = true},
        {NULL},
    };
    int first, stop = ct_cli_parse("test", argc, argv, opts, &log_format,
                                   &log_level, &first);
    if (stop >= 0)
        return stop;
    if (config_path && first == argc && o.coverage)
        return ct_cli_usage_error("test", "--coverage measures plugins "
                                          "tested alone: name their "
                                          "directories instead of --config");
    /* Each test opens a store; its info lines would drown the results. */
    if (ct_cli_logging("test", log_format, log_level ? log_level : "warn"))
        return CT_EXIT_USAGE;

    ct_testrun *r = NULL;
    int rc = ct_testrun_new(&o, &r);
    if (rc) {
        fprintf(stderr, "caretide test: cannot start the runner: %s\n",
                ct_strerror(rc));
        return CT_EXIT_FAIL;
    }
    ct_diags diags = {0};
    ct_config *cfg = NULL;
    int status = CT_EXIT_OK;
    if (first < argc) {
        if (config_path)
            fprintf(stderr, "caretide test: --config is ignored when paths "
                            "are given\n");
        for (int i = first; i < argc; i++)
            if (ct_testrun_add(r, argv[i], &diags))
                status = CT_EXIT_USAGE;
    } else {
        rc = config_path ? ct_config_load_file(config_path, &cfg, &diags)
                         : ct_config_load_demo(&cfg, &diags);
        /* --config: the area's tests, everything on the area's own host;
         * without it, the demo's plugins each alone. */
        if (rc == 0 && (config_path ? ct_testrun_add_area(r, cfg, &diags)
                                    : ct_testrun_add_config(r, cfg, &diags)))
            status = CT_EXIT_FAIL;
        if (rc)
            status = CT_EXIT_FAIL;
        else if (cfg->nplugins == 0 && cfg->ntests == 0)
            fprintf(stderr, "caretide test: %s configures no plugins; "
                            "name plugin directories to test them\n",
                    cfg->file);
    }
    if (status != CT_EXIT_OK) {
        ct_diags_print(&diags, stderr);
        ct_diags_free(&diags);
        ct_config_free(cfg);
        ct_testrun_free(r);
        return status;
    }
    ct_testrun_totals t;
    rc = ct_testrun_run(r, &t);
    ct_diags_free(&diags);
    ct_config_free(cfg);
    ct_testrun_free(r);
    if (rc && rc != CT_EPLUGIN) {
        fprintf(stderr, "caretide test: %s\n", ct_strerror(rc));
        return CT_EXIT_FAIL;
    }
    return rc ? CT_EXIT_FAIL : CT_EXIT_OK;
}
