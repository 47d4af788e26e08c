/*
 * The use cases every front-end shares, written once below them: the HTTP
 * API (api_referrals.c, daemon_plugins.c), the REPL (repl.c) and tests
 * call these, and only translate their input and output.
 *
 * Referral intake: the referral stored with its clinical data, the
 * infections it reports recorded against the person, the request's
 * fingerprint kept with its idempotency key, then the decision (triage,
 * candidates, rank, admit, hold: pipeline.h). All of it is one
 * transaction: inside the caller's (the daemon's group commit) or, when
 * none is open, one of its own, so a refusal at any step writes nothing.
 *
 * The escalation round: the plugins' escalate hooks on the metrics now,
 * the winning level recorded (escalation.h), every CT_INTAKE_ESCALATE_
 * EVERY_MS of the host clock in the daemon and the REPL.
 */
#ifndef CT_INTAKE_H
#define CT_INTAKE_H

#include "capacity.h"
#include "delay.h"
#include "isolation.h"
#include "plugins.h"
#include "referral.h"

#include <jansson.h>
#include <stdint.h>

/* How often the host asks the plugins for the escalation level. */
#define CT_INTAKE_ESCALATE_EVERY_MS (15 * 60 * 1000)

/* One infection as the referral reports it. */
typedef struct ct_intake_infection {
    const char *pathogen;       /* one the area tracks */
    ct_infection_status status;
    int64_t tested_at;          /* ms; 0 when not given */
    int64_t isolation_end;      /* ms; 0 when not given (positive only) */
} ct_intake_infection;

/* A referral as the front-end read it. Everything is borrowed for the
 * call. in.infections is ignored: intake writes it from inf. */
typedef struct ct_intake_request {
    ct_referral_input in;
    const ct_intake_infection *inf;
    size_t ninf;
    /* SHA-256 of the request, kept with in.idempotency_key so that a
     * replay with another body is told apart; NULL when none. */
    const uint8_t *key_sha;
} ct_intake_request;

/* The steps of intake, in order. */
typedef enum ct_intake_step {
    CT_INTAKE_STORE,      /* the referral recorded */
    CT_INTAKE_INFECTIONS, /* its infections recorded against the person */
    CT_INTAKE_KEY,        /* the request's fingerprint kept */
    CT_INTAKE_DECIDE,     /* the decision */
} ct_intake_step;

/* What intake made, or where it stopped. */
typedef struct ct_intake_result {
    ct_intake_step step; /* the last step run (the failing one) */
    int64_t id;       /* the referral; on CT_ECONFLICT or CT_EEXISTS the
                         person's active one or the key's earlier one */
    json_t *decision; /* new reference on success (pipeline.h) */
    /* On failure, the input at fault: "from_org" (CT_ENOTFOUND: the
     * organisation), "infections.<pathogen>", or "" for the whole. */
    char field[96];
} ct_intake_result;

/*
 * A referral as the SDK's fixtures make it (caretide.fixtures referral{}:
 * nhs_number, from_org, ready_date, requested_pathway, priority, person =
 * {age, needs, usual_residence, infections = {pathogen = {status,
 * isolation_end}}}), read into a request for the REPL's .referral and an
 * area test's t.refer. Strings are borrowed from ref; a made-up positive
 * result is dated now. Needs and infections beyond the arrays' room and
 * unknown statuses are left out (intake refuses what else is wrong).
 */
#define CT_INTAKE_MAX_NEEDS 32
#define CT_INTAKE_MAX_INFECTIONS 16
typedef struct ct_intake_parsed {
    ct_intake_request req;
    const char *needs[CT_INTAKE_MAX_NEEDS];
    ct_intake_infection inf[CT_INTAKE_MAX_INFECTIONS];
} ct_intake_parsed;
void ct_intake_from_fixture(const json_t *ref, int64_t now,
                            ct_intake_parsed *out);

/*
 * Runs referral intake for r as actor (copied into the audit events).
 * plugins may be NULL (no plugin answers: manual review). On failure
 * nothing is written, res->field and err say why, and res->id is set as
 * above.
 */
int ct_intake_referral(ct_capacity *cap, ct_plugins *plugins,
                       const ct_intake_request *r, const char *actor,
                       ct_intake_result *res, ct_cap_error *err);

