/*
 * Statements of candidates.c. Two shapes of the same search: one walks
 * available beds (index bed_open, migration 2) and one walks the beds of
 * the rarest required tag (index bed_tag_by_tag); both in bed id order so
 * LIMIT stops the walk early. INDEXED BY and CROSS JOIN pin those plans:
 * without statistics the planner would walk bed_open for both. Parameters:
 *   ?1 ",kind,kind," or NULL   ?2 facility id or NULL
 *   ?3 JSON array of required tags or NULL   ?6 limit (-1 for all)
 *   ?7 driving tag
 *   ?4 ?5 ?8 ?9 ?10 the person's segregation table (ct_iso_table): known
 *   pathogens, refused "pathogen:cohort" in an ordinary bed and in an
 *   isolation room, refused cohorts for pathogens with no record (same).
 * Joined through store_sql_capacity.h.
 */
#ifndef CT_STORE_SQL_CANDIDATES_H
#define CT_STORE_SQL_CANDIDATES_H

#include "store_sql_isolation.h"

#define CT_SQL_CAND_COLUMNS                                                  \
    "SELECT b.id, b.zone_id, z.facility_id, f.kind, f.org_id,"               \
    "       f.designated, b.surge,"                                          \
    "       (SELECT group_concat(t.tag, char(31)) FROM bed_tag t"            \
    "         WHERE t.bed_id = b.id)"

#define CT_SQL_CAND_RULES                                                    \
    "   AND b.status = 'available' AND b.retired = 0"                        \
    "   AND (b.surge = 0 OR b.surge_open = 1)"                               \
    "   AND z.closed = 0 AND z.retired = 0 AND f.retired = 0"                \
    "   AND (?1 IS NULL OR instr(?1, ',' || f.kind || ',') > 0)"             \
    "   AND (?2 IS NULL OR z.facility_id = ?2)"                              \
    "   AND (?3 IS NULL OR NOT EXISTS ("                                     \
    "         SELECT 1 FROM json_each(?3) r WHERE NOT EXISTS ("              \
    "           SELECT 1 FROM bed_tag t"                                     \
    "            WHERE t.bed_id = b.id AND t.tag = r.value)))"               \
    "   AND NOT EXISTS ("                                                    \
    "         SELECT 1 FROM zone_cohort zc"                                  \
    "          WHERE zc.zone_id = b.zone_id AND zc.cohort <> 'open'"         \
    "            AND CASE WHEN instr(?4, ',' || zc.pathogen || ',') > 0"     \
    "              THEN instr(CASE WHEN " CT_SQL_ISO_ROOM("b.id")            \
    "                         THEN ?8 ELSE ?5 END,"                          \
    "                         ',' || zc.pathogen || ':' || zc.cohort || ',')"\
    "              ELSE instr(CASE WHEN " CT_SQL_ISO_ROOM("b.id")            \
    "                         THEN ?10 ELSE ?9 END,"                         \
    "                         ',' || zc.cohort || ',')"                      \
    "            END > 0)"

#define CT_STMTS_CANDIDATES(X)                                               \
    X(CAND_BY_STATUS,                                                        \
      CT_SQL_CAND_COLUMNS                                                    \
      "  FROM bed b INDEXED BY bed_open"                                     \
      "  CROSS JOIN zone z ON z.id = b.zone_id"                              \
      "  JOIN facility f ON f.id = z.facility_id"                            \
      " WHERE 1" CT_SQL_CAND_RULES                                           \
      " ORDER BY b.id LIMIT ?6")                                             \
    X(CAND_BY_TAG,                                                           \
      CT_SQL_CAND_COLUMNS                                                    \
      "  FROM bed_tag d INDEXED BY bed_tag_by_tag"                           \
      "  CROSS JOIN bed b ON b.id = d.bed_id"                                \
      "  JOIN zone z ON z.id = b.zone_id"                                    \
      "  JOIN facility f ON f.id = z.facility_id"                            \
      " WHERE d.tag = ?7" CT_SQL_CAND_RULES                                  \
      " ORDER BY d.bed_id LIMIT ?6")                                         \
    X(CAND_TAG_STATS,                                                        \
      "SELECT t.tag, count(*) FROM bed_tag t JOIN bed b ON b.id = t.bed_id"  \
      " WHERE b.retired = 0 GROUP BY t.tag")                                 \
    X(CAND_BED_COUNT, "SELECT count(*) FROM bed WHERE retired = 0")

#endif
