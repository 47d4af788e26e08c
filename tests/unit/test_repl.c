/*
 * host/repl.c: the REPL's host is the daemon's (host/host.c), its
 * .referral goes through referral intake (host/intake.c) and its
 * .escalate through the escalation round.
 */
#include "repl.h"

#include "clock.h"
#include "config.h"
#include "error.h"
#include "host.h"
#include "referral.h"
#include "store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct repl_fx {
    ct_repl *r;
    char *out, *err;
    size_t nout, nerr;
    FILE *fout, *ferr;
} repl_fx;

/* The demo area (its standard plugins) on a scratch store made from the
 * config: no database at the path given. */
static void open_repl(repl_fx *f)
{
    memset(f, 0, sizeof *f);
    f->fout = open_memstream(&f->out, &f->nout);
    f->ferr = open_memstream(&f->err, &f->nerr);
    ct_repl_options o = {.config_path = CT_SOURCE_DIR "/config/demo.yaml",
                         .db_path = "/nonexistent/caretide-test.db",
                         .out = f->fout,
                         .err = f->ferr};
    ct_diags d = {0};
    int rc = ct_repl_new(&o, &f->r, &d);
    cr_assert_eq(rc, 0, "%s: %s", ct_err_name(rc),
                 d.len ? d.items[0].message : "");
    ct_diags_free(&d);
}

/* Runs code; its output and errors so far in f->out and f->err. */
static ct_repl_status eval(repl_fx *f, const char *code)
{
    ct_repl_status st = ct_repl_eval(f->r, code);
    fflush(f->fout);
    fflush(f->ferr);
    return st;
}

static void close_repl(repl_fx *f)
{
    ct_repl_free(f->r);
    fclose(f->fout);
    fclose(f->ferr);
    free(f->out);
    free(f->err);
}

Test(repl, refuses_a_pathogen_the_area_does_not_track)
{
    repl_fx f;
    open_repl(&f);
    cr_assert_eq(eval(&f, "ct.act.set_cohort('willow-red', 'measles', "
                          "'positive')"),
                 CT_REPL_OK);
    cr_assert(strstr(f.out, "pathogen measles is not tracked here"), "%s",
              f.out);
    close_repl(&f);
}

Test(repl, referral_goes_through_intake)
{
    repl_fx f;
    open_repl(&f);
    cr_assert_eq(eval(&f, ".referral {person = {age = 84, infections = "
                          "{covid = {status = 'positive'}}}}"),
                 CT_REPL_OK, "%s", f.err);
    /* The decision with each plugin step, and the infection it reported
     * recorded against the person. */
    cr_assert(strstr(f.out, "stepdown"), "%s", f.out);
    cr_assert_eq(eval(&f, "print(ct.referral(1).state, "
                          "ct.referral(1).person.infections.covid.status)"),
                 CT_REPL_OK, "%s", f.err);
    cr_assert(strstr(f.out, "positive"), "%s", f.out);
    close_repl(&f);
}

Test(repl, refused_referral_writes_nothing)
{
    repl_fx f;
    open_repl(&f);
    cr_assert_eq(eval(&f, ".referral {person = {infections = "
                          "{measles = {status = 'positive'}}}}"),
                 CT_REPL_ERROR);
    cr_assert(strstr(f.err, "measles is not tracked"), "%s", f.err);
    cr_assert_eq(eval(&f, "print(#ct.referrals{})"), CT_REPL_OK, "%s",
                 f.err);
    cr_assert(strstr(f.out, "\n0\n") || strncmp(f.out, "0\n", 2) == 0,
              "%s", f.out);
    close_repl(&f);
}

Test(repl, escalate_runs_the_round)
{
    repl_fx f;
    open_repl(&f);
    cr_assert_eq(eval(&f, ".escalate"), CT_REPL_OK, "%s", f.err);
    cr_assert(strstr(f.out, "winter_surge") || strstr(f.out, "level"), "%s",
              f.out);
    close_repl(&f);
}

/* --- strict builders and safe defaults (docs/repl.md) ------------------ */

static void open_repl_with(repl_fx *f, const char *config, const char *db,
                           bool live)
{
    memset(f, 0, sizeof *f);
    f->fout = open_memstream(&f->out, &f->nout);
    f->ferr = open_memstream(&f->err, &f->nerr);
    ct_repl_options o = {.config_path = config,
                         .db_path = db,
                         .live = live,
                         .out = f->fout,
                         .err = f->ferr};
    ct_diags d = {0};
    int rc = ct_repl_new(&o, &f->r, &d);
    cr_assert_eq(rc, 0, "%s: %s", ct_err_name(rc),
                 d.len ? d.items[0].message : "");
    ct_diags_free(&d);
}

