/*
 * The audit log: every state change is one transaction together with its
 * event (docs/design.md principles 1 and 3). Events are append-only and
 * hash-chained: hash = SHA-256(prev_hash || canonical bytes of the event),
 * where the canonical bytes are the JSON text of
 * {"actor","at","kind","payload","seq"} with sorted keys, no spaces and
 * ASCII escapes (jansson JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII).
 * The first event's prev_hash is 32 zero bytes. The event row stores the
 * payload as exactly the bytes that went into the hash, so verification
 * hashes the stored text as it is and any edit to it shows.
 *
 * Example: seq 1, at 1795392000000, actor "host", kind "demo.started",
 * payload {"b":[1,2],"a":"\u00E9"} has the canonical bytes
 *   {"actor":"host","at":1795392000000,"kind":"demo.started",
 *    "payload":{"a":"\u00E9","b":[1,2]},"seq":1}
 * (one line; note jansson's upper-case \u escapes) and hash
 * SHA-256(32 zero bytes || those bytes).
 *
 * The chain head (newest seq and hash) is kept in table chain_head, updated
 * in the same transaction, so that deleting the newest events shows. Since
 * anyone with the sqlite3 shell can rewrite chain_head too, the head is
 * also kept outside the database, in the head file "<db path>.audit-head"
 * (one line: "<seq> <64 hex digits>\n"), written by ct_audit_sync_head
 * after a commit. The file may lag the database (a crash between commit
 * and sync) but never leads it; verification reports truncation when the
 * file names a seq beyond the newest event or a hash that differs from the
 * event at that seq.
 *
 * What the chain cannot show: SHA-256 has no key, so someone who rewrites
 * every event from some seq on, chain_head and the head file together, or
 * who appends well-formed events after the last sync, is not detected.
 * Keep a copy of the head file elsewhere (or publish it) to anchor it.
 */
#ifndef CT_AUDIT_H
#define CT_AUDIT_H

#include "json_canon.h"
#include "store.h"

#include <jansson.h>
#include <stdint.h>

/*
 * Appends one event inside the caller's open transaction (CT_ESTATE when
 * none is open): at is the host clock time, actor names who acted
 * ("org:demo-acute", "plugin:stepdown", "host"), kind is dotted
 * ("hold.created"). payload is borrowed (may be NULL for {}); it must be a
 * JSON object. Writes the new seq to *seq when seq is not NULL. Cost: one
 * SELECT, one INSERT, one UPDATE through cached statements and one
 * SHA-256. Errors: CT_EINVAL (empty actor or kind, text that is not
 * UTF-8, a payload that is not an object), CT_ESTATE, storage errors; on
 * any error the caller must roll the transaction back. Call
 * ct_audit_sync_head after the commit.
 */
int ct_audit_append(ct_store *s, int64_t at, const char *actor,
                    const char *kind, const json_t *payload, int64_t *seq);

/*
 * As ct_audit_append with the payload given as the members of a flat
 * object (json_canon.h) instead of a json_t: the same event, the same
 * canonical bytes, without building the object. members is borrowed and
 * sorted by key in place; n may be 0 for {}.
 */
int ct_audit_append_members(ct_store *s, int64_t at, const char *actor,
                            const char *kind, ct_json_member *members,
                            size_t n, int64_t *seq);

/*
 * As ct_audit_append with the payload given as its canonical text, len
 * bytes, exactly as ct_json_canon wrote it for an object (the caller
 * keeps the same bytes elsewhere: a decision is stored, audited and sent
 * as one text). The row stores those bytes and the hash covers them; text
 * that ct_json_canon did not write would break verification. Borrows
 * text. CT_EINVAL for text that is not an object's braces.
 */
int ct_audit_append_text(ct_store *s, int64_t at, const char *actor,
                         const char *kind, const char *text, size_t len,
                         int64_t *seq);

