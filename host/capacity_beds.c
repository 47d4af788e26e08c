/*
 * Beds and surge (capacity.h): blocking and unblocking a bed, opening and
 * closing a facility's surge beds, each one change with its events.
 */
#include "capacity_int.h"

#include "audit.h"
#include "error.h"
#include "referral.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ct_capacity__load_bed(ct_capacity *c, const char *bed_id, ct_cap_bed_row *b,
                          ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_CAP_BED_GET, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, bed_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return ct_area__fail(err, CT_ENOTFOUND, "bed %s does not exist",
                             bed_id);
    }
    if (rc != SQLITE_ROW) {
        rc = ct_area__dberr(c, err, rc, "reading a bed");
        sqlite3_reset(st);
        return rc;
    }
    memset(b, 0, sizeof *b);
    ct_bed_info *i = &b->info;
    ct_copy_str(i->id, sizeof i->id, bed_id);
    ct_area__copy_col(i->zone_id, sizeof i->zone_id, st, 0);
    ct_area__copy_col(i->facility_id, sizeof i->facility_id, st, 1);
    i->kind = (ct_facility_kind)ct_facility_kind_parse(
        (const char *)sqlite3_column_text(st, 2));
    i->status = (ct_bed_status)ct_bed_status_parse(
        (const char *)sqlite3_column_text(st, 3));
    ct_area__copy_col(i->blocked_reason, sizeof i->blocked_reason, st, 4);
    i->surge = sqlite3_column_int(st, 5);
    i->surge_open = sqlite3_column_int(st, 6);
    i->retired = sqlite3_column_int(st, 7);
    b->zone_closed = sqlite3_column_int(st, 8);
    b->zone_retired = sqlite3_column_int(st, 9);
    b->facility_retired = sqlite3_column_int(st, 10);
    ct_area__copy_col(b->closed_reason, sizeof b->closed_reason, st, 11);
    sqlite3_reset(st);
    if (i->status != CT_BED_HELD && i->status != CT_BED_OCCUPIED)
        return 0;
    /* bed.status follows the active assignment in the same transaction,
     * so only a held or occupied bed has one to read. */
    if (!(st = ct_area__stmt(c, CT_STMT_CAP_BED_ACTIVE, err)))
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, bed_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        i->assignment_id = sqlite3_column_int64(st, 0);
        i->referral_id = sqlite3_column_int64(st, 1);
        const unsigned char *kind = sqlite3_column_text(st, 2);
        b->occupancy = kind && strcmp((const char *)kind, "occupancy") == 0;
        i->expires_at = sqlite3_column_int64(st, 3);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? 0
                               : ct_area__dberr(c, err, rc,
                                                "reading a bed's "
                                                "assignment");
    }
    sqlite3_reset(st);
    return rc;
}

int ct_capacity_bed(ct_capacity *c, const char *bed_id, ct_bed_info *out,
                    ct_cap_error *err)
{
    int rc = ct_area__check_text("bed id", bed_id, CT_CAP_ID_MAX - 1, err);
    if (rc)
        return rc;
    ct_cap_bed_row b;
    if ((rc = ct_capacity__load_bed(c, bed_id, &b, err)))
        return rc;
    *out = b.info;
    return 0;
}

static int set_bed_status(ct_capacity *c, const char *bed_id,
                          ct_bed_status status, const char *reason,
                          ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_CAP_BED_SET_STATUS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, bed_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ct_bed_status_name(status), -1, SQLITE_STATIC);
    if (reason)
        sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    int rc = ct_area__step_done(c, st, "updating a bed", err);
    if (rc == 0)
        ct_area__note(c, CT_IDX_BED_STATUS, bed_id, NULL, (int)status);
    return rc;
}

/* CT_ESTATE "bed X is occupied" unless the bed can change at all. */
int ct_capacity__bed_in_service(const ct_cap_bed_row *b, ct_cap_error *err)
{
    if (b->info.retired || b->zone_retired || b->facility_retired)
        return ct_area__fail(err, CT_ESTATE, "bed %s is retired",
                             b->info.id);
    return 0;
}

