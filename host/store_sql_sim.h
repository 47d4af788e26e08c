/* Statements of host/sim_replay.c (see store_sql.h). */
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

#endif
