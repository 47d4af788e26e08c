/*
 * host/sha256.c (Nettle) against libsodium's SHA-256 and the FIPS 180-4
 * examples: the audit chain's hashes must not depend on which library, or
 * which of Nettle's code paths, computed them.
 */
#include "sha256.h"
#include "util.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
}

TestSuite(sha256, .init = setup);

static void hex(const uint8_t *h, char out[65])
{
    ct_hex_encode(h, 32, out);
}

Test(sha256, fips_examples)
{
    uint8_t h[32];
    char x[65];
    ct_sha256_pair("abc", 3, NULL, 0, h);
    hex(h, x);
    cr_assert_str_eq(
        x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ct_sha256_pair(NULL, 0, NULL, 0, h);
    hex(h, x);
    cr_assert_str_eq(
        x, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ct_sha256_pair(m, 20, m + 20, strlen(m) - 20, h);
    hex(h, x);
    cr_assert_str_eq(
        x, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* Every split of every length up to 300 bytes, and some long inputs. */
Test(sha256, agrees_with_libsodium)
{
    static uint8_t data[70000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 131 + (i >> 7) * 17 + 3);
    uint8_t got[32], want[32];
    for (size_t len = 0; len <= 300; len++)
        for (size_t cut = 0; cut <= len; cut += (len > 80 ? 7 : 1)) {
            ct_sha256_pair(data, cut, data + cut, len - cut, got);
            crypto_hash_sha256(want, data, len);
            cr_assert_arr_eq(got, want, 32, "len %zu cut %zu", len, cut);
        }
    static const size_t longs[] = {1000, 4095, 4096, 4097, 65536, 69999};
    for (size_t i = 0; i < CT_ARRAY_LEN(longs); i++) {
        ct_sha256_pair(data, 32, data + 32, longs[i] - 32, got);
        crypto_hash_sha256(want, data, longs[i]);
        cr_assert_arr_eq(got, want, 32, "len %zu", longs[i]);
    }
}
