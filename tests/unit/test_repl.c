/*
 * host/repl.c: the REPL's host is the daemon's (host/host.c), its
 * .referral goes through referral intake (host/intake.c) and its
 * .escalate through the escalation round.
 */
#include "repl.h"

#include "error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
