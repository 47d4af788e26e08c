/*
 * SHA-256 for the audit chain (audit.c hashes prev_hash || canonical
 * bytes for every event, so it is on the path of every change). On x86-64
 * processors with the SHA extensions the compression runs on them, about
 * ten times faster than libsodium's portable code; elsewhere libsodium
 * computes it. Either way the digest is SHA-256 (FIPS 180-4): the unit
 * test compares the two on many inputs.
 */
#ifndef CT_SHA256_H
#define CT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define CT_SHA256_BYTES 32

/* SHA-256 of the a bytes followed by the b bytes, into out. Borrows both;
 * either may be empty (NULL with length 0). Needs sodium_init when the
 * processor has no SHA extensions. */
void ct_sha256_pair(const void *a, size_t alen, const void *b, size_t blen,
                    uint8_t out[CT_SHA256_BYTES]);

/* Whether the SHA extensions are in use (for the benchmark's report). */
int ct_sha256_accelerated(void);

#endif