int ct_capacity__bed_state_error(const ct_cap_bed_row *b, const char *verb,
                                 ct_cap_error *err)
{
    if (b->info.status == CT_BED_BLOCKED)
        return ct_area__fail(err, CT_ESTATE,
                             "bed %s is blocked (%s); cannot %s",
                             b->info.id, b->info.blocked_reason, verb);
    if (b->info.status == CT_BED_OCCUPIED && b->info.referral_id == 0)
        return ct_area__fail(err, CT_ESTATE,
                             "bed %s is occupied by a resident; cannot %s",
                             b->info.id, verb);
    return ct_area__fail(err, CT_ESTATE,
                         "bed %s is %s by referral %" PRId64
                         "; cannot %s",
                         b->info.id, ct_bed_status_name(b->info.status),
                         b->info.referral_id, verb);
}

int ct_capacity__check_bed_actor(const char *bed_id, const char *actor,
                                 ct_cap_error *err)
{
    int rc = ct_area__check_text("bed id", bed_id, CT_CAP_ID_MAX - 1, err);
    return rc ? rc : ct_area__check_text("actor", actor, 200, err);
}

/* Begins a change to bed_id, read into *b and in service; on a refusal
 * the change is over. */
static int begin_on_bed(ct_capacity *c, const char *bed_id, ct_cap_bed_row *b,
                        ct_cap_error *err)
{
    int rc;
    if ((rc = ct_area__begin(c, err)))
        return rc;
    if ((rc = ct_capacity__load_bed(c, bed_id, b, err)) ||
        (rc = ct_capacity__bed_in_service(b, err)))
        return ct_area__finish(c, rc, err);
    return 0;
}

int ct_capacity_block(ct_capacity *c, const char *bed_id, const char *reason,
                      const char *actor, ct_cap_error *err)
{
    int rc;
    if ((rc = ct_area__check_text("bed id", bed_id, CT_CAP_ID_MAX - 1,
                                  err)) ||
        (rc = ct_area__check_text("block reason", reason, 200, err)) ||
        (rc = ct_area__check_text("actor", actor, 200, err)))
        return rc;
    ct_cap_bed_row b;
    if ((rc = begin_on_bed(c, bed_id, &b, err)))
        return rc;
    if (b.info.status != CT_BED_AVAILABLE) {
        rc = ct_capacity__bed_state_error(&b, "block", err);
        goto done;
    }
    if ((rc = set_bed_status(c, bed_id, CT_BED_BLOCKED, reason, err)))
        goto done;
    rc = ct_area__emit(c, actor, "bed.blocked",
                       json_pack("{s:s, s:s, s:s}", "bed", bed_id, "zone",
                                 b.info.zone_id, "reason", reason),
                       err);
done:
    return ct_area__finish(c, rc, err);
}

int ct_capacity_unblock(ct_capacity *c, const char *bed_id, const char *actor,
                        ct_cap_error *err)
{
    int rc;
    if ((rc = ct_capacity__check_bed_actor(bed_id, actor, err)))
        return rc;
    ct_cap_bed_row b;
    if ((rc = begin_on_bed(c, bed_id, &b, err)))
        return rc;
    if (b.info.status != CT_BED_BLOCKED) {
        rc = ct_area__fail(err, CT_ESTATE, "bed %s is %s, not blocked",
                           bed_id, ct_bed_status_name(b.info.status));
        goto done;
    }
    if ((rc = set_bed_status(c, bed_id, CT_BED_AVAILABLE, NULL, err)))
        goto done;
    rc = ct_area__emit(c, actor, "bed.unblocked",
                       json_pack("{s:s, s:s, s:s}", "bed", bed_id, "zone",
                                 b.info.zone_id, "was_blocked_for",
                                 b.info.blocked_reason),
                       err);
done:
    return ct_area__finish(c, rc, err);
}

/* ---- surge ----------------------------------------------------------- */

static int surge_counts(ct_capacity *c, const char *fac, ct_surge_result *r,
                        ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_CAP_SURGE_COUNTS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, fac, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = ct_area__dberr(c, err, rc, "counting surge beds");
        sqlite3_reset(st);
        return rc;
    }
    r->total = sqlite3_column_int(st, 0);
    r->open = (int)sqlite3_column_double(st, 1);
    r->busy_open = (int)sqlite3_column_double(st, 2);
    sqlite3_reset(st);
    return 0;
}

