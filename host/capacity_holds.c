/*
 * Holds (capacity.h): a bed held for a referral, confirmed into an
 * occupancy, released or declined, and held beds expiring on the host
 * clock.
 */
#include "capacity_int.h"
#include "capacity_resident.h"
#include "capacity_waitlist.h"

#include "audit.h"
#include "error.h"
#include "referral.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUE_BATCH 256 /* rows of due work read at a time */
#define RETRY_MS 1000

static void hold_timer_cb(ct_timer *t, void *data);

int ct_capacity__active_of(ct_capacity *c, int64_t referral_id,
                           ct_cap_assignment *out, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_CAP_ACTIVE_OF_REFERRAL,
                                     err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, referral_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->id = sqlite3_column_int64(st, 0);
        out->referral_id = referral_id;
        ct_area__copy_col(out->bed_id, sizeof out->bed_id, st, 1);
        out->occupancy =
            strcmp((const char *)sqlite3_column_text(st, 2), "occupancy") == 0;
        out->started_at = sqlite3_column_int64(st, 3);
        out->expires_at = sqlite3_column_int64(st, 4);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = CT_ENOTFOUND;
    } else {
        rc = ct_area__dberr(c, err, rc, "reading an assignment");
    }
    sqlite3_reset(st);
    return rc;
}

/* bed.status follows the bed's active assignment, and
 * bed.assignment_changed_at is when one last started or ended: set here,
 * in the same transaction, by the only two places an assignment starts or
 * ends (insert_assignment and ct_capacity__end). A blocked bed keeps its
 * reason, so its CHECK refuses it held or occupied. */
static int set_mirror(ct_capacity *c, const char *bed_id,
                      ct_bed_status status, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_CAP_BED_MIRROR, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, bed_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ct_bed_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ct_clock_now(ct_area_clock(c)));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return ct_area__fail(err, CT_ESTATE,
                             "bed %s is blocked and cannot be %s", bed_id,
                             ct_bed_status_name(status));
    if (rc != SQLITE_DONE)
        return ct_area__dberr(c, err, rc, "updating a bed's status");
    if (sqlite3_changes(ct_store__db(ct_area_store(c))) != 1)
        return ct_area__fail(err, CT_ENOTFOUND, "bed %s does not exist",
                             bed_id);
    ct_area__note(c, CT_IDX_BED_STATUS, bed_id, NULL, status);
    return 0;
}

int ct_capacity__set_mirror(ct_capacity *c, const char *bed_id,
                            ct_bed_status status, ct_cap_error *err)
{
    return set_mirror(c, bed_id, status, err);
}

int ct_capacity__end(ct_capacity *c, const ct_cap_assignment *a,
                     const char *end_reason, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_CAP_ASSIGN_END, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, a->id);
    sqlite3_bind_int64(st, 2, ct_clock_now(ct_area_clock(c)));
    sqlite3_bind_text(st, 3, end_reason, -1, SQLITE_STATIC);
    int rc = ct_area__step_done(c, st, "ending an assignment", err);
    if (rc)
        return rc;
    if (sqlite3_changes(ct_store__db(ct_area_store(c))) != 1)
        return ct_area__fail(err, CT_ECONFLICT,
                             "assignment %" PRId64 " is no longer active",
                             a->id);
    return set_mirror(c, a->bed_id, CT_BED_AVAILABLE, err);
}

/* Ends a hold as end (released, declined) and puts the referral back to
 * waiting, with the hold.released event. */
static int end_hold(ct_capacity *c, const ct_cap_assignment *a,
                    const char *end, const char *why, const char *actor,
                    ct_cap_error *err)
{
    int rc;
    if ((rc = ct_capacity__end(c, a, end, err)) ||
        (rc = ct_referral__move(c, a->referral_id, CT_REFERRAL_HELD,
                                CT_REFERRAL_WAITING, err)))
        return rc;
    return ct_area__emit(
        c, actor, "hold.released",
        json_pack("{s:I, s:I, s:s, s:s}", "hold", (json_int_t)a->id,
                  "referral", (json_int_t)a->referral_id, "bed", a->bed_id,
                  "reason", why),
        err);
}

int ct_capacity__release_hold(ct_capacity *c, const ct_cap_assignment *a,
                              const char *why, const char *actor,
                              ct_cap_error *err)
{
    return end_hold(c, a, "released", why, actor, err);
}

