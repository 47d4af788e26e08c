#include "audit.h"
#include "error.h"
#include "fixtures.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1795392000000LL /* 2026-11-23T00:00:00Z */

static char dir[256], db_path[300], head_path[320];

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s", ct_test_tmpdir());
    snprintf(db_path, sizeof db_path, "%s/area.db", dir);
    snprintf(head_path, sizeof head_path, "%s.audit-head", db_path);
    cr_assert_geq(sodium_init(), 0);
}

static void teardown(void)
{
    ct_test_rmtree(dir);
}

TestSuite(audit, .init = setup, .fini = teardown);

static ct_store *open_store(void)
{
    ct_store *s = NULL;
    cr_assert_eq(ct_store_open(db_path, NULL, &s), 0);
    return s;
}

static void reset_db(void)
{
    static const char *const suffix[] = {"", "-wal", "-shm", ".audit-head"};
    for (size_t i = 0; i < CT_ARRAY_LEN(suffix); i++) {
        char p[340];
        snprintf(p, sizeof p, "%s%s", db_path, suffix[i]);
        unlink(p);
    }
}

/* Appends n events in one transaction each, syncing the head file after
 * every commit as a daemon does. */
static void append_n(ct_store *s, int n, bool sync)
{
    for (int i = 0; i < n; i++) {
        json_t *p = json_pack("{s:s, s:i}", "bed", "demo-bed-1", "i", i);
        int64_t seq = 0;
        int64_t before = ct_audit_head(s);
        cr_assert_eq(ct_store_begin(s), 0);
        cr_assert_eq(ct_audit_append(s, T0 + i * 1000, "org:demo-acute",
                                     "hold.created", p, &seq),
                     0);
        cr_assert_eq(ct_store_commit(s), 0);
        cr_assert_eq(seq, before + 1);
        if (sync)
            cr_assert_eq(ct_audit_sync_head(s), 0);
        json_decref(p);
    }
}

static void make_chain(int n)
{
    ct_store *s = open_store();
    append_n(s, n, true);
    ct_store_close(s);
}

/* As an attacker with the sqlite3 shell: a separate raw connection. */
static void raw_sql(const char *sql)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL),
                 SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
}

/* Reads one blob column of one row through a raw connection. */
static void raw_blob(const char *sql, uint8_t *out, int len)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    cr_assert_eq(sqlite3_column_bytes(st, 0), len);
    memcpy(out, sqlite3_column_blob(st, 0), (size_t)len);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static char *raw_text(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    char *t = ct_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return t;
}

/* Verifies on a fresh read-only connection; returns the report. */
static ct_audit_report verify_ro(int want_rc)
{
    ct_store_options o = {.readonly = true};
    ct_store *s = NULL;
    cr_assert_eq(ct_store_open(db_path, &o, &s), 0);
    ct_audit_report r;
    int rc = ct_audit_verify(s, &r);
    ct_store_close(s);
    cr_assert_eq(rc, want_rc, "verify: %s (%s at %lld)", ct_err_name(rc),
                 r.reason, (long long)r.first_bad);
    return r;
}

static void expect_broken(int64_t seq, const char *why)
{
    ct_audit_report r = verify_ro(CT_ECORRUPT);
    cr_assert_eq(r.first_bad, seq, "first bad %lld (%s), wanted %lld",
                 (long long)r.first_bad, r.reason, (long long)seq);
    cr_assert(strstr(r.reason, why), "reason '%s' lacks '%s'", r.reason, why);
}

