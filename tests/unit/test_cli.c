/* The shared option parser of the commands (cli.h, ct_cli_parse). */
#include "cli.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdbool.h>
#include <string.h>

typedef struct seen {
    const char *config, *db;
    bool json;
    const char *chunks[4];
    int nchunks;
    int checked; /* --count's value */
} seen;

static int chunk(const char *cmd, const char *value, void *to)
{
    (void)cmd;
    seen *s = to;
    s->chunks[s->nchunks++] = value;
    return -1;
}

static int count(const char *cmd, const char *value, void *to)
{
    seen *s = to;
    if (strcmp(value, "7") != 0)
        return ct_cli_usage_error(cmd, "--count: expected 7, got '%s'",
                                  value);
    s->checked = 7;
    return -1;
}

static int parse(seen *s, int argc, char **argv, const char **fmt,
                 const char **lvl, int *first)
{
    const ct_cli_opt opts[] = {
        {"config", 'c', .text = &s->config},
        {"db", 0, .text = &s->db},
        {"json", 0, .flag = &s->json},
        {NULL, 'e', .parse = chunk, .to = s, .has_value = true},
        {"count", 0, .parse = count, .to = s, .has_value = true},
        {NULL},
    };
    return ct_cli_parse("check", argc, argv, opts, fmt, lvl, first);
}

Test(cli, options_and_operands_in_any_order)
{
    char *argv[] = {"check", "one", "-c", "a.yaml", "--db=x.db", "-e",
                    "print(1)", "two", "--json", "--log-level", "warn",
                    "-e", "print(2)", "--count", "7", NULL};
    int argc = (int)(sizeof argv / sizeof *argv) - 1;
    seen s = {0};
    const char *fmt = NULL, *lvl = NULL;
    int first = 0;
    cr_assert_eq(parse(&s, argc, argv, &fmt, &lvl, &first), -1);
    cr_assert_str_eq(s.config, "a.yaml");
    cr_assert_str_eq(s.db, "x.db");
    cr_assert(s.json);
    cr_assert_eq(s.nchunks, 2);
    cr_assert_str_eq(s.chunks[0], "print(1)");
    cr_assert_str_eq(s.chunks[1], "print(2)");
    cr_assert_eq(s.checked, 7);
    cr_assert_null(fmt);
    cr_assert_str_eq(lvl, "warn");
    /* The operands, in their order, after the options. */
    cr_assert_eq(argc - first, 2);
    cr_assert_str_eq(argv[first], "one");
    cr_assert_str_eq(argv[first + 1], "two");
}

Test(cli, refusals_stop_with_a_usage_error, .init = cr_redirect_stderr)
{
    const char *fmt = NULL, *lvl = NULL;
    int first;
    seen s = {0};
    char *unknown[] = {"check", "--nope", NULL};
    cr_assert_eq(parse(&s, 2, unknown, &fmt, &lvl, &first), CT_EXIT_USAGE);
    char *missing[] = {"check", "--db", NULL};
    cr_assert_eq(parse(&s, 2, missing, &fmt, &lvl, &first), CT_EXIT_USAGE);
    /* A long-only option has no letter, a letter-only one no name. */
    char *letter[] = {"check", "-j", NULL};
    cr_assert_eq(parse(&s, 2, letter, &fmt, &lvl, &first), CT_EXIT_USAGE);
    char *name[] = {"check", "--e", "x", NULL};
    cr_assert_eq(parse(&s, 3, name, &fmt, &lvl, &first), CT_EXIT_USAGE);
    /* An option's own check stops the parse at once: --json after it is
     * not read. */
    char *bad[] = {"check", "--count", "8", "--json", NULL};
    cr_assert_eq(parse(&s, 4, bad, &fmt, &lvl, &first), CT_EXIT_USAGE);
    cr_assert_not(s.json);
    fflush(stderr);
    cr_assert_stderr_eq_str(
        "caretide check: unknown option '--nope'\n"
        "Try 'caretide check --help'.\n"
        "caretide check: option '--db' needs a value\n"
        "Try 'caretide check --help'.\n"
        "caretide check: unknown option '-j'\n"
        "Try 'caretide check --help'.\n"
        "caretide check: unknown option '--e'\n"
        "Try 'caretide check --help'.\n"
        "caretide check: --count: expected 7, got '8'\n"
        "Try 'caretide check --help'.\n");
}

Test(cli, help_ends_the_command, .init = cr_redirect_stdout)
{
    const char *fmt = NULL, *lvl = NULL;
    int first;
    seen s = {0};
    char *argv[] = {"check", "--help", "--json", NULL};
    cr_assert_eq(parse(&s, 3, argv, &fmt, &lvl, &first), CT_EXIT_OK);
    cr_assert_not(s.json);
    fflush(stdout);
    cr_assert_stdout_neq_str("");
}
