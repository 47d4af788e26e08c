/*
 * Isolation (isolation.h): zone cohorts, and closing a zone to admissions
 * and opening it again. A closure releases the zone's holds through the
 * area handle's hook (area.h); a cohort set checks the zone's occupants
 * against the rule (isolation.c).
 */
#include "isolation_int.h"

#include "error.h"
#include "log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- zones ----------------------------------------------------------- */

typedef struct zone_row {
    bool closed;
    char closed_reason[200];
} zone_row;

/* Loads a zone that is in service (CT_ENOTFOUND, or CT_ESTATE if retired). */
static int load_zone(ct_capacity *c, const char *zone, zone_row *z,
                     ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_ISO_ZONE_GET, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        z->closed = sqlite3_column_int(st, 0);
        snprintf(z->closed_reason, sizeof z->closed_reason, "%s",
                 col(st, 1) ? col(st, 1) : "");
        rc = sqlite3_column_int(st, 2) || sqlite3_column_int(st, 3)
                 ? ct_area__fail(err, CT_ESTATE, "zone %s is retired",
                                 zone)
                 : 0;
    } else if (rc == SQLITE_DONE) {
        rc = ct_area__fail(err, CT_ENOTFOUND, "zone %s does not exist",
                           zone);
    } else {
        rc = ct_area__dberr(c, err, rc, "reading a zone");
    }
    sqlite3_reset(st);
    return rc;
}

static int read_cohort(ct_capacity *c, const char *zone, const char *pathogen,
                       ct_cohort *out, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_ISO_COHORT_GET, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pathogen, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *out = CT_COHORT_OPEN;
    if (rc == SQLITE_ROW)
        *out = (ct_cohort)ct_cohort_parse(col(st, 0));
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? 0
               : ct_area__dberr(c, err, rc, "reading a cohort");
}

int ct_isolation_get_cohort(ct_capacity *c, const char *zone_id,
                            const char *pathogen, ct_cohort *out,
                            ct_cap_error *err)
{
    int rc;
    zone_row z;
    if ((rc = ct_area__check_text("zone id", zone_id, CT_CAP_ID_MAX - 1,
                                  err)) ||
        (rc = ct_area__check_text("pathogen", pathogen,
                                  CT_PATHOGEN_MAX - 1, err)) ||
        (rc = load_zone(c, zone_id, &z, err)))
        return rc;
    return read_cohort(c, zone_id, pathogen, out, err);
}

int ct_isolation_set_cohort(ct_capacity *c, const char *zone_id,
                            const char *pathogen, ct_cohort cohort,
                            const char *actor, ct_cap_error *err)
{
    int rc;
    if ((rc = ct_area__check_text("zone id", zone_id, CT_CAP_ID_MAX - 1,
                                  err)) ||
        (rc = ct_isolation__check_pathogen(c, pathogen, err)) ||
        (rc = ct_area__check_text("actor", actor, 200, err)))
        return rc;
    if ((unsigned)cohort >= CT_COHORT__COUNT)
        return ct_area__fail(err, CT_EINVAL, "cohort %d is not %s",
                             (int)cohort, ct_cohort_list());
    if ((rc = ct_area__begin(c, err)))
        return rc;
    zone_row z;
    ct_cohort prev;
    sqlite3_stmt *st;
    if ((rc = load_zone(c, zone_id, &z, err)) ||
        (rc = read_cohort(c, zone_id, pathogen, &prev, err)) ||
        prev == cohort)
        goto done;
    if (!(st = ct_area__stmt(c, CT_STMT_ISO_ZONE_PEOPLE, err))) {
        rc = CT_ESTORE;
        goto done;
    }
    /* Everyone held or placed in the zone must pass the new cohort. */
    int64_t now = ct_clock_now(ct_area_clock(c));
    sqlite3_bind_text(st, 1, zone_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pathogen, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int status = col(st, 3) ? ct_infection_status_parse(col(st, 3)) : -1;
        if (ct_isolation_admits(cohort, status, end_col(st, 4), now,
                                sqlite3_column_int(st, 5), NULL))
            continue;
        rc = ct_area__fail(
            err, CT_ECOHORT,
            "zone %s cannot become %s %s: bed %s is %s by referral %" PRId64
            ", %s for %s",
            zone_id, pathogen, ct_cohort_name(cohort), col(st, 0),
            strcmp(col(st, 2), "hold") == 0 ? "held" : "occupied",
            (int64_t)sqlite3_column_int64(st, 1),
            ct_isolation__person_phrase(status, end_col(st, 4), now), pathogen);
        break;
    }
    if (rc == SQLITE_DONE)
        rc = 0;
    else if (rc != CT_ECOHORT)
        rc = ct_area__dberr(c, err, rc, "checking a zone's people");
    sqlite3_reset(st);
    if (rc)
        goto done;
    if (!(st = ct_area__stmt(c, CT_STMT_ISO_COHORT_SET, err))) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_text(st, 1, zone_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pathogen, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ct_cohort_name(cohort), -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        rc = ct_area__dberr(c, err, rc, "setting a cohort");
        goto done;
    }
    ct_area__note(c, CT_IDX_ZONE_COHORT, zone_id, pathogen,
                    (int)cohort);
    rc = ct_area__emit(c, actor, "zone.cohort_set",
                       json_pack("{s:s, s:s, s:s, s:s}", "zone", zone_id,
                                 "pathogen", pathogen, "cohort",
                                 ct_cohort_name(cohort), "previous",
                                 ct_cohort_name(prev)),
                       err);
done:
    return ct_area__finish(c, rc, err);
}

