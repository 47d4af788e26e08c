/*
 * Referrals: creation, the guarded life cycle, delay reasons and ready
 * dates, and read views (referral.h).
 */
#include "referral.h"

#include "area.h"
#include "log.h"
#include "clock.h"
#include "error.h"
#include "store_json.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define MAX_TAG CT_REFERRAL_MAX_TAG
#define MAX_NEEDS CT_REFERRAL_MAX_NEEDS

/* ---- life cycle ------------------------------------------------------ */

#define R(s) (1u << CT_REFERRAL_##s)

/* allowed[from] is the set of states reachable from it in one step. */
static const unsigned allowed[CT_REFERRAL__COUNT] = {
    [CT_REFERRAL_RECEIVED] = R(TRIAGED) | R(DISCHARGED) | R(CANCELLED),
    [CT_REFERRAL_TRIAGED] = R(TRIAGED) | R(WAITING) | R(HELD) |
                            R(DISCHARGED) | R(CANCELLED),
    [CT_REFERRAL_WAITING] = R(TRIAGED) | R(HELD) | R(DISCHARGED) |
                            R(CANCELLED),
    [CT_REFERRAL_HELD] = R(WAITING) | R(PLACED) | R(CANCELLED),
    [CT_REFERRAL_PLACED] = R(DISCHARGED) | R(CANCELLED),
    [CT_REFERRAL_DISCHARGED] = R(COMPLETED),
    [CT_REFERRAL_COMPLETED] = 0,
    [CT_REFERRAL_CANCELLED] = 0,
};

#undef R

bool ct_referral_can(ct_referral_state from, ct_referral_state to)
{
    return (unsigned)from < CT_REFERRAL__COUNT &&
           (unsigned)to < CT_REFERRAL__COUNT && (allowed[from] >> to & 1u);
}

static const char *verb_for(ct_referral_state to)
{
    switch (to) {
    case CT_REFERRAL_TRIAGED: return "triage";
    case CT_REFERRAL_WAITING: return "queue";
    case CT_REFERRAL_HELD: return "hold";
    case CT_REFERRAL_PLACED: return "confirm";
    case CT_REFERRAL_DISCHARGED: return "discharge";
    case CT_REFERRAL_COMPLETED: return "complete";
    case CT_REFERRAL_CANCELLED: return "cancel";
    default: return "move";
    }
}

int ct_referral__guard(int64_t id, ct_referral_state from,
                       ct_referral_state to, const char *verb,
                       ct_cap_error *err)
{
    if (ct_referral_can(from, to))
        return 0;
    return ct_area__fail(err, CT_ESTATE,
                         "referral %" PRId64 " is %s; cannot %s", id,
                         ct_referral_state_name(from),
                         verb ? verb : verb_for(to));
}

int ct_referral__move(ct_capacity *c, int64_t id, ct_referral_state from,
                      ct_referral_state to, ct_cap_error *err)
{
    int rc = ct_referral__guard(id, from, to, NULL, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_REF_SET_STATE, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, ct_referral_state_name(from), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ct_referral_state_name(to), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, ct_clock_now(ct_area_clock(c)));
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ct_area__dberr(c, err, rc, "updating a referral");
    if (sqlite3_changes(ct_store__db(ct_area_store(c))) != 1)
        return ct_area__fail(err, CT_ECONFLICT,
                             "referral %" PRId64 " is no longer %s", id,
                             ct_referral_state_name(from));
    return 0;
}

int ct_referral__set_delay(ct_capacity *c, int64_t id, const char *reason,
                           const char *org, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_REF_SET_DELAY, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    if (reason) {
        sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, org, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 4, ct_clock_now(ct_area_clock(c)));
    return ct_area__step_done(c, st, "recording a delay", err);
}

