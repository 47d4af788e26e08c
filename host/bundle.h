/*
 * Plugin bundles (docs/bundles.md): how central teams publish plugins and
 * how a host decides whether to run one.
 *
 * A bundle is a ustar archive (NAME-VERSION.ctb) of a plugin directory
 * plus MANIFEST.json, which lists every file with its SHA-256 and size,
 * and optionally MANIFEST.sig, an Ed25519 signature over the manifest by a
 * key named by its id. The bundle hash is the SHA-256 of MANIFEST.json's
 * bytes, which are canonical, so it names exactly one set of file
 * contents. Installing a bundle unpacks it as a directory that keeps both
 * manifest files, so the same checks run on installed plugins at check,
 * start and reload (ct_bundle_verify_dir).
 *
 * Verification refuses, with a reason and a ct_bundle_problem: a plugin
 * that must be signed and is not; a signature by a key the area does not
 * trust, by an expired key, or that does not match; any file that differs
 * from, is missing from or is not in the manifest (the first in path
 * order is named); a manifest for another plugin API; unsafe archive
 * entries (absolute paths, '..', links, devices) and oversized bundles. A
 * signature that is present is always checked, even where signing is not
 * required. A plain plugin directory without MANIFEST.json is accepted
 * only where signing is not required.
 *
 * A ct_bundle is a bundle held in memory: the manifest, the signature and
 * every file's bytes. The runtime can load a plugin's code from the
 * verified bytes (ct_bundle_file) so that what runs is what was checked.
 */
#ifndef CT_BUNDLE_H
#define CT_BUNDLE_H

#include "diag.h"
#include "signkey.h"
#include "trust.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_BUNDLE_FORMAT "caretide-bundle/1"
#define CT_BUNDLE_SIG_FORMAT "caretide-signature/1"
/* What is signed: this line, then the bytes of MANIFEST.json. */
#define CT_BUNDLE_SIG_CONTEXT "caretide-bundle-signature/1\n"
#define CT_BUNDLE_MANIFEST "MANIFEST.json"
#define CT_BUNDLE_SIGNATURE "MANIFEST.sig"
#define CT_BUNDLE_EXT ".ctb"

/* Limits on what a bundle or an installed plugin may hold. */
#define CT_BUNDLE_MAX_FILES 1000
#define CT_BUNDLE_MAX_FILE_BYTES (16u << 20)
#define CT_BUNDLE_MAX_BYTES (64u << 20) /* every file together */
#define CT_BUNDLE_MAX_PATH 255
#define CT_BUNDLE_MAX_DEPTH 8

typedef struct ct_bundle ct_bundle;

typedef enum ct_bundle_problem {
    CT_BUNDLE_OK,
    CT_BUNDLE_UNSIGNED,      /* no signature where one is required */
    CT_BUNDLE_UNKNOWN_KEY,   /* signed by a key not trusted here */
    CT_BUNDLE_EXPIRED_KEY,   /* signed by a trusted key past its expiry */
    CT_BUNDLE_BAD_SIGNATURE, /* the signature does not match the manifest */
    CT_BUNDLE_TAMPERED,      /* a file differs, is missing or was added */
    CT_BUNDLE_WRONG_API,     /* built for another plugin API */
    CT_BUNDLE_UNSAFE,        /* traversal, absolute path, link, device */
    CT_BUNDLE_TOO_BIG,       /* past the limits above */
    CT_BUNDLE_MALFORMED,     /* not a bundle, or a broken manifest */
    CT_BUNDLE_IO,            /* cannot be read or written */
    CT_BUNDLE_TESTS_FAILED,  /* its own tests fail (install's gate) */
    CT_BUNDLE_DOWNGRADE,     /* older than the installed version */
} ct_bundle_problem;

/*
 * What verification found. Filled as far as it got, also on refusal, so
 * messages can name the bundle; the runtime records bundle_hash and
 * key_id in decision traces and audit events.
 */
typedef struct ct_bundle_info {
    ct_bundle_problem problem;
    char reason[512];     /* why it was refused; "" when accepted */
    bool has_manifest;    /* false: a plain directory, not a bundle */
    bool is_signed;       /* signature checked against a trusted key */
    char name[65];
    char version[65];
    int api;
    char publisher[129];
    char bundle_hash[65]; /* hex SHA-256 of MANIFEST.json; "" without */
    char key_id[17];      /* the signature's key id; "" when unsigned */
    char signer[129];     /* the trusted key's name, else its id */
    int64_t key_expires_ms; /* INT64_MAX when the key never expires */
    size_t nfiles;
} ct_bundle_info;

/* Lowercase word for a problem ("unsigned", "unknown_key", ...). */
const char *ct_bundle_problem_name(ct_bundle_problem p);

/* Wall-clock time in ms since the epoch, for callers without a clock. */
int64_t ct_bundle_wall_ms(void);

