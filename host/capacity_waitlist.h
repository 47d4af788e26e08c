/*
 * The waiting list (docs/plugins.md "The waiting list"): the referrals in
 * state waiting, served in one documented order, and whether capacity
 * has changed since they were last matched against it.
 *
 * The order: priority (larger first), then time past the discharge ready
 * date (the earlier date first), then arrival (the referral's id); or the
 * plugins' order, when a plugin has a queue hook (set_order below).
 *
 * The list is "pending" when anything happened that may let a waiting
 * referral fit where it did not: a bed freed (hold expired, released or
 * declined, referral completed or cancelled), unblocked or added, surge
 * opened, a zone reopened or its cohort changed, an isolation ended or an
 * infection result recorded, a ready date moved (the order changes), and,
 * as a policy change that may change every answer, the escalation level
 * or a policy value changed, or the area reloaded. The capacity handle
 * hears these as they are recorded (ct_events_set_tap), inside the
 * transaction, so a later write of the same transaction already knows.
 *
 * A re-match round (intake.h, ct_intake_rematch) walks the list in order
 * from the top, in batches; a mark while a round runs starts it again
 * from the top, so no referral is decided against capacity that an
 * earlier one in the order has not been offered. The round's progress
 * follows the store's rollbacks (a store watcher): a rolled-back batch is
 * done again.
 */
#ifndef CT_CAPACITY_WAITLIST_H
#define CT_CAPACITY_WAITLIST_H

#include "capacity.h"

/* Why the list must be re-matched. */
enum {
    /* Capacity changed: a referral whose host candidates are still none
     * need not be decided again. */
    CT_WAITLIST_CAPACITY = 1u << 0,
    /* A policy changed (escalation level, a policy value, a reload):
     * every waiting referral is decided again, manual reviews included. */
    CT_WAITLIST_POLICY = 1u << 1,
};

/* Marks the list for re-matching (why: CT_WAITLIST_* bits). */
void ct_capacity_waitlist_mark(ct_capacity *c, unsigned why);
/* Whether a round is due or under way. */
bool ct_capacity_waitlist_pending(ct_capacity *c);
/* The clock's now when pending, else INT64_MAX (the daemon's timer). */
int64_t ct_capacity_waitlist_next(ct_capacity *c);

/* One waiting referral as the round sees it. */
typedef struct ct_capacity_waitlist_entry {
    int64_t id;
    int priority;
    char ready_date[11];
    int pathway;     /* decided, ct_pathway; -1 when none */
    unsigned kinds;  /* facility kinds its last decision searched; 0: by
                        the pathway */
    bool decided;    /* it has a decision that placed it on the list */
    bool manual;     /* its last decision was manual review */
    bool deferred;   /* queued without a search (intake.h) */
    size_t index;    /* its place in the plugins' order, when there is one */
} ct_capacity_waitlist_entry;

/*
 * Starts a round when the list is pending and none runs (or restarts the
 * running one from the top after a mark) and returns its CT_WAITLIST_*
 * bits; 0 when there is nothing to do.
 */
unsigned ct_capacity_waitlist_round(ct_capacity *c);
/* Up to max entries after the round's position, in order, into out
 * (*n of them; 0 at the end of the list). */
int ct_capacity_waitlist_entries(ct_capacity *c, ct_capacity_waitlist_entry *out, size_t max,
                        size_t *n, ct_cap_error *err);
/* Moves the round's position past e. */
void ct_capacity_waitlist_passed(ct_capacity *c, const ct_capacity_waitlist_entry *e);
/* Ends the round (the whole list walked). */
void ct_capacity_waitlist_round_done(ct_capacity *c);

/* A page of the waiting list (GET /v1/waiting-list). */
typedef struct ct_waitlist_query {
    const char *from_org; /* that organisation's referrals only; NULL: all */
    int64_t after;        /* entries after this position (0: from the top) */
    int limit;            /* 1..1000 */
    bool all;             /* the whole list, whatever limit says */
    bool host_order;      /* the host's order, not the plugins' */
} ct_waitlist_query;

/*
 * The plugins' order (their queue hooks, docs/plugins.md "The waiting
 * list"): a round that starts from the top wants one (the intake asks the
 * plugins and sets it before it reads entries); ids are every waiting
 * referral in the order to serve them (copied). An empty order (n 0)
 * serves the host's. The order stays, for GET /v1/waiting-list, until the
 * next round sets another; referrals it does not name follow it in the
 * host's order.
 */
bool ct_capacity_waitlist_wants_order(ct_capacity *c);
int ct_capacity_waitlist_set_order(ct_capacity *c, const int64_t *ids,
                                   size_t n);

/*
 * The list in order as a new JSON object {waiting: [...], total, next}:
 * each entry {position (in the whole list, whoever asks), id, from_org,
 * priority, ready_date, days_past_ready (UK days), requested_pathway,
 * pathway, outcome, deferred, updated_at, delay_reason, responsible_org,
 * nhs_number, needs, reasons, why (the last decision's, docs/api.md "Why
 * a referral waits")}; total counts the whole list; next is the position
 * to continue after, or null. CT_EINVAL for a limit outside 1..1000.
 */
int ct_capacity_waitlist_json(ct_capacity *c, const ct_waitlist_query *q,
                              json_t **out, ct_cap_error *err);
/* Whether anyone waits (*any). */
int ct_capacity_waitlist_any(ct_capacity *c, bool *any, ct_cap_error *err);

/* The capacity handle's own (capacity.c): state made and freed with it,
 * and the tap it installs on its bus. */
int ct_capacity_waitlist__new(ct_capacity *c);
void ct_capacity_waitlist__free(ct_capacity *c);

#endif
