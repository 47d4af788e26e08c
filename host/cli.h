/*
 * The command line: `caretide <command> [options]`, dispatched from one
 * table in main.c, the help texts in host/cli.c. Each command is a function taking its own argv (argv[0]
 * is the command name) and returning the process exit status: 0 success,
 * 1 failure (what the command checks failed), 2 usage error.
 */
#ifndef CT_CLI_H
#define CT_CLI_H

#include <stdbool.h>
#include <stdio.h>

typedef int (*ct_cmd_fn)(int argc, char **argv);
typedef struct ct_config ct_config; /* host/config.h */

/* A command's help (host/cli.c); main.c pairs the names with functions. */
typedef struct ct_command_help {
    const char *name;
    const char *summary;
    const char *usage; /* full --help text, options included */
} ct_command_help;

enum { CT_EXIT_OK = 0, CT_EXIT_FAIL = 1, CT_EXIT_USAGE = 2 };

/* Help text of the options every command accepts; each command parses
 * them with ct_cli_parse (or its own getopt_long loop and
 * ct_cli_common_opt) and applies them with ct_cli_logging. */
#define CT_CLI_COMMON_HELP                                              \
    "  --log-format FMT  text, json or auto (default: auto: text on a\n"  \
    "                    terminal, JSON lines otherwise)\n"               \
    "  --log-level LVL   debug, info, warn or error (default: info)\n"    \
    "  -h, --help        show this help\n"

/* The long options every command takes, and the end of the table: a
 * command's own getopt_long table ends with CT_CLI_COMMON_OPTS. */
#define CT_CLI_COMMON_OPTS                            \
    {"log-format", required_argument, NULL, 'F'},     \
        {"log-level", required_argument, NULL, 'L'},  \
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}

/*
 * The options every command shares, for a getopt_long loop whose
 * optstring starts with ':'. c is what getopt_long answered and is none
 * of the command's own: --log-format and --log-level are stored in
 * *format and *level (borrowed from argv) and -1 is returned, parsing
 * goes on; --help prints cmd's help and returns CT_EXIT_OK; a missing
 * value (':') or any other c is a usage error (CT_EXIT_USAGE). A
 * command's switch ends with
 *   default:
 *       if ((rc = ct_cli_common_opt(CMD, c, argv, &fmt, &lvl)) >= 0)
 *           return rc;
 */
int ct_cli_common_opt(const char *cmd, int c, char **argv,
                      const char **format, const char **level);

/*
 * One option of a command's table for ct_cli_parse: --name, and -letter
 * too when letter is not 0 (a NULL name: -letter only). Its value goes to
 * one place: *text (borrowed from argv) for an option taking a value,
 * *flag set true for one that takes none, or parse(cmd, value, to) for a
 * value checked or collected as it is read (value NULL when has_value is
 * false), which returns -1 to go on or an exit status to stop with (a
 * usage error printed through ct_cli_usage_error, or CT_EXIT_OK). A table
 * ends with {NULL} (no name, no letter).
 */
typedef struct ct_cli_opt {
    const char *name;
    char letter;
    const char **text;
    bool *flag;
    int (*parse)(const char *cmd, const char *value, void *to);
    void *to;
    bool has_value; /* with parse: the option takes a value */
} ct_cli_opt;

/*
 * Parses argv's options (argv[0] is the command's name) by opts and the
 * options every command shares, operands and options in any order as
 * getopt_long takes them: --log-format and --log-level are stored in
 * *format and *level (borrowed from argv; the command applies them with
 * ct_cli_logging when it is ready), --help prints cmd's help. Returns -1
 * with *first, the index of the first operand in the permuted argv, or
 * the exit status the command returns: CT_EXIT_OK after --help,
 * CT_EXIT_USAGE after an unknown option or a missing value, or what an
 * option's parse returned.
 */
int ct_cli_parse(const char *cmd, int argc, char **argv,
                 const ct_cli_opt *opts, const char **format,
                 const char **level, int *first);

/*
 * Prints a usage error for cmd to stderr ("caretide CMD: MESSAGE" then
 * "Try 'caretide CMD --help'.") and returns CT_EXIT_USAGE.
 */
int ct_cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints the --help text of cmd to stdout; returns CT_EXIT_OK. */
int ct_cli_help(const char *cmd);

/* Applies --log-format/--log-level values; returns 0 or CT_EXIT_USAGE
 * after printing the error. NULL leaves a setting as it is. */
int ct_cli_logging(const char *cmd, const char *format, const char *level);

/*
 * The area a command works on: the config file at path, or the demo area
 * when path is NULL. 0 with *cfg (the caller frees it with
 * ct_config_free); on failure the diagnostics are printed to diag_out and
 * the load error is returned with *cfg NULL.
 */
int ct_cli_load_config(const char *path, ct_config **cfg, FILE *diag_out);

/* Every command's help, NULL-terminated, in `caretide help` order. */
extern const ct_command_help ct_cli_commands[];

/* Prints the command list (`caretide help`) to out. */
void ct_cli_usage(FILE *out);

/* Command entry points (host/cmd_*.c). */
int ct_cmd_run(int argc, char **argv);
int ct_cmd_check(int argc, char **argv);
int ct_cmd_repl(int argc, char **argv);
int ct_cmd_test(int argc, char **argv);
int ct_cmd_plugin(int argc, char **argv);
int ct_cmd_audit(int argc, char **argv);
int ct_cmd_token(int argc, char **argv);
int ct_cmd_report(int argc, char **argv);
int ct_cmd_backup(int argc, char **argv);
int ct_cmd_restore(int argc, char **argv);
int ct_cmd_standby(int argc, char **argv);
int ct_cmd_version(int argc, char **argv);
int ct_cmd_sim(int argc, char **argv);

#endif
