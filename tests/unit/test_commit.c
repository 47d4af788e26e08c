/*
 * Group commit with a real store on disk and a real libuv loop: writes of
 * one turn share a transaction, a failing write rolls back alone, callers
 * hear back only after the commit, and a failed commit fails everyone.
 */
#include "commit.h"

#include "error.h"
#include "fixtures.h"
#include "log.h"
#include "store_int.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;
static char path[512];
static uv_loop_t loop;
static ct_store *store;
static ct_commit *committer;
static sqlite3 *observer; /* a second connection: sees only what is committed */

static void on_group(const ct_commit_group_info *info, void *data);

static ct_commit_group_info groups[64];
static size_t ngroups;

/* The write hooks: a log of "b" (before) and "a<result>" (after). */
static char hook_log[256];

static void hook_before(void *data)
{
    (void)data;
    strcat(hook_log, "b");
}

static void hook_after(int result, void *data)
{
    (void)data;
    strcat(hook_log, result ? "a!" : "a0");
}

static void open_all(bool per_request)
{
    ct_log_setup(CT_LOG_AUTO, CT_LOG_WARN);
    dir = ct_test_tmpdir();
    snprintf(path, sizeof path, "%s/area.db", dir);
    cr_assert_eq(uv_loop_init(&loop), 0);
    cr_assert_eq(ct_store_open(path, NULL, &store), 0);
    ct_commit_options o = {.per_request = per_request,
                           .on_group = on_group,
                           .before_write = hook_before,
                           .after_write = hook_after};
    hook_log[0] = '\0';
    cr_assert_eq(ct_commit_new(&loop, store, &o, &committer), 0);
    cr_assert_eq(sqlite3_open(path, &observer), SQLITE_OK);
    ngroups = 0;
}

static bool closed;

static void on_closed(void *data)
{
    (void)data;
    closed = true;
}

static void close_all(void)
{
    closed = false;
    ct_commit_close(committer, on_closed, NULL);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert(closed, "close callback ran");
    cr_assert_eq(uv_loop_close(&loop), 0, "every handle closed");
    sqlite3_close(observer);
    ct_store_close(store);
    ct_test_rmtree(dir);
}

static void on_group(const ct_commit_group_info *info, void *data)
{
    (void)data;
    cr_assert_lt(ngroups, CT_ARRAY_LEN(groups));
    groups[ngroups++] = *info;
}

static long long observed(const char *sql)
{
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(observer, sql, -1, &st, NULL), SQLITE_OK,
                 "%s", sqlite3_errmsg(observer));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static long long orgs_on_disk(void)
{
    return observed("SELECT count(*) FROM organisation");
}

/* Errors the tests provoke on purpose stay out of the output. */
static FILE *devnull;

static void quiet(void)
{
    devnull = fopen("/dev/null", "w");
    ct_log_set_stream(devnull);
}

static void loud(void)
{
    ct_log_set_stream(NULL);
    fclose(devnull);
}

/* ---- writes ------------------------------------------------------------ */

typedef struct job {
    ct_commit_req req;
    char id[32];
    bool fail;       /* insert, then report failure */
    bool called;
    int status;
    long long seen_on_disk; /* rows visible to the observer in the cb */
} job;

static int insert_org(ct_store *s, void *arg)
{
    job *j = arg;
    sqlite3_stmt *st;
    sqlite3 *db = ct_store__db(s);
    cr_assert_eq(sqlite3_prepare_v2(db, "INSERT INTO organisation VALUES "
                                        "(?1, 'x')",
                                    -1, &st, NULL),
                 SQLITE_OK);
    sqlite3_bind_text(st, 1, j->id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ct_err_from_sqlite(rc);
    return j->fail ? CT_EINVAL : 0;
}

static void on_done(ct_commit_req *r, int status)
{
    job *j = r->data;
    cr_assert_not(j->called, "called once");
    j->called = true;
    j->status = status;
    j->seen_on_disk = orgs_on_disk();
}

static void submit(job *j, const char *id)
{
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", id);
    j->req.data = j;
    cr_assert_eq(ct_commit_write(committer, &j->req, insert_org, j, on_done),
                 0);
}

/* ---- tests ------------------------------------------------------------- */

Test(commit, writes_of_one_turn_share_one_commit)
{
    open_all(false);
    enum { N = 50 };
    job jobs[N];
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "org-%d", i);
        submit(&jobs[i], id);
        cr_assert(ct_commit_pending(committer));
    }
    /* Nothing is on disk, and nobody has heard back, before the turn ends. */
    cr_assert_eq(orgs_on_disk(), 0);
    for (int i = 0; i < N; i++)
        cr_assert_not(jobs[i].called);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(ngroups, 1);
    cr_assert_eq(groups[0].writes, N);
    cr_assert_eq(groups[0].failed, 0);
    cr_assert_eq(groups[0].status, 0);
    for (int i = 0; i < N; i++) {
        cr_assert(jobs[i].called);
        cr_assert_eq(jobs[i].status, 0);
        cr_assert_eq(jobs[i].req.result, 0);
        cr_assert_eq(jobs[i].seen_on_disk, N, "answered after the commit");
    }
    cr_assert_not(ct_commit_pending(committer));
    ct_commit_stats st;
    ct_commit_get_stats(committer, &st);
    cr_assert_eq(st.groups, 1);
    cr_assert_eq(st.writes, N);
    close_all();
}

