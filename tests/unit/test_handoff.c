/*
 * The host thread (host/handoff.c) under the group commit: a write whose
 * plugin call runs lets the event loop turn meanwhile, the plugin's host
 * functions run only while the loop holds still, writes that come
 * meanwhile wait and run after it in order, the group stays open (and
 * uncommitted) until it ends, and closing the committer finishes it.
 * Nothing is timed: the plugin's chunk ends only once the loop has turned
 * a few times, which it cannot do if the loop waits for the call (the
 * chunk would run into its deadline instead).
 */
#include "commit.h"

#include "error.h"
#include "fixtures.h"
#include "handoff.h"
#include "log.h"
#include "sandbox.h"
#include "store_int.h"

#include <criterion/criterion.h>
#include <lauxlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *dir;
static char path[512];
static uv_loop_t loop;
static ct_store *store;
static ct_commit *committer;
static ct_handoff *handoff;
static ct_sandbox *sb;
static sqlite3 *observer;

/* The loop's ticks, and whether a tick's callback runs now. */
static uv_timer_t ticker;
static atomic_int ticks;
static atomic_bool in_tick;
/* Host functions that ran while a loop callback did (must stay 0). */
static atomic_int overlaps;
static atomic_int touched;
static int parks;

static void on_tick(uv_timer_t *t)
{
    (void)t;
    atomic_store(&in_tick, true);
    atomic_fetch_add(&ticks, 1);
    usleep(1000); /* a callback that takes a while */
    atomic_store(&in_tick, false);
}

