/*
 * The decision pipeline (host/pipeline.c) with the host's defaults (no
 * plugins): the requested pathway, the host's first candidate held, the
 * decision stored with its audit record, refusals that write nothing, and
 * the transaction rule (a decision inside a caller's transaction stands or
 * falls with it). Plugin answers are covered by test_plugins and
 * test_hostapi.
 */
#include "capacity_fixture.h"
#include "capacity_view.h"
#include "pipeline.h"
#include "referral.h"
#include "json_canon.h"

#include <stdlib.h>
#include <string.h>

static cap_fx f;

static void setup(void) { cap_fx_open(&f, NULL); }
static void teardown(void) { cap_fx_close(&f); }

TestSuite(pipeline, .init = setup, .fini = teardown);

static int64_t referral(const char *nhs, int requested)
{
    ct_referral_input in = {.nhs_number = nhs,
                            .age = 80,
                            .from_org = "acute",
                            .ready_date = "2026-11-23",
                            .requested_pathway = requested};
    int64_t id = 0;
    CAP_OK(ct_referral_create(f.cap, &in, "org:acute", &id, &cap_err));
    return id;
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    cr_assert_not_null(s, "%s is not a string", k);
    return s;
}

static long long decided(void)
{
    return cap_fx_int(&f, "SELECT count(*) FROM event WHERE kind = ?1",
                      "referral.decided");
}

Test(pipeline, host_defaults_hold_the_first_candidate)
{
    int64_t id = referral("9990000018", CT_PATHWAY_P2);
    json_t *d = NULL;
    CAP_OK(ct_pipeline_decide(f.cap, NULL, id, "org:council", &d, &cap_err));
    cr_assert_str_eq(str(d, "outcome"), "held");
    cr_assert_str_eq(str(d, "pathway"), "P2");
    /* P2 is rehab or step-down; the host's order puts the ward first. */
    const char *bed = str(d, "bed");
    cr_assert(json_integer_value(json_object_get(d, "hold_id")) > 0);
    cr_assert(json_is_integer(json_object_get(d, "hold_expires_at")));
    cr_assert_eq(json_array_size(json_object_get(d, "plugins")), 0);
    ct_referral r;
    CAP_OK(ct_referral_get(f.cap, id, &r, &cap_err));
    cr_assert_eq(r.state, CT_REFERRAL_HELD);
    /* The stored decision is the one returned, and it is audited once. */
    json_t *stored = NULL;
    CAP_OK(ct_pipeline_stored_decision(f.cap, id, &stored, &cap_err));
    cr_assert(json_equal(stored, d));
    cr_assert_str_eq(str(stored, "bed"), bed);
    cr_assert_eq(decided(), 1);
    /* Audited, never delivered: subscribers hear the hold. */
    cr_assert_eq(cap_fx_events(&f, "referral.decided"), 0);
    cr_assert_eq(cap_fx_events(&f, "hold.created"), 1);
    json_decref(stored);
    json_decref(d);
}

Test(pipeline, no_pathway_goes_to_manual_review)
{
    int64_t id = referral("9990000026", -1);
    json_t *d = NULL;
    CAP_OK(ct_pipeline_decide(f.cap, NULL, id, "org:council", &d, &cap_err));
    cr_assert_str_eq(str(d, "outcome"), "manual_review");
    cr_assert(json_is_null(json_object_get(d, "pathway")));
    char *why = json_dumps(json_object_get(d, "reasons"), 0);
    cr_assert(strstr(why, "no plugin triaged it and none was requested"),
              "%s", why);
    free(why);
    ct_referral r;
    CAP_OK(ct_referral_get(f.cap, id, &r, &cap_err));
    cr_assert_eq(r.state, CT_REFERRAL_WAITING);
    json_decref(d);
}

Test(pipeline, p0_needs_no_bed)
{
    int64_t id = referral("9990000034", CT_PATHWAY_P0);
    json_t *d = NULL;
    CAP_OK(ct_pipeline_decide(f.cap, NULL, id, "org:council", &d, &cap_err));
    cr_assert_str_eq(str(d, "outcome"), "home");
    cr_assert_null(json_object_get(d, "bed"));
    json_decref(d);
}

