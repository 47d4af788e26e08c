#include "sha256.h"

#include <nettle/sha2.h>

void ct_sha256_pair(const void *a, size_t alen, const void *b, size_t blen,
                    uint8_t out[CT_SHA256_BYTES])
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    if (alen)
        sha256_update(&ctx, alen, a);
    if (blen)
        sha256_update(&ctx, blen, b);
    sha256_digest(&ctx, CT_SHA256_BYTES, out);
}
