#include "error.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(util, nhs_check_digit)
{
    cr_assert_eq(ct_nhs_check_digit("999000001"), 8); /* 9990000018 */
    cr_assert_eq(ct_nhs_check_digit("943476591"), 9); /* 9434765919 */
    cr_assert_eq(ct_nhs_check_digit("999000005"), 0); /* 11 is 0 */
    cr_assert_eq(ct_nhs_check_digit("999000000"), -1); /* 10: none */
}

Test(util, nhs_numbers)
{
    char norm[11];
    cr_assert(ct_nhs_number_valid("9434765919", norm));
    cr_assert_str_eq(norm, "9434765919");
    cr_assert(ct_nhs_number_valid("943 476 5919", norm));
    cr_assert(ct_nhs_number_valid("943-476-5919", norm));
    cr_assert(ct_nhs_number_valid("9990000018", norm));
    cr_assert_not(ct_nhs_number_valid("9434765918", norm), "bad check digit");
    cr_assert_not(ct_nhs_number_valid("943476591", norm), "nine digits");
    cr_assert_not(ct_nhs_number_valid("94347659190", norm), "eleven digits");
    cr_assert_not(ct_nhs_number_valid("94 34765919", norm), "bad grouping");
    cr_assert_not(ct_nhs_number_valid("", norm));
    /* Issue 22: the repeated-digit numbers pass modulus 11 but were never
     * issued to anyone. */
    for (char d = '0'; d <= '9'; d++) {
        char s[11];
        memset(s, d, 10);
        s[10] = '\0';
        cr_assert_not(ct_nhs_number_valid(s, norm), "%s", s);
    }
    cr_assert_not(ct_nhs_number_valid("000 000 0000", norm));
    /* Check digit 10 means the number can never be valid. */
    for (char d = '0'; d <= '9'; d++) {
        char s[] = "999000000?";
        s[9] = d;
        cr_assert_not(ct_nhs_number_valid(s, norm), "%s", s);
    }
}

Test(util, durations)
{
    int64_t ms;
    cr_assert_eq(ct_parse_duration_ms("50ms", &ms), 0);
    cr_assert_eq(ms, 50);
    cr_assert_eq(ct_parse_duration_ms("15m", &ms), 0);
    cr_assert_eq(ms, 900000);
    cr_assert_eq(ct_parse_duration_ms("1h30m", &ms), 0);
    cr_assert_eq(ms, 5400000);
    cr_assert_eq(ct_parse_duration_ms("14d", &ms), 0);
    cr_assert_eq(ms, 14LL * 86400000);
    cr_assert_eq(ct_parse_duration_ms("", &ms), CT_EINVAL);
    cr_assert_eq(ct_parse_duration_ms("15", &ms), CT_EINVAL);
    cr_assert_eq(ct_parse_duration_ms("15x", &ms), CT_EINVAL);
    cr_assert_eq(ct_parse_duration_ms("-5s", &ms), CT_EINVAL);
    cr_assert_eq(ct_parse_duration_ms("99999999999999999999d", &ms),
                 CT_EINVAL);
}

Test(util, sizes)
{
    uint64_t n;
    cr_assert_eq(ct_parse_size("64MiB", &n), 0);
    cr_assert_eq(n, 64ULL << 20);
    cr_assert_eq(ct_parse_size("4096", &n), 0);
    cr_assert_eq(n, 4096);
    cr_assert_eq(ct_parse_size("1MB", &n), 0);
    cr_assert_eq(n, 1000000);
    cr_assert_eq(ct_parse_size("MiB", &n), CT_EINVAL);
    cr_assert_eq(ct_parse_size("12 MiB", &n), CT_EINVAL);
}

Test(util, hex_roundtrip)
{
    uint8_t in[4] = {0x00, 0x7f, 0xab, 0xff}, out[4];
    char hex[9];
    ct_hex_encode(in, 4, hex);
    cr_assert_str_eq(hex, "007fabff");
    cr_assert_eq(ct_hex_decode("007FABff", out, 4), 0);
    cr_assert_arr_eq(in, out, 4);
    cr_assert_eq(ct_hex_decode("007fab", out, 4), CT_EINVAL);
    cr_assert_eq(ct_hex_decode("007fabzz", out, 4), CT_EINVAL);
}

Test(util, errors_have_names)
{
    cr_assert_str_eq(ct_err_name(CT_ENOTFOUND), "CT_ENOTFOUND");
    cr_assert_str_eq(ct_strerror(CT_OK), "success");
    cr_assert_str_eq(ct_strerror(1), "unknown error");
    cr_assert_str_eq(ct_strerror(-9999), "unknown error");
}

Test(util, levenshtein)
{
    cr_assert_eq(ct_levenshtein("facilites", "facilities"), 1);
    cr_assert_eq(ct_levenshtein("", "abc"), 3);
    cr_assert_eq(ct_levenshtein("zone", "zone"), 0);
    cr_assert_eq(ct_levenshtein("knid", "kind"), 1);
}

Test(util, copy_str_cuts_like_snprintf)
{
    char d[5], want[5];
    static const char *const srcs[] = {"", "abc", "abcd", "abcde", "abcdefgh"};
    for (size_t i = 0; i < CT_ARRAY_LEN(srcs); i++) {
        memset(d, 'x', sizeof d);
        ct_copy_str(d, sizeof d, srcs[i]);
        snprintf(want, sizeof want, "%s", srcs[i]);
        cr_assert_str_eq(d, want);
    }
    ct_copy_str(d, sizeof d, NULL);
    cr_assert_str_eq(d, "");
    ct_copy_str(d, 1, "abc");
    cr_assert_str_eq(d, "");
}

/* ct_grow: room made only when full, first then doubling, the items kept;
 * a size that cannot be allocated leaves the array as it was. */
Test(util, grow)
{
    int *v = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(ct_grow(&v, &cap, n, sizeof *v, 4), 0);
        v[n++] = i;
        cr_assert(cap == 4 || cap == 8 || cap == 16 || cap == 32);
        cr_assert_geq(cap, n);
    }
    cr_assert_eq(cap, 32);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(v[i], i);
    int *before = v;
    cr_assert_eq(ct_grow(&v, &cap, n, sizeof *v, 4), 0); /* room left */
    cr_assert_eq(v, before);
    size_t huge = SIZE_MAX / 2 + 1;
    size_t hcap = huge;
    cr_assert_eq(ct_grow(&v, &hcap, huge, sizeof *v, 4), CT_ENOMEM);
    cr_assert_eq(v, before);
    cr_assert_eq(hcap, huge);
    free(v);
}
