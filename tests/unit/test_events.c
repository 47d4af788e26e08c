/*
 * The transaction rule (host/store_tx.c: ct_store_run, watchers) and the
 * event bus (host/events.c): one audit append path, deliveries after the
 * commit that keeps an event, none after a rollback, whoever began the
 * transaction.
 */
#include "audit.h"
#include "clock.h"
#include "error.h"
#include "events.h"
#include "store_int.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx {
    ct_store *s;
    ct_clock *clock;
    ct_events *bus;
    char heard[1024]; /* kinds delivered, joined with ',' */
} fx;

static void hear(const ct_event *ev, void *data)
{
    fx *f = data;
    size_t n = strlen(f->heard);
    snprintf(f->heard + n, sizeof f->heard - n, "%s%s", n ? "," : "",
             ev->kind);
}

static void open_fx(fx *f)
{
    memset(f, 0, sizeof *f);
    cr_assert_eq(ct_store_open(":memory:", NULL, &f->s), 0);
    cr_assert_eq(ct_clock_new_virtual(1700000000000LL, &f->clock), 0);
    cr_assert_eq(ct_events_new(f->s, f->clock, &f->bus), 0);
    cr_assert_eq(ct_events_subscribe(f->bus, CT_EVENTS_ALL, hear, f), 0);
}

static void close_fx(fx *f)
{
    ct_events_free(f->bus);
    ct_clock_close(f->clock, NULL, NULL);
    ct_store_close(f->s);
}

static int record(fx *f, const char *kind)
{
    return ct_events_record(f->bus, "test", kind, json_object(), 0, NULL,
                            NULL);
}

typedef struct rec_args {
    fx *f;
    const char *kind;
    int result; /* what the function returns after recording */
} rec_args;

static int rec_fn(ct_store *s, void *arg)
{
    (void)s;
    rec_args *a = arg;
    int rc = record(a->f, a->kind);
    return rc ? rc : a->result;
}

static long long events_in_log(fx *f)
{
    return (long long)ct_audit_head(f->s);
}

TestSuite(events);

Test(events, run_commits_its_own_and_delivers_after)
{
    fx f;
    open_fx(&f);
    rec_args a = {&f, "one", 0};
    cr_assert_eq(ct_store_run(f.s, rec_fn, &a), 0);
    cr_assert_not(ct_store_in_transaction(f.s));
    cr_assert_str_eq(f.heard, "one");
    cr_assert_eq(events_in_log(&f), 1);
    close_fx(&f);
}

Test(events, a_failing_run_keeps_nothing_and_delivers_nothing)
{
    fx f;
    open_fx(&f);
    rec_args a = {&f, "refused", CT_EINVAL};
    cr_assert_eq(ct_store_run(f.s, rec_fn, &a), CT_EINVAL);
    cr_assert_not(ct_store_in_transaction(f.s));
    cr_assert_str_eq(f.heard, "");
    cr_assert_eq(events_in_log(&f), 0);
    close_fx(&f);
}

Test(events, inside_a_callers_transaction_a_run_is_a_savepoint)
{
    fx f;
    open_fx(&f);
    cr_assert_eq(ct_store_begin(f.s), 0);
    rec_args kept = {&f, "kept", 0}, undone = {&f, "undone", CT_ECONFLICT};
    cr_assert_eq(ct_store_run(f.s, rec_fn, &kept), 0);
    cr_assert_eq(ct_store_run(f.s, rec_fn, &undone), CT_ECONFLICT);
    cr_assert(ct_store_in_transaction(f.s), "the caller's stays open");
    cr_assert_str_eq(f.heard, "", "nothing before the caller's commit");
    cr_assert_eq(ct_store_commit(f.s), 0);
    cr_assert_str_eq(f.heard, "kept");
    cr_assert_eq(events_in_log(&f), 1);
    close_fx(&f);
}

Test(events, a_callers_rollback_drops_everything_recorded_in_it)
{
    fx f;
    open_fx(&f);
    cr_assert_eq(ct_store_begin(f.s), 0);
    rec_args a = {&f, "gone", 0};
    cr_assert_eq(ct_store_run(f.s, rec_fn, &a), 0);
    cr_assert_eq(record(&f, "gone.too"), 0);
    ct_store_rollback(f.s);
    cr_assert_str_eq(f.heard, "");
    /* The next transaction starts from an empty queue. */
    cr_assert_eq(ct_store_run(f.s, rec_fn, &(rec_args){&f, "next", 0}), 0);
    cr_assert_str_eq(f.heard, "next");
    close_fx(&f);
}