static int surge_change(ct_capacity *c, const char *fac, int n, bool open,
                        const char *actor, ct_surge_result *res,
                        ct_cap_error *err)
{
    int rc;
    if ((rc = ct_area__check_text("facility id", fac, CT_CAP_ID_MAX - 1,
                                  err)) ||
        (rc = ct_area__check_text("actor", actor, 200, err)))
        return rc;
    if (n != CT_SURGE_ALL && n < 1)
        return ct_area__fail(err, CT_EINVAL,
                             "surge bed count must be 1 or more, or all");
    if ((rc = ct_area__begin(c, err)))
        return rc;
    ct_surge_result r = {0};
    json_t *beds = NULL;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_CAP_FACILITY_GET, err);
    if (!st) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_text(st, 1, fac, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    int retired = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        rc = ct_area__fail(err, CT_ENOTFOUND,
                           "facility %s does not exist", fac);
        goto done;
    }
    if (rc != SQLITE_ROW) {
        rc = ct_area__dberr(c, err, rc, "reading a facility");
        goto done;
    }
    if (retired) {
        rc = ct_area__fail(err, CT_ESTATE, "facility %s is retired", fac);
        goto done;
    }
    if ((rc = surge_counts(c, fac, &r, err)))
        goto done;
    if (r.total == 0) {
        rc = ct_area__fail(err, CT_ECAPACITY,
                           "facility %s has no surge beds", fac);
        goto done;
    }
    int can = open ? r.total - r.open : r.open - r.busy_open;
    if (n == CT_SURGE_ALL) {
        n = can;
    } else if (n > can) {
        rc = open ? ct_area__fail(err, CT_ECAPACITY,
                                  "facility %s has %d closed surge beds; "
                                  "cannot open %d",
                                  fac, can, n)
                  : ct_area__fail(err, CT_ECAPACITY,
                                  "facility %s has %d open surge beds "
                                  "free to close; cannot close %d",
                                  fac, can, n);
        goto done;
    }
    if (n == 0) /* all already open, or all closable already closed */
        goto done;

    /* Pick first, then update: the pick statement scans bed. */
    if (!(beds = json_array())) {
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
        goto done;
    }
    if (!(st = ct_area__stmt(c, CT_STMT_CAP_SURGE_PICK, err))) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_text(st, 1, fac, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, open ? 0 : 1);
    sqlite3_bind_int(st, 3, n);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (json_array_append_new(
                beds, json_string((const char *)sqlite3_column_text(st, 0)))) {
            sqlite3_reset(st);
            rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
            goto done;
        }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        rc = ct_area__dberr(c, err, rc, "choosing surge beds");
        goto done;
    }
    rc = 0;
    size_t i;
    json_t *v;
    json_array_foreach(beds, i, v)
    {
        if (!(st = ct_area__stmt(c, CT_STMT_CAP_SURGE_SET, err))) {
            rc = CT_ESTORE;
            goto done;
        }
        sqlite3_bind_text(st, 1, json_string_value(v), -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, open);
        if ((rc = ct_area__step_done(
                 c, st, "opening or closing a surge bed", err)))
            goto done;
        ct_area__note(c, CT_IDX_BED_SURGE, json_string_value(v), NULL,
                        open);
    }
    r.changed = (int)json_array_size(beds);
    r.open += open ? r.changed : -r.changed;
    rc = ct_area__emit(
        c, actor, open ? "surge.opened" : "surge.closed",
        json_pack("{s:s, s:O, s:i, s:i, s:i}", "facility", fac, "beds", beds,
                  "changed", r.changed, "open", r.open, "total", r.total),
        err);
done:
    json_decref(beds);
    rc = ct_area__finish(c, rc, err);
    if (rc == 0 && res)
        *res = r;
    return rc;
}

int ct_capacity_surge_open(ct_capacity *c, const char *facility_id, int n,
                           const char *actor, ct_surge_result *res,
                           ct_cap_error *err)
{
    return surge_change(c, facility_id, n, true, actor, res, err);
}

int ct_capacity_surge_close(ct_capacity *c, const char *facility_id, int n,
                            const char *actor, ct_surge_result *res,
                            ct_cap_error *err)
{
    return surge_change(c, facility_id, n, false, actor, res, err);
}
