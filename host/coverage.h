/*
 * Line coverage for `caretide test --coverage`: which lines of a Lua source
 * hold code, and a tally of the lines that ran.
 *
 * Code lines come from the compiled chunk, never from running it: the
 * source is compiled in a private plain Lua state (no libraries, nothing
 * executed), dumped with lua_dump, and every function's line information
 * is read from the dump, nested functions included. A line counts when
 * some instruction of some function is on it: the union of what
 * debug.getinfo(f, "L").activelines says for each function. So blank
 * lines, comments, `else` and the `end` of blocks are not code, while a
 * function's `end` is (the enclosing code creates the closure there, so
 * it runs when the definition does).
 *
 * Hits come from the sandbox's line callback (ct_sandbox_set_line_hook);
 * ct_coverage_hit is cheap enough to be that callback's body.
 */
#ifndef CT_COVERAGE_H
#define CT_COVERAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One source file: code[l] is true when line l (1-based) holds code;
 * hits[l] counts how often line l started running. Both have nlines + 1
 * entries. */
typedef struct ct_coverage_file {
    char *name;   /* as reported ("stepdown/init.lua") */
    char *source; /* chunk name as Lua keeps it ("@init.lua") */
    int nlines;
    bool *code;
    uint64_t *hits;
} ct_coverage_file;

/*
 * Compiles text (named chunkname in messages, "@init.lua") and fills *code
 * (malloc'd, caller frees) with nlines + 1 flags, nlines being the number
 * of lines of text. CT_EPLUGIN for
 * a syntax error with the message in *err (malloc'd, caller frees),
 * CT_EUNSUPPORTED when the dump format is not Lua 5.4's, CT_ENOMEM.
 */
int ct_coverage_code_lines(const char *chunkname, const char *text,
                           size_t len, bool **code, int *nlines, char **err);

/*
 * Sets up f for a file: name and source are copied; code lines as above.
 * On failure f is left empty (safe to ct_coverage_file_free).
 */
int ct_coverage_file_init(ct_coverage_file *f, const char *name,
                          const char *source, const char *text, size_t len,
                          char **err);
void ct_coverage_file_free(ct_coverage_file *f);

/* Counts a hit on line (ignored outside 1..nlines). */
void ct_coverage_hit(ct_coverage_file *f, int line);

/* Lines that hold code, and of those the ones hit at least once. */
void ct_coverage_counts(const ct_coverage_file *f, int *code, int *hit);

#endif
