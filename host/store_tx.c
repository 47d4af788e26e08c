/*
 * The transaction rule (docs/internals.md, "Transactions and events"):
 * transactions, savepoints, ct_store_run, and the watchers that follow
 * them (after-commit work, state undone with a rollback).
 *
 * The store counts the levels it opened itself: level 0 is the
 * transaction, each savepoint one more. SQLite may end a transaction on
 * its own (I/O, full disk, out of memory); the next call that asks about
 * or changes the transaction notices and tells the watchers then.
 */
#include "store_int.h"
#include "store_tx.h"

#include "error.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define UNIT "store"

static int run_cached(ct_store *s, ct_stmt id)
{
    sqlite3_stmt *st = ct_store__stmt(s, id);
    if (!st)
        return CT_ESTORE;
    return ct_store__step_done(s, st);
}

void ct_store__txs_free(ct_store_txs *t)
{
    free(t->levels);
    t->levels = NULL;
    t->depth = t->cap = 0;
}

/* ---- watchers ---------------------------------------------------------- */

int ct_store_watch(ct_store *s, const ct_store_watcher *w, void *data)
{
    ct_store_txs *t = ct_store__txs(s);
    for (size_t i = 0; i < CT_STORE_MAX_WATCHERS; i++) {
        if (t->watch[i].w)
            continue;
        t->watch[i] = (ct_store_watch_slot){w, data};
        /* Levels already open: the changes before now are not its. */
        size_t m = w->mark ? w->mark(data) : 0;
        for (size_t l = 0; l < t->depth; l++)
            t->levels[l].marks[i] = m;
        return 0;
    }
    ct_log_error(UNIT, "more than %d transaction watchers",
                 CT_STORE_MAX_WATCHERS);
    return CT_ELIMIT;
}

void ct_store_unwatch(ct_store *s, const ct_store_watcher *w, void *data)
{
    ct_store_txs *t = ct_store__txs(s);
    for (size_t i = 0; i < CT_STORE_MAX_WATCHERS; i++)
        if (t->watch[i].w == w && t->watch[i].data == data)
            t->watch[i] = (ct_store_watch_slot){0};
}

/* Opens a level: every watcher's mark. */
static int push_level(ct_store_txs *t)
{
    if (ct_grow(&t->levels, &t->cap, t->depth, sizeof *t->levels, 8))
        return CT_ENOMEM;
    ct_store_level *l = &t->levels[t->depth++];
    for (size_t i = 0; i < CT_STORE_MAX_WATCHERS; i++) {
        const ct_store_watch_slot *w = &t->watch[i];
        l->marks[i] = w->w && w->w->mark ? w->w->mark(w->data) : 0;
    }
    return 0;
}

/* The changes since level l opened are gone; whole when the transaction
 * ended with them. Closes level l and every level above it. */
static void undo_to(ct_store_txs *t, size_t l, bool whole)
{
    if (l >= t->depth)
        return;
    ct_store_level lv = t->levels[l];
    t->depth = l;
    for (size_t i = 0; i < CT_STORE_MAX_WATCHERS; i++) {
        const ct_store_watch_slot w = t->watch[i];
        if (w.w && w.w->undo)
            w.w->undo(w.data, lv.marks[i], whole);
    }
}

static void committed(ct_store_txs *t)
{
    t->depth = 0;
    /* A watcher's work (delivering events) may begin and commit further
     * transactions: it sees the store with nothing open. */
    for (size_t i = 0; i < CT_STORE_MAX_WATCHERS; i++) {
        const ct_store_watch_slot w = t->watch[i];
        if (w.w && w.w->committed)
            w.w->committed(w.data);
    }
}

/* SQLite ended the transaction itself (or it never was ours): the levels
 * the store counted are gone. */
static void settle(ct_store *s)
{
    ct_store_txs *t = ct_store__txs(s);
    if (t->depth && sqlite3_get_autocommit(ct_store__db(s)))
        undo_to(t, 0, true);
}

/* ---- transactions ------------------------------------------------------ */

