/* Beds, blocks, surge, holds, confirm, release and expiry (host/capacity.c). */
#include "capacity_fixture.h"
#include "candidates.h"
#include "capacity_int.h"
#include "fixtures.h"
#include "isolation.h"
#include "referral.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static cap_fx f;
static const char *const nursing[] = {"nursing", NULL};

static void setup(void) { cap_fx_open(&f, NULL); }
static void teardown(void) { cap_fx_close(&f); }

TestSuite(capacity, .init = setup, .fini = teardown);

static ct_bed_info bed(const char *id)
{
    ct_bed_info b;
    CAP_OK(ct_capacity_bed(f.cap, id, &b, &cap_err));
    return b;
}

static ct_referral_state state_of(int64_t id)
{
    ct_referral r;
    CAP_OK(ct_referral_get(f.cap, id, &r, &cap_err));
    return r.state;
}

/* A referral of person i, triaged to step_down. */
static int64_t referral(unsigned i)
{
    char nhs[11];
    cap_fx_nhs(i, nhs);
    return cap_fx_referral(&f, nhs, "2026-11-23", CT_PATHWAY_STEP_DOWN,
                           nursing);
}

/* ---- beds and blocks ------------------------------------------------- */

Test(capacity, bed_view)
{
    ct_bed_info b = bed("R01");
    cr_assert_str_eq(b.zone_id, "red");
    cr_assert_str_eq(b.facility_id, "sd");
    cr_assert_eq(b.kind, CT_FACILITY_STEP_DOWN);
    cr_assert_eq(b.status, CT_BED_AVAILABLE);
    cr_assert_not(b.surge);
    cr_assert_eq(b.referral_id, 0);
    b = bed("G05");
    cr_assert(b.surge);
    cr_assert_not(b.surge_open);
    CAP_REFUSED(&f, CT_ENOTFOUND, ct_capacity_bed(f.cap, "X99", &b, &cap_err),
                "bed X99 does not exist");
    CAP_REFUSED(&f, CT_EINVAL, ct_capacity_bed(f.cap, "", &b, &cap_err),
                "bed id is required");
}

Test(capacity, block_and_unblock)
{
    CAP_OK(ct_capacity_block(f.cap, "H01", "deep clean", "org:homes",
                             &cap_err));
    ct_bed_info b = bed("H01");
    cr_assert_eq(b.status, CT_BED_BLOCKED);
    cr_assert_str_eq(b.blocked_reason, "deep clean");
    json_t *p = cap_fx_last(&f, "bed.blocked");
    cr_assert_not_null(p);
    cr_assert_str_eq(json_string_value(json_object_get(p, "reason")),
                     "deep clean");
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(f.events, 0), "actor")),
                     "org:homes");

    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_block(f.cap, "H01", "again", "org:homes",
                                  &cap_err),
                "bed H01 is blocked (deep clean); cannot block");
    CAP_OK(ct_capacity_unblock(f.cap, "H01", "org:homes", &cap_err));
    cr_assert_eq(bed("H01").status, CT_BED_AVAILABLE);
    cr_assert_eq(cap_fx_int(&f, "SELECT blocked_reason IS NULL FROM bed "
                                "WHERE id = 'H01'",
                            NULL),
                 1);
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_unblock(f.cap, "H01", "org:homes", &cap_err),
                "bed H01 is available, not blocked");
    cr_assert_eq(cap_fx_events(&f, "bed.unblocked"), 1);
}

Test(capacity, block_refusals)
{
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_capacity_block(f.cap, "NOPE", "x", "org:homes", &cap_err),
                "bed NOPE does not exist");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_capacity_block(f.cap, "H01", "", "org:homes", &cap_err),
                "block reason is required");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_capacity_block(f.cap, "H01", "x", NULL, &cap_err),
                "actor is required");
    int64_t r = referral(0);
    CAP_OK(ct_capacity_hold(f.cap, r, "G01", 0, "org:council", NULL,
                            &cap_err));
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_block(f.cap, "G01", "x", "org:homes", &cap_err),
                "bed G01 is held by referral 1; cannot block");
    CAP_OK(ct_capacity_confirm(f.cap, r, "org:council", NULL, &cap_err));
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_block(f.cap, "G01", "x", "org:homes", &cap_err),
                "bed G01 is occupied by referral 1; cannot block");
}