Test(events, recording_needs_a_transaction)
{
    fx f;
    open_fx(&f);
    cr_assert_eq(record(&f, "loose"), CT_ESTATE);
    cr_assert_str_eq(f.heard, "");
    close_fx(&f);
}

Test(events, quiet_events_are_audited_not_delivered)
{
    fx f;
    open_fx(&f);
    cr_assert_eq(ct_store_begin(f.s), 0);
    cr_assert_eq(ct_events_record(f.bus, "test", "quiet", json_object(),
                                  CT_EVENT_QUIET, NULL, NULL),
                 0);
    cr_assert_eq(ct_events_record(f.bus, "test", "policy.published",
                                  json_object(), CT_EVENT_PLUGIN,
                                  "policy.changed", NULL),
                 0);
    cr_assert_eq(ct_store_commit(f.s), 0);
    cr_assert_str_eq(f.heard, "policy.changed");
    cr_assert_eq(events_in_log(&f), 2);
    close_fx(&f);
}

/* Subscribers choose by origin: the host's units or plugins. */
static void hear_host(const ct_event *ev, void *data)
{
    cr_assert_eq(ev->origin, CT_EVENTS_HOST);
    hear(ev, data);
}

Test(events, subscribers_choose_by_origin)
{
    fx f;
    open_fx(&f);
    fx host = {0};
    cr_assert_eq(ct_events_subscribe(f.bus, CT_EVENTS_HOST, hear_host,
                                     &host),
                 0);
    cr_assert_eq(ct_store_begin(f.s), 0);
    cr_assert_eq(record(&f, "hold.placed"), 0);
    cr_assert_eq(ct_events_record(f.bus, "plugin:x", "plugin.x",
                                  json_object(), CT_EVENT_PLUGIN, NULL,
                                  NULL),
                 0);
    cr_assert_eq(ct_store_commit(f.s), 0);
    cr_assert_str_eq(f.heard, "hold.placed,plugin.x");
    cr_assert_str_eq(host.heard, "hold.placed");
    ct_events_unsubscribe(f.bus, hear_host, &host);
    close_fx(&f);
}

/* A subscriber that writes: its own events reach every subscriber at
 * once, before the rest of the earlier ones, in order. */
typedef struct chain {
    fx *f;
    int left;
} chain;

static void answer(const ct_event *ev, void *data)
{
    chain *c = data;
    if (strcmp(ev->kind, "first") != 0 || c->left-- <= 0)
        return;
    rec_args a = {c->f, "answer", 0};
    cr_assert_eq(ct_store_run(c->f->s, rec_fn, &a), 0);
}

Test(events, a_subscribers_own_commit_is_delivered_at_once)
{
    fx f;
    open_fx(&f);
    chain c = {&f, 1};
    cr_assert_eq(ct_events_subscribe(f.bus, CT_EVENTS_ALL, answer, &c), 0);
    cr_assert_eq(ct_store_begin(f.s), 0);
    cr_assert_eq(record(&f, "first"), 0);
    cr_assert_eq(record(&f, "second"), 0);
    cr_assert_eq(ct_store_commit(f.s), 0);
    cr_assert_str_eq(f.heard, "first,second,answer");
    cr_assert_eq(events_in_log(&f), 3);
    close_fx(&f);
}

/* A watcher sees each level: marks at begin and savepoints, undo with the
 * mark of the level rolled back, committed once nothing is open. */
typedef struct seen {
    size_t pos;
    char log[256];
} seen;

static size_t w_mark(void *data)
{
    seen *s = data;
    return s->pos++;
}

static void w_undo(void *data, size_t mark, bool whole)
{
    seen *s = data;
    size_t n = strlen(s->log);
    snprintf(s->log + n, sizeof s->log - n, "undo%zu%s ", mark,
             whole ? "!" : "");
}

static void w_committed(void *data)
{
    seen *s = data;
    size_t n = strlen(s->log);
    snprintf(s->log + n, sizeof s->log - n, "commit ");
}

static const ct_store_watcher w = {w_mark, w_undo, w_committed};

Test(events, watchers_follow_levels)
{
    fx f;
    open_fx(&f);
    seen s = {0};
    cr_assert_eq(ct_store_watch(f.s, &w, &s), 0); /* mark 0 */
    cr_assert_eq(ct_store_begin(f.s), 0);      /* mark 1 */
    cr_assert_eq(ct_store_savepoint(f.s), 0);  /* mark 2 */
    cr_assert_eq(ct_store_savepoint(f.s), 0);  /* mark 3 */
    cr_assert_eq(ct_store_rollback_to(f.s), 0);
    cr_assert_eq(ct_store_release(f.s), 0);
    cr_assert_eq(ct_store_commit(f.s), 0);
    cr_assert_eq(ct_store_begin(f.s), 0);      /* mark 4 */
    ct_store_rollback(f.s);
    cr_assert_str_eq(s.log, "undo3 commit undo4! ");
    ct_store_unwatch(f.s, &w, &s);
    cr_assert_eq(ct_store_begin(f.s), 0);
    ct_store_rollback(f.s);
    cr_assert_str_eq(s.log, "undo3 commit undo4! ", "unwatched");
    close_fx(&f);
}

