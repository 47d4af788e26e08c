/*
 * caretide repl: the REPL session (host/repl.c) at a terminal, with line
 * editing, history in a file and tab completion (libedit's readline
 * interface); or, for scripts, -e CODE and piped stdin, which stop at the
 * first error with exit status 1.
 */
#include "cli.h"

#include "diag.h"
#include "error.h"
#include "repl.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#define HISTORY_LINES 1000

/* readline's completion callbacks carry no user data. */
static ct_repl *completing;
static char **matches;
static size_t next_match;

static void drop_matches(void)
{
    for (size_t i = 0; matches && matches[i]; i++)
        free(matches[i]);
    free(matches);
    matches = NULL;
}

/* rl_completion_matches asks for one match per call (a copy it frees);
 * state 0 starts a new completion. */
static char *match_generator(const char *text, int state)
{
    if (state == 0) {
        drop_matches();
        /* Dot commands complete only as the first word of a line. */
        size_t before = (size_t)rl_point >= strlen(text)
                            ? (size_t)rl_point - strlen(text)
                            : 0;
        bool line_start = true;
        for (size_t i = 0; rl_line_buffer && i < before; i++)
            if (rl_line_buffer[i] != ' ' && rl_line_buffer[i] != '\t')
                line_start = false;
        matches = ct_repl_complete(completing, text, line_start);
        next_match = 0;
    }
    if (!matches || !matches[next_match])
        return NULL;
    return ct_strdup(matches[next_match++]);
}

static char **complete(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1; /* never file names */
    next_match = 0;
    char **m = rl_completion_matches(text, match_generator);
    drop_matches();
    return m;
}

static char *history_path(const char *opt)
{
    if (opt)
        return *opt ? ct_strdup(opt) : NULL;
    const char *env = getenv("CARETIDE_HISTORY");
    if (env)
        return *env ? ct_strdup(env) : NULL;
    const char *home = getenv("HOME");
    if (!home || !*home)
        return NULL;
    ct_buf b = {0};
    ct_buf_printf(&b, "%s/.caretide_history", home);
    return b.data;
}

static int interactive(ct_repl *r, const char *history_opt)
{
    char *hist = history_path(history_opt);
    rl_readline_name = "caretide";
    rl_attempted_completion_function = complete;
    rl_completion_append_character = '\0';
    completing = r;
    using_history();
    stifle_history(HISTORY_LINES);
    if (hist)
        read_history(hist);
    ct_repl_describe(r, stdout);
    for (;;) {
        char *line = readline(ct_repl_prompt(r));
        if (!line) { /* end of input (Ctrl-D) */
            fputc('\n', stdout);
            break;
        }
        if (*line) {
            add_history(line);
            if (hist)
                write_history(hist);
        }
        ct_repl_status st = ct_repl_line(r, line);
        free(line);
        if (st == CT_REPL_QUIT)
            break;
    }
    completing = NULL;
    free(hist);
    return CT_EXIT_OK;
}

/* Lines from a pipe or file: no prompt; the first error ends the run. */
static int scripted(ct_repl *r, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int status = CT_EXIT_OK;
    while ((n = getline(&line, &cap, in)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            line[n - 1] = '\0';
        ct_repl_status st = ct_repl_line(r, line);
        if (st == CT_REPL_ERROR) {
            status = CT_EXIT_FAIL;
            break;
        }
        if (st == CT_REPL_QUIT)
            break;
    }
    free(line);
    if (status == CT_EXIT_OK && ct_repl_pending(r)) {
        fprintf(stderr, "caretide repl: input ended inside an unfinished "
                        "chunk\n");
        status = CT_EXIT_FAIL;
    }
    return status;
}

/* The -e CODE chunks, in order. */
typedef struct chunks {
    const char **v; /* room for argc */
    size_t n;
} chunks;

static int add_chunk(const char *cmd, const char *value, void *to)
{
    (void)cmd;
    chunks *c = to;
    c->v[c->n++] = value;
    return -1;
}

static int timeout(const char *cmd, const char *value, void *to)
{
    ct_repl_options *o = to;
    if (ct_parse_duration_ms(value, &o->timeout_ms) || o->timeout_ms < 1)
        return ct_cli_usage_error(cmd, "--timeout: expected a duration "
                                       "like 10s, got '%s'",
                                  value);
    return -1;
}

int ct_cmd_repl(int argc, char **argv)
{
    ct_repl_options o = {0};
    const char *log_format = NULL, *log_level = NULL, *history = NULL;
    chunks ch = {calloc((size_t)argc + 1, sizeof *ch.v), 0};
    if (!ch.v)
        return CT_EXIT_FAIL;
    const char **codes = ch.v;
    const ct_cli_opt opts[] = {
        {"config", 'c', .text = &o.config_path},
        {"db", 0, .text = &o.db_path},
        {"live", 0, .flag = &o.live},
        {NULL, 'e', .parse = add_chunk, .to = &ch, .has_value = true},
        {"history", 0, .text = &history},
        {"timeout", 0, .parse = timeout, .to = &o, .has_value = true},
        {NULL},
    };
    int first, status = ct_cli_parse("repl", argc, argv, opts, &log_format,
                                     &log_level, &first);
    if (status >= 0) {
        free(codes);
        return status;
    }
    status = CT_EXIT_OK;
    size_t ncodes = ch.n;
    if (first < argc) {
        free(codes);
        return ct_cli_usage_error("repl", "unexpected argument '%s'",
                                  argv[first]);
    }
    /* Opening the store logs at info; the prompt should not start with
     * that. Plugins' log lines show with --log-level info. */
    if (ct_cli_logging("repl", log_format, log_level ? log_level : "warn")) {
        free(codes);
        return CT_EXIT_USAGE;
    }

    ct_diags diags = {0};
    ct_repl *r = NULL;
    int rc = ct_repl_new(&o, &r, &diags);
    ct_diags_print(&diags, stderr);
    ct_diags_free(&diags);
    if (!r) {
        fprintf(stderr, "caretide repl: cannot start: %s\n", ct_strerror(rc));
        free(codes);
        return CT_EXIT_FAIL;
    }
    bool script = ncodes || !isatty(STDIN_FILENO);
    if (rc == CT_EPLUGIN && script) {
        /* A script would run against the wrong policies. */
        fprintf(stderr, "caretide repl: the plugins above do not load\n");
        status = CT_EXIT_FAIL;
    } else if (rc == CT_EPLUGIN) {
        fprintf(stderr, "caretide repl: running without the plugins above; "
                        ".reload tries again\n");
    }
    if (status != CT_EXIT_OK) {
        /* nothing to run */
    } else if (ncodes) {
        for (size_t i = 0; i < ncodes; i++) {
            ct_repl_status st = ct_repl_eval(r, codes[i]);
            if (st == CT_REPL_ERROR)
                status = CT_EXIT_FAIL;
            if (st == CT_REPL_ERROR || st == CT_REPL_QUIT)
                break;
        }
    } else if (isatty(STDIN_FILENO)) {
        status = interactive(r, history);
    } else {
        status = scripted(r, stdin);
    }
    ct_repl_free(r);
    free(codes);
    return status;
}