typedef struct ct_audit_report {
    int64_t events;        /* events in the log */
    int64_t head_seq;      /* chain head as recorded in chain_head (0: none) */
    int64_t head_file_seq; /* seq in the head file; -1 when there is none */
    int64_t first_bad;     /* first seq that fails, 0 when all good */
    char reason[256];      /* why first_bad fails */
} ct_audit_report;

/*
 * Walks the whole chain in one read snapshot, then checks chain_head and
 * the head file. Returns 0 when intact, CT_ECORRUPT with first_bad and
 * reason filled when not (the smallest seq any check names), another CT_E*
 * on a storage error. report is the caller's; always filled. Works on a
 * read-only store and inside or outside a transaction.
 */
int ct_audit_verify(ct_store *s, ct_audit_report *report);

/*
 * Events with seq > after, oldest first, at most limit (1..1000), as a new
 * JSON array (caller owns) of {seq, at, actor, kind, payload, prev_hash,
 * hash}, hashes in lowercase hex (audit_list.c). For GET /v1/audit.
 */
int ct_audit_list_json(ct_store *s, int64_t after, int limit, json_t **out);

/*
 * Who read referral id: {referral, reads: [{seq, at, actor, route,
 * request}], readers: [{actor, reads, first_at, last_at}]} from the
 * access.read events, as a new object (audit_list.c). For
 * GET /v1/reports/access and `caretide report access`.
 */
int ct_audit_access_json(ct_store *s, int64_t referral, json_t **out);

/* The newest seq as chain_head records it (0 when empty), or a negative
 * CT_E* on a storage error. */
int64_t ct_audit_head(ct_store *s);

/* The newest seq as chain_head records it and that event's time: 0 and
 * INT64_MIN when empty; a CT_E* code on a storage error. Reads inside the
 * caller's transaction when there is one. */
int ct_audit_head_at(ct_store *s, int64_t *seq, int64_t *at);

/* A chain head: seq and hash in lowercase hex. */
typedef struct ct_audit_anchor {
    int64_t seq;
    char hash[65];
} ct_audit_anchor;

/*
 * The head file of the database at db_path (no store needed: the
 * database may be missing): 0 and *a, CT_ENOTFOUND when there is none,
 * CT_ECORRUPT when malformed, CT_EIO.
 */
int ct_audit_read_anchor(const char *db_path, ct_audit_anchor *a);

/* The store's committed chain head (seq 0 and zeros when empty). */
int ct_audit_store_anchor(ct_store *s, ct_audit_anchor *a);

/*
 * Whether the store is the database its head file anchors: 0 when the
 * database's chain reaches the file's seq with the file's hash there;
 * CT_ENOTFOUND when there is no head file (or the store is in memory);
 * CT_ECORRUPT with a sentence in why when the database is behind the
 * file or holds another chain (a deleted, replaced or hand-restored
 * database). *file gets the head file's anchor (seq -1 when none).
 */
int ct_audit_check_anchor(ct_store *s, ct_audit_anchor *file, char *why,
                          size_t n);

/*
 * Writes the store's committed head to the head file whatever the file
 * said before: only after a restore, whose audited store.restored event
 * records the head it discards (backup.h). CT_ESTATE in a transaction.
 */
int ct_audit_reanchor(ct_store *s);

/* Calls fn for each store.restored event, oldest first; the strings are
 * borrowed for the call. */
typedef void (*ct_audit_restore_fn)(int64_t seq, int64_t at,
                                    const char *actor, const char *payload,
                                    void *data);
int ct_audit_each_restore(ct_store *s, ct_audit_restore_fn fn, void *data);

/*
 * Writes the committed chain head to the head file (see above): call it
 * after ct_store_commit of a transaction that appended, once per commit
 * (or per group of commits). It writes a temporary file, fsyncs it and
 * renames it over the old one. CT_ESTATE inside a transaction (the head
 * there is not committed yet). Refuses to move the file backwards or
 * onto another chain: CT_ECORRUPT, nothing written, when the file names a
 * seq beyond the database's head or a hash that differs from the event
 * at its seq. A no-op for an in-memory database.
 */
int ct_audit_sync_head(ct_store *s);

#endif
