#include "config.h"
#include "error.h"
#include "fixtures.h"
#include "log.h"
#include "reconcile.h"
#include "store_int.h"
#include "store_sql_display.h"
#include "store_sql_repl.h"
#include "store_sql_report.h"
#include "store_sql_sim.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------- */

static char *db_path(const char *dir)
{
    size_t n = strlen(dir) + 16;
    char *p = malloc(n);
    cr_assert_not_null(p);
    snprintf(p, n, "%s/area.db", dir);
    return p;
}

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    return db;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "");
}

static int exec_rc(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* The first column of the first row of sql, as a malloc'd string. */
static char *query_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK,
                 "%s: %s", sql, sqlite3_errmsg(db));
    char *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        out = ct_strdup(t ? t : "");
    }
    sqlite3_finalize(st);
    return out;
}

static long long query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK,
                 "%s: %s", sql, sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s returned no row", sql);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Every schema object and its SQL, in a stable order. */
static char *schema_dump(sqlite3 *db)
{
    return query_text(db, "SELECT group_concat(type || ' ' || name || ': ' "
                          "|| coalesce(sql, ''), char(10)) FROM "
                          "(SELECT * FROM sqlite_schema ORDER BY name)");
}

static void assert_text(sqlite3 *db, const char *sql, const char *want)
{
    char *got = query_text(db, sql);
    cr_assert_not_null(got, "%s returned no row", sql);
    cr_assert_str_eq(got, want, "%s", sql);
    free(got);
}

/* Log capture, to check that errors say what went wrong. */
static char *log_text;
static size_t log_len;
static FILE *log_stream;

static void log_capture(void)
{
    log_stream = open_memstream(&log_text, &log_len);
    cr_assert_not_null(log_stream);
    ct_log_set_stream(log_stream);
}

static void log_release(void)
{
    ct_log_set_stream(NULL);
    fclose(log_stream);
    free(log_text);
    log_text = NULL;
}

static const char *log_captured(void)
{
    fflush(log_stream);
    return log_text ? log_text : "";
}

/* ---- open, close, pragmas --------------------------------------------- */

Test(store, open_close_memory)
{
    ct_store *s = NULL;
    cr_assert_eq(ct_store_open(":memory:", NULL, &s), 0);
    cr_assert_not_null(s);
    cr_assert_eq(ct_store_schema_version(s), ct_store_latest_version());
    cr_assert_eq(ct_store_latest_version(), ct_store__nmigrations);
    sqlite3 *db = ct_store__db(s);
    cr_assert_eq(query_int(db, "SELECT count(*) FROM sqlite_schema "
                               "WHERE name = 'assignment'"),
                 1);
    cr_assert_eq(query_int(db, "PRAGMA foreign_keys"), 1);
    cr_assert_eq(query_int(db, "PRAGMA busy_timeout"), 5000);
    ct_store_close(s);
    ct_store_close(NULL);
}

Test(store, open_on_disk_sets_pragmas)
{
    const char *dir = ct_test_tmpdir();
    char *path = db_path(dir);

    ct_store *s = NULL;
    cr_assert_eq(ct_store_open(path, NULL, &s), 0);
    sqlite3 *db = ct_store__db(s);
    assert_text(db, "PRAGMA journal_mode", "wal");
    cr_assert_eq(query_int(db, "PRAGMA foreign_keys"), 1);
    cr_assert_eq(query_int(db, "PRAGMA synchronous"), 2, "FULL");
    cr_assert_eq(query_int(db, "PRAGMA busy_timeout"), 5000);
    /* foreign keys are enforced, not just reported */
    cr_assert_neq(exec_rc(db, "INSERT INTO facility(id, name, kind, org_id)"
                              " VALUES ('f', 'F', 'rehab', 'nobody')"),
                  SQLITE_OK);
    ct_store_close(s);

    ct_store_options o = {.sync = CT_SYNC_NORMAL, .busy_timeout_ms = 1234};
    cr_assert_eq(ct_store_open(path, &o, &s), 0);
    db = ct_store__db(s);
    assert_text(db, "PRAGMA journal_mode", "wal");
    cr_assert_eq(query_int(db, "PRAGMA synchronous"), 1, "NORMAL");
    cr_assert_eq(query_int(db, "PRAGMA busy_timeout"), 1234);
    ct_store_close(s);

    free(path);
    ct_test_rmtree(dir);
}

Test(store, open_errors_leave_nothing_open)
{
    const char *dir = ct_test_tmpdir();
    ct_store *s = (ct_store *)&s;
    char *missing = db_path("/nonexistent/caretide");
    cr_assert_eq(ct_store_open(missing, NULL, &s), CT_EIO);
    cr_assert_null(s);
    free(missing);

    char *junk = ct_test_write_file(dir, "junk.db",
                                    "this is not a database, not even close "
                                    "to one; it is just some text that is "
                                    "long enough to have a header");
    cr_assert_eq(ct_store_open(junk, NULL, &s), CT_ECORRUPT);
    cr_assert_null(s);
    free(junk);

    ct_store_options o = {.busy_timeout_ms = -1};
    cr_assert_eq(ct_store_open(":memory:", &o, &s), CT_EINVAL);
    static const int bad_sizes[] = {-1, 1, 256, 1000, 131072};
    for (size_t i = 0; i < CT_ARRAY_LEN(bad_sizes); i++) {
        ct_store_options p = {.page_size = bad_sizes[i]};
        cr_assert_eq(ct_store_open(":memory:", &p, &s), CT_EINVAL, "%d",
                     bad_sizes[i]);
        cr_assert_null(s);
    }
    ct_test_rmtree(dir);
}

/* A new database gets CT_STORE_PAGE_SIZE (or the size asked for); one that
 * exists keeps its own, whatever is asked. */
Test(store, page_size_of_new_and_existing_databases)
{
    const char *dir = ct_test_tmpdir();
    char *path = db_path(dir);
    ct_store *s = NULL;
    cr_assert_eq(ct_store_open(path, NULL, &s), 0);
    cr_assert_eq(query_int(ct_store__db(s), "PRAGMA page_size"),
                 CT_STORE_PAGE_SIZE);
    ct_store_close(s);
    ct_store_options o = {.page_size = 4096};
    cr_assert_eq(ct_store_open(path, &o, &s), 0);
    cr_assert_eq(query_int(ct_store__db(s), "PRAGMA page_size"),
                 CT_STORE_PAGE_SIZE);
    ct_store_close(s);
    free(path);

    /* A database made with SQLite's 4 KiB pages opens and migrates. */
    char old[1024];
    snprintf(old, sizeof old, "%s/old.db", dir);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(old, &db), SQLITE_OK);
    exec_ok(db, "PRAGMA page_size = 4096; CREATE TABLE t(x); DROP TABLE t;");
    sqlite3_close(db);
    cr_assert_eq(ct_store_open(old, NULL, &s), 0);
    cr_assert_eq(query_int(ct_store__db(s), "PRAGMA page_size"), 4096);
    cr_assert_eq(query_int(ct_store__db(s), "PRAGMA user_version"),
                 ct_store_latest_version());
    ct_store_close(s);

    cr_assert_eq(ct_store_open(":memory:", &o, &s), 0);
    cr_assert_eq(query_int(ct_store__db(s), "PRAGMA page_size"), 4096);
    ct_store_close(s);
    ct_test_rmtree(dir);
}

/* ---- migrations ------------------------------------------------------- */

static const ct_migration steps[] = {
    {"people", "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"},
    {"places", "CREATE TABLE q(id INTEGER PRIMARY KEY,"
               " p_id INTEGER REFERENCES p(id));"
               "CREATE INDEX q_by_p ON q(p_id);"},
    {"ages", "ALTER TABLE p ADD COLUMN age INTEGER NOT NULL DEFAULT 0;"},
    {"rename", "CREATE TABLE r(id INTEGER PRIMARY KEY, q_id INTEGER"
               " REFERENCES q(id));"
               "INSERT INTO r(q_id) SELECT id FROM q;"},
};
#define NSTEPS ((int)CT_ARRAY_LEN(steps))

/* Rows that each version can hold, so migrations are seen to keep data. */
static void seed(sqlite3 *db, int version)
{
    if (version >= 1)
        exec_ok(db, "INSERT INTO p(id, name) VALUES (1, 'one')");
    if (version >= 2)
        exec_ok(db, "INSERT INTO q(id, p_id) VALUES (7, 1)");
}

