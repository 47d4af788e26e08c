/*
 * The token store: credentials kept apart from the area config, in one
 * JSON file beside the database ("<db>.tokens", docs/operations.md
 * "Tokens"), managed by `caretide token add|list|revoke|rotate` and, for
 * screens on a wall, by the API (display.h).
 *
 * A credential is one of
 *   user     a named person (user id, display name) of an organisation,
 *            with a role: the audit actor "user:ID@ORG/ROLE";
 *   client   a machine client of an organisation (an EPR interface), with
 *            a role: "client:NAME@ORG/ROLE";
 *   display  a screen on a wall (display.h): aggregate figures only,
 *            "display:NAME".
 * Each has an expiry (or none) and can be revoked; a revoked entry stays
 * in the file, so the list says who issued and revoked what. A secret is
 * 32 random bytes shown once as 43 base64url characters; the file keeps
 * only its SHA-256. Why a file and not a table: the CLI must be able to
 * change credentials while the daemon runs, and the daemon must stay the
 * only writer of its database (its changes are shipped to a standby, its
 * audit chain is appended in its own transactions). The daemon re-reads
 * the file when it changes and writes the audit events of what changed
 * (daemon_tokens.c), with the actor the file names for each change.
 *
 * Edits lock "<file>.lock" (flock) around load-change-save, and the save
 * replaces the file atomically (write, fsync, rename), so the CLI and the
 * daemon never lose each other's changes.
 */
#ifndef CT_TOKEN_H
#define CT_TOKEN_H

#include "model.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_TOKEN_SECRET_LEN 43 /* base64url of 32 bytes, no padding */
#define CT_TOKEN_NAME_MAX 64
#define CT_TOKEN_TEXT_MAX 128
#define CT_TOKEN_NEVER INT64_MAX

typedef enum ct_token_kind {
    CT_TOKEN_USER,
    CT_TOKEN_CLIENT,
    CT_TOKEN_DISPLAY,
} ct_token_kind;

/* One credential. Times are ms since the epoch; 0 means "not" (never
 * rotated, not revoked); expires_at is CT_TOKEN_NEVER when it does not
 * expire. org and role are unused for a display (role reads viewer). */
typedef struct ct_token {
    int64_t id;
    ct_token_kind kind;
    char name[CT_TOKEN_NAME_MAX + 1];         /* user id, client, screen */
    char display_name[CT_TOKEN_TEXT_MAX + 1]; /* a user's name, or "" */
    char org[CT_TOKEN_NAME_MAX + 1];
    ct_role role;
    uint8_t sha256[32];
    int64_t created_at, expires_at, rotated_at, revoked_at;
    char created_by[CT_TOKEN_TEXT_MAX + 1];
    char rotated_by[CT_TOKEN_TEXT_MAX + 1];
    char revoked_by[CT_TOKEN_TEXT_MAX + 1];
} ct_token;

typedef struct ct_tokens ct_tokens;

/* "<db_path>.tokens" into a new string (NULL: out of memory). */
char *ct_tokens_path(const char *db_path);

/*
 * Reads the store at path into *out (freed with ct_tokens_free); a
 * missing file is an empty store. CT_ECONFIG with a sentence in why for a
 * malformed file (a bad entry, two entries with one id or one hash, two
 * valid entries of one kind and name), CT_EIO when it cannot be read.
 */
int ct_tokens_load(const char *path, ct_tokens **out, char *why, size_t n);
void ct_tokens_free(ct_tokens *t);

size_t ct_tokens_count(const ct_tokens *t);
/* The i-th entry in id order (borrowed; valid until the next change). */
const ct_token *ct_tokens_at(const ct_tokens *t, size_t i);
/* The entry with id, or NULL. */
const ct_token *ct_tokens_find(const ct_tokens *t, int64_t id);
/* The valid (not revoked) entry of kind and name, or NULL. */
const ct_token *ct_tokens_find_name(const ct_tokens *t, ct_token_kind kind,
                                    const char *name);

/* The result of a match. */
typedef enum ct_token_match {
    CT_TOKEN_NONE,    /* no entry has the hash (or it was revoked) */
    CT_TOKEN_VALID,
    CT_TOKEN_EXPIRED, /* the entry exists, its expiry has passed */
} ct_token_match;

/*
 * Looks the SHA-256 hash h up at time now. Every entry is compared
 * whatever matches (constant time in which one did); *out (may be NULL)
 * is borrowed from t.
 */
ct_token_match ct_tokens_match(const ct_tokens *t, const uint8_t h[32],
                               int64_t now, const ct_token **out);

/*
 * Adds a credential like proto (kind, name, display_name, org, role,
 * expires_at; the rest is filled in) created at now by actor, with a new
 * random secret written to secret (NUL-terminated, for the caller to show
 * once). CT_EINVAL with why for a bad name or text, CT_EEXISTS when a
 * valid entry of that kind already has the name. *id gets its id.
 */
int ct_tokens_add(ct_tokens *t, const ct_token *proto, int64_t now,
                  const char *actor, char secret[CT_TOKEN_SECRET_LEN + 1],
                  int64_t *id, char *why, size_t n);

/* Revokes entry id (CT_ENOTFOUND; CT_ESTATE when already revoked). */
int ct_tokens_revoke(ct_tokens *t, int64_t id, int64_t now,
                     const char *actor, char *why, size_t n);

/* A new secret for entry id, the old one refused from then on; expires_at
 * replaces the expiry unless it is 0. CT_ENOTFOUND, CT_ESTATE (revoked). */
int ct_tokens_rotate(ct_tokens *t, int64_t id, int64_t now,
                     const char *actor, int64_t expires_at,
                     char secret[CT_TOKEN_SECRET_LEN + 1], char *why,
                     size_t n);

/* Adds an existing credential as it is (an import; id assigned). */
int ct_tokens_import(ct_tokens *t, const ct_token *tok, char *why, size_t n);

/*
 * Editing: ct_tokens_edit_begin locks "<path>.lock" and loads the store;
 * ct_tokens_edit_end saves it when save is true (atomically, mode 0600,
 * keeping the owner of the file it replaces) and unlocks. *lock is the
 * lock's descriptor; end always releases it.
 */
int ct_tokens_edit_begin(const char *path, int *lock, ct_tokens **out,
                         char *why, size_t n);
int ct_tokens_edit_end(const char *path, int lock, ct_tokens *t, bool save,
                       char *why, size_t n);

/* "user", "client", "display"; ct_token_kind_parse returns -1 for others. */
const char *ct_token_kind_name(ct_token_kind k);
int ct_token_kind_parse(const char *s);

/* The audit actor of an entry: "user:ID@ORG/ROLE", "client:NAME@ORG/ROLE",
 * "display:NAME". */
void ct_token_actor(const ct_token *tok, char *out, size_t n);

/* {id, kind, name, display_name, org, role, created_at, created_by,
 * expires_at, rotated_at, rotated_by, revoked_at, revoked_by, state}: no
 * hash. state is "valid", "expired" or "revoked" at now. New object. */
json_t *ct_token_json(const ct_token *tok, int64_t now);

#endif