static void write_head_file(const char *text)
{
    FILE *f = fopen(head_path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- append -------------------------------------------------------- */

Test(audit, appends_inside_a_transaction)
{
    ct_store *s = open_store();
    cr_assert_eq(ct_audit_head(s), 0);
    cr_assert_eq(ct_store_begin(s), 0);
    int64_t a = 0, b = 0, c = 0;
    cr_assert_eq(ct_audit_append(s, T0, "host", "area.loaded", NULL, &a), 0);
    cr_assert_eq(ct_audit_append(s, T0, "host", "bed.added", NULL, &b), 0);
    cr_assert_eq(ct_audit_head(s), 2, "head visible inside the transaction");
    cr_assert_eq(ct_store_commit(s), 0);
    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert_eq(ct_audit_append(s, T0 + 1, "plugin:stepdown", "hold.created",
                                 NULL, NULL),
                 0);
    ct_store_rollback(s);
    cr_assert_eq(ct_audit_head(s), 2, "rollback takes the event back");
    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert_eq(ct_audit_append(s, T0 + 2, "plugin:stepdown", "hold.created",
                                 NULL, &c),
                 0);
    cr_assert_eq(ct_store_commit(s), 0);
    cr_assert_eq(a, 1);
    cr_assert_eq(b, 2);
    cr_assert_eq(c, 3);

    ct_audit_report r;
    cr_assert_eq(ct_audit_verify(s, &r), 0, "%s", r.reason);
    cr_assert_eq(r.events, 3);
    cr_assert_eq(r.head_seq, 3);
    cr_assert_eq(r.first_bad, 0);
    cr_assert_eq(r.head_file_seq, -1, "never synced");
    /* Inside a transaction verify sees the transaction's own state. */
    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert_eq(ct_audit_append(s, T0 + 3, "host", "x.y", NULL, NULL), 0);
    cr_assert_eq(ct_audit_verify(s, &r), 0, "%s", r.reason);
    cr_assert_eq(r.events, 4);
    cr_assert(ct_store_in_transaction(s), "verify leaves it open");
    cr_assert_eq(ct_store_commit(s), 0);
    ct_store_close(s);
}

Test(audit, refuses_outside_a_transaction_and_bad_arguments)
{
    ct_store *s = open_store();
    json_t *arr = json_array();
    cr_assert_eq(ct_audit_append(s, T0, "host", "x.y", NULL, NULL),
                 CT_ESTATE);
    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert_eq(ct_audit_append(s, T0, "host", "x.y", arr, NULL), CT_EINVAL);
    cr_assert_eq(ct_audit_append(s, T0, "", "x.y", NULL, NULL), CT_EINVAL);
    cr_assert_eq(ct_audit_append(s, T0, "host", NULL, NULL, NULL), CT_EINVAL);
    cr_assert_eq(ct_audit_append(s, T0, "\xff", "x.y", NULL, NULL),
                 CT_EINVAL, "not UTF-8");
    cr_assert_eq(ct_store_commit(s), 0);
    cr_assert_eq(ct_audit_head(s), 0, "nothing written");
    json_decref(arr);
    ct_store_close(s);
}

Test(audit, canonical_bytes_and_hash_are_as_documented)
{
    ct_store *s = open_store();
    json_t *p = json_pack("{s:[i,i], s:s}", "b", 1, 2, "a", "\xc3\xa9");
    json_t *p2 = json_pack("{s:f, s:n, s:b}", "r", 0.5, "z", "t", 1);
    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert_eq(ct_audit_append(s, T0, "host", "demo.started", p, NULL), 0);
    cr_assert_eq(ct_audit_append(s, T0 + 7, "org:demo-acute", "x.y", p2,
                                 NULL),
                 0);
    cr_assert_eq(ct_store_commit(s), 0);
    ct_store_close(s);

    /* The bytes audit.h documents, written out by hand. */
    static const char c1[] =
        "{\"actor\":\"host\",\"at\":1795392000000,\"kind\":\"demo.started\","
        "\"payload\":{\"a\":\"\\u00E9\",\"b\":[1,2]},\"seq\":1}";
    static const char c2[] =
        "{\"actor\":\"org:demo-acute\",\"at\":1795392000007,\"kind\":\"x.y\","
        "\"payload\":{\"r\":0.5,\"t\":true,\"z\":null},\"seq\":2}";
    /* ...which is what jansson writes for the whole object. */
    json_t *whole = json_pack("{s:s, s:I, s:s, s:O, s:i}", "actor", "host",
                              "at", (json_int_t)T0, "kind", "demo.started",
                              "payload", p, "seq", 1);
    cr_assert_not_null(whole);
    char *dumped = json_dumps(whole, JSON_SORT_KEYS | JSON_COMPACT |
                                         JSON_ENSURE_ASCII);
    cr_assert_str_eq(dumped, c1);
    free(dumped);
    json_decref(whole);

    char *stored = raw_text("SELECT payload FROM event WHERE seq = 1");
    cr_assert_str_eq(stored, "{\"a\":\"\\u00E9\",\"b\":[1,2]}");
    free(stored);

    uint8_t msg[32 + sizeof c2], want1[32], want2[32], got[32];
    memset(msg, 0, 32);
    memcpy(msg + 32, c1, sizeof c1 - 1);
    crypto_hash_sha256(want1, msg, 32 + sizeof c1 - 1);
    raw_blob("SELECT hash FROM event WHERE seq = 1", got, 32);
    cr_assert_arr_eq(got, want1, 32);
    raw_blob("SELECT prev_hash FROM event WHERE seq = 1", got, 32);
    cr_assert_arr_eq(got, msg, 32, "first prev_hash is zero");

    memcpy(msg, want1, 32);
    memcpy(msg + 32, c2, sizeof c2 - 1);
    crypto_hash_sha256(want2, msg, 32 + sizeof c2 - 1);
    raw_blob("SELECT prev_hash FROM event WHERE seq = 2", got, 32);
    cr_assert_arr_eq(got, want1, 32);
    raw_blob("SELECT hash FROM event WHERE seq = 2", got, 32);
    cr_assert_arr_eq(got, want2, 32);
    raw_blob("SELECT hash FROM chain_head", got, 32);
    cr_assert_arr_eq(got, want2, 32);
    json_decref(p);
    json_decref(p2);
}

/* Awkward actor and kind strings hash as jansson would write them. */
Test(audit, escapes_match_jansson)
{
    static const char *const names[] = {
        "org:\"quoted\"", "back\\slash", "tab\there", "slash/ok",
        "caf\xc3\xa9", "\x7f", "emoji \xf0\x9f\x98\x80", "nl\n",
    };
    ct_store *s = open_store();
    cr_assert_eq(ct_store_begin(s), 0);
    for (size_t i = 0; i < CT_ARRAY_LEN(names); i++)
        cr_assert_eq(ct_audit_append(s, T0, names[i], names[i], NULL, NULL),
                     0);
    cr_assert_eq(ct_store_commit(s), 0);
    ct_store_close(s);

    uint8_t prev[32] = {0}, want[32], got[32];
    for (size_t i = 0; i < CT_ARRAY_LEN(names); i++) {
        json_t *o = json_pack("{s:s, s:I, s:s, s:{}, s:I}", "actor", names[i],
                              "at", (json_int_t)T0, "kind", names[i],
                              "payload", "seq", (json_int_t)(i + 1));
        cr_assert_not_null(o);
        char *c = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT |
                                    JSON_ENSURE_ASCII);
        size_t n = strlen(c);
        uint8_t *msg = malloc(32 + n);
        memcpy(msg, prev, 32);
        memcpy(msg + 32, c, n);
        crypto_hash_sha256(want, msg, 32 + n);
        char sql[80];
        snprintf(sql, sizeof sql, "SELECT hash FROM event WHERE seq = %zu",
                 i + 1);
        raw_blob(sql, got, 32);
        cr_assert_arr_eq(got, want, 32, "%s", c);
        memcpy(prev, want, 32);
        free(msg);
        free(c);
        json_decref(o);
    }
    verify_ro(0);
}

/* The canonical bytes of one event as jansson writes them (what the
 * appender wrote before it had its own writer); caller frees. */
static char *jansson_canonical(int64_t seq, int64_t at, const char *actor,
                               const char *kind, const json_t *payload)
{
    json_t *o = json_pack("{s:s, s:I, s:s, s:O, s:I}", "actor", actor, "at",
                          (json_int_t)at, "kind", kind, "payload", payload,
                          "seq", (json_int_t)seq);
    cr_assert_not_null(o);
    char *c = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
    cr_assert_not_null(c);
    json_decref(o);
    return c;
}

static json_t *payload_n(int i)
{
    switch (i % 5) {
    case 0:
        return json_pack("{s:I, s:I, s:s, s:s, s:s, s:I, s:I}", "hold",
                         (json_int_t)i, "referral", (json_int_t)(i * 3),
                         "bed", "B0001-01", "zone", "f000-z1", "facility",
                         "f000", "expires_at", (json_int_t)(T0 + i),
                         "ttl_ms", (json_int_t)14400000);
    case 1:
        return json_pack("{s:s, s:[s,s], s:{s:n, s:b}}", "reason",
                         "caf\xc3\xa9 \"shut\"\n\x01", "beds", "B\xf0\x9f\x98\x80",
                         "\\", "nested", "z", "a", 0);
    case 2:
        return json_pack("{s:f, s:I, s:I}", "share", 0.1 * i, "big",
                         (json_int_t)INT64_MAX, "small",
                         (json_int_t)INT64_MIN);
    case 3:
        return json_object();
    default:
        return json_pack("{s:i, s:i, s:i, s:s}", "b", 2, "a", 1, "ab", 3,
                         "", "empty key");
    }
}

/*
 * Events written the old way (jansson's text, inserted as the old appender
 * did) and events appended now form one chain that verifies; every new
 * row stores jansson's payload text and hashes jansson's canonical bytes.
 */
Test(audit, old_and_new_rows_verify_as_one_chain)
{
    ct_store *s = open_store();
    ct_store_close(s);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL),
                 SQLITE_OK);
    uint8_t prev[32] = {0}, hash[32];
    int n = 0;
    for (; n < 10; n++) {
        json_t *p = payload_n(n);
        char *ptext = json_dumps(p, JSON_SORT_KEYS | JSON_COMPACT |
                                        JSON_ENSURE_ASCII);
        char *c = jansson_canonical(n + 1, T0 + n, "org:demo-acute",
                                    "hold.created", p);
        size_t len = strlen(c);
        uint8_t *msg = malloc(32 + len);
        memcpy(msg, prev, 32);
        memcpy(msg + 32, c, len);
        crypto_hash_sha256(hash, msg, 32 + len);
        sqlite3_stmt *st = NULL;
        cr_assert_eq(sqlite3_prepare_v2(
                         db,
                         "INSERT INTO event VALUES (?1, ?2, 'org:demo-acute',"
                         " 'hold.created', ?3, ?4, ?5)",
                         -1, &st, NULL),
                     SQLITE_OK);
        sqlite3_bind_int(st, 1, n + 1);
        sqlite3_bind_int64(st, 2, T0 + n);
        sqlite3_bind_text(st, 3, ptext, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, prev, 32, SQLITE_STATIC);
        sqlite3_bind_blob(st, 5, hash, 32, SQLITE_STATIC);
        cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
        memcpy(prev, hash, 32);
        free(msg);
        free(c);
        free(ptext);
        json_decref(p);
    }
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "INSERT INTO chain_head VALUES (1, ?1, ?2)",
                                    -1, &st, NULL),
                 SQLITE_OK);
    sqlite3_bind_int(st, 1, n);
    sqlite3_bind_blob(st, 2, prev, 32, SQLITE_STATIC);
    cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    verify_ro(0);

    s = open_store();
    cr_assert_eq(ct_store_begin(s), 0);
    for (; n < 30; n++) {
        json_t *p = payload_n(n);
        int64_t seq = 0;
        cr_assert_eq(ct_audit_append(s, T0 + n, "plugin:caf\xc3\xa9",
                                     "hold.created", p, &seq),
                     0);
        cr_assert_eq(seq, n + 1);
        json_decref(p);
    }
    cr_assert_eq(ct_store_commit(s), 0);
    cr_assert_eq(ct_audit_sync_head(s), 0);
    ct_store_close(s);
    verify_ro(0);

    for (int i = 10; i < 30; i++) {
        json_t *p = payload_n(i);
        char sql[80];
        snprintf(sql, sizeof sql, "SELECT payload FROM event WHERE seq = %d",
                 i + 1);
        char *stored = raw_text(sql);
        char *want = json_dumps(p, JSON_SORT_KEYS | JSON_COMPACT |
                                       JSON_ENSURE_ASCII);
        cr_assert_str_eq(stored, want);
        char *c = jansson_canonical(i + 1, T0 + i, "plugin:caf\xc3\xa9",
                                    "hold.created", p);
        size_t len = strlen(c);
        uint8_t *msg = malloc(32 + len), got[32];
        memcpy(msg, prev, 32);
        memcpy(msg + 32, c, len);
        crypto_hash_sha256(hash, msg, 32 + len);
        snprintf(sql, sizeof sql, "SELECT hash FROM event WHERE seq = %d",
                 i + 1);
        raw_blob(sql, got, 32);
        cr_assert_arr_eq(got, hash, 32, "%s", c);
        memcpy(prev, hash, 32);
        free(msg);
        free(c);
        free(want);
        free(stored);
        json_decref(p);
    }
}