Test(store, migrate_test_list_from_every_version)
{
    sqlite3 *fresh = raw_open(":memory:");
    cr_assert_eq(ct_store__migrate(fresh, steps, NSTEPS), 0);
    cr_assert_eq(query_int(fresh, "PRAGMA user_version"), NSTEPS);
    char *want = schema_dump(fresh);
    sqlite3_close(fresh);

    for (int from = 0; from <= NSTEPS; from++) {
        sqlite3 *db = raw_open(":memory:");
        cr_assert_eq(ct_store__migrate(db, steps, from), 0);
        cr_assert_eq(query_int(db, "PRAGMA user_version"), from);
        seed(db, from);

        cr_assert_eq(ct_store__migrate(db, steps, NSTEPS), 0, "from %d",
                     from);
        cr_assert_eq(query_int(db, "PRAGMA user_version"), NSTEPS);
        char *got = schema_dump(db);
        cr_assert_str_eq(got, want, "schema after migrating from %d", from);
        free(got);
        if (from >= 1)
            assert_text(db, "SELECT name || ':' || age FROM p", "one:0");
        if (from >= 2 && from < 4) /* step 4 copies q into r */
            cr_assert_eq(query_int(db, "SELECT q_id FROM r"), 7);

        /* Again: nothing to do, nothing written, schema untouched. */
        int changes = sqlite3_total_changes(db);
        long long cookie = query_int(db, "PRAGMA schema_version");
        cr_assert_eq(ct_store__migrate(db, steps, NSTEPS), 0);
        cr_assert_eq(sqlite3_total_changes(db), changes);
        cr_assert_eq(query_int(db, "PRAGMA schema_version"), cookie);
        sqlite3_close(db);
    }
    free(want);
}

Test(store, migrate_real_list_from_every_version)
{
    sqlite3 *fresh = raw_open(":memory:");
    cr_assert_eq(ct_store__migrate(fresh, ct_store__migrations,
                                   ct_store__nmigrations),
                 0);
    char *want = schema_dump(fresh);
    sqlite3_close(fresh);

    const char *dir = ct_test_tmpdir();
    char *path = db_path(dir);
    for (int from = 0; from < ct_store__nmigrations; from++) {
        remove(path);
        sqlite3 *db = raw_open(path);
        cr_assert_eq(ct_store__migrate(db, ct_store__migrations, from), 0);
        sqlite3_close(db);

        ct_store *s;
        cr_assert_eq(ct_store_open(path, NULL, &s), 0, "from %d", from);
        cr_assert_eq(ct_store_schema_version(s), ct_store_latest_version());
        char *got = schema_dump(ct_store__db(s));
        cr_assert_str_eq(got, want, "schema after migrating from %d", from);
        free(got);
        long long cookie = query_int(ct_store__db(s), "PRAGMA schema_version");
        ct_store_close(s);

        /* Reopening migrates nothing. */
        cr_assert_eq(ct_store_open(path, NULL, &s), 0);
        cr_assert_eq(query_int(ct_store__db(s), "PRAGMA schema_version"),
                     cookie);
        cr_assert_eq(sqlite3_total_changes(ct_store__db(s)), 0);
        ct_store_close(s);
    }
    free(want);
    free(path);
    ct_test_rmtree(dir);
}

/* Migration 5 rebuilds bed and referral with OR-chain CHECKs: rows (and
 * rowids) come through unchanged, the same values are refused, and the
 * triggers that keep bed.status in step still work. */
Test(store, migration_5_keeps_rows_and_rules)
{
    sqlite3 *db = raw_open(":memory:");
    sqlite3_extended_result_codes(db, 1);
    cr_assert_eq(ct_store__migrate(db, ct_store__migrations, 4), 0);
    exec_ok(db,
            "INSERT INTO organisation VALUES ('o', 'O');"
            "INSERT INTO facility (id, name, kind, org_id)"
            "  VALUES ('f', 'F', 'care_home', 'o');"
            "INSERT INTO zone (id, facility_id, name) VALUES ('z', 'f', 'Z');"
            "INSERT INTO bed (rowid, id, zone_id) VALUES (7, 'b1', 'z');"
            "INSERT INTO bed (rowid, id, zone_id, status, blocked_reason)"
            "  VALUES (3, 'b2', 'z', 'blocked', 'leak');"
            "INSERT INTO bed (id, zone_id, surge, surge_open)"
            "  VALUES ('b3', 'z', 1, 1);"
            "INSERT INTO person (nhs_number) VALUES ('9990000018');"
            "INSERT INTO referral (id, nhs_number, from_org, ready_date,"
            "  state, created_at, updated_at, idempotency_key,"
            "  request_sha256)"
            "  VALUES (41, '9990000018', 'o', '2026-01-02', 'waiting', 1, 2,"
            "          'k', x'0102');"
            "INSERT INTO assignment (bed_id, referral_id, kind, active,"
            "  started_at, expires_at) VALUES ('b1', 41, 'hold', 1, 5, 9);");
    const char *beds = "SELECT group_concat(rowid || ':' || id || ':' || "
                       "status || ':' || coalesce(blocked_reason, '-') || "
                       "surge || surge_open || retired, ' ') FROM "
                       "(SELECT rowid, * FROM bed ORDER BY id)";
    const char *refs = "SELECT group_concat(id || ':' || state || ':' || "
                       "ready_date || ':' || idempotency_key || ':' || "
                       "hex(request_sha256) || ':' || updated_at, ' ') "
                       "FROM referral";
    char *beds_before = query_text(db, beds), *refs_before =
                                                   query_text(db, refs);
    cr_assert_str_eq(beds_before,
                     "7:b1:held:-000 3:b2:blocked:leak000 8:b3:available:-110");

    cr_assert_eq(ct_store__migrate(db, ct_store__migrations,
                                   ct_store__nmigrations),
                 0);
    assert_text(db, beds, beds_before);
    assert_text(db, refs, refs_before);
    free(beds_before);
    free(refs_before);
    cr_assert_eq(query_int(db, "SELECT count(*) FROM pragma_foreign_key_check"),
                 0);
    cr_assert_eq(query_int(db, "SELECT count(*) FROM sqlite_schema "
                               "WHERE sql LIKE '%_v5%'"),
                 0);

    /* The same values refused and accepted. */
    exec_ok(db, "PRAGMA foreign_keys = ON");
    cr_assert_eq(exec_rc(db, "UPDATE bed SET status = 'gone' WHERE id = 'b3'"),
                 SQLITE_CONSTRAINT_CHECK);
    cr_assert_eq(exec_rc(db, "UPDATE bed SET status = NULL WHERE id = 'b3'"),
                 SQLITE_CONSTRAINT_NOTNULL);
    cr_assert_eq(exec_rc(db, "UPDATE referral SET state = 'lost'"),
                 SQLITE_CONSTRAINT_CHECK);
    cr_assert_eq(exec_rc(db, "UPDATE referral SET state = 'Held'"),
                 SQLITE_CONSTRAINT_CHECK);
    static const char *const states[] = {
        "received", "triaged",   "waiting",   "held",
        "placed",   "discharged", "completed", "cancelled"};
    for (size_t i = 0; i < CT_ARRAY_LEN(states); i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "UPDATE referral SET state = '%s'",
                 states[i]);
        exec_ok(db, sql);
    }
    exec_ok(db, "UPDATE referral SET state = 'waiting'");
    cr_assert_eq(exec_rc(db, "INSERT INTO bed (id, zone_id) VALUES "
                             "('b9', 'nowhere')"),
                 SQLITE_CONSTRAINT_FOREIGNKEY);

    /* Migration 7 leaves bed.status to capacity.c: no trigger is left,
     * a blocked bed still refuses to be held, and the unique indexes
     * still allow one active assignment per bed and per referral. */
    cr_assert_eq(query_int(db, "SELECT count(*) FROM sqlite_schema "
                               "WHERE type = 'trigger'"),
                 0);
    /* ... and keeps when a bed's assignment last started or ended, filled
     * from the assignments (b1's hold started at 5; the others had none). */
    assert_text(db,
                "SELECT group_concat(id || ':' || "
                "coalesce(assignment_changed_at, '-'), ' ') "
                "FROM (SELECT * FROM bed ORDER BY id)",
                "b1:5 b2:- b3:-");
    exec_ok(db, "UPDATE assignment SET active = 0, ended_at = 10");
    assert_text(db, "SELECT status FROM bed WHERE id = 'b1'", "held");
    exec_ok(db, "INSERT INTO assignment (bed_id, referral_id, kind, active,"
                " started_at) VALUES ('b3', 41, 'occupancy', 1, 11)");
    cr_assert_eq(exec_rc(db, "INSERT INTO assignment (bed_id, referral_id,"
                             " kind, active, started_at) VALUES"
                             " ('b3', 41, 'hold', 1, 12)"),
                 SQLITE_CONSTRAINT_UNIQUE);
    cr_assert_eq(exec_rc(db, "INSERT INTO assignment (bed_id, referral_id,"
                             " kind, active, started_at) VALUES"
                             " ('b1', 41, 'hold', 1, 12)"),
                 SQLITE_CONSTRAINT_UNIQUE);
    cr_assert_eq(exec_rc(db, "UPDATE bed SET status = 'held' "
                             "WHERE id = 'b2'"),
                 SQLITE_CONSTRAINT_CHECK);
    sqlite3_close(db);
}

