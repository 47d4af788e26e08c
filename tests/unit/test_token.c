/*
 * The token store (host/token.c): named users, clients and displays with
 * expiry, revocation and rotation; the file's round trip and its refusal
 * of ambiguous contents; authentication through it (host/auth.c); and the
 * audit of its changes (host/token_audit.c) on a scratch store.
 */
#include "audit.h"
#include "auth.h"
#include "clock.h"
#include "error.h"
#include "events.h"
#include "fixtures.h"
#include "store.h"
#include "token.h"
#include "token_audit.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/ct-token-XXXXXX";
static char path[200];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/area.db.tokens", dir);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    strcpy(dir, "/tmp/ct-token-XXXXXX");
}

TestSuite(token, .init = setup, .fini = teardown);

static ct_token user(const char *name, const char *org, ct_role role,
                     int64_t expires)
{
    ct_token u;
    memset(&u, 0, sizeof u);
    u.kind = CT_TOKEN_USER;
    snprintf(u.name, sizeof u.name, "%s", name);
    snprintf(u.display_name, sizeof u.display_name, "Jane Smith");
    snprintf(u.org, sizeof u.org, "%s", org);
    u.role = role;
    u.expires_at = expires;
    return u;
}

static void hash(const char *secret, uint8_t h[32])
{
    crypto_hash_sha256(h, (const unsigned char *)secret, strlen(secret));
}

Test(token, add_match_expire_revoke_rotate)
{
    ct_tokens *t = NULL;
    char why[300], s1[CT_TOKEN_SECRET_LEN + 1], s2[CT_TOKEN_SECRET_LEN + 1];
    cr_assert_eq(ct_tokens_load(path, &t, why, sizeof why), 0, "%s", why);
    ct_token u = user("jsmith", "demo-acute", CT_ROLE_HOSPITAL, 5000);
    int64_t id = 0;
    cr_assert_eq(ct_tokens_add(t, &u, 1000, "cli:root", s1, &id, why,
                               sizeof why), 0, "%s", why);
    cr_assert_eq(id, 1);
    uint8_t h[32];
    hash(s1, h);
    const ct_token *tok = NULL;
    cr_assert_eq(ct_tokens_match(t, h, 4999, &tok), CT_TOKEN_VALID);
    char actor[200];
    ct_token_actor(tok, actor, sizeof actor);
    cr_assert_str_eq(actor, "user:jsmith@demo-acute/hospital");
    cr_assert_eq(ct_tokens_match(t, h, 5000, &tok), CT_TOKEN_EXPIRED);
    /* One valid token per user: a second is refused. */
    cr_assert_eq(ct_tokens_add(t, &u, 1000, "cli:root", s2, NULL, why,
                               sizeof why), CT_EEXISTS);
    /* Rotation: a new secret, the old one refused, the expiry moved. */
    cr_assert_eq(ct_tokens_rotate(t, 1, 2000, "cli:root", 9000, s2, why,
                                  sizeof why), 0);
    cr_assert_eq(ct_tokens_match(t, h, 3000, NULL), CT_TOKEN_NONE);
    hash(s2, h);
    cr_assert_eq(ct_tokens_match(t, h, 8000, &tok), CT_TOKEN_VALID);
    cr_assert_str_eq(tok->rotated_by, "cli:root");
    /* Revoked: refused, and revoking again is an error. */
    cr_assert_eq(ct_tokens_revoke(t, 1, 3000, "cli:alice", why, sizeof why),
                 0);
    cr_assert_eq(ct_tokens_match(t, h, 3000, NULL), CT_TOKEN_NONE);
    cr_assert_eq(ct_tokens_revoke(t, 1, 3000, "cli:alice", why, sizeof why),
                 CT_ESTATE);
    cr_assert_eq(ct_tokens_rotate(t, 1, 3000, "cli:alice", 0, s2, why,
                                  sizeof why), CT_ESTATE);
    cr_assert_eq(ct_tokens_revoke(t, 7, 3000, "cli:alice", why, sizeof why),
                 CT_ENOTFOUND);
    /* After a revocation the user may have a new token. */
    cr_assert_eq(ct_tokens_add(t, &u, 4000, "cli:root", s2, &id, why,
                               sizeof why), 0);
    cr_assert_eq(id, 2);
    ct_tokens_free(t);
}