/* A payload given as members is stored and hashed as the same object
 * given as a json_t would be. */
Test(audit, members_payload_is_the_object_payload)
{
    ct_store *s = open_store();
    ct_json_member m[] = {
        {"ttl_ms", NULL, 14400000},    {"bed", "B0001-01", 0},
        {"hold", NULL, 12},            {"zone", "caf\xc3\xa9 \"z\"", 0},
        {"referral", NULL, INT64_MIN}, {"expires_at", NULL, T0},
    };
    json_t *o = ct_json_members_object(m, CT_ARRAY_LEN(m));
    cr_assert_not_null(o);
    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert_eq(ct_audit_append_members(s, T0, "host", "hold.created", m,
                                         CT_ARRAY_LEN(m), NULL),
                 0);
    cr_assert_eq(ct_audit_append(s, T0, "host", "hold.created", o, NULL), 0);
    cr_assert_eq(ct_audit_append_members(s, T0, "host", "x.y", NULL, 0,
                                         NULL),
                 0);
    ct_json_member bad[] = {{"k", "\xff", 0}};
    cr_assert_eq(ct_audit_append_members(s, T0, "host", "x.y", bad, 1, NULL),
                 CT_EINVAL);
    cr_assert_eq(ct_store_commit(s), 0);
    cr_assert_eq(ct_audit_head(s), 3, "the refused one wrote nothing");
    ct_store_close(s);
    char *p1 = raw_text("SELECT payload FROM event WHERE seq = 1");
    char *p2 = raw_text("SELECT payload FROM event WHERE seq = 2");
    char *p3 = raw_text("SELECT payload FROM event WHERE seq = 3");
    char *want = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT |
                                   JSON_ENSURE_ASCII);
    cr_assert_str_eq(p1, want);
    cr_assert_str_eq(p2, want);
    cr_assert_str_eq(p3, "{}");
    free(want);
    free(p1);
    free(p2);
    free(p3);
    json_decref(o);
    verify_ro(0);
}

