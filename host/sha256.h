/*
 * SHA-256 for the audit chain (audit.c hashes prev_hash || canonical
 * bytes for every event, so it is on the path of every change). GNU
 * Nettle computes it: its x86-64 build picks the processor's SHA
 * extensions at run time when they are there, about five times faster
 * than libsodium's portable code on the short inputs the chain hashes.
 * The unit test checks it against libsodium and the FIPS 180-4 examples.
 */
#ifndef CT_SHA256_H
#define CT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define CT_SHA256_BYTES 32

/* SHA-256 of the a bytes followed by the b bytes, into out. Borrows both;
 * either may be empty (NULL with length 0). */
void ct_sha256_pair(const void *a, size_t alen, const void *b, size_t blen,
                    uint8_t out[CT_SHA256_BYTES]);

#endif
