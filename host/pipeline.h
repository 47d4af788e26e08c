/*
 * The decision pipeline for one referral (docs/design.md "POST /v1/referrals"):
 * triage, candidate search, rank, admit, hold, and the decision record
 * with its trace, all inside one transaction together with the audit
 * event "referral.decided". Plugins propose; every write goes through the
 * capacity unit, so the host's invariants hold whatever a plugin returns.
 *
 * With no plugins (or none answering) the host's defaults apply: the
 * referral's requested pathway, candidates in the host's order, the first
 * one held.
 */
#ifndef CT_PIPELINE_H
#define CT_PIPELINE_H

#include "capacity.h"
#include "plugins.h"

#include <jansson.h>

/* How many candidates rank sees at most; bounds the trace too. With no
 * plugins the host holds its own first candidate and fetches only that. */
#define CT_PIPELINE_MAX_CANDIDATES 50

/*
 * Decides referral id (state received or waiting). plugins may be NULL.
 * Runs inside the caller's transaction if one is open (as a savepoint),
 * else in its own. On success *decision is a new object:
 *   {referral, outcome: "held"|"waiting"|"manual_review", pathway,
 *    priority, bed?, zone?, facility?, hold_id?, hold_expires_at?,
 *    reasons: [...], trace: [...], plugins: [provenance...],
 *    kinds?: [facility kinds triage named], deferred?: true}
 * and the same object is stored as the referral's decision. A refusal
 * (unknown referral, wrong state) is an error with err filled and nothing
 * written.
 */
int ct_pipeline_decide(ct_capacity *cap, ct_plugins *plugins, int64_t id,
                       const char *actor, json_t **decision,
                       ct_cap_error *err);

/* Decision flags. */
enum {
    /* Triage only, then onto the waiting list without a search: a new
     * referral while the list is being re-matched waits for its turn
     * (intake.h). The decision says so ("deferred": true). */
    CT_PIPELINE_QUEUE_ONLY = 1u << 0,
};
/* ct_pipeline_decide with flags. */
int ct_pipeline_decide_with(ct_capacity *cap, ct_plugins *plugins,
                            int64_t id, const char *actor, unsigned flags,
                            json_t **decision, ct_cap_error *err);

/* Whether the provider of bed_id declined referral id (a hold of theirs
 * ended "declined": none of their beds is offered to it again) or let a
 * hold for it on bed_id expire unanswered ("expired": that bed is not),
 * so that a freed bed goes on down the waiting list. Errors read as no. */
bool ct_pipeline_declined(ct_capacity *cap, int64_t id, const char *bed_id);

/* How many holds of referral id ended declined or expired (0: none of
 * its beds is left out). */
size_t ct_pipeline_declined_beds(ct_capacity *cap, int64_t id);

/* The stored decision of referral id (a new reference), CT_ENOTFOUND when
 * it has none. */
int ct_pipeline_stored_decision(ct_capacity *cap, int64_t id, json_t **out,
                                ct_cap_error *err);

#endif