Test(pipeline, a_referral_in_the_wrong_state_is_refused_with_nothing_written)
{
    int64_t id = referral("9990000042", CT_PATHWAY_P2);
    json_t *d = NULL;
    CAP_OK(ct_pipeline_decide(f.cap, NULL, id, "org:council", &d, &cap_err));
    json_decref(d);
    long long before = cap_fx_int(&f, "SELECT count(*) FROM event", NULL);
    memset(&cap_err, 0, sizeof cap_err);
    int rc = ct_pipeline_decide(f.cap, NULL, id, "org:council", &d, &cap_err);
    cr_assert_eq(rc, CT_ESTATE);
    cr_assert_null(d);
    cr_assert(strstr(cap_err.message, "is held"), "%s", cap_err.message);
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM event", NULL), before);
    rc = ct_pipeline_decide(f.cap, NULL, 999999, "org:council", &d, &cap_err);
    cr_assert_eq(rc, CT_ENOTFOUND);
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM event", NULL), before);
}

/* Inside a caller's transaction the decision is a savepoint: rolled back
 * with the caller, it leaves no hold, no decision, no event, and nothing
 * was delivered. */
Test(pipeline, a_decision_falls_with_its_callers_transaction)
{
    int64_t id = referral("9990000050", CT_PATHWAY_P2);
    size_t heard = json_array_size(f.events);
    cr_assert_eq(ct_store_begin(f.store), 0);
    json_t *d = NULL;
    CAP_OK(ct_pipeline_decide(f.cap, NULL, id, "org:council", &d, &cap_err));
    cr_assert_str_eq(str(d, "outcome"), "held");
    json_decref(d);
    cr_assert(ct_store_in_transaction(f.store), "the caller's stays open");
    ct_store_rollback(f.store);
    cr_assert_eq(json_array_size(f.events), heard);
    cr_assert_eq(decided(), 0);
    ct_referral r;
    CAP_OK(ct_referral_get(f.cap, id, &r, &cap_err));
    cr_assert_eq(r.state, CT_REFERRAL_RECEIVED);
    json_t *stored = NULL;
    cr_assert_eq(ct_pipeline_stored_decision(f.cap, id, &stored, &cap_err),
                 CT_ENOTFOUND);
    /* The same bed is offered again: the index followed the rollback. */
    CAP_OK(ct_pipeline_decide(f.cap, NULL, id, "org:council", &d, &cap_err));
    cr_assert_str_eq(str(d, "outcome"), "held");
    json_decref(d);
}

Test(pipeline, the_referral_view_plugins_see)
{
    int64_t id = referral("9990000069", CT_PATHWAY_P2);
    cap_fx_infection(&f, "9990000069", "covid", CT_INFECTION_POSITIVE, 0);
    json_t *v = NULL;
    CAP_OK(ct_capacity_view_referral(f.cap, id, &v, &cap_err));
    json_t *person = json_object_get(v, "person");
    cr_assert_eq(json_integer_value(json_object_get(person, "age")), 80);
    json_t *covid =
        json_object_get(json_object_get(person, "infections"), "covid");
    cr_assert_str_eq(str(covid, "status"), "positive");
    cr_assert_null(json_object_get(covid, "pathogen"), "keyed by pathogen");
    cr_assert(json_is_object(json_object_get(v, "delay")));
    json_decref(v);
    cr_assert_eq(ct_capacity_view_referral(f.cap, 999999, &v, &cap_err),
                 CT_ENOTFOUND);
}

/* One column of one row as text (a new string), or NULL. */
static char *column_text(const char *sql, int64_t id)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(ct_store__db(f.store), sql, -1, &st, NULL),
                 SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    char *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

/* Issue 18: a decision is written once. The referral row, the audit
 * event's payload and what the API sends (ct_referral_decision_text) are
 * the same bytes, the decision's canonical text. */
Test(pipeline, the_decision_is_serialised_once)
{
    int64_t id = referral("9990000018", CT_PATHWAY_P2);
    json_t *d = NULL;
    CAP_OK(ct_pipeline_decide(f.cap, NULL, id, "org:council", &d, &cap_err));
    char *row = column_text("SELECT decision FROM referral WHERE id = ?1", id);
    char *event = column_text(
        "SELECT payload FROM event WHERE kind = 'referral.decided' AND "
        "json_extract(payload, '$.referral') = ?1",
        id);
    cr_assert_not_null(row);
    cr_assert_not_null(event);
    cr_assert_str_eq(row, event);
    ct_buf canon = {0}, sent = {0};
    cr_assert_eq(ct_json_canon(&canon, d), 0);
    cr_assert_str_eq(row, canon.data);
    CAP_OK(ct_referral_decision_text(f.cap, id, &sent, &cap_err));
    cr_assert_str_eq(sent.data, row);
    int64_t none = referral("9990000026", CT_PATHWAY_P2);
    cr_assert_eq(ct_referral_decision_text(f.cap, none, &sent, &cap_err),
                 CT_ENOTFOUND);
    ct_buf_free(&canon);
    ct_buf_free(&sent);
    free(row);
    free(event);
    json_decref(d);
}