/* ---- surge ----------------------------------------------------------- */

Test(capacity, surge_open_and_close)
{
    ct_surge_result res;
    int64_t r = referral(0);
    CAP_REFUSED(&f, CT_ECAPACITY,
                ct_capacity_hold(f.cap, r, "G05", 0, "org:council", NULL,
                                 &cap_err),
                "bed G05 is a surge bed and surge capacity at sd is not open");

    CAP_OK(ct_capacity_surge_open(f.cap, "sd", 1, "org:council", &res,
                                  &cap_err));
    cr_assert_eq(res.changed, 1);
    cr_assert_eq(res.open, 1);
    cr_assert_eq(res.total, 3); /* G05, G06, R05 */
    cr_assert(bed("G05").surge_open, "lowest id opens first");
    cr_assert_not(bed("G06").surge_open);
    json_t *p = cap_fx_last(&f, "surge.opened");
    cr_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(p, "beds"), 0)),
                     "G05");

    CAP_OK(ct_capacity_hold(f.cap, r, "G05", 0, "org:council", NULL,
                            &cap_err));
    CAP_REFUSED(&f, CT_ECAPACITY,
                ct_capacity_surge_open(f.cap, "sd", 3, "org:council", &res,
                                       &cap_err),
                "facility sd has 2 closed surge beds; cannot open 3");
    CAP_OK(ct_capacity_surge_open(f.cap, "sd", CT_SURGE_ALL, "org:council",
                                  &res, &cap_err));
    cr_assert_eq(res.changed, 2);
    cr_assert_eq(res.open, 3);

    /* G05 is held: it cannot close; the other two can. */
    CAP_REFUSED(&f, CT_ECAPACITY,
                ct_capacity_surge_close(f.cap, "sd", 3, "org:council", &res,
                                        &cap_err),
                "facility sd has 2 open surge beds free to close; cannot "
                "close 3");
    CAP_OK(ct_capacity_surge_close(f.cap, "sd", CT_SURGE_ALL, "org:council",
                                   &res, &cap_err));
    cr_assert_eq(res.changed, 2);
    cr_assert_eq(res.open, 1);
    cr_assert_eq(res.busy_open, 1);
    cr_assert(bed("G05").surge_open);
    cr_assert_not(bed("R05").surge_open);

    /* Nothing left to do: no event, no write. */
    int64_t head = ct_audit_head(f.store);
    CAP_OK(ct_capacity_surge_close(f.cap, "sd", CT_SURGE_ALL, "org:council",
                                   &res, &cap_err));
    cr_assert_eq(res.changed, 0);
    cr_assert_eq(ct_audit_head(f.store), head);

    /* Once free, the busy one closes too. */
    CAP_OK(ct_capacity_release(f.cap, r, "changed plan", "org:council",
                               &cap_err));
    CAP_OK(ct_capacity_surge_close(f.cap, "sd", 1, "org:council", &res,
                                   &cap_err));
    cr_assert_eq(res.open, 0);
    cr_assert_eq(cap_fx_events(&f, "surge.closed"), 2);
}

Test(capacity, surge_refusals)
{
    ct_surge_result res;
    CAP_REFUSED(&f, CT_ECAPACITY,
                ct_capacity_surge_open(f.cap, "home", 1, "org:homes", &res,
                                       &cap_err),
                "facility home has no surge beds");
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_capacity_surge_open(f.cap, "nowhere", 1, "org:homes", &res,
                                       &cap_err),
                "facility nowhere does not exist");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_capacity_surge_open(f.cap, "sd", 0, "org:council", &res,
                                       &cap_err),
                "surge bed count must be 1 or more");
    CAP_REFUSED(&f, CT_ECAPACITY,
                ct_capacity_surge_close(f.cap, "sd", 1, "org:council", &res,
                                        &cap_err),
                "has 0 open surge beds free to close");
}

/* ---- holds ----------------------------------------------------------- */