/* A payload string that is not UTF-8 (only json_*_nocheck can make one)
 * is refused and writes nothing. */
Test(audit, payload_text_not_utf8_is_refused)
{
    ct_store *s = open_store();
    json_t *p = json_object();
    json_object_set_new(p, "bad", json_stringn_nocheck("\xc3", 1));
    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert_eq(ct_audit_append(s, T0, "host", "x.y", p, NULL), CT_EINVAL);
    cr_assert_eq(ct_store_commit(s), 0);
    cr_assert_eq(ct_audit_head(s), 0, "nothing written");
    json_decref(p);
    ct_store_close(s);
}

/* ---- verify: tampering --------------------------------------------- */

Test(audit, intact_and_empty_chains_verify)
{
    ct_store *s = open_store();
    ct_audit_report r;
    cr_assert_eq(ct_audit_verify(s, &r), 0);
    cr_assert_eq(r.events, 0);
    cr_assert_eq(r.head_seq, 0);
    ct_store_close(s);
    make_chain(5);
    r = verify_ro(0);
    cr_assert_eq(r.events, 5);
    cr_assert_eq(r.head_seq, 5);
    cr_assert_eq(r.head_file_seq, 5);
}

Test(audit, edited_fields_show_at_their_seq)
{
    make_chain(5);
    raw_sql("UPDATE event SET payload = '{\"bed\":\"demo-bed-2\",\"i\":2}'"
            " WHERE seq = 3");
    expect_broken(3, "hash does not match");
}

