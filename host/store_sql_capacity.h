/*
 * Statements of the capacity units (capacity.c: beds, surge, holds; and,
 * through the files included below, referral.c, isolation.c,
 * candidates.c and metrics.c). Joined into the one statement cache by
 * store_sql.h as CT_STMTS_CAPACITY.
 *
 * Times are ms on the host clock; bed.status mirrors the active assignment
 * and the block, written in the same transaction.
 */
#ifndef CT_STORE_SQL_CAPACITY_H
#define CT_STORE_SQL_CAPACITY_H

#include "store_sql_candidates.h"
#include "store_sql_delay.h"
#include "store_sql_isolation.h"
#include "store_sql_metrics.h"
#include "store_sql_referral.h"
#include "store_sql_resident.h"
#include "store_sql_waitlist.h"

#define CT_STMTS_CAP_BEDS(X)                                                 \
    /* A change inside the caller's transaction runs under this savepoint. */\
                                                                             \
    X(CAP_BED_GET,                                                           \
      "SELECT b.zone_id, z.facility_id, f.kind, b.status, b.blocked_reason," \
      "       b.surge, b.surge_open, b.retired, z.closed, z.retired,"        \
      "       f.retired, z.closed_reason"                                    \
      "  FROM bed b"                                                         \
      "  JOIN zone z ON z.id = b.zone_id"                                    \
      "  JOIN facility f ON f.id = z.facility_id"                            \
      " WHERE b.id = ?1")                                                    \
    /* A held or occupied bed's assignment (most beds read are free). */    \
    X(CAP_BED_ACTIVE,                                                        \
      "SELECT id, referral_id, kind, expires_at FROM assignment"             \
      " WHERE bed_id = ?1 AND active = 1")                                   \
    X(CAP_BED_SET_STATUS,                                                    \
      "UPDATE bed SET status = ?2, blocked_reason = ?3 WHERE id = ?1")       \
    /* The mirror of an assignment starting or ending at ?3; a blocked bed \
     * keeps its reason, so its CHECK refuses it held or occupied. */        \
    X(CAP_BED_MIRROR,                                                        \
      "UPDATE bed SET status = ?2, assignment_changed_at = ?3 WHERE id = ?1")\
    /* The first tag in the JSON array ?2 that bed ?1 lacks. */              \
    X(CAP_BED_MISSING_TAG,                                                   \
      "SELECT r.value FROM json_each(?2) r"                                  \
      " WHERE NOT EXISTS (SELECT 1 FROM bed_tag t"                           \
      "                    WHERE t.bed_id = ?1 AND t.tag = r.value)"         \
      " LIMIT 1")                                                            \
                                                                             \
    X(CAP_ACTIVE_OF_REFERRAL,                                                \
      "SELECT id, bed_id, kind, started_at, expires_at FROM assignment"      \
      " WHERE referral_id = ?1 AND active = 1")                              \
    X(CAP_ASSIGN_INSERT,                                                     \
      "INSERT INTO assignment (bed_id, referral_id, kind, active,"           \
      "                        started_at, expires_at)"                      \
      " VALUES (?1, ?2, ?3, 1, ?4, ?5)")                                     \
    X(CAP_ASSIGN_END,                                                        \
      "UPDATE assignment SET active = 0, ended_at = ?2, end_reason = ?3"     \
      " WHERE id = ?1 AND active = 1")                                       \
    X(CAP_HOLDS_DUE,                                                         \
      "SELECT id, referral_id, bed_id, started_at, expires_at"               \
      "  FROM assignment"                                                    \
      " WHERE active = 1 AND kind = 'hold' AND expires_at <= ?1"             \
      " ORDER BY expires_at, id LIMIT ?2")                                   \
    X(CAP_NEXT_EXPIRY,                                                       \
      "SELECT min(expires_at) FROM assignment"                               \
      " WHERE active = 1 AND kind = 'hold'")                                 \
                                                                             \
    X(CAP_FACILITY_GET, "SELECT retired FROM facility WHERE id = ?1")        \
    X(CAP_SURGE_COUNTS,                                                      \
      "SELECT count(*), total(b.surge_open),"                                \
      "       total(b.surge_open AND b.status IN ('held','occupied'))"       \
      "  FROM zone z JOIN bed b ON b.zone_id = z.id"                         \
      " WHERE z.facility_id = ?1 AND b.surge = 1 AND b.retired = 0")         \
    /* Surge beds to open (?2 = 0) or free ones to close (?2 = 1). */        \
    X(CAP_SURGE_PICK,                                                        \
      "SELECT b.id FROM zone z JOIN bed b ON b.zone_id = z.id"               \
      " WHERE z.facility_id = ?1 AND b.surge = 1 AND b.retired = 0"          \
      "   AND b.surge_open = ?2"                                             \
      "   AND (?2 = 0 OR b.status IN ('available','blocked'))"              \
      " ORDER BY b.id LIMIT ?3")                                             \
    X(CAP_SURGE_SET, "UPDATE bed SET surge_open = ?2 WHERE id = ?1")

#define CT_STMTS_CAPACITY(X)                                                 \
    CT_STMTS_CAP_BEDS(X)                                                     \
    CT_STMTS_REFERRAL(X)                                                     \
    CT_STMTS_ISOLATION(X)                                                    \
    CT_STMTS_CANDIDATES(X)                                                   \
    CT_STMTS_METRICS(X)                                                      \
    CT_STMTS_DELAY(X)                                                        \
    CT_STMTS_WAITLIST(X)                                                     \
    CT_STMTS_RESIDENT(X)

#endif
