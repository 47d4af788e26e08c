/*
 * The audit log: every state change is one transaction together with its
 * event (DESIGN.md principles 1 and 3). Events are append-only and
 * hash-chained: hash = SHA-256(prev_hash || canonical bytes of the event),
 * where the canonical bytes are the JSON text of
 * {"actor","at","kind","payload","seq"} with sorted keys, no spaces and
 * ASCII escapes (jansson JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII).
 * The first event's prev_hash is 32 zero bytes. The chain head (newest seq
 * and hash) is kept in table chain_head, updated in the same transaction,
 * so that deleting the newest events shows.
 */
#ifndef CT_AUDIT_H
#define CT_AUDIT_H

#include "store.h"

#include <jansson.h>
#include <stdint.h>

/*
 * Appends one event inside the caller's open transaction (CT_ESTATE when
 * none is open): at is the host clock time, actor names who acted
 * ("org:demo-acute", "plugin:stepdown", "host"), kind is dotted
 * ("hold.created"). payload is borrowed (may be NULL for {}); it must be a
 * JSON object. Writes the new seq to *seq when seq is not NULL.
 */
int ct_audit_append(ct_store *s, int64_t at, const char *actor,
                    const char *kind, const json_t *payload, int64_t *seq);

typedef struct ct_audit_report {
    int64_t events;       /* events checked */
    int64_t head_seq;     /* chain head as recorded */
    int64_t first_bad;    /* first seq that fails, 0 when all good */
    char reason[256];     /* why first_bad fails */
} ct_audit_report;

/* Walks the whole chain. Returns 0 when intact, CT_ECORRUPT with the
 * report filled when not, another CT_E* on a storage error. */
int ct_audit_verify(ct_store *s, ct_audit_report *report);

/* The newest seq (0 when empty). */
int64_t ct_audit_head(ct_store *s);

#endif