Test(repl, misspelt_referral_field_is_an_error)
{
    repl_fx f;
    open_repl(&f);
    cr_assert_eq(eval(&f, ".referral {persn = {age = 90}}"), CT_REPL_ERROR);
    cr_assert(strstr(f.err, "referral has no field \"persn\"; did you mean "
                            "\"person\"?"),
              "%s", f.err);
    cr_assert_eq(eval(&f, "print(#ct.referrals{})"), CT_REPL_OK, "%s",
                 f.err);
    cr_assert(strstr(f.out, "0\n"), "nothing written: %s", f.out);
    close_repl(&f);
}

Test(repl, referral_defaults_come_from_the_area)
{
    repl_fx f;
    open_repl_with(&f, CT_SOURCE_DIR "/config/rural-county.yaml",
                   "/nonexistent/caretide-test.db", false);
    cr_assert_eq(eval(&f, ".referral {}"), CT_REPL_OK, "%s", f.err);
    cr_assert_eq(eval(&f, "print('from', ct.referral(1).from_org, "
                          "t.referral().from_org)"),
                 CT_REPL_OK, "%s", f.err);
    cr_assert(strstr(f.out, "from\twolds-acute\twolds-acute"), "%s", f.out);
    close_repl(&f);
}

Test(repl, made_up_referral_never_matches_a_stored_person)
{
    char dir[] = "/tmp/ct-repl-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char db[128];
    snprintf(db, sizeof db, "%s/area.db", dir);
    /* A database where the fixture's first person is stored, positive,
     * with a cancelled referral: a copy of real (or demo) data. */
    repl_fx f;
    open_repl_with(&f, CT_SOURCE_DIR "/config/demo.yaml", db, true);
    cr_assert_eq(eval(&f, ".referral {person = {infections = {covid = "
                          "{status = 'positive'}}}}"),
                 CT_REPL_OK, "%s", f.err);
    cr_assert_eq(eval(&f, "print('nhs', ct.referral(1).nhs_number)"),
                 CT_REPL_OK, "%s", f.err);
    cr_assert(strstr(f.out, "nhs\t9990000018"), "%s", f.out);
    close_repl(&f);
    /* Cancelled through the host, as the API would. */
    ct_diags d = {0};
    ct_config *cfg = NULL;
    cr_assert_eq(ct_config_load_file(CT_SOURCE_DIR "/config/demo.yaml", &cfg,
                                     &d),
                 0);
    ct_store *store = NULL;
    ct_clock *clock = NULL;
    ct_host *host = NULL;
    cr_assert_eq(ct_store_open(db, NULL, &store), 0);
    cr_assert_eq(ct_clock_new_virtual((int64_t)time(NULL) * 1000, &clock), 0);
    cr_assert_eq(ct_host_open(cfg, store, clock, 0, NULL, &host, &d), 0, "%s",
                 d.len ? d.items[0].message : "");
    ct_cap_error err = {0};
    cr_assert_eq(ct_referral_cancel(ct_host_capacity(host), 1, "test",
                                    "host", &err),
                 0, "%s", err.message);
    ct_host_close(host);
    ct_clock_close(clock, NULL, NULL);
    ct_store_close(store);
    ct_config_free(cfg);
    ct_diags_free(&d);
    /* A scratch copy: the made-up referral is somebody new, negative. */
    open_repl_with(&f, CT_SOURCE_DIR "/config/demo.yaml", db, false);
    cr_assert_eq(eval(&f, ".referral {}"), CT_REPL_OK, "%s", f.err);
    cr_assert_eq(eval(&f, "local r = ct.referral(2) print('nhs', "
                          "r.nhs_number, r.person.infections.covid and "
                          "r.person.infections.covid.status or 'none')"),
                 CT_REPL_OK, "%s", f.err);
    cr_assert(strstr(f.out, "nhs	"), "%s", f.out);
    cr_assert(!strstr(f.out, "nhs	9990000018"), "a stored person: %s",
              f.out);
    cr_assert(!strstr(f.out, "positive"), "their infection: %s", f.out);
    /* Unless asked for by number. */
    cr_assert_eq(eval(&f, ".referral {nhs_number = '9990000018'}"),
                 CT_REPL_OK, "%s", f.err);
    cr_assert_eq(eval(&f, "print('asked', ct.referral(3).nhs_number)"),
                 CT_REPL_OK, "%s", f.err);
    cr_assert(strstr(f.out, "asked\t9990000018"), "%s", f.out);
    close_repl(&f);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
