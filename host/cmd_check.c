/*
 * caretide check: validate the area config (and its plugins) without
 * writing anything, like `nginx -t`.
 */
#include "cli.h"

#include "config.h"
#include "diag.h"
#include "plugin_check.h"
#include "plugins.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int ct_cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"log-format", required_argument, NULL, 'F'},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *log_format = NULL, *log_level = NULL;
    int quiet = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'q': quiet = 1; break;
        case 'F': log_format = optarg; break;
        case 'L': log_level = optarg; break;
        case 'h': return ct_cli_help("check");
        case ':':
            return ct_cli_usage_error("check", "option '%s' needs a value",
                                      argv[optind - 1]);
        default:
            return ct_cli_usage_error("check", "unknown option '%s'",
                                      argv[optind - 1]);
        }
    }
    if (optind < argc)
        return ct_cli_usage_error("check", "unexpected argument '%s'",
                                  argv[optind]);
    if (ct_cli_logging("check", log_format, log_level))
        return CT_EXIT_USAGE;

    ct_diags diags = {0};
    ct_config *cfg = NULL;
    int rc = config_path ? ct_config_load_file(config_path, &cfg, &diags)
                         : ct_config_load_demo(&cfg, &diags);
    if (rc) {
        ct_diags_print(&diags, stdout);
        ct_diags_free(&diags);
        return CT_EXIT_FAIL;
    }
    /* Then every plugin loaded as `run` loads it (setup() with the area's
     * settings, a bundle's own tests) on a scratch copy: check ok means
     * run starts. */
    if (ct_plugin_check_all(cfg, &diags) ||
        ct_plugins_dry_run(cfg, &diags)) {
        ct_diags_print(&diags, stdout);
        ct_diags_free(&diags);
        ct_config_free(cfg);
        return CT_EXIT_FAIL;
    }
    if (!quiet)
        printf("%s: ok: area '%s', %zu organisations, %zu facilities, "
               "%zu beds, %zu plugins\n",
               cfg->file, cfg->area_id, cfg->norgs, cfg->nfacilities,
               cfg->nbeds, cfg->nplugins);
    ct_config_free(cfg);
    ct_diags_free(&diags);
    return CT_EXIT_OK;
}
