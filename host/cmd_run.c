/*
 * caretide run: parse the command line and hand over to the daemon.
 */
#include "cli.h"

#include "api.h"
#include "daemon.h"
#include "daemon_plugins.h"
#include "notify.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "ADDR:PORT" or "[V6ADDR]:PORT" into a host copy and a port. */
static int parse_listen(const char *s, char *host, size_t size, int *port)
{
    const char *colon = strrchr(s, ':');
    const char *h = s, *h_end = colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        h = s + 1;
        h_end = close;
        colon = close + 1;
    }
    if (!colon || h_end <= h || !colon[1] || (size_t)(h_end - h) >= size)
        return -1;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (*end || errno || p < 0 || p > 65535)
        return -1;
    memcpy(host, h, (size_t)(h_end - h));
    host[h_end - h] = '\0';
    *port = (int)p;
    return 0;
}

int ct_cmd_run(int argc, char **argv)
{
    /* --no-group-commit (also CARETIDE_NO_GROUP_COMMIT=1) is for the
     * benchmark comparison; --print-routes shows the role matrix. */
    enum { OPT_LISTEN = 256, OPT_DB, OPT_NO_GROUP, OPT_ROUTES, OPT_RESTORED,
           OPT_CHECK, OPT_SHIP, OPT_DEMO };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"db", required_argument, NULL, OPT_DB},
        {"restored", no_argument, NULL, OPT_RESTORED},
        {"check-every", required_argument, NULL, OPT_CHECK},
        {"ship", required_argument, NULL, OPT_SHIP},
        {"no-group-commit", no_argument, NULL, OPT_NO_GROUP},
        {"print-routes", no_argument, NULL, OPT_ROUTES},
        {"allow-demo-tokens", no_argument, NULL, OPT_DEMO},
        CT_CLI_COMMON_OPTS,
    };
    ct_daemon_options o = {.listen_port = -1, .out = stdout,
                           .check_every_ms = 6 * 3600 * 1000};
    const char *log_format = NULL, *log_level = NULL;
    char host[256];
    const char *env = getenv("CARETIDE_NO_GROUP_COMMIT");
    o.per_request_commit = env && *env && strcmp(env, "0") != 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o.config_path = optarg; break;
        case OPT_LISTEN:
            if (parse_listen(optarg, host, sizeof host, &o.listen_port))
                return ct_cli_usage_error("run", "--listen: expected "
                                          "ADDRESS:PORT, got '%s'", optarg);
            o.listen_host = host;
            break;
        case OPT_DB:
            if (!*optarg)
                return ct_cli_usage_error("run", "--db: expected a file");
            o.db_path = optarg;
            break;
        case OPT_NO_GROUP: o.per_request_commit = true; break;
        case OPT_RESTORED: o.restored = true; break;
        case OPT_SHIP:
            if (!*optarg)
                return ct_cli_usage_error("run", "--ship: expected a "
                                          "directory");
            o.ship_dir = optarg;
            break;
        case OPT_CHECK:
            if (strcmp(optarg, "0") == 0) {
                o.check_every_ms = 0;
            } else if (ct_parse_duration_ms(optarg, &o.check_every_ms) ||
                       o.check_every_ms < 1000) {
                return ct_cli_usage_error("run", "--check-every: expected a "
                                          "duration of 1s or more (or 0), "
                                          "got '%s'", optarg);
            }
            break;
        case OPT_DEMO: o.allow_demo_tokens = true; break;
        case OPT_ROUTES:
            ct_api_print_routes(stdout);
            return CT_EXIT_OK;
        default:
            if ((c = ct_cli_common_opt("run", c, argv, &log_format,
                                       &log_level)) >= 0)
                return c;
        }
    }
    if (optind < argc)
        return ct_cli_usage_error("run", "unexpected argument '%s'",
                                  argv[optind]);
    if (ct_cli_logging("run", log_format, log_level))
        return CT_EXIT_USAGE;
    static const ct_daemon_unit *const units[] = {&ct_daemon_plugins_unit,
                                                  &ct_notify_unit};
    o.routes = ct_api_routes;
    o.nroutes = ct_api_nroutes;
    o.dialect = &ct_api_fhir_dialect;
    o.units = units;
    o.nunits = CT_ARRAY_LEN(units);
    return ct_daemon_run(&o) ? CT_EXIT_FAIL : CT_EXIT_OK;
}