Test(audit, edited_actor_kind_at_and_hash)
{
    static const struct {
        const char *sql;
        int64_t seq;
    } cases[] = {
        {"UPDATE event SET actor = 'org:other' WHERE seq = 2", 2},
        {"UPDATE event SET kind = 'hold.expired' WHERE seq = 4", 4},
        {"UPDATE event SET at = at + 1 WHERE seq = 1", 1},
        {"UPDATE event SET hash = zeroblob(32) WHERE seq = 5", 5},
        {"UPDATE event SET payload = payload || ' ' WHERE seq = 5", 5},
    };
    for (size_t i = 0; i < CT_ARRAY_LEN(cases); i++) {
        reset_db();
        make_chain(5);
        raw_sql(cases[i].sql);
        expect_broken(cases[i].seq, "hash does not match");
    }
}

Test(audit, edit_with_rehash_shows_at_the_next_link)
{
    make_chain(5);
    /* The attacker recomputes event 3's hash after editing it. */
    raw_sql("UPDATE event SET actor = 'org:other' WHERE seq = 3");
    char *p = raw_text("SELECT payload FROM event WHERE seq = 3");
    uint8_t prev[32], h[32];
    raw_blob("SELECT prev_hash FROM event WHERE seq = 3", prev, 32);
    char canon[512];
    int n = snprintf(canon, sizeof canon,
                     "{\"actor\":\"org:other\",\"at\":%lld,\"kind\":"
                     "\"hold.created\",\"payload\":%s,\"seq\":3}",
                     (long long)(T0 + 2000), p);
    uint8_t msg[600];
    memcpy(msg, prev, 32);
    memcpy(msg + 32, canon, (size_t)n);
    crypto_hash_sha256(h, msg, 32 + (size_t)n);
    char hex[65], sql[200];
    ct_hex_encode(h, 32, hex);
    snprintf(sql, sizeof sql, "UPDATE event SET hash = x'%s' WHERE seq = 3",
             hex);
    raw_sql(sql);
    free(p);
    expect_broken(4, "prev_hash does not match the hash of event 3");
}