Test(store, refuses_a_newer_database)
{
    const char *dir = ct_test_tmpdir();
    char *path = db_path(dir);
    sqlite3 *db = raw_open(path);
    exec_ok(db, "CREATE TABLE future(x); PRAGMA user_version = 999;");
    sqlite3_close(db);

    log_capture();
    ct_store *s = (ct_store *)&s;
    cr_assert_eq(ct_store_open(path, NULL, &s), CT_EUNSUPPORTED);
    cr_assert_null(s);
    cr_assert(strstr(log_captured(), "schema version 999 is newer"),
              "log: %s", log_captured());
    ct_store_options ro = {.readonly = true};
    cr_assert_eq(ct_store_open(path, &ro, &s), CT_EUNSUPPORTED);
    log_release();

    /* Left exactly as it was: same version, not switched to WAL. */
    db = raw_open(path);
    cr_assert_eq(query_int(db, "PRAGMA user_version"), 999);
    assert_text(db, "PRAGMA journal_mode", "delete");
    cr_assert_eq(ct_store__migrate(db, steps, NSTEPS), CT_EUNSUPPORTED);
    cr_assert_eq(query_int(db, "PRAGMA user_version"), 999);
    sqlite3_close(db);
    free(path);
    ct_test_rmtree(dir);
}

/* Applies a list that fails at its last step onto a database at version
 * from and checks the database did not change at all. */
static void assert_failure_changes_nothing(const ct_migration *bad, int n,
                                           int from)
{
    sqlite3 *db = raw_open(":memory:");
    exec_ok(db, "PRAGMA foreign_keys = ON");
    cr_assert_eq(ct_store__migrate(db, bad, from), 0);
    seed(db, from);
    char *before = schema_dump(db);
    long long cookie = query_int(db, "PRAGMA schema_version");

    log_capture();
    int err = ct_store__migrate(db, bad, n);
    cr_assert_lt(err, 0, "from %d", from);
    cr_assert(strstr(log_captured(), bad[n - 1].name), "log names the "
              "failing migration: %s", log_captured());
    log_release();

    cr_assert_eq(query_int(db, "PRAGMA user_version"), from);
    char *after = schema_dump(db);
    cr_assert_str_eq(after ? after : "", before ? before : "");
    cr_assert_eq(query_int(db, "PRAGMA schema_version"), cookie);
    cr_assert(sqlite3_get_autocommit(db), "no transaction left open");
    cr_assert_eq(query_int(db, "PRAGMA foreign_keys"), 1, "restored");
    if (from >= 1)
        assert_text(db, "SELECT group_concat(name) FROM p", "one");
    free(before);
    free(after);
    sqlite3_close(db);
}

Test(store, failing_migration_leaves_the_database_as_it_was)
{
    const ct_migration bad_sql[] = {
        steps[0],
        steps[1],
        {"broken", "CREATE TABLE halfway(x);"
                   "INSERT INTO p(id, name) VALUES (2, 'two');"
                   "THIS IS NOT SQL;"},
    };
    for (int from = 0; from < 3; from++)
        assert_failure_changes_nothing(bad_sql, 3, from);

    /* A step that leaves a dangling reference fails the foreign key
     * check before commit. */
    const ct_migration dangling[] = {
        steps[0],
        steps[1],
        {"dangling", "INSERT INTO q(id, p_id) VALUES (8, 404);"},
    };
    for (int from = 0; from < 3; from++)
        assert_failure_changes_nothing(dangling, 3, from);
}

Test(store, readonly_never_migrates)
{
    const char *dir = ct_test_tmpdir();
    char *path = db_path(dir);
    ct_store_options ro = {.readonly = true};

    /* An empty database: too old for a read-only open, and left empty. */
    sqlite3 *db = raw_open(path);
    exec_ok(db, "CREATE TABLE scratch(x)");
    sqlite3_close(db);
    log_capture();
    ct_store *s = (ct_store *)&s;
    cr_assert_eq(ct_store_open(path, &ro, &s), CT_ESTATE);
    cr_assert_null(s);
    cr_assert(strstr(log_captured(), "older"), "log: %s", log_captured());
    log_release();
    db = raw_open(path);
    cr_assert_eq(query_int(db, "PRAGMA user_version"), 0);
    cr_assert_eq(query_int(db, "SELECT count(*) FROM sqlite_schema"), 1);
    sqlite3_close(db);

    /* Migrated read-write, it opens read-only and refuses writes. */
    cr_assert_eq(ct_store_open(path, NULL, &s), 0);
    ct_store_close(s);
    cr_assert_eq(ct_store_open(path, &ro, &s), 0);
    cr_assert_eq(ct_store_schema_version(s), ct_store_latest_version());
    cr_assert_eq(query_int(ct_store__db(s), "SELECT count(*) FROM bed"), 0);
    cr_assert_eq(ct_err_from_sqlite(exec_rc(
                     ct_store__db(s),
                     "INSERT INTO organisation VALUES ('o', 'O')")),
                 CT_EREADONLY);
    /* SQLite grants BEGIN IMMEDIATE read-only; the first write fails. */
    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert_neq(exec_rc(ct_store__db(s),
                          "INSERT INTO organisation VALUES ('o', 'O')"),
                  SQLITE_OK);
    ct_store_rollback(s);
    ct_store_close(s);

    cr_assert_eq(ct_store_open("/nonexistent/caretide.db", &ro, &s), CT_EIO);
    free(path);
    ct_test_rmtree(dir);
}

/* ---- statement cache -------------------------------------------------- */

static int count_prepared(sqlite3 *db)
{
    int n = 0;
    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st;
         st = sqlite3_next_stmt(db, st))
        n++;
    return n;
}

/* The statement sets of the units above storage, as those units define
 * them (their lists are theirs, not the store's). */
CT_STMT_SET_DEFINE(report_set, CT_STMTS_REPORT, CT_STMT_REPORT__COUNT);
CT_STMT_SET_DEFINE(display_set, CT_STMTS_DISPLAY, CT_STMT_DISPLAY__COUNT);
CT_STMT_SET_DEFINE(repl_set, CT_STMTS_REPL, CT_STMT_REPL__COUNT);
CT_STMT_SET_DEFINE(sim_set, CT_STMTS_SIM, CT_STMT_SIM__COUNT);

Test(store, statement_sets_prepare_once_and_close)
{
    ct_store *s;
    cr_assert_eq(ct_store_open(":memory:", NULL, &s), 0);
    sqlite3 *db = ct_store__db(s);
    int base = count_prepared(db);
    const ct_stmt_set *sets[] = {&report_set, &display_set, &repl_set,
                                 &sim_set};
    int total = 0;
    for (size_t k = 0; k < sizeof sets / sizeof *sets; k++) {
        /* Every statement of each set prepares against the real schema,
         * once: handed out again, the same one. */
        for (int i = 0; i < sets[k]->n; i++) {
            sqlite3_stmt *st = ct_store__stmt_of(s, sets[k], i);
            cr_assert_not_null(st, "%s", sets[k]->names[i]);
            cr_assert_eq(ct_store__stmt_of(s, sets[k], i), st);
        }
        total += sets[k]->n;
        cr_assert_null(ct_store__stmt_of(s, sets[k], sets[k]->n));
        cr_assert_null(ct_store__stmt_of(s, sets[k], -1));
    }
    cr_assert_eq(count_prepared(db), base + total);
    /* Not the store's own: its list knows only storage. */
    cr_assert_eq(CT_STMT_REP_DELAYS, 0);
    /* close finalizes them all, or sqlite3_close fails and says so. */
    log_capture();
    ct_store_close(s);
    cr_assert_eq(strstr(log_captured(), "close:"), NULL, "%s",
                 log_captured());
    log_release();
}

