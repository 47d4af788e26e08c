/*
 * host/json_canon.c must write exactly what jansson's json_dumps writes
 * with JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII: the audit chain
 * hashes it, and old events were hashed over jansson's text. Every test
 * here compares the two.
 */
#include "error.h"
#include "json_canon.h"
#include "util.h"

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLAGS                                                               \
    (JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY)

/* Both writers on v: the same text, or both refuse. Returns whether they
 * wrote anything. */
static bool same_as_jansson(const json_t *v)
{
    char *want = json_dumps(v, FLAGS);
    ct_buf b = {0};
    cr_assert_eq(ct_buf_append(&b, "prefix", 6), 0);
    int rc = ct_json_canon(&b, v);
    if (!want) {
        cr_assert_eq(rc, CT_EINVAL, "jansson refuses, canon gave %d", rc);
        cr_assert_eq(b.len, 6, "a refusal keeps the buffer");
        cr_assert_str_eq(b.data, "prefix");
    } else {
        cr_assert_eq(rc, 0, "canon refused what jansson wrote: %s", want);
        cr_assert_eq(b.len, 6 + strlen(want));
        cr_assert_str_eq(b.data + 6, want);
    }
    free(want);
    ct_buf_free(&b);
    return want != NULL;
}

static void check_string(const char *s, size_t len)
{
    json_t *v = json_stringn_nocheck(s, len);
    cr_assert_not_null(v);
    bool ok = same_as_jansson(v);
    ct_buf b = {0};
    int rc = ct_json_canon_string(&b, s, len);
    cr_assert_eq(rc, ok ? 0 : CT_EINVAL);
    if (ok) {
        char *want = json_dumps(v, FLAGS);
        cr_assert_str_eq(b.data, want);
        free(want);
    }
    ct_buf_free(&b);
    json_decref(v);
}

Test(json_canon, scalars)
{
    json_t *vals[] = {json_null(),
                      json_true(),
                      json_false(),
                      json_integer(0),
                      json_integer(-1),
                      json_integer(7),
                      json_integer(1795392000000),
                      json_integer(INT64_MAX),
                      json_integer(INT64_MIN),
                      json_integer(INT64_MIN + 1),
                      json_real(0.5),
                      json_real(-0.0),
                      json_real(1e300),
                      json_real(1.0 / 3.0),
                      json_real(100),
                      json_real(1e-7),
                      json_string(""),
                      json_string("plain"),
                      json_object(),
                      json_array()};
    for (size_t i = 0; i < CT_ARRAY_LEN(vals); i++) {
        cr_assert_not_null(vals[i]);
        cr_assert(same_as_jansson(vals[i]));
        json_decref(vals[i]);
    }
}

/* Reals are written here, not by jansson: every shape of "%.17g" (plain,
 * exponents up and down, subnormals, integers that need ".0") and random
 * bit patterns must come out as json_dumps writes them. */
Test(json_canon, reals_as_jansson)
{
    const double vals[] = {0.0,     -0.0,   1.0,     -1.0,   0.1,
                           1e16,    1e17,   1e20,    1e21,   1e22,
                           1e-4,    1e-5,   1.5e-10, 1e100,  -1e-100,
                           5e-324,  DBL_MAX, DBL_MIN, 123456789.0,
                           0.06551200151443481, 9007199254740993.0,
                           2.5e15,  1e-300};
    for (size_t i = 0; i < CT_ARRAY_LEN(vals); i++) {
        json_t *j = json_real(vals[i]);
        cr_assert(same_as_jansson(j), "%.17g", vals[i]);
        json_decref(j);
    }
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        memcpy(&d, &x, sizeof d);
        if (!isfinite(d))
            continue;
        json_t *j = json_real(d);
        cr_assert(same_as_jansson(j), "%.17g", d);
        json_decref(j);
    }
}

Test(json_canon, integers_in_decimal)
{
    ct_buf b = {0};
    cr_assert_eq(ct_json_canon_int(&b, INT64_MIN), 0);
    cr_assert_str_eq(b.data, "-9223372036854775808");
    b.len = 0;
    cr_assert_eq(ct_json_canon_int(&b, 0), 0);
    cr_assert_str_eq(b.data, "0");
    ct_buf_free(&b);
    for (int64_t v = -100000; v <= 100000; v += 7) {
        json_t *j = json_integer(v * 1000003);
        same_as_jansson(j);
        json_decref(j);
    }
}

