/*
 * Statements of the reports (report.c, report_capacity.c): delays from the
 * referral rows, the occupancy history rebuilt from assignments and the
 * capacity events, the last change of each facility's beds, escalation
 * history and recent decisions. Read-only: reports run on a store opened
 * read-only too. A statement set of its
 * own (store_int.h).
 *
 * Dates are compared as 'YYYY-MM-DD' text, times as ms on the host clock.
 */
#ifndef CT_STORE_SQL_REPORT_H
#define CT_STORE_SQL_REPORT_H

/* The events the reports read by kind: the WHERE of the partial index
 * event_capacity_by_kind (migration 6), which a query must repeat word for
 * word for SQLite to use the index. */
#define CT_SQL_CAPACITY_EVENT                                                \
    "(kind GLOB 'bed.*' OR kind GLOB 'surge.*' OR kind GLOB 'zone.*')"

#define CT_STMTS_REPORT(X)                                                   \
    /* Referrals whose ready date is in [?1, ?2] (each NULL for open),      \
     * with what delay days and grouping need. */                            \
    X(REP_DELAYS,                                                            \
      "SELECT r.ready_date, r.state, coalesce(r.discharged_at, 0),"          \
      "       r.updated_at, r.delay_reason, r.responsible_org,"              \
      "       coalesce(r.decided_pathway, r.requested_pathway), r.id"        \
      "  FROM referral r"                                                    \
      " WHERE (?1 IS NULL OR r.ready_date >= ?1)"                            \
      "   AND (?2 IS NULL OR r.ready_date <= ?2)")                           \
    X(REP_ORG_NAME, "SELECT name FROM organisation WHERE id = ?1")           \
    /* Holds and occupancies alive at some time in [?1, ?2]: the active    \
     * ones and those ended after ?1 (two index ranges, not one scan). */    \
    X(REP_ASSIGNMENTS,                                                       \
      "SELECT z.facility_id, a.kind, a.started_at, 0"                        \
      "  FROM assignment a"                                                  \
      "  JOIN bed b ON b.id = a.bed_id JOIN zone z ON z.id = b.zone_id"      \
      " WHERE a.active = 1 AND a.started_at <= ?2"                           \
      " UNION ALL "                                                          \
      "SELECT z.facility_id, a.kind, a.started_at, a.ended_at"               \
      "  FROM assignment a"                                                  \
      "  JOIN bed b ON b.id = a.bed_id JOIN zone z ON z.id = b.zone_id"      \
      " WHERE a.ended_at > ?1 AND a.started_at <= ?2"                        \
      /* Existing residents occupy their beds too. */                       \
      " UNION ALL "                                                          \
      "SELECT z.facility_id, 'occupancy', s.started_at,"                     \
      "       coalesce(s.ended_at, 0)"                                       \
      "  FROM resident s"                                                    \
      "  JOIN bed b ON b.id = s.bed_id JOIN zone z ON z.id = b.zone_id"      \
      " WHERE (s.ended_at IS NULL OR s.ended_at > ?1)"                       \
      "   AND s.started_at <= ?2")                                           \
    /* Changes of open beds after ?1: blocks, unblocks and surge, with the  \
     * facility they concern (through the zone for a bed event). */          \
    X(REP_OPEN_CHANGES,                                                      \
      "SELECT e.at, e.kind,"                                                 \
      "       coalesce(json_extract(e.payload, '$.facility'),"               \
      "                (SELECT z.facility_id FROM zone z"                    \
      "                  WHERE z.id = json_extract(e.payload, '$.zone'))),"  \
      "       coalesce(json_extract(e.payload, '$.changed'), 1)"             \
      "  FROM event e"                                                       \
      " WHERE " CT_SQL_CAPACITY_EVENT                                        \
      "   AND kind IN ('bed.blocked', 'bed.unblocked', 'surge.opened',"      \
      "                'surge.closed')"                                      \
      "   AND e.at > ?1")                                                    \
    /* The last change of each facility's beds: the newest assignment      \
     * start or end of any bed, kept on the bed (capacity.c). */             \
    X(REP_BED_CHANGES,                                                       \
      "SELECT z.facility_id, max(b.assignment_changed_at)"                   \
      "  FROM bed b JOIN zone z ON z.id = b.zone_id"                         \
      " WHERE b.retired = 0"                                                 \
      " GROUP BY z.facility_id")                                             \
    /* ... and the newest block, surge or zone event of each facility. */   \
    X(REP_FACILITY_EVENTS,                                                   \
      "SELECT coalesce(json_extract(e.payload, '$.facility'),"               \
      "                (SELECT z.facility_id FROM zone z"                    \
      "                  WHERE z.id = json_extract(e.payload, '$.zone'))),"  \
      "       max(e.at)"                                                     \
      "  FROM event e"                                                       \
      " WHERE " CT_SQL_CAPACITY_EVENT                                        \
      "   AND kind IN ('bed.blocked', 'bed.unblocked', 'surge.opened',"      \
      "                'surge.closed', 'zone.closed', 'zone.opened',"        \
      "                'zone.cohort_set')"                                   \
      " GROUP BY 1")                                                         \
    /* The same per zone: its beds' assignment changes, and the block,    \
     * unblock and zone events naming it. */                                \
    X(REP_ZONE_BED_CHANGES,                                                  \
      "SELECT b.zone_id, max(b.assignment_changed_at)"                       \
      "  FROM bed b WHERE b.retired = 0 GROUP BY b.zone_id")                 \
    X(REP_ZONE_EVENTS,                                                       \
      "SELECT json_extract(e.payload, '$.zone'), max(e.at)"                  \
      "  FROM event e"                                                       \
      " WHERE " CT_SQL_CAPACITY_EVENT                                        \
      "   AND kind IN ('bed.blocked', 'bed.unblocked', 'zone.closed',"       \
      "                'zone.opened', 'zone.cohort_set')"                    \
      " GROUP BY 1")                                                         \
    /* The first audited change: where an open period starts. */            \
    X(REP_FIRST_EVENT, "SELECT min(at) FROM event")                          \
    /* Escalation changes before ?1, oldest first. */                        \
    X(REP_ESCALATIONS,                                                       \
      "SELECT seq, at, level, reason, actions FROM escalation"               \
      " WHERE at < ?1 ORDER BY seq")                                         \
    /* Referrals that may have been past their ready date and in hospital \
     * at some time in [?2, ?3]: ready before the day ?1 (YYYY-MM-DD),     \
     * made by ?3, not discharged before ?2 (report_daily.c).              \
     * Cancelled ones are filtered by when they were cancelled.             \
     * A left join: an organisation removed from the config still names   \
     * its key. */                                                          \
    X(REP_PAST_READY,                                                        \
      "SELECT r.id, r.ready_date, r.state, coalesce(r.discharged_at, 0),"    \
      "       r.updated_at, r.created_at, r.delay_reason, r.responsible_org," \
      "       o.name, r.nhs_number, r.from_org,"                             \
      "       coalesce(r.decided_pathway, r.requested_pathway),"             \
      "       (SELECT e.reason_text FROM delay_episode e"                    \
      "         WHERE e.referral_id = r.id AND e.to_day IS NULL"             \
      "           AND e.superseded_by IS NULL)"                              \
      "  FROM referral r"                                                    \
      "  LEFT JOIN organisation o ON o.id = r.responsible_org"               \
      " WHERE r.ready_date < ?1 AND r.created_at <= ?3"                      \
      "   AND (r.discharged_at IS NULL OR r.discharged_at >= ?2)")           \
    /* Why a waiting referral waits: its decision's why (docs/api.md).   \
     */                                                                      \
    X(REP_WHY,                                                               \
      "SELECT json_extract(decision, '$.why') FROM referral"                 \
      " WHERE id = ?1 AND state = 'waiting'")                                \
    /* A referral's delay episodes with their organisations' names, for  \
     * attributing each day to the episode in force then. */                \
    X(REP_EPISODES,                                                          \
      "SELECT e.reason, e.reason_text, e.responsible_org, o.name,"          \
      "       e.from_day, e.to_day"                                          \
      "  FROM delay_episode e"                                               \
      "  LEFT JOIN organisation o ON o.id = e.responsible_org"               \
      " WHERE e.referral_id = ?1 AND e.superseded_by IS NULL"                \
      " ORDER BY e.from_day, e.id")                                          \
    /* Holds that ended (confirmed, expired, released) in [?1, ?2), with   \
     * the organisation that runs the bed's facility. */                     \
    X(REP_HOLDS_ENDED,                                                       \
      "SELECT f.org_id, o.name, a.started_at, a.ended_at, a.end_reason"      \
      "  FROM assignment a"                                                  \
      "  JOIN bed b ON b.id = a.bed_id JOIN zone z ON z.id = b.zone_id"      \
      "  JOIN facility f ON f.id = z.facility_id"                            \
      "  LEFT JOIN organisation o ON o.id = f.org_id"                        \
      " WHERE a.ended_at >= ?1 AND a.ended_at < ?2 AND a.kind = 'hold'")     \
    /* The sitrep's referrals (report_national.c): those in hospital at     \
     * some time in [?1, ?2) or discharged then. */                          \
    X(REP_SITREP,                                                            \
      "SELECT r.ready_date, r.state, coalesce(r.discharged_at, 0),"          \
      "       r.updated_at, r.created_at, r.delay_reason,"                   \
      "       r.responsible_org,"                                            \
      "       coalesce(r.decided_pathway, r.requested_pathway),"             \
      "       r.usual_residence, r.id"                                       \
      "  FROM referral r"                                                    \
      " WHERE r.created_at < ?2"                                             \
      "   AND (r.discharged_at IS NULL OR r.discharged_at >= ?1)")           \
    /* People who left hospital in [?1, ?2) (report_flow.c). */            \
    X(REP_DISCHARGES,                                                        \
      "SELECT coalesce(decided_pathway, requested_pathway), usual_residence" \
      "  FROM referral"                                                      \
      " WHERE discharged_at >= ?1 AND discharged_at < ?2"                    \
      "   AND (state = 'discharged' OR state = 'completed')")                \
    /* Daily snapshots (report_snapshot.c). */                             \
    X(REP_SNAP_HAS, "SELECT 1 FROM snapshot_day WHERE day = ?1")             \
    X(REP_SNAP_DAY,                                                          \
      "INSERT INTO snapshot_day (day, taken_at, rows) VALUES (?1, ?2, ?3)")  \
    X(REP_SNAP_ROW,                                                          \
      "INSERT INTO snapshot (day, figure, grp, key, name, value)"            \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                                    \
    X(REP_SNAP_DAYS,                                                         \
      "SELECT day FROM snapshot_day WHERE day >= ?1 AND day <= ?2")          \
    X(REP_SNAP_ROWS,                                                         \
      "SELECT day, figure, grp, key, name, value FROM snapshot"              \
      " WHERE day >= ?1 AND day <= ?2")                                      \
    /* The newest decisions, at most ?1. */                                  \
    X(REP_DECISIONS,                                                         \
      "SELECT r.id, r.state, r.from_org, r.ready_date, r.created_at,"        \
      "       coalesce(r.decided_pathway, r.requested_pathway), r.decision"  \
      "  FROM referral r WHERE r.decision IS NOT NULL"                       \
      " ORDER BY r.id DESC LIMIT ?1")

/* A statement set of its own (store_int.h), not in the store's list. */
typedef enum ct_report_stmt {
#define X(name, sql) CT_STMT_##name,
    CT_STMTS_REPORT(X)
#undef X
    CT_STMT_REPORT__COUNT
} ct_report_stmt;

#endif
