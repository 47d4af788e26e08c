/*
 * Small helpers shared by every unit: embedded files, growable strings,
 * durations and sizes as written in config ("50ms", "15m", "64MiB"),
 * hex encoding and the NHS number check. No state.
 */
#ifndef CT_UTIL_H
#define CT_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Files compiled into the binary (cmake/Embed.cmake). */
typedef struct ct_embedded {
    const char *name; /* path relative to the source tree */
    const char *data; /* NUL-terminated */
    size_t len;       /* without the NUL */
} ct_embedded;

extern const ct_embedded ct_embedded_files[];

/* The embedded file called name, or NULL. Static storage. */
const ct_embedded *ct_embedded_find(const char *name);

/* Copies src (NULL reads as "") into dst of n > 0 bytes, cut to fit and
 * always NUL-terminated, as snprintf(dst, n, "%s", src) would, without
 * the format machinery (it runs for several columns of every hold). */
void ct_copy_str(char *dst, size_t n, const char *src);

/*
 * Room for one more item in a growing array: when n items fill *cap,
 * the array at *items (items is its address, a T **; NULL when empty) is
 * reallocated to twice *cap items of size bytes, or to first. 0, or
 * CT_ENOMEM with the array and *cap as they were.
 */
int ct_grow(void *items, size_t *cap, size_t n, size_t size, size_t first);

/*
 * Starts a thread with every signal blocked, so that signals stay with the
 * loop's thread (libuv's handlers), on a stack of stack bytes (0: the
 * default). 0, or CT_ENOMEM when the thread could not be made.
 */
int ct_thread_start(pthread_t *thread, size_t stack, void *(*fn)(void *),
                    void *arg);

/* strdup that returns NULL for NULL. Caller frees. */
char *ct_strdup(const char *s);
char *ct_strndup(const char *s, size_t n);

/* Growable NUL-terminated byte buffer. A zeroed struct is an empty buffer. */
typedef struct ct_buf {
    char *data;
    size_t len;
    size_t cap;
} ct_buf;

int ct_buf_append(ct_buf *b, const void *data, size_t len);
/* Makes room for extra more bytes and a NUL without changing len, so a
 * writer may fill data + len directly. CT_ENOMEM. */
int ct_buf_reserve(ct_buf *b, size_t extra);
int ct_buf_puts(ct_buf *b, const char *s);
int ct_buf_printf(ct_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void ct_buf_free(ct_buf *b);

/* Reads a whole file into *out (NUL-terminated, caller frees). */
int ct_read_file(const char *path, char **out, size_t *len);

/*
 * Writes len bytes to path whole or not at all: a temporary file beside it
 * (".<name>.tmp-XXXXXX", hidden from directory listings), mode, fsync,
 * then rename over path. With no_replace an existing path is left alone
 * and the call is CT_EEXISTS (link, which never replaces). CT_EIO on any
 * other failure, with nothing left behind; CT_ENOMEM.
 */
int ct_write_file(const char *path, const void *data, size_t len,
                  unsigned mode, bool no_replace);

/*
 * "250ms", "30s", "15m", "2h", "14d", or combinations like "1h30m".
 * Writes milliseconds. CT_EINVAL on anything else, overflow included.
 */
int ct_parse_duration_ms(const char *s, int64_t *out);
/* "64MiB", "512KiB", "1GiB", "4096" (bytes), also kB/MB/GB (powers of 10). */
int ct_parse_size(const char *s, uint64_t *out);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void ct_hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly 2*len hex digits; CT_EINVAL otherwise. */
int ct_hex_decode(const char *in, uint8_t *out, size_t len);

/*
 * NHS number check (modulus 11, docs/domain.md). Accepts 10 digits, optionally
 * written 3-3-4 with spaces or hyphens; writes the 10 bare digits and a NUL
 * into norm (11 bytes) when valid. The never-issued repeated-digit numbers
 * (0000000000, 1111111111, ...) are refused though their check digit fits.
 */
bool ct_nhs_number_valid(const char *s, char norm[11]);

/* The modulus 11 check digit (0 to 9) of an NHS number's first nine
 * digits, or -1 when it would be 10: no number has those nine. */
int ct_nhs_check_digit(const char digits[9]);

/* Edit distance counting a swap of neighbours as one edit, for
 * did-you-mean suggestions. Strings over 64 bytes get their length. */
size_t ct_levenshtein(const char *a, const char *b);

#endif
