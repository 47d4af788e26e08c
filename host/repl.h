/*
 * The REPL's session behind `caretide repl`: a Lua console with the host
 * API (`ct`, bound to the plugin manager like a plugin called "repl") next
 * to the area's configured plugins, on a scratch in-memory copy of the
 * area's database (or of the config alone when there is no database yet)
 * and a virtual clock the user moves, or on the database itself and the
 * real clock when live.
 *
 * Input arrives a line at a time: Lua chunks (an expression prints its
 * values; an incomplete chunk waits for more lines, as in lua.c) and dot
 * commands (.help lists them): .referral runs the whole decision pipeline
 * on a made-up referral and prints each plugin's step, .explain shows a
 * stored decision, .advance moves the clock and fires due timers. This
 * unit knows nothing of terminals; host/cmd_repl.c does line editing,
 * history and completion on top of ct_repl_complete.
 */
#ifndef CT_REPL_H
#define CT_REPL_H

#include "diag.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

typedef struct ct_repl ct_repl;

typedef struct ct_repl_options {
    const char *config_path; /* NULL: the embedded demo area */
    const char *db_path;     /* NULL: the config's storage path */
    bool live;       /* use the database itself and the real clock */
    int64_t timeout_ms; /* deadline of one evaluation; 0: 10000 */
    FILE *out;       /* results; NULL: stdout */
    FILE *err;       /* errors; NULL: stderr */
} ct_repl_options;

/* What one line did. */
typedef enum ct_repl_status {
    CT_REPL_OK,    /* ran (or was empty) */
    CT_REPL_MORE,  /* an incomplete chunk: the next line continues it */
    CT_REPL_ERROR, /* failed; the error was written to opts.err */
    CT_REPL_QUIT,  /* .quit */
} ct_repl_status;

/*
 * Loads the config, opens the store (a scratch copy unless live), the
 * clock, capacity, the plugins and the console. opts is copied (the
 * paths must outlive the session). Problems go to diags (config and
 * plugin errors as file:line: message). On success *out owns the session.
 * Plugins that do not load do not stop it: CT_EPLUGIN with *out set means
 * the session runs without them (diags say why; .reload tries again).
 */
int ct_repl_new(const ct_repl_options *opts, ct_repl **out, ct_diags *diags);
/* Closes everything; with live, the real clock's handles are closed on
 * the session's loop first. NULL is harmless. */
void ct_repl_free(ct_repl *r);

/* One line of input (without its newline). */
ct_repl_status ct_repl_line(ct_repl *r, const char *line);
/* A whole chunk or dot command at once (-e CODE): an incomplete chunk is
 * an error. */
ct_repl_status ct_repl_eval(ct_repl *r, const char *code);
/* Whether lines of an incomplete chunk are waiting; ct_repl_reset drops
 * them. */
bool ct_repl_pending(const ct_repl *r);
void ct_repl_reset(ct_repl *r);
/* The prompt for the next line: "caretide> " or "     ...> ". Static. */
const char *ct_repl_prompt(const ct_repl *r);

/*
 * Completions of word, the text before the cursor back to the last
 * space or bracket: dot commands when line_start, else names reachable
 * from the console's globals ("ct.met" -> "ct.metrics"). A new
 * NULL-terminated array of new strings (caller frees both), NULL when
 * none.
 */
char **ct_repl_complete(ct_repl *r, const char *word, bool line_start);

/* A line describing the session (area, data, clock) for the banner. */
void ct_repl_describe(ct_repl *r, FILE *out);

/* The session's loop (drives the real clock when live): run it with
 * UV_RUN_NOWAIT between inputs so that due timers fire. */
uv_loop_t *ct_repl_loop(ct_repl *r);

#endif
