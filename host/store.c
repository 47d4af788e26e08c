/*
 * The SQLite store: opening with the pragmas, forward-only migrations, the
 * statement cache and transactions. Config reconciliation lives in
 * store_reconcile.c.
 */
#include "store_int.h"
#include "store_tx.h"

#include "error.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT "store"
#define DEFAULT_BUSY_TIMEOUT_MS 5000
#define STMT_JOURNAL_SPILL (1 << 20)

/* Whether statement and savepoint journals stay in memory up to
 * STMT_JOURNAL_SPILL (configure_library managed to set it). */
static bool big_spill;

struct ct_store {
    sqlite3 *db;
    bool readonly;
    int refuse; /* a CT_E* code that begin returns from now on, or 0 */
    ct_store_txs txs; /* transactions, savepoints, watchers (store_tx.c) */
    sqlite3_stmt *stmts[CT_STMT__COUNT];
    /* Statement sets of units above storage (ct_store__stmt_of), each
     * with its prepared statements, in the order first used. */
    struct set_stmts {
        const ct_stmt_set *set;
        sqlite3_stmt **stmts;
    } *sets;
    int nsets;
};

ct_store_txs *ct_store__txs(ct_store *s)
{
    return &s->txs;
}

static const char *const stmt_sql[CT_STMT__COUNT] = {
#define X(name, sql) sql,
    CT_STMT_LIST(X)
#undef X
};

static const char *const stmt_name[CT_STMT__COUNT] = {
#define X(name, sql) #name,
    CT_STMT_LIST(X)
#undef X
};

/* Logs what SQLite said about rc on db and returns the CT_E* code. */
static int sqlite_fail(sqlite3 *db, int rc, const char *what)
{
    ct_log_error(UNIT, "%s: %s (%s)", what,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
                 sqlite3_errstr(rc));
    return ct_err_from_sqlite(rc);
}

/* Runs constant SQL (pragmas, migration scripts). Never given values. */
static int exec(sqlite3 *db, const char *sql, const char *what)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sqlite_fail(db, rc, what);
    return 0;
}

/* Reads an integer pragma such as user_version into *out. */
static int pragma_int(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlite_fail(db, rc, sql);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return 0;
    }
    /* A pragma that returns no row: an omitted feature. */
    int err = rc == SQLITE_DONE ? CT_EUNSUPPORTED : sqlite_fail(db, rc, sql);
    sqlite3_finalize(st);
    return err;
}

