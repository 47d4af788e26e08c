#include "clock.h"
#include "config.h"
#include "error.h"
#include "fixtures.h"
#include "trust.h"
#include "util.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A deterministic public key (base64) and its id from a seed byte. */
static void test_key(uint8_t seed_byte, char b64[64], char id[17])
{
    uint8_t seed[32], pk[32], sk[64];
    memset(seed, seed_byte, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    sodium_bin2base64(b64, 64, pk, 32, sodium_base64_VARIANT_ORIGINAL);
    ct_trust_key_id(pk, id);
}

/* A valid area with the given trust section and plugin entries. */
static int load_area(const char *trust, const char *plugins, ct_config **cfg,
                     ct_diags *d)
{
    char text[4096];
    snprintf(text, sizeof text,
             "area: {id: t}\n"                                   /* 1 */
             "organisations: [{id: o, name: O}]\n"               /* 2 */
             "facilities:\n"                                     /* 3 */
             "  - {id: f, name: F, kind: rehab, organisation: o,\n" /* 4 */
             "     zones: [{id: z, beds: [{id: B1}]}]}\n"        /* 5 */
             "%s%s",
             trust, plugins);
    *cfg = NULL;
    return ct_config_load_text("t.yaml", ".", text, strlen(text), cfg, d);
}

Test(trust, key_id_is_start_of_sha256)
{
    uint8_t pk[32] = {0}, h[32];
    char id[17], want[65];
    crypto_hash_sha256(h, pk, 32);
    ct_hex_encode(h, 32, want);
    ct_trust_key_id(pk, id);
    cr_assert_eq(strlen(id), 16);
    cr_assert_eq(strncmp(id, want, 16), 0);
}

Test(trust, expiry_dates_cover_the_whole_day)
{
    int64_t t, day;
    cr_assert_eq(ct_trust_parse_expiry("2027-03-31", &t), 0);
    cr_assert_eq(ct_clock_parse("2027-04-01", &day), 0);
    cr_assert_eq(t, day, "a date is valid through its last millisecond");
    cr_assert_eq(ct_trust_parse_expiry("2027-03-31T12:00:00Z", &t), 0);
    cr_assert_eq(ct_clock_parse("2027-03-31T12:00:00Z", &day), 0);
    cr_assert_eq(t, day);
    cr_assert_eq(ct_trust_parse_expiry("2027-02-30", &t), CT_EINVAL);
    cr_assert_eq(ct_trust_parse_expiry("next year", &t), CT_EINVAL);
}

Test(trust, config_section_with_two_keys)
{
    char a[64], ida[17], b[64], idb[17], trust[1024];
    test_key(1, a, ida);
    test_key(2, b, idb);
    snprintf(trust, sizeof trust,
             "trust:\n"
             "  require_signed: true\n"
             "  keys:\n"
             "    - {id: %s, public_key: \"%s\", name: central-2025,\n"
             "       expires: 2027-03-31}\n"
             "    - {id: %s, public_key: \"%s\"}\n",
             ida, a, idb, b);
    ct_diags d = {0};
    ct_config *cfg = NULL;
    cr_assert_eq(load_area(trust,
                           "plugins:\n"
                           "  - {name: p1}\n"
                           "  - {name: p2, require_signed: false}\n",
                           &cfg, &d),
                 0, "%s", d.len ? d.items[0].message : "");
    cr_assert(cfg->trust.require_signed);
    cr_assert_eq(cfg->trust.nkeys, 2);
    const ct_trust_key *k = ct_trust_find(&cfg->trust, ida);
    cr_assert_not_null(k);
    cr_assert_str_eq(k->name, "central-2025");
    int64_t exp;
    ct_trust_parse_expiry("2027-03-31", &exp);
    cr_assert_eq(k->expires_ms, exp);
    k = ct_trust_find(&cfg->trust, idb);
    cr_assert_not_null(k);
    cr_assert_null(k->name);
    cr_assert_eq(k->expires_ms, INT64_MAX);
    cr_assert_null(ct_trust_find(&cfg->trust, "0000000000000000"));
    /* Plugins inherit the default unless they say. */
    cr_assert(cfg->plugins[0].require_signed);
    cr_assert_not(cfg->plugins[1].require_signed);
    ct_config_free(cfg);
    ct_diags_free(&d);
}

Test(trust, default_is_unsigned_allowed)
{
    ct_diags d = {0};
    ct_config *cfg = NULL;
    cr_assert_eq(load_area("", "plugins: [{name: p1}]\n", &cfg, &d), 0);
    cr_assert_not(cfg->trust.require_signed);
    cr_assert_eq(cfg->trust.nkeys, 0);
    cr_assert_not(cfg->plugins[0].require_signed);
    ct_config_free(cfg);
    ct_diags_free(&d);
}

/* Exactly one diagnostic at line:col containing needle. */
static void expect_one(const char *trust, uint32_t line, uint32_t col,
                       const char *needle)
{
    ct_diags d = {0};
    ct_config *cfg = NULL;
    cr_assert_eq(load_area(trust, "", &cfg, &d), CT_ECONFIG, "%s", needle);
    cr_assert_null(cfg);
    cr_assert_eq(d.len, 1, "want 1 diagnostic, got %zu (first: %s)", d.len,
                 d.len ? d.items[0].message : "-");
    cr_expect_eq(d.items[0].line, line, "line %u: %s", d.items[0].line,
                 d.items[0].message);
    cr_expect_eq(d.items[0].col, col, "col %u: %s", d.items[0].col,
                 d.items[0].message);
    cr_expect(strstr(d.items[0].message, needle), "'%s' lacks '%s'",
              d.items[0].message, needle);
    ct_diags_free(&d);
}

Test(trust, config_errors_have_positions)
{
    char a[64], ida[17], b[64], idb[17], t[1024];
    test_key(1, a, ida);
    test_key(2, b, idb);
    /* A key listed under another key's id. */
    snprintf(t, sizeof t,
             "trust:\n  keys:\n    - id: %s\n      public_key: \"%s\"\n",
             idb, a);
    expect_one(t, 8, 11, "does not match its public key");
    snprintf(t, sizeof t,
             "trust:\n  keys:\n    - id: %s\n      public_key: \"abc\"\n",
             ida);
    expect_one(t, 9, 19, "base64 of a 32-byte");
    snprintf(t, sizeof t,
             "trust:\n  keys:\n    - id: %s\n      public_key: \"%s\"\n"
             "      expires: soon\n",
             ida, a);
    expect_one(t, 10, 16, "'expires' must be a date");
    snprintf(t, sizeof t,
             "trust:\n  keys:\n    - id: %s\n      publickey: \"%s\"\n", ida,
             a);
    ct_diags d = {0};
    ct_config *cfg = NULL;
    cr_assert_eq(load_area(t, "", &cfg, &d), CT_ECONFIG);
    cr_assert_eq(d.len, 2);
    cr_assert_str_eq(d.items[0].message, "unknown key 'publickey' in a "
                                         "trusted key; did you mean "
                                         "'public_key'?");
    cr_assert(strstr(d.items[1].message, "missing required key "
                                         "'public_key'"));
    ct_diags_free(&d);
    snprintf(t, sizeof t,
             "trust:\n  keys:\n    - {id: %s, public_key: \"%s\"}\n"
             "    - {id: %s, public_key: \"%s\"}\n",
             ida, a, ida, a);
    expect_one(t, 9, 7, "is trusted twice (first at line 8)");
    expect_one("trust:\n  require_signd: true\n", 7, 3,
               "did you mean 'require_signed'?");
    expect_one("trust:\n  require_signed: yes\n", 7, 19,
               "'require_signed' must be true or false");
    expect_one("trust: {keys: [{file: x.pub, name: n}]}\n", 6, 16,
               "takes no other keys");
}

Test(trust, keys_from_pub_files)
{
    char a[64], ida[17], text[512], cfgtext[512];
    test_key(3, a, ida);
    const char *dir = ct_test_tmpdir();
    snprintf(text, sizeof text,
             "# comment\nid: %s\npublic_key: %s\nname: rot-1\n"
             "expires: 2030-01-01\n",
             ida, a);
    char *pub = ct_test_write_file(dir, "k.pub", text);
    ct_trust_key k;
    ct_diags d = {0};
    cr_assert_eq(ct_trust_key_load(pub, &k, &d), 0);
    cr_assert_str_eq(k.id, ida);
    cr_assert_str_eq(k.name, "rot-1");
    cr_assert_str_eq(k.file, pub);
    ct_trust t = {0};
    cr_assert_eq(ct_trust_add(&t, &k), 0);
    cr_assert_eq(t.nkeys, 1);
    cr_assert_str_eq(t.keys[0].name, "rot-1");
    ct_trust_key again;
    cr_assert_eq(ct_trust_key_load(pub, &again, &d), 0);
    cr_assert_eq(ct_trust_add(&t, &again), CT_EEXISTS);
    ct_trust_key_clear(&again);
    ct_trust_clear(&t);

    /* In the config, relative to the config's directory. */
    snprintf(cfgtext, sizeof cfgtext,
             "area: {id: t}\norganisations: [{id: o, name: O}]\n"
             "facilities: [{id: f, name: F, kind: rehab, organisation: o,\n"
             "  zones: [{id: z, beds: [{id: B1}]}]}]\n"
             "trust: {keys: [{file: k.pub}]}\n");
    char *area = ct_test_write_file(dir, "area.yaml", cfgtext);
    ct_config *cfg = NULL;
    cr_assert_eq(ct_config_load_file(area, &cfg, &d), 0, "%s",
                 d.len ? d.items[0].message : "");
    cr_assert_eq(cfg->trust.nkeys, 1);
    cr_assert_str_eq(cfg->trust.keys[0].id, ida);
    ct_config_free(cfg);

    /* A secret key file is not a public key. */
    char *sec = ct_test_write_file(dir, "k.key",
                                   "id: 0123456789abcdef\nsecret_key: AAAA\n"
                                   "name: x\n");
    cr_assert_eq(ct_trust_key_load(sec, &k, &d), CT_ECONFIG);
    cr_assert(strstr(d.items[0].message, "secret signing key"), "%s",
              d.items[0].message);
    cr_assert_eq(ct_trust_key_load("/nonexistent.pub", &k, &d),
                 CT_ENOTFOUND);
    ct_diags_free(&d);
    free(pub);
    free(area);
    free(sec);
    ct_test_rmtree(dir);
}