/*
 * The waiting list served in order (capacity_waitlist.h, docs/plugins.md "The
 * waiting list"): one bounded batch of a re-match round as actor
 * "waiting-list". The referrals in state waiting are taken in the list's
 * order; after a change in capacity only those for which the host's rules
 * now find a bed are decided again (ct_pipeline_decide: triage, rank,
 * admit, hold, each decision with its trace and audit event); after a
 * policy change every one is. A batch stops after
 * CT_INTAKE_REMATCH_DECISIONS decisions or CT_INTAKE_REMATCH_CHECKS
 * referrals looked at, so a burst of changes cannot stall the loop: the
 * round goes on in the next batch (the daemon's next loop turn). A
 * decision that fails is logged and left alone. Inside the caller's
 * transaction when one is open, else in its own.
 *
 * Referral intake runs a batch first when the list is pending, and
 * queues a new referral without a search (CT_PIPELINE_QUEUE_ONLY, the
 * decision "deferred") while the round is not done: no new referral takes
 * a bed that a referral earlier in the order could take.
 */
#define CT_INTAKE_REMATCH_DECISIONS 16
#define CT_INTAKE_REMATCH_CHECKS 1024
/* ... or once this many ms of the monotonic clock have gone on decisions
 * (plugins' deadlines bound each one, not a batch of them). */
#define CT_INTAKE_REMATCH_MS 50

typedef struct ct_intake_rematch_stats {
    int checked; /* waiting referrals looked at */
    int decided; /* decided again */
    int held;    /* of them, now held */
    bool more;   /* the round is not done (or was marked again) */
} ct_intake_rematch_stats;

int ct_intake_rematch(ct_capacity *cap, ct_plugins *plugins,
                      ct_intake_rematch_stats *st, ct_cap_error *err);

/*
 * Decides referral id again, in its turn: a held referral's hold is
 * released first, then it is queued (CT_PIPELINE_QUEUE_ONLY) and the
 * waiting list re-matched, so it is offered what earlier referrals do not
 * take. *decision (may be NULL) gets its decision after that, a new
 * reference ("deferred" while the round is not done). CT_ESTATE unless
 * the referral is received, triaged, waiting or held. As actor; inside
 * the caller's transaction when one is open.
 */
int ct_intake_redecide(ct_capacity *cap, ct_plugins *plugins, int64_t id,
                       const char *actor, json_t **decision,
                       ct_cap_error *err);

/*
 * A referral that changes (docs/api.md "PATCH /v1/referrals/{id}"): its
 * needs and priority (u->ch; its pathogen and report are ignored) and new
 * test results (u->inf: each recorded against the person as at intake and
 * added to what the referral reports), all audited, then decided again in
 * its turn (ct_intake_redecide). One transaction: on failure nothing is
 * written and field (96 bytes, may be NULL) names the input at fault
 * ("infections.<pathogen>", or "").
 */
typedef struct ct_intake_update {
    ct_referral_change ch;
    const ct_intake_infection *inf;
    size_t ninf;
} ct_intake_update;

int ct_intake_update_referral(ct_capacity *cap, ct_plugins *plugins,
                              int64_t id, const ct_intake_update *u,
                              const char *actor, json_t **decision,
                              char *field, ct_cap_error *err);

/*
 * One escalation round as actor "plugins": the metrics now to every
 * plugin's escalate hook (the highest level wins), the level recorded
 * when a plugin answered. *out (may be NULL) gets a new {level, reason,
 * actions, changed, trace} when a plugin answered; *changed (may be NULL)
 * says whether the level moved. Inside the caller's transaction when one
 * is open.
 */
int ct_intake_escalate(ct_capacity *cap, ct_plugins *plugins, json_t **out,
                       bool *changed, ct_cap_error *err);

/*
 * A delay episode as the API's delay action records it: the reason and the
 * responsible organisation checked by the area's reason list (the plugins'
 * delay hook, first answer decides; plugin data, docs/api.md) and the
 * episode started with the list's label (ct_delay_start). in is borrowed;
 * in->reason_text is ignored. A refusal by the list is CT_EINVAL with
 * *field ("reason", "responsible_org", may be NULL) and err->message the
 * list's; CT_EPLUGIN when the check itself failed; otherwise
 * ct_delay_start's errors. plugins may be NULL (only the host's checks).
 */
int ct_intake_delay(ct_capacity *cap, ct_plugins *plugins, int64_t id,
                    const ct_delay_input *in, const char *actor,
                    const char **field, ct_cap_error *err);
/* The same with episode > 0: corrects that earlier episode instead
 * (delay.h ct_delay_correct), after the same reason list check. */
int ct_intake_delay_episode(ct_capacity *cap, ct_plugins *plugins,
                            int64_t id, int64_t episode,
                            const ct_delay_input *in, const char *actor,
                            const char **field, ct_cap_error *err);

#endif
