#include "error.h"
#include "fixtures.h"
#include "signkey.h"
#include "trust.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

Test(signkey, keygen_writes_a_pair_that_signs_and_verifies)
{
    const char *dir = ct_test_tmpdir();
    char key[512], pub[512];
    snprintf(key, sizeof key, "%s/central.key", dir);
    snprintf(pub, sizeof pub, "%s/central.pub", dir);
    ct_signkey k;
    cr_assert_eq(ct_signkey_generate("central-2025", "2027-03-31", &k), 0);
    cr_assert_eq(ct_signkey_write(&k, key, pub, false), 0);
    struct stat st;
    cr_assert_eq(stat(key, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "secret key mode %o",
                 st.st_mode & 0777);
    cr_assert_eq(stat(pub, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644);

    /* Never overwritten without force. */
    cr_assert_eq(ct_signkey_write(&k, key, pub, false), CT_EEXISTS);

    ct_signkey loaded;
    ct_diags d = {0};
    cr_assert_eq(ct_signkey_load(key, &loaded, &d), 0, "%s",
                 d.len ? d.items[0].message : "");
    cr_assert_str_eq(loaded.id, k.id);
    cr_assert_str_eq(loaded.name, "central-2025");
    cr_assert_str_eq(loaded.expires, "2027-03-31");
    cr_assert_eq(loaded.expires_ms, k.expires_ms);
    cr_assert_arr_eq(loaded.public_key, k.public_key, 32);

    ct_trust_key tk;
    cr_assert_eq(ct_trust_key_load(pub, &tk, &d), 0, "%s",
                 d.len ? d.items[0].message : "");
    cr_assert_str_eq(tk.id, k.id);
    cr_assert_str_eq(tk.name, "central-2025");
    cr_assert_eq(tk.expires_ms, k.expires_ms);

    uint8_t sig[64];
    const char msg[] = "a manifest";
    ct_signkey_sign(&loaded, msg, sizeof msg, sig);
    cr_assert_eq(crypto_sign_verify_detached(sig, (const uint8_t *)msg,
                                             sizeof msg, tk.public_key),
                 0);
    sig[3] ^= 1;
    cr_assert_neq(crypto_sign_verify_detached(sig, (const uint8_t *)msg,
                                              sizeof msg, tk.public_key),
                  0);

    /* Force replaces with a new key. */
    ct_signkey k2;
    cr_assert_eq(ct_signkey_generate("central-2026", NULL, &k2), 0);
    cr_assert_eq(ct_signkey_write(&k2, key, pub, true), 0);
    ct_signkey_clear(&loaded);
    cr_assert_eq(ct_signkey_load(key, &loaded, &d), 0);
    cr_assert_str_eq(loaded.id, k2.id);
    cr_assert_null(loaded.expires);
    cr_assert_eq(loaded.expires_ms, INT64_MAX);

    ct_trust_key_clear(&tk);
    ct_signkey_clear(&loaded);
    ct_signkey_clear(&k);
    ct_signkey_clear(&k2);
    ct_diags_free(&d);
    ct_test_rmtree(dir);
}

Test(signkey, refuses_bad_names_expiry_and_open_permissions)
{
    ct_signkey k;
    cr_assert_eq(ct_signkey_generate("bad name", NULL, &k), CT_EINVAL);
    cr_assert_eq(ct_signkey_generate("../x", NULL, &k), CT_EINVAL);
    cr_assert_eq(ct_signkey_generate("ok", "someday", &k), CT_EINVAL);

    const char *dir = ct_test_tmpdir();
    char key[512], pub[512];
    snprintf(key, sizeof key, "%s/k.key", dir);
    snprintf(pub, sizeof pub, "%s/k.pub", dir);
    cr_assert_eq(ct_signkey_generate("k", NULL, &k), 0);
    cr_assert_eq(ct_signkey_write(&k, key, pub, false), 0);
    cr_assert_eq(chmod(key, 0644), 0);
    ct_signkey loaded;
    ct_diags d = {0};
    cr_assert_eq(ct_signkey_load(key, &loaded, &d), CT_EDENIED);
    cr_assert(strstr(d.items[0].message, "too open"));
    /* A public key is no signing key. */
    cr_assert_eq(ct_signkey_load(pub, &loaded, &d), CT_ECONFIG);
    cr_assert(strstr(d.items[1].message, "this is a public key"), "%s",
                 d.items[1].message);
    /* A seed that does not match its id. */
    char text[512];
    uint8_t seed[32] = {7};
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, seed, 32,
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(text, sizeof text, "id: %s\nsecret_key: %s\nname: k\n", k.id,
             b64);
    char *path = ct_test_write_file(dir, "wrong.key", text);
    chmod(path, 0600);
    ct_diags_free(&d);
    cr_assert_eq(ct_signkey_load(path, &loaded, &d), CT_ECONFIG);
    cr_assert(strstr(d.items[0].message, "does not match the key"), "%s",
              d.items[0].message);
    free(path);
    ct_signkey_clear(&k);
    ct_diags_free(&d);
    ct_test_rmtree(dir);
}
