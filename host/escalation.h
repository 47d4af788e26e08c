/*
 * Escalation: the area's operational pressure level, 1 to 4 (OPEL,
 * docs/domain.md: 1 flow within resources ... 4 safety at risk), with the
 * reason and actions of each change, and its history.
 *
 * Plugins' escalate hooks propose levels; the plugin manager records the
 * winner here. A level is recorded only when it differs from the current
 * one: one escalation row and the audit event "escalation.changed"
 * ({from, to, reason, actions, escalation}) in one transaction, or in a
 * savepoint of the caller's open transaction, through the capacity
 * handle so that the event reaches its subscribers like any other. While
 * nothing has been recorded the level is 1.
 *
 * Reads take the store, so reports can use them without a capacity handle.
 */
#ifndef CT_ESCALATION_H
#define CT_ESCALATION_H

#include "capacity.h"
#include "store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define CT_ESCALATION_MIN 1
#define CT_ESCALATION_MAX 4
/* Longest reason recorded, in bytes. */
#define CT_ESCALATION_REASON_MAX 500

typedef struct ct_escalation {
    int64_t seq; /* the escalation row; 0 while nothing is recorded */
    int64_t at;  /* when the level took effect (host clock); 0 when never */
    int level;
    char reason[CT_ESCALATION_REASON_MAX + 1];
} ct_escalation;

/* The current level (1 with seq 0 when nothing is recorded). */
int ct_escalation_current(ct_store *s, ct_escalation *out);

/*
 * Changes newest first, with seq below before_seq (INT64_MAX for the
 * newest), at most limit (1..1000), as a new JSON array (caller owns):
 * [{seq, at, level, reason, actions}].
 */
int ct_escalation_history_json(ct_store *s, int64_t before_seq, int limit,
                               json_t **out);

/*
 * The current level and recent history as a new object (caller owns):
 * {level, since (ms or null), reason (or null), actions, history: [...]}
 * with at most history_limit (1..1000) changes.
 */
int ct_escalation_json(ct_store *s, int history_limit, json_t **out);

/*
 * Records level (1..4) with reason (required, copied) and actions (a JSON
 * array, borrowed; NULL for none) by actor ("plugin:winter_surge"). When
 * the level is the current one nothing is written and *changed (may be
 * NULL) is false. CT_EINVAL with err filled for a bad argument.
 */
int ct_escalation_record(ct_capacity *c, int level, const char *reason,
                         const json_t *actions, const char *actor,
                         bool *changed, ct_cap_error *err);

#endif
