#include "tar.h"

#include "error.h"

#include <stdio.h>
#include <string.h>

/* Field offsets and widths of the ustar header (POSIX.1-1988). */
enum {
    NAME = 0, NAME_LEN = 100,
    MODE = 100, UID = 108, GID = 116, SIZE = 124, MTIME = 136,
    CHKSUM = 148, TYPE = 156, MAGIC = 257, VERSION = 263,
    UNAME = 265, GNAME = 297, PREFIX = 345, PREFIX_LEN = 155,
};

static void octal(uint8_t *field, size_t width, uint64_t v)
{
    /* width-1 digits, zero padded, then NUL. */
    snprintf((char *)field, width, "%0*llo", (int)(width - 1),
             (unsigned long long)v);
}

static unsigned checksum(const uint8_t *h)
{
    unsigned sum = 0;
    for (size_t i = 0; i < CT_TAR_BLOCK; i++)
        sum += (i >= CHKSUM && i < CHKSUM + 8) ? ' ' : h[i];
    return sum;
}

int ct_tar_add(ct_buf *out, const char *name, char type, uint32_t mode,
               const void *data, size_t len)
{
    uint8_t h[CT_TAR_BLOCK] = {0};
    size_t n = strlen(name);
    if (n == 0)
        return CT_EINVAL;
    if (n <= NAME_LEN) {
        memcpy(h + NAME, name, n);
    } else {
        /* Split at the last '/' that leaves a short enough name. */
        const char *split = NULL;
        for (const char *p = name; *p; p++)
            if (*p == '/' && (size_t)(p - name) <= PREFIX_LEN &&
                n - (size_t)(p - name) - 1 <= NAME_LEN &&
                n - (size_t)(p - name) - 1 > 0)
                split = p;
        if (!split)
            return CT_EINVAL;
        memcpy(h + PREFIX, name, (size_t)(split - name));
        memcpy(h + NAME, split + 1, n - (size_t)(split - name) - 1);
    }
    if ((uint64_t)len > 077777777777ULL)
        return CT_EINVAL;
    octal(h + MODE, 8, mode & 07777);
    octal(h + UID, 8, 0);
    octal(h + GID, 8, 0);
    octal(h + SIZE, 12, len);
    octal(h + MTIME, 12, 0);
    h[TYPE] = (uint8_t)type;
    memcpy(h + MAGIC, "ustar", 6);
    memcpy(h + VERSION, "00", 2);
    memcpy(h + UNAME, "root", 4);
    memcpy(h + GNAME, "root", 4);
    snprintf((char *)h + CHKSUM, 8, "%06o", checksum(h));
    h[CHKSUM + 7] = ' ';
    int rc = ct_buf_append(out, h, sizeof h);
    if (!rc && len)
        rc = ct_buf_append(out, data, len);
    static const uint8_t zeros[CT_TAR_BLOCK];
    if (!rc && len % CT_TAR_BLOCK)
        rc = ct_buf_append(out, zeros, CT_TAR_BLOCK - len % CT_TAR_BLOCK);
    return rc;
}

int ct_tar_finish(ct_buf *out)
{
    static const uint8_t zeros[2 * CT_TAR_BLOCK];
    return ct_buf_append(out, zeros, sizeof zeros);
}

/* Parses an octal field (spaces or NULs around the digits). */
static int parse_octal(const uint8_t *f, size_t width, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < width && f[i] == ' ')
        i++;
    size_t digits = 0;
    for (; i < width && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
        if (v >> 60)
            return -1;
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    for (; i < width; i++)
        if (f[i] != ' ' && f[i] != '\0')
            return -1;
    if (!digits)
        return -1;
    *out = v;
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int ct_tar_next(const uint8_t *buf, size_t len, size_t *pos, ct_tar_entry *e,
                char *why, size_t whylen)
{
    memset(e, 0, sizeof *e);
    if (*pos > len || len - *pos < CT_TAR_BLOCK) {
        snprintf(why, whylen, "archive ends without its end marker");
        return CT_ECORRUPT;
    }
    const uint8_t *h = buf + *pos;
    if (all_zero(h, CT_TAR_BLOCK))
        return 0;
    uint64_t sum;
    if (parse_octal(h + CHKSUM, 8, &sum) || sum != checksum(h)) {
        snprintf(why, whylen, "bad header checksum at byte %zu", *pos);
        return CT_ECORRUPT;
    }
    if (memcmp(h + MAGIC, "ustar", 5) != 0) {
        snprintf(why, whylen, "not a ustar archive (header at byte %zu)",
                 *pos);
        return CT_ECORRUPT;
    }
    uint64_t size, mode;
    if (parse_octal(h + SIZE, 12, &size)) {
        snprintf(why, whylen, "bad size field at byte %zu", *pos);
        return CT_ECORRUPT;
    }
    if (parse_octal(h + MODE, 8, &mode))
        mode = 0;
    size_t plen = strnlen((const char *)h + PREFIX, PREFIX_LEN);
    size_t nlen = strnlen((const char *)h + NAME, NAME_LEN);
    if (plen) {
        memcpy(e->name, h + PREFIX, plen);
        e->name[plen] = '/';
        memcpy(e->name + plen + 1, h + NAME, nlen);
    } else {
        memcpy(e->name, h + NAME, nlen);
    }
    e->type = (char)h[TYPE];
    e->mode = (uint32_t)(mode & 07777);
    e->size = size;
    size_t start = *pos + CT_TAR_BLOCK;
    uint64_t padded = (size + CT_TAR_BLOCK - 1) / CT_TAR_BLOCK * CT_TAR_BLOCK;
    if (padded > len - start) {
        snprintf(why, whylen, "entry '%s' is cut short (%llu bytes "
                              "declared)", e->name, (unsigned long long)size);
        return CT_ECORRUPT;
    }
    e->data = buf + start;
    *pos = start + (size_t)padded;
    return 1;
}

const char *ct_tar_type_name(char type)
{
    switch (type) {
    case '0': case '\0': return "file";
    case '7': return "contiguous file";
    case '1': return "hard link";
    case '2': return "symlink";
    case '3': return "character device";
    case '4': return "block device";
    case '5': return "directory";
    case '6': return "fifo";
    case 'x': case 'g': return "pax header";
    case 'L': case 'K': return "GNU long name";
    default: return "special entry";
    }
}
