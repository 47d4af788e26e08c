/*
 * A minimal POSIX ustar archive writer and reader over memory buffers, the
 * container of plugin bundles (docs/bundles.md). The writer makes
 * deterministic archives (owner 0, mtime 0) that `tar tvf` lists; the
 * reader walks any ustar archive entry by entry, checking each header's
 * checksum and sizes, and leaves it to the caller to decide which entry
 * types and names are acceptable. No extensions (pax, GNU long names,
 * base-256 sizes) are read: such entries come back with their type flag
 * so the caller can refuse them by name.
 */
#ifndef CT_TAR_H
#define CT_TAR_H

#include "util.h"

#include <stddef.h>
#include <stdint.h>

#define CT_TAR_BLOCK 512

typedef struct ct_tar_entry {
    char name[257];      /* prefix "/" name, NUL-terminated */
    char type;           /* type flag: '0' (or NUL) file, '5' dir, ... */
    uint32_t mode;
    uint64_t size;
    const uint8_t *data; /* size bytes inside the archive buffer */
} ct_tar_entry;

/*
 * Appends one entry to out. name must fit ustar (up to 100 bytes, or a
 * prefix of up to 155 bytes split at a '/' and the rest up to 100);
 * CT_EINVAL otherwise. type is written as given, so tests can make any
 * kind of entry. Returns 0, CT_EINVAL or CT_ENOMEM.
 */
int ct_tar_add(ct_buf *out, const char *name, char type, uint32_t mode,
               const void *data, size_t len);
/* Appends the end-of-archive marker (two zero blocks). */
int ct_tar_finish(ct_buf *out);

/*
 * Reads the entry at *pos of buf (len bytes) into *e and moves *pos past
 * it. Returns 1 for an entry, 0 at the end-of-archive marker, or
 * CT_ECORRUPT with a reason in why (truncated archive, bad checksum, not
 * ustar, bad size field). e->data points into buf.
 */
int ct_tar_next(const uint8_t *buf, size_t len, size_t *pos, ct_tar_entry *e,
                char *why, size_t whylen);

/* A word for a type flag in messages: "file", "symlink", "device"... */
const char *ct_tar_type_name(char type);

#endif
