/*
 * Canonical JSON text without json_dumps (json_canon.h). The rules are
 * jansson 2.14's dump.c and utf.c with JSON_SORT_KEYS | JSON_COMPACT |
 * JSON_ENSURE_ASCII; where this file would have to guess (reals, deep
 * nesting and cycles) it calls json_dumps for that value instead.
 */
#include "json_canon.h"

#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JANSSON_FLAGS                                                       \
    (JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY)
/* Containers deeper than this go to json_dumps, which also catches cycles
 * (a cycle reaches any depth). Payloads are a few levels deep. */
#define MAX_DEPTH 32
/* Objects with up to this many keys sort them on the stack. */
#define SMALL_KEYS 32

static const char hex[] = "0123456789ABCDEF";

/* One code point at s (n > 0 bytes left) as jansson's utf8_iterate reads
 * it: the sequence length, or 0 when it is not valid UTF-8 (continuation
 * or overlong lead byte, bad continuation, surrogate, beyond U+10FFFF,
 * overlong form, cut short). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char u = s[0];
    size_t len;
    uint32_t v;
    if (u < 0x80) {
        *cp = u;
        return 1;
    }
    if (u >= 0xC2 && u <= 0xDF)
        len = 2, v = u & 0x1Fu;
    else if (u >= 0xE0 && u <= 0xEF)
        len = 3, v = u & 0x0Fu;
    else if (u >= 0xF0 && u <= 0xF4)
        len = 4, v = u & 0x07u;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) ||
        (len == 3 && v < 0x800) || (len == 4 && v < 0x10000))
        return 0;
    *cp = v;
    return len;
}

bool ct_json_canon_is_text(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        uint32_t cp;
        size_t n = utf8_next(p, (size_t)(end - p), &cp);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

static char *put_u16(char *o, uint32_t u)
{
    *o++ = '\\';
    *o++ = 'u';
    *o++ = hex[(u >> 12) & 0xF];
    *o++ = hex[(u >> 8) & 0xF];
    *o++ = hex[(u >> 4) & 0xF];
    *o++ = hex[u & 0xF];
    return o;
}

/* Borrows s; b grows by at most 6 bytes per input byte plus the quotes. */
int ct_json_canon_string(ct_buf *b, const char *s, size_t len)
{
    /* A code point of n bytes becomes at most 12 bytes (a surrogate
     * pair, from 4 bytes) and a byte at most 6: 6 per byte bounds it. */
    if (len > (SIZE_MAX - 2) / 6 || ct_buf_reserve(b, 6 * len + 2))
        return CT_ENOMEM;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    char *o = b->data + b->len;
    *o++ = '"';
    while (p < end) {
        /* The plain run: printable ASCII other than '"' and '\\', and DEL
         * (jansson escapes only above 0x7F). */
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run) {
            memcpy(o, run, (size_t)(p - run));
            o += p - run;
        }
        if (p == end)
            break;
        uint32_t cp;
        size_t n = utf8_next(p, (size_t)(end - p), &cp);
        if (n == 0)
            return CT_EINVAL;
        p += n;
        switch (cp) {
        case '\\': *o++ = '\\', *o++ = '\\'; break;
        case '"': *o++ = '\\', *o++ = '"'; break;
        case '\b': *o++ = '\\', *o++ = 'b'; break;
        case '\f': *o++ = '\\', *o++ = 'f'; break;
        case '\n': *o++ = '\\', *o++ = 'n'; break;
        case '\r': *o++ = '\\', *o++ = 'r'; break;
        case '\t': *o++ = '\\', *o++ = 't'; break;
        default:
            if (cp < 0x10000) {
                o = put_u16(o, cp);
            } else {
                cp -= 0x10000;
                o = put_u16(o, 0xD800 | ((cp & 0xFFC00) >> 10));
                o = put_u16(o, 0xDC00 | (cp & 0x3FF));
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int ct_json_canon_int(ct_buf *b, int64_t v)
{
    char tmp[24], *e = tmp + sizeof tmp, *p = e;
    /* In unsigned arithmetic so that INT64_MIN negates. */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return ct_buf_append(b, p, (size_t)(e - p));
}

/* jansson's order: memcmp over the shorter length, then the shorter. */
typedef struct key {
    const char *s;
    size_t len;
    json_t *value;
} key;

static int key_cmp(const void *a, const void *b)
{
    const key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* For NUL-terminated keys jansson's order is strcmp's: both compare bytes
 * as unsigned char, and a prefix sorts first. */
static int member_cmp(const ct_json_member *x, const ct_json_member *y)
{
    return strcmp(x->key, y->key);
}

int ct_json_canon_members(ct_buf *b, ct_json_member *m, size_t n)
{
    /* Insertion sort: members given in order cost n - 1 comparisons. */
    for (size_t j = 1; j < n; j++) {
        ct_json_member k = m[j];
        size_t i = j;
        for (; i > 0 && member_cmp(&m[i - 1], &k) > 0; i--)
            m[i] = m[i - 1];
        m[i] = k;
    }
    size_t mark = b->len;
    int rc = ct_buf_append(b, "{", 1);
    for (size_t i = 0; !rc && i < n; i++) {
        if ((i && (rc = ct_buf_append(b, ",", 1))) ||
            (rc = ct_json_canon_string(b, m[i].key, strlen(m[i].key))) ||
            (rc = ct_buf_append(b, ":", 1)))
            break;
        rc = m[i].str ? ct_json_canon_string(b, m[i].str, strlen(m[i].str))
                      : ct_json_canon_int(b, m[i].num);
    }
    if (!rc)
        rc = ct_buf_append(b, "}", 1);
    if (rc) {
        b->len = mark;
        if (b->data)
            b->data[mark] = '\0';
    }
    return rc;
}

json_t *ct_json_members_object(const ct_json_member *m, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) {
        json_t *v = m[i].str ? json_string(m[i].str) : json_integer(m[i].num);
        if (json_object_set_new(o, m[i].key, v)) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

json_t *ct_json_key_set(const json_t *list, const char *name)
{
    json_t *set = json_object();
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        const char *v = json_string_value(json_object_get(item, name));
        if (v)
            json_object_set_new(set, v, json_true());
    }
    return set;
}

void ct_json_count(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    json_object_set_new(o, name,
                        json_integer(v ? json_integer_value(v) + 1 : 1));
}

/* json_dumps' own text for v, appended. */
static int by_jansson(ct_buf *b, const json_t *v)
{
    char *t = json_dumps(v, JANSSON_FLAGS);
    if (!t)
        return CT_EINVAL; /* or out of memory: jansson cannot tell us */
    int rc = ct_buf_append(b, t, strlen(t));
    free(t);
    return rc;
}

/*
 * A real as jansson 2.14 writes it (jsonp_dtostr, precision 17): "%.17g",
 * ".0" added when that reads as an integer, and the exponent without a
 * '+' or leading zeros ("1e+20" -> "1e20", "1e-05" -> "1e-5"). jansson
 * refuses NaN and infinities when the value is made. The host never
 * changes LC_NUMERIC, so the decimal point is '.'.
 */
static int put_real(ct_buf *b, double d)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf - 3, "%.17g", d);
    if (n < 0 || (size_t)n >= sizeof buf - 3)
        return CT_EINVAL;
    size_t len = (size_t)n;
    if (!memchr(buf, '.', len) && !memchr(buf, 'e', len)) {
        buf[len++] = '.';
        buf[len++] = '0';
        buf[len] = '\0';
    }
    char *start = memchr(buf, 'e', len);
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - buf));
            len -= (size_t)(end - start);
        }
    }
    return ct_buf_append(b, buf, len);
}

