/*
 * Statements of metrics.c: counts straight from the rows (bed.status,
 * referral states and dates), so metrics never drift from the data.
 * Delay days: the UTC day of the end of the wait (discharge, cancellation
 * or now) minus the ready date, at least 0. Joined through
 * store_sql_capacity.h.
 */
#ifndef CT_STORE_SQL_METRICS_H
#define CT_STORE_SQL_METRICS_H

/* Beds that count: in service, and surge beds only while open (a busy
 * surge bed always counts: someone is in it). */
#define CT_SQL_MET_COUNTED                                                   \
    " b.retired = 0 AND z.retired = 0 AND f.retired = 0"                     \
    " AND (b.surge = 0 OR b.surge_open = 1"                                  \
    "      OR b.status IN ('held','occupied'))"

#define CT_STMTS_METRICS(X)                                                  \
    X(MET_BEDS,                                                              \
      "SELECT b.zone_id, z.facility_id, f.kind, z.closed, b.status,"         \
      "       count(*), total(b.surge)"                                      \
      "  FROM bed b"                                                         \
      "  JOIN zone z ON z.id = b.zone_id"                                    \
      "  JOIN facility f ON f.id = z.facility_id"                            \
      " WHERE" CT_SQL_MET_COUNTED                                            \
      " GROUP BY b.zone_id, b.status ORDER BY b.zone_id")                    \
    /* Admittable beds (available, zone open) by cohort, per pathogen: the  \
     * configured ones (?1, JSON array) and any in use. Counted per zone    \
     * first, so the cross join is pathogens x zones, not x beds. */        \
    X(MET_COHORTS,                                                           \
      "WITH p(pathogen) AS (SELECT value FROM json_each(?1)"                 \
      "                     UNION SELECT pathogen FROM zone_cohort"          \
      "                     UNION SELECT pathogen FROM infection),"          \
      "     zb(zone_id, n) AS"                                               \
      "       (SELECT b.zone_id, count(*) FROM bed b"                        \
      "          JOIN zone z ON z.id = b.zone_id"                            \
      "          JOIN facility f ON f.id = z.facility_id"                    \
      "         WHERE b.status = 'available' AND z.closed = 0"               \
      "           AND" CT_SQL_MET_COUNTED                                    \
      "         GROUP BY b.zone_id)"                                         \
      "SELECT p.pathogen, coalesce(zc.cohort, 'open'), sum(zb.n)"            \
      "  FROM p"                                                             \
      "  CROSS JOIN zb"                                                      \
      "  LEFT JOIN zone_cohort zc"                                           \
      "         ON zc.zone_id = zb.zone_id AND zc.pathogen = p.pathogen"     \
      " GROUP BY 1, 2 ORDER BY 1, 2")                                        \
    /* The pathogens MET_COHORTS counts for, when the counts come from the \
     * area index (metrics.c). */                                            \
    X(MET_PATHOGENS,                                                         \
      "SELECT value FROM json_each(?1)"                                      \
      " UNION SELECT pathogen FROM zone_cohort"                              \
      " UNION SELECT pathogen FROM infection")                               \
    /* Waiting for capacity: P0 (home, no new support) needs no bed; such \
     * a person waits for transport, not for the hub (issue 22). Days past \
     * the ready date are worked out in C, in UK days. */                  \
    X(MET_WAITING,                                                           \
      "SELECT coalesce(decided_pathway, requested_pathway), ready_date"      \
      "  FROM referral"                                                      \
      " WHERE state IN ('received','triaged','waiting')"                     \
      "   AND coalesce(decided_pathway, requested_pathway, '') <> 'P0'")     \
    /* ?1 is today, YYYY-MM-DD. */                                           \
    X(MET_NCTR,                                                              \
      "SELECT total(ready_date <= ?1), total(ready_date < ?1)"               \
      "  FROM referral"                                                      \
      " WHERE state IN ('received','triaged','waiting','held','placed')")    \
    /* Referrals past their ready date (?1 is today, YYYY-MM-DD): their \
     * delay days and episodes are worked out in C (delay.h). Left out:   \
     * waits that ended (discharge, cancellation) before 23:00 UTC of the  \
     * ready date, which is before the next UK day in GMT and BST alike, so \
     * lost no day: most people, who leave on their ready date, and whom   \
     * every quarter-hour round read again (issue 20). */                  \
    X(MET_DELAYS,                                                            \
      "SELECT id, ready_date, state, coalesce(discharged_at, 0), updated_at" \
      "  FROM referral"                                                      \
      " WHERE ready_date < ?1"                                               \
      "   AND coalesce(coalesce(nullif(discharged_at, 0),"                   \
      "                         CASE state WHEN 'cancelled'"                 \
      "                              THEN updated_at END)"                   \
      "                >= (CAST(strftime('%s', ready_date) AS INTEGER)"      \
      "                    + 82800) * 1000, 1)")                             \
    /* Other connections' commits since this one last looked (the       \
     * metrics memo's key, with this connection's own changes). */         \
    X(MET_DATA_VERSION, "PRAGMA data_version")

#endif