int ct_store_begin(ct_store *s)
{
    int refuse = ct_store_refusing(s);
    if (refuse)
        return refuse;
    settle(s);
    if (!sqlite3_get_autocommit(ct_store__db(s))) {
        ct_log_error(UNIT, "begin: a transaction is already open");
        return CT_ESTATE;
    }
    int err = run_cached(s, CT_STMT_BEGIN);
    if (err)
        return err;
    if ((err = push_level(ct_store__txs(s)))) {
        run_cached(s, CT_STMT_ROLLBACK);
        return err;
    }
    return 0;
}

int ct_store_commit(ct_store *s)
{
    settle(s);
    if (sqlite3_get_autocommit(ct_store__db(s))) {
        ct_log_error(UNIT, "commit: no transaction is open");
        return CT_ESTATE;
    }
    /* Before, so a group is not committed into a file already gone; and
     * after, since an unlink during the commit loses it just the same:
     * then the caller hears a failure, never an acknowledgement, and the
     * watchers drop what they held for it. */
    int err = ct_store_check_file(s);
    if (!err)
        err = run_cached(s, CT_STMT_COMMIT);
    if (err) {
        settle(s); /* a failed COMMIT may have ended it */
        return err;
    }
    ct_store_txs *t = ct_store__txs(s);
    if ((err = ct_store_check_file(s))) {
        undo_to(t, 0, true);
        return err;
    }
    committed(t);
    return 0;
}

void ct_store_rollback(ct_store *s)
{
    if (!sqlite3_get_autocommit(ct_store__db(s)))
        run_cached(s, CT_STMT_ROLLBACK);
    undo_to(ct_store__txs(s), 0, true);
}

bool ct_store_in_transaction(ct_store *s)
{
    settle(s);
    return !sqlite3_get_autocommit(ct_store__db(s));
}

void ct_store_end_reads(ct_store *s)
{
    sqlite3 *db = ct_store__db(s);
    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st;
         st = sqlite3_next_stmt(db, st))
        if (sqlite3_stmt_busy(st))
            sqlite3_reset(st);
}

/* A savepoint outside a transaction would start one (SQLite's rule);
 * the callers want the transaction's bounds to stay theirs. */
static int in_tx(ct_store *s, const char *what)
{
    settle(s);
    if (sqlite3_get_autocommit(ct_store__db(s))) {
        ct_log_error(UNIT, "%s: no transaction is open", what);
        return CT_ESTATE;
    }
    return 0;
}

int ct_store_savepoint(ct_store *s)
{
    int err = in_tx(s, "savepoint");
    if (!err)
        err = run_cached(s, CT_STMT_SAVEPOINT);
    if (!err && (err = push_level(ct_store__txs(s))))
        run_cached(s, CT_STMT_RELEASE);
    return err;
}

int ct_store_release(ct_store *s)
{
    int err = in_tx(s, "release");
    if (!err)
        err = run_cached(s, CT_STMT_RELEASE);
    ct_store_txs *t = ct_store__txs(s);
    if (!err && t->depth > 1)
        t->depth--; /* kept: the marks belong to the level below now */
    return err;
}

int ct_store_rollback_to(ct_store *s)
{
    int err = in_tx(s, "rollback to");
    if (!err)
        err = run_cached(s, CT_STMT_ROLLBACK_TO);
    if (!err)
        err = run_cached(s, CT_STMT_RELEASE);
    ct_store_txs *t = ct_store__txs(s);
    if (!err && t->depth > 1)
        undo_to(t, t->depth - 1, false);
    settle(s);
    return err;
}

/* ---- the rule ------------------------------------------------------------ */

int ct_store_enter(ct_store *s, bool *own)
{
    *own = !ct_store_in_transaction(s);
    return *own ? ct_store_begin(s) : ct_store_savepoint(s);
}

int ct_store_leave(ct_store *s, bool own, int rc)
{
    if (rc == 0)
        rc = own ? ct_store_commit(s) : ct_store_release(s);
    if (rc == 0)
        return 0;
    if (own)
        ct_store_rollback(s);
    else if (ct_store_in_transaction(s))
        ct_store_rollback_to(s); /* errors leave the caller's to its own */
    return rc;
}

int ct_store_run(ct_store *s, ct_store_fn fn, void *arg)
{
    bool own;
    int rc = ct_store_enter(s, &own);
    if (rc)
        return rc;
    return ct_store_leave(s, own, fn(s, arg));
}