Test(store, statement_cache_prepares_once_and_resets)
{
    ct_store *s;
    cr_assert_eq(ct_store_open(":memory:", NULL, &s), 0);
    sqlite3 *db = ct_store__db(s);
    int base = count_prepared(db);

    sqlite3_stmt *a = ct_store__stmt(s, CT_STMT_RECONCILE_ORG_INSERT);
    cr_assert_not_null(a);
    cr_assert_eq(count_prepared(db), base + 1);
    cr_assert_eq(sqlite3_bind_text(a, 1, "org", -1, SQLITE_STATIC), 0);
    cr_assert_eq(sqlite3_bind_text(a, 2, "An org", -1, SQLITE_STATIC), 0);
    char *sql = sqlite3_expanded_sql(a);
    cr_assert(strstr(sql, "'An org'"), "%s", sql);
    sqlite3_free(sql);
    cr_assert_eq(ct_store__step_done(s, a), 0);

    /* Handed out again: the same statement, bindings cleared. */
    sqlite3_stmt *b = ct_store__stmt(s, CT_STMT_RECONCILE_ORG_INSERT);
    cr_assert_eq(a, b);
    cr_assert_eq(count_prepared(db), base + 1);
    sql = sqlite3_expanded_sql(b);
    cr_assert_null(strstr(sql, "An org"), "%s", sql);
    cr_assert(strstr(sql, "VALUES (NULL, NULL)"), "%s", sql);
    sqlite3_free(sql);

    /* A statement left mid-result is reset when handed out again. */
    sqlite3_stmt *v = ct_store__stmt(s, CT_STMT_USER_VERSION);
    cr_assert_eq(sqlite3_step(v), SQLITE_ROW);
    cr_assert(sqlite3_stmt_busy(v));
    cr_assert_eq(ct_store__stmt(s, CT_STMT_USER_VERSION), v);
    cr_assert_not(sqlite3_stmt_busy(v));
    cr_assert_eq(count_prepared(db), base + 2);

    cr_assert_null(ct_store__stmt(s, CT_STMT__COUNT));
    cr_assert_eq(query_int(db, "SELECT count(*) FROM organisation"), 1);

    /* A failed step reports the constraint and leaves the cache usable. */
    sqlite3_stmt *f = ct_store__stmt(s, CT_STMT_RECONCILE_FACILITY_INSERT);
    sqlite3_bind_text(f, 1, "f", -1, SQLITE_STATIC);
    sqlite3_bind_text(f, 2, "F", -1, SQLITE_STATIC);
    sqlite3_bind_text(f, 3, "rehab", -1, SQLITE_STATIC);
    sqlite3_bind_text(f, 4, "no-such-org", -1, SQLITE_STATIC);
    sqlite3_bind_int(f, 5, 0);
    log_capture();
    cr_assert_eq(ct_store__step_done(s, f), CT_ECONFLICT);
    log_release();
    cr_assert_eq(ct_store__stmt(s, CT_STMT_RECONCILE_FACILITY_INSERT), f);

    /* Every statement in the list prepares against the real schema. */
    for (int i = 0; i < CT_STMT__COUNT; i++)
        cr_assert_not_null(ct_store__stmt(s, (ct_stmt)i), "statement %d", i);
    cr_assert_eq(count_prepared(db), base + CT_STMT__COUNT);
    /* close finalizes them all, or sqlite3_close fails and says so. */
    log_capture();
    ct_store_close(s);
    cr_assert_eq(strstr(log_captured(), "close:"), NULL, "%s",
                 log_captured());
    log_release();
}

/* ---- transactions ----------------------------------------------------- */

Test(store, transactions)
{
    ct_store *s;
    cr_assert_eq(ct_store_open(":memory:", NULL, &s), 0);
    sqlite3 *db = ct_store__db(s);
    cr_assert_not(ct_store_in_transaction(s));
    ct_store_rollback(s); /* harmless with none open */
    log_capture();
    cr_assert_eq(ct_store_commit(s), CT_ESTATE);

    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert(ct_store_in_transaction(s));
    cr_assert_eq(ct_store_begin(s), CT_ESTATE, "no nesting");
    log_release();
    exec_ok(db, "INSERT INTO organisation VALUES ('a', 'A')");
    ct_store_rollback(s);
    cr_assert_not(ct_store_in_transaction(s));
    cr_assert_eq(query_int(db, "SELECT count(*) FROM organisation"), 0);

    cr_assert_eq(ct_store_begin(s), 0);
    exec_ok(db, "INSERT INTO organisation VALUES ('b', 'B')");
    cr_assert_eq(ct_store_commit(s), 0);
    cr_assert_not(ct_store_in_transaction(s));
    cr_assert_eq(query_int(db, "SELECT count(*) FROM organisation"), 1);
    ct_store_close(s);
}

Test(store, savepoints_roll_back_alone)
{
    ct_store *s;
    cr_assert_eq(ct_store_open(":memory:", NULL, &s), 0);
    sqlite3 *db = ct_store__db(s);
    log_capture();
    cr_assert_eq(ct_store_savepoint(s), CT_ESTATE, "not outside a tx");
    cr_assert_not(ct_store_in_transaction(s));
    log_release();

    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert_eq(ct_store_savepoint(s), 0);
    exec_ok(db, "INSERT INTO organisation VALUES ('kept', 'K')");
    cr_assert_eq(ct_store_release(s), 0);
    cr_assert_eq(ct_store_savepoint(s), 0);
    exec_ok(db, "INSERT INTO organisation VALUES ('undone', 'U')");
    /* nested: the inner one is undone, the outer one kept */
    cr_assert_eq(ct_store_savepoint(s), 0);
    exec_ok(db, "INSERT INTO organisation VALUES ('inner', 'I')");
    cr_assert_eq(ct_store_rollback_to(s), 0);
    cr_assert_eq(query_int(db, "SELECT count(*) FROM organisation"), 2);
    cr_assert_eq(ct_store_rollback_to(s), 0);
    cr_assert(ct_store_in_transaction(s), "rollback_to keeps the tx");
    cr_assert_eq(ct_store_commit(s), 0);
    assert_text(db, "SELECT group_concat(id) FROM organisation", "kept");
    ct_store_close(s);
}

Test(store, begin_immediate_takes_the_write_lock)
{
    const char *dir = ct_test_tmpdir();
    char *path = db_path(dir);
    ct_store *a, *b;
    ct_store_options quick = {.busy_timeout_ms = 1};
    cr_assert_eq(ct_store_open(path, NULL, &a), 0);
    cr_assert_eq(ct_store_open(path, &quick, &b), 0);
    cr_assert_eq(ct_store_begin(a), 0);
    log_capture();
    cr_assert_eq(ct_store_begin(b), CT_EBUSY);
    log_release();
    cr_assert_not(ct_store_in_transaction(b));
    cr_assert_eq(ct_store_commit(a), 0);
    cr_assert_eq(ct_store_begin(b), 0);
    ct_store_rollback(b);
    ct_store_close(b);
    ct_store_close(a);
    free(path);
    ct_test_rmtree(dir);
}

/* ---- schema guarantees ------------------------------------------------ */

Test(store, one_active_assignment_per_bed)
{
    ct_store *s;
    cr_assert_eq(ct_store_open(":memory:", NULL, &s), 0);
    sqlite3 *db = ct_store__db(s);
    char nhs[11];
    cr_assert(ct_nhs_number_valid("9990000018", nhs));
    exec_ok(db,
            "INSERT INTO organisation VALUES ('acute', 'Acute'), "
            "  ('home', 'Home');"
            "INSERT INTO facility(id, name, kind, org_id) "
            "  VALUES ('f', 'F', 'care_home', 'home');"
            "INSERT INTO zone(id, facility_id, name) VALUES ('z', 'f', 'Z');"
            "INSERT INTO bed(id, zone_id) VALUES ('b1', 'z'), ('b2', 'z');"
            "INSERT INTO person(nhs_number) VALUES ('9990000018');"
            "INSERT INTO referral(id, nhs_number, from_org, ready_date, "
            "  created_at, updated_at) VALUES "
            "  (1, '9990000018', 'acute', '2025-01-06', 0, 0),"
            "  (2, '9990000018', 'acute', '2025-01-06', 0, 0),"
            "  (3, '9990000018', 'acute', '2025-01-06', 0, 0);"
            "INSERT INTO assignment(bed_id, referral_id, kind, active, "
            "  started_at) VALUES ('b1', 1, 'hold', 1, 10);");
    /* A second active hold or occupant of the same bed is refused. */
    int rc = exec_rc(db, "INSERT INTO assignment(bed_id, referral_id, kind,"
                         " active, started_at) VALUES ('b1', 2, 'occupancy',"
                         " 1, 20)");
    cr_assert_eq(rc & 0xff, SQLITE_CONSTRAINT);
    cr_assert(strstr(sqlite3_errmsg(db), "assignment.bed_id"), "%s",
              sqlite3_errmsg(db));
    cr_assert_eq(ct_err_from_sqlite(rc), CT_ECONFLICT);
    /* Ended ones and other beds are fine. */
    exec_ok(db, "INSERT INTO assignment(bed_id, referral_id, kind, active,"
                " started_at, ended_at, end_reason) VALUES"
                " ('b1', 2, 'hold', 0, 5, 8, 'expired'),"
                " ('b2', 3, 'hold', 1, 20, NULL, NULL)");
    /* Ending the first lets the next one in. */
    exec_ok(db, "UPDATE assignment SET active = 0, ended_at = 30 "
                "WHERE bed_id = 'b1' AND active = 1;"
                "INSERT INTO assignment(bed_id, referral_id, kind, active,"
                " started_at) VALUES ('b1', 2, 'occupancy', 1, 31)");
    cr_assert_eq(query_int(db, "SELECT count(*) FROM assignment "
                               "WHERE active = 1"),
                 2);
    ct_store_close(s);
}

