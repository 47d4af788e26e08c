/*
 * Signing keys for plugin bundles (docs/bundles.md): Ed25519 key pairs
 * made by `caretide plugin keygen`, kept as two small YAML files: NAME.key
 * (the secret seed, mode 0600, refused when others may read it) and
 * NAME.pub (the public half, the same map an area's `trust.keys` entry
 * takes: host/trust.h reads it). Only publishers hold secret keys; hosts
 * never need one.
 */
#ifndef CT_SIGNKEY_H
#define CT_SIGNKEY_H

#include "diag.h"
#include "trust.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ct_signkey {
    char id[CT_KEY_ID_LEN + 1];
    uint8_t secret_key[64]; /* libsodium's form: seed then public key */
    uint8_t public_key[32];
    int64_t expires_ms;     /* INT64_MAX: never */
    char *expires;          /* as written ("2027-03-31"), or NULL */
    char *name;             /* label, e.g. "central-2025" */
} ct_signkey;

/*
 * A fresh random key pair. name is 1 to 64 letters, digits, '.', '_' or
 * '-'; expires is NULL or a ct_trust_parse_expiry text. CT_EINVAL for a
 * bad name or expiry, CT_ENOMEM. The caller clears *out with
 * ct_signkey_clear.
 */
int ct_signkey_generate(const char *name, const char *expires,
                        ct_signkey *out);

/*
 * Writes key_path (secret, mode 0600) and pub_path (public, 0644), each
 * atomically (temporary file, then link or rename). Without force an
 * existing file is never replaced: CT_EEXISTS, and nothing is written.
 * CT_EIO on other failures.
 */
int ct_signkey_write(const ct_signkey *k, const char *key_path,
                     const char *pub_path, bool force);

/* Reads a secret key file. CT_EDENIED (with a diagnostic) when group or
 * others may read it; CT_ECONFIG when it is malformed. */
int ct_signkey_load(const char *path, ct_signkey *out, ct_diags *diags);

/* Ed25519 detached signature of msg. */
void ct_signkey_sign(const ct_signkey *k, const void *msg, size_t len,
                     uint8_t sig[64]);

/* Wipes the secret and frees what k owns. */
void ct_signkey_clear(ct_signkey *k);

#endif