int ct_referral__load(ct_capacity *c, int64_t id, ct_ref_row *out,
                      ct_cap_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    int rc = ct_area__row(c, CT_STMT_REF_LOAD, id, "reading a referral", &st,
                          err);
    if (rc)
        return rc;
    if (!st)
        return ct_area__fail(err, CT_ENOTFOUND,
                             "referral %" PRId64 " does not exist", id);
    rc = ct_referral__from_row(st, id, out, err);
    sqlite3_reset(st);
    return rc;
}

int ct_referral__from_row(sqlite3_stmt *st, int64_t id, ct_ref_row *out,
                          ct_cap_error *err)
{
    out->id = id;
    out->state = (ct_referral_state)ct_referral_state_parse(
        (const char *)sqlite3_column_text(st, 0));
    ct_copy_str(out->nhs_number, sizeof out->nhs_number,
                (const char *)sqlite3_column_text(st, 1));
    out->pathway = ct_pathway_parse((const char *)sqlite3_column_text(st, 2));
    out->needs = ct_strdup((const char *)sqlite3_column_text(st, 3));
    if (!out->needs)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    return 0;
}

void ct_referral__row_free(ct_ref_row *r)
{
    free(r->needs);
    r->needs = NULL;
}

/* ---- dates ----------------------------------------------------------- */

/* Midnight UTC of a strict "YYYY-MM-DD" that names a real day. */
/* A real date YYYY-MM-DD (not 2026-02-30) as its UTC midnight. Read for
 * every row of every referral list and metric: no formatting round trip. */
static int parse_date(const char *s, int64_t *ms)
{
    char msg[8]; /* the reason is not wanted here */
    return ct_clock_parse_day(s, ms, msg, sizeof msg) ? CT_EINVAL : 0;
}

static int64_t floor_day(int64_t ms)
{
    return ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
}

int64_t ct_referral_delay_days(const char *ready_date, int64_t end_ms)
{
    int64_t ready;
    if (parse_date(ready_date, &ready))
        return -1;
    int64_t d = ct_clock_uk_day(end_ms) - floor_day(ready);
    return d > 0 ? d : 0;
}

static int check_date(const char *what, const char *s, ct_cap_error *err)
{
    int64_t ms;
    if (parse_date(s, &ms))
        return ct_area__fail(err, CT_EINVAL,
                             "%s must be a date YYYY-MM-DD, not '%s'",
                             what, s ? s : "");
    return 0;
}

/* ---- create ---------------------------------------------------------- */

bool ct_referral_tag_valid(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n == 0 || n > MAX_TAG)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = t[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
              ch == '.'))
            return false;
    }
    return true;
}

/* The needs as a JSON array text without duplicates; caller frees. */
static int needs_json(const ct_referral_input *in, char **out,
                      ct_cap_error *err)
{
    if (in->nneeds > MAX_NEEDS)
        return ct_area__fail(err, CT_EINVAL, "more than %d needs",
                             MAX_NEEDS);
    json_t *a = json_array();
    if (!a)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    for (size_t i = 0; i < in->nneeds; i++) {
        const char *t = in->needs[i];
        if (!ct_referral_tag_valid(t)) {
            json_decref(a);
            return ct_area__fail(err, CT_EINVAL,
                                 "need '%s' is not a tag (letters, "
                                 "digits, _ - . up to %d)",
                                 t ? t : "", MAX_TAG);
        }
        bool dup = false;
        for (size_t j = 0; j < i; j++)
            dup = dup || strcmp(in->needs[j], t) == 0;
        if (!dup && json_array_append_new(a, json_string(t))) {
            json_decref(a);
            return ct_area__fail(err, CT_ENOMEM, "out of memory");
        }
    }
    *out = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return *out ? 0 : ct_area__fail(err, CT_ENOMEM, "out of memory");
}

/* referral.h: the person table is the referrals' (isolation records
 * infections against people with no referral yet). */
int ct_referral__person_ensure(ct_capacity *c, const char *nhs,
                               ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_REF_PERSON_ENSURE, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, nhs, -1, SQLITE_STATIC);
    return ct_area__step_done(c, st, "recording a person", err);
}

