/*
 * Statements of isolation.c: infection records, zone cohorts and closure,
 * isolation ends. The segregation rule itself is C (ct_isolation_admits);
 * these only fetch what it needs. Joined through store_sql_capacity.h.
 */
#ifndef CT_STORE_SQL_ISOLATION_H
#define CT_STORE_SQL_ISOLATION_H

#define CT_SQL_ISO_ROOM(bed)                                                 \
    "EXISTS (SELECT 1 FROM bed_tag t WHERE t.bed_id = " bed                  \
    "        AND t.tag = 'isolation_room')"

#define CT_STMTS_ISOLATION(X)                                                \
    X(ISO_BED_EXISTS, "SELECT 1 FROM bed WHERE id = ?1")                     \
    /* The bed's zone cohorts that are not open, with the person's record   \
     * for each pathogen. */                                                 \
    X(ISO_BED_CHECK,                                                         \
      "SELECT zc.pathogen, zc.cohort, i.status, i.isolation_end, b.zone_id," \
      "       " CT_SQL_ISO_ROOM("b.id")                                      \
      "  FROM bed b"                                                         \
      "  JOIN zone_cohort zc ON zc.zone_id = b.zone_id"                      \
      "  LEFT JOIN infection i"                                              \
      "         ON i.nhs_number = ?2 AND i.pathogen = zc.pathogen"           \
      " WHERE b.id = ?1 AND zc.cohort <> 'open'")                            \
    /* The same when the bed's zone ?3 is known (read in this transaction): \
     * no second read of the bed. */                                        \
    X(ISO_ZONE_CHECK,                                                        \
      "SELECT zc.pathogen, zc.cohort, i.status, i.isolation_end,"            \
      "       zc.zone_id, " CT_SQL_ISO_ROOM("?1")                            \
      "  FROM zone_cohort zc"                                                \
      "  LEFT JOIN infection i"                                              \
      "         ON i.nhs_number = ?2 AND i.pathogen = zc.pathogen"           \
      " WHERE zc.zone_id = ?3 AND zc.cohort <> 'open'")                      \
    X(ISO_INF_GET,                                                           \
      "SELECT status, tested_at, isolation_end, isolation_notified,"         \
      "       source_org"                                                    \
      "  FROM infection WHERE nhs_number = ?1 AND pathogen = ?2")            \
    X(ISO_INF_LIST,                                                          \
      "SELECT pathogen, status, tested_at, isolation_end,"                   \
      "       isolation_notified"                                            \
      "  FROM infection WHERE nhs_number = ?1 ORDER BY pathogen")            \
    X(ISO_INF_UPSERT,                                                        \
      "INSERT INTO infection (nhs_number, pathogen, status, tested_at,"      \
      "                       isolation_end, isolation_notified, source_org)"\
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"                                 \
      " ON CONFLICT (nhs_number, pathogen) DO UPDATE"                        \
      " SET status = excluded.status, tested_at = excluded.tested_at,"       \
      "     isolation_end = excluded.isolation_end,"                         \
      "     isolation_notified = excluded.isolation_notified,"               \
      "     source_org = excluded.source_org")                               \
    /* Where a person is held or placed, with the zone's cohort for ?2. */   \
    X(ISO_PERSON_PLACEMENTS,                                                 \
      "SELECT a.id, a.referral_id, a.kind, a.started_at, a.expires_at,"      \
      "       a.bed_id, b.zone_id, coalesce(zc.cohort, 'open'),"             \
      "       " CT_SQL_ISO_ROOM("b.id")                                      \
      "  FROM referral r"                                                    \
      "  JOIN assignment a ON a.referral_id = r.id AND a.active = 1"         \
      "  JOIN bed b ON b.id = a.bed_id"                                      \
      "  LEFT JOIN zone_cohort zc"                                           \
      "         ON zc.zone_id = b.zone_id AND zc.pathogen = ?2"              \
      " WHERE r.nhs_number = ?1")                                            \
    X(ISO_ZONE_GET,                                                          \
      "SELECT z.closed, z.closed_reason, z.retired, f.retired"               \
      "  FROM zone z JOIN facility f ON f.id = z.facility_id"                \
      " WHERE z.id = ?1")                                                    \
    X(ISO_COHORT_GET,                                                        \
      "SELECT cohort FROM zone_cohort WHERE zone_id = ?1 AND pathogen = ?2") \
    X(ISO_COHORT_SET,                                                        \
      "INSERT INTO zone_cohort (zone_id, pathogen, cohort)"                  \
      " VALUES (?1, ?2, ?3)"                                                 \
      " ON CONFLICT (zone_id, pathogen) DO UPDATE"                           \
      " SET cohort = excluded.cohort")                                       \
    /* Everyone held or placed in zone ?1, with their record for ?2. */     \
    X(ISO_ZONE_PEOPLE,                                                       \
      "SELECT a.bed_id, a.referral_id, a.kind, i.status, i.isolation_end,"   \
      "       " CT_SQL_ISO_ROOM("b.id")                                      \
      "  FROM bed b"                                                         \
      "  JOIN assignment a ON a.bed_id = b.id AND a.active = 1"              \
      "  JOIN referral r ON r.id = a.referral_id"                            \
      "  LEFT JOIN infection i"                                              \
      "         ON i.nhs_number = r.nhs_number AND i.pathogen = ?2"          \
      " WHERE b.zone_id = ?1 AND b.retired = 0"                              \
      "   AND b.status IN ('held','occupied')"                               \
      " ORDER BY a.bed_id")                                                  \
    X(ISO_INF_RULE,                                                          \
      "SELECT pathogen, status, isolation_end FROM infection"                \
      " WHERE nhs_number = ?1")                                              \
    X(ISO_ZONE_SET_CLOSED,                                                   \
      "UPDATE zone SET closed = ?2, closed_reason = ?3 WHERE id = ?1")       \
    X(ISO_ZONE_HOLDS,                                                        \
      "SELECT a.id, a.referral_id, a.started_at, a.expires_at, a.bed_id"     \
      "  FROM bed b"                                                         \
      "  JOIN assignment a"                                                  \
      "    ON a.bed_id = b.id AND a.active = 1 AND a.kind = 'hold'"          \
      " WHERE b.zone_id = ?1 AND b.retired = 0 AND b.status = 'held'"        \
      " ORDER BY a.bed_id")                                                  \
    X(ISO_DUE,                                                               \
      "SELECT nhs_number, pathogen, status, tested_at, isolation_end"        \
      "  FROM infection"                                                     \
      " WHERE isolation_end IS NOT NULL AND isolation_notified = 0"          \
      "   AND isolation_end <= ?1"                                           \
      " ORDER BY isolation_end LIMIT ?2")                                    \
    X(ISO_NEXT,                                                              \
      "SELECT min(isolation_end) FROM infection"                             \
      " WHERE isolation_end IS NOT NULL AND isolation_notified = 0")         \
    X(ISO_MARK,                                                              \
      "UPDATE infection SET isolation_notified = 1"                          \
      " WHERE nhs_number = ?1 AND pathogen = ?2")

#endif