Test(audit, first_prev_hash_must_be_zero)
{
    make_chain(2);
    raw_sql("UPDATE event SET prev_hash = randomblob(32) WHERE seq = 1");
    expect_broken(1, "not zero");
}

Test(audit, inserted_rows_show)
{
    make_chain(5);
    /* Make room after event 2 and slip a forged event in. */
    raw_sql("UPDATE event SET seq = seq + 100 WHERE seq >= 3;"
            "UPDATE event SET seq = seq - 99 WHERE seq >= 103;"
            "INSERT INTO event (seq, at, actor, kind, payload, prev_hash, hash)"
            " SELECT 3, at, actor, 'hold.cancelled', payload, hash,"
            " randomblob(32) FROM event WHERE seq = 2;"
            "UPDATE chain_head SET seq = 6;");
    expect_broken(3, "hash does not match");
}

Test(audit, appended_row_beyond_the_head_shows)
{
    make_chain(5);
    raw_sql("INSERT INTO event (seq, at, actor, kind, payload, prev_hash, hash)"
            " SELECT 6, at, actor, kind, payload, hash, randomblob(32)"
            " FROM event WHERE seq = 5");
    expect_broken(6, "hash does not match");
}

Test(audit, deleted_middle_rows_show)
{
    make_chain(5);
    raw_sql("DELETE FROM event WHERE seq = 3");
    expect_broken(3, "event 3 is missing");

    /* Renumbering to close the gap breaks the link instead. */
    reset_db();
    make_chain(5);
    raw_sql("DELETE FROM event WHERE seq = 3;"
            "UPDATE event SET seq = seq + 100 WHERE seq > 3;"
            "UPDATE event SET seq = seq - 101 WHERE seq > 100;"
            "UPDATE chain_head SET seq = 4;");
    expect_broken(3, "prev_hash does not match the hash of event 2");
}