/*
 * One text's writing. A decision's trace holds the same referral object in
 * every hook's input (five to eight times) and the rank steps share
 * candidates: an object written once is copied from the text already
 * written when it comes again (by pointer: the same value, unchanged
 * while it is written), not sorted and escaped again.
 */
#define MEMO 16
#define MEMO_MIN_KEYS 4
#define MEMO_MAX_DEPTH 8
typedef struct canon {
    ct_buf *b;
    struct memo {
        const json_t *v;
        size_t at, len;
    } memo[MEMO];
    size_t nmemo, next; /* next: the slot to replace when full */
} canon;

static int put(canon *c, const json_t *v, int depth);

static int put_object(canon *c, const json_t *v, int depth)
{
    ct_buf *b = c->b;
    size_t n = json_object_size(v);
    if (n == 0)
        return ct_buf_append(b, "{}", 2);
    bool memo = n >= MEMO_MIN_KEYS && depth <= MEMO_MAX_DEPTH;
    for (size_t i = 0; memo && i < c->nmemo; i++)
        if (c->memo[i].v == v) {
            /* Reserved first: the copy's source is in the buffer. */
            if (ct_buf_reserve(b, c->memo[i].len + 1))
                return CT_ENOMEM;
            memcpy(b->data + b->len, b->data + c->memo[i].at, c->memo[i].len);
            b->len += c->memo[i].len;
            b->data[b->len] = '\0';
            return 0;
        }
    size_t start = b->len;
    key small[SMALL_KEYS], *keys = small;
    if (n > SMALL_KEYS && !(keys = calloc(n, sizeof *keys)))
        return CT_ENOMEM;
    size_t i = 0;
    for (void *it = json_object_iter((json_t *)v); it && i < n;
         it = json_object_iter_next((json_t *)v, it), i++)
        keys[i] = (key){json_object_iter_key(it), json_object_iter_key_len(it),
                        json_object_iter_value(it)};
    n = i;
    /* Insertion sort: a payload has a handful of keys. */
    if (keys == small) {
        for (size_t j = 1; j < n; j++) {
            key k = keys[j];
            size_t m = j;
            for (; m > 0 && key_cmp(&keys[m - 1], &k) > 0; m--)
                keys[m] = keys[m - 1];
            keys[m] = k;
        }
    } else {
        qsort(keys, n, sizeof *keys, key_cmp);
    }
    int rc = ct_buf_append(b, "{", 1);
    for (i = 0; !rc && i < n; i++) {
        if ((i && (rc = ct_buf_append(b, ",", 1))) ||
            (rc = ct_json_canon_string(b, keys[i].s, keys[i].len)) ||
            (rc = ct_buf_append(b, ":", 1)))
            break;
        rc = put(c, keys[i].value, depth + 1);
    }
    if (!rc)
        rc = ct_buf_append(b, "}", 1);
    if (keys != small)
        free(keys);
    if (!rc && memo) {
        size_t slot = c->nmemo < MEMO ? c->nmemo++ : c->next++ % MEMO;
        c->memo[slot] = (struct memo){v, start, b->len - start};
    }
    return rc;
}

