/*
 * Delay episodes: why a person waits in hospital past the discharge ready
 * date (DRD), as a history. Each episode has a reason (a code of the
 * area's reason list), the organisation responsible, the UK day it starts
 * and the day it ends (exclusive; open while the delay goes on). A new
 * reason ends the open episode on the day the new one starts, so the
 * delay days of a referral (UK days from the DRD to the day its wait
 * ends, referral.h) are apportioned between its episodes and never
 * counted twice: a re-decision on the same day leaves the earlier episode
 * with no day at all. Days no episode covers count as "none".
 *
 * The reason list and which organisations may answer for which reason
 * are national rules that change: they are plugin data (the
 * discharge_hub plugin's `delay` hook, docs/plugins.md), checked before
 * these functions run. The host keeps what defines a delay: it starts on
 * or after the DRD and no later than today, the history is not rewritten
 * (a new episode starts no earlier than the open one), the organisation
 * exists, and a cancelled referral has no new delay. An episode coded
 * wrongly is corrected by a new one that supersedes it (ct_delay_correct). A discharged or
 * completed referral takes episodes coded retrospectively (the national
 * sitrep allows it) within the days it waited: from before the day the
 * person left, audited as such.
 *
 * Days are whole UK days (Europe/London, clock.h ct_clock_uk_day) as day
 * numbers (days since 1970-01-01) or "YYYY-MM-DD".
 */
#ifndef CT_DELAY_H
#define CT_DELAY_H

#include "area.h"
#include "model.h"

#include <jansson.h>

/* The longest reason code; codes are [a-z0-9_] words. */
#define CT_DELAY_REASON_MAX 64
#define CT_DELAY_TEXT_MAX 200

typedef struct ct_delay_input {
    const char *reason;      /* code, [a-z0-9_]{1,64} */
    const char *reason_text; /* its label from the reason list, or NULL */
    const char *responsible_org; /* an organisation that exists */
    const char *from; /* first UK day of the episode, YYYY-MM-DD; NULL:
                         the ready date for a referral's first episode,
                         today for a later one */
} ct_delay_input;

/*
 * Starts a delay episode for referral id, ending the open one on in->from
 * (strings copied). Also sets the referral's current delay_reason and
 * responsible_org. Audited as referral.delay_set {referral, episode,
 * reason, text, responsible_org, from, ended}. A refusal is CT_EINVAL, or
 * CT_ENOTFOUND for an unknown organisation, with the input at fault in
 * *field ("reason", "responsible_org", "from"; field may be NULL);
 * CT_ENOTFOUND for an unknown referral and CT_ESTATE once cancelled
 * leave *field NULL. After discharge `from` must be before the day the
 * person left; without it the first episode starts on the ready date and
 * a later one corrects the latest from its start. The event then carries
 * "retrospective": true and "left" (that day).
 */
int ct_delay_start(ct_capacity *c, int64_t id, const ct_delay_input *in,
                   const char *actor, const char **field, ct_cap_error *err);

/*
 * Corrects episode `episode` of referral id rather than starting one: the
 * reason or organisation coded was wrong (in->from must be NULL). The history
 * keeps both: a new episode over the same days supersedes it (the old row
 * names it in superseded_by), and reports, the referral view and the
 * current delay read only episodes in force. Audited as
 * referral.delay_corrected {referral, episode, supersedes, reason, text,
 * responsible_org, from, to, was: {reason, responsible_org}}. Refused
 * with field "episode" for an episode of another referral or one already
 * corrected (correct the correction), "from" when from is given.
 */
int ct_delay_correct(ct_capacity *c, int64_t id, int64_t episode,
                     const ct_delay_input *in, const char *actor,
                     const char **field, ct_cap_error *err);

/* Ends the open episode on day `to` (YYYY-MM-DD, NULL for today): the
 * person is no longer delayed for that reason. Audited as
 * referral.delay_cleared {referral, episode, to}. */
int ct_delay_end(ct_capacity *c, int64_t id, const char *to,
                 const char *actor, ct_cap_error *err);

/* The episodes of referral id as a new JSON array, oldest first: {id,
 * reason, text, responsible_org, from, to (null while open), days (of the
 * delay days [ready_day, end_day), those attributed to it), recorded_at,
 * recorded_by, retrospective (recorded after the person left)}. */
int ct_delay_episodes_json(ct_capacity *c, int64_t id, int64_t ready_day,
                           int64_t end_day, json_t **out, ct_cap_error *err);

/* One stretch of a referral's delay days: [from_day, to_day) attributed
 * to reason and org (both NULL: no episode covers it). Strings are
 * borrowed for the call only. */
typedef struct ct_delay_span {
    const char *reason, *reason_text, *org;
    int64_t from_day, to_day;
} ct_delay_span;
typedef int (*ct_delay_span_fn)(void *ud, const ct_delay_span *s);

/*
 * Calls fn for each stretch of the delay days [ready_day, end_day) of
 * referral id, in day order, covering them exactly (nothing when end_day
 * <= ready_day). A non-zero return from fn stops the walk and is returned.
 */
int ct_delay_spans(ct_capacity *c, int64_t id, int64_t ready_day,
                   int64_t end_day, ct_delay_span_fn fn, void *ud,
                   ct_cap_error *err);

/* The organisation as the `delay` hook sees it, a new {id, name,
 * facility_kinds: [kind...]} (the kinds of facility it runs, so a reason
 * list can tell a care provider from a trust); CT_ENOTFOUND naming it. */
int ct_delay_org_json(ct_capacity *c, const char *org, json_t **out,
                      ct_cap_error *err);

/* Day number of "YYYY-MM-DD" (-1 when it does not parse). */
int64_t ct_delay_day(const char *date);

#endif
