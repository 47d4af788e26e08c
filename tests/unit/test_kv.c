#include "error.h"
#include "fixtures.h"
#include "kv.h"

#include <criterion/criterion.h>
#include <string.h>

static ct_store *open_mem(void)
{
    ct_store *s = NULL;
    cr_assert_eq(ct_store_open(":memory:", NULL, &s), 0);
    return s;
}

Test(kv, set_get_roundtrip_and_namespaces)
{
    ct_store *s = open_mem();
    json_t *v = json_pack("{s:i, s:[s,s]}", "count", 3, "wards", "a", "b");
    cr_assert_eq(ct_kv_set(s, "stepdown", "state", v, 4096), 0);
    json_t *got = NULL;
    cr_assert_eq(ct_kv_get(s, "stepdown", "state", &got), 0);
    cr_assert(json_equal(v, got));
    json_decref(got);
    /* Another plugin does not see it. */
    cr_assert_eq(ct_kv_get(s, "winter_surge", "state", &got), CT_ENOTFOUND);
    cr_assert_null(got);
    /* Scalars are values too. */
    json_t *n = json_integer(7);
    cr_assert_eq(ct_kv_set(s, "stepdown", "n", n, 4096), 0);
    cr_assert_eq(ct_kv_get(s, "stepdown", "n", &got), 0);
    cr_assert_eq(json_integer_value(got), 7);
    json_decref(got);
    json_t *keys = NULL;
    cr_assert_eq(ct_kv_keys(s, "stepdown", &keys), 0);
    cr_assert_eq(json_array_size(keys), 2);
    cr_assert_str_eq(json_string_value(json_array_get(keys, 0)), "n");
    json_decref(keys);
    int existed = 0;
    cr_assert_eq(ct_kv_delete(s, "stepdown", "n", &existed), 0);
    cr_assert(existed);
    cr_assert_eq(ct_kv_delete(s, "stepdown", "n", &existed), 0);
    cr_assert_not(existed);
    json_decref(n);
    json_decref(v);
    ct_store_close(s);
}

Test(kv, size_limit_refuses_and_changes_nothing)
{
    ct_store *s = open_mem();
    json_t *big = json_string("0123456789012345678901234567890123456789");
    cr_assert_eq(ct_kv_set(s, "p", "a", big, 100), 0); /* 1 + 42 bytes */
    cr_assert_eq(ct_kv_set(s, "p", "b", big, 100), 0); /* 86 */
    cr_assert_eq(ct_kv_set(s, "p", "c", big, 100), CT_ELIMIT);
    json_t *got = NULL;
    cr_assert_eq(ct_kv_get(s, "p", "c", &got), CT_ENOTFOUND);
    /* Overwriting a key counts its new size, not both. */
    cr_assert_eq(ct_kv_set(s, "p", "b", big, 100), 0);
    /* Another plugin has its own budget. */
    cr_assert_eq(ct_kv_set(s, "q", "c", big, 100), 0);
    json_decref(big);
    ct_store_close(s);
}

Test(kv, bad_keys)
{
    ct_store *s = open_mem();
    json_t *v = json_true();
    cr_assert_eq(ct_kv_set(s, "p", "", v, 100), CT_EINVAL);
    char longkey[CT_KV_MAX_KEY + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    cr_assert_eq(ct_kv_set(s, "p", longkey, v, 100000), CT_EINVAL);
    ct_store_close(s);
}

Test(kv, durable_across_reopen)
{
    const char *dir = ct_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/kv.db", dir);
    ct_store *s = NULL;
    cr_assert_eq(ct_store_open(path, NULL, &s), 0);
    json_t *v = json_string("kept");
    cr_assert_eq(ct_kv_set(s, "p", "k", v, 100), 0);
    ct_store_close(s);
    cr_assert_eq(ct_store_open(path, NULL, &s), 0);
    json_t *got = NULL;
    cr_assert_eq(ct_kv_get(s, "p", "k", &got), 0);
    cr_assert_str_eq(json_string_value(got), "kept");
    json_decref(got);
    json_decref(v);
    ct_store_close(s);
    ct_test_rmtree(dir);
}
