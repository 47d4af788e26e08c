/*
 * The SQLite store: one database per area, opened with WAL, foreign keys,
 * a busy timeout and synchronous FULL unless told otherwise. Forward-only
 * numbered migrations run in one transaction at open. Every statement the
 * host runs is prepared once through the statement cache (store_sql.h).
 *
 * This header knows storage only: loading a config into the database is
 * reconcile.h's (ct_store_reconcile).
 */
#ifndef CT_STORE_H
#define CT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ct_store ct_store;

/* How a commit reaches the disk (PRAGMA synchronous): FULL unless the
 * area's config says normal. */
typedef enum ct_sync_mode {
    CT_SYNC_FULL,
    CT_SYNC_NORMAL,
} ct_sync_mode;

/* The page size of a database ct_store_open creates (store.c says why). */
#define CT_STORE_PAGE_SIZE 8192

typedef struct ct_store_options {
    ct_sync_mode sync;   /* CT_SYNC_FULL unless the config says normal */
    int busy_timeout_ms; /* 0 means the default, 5000 */
    bool readonly;       /* audit verify, reports: never migrates */
    int page_size;       /* a new database's, a power of two from 512 to
                            65536; 0 means CT_STORE_PAGE_SIZE. A database
                            that exists keeps its own. */
} ct_store_options;

/*
 * Opens (creating if needed) the database at path, ":memory:" for a
 * private in-memory one, and migrates it to the newest schema. opts may be
 * NULL for defaults. On success *out owns the connection; close with
 * ct_store_close. On error nothing is left open and the file, if it
 * existed, is as it was. Errors: CT_EUNSUPPORTED for a schema newer than
 * this build's; CT_ESTATE for a read-only open of an older one (read-only
 * never migrates); CT_EIO when the file cannot be opened; CT_ECORRUPT
 * when it is not a database. Each is logged with the path.
 * A store may move between threads but must never be used by two at once:
 * the connection is opened without its own mutex (SQLITE_OPEN_NOMUTEX).
 */
int ct_store_open(const char *path, const ct_store_options *opts,
                  ct_store **out);
/* Finalizes cached statements and closes. NULL is harmless. */
void ct_store_close(ct_store *s);

/* The schema version the database is at (or a CT_E* code), and the
 * newest this build has. */
int ct_store_schema_version(ct_store *s);
int ct_store_latest_version(void);

/*
 * Transactions. begin takes the write lock at once (BEGIN IMMEDIATE).
 * Nesting is not supported: begin inside a transaction is CT_ESTATE, and
 * so is commit outside one. CT_EBUSY when another connection holds the
 * write lock past the busy timeout. If commit fails the transaction may
 * still be open: call ct_store_rollback. Units that change the store use
 * ct_store_run (below) rather than these.
 */
int ct_store_begin(ct_store *s);
/* Also CT_EGONE when the database file was deleted or replaced (checked
 * before and after the COMMIT): nothing the caller may acknowledge. After
 * a commit that succeeded the watchers' committed callbacks run (below),
 * with no transaction open. */
int ct_store_commit(ct_store *s);
/* Safe to call when no transaction is open. */
void ct_store_rollback(ct_store *s);
bool ct_store_in_transaction(ct_store *s);

/* Resets every statement of the connection still stepping, so that it
 * holds no read snapshot: cached statements are left where their last
 * caller stopped (store_int.h), and on a read-only connection that
 * serves many reads one of them would otherwise keep the next read on an
 * old commit. */
void ct_store_end_reads(ct_store *s);

/*
 * Savepoints inside an open transaction (CT_ESTATE without one), so that
 * one part of a transaction can fail alone: the group commit runs each
 * request's write in its own. They nest: release and rollback_to end the
 * innermost. rollback_to undoes the changes since the savepoint and ends
 * it (ROLLBACK TO then RELEASE); the transaction stays open.
 */
int ct_store_savepoint(ct_store *s);
int ct_store_release(ct_store *s);
int ct_store_rollback_to(ct_store *s);

