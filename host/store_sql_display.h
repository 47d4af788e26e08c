/*
 * Statements of the display credentials (display.c): the long-lived,
 * revocable credentials of screens on a wall, kept as SHA-256 hashes.
 * Joined into the one statement cache by store_sql.h as
 * CT_STMTS_DISPLAY.
 */
#ifndef CT_STORE_SQL_DISPLAY_H
#define CT_STORE_SQL_DISPLAY_H

#define CT_STMTS_DISPLAY(X)                                                  \
    /* The valid credentials, loaded at start. */                            \
    X(DISPLAY_ACTIVE,                                                        \
      "SELECT name, sha256 FROM display WHERE revoked_at IS NULL")           \
    X(DISPLAY_LIST,                                                          \
      "SELECT name, issued_at, issued_by, revoked_at, revoked_by"            \
      "  FROM display ORDER BY name")                                        \
    /* A new name, or a revoked one issued again (a new secret). */          \
    X(DISPLAY_ISSUE,                                                         \
      "INSERT INTO display (name, sha256, issued_at, issued_by)"             \
      " VALUES (?1, ?2, ?3, ?4)"                                             \
      " ON CONFLICT (name) DO UPDATE SET sha256 = ?2, issued_at = ?3,"       \
      "   issued_by = ?4, revoked_at = NULL, revoked_by = NULL"              \
      " WHERE revoked_at IS NOT NULL")                                       \
    X(DISPLAY_REVOKE,                                                        \
      "UPDATE display SET revoked_at = ?2, revoked_by = ?3"                  \
      " WHERE name = ?1 AND revoked_at IS NULL")

#endif