Test(commit, a_failing_write_rolls_back_alone)
{
    open_all(false);
    job a, b, c, dup;
    submit(&a, "a");
    memset(&b, 0, sizeof b);
    snprintf(b.id, sizeof b.id, "b");
    b.fail = true;
    b.req.data = &b;
    cr_assert_eq(ct_commit_write(committer, &b.req, insert_org, &b, on_done),
                 0);
    submit(&c, "c");
    /* A constraint error inside SQL is a failing write too. */
    submit(&dup, "a");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(ngroups, 1);
    cr_assert_eq(groups[0].writes, 4);
    cr_assert_eq(groups[0].failed, 2);
    cr_assert_eq(a.req.result, 0);
    cr_assert_eq(b.req.result, CT_EINVAL);
    cr_assert_eq(c.req.result, 0);
    cr_assert_neq(dup.req.result, 0);
    /* The commit itself succeeded for everyone. */
    cr_assert_eq(a.status, 0);
    cr_assert_eq(b.status, 0);
    cr_assert_eq(dup.status, 0);
    cr_assert_eq(orgs_on_disk(), 2);
    cr_assert_eq(observed("SELECT count(*) FROM organisation WHERE id "
                          "IN ('a','c')"),
                 2);
    /* Each write is bracketed by the hooks, told whether it was kept. */
    cr_assert_str_eq(hook_log, "ba0ba!ba0ba!");
    close_all();
}

