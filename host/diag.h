/*
 * Diagnostics: a list of "file:line:col: message" records collected while
 * validating input (config, plugin manifests, settings), so that one run
 * reports every error instead of the first.
 */
#ifndef CT_DIAG_H
#define CT_DIAG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ct_diag {
    char *file;    /* owned */
    uint32_t line; /* 1-based; 0 when the error has no position */
    uint32_t col;
    char *message; /* owned */
} ct_diag;

typedef struct ct_diags {
    ct_diag *items;
    size_t len;
    size_t cap;
} ct_diags;

/* Adds a record; copies file and the formatted message. Out of memory is
 * recorded as a count only (the list never fails the caller). */
void ct_diags_add(ct_diags *d, const char *file, uint32_t line, uint32_t col,
                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* Prints every record as "file:line:col: message" lines. */
void ct_diags_print(const ct_diags *d, FILE *out);
void ct_diags_free(ct_diags *d);

#endif