/* host.touch(): host work; host.ticks(): the loop's ticks so far */
static int l_touch(lua_State *L)
{
    if (atomic_load(&in_tick))
        atomic_fetch_add(&overlaps, 1);
    atomic_fetch_add(&touched, 1);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_ticks(lua_State *L)
{
    if (atomic_load(&in_tick))
        atomic_fetch_add(&overlaps, 1);
    lua_pushinteger(L, atomic_load(&ticks));
    return 1;
}

static const luaL_Reg host_funcs[] = {
    {"touch", l_touch},
    {"ticks", l_ticks},
    {NULL, NULL},
};

static int open_host(lua_State *L)
{
    lua_newtable(L);
    ct_sandbox_setfuncs_timed(L, host_funcs);
    lua_setglobal(L, "host");
    return 0;
}

static void on_park(bool parked, void *data)
{
    (void)data;
    if (parked)
        parks++;
}

static void open_all(void)
{
    ct_log_setup(CT_LOG_AUTO, CT_LOG_WARN);
    dir = ct_test_tmpdir();
    snprintf(path, sizeof path, "%s/area.db", dir);
    cr_assert_eq(uv_loop_init(&loop), 0);
    cr_assert_eq(ct_store_open(path, NULL, &store), 0);
    cr_assert_eq(ct_commit_new(&loop, store, NULL, &committer), 0);
    cr_assert_eq(ct_handoff_new(&loop, on_park, NULL, &handoff), 0);
    ct_commit_set_handoff(committer, handoff);
    cr_assert_eq(sqlite3_open(path, &observer), SQLITE_OK);
    static const ct_sandbox_limits lim = {.deadline_ms = 5000};
    cr_assert_eq(ct_sandbox_new("slow", CT_SOURCE_DIR "/tests/lua", &lim, &sb),
                 0);
    cr_assert_eq(ct_sandbox_set_watchdog(sb, 200), 0);
    cr_assert_eq(ct_sandbox_setup(sb, open_host, NULL), 0);
    atomic_store(&ticks, 0);
    atomic_store(&overlaps, 0);
    atomic_store(&touched, 0);
    parks = 0;
}

static void close_all(void)
{
    ct_commit_close(committer, NULL, NULL);
    ct_handoff_close(handoff);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(uv_loop_close(&loop), 0, "every handle closed");
    cr_assert_eq(ct_sandbox_close(sb), 0);
    sqlite3_close(observer);
    ct_store_close(store);
    ct_test_rmtree(dir);
}

static long long orgs_on_disk(void)
{
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(observer,
                                    "SELECT count(*) FROM organisation", -1,
                                    &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* ---- writes ------------------------------------------------------------ */

typedef struct job {
    ct_commit_req req;
    const char *id;
    const char *code; /* plugin code to run first, or NULL */
    int call_rc;
    bool ran, called;
    int status;
    long long seen_on_disk;
} job;

static char order[64];

static int write_fn(ct_store *s, void *arg)
{
    job *j = arg;
    strcat(order, j->id);
    if (j->code) {
        cr_assert_eq(ct_sandbox_load(sb, "chunk", j->code, strlen(j->code)),
                     0);
        j->call_rc = ct_sandbox_call(sb, "chunk", 0, 0);
    }
    sqlite3_stmt *st;
    sqlite3_prepare_v2(ct_store__db(s),
                       "INSERT INTO organisation VALUES (?1, 'x')", -1, &st,
                       NULL);
    sqlite3_bind_text(st, 1, j->id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    strcat(order, ".");
    j->ran = true;
    return rc == SQLITE_DONE ? 0 : CT_ESTORE;
}

static void on_done(ct_commit_req *r, int status)
{
    job *j = r->data;
    j->called = true;
    j->status = status;
    j->seen_on_disk = orgs_on_disk();
    if (!uv_is_closing((uv_handle_t *)&ticker))
        uv_close((uv_handle_t *)&ticker, NULL);
}

static void submit(job *j, const char *id, const char *code)
{
    memset(j, 0, sizeof *j);
    j->id = id;
    j->code = code;
    j->req.data = j;
    cr_assert_eq(ct_commit_write(committer, &j->req, write_fn, j, on_done), 0);
}

/* Ends once the loop has turned five more times: never, if the loop
 * waited for it (then the 5 s deadline ends it with CT_ETIMEOUT). */
#define WAIT_FOR_THE_LOOP                                                    \
    "local t0 = host.ticks() "                                               \
    "while host.ticks() < t0 + 5 do host.touch() end"

Test(handoff, the_loop_turns_while_a_write_waits_for_plugin_code)
{
    open_all();
    order[0] = '\0';
    uv_timer_init(&loop, &ticker);
    uv_timer_start(&ticker, on_tick, 1, 1);
    job a, b;
    submit(&a, "a", WAIT_FOR_THE_LOOP);
    /* Parked: the loop has it back, the group stays open and pending. */
    cr_assert_eq(parks, 1);
    cr_assert(ct_handoff_busy(handoff));
    cr_assert(ct_commit_pending(committer));
    cr_assert_not(a.ran);
    /* A write that comes meanwhile waits its turn. */
    submit(&b, "b", NULL);
    cr_assert_not(b.ran);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(a.call_rc, 0, "%s", ct_sandbox_last_error(sb)->message);
    cr_assert_geq(atomic_load(&ticks), 5);
    cr_assert_gt(atomic_load(&touched), 0);
    cr_assert_eq(atomic_load(&overlaps), 0,
                 "a host function ran while a loop callback did");
    cr_assert_str_eq(order, "a.b.", "one after the other, in order");
    cr_assert(a.called && b.called);
    cr_assert_eq(a.status, 0);
    cr_assert_eq(b.status, 0);
    cr_assert_eq(a.req.result, 0);
    cr_assert_eq(b.req.result, 0);
    cr_assert_eq(a.seen_on_disk, 2, "answered after the group's commit");
    cr_assert_not(ct_commit_pending(committer));
    close_all();
}

Test(handoff, writes_without_plugin_code_end_at_once)
{
    open_all();
    order[0] = '\0';
    uv_timer_init(&loop, &ticker);
    job a;
    submit(&a, "a", NULL);
    cr_assert(a.ran, "ran before ct_commit_write returned");
    cr_assert_eq(parks, 0);
    cr_assert_not(ct_handoff_busy(handoff));
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert(a.called);
    cr_assert_eq(a.status, 0);
    close_all();
}

Test(handoff, closing_finishes_a_parked_write_and_those_behind_it)
{
    open_all();
    order[0] = '\0';
    uv_timer_init(&loop, &ticker);
    job a, b;
    submit(&a, "a", "for i = 1, 20000 do host.touch() end");
    submit(&b, "b", NULL);
    ct_commit_close(committer, NULL, NULL);
    cr_assert_str_eq(order, "a.b.");
    cr_assert(a.called && b.called);
    cr_assert_eq(a.status, 0);
    cr_assert_eq(b.status, 0);
    cr_assert_eq(a.call_rc, 0);
    cr_assert_eq(orgs_on_disk(), 2);
    ct_handoff_close(handoff);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(uv_loop_close(&loop), 0);
    cr_assert_eq(ct_sandbox_close(sb), 0);
    sqlite3_close(observer);
    ct_store_close(store);
    ct_test_rmtree(dir);
}
