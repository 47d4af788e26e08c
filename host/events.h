/*
 * The area's event bus (docs/internals.md, "Transactions and events"):
 * the one way an event is recorded in the audit log and the one way it is
 * delivered. Every event is appended to the audit log inside the running
 * transaction (ct_events_record; nothing else appends for the area) and
 * delivered to the subscribers only after that transaction commits, in
 * the order recorded; a rollback, of the transaction or of the savepoint
 * the event was recorded in, drops it undelivered. The bus follows the
 * store's transactions as a watcher (store.h), so it makes no difference
 * who began them: a unit's own ct_store_run, a caller's batch, the
 * daemon's group commit.
 *
 * A subscriber may change the store while it is being delivered to (an
 * event handler writes); the events of its commit are delivered at once,
 * in order, before the rest of the earlier events: so a subscriber that
 * queues and delivers in a loop of its own (the plugin manager) sees them
 * inside that loop.
 *
 * After a commit that appended, the audit head file is synced
 * (ct_audit_sync_head) unless the embedder took that over
 * (ct_events_set_head_sync: the daemon syncs at most every 200 ms).
 *
 * Not thread-safe; one bus per store.
 */
#ifndef CT_EVENTS_H
#define CT_EVENTS_H

#include "clock.h"
#include "json_canon.h"
#include "store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ct_events ct_events;

/* Where an event comes from; subscribers choose by these bits. */
enum {
    CT_EVENTS_HOST = 1u << 0,   /* the host's units: capacity, referrals */
    CT_EVENTS_PLUGIN = 1u << 1, /* ct.emit, policy.changed */
    CT_EVENTS_ALL = CT_EVENTS_HOST | CT_EVENTS_PLUGIN,
};

/* Recording flags. */
enum {
    CT_EVENT_PLUGIN = 1u << 0, /* from a plugin (else from the host) */
    CT_EVENT_QUIET = 1u << 1,  /* audited only, never delivered */
};

/* One committed event as a subscriber sees it. Borrowed, valid during the
 * call only; payload is the audited JSON object. */
typedef struct ct_event {
    int64_t seq; /* audit seq */
    int64_t at;  /* host clock, ms */
    const char *actor;
    const char *kind;
    const json_t *payload;
    unsigned origin; /* CT_EVENTS_HOST or CT_EVENTS_PLUGIN */
} ct_event;

typedef void (*ct_events_fn)(const ct_event *ev, void *data);

/* A bus on a store and a clock (both borrowed, outliving it). */
int ct_events_new(ct_store *s, ct_clock *clock, ct_events **out);
/* Undelivered events are dropped. NULL is harmless. */
void ct_events_free(ct_events *b);

/* Adds a subscriber for the origins in mask (CT_EVENTS_*); fn and data
 * are borrowed until unsubscribe. CT_ELIMIT past eight. */
int ct_events_subscribe(ct_events *b, unsigned mask, ct_events_fn fn,
                        void *data);
void ct_events_unsubscribe(ct_events *b, ct_events_fn fn, void *data);

/*
 * Records an event: appends it to the audit log at the clock's now inside
 * the open transaction (CT_ESTATE without one) and, unless CT_EVENT_QUIET,
 * queues it for delivery after the commit under deliver_as (NULL: kind).
 * Takes ownership of payload; NULL (a failed json_pack) is CT_ENOMEM.
 * A quiet event's payload is released before the call returns and never
 * changed, so a caller may pass a new reference to a value it keeps.
 * *seq (may be NULL) gets the audit seq.
 */
int ct_events_record(ct_events *b, const char *actor, const char *kind,
                     json_t *payload, unsigned flags, const char *deliver_as,
                     int64_t *seq);
/* The same with a flat payload of strings and integers (json_canon.h),
 * borrowed and sorted in place: no json_t unless a subscriber wants it.
 * For the hot paths. */
int ct_events_record_members(ct_events *b, const char *actor,
                             const char *kind, ct_json_member *m, size_t n,
                             unsigned flags, int64_t *seq);

/* The same with the payload as its canonical text (ct_json_canon's, an
 * object; borrowed): a decision's one serialisation, stored and audited
 * as the same bytes (audit.h, ct_audit_append_text). */
int ct_events_record_text(ct_events *b, const char *actor, const char *kind,
                          const char *text, size_t len, unsigned flags,
                          int64_t *seq);

/* Whether any subscriber takes events of these origins. */
bool ct_events_wanted(const ct_events *b, unsigned origin);

/* Replaces the sync of the audit head file after each commit that
 * appended with fn(data) (the daemon's timer). */
void ct_events_set_head_sync(ct_events *b, void (*fn)(void *data),
                             void *data);

/* fn(kind, data) hears every event as it is recorded, inside the
 * transaction and before any commit (NULL: none): the waiting list marks
 * itself for re-matching there, so that a later write of the same
 * transaction (the daemon's group commit) already knows. A rollback does
 * not call it back: the tap must be safe to have heard too much. */
void ct_events_set_tap(ct_events *b, void (*fn)(const char *kind, void *data),
                       void *data);

/*
 * fn(ev, data) hears each event whose kind is in kinds (NULL-terminated,
 * borrowed) as it is recorded, inside the transaction and after its audit
 * append, quiet or not: what fn writes stands or falls with the change
 * that recorded the event (the notification outbox, notify.h). An error
 * from fn fails the record, so the caller rolls the change back. fn must
 * not record events. One hook per bus; fn NULL removes it.
 */
typedef int (*ct_events_hook_fn)(const ct_event *ev, void *data);
void ct_events_set_hook(ct_events *b, const char *const *kinds,
                        ct_events_hook_fn fn, void *data);

/* The store and clock the bus was made with (borrowed). */
ct_store *ct_events_store(ct_events *b);
ct_clock *ct_events_clock(ct_events *b);

#endif
