/*
 * Display credentials (host/display.c) as entries of the token store, and
 * their place in bearer authentication (host/auth.c).
 */
#include "auth.h"
#include "display.h"
#include "error.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static ct_tokens *t;

static void setup(void)
{
    char why[200];
    cr_assert_eq(ct_tokens_load("/nonexistent/none.tokens", &t, why,
                                sizeof why),
                 0, "%s", why);
}

static void teardown(void)
{
    ct_tokens_free(t);
}

TestSuite(display, .init = setup, .fini = teardown);

static const ct_token *matches(const char *secret)
{
    uint8_t h[32];
    crypto_hash_sha256(h, (const unsigned char *)secret, strlen(secret));
    const ct_token *tok = NULL;
    return ct_tokens_match(t, h, 1000, &tok) == CT_TOKEN_VALID ? tok : NULL;
}

Test(display, issue_match_revoke_and_issue_again)
{
    char s1[CT_DISPLAY_SECRET_LEN + 1], s2[CT_DISPLAY_SECRET_LEN + 1],
        s3[CT_DISPLAY_SECRET_LEN + 1], why[200];
    cr_assert_eq(ct_display_issue(t, "hub-tv", "org:hub/hub", 1, s1, why,
                                  sizeof why), 0);
    cr_assert_eq(ct_display_issue(t, "board", "org:hub/hub", 1, s2, why,
                                  sizeof why), 0);
    cr_assert_eq(strlen(s1), CT_DISPLAY_SECRET_LEN);
    cr_assert_str_neq(s1, s2);
    cr_assert_str_eq(matches(s1)->name, "hub-tv");
    cr_assert_eq(matches(s1)->kind, CT_TOKEN_DISPLAY);
    cr_assert_str_eq(matches(s2)->name, "board");
    cr_assert_null(matches("not-a-secret"));
    cr_assert_eq(ct_display_issue(t, "hub-tv", "org:hub/hub", 1, s3, why,
                                  sizeof why), CT_EEXISTS);
    cr_assert(strstr(why, "already has a valid credential"), "%s", why);
    cr_assert_str_eq(s3, "");
    cr_assert_eq(ct_display_issue(t, "hub tv", "org:hub/hub", 1, s3, why,
                                  sizeof why), CT_EINVAL);
    cr_assert_eq(ct_display_revoke(t, "hub-tv", "org:hub/admin", 2, why,
                                   sizeof why), 0);
    cr_assert_null(matches(s1));
    cr_assert_eq(ct_display_revoke(t, "hub-tv", "org:hub/admin", 2, why,
                                   sizeof why), CT_ENOTFOUND);
    cr_assert(strstr(why, "no valid display credential"), "%s", why);
    /* A revoked name is issued again with a new secret; the list keeps
     * the history and never a secret. */
    cr_assert_eq(ct_display_issue(t, "hub-tv", "org:hub/hub", 3, s3, why,
                                  sizeof why), 0);
    cr_assert_not_null(matches(s3));
    json_t *list = ct_display_list_json(t);
    cr_assert_eq(json_array_size(json_object_get(list, "displays")), 3);
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
    char s[CT_DISPLAY_SECRET_LEN + 1], header[80], why[200];
    cr_assert_eq(ct_display_issue(t, "wall", "org:hub/hub", 1, s, why,
                                  sizeof why), 0);
    snprintf(header, sizeof header, "Bearer %s", s);
    ct_principal p;
    cr_assert_eq(ct_auth_bearer(auth, header, &p), CT_EDENIED,
                 "unknown until the daemon hands the store over");
    ct_auth_set_tokens(auth, t, NULL);
    cr_assert_eq(ct_auth_bearer(auth, header, &p), 0);
    cr_assert(p.display);
    cr_assert_eq(p.kind, CT_PRINCIPAL_DISPLAY);
    cr_assert_eq(p.role, CT_ROLE_VIEWER);
    cr_assert_str_eq(p.org, "wall");
    char actor[CT_AUTH_ACTOR_MAX];
    ct_principal_actor(&p, actor);
    cr_assert_str_eq(actor, "display:wall");
    /* A person's token keeps its own role. */
    cr_assert_eq(ct_auth_bearer(auth, "Bearer demo-hub-token", &p), 0);
    cr_assert_not(p.display);
    cr_assert_eq(p.role, CT_ROLE_HUB);
    ct_auth_free(auth);
    ct_config_free(cfg);
    ct_diags_free(&diags);
}
