/*
 * Existing residents (capacity_resident.h): a stay row beside the bed,
 * whose status says occupied while the stay is open.
 */
#include "capacity_resident.h"

#include "capacity_int.h"
#include "error.h"

#include <inttypes.h>
#include <string.h>

int ct_capacity_resident_get(ct_capacity *c, const char *bed_id,
                             ct_resident *out, ct_cap_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_RES_OPEN, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, bed_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        out->started_at = sqlite3_column_int64(st, 1);
        out->expected_end = sqlite3_column_int64(st, 2);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? CT_ENOTFOUND
                               : ct_area__dberr(c, err, rc,
                                                "reading a resident");
    }
    sqlite3_reset(st);
    return rc;
}

static json_t *end_json(int64_t ms)
{
    return ms ? json_integer(ms) : json_null();
}

/* The bed's stay again: its expected end changes. */
static int update(ct_capacity *c, const ct_bed_info *b, const ct_resident *r,
                  int64_t expected_end, const char *actor,
                  ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_RES_SET_END, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, r->id);
    if (expected_end)
        sqlite3_bind_int64(st, 2, expected_end);
    else
        sqlite3_bind_null(st, 2);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ct_area__dberr(c, err, rc, "updating a resident");
    return ct_area__emit(
        c, actor, "resident.updated",
        json_pack("{s:s, s:s, s:I, s:{s:o, s:o}}", "bed", b->id, "zone",
                  b->zone_id, "resident", (json_int_t)r->id, "expected_end",
                  "was", end_json(r->expected_end), "now",
                  end_json(expected_end)),
        err);
}

static int record(ct_capacity *c, const ct_bed_info *b, int64_t expected_end,
                  const char *note, const char *actor, ct_cap_error *err)
{
    if (b->status != CT_BED_AVAILABLE) {
        if (b->status == CT_BED_BLOCKED)
            return ct_area__fail(err, CT_ESTATE,
                                 "bed %s is blocked (%s); unblock it "
                                 "first",
                                 b->id, b->blocked_reason);
        return ct_area__fail(err, CT_ESTATE,
                             "bed %s is %s by referral %" PRId64, b->id,
                             ct_bed_status_name(b->status),
                             b->referral_id);
    }
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_RES_INSERT, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, b->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ct_clock_now(ct_area_clock(c)));
    if (expected_end)
        sqlite3_bind_int64(st, 3, expected_end);
    sqlite3_bind_text(st, 4, actor, -1, SQLITE_STATIC);
    if (note)
        sqlite3_bind_text(st, 5, note, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ct_area__dberr(c, err, rc, "recording a resident");
    int64_t id = sqlite3_last_insert_rowid(ct_store__db(ct_area_store(c)));
    if ((rc = ct_capacity__set_mirror(c, b->id, CT_BED_OCCUPIED, err)))
        return rc;
    return ct_area__emit(
        c, actor, "resident.recorded",
        json_pack("{s:s, s:s, s:s, s:I, s:o, s:o}", "bed", b->id, "zone",
                  b->zone_id, "facility", b->facility_id, "resident",
                  (json_int_t)id, "expected_end", end_json(expected_end),
                  "note", note ? json_string(note) : json_null()),
        err);
}

