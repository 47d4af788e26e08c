/* Statements of host/sim_replay.c (a statement set, store_int.h). */
#ifndef CT_STORE_SQL_SIM_H
#define CT_STORE_SQL_SIM_H

/* The referrals an area received in [?1, ?2) as the audit log recorded
 * them, with the clinical data their referral rows keep. */
#define CT_STMTS_SIM(X)                                                      \
    X(SIM_REPLAY,                                                            \
      "SELECT e.at, e.payload, r.age, r.infections FROM event e"             \
      " LEFT JOIN referral r"                                                \
      "   ON r.id = json_extract(e.payload, '$.referral')"                   \
      " WHERE e.kind = 'referral.created' AND e.at >= ?1 AND e.at < ?2"      \
      " ORDER BY e.seq")

/* A statement set of its own (store_int.h), not in the store's list. */
typedef enum ct_sim_stmt {
#define X(name, sql) CT_STMT_##name,
    CT_STMTS_SIM(X)
#undef X
    CT_STMT_SIM__COUNT
} ct_sim_stmt;

#endif
