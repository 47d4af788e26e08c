/*
 * The audit unit's statements (host/audit.c), joined into the one
 * statement cache by store_sql.h.
 *
 * Verification reads the head and walks the events inside one read
 * transaction (AUDIT_READ_BEGIN .. AUDIT_READ_END) so both come from one
 * snapshot even while a daemon appends.
 */
#ifndef CT_STORE_SQL_AUDIT_H
#define CT_STORE_SQL_AUDIT_H

#define CT_STMTS_AUDIT(X)                                                   \
    X(AUDIT_HEAD,                                                           \
      "SELECT h.seq, h.hash, e.at FROM chain_head h"                        \
      " LEFT JOIN event e ON e.seq = h.seq WHERE h.id = 1")                 \
    X(AUDIT_INSERT,                                                         \
      "INSERT INTO event (seq, at, actor, kind, payload, prev_hash, hash)"  \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")                               \
    X(AUDIT_SET_HEAD,                                                       \
      "INSERT INTO chain_head (id, seq, hash) VALUES (1, ?1, ?2)"           \
      " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq,"                 \
      " hash = excluded.hash")                                              \
    X(AUDIT_UPDATE_HEAD,                                                    \
      "UPDATE chain_head SET seq = ?1, hash = ?2 WHERE id = 1")             \
    X(AUDIT_EVENT_HASH, "SELECT hash FROM event WHERE seq = ?1")            \
    X(AUDIT_WALK,                                                           \
      "SELECT seq, at, actor, kind, payload, prev_hash, hash FROM event"    \
      " ORDER BY seq")                                                      \
    X(AUDIT_READ_BEGIN, "BEGIN DEFERRED")                                   \
    X(AUDIT_READ_END, "COMMIT")                                             \
    X(AUDIT_READ_ABORT, "ROLLBACK")                                         \
    /* Who read a referral (access.read events, docs/api.md "Audited     \
     * access"); the partial index of migration 10 holds those events. */ \
    X(AUDIT_ACCESS,                                                         \
      "SELECT seq, at, actor, json_extract(payload, '$.route'),"            \
      "       json_extract(payload, '$.request') FROM event"                \
      " WHERE kind = 'access.read' AND EXISTS (SELECT 1 FROM"               \
      "   json_each(event.payload, '$.referrals') WHERE value = ?1)"        \
      " ORDER BY seq")                                                      \
    X(AUDIT_RESTORES,                                                       \
      "SELECT seq, at, actor, payload FROM event"                           \
      " WHERE kind = 'store.restored' ORDER BY seq")

#endif
