/*
 * libFuzzer target for the bundle reader: any bytes as a .ctb file
 * (ustar, manifest, signature), read and verified against no trusted key.
 * Must never crash, leak or read out of bounds, whatever the archive
 * holds. Built and run by tests/fuzz/run.sh.
 */
#include "bundle.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ct_bundle *b = NULL;
    ct_bundle_info info;
    if (ct_bundle_read_mem(data, size, &b, &info) == 0) {
        ct_bundle_verify(b, NULL, false, 0, &info);
        size_t len;
        ct_bundle_file(b, "init.lua", &len);
        ct_bundle_free(b);
    }
    return 0;
}
