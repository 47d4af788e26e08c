/*
 * Referrals: a hospital's request to discharge a person, through the life
 * cycle of docs/design.md:
 *
 *   received -> triaged -> waiting -> held -> placed -> discharged
 *        \          \         \        |        |          -> completed
 *         \          \         \       v        v
 *          +----------+---------+--> cancelled (any state before discharged)
 *
 * held goes back to waiting when its hold expires or is released;
 * triaged and waiting may be triaged again (a new pathway); a referral
 * that needs no bed (P0, or care arranged outside the host) may go from
 * received, triaged or waiting straight to discharged. Holds and confirm
 * (held, placed) are made through capacity.h; completing or cancelling
 * ends the bed's occupancy or hold. An illegal transition is CT_ESTATE
 * naming the current state: "referral 12 is placed; cannot hold".
 *
 * Delays: the discharge ready date (DRD, a calendar date) and, when a
 * person waits past it, a history of delay episodes (delay.h), each a
 * reason from the area's list and the organisation responsible; the
 * referral shows the open one. Delay days are UK days (Europe/London)
 * derived from the DRD and the discharge time (or now), never stored.
 */
#ifndef CT_REFERRAL_H
#define CT_REFERRAL_H

#include "area.h"
#include "model.h"
#include "delay.h"

/* Whether from -> to is a transition of the life cycle. */
bool ct_referral_can(ct_referral_state from, ct_referral_state to);

/* Whole days from the ready date ("YYYY-MM-DD") to the UK day
 * (Europe/London) of end_ms, 0 when not past it; -1 when the date does not
 * parse. */
int64_t ct_referral_delay_days(const char *ready_date, int64_t end_ms);

/* The end of the wait that delay days count to: the discharge time, the
 * last update of a cancelled referral (when it was cancelled), or now. */
int64_t ct_referral_wait_end(ct_referral_state state, int64_t discharged_at,
                             int64_t updated_at, int64_t now);

/* The ranges the host keeps: a priority from -CT_PRIORITY_MAX to
 * CT_PRIORITY_MAX (the API's and a triage answer's), a triage reason of at
 * most CT_TRIAGE_REASON_MAX bytes. */
#define CT_PRIORITY_MAX 1000000
#define CT_TRIAGE_REASON_MAX 500

typedef struct ct_referral_input {
    const char *nhs_number; /* validated (mod 11); spaces or hyphens ok */
    int age;                /* years, -1 when not known */
    const char *const *needs; /* tags a bed must carry ("nursing") */
    size_t nneeds;
    const char *from_org;   /* referring organisation, must exist */
    const char *ready_date; /* discharge ready date, YYYY-MM-DD */
    int requested_pathway;  /* ct_pathway, or -1 */
    int priority;           /* larger is more urgent */
    const char *idempotency_key; /* may be NULL */
    const char *usual_residence; /* a ct_residence name ("care_home"), or
                                    NULL when not given */
    const char *infections; /* the infections as the referral reports them:
                               a JSON object text keyed by pathogen, or
                               NULL; kept for display only, segregation
                               reads the person's records (isolation.h) */
} ct_referral_input;

/* A person's needs: at most CT_REFERRAL_MAX_NEEDS tags, each 1 to
 * CT_REFERRAL_MAX_TAG letters, digits, '_', '-' or '.'. The one check,
 * for the API's answer and the unit's own. */
#define CT_REFERRAL_MAX_NEEDS 32
#define CT_REFERRAL_MAX_TAG 64
bool ct_referral_tag_valid(const char *t);

/*
 * Records a referral (state received) with its clinical data (age, needs,
 * usual residence, reported infections), which belong to this referral
 * alone, and the person's NHS number. Strings are copied. With an
 * idempotency key already used by the same organisation nothing changes:
 * CT_EEXISTS with *id set to the earlier referral. A person has at most
 * one active referral (not yet discharged, or discharged into a bed it
 * still occupies): CT_ECONFLICT with *id set to that referral.
 */
int ct_referral_create(ct_capacity *c, const ct_referral_input *in,
                       const char *actor, int64_t *id, ct_cap_error *err);