Test(json_canon, escapes_and_unicode)
{
    static const char *const strs[] = {
        "quote \" backslash \\ slash /",
        "\b\f\n\r\t",
        "\x01\x02\x1f control",
        "del \x7f stays",
        "\xc3\xa9t\xc3\xa9",           /* U+00E9 */
        "\xc2\x80 \xdf\xbf",           /* 2-byte limits */
        "\xe0\xa0\x80 \xef\xbf\xbf",   /* 3-byte limits, U+FFFF */
        "\xe2\x82\xac euro",           /* U+20AC */
        "\xed\x9f\xbf \xee\x80\x80",   /* around the surrogates */
        "\xf0\x90\x80\x80",            /* U+10000: a surrogate pair */
        "\xf0\x9f\x98\x80 emoji",      /* U+1F600 */
        "\xf4\x8f\xbf\xbf",            /* U+10FFFF */
        /* not UTF-8: both refuse */
        "\x80", "\xc0\x80", "\xc1\xbf", "\xc3", "\xe0\x80\x80",
        "\xed\xa0\x80", "\xed\xbf\xbf", "\xf0\x80\x80\x80",
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "ok \xe2\x82",
        "\xe2\x28\xa1", "\xc3\x28"};
    for (size_t i = 0; i < CT_ARRAY_LEN(strs); i++)
        check_string(strs[i], strlen(strs[i]));
    check_string("nul \0 inside", 12);
    check_string("\0", 1);
}

/* Every one- and two-byte string and every 3- and 4-byte lead with a
 * range of continuations: the UTF-8 rules, exhaustively where cheap. */
Test(json_canon, every_short_byte_sequence)
{
    char s[4];
    for (int a = 0; a < 256; a++) {
        s[0] = (char)a;
        check_string(s, 1);
        for (int c = 0; c < 256; c++) {
            s[1] = (char)c;
            check_string(s, 2);
        }
    }
    for (int a = 0xe0; a < 256; a++)
        for (int c = 0x70; c < 0xd0; c += 3)
            for (int d = 0x78; d < 0xc8; d += 5) {
                s[0] = (char)a, s[1] = (char)c, s[2] = (char)d;
                check_string(s, 3);
                s[3] = (char)(0x80 + (c + d) % 0x40);
                check_string(s, 4);
            }
}

Test(json_canon, keys_sort_as_jansson)
{
    json_t *o = json_object();
    static const char *const keys[] = {"b",  "a",    "ab", "aa", "A",  "",
                                       "zone", "z",  "\xc3\xa9", "~",
                                       "a\"b", "a\\b", "1", "10", "9"};
    for (size_t i = 0; i < CT_ARRAY_LEN(keys); i++)
        json_object_set_new(o, keys[i], json_integer((json_int_t)i));
    /* keys that differ only after an embedded NUL, and a prefix of one */
    json_object_setn_new_nocheck(o, "k\0b", 3, json_integer(20));
    json_object_setn_new_nocheck(o, "k\0a", 3, json_integer(21));
    json_object_setn_new_nocheck(o, "k", 1, json_integer(22));
    same_as_jansson(o);
    json_decref(o);

    /* more keys than fit on the stack */
    o = json_object();
    for (int i = 0; i < 300; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", (i * 7919) % 1000);
        json_object_set_new(o, k, json_integer(i));
    }
    same_as_jansson(o);
    json_decref(o);
}

Test(json_canon, audit_payloads)
{
    json_t *p = json_pack("{s:I, s:I, s:s, s:s, s:s, s:I, s:I}", "hold",
                          (json_int_t)12, "referral", (json_int_t)34, "bed",
                          "B0001-01", "zone", "f000-z1", "facility", "f000",
                          "expires_at", (json_int_t)1795420800000, "ttl_ms",
                          (json_int_t)14400000);
    same_as_jansson(p);
    json_object_set_new(p, "nested",
                        json_pack("{s:[i,i,{s:n,s:b}], s:{}, s:[]}", "list",
                                  1, 2, "x", "y", 0, "empty", "none"));
    json_object_set_new(p, "reason", json_string("caf\xc3\xa9 \"closed\"\n"));
    json_object_set_new(p, "share", json_real(0.25));
    same_as_jansson(p);
    json_decref(p);
}

/* Random values: nesting, every kind, strings from an alphabet that mixes
 * ASCII, escapes and multi-byte characters (valid or cut short). */
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static size_t random_text(char *out, size_t max, bool valid)
{
    static const char *const parts[] = {
        "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f",
        "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xef\xbf\xbf",
        "hold", "bed-", "\0"};
    static const char *const bad[] = {"\xc3", "\xed\xa0\x80", "\xff", "\x80"};
    size_t n = 0, k = rnd(12);
    for (size_t i = 0; i < k; i++) {
        size_t pi = rnd((uint32_t)CT_ARRAY_LEN(parts));
        const char *p = parts[pi];
        size_t len = pi == CT_ARRAY_LEN(parts) - 1 ? 1 : strlen(p);
        if (!valid && rnd(8) == 0)
            p = bad[rnd(4)], len = strlen(p);
        if (n + len > max)
            break;
        memcpy(out + n, p, len);
        n += len;
    }
    return n;
}