static int set_closed(ct_capacity *c, const char *zone, bool closed,
                      const char *reason, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_ISO_ZONE_SET_CLOSED, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, closed);
    if (reason)
        sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ct_area__dberr(c, err, rc, "closing or opening a zone");
    ct_area__note(c, CT_IDX_ZONE_CLOSED, zone, NULL, closed);
    return 0;
}

/* The zone's active holds; *out malloc'd (caller frees). */
static int zone_holds(ct_capacity *c, const char *zone, ct_cap_assignment **out,
                      size_t *n, ct_cap_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_ISO_ZONE_HOLDS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (ct_grow(out, &cap, *n, sizeof **out, 8)) {
            rc = SQLITE_NOMEM;
            break;
        }
        ct_cap_assignment *a = &(*out)[(*n)++];
        memset(a, 0, sizeof *a);
        a->id = sqlite3_column_int64(st, 0);
        a->referral_id = sqlite3_column_int64(st, 1);
        a->started_at = sqlite3_column_int64(st, 2);
        a->expires_at = sqlite3_column_int64(st, 3);
        snprintf(a->bed_id, sizeof a->bed_id, "%s", col(st, 4));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return ct_area__dberr(c, err, rc, "finding a zone's holds");
    }
    return 0;
}

int ct_isolation_close_zone(ct_capacity *c, const char *zone_id,
                            const char *reason, const char *actor,
                            int *released, ct_cap_error *err)
{
    int rc;
    if ((rc = ct_area__check_text("zone id", zone_id, CT_CAP_ID_MAX - 1,
                                  err)) ||
        (rc = ct_area__check_text("closure reason", reason, 199, err)) ||
        (rc = ct_area__check_text("actor", actor, 200, err)))
        return rc;
    if ((rc = ct_area__begin(c, err)))
        return rc;
    zone_row z;
    ct_cap_assignment *holds = NULL;
    size_t n = 0;
    if ((rc = load_zone(c, zone_id, &z, err)))
        goto done;
    if (z.closed) {
        rc = ct_area__fail(err, CT_ESTATE, "zone %s is already closed (%s)",
                           zone_id, z.closed_reason);
        goto done;
    }
    if ((rc = set_closed(c, zone_id, true, reason, err)) ||
        (rc = zone_holds(c, zone_id, &holds, &n, err)) ||
        (rc = ct_area__emit(c, actor, "zone.closed",
                            json_pack("{s:s, s:s, s:i}", "zone", zone_id,
                                      "reason", reason, "holds_released",
                                      (int)n),
                            err)))
        goto done;
    char why[256];
    snprintf(why, sizeof why, "zone %s closed to admissions: %s", zone_id,
             reason);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = ct_area__release_hold(c, &holds[i], why, actor, err);
done:
    free(holds);
    rc = ct_area__finish(c, rc, err);
    if (rc == 0 && released)
        *released = (int)n;
    return rc;
}

int ct_isolation_open_zone(ct_capacity *c, const char *zone_id,
                           const char *actor, ct_cap_error *err)
{
    int rc;
    if ((rc = ct_area__check_text("zone id", zone_id, CT_CAP_ID_MAX - 1,
                                  err)) ||
        (rc = ct_area__check_text("actor", actor, 200, err)))
        return rc;
    if ((rc = ct_area__begin(c, err)))
        return rc;
    zone_row z;
    if ((rc = load_zone(c, zone_id, &z, err)))
        goto done;
    if (!z.closed) {
        rc = ct_area__fail(err, CT_ESTATE, "zone %s is not closed",
                           zone_id);
        goto done;
    }
    if ((rc = set_closed(c, zone_id, false, NULL, err)))
        goto done;
    rc = ct_area__emit(c, actor, "zone.opened",
                       json_pack("{s:s, s:s}", "zone", zone_id,
                                 "was_closed_for", z.closed_reason),
                       err);
done:
    return ct_area__finish(c, rc, err);
}