/* A referral as read now. */
typedef struct ct_referral {
    int64_t id;
    char nhs_number[11];
    int age; /* -1 when not known */
    char from_org[CT_CAP_ID_MAX];
    char ready_date[11];
    int requested_pathway, decided_pathway; /* ct_pathway or -1 */
    ct_referral_state state;
    int priority;
    char delay_reason[CT_DELAY_REASON_MAX + 1]; /* the open episode's, or
                                                   "" */
    char responsible_org[CT_CAP_ID_MAX]; /* "" when none */
    int64_t created_at, updated_at;
    int64_t discharged_at; /* 0 until discharged */
    int64_t delay_days;    /* derived: DRD to discharge, or to now */
    /* The active hold or occupancy, if any. */
    int64_t assignment_id; /* 0 when none */
    bool occupancy;
    char bed_id[CT_CAP_ID_MAX];
    int64_t hold_expires_at;
} ct_referral;

int ct_referral_get(ct_capacity *c, int64_t id, ct_referral *out,
                    ct_cap_error *err);
/* The same as a new JSON object (wire names; needs and the delay
 * episodes, "delays", included); the caller owns *out. */
int ct_referral_get_json(ct_capacity *c, int64_t id, json_t **out,
                         ct_cap_error *err);

/* The decision record (referral_decision.c). set stores decision d (a
 * copy) on referral id and records it in the audit log as
 * "referral.decided" (audited, not delivered), both as one text: d's
 * canonical JSON (json_canon.h), written once, so the row and the event's
 * payload are the same bytes and the API answers with them too
 * (decision_text). decision gets it back as a new object (CT_ENOTFOUND
 * when there is none yet); decision_text appends the stored text itself
 * to out (CT_ENOTFOUND likewise). */
int ct_referral_set_decision(ct_capacity *c, int64_t id, const json_t *d,
                             const char *actor, ct_cap_error *err);
int ct_referral_decision_text(ct_capacity *c, int64_t id, ct_buf *out,
                              ct_cap_error *err);
int ct_referral_decision(ct_capacity *c, int64_t id, json_t **out,
                         ct_cap_error *err);
/* The person's usual residence as a new JSON string, or JSON null. */
json_t *ct_referral_residence_json(ct_capacity *c, int64_t id);
/* Referrals in state (or all, state -1) with id > after_id, oldest first,
 * at most limit (1..1000), as a new JSON array the caller owns. */
int ct_referral_list_json(ct_capacity *c, int state, int64_t after_id,
                          int limit, json_t **out, ct_cap_error *err);
/* What ct_referral_find_json lists: as ct_referral_list_json, and only
 * referrals of decided pathway `pathway` (>= 0) and discharged before
 * `discharged_before` (ms, > 0). The narrow filters let a plugin's quarter-
 * hourly scan read the few rows it acts on, not the whole state. */
typedef struct ct_referral_scan {
    int state;                 /* -1: any */
    int pathway;               /* -1: any; else a ct_pathway */
    int64_t discharged_before; /* 0: any */
    int64_t after_id;
    int limit; /* 1..1000 */
} ct_referral_scan;
int ct_referral_find_json(ct_capacity *c, const ct_referral_scan *f,
                          json_t **out, ct_cap_error *err);

/* received, triaged or waiting -> triaged with a decided pathway; reason
 * (may be NULL) goes into the audit event. */
int ct_referral_triage(ct_capacity *c, int64_t id, ct_pathway pathway,
                       int priority, const char *reason, const char *actor,
                       ct_cap_error *err);
/* triaged -> waiting: queued for capacity. */
int ct_referral_queue(ct_capacity *c, int64_t id, const char *actor,
                      ct_cap_error *err);
/* placed (or received, triaged, waiting when no bed is involved) ->
 * discharged: the person has left hospital; discharged_at = now. */
int ct_referral_discharge(ct_capacity *c, int64_t id, const char *actor,
                          ct_cap_error *err);