/* SQLite may end a transaction by itself: the watchers hear of it at the
 * next question, as a whole rollback. */
Test(events, a_transaction_sqlite_ended_is_a_rollback)
{
    fx f;
    open_fx(&f);
    cr_assert_eq(ct_store_begin(f.s), 0);
    cr_assert_eq(record(&f, "lost"), 0);
    /* As SQLite does on a full disk or I/O error. */
    cr_assert_eq(sqlite3_exec(ct_store__db(f.s), "ROLLBACK", NULL, NULL,
                              NULL),
                 SQLITE_OK);
    cr_assert_not(ct_store_in_transaction(f.s));
    rec_args a = {&f, "after", 0};
    cr_assert_eq(ct_store_run(f.s, rec_fn, &a), 0);
    cr_assert_str_eq(f.heard, "after", "the lost event was never delivered");
    close_fx(&f);
}

/* The hook (the notification outbox's way in): inside the transaction,
 * only for the listed kinds, with the payload of either recording path;
 * its error fails the record, so the caller's change rolls back. */
typedef struct hook_fx {
    char heard[256];
    int fail; /* returned by the hook */
    bool in_tx;
    ct_store *s;
} hook_fx;

static int hook(const ct_event *ev, void *data)
{
    hook_fx *h = data;
    size_t n = strlen(h->heard);
    snprintf(h->heard + n, sizeof h->heard - n, "%s%s:%lld", n ? "," : "",
             ev->kind,
             (long long)json_integer_value(
                 json_object_get(ev->payload, "referral")));
    h->in_tx = ct_store_in_transaction(h->s);
    return h->fail;
}

typedef struct hook_args {
    fx *f;
    const char *kind;
    bool members;
} hook_args;

static int hook_rec(ct_store *s, void *arg)
{
    (void)s;
    hook_args *a = arg;
    if (a->members) {
        ct_json_member m[] = {{"referral", NULL, 7}};
        return ct_events_record_members(a->f->bus, "test", a->kind, m, 1, 0,
                                        NULL);
    }
    return ct_events_record(a->f->bus, "test", a->kind,
                            json_pack("{s:i}", "referral", 5), 0, NULL, NULL);
}

Test(events, the_hook_hears_listed_kinds_inside_the_transaction)
{
    fx f;
    open_fx(&f);
    static const char *const kinds[] = {"hold.created", "referral.cancelled",
                                        NULL};
    hook_fx h = {.s = f.s};
    ct_events_set_hook(f.bus, kinds, hook, &h);
    hook_args a = {&f, "hold.created", true};
    cr_assert_eq(ct_store_run(f.s, hook_rec, &a), 0);
    cr_assert(h.in_tx);
    a = (hook_args){&f, "referral.cancelled", false};
    cr_assert_eq(ct_store_run(f.s, hook_rec, &a), 0);
    a = (hook_args){&f, "referral.created", false};
    cr_assert_eq(ct_store_run(f.s, hook_rec, &a), 0);
    cr_assert_str_eq(h.heard, "hold.created:7,referral.cancelled:5");
    cr_assert_eq(events_in_log(&f), 3);
    close_fx(&f);
}

Test(events, a_failing_hook_fails_the_record_and_the_change)
{
    fx f;
    open_fx(&f);
    static const char *const kinds[] = {"hold.created", NULL};
    hook_fx h = {.s = f.s, .fail = CT_ESTORE};
    ct_events_set_hook(f.bus, kinds, hook, &h);
    for (int members = 0; members < 2; members++) {
        hook_args a = {&f, "hold.created", members};
        cr_assert_eq(ct_store_run(f.s, hook_rec, &a), CT_ESTORE);
    }
    cr_assert_eq(events_in_log(&f), 0);
    cr_assert_str_eq(f.heard, "");
    /* Removed: heard no more. */
    ct_events_set_hook(f.bus, NULL, NULL, NULL);
    hook_args a = {&f, "hold.created", false};
    cr_assert_eq(ct_store_run(f.s, hook_rec, &a), 0);
    cr_assert_eq(events_in_log(&f), 1);
    close_fx(&f);
}