static int insert_assignment(ct_capacity *c, const char *bed_id,
                             int64_t referral_id, bool occupancy,
                             int64_t expires_at, int64_t *id,
                             ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_CAP_ASSIGN_INSERT, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, bed_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, referral_id);
    sqlite3_bind_text(st, 3, occupancy ? "occupancy" : "hold", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, ct_clock_now(ct_area_clock(c)));
    if (!occupancy)
        sqlite3_bind_int64(st, 5, expires_at);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        *id = sqlite3_last_insert_rowid(ct_store__db(ct_area_store(c)));
        ct_area__wrote(c);
        return set_mirror(c, bed_id,
                          occupancy ? CT_BED_OCCUPIED : CT_BED_HELD, err);
    }
    /* The unique indexes are the last word on one active
     * assignment per bed and per referral. */
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return ct_area__fail(err, CT_ECONFLICT,
                             "bed %s or referral %" PRId64
                             " already has an active assignment",
                             bed_id, referral_id);
    return ct_area__dberr(c, err, rc, "inserting an assignment");
}

/* The rules every admission passes, for a hold and again at confirm. The
 * bed's own status is checked by the caller. */
static int admission_check(ct_capacity *c, const ct_ref_row *r,
                           const ct_cap_bed_row *b, ct_cap_error *err)
{
    int rc = ct_capacity__bed_in_service(b, err);
    if (rc)
        return rc;
    if (b->info.surge && !b->info.surge_open)
        return ct_area__fail(err, CT_ECAPACITY,
                             "bed %s is a surge bed and surge capacity "
                             "at %s is not open",
                             b->info.id, b->info.facility_id);
    if (b->zone_closed)
        return ct_area__fail(err, CT_ECLOSED,
                             "zone %s is closed to admissions (%s)",
                             b->info.zone_id, b->closed_reason);
    if (r->needs && strcmp(r->needs, "[]") != 0) {
        sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_CAP_BED_MISSING_TAG,
                                         err);
        if (!st)
            return CT_ESTORE;
        sqlite3_bind_text(st, 1, b->info.id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->needs, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            rc = ct_area__fail(err, CT_ECAPACITY,
                               "bed %s lacks tag %s that referral %" PRId64
                               " needs",
                               b->info.id, sqlite3_column_text(st, 0),
                               r->id);
        else if (rc == SQLITE_DONE)
            rc = 0;
        else
            rc = ct_area__dberr(c, err, rc, "checking bed tags");
        sqlite3_reset(st);
        if (rc)
            return rc;
    }
    return ct_isolation__check_bed(c, r->nhs_number, b->info.id,
                                   b->info.zone_id, err);
}

static void arm_hold_timer(ct_capacity *c, int64_t due)
{
    if (ct_area__external_timers(c))
        return;
    ct_timer *t = &ct_capacity__state(c)->hold_timer;
    if (!ct_timer_active(t) || due < t->due)
        ct_timer_start(t, due, hold_timer_cb, c);
}

int ct_capacity_hold(ct_capacity *c, int64_t referral_id, const char *bed_id,
                     int64_t ttl_ms, const char *actor, int64_t *hold_id,
                     ct_cap_error *err)
{
    int rc;
    if ((rc = ct_capacity__check_bed_actor(bed_id, actor, err)))
        return rc;
    if (ttl_ms < 0 || ttl_ms > CT_CAP_HOLD_TTL_MAX_MS)
        return ct_area__fail(err, CT_EINVAL,
                             "hold time to live must be between 0 "
                             "(default) and 90 days");
    if (ttl_ms == 0)
        ttl_ms = ct_capacity__state(c)->hold_ttl_ms;
    if (!ct_json_canon_is_text(actor, strlen(actor)))
        return ct_area__fail(err, CT_EINVAL, "actor is not UTF-8 text");
    /* Without a savepoint: everything that can refuse is read and checked
     * before the first write (area.h, ct_area__begin_direct). */
    if ((rc = ct_area__begin_direct(c, err)))
        return rc;
    int64_t now = ct_clock_now(ct_area_clock(c)), expires = now + ttl_ms;
    int64_t id = 0;
    ct_ref_row r = {0};
    ct_cap_bed_row b;
    if ((rc = ct_referral__load(c, referral_id, &r, err)) ||
        (rc = ct_referral__guard(referral_id, r.state, CT_REFERRAL_HELD, "hold",
                                 err)) ||
        (rc = ct_capacity__load_bed(c, bed_id, &b, err)))
        goto done;
    if (b.info.status != CT_BED_AVAILABLE &&
        ct_capacity__bed_in_service(&b, NULL) == 0) {
        rc = ct_capacity__bed_state_error(&b, "hold", err);
        goto done;
    }
    if ((rc = admission_check(c, &r, &b, err)))
        goto done;
    /* The event's text is checked now so that appending it cannot refuse
     * after the writes (the ids come from the store, the actor was
     * checked above). */
    if (!ct_json_canon_is_text(bed_id, strlen(bed_id)) ||
        !ct_json_canon_is_text(b.info.zone_id, strlen(b.info.zone_id)) ||
        !ct_json_canon_is_text(b.info.facility_id,
                               strlen(b.info.facility_id))) {
        rc = ct_area__fail(err, CT_EINVAL,
                           "bed %s has ids that are not UTF-8 text",
                           bed_id);
        goto done;
    }
    /* The first write: SQLite checks a one-row INSERT's unique indexes
     * and foreign keys before it writes anything, so a refusal here still
     * leaves nothing. */
    if ((rc = insert_assignment(c, bed_id, referral_id, false, expires, &id,
                                err)))
        goto done;
    if ((rc = ct_referral__move(c, referral_id, r.state, CT_REFERRAL_HELD,
                                err)))
        goto done;
    /* In key order, which the canonical writer then only confirms. */
    ct_json_member payload[] = {
        {"bed", bed_id, 0},
        {"expires_at", NULL, expires},
        {"facility", b.info.facility_id, 0},
        {"hold", NULL, id},
        {"referral", NULL, referral_id},
        {"ttl_ms", NULL, ttl_ms},
        {"zone", b.info.zone_id, 0},
    };
    rc = ct_area__emit_members(c, actor, "hold.created", payload,
                               CT_ARRAY_LEN(payload), err);
done:
    ct_referral__row_free(&r);
    rc = ct_area__finish(c, rc, err);
    if (rc == 0) {
        arm_hold_timer(c, expires);
        if (hold_id)
            *hold_id = id;
    }
    return rc;
}