static int check_input(const ct_referral_input *in, char nhs[11],
                       ct_cap_error *err)
{
    int rc;
    if (!in)
        return ct_area__fail(err, CT_EINVAL, "referral is required");
    if (!in->nhs_number || !ct_nhs_number_valid(in->nhs_number, nhs))
        return ct_area__fail(err, CT_EINVAL,
                             "NHS number '%s' is not valid",
                             in->nhs_number ? in->nhs_number : "");
    if (in->age < -1 || in->age > 130)
        return ct_area__fail(err, CT_EINVAL,
                             "age %d is out of range 0..130", in->age);
    if ((rc = ct_area__check_text("referring organisation", in->from_org,
                                  CT_CAP_ID_MAX - 1, err)) ||
        (rc = check_date("ready date", in->ready_date, err)))
        return rc;
    if (in->requested_pathway < -1 ||
        in->requested_pathway >= CT_PATHWAY__COUNT)
        return ct_area__fail(err, CT_EINVAL,
                             "requested pathway %d is not a pathway",
                             in->requested_pathway);
    if (in->idempotency_key &&
        (rc = ct_area__check_text("idempotency key",
                                  in->idempotency_key, 200, err)))
        return rc;
    if (in->usual_residence && ct_residence_parse(in->usual_residence) < 0)
        return ct_area__fail(err, CT_EINVAL,
                             "usual residence '%.40s' is not one of %s",
                             in->usual_residence, ct_residence_list());
    return 0;
}

/* One active referral per person: CT_ECONFLICT with *existing set when
 * the person has one (see REF_ACTIVE_FOR_PERSON). The message names the
 * referral; the API decides who may read it. */
static int active_referral(ct_capacity *c, const char *nhs,
                           int64_t *existing, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_REF_ACTIVE_FOR_PERSON,
                                     err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, nhs, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *existing = sqlite3_column_int64(st, 0);
        rc = ct_area__fail(err, CT_ECONFLICT,
                           "this person already has an active referral "
                           "(%" PRId64 ")",
                           *existing);
    } else {
        rc = rc == SQLITE_DONE
                 ? 0
                 : ct_area__dberr(c, err, rc, "reading referrals");
    }
    sqlite3_reset(st);
    return rc;
}