/* ---- reconcile -------------------------------------------------------- */

/* A small area that tests edit. Line numbers matter for diagnostics. */
static const char area[] =
    "area: {id: t, name: Test}\n"                 /* 1 */
    "organisations:\n"                            /* 2 */
    "  - id: council\n"                           /* 3 */
    "    name: Council\n"                         /* 4 */
    "  - id: homes\n"                             /* 5 */
    "    name: Homes Ltd\n"                       /* 6 */
    "facilities:\n"                               /* 7 */
    "  - id: sd\n"                                /* 8 */
    "    name: Step-down\n"                       /* 9 */
    "    kind: step_down\n"                       /* 10 */
    "    organisation: council\n"                 /* 11 */
    "    designated_setting: true\n"              /* 12 */
    "    zones:\n"                                /* 13 */
    "      - id: red\n"                           /* 14 */
    "        name: Red\n"                         /* 15 */
    "        cohort: {covid: positive}\n"         /* 16 */
    "        beds:\n"                             /* 17 */
    "          - range: R01..R04\n"               /* 18 */
    "            tags: [isolation_room, nursing]\n" /* 19 */
    "          - id: R05\n"                       /* 20 */
    "            surge: true\n"                   /* 21 */
    "      - id: green\n"                         /* 22 */
    "        cohort: {covid: negative, flu: negative}\n" /* 23 */
    "        beds:\n"                             /* 24 */
    "          - range: G01..G03\n"               /* 25 */
    "  - id: home\n"                              /* 26 */
    "    name: Care home\n"                       /* 27 */
    "    kind: care_home\n"                       /* 28 */
    "    organisation: homes\n"                   /* 29 */
    "    zones:\n"                                /* 30 */
    "      - id: home-main\n"                     /* 31 */
    "        closed: true\n"                      /* 32 */
    "        beds:\n"                             /* 33 */
    "          - range: H01..H02\n"               /* 34 */
    "            tags: [dementia]\n";             /* 35 */

/* text with the first occurrence of from replaced by to; caller frees. */
static char *edit(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    cr_assert_not_null(at, "edit: '%s' not in the config", from);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    cr_assert_not_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to,
             at + strlen(from));
    return out;
}

/* The 1-based line of text where needle first appears. */
static uint32_t line_of(const char *text, const char *needle)
{
    const char *at = strstr(text, needle);
    cr_assert_not_null(at, "'%s' not in the config", needle);
    uint32_t line = 1;
    for (const char *p = text; p < at; p++)
        line += *p == '\n';
    return line;
}

static ct_config *load(const char *text)
{
    ct_diags d = {0};
    ct_config *cfg = NULL;
    int rc = ct_config_load_text("area.yaml", ".", text, strlen(text), &cfg,
                                 &d);
    if (rc)
        ct_diags_print(&d, stderr);
    cr_assert_eq(rc, 0, "test config does not load");
    ct_diags_free(&d);
    return cfg;
}

/* Loads text and reconciles it; returns the result, stats in *st. */
static int reconcile_text(ct_store *s, const char *text,
                          ct_reconcile_stats *st, ct_diags *d)
{
    ct_config *cfg = load(text);
    int rc = ct_store_reconcile(s, cfg, st, d);
    ct_config_free(cfg);
    return rc;
}

static void reconcile_ok(ct_store *s, const char *text,
                         ct_reconcile_stats *st)
{
    ct_diags d = {0};
    int rc = reconcile_text(s, text, st, &d);
    cr_assert_eq(rc, 0, "reconcile: %s (%s)", ct_strerror(rc),
                 d.len ? d.items[0].message : "no diagnostic");
    cr_assert_eq(d.len, 0);
    cr_assert_not(ct_store_in_transaction(s));
}

static bool stats_zero(const ct_reconcile_stats *st)
{
    static const ct_reconcile_stats zero;
    return memcmp(st, &zero, sizeof zero) == 0;
}

/* Everything reconcile owns, as text, to see that nothing changed. */
static char *area_dump(sqlite3 *db)
{
    return query_text(
        db,
        "SELECT (SELECT group_concat(id || '|' || name, ';') FROM "
        "  (SELECT * FROM organisation ORDER BY id)) || char(10) ||"
        " (SELECT group_concat(id || '|' || name || '|' || kind || '|' ||"
        "  org_id || '|' || designated || '|' || retired, ';') FROM"
        "  (SELECT * FROM facility ORDER BY id)) || char(10) ||"
        " (SELECT group_concat(id || '|' || facility_id || '|' || name ||"
        "  '|' || closed || '|' || coalesce(closed_reason, '-') || '|' ||"
        "  declared_closed || '|' || retired, ';') FROM"
        "  (SELECT * FROM zone ORDER BY id)) || char(10) ||"
        " coalesce((SELECT group_concat(zone_id || '|' || pathogen || '|' ||"
        "  cohort || '|' || coalesce(declared, '-'), ';') FROM"
        "  (SELECT * FROM zone_cohort ORDER BY zone_id, pathogen)), '') ||"
        " char(10) ||"
        " (SELECT group_concat(id || '|' || zone_id || '|' || status || '|'"
        "  || surge || '|' || surge_open || '|' || retired, ';') FROM"
        "  (SELECT * FROM bed ORDER BY id)) || char(10) ||"
        " coalesce((SELECT group_concat(bed_id || '|' || tag, ';') FROM"
        "  (SELECT * FROM bed_tag ORDER BY bed_id, tag)), '')");
}

static ct_store *open_area(void)
{
    ct_store *s;
    cr_assert_eq(ct_store_open(":memory:", NULL, &s), 0);
    ct_reconcile_stats st;
    reconcile_ok(s, area, &st);
    return s;
}

Test(store, reconcile_initial_load)
{
    ct_store *s;
    cr_assert_eq(ct_store_open(":memory:", NULL, &s), 0);
    sqlite3 *db = ct_store__db(s);
    ct_reconcile_stats st;
    reconcile_ok(s, area, &st);
    cr_assert_eq(st.orgs_added, 2);
    cr_assert_eq(st.facilities_added, 2);
    cr_assert_eq(st.zones_added, 3);
    cr_assert_eq(st.beds_added, 10);
    cr_assert_eq(st.orgs_changed + st.facilities_changed + st.zones_changed +
                     st.beds_changed,
                 0);
    cr_assert_eq(st.facilities_retired + st.zones_retired + st.beds_retired,
                 0);

    assert_text(db, "SELECT group_concat(id) FROM (SELECT id FROM bed "
                    "WHERE status = 'available' AND retired = 0 ORDER BY id)",
                "G01,G02,G03,H01,H02,R01,R02,R03,R04,R05");
    assert_text(db, "SELECT kind || designated || org_id FROM facility "
                    "WHERE id = 'sd'",
                "step_down1council");
    assert_text(db, "SELECT name || ',' || facility_id FROM zone "
                    "WHERE id = 'green'",
                "green,sd"); /* name defaults to the id */
    assert_text(db, "SELECT group_concat(zone_id || ':' || pathogen || '=' "
                    "|| cohort || '/' || declared) FROM (SELECT * FROM "
                    "zone_cohort ORDER BY zone_id, pathogen)",
                "green:covid=negative/negative,green:flu=negative/negative,"
                "red:covid=positive/positive");
    assert_text(db, "SELECT closed || declared_closed || closed_reason "
                    "FROM zone WHERE id = 'home-main'",
                "11closed in config");
    assert_text(db, "SELECT closed || declared_closed || "
                    "coalesce(closed_reason, '-') FROM zone WHERE id = 'red'",
                "00-");
    assert_text(db, "SELECT group_concat(id) FROM bed WHERE surge = 1",
                "R05");
    assert_text(db, "SELECT group_concat(tag) FROM (SELECT tag FROM bed_tag "
                    "WHERE bed_id = 'R03' ORDER BY tag)",
                "isolation_room,nursing");
    cr_assert_eq(query_int(db, "SELECT count(*) FROM bed_tag"), 10);
    cr_assert_eq(query_int(db, "SELECT count(*) FROM bed_tag "
                               "WHERE bed_id = 'R05'"),
                 0);
    ct_store_close(s);
}