Test(capacity, hold_confirm)
{
    int64_t r = referral(0), hold = 0, occ = 0;
    CAP_OK(ct_capacity_hold(f.cap, r, "G01", 2 * HOUR_MS, "org:council",
                            &hold, &cap_err));
    cr_assert_gt(hold, 0);
    ct_bed_info b = bed("G01");
    cr_assert_eq(b.status, CT_BED_HELD);
    cr_assert_eq(b.referral_id, r);
    cr_assert_eq(b.assignment_id, hold);
    cr_assert_eq(b.expires_at, CAP_FX_START + 2 * HOUR_MS);
    cr_assert_eq(state_of(r), CT_REFERRAL_HELD);
    json_t *p = cap_fx_last(&f, "hold.created");
    cr_assert_eq(json_integer_value(json_object_get(p, "expires_at")),
                 CAP_FX_START + 2 * HOUR_MS);
    cr_assert_eq(ct_capacity_next_expiry(f.cap), CAP_FX_START + 2 * HOUR_MS);

    ct_clock_advance(f.clock, HOUR_MS);
    CAP_OK(ct_capacity_confirm(f.cap, r, "org:council", &occ, &cap_err));
    cr_assert_gt(occ, hold);
    b = bed("G01");
    cr_assert_eq(b.status, CT_BED_OCCUPIED);
    cr_assert_eq(b.assignment_id, occ);
    cr_assert_eq(b.expires_at, 0);
    cr_assert_eq(state_of(r), CT_REFERRAL_PLACED);
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM assignment WHERE "
                                "kind = 'hold' AND active = 0 AND "
                                "end_reason = 'confirmed'",
                            NULL),
                 1);
    cr_assert_eq(ct_capacity_next_expiry(f.cap), INT64_MAX);

    /* The confirmed hold never expires. */
    ct_clock_advance(f.clock, 10 * HOUR_MS);
    cr_assert_eq(bed("G01").status, CT_BED_OCCUPIED);
    cr_assert_eq(cap_fx_events(&f, "hold.expired"), 0);
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_confirm(f.cap, r, "org:council", NULL, &cap_err),
                "referral 1 is placed; cannot confirm");
}

Test(capacity, hold_refusals)
{
    int64_t a = referral(0), b = referral(1);
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_capacity_hold(f.cap, 99, "G01", 0, "org:council", NULL,
                                 &cap_err),
                "referral 99 does not exist");
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_capacity_hold(f.cap, a, "G99", 0, "org:council", NULL,
                                 &cap_err),
                "bed G99 does not exist");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_capacity_hold(f.cap, a, "G01", -1, "org:council", NULL,
                                 &cap_err),
                "time to live");
    CAP_OK(ct_capacity_hold(f.cap, a, "G01", 0, "org:council", NULL,
                            &cap_err));
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_hold(f.cap, b, "G01", 0, "org:council", NULL,
                                 &cap_err),
                "bed G01 is held by referral 1; cannot hold");
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_hold(f.cap, a, "G02", 0, "org:council", NULL,
                                 &cap_err),
                "referral 1 is held; cannot hold");
    CAP_OK(ct_capacity_block(f.cap, "G02", "broken hoist", "org:council",
                             &cap_err));
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_hold(f.cap, b, "G02", 0, "org:council", NULL,
                                 &cap_err),
                "bed G02 is blocked (broken hoist); cannot hold");
    /* Needs: bariatric only in H05 and H06. */
    char nhs[11];
    cap_fx_nhs(2, nhs);
    static const char *const heavy[] = {"bariatric", NULL};
    int64_t c = cap_fx_referral(&f, nhs, "2026-11-23", CT_PATHWAY_P3, heavy);
    CAP_REFUSED(&f, CT_ECAPACITY,
                ct_capacity_hold(f.cap, c, "H01", 0, "org:council", NULL,
                                 &cap_err),
                "bed H01 lacks tag bariatric that referral 3 needs");
    CAP_OK(ct_capacity_hold(f.cap, c, "H05", 0, "org:council", NULL,
                            &cap_err));
    /* A referral not yet triaged cannot be held. */
    cap_fx_nhs(3, nhs);
    int64_t d = cap_fx_referral(&f, nhs, "2026-11-23", -1, NULL);
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_hold(f.cap, d, "W01", 0, "org:council", NULL,
                                 &cap_err),
                "referral 4 is received; cannot hold");
}

Test(capacity, hold_in_closed_zone)
{
    int64_t r = referral(0);
    CAP_OK(ct_isolation_close_zone(f.cap, "green", "norovirus outbreak",
                                   "org:council", NULL, &cap_err));
    CAP_REFUSED(&f, CT_ECLOSED,
                ct_capacity_hold(f.cap, r, "G01", 0, "org:council", NULL,
                                 &cap_err),
                "zone green is closed to admissions (norovirus outbreak)");
}