int ct_referral_create(ct_capacity *c, const ct_referral_input *in,
                       const char *actor, int64_t *id, ct_cap_error *err)
{
    char nhs[11];
    char *needs = NULL;
    int rc;
    if ((rc = check_input(in, nhs, err)) ||
        (rc = ct_area__check_text("actor", actor, 200, err)) ||
        (rc = needs_json(in, &needs, err)))
        return rc;
    if ((rc = ct_area__begin(c, err)))
        goto fail_needs;
    int64_t now = ct_clock_now(ct_area_clock(c)), rid = 0;
    sqlite3_stmt *st;
    if ((rc = ct_area__org_exists(c, in->from_org, err)))
        goto done;
    if (in->idempotency_key) {
        if (!(st = ct_area__stmt(c, CT_STMT_REF_BY_KEY, err))) {
            rc = CT_ESTORE;
            goto done;
        }
        sqlite3_bind_text(st, 1, in->from_org, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, in->idempotency_key, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            rid = sqlite3_column_int64(st, 0);
            rc = ct_area__fail(err, CT_EEXISTS,
                               "referral %" PRId64
                               " already exists for this key",
                               rid);
        } else {
            rc = rc == SQLITE_DONE
                     ? 0
                     : ct_area__dberr(c, err, rc, "reading a referral");
        }
        sqlite3_reset(st);
        if (rc)
            goto done;
    }
    if ((rc = active_referral(c, nhs, &rid, err)))
        goto done;
    if ((rc = ct_referral__person_ensure(c, nhs, err)))
        goto done;
    if (!(st = ct_area__stmt(c, CT_STMT_REF_INSERT, err))) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_text(st, 1, nhs, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, in->from_org, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, in->ready_date, -1, SQLITE_STATIC);
    if (in->requested_pathway >= 0)
        sqlite3_bind_text(st, 4, ct_pathway_name(in->requested_pathway), -1,
                          SQLITE_STATIC);
    sqlite3_bind_int(st, 5, in->priority);
    sqlite3_bind_int64(st, 6, now);
    if (in->idempotency_key)
        sqlite3_bind_text(st, 7, in->idempotency_key, -1, SQLITE_STATIC);
    if (in->age >= 0)
        sqlite3_bind_int(st, 8, in->age);
    sqlite3_bind_text(st, 9, needs, -1, SQLITE_STATIC);
    if (in->usual_residence)
        sqlite3_bind_text(st, 10, in->usual_residence, -1, SQLITE_STATIC);
    if (in->infections)
        sqlite3_bind_text(st, 11, in->infections, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
        sqlite3_reset(st);
        rc = ct_area__dberr(c, err, rc, "inserting a referral");
        goto done;
    }
    sqlite3_reset(st);
    rid = sqlite3_last_insert_rowid(ct_store__db(ct_area_store(c)));
    json_t *p = json_pack("{s:I, s:s, s:s, s:s, s:o, s:i, s:o}", "referral",
                          (json_int_t)rid, "nhs_number", nhs, "from_org",
                          in->from_org, "ready_date", in->ready_date,
                          "requested_pathway",
                          in->requested_pathway >= 0
                              ? json_string(
                                    ct_pathway_name(in->requested_pathway))
                              : json_null(),
                          "priority", in->priority, "needs",
                          json_loads(needs, 0, NULL));
    rc = ct_area__emit(c, actor, "referral.created", p, err);
done:
    rc = ct_area__finish(c, rc, err);
    if ((rc == 0 || rc == CT_EEXISTS || rc == CT_ECONFLICT) && id)
        *id = rid;
fail_needs:
    free(needs);
    return rc;
}

/* ---- transitions ----------------------------------------------------- */

/* Opens a change and loads the referral; on error the change is closed. */
static int start(ct_capacity *c, int64_t id, const char *actor,
                 ct_ref_row *r, ct_cap_error *err)
{
    int rc;
    memset(r, 0, sizeof *r);
    if ((rc = ct_area__check_text("actor", actor, 200, err)) ||
        (rc = ct_area__begin(c, err)))
        return rc;
    if ((rc = ct_referral__load(c, id, r, err)))
        return ct_area__finish(c, rc, err);
    return 0;
}

static int end(ct_capacity *c, ct_ref_row *r, int rc, ct_cap_error *err)
{
    ct_referral__row_free(r);
    return ct_area__finish(c, rc, err);
}

static json_t *state_payload(int64_t id, ct_referral_state from,
                             ct_referral_state to)
{
    return json_pack("{s:I, s:s, s:s}", "referral", (json_int_t)id, "from",
                     ct_referral_state_name(from), "to",
                     ct_referral_state_name(to));
}

int ct_referral_triage(ct_capacity *c, int64_t id, ct_pathway pathway,
                       int priority, const char *reason, const char *actor,
                       ct_cap_error *err)
{
    if ((unsigned)pathway >= CT_PATHWAY__COUNT)
        return ct_area__fail(err, CT_EINVAL, "pathway %d is not a pathway",
                             (int)pathway);
    if (reason && strlen(reason) > 500)
        return ct_area__fail(err, CT_EINVAL,
                             "triage reason is longer than 500 bytes");
    ct_ref_row r;
    int rc = start(c, id, actor, &r, err);
    if (rc)
        return rc;
    sqlite3_stmt *st;
    if ((rc = ct_referral__guard(id, r.state, CT_REFERRAL_TRIAGED, NULL,
                                 err)))
        goto done;
    if (!(st = ct_area__stmt(c, CT_STMT_REF_TRIAGE, err))) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, ct_pathway_name(pathway), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, priority);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        rc = ct_area__dberr(c, err, rc, "triaging a referral");
        goto done;
    }
    if ((rc = ct_referral__move(c, id, r.state, CT_REFERRAL_TRIAGED, err)))
        goto done;
    json_t *p = state_payload(id, r.state, CT_REFERRAL_TRIAGED);
    json_object_set_new(p, "pathway", json_string(ct_pathway_name(pathway)));
    json_object_set_new(p, "priority", json_integer(priority));
    json_object_set_new(p, "reason", reason ? json_string(reason)
                                            : json_null());
    rc = ct_area__emit(c, actor, "referral.triaged", p, err);