Test(store, reconcile_twice_changes_nothing)
{
    ct_store *s = open_area();
    sqlite3 *db = ct_store__db(s);
    char *before = area_dump(db);
    int changes = sqlite3_total_changes(db);

    ct_reconcile_stats st;
    memset(&st, 0xff, sizeof st);
    reconcile_ok(s, area, &st);
    cr_assert(stats_zero(&st));
    cr_assert_eq(sqlite3_total_changes(db), changes, "no row rewritten");
    char *after = area_dump(db);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);
    /* stats may be NULL */
    ct_diags d = {0};
    ct_config *cfg = load(area);
    cr_assert_eq(ct_store_reconcile(s, cfg, NULL, &d), 0);
    ct_config_free(cfg);
    cr_assert_eq(sqlite3_total_changes(db), changes);
    ct_store_close(s);
}

Test(store, reconcile_adds_retires_and_brings_back_beds)
{
    ct_store *s = open_area();
    sqlite3 *db = ct_store__db(s);
    ct_reconcile_stats st;

    char *more = edit(area, "G01..G03", "G01..G05");
    reconcile_ok(s, more, &st);
    cr_assert_eq(st.beds_added, 2);
    st.beds_added = 0;
    cr_assert(stats_zero(&st));
    assert_text(db, "SELECT zone_id || status || retired FROM bed "
                    "WHERE id = 'G05'",
                "greenavailable0");

    /* G04 blocked: a block does not stop a bed being retired */
    exec_ok(db, "UPDATE bed SET status = 'blocked', blocked_reason = 'leak'"
                " WHERE id = 'G04'");
    char *fewer = edit(area, "G01..G03", "G01..G02");
    reconcile_ok(s, fewer, &st);
    cr_assert_eq(st.beds_retired, 3, "G03, G04, G05");
    st.beds_retired = 0;
    cr_assert(stats_zero(&st));
    assert_text(db, "SELECT group_concat(id) FROM (SELECT id FROM bed "
                    "WHERE retired = 1 ORDER BY id)",
                "G03,G04,G05");
    cr_assert_eq(query_int(db, "SELECT count(*) FROM bed"), 12,
                 "retired, not deleted");
    reconcile_ok(s, fewer, &st);
    cr_assert(stats_zero(&st), "retiring is idempotent too");

    /* Back in the config: un-retired, status kept. */
    reconcile_ok(s, more, &st);
    cr_assert_eq(st.beds_changed, 3);
    st.beds_changed = 0;
    cr_assert(stats_zero(&st));
    assert_text(db, "SELECT group_concat(id || status) FROM (SELECT * FROM "
                    "bed WHERE id > 'G02' AND id < 'H' ORDER BY id)",
                "G03available,G04blocked,G05available");
    cr_assert_eq(query_int(db, "SELECT count(*) FROM bed WHERE retired = 1"),
                 0);
    free(more);
    free(fewer);
    ct_store_close(s);
}

Test(store, reconcile_refuses_to_retire_held_or_occupied_beds)
{
    ct_store *s = open_area();
    sqlite3 *db = ct_store__db(s);
    exec_ok(db, "UPDATE bed SET status = 'held' WHERE id = 'G03';"
                "UPDATE bed SET status = 'occupied' WHERE id = 'H02';"
                "UPDATE bed SET status = 'occupied' WHERE id = 'R05';");
    char *before = area_dump(db);

    /* G03 dropped from its zone, the whole care home (H01, H02)
     * gone, and other edits that must not land either. R05 moves to the
     * green zone, which is not a retirement. */
    char *a = edit(area, "G01..G03", "G01..G02\n          - id: G09");
    char *b = edit(a, strstr(a, "  - id: home\n"),
                   "  - id: new-home\n"
                   "    name: New home\n"
                   "    kind: care_home\n"
                   "    organisation: homes\n"
                   "    zones:\n"
                   "      - id: new-main\n"
                   "        beds:\n"
                   "          - id: N01\n");
    char *c = edit(b, "name: Council", "name: Renamed Council");
    char *d1 = edit(c, "          - id: R05\n            surge: true\n", "");
    char *cfg = edit(d1, "          - range: G01..G02\n",
                     "          - range: G01..G02\n          - id: R05\n");
    free(a);
    free(b);
    free(c);
    free(d1);

    ct_diags d = {0};
    ct_reconcile_stats st;
    memset(&st, 0xff, sizeof st);
    log_capture();
    cr_assert_eq(reconcile_text(s, cfg, &st, &d), CT_ECONFIG);
    log_release();
    cr_assert(stats_zero(&st));
    cr_assert_not(ct_store_in_transaction(s));
    cr_assert_eq(d.len, 2, "one diagnostic per busy bed, got %zu", d.len);
    cr_assert_str_eq(d.items[0].file, "area.yaml");
    cr_assert(strstr(d.items[0].message, "bed G03"), "%s",
              d.items[0].message);
    cr_assert(strstr(d.items[0].message, "held"), "%s", d.items[0].message);
    cr_assert_eq(d.items[0].line, line_of(cfg, "- id: green"),
                 "the zone's line");
    cr_assert(strstr(d.items[1].message, "bed H02"), "%s",
              d.items[1].message);
    cr_assert(strstr(d.items[1].message, "occupied"), "%s",
              d.items[1].message);
    cr_assert_eq(d.items[1].line, 0, "zone and facility are gone");
    ct_diags_free(&d);

    char *after = area_dump(db);
    cr_assert_str_eq(after, before, "nothing changed");
    free(after);

    /* Dropping only a zone points at its facility's line. */
    char *nozone = edit(area,
                        "      - id: green\n"
                        "        cohort: {covid: negative, flu: negative}\n"
                        "        beds:\n"
                        "          - range: G01..G03\n",
                        "");
    log_capture();
    cr_assert_eq(reconcile_text(s, nozone, &st, &d), CT_ECONFIG);
    log_release();
    cr_assert_eq(d.len, 1);
    cr_assert(strstr(d.items[0].message, "bed G03"));
    cr_assert_eq(d.items[0].line, line_of(nozone, "- id: sd"),
                 "facility sd");
    cr_assert_eq(d.items[0].line, 8);
    ct_diags_free(&d);
    after = area_dump(db);
    cr_assert_str_eq(after, before, "nothing changed");
    free(after);

    /* Once the hold ends, the same config goes through. */
    exec_ok(db, "UPDATE bed SET status = 'available' WHERE id = 'G03';"
                "UPDATE bed SET status = 'available' WHERE id = 'H02'");
    reconcile_ok(s, cfg, &st);
    cr_assert_eq(st.beds_added, 2, "G09, N01");
    cr_assert_eq(st.beds_retired, 3, "G03, H01, H02");
    cr_assert_eq(st.beds_changed, 1, "R05 moved");
    cr_assert_eq(st.zones_added, 1);
    cr_assert_eq(st.zones_retired, 1);
    cr_assert_eq(st.facilities_added, 1);
    cr_assert_eq(st.facilities_retired, 1);
    cr_assert_eq(st.orgs_changed, 1);
    assert_text(db, "SELECT zone_id || status || surge FROM bed "
                    "WHERE id = 'R05'",
                "greenoccupied0");
    free(nozone);
    free(before);
    free(cfg);
    ct_store_close(s);
}

Test(store, reconcile_retires_and_restores_facilities_and_zones)
{
    ct_store *s = open_area();
    sqlite3 *db = ct_store__db(s);
    ct_reconcile_stats st;
    /* The area without the care home (lines 26 to 35). */
    char *nohome = ct_strndup(area, (size_t)(strstr(area, "  - id: home\n") -
                                             area));
    reconcile_ok(s, nohome, &st);
    cr_assert_eq(st.facilities_retired, 1);
    cr_assert_eq(st.zones_retired, 1);
    cr_assert_eq(st.beds_retired, 2);
    st.facilities_retired = st.zones_retired = st.beds_retired = 0;
    cr_assert(stats_zero(&st));
    assert_text(db, "SELECT retired FROM facility WHERE id = 'home'", "1");
    assert_text(db, "SELECT retired FROM zone WHERE id = 'home-main'", "1");
    cr_assert_eq(query_int(db, "SELECT count(*) FROM organisation"), 2,
                 "organisations stay");

    reconcile_ok(s, area, &st);
    cr_assert_eq(st.facilities_changed, 1);
    cr_assert_eq(st.zones_changed, 1);
    cr_assert_eq(st.beds_changed, 2);
    assert_text(db, "SELECT group_concat(retired) FROM (SELECT retired FROM "
                    "facility UNION ALL SELECT retired FROM zone)",
                "0,0,0,0,0");
    free(nohome);
    ct_store_close(s);
}

