/*
 * The plugin test runner behind `caretide test` (docs/testing.md): finds
 * each plugin's test/NAME_test.lua files and runs every test inside the
 * plugin's real sandbox, loaded by the plugin manager, with a fresh
 * scratch store (":memory:"), a virtual clock and a capacity handle of its
 * own, so tests see the real `ct` and cannot depend on each other.
 *
 * Per test: build the scratch host, load the plugin (setup runs), make
 * require("init") return the hooks table setup ran on, expose the
 * caretide.test API, load the test file (declarations only), then
 * run_test(id) under a deadline with the host hooks load_area, advance,
 * set_time, clock and traceback (docs/internals.md "Lua SDK"). Results are
 * formatted by the SDK (caretide.test, caretide.coverage_report) in a
 * sandbox of their own and written as they come; the last line is always
 * "N passed, N failed".
 *
 * With coverage on, every line of the plugin's own code (not its tests)
 * that runs is counted through the sandbox's line callback, from the
 * moment its init.lua is loaded.
 */
#ifndef CT_TESTRUN_H
#define CT_TESTRUN_H

#include "bundle.h"
#include "config.h"
#include "diag.h"
#include "plugins.h"
#include "trust.h"

#include <jansson.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ct_testrun ct_testrun;

typedef struct ct_testrun_options {
    bool tap;            /* TAP version 13 instead of plain lines */
    bool coverage;       /* count and report plugin lines run */
    double min_coverage; /* fail below this percentage; < 0: no minimum */
    int64_t timeout_ms;  /* per test (file load included); 0: 5000 */
    FILE *out;           /* results; NULL: stdout */
    /* Keys the scratch areas trust (borrowed), so that signed bundles
     * load in their tests as they do in the area; NULL: none. */
    const ct_trust *trust;
    /* A plugin's verified bundle (borrowed): the tests of the plugin
     * added are listed and read from these bytes, never from its
     * directory on disk (a bundle's self-test before it runs). NULL: the
     * files on disk. */
    const ct_bundle *bundle;
    /* Every result as it comes, structured ({id, name, status, message,
     * file, line, ...}, borrowed for the call); may be NULL. */
    void (*on_result)(const json_t *result, void *ud);
    void *on_result_ud;
} ct_testrun_options;

typedef struct ct_testrun_totals {
    unsigned passed, failed, pending;
    bool coverage_ok; /* true unless a minimum was given and missed */
} ct_testrun_totals;

/* A runner with nothing to run yet. opts is copied. */
int ct_testrun_new(const ct_testrun_options *opts, ct_testrun **out);
void ct_testrun_free(ct_testrun *r);

/*
 * Adds what path names: a plugin directory (every test/NAME_test.lua), one
 * test file (PLUGIN/test/NAME_test.lua), or a directory holding plugin
 * directories. A plugin added twice is run once. CT_ENOTFOUND or
 * CT_EINVAL with a diagnostic naming path when it is none of these.
 */
int ct_testrun_add(ct_testrun *r, const char *path, ct_diags *diags);

/* Adds every plugin cfg lists (borrowed for the call), resolved as the
 * daemon would, each to be tested alone with its default settings.
 * CT_ECONFIG with diagnostics when one cannot be found. */
int ct_testrun_add_config(ct_testrun *r, const ct_config *cfg,
                          ct_diags *diags);

/*
 * An area run (docs/testing.md "Area tests"): every plugin cfg lists and
 * the area's own test files (cfg's tests), each test on the daemon's host
 * with the whole area (its facilities, pathogens, every plugin with its
 * real settings) on a scratch store. A plugin's tests run in its sandbox
 * among the others; the area's files in a sandbox of their own, where
 * t.refer{...} runs referral intake end to end. cfg is borrowed until the
 * runner is freed. CT_ECONFIG with diagnostics when a plugin or a test
 * path cannot be found.
 */
int ct_testrun_add_area(ct_testrun *r, const ct_config *cfg,
                        ct_diags *diags);

/* Number of plugins added. */
size_t ct_testrun_plugins(const ct_testrun *r);

/*
 * Runs everything added, writing results as they finish, then the
 * coverage report (when on) and the summary. Fills totals (may be NULL).
 * Returns 0 when no test failed and coverage met its minimum, CT_EPLUGIN
 * otherwise, or another CT_E* when the runner itself could not work.
 */
int ct_testrun_run(ct_testrun *r, ct_testrun_totals *totals);

/*
 * The bundle self-test runner the plugin manager asks for
 * (ct_plugins_set_self_test): the tests of the plugin at dir, quietly,
 * with trust, read from bundle's verified bytes when it is not NULL; res
 * gets the counts and the first failure.
 */
int ct_testrun_self_test(const char *dir, const ct_trust *trust,
                         const ct_bundle *bundle,
                         ct_plugins_test_result *res, ct_diags *diags);

#endif
