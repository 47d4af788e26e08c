/* Statements of host/repl.c (see store_sql.h). */
#ifndef CT_STORE_SQL_REPL_H
#define CT_STORE_SQL_REPL_H

#define CT_STMTS_REPL(X)                                                     \
    X(REPL_LAST_EVENT_AT, "SELECT max(at) FROM event")                     \
    X(REPL_PERSON_KNOWN, "SELECT 1 FROM person WHERE nhs_number = ?1")

#endif