Test(store, reconcile_cohorts_and_closure_are_declared)
{
    ct_store *s = open_area();
    sqlite3 *db = ct_store__db(s);
    ct_reconcile_stats st;
    const char *cohorts = "SELECT group_concat(zone_id || ':' || pathogen || "
                          "'=' || cohort || '/' || coalesce(declared, '-')) "
                          "FROM (SELECT * FROM zone_cohort ORDER BY zone_id,"
                          " pathogen)";
    const char *closure = "SELECT group_concat(id || '=' || closed || '/' || "
                          "declared_closed || ':' || coalesce(closed_reason,"
                          " '-')) FROM (SELECT * FROM zone ORDER BY id)";

    /* Run-time changes: a plugin opens the red wing to anyone, marks the
     * green wing norovirus positive, and closes the red wing. */
    exec_ok(db, "UPDATE zone_cohort SET cohort = 'open' "
                "  WHERE zone_id = 'red' AND pathogen = 'covid';"
                "INSERT INTO zone_cohort(zone_id, pathogen, cohort) "
                "  VALUES ('green', 'norovirus', 'positive');"
                "UPDATE zone SET closed = 1, closed_reason = 'outbreak' "
                "  WHERE id = 'red';");
    char *live = area_dump(db);

    /* A restart with the same config keeps them. */
    reconcile_ok(s, area, &st);
    cr_assert(stats_zero(&st));
    char *again = area_dump(db);
    cr_assert_str_eq(again, live);
    free(again);
    free(live);

    /* Declaring "open" what the config never listed is no change: the
     * run-time norovirus cohort stays. */
    char *o = edit(area, "{covid: negative, flu: negative}",
                   "{covid: negative, flu: negative, norovirus: open}");
    reconcile_ok(s, o, &st);
    cr_assert(stats_zero(&st));
    assert_text(db, "SELECT cohort FROM zone_cohort WHERE zone_id = 'green' "
                    "AND pathogen = 'norovirus'",
                "positive");
    free(o);

    /* Edited declarations take effect; untouched ones leave live state. */
    char *a = edit(area, "cohort: {covid: positive}", "cohort: {flu: open}");
    char *b = edit(a, "{covid: negative, flu: negative}",
                   "{covid: negative, norovirus: negative}");
    char *c = edit(b, "closed: true", "closed: false");
    reconcile_ok(s, c, &st);
    cr_assert_eq(st.zones_changed, 3);
    st.zones_changed = 0;
    cr_assert(stats_zero(&st));
    assert_text(db, cohorts,
                "green:covid=negative/negative,green:flu=open/open,"
                "green:norovirus=negative/negative,red:covid=open/open,"
                "red:flu=open/open");
    assert_text(db, closure,
                "green=0/0:-,home-main=0/0:-,red=1/0:outbreak");
    reconcile_ok(s, c, &st);
    cr_assert(stats_zero(&st));

    /* Declaring a closure on a zone closed at run time takes over. */
    char *d = edit(c, "      - id: red\n",
                   "      - id: red\n        closed: true\n");
    reconcile_ok(s, d, &st);
    cr_assert_eq(st.zones_changed, 1);
    assert_text(db, closure,
                "green=0/0:-,home-main=0/0:-,red=1/1:closed in config");
    /* A plugin reopens it; the restart keeps it open. */
    exec_ok(db, "UPDATE zone SET closed = 0, closed_reason = NULL "
                "WHERE id = 'red'");
    reconcile_ok(s, d, &st);
    cr_assert(stats_zero(&st));
    assert_text(db, "SELECT closed FROM zone WHERE id = 'red'", "0");
    free(a);
    free(b);
    free(c);
    free(d);
    ct_store_close(s);
}

Test(store, reconcile_updates_tags_and_surge)
{
    ct_store *s = open_area();
    sqlite3 *db = ct_store__db(s);
    ct_reconcile_stats st;
    char *a = edit(area, "tags: [isolation_room, nursing]",
                   "tags: [nursing, bariatric]");
    char *b = edit(a, "surge: true", "surge: false\n            tags: [nursing]");
    char *c = edit(b, "range: H01..H02\n            tags: [dementia]",
                   "range: H01..H02\n            surge: true");
    reconcile_ok(s, c, &st);
    cr_assert_eq(st.beds_changed, 7, "R01-R04 tags, R05 surge and tag, "
                                     "H01-H02 surge and tags");
    st.beds_changed = 0;
    cr_assert(stats_zero(&st));
    assert_text(db, "SELECT group_concat(bed_id || ':' || tag) FROM (SELECT "
                    "* FROM bed_tag ORDER BY bed_id, tag)",
                "R01:bariatric,R01:nursing,R02:bariatric,R02:nursing,"
                "R03:bariatric,R03:nursing,R04:bariatric,R04:nursing,"
                "R05:nursing");
    assert_text(db, "SELECT group_concat(id) FROM (SELECT id FROM bed "
                    "WHERE surge = 1 ORDER BY id)",
                "H01,H02");
    reconcile_ok(s, c, &st);
    cr_assert(stats_zero(&st));
    free(a);
    free(b);
    free(c);
    ct_store_close(s);
}

/* The config's hash is kept with what it loaded: the same config again
 * skips the walk (a row changed behind its back stays as it is), any
 * edited value runs it, and a migration moves the hash. */
Test(store, reconcile_skips_a_config_loaded_already)
{
    ct_store *s = open_area();
    sqlite3 *db = ct_store__db(s);
    ct_reconcile_stats st;
    cr_assert_eq(query_int(db, "SELECT count(*) FROM config_loaded"), 1);
    exec_ok(db, "UPDATE facility SET name = 'changed behind' "
                "WHERE id = (SELECT min(id) FROM facility)");
    int changes = sqlite3_total_changes(db);
    reconcile_ok(s, area, &st);
    cr_assert(stats_zero(&st));
    cr_assert_eq(sqlite3_total_changes(db), changes, "nothing written");
    cr_assert_eq(query_int(db, "SELECT count(*) FROM facility "
                               "WHERE name = 'changed behind'"),
                 1, "skipped: the walk would have put the name back");

    /* An edited value anywhere runs it: the whole walk, so the facility
     * changed behind its back is put back too. */
    char *a = edit(area, "tags: [isolation_room, nursing]",
                   "tags: [isolation_room, nursing, bariatric]");
    reconcile_ok(s, a, &st);
    cr_assert_eq(st.facilities_changed, 1);
    cr_assert_gt(st.beds_changed, 0);
    cr_assert_eq(query_int(db, "SELECT count(*) FROM facility "
                               "WHERE name = 'changed behind'"),
                 0);
    /* And back: the earlier hash is not mistaken for the current one. */
    reconcile_ok(s, area, &st);
    cr_assert_gt(st.beds_changed, 0);
    reconcile_ok(s, area, &st);
    cr_assert(stats_zero(&st));

    /* A hash from another schema version (a migration) is a change. */
    exec_ok(db, "UPDATE config_loaded SET sha256 = zeroblob(32)");
    exec_ok(db, "UPDATE facility SET name = 'changed behind' "
                "WHERE id = (SELECT min(id) FROM facility)");
    reconcile_ok(s, area, &st);
    cr_assert_eq(st.facilities_changed, 1);
    free(a);
    ct_store_close(s);
}

/* Issue 18: a store with no area yet takes a short way (inserts only: no
 * busy beds, nothing to retire, no tags to drop). Its rows must be what
 * the full walk writes: walking again (the hash forgotten) finds nothing
 * to change, and the rows equal a store loaded by the full walk over an
 * area that was there first. */
Test(store, reconcile_into_an_empty_store_writes_what_the_walk_writes)
{
    ct_store *s = open_area();
    sqlite3 *db = ct_store__db(s);
    char *fresh = area_dump(db);
    exec_ok(db, "DELETE FROM config_loaded");
    int changes = sqlite3_total_changes(db);
    ct_reconcile_stats st;
    memset(&st, 0xff, sizeof st);
    reconcile_ok(s, area, &st);
    cr_assert(stats_zero(&st));
    cr_assert_eq(sqlite3_total_changes(db), changes + 1,
                 "no row rewritten but the hash's");
    ct_store_close(s);

    /* The full walk from a store that held a facility already. */
    char *first = edit(area, "tags: [isolation_room, nursing]",
                       "tags: [bariatric]");
    cr_assert_eq(ct_store_open(":memory:", NULL, &s), 0);
    db = ct_store__db(s);
    reconcile_ok(s, first, &st);
    cr_assert_eq(st.beds_added, 10);
    reconcile_ok(s, area, &st);
    cr_assert_gt(st.beds_changed, 0);
    char *walked = area_dump(db);
    cr_assert_str_eq(walked, fresh);
    free(first);
    free(walked);
    free(fresh);
    ct_store_close(s);
}