done:
    return end(c, &r, rc, err);
}

int ct_referral_queue(ct_capacity *c, int64_t id, const char *actor,
                      ct_cap_error *err)
{
    ct_ref_row r;
    int rc = start(c, id, actor, &r, err);
    if (rc)
        return rc;
    if (r.state != CT_REFERRAL_TRIAGED) /* waiting is also entered by holds */
        rc = ct_referral__guard(id, r.state, CT_REFERRAL__COUNT, "queue", err);
    if (!rc)
        rc = ct_referral__move(c, id, r.state, CT_REFERRAL_WAITING, err);
    if (!rc)
        rc = ct_area__emit(c, actor, "referral.queued",
                           state_payload(id, r.state, CT_REFERRAL_WAITING),
                           err);
    return end(c, &r, rc, err);
}

int ct_referral_discharge(ct_capacity *c, int64_t id, const char *actor,
                          ct_cap_error *err)
{
    ct_ref_row r;
    int rc = start(c, id, actor, &r, err);
    if (rc)
        return rc;
    int64_t now = ct_clock_now(ct_area_clock(c));
    ct_cap_assignment a;
    sqlite3_stmt *st;
    if ((rc = ct_referral__move(c, id, r.state, CT_REFERRAL_DISCHARGED, err)))
        goto done;
    if (!(st = ct_area__stmt(c, CT_STMT_REF_SET_DISCHARGED, err))) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        rc = ct_area__dberr(c, err, rc, "discharging a referral");
        goto done;
    }
    json_t *p = state_payload(id, r.state, CT_REFERRAL_DISCHARGED);
    rc = ct_area__active_of(c, id, &a, err);
    if (rc == 0)
        json_object_set_new(p, "bed", json_string(a.bed_id));
    else if (rc != CT_ENOTFOUND) {
        json_decref(p);
        goto done;
    }
    rc = ct_area__emit(c, actor, "referral.discharged", p, err);
done:
    return end(c, &r, rc, err);
}

/* Completes or cancels: the move, then the end of any hold or occupancy. */
static int finish_episode(ct_capacity *c, int64_t id, ct_referral_state to,
                          const char *reason, const char *actor,
                          ct_cap_error *err)
{
    ct_ref_row r;
    int rc = start(c, id, actor, &r, err);
    if (rc)
        return rc;
    ct_cap_assignment a;
    bool had = false;
    if ((rc = ct_referral__move(c, id, r.state, to, err)))
        goto done;
    rc = ct_area__active_of(c, id, &a, err);
    if (rc == 0) {
        had = true;
        rc = ct_area__end(c, &a,
                          to == CT_REFERRAL_COMPLETED ? "completed"
                                                      : "cancelled",
                          err);
    } else if (rc == CT_ENOTFOUND) {
        rc = 0;
    }
    if (rc)
        goto done;
    json_t *p = state_payload(id, r.state, to);
    if (reason)
        json_object_set_new(p, "reason", json_string(reason));
    if (had) {
        json_object_set_new(p, "bed", json_string(a.bed_id));
        json_object_set_new(p, a.occupancy ? "occupancy" : "hold",
                            json_integer(a.id));
    }
    rc = ct_area__emit(c, actor,
                       to == CT_REFERRAL_COMPLETED ? "referral.completed"
                                                   : "referral.cancelled",
                       p, err);
done:
    return end(c, &r, rc, err);
}

