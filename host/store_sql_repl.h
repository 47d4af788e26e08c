/* Statements of host/repl.c (a statement set, store_int.h). */
#ifndef CT_STORE_SQL_REPL_H
#define CT_STORE_SQL_REPL_H

#define CT_STMTS_REPL(X)                                                     \
    X(REPL_LAST_EVENT_AT, "SELECT max(at) FROM event")                     \
    X(REPL_PERSON_KNOWN, "SELECT 1 FROM person WHERE nhs_number = ?1")

/* A statement set of its own (store_int.h), not in the store's list. */
typedef enum ct_repl_stmt {
#define X(name, sql) CT_STMT_##name,
    CT_STMTS_REPL(X)
#undef X
    CT_STMT_REPL__COUNT
} ct_repl_stmt;

#endif
