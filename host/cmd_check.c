/*
 * caretide check: validate the area config (and its plugins) without
 * writing anything, like `nginx -t`.
 */
#include "cli.h"

#include "auth.h"
#include "config.h"
#include "diag.h"
#include "error.h"
#include "host.h"
#include "plugin_check.h"
#include "plugins.h"
#include "token.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The token store beside the database (token.h), when there is one: it
 * must read, and share no secret with a token of the config. */
static int check_token_store(const ct_config *cfg, ct_diags *diags)
{
    char *path = ct_tokens_path(cfg->db_path);
    if (!path)
        return CT_ENOMEM;
    ct_tokens *t = NULL;
    char why[400] = "";
    int rc = ct_tokens_load(path, &t, why, sizeof why);
    if (!rc && (rc = ct_auth_check_clash(cfg, t, why, sizeof why)))
        ct_diags_add(diags, cfg->file, 0, 0, "%s", why);
    else if (rc)
        ct_diags_add(diags, path, 0, 0, "%s", why);
    ct_tokens_free(t);
    free(path);
    return rc;
}

static json_t *diag_array(const ct_diags *d)
{
    json_t *a = json_array();
    for (size_t i = 0; i < d->len; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:I, s:I, s:s}", "file",
                         d->items[i].file ? d->items[i].file : "", "line",
                         (json_int_t)d->items[i].line, "col",
                         (json_int_t)d->items[i].col, "message",
                         d->items[i].message ? d->items[i].message : ""));
    return a;
}

/* --json: {"ok": false, "errors": [{file, line, col, message}],
 * "warnings": [...]} or the area's counts with "ok": true, as one document
 * on stdout. */
static void print_json(const ct_config *cfg, const ct_diags *d,
                       const ct_diags *w)
{
    json_t *doc = json_pack("{s:b, s:o, s:o}", "ok", cfg != NULL, "errors",
                            diag_array(d), "warnings", diag_array(w));
    if (cfg)
        json_object_update_new(
            doc, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "file",
                           cfg->file, "area", cfg->area_id, "organisations",
                           (json_int_t)cfg->norgs, "facilities",
                           (json_int_t)cfg->nfacilities, "beds",
                           (json_int_t)cfg->nbeds, "plugins",
                           (json_int_t)cfg->nplugins));
    json_dumpf(doc, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(doc);
}

static bool same_diag(const ct_diag *a, const ct_diag *b)
{
    return a->line == b->line && a->col == b->col &&
           strcmp(a->file ? a->file : "", b->file ? b->file : "") == 0 &&
           strcmp(a->message ? a->message : "", b->message ? b->message
                                                           : "") == 0;
}

/* Adds from's records that to lacks: the dry run checks each plugin
 * entry again before its setup(), and says so only once. */
static void merge_new(ct_diags *to, const ct_diags *from)
{
    size_t had = to->len;
    for (size_t i = 0; i < from->len; i++) {
        bool seen = false;
        for (size_t j = 0; j < had && !seen; j++)
            seen = same_diag(&to->items[j], &from->items[i]);
        if (!seen)
            ct_diags_add(to, from->items[i].file, from->items[i].line,
                         from->items[i].col, "%s",
                         from->items[i].message ? from->items[i].message
                                                : "");
    }
}

int ct_cmd_check(int argc, char **argv)
{
    const char *config_path = NULL, *log_format = NULL, *log_level = NULL;
    bool quiet = false, json = false;
    const ct_cli_opt opts[] = {
        {"config", 'c', .text = &config_path},
        {"quiet", 'q', .flag = &quiet},
        {"json", 0, .flag = &json},
        {NULL},
    };
    int first, stop = ct_cli_parse("check", argc, argv, opts, &log_format,
                                   &log_level, &first);
    if (stop >= 0)
        return stop;
    if (first < argc)
        return ct_cli_usage_error("check", "unexpected argument '%s'",
                                  argv[first]);
    if (ct_cli_logging("check", log_format, log_level))
        return CT_EXIT_USAGE;

    /* Everything in one run: the area's own errors, then each plugin's
     * settings and references (also in an area with errors), then every
     * plugin set up as `run` sets it up (setup() with the area's settings,
     * a bundle's own tests) on a scratch copy, once the area itself loads:
     * check ok means run starts. */
    ct_diags diags = {0}, warnings = {0};
    ct_config *cfg = NULL;
    int rc = config_path ? ct_config_load_file_partial(config_path, &cfg,
                                                       &diags)
                         : ct_config_load_demo_partial(&cfg, &diags);
    bool ok = rc == 0;
    if (cfg && ok && check_token_store(cfg, &diags))
        ok = false;
    if (cfg && ct_plugin_check_area(cfg, &diags, &warnings))
        ok = false;
    if (cfg && rc == 0) {
        ct_diags dry = {0};
        if (ct_host_dry_run(cfg, &dry))
            ok = false;
        merge_new(&diags, &dry);
        ct_diags_free(&dry);
    }
    if (!ok) {
        if (json) {
            print_json(NULL, &diags, &warnings);
        } else {
            ct_diags_print(&diags, stdout);
            ct_diags_print(&warnings, stdout);
        }
        ct_diags_free(&diags);
        ct_diags_free(&warnings);
        ct_config_free(cfg);
        return CT_EXIT_FAIL;
    }
    if (json)
        print_json(cfg, &diags, &warnings);
    else
        ct_diags_print(&warnings, stdout);
    if (!json && !quiet)
        printf("%s: ok: area '%s', %zu organisations, %zu facilities, "
               "%zu beds, %zu plugins\n",
               cfg->file, cfg->area_id, cfg->norgs, cfg->nfacilities,
               cfg->nbeds, cfg->nplugins);
    ct_config_free(cfg);
    ct_diags_free(&diags);
    ct_diags_free(&warnings);
    return CT_EXIT_OK;
}
