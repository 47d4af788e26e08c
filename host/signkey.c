#include "signkey.h"

#include "error.h"
#include "util.h"
#include "yaml_tree.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
            return false;
    return true;
}

int ct_signkey_generate(const char *name, const char *expires,
                        ct_signkey *out)
{
    memset(out, 0, sizeof *out);
    out->expires_ms = INT64_MAX;
    if (!valid_name(name))
        return CT_EINVAL;
    if (expires && ct_trust_parse_expiry(expires, &out->expires_ms))
        return CT_EINVAL;
    if (sodium_init() < 0)
        return CT_ENOMEM;
    crypto_sign_keypair(out->public_key, out->secret_key);
    ct_trust_key_id(out->public_key, out->id);
    out->name = strdup(name);
    out->expires = expires ? strdup(expires) : NULL;
    if (!out->name || (expires && !out->expires)) {
        ct_signkey_clear(out);
        return CT_ENOMEM;
    }
    return 0;
}

/* Writes text to path through a temporary file beside it; without
 * force an existing file is CT_EEXISTS. */
static int write_atomic(const char *path, const char *text, mode_t mode,
                        bool force)
{
    return ct_write_file(path, text, strlen(text), mode, !force);
}

int ct_signkey_write(const ct_signkey *k, const char *key_path,
                     const char *pub_path, bool force)
{
    struct stat st;
    if (!force && (lstat(key_path, &st) == 0 || lstat(pub_path, &st) == 0))
        return CT_EEXISTS;
    uint8_t seed[32];
    char b64[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
    ct_buf pub = {0}, sec = {0};
    crypto_sign_ed25519_sk_to_seed(seed, k->secret_key);

    sodium_bin2base64(b64, sizeof b64, k->public_key, 32,
                      sodium_base64_VARIANT_ORIGINAL);
    ct_buf_printf(&pub,
                  "# caretide plugin signing key, public half. Areas trust "
                  "it by adding this\n# map to trust.keys in their config, "
                  "or by naming this file there.\n"
                  "id: %s\npublic_key: %s\nname: %s\n",
                  k->id, b64, k->name);
    if (k->expires)
        ct_buf_printf(&pub, "expires: %s\n", k->expires);

    sodium_bin2base64(b64, sizeof b64, seed, sizeof seed,
                      sodium_base64_VARIANT_ORIGINAL);
    ct_buf_printf(&sec,
                  "# caretide plugin signing key: SECRET. Sign bundles with "
                  "it; never share it.\n# Give areas the .pub file.\n"
                  "id: %s\nsecret_key: %s\nname: %s\n",
                  k->id, b64, k->name);
    if (k->expires)
        ct_buf_printf(&sec, "expires: %s\n", k->expires);

    int rc = (!pub.data || !sec.data) ? CT_ENOMEM : 0;
    if (!rc)
        rc = write_atomic(key_path, sec.data, 0600, force);
    if (!rc) {
        rc = write_atomic(pub_path, pub.data, 0644, force);
        if (rc && !force)
            unlink(key_path); /* all or nothing */
    }
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(b64, sizeof b64);
    if (sec.data)
        sodium_memzero(sec.data, sec.len);
    ct_buf_free(&sec);
    ct_buf_free(&pub);
    return rc;
}

static const ct_node *field(const char *path, const ct_node *root,
                            const char *key, bool required, ct_diags *diags,
                            int *errors)
{
    const ct_node *n = ct_node_get(root, key);
    if (!n) {
        if (required) {
            ct_diags_add(diags, path, root->line, root->col,
                         "a secret key file needs '%s'", key);
            (*errors)++;
        }
        return NULL;
    }
    if (n->kind != CT_NODE_SCALAR || ct_node_is_null(n)) {
        ct_diags_add(diags, path, n->line, n->col, "'%s' must be a value",
                     key);
        (*errors)++;
        return NULL;
    }
    return n;
}

static int parse_secret(const char *path, const ct_node *root,
                        ct_signkey *out, ct_diags *diags)
{
    static const char *const keys[] = {"id", "secret_key", "name", "expires"};
    int errors = 0;
    if (root->kind != CT_NODE_MAP) {
        ct_diags_add(diags, path, root->line, root->col,
                     "not a caretide secret key file");
        return CT_ECONFIG;
    }
    for (size_t i = 0; i < root->len; i++) {
        const ct_node *k = ct_node_key(root, i);
        size_t j = 0;
        while (j < CT_ARRAY_LEN(keys) && strcmp(keys[j], k->value) != 0)
            j++;
        if (j == CT_ARRAY_LEN(keys)) {
            if (strcmp(k->value, "public_key") == 0)
                ct_diags_add(diags, path, k->line, k->col,
                             "this is a public key; signing needs the "
                             "secret .key file");
            else
                ct_diags_add(diags, path, k->line, k->col,
                             "unknown key '%s' in a secret key file",
                             k->value);
            errors++;
        }
    }
    const ct_node *id = field(path, root, "id", true, diags, &errors);
    const ct_node *sk = field(path, root, "secret_key", true, diags, &errors);
    const ct_node *name = field(path, root, "name", true, diags, &errors);
    const ct_node *exp = field(path, root, "expires", false, diags, &errors);
    uint8_t seed[32];
    size_t n = 0;
    const char *end = NULL;
    if (sk) {
        if (sodium_base642bin(seed, sizeof seed, sk->value,
                              strlen(sk->value), NULL, &n, &end,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            n != 32 || *end) {
            ct_diags_add(diags, path, sk->line, sk->col,
                         "'secret_key' must be the base64 of a 32-byte seed");
            errors++;
        } else {
            crypto_sign_seed_keypair(out->public_key, out->secret_key, seed);
            ct_trust_key_id(out->public_key, out->id);
        }
        sodium_memzero(seed, sizeof seed);
    }
    if (id && out->id[0] && strcmp(id->value, out->id) != 0) {
        ct_diags_add(diags, path, id->line, id->col,
                     "key id '%s' does not match the key, whose id is '%s'",
                     id->value, out->id);
        errors++;
    }
    if (name && !valid_name(name->value)) {
        ct_diags_add(diags, path, name->line, name->col,
                     "'name' must be 1 to 64 letters, digits, '.', '_' or "
                     "'-'");
        errors++;
    }
    if (exp && ct_trust_parse_expiry(exp->value, &out->expires_ms)) {
        ct_diags_add(diags, path, exp->line, exp->col,
                     "'expires' must be a date like 2027-03-31");
        errors++;
    }
    if (errors)
        return CT_ECONFIG;
    out->name = strdup(name->value);
    out->expires = exp ? strdup(exp->value) : NULL;
    if (!out->name || (exp && !out->expires))
        return CT_ENOMEM;
    return 0;
}

int ct_signkey_load(const char *path, ct_signkey *out, ct_diags *diags)
{
    memset(out, 0, sizeof *out);
    out->expires_ms = INT64_MAX;
    if (sodium_init() < 0)
        return CT_ENOMEM;
    char *text = NULL;
    size_t len = 0;
    int rc = ct_read_file(path, &text, &len);
    if (rc) {
        ct_diags_add(diags, path, 0, 0, "cannot read secret key: %s",
                     rc == CT_ENOTFOUND ? "no such file" : ct_strerror(rc));
        return rc;
    }
    ct_node *root = NULL;
    rc = ct_yaml_parse(path, text, len, &root, diags);
    sodium_memzero(text, len);
    free(text);
    if (rc)
        return rc == CT_ENOMEM ? rc : CT_ECONFIG;
    rc = parse_secret(path, root, out, diags);
    /* The tree held the secret too. */
    const ct_node *sk = ct_node_get(root, "secret_key");
    if (sk && sk->value)
        sodium_memzero(sk->value, strlen(sk->value));
    ct_node_free(root);
    /* Like ssh: a secret others could have read is not used. */
    struct stat st;
    if (!rc && stat(path, &st) == 0 && (st.st_mode & 077)) {
        ct_diags_add(diags, path, 0, 0,
                     "permissions %04o are too open for a secret key; "
                     "chmod 600 it",
                     (unsigned)(st.st_mode & 07777));
        rc = CT_EDENIED;
    }
    if (rc)
        ct_signkey_clear(out);
    return rc;
}

void ct_signkey_sign(const ct_signkey *k, const void *msg, size_t len,
                     uint8_t sig[64])
{
    crypto_sign_detached(sig, NULL, msg, len, k->secret_key);
}

void ct_signkey_clear(ct_signkey *k)
{
    free(k->name);
    free(k->expires);
    sodium_memzero(k, sizeof *k);
    k->expires_ms = INT64_MAX;
}
