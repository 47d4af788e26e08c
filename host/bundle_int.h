/*
 * Bundle internals shared by host/bundle.c (format, signing, verifying)
 * and host/bundle_fs.c (directories: reading, installing). Not for use
 * outside those two files.
 */
#ifndef CT_BUNDLE_INT_H
#define CT_BUNDLE_INT_H

#include "bundle.h"
#include "manifest.h"
#include "util.h"

typedef struct ct_bundle_entry {
    char *path;    /* relative, checked by ct_bundle__safe_path */
    uint8_t *data; /* owned */
    size_t len;
} ct_bundle_entry;

struct ct_bundle {
    uint8_t *manifest; /* MANIFEST.json bytes; NULL for a plain directory */
    size_t manifest_len;
    uint8_t *sig; /* MANIFEST.sig bytes or NULL */
    size_t sig_len;
    ct_bundle_entry *files; /* sorted by path once complete */
    size_t nfiles, cap;
    uint64_t total; /* bytes of every file */
};

/* Sets info's problem and reason; returns the error code for p. */
int ct_bundle__refuse(ct_bundle_info *info, ct_bundle_problem p,
                      const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/*
 * A relative path of components made of [A-Za-z0-9._-], none empty, "."
 * or "..", none starting with '.' or '-', at most CT_BUNDLE_MAX_PATH bytes
 * and CT_BUNDLE_MAX_DEPTH levels. Otherwise false with the reason in why.
 */
bool ct_bundle__safe_path(const char *path, char *why, size_t whylen);

/*
 * Appends a file, taking ownership of data (freed on failure too), after
 * checking the count and size limits (CT_ELIMIT with info set).
 */
int ct_bundle__add(ct_bundle *b, const char *path, uint8_t *data,
                   size_t len, ct_bundle_info *info);

/* Sorts the files by path; a path given twice is refused (CT_ECORRUPT). */
int ct_bundle__finish(ct_bundle *b, ct_bundle_info *info);

/* The end of every making of a bundle: rc 0 hands b to the caller in
 * *out; anything else frees b. Returns rc. */
int ct_bundle__hand_over(ct_bundle *b, int rc, ct_bundle **out);

/* Writes b's MANIFEST.json for its (finished) files and the plugin.yaml
 * manifest pm, replacing any. */
int ct_bundle__set_manifest(ct_bundle *b, const ct_manifest *pm);

/* The file bytes of b as a ustar archive (manifest, signature, files). */
int ct_bundle__archive(const ct_bundle *b, ct_buf *out);

#endif