int ct_referral_complete(ct_capacity *c, int64_t id, const char *actor,
                         ct_cap_error *err)
{
    return finish_episode(c, id, CT_REFERRAL_COMPLETED, NULL, actor, err);
}

int ct_referral_cancel(ct_capacity *c, int64_t id, const char *reason,
                       const char *actor, ct_cap_error *err)
{
    int rc = ct_area__check_text("cancel reason", reason, 500, err);
    if (rc)
        return rc;
    return finish_episode(c, id, CT_REFERRAL_CANCELLED, reason, actor, err);
}

/* ---- delays and dates ------------------------------------------------ */

static int before_discharge(const ct_ref_row *r, const char *verb,
                            ct_cap_error *err)
{
    if (r->state == CT_REFERRAL_DISCHARGED ||
        r->state == CT_REFERRAL_COMPLETED || r->state == CT_REFERRAL_CANCELLED)
        return ct_area__fail(err, CT_ESTATE,
                             "referral %" PRId64 " is %s; cannot %s",
                             r->id, ct_referral_state_name(r->state),
                             verb);
    return 0;
}

int ct_referral_set_delay(ct_capacity *c, int64_t id, const char *reason,
                          const char *responsible_org, const char *actor,
                          ct_cap_error *err)
{
    ct_delay_input in = {reason, NULL, responsible_org, NULL};
    return ct_delay_start(c, id, &in, actor, NULL, err);
}

int ct_referral_clear_delay(ct_capacity *c, int64_t id, const char *actor,
                            ct_cap_error *err)
{
    return ct_delay_end(c, id, NULL, actor, err);
}

int ct_referral_set_ready_date(ct_capacity *c, int64_t id,
                               const char *ready_date, const char *reason,
                               const char *actor, ct_cap_error *err)
{
    int rc = check_date("ready date", ready_date, err);
    if (!rc && reason)
        rc = ct_area__check_text("reason", reason, 500, err);
    if (rc)
        return rc;
    ct_ref_row r;
    if ((rc = start(c, id, actor, &r, err)))
        return rc;
    sqlite3_stmt *st;
    char was[11] = "";
    if ((rc = before_discharge(&r, "move the ready date", err)))
        goto done;
    if (!(st = ct_area__stmt(c, CT_STMT_DEL_REFERRAL, err))) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 1))
        snprintf(was, sizeof was, "%s", sqlite3_column_text(st, 1));
    sqlite3_reset(st);
    if (strcmp(was, ready_date) == 0) {
        rc = ct_area__fail(err, CT_EINVAL,
                           "the ready date of referral %" PRId64
                           " is %s already",
                           id, was);
        goto done;
    }
    if (!(st = ct_area__stmt(c, CT_STMT_REF_SET_READY, err))) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, ready_date, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ct_clock_now(ct_area_clock(c)));
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        rc = ct_area__dberr(c, err, rc, "moving a ready date");
        goto done;
    }
    rc = ct_area__emit(c, actor, "referral.ready_date_set",
                       json_pack("{s:I, s:s, s:s, s:o}", "referral",
                                 (json_int_t)id, "ready_date", ready_date,
                                 "was", was, "reason",
                                 reason ? json_string(reason)
                                        : json_null()),
                       err);
done:
    return end(c, &r, rc, err);
}

/* ---- reads ----------------------------------------------------------- */

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : NULL;
}

int64_t ct_referral_wait_end(ct_referral_state state, int64_t discharged_at,
                             int64_t updated_at, int64_t now)
{
    if (discharged_at)
        return discharged_at;
    return state == CT_REFERRAL_CANCELLED ? updated_at : now;
}

