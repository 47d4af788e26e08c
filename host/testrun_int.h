/*
 * Test runner internals shared by host/testrun.c (discovery, the run,
 * output) and host/testrun_host.c (the scratch host of one test and the
 * Lua hooks the test API calls). Not for use outside these two files.
 */
#ifndef CT_TESTRUN_INT_H
#define CT_TESTRUN_INT_H

#include "capacity.h"
#include "clock.h"
#include "coverage.h"
#include "host.h"
#include "plugins.h"
#include "testrun.h"

#include <jansson.h>
#include <limits.h>

/* One plugin under test. */
typedef struct ct_testrun_suite {
    char *dir;     /* real path of the plugin directory */
    char *label;   /* its last component, as results name it: "stepdown" */
    char *name;    /* manifest name; NULL when plugin.yaml is unusable */
    char *problem; /* why the plugin cannot run at all, or NULL */
    char **files;  /* test files relative to dir ("test/x_test.lua") */
    size_t nfiles;
    ct_config *cfg; /* the scratch area with this plugin alone */
    /* An area run (`caretide test --config`): the area under test with
     * all its plugins and settings (borrowed from the runner); NULL when
     * the plugin is tested alone in cfg. */
    const ct_config *area;
    bool area_tests; /* the area's own test files, in a console sandbox */
    ct_coverage_file *cov; /* the plugin's own .lua files */
    size_t ncov;
    ct_coverage_file *last; /* the line callback's last match */
    const ct_bundle *bundle; /* test files from here (options), or NULL */
} ct_testrun_suite;

/* The scratch host of one test. */
typedef struct ct_testrun_env {
    ct_testrun_suite *s;
    const char *file; /* relative test file */
    char chunk[PATH_MAX]; /* its chunk name without '@' */
    ct_store *store;
    ct_clock *clock;
    ct_host *host;
    ct_capacity *cap; /* the host's */
    ct_plugins *m;    /* the host's */
    ct_sandbox *sb; /* the plugin's, borrowed from m; or console */
    ct_sandbox *console; /* an area test's own sandbox, owned */
    int opts_ref;   /* run_test's options table, in sb's registry */
    char problem[2048]; /* why env_open failed */
} ct_testrun_env;

/* Builds s->cfg: an area with no facilities, the demo organisations and
 * the plugin at s->dir with its default settings. */
int ct_testrun__suite_config(ct_testrun_suite *s);

/*
 * Builds the scratch host for one test of file in s and loads the plugin
 * (with the coverage line callback when coverage). On failure e->problem
 * says why (the plugin's diagnostics) and nothing is left open.
 */
int ct_testrun__env_open(ct_testrun_env *e, ct_testrun_suite *s,
                         const char *file, bool coverage);
void ct_testrun__env_close(ct_testrun_env *e);

/*
 * Loads the test file into the plugin's sandbox and runs test id (1-based)
 * with the deadline timeout_ms. On success *names is a new array of every
 * declared test's name and *result a new result object (JSON null when id
 * is beyond the plan). On failure (an error outside any test: the file
 * does not load, the deadline) returns the sandbox's code; its last error
 * says why.
 */
int ct_testrun__env_run(ct_testrun_env *e, int64_t id, int64_t timeout_ms,
                        json_t **names, json_t **result);

/* The line callback of coverage; ud is the suite. */
void ct_testrun__line(void *ud, const char *source, int line);

#endif
