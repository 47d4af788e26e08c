/*
 * Statements of candidates.c: loading the area index that candidate search
 * runs on (facilities, zones, cohorts, beds, tags, each in id order),
 * PRAGMA data_version to notice commits by other connections, and the
 * person a search is for. Joined
 * through store_sql_capacity.h.
 */
#ifndef CT_STORE_SQL_CANDIDATES_H
#define CT_STORE_SQL_CANDIDATES_H

#define CT_STMTS_CANDIDATES(X)                                               \
    X(CAND_DATA_VERSION, "PRAGMA data_version")                              \
    /* A search outside a transaction reads in one snapshot. */              \
    X(CAND_READ_BEGIN, "BEGIN DEFERRED")                                     \
    X(CAND_READ_END, "COMMIT")                                               \
    X(CAND_LOAD_FACILITIES,                                                  \
      "SELECT id, org_id, kind, designated, retired FROM facility"           \
      " ORDER BY id")                                                        \
    X(CAND_LOAD_ZONES,                                                       \
      "SELECT id, facility_id, closed, retired FROM zone ORDER BY id")       \
    X(CAND_LOAD_COHORTS,                                                     \
      "SELECT zone_id, pathogen, cohort FROM zone_cohort"                    \
      " WHERE cohort <> 'open' ORDER BY zone_id, pathogen")                  \
    X(CAND_LOAD_TAGS, "SELECT DISTINCT tag FROM bed_tag ORDER BY tag")       \
    X(CAND_LOAD_BEDS,                                                        \
      "SELECT id, zone_id, status, surge, surge_open, retired FROM bed"      \
      " ORDER BY zone_id, id")                                               \
    X(CAND_LOAD_BED_TAGS, "SELECT bed_id, tag FROM bed_tag")                 \
    /* A search's person: the referral as REF_LOAD reads it, once per       \
     * infection record of theirs (or once with NULLs when none). */        \
    X(CAND_PERSON,                                                           \
      "SELECT r.state, r.nhs_number,"                                        \
      "       coalesce(r.decided_pathway, r.requested_pathway), r.needs,"    \
      "       i.pathogen, i.status, i.isolation_end"                         \
      "  FROM referral r"                                                    \
      "  LEFT JOIN infection i ON i.nhs_number = r.nhs_number"               \
      " WHERE r.id = ?1")

#endif
