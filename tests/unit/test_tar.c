#include "error.h"
#include "tar.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(tar, roundtrip_with_long_names)
{
    ct_buf b = {0};
    char longname[200];
    snprintf(longname, sizeof longname, "%s/%s",
             "a-directory-name-that-is-rather-long-to-force-the-prefix-field"
             "-of-the-ustar-header",
             "and-a-file-name-that-is-also-quite-long-but-under-a-hundred.lua");
    cr_assert_gt(strlen(longname), 100);
    cr_assert_eq(ct_tar_add(&b, "init.lua", '0', 0644, "return {}\n", 10), 0);
    cr_assert_eq(ct_tar_add(&b, longname, '0', 0600, "x", 1), 0);
    cr_assert_eq(ct_tar_add(&b, "empty", '0', 0644, "", 0), 0);
    cr_assert_eq(ct_tar_finish(&b), 0);
    cr_assert_eq(b.len % 512, 0);

    size_t pos = 0;
    ct_tar_entry e;
    char why[256];
    cr_assert_eq(ct_tar_next((uint8_t *)b.data, b.len, &pos, &e, why,
                             sizeof why), 1);
    cr_assert_str_eq(e.name, "init.lua");
    cr_assert_eq(e.size, 10);
    cr_assert_eq(memcmp(e.data, "return {}\n", 10), 0);
    cr_assert_eq(e.mode, 0644);
    cr_assert_eq(ct_tar_next((uint8_t *)b.data, b.len, &pos, &e, why,
                             sizeof why), 1);
    cr_assert_str_eq(e.name, longname);
    cr_assert_eq(e.mode, 0600);
    cr_assert_eq(ct_tar_next((uint8_t *)b.data, b.len, &pos, &e, why,
                             sizeof why), 1);
    cr_assert_eq(e.size, 0);
    cr_assert_eq(ct_tar_next((uint8_t *)b.data, b.len, &pos, &e, why,
                             sizeof why), 0);
    ct_buf_free(&b);
}

Test(tar, names_that_do_not_fit_are_refused)
{
    ct_buf b = {0};
    char name[300];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    cr_assert_eq(ct_tar_add(&b, name, '0', 0644, "", 0), CT_EINVAL);
    cr_assert_eq(ct_tar_add(&b, "", '0', 0644, "", 0), CT_EINVAL);
    ct_buf_free(&b);
}

Test(tar, damage_is_detected)
{
    ct_buf b = {0};
    cr_assert_eq(ct_tar_add(&b, "f", '0', 0644, "hello", 5), 0);
    cr_assert_eq(ct_tar_finish(&b), 0);
    size_t pos = 0;
    ct_tar_entry e;
    char why[256];
    /* A flipped byte in the header breaks the checksum. */
    b.data[10] ^= 1;
    cr_assert_eq(ct_tar_next((uint8_t *)b.data, b.len, &pos, &e, why,
                             sizeof why), CT_ECORRUPT);
    cr_assert(strstr(why, "checksum"), "%s", why);
    b.data[10] ^= 1;
    /* Cut short: no end marker, then no data. */
    pos = 0;
    cr_assert_eq(ct_tar_next((uint8_t *)b.data, 512 + 512, &pos, &e, why,
                             sizeof why), 1);
    cr_assert_eq(ct_tar_next((uint8_t *)b.data, 512 + 512, &pos, &e, why,
                             sizeof why), CT_ECORRUPT);
    pos = 0;
    cr_assert_eq(ct_tar_next((uint8_t *)b.data, 512, &pos, &e, why,
                             sizeof why), CT_ECORRUPT);
    cr_assert(strstr(why, "cut short"), "%s", why);
    ct_buf_free(&b);
    /* Not an archive at all. */
    uint8_t junk[1024];
    memset(junk, 'x', sizeof junk);
    pos = 0;
    cr_assert_eq(ct_tar_next(junk, sizeof junk, &pos, &e, why, sizeof why),
                 CT_ECORRUPT);
}

Test(tar, type_names)
{
    cr_assert_str_eq(ct_tar_type_name('2'), "symlink");
    cr_assert_str_eq(ct_tar_type_name('3'), "character device");
    cr_assert_str_eq(ct_tar_type_name('0'), "file");
}
