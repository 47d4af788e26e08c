/*
 * Display credentials (host/display.c) and their place in bearer
 * authentication (host/auth.c), on the capacity fixture's store.
 */
#include "auth.h"
#include "capacity_fixture.h"
#include "display.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static cap_fx f;
static ct_displays *d;

static void setup(void)
{
    cap_fx_open(&f, NULL);
    CAP_OK(ct_displays_load(f.cap, &d, &cap_err));
}

static void teardown(void)
{
    ct_displays_free(d);
    cap_fx_close(&f);
}

TestSuite(display, .init = setup, .fini = teardown);

static bool matches(const char *secret, char name[CT_DISPLAY_NAME_MAX + 1])
{
    uint8_t h[32];
    crypto_hash_sha256(h, (const unsigned char *)secret, strlen(secret));
    return ct_displays_match(d, h, name);
}

Test(display, issue_match_revoke_and_reload)
{
    char s1[CT_DISPLAY_SECRET_LEN + 1], s2[CT_DISPLAY_SECRET_LEN + 1];
    char name[CT_DISPLAY_NAME_MAX + 1];
    CAP_OK(ct_display_issue(f.cap, d, "hub-tv", "org:hub/hub", s1, &cap_err));
    CAP_OK(ct_display_issue(f.cap, d, "board", "org:hub/hub", s2, &cap_err));
    cr_assert_eq(strlen(s1), CT_DISPLAY_SECRET_LEN);
    cr_assert_str_neq(s1, s2);
    cr_assert(matches(s1, name));
    cr_assert_str_eq(name, "hub-tv");
    cr_assert(matches(s2, name));
    cr_assert_str_eq(name, "board");
    cr_assert_not(matches("not-a-secret", name));
    /* Kept hashed: the secret is nowhere in the table. */
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM display", NULL), 2);
    /* Issued twice: refused while valid. */
    char s3[CT_DISPLAY_SECRET_LEN + 1];
    CAP_REFUSED(&f, CT_ECONFLICT,
                ct_display_issue(f.cap, d, "hub-tv", "org:hub/hub", s3,
                                 &cap_err),
                "already has a valid credential");
    cr_assert_str_eq(s3, "");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_display_issue(f.cap, d, "hub tv", "org:hub/hub", s3,
                                 &cap_err),
                "display name");
    /* Revoked: no longer matches, here and after a reload. */
    CAP_OK(ct_display_revoke(f.cap, d, "hub-tv", "org:hub/admin", &cap_err));
    cr_assert_not(matches(s1, name));
    CAP_REFUSED(&f, CT_ENOTFOUND,
                ct_display_revoke(f.cap, d, "hub-tv", "org:hub/admin",
                                  &cap_err),
                "no valid display credential");
    ct_displays *again = NULL;
    CAP_OK(ct_displays_load(f.cap, &again, &cap_err));
    uint8_t h[32];
    crypto_hash_sha256(h, (const unsigned char *)s1, strlen(s1));
    cr_assert_not(ct_displays_match(again, h, name));
    crypto_hash_sha256(h, (const unsigned char *)s2, strlen(s2));
    cr_assert(ct_displays_match(again, h, name));
    ct_displays_free(again);
    /* Audited: issued twice, revoked once, names only. */
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM event WHERE kind = "
                                "'display.issued'",
                            NULL),
                 2);
    cr_assert_eq(cap_fx_int(&f, "SELECT count(*) FROM event WHERE kind = "
                                "'display.revoked'",
                            NULL),
                 1);
    char sql[200];
    snprintf(sql, sizeof sql, "%s",
             "SELECT count(*) FROM event WHERE instr(payload, ?1)");
    cr_assert_eq(cap_fx_int(&f, sql, s2), 0);
    /* A revoked name is issued again with a new secret. */
    CAP_OK(ct_display_issue(f.cap, d, "hub-tv", "org:hub/hub", s3, &cap_err));
    cr_assert(matches(s3, name));
    json_t *list = NULL;
    CAP_OK(ct_display_list_json(f.cap, &list, &cap_err));
    cr_assert_eq(json_array_size(json_object_get(list, "displays")), 2);
    char *text = json_dumps(list, 0);
    cr_assert_null(strstr(text, s3));
    free(text);
    json_decref(list);
}

Test(display, a_display_authenticates_as_a_display_viewer)
{
    ct_config *cfg = NULL;
    ct_diags diags = {0};
    cr_assert_eq(ct_config_load_demo(&cfg, &diags), 0);
    ct_auth *auth = NULL;
    cr_assert_eq(ct_auth_new(cfg, &auth), 0);
    char s[CT_DISPLAY_SECRET_LEN + 1], header[80];
    CAP_OK(ct_display_issue(f.cap, d, "wall", "org:hub/hub", s, &cap_err));
    snprintf(header, sizeof header, "Bearer %s", s);
    ct_principal p;
    cr_assert_eq(ct_auth_bearer(auth, header, &p), CT_EDENIED,
                 "unknown until the daemon hands the displays over");
    ct_auth_set_displays(auth, d);
    cr_assert_eq(ct_auth_bearer(auth, header, &p), 0);
    cr_assert(p.display);
    cr_assert_eq(p.role, CT_ROLE_VIEWER);
    cr_assert_str_eq(p.org, "wall");
    /* A person's token keeps its own role. */
    cr_assert_eq(ct_auth_bearer(auth, "Bearer demo-hub-token", &p), 0);
    cr_assert_not(p.display);
    cr_assert_eq(p.role, CT_ROLE_HUB);
    ct_auth_free(auth);
    ct_config_free(cfg);
    ct_diags_free(&diags);
}
