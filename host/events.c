/*
 * The event bus: audit appends and deliveries after commit (events.h).
 *
 * The queue holds events recorded and not yet delivered: [next, ready)
 * are committed and wait for delivery, [ready, n) belong to the open
 * transaction. Entries before next were delivered; the outermost delivery
 * frees them when it ends, so that the strings a nested delivery hands out
 * stay where they are.
 */
#include "events.h"

#include "audit.h"
#include "error.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SUBS 8

typedef struct queued {
    int64_t seq, at;
    char *actor;     /* owned */
    char *kind;      /* owned */
    json_t *payload; /* owned reference */
    unsigned origin;
} queued;

typedef struct sub {
    ct_events_fn fn; /* NULL: a free slot */
    void *data;
    unsigned mask;
} sub;

struct ct_events {
    ct_store *store; /* borrowed */
    ct_clock *clock; /* borrowed */
    sub subs[MAX_SUBS];
    queued *q;
    size_t n, cap, ready, next;
    int delivering; /* depth of deliver() calls */
    bool appended;  /* the open transaction appended to the audit log */
    void (*head_fn)(void *data);
    void *head_data;
    void (*tap_fn)(const char *kind, void *data);
    void *tap_data;
    ct_events_hook_fn hook_fn;
    const char *const *hook_kinds;
    void *hook_data;
};

static void drop_from(ct_events *b, size_t mark)
{
    for (size_t i = mark; i < b->n; i++) {
        free(b->q[i].actor);
        free(b->q[i].kind);
        json_decref(b->q[i].payload);
    }
    if (mark < b->n)
        b->n = mark;
    if (b->ready > b->n)
        b->ready = b->n;
    if (b->next > b->n)
        b->next = b->n;
}

/* Delivers what is committed, in order; nested calls (a subscriber's own
 * commit) carry on from the same place. */
static void deliver(ct_events *b)
{
    b->delivering++;
    while (b->next < b->ready) {
        queued ev = b->q[b->next++];
        ct_event e = {ev.seq, ev.at, ev.actor, ev.kind, ev.payload,
                      ev.origin};
        for (size_t i = 0; i < MAX_SUBS; i++) {
            sub s = b->subs[i];
            if (s.fn && (s.mask & ev.origin))
                s.fn(&e, s.data);
        }
    }
    if (--b->delivering == 0 && b->next == b->n) {
        drop_from(b, 0);
        b->next = b->ready = 0;
    }
}

/* ---- store watcher ----------------------------------------------------- */

static size_t on_mark(void *data)
{
    ct_events *b = data;
    return b->n;
}

static void on_undo(void *data, size_t mark, bool whole)
{
    ct_events *b = data;
    /* Never below what was committed before this transaction began. */
    drop_from(b, mark < b->ready ? b->ready : mark);
    if (whole)
        b->appended = false;
}

static void on_committed(void *data)
{
    ct_events *b = data;
    b->ready = b->n;
    if (b->appended) {
        b->appended = false;
        if (b->head_fn) {
            b->head_fn(b->head_data);
        } else {
            /* A head file that lags is reported by verify, never fatal to
             * the change: only logged. */
            int hs = ct_audit_sync_head(b->store);
            if (hs)
                ct_log_warn("events", "audit head file: %s",
                            ct_strerror(hs));
        }
    }
    deliver(b);
}

static const ct_store_watcher watcher = {on_mark, on_undo, on_committed};

/* ---- life cycle --------------------------------------------------------- */

