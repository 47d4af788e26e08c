#include "natid.h"

#include <criterion/criterion.h>

Test(natid, ods_codes)
{
    static const char *const good[] = {"RXX", "R9Z", "8KL52", "A81001",
                                       "RXX01", "608", "ABCDEFGHIJ"};
    static const char *const bad[] = {"",       "RX",  "rxx",         "R X",
                                      "RXX-01", "RÉX", "ABCDEFGHIJK", " RXX"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        cr_expect(ct_natid_ods_valid(good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_not(ct_natid_ods_valid(bad[i]), "%s", bad[i]);
    cr_expect_not(ct_natid_ods_valid(NULL));
}

Test(natid, cqc_location_ids)
{
    cr_expect(ct_natid_cqc_valid("1-101674693"));
    cr_expect(ct_natid_cqc_valid("1-123456"));
    cr_expect(ct_natid_cqc_valid("1-12345678901234"));
    cr_expect_not(ct_natid_cqc_valid("1-12345"));
    cr_expect_not(ct_natid_cqc_valid("1-123456789012345"));
    cr_expect_not(ct_natid_cqc_valid("2-101674693"));
    cr_expect_not(ct_natid_cqc_valid("101674693"));
    cr_expect_not(ct_natid_cqc_valid("1-10167469a"));
    cr_expect_not(ct_natid_cqc_valid(NULL));
}
