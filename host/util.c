#include "util.h"

#include "error.h"

#include <ctype.h>
#include <signal.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const ct_embedded *ct_embedded_find(const char *name)
{
    for (const ct_embedded *e = ct_embedded_files; e->name; e++) {
        if (strcmp(e->name, name) == 0)
            return e;
    }
    return NULL;
}

void ct_copy_str(char *dst, size_t n, const char *src)
{
    size_t len = src ? strnlen(src, n - 1) : 0;
    if (len)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

int ct_grow(void *items, size_t *cap, size_t n, size_t size, size_t first)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : first;
    if (c < *cap || c > SIZE_MAX / size)
        return CT_ENOMEM;
    /* Through memcpy: items is a T **, read and written as void *. */
    void *p;
    memcpy(&p, items, sizeof p);
    if (!(p = realloc(p, c * size)))
        return CT_ENOMEM;
    memcpy(items, &p, sizeof p);
    *cap = c;
    return 0;
}

char *ct_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *ct_strndup(const char *s, size_t n)
{
    return s ? strndup(s, n) : NULL;
}

static int buf_reserve(ct_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return CT_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int ct_buf_reserve(ct_buf *b, size_t extra)
{
    return buf_reserve(b, extra);
}

int ct_buf_append(ct_buf *b, const void *data, size_t len)
{
    if (buf_reserve(b, len))
        return CT_ENOMEM;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int ct_buf_puts(ct_buf *b, const char *s)
{
    return ct_buf_append(b, s, strlen(s));
}

int ct_buf_printf(ct_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return CT_EINVAL;
    if (buf_reserve(b, (size_t)n))
        return CT_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void ct_buf_free(ct_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int ct_read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? CT_ENOTFOUND : CT_EIO;
    ct_buf b = {0};
    char chunk[8192];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if ((rc = ct_buf_append(&b, chunk, n)))
            break;
    }
    if (!rc && ferror(f))
        rc = CT_EIO;
    fclose(f);
    if (!rc && !b.data)
        rc = ct_buf_append(&b, "", 0);
    if (rc) {
        ct_buf_free(&b);
        return rc;
    }
    *out = b.data;
    if (len)
        *len = b.len;
    return 0;
}

int ct_write_file(const char *path, const void *data, size_t len,
                  unsigned mode, bool no_replace)
{
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return CT_ENOMEM;
    snprintf(tmp, n, "%.*s.%s.tmp-XXXXXX", dirlen, path, path + dirlen);
    int fd = mkstemp(tmp); /* mode 0600 until fchmod */
    if (fd < 0) {
        free(tmp);
        return CT_EIO;
    }
    int rc = 0;
    if (fchmod(fd, (mode_t)mode) || write(fd, data, len) != (ssize_t)len ||
        fsync(fd))
        rc = CT_EIO;
    if (close(fd))
        rc = CT_EIO;
    /* link() refuses to replace; rename() replaces. */
    if (!rc && (no_replace ? link(tmp, path) : rename(tmp, path)))
        rc = errno == EEXIST ? CT_EEXISTS : CT_EIO;
    if (rc || no_replace)
        unlink(tmp);
    free(tmp);
    return rc;
}

int ct_parse_duration_ms(const char *s, int64_t *out)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1},          {"s", 1000},        {"m", 60000},
                 {"h", 3600000},     {"d", 86400000},    {"w", 604800000}};
    if (!s || !*s)
        return CT_EINVAL;
    int64_t total = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return CT_EINVAL;
        int64_t v = 0;
        while (isdigit((unsigned char)*p)) {
            if (v > (INT64_MAX - 9) / 10)
                return CT_EINVAL;
            v = v * 10 + (*p++ - '0');
        }
        size_t best = 0, best_len = 0;
        for (size_t i = 0; i < CT_ARRAY_LEN(units); i++) {
            size_t ul = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, ul) == 0 && ul > best_len) {
                best = i;
                best_len = ul;
            }
        }
        if (!best_len)
            return CT_EINVAL;
        p += best_len;
        if (v > INT64_MAX / units[best].ms ||
            total > INT64_MAX - v * units[best].ms)
            return CT_EINVAL;
        total += v * units[best].ms;
    }
    *out = total;
    return 0;
}

int ct_parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"KiB", 1024ULL},
                 {"MiB", 1024ULL * 1024},
                 {"GiB", 1024ULL * 1024 * 1024},
                 {"kB", 1000ULL},
                 {"KB", 1000ULL},
                 {"MB", 1000ULL * 1000},
                 {"GB", 1000ULL * 1000 * 1000}};
    if (!s || !isdigit((unsigned char)*s))
        return CT_EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return CT_EINVAL;
    for (size_t i = 0; i < CT_ARRAY_LEN(units); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            if (v > UINT64_MAX / units[i].mult)
                return CT_EINVAL;
            *out = v * units[i].mult;
            return 0;
        }
    }
    return CT_EINVAL;
}

void ct_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int ct_hex_decode(const char *in, uint8_t *out, size_t len)
{
    if (strlen(in) != 2 * len)
        return CT_EINVAL;
    for (size_t i = 0; i < len; i++) {
        int hi = hexval((unsigned char)in[2 * i]);
        int lo = hexval((unsigned char)in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return CT_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

bool ct_nhs_number_valid(const char *s, char norm[11])
{
    char d[11];
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p)) {
            if (n == 10)
                return false;
            d[n++] = *p;
        } else if ((*p == ' ' || *p == '-') && (n == 3 || n == 6)) {
            continue;
        } else {
            return false;
        }
    }
    if (n != 10)
        return false;
    d[10] = '\0';
    int check = ct_nhs_check_digit(d);
    if (check < 0 || check != d[9] - '0')
        return false;
    /* Every repeated-digit number passes modulus 11 (the weights sum to
     * 54, -1 modulo 11) and none was ever issued: they are placeholders
     * typed into systems, never a person. */
    if (strspn(d, (char[]){d[0], '\0'}) == 10)
        return false;
    memcpy(norm, d, 11);
    return true;
}

int ct_nhs_check_digit(const char digits[9])
{
    int sum = 0;
    for (int i = 0; i < 9; i++)
        sum += (digits[i] - '0') * (10 - i);
    int check = 11 - sum % 11;
    return check == 11 ? 0 : check == 10 ? -1 : check;
}

size_t ct_levenshtein(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return la > lb ? la : lb;
    /* Optimal string alignment: like Levenshtein, and a swap of two
     * neighbouring letters ("knid" for "kind") costs one edit. */
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

int ct_thread_start(pthread_t *thread, size_t stack, void *(*fn)(void *),
                    void *arg)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr))
        return CT_ENOMEM;
    if (stack && pthread_attr_setstacksize(&attr, stack)) {
        pthread_attr_destroy(&attr);
        return CT_ENOMEM;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(thread, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc ? CT_ENOMEM : 0;
}