Test(capacity, expiry_on_the_clock)
{
    int64_t a = referral(0), b = referral(1), c = referral(2);
    CAP_OK(ct_capacity_hold(f.cap, a, "G01", HOUR_MS, "org:council", NULL,
                            &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, b, "G02", 3 * HOUR_MS, "org:council",
                            NULL, &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, c, "G03", 0, "org:council", NULL,
                            &cap_err)); /* default: 4h */
    ct_clock_advance(f.clock, HOUR_MS - 1);
    cr_assert_eq(bed("G01").status, CT_BED_HELD);
    ct_clock_advance(f.clock, 1);
    cr_assert_eq(bed("G01").status, CT_BED_AVAILABLE);
    cr_assert_eq(state_of(a), CT_REFERRAL_WAITING);
    cr_assert_eq(bed("G02").status, CT_BED_HELD);
    cr_assert_eq(cap_fx_events(&f, "hold.expired"), 1);
    json_t *last = json_array_get(f.events, json_array_size(f.events) - 1);
    cr_assert_eq(json_integer_value(json_object_get(last, "at")),
                 CAP_FX_START + HOUR_MS, "expired at its due time");
    cr_assert_str_eq(json_string_value(json_object_get(last, "actor")),
                     "host");
    json_t *p = json_object_get(last, "payload");
    cr_assert_str_eq(json_string_value(json_object_get(p, "reason")),
                     "not confirmed within 1h");
    cr_assert_str_eq(json_string_value(json_object_get(p, "bed")), "G01");
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM assignment WHERE "
                                "end_reason = 'expired' AND ended_at = "
                                "started_at + 3600000",
                            NULL),
                 1);

    /* One advance past both: each fires at its own time, in order. */
    ct_clock_advance(f.clock, 5 * HOUR_MS);
    cr_assert_eq(cap_fx_events(&f, "hold.expired"), 3);
    size_t n = json_array_size(f.events);
    cr_assert_eq(json_integer_value(json_object_get(
                     json_array_get(f.events, n - 2), "at")),
                 CAP_FX_START + 3 * HOUR_MS);
    cr_assert_eq(json_integer_value(json_object_get(
                     json_array_get(f.events, n - 1), "at")),
                 CAP_FX_START + 4 * HOUR_MS);
    cr_assert_eq(state_of(c), CT_REFERRAL_WAITING);
    cr_assert_eq(ct_capacity_next_expiry(f.cap), INT64_MAX);

    /* Waiting again, the referral can be held again. */
    CAP_OK(ct_capacity_hold(f.cap, a, "G01", 0, "org:council", NULL,
                            &cap_err));
}

Test(capacity, confirm_after_due_before_timer)
{
    int64_t r = referral(0);
    CAP_OK(ct_capacity_hold(f.cap, r, "G01", HOUR_MS, "org:council", NULL,
                            &cap_err));
    /* A real clock may run a little late: stop the timer so the hold is
     * due but not yet expired. */
    ct_timer_stop(&ct_capacity__state(f.cap)->hold_timer);
    ct_clock_advance(f.clock, HOUR_MS);
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_confirm(f.cap, r, "org:council", NULL, &cap_err),
                "hold 1 on bed G01 has expired");
    cr_assert_eq(ct_capacity_expire_due(f.cap), 1);
    cr_assert_eq(bed("G01").status, CT_BED_AVAILABLE);
    cr_assert_eq(ct_capacity_expire_due(f.cap), 0);
}

Test(capacity, release)
{
    int64_t r = referral(0);
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_release(f.cap, r, "x", "org:council", &cap_err),
                "referral 1 is triaged; cannot release a hold");
    CAP_OK(ct_capacity_hold(f.cap, r, "G01", 0, "org:council", NULL,
                            &cap_err));
    CAP_REFUSED(&f, CT_EINVAL,
                ct_capacity_release(f.cap, r, "", "org:council", &cap_err),
                "release reason is required");
    CAP_OK(ct_capacity_release(f.cap, r, "family chose another home",
                               "org:council", &cap_err));
    cr_assert_eq(bed("G01").status, CT_BED_AVAILABLE);
    cr_assert_eq(state_of(r), CT_REFERRAL_WAITING);
    json_t *p = cap_fx_last(&f, "hold.released");
    cr_assert_str_eq(json_string_value(json_object_get(p, "reason")),
                     "family chose another home");
    cr_assert_eq(ct_capacity_next_expiry(f.cap), INT64_MAX);
    /* The timer finds nothing to expire. */
    ct_clock_advance(f.clock, 5 * HOUR_MS);
    cr_assert_eq(cap_fx_events(&f, "hold.expired"), 0);
}