static void row_struct(sqlite3_stmt *st, int64_t now, ct_referral *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    snprintf(r->nhs_number, sizeof r->nhs_number, "%s", col(st, 1));
    r->age = sqlite3_column_type(st, 2) == SQLITE_NULL
                 ? -1
                 : sqlite3_column_int(st, 2);
    snprintf(r->from_org, sizeof r->from_org, "%s", col(st, 3));
    snprintf(r->ready_date, sizeof r->ready_date, "%s", col(st, 4));
    r->requested_pathway = ct_pathway_parse(col(st, 5));
    r->decided_pathway = ct_pathway_parse(col(st, 6));
    r->state = (ct_referral_state)ct_referral_state_parse(col(st, 7));
    r->priority = sqlite3_column_int(st, 8);
    snprintf(r->delay_reason, sizeof r->delay_reason, "%s",
             col(st, 9) ? col(st, 9) : "");
    snprintf(r->responsible_org, sizeof r->responsible_org, "%s",
             col(st, 10) ? col(st, 10) : "");
    r->created_at = sqlite3_column_int64(st, 11);
    r->updated_at = sqlite3_column_int64(st, 12);
    r->discharged_at = sqlite3_column_int64(st, 13);
    r->assignment_id = sqlite3_column_int64(st, 14);
    r->occupancy = col(st, 15) && strcmp(col(st, 15), "occupancy") == 0;
    snprintf(r->bed_id, sizeof r->bed_id, "%s", col(st, 16) ? col(st, 16) : "");
    r->hold_expires_at = sqlite3_column_int64(st, 17);
    r->delay_days = ct_referral_delay_days(
        r->ready_date,
        ct_referral_wait_end(r->state, r->discharged_at, r->updated_at,
                             now));
}

static json_t *opt_string(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *row_json(sqlite3_stmt *st, int64_t now)
{
    ct_referral r;
    row_struct(st, now, &r);
    json_t *needs = json_loads(col(st, 18) ? col(st, 18) : "[]", 0, NULL);
    json_t *o = json_pack(
        "{s:I, s:s, s:o, s:s, s:s, s:o, s:o, s:s, s:i, s:o, s:o, s:I, s:I,"
        " s:o, s:I, s:o}",
        "id", (json_int_t)r.id, "nhs_number", r.nhs_number, "age",
        r.age >= 0 ? json_integer(r.age) : json_null(), "from_org",
        r.from_org, "ready_date", r.ready_date, "requested_pathway",
        r.requested_pathway >= 0
            ? json_string(ct_pathway_name(r.requested_pathway))
            : json_null(),
        "decided_pathway",
        r.decided_pathway >= 0 ? json_string(ct_pathway_name(r.decided_pathway))
                               : json_null(),
        "state", ct_referral_state_name(r.state), "priority", r.priority,
        "delay_reason", opt_string(r.delay_reason),
        "responsible_org", opt_string(r.responsible_org), "created_at",
        (json_int_t)r.created_at, "updated_at", (json_int_t)r.updated_at,
        "discharged_at",
        r.discharged_at ? json_integer(r.discharged_at) : json_null(),
        "delay_days", (json_int_t)r.delay_days, "needs",
        needs ? needs : json_array());
    if (o) {
        json_object_set_new(o, "usual_residence", opt_string(col(st, 19)));
        json_t *inf = col(st, 20) ? json_loads(col(st, 20), 0, NULL) : NULL;
        json_object_set_new(o, "infections", inf ? inf : json_object());
    }
    if (o && r.assignment_id) {
        json_object_set_new(o, "bed", json_string(r.bed_id));
        json_object_set_new(o, r.occupancy ? "occupancy" : "hold",
                            json_integer(r.assignment_id));
        if (!r.occupancy)
            json_object_set_new(o, "hold_expires_at",
                                json_integer(r.hold_expires_at));
    }
    return o;
}

/* Steps REF_GET for id; leaves the row current on success. */
static sqlite3_stmt *get_row(ct_capacity *c, int64_t id, int *rc,
                             ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_REF_GET, err);
    if (!st) {
        *rc = CT_ESTORE;
        return NULL;
    }
    sqlite3_bind_int64(st, 1, id);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        *rc = 0;
        return st;
    }
    *rc = s == SQLITE_DONE
              ? ct_area__fail(err, CT_ENOTFOUND,
                              "referral %" PRId64 " does not exist", id)
              : ct_area__dberr(c, err, s, "reading a referral");
    sqlite3_reset(st);
    return NULL;
}