Test(store, reconcile_refuses_inside_a_transaction)
{
    ct_store *s = open_area();
    ct_config *cfg = load(area);
    ct_diags d = {0};
    cr_assert_eq(ct_store_begin(s), 0);
    log_capture();
    cr_assert_eq(ct_store_reconcile(s, cfg, NULL, &d), CT_ESTATE);
    log_release();
    cr_assert(ct_store_in_transaction(s), "the caller's transaction stays");
    ct_store_rollback(s);
    ct_config_free(cfg);
    ct_store_close(s);
}

Test(store, reconcile_the_demo_area)
{
    const char *dir = ct_test_tmpdir();
    char *path = db_path(dir);
    ct_diags d = {0};
    ct_config *cfg = NULL;
    cr_assert_eq(ct_config_load_demo(&cfg, &d), 0);
    size_t nzones = 0;
    for (size_t i = 0; i < cfg->nfacilities; i++)
        nzones += cfg->facilities[i].nzones;

    ct_store *s;
    cr_assert_eq(ct_store_open(path, NULL, &s), 0);
    ct_reconcile_stats st;
    cr_assert_eq(ct_store_reconcile(s, cfg, &st, &d), 0);
    cr_assert_eq(st.orgs_added, cfg->norgs);
    cr_assert_eq(st.facilities_added, cfg->nfacilities);
    cr_assert_eq(st.zones_added, nzones);
    cr_assert_eq(st.beds_added, cfg->nbeds);
    sqlite3 *db = ct_store__db(s);
    cr_assert_eq(query_int(db, "SELECT count(*) FROM bed"),
                 (long long)cfg->nbeds);
    assert_text(db, "SELECT group_concat(id) FROM (SELECT id FROM bed "
                    "WHERE zone_id = 'willow-red' AND surge = 1 ORDER BY id)",
                "WH-R17,WH-R18,WH-R19,WH-R20");
    assert_text(db, "SELECT cohort FROM zone_cohort WHERE zone_id = "
                    "'willow-green' AND pathogen = 'covid'",
                "negative");
    ct_store_close(s);

    /* A restart: reopen and reconcile the same config, nothing written. */
    cr_assert_eq(ct_store_open(path, NULL, &s), 0);
    db = ct_store__db(s);
    cr_assert_eq(ct_store_reconcile(s, cfg, &st, &d), 0);
    cr_assert(stats_zero(&st));
    cr_assert_eq(sqlite3_total_changes(db), 0);
    cr_assert_eq(d.len, 0);
    ct_store_close(s);
    ct_config_free(cfg);
    free(path);
    ct_test_rmtree(dir);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A large area: correctness at scale, and figures printed, not asserted. */
Test(store, reconcile_large_area)
{
    enum { FACILITIES = 40, ZONES = 5, BEDS = 50 };
    ct_buf y = {0};
    ct_buf_puts(&y, "area: {id: big, name: Big}\n"
                    "organisations:\n  - id: o\n    name: O\n"
                    "facilities:\n");
    for (int f = 0; f < FACILITIES; f++) {
        ct_buf_printf(&y, "  - id: f%d\n    name: F%d\n    kind: care_home\n"
                          "    organisation: o\n    zones:\n", f, f);
        for (int z = 0; z < ZONES; z++)
            ct_buf_printf(&y, "      - id: f%d-z%d\n"
                              "        cohort: {covid: negative}\n"
                              "        beds:\n"
                              "          - range: B%d-%d-001..B%d-%d-%03d\n"
                              "            tags: [nursing, dementia]\n",
                          f, z, f, z, f, z, BEDS);
    }
    ct_config *cfg = load(y.data);
    cr_assert_eq(cfg->nbeds, FACILITIES * ZONES * BEDS);

    const char *dir = ct_test_tmpdir();
    char *path = db_path(dir);
    ct_store *s;
    cr_assert_eq(ct_store_open(path, NULL, &s), 0);
    ct_diags d = {0};
    ct_reconcile_stats st;
    double t0 = now_ms();
    cr_assert_eq(ct_store_reconcile(s, cfg, &st, &d), 0);
    double t1 = now_ms();
    cr_assert_eq(st.beds_added, cfg->nbeds);
    int changes = sqlite3_total_changes(ct_store__db(s));
    cr_assert_eq(ct_store_reconcile(s, cfg, &st, &d), 0);
    double t2 = now_ms();
    cr_assert(stats_zero(&st));
    cr_assert_eq(sqlite3_total_changes(ct_store__db(s)), changes);
    fprintf(stderr,
            "reconcile %zu beds on disk (synchronous full): first load "
            "%.1f ms, unchanged reload %.1f ms\n",
            cfg->nbeds, t1 - t0, t2 - t1);
    ct_store_close(s);
    ct_config_free(cfg);
    ct_buf_free(&y);
    free(path);
    ct_test_rmtree(dir);
}

/* Issue 17: a database deleted or replaced under an open store refuses
 * to commit (before or after the COMMIT) and every later begin. */
Test(store, deleted_file_refuses_commits)
{
    const char *dir = ct_test_tmpdir();
    char *path = db_path(dir);
    ct_store *s;
    cr_assert_eq(ct_store_open(path, NULL, &s), 0);
    cr_assert_eq(ct_store_check_file(s), 0);
    cr_assert_eq(ct_store_begin(s), 0);
    exec_ok(ct_store__db(s), "INSERT INTO organisation VALUES ('o', 'O')");
    cr_assert_eq(unlink(path), 0);
    log_capture();
    cr_assert_eq(ct_store_commit(s), CT_EGONE);
    cr_assert(strstr(log_captured(), "deleted or replaced"), "log: %s",
              log_captured());
    log_release();
    ct_store_rollback(s);
    cr_assert_eq(ct_store_begin(s), CT_EGONE);
    cr_assert_eq(ct_store_refusing(s), CT_EGONE);
    ct_store_close(s);

    /* Replaced by another file of the same name. */
    cr_assert_eq(ct_store_open(path, NULL, &s), 0);
    char other[600];
    snprintf(other, sizeof other, "%s.other", path);
    ct_store *o;
    cr_assert_eq(ct_store_open(other, NULL, &o), 0);
    ct_store_close(o);
    cr_assert_eq(rename(other, path), 0);
    cr_assert_eq(ct_store_check_file(s), CT_EGONE);
    ct_store_close(s);

    cr_assert_eq(ct_store_open(":memory:", NULL, &s), 0);
    cr_assert_eq(ct_store_check_file(s), 0);
    ct_store_close(s);
    free(path);
    ct_test_rmtree(dir);
}

/* Issue 17: one daemon per database; the second is told who holds it. */
Test(store, lock_refuses_a_second_holder)
{
    const char *dir = ct_test_tmpdir();
    char *path = db_path(dir);
    ct_store_lock *a, *b;
    long holder = -1;
    cr_assert_eq(ct_store_lock_acquire(path, &a, &holder), 0);
    cr_assert_eq(ct_store_lock_acquire(path, &b, &holder), CT_EBUSY);
    cr_assert_eq(holder, (long)getpid());
    ct_store_lock_release(a);
    cr_assert_eq(ct_store_lock_acquire(path, &b, &holder), 0);
    ct_store_lock_release(b);
    ct_store_lock_release(NULL);
    free(path);
    ct_test_rmtree(dir);
}

/* Issue 17: integrity checks say ok, and name what is wrong otherwise. */
Test(store, integrity_checks)
{
    const char *dir = ct_test_tmpdir();
    char *path = db_path(dir);
    ct_store *s;
    cr_assert_eq(ct_store_open(path, NULL, &s), 0);
    char msg[200];
    cr_assert_eq(ct_store_check_integrity(s, false, msg, sizeof msg), 0);
    cr_assert_eq(ct_store_check_integrity(s, true, msg, sizeof msg), 0);
    /* An index that no longer matches its table. */
    exec_ok(ct_store__db(s), "INSERT INTO organisation VALUES ('o', 'O');"
                             "PRAGMA writable_schema = ON;");
    ct_store_close(s);
    sqlite3 *db = raw_open(path);
    exec_ok(db, "CREATE TABLE t (a INTEGER); CREATE INDEX t_a ON t (a);"
                "INSERT INTO t VALUES (1), (2), (3);");
    /* Rewrite the table's rows behind the index's back. */
    exec_ok(db, "PRAGMA writable_schema = ON;"
                "UPDATE sqlite_schema SET sql = 'CREATE INDEX t_a ON t (a DESC)'"
                " WHERE name = 't_a';");
    sqlite3_close(db);
    cr_assert_eq(ct_store_open(path, NULL, &s), 0);
    int rc = ct_store_check_integrity(s, true, msg, sizeof msg);
    cr_assert_eq(rc, CT_ECORRUPT, "rc %d: %s", rc, msg);
    cr_assert(msg[0], "a message");
    ct_store_close(s);
    free(path);
    ct_test_rmtree(dir);
}
