/*
 * host/intake.c, on the host of host/host.c: referral intake as one
 * transaction (a refusal at any step writes nothing), its steps and
 * fields for the front-ends' errors, and the escalation round.
 */
#include "capacity_fixture.h"

#include "clock.h"
#include "error.h"
#include "escalation.h"
#include "host.h"
#include "intake.h"
#include "isolation.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

typedef struct host_fx {
    ct_config *cfg;
    ct_store *store;
    ct_clock *clock;
    ct_host *host;
    ct_capacity *cap;
    int events; /* capacity events the embedder's hook saw */
} host_fx;

static void count_event(const ct_capacity_event *ev, void *data)
{
    (void)ev;
    ((host_fx *)data)->events++;
}

/* The fixture area with the escalator test plugin at level. */
static void open_host(host_fx *f, int level)
{
    memset(f, 0, sizeof *f);
    char yaml[8192];
    snprintf(yaml, sizeof yaml,
             "%splugin_path: [%s/tests/plugins]\n"
             "plugins:\n  - name: escalator\n    settings: {level: %d}\n",
             cap_fx_area, CT_SOURCE_DIR, level);
    ct_diags d = {0};
    int rc = ct_config_load_text("intake.yaml", ".", yaml, strlen(yaml),
                                 &f->cfg, &d);
    cr_assert_eq(rc, 0, "%s", d.len ? d.items[0].message : "");
    cr_assert_eq(ct_store_open(":memory:", NULL, &f->store), 0);
    cr_assert_eq(ct_clock_new_virtual(CAP_FX_START, &f->clock), 0);
    ct_host_hooks hooks = {.on_event = count_event, .event_data = f};
    rc = ct_host_open(f->cfg, f->store, f->clock, 0, &hooks, &f->host, &d);
    cr_assert_eq(rc, 0, "%s", d.len ? d.items[0].message : "");
    ct_diags_free(&d);
    f->cap = ct_host_capacity(f->host);
    cr_assert_eq(ct_plugins_count(ct_host_plugins(f->host)), 1);
}

static void close_host(host_fx *f)
{
    ct_host_close(f->host);
    ct_clock_close(f->clock, NULL, NULL);
    ct_store_close(f->store);
    ct_config_free(f->cfg);
}