static int put(canon *c, const json_t *v, int depth)
{
    ct_buf *b = c->b;
    if (!v)
        return CT_EINVAL;
    switch (json_typeof(v)) {
    case JSON_NULL: return ct_buf_append(b, "null", 4);
    case JSON_TRUE: return ct_buf_append(b, "true", 4);
    case JSON_FALSE: return ct_buf_append(b, "false", 5);
    case JSON_INTEGER: return ct_json_canon_int(b, json_integer_value(v));
    case JSON_REAL: return put_real(b, json_real_value(v));
    case JSON_STRING:
        return ct_json_canon_string(b, json_string_value(v),
                                    json_string_length(v));
    case JSON_ARRAY: {
        if (depth >= MAX_DEPTH)
            return by_jansson(b, v);
        size_t n = json_array_size(v);
        int rc = ct_buf_append(b, "[", 1);
        for (size_t i = 0; !rc && i < n; i++)
            if (!(i && (rc = ct_buf_append(b, ",", 1))))
                rc = put(c, json_array_get(v, i), depth + 1);
        return rc ? rc : ct_buf_append(b, "]", 1);
    }
    case JSON_OBJECT:
        return depth >= MAX_DEPTH ? by_jansson(b, v)
                                  : put_object(c, v, depth);
    }
    return CT_EINVAL;
}

int ct_json_canon(ct_buf *b, const json_t *v)
{
    size_t mark = b->len;
    canon c = {.b = b};
    int rc = put(&c, v, 0);
    if (rc == CT_EINVAL && v) {
        /* Text that is not UTF-8 (only json_*_nocheck makes it): jansson
         * refuses a string value but, in sorted mode, writes a key up to
         * the bad byte and carries on. Its own output is the answer. */
        b->len = mark;
        rc = by_jansson(b, v);
    }
    if (rc) {
        b->len = mark;
        if (b->data)
            b->data[mark] = '\0';
    }
    return rc;
}
