/*
 * Store internals shared by the units that own tables (capacity, audit,
 * plugin kv...). Not for use outside host/.
 */
#ifndef CT_STORE_INT_H
#define CT_STORE_INT_H

#include "store.h"
#include "store_sql.h"

#include <sqlite3.h>

/* The raw connection. Borrowed; valid until ct_store_close. */
sqlite3 *ct_store__db(ct_store *s);

/*
 * The cached statement id, prepared on first use with
 * SQLITE_PREPARE_PERSISTENT, reset and with bindings cleared. Borrowed;
 * callers bind, step and leave it (the next ct_store__stmt resets it).
 * NULL on a prepare error, which is logged with the SQL's name.
 */
sqlite3_stmt *ct_store__stmt(ct_store *s, ct_stmt id);

/*
 * Statement sets: the statements of a unit above storage (the reports,
 * the REPL, the token audit, the simulator's replay), which keep their
 * SQL in their own store_sql_X.h with an enum of their own, so that the
 * store's list (store_sql.h) holds only the storage units'. sql and names
 * are n parallel arrays; a set is static, for the process's life.
 * CT_STMT_SET_DEFINE(var, LIST, n) defines one (static, in the unit's
 * file) from an X(NAME, "SQL") list.
 */
typedef struct ct_stmt_set {
    const char *const *sql;
    const char *const *names;
    int n;
} ct_stmt_set;

#define CT_STMT__SET_SQL(name, sql) sql,
#define CT_STMT__SET_NAME(name, sql) #name,
#define CT_STMT_SET_DEFINE(var, LIST, count)                               \
    static const char *const var##_sql[] = {LIST(CT_STMT__SET_SQL)};       \
    static const char *const var##_names[] = {LIST(CT_STMT__SET_NAME)};    \
    static const ct_stmt_set var = {var##_sql, var##_names, count}

/* As ct_store__stmt, for statement id of set: prepared once per store on
 * first use and kept until ct_store_close. NULL (logged) on a prepare
 * error, an id out of range or no memory. */
sqlite3_stmt *ct_store__stmt_of(ct_store *s, const ct_stmt_set *set, int id);

/*
 * Runs one statement to completion (SQLITE_DONE), discarding any rows, and
 * resets it so it holds no lock or snapshot. Returns 0 or a CT_E* code
 * (a constraint is CT_ECONFLICT), logged with the statement's SQL.
 * A caller that reads rows and stops before SQLITE_DONE should
 * sqlite3_reset the statement itself for the same reason.
 */
int ct_store__step_done(ct_store *s, sqlite3_stmt *stmt);

/* Migrations as an array of SQL scripts; index i takes the schema from
 * version i to i+1 (PRAGMA user_version). The store's own list is used by
 * ct_store_open; tests pass others to ct_store__migrate. */
typedef struct ct_migration {
    const char *name;
    const char *sql;
} ct_migration;

extern const ct_migration ct_store__migrations[];
extern const int ct_store__nmigrations;

/*
 * Takes db from its version to n with list[version..n), all in one
 * BEGIN IMMEDIATE transaction with foreign keys off (restored afterwards)
 * and PRAGMA foreign_key_check before commit, so a step may rebuild a
 * table. Up to date: returns 0 without taking a lock. A version above n is
 * CT_EUNSUPPORTED. Any failure rolls back: the database is as it was.
 * Borrows db; the scripts are trusted constant SQL.
 */
int ct_store__migrate(sqlite3 *db, const ct_migration *list, int n);

#endif