int ct_referral_get(ct_capacity *c, int64_t id, ct_referral *out,
                    ct_cap_error *err)
{
    int rc;
    sqlite3_stmt *st = get_row(c, id, &rc, err);
    if (!st)
        return rc;
    row_struct(st, ct_clock_now(ct_area_clock(c)), out);
    sqlite3_reset(st);
    return 0;
}

int ct_referral_get_json(ct_capacity *c, int64_t id, json_t **out,
                         ct_cap_error *err)
{
    int rc;
    sqlite3_stmt *st = get_row(c, id, &rc, err);
    if (!st)
        return rc;
    int64_t now = ct_clock_now(ct_area_clock(c));
    ct_referral r;
    row_struct(st, now, &r);
    *out = row_json(st, now);
    sqlite3_reset(st);
    if (!*out)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    json_t *delays;
    int64_t ready = ct_delay_day(r.ready_date);
    if ((rc = ct_delay_episodes_json(c, id, ready, ready + r.delay_days,
                                     &delays, err))) {
        json_decref(*out);
        *out = NULL;
        return rc;
    }
    json_object_set_new(*out, "delays", delays);
    return 0;
}

/* A listed referral; data is the time it is listed at. */
static json_t *list_row_json(sqlite3_stmt *st, void *now)
{
    return row_json(st, *(const int64_t *)now);
}

int ct_referral_list_json(ct_capacity *c, int state, int64_t after_id,
                          int limit, json_t **out, ct_cap_error *err)
{
    ct_referral_scan f = {.state = state,
                            .pathway = -1,
                            .after_id = after_id,
                            .limit = limit};
    return ct_referral_find_json(c, &f, out, err);
}

int ct_referral_find_json(ct_capacity *c, const ct_referral_scan *f,
                          json_t **out, ct_cap_error *err)
{
    int state = f->state, limit = f->limit;
    if (state < -1 || state >= CT_REFERRAL__COUNT)
        return ct_area__fail(err, CT_EINVAL, "state %d is not a state",
                             state);
    if (f->pathway < -1 || f->pathway >= CT_PATHWAY__COUNT)
        return ct_area__fail(err, CT_EINVAL,
                             "pathway %d is not a pathway", f->pathway);
    if (limit < 1 || limit > 1000)
        return ct_area__fail(err, CT_EINVAL,
                             "limit must be between 1 and 1000");
    sqlite3_stmt *st = ct_area__stmt(
        c, state >= 0 ? CT_STMT_REF_LIST : CT_STMT_REF_LIST_ALL, err);
    if (!st)
        return CT_ESTORE;
    if (state >= 0)
        sqlite3_bind_text(st, 1, ct_referral_state_name(state), -1,
                          SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, f->after_id);
    sqlite3_bind_int(st, 3, limit);
    /* Bindings outlive sqlite3_reset: the unused filters are bound NULL. */
    if (f->pathway >= 0)
        sqlite3_bind_text(st, 4, ct_pathway_name(f->pathway), -1,
                          SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    if (f->discharged_before > 0)
        sqlite3_bind_int64(st, 5, f->discharged_before);
    else
        sqlite3_bind_null(st, 5);
    int64_t now = ct_clock_now(ct_area_clock(c));
    int rc = ct_store_json_rows(st, list_row_json, &now, out);
    return rc ? ct_area__dberr(c, err, rc, "listing referrals") : 0;
}