Test(audit, deleted_newest_rows_show_through_chain_head)
{
    make_chain(5);
    raw_sql("DELETE FROM event WHERE seq >= 4");
    expect_broken(4, "chain_head records seq 5");
}

Test(audit, deleted_newest_rows_show_through_the_head_file)
{
    make_chain(5);
    /* The attacker rewrites chain_head too; the head file still knows. */
    raw_sql("DELETE FROM event WHERE seq >= 4;"
            "UPDATE chain_head SET seq = 3,"
            " hash = (SELECT hash FROM event WHERE seq = 3);");
    expect_broken(4, "head file records seq 5");

    /* Truncated, then grown again past the head file: the event at the
     * head file's seq is not the one it recorded. */
    ct_store *s = open_store();
    append_n(s, 3, false);
    ct_store_close(s);
    expect_broken(5, "differs from the head file");
}

Test(audit, deleted_chain_head_shows)
{
    make_chain(3);
    raw_sql("DELETE FROM chain_head");
    expect_broken(1, "beyond the recorded chain head");
}

Test(audit, edited_chain_head_hash_shows)
{
    make_chain(3);
    raw_sql("UPDATE chain_head SET hash = randomblob(32)");
    expect_broken(3, "differs from chain_head");
}

/* ---- head file ----------------------------------------------------- */

Test(audit, head_file_holds_the_committed_head)
{
    make_chain(3);
    uint8_t h[32];
    char hex[65], want[100];
    raw_blob("SELECT hash FROM event WHERE seq = 3", h, 32);
    ct_hex_encode(h, 32, hex);
    snprintf(want, sizeof want, "3 %s\n", hex);
    char *text = NULL;
    cr_assert_eq(ct_read_file(head_path, &text, NULL), 0);
    cr_assert_str_eq(text, want);
    free(text);

    ct_store *s = open_store();
    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert_eq(ct_audit_append(s, T0, "host", "x.y", NULL, NULL), 0);
    cr_assert_eq(ct_audit_sync_head(s), CT_ESTATE,
                 "uncommitted heads never reach the file");
    cr_assert_eq(ct_store_commit(s), 0);
    /* Lagging is allowed: a crash between commit and sync. */
    ct_store_close(s);
    ct_audit_report r = verify_ro(0);
    cr_assert_eq(r.head_file_seq, 3);
    cr_assert_eq(r.head_seq, 4);
    s = open_store();
    cr_assert_eq(ct_audit_sync_head(s), 0);
    cr_assert_eq(ct_audit_sync_head(s), 0, "again: nothing to do");
    ct_store_close(s);
    r = verify_ro(0);
    cr_assert_eq(r.head_file_seq, 4);
}

Test(audit, sync_refuses_to_move_the_head_file_back_or_aside)
{
    make_chain(3);
    ct_store *s = open_store();
    char *text = NULL;
    cr_assert_eq(ct_read_file(head_path, &text, NULL), 0);

    /* Ahead of the database: truncation; not overwritten. */
    char ahead[100];
    snprintf(ahead, sizeof ahead, "9%s", strchr(text, ' '));
    write_head_file(ahead);
    cr_assert_eq(ct_audit_sync_head(s), CT_ECORRUPT);
    char *now = NULL;
    cr_assert_eq(ct_read_file(head_path, &now, NULL), 0);
    cr_assert_str_eq(now, ahead);
    free(now);

    /* Same seq, other hash: another chain. */
    write_head_file("3 00112233445566778899aabbccddeeff"
                    "00112233445566778899aabbccddeeff\n");
    cr_assert_eq(ct_audit_sync_head(s), CT_ECORRUPT);
    ct_store_close(s);
    expect_broken(3, "differs from the head file");

    write_head_file(text);
    s = open_store();
    cr_assert_eq(ct_audit_sync_head(s), 0);
    ct_store_close(s);
    verify_ro(0);
    free(text);
}