/* discharged -> completed: ends the occupancy, the bed is free again. */
int ct_referral_complete(ct_capacity *c, int64_t id, const char *actor,
                         ct_cap_error *err);
/* Any state before discharged -> cancelled, ending a hold or occupancy. */
int ct_referral_cancel(ct_capacity *c, int64_t id, const char *reason,
                       const char *actor, ct_cap_error *err);

/* A delay episode (ct_delay_start with no text and no from: from the
 * ready date for the first, today for a later one); clear ends the open
 * one today (ct_delay_end). */
int ct_referral_set_delay(ct_capacity *c, int64_t id, const char *reason,
                          const char *responsible_org, const char *actor,
                          ct_cap_error *err);
int ct_referral_clear_delay(ct_capacity *c, int64_t id, const char *actor,
                            ct_cap_error *err);
/* Moves the discharge ready date (the guidance resets it when the person
 * is no longer ready); refused once discharged. reason (may be NULL) and
 * the date it replaces go into the audit event referral.ready_date_set. */
int ct_referral_set_ready_date(ct_capacity *c, int64_t id,
                               const char *ready_date, const char *reason,
                               const char *actor, ct_cap_error *err);

/*
 * Changes what a referral says before it is placed (received, triaged,
 * waiting or held; CT_ESTATE otherwise): its needs (replaced when
 * set_needs), its priority (when set_priority) and, when pathogen is set,
 * that pathogen's entry in the infections it reports (report: a JSON
 * object text {status, tested_at, isolation_end}). Audited as
 * referral.updated {referral, needs: {was, now}, priority: {was, now},
 * infection: {pathogen, reported}}. The person's infection record is
 * isolation.h's; deciding the referral again is intake's
 * (ct_intake_update). Strings are borrowed for the call.
 */
typedef struct ct_referral_change {
    bool set_needs;
    const char *const *needs;
    size_t nneeds;
    bool set_priority;
    int priority;
    const char *pathogen;
    const char *report;
} ct_referral_change;
int ct_referral_update(ct_capacity *c, int64_t id,
                       const ct_referral_change *ch, const char *actor,
                       ct_cap_error *err);

/* ---- internals for the area's units (holds, candidate search) ------- */

/* A referral as holds and candidate search read it (referral.c). */
typedef struct ct_ref_row {
    int64_t id;
    ct_referral_state state;
    char nhs_number[11];
    int pathway; /* decided, else requested, else -1 */
    char *needs; /* owned: the person's needs, a JSON array of tags */
} ct_ref_row;

/* Loads a referral (CT_ENOTFOUND naming it). Free with
 * ct_referral__row_free. */
int ct_referral__load(ct_capacity *c, int64_t id, ct_ref_row *out,
                      ct_cap_error *err);
void ct_referral__row_free(ct_ref_row *r);
/* Fills out from the current row of st, whose first four columns are
 * REF_LOAD's (state, nhs_number, pathway, needs). out must be zeroed. */
int ct_referral__from_row(sqlite3_stmt *st, int64_t id, ct_ref_row *out,
                          ct_cap_error *err);
/* CT_ESTATE "referral 12 is placed; cannot hold" unless from -> to is a
 * transition of the life cycle; verb names the action ("hold"). */
int ct_referral__guard(int64_t id, ct_referral_state from,
                       ct_referral_state to, const char *verb,
                       ct_cap_error *err);
/* Records the person (nhs, 10 digits) when new: the person table is the
 * referrals'; isolation records infections through it too. */
int ct_referral__person_ensure(ct_capacity *c, const char *nhs,
                               ct_cap_error *err);
/* The row's current delay (updated_at = now): the open episode's reason
 * and responsible organisation, both NULL when none is open. delay.c
 * keeps it in step through the area's hook (ct_area__set_delay). */
int ct_referral__set_delay(ct_capacity *c, int64_t id, const char *reason,
                           const char *org, ct_cap_error *err);
/* Guards and writes the state change (updated_at = now). */
int ct_referral__move(ct_capacity *c, int64_t id, ct_referral_state from,
                      ct_referral_state to, ct_cap_error *err);


#endif