/* ---- the schema's own guarantees ------------------------------------- */

Test(capacity, schema_keeps_one_active_assignment_and_blocked_beds_empty)
{
    int64_t a = referral(0), b = referral(1);
    CAP_OK(ct_capacity_hold(f.cap, a, "G01", 0, "org:council", NULL,
                            &cap_err));
    sqlite3 *db = ct_store__db(f.store);
    char sql[256];
    /* Bypassing the C checks: the partial unique index holds the line. */
    snprintf(sql, sizeof sql,
             "INSERT INTO assignment (bed_id, referral_id, kind, active,"
             " started_at, expires_at) VALUES ('G01', %lld, 'hold', 1, 0, 1)",
             (long long)b);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL) & 0xff,
                 SQLITE_CONSTRAINT);
    cr_assert_str_eq(sqlite3_errmsg(db),
                     "UNIQUE constraint failed: assignment.bed_id");
    /* One active assignment per referral too. */
    snprintf(sql, sizeof sql,
             "INSERT INTO assignment (bed_id, referral_id, kind, active,"
             " started_at, expires_at) VALUES ('G02', %lld, 'hold', 1, 0, 1)",
             (long long)a);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL) & 0xff,
                 SQLITE_CONSTRAINT);
    cr_assert_str_eq(sqlite3_errmsg(db),
                     "UNIQUE constraint failed: index 'assignment_by_referral'");
    /* Nothing starts on a blocked bed: the hold refuses it, and so does
     * the bed's CHECK (blocked with a reason) if its status were set. */
    CAP_OK(ct_capacity_block(f.cap, "G03", "x", "org:council", &cap_err));
    cr_assert_eq(ct_capacity_hold(f.cap, b, "G03", 0, "org:council", NULL,
                                  &cap_err),
                 CT_ESTATE);
    cr_assert_eq(sqlite3_exec(db, "UPDATE bed SET status = 'held' "
                                  "WHERE id = 'G03'",
                              NULL, NULL, NULL) & 0xff,
                 SQLITE_CONSTRAINT);
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM assignment WHERE "
                                "bed_id = 'G03'",
                            NULL),
                 0);
    /* The status follows the assignment, set with it by capacity.c. */
    CAP_OK(ct_capacity_release(f.cap, a, "test", "org:council", &cap_err));
    cr_assert_eq(cap_fx_int(&f, "SELECT status = 'available' FROM bed WHERE "
                                "id = 'G01'",
                            NULL),
                 1);
    CAP_OK(ct_capacity_hold(f.cap, b, "G04", 0, "org:council", NULL,
                            &cap_err));
    CAP_OK(ct_capacity_confirm(f.cap, b, "org:council", NULL, &cap_err));
    cr_assert_eq(cap_fx_int(&f, "SELECT status = 'occupied' FROM bed WHERE "
                                "id = 'G04'",
                            NULL),
                 1);
}

/* ---- batches --------------------------------------------------------- */

Test(capacity, inside_a_caller_transaction)
{
    int64_t a = referral(0), b = referral(1);
    size_t before = json_array_size(f.events);
    cr_assert_eq(ct_store_begin(f.store), 0);
    CAP_OK(ct_capacity_hold(f.cap, a, "G01", 0, "org:council", NULL,
                            &cap_err));
    /* A refusal inside the batch writes nothing and keeps the batch. */
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_hold(f.cap, b, "G01", 0, "org:council", NULL,
                                 &cap_err),
                "bed G01 is held");
    cr_assert(ct_store_in_transaction(f.store));
    CAP_OK(ct_capacity_hold(f.cap, b, "G02", 0, "org:council", NULL,
                            &cap_err));
    cr_assert_eq(json_array_size(f.events), before,
                 "no event delivered before the caller commits");
    cr_assert_eq(ct_store_commit(f.store), 0);
    cr_assert_eq(json_array_size(f.events), before + 2);
    cr_assert_eq(bed("G02").status, CT_BED_HELD);

    /* A batch rolled back leaves nothing, events included. */
    int64_t c = referral(2);
    before = json_array_size(f.events);
    int64_t head = ct_audit_head(f.store);
    cr_assert_eq(ct_store_begin(f.store), 0);
    CAP_OK(ct_capacity_hold(f.cap, c, "G03", 0, "org:council", NULL,
                            &cap_err));
    ct_store_rollback(f.store);
    cr_assert_eq(json_array_size(f.events), before);
    cr_assert_eq(ct_audit_head(f.store), head);
    cr_assert_eq(bed("G03").status, CT_BED_AVAILABLE);
    cr_assert_eq(state_of(c), CT_REFERRAL_TRIAGED);
}

