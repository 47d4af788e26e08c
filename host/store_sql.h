/*
 * The one statement cache (docs/style.md 12): an enum of statements and a
 * parallel array of SQL text. Each unit that owns tables keeps its list in
 * its own *_sql.h file as X(NAME, "SQL") entries; this file joins them.
 * Units above storage (reports, the REPL, the token audit, the
 * simulator's replay) keep theirs apart, as statement sets
 * (store_int.h), so the store knows only storage.
 * Placeholders only, never values formatted into SQL.
 */
#ifndef CT_STORE_SQL_H
#define CT_STORE_SQL_H

#include "store_sql_audit.h"
#include "store_sql_capacity.h"
#include "store_sql_escalation.h"
#include "store_sql_kv.h"
#include "store_sql_notify.h"
#include "store_sql_store.h"
#include "store_sql_view.h"

#define CT_STMT_LIST(X)                                                      \
    CT_STMTS_STORE(X) CT_STMTS_KV(X) CT_STMTS_AUDIT(X) CT_STMTS_CAPACITY(X)  \
        CT_STMTS_VIEW(X) CT_STMTS_ESCALATION(X) CT_STMTS_NOTIFY(X)

typedef enum ct_stmt {
#define X(name, sql) CT_STMT_##name,
    CT_STMT_LIST(X)
#undef X
    CT_STMT__COUNT
} ct_stmt;

#endif