/* The referral's active hold, or CT_ESTATE when it has none (a referral in
 * state held always has one; the check guards against a damaged store). */
static int active_hold(ct_capacity *c, int64_t referral_id,
                       ct_cap_assignment *a, ct_cap_error *err)
{
    int rc = ct_capacity__active_of(c, referral_id, a, err);
    if (rc == CT_ENOTFOUND || (rc == 0 && a->occupancy))
        return ct_area__fail(err, CT_ESTATE,
                             "referral %" PRId64 " has no active hold",
                             referral_id);
    return rc;
}

int ct_capacity_confirm(ct_capacity *c, int64_t referral_id,
                        const char *actor, int64_t *occupancy_id,
                        ct_cap_error *err)
{
    int rc;
    if ((rc = ct_area__check_text("actor", actor, 200, err)))
        return rc;
    if ((rc = ct_area__begin(c, err)))
        return rc;
    int64_t id = 0;
    ct_ref_row r = {0};
    ct_cap_assignment a;
    ct_cap_bed_row b;
    if ((rc = ct_referral__load(c, referral_id, &r, err)) ||
        (rc = ct_referral__guard(referral_id, r.state, CT_REFERRAL_PLACED,
                                 "confirm", err)) ||
        (rc = active_hold(c, referral_id, &a, err)) ||
        (rc = ct_capacity__load_bed(c, a.bed_id, &b, err)))
        goto done;
    if (a.expires_at <= ct_clock_now(ct_area_clock(c))) {
        /* The timer has not run yet; the hold is over all the same. */
        rc = ct_area__fail(err, CT_ESTATE,
                           "hold %" PRId64 " on bed %s has expired",
                           a.id, a.bed_id);
        goto done;
    }
    if ((rc = admission_check(c, &r, &b, err)) ||
        (rc = ct_capacity__end(c, &a, "confirmed", err)) ||
        (rc = insert_assignment(c, a.bed_id, referral_id, true, 0, &id,
                                err)) ||
        (rc = ct_referral__move(c, referral_id, r.state, CT_REFERRAL_PLACED,
                                err)))
        goto done;
    rc = ct_area__emit(
        c, actor, "hold.confirmed",
        json_pack("{s:I, s:I, s:I, s:s, s:s}", "hold", (json_int_t)a.id,
                  "occupancy", (json_int_t)id, "referral",
                  (json_int_t)referral_id, "bed", a.bed_id, "zone",
                  b.info.zone_id),
        err);
done:
    ct_referral__row_free(&r);
    rc = ct_area__finish(c, rc, err);
    if (rc == 0 && occupancy_id)
        *occupancy_id = id;
    return rc;
}