/*
 * The transaction rule (docs/internals.md, "Transactions and events").
 * ct_store_run runs fn(s, arg) in a transaction of its own when none is
 * open, else in a savepoint of the caller's, so that a change stands or
 * falls whole and together with the caller's. fn returns 0 to keep its
 * changes, a negative CT_E* code to have them undone (the savepoint rolled
 * back; the caller's transaction stays open). Returns fn's code, or the
 * commit's (then nothing was kept), or begin's.
 *
 * enter and leave are the same in two calls, for a change written as
 * straight-line code: enter sets *own when it began the transaction;
 * leave(own, rc) keeps (rc == 0) or undoes the change and returns rc or
 * the commit's error.
 */
typedef int (*ct_store_fn)(ct_store *s, void *arg);
int ct_store_run(ct_store *s, ct_store_fn fn, void *arg);
int ct_store_enter(ct_store *s, bool *own);
int ct_store_leave(ct_store *s, bool own, int rc);

/*
 * Watchers: units that keep state beside the database which must follow
 * its transactions (events waiting for their commit, an index of what the
 * tables hold). mark runs when the transaction or a savepoint opens and
 * answers a position in the watcher's state; undo(mark, whole) when the
 * changes since that point were rolled back (whole: the transaction ended
 * with them, by ct_store_rollback, a failed commit, or SQLite ending it
 * on an error); committed after a successful commit, once nothing is
 * open, so it may begin transactions of its own. Any may be NULL.
 * Watchers run in the order they were added. Savepoints made with SQL
 * rather than ct_store_savepoint are not seen.
 *
 * watch borrows w and data until unwatch; CT_ELIMIT past eight.
 */
typedef struct ct_store_watcher {
    size_t (*mark)(void *data);
    void (*undo)(void *data, size_t mark, bool whole);
    void (*committed)(void *data);
} ct_store_watcher;

int ct_store_watch(ct_store *s, const ct_store_watcher *w, void *data);
void ct_store_unwatch(ct_store *s, const ct_store_watcher *w, void *data);

/*
 * Self-checks (docs/operations.md, "Self-checks").
 *
 * check_file: 0 while the database's path still names the file this
 * connection has open; CT_EGONE once it was deleted, renamed or replaced,
 * and from then on every begin is refused with CT_EGONE (logged once).
 * One stat(); 0 for an in-memory database.
 *
 * refuse_writes: makes every later begin fail with err (the first reason
 * given stays); refusing says which, 0 while writes are accepted. The
 * daemon refuses on a broken audit chain or a corrupt file.
 */
int ct_store_check_file(ct_store *s);
void ct_store_refuse_writes(ct_store *s, int err);
int ct_store_refusing(const ct_store *s);

/*
 * PRAGMA quick_check (or integrity_check when full is set, which also
 * checks that indexes match their tables; the cost of a read of the whole
 * file either way). 0 when it says ok; CT_ECORRUPT with its first line in
 * msg otherwise; another CT_E* when it cannot run. Works on a read-only
 * store.
 */
int ct_store_check_integrity(ct_store *s, bool full, char *msg, size_t n);

/* The file the store has open ("" for an in-memory one). Borrowed. */
const char *ct_store_path(ct_store *s);

/*
 * The daemon's lock on a database: an exclusive flock on "<db>.lock"
 * (not on the database file, whose POSIX locks are SQLite's and would be
 * dropped by closing any other descriptor on it), holding the owner's pid.
 * CT_EBUSY when another process holds it, with its pid in *holder (0 when
 * unknown); CT_EIO when the lock file cannot be made. Release with
 * ct_store_lock_release (NULL is harmless); the lock also ends with the process.
 */
typedef struct ct_store_lock ct_store_lock;
int ct_store_lock_acquire(const char *db_path, ct_store_lock **out, long *holder);
void ct_store_lock_release(ct_store_lock *l);

#endif