/* Rolls back if a transaction is still open (SQLite ends some on error). */
static void rollback_quietly(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * The migration proper, inside BEGIN IMMEDIATE. Foreign keys are off for
 * its duration (the caller switches them) so that a later migration may
 * rebuild a table the SQLite way; foreign_key_check then proves the result
 * consistent before commit.
 */
static int migrate_locked(sqlite3 *db, const ct_migration *list, int n,
                          int *from)
{
    int err = pragma_int(db, "PRAGMA user_version", from);
    if (err)
        return err;
    int v = *from;
    if (v > n) {
        ct_log_error(UNIT,
                     "database schema version %d is newer than this build "
                     "supports (%d): use a newer caretide",
                     v, n);
        return CT_EUNSUPPORTED;
    }
    if (v < 0) {
        ct_log_error(UNIT, "database schema version %d is invalid", v);
        return CT_ECORRUPT;
    }
    if (v == n)
        return 0; /* another process got there first */
    for (int i = v; i < n; i++) {
        char what[160];
        snprintf(what, sizeof what, "migration %d (%s)", i + 1, list[i].name);
        if ((err = exec(db, list[i].sql, what)))
            return err;
    }

    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlite_fail(db, rc, "foreign_key_check");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(st, 0);
        ct_log_error(UNIT, "migration to version %d leaves a dangling "
                     "reference in table %s", n, table ? table : "?");
        sqlite3_finalize(st);
        return CT_ECORRUPT;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sqlite_fail(db, rc, "foreign_key_check");

    /* PRAGMA takes no placeholders; n is this build's count, not input. */
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", n);
    return exec(db, sql, "setting the schema version");
}

int ct_store__migrate(sqlite3 *db, const ct_migration *list, int n)
{
    /* Up to date needs no write lock: reopening is a no-op. */
    int fk = 0, from = 0;
    int err = pragma_int(db, "PRAGMA user_version", &from);
    if (err || from == n)
        return err;
    if ((err = pragma_int(db, "PRAGMA foreign_keys", &fk)))
        return err;
    if ((err = exec(db, "PRAGMA foreign_keys = OFF", "foreign_keys")))
        return err;
    if ((err = exec(db, "BEGIN IMMEDIATE", "starting the migration")))
        goto fail_begin;
    if ((err = migrate_locked(db, list, n, &from)))
        goto fail_migrate;
    if ((err = exec(db, "COMMIT", "committing the migration")))
        goto fail_migrate;
    if (from != n)
        ct_log_info(UNIT, "migrated the database from schema %d to %d",
                    from, n);
    if (fk)
        err = exec(db, "PRAGMA foreign_keys = ON", "foreign_keys");
    return err;

fail_migrate:
    rollback_quietly(db);
fail_begin:
    if (fk)
        exec(db, "PRAGMA foreign_keys = ON", "foreign_keys");
    return err;
}

/* Per-connection settings; they change nothing in the file. */
static int configure(sqlite3 *db, const ct_store_options *o)
{
    int err = exec(db, "PRAGMA foreign_keys = ON", "foreign_keys");
    if (err)
        return err;
    /* SQLite was initialised before the first store opened (an embedder
     * or a test used it first): keep journals in memory the other way,
     * rather than in temporary files past 64 KiB. */
    if (!big_spill &&
        (err = exec(db, "PRAGMA temp_store = MEMORY", "temp_store")))
        return err;
    /* A WAL that grew while a reader (a backup, a check) held an old
     * snapshot is cut back to this size once a checkpoint resets it. */
    if ((err = exec(db, "PRAGMA journal_size_limit = 67108864",
                    "journal_size_limit")))
        return err;
    return exec(db, o && o->sync == CT_SYNC_NORMAL
                        ? "PRAGMA synchronous = NORMAL"
                        : "PRAGMA synchronous = FULL",
                "synchronous");
}

/*
 * A new database's page size, before its first write (SQLite keeps the
 * size of a database that has pages). 8 KiB rather than SQLite's 4 KiB: a
 * placement's rows and index entries land on fewer pages, so fewer pages
 * go to the WAL at each commit, and the automatic checkpoint, which SQLite
 * runs inside the COMMIT that takes the WAL past 1,000 pages and which
 * syncs the WAL and the database, comes half as often for the same data.
 * A batch of 4,500 placements committed in a fifth of a round before
 * (checkpoint included) and in 2 ms now; bench_capacity's batched figure
 * rose by a fifth to a third. A decision (a few KiB of JSON on the
 * referral) also fits its row's page without an overflow chain.
 */
static int set_page_size(sqlite3 *db, int page_size)
{
    char sql[48];
    snprintf(sql, sizeof sql, "PRAGMA page_size = %d", page_size);
    return exec(db, sql, "page_size");
}

/*
 * WAL is the one persistent setting, so it is switched on last, once the
 * version check and the migration have succeeded: a database refused or
 * failed is left exactly as it was, journal mode included.
 */
static int use_wal(sqlite3 *db, const char *path)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st,
                                NULL);
    if (rc != SQLITE_OK)
        return sqlite_fail(db, rc, "journal_mode");
    int err = 0;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        /* In-memory databases answer "memory"; anything else is a file
         * system without the shared memory WAL needs. */
        if (mode && strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)
            ct_log_warn(UNIT, "%s: journal mode is %s, not wal", path, mode);
    } else {
        err = sqlite_fail(db, rc, "journal_mode");
    }
    sqlite3_finalize(st);
    return err;
}

