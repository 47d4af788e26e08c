/*
 * Statements of the store itself: transactions, the schema version and
 * config reconciliation (host/store_reconcile.c). X(NAME, "SQL") entries
 * joined into the one statement cache by store_sql.h.
 *
 * Reconcile writes only when a value differs (UPDATE ... WHERE old IS NOT
 * new, INSERT ... ON CONFLICT DO NOTHING), so loading the same config again
 * rewrites no row. Lists of ids are bound as one JSON array text and read
 * with json_each, so "everything not in the config" needs no scratch table
 * and no SQL built from values.
 */
#ifndef CT_STORE_SQL_STORE_H
#define CT_STORE_SQL_STORE_H

#define CT_STMTS_STORE(X)                                                    \
    X(BEGIN, "BEGIN IMMEDIATE")                                              \
    X(COMMIT, "COMMIT")                                                      \
    X(ROLLBACK, "ROLLBACK")                                                  \
    X(SAVEPOINT, "SAVEPOINT ct_sp")                                          \
    X(RELEASE, "RELEASE ct_sp")                                              \
    X(ROLLBACK_TO, "ROLLBACK TO ct_sp")                                      \
    X(USER_VERSION, "PRAGMA user_version")                                   \
                                                                             \
    /* The hash of the config the last reconcile loaded (migration 13). */ \
    X(RECONCILE_HASH_GET, "SELECT sha256 FROM config_loaded WHERE id = 1")   \
    X(RECONCILE_HASH_SET,                                                    \
      "INSERT INTO config_loaded(id, sha256) VALUES (1, ?1)"                 \
      " ON CONFLICT(id) DO UPDATE SET sha256 = excluded.sha256")             \
    X(RECONCILE_ORG_INSERT,                                                  \
      "INSERT INTO organisation(id, name) VALUES (?1, ?2)"                   \
      " ON CONFLICT(id) DO NOTHING")                                         \
    X(RECONCILE_ORG_UPDATE,                                                  \
      "UPDATE organisation SET name = ?2 WHERE id = ?1 AND name IS NOT ?2")  \
                                                                             \
    X(RECONCILE_FACILITY_INSERT,                                             \
      "INSERT INTO facility(id, name, kind, org_id, designated)"             \
      " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO NOTHING")             \
    X(RECONCILE_FACILITY_UPDATE,                                             \
      "UPDATE facility SET name = ?2, kind = ?3, org_id = ?4,"               \
      " designated = ?5, retired = 0"                                        \
      " WHERE id = ?1 AND (name IS NOT ?2 OR kind IS NOT ?3"                 \
      " OR org_id IS NOT ?4 OR designated IS NOT ?5 OR retired <> 0)")       \
    X(RECONCILE_FACILITY_RETIRE,                                             \
      "UPDATE facility SET retired = 1 WHERE retired = 0"                    \
      " AND id NOT IN (SELECT value FROM json_each(?1))")                    \
                                                                             \
    /* Closure is declared: the live closed column (and its reason) take   \
     * the config's value only when that differs from the value declared   \
     * at the previous load. SET sees the old row, so declared_closed on   \
     * the right is the previous declaration. */                           \
    X(RECONCILE_ZONE_INSERT,                                                 \
      "INSERT INTO zone(id, facility_id, name, closed, closed_reason,"       \
      " declared_closed)"                                                    \
      " VALUES (?1, ?2, ?3, ?4, CASE WHEN ?4 THEN 'closed in config' END,"   \
      " ?4) ON CONFLICT(id) DO NOTHING")                                     \
    X(RECONCILE_ZONE_UPDATE,                                                 \
      "UPDATE zone SET facility_id = ?2, name = ?3, retired = 0,"            \
      " closed = CASE WHEN declared_closed IS NOT ?4 THEN ?4"                \
      "   ELSE closed END,"                                                  \
      " closed_reason = CASE WHEN declared_closed IS NOT ?4"                 \
      "   THEN (CASE WHEN ?4 THEN 'closed in config' END)"                   \
      "   ELSE closed_reason END,"                                           \
      " declared_closed = ?4"                                                \
      " WHERE id = ?1 AND (facility_id IS NOT ?2 OR name IS NOT ?3"          \
      " OR retired <> 0 OR declared_closed IS NOT ?4)")                      \
    X(RECONCILE_ZONE_RETIRE,                                                 \
      "UPDATE zone SET retired = 1 WHERE retired = 0"                        \
      " AND id NOT IN (SELECT value FROM json_each(?1))")                    \
                                                                             \
    /* Cohorts are declared too. A row whose declared is NULL was made at  \
     * run time for a pathogen the config never listed: declared open. */  \
    X(RECONCILE_COHORT_UPSERT,                                               \
      "INSERT INTO zone_cohort(zone_id, pathogen, cohort, declared)"         \
      " VALUES (?1, ?2, ?3, ?3) ON CONFLICT(zone_id, pathogen) DO UPDATE"    \
      " SET cohort = excluded.declared, declared = excluded.declared"        \
      " WHERE coalesce(zone_cohort.declared, 'open')"                        \
      "   IS NOT excluded.declared")                                         \
    X(RECONCILE_COHORT_UNLISTED,                                             \
      "UPDATE zone_cohort SET cohort = 'open', declared = 'open'"            \
      " WHERE zone_id = ?1 AND coalesce(declared, 'open') <> 'open'"         \
      " AND pathogen NOT IN (SELECT value FROM json_each(?2))")              \
                                                                             \
    X(RECONCILE_BED_INSERT,                                                  \
      "INSERT INTO bed(id, zone_id, surge) VALUES (?1, ?2, ?3)"              \
      " ON CONFLICT(id) DO NOTHING")                                         \
    X(RECONCILE_BED_UPDATE,                                                  \
      "UPDATE bed SET zone_id = ?2, surge = ?3, retired = 0"                 \
      " WHERE id = ?1 AND (zone_id IS NOT ?2 OR surge IS NOT ?3"             \
      " OR retired <> 0)")                                                   \
    /* A store with no area yet: every row is new (reconcile's fast    \
     * path). */                                                           \
    X(RECONCILE_FRESH,                                                       \
      "SELECT NOT EXISTS (SELECT 1 FROM facility)"                           \
      " AND NOT EXISTS (SELECT 1 FROM zone)"                                 \
      " AND NOT EXISTS (SELECT 1 FROM bed)")                                 \
    X(RECONCILE_BED_TAG_INSERT,                                              \
      "INSERT INTO bed_tag(bed_id, tag) VALUES (?1, ?2)"                     \
      " ON CONFLICT(bed_id, tag) DO NOTHING")                                \
    X(RECONCILE_BED_TAGS_DROP,                                               \
      "DELETE FROM bed_tag WHERE bed_id = ?1"                                \
      " AND tag NOT IN (SELECT value FROM json_each(?2))")                   \
    X(RECONCILE_BED_TAGS_ADD,                                                \
      "INSERT INTO bed_tag(bed_id, tag)"                                     \
      " SELECT ?1, value FROM json_each(?2) WHERE true"                      \
      " ON CONFLICT(bed_id, tag) DO NOTHING")                                \
    /* Beds that would be retired but hold someone or are held. */         \
    X(RECONCILE_BED_BUSY,                                                    \
      "SELECT b.id, b.status, b.zone_id, z.facility_id"                      \
      " FROM bed b JOIN zone z ON z.id = b.zone_id"                          \
      " WHERE b.retired = 0 AND b.status IN ('held', 'occupied')"            \
      " AND b.id NOT IN (SELECT value FROM json_each(?1)) ORDER BY b.id")    \
    X(RECONCILE_BED_RETIRE,                                                  \
      "UPDATE bed SET retired = 1 WHERE retired = 0"                         \
      " AND id NOT IN (SELECT value FROM json_each(?1))")

#endif
