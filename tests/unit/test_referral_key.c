/* Idempotency keys and request fingerprints (host/referral_key.c). */
#include "referral_key.h"

#include "capacity_fixture.h"
#include "fixtures.h"
#include "referral.h"

#include <criterion/criterion.h>
#include <string.h>

static cap_fx f;

static void setup(void) { cap_fx_open(&f, NULL); }
static void teardown(void) { cap_fx_close(&f); }

TestSuite(referral_key, .init = setup, .fini = teardown);

static int64_t create(const char *org, const char *key)
{
    static unsigned person; /* one active referral per person */
    char nhs[11];
    cap_fx_nhs(person++, nhs);
    ct_referral_input in = {.nhs_number = nhs, .age = -1, .from_org = org,
                            .ready_date = "2026-11-23",
                            .requested_pathway = -1,
                            .idempotency_key = key};
    int64_t id = 0;
    CAP_OK(ct_referral_create(f.cap, &in, "org:acute", &id, &cap_err));
    return id;
}

Test(referral_key, find_and_fingerprint)
{
    int64_t a = create("acute", "k-1");
    int64_t b = create("council", "k-1"); /* keys are per organisation */
    cr_assert_neq(a, b);
    int64_t id;
    uint8_t sha[32], want[32];
    bool has;
    CAP_OK(ct_referral_key_find(f.cap, "acute", "k-1", &id, sha, &has,
                                &cap_err));
    cr_assert_eq(id, a);
    cr_assert_not(has, "no fingerprint yet");
    for (int i = 0; i < 32; i++)
        want[i] = (uint8_t)(i * 7);
    cr_assert_eq(ct_store_begin(f.store), 0);
    CAP_OK(ct_referral_key_set_sha(f.cap, a, want, &cap_err));
    cr_assert_eq(ct_store_commit(f.store), 0);
    CAP_OK(ct_referral_key_find(f.cap, "acute", "k-1", &id, sha, &has,
                                &cap_err));
    cr_assert(has);
    cr_assert_arr_eq(sha, want, 32);
    CAP_OK(ct_referral_key_find(f.cap, "council", "k-1", &id, sha, &has,
                                &cap_err));
    cr_assert_eq(id, b);
    cr_assert_not(has);
    cr_assert_eq(ct_referral_key_find(f.cap, "acute", "k-2", &id, sha, &has,
                                      &cap_err),
                 CT_ENOTFOUND);
    cr_assert_eq(id, 0);
}

Test(referral_key, refusals)
{
    uint8_t sha[32] = {0};
    cr_assert_eq(ct_referral_key_set_sha(f.cap, 1, sha, &cap_err), CT_ESTATE,
                 "outside a transaction");
    cr_assert_eq(ct_store_begin(f.store), 0);
    cr_assert_eq(ct_referral_key_set_sha(f.cap, 42, sha, &cap_err),
                 CT_ENOTFOUND);
    cr_assert_str_eq(cap_err.message, "referral 42 does not exist");
    ct_store_rollback(f.store);
}