Test(token, bad_entries_are_refused)
{
    ct_tokens *t = NULL;
    char why[300], s[CT_TOKEN_SECRET_LEN + 1];
    cr_assert_eq(ct_tokens_load(path, &t, why, sizeof why), 0);
    ct_token u = user("j smith", "demo-acute", CT_ROLE_HOSPITAL, 0);
    cr_assert_eq(ct_tokens_add(t, &u, 1, "cli:root", s, NULL, why,
                               sizeof why), CT_EINVAL);
    u = user("jsmith", "demo-acute", CT_ROLE_HOSPITAL, 0);
    u.display_name[0] = '\0';
    cr_assert_eq(ct_tokens_add(t, &u, 1, "cli:root", s, NULL, why,
                               sizeof why), CT_EINVAL, "a user needs a name");
    u = user("jsmith", "demo-acute", CT_ROLE_HOSPITAL, 0);
    snprintf(u.display_name, sizeof u.display_name, "Jane\nSmith");
    cr_assert_eq(ct_tokens_add(t, &u, 1, "cli:root", s, NULL, why,
                               sizeof why), CT_EINVAL);
    cr_assert_eq(ct_tokens_count(t), 0);
    ct_tokens_free(t);
}

Test(token, the_file_round_trips_and_keeps_no_secret)
{
    int lock;
    ct_tokens *t = NULL;
    char why[300], s[CT_TOKEN_SECRET_LEN + 1], c[CT_TOKEN_SECRET_LEN + 1];
    cr_assert_eq(ct_tokens_edit_begin(path, &lock, &t, why, sizeof why), 0,
                 "%s", why);
    ct_token u = user("jsmith", "demo-acute", CT_ROLE_HOSPITAL, 0);
    cr_assert_eq(ct_tokens_add(t, &u, 1000, "cli:root", s, NULL, why,
                               sizeof why), 0);
    ct_token m = user("epr", "demo-acute", CT_ROLE_HOSPITAL, 0);
    m.kind = CT_TOKEN_CLIENT;
    m.display_name[0] = '\0';
    cr_assert_eq(ct_tokens_add(t, &m, 1000, "cli:root", c, NULL, why,
                               sizeof why), 0, "%s", why);
    cr_assert_eq(ct_tokens_edit_end(path, lock, t, true, why, sizeof why), 0,
                 "%s", why);
    ct_tokens_free(t);
    char *text = NULL;
    cr_assert_eq(ct_read_file(path, &text, NULL), 0);
    cr_assert_null(strstr(text, s), "the secret is in the file");
    cr_assert_not_null(strstr(text, "\"sha256\""));
    free(text);
    cr_assert_eq(ct_tokens_load(path, &t, why, sizeof why), 0, "%s", why);
    cr_assert_eq(ct_tokens_count(t), 2);
    uint8_t h[32];
    hash(c, h);
    const ct_token *tok = NULL;
    cr_assert_eq(ct_tokens_match(t, h, 2000, &tok), CT_TOKEN_VALID);
    char actor[200];
    ct_token_actor(tok, actor, sizeof actor);
    cr_assert_str_eq(actor, "client:epr@demo-acute/hospital");
    cr_assert_eq(tok->expires_at, CT_TOKEN_NEVER);
    ct_tokens_free(t);
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

#define H1 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define H2 "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define ENTRY(id, name, hash)                                                \
    "{\"id\": " #id ", \"kind\": \"user\", \"name\": \"" name "\","          \
    " \"display_name\": \"A\", \"org\": \"demo-acute\", \"role\":"           \
    " \"hub\", \"sha256\": \"" hash "\", \"created_at\": 1,"                 \
    " \"created_by\": \"cli:root\"}"

Test(token, an_ambiguous_file_is_refused)
{
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"{\"caretide_tokens\": 1, \"tokens\": [" ENTRY(1, "a", H1) ", "
         ENTRY(2, "b", H1) "]}", "same secret"},
        {"{\"caretide_tokens\": 1, \"tokens\": [" ENTRY(1, "a", H1) ", "
         ENTRY(1, "b", H2) "]}", "two entries have id 1"},
        {"{\"caretide_tokens\": 1, \"tokens\": [" ENTRY(1, "a", H1) ", "
         ENTRY(2, "a", H2) "]}", "both valid"},
        {"{\"caretide_tokens\": 2, \"tokens\": []}", "not a caretide token"},
        {"{\"caretide_tokens\": 1, \"tokens\": [{\"id\": 1}]}",
         "malformed"},
        {"{\"caretide_tokens\": 1, \"tokens\": [", "tokens:1:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(cases[i].text);
        ct_tokens *t = NULL;
        char why[300] = "";
        cr_assert_eq(ct_tokens_load(path, &t, why, sizeof why), CT_ECONFIG,
                     "case %zu", i);
        cr_assert_not_null(strstr(why, cases[i].why), "case %zu: %s", i,
                           why);
        cr_assert_null(t);
    }
}

