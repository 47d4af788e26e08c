/*
 * Statements of existing residents (capacity_resident.c): stays of people
 * without a referral in caretide, at most one open per bed. Joined into
 * CT_STMTS_CAPACITY.
 */
#ifndef CT_STORE_SQL_RESIDENT_H
#define CT_STORE_SQL_RESIDENT_H

#define CT_STMTS_RESIDENT(X)                                                 \
    X(RES_OPEN,                                                              \
      "SELECT id, started_at, expected_end, recorded_by, note"               \
      "  FROM resident WHERE bed_id = ?1 AND ended_at IS NULL")              \
    X(RES_INSERT,                                                            \
      "INSERT INTO resident (bed_id, started_at, expected_end, recorded_by," \
      "                      note) VALUES (?1, ?2, ?3, ?4, ?5)")             \
    X(RES_SET_END, "UPDATE resident SET expected_end = ?2 WHERE id = ?1")    \
    X(RES_END,                                                               \
      "UPDATE resident SET ended_at = ?2, end_reason = ?3"                   \
      " WHERE id = ?1 AND ended_at IS NULL")                                 \
    /* Stays whose expected end has come, ?1 now, at most ?2. */           \
    X(RES_DUE,                                                               \
      "SELECT id, bed_id, started_at, expected_end FROM resident"            \
      " WHERE ended_at IS NULL AND expected_end <= ?1"                       \
      " ORDER BY expected_end, id LIMIT ?2")                                 \
    X(RES_NEXT,                                                              \
      "SELECT min(expected_end) FROM resident"                               \
      " WHERE ended_at IS NULL AND expected_end IS NOT NULL")

#endif
