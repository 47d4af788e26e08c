/*
 * Bearer tokens against the demo area's configured hashes, and the
 * ownership rule behind the OWN cells of the role matrix.
 */
#include "auth.h"

#include "error.h"

#include <criterion/criterion.h>
#include <string.h>

static ct_config *cfg;
static ct_auth *auth;

static void setup(void)
{
    ct_diags d = {0};
    cr_assert_eq(ct_config_load_demo(&cfg, &d), 0);
    cr_assert_eq(ct_auth_new(cfg, &auth), 0);
}

static void teardown(void)
{
    ct_auth_free(auth);
    ct_config_free(cfg);
}

TestSuite(auth, .init = setup, .fini = teardown);

static void expect(const char *header, const char *org, ct_role role)
{
    ct_principal p;
    cr_assert_eq(ct_auth_bearer(auth, header, &p), 0, "%s", header);
    cr_assert_str_eq(p.org, org, "%s", header);
    cr_assert_eq(p.role, role, "%s", header);
}

Test(auth, every_demo_token_maps_to_its_org_and_role)
{
    cr_assert_eq(ct_auth_count(auth), 6);
    expect("Bearer demo-hub-token", "demo-council", CT_ROLE_HUB);
    expect("Bearer demo-hospital-token", "demo-acute", CT_ROLE_HOSPITAL);
    expect("Bearer demo-provider-token", "oakwood-care", CT_ROLE_PROVIDER);
    expect("Bearer demo-community-token", "demo-community",
           CT_ROLE_PROVIDER);
    expect("Bearer demo-viewer-token", "demo-council", CT_ROLE_VIEWER);
    expect("Bearer demo-admin-token", "demo-council", CT_ROLE_ADMIN);
    /* The scheme is case-insensitive; surrounding blanks are tolerated. */
    expect("bearer demo-hub-token", "demo-council", CT_ROLE_HUB);
    expect("Bearer   demo-hub-token  ", "demo-council", CT_ROLE_HUB);
}

Test(auth, refuses_missing_malformed_and_unknown_tokens)
{
    static const char *const bad[] = {
        "", "Bearer", "Bearer ", "Basic ZGVtbzpkZW1v", "demo-hub-token",
        "Bearer demo-hub-token extra", "Bearer demo-hub-tokenx",
        "Bearer demo-hub-toke", "Bearer DEMO-HUB-TOKEN",
        "Bearer demo-hub-token\n", "Bearer demo\"hub",
    };
    ct_principal p;
    cr_assert_eq(ct_auth_bearer(auth, NULL, &p), CT_EDENIED);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(ct_auth_bearer(auth, bad[i], &p), CT_EDENIED, "'%s'",
                     bad[i]);
    char longer[600] = "Bearer ";
    memset(longer + 7, 'a', sizeof longer - 8);
    longer[sizeof longer - 1] = '\0';
    cr_assert_eq(ct_auth_bearer(auth, longer, &p), CT_EDENIED);
}

Test(auth, ownership)
{
    ct_principal p = {.role = CT_ROLE_HOSPITAL};
    strcpy(p.org, "demo-acute");
    cr_assert(ct_auth_owns(&p, CT_ACCESS_ALL, "oakwood-care"));
    cr_assert(ct_auth_owns(&p, CT_ACCESS_ALL, NULL));
    cr_assert(ct_auth_owns(&p, CT_ACCESS_OWN, "demo-acute"));
    cr_assert_not(ct_auth_owns(&p, CT_ACCESS_OWN, "oakwood-care"));
    cr_assert_not(ct_auth_owns(&p, CT_ACCESS_OWN, NULL));
    cr_assert_not(ct_auth_owns(&p, CT_ACCESS_NONE, "demo-acute"));
    cr_assert_str_eq(ct_access_name(CT_ACCESS_OWN), "own");
}
