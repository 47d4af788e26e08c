/*
 * Statements of the read views (capacity_view.c): capacity per facility
 * and zone, bed lists, referral lists filtered by organisation and the
 * ownership lookups the HTTP API's role rules need; and the referral
 * idempotency fingerprint (referral_key.c) and the audit event list
 * (audit_list.c). Joined into the one statement cache by
 * store_sql.h as CT_STMTS_VIEW.
 *
 * A bed counts (CT_SQL_VIEW_COUNTED) as in metrics: in service, and a
 * surge bed only while its surge is open or someone is in it.
 */
#ifndef CT_STORE_SQL_VIEW_H
#define CT_STORE_SQL_VIEW_H

#define CT_SQL_VIEW_COUNTED                                                  \
    "(b.surge = 0 OR b.surge_open = 1 OR b.status IN ('held','occupied'))"

#define CT_STMTS_VIEW(X)                                                     \
    /* One row per zone in service, zones without beds included. */          \
    X(VIEW_ZONES,                                                            \
      "SELECT f.id, f.name, f.kind, f.org_id, f.designated,"                 \
      "       z.id, z.name, z.closed, z.closed_reason,"                      \
      "       coalesce(sum(" CT_SQL_VIEW_COUNTED "), 0),"                    \
      "       coalesce(sum(" CT_SQL_VIEW_COUNTED                             \
      "                    AND b.status = 'available'), 0),"                 \
      "       coalesce(sum(" CT_SQL_VIEW_COUNTED                             \
      "                    AND b.status = 'held'), 0),"                      \
      "       coalesce(sum(" CT_SQL_VIEW_COUNTED                             \
      "                    AND b.status = 'occupied'), 0),"                  \
      "       coalesce(sum(" CT_SQL_VIEW_COUNTED                             \
      "                    AND b.status = 'blocked'), 0),"                   \
      "       coalesce(sum(b.surge), 0),"                                    \
      "       coalesce(sum(b.surge AND b.surge_open), 0)"                    \
      "  FROM facility f"                                                    \
      "  JOIN zone z ON z.facility_id = f.id AND z.retired = 0"              \
      "  LEFT JOIN bed b ON b.zone_id = z.id AND b.retired = 0"              \
      " WHERE f.retired = 0"                                                 \
      " GROUP BY f.id, z.id ORDER BY f.id, z.id")                            \
    /* The same zones without their beds: the counts come from the area  \
     * index (ct_candidates__zones). */                                      \
    X(VIEW_ZONES_PLAIN,                                                      \
      "SELECT f.id, f.name, f.kind, f.org_id, f.designated,"                 \
      "       z.id, z.name, z.closed, z.closed_reason"                       \
      "  FROM facility f"                                                    \
      "  JOIN zone z ON z.facility_id = f.id AND z.retired = 0"              \
      " WHERE f.retired = 0"                                                 \
      " ORDER BY f.id, z.id")                                                \
    X(VIEW_COHORTS,                                                          \
      "SELECT zone_id, pathogen, cohort FROM zone_cohort"                    \
      " ORDER BY zone_id, pathogen")                                         \
    /* Beds in service by facility ?1, zone ?2, status ?3, every tag of the \
     * JSON array ?4, id ?7 (each NULL for any), id after ?5, at most ?6. */ \
    X(VIEW_BEDS,                                                             \
      "SELECT b.id, b.zone_id, z.facility_id, f.kind, f.org_id, b.status,"   \
      "       b.blocked_reason, b.surge, b.surge_open,"                      \
      "       (SELECT json_group_array(tag) FROM"                            \
      "          (SELECT tag FROM bed_tag t WHERE t.bed_id = b.id"           \
      "            ORDER BY tag)),"                                          \
      "       a.referral_id, a.kind, a.expires_at,"                          \
      "       s.id, s.started_at, s.expected_end"                            \
      "  FROM bed b"                                                         \
      "  JOIN zone z ON z.id = b.zone_id"                                    \
      "  JOIN facility f ON f.id = z.facility_id"                            \
      "  LEFT JOIN assignment a ON a.bed_id = b.id AND a.active = 1"         \
      "  LEFT JOIN resident s ON s.bed_id = b.id AND s.ended_at IS NULL"     \
      " WHERE b.retired = 0 AND z.retired = 0 AND f.retired = 0"             \
      "   AND (?1 IS NULL OR z.facility_id = ?1)"                            \
      "   AND (?2 IS NULL OR b.zone_id = ?2)"                                \
      "   AND (?3 IS NULL OR b.status = ?3)"                                 \
      "   AND (?4 IS NULL OR NOT EXISTS"                                     \
      "          (SELECT 1 FROM json_each(?4) r WHERE NOT EXISTS"            \
      "             (SELECT 1 FROM bed_tag t"                                \
      "               WHERE t.bed_id = b.id AND t.tag = r.value)))"          \
      "   AND (?7 IS NULL OR b.id = ?7)"                                     \
      "   AND b.id > ?5"                                                     \
      " ORDER BY b.id LIMIT ?6")                                             \
    X(VIEW_FACILITY_ORG,                                                     \
      "SELECT org_id FROM facility WHERE id = ?1 AND retired = 0")           \
    X(VIEW_ZONE_EXISTS, "SELECT 1 FROM zone WHERE id = ?1 AND retired = 0")  \
    X(VIEW_ZONE_ORG,                                                         \
      "SELECT f.org_id FROM zone z JOIN facility f ON f.id = z.facility_id"  \
      " WHERE z.id = ?1 AND z.retired = 0")                                  \
    X(VIEW_BED_ORG,                                                          \
      "SELECT f.org_id FROM bed b"                                           \
      "  JOIN zone z ON z.id = b.zone_id"                                    \
      "  JOIN facility f ON f.id = z.facility_id"                            \
      " WHERE b.id = ?1")                                                    \
    /* The referring organisation, and the organisations owning the bed of \
     * the active assignment and of the latest one (active or ended). */    \
    X(VIEW_REFERRAL_ORGS,                                                    \
      "SELECT r.from_org,"                                                   \
      "       (SELECT f.org_id FROM assignment a"                            \
      "          JOIN bed b ON b.id = a.bed_id"                              \
      "          JOIN zone z ON z.id = b.zone_id"                            \
      "          JOIN facility f ON f.id = z.facility_id"                    \
      "         WHERE a.referral_id = r.id AND a.active = 1),"               \
      "       (SELECT f.org_id FROM assignment a"                            \
      "          JOIN bed b ON b.id = a.bed_id"                              \
      "          JOIN zone z ON z.id = b.zone_id"                            \
      "          JOIN facility f ON f.id = z.facility_id"                    \
      "         WHERE a.referral_id = r.id ORDER BY a.id DESC LIMIT 1)"      \
      "  FROM referral r WHERE r.id = ?1")                                   \
    /* Referral ids in state ?1 (NULL: any) after ?2, at most ?3, from     \
     * organisation ?4 (NULL: any). */                                       \
    X(VIEW_REFERRALS_FROM,                                                   \
      "SELECT id FROM referral"                                              \
      " WHERE (?1 IS NULL OR state = ?1) AND id > ?2"                        \
      "   AND (?4 IS NULL OR from_org = ?4)"                                 \
      " ORDER BY id LIMIT ?3")                                               \
    /* The same for referrals held or placed now in a facility of         \
     * organisation ?4 (a provider sees what it holds, while it does). */ \
    X(VIEW_REFERRALS_AT,                                                     \
      "SELECT r.id FROM referral r"                                          \
      " WHERE (?1 IS NULL OR r.state = ?1) AND r.id > ?2"                    \
      "   AND (SELECT f.org_id FROM assignment a"                            \
      "          JOIN bed b ON b.id = a.bed_id"                              \
      "          JOIN zone z ON z.id = b.zone_id"                            \
      "          JOIN facility f ON f.id = z.facility_id"                    \
      "         WHERE a.referral_id = r.id AND a.active = 1) = ?4"           \
      " ORDER BY r.id LIMIT ?3")                                             \
    X(VIEW_REFERRAL_STATES,                                                  \
      "SELECT state, count(*) FROM referral GROUP BY state")                 \
    /* Idempotency (referral_key.c): the referral an organisation made     \
     * with a key, and the fingerprint of the request that made it. */       \
    X(REFKEY_FIND,                                                         \
      "SELECT id, request_sha256 FROM referral"                              \
      " WHERE from_org = ?1 AND idempotency_key = ?2")                       \
    X(REFKEY_SET,                                                          \
      "UPDATE referral SET request_sha256 = ?2 WHERE id = ?1")               \
    /* Audit events after seq ?1, at most ?2 (audit_list.c). */              \
    X(VIEW_AUDIT_LIST,                                                       \
      "SELECT seq, at, actor, kind, payload, prev_hash, hash FROM event"     \
      " WHERE seq > ?1 ORDER BY seq LIMIT ?2")

#endif