/*
 * Packs a plugin source directory into a new unsigned bundle: reads and
 * checks plugin.yaml, then takes every regular file except names starting
 * with '.' (editor and VCS files) and an existing MANIFEST.json and
 * MANIFEST.sig. Symlinks, special files, names outside [A-Za-z0-9._-] and
 * the limits above are errors. Returns 0 with *out (free with
 * ct_bundle_free), or CT_ECONFIG / CT_ELIMIT / CT_EIO with diagnostics.
 */
int ct_bundle_pack(const char *dir, ct_bundle **out, ct_diags *diags);

/*
 * Reads a bundle file. Only regular files and directories with safe
 * relative names are accepted; anything else is refused with the entry's
 * name. Returns 0 with *out, or an error with info->problem and reason
 * set (info must not be NULL). Nothing is verified beyond that: call
 * ct_bundle_verify.
 */
int ct_bundle_read(const char *path, ct_bundle **out, ct_bundle_info *info);
/* The same for a bundle's bytes in memory (buf borrowed; the files are
 * copied). What the fuzz target tests/fuzz/fuzz_bundle.c feeds. */
int ct_bundle_read_mem(const uint8_t *buf, size_t len, ct_bundle **out,
                       ct_bundle_info *info);

/*
 * Reads an installed plugin directory: MANIFEST.json, MANIFEST.sig and
 * every file, without following links. A directory without MANIFEST.json
 * gives a bundle with no manifest and no files. Errors as ct_bundle_read.
 */
int ct_bundle_load_dir(const char *dir, ct_bundle **out,
                       ct_bundle_info *info);

/* Writes b as a bundle file, atomically (temporary file, then rename).
 * CT_EINVAL without a manifest; CT_EIO. */
int ct_bundle_write(const ct_bundle *b, const char *path);

/*
 * Signs b's manifest with k, replacing any signature. Refuses (with info)
 * a bundle without a manifest, one whose files do not match it, and an
 * expired key (at now_ms).
 */
int ct_bundle_sign(ct_bundle *b, const ct_signkey *k, int64_t now_ms,
                   ct_bundle_info *info);

/*
 * Verifies b against trust t at now_ms (see the top of this header).
 * required: the plugin must be signed by a trusted key. Returns 0 when b
 * may run, with info filled (is_signed false for an accepted unsigned
 * plugin); otherwise CT_ESIGNATURE (unsigned, unknown or expired key, bad
 * signature), CT_ECORRUPT (tampered, unsafe, malformed),
 * CT_EUNSUPPORTED (wrong API) or CT_ELIMIT, with info->problem and
 * info->reason. t may be NULL (nothing trusted).
 */
int ct_bundle_verify(const ct_bundle *b, const ct_trust *t, bool required,
                     int64_t now_ms, ct_bundle_info *info);

/* ct_bundle_load_dir then ct_bundle_verify: the check for an installed
 * plugin at check, start and reload. */
int ct_bundle_verify_dir(const char *dir, const ct_trust *t, bool required,
                         int64_t now_ms, ct_bundle_info *info);

/* Signs an installed or unpacked directory in place (writes MANIFEST.sig
 * atomically). */
int ct_bundle_sign_dir(const char *dir, const ct_signkey *k, int64_t now_ms,
                       ct_bundle_info *info);

/*
 * Verifies b, then installs it as parent/NAME: unpacks into a temporary
 * directory beside the target, verifies what was written, and only then
 * swaps it in (atomically where the kernel can exchange directories) and
 * removes the old version. parent is created if missing. An existing
 * NAME that was not installed from a bundle (no MANIFEST.json) is never
 * replaced: CT_EEXISTS. On success *dir_out (when not NULL) is the
 * installed directory (caller frees).
 */
int ct_bundle_install(const ct_bundle *b, const char *parent,
                      const ct_trust *t, bool required, int64_t now_ms,
                      ct_bundle_info *info, char **dir_out);

/*
 * ct_bundle_install with a gate: gate(ud, dir, info, reason, size) runs on
 * the unpacked, re-verified copy (dir, a temporary directory beside the
 * target) before it is swapped in; a nonzero return refuses the install
 * (CT_BUNDLE_TESTS_FAILED, with the gate's reason) and leaves the
 * installed version as it was. caretide plugin install runs the bundle's
 * own tests there.
 */
typedef int (*ct_bundle_gate_fn)(void *ud, const char *dir,
                                 const ct_bundle_info *info, char *reason,
                                 size_t size);
int ct_bundle_install_gated(const ct_bundle *b, const char *parent,
                            const ct_trust *t, bool required, int64_t now_ms,
                            ct_bundle_gate_fn gate, void *ud,
                            ct_bundle_info *info, char **dir_out);

/* The bytes of file path (relative, as in the manifest) or NULL; *len
 * set. Borrowed from b. */
const uint8_t *ct_bundle_file(const ct_bundle *b, const char *path,
                              size_t *len);

/* The number of files in b, and the path of the i-th (i < count), in
 * path order: for listing what a verified bundle holds. Borrowed. */
size_t ct_bundle_count(const ct_bundle *b);
const char *ct_bundle_path_at(const ct_bundle *b, size_t i);

/* Frees b and every byte it holds; NULL is ignored. */
void ct_bundle_free(ct_bundle *b);

#endif
