/*
 * caretide: a host for local care-capacity policy. This file only parses
 * the command name and dispatches to the command (host/cmd_*.c); the help
 * texts and shared option handling are host/cli.c's.
 */
#include "cli.h"

#include "plugins.h"
#include "testrun.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    ct_cmd_fn run;
} commands[] = {
    {"run", ct_cmd_run},
    {"check", ct_cmd_check},
    {"repl", ct_cmd_repl},
    {"test", ct_cmd_test},
    {"plugin", ct_cmd_plugin},
    {"audit", ct_cmd_audit},
    {"token", ct_cmd_token},
    {"backup", ct_cmd_backup},
    {"restore", ct_cmd_restore},
    {"standby", ct_cmd_standby},
    {"report", ct_cmd_report},
    {"sim", ct_cmd_sim},
    {"version", ct_cmd_version},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        ct_cli_usage(stderr);
        return CT_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 ||
        strcmp(name, "help") == 0) {
        ct_cli_usage(stdout);
        return CT_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0)
        return ct_cmd_version(1, argv + 1);
    /* Signed bundles run their own tests before they are activated
     * (run, check, repl, plugin install): with caretide test's runner. */
    ct_plugins_set_self_test(ct_testrun_self_test);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "caretide: unknown command '%s'\n\n", name);
    ct_cli_usage(stderr);
    return CT_EXIT_USAGE;
}