Test(audit, malformed_head_files_are_reported)
{
    static const char *bad[] = {
        "",
        "3\n",
        "03 0011223344556677889900112233445566778899001122334455667788990011\n",
        "3 0011223344556677889900112233445566778899001122334455667788990011",
        "3  011223344556677889900112233445566778899001122334455667788990011\n",
        "3 0011223344556677889900112233445566778899001122334455667788990011\nx",
        "3 00112233445566778899001122334455667788990011223344556677889900AA\n",
        "-3 011223344556677889900112233445566778899001122334455667788990011\n",
    };
    make_chain(3);
    for (size_t i = 0; i < CT_ARRAY_LEN(bad); i++) {
        write_head_file(bad[i]);
        expect_broken(1, "head file");
        ct_store *s = open_store();
        cr_assert_eq(ct_audit_sync_head(s), CT_ECORRUPT, "'%s'", bad[i]);
        ct_store_close(s);
    }
}

Test(audit, missing_head_file_is_reported_not_fatal)
{
    make_chain(3);
    unlink(head_path);
    ct_audit_report r = verify_ro(0);
    cr_assert_eq(r.head_file_seq, -1);
    cr_assert_eq(r.events, 3);
}

Test(audit, in_memory_stores_have_no_head_file)
{
    ct_store *s = NULL;
    cr_assert_eq(ct_store_open(":memory:", NULL, &s), 0);
    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert_eq(ct_audit_append(s, T0, "host", "x.y", NULL, NULL), 0);
    cr_assert_eq(ct_store_commit(s), 0);
    cr_assert_eq(ct_audit_sync_head(s), 0);
    ct_audit_report r;
    cr_assert_eq(ct_audit_verify(s, &r), 0);
    cr_assert_eq(r.head_file_seq, -1);
    cr_assert_eq(r.events, 1);
    ct_store_close(s);
}

/* Issue 17: after a clock step back, audit times never go backwards; each
 * event keeps at least its predecessor's time. */
Test(audit, times_never_go_backwards)
{
    ct_store *s = open_store();
    int64_t at[3] = {T0 + 5000, T0, T0 + 6000};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ct_store_begin(s), 0);
        cr_assert_eq(ct_audit_append(s, at[i], "host", "x.y", NULL, NULL), 0);
        cr_assert_eq(ct_store_commit(s), 0);
    }
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(ct_store__db(s),
                                    "SELECT at FROM event ORDER BY seq", -1,
                                    &st, NULL),
                 SQLITE_OK);
    int64_t want[3] = {T0 + 5000, T0 + 5000, T0 + 6000};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
        cr_assert_eq(sqlite3_column_int64(st, 0), want[i], "event %d", i + 1);
    }
    sqlite3_finalize(st);
    ct_audit_report r;
    cr_assert_eq(ct_audit_verify(s, &r), 0);
    ct_store_close(s);
}

/* Issue 17: the head file anchors the database: one behind it or on
 * another chain is named, and re-anchoring (after a recorded restore)
 * makes it agree again. */
Test(audit, anchor_check_names_a_stale_database)
{
    ct_store *s = open_store();
    append_n(s, 3, true);
    char why[300];
    ct_audit_anchor file;
    cr_assert_eq(ct_audit_check_anchor(s, &file, why, sizeof why), 0);
    cr_assert_eq(file.seq, 3);
    ct_store_close(s);

    /* The database loses its newest event behind the head file's back. */
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "DELETE FROM event WHERE seq = 3;"
                                  "UPDATE chain_head SET seq = 2, hash = "
                                  "(SELECT hash FROM event WHERE seq = 2)",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    s = open_store();
    cr_assert_eq(ct_audit_check_anchor(s, &file, why, sizeof why),
                 CT_ECORRUPT);
    cr_assert(strstr(why, "ends at audit seq 2") &&
                  strstr(why, "records seq 3"),
              "why: %s", why);
    cr_assert_eq(ct_audit_reanchor(s), 0);
    cr_assert_eq(ct_audit_check_anchor(s, &file, why, sizeof why), 0);
    cr_assert_eq(file.seq, 2);
    ct_store_close(s);
}