static int release(ct_capacity *c, int64_t referral_id, const char *provider,
                   const char *reason, const char *actor, ct_cap_error *err)
{
    int rc;
    if ((rc = ct_area__check_text("release reason", reason,
                                  provider ? 400 : 200, err)) ||
        (rc = ct_area__check_text("actor", actor, 200, err)) ||
        (provider && (rc = ct_area__check_text("provider", provider,
                                               CT_CAP_ID_MAX - 1, err))))
        return rc;
    if ((rc = ct_area__begin(c, err)))
        return rc;
    ct_ref_row r = {0};
    ct_cap_assignment a;
    if ((rc = ct_referral__load(c, referral_id, &r, err)) ||
        (rc = ct_referral__guard(referral_id, r.state,
                                 r.state == CT_REFERRAL_HELD
                                     ? CT_REFERRAL_WAITING
                                     : CT_REFERRAL__COUNT,
                                 "release a hold", err)) ||
        (rc = active_hold(c, referral_id, &a, err)))
        goto done;
    if (!provider) {
        rc = ct_capacity__release_hold(c, &a, reason, actor, err);
        goto done;
    }
    char why[600];
    snprintf(why, sizeof why, "declined by %s: %s", provider, reason);
    if ((rc = end_hold(c, &a, "declined", why, actor, err)))
        goto done;
    rc = ct_area__emit(
        c, actor, "hold.declined",
        json_pack("{s:I, s:I, s:s, s:s, s:s}", "referral",
                  (json_int_t)referral_id, "hold", (json_int_t)a.id, "bed",
                  a.bed_id, "provider", provider, "reason", reason),
        err);
done:
    ct_referral__row_free(&r);
    return ct_area__finish(c, rc, err);
}

int ct_capacity_release(ct_capacity *c, int64_t referral_id,
                        const char *reason, const char *actor,
                        ct_cap_error *err)
{
    return release(c, referral_id, NULL, reason, actor, err);
}

int ct_capacity_decline(ct_capacity *c, int64_t referral_id,
                        const char *provider, const char *reason,
                        const char *actor, ct_cap_error *err)
{
    return release(c, referral_id, provider, reason, actor, err);
}

/* ---- expiry ---------------------------------------------------------- */

int64_t ct_capacity_next_expiry(ct_capacity *c)
{
    int64_t holds = ct_area__next_due(c, CT_STMT_CAP_NEXT_EXPIRY);
    int64_t stays = ct_capacity_resident_next_end(c);
    return holds < stays ? holds : stays;
}

void ct_capacity__schedule_holds(ct_capacity *c)
{
    if (!ct_area__external_timers(c))
        ct_area__rearm(c, &ct_capacity__state(c)->hold_timer,
                       ct_capacity_next_expiry(c), hold_timer_cb);
}

static int expire_one(ct_capacity *c, const ct_cap_assignment *a,
                      ct_cap_error *err)
{
    int rc;
    if ((rc = ct_capacity__end(c, a, "expired", err)) ||
        (rc = ct_referral__move(c, a->referral_id, CT_REFERRAL_HELD,
                                CT_REFERRAL_WAITING, err)))
        return rc;
    char ttl[64];
    int64_t min = (a->expires_at - a->started_at) / 60000;
    if (min % 60 == 0)
        snprintf(ttl, sizeof ttl, "%" PRId64 "h", min / 60);
    else
        snprintf(ttl, sizeof ttl, "%" PRId64 "m", min);
    char why[128];
    snprintf(why, sizeof why, "not confirmed within %s", ttl);
    return ct_area__emit(
        c, "host", "hold.expired",
        json_pack("{s:I, s:I, s:s, s:I, s:I, s:s}", "hold", (json_int_t)a->id,
                  "referral", (json_int_t)a->referral_id, "bed", a->bed_id,
                  "started_at", (json_int_t)a->started_at, "expires_at",
                  (json_int_t)a->expires_at, "reason", why),
        err);
}

static void read_hold(sqlite3_stmt *st, void *row)
{
    ct_cap_assignment *a = row;
    a->id = sqlite3_column_int64(st, 0);
    a->referral_id = sqlite3_column_int64(st, 1);
    ct_area__copy_col(a->bed_id, sizeof a->bed_id, st, 2);
    a->started_at = sqlite3_column_int64(st, 3);
    a->expires_at = sqlite3_column_int64(st, 4);
}

static int expire_row(ct_capacity *c, void *row, ct_cap_error *err)
{
    return expire_one(c, row, err);
}

int ct_capacity_expire_due(ct_capacity *c)
{
    static const ct_area_due d = {
        CT_STMT_CAP_HOLDS_DUE, sizeof(ct_cap_assignment), "finding due holds",
        "hold expiry failed",  read_hold, expire_row,
        ct_capacity__schedule_holds};
    int held = ct_area__run_due(c, &d);
    if (held < 0)
        return held;
    /* Residents' stays whose expected end came end on the same timer
     * (capacity_resident.h). */
    int left = ct_capacity_resident_end_due(c);
    return left < 0 ? left : held + left;
}

static void hold_timer_cb(ct_timer *t, void *data)
{
    ct_capacity *c = data;
    if (ct_capacity_expire_due(c) < 0) /* logged; try again shortly */
        ct_timer_start(t, ct_clock_now(ct_area_clock(c)) + RETRY_MS,
                       hold_timer_cb, c);
}
