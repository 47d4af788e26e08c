/*
 * Statements of the token store's audit (token_audit.c): what the chain
 * last recorded of each credential, so that a change to the token file
 * (token.h) is audited once, by the daemon, whoever made it; and the
 * display credentials of migration 9, read once to move them into the
 * token store. A statement set of
 * its own (store_int.h).
 */
#ifndef CT_STORE_SQL_DISPLAY_H
#define CT_STORE_SQL_DISPLAY_H

#define CT_STMTS_DISPLAY(X)                                                  \
    /* Migration 9's display credentials, moved to the token store. */      \
    X(DISPLAY_OLD,                                                           \
      "SELECT name, sha256, issued_at, issued_by, revoked_at, revoked_by"    \
      "  FROM display ORDER BY rowid")                                       \
    X(DISPLAY_OLD_DELETE, "DELETE FROM display")                             \
    X(TOKEN_SEEN_GET,                                                        \
      "SELECT sha256, expires_at, revoked_at FROM token_seen WHERE id = ?1") \
    X(TOKEN_SEEN_PUT,                                                        \
      "INSERT OR REPLACE INTO token_seen (id, sha256, expires_at,"           \
      " revoked_at) VALUES (?1, ?2, ?3, ?4)")                                \
    X(TOKEN_SEEN_IDS, "SELECT id FROM token_seen ORDER BY id")               \
    X(TOKEN_SEEN_DELETE, "DELETE FROM token_seen WHERE id = ?1")

/* A statement set of its own (store_int.h), not in the store's list. */
typedef enum ct_display_stmt {
#define X(name, sql) CT_STMT_##name,
    CT_STMTS_DISPLAY(X)
#undef X
    CT_STMT_DISPLAY__COUNT
} ct_display_stmt;

#endif
