#include "error.h"
#include "fixtures.h"
#include "log.h"
#include "store_int.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    free(path);
    ct_test_rmtree(dir);
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
                 CT_EIO);
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
    /* close finalizes them all (ASan reports a leak otherwise). */
    ct_store_close(s);
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
            "  (2, '9990000018', 'acute', '2025-01-06', 0, 0);"
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
                " ('b2', 2, 'hold', 1, 20, NULL, NULL)");
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