int ct_events_new(ct_store *s, ct_clock *clock, ct_events **out)
{
    *out = NULL;
    ct_events *b = calloc(1, sizeof *b);
    if (!b)
        return CT_ENOMEM;
    b->store = s;
    b->clock = clock;
    int rc = ct_store_watch(s, &watcher, b);
    if (rc) {
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void ct_events_free(ct_events *b)
{
    if (!b)
        return;
    ct_store_unwatch(b->store, &watcher, b);
    drop_from(b, 0);
    free(b->q);
    free(b);
}

int ct_events_subscribe(ct_events *b, unsigned mask, ct_events_fn fn,
                        void *data)
{
    for (size_t i = 0; i < MAX_SUBS; i++)
        if (!b->subs[i].fn) {
            b->subs[i] = (sub){fn, data, mask};
            return 0;
        }
    return CT_ELIMIT;
}

void ct_events_unsubscribe(ct_events *b, ct_events_fn fn, void *data)
{
    for (size_t i = 0; i < MAX_SUBS; i++)
        if (b->subs[i].fn == fn && b->subs[i].data == data)
            b->subs[i] = (sub){0};
}

bool ct_events_wanted(const ct_events *b, unsigned origin)
{
    for (size_t i = 0; i < MAX_SUBS; i++)
        if (b->subs[i].fn && (b->subs[i].mask & origin))
            return true;
    return false;
}

void ct_events_set_head_sync(ct_events *b, void (*fn)(void *data),
                             void *data)
{
    b->head_fn = fn;
    b->head_data = data;
}

void ct_events_set_tap(ct_events *b, void (*fn)(const char *kind, void *data),
                       void *data)
{
    b->tap_fn = fn;
    b->tap_data = data;
}

void ct_events_set_hook(ct_events *b, const char *const *kinds,
                        ct_events_hook_fn fn, void *data)
{
    b->hook_fn = fn;
    b->hook_kinds = fn ? kinds : NULL;
    b->hook_data = data;
}

static bool hooked(const ct_events *b, const char *kind)
{
    if (!b->hook_fn || !b->hook_kinds)
        return false;
    for (const char *const *k = b->hook_kinds; *k; k++)
        if (strcmp(*k, kind) == 0)
            return true;
    return false;
}

/* The hook on a recorded event (borrowed payload). */
static int call_hook(ct_events *b, int64_t seq, int64_t at, const char *actor,
                     const char *kind, const json_t *payload, unsigned flags)
{
    ct_event e = {seq, at, actor, kind, payload,
                  flags & CT_EVENT_PLUGIN ? CT_EVENTS_PLUGIN : CT_EVENTS_HOST};
    return b->hook_fn(&e, b->hook_data);
}

ct_store *ct_events_store(ct_events *b) { return b->store; }
ct_clock *ct_events_clock(ct_events *b) { return b->clock; }

/* ---- recording ------------------------------------------------------------ */

/* Queues a recorded event; takes ownership of payload (NULL: out of
 * memory). The audit record stays: the caller's transaction goes when the
 * caller sees the error. */
static int queue(ct_events *b, int64_t seq, int64_t at, const char *actor,
                 const char *kind, json_t *payload, unsigned origin)
{
    if (!payload)
        return CT_ENOMEM;
    if (ct_grow(&b->q, &b->cap, b->n, sizeof *b->q, 16))
        goto fail_nomem;
    char *a = ct_strdup(actor), *k = ct_strdup(kind);
    if (!a || !k) {
        free(a);
        free(k);
        goto fail_nomem;
    }
    b->q[b->n++] = (queued){seq, at, a, k, payload, origin};
    return 0;

fail_nomem:
    json_decref(payload);
    return CT_ENOMEM;
}

static unsigned origin_of(unsigned flags)
{
    return flags & CT_EVENT_PLUGIN ? CT_EVENTS_PLUGIN : CT_EVENTS_HOST;
}

/* What every record does once its audit append has succeeded: the
 * batch has something to commit, the caller learns the seq, the tap
 * hears the kind. */
static void appended(ct_events *b, const char *kind, int64_t s, int64_t *seq)
{
    b->appended = true;
    if (seq)
        *seq = s;
    if (b->tap_fn)
        b->tap_fn(kind, b->tap_data);
}

int ct_events_record(ct_events *b, const char *actor, const char *kind,
                     json_t *payload, unsigned flags, const char *deliver_as,
                     int64_t *seq)
{
    if (!payload)
        return CT_ENOMEM;
    int64_t at = ct_clock_now(b->clock), s = 0;
    int rc = ct_audit_append(b->store, at, actor, kind, payload, &s);
    if (rc) {
        json_decref(payload);
        return rc;
    }
    appended(b, kind, s, seq);
    if (hooked(b, kind) &&
        (rc = call_hook(b, s, at, actor, kind, payload, flags))) {
        json_decref(payload);
        return rc;
    }
    unsigned origin = origin_of(flags);
    if ((flags & CT_EVENT_QUIET) || !ct_events_wanted(b, origin)) {
        json_decref(payload);
        return 0;
    }
    return queue(b, s, at, actor, deliver_as ? deliver_as : kind, payload,
                 origin);
}

int ct_events_record_text(ct_events *b, const char *actor, const char *kind,
                          const char *text, size_t len, unsigned flags,
                          int64_t *seq)
{
    int64_t at = ct_clock_now(b->clock), s = 0;
    int rc = ct_audit_append_text(b->store, at, actor, kind, text, len, &s);
    if (rc)
        return rc;
    appended(b, kind, s, seq);
    unsigned origin = origin_of(flags);
    /* Parsed back only for a subscriber to read. */
    if ((flags & CT_EVENT_QUIET) || !ct_events_wanted(b, origin))
        return 0;
    json_t *payload = json_loadb(text, len, 0, NULL);
    return payload ? queue(b, s, at, actor, kind, payload, origin)
                   : CT_ENOMEM;
}

int ct_events_record_members(ct_events *b, const char *actor,
                             const char *kind, ct_json_member *m, size_t n,
                             unsigned flags, int64_t *seq)
{
    int64_t at = ct_clock_now(b->clock), s = 0;
    int rc = ct_audit_append_members(b->store, at, actor, kind, m, n, &s);
    if (rc)
        return rc;
    appended(b, kind, s, seq);
    if (hooked(b, kind)) {
        json_t *o = ct_json_members_object(m, n);
        rc = o ? call_hook(b, s, at, actor, kind, o, flags) : CT_ENOMEM;
        json_decref(o);
        if (rc)
            return rc;
    }
    unsigned origin = origin_of(flags);
    /* The object is built only for a subscriber to read. */
    if ((flags & CT_EVENT_QUIET) || !ct_events_wanted(b, origin))
        return 0;
    return queue(b, s, at, actor, kind, ct_json_members_object(m, n),
                 origin);
}
