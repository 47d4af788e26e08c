/*
 * Trust in plugin publishers (docs/bundles.md): the Ed25519 public keys an
 * area accepts signatures from, each named by a key id (the first 16 hex
 * digits of the SHA-256 of the public key) and optionally expiring. The
 * area config's `trust.keys` lists them inline or by `.pub` file (written
 * by `caretide plugin keygen`); several may be trusted at once so that a
 * publisher can rotate keys. This unit parses and checks key entries with
 * file:line:col diagnostics and looks keys up; verifying bundles against
 * them is host/bundle.c's job.
 */
#ifndef CT_TRUST_H
#define CT_TRUST_H

#include "diag.h"
#include "yaml_tree.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_KEY_ID_LEN 16 /* hex digits */

typedef struct ct_trust_key {
    char id[CT_KEY_ID_LEN + 1];
    uint8_t public_key[32];
    int64_t expires_ms; /* first instant (ms, UTC) it is no longer valid;
                           INT64_MAX when it never expires */
    char *name;         /* label shown as the signer; NULL when not given */
    char *file;         /* file that declared it, for messages */
    uint32_t line, col; /* position of the entry in that file */
} ct_trust_key;

typedef struct ct_trust {
    bool require_signed; /* default for plugin entries that say nothing */
    ct_trust_key *keys;
    size_t nkeys;
} ct_trust;

/* The key id of a public key: 16 lowercase hex digits and a NUL. */
void ct_trust_key_id(const uint8_t public_key[32], char id[CT_KEY_ID_LEN + 1]);

/*
 * Expiry as written in key files and config: "YYYY-MM-DD" means the key
 * is valid through that day (UTC), so *out is the following midnight;
 * "YYYY-MM-DDTHH:MM[:SS]Z" is the exact instant it stops being valid.
 * CT_EINVAL otherwise.
 */
int ct_trust_parse_expiry(const char *s, int64_t *out);

/*
 * Parses one key entry, a map with `id`, `public_key` (base64 of 32
 * bytes), optional `expires` and `name`. file names the input in
 * diagnostics. The id must be the key's own id, so a key pasted wrongly
 * cannot hide under another's id. On success fills *out (the caller frees
 * it with ct_trust_key_clear); on error returns CT_ECONFIG with every
 * problem in diags and *out zeroed.
 */
int ct_trust_key_parse(const char *file, const ct_node *map,
                       ct_trust_key *out, ct_diags *diags);

/* Reads a public key file (keygen's NAME.pub): the same map as an entry.
 * CT_ENOTFOUND/CT_EIO/CT_ECONFIG with a diagnostic. */
int ct_trust_key_load(const char *path, ct_trust_key *out, ct_diags *diags);

/* Frees what a key owns and zeroes it. */
void ct_trust_key_clear(ct_trust_key *k);

/* Appends k to t, taking ownership of what k owns (k is zeroed).
 * CT_EEXISTS when its id is already trusted (k untouched), CT_ENOMEM. */
int ct_trust_add(ct_trust *t, ct_trust_key *k);

/* The trusted key with this id, or NULL. Borrowed from t. */
const ct_trust_key *ct_trust_find(const ct_trust *t, const char *id);

/* Frees every key and zeroes t (t itself is the caller's). */
void ct_trust_clear(ct_trust *t);

#endif