static long long count(host_fx *f, const char *sql)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(ct_store__db(f->store), sql, -1, &st,
                                    NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static ct_intake_request request(const char *nhs,
                                 const ct_intake_infection *inf, size_t n)
{
    return (ct_intake_request){
        .in = {.nhs_number = nhs,
               .age = 84,
               .from_org = "acute",
               .ready_date = "2026-11-23",
               .requested_pathway = -1},
        .inf = inf,
        .ninf = n,
    };
}

Test(intake, referral_with_infections_decided_in_one_transaction)
{
    host_fx f;
    open_host(&f, 2);
    ct_intake_infection inf[] = {
        {"covid", CT_INFECTION_POSITIVE, CAP_FX_START - 3600000, 0}};
    ct_intake_request r = request("9990000018", inf, 1);
    ct_intake_result res;
    ct_cap_error err = {0};
    int rc = ct_intake_referral(f.cap, ct_host_plugins(f.host), &r, "test",
                                &res, &err);
    cr_assert_eq(rc, 0, "%s", err.message);
    cr_assert_gt(res.id, 0);
    cr_assert_eq(res.step, CT_INTAKE_DECIDE);
    cr_assert(json_is_object(res.decision));
    cr_assert(!ct_store_in_transaction(f.store));
    /* The referral keeps what it reported; the person's record applies. */
    cr_assert_eq(count(&f, "SELECT count(*) FROM referral WHERE "
                           "infections LIKE '%positive%'"),
                 1);
    cr_assert_eq(count(&f, "SELECT count(*) FROM infection WHERE "
                           "pathogen = 'covid' AND status = 'positive'"),
                 1);
    /* Events go out after the commit, to the embedder then the plugins. */
    cr_assert_gt(f.events, 0);
    json_decref(res.decision);
    close_host(&f);
}

Test(intake, refused_infection_writes_nothing)
{
    host_fx f;
    open_host(&f, 2);
    long long events = count(&f, "SELECT count(*) FROM event");
    ct_intake_infection inf[] = {
        {"covid", CT_INFECTION_NEGATIVE, 0, 0},
        {"measles", CT_INFECTION_POSITIVE, CAP_FX_START, 0}};
    ct_intake_request r = request("9990000018", inf, 2);
    ct_intake_result res;
    ct_cap_error err = {0};
    int rc = ct_intake_referral(f.cap, ct_host_plugins(f.host), &r, "test",
                                &res, &err);
    cr_assert_eq(rc, CT_EINVAL, "%s", ct_err_name(rc));
    cr_assert_eq(res.step, CT_INTAKE_INFECTIONS);
    cr_assert_str_eq(res.field, "infections.measles");
    cr_assert(strstr(err.message, "measles is not tracked"), "%s",
              err.message);
    cr_assert_null(res.decision);
    cr_assert_eq(count(&f, "SELECT count(*) FROM referral"), 0);
    cr_assert_eq(count(&f, "SELECT count(*) FROM infection"), 0);
    cr_assert_eq(count(&f, "SELECT count(*) FROM event"), events);
    cr_assert_eq(f.events, 0);
    cr_assert(!ct_store_in_transaction(f.store));
    close_host(&f);
}

Test(intake, unknown_organisation_and_active_referral_at_the_store_step)
{
    host_fx f;
    open_host(&f, 2);
    ct_intake_request r = request("9990000018", NULL, 0);
    ct_intake_result res;
    ct_cap_error err = {0};
    r.in.from_org = "nowhere";
    cr_assert_eq(ct_intake_referral(f.cap, NULL, &r, "test", &res, &err),
                 CT_ENOTFOUND);
    cr_assert_eq(res.step, CT_INTAKE_STORE);
    cr_assert_str_eq(res.field, "from_org");
    r.in.from_org = "acute";
    cr_assert_eq(ct_intake_referral(f.cap, NULL, &r, "test", &res, &err), 0,
                 "%s", err.message);
    int64_t first = res.id;
    json_decref(res.decision);
    memset(&err, 0, sizeof err);
    cr_assert_eq(ct_intake_referral(f.cap, NULL, &r, "test", &res, &err),
                 CT_ECONFLICT);
    cr_assert_eq(res.step, CT_INTAKE_STORE);
    cr_assert_eq(res.id, first);
    cr_assert_eq(count(&f, "SELECT count(*) FROM referral"), 1);
    close_host(&f);
}

Test(intake, inside_the_callers_transaction)
{
    host_fx f;
    open_host(&f, 2);
    cr_assert_eq(ct_store_begin(f.store), 0);
    ct_intake_request r = request("9990000018", NULL, 0);
    ct_intake_result res;
    ct_cap_error err = {0};
    cr_assert_eq(ct_intake_referral(f.cap, NULL, &r, "test", &res, &err), 0,
                 "%s", err.message);
    json_decref(res.decision);
    cr_assert(ct_store_in_transaction(f.store), "the caller's, still open");
    ct_store_rollback(f.store);
    cr_assert_eq(count(&f, "SELECT count(*) FROM referral"), 0);
    cr_assert_eq(f.events, 0);
    close_host(&f);
}

Test(intake, escalation_round_records_the_level)
{
    host_fx f;
    open_host(&f, 3);
    json_t *out = NULL;
    bool changed = false;
    ct_cap_error err = {0};
    cr_assert_eq(ct_intake_escalate(f.cap, ct_host_plugins(f.host), &out,
                                    &changed, &err),
                 0, "%s", err.message);
    cr_assert(changed);
    cr_assert_eq(json_integer_value(json_object_get(out, "level")), 3);
    cr_assert(json_is_true(json_object_get(out, "changed")));
    cr_assert_eq(json_array_size(json_object_get(out, "trace")), 1);
    json_decref(out);
    ct_escalation e;
    cr_assert_eq(ct_escalation_current(f.store, &e), 0);
    cr_assert_eq(e.level, 3);
    /* The same level again: recorded as unchanged. */
    cr_assert_eq(ct_intake_escalate(f.cap, ct_host_plugins(f.host), NULL,
                                    &changed, &err),
                 0);
    cr_assert(!changed);
    close_host(&f);
}
