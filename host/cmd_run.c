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

/* The options that check their values as they are read. */
typedef struct run_args {
    ct_daemon_options *o;
    char host[256];
} run_args;

static int listen_at(const char *cmd, const char *value, void *to)
{
    run_args *a = to;
    if (parse_listen(value, a->host, sizeof a->host, &a->o->listen_port))
        return ct_cli_usage_error(cmd, "--listen: expected ADDRESS:PORT, "
                                       "got '%s'",
                                  value);
    a->o->listen_host = a->host;
    return -1;
}

static int db_file(const char *cmd, const char *value, void *to)
{
    if (!*value)
        return ct_cli_usage_error(cmd, "--db: expected a file");
    ((run_args *)to)->o->db_path = value;
    return -1;
}

static int ship_to(const char *cmd, const char *value, void *to)
{
    if (!*value)
        return ct_cli_usage_error(cmd, "--ship: expected a directory");
    ((run_args *)to)->o->ship_dir = value;
    return -1;
}

static int check_every(const char *cmd, const char *value, void *to)
{
    ct_daemon_options *o = ((run_args *)to)->o;
    if (strcmp(value, "0") == 0)
        o->check_every_ms = 0;
    else if (ct_parse_duration_ms(value, &o->check_every_ms) ||
             o->check_every_ms < 1000)
        return ct_cli_usage_error(cmd, "--check-every: expected a duration "
                                       "of 1s or more (or 0), got '%s'",
                                  value);
    return -1;
}

/* --print-routes shows the role matrix and ends the command. */
static int print_routes(const char *cmd, const char *value, void *to)
{
    (void)cmd;
    (void)value;
    (void)to;
    ct_api_print_routes(stdout);
    return CT_EXIT_OK;
}

int ct_cmd_run(int argc, char **argv)
{
    ct_daemon_options o = {.listen_port = -1, .out = stdout,
                           .check_every_ms = 6 * 3600 * 1000};
    run_args a = {.o = &o};
    const char *log_format = NULL, *log_level = NULL;
    /* --no-group-commit (also CARETIDE_NO_GROUP_COMMIT=1) is for the
     * benchmark comparison. */
    const char *env = getenv("CARETIDE_NO_GROUP_COMMIT");
    o.per_request_commit = env && *env && strcmp(env, "0") != 0;
    const ct_cli_opt opts[] = {
        {"config", 'c', .text = &o.config_path},
        {"listen", 0, .parse = listen_at, .to = &a, .has_value = true},
        {"db", 0, .parse = db_file, .to = &a, .has_value = true},
        {"restored", 0, .flag = &o.restored},
        {"check-every", 0, .parse = check_every, .to = &a,
         .has_value = true},
        {"ship", 0, .parse = ship_to, .to = &a, .has_value = true},
        {"no-group-commit", 0, .flag = &o.per_request_commit},
        {"print-routes", 0, .parse = print_routes},
        {"allow-demo-tokens", 0, .flag = &o.allow_demo_tokens},
        {NULL},
    };
    int first, stop = ct_cli_parse("run", argc, argv, opts, &log_format,
                                   &log_level, &first);
    if (stop >= 0)
        return stop;
    if (first < argc)
        return ct_cli_usage_error("run", "unexpected argument '%s'",
                                  argv[first]);
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