/* Everything a hold touches, as one text: assignments, bed statuses,
 * referral states and the audit log. */
static char *snapshot(void)
{
    return cap_fx_text(
        &f,
        "SELECT (SELECT group_concat(id || bed_id || referral_id || kind ||"
        "                            active, ',') FROM assignment) || '|' ||"
        "       (SELECT group_concat(id || status, ',') FROM bed) || '|' ||"
        "       (SELECT group_concat(id || state || updated_at, ',')"
        "          FROM referral) || '|' ||"
        "       (SELECT count(*) || max(seq) FROM event) || '|' ||"
        "       (SELECT seq || hex(hash) FROM chain_head)",
        NULL);
}

/* Holds inside a caller's transaction run without a savepoint: every
 * refusal, the unique indexes' included, still leaves no trace in the
 * store or in the candidate index, and the batch goes on. */
Test(capacity, refused_holds_in_a_batch_leave_no_trace)
{
    int64_t a = referral(0), b = referral(1), c = referral(2);
    char nhs[11];
    cap_fx_nhs(3, nhs);
    static const char *const heavy[] = {"bariatric", NULL};
    int64_t d = cap_fx_referral(&f, nhs, "2026-11-23", CT_PATHWAY_P3, heavy);
    CAP_OK(ct_capacity_block(f.cap, "G03", "broken hoist", "org:council",
                             &cap_err));
    ct_candidate_list l = {0};
    ct_candidate_query q = {.referral_id = b, .pathway = -1, .limit = 4};
    CAP_OK(ct_candidates_find(f.cap, &q, &l, &cap_err));
    cr_assert_eq(ct_store_begin(f.store), 0);
    CAP_OK(ct_capacity_hold(f.cap, a, "G01", 0, "org:council", NULL,
                            &cap_err));
    char *before = snapshot();
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_hold(f.cap, b, "G01", 0, "org:council", NULL,
                                 &cap_err),
                "bed G01 is held");
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_hold(f.cap, a, "G02", 0, "org:council", NULL,
                                 &cap_err),
                "referral 1 is held");
    CAP_REFUSED(&f, CT_ESTATE,
                ct_capacity_hold(f.cap, b, "G03", 0, "org:council", NULL,
                                 &cap_err),
                "blocked");
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_capacity_hold(f.cap, b, "G99", 0, "org:council", NULL,
                                 &cap_err),
                "does not exist");
    CAP_REFUSED(&f, CT_ECAPACITY,
                ct_capacity_hold(f.cap, d, "H01", 0, "org:council", NULL,
                                 &cap_err),
                "lacks tag bariatric");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_capacity_hold(f.cap, b, "G02", 0, "org:\xff", NULL,
                                 &cap_err),
                "not UTF-8");
    /* The unique index on one active assignment per referral is the last
     * word: an active assignment the checks cannot see (written behind
     * their back) makes the INSERT itself fail, and SQLite's statement
     * journal undoes it. */
    sqlite3 *db = ct_store__db(f.store);
    cr_assert_eq(sqlite3_exec(db,
                              "INSERT INTO assignment (bed_id, referral_id,"
                              " kind, active, started_at, ended_at)"
                              " VALUES ('G04', 3, 'hold', 0, 1, 2);"
                              "UPDATE assignment SET ended_at = NULL,"
                              " active = 1 WHERE referral_id = 3"
                              " AND ended_at = 2;",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    cr_assert_eq(ct_capacity_refresh(f.cap), 0);
    free(before);
    before = snapshot();
    CAP_REFUSED(&f, CT_ECONFLICT,
                ct_capacity_hold(f.cap, c, "G02", 0, "org:council", NULL,
                                 &cap_err),
                "already has an active assignment");
    char *after = snapshot();
    cr_assert_str_eq(after, before, "a refused hold wrote nothing");
    free(after);
    free(before);
    cr_assert(ct_store_in_transaction(f.store), "the batch goes on");
    /* The index was not told of the refused holds: G02 is still free. */
    CAP_OK(ct_candidates_find(f.cap, &q, &l, &cap_err));
    cr_assert_geq(l.len, 1);
    cr_assert_str_eq(l.items[0].bed_id, "G02");
    CAP_OK(ct_capacity_hold(f.cap, b, "G02", 0, "org:council", NULL,
                            &cap_err));
    cr_assert_eq(ct_store_commit(f.store), 0);
    cr_assert_eq(bed("G02").status, CT_BED_HELD);
    cr_assert_eq(state_of(b), CT_REFERRAL_HELD);
    cr_assert_eq(state_of(c), CT_REFERRAL_TRIAGED);
    ct_audit_report rep;
    cr_assert_eq(ct_audit_verify(f.store, &rep), 0, "%s", rep.reason);
    ct_candidate_list_free(&l);
}

/* A hold that fails after its first write (here the referral's update is
 * made to fail) cannot be undone alone without a savepoint: the caller's
 * transaction is rolled back whole, as SQLite does on I/O errors, the
 * error says so, and nothing of the batch stays. */
Test(capacity, hold_failing_after_its_first_write_ends_the_batch)
{
    int64_t a = referral(0), b = referral(1);
    sqlite3 *db = ct_store__db(f.store);
    int64_t head = ct_audit_head(f.store);
    size_t before = json_array_size(f.events);
    cr_assert_eq(ct_store_begin(f.store), 0);
    CAP_OK(ct_capacity_hold(f.cap, a, "G01", 0, "org:council", NULL,
                            &cap_err));
    cr_assert_eq(sqlite3_exec(db,
                              "CREATE TEMP TRIGGER boom BEFORE UPDATE OF state"
                              " ON referral WHEN NEW.id = 2"
                              " BEGIN SELECT RAISE(ABORT, 'boom'); END;",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    memset(&cap_err, 0, sizeof cap_err);
    int rc = ct_capacity_hold(f.cap, b, "G02", 0, "org:council", NULL,
                              &cap_err);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(cap_err.message, "transaction was rolled back"), "%s",
              cap_err.message);
    cr_assert_not(ct_store_in_transaction(f.store));
    /* (the trigger, made in the transaction, went with it) */
    cr_assert_eq(json_array_size(f.events), before);
    cr_assert_eq(ct_audit_head(f.store), head);
    cr_assert_eq(bed("G01").status, CT_BED_AVAILABLE);
    cr_assert_eq(bed("G02").status, CT_BED_AVAILABLE);
    cr_assert_eq(state_of(a), CT_REFERRAL_TRIAGED);
    cr_assert_eq(state_of(b), CT_REFERRAL_TRIAGED);
    /* The candidate index follows the rollback: G01 is offered again. */
    ct_candidate_list l = {0};
    ct_candidate_query q = {.referral_id = a, .pathway = -1, .limit = 1};
    CAP_OK(ct_candidates_find(f.cap, &q, &l, &cap_err));
    cr_assert_eq(l.len, 1);
    cr_assert_str_eq(l.items[0].bed_id, "G01");
    ct_candidate_list_free(&l);
    /* Outside a transaction a hold is its own transaction again. */
    CAP_OK(ct_capacity_hold(f.cap, a, "G01", 0, "org:council", NULL,
                            &cap_err));
}

Test(capacity, group_commit_savepoint_rolled_back)
{
    /* The daemon's committer: one transaction, each write in a savepoint;
     * a failed write is rolled back alone. */
    int64_t a = referral(0), b = referral(1);
    size_t before = json_array_size(f.events);
    cr_assert_eq(ct_store_begin(f.store), 0);
    cr_assert_eq(ct_store_savepoint(f.store), 0);
    CAP_OK(ct_capacity_hold(f.cap, a, "G01", 0, "org:council", NULL,
                            &cap_err));
    cr_assert_eq(ct_store_release(f.store), 0);
    cr_assert_eq(ct_store_savepoint(f.store), 0);
    CAP_OK(ct_capacity_hold(f.cap, b, "G02", 0, "org:council", NULL,
                            &cap_err));
    /* ... the write fails later: its savepoint goes, and with it its
     * event and what the index saw of it (the store tells both). */
    cr_assert_eq(ct_store_rollback_to(f.store), 0);
    cr_assert_eq(json_array_size(f.events), before,
                 "nothing delivered before the commit");
    cr_assert_eq(ct_store_commit(f.store), 0);
    cr_assert_eq(json_array_size(f.events), before + 1, "w1's event only");
    cr_assert_eq(bed("G01").status, CT_BED_HELD);
    cr_assert_eq(bed("G02").status, CT_BED_AVAILABLE);
    cr_assert_eq(state_of(b), CT_REFERRAL_TRIAGED);
    /* The candidate index reloaded: G02 is offered again. */
    ct_candidate_list l = {0};
    ct_candidate_query q = {.referral_id = b, .pathway = -1, .limit = 1};
    CAP_OK(ct_candidates_find(f.cap, &q, &l, &cap_err));
    cr_assert_eq(l.len, 1);
    cr_assert_str_eq(l.items[0].bed_id, "G02");
    ct_candidate_list_free(&l);
}

/* ---- restart --------------------------------------------------------- */

Test(capacity, pending_expiry_survives_a_restart)
{
    int64_t r = referral(0);
    CAP_OK(ct_capacity_hold(f.cap, r, "G01", HOUR_MS, "org:council", NULL,
                            &cap_err));
    cap_fx_reopen_capacity(&f);
    ct_clock_advance(f.clock, 2 * HOUR_MS);
    cr_assert_eq(bed("G01").status, CT_BED_AVAILABLE);
    cr_assert_eq(cap_fx_events(&f, "hold.expired"), 1);
}

Test(capacity, file_store_full_sync)
{
    /* The same on a real file with synchronous FULL. */
    cap_fx_close(&f);
    const char *dir = ct_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/area.db", dir);
    cap_fx_open_path(&f, NULL, path, CT_SYNC_FULL);
    int64_t r = referral(0);
    CAP_OK(ct_capacity_hold(f.cap, r, "G01", HOUR_MS, "org:council", NULL,
                            &cap_err));
    CAP_OK(ct_capacity_confirm(f.cap, r, "org:council", NULL, &cap_err));
    cr_assert_eq(bed("G01").status, CT_BED_OCCUPIED);
    cap_fx_close(&f);
    ct_test_rmtree(dir);
    cap_fx_open(&f, NULL); /* for teardown */
}

/* ---- embedding ------------------------------------------------------- */

Test(capacity, external_timers_leave_expiry_to_the_embedder)
{
    ct_capacity_free(f.cap);
    ct_capacity_options o = {.external_timers = true};
    cr_assert_eq(ct_capacity_new(f.store, f.clock, &o, &f.cap), 0);
    int64_t a = referral(0);
    CAP_OK(ct_capacity_hold(f.cap, a, "G01", HOUR_MS, "org:council", NULL,
                            &cap_err));
    char nhs[11];
    cap_fx_nhs(7, nhs);
    cap_fx_infection(&f, nhs, "covid", CT_INFECTION_POSITIVE,
                     CAP_FX_START + 2 * HOUR_MS);
    cr_assert_eq(ct_clock_next_due(f.clock), INT64_MAX, "no timer started");
    ct_clock_advance(f.clock, 3 * HOUR_MS);
    cr_assert_eq(bed("G01").status, CT_BED_HELD, "nothing fired by itself");
    cr_assert_eq(ct_capacity_next_expiry(f.cap), CAP_FX_START + HOUR_MS);
    cr_assert_eq(ct_isolation_next_end(f.cap), CAP_FX_START + 2 * HOUR_MS);
    cr_assert_eq(ct_capacity_expire_due(f.cap), 1);
    cr_assert_eq(ct_isolation_notify_due(f.cap), 1);
    cr_assert_eq(bed("G01").status, CT_BED_AVAILABLE);
    cr_assert_eq(ct_capacity_next_expiry(f.cap), INT64_MAX);
    cr_assert_eq(ct_isolation_next_end(f.cap), INT64_MAX);
    cr_assert_eq(ct_clock_next_due(f.clock), INT64_MAX);
}
