/*
 * Shared test fixtures: temporary directories and files that clean up
 * after themselves, and config loading from inline YAML.
 */
#ifndef CT_TEST_FIXTURES_H
#define CT_TEST_FIXTURES_H

#include <stddef.h>

/* A fresh directory under $TMPDIR; returns a static path valid until the
 * next call. Removed by ct_test_rmtree. */
const char *ct_test_tmpdir(void);
void ct_test_rmtree(const char *path);

/* Writes text to dir/name; returns a malloc'd path (caller frees). */
char *ct_test_write_file(const char *dir, const char *name, const char *text);

#endif