/*
 * Process-wide SQLite settings, before SQLite initialises (afterwards
 * sqlite3_config refuses with SQLITE_MISUSE and changes nothing, which is
 * harmless). Memory statistics cost a global mutex on every allocation and
 * nothing here reads them (no sqlite3_status, no soft heap limit).
 *
 * Every capacity change inside a caller's transaction runs under a
 * savepoint, and every statement with a trigger under a statement journal:
 * pages it changes are copied there first. With temp_store = MEMORY that
 * journal is built of 1 KiB allocations, five per page, freed at every
 * release; with the spill threshold raised it is one allocation of the
 * threshold's size, reused by the allocator, and only a journal beyond
 * 1 MiB (some 250 pages) goes to a temporary file. About a tenth of a
 * batched hold.
 */
static void configure_library(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    big_spill = sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL,
                               STMT_JOURNAL_SPILL) == SQLITE_OK;
}

int ct_store_open(const char *path, const ct_store_options *opts,
                  ct_store **out)
{
    *out = NULL;
    int timeout = opts && opts->busy_timeout_ms ? opts->busy_timeout_ms
                                                : DEFAULT_BUSY_TIMEOUT_MS;
    int page_size = opts && opts->page_size ? opts->page_size
                                            : CT_STORE_PAGE_SIZE;
    if (!path || timeout < 0 || page_size < 512 || page_size > 65536 ||
        (page_size & (page_size - 1)))
        return CT_EINVAL;

    ct_store *s = calloc(1, sizeof *s);
    if (!s)
        return CT_ENOMEM;
    s->readonly = opts && opts->readonly;

    /* NOMUTEX: a store is used by one thread at a time (the daemon's loop
     * thread; the host starts no other), so the connection's own mutexes
     * are pure cost. SQLite's global structures keep theirs. */
    configure_library();
    int flags = (s->readonly ? SQLITE_OPEN_READONLY
                             : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    int err;
    if (rc != SQLITE_OK) {
        ct_log_error(UNIT, "cannot open %s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        err = ct_err_from_sqlite(rc);
        goto fail_open;
    }
    sqlite3_extended_result_codes(s->db, 1);
    if ((rc = sqlite3_busy_timeout(s->db, timeout)) != SQLITE_OK) {
        err = sqlite_fail(s->db, rc, "busy_timeout");
        goto fail_open;
    }

    int version, latest = ct_store__nmigrations;
    if ((err = pragma_int(s->db, "PRAGMA user_version", &version))) {
        ct_log_error(UNIT, "%s: cannot read the schema version", path);
        goto fail_open;
    }
    if (version > latest) {
        ct_log_error(UNIT,
                     "%s: database schema version %d is newer than this "
                     "build supports (%d): use a newer caretide",
                     path, version, latest);
        err = CT_EUNSUPPORTED;
        goto fail_open;
    }
    if (s->readonly && version != latest) {
        ct_log_error(UNIT,
                     "%s: database schema version %d is older than this "
                     "build's (%d); a read-only open never migrates, so "
                     "open it once read-write (caretide run) first",
                     path, version, latest);
        err = CT_ESTATE;
        goto fail_open;
    }
    /* SQLite opens a file it may not write read-only without a word;
     * every write would then fail naming a statement, not the file. */
    if (!s->readonly && strcmp(path, ":memory:") != 0 &&
        sqlite3_db_readonly(s->db, "main") == 1) {
        ct_log_error(UNIT, "%s: the database file is read-only (check its "
                     "owner, permissions and the file system)", path);
        err = CT_EREADONLY;
        goto fail_open;
    }
    if ((err = configure(s->db, opts)))
        goto fail_open;
    if (!s->readonly && version == 0 && (err = set_page_size(s->db, page_size)))
        goto fail_open;
    if (!s->readonly) {
        if ((err = ct_store__migrate(s->db, ct_store__migrations, latest))) {
            ct_log_error(UNIT, "%s: migration failed: %s", path,
                         ct_strerror(err));
            goto fail_open;
        }
        if ((err = use_wal(s->db, path)))
            goto fail_open;
    }
    *out = s;
    return 0;

fail_open:
    sqlite3_close(s->db);
    free(s);
    return err;
}

void ct_store_close(ct_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < CT_STMT__COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    for (int i = 0; i < s->nsets; i++) {
        for (int j = 0; j < s->sets[i].set->n; j++)
            sqlite3_finalize(s->sets[i].stmts[j]);
        free(s->sets[i].stmts);
    }
    free(s->sets);
    int rc = sqlite3_close(s->db);
    if (rc != SQLITE_OK)
        ct_log_error(UNIT, "close: %s (a statement was left unfinalized)",
                     sqlite3_errmsg(s->db));
    ct_store__txs_free(&s->txs);
    free(s);
}

sqlite3 *ct_store__db(ct_store *s)
{
    return s->db;
}

/* The statement in *slot, reset, or sql prepared into it. */
static sqlite3_stmt *cached(ct_store *s, sqlite3_stmt **slot,
                            const char *sql, const char *name)
{
    sqlite3_stmt *st = *slot;
    if (st) {
        /* reset returns the last step's error, already reported there */
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                &st, NULL);
    if (rc != SQLITE_OK) {
        ct_log_error(UNIT, "preparing %s: %s", name, sqlite3_errmsg(s->db));
        sqlite3_finalize(st);
        return NULL;
    }
    *slot = st;
    return st;
}

sqlite3_stmt *ct_store__stmt(ct_store *s, ct_stmt id)
{
    if ((int)id < 0 || id >= CT_STMT__COUNT)
        return NULL;
    return cached(s, &s->stmts[id], stmt_sql[id], stmt_name[id]);
}

sqlite3_stmt *ct_store__stmt_of(ct_store *s, const ct_stmt_set *set, int id)
{
    if (id < 0 || id >= set->n)
        return NULL;
    int i = 0;
    while (i < s->nsets && s->sets[i].set != set)
        i++;
    if (i == s->nsets) {
        struct set_stmts *g = realloc(s->sets, (size_t)(i + 1) * sizeof *g);
        if (!g)
            return NULL;
        s->sets = g;
        if (!(g[i].stmts = calloc((size_t)set->n, sizeof *g[i].stmts))) {
            ct_log_error(UNIT, "preparing %s: out of memory",
                         set->names[id]);
            return NULL;
        }
        g[i].set = set;
        s->nsets++;
    }
    return cached(s, &s->sets[i].stmts[id], set->sql[id], set->names[id]);
}

int ct_store__step_done(ct_store *s, sqlite3_stmt *stmt)
{
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        ;
    int err = 0;
    if (rc != SQLITE_DONE) {
        char what[128];
        const char *sql = sqlite3_sql(stmt);
        snprintf(what, sizeof what, "%.100s", sql ? sql : "?");
        err = sqlite_fail(s->db, rc, what);
    }
    /* Done with it: release its locks and snapshot now, not at reuse. */
    sqlite3_reset(stmt);
    return err;
}

int ct_store_schema_version(ct_store *s)
{
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_USER_VERSION);
    if (!st)
        return CT_ESTORE;
    int rc = sqlite3_step(st);
    int v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0)
                             : sqlite_fail(s->db, rc, "user_version");
    sqlite3_reset(st);
    return v;
}

int ct_store_latest_version(void)
{
    return ct_store__nmigrations;
}

/*
 * Whether the path still names the file the connection has open. SQLite's
 * unix VFS answers SQLITE_FCNTL_HAS_MOVED by comparing the inode of its
 * open descriptor with a stat() of the path: one system call. A database
 * deleted or replaced under a running process would otherwise keep taking
 * commits into an unlinked inode that nobody will ever read again.
 */
int ct_store_check_file(ct_store *s)
{
    if (s->refuse == CT_EGONE)
        return CT_EGONE;
    int moved = 0;
    if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED,
                             &moved) != SQLITE_OK || !moved)
        return 0;
    const char *path = sqlite3_db_filename(s->db, "main");
    ct_log_error(UNIT, "%s was deleted or replaced while open: refusing "
                 "every write from now on (restart on the right file, or "
                 "restore a backup)", path && *path ? path : "the database");
    s->refuse = CT_EGONE;
    return CT_EGONE;
}

void ct_store_refuse_writes(ct_store *s, int err)
{
    if (!s->refuse)
        s->refuse = err;
}

int ct_store_refusing(const ct_store *s)
{
    return s->refuse;
}
