#include "trust.h"

#include "clock.h"
#include "config_read.h"
#include "error.h"
#include "util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

void ct_trust_key_id(const uint8_t public_key[32], char id[CT_KEY_ID_LEN + 1])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, public_key, 32);
    ct_hex_encode(h, CT_KEY_ID_LEN / 2, id);
}

int ct_trust_parse_expiry(const char *s, int64_t *out)
{
    int64_t t;
    if (ct_clock_parse(s, &t))
        return CT_EINVAL;
    /* A bare date is a whole day: valid until the next midnight. */
    *out = strlen(s) == 10 ? t + DAY_MS : t;
    return 0;
}

static const ct_node *scalar(ct_config_reader *p, const ct_node *map,
                             const char *key, bool required)
{
    const ct_node *n = ct_node_get(map, key);
    if (!n) {
        if (required)
            ct_config_read_err(
                p, map, "a trusted key is missing required key '%s'", key);
        return NULL;
    }
    if (n->kind != CT_NODE_SCALAR || ct_node_is_null(n)) {
        ct_config_read_err(p, n, "'%s' must be a value, not %s", key,
                           ct_node_describe(n));
        return NULL;
    }
    return n;
}

int ct_trust_key_parse(const char *file, const ct_node *map,
                       ct_trust_key *out, ct_diags *diags)
{
    static const char *const keys[] = {"id", "public_key", "expires", "name"};
    ct_config_reader p = {.file = file, .diags = diags};
    memset(out, 0, sizeof *out);
    out->expires_ms = INT64_MAX;
    if (!map || map->kind != CT_NODE_MAP) {
        ct_config_read_err(&p, map,
                           "a trusted key must be a mapping with 'id' and "
                           "'public_key', not %s",
                           ct_node_describe(map));
        return CT_ECONFIG;
    }
    for (size_t i = 0; i < map->len; i++) {
        const ct_node *k = ct_node_key(map, i);
        const char *best = NULL;
        size_t best_d = 3, j;
        for (j = 0; j < CT_ARRAY_LEN(keys); j++) {
            if (strcmp(k->value, keys[j]) == 0)
                break;
            size_t d = ct_levenshtein(k->value, keys[j]);
            if (d < best_d && d < strlen(k->value)) {
                best_d = d;
                best = keys[j];
            }
        }
        if (j < CT_ARRAY_LEN(keys))
            continue;
        if (strcmp(k->value, "secret_key") == 0)
            ct_config_read_err(
                &p, k,
                "this is a secret signing key; trust the public one "
                "(the .pub file keygen wrote beside it)");
        else if (best)
            ct_config_read_err(
                &p, k,
                "unknown key '%s' in a trusted key; did you mean "
                "'%s'?",
                k->value, best);
        else
            ct_config_read_err(&p, k, "unknown key '%s' in a trusted key",
                               k->value);
    }
    const ct_node *id = scalar(&p, map, "id", true);
    const ct_node *pk = scalar(&p, map, "public_key", true);
    const ct_node *exp = scalar(&p, map, "expires", false);
    const ct_node *name = scalar(&p, map, "name", false);
    if (pk) {
        size_t n = 0;
        const char *end = NULL;
        if (sodium_base642bin(out->public_key, sizeof out->public_key,
                              pk->value, strlen(pk->value), NULL, &n, &end,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            n != 32 || *end)
            ct_config_read_err(&p, pk,
                               "'public_key' must be the base64 of a 32-byte "
                               "Ed25519 public key");
        else
            ct_trust_key_id(out->public_key, out->id);
    }
    if (id && out->id[0] && strcmp(id->value, out->id) != 0)
        ct_config_read_err(
            &p, id,
            "key id '%s' does not match its public key, whose id is "
            "'%s'",
            id->value, out->id);
    if (exp && ct_trust_parse_expiry(exp->value, &out->expires_ms))
        ct_config_read_err(
            &p, exp,
            "'expires' must be a date like 2027-03-31 (valid through "
            "that day, UTC) or a time like 2027-03-31T12:00:00Z");
    if (p.errors) {
        memset(out, 0, sizeof *out);
        return CT_ECONFIG;
    }
    out->line = map->line;
    out->col = map->col;
    out->file = strdup(file);
    out->name = name ? strdup(name->value) : NULL;
    if (!out->file || (name && !out->name)) {
        ct_trust_key_clear(out);
        return CT_ENOMEM;
    }
    return 0;
}

int ct_trust_key_load(const char *path, ct_trust_key *out, ct_diags *diags)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t len = 0;
    int rc = ct_read_file(path, &text, &len);
    if (rc) {
        ct_diags_add(diags, path, 0, 0, "cannot read public key: %s",
                     rc == CT_ENOTFOUND ? "no such file" : ct_strerror(rc));
        return rc;
    }
    ct_node *root = NULL;
    rc = ct_yaml_parse(path, text, len, &root, diags);
    free(text);
    if (rc)
        return rc == CT_ENOMEM ? rc : CT_ECONFIG;
    rc = ct_trust_key_parse(path, root, out, diags);
    ct_node_free(root);
    return rc;
}

void ct_trust_key_clear(ct_trust_key *k)
{
    free(k->name);
    free(k->file);
    memset(k, 0, sizeof *k);
}

int ct_trust_add(ct_trust *t, ct_trust_key *k)
{
    if (ct_trust_find(t, k->id))
        return CT_EEXISTS;
    ct_trust_key *keys = realloc(t->keys, (t->nkeys + 1) * sizeof *keys);
    if (!keys)
        return CT_ENOMEM;
    t->keys = keys;
    t->keys[t->nkeys++] = *k;
    memset(k, 0, sizeof *k);
    return 0;
}

const ct_trust_key *ct_trust_find(const ct_trust *t, const char *id)
{
    for (size_t i = 0; t && i < t->nkeys; i++)
        if (strcmp(t->keys[i].id, id) == 0)
            return &t->keys[i];
    return NULL;
}

void ct_trust_clear(ct_trust *t)
{
    for (size_t i = 0; i < t->nkeys; i++)
        ct_trust_key_clear(&t->keys[i]);
    free(t->keys);
    memset(t, 0, sizeof *t);
}