static json_t *random_value(int depth, bool valid)
{
    char t[64];
    switch (rnd(depth > 4 ? 6 : 8)) {
    case 0: return json_null();
    case 1: return json_boolean(rnd(2));
    case 2: {
        int64_t v = (int64_t)rng;
        return json_integer(rnd(2) ? v : v % 1000);
    }
    case 3: return json_real((double)(int32_t)rnd(1u << 31) / 64.0);
    case 4:
    case 5: {
        size_t n = random_text(t, sizeof t, valid);
        return json_stringn_nocheck(t, n);
    }
    case 6: {
        json_t *a = json_array();
        for (uint32_t i = rnd(5); i > 0; i--)
            json_array_append_new(a, random_value(depth + 1, valid));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (uint32_t i = rnd(7); i > 0; i--) {
            size_t n = random_text(t, sizeof t, valid);
            json_object_setn_new_nocheck(o, t, n,
                                         random_value(depth + 1, valid));
        }
        return o;
    }
    }
}

Test(json_canon, random_values)
{
    int wrote = 0;
    for (int i = 0; i < 20000; i++) {
        json_t *v = random_value(0, i % 4 != 0);
        wrote += same_as_jansson(v);
        json_decref(v);
    }
    cr_assert_gt(wrote, 10000, "most random values are valid");
}

Test(json_canon, deep_nesting_and_cycles)
{
    json_t *root = json_array(), *cur = root;
    for (int i = 0; i < 200; i++) {
        json_t *next = i % 2 ? json_array() : json_object();
        if (json_is_array(cur))
            json_array_append_new(cur, next);
        else
            json_object_set_new(cur, "k", next);
        cur = next;
    }
    json_array_append_new(cur, json_string("\xc3\xa9"));
    same_as_jansson(root);
    json_decref(root);

    /* a -> b -> a: jansson refuses, and so does canon */
    json_t *a = json_object(), *b = json_array();
    json_object_set(a, "b", b);
    json_array_append(b, a);
    same_as_jansson(a);
    json_array_clear(b); /* break the cycle so both can be freed */
    json_decref(b);
    json_decref(a);

    cr_assert_eq(ct_json_canon(&(ct_buf){0}, NULL), CT_EINVAL);
}

/* A flat payload written from members is the canonical text of the
 * object ct_json_members_object builds, whatever the members' order. */
Test(json_canon, members_as_the_object)
{
    for (int round = 0; round < 2000; round++) {
        char keys[8][32], vals[8][32];
        ct_json_member m[8];
        size_t n = rnd(9);
        for (size_t i = 0; i < n; i++) {
            /* distinct keys: a random text and the index */
            size_t kl = random_text(keys[i], 20, true);
            keys[i][kl] = '\0';
            kl = strlen(keys[i]); /* up to an embedded NUL */
            snprintf(keys[i] + kl, sizeof keys[i] - kl, "#%zu", i);
            size_t vl = random_text(vals[i], 30, round % 5 != 0);
            vals[i][vl] = '\0';
            m[i] = (ct_json_member){keys[i], rnd(2) ? vals[i] : NULL,
                                    (int64_t)rng};
        }
        json_t *o = ct_json_members_object(m, n);
        ct_buf b = {0};
        int rc = ct_json_canon_members(&b, m, n);
        if (!o) {
            cr_assert_eq(rc, CT_EINVAL, "a value that is not UTF-8");
            cr_assert_eq(b.len, 0);
        } else {
            char *want = json_dumps(o, FLAGS);
            cr_assert_eq(rc, 0);
            cr_assert_str_eq(b.data, want);
            free(want);
        }
        json_decref(o);
        ct_buf_free(&b);
    }
}

/* One object held in many places (a decision's trace holds the referral
 * in every hook's input): written once and copied after, the text must
 * stay jansson's, whatever the depth, the number of shared objects (more
 * than the writer remembers) and the buffer growing between copies. */
Test(json_canon, shared_objects_as_jansson)
{
    json_t *shared[40];
    for (int i = 0; i < 40; i++) {
        shared[i] = json_pack("{s:i, s:s, s:[i, i], s:{s:b}, s:n}", "id", i,
                              "name", "Ward \xc3\xa9", "pair", i, -i, "flags",
                              "on", i % 2, "z", NULL);
        if (i > 0) /* nested: a shared object inside another */
            json_object_set(shared[i], "prev", shared[i - 1]);
    }
    for (int round = 0; round < 200; round++) {
        json_t *root = json_array();
        for (int j = 0; j < 60; j++) {
            int k = (j * 7 + round) % 40;
            json_t *entry = json_pack("{s:O, s:[O, O], s:i}", "input",
                                      shared[k], "both", shared[(k + 3) % 40],
                                      shared[k], "j", j);
            json_array_append_new(root, j % 5 ? entry
                                              : json_pack("[[o]]", entry));
        }
        same_as_jansson(root);
        json_decref(root);
    }
    /* A shared object that jansson refuses (a value that is not UTF-8):
     * the whole text is jansson's answer, as without sharing. */
    json_t *bad = json_pack("{s:i, s:i, s:i, s:o}", "a", 1, "b", 2, "c", 3,
                            "d", json_stringn_nocheck("\xff", 1));
    json_t *root = json_pack("[O, O, {s:O}]", bad, bad, "x", bad);
    same_as_jansson(root);
    json_decref(root);
    json_decref(bad);
    for (int i = 0; i < 40; i++)
        json_decref(shared[i]);
}