int ct_capacity_resident_set(ct_capacity *c, const char *bed_id,
                             int64_t expected_end, const char *note,
                             const char *actor, bool *created,
                             ct_cap_error *err)
{
    *created = false;
    int rc;
    if ((rc = ct_area__check_text("bed id", bed_id, CT_CAP_ID_MAX - 1,
                                  err)) ||
        (rc = ct_area__check_text("actor", actor, 200, err)) ||
        (note && (rc = ct_area__check_text("note", note,
                                           CT_RESIDENT_NOTE_MAX, err))))
        return rc;
    if (expected_end && expected_end <= ct_clock_now(ct_area_clock(c)))
        return ct_area__fail(err, CT_EINVAL,
                             "the expected end must be in the future");
    if ((rc = ct_area__begin(c, err)))
        return rc;
    ct_bed_info b;
    ct_resident r;
    ct_cap_bed_row row;
    if ((rc = ct_capacity__load_bed(c, bed_id, &row, err)) ||
        (rc = ct_capacity__bed_in_service(&row, err)))
        goto done;
    b = row.info;
    rc = ct_capacity_resident_get(c, bed_id, &r, err);
    if (rc == 0) {
        rc = update(c, &b, &r, expected_end, actor, err);
    } else if (rc == CT_ENOTFOUND) {
        rc = record(c, &b, expected_end, note, actor, err);
        *created = rc == 0;
    }
done:
    rc = ct_area__finish(c, rc, err);
    if (rc == 0)
        ct_capacity__schedule_holds(c); /* the next expected end */
    return rc;
}

/* Ends stay r of bed (of zone, facility) for why, with the event. */
static int end_stay(ct_capacity *c, const char *bed, const char *zone,
                    const char *facility, const ct_resident *r,
                    const char *why, const char *actor, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_RES_END, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_int64(st, 2, ct_clock_now(ct_area_clock(c)));
    sqlite3_bind_text(st, 3, why, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ct_area__dberr(c, err, rc, "ending a resident's stay");
    if ((rc = ct_capacity__set_mirror(c, bed, CT_BED_AVAILABLE, err)))
        return rc;
    return ct_area__emit(
        c, actor, "resident.left",
        json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:o}", "bed", bed, "zone",
                  zone, "facility", facility, "resident", (json_int_t)r->id,
                  "reason", why, "started_at", (json_int_t)r->started_at,
                  "expected_end", end_json(r->expected_end)),
        err);
}

int ct_capacity_resident_leave(ct_capacity *c, const char *bed_id,
                               const char *actor, ct_cap_error *err)
{
    int rc;
    if ((rc = ct_capacity__check_bed_actor(bed_id, actor, err)))
        return rc;
    if ((rc = ct_area__begin(c, err)))
        return rc;
    ct_bed_info b;
    ct_resident r;
    if ((rc = ct_capacity_bed(c, bed_id, &b, err)))
        goto done;
    rc = ct_capacity_resident_get(c, bed_id, &r, err);
    if (rc == CT_ENOTFOUND)
        rc = ct_area__fail(err, CT_ESTATE, "bed %s has no resident",
                           bed_id);
    if (rc == 0)
        rc = end_stay(c, b.id, b.zone_id, b.facility_id, &r, "left", actor,
                      err);
done:
    return ct_area__finish(c, rc, err);
}

/* ---- expected ends --------------------------------------------------- */

typedef struct due_stay {
    ct_resident r;
    char bed[CT_CAP_ID_MAX];
} due_stay;

static void read_due(sqlite3_stmt *st, void *row)
{
    due_stay *d = row;
    d->r.id = sqlite3_column_int64(st, 0);
    const unsigned char *bed = sqlite3_column_text(st, 1);
    ct_copy_str(d->bed, sizeof d->bed, bed ? (const char *)bed : "");
    d->r.started_at = sqlite3_column_int64(st, 2);
    d->r.expected_end = sqlite3_column_int64(st, 3);
}

static int end_due(ct_capacity *c, void *row, ct_cap_error *err)
{
    due_stay *d = row;
    ct_bed_info b;
    int rc = ct_capacity_bed(c, d->bed, &b, err);
    return rc ? rc
              : end_stay(c, b.id, b.zone_id, b.facility_id, &d->r,
                         "expected_end", "host", err);
}

int ct_capacity_resident_end_due(ct_capacity *c)
{
    static const ct_area_due d = {
        CT_STMT_RES_DUE,          sizeof(due_stay), "finding residents due",
        "resident stays not ended", read_due,       end_due,
        ct_capacity__schedule_holds};
    return ct_area__run_due(c, &d);
}

int64_t ct_capacity_resident_next_end(ct_capacity *c)
{
    return ct_area__next_due(c, CT_STMT_RES_NEXT);
}
