/*
 * Statements of escalation.c: the area's escalation level and its
 * history, one row per change. Joined into the one statement cache by
 * store_sql.h.
 */
#ifndef CT_STORE_SQL_ESCALATION_H
#define CT_STORE_SQL_ESCALATION_H

#define CT_STMTS_ESCALATION(X)                                               \
    X(ESC_CURRENT,                                                           \
      "SELECT seq, at, level, reason, actions FROM escalation"               \
      " ORDER BY seq DESC LIMIT 1")                                          \
    /* Newest first, seq below ?1, at most ?2. */                            \
    X(ESC_HISTORY,                                                           \
      "SELECT seq, at, level, reason, actions FROM escalation"               \
      " WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2")                          \
    X(ESC_INSERT,                                                            \
      "INSERT INTO escalation (at, level, reason, actions)"                  \
      " VALUES (?1, ?2, ?3, ?4)")

#endif