Test(token, auth_refuses_expired_revoked_and_unknown_org)
{
    ct_config *cfg = NULL;
    ct_diags diags = {0};
    cr_assert_eq(ct_config_load_demo(&cfg, &diags), 0);
    ct_auth *auth = NULL;
    cr_assert_eq(ct_auth_new(cfg, &auth), 0);
    ct_tokens *t = NULL;
    char why[300], s[CT_TOKEN_SECRET_LEN + 1], o[CT_TOKEN_SECRET_LEN + 1];
    cr_assert_eq(ct_tokens_load(path, &t, why, sizeof why), 0);
    ct_token u = user("jsmith", "demo-acute", CT_ROLE_HOSPITAL, 1);
    u.expires_at = INT64_MAX - 1;
    cr_assert_eq(ct_tokens_add(t, &u, 1, "cli:root", s, NULL, why,
                               sizeof why), 0);
    ct_token x = user("ghost", "no-such-org", CT_ROLE_HUB, 0);
    cr_assert_eq(ct_tokens_add(t, &x, 1, "cli:root", o, NULL, why,
                               sizeof why), 0);
    ct_auth_set_tokens(auth, t, NULL);
    char header[80];
    ct_principal p;
    snprintf(header, sizeof header, "Bearer %s", s);
    cr_assert_eq(ct_auth_bearer(auth, header, &p), 0);
    cr_assert_eq(p.kind, CT_PRINCIPAL_USER);
    char actor[CT_AUTH_ACTOR_MAX];
    ct_principal_actor(&p, actor);
    cr_assert_str_eq(actor, "user:jsmith@demo-acute/hospital");
    snprintf(header, sizeof header, "Bearer %s", o);
    cr_assert_eq(ct_auth_bearer(auth, header, &p), CT_EDENIED,
                 "an organisation the area does not list");
    cr_assert_eq(ct_tokens_revoke(t, 1, 2, "cli:root", why, sizeof why), 0);
    snprintf(header, sizeof header, "Bearer %s", s);
    cr_assert_eq(ct_auth_bearer(auth, header, &p), CT_EDENIED);
    /* A config token with a stored secret is refused at check. */
    cr_assert_eq(ct_auth_check_clash(cfg, t, why, sizeof why), 0);
    ct_tokens_free(t);
    ct_auth_free(auth);
    ct_config_free(cfg);
    ct_diags_free(&diags);
}

Test(token, each_change_is_audited_once_with_its_actor)
{
    ct_store *s = NULL;
    cr_assert_eq(ct_store_open(":memory:", NULL, &s), 0);
    ct_clock *clock = NULL;
    ct_events *bus = NULL;
    cr_assert_eq(ct_clock_new_virtual(10, &clock), 0);
    cr_assert_eq(ct_events_new(s, clock, &bus), 0);
    ct_tokens *t = NULL;
    char why[300], sec[CT_TOKEN_SECRET_LEN + 1];
    cr_assert_eq(ct_tokens_load(path, &t, why, sizeof why), 0);
    ct_token u = user("jsmith", "demo-acute", CT_ROLE_HOSPITAL, 0);
    cr_assert_eq(ct_tokens_add(t, &u, 1, "cli:root", sec, NULL, why,
                               sizeof why), 0);
    int n = -1;
    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert_eq(ct_token_audit_sync(bus, t, &n), 0);
    cr_assert_eq(ct_store_commit(s), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert_eq(ct_token_audit_sync(bus, t, &n), 0);
    cr_assert_eq(ct_store_commit(s), 0);
    cr_assert_eq(n, 0, "nothing changed, nothing audited");
    cr_assert_eq(ct_tokens_rotate(t, 1, 12, "cli:bob", 0, sec, why,
                                  sizeof why), 0);
    cr_assert_eq(ct_tokens_revoke(t, 1, 13, "cli:carol", why, sizeof why),
                 0);
    cr_assert_eq(ct_store_begin(s), 0);
    cr_assert_eq(ct_token_audit_sync(bus, t, &n), 0);
    cr_assert_eq(ct_store_commit(s), 0);
    cr_assert_eq(n, 2);
    json_t *ev = NULL;
    cr_assert_eq(ct_audit_list_json(s, 0, 100, &ev), 0);
    cr_assert_eq(json_array_size(ev), 3);
    static const char *const want[][2] = {{"cli:root", "token.added"},
                                          {"cli:bob", "token.rotated"},
                                          {"cli:carol", "token.revoked"}};
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(ev, i);
        cr_assert_str_eq(json_string_value(json_object_get(e, "actor")),
                         want[i][0]);
        cr_assert_str_eq(json_string_value(json_object_get(e, "kind")),
                         want[i][1]);
    }
    char *text = json_dumps(ev, 0);
    cr_assert_null(strstr(text, sec), "a secret in the audit");
    free(text);
    json_decref(ev);
    ct_audit_report r;
    cr_assert_eq(ct_audit_verify(s, &r), 0);
    ct_tokens_free(t);
    ct_events_free(bus);
    ct_store_close(s);
    ct_clock_close(clock, NULL, NULL);
}