static int violate_deferred_fk(ct_store *s, void *arg)
{
    (void)arg;
    sqlite3 *db = ct_store__db(s);
    /* Deferred, the foreign key is checked only at COMMIT, which fails. */
    cr_assert_eq(sqlite3_exec(db, "PRAGMA defer_foreign_keys = ON", NULL,
                              NULL, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "INSERT INTO facility(id, name, kind, "
                                  "org_id) VALUES ('f', 'F', 'rehab', "
                                  "'nobody')",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    return 0;
}

Test(commit, a_failed_commit_fails_the_whole_group)
{
    open_all(false);
    job a, bad, c;
    submit(&a, "a");
    memset(&bad, 0, sizeof bad);
    bad.req.data = &bad;
    cr_assert_eq(ct_commit_write(committer, &bad.req, violate_deferred_fk,
                                 NULL, on_done),
                 0);
    submit(&c, "c");
    quiet();
    uv_run(&loop, UV_RUN_DEFAULT);
    loud();
    cr_assert_eq(ngroups, 1);
    cr_assert_neq(groups[0].status, 0);
    cr_assert_neq(a.status, 0, "nobody was acknowledged");
    cr_assert_neq(bad.status, 0);
    cr_assert_neq(c.status, 0);
    cr_assert_eq(orgs_on_disk(), 0);
    cr_assert_eq(observed("SELECT count(*) FROM facility"), 0);
    /* Every write was kept in the group; the failed commit is on_group's
     * to tell. */
    cr_assert_str_eq(hook_log, "ba0ba0ba0");
    cr_assert_not(ct_store_in_transaction(store));
    /* The committer keeps working after a failed group. */
    job d;
    submit(&d, "d");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(d.status, 0);
    cr_assert_eq(orgs_on_disk(), 1);
    close_all();
}

static int end_the_transaction(ct_store *s, void *arg)
{
    (void)arg;
    /* What SQLite does by itself on a full disk or an I/O error. */
    sqlite3_exec(ct_store__db(s), "ROLLBACK", NULL, NULL, NULL);
    return CT_ESTORE;
}

Test(commit, a_write_that_ends_the_transaction_fails_its_group_only)
{
    open_all(false);
    job a, lost, after;
    submit(&a, "a");
    memset(&lost, 0, sizeof lost);
    lost.req.data = &lost;
    quiet();
    cr_assert_eq(ct_commit_write(committer, &lost.req, end_the_transaction,
                                 NULL, on_done),
                 0);
    loud();
    cr_assert_not(ct_commit_pending(committer));
    /* A later write in the same turn starts a new group. */
    submit(&after, "after");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(a.status, CT_ESTORE);
    cr_assert_eq(lost.status, CT_ESTORE);
    cr_assert_eq(after.status, 0);
    cr_assert_eq(ngroups, 2);
    cr_assert_eq(observed("SELECT count(*) FROM organisation WHERE id = "
                          "'after'"),
                 1);
    cr_assert_eq(orgs_on_disk(), 1);
    close_all();
}

typedef struct deferred {
    ct_commit_req req;
    bool called;
    bool in_tx;
    long long seen_on_disk;
} deferred;

static void on_deferred(ct_commit_req *r, int status)
{
    deferred *d = r->data;
    cr_assert_eq(status, 0);
    d->called = true;
    d->in_tx = ct_store_in_transaction(store);
    d->seen_on_disk = orgs_on_disk();
}

Test(commit, deferred_jobs_run_after_the_group_outside_it)
{
    open_all(false);
    deferred d = {.req.data = &d};
    cr_assert_eq(ct_commit_defer(committer, &d.req, on_deferred), CT_ESTATE,
                 "nothing to wait for");
    cr_assert_not(d.called);
    job a;
    submit(&a, "a");
    cr_assert_eq(ct_commit_defer(committer, &d.req, on_deferred), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert(d.called);
    cr_assert_not(d.in_tx);
    cr_assert_eq(d.seen_on_disk, 1);
    close_all();
}

static void resubmit(ct_commit_req *r, int status)
{
    on_done(r, status);
    /* Called at the end of the first turn: this write is the next's. */
    static job second;
    submit(&second, "second");
    cr_assert(ct_commit_pending(committer));
}

Test(commit, writes_of_different_turns_commit_separately)
{
    open_all(false);
    job first;
    memset(&first, 0, sizeof first);
    snprintf(first.id, sizeof first.id, "first");
    first.req.data = &first;
    cr_assert_eq(ct_commit_write(committer, &first.req, insert_org, &first,
                                 resubmit),
                 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(ngroups, 2);
    cr_assert_eq(groups[0].writes, 1);
    cr_assert_eq(groups[1].writes, 1);
    cr_assert_eq(first.seen_on_disk, 1);
    cr_assert_eq(orgs_on_disk(), 2);
    close_all();
}

static void never(uv_timer_t *t)
{
    (void)t;
    cr_assert_fail("the far timer fired");
}

Test(commit, an_open_group_keeps_the_loop_from_blocking)
{
    open_all(false);
    uv_timer_t far;
    uv_timer_init(&loop, &far);
    uv_timer_start(&far, never, 3600 * 1000, 0);
    uv_run(&loop, UV_RUN_NOWAIT); /* lets libuv register its own watchers */
    cr_assert_gt(uv_backend_timeout(&loop), 0);
    job a;
    submit(&a, "a");
    cr_assert_eq(uv_backend_timeout(&loop), 0, "poll must not wait");
    uv_run(&loop, UV_RUN_ONCE);
    cr_assert(a.called);
    cr_assert_gt(uv_backend_timeout(&loop), 0, "idle again after commit");
    uv_close((uv_handle_t *)&far, NULL);
    close_all();
}

Test(commit, per_request_mode_commits_each_write)
{
    open_all(true);
    enum { N = 5 };
    job jobs[N];
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "org-%d", i);
        submit(&jobs[i], id);
        cr_assert_not(ct_commit_pending(committer));
        cr_assert_eq(orgs_on_disk(), i + 1, "committed at once");
        cr_assert_not(jobs[i].called, "but answered at the end of the turn");
    }
    job bad;
    memset(&bad, 0, sizeof bad);
    snprintf(bad.id, sizeof bad.id, "bad");
    bad.fail = true;
    bad.req.data = &bad;
    cr_assert_eq(ct_commit_write(committer, &bad.req, insert_org, &bad,
                                 on_done),
                 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(ngroups, N + 1);
    for (int i = 0; i < N; i++)
        cr_assert_eq(jobs[i].status, 0);
    cr_assert_eq(bad.req.result, CT_EINVAL);
    cr_assert_eq(orgs_on_disk(), N);
    cr_assert_str_eq(hook_log, "ba0ba0ba0ba0ba0ba!");
    close_all();
}

Test(commit, close_commits_the_open_group)
{
    open_all(false);
    job a;
    submit(&a, "a");
    closed = false;
    ct_commit_close(committer, on_closed, NULL);
    cr_assert(a.called, "answered during close");
    cr_assert_eq(a.status, 0);
    cr_assert_eq(orgs_on_disk(), 1);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert(closed);
    cr_assert_eq(uv_loop_close(&loop), 0);
    sqlite3_close(observer);
    ct_store_close(store);
    ct_test_rmtree(dir);
}
