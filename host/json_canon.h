/*
 * Canonical JSON text, written directly: byte for byte what jansson's
 * json_dumps returns with JSON_SORT_KEYS | JSON_COMPACT |
 * JSON_ENSURE_ASCII | JSON_ENCODE_ANY (keys in memcmp order, shorter
 * first on a tie; no spaces; every code point above 0x7F and every control
 * character as an upper-case \uXXXX escape, surrogate pairs beyond the
 * BMP; \" \\ \b \f \n \r \t; integers in decimal). The audit chain hashes
 * this text (audit.h), so it must never drift from jansson's: the unit
 * test compares the two on many values. Without json_dumps' allocations
 * and callbacks it costs a fraction of it, and it is on the path of every
 * audited change.
 *
 * Reals are written as jansson 2.14 writes them ("%.17g" with its
 * touches; a decision's trace times every plugin step in milliseconds).
 * Values nested deeper than a few dozen levels (where jansson also looks
 * for cycles) and text that is not UTF-8 (which only the json_*_nocheck
 * functions let in) are handed to json_dumps itself, so they come out as
 * jansson writes them, quirks included.
 */
#ifndef CT_JSON_CANON_H
#define CT_JSON_CANON_H

#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Appends the canonical text of v to b. Borrows v. Returns 0; CT_EINVAL
 * where json_dumps would fail (a string that is not UTF-8, a cycle, a NULL
 * value); CT_ENOMEM. On error b keeps its old length (the bytes past it
 * are undefined).
 */
int ct_json_canon(ct_buf *b, const json_t *v);

/* Appends s (len bytes, NULs allowed) as a canonical JSON string, quotes
 * included. CT_EINVAL unless s is UTF-8; CT_ENOMEM. */
int ct_json_canon_string(ct_buf *b, const char *s, size_t len);

/* Whether s (len bytes) is UTF-8 as jansson checks it: whether
 * ct_json_canon_string would accept it. */
bool ct_json_canon_is_text(const char *s, size_t len);

/* Appends v in decimal (the canonical form of an integer). CT_ENOMEM. */
int ct_json_canon_int(ct_buf *b, int64_t v);

/* A member of a flat object of strings and integers: a payload written
 * without building a json_t first. */
typedef struct ct_json_member {
    const char *key; /* UTF-8, NUL-terminated */
    const char *str; /* the value when not NULL (UTF-8) */
    int64_t num;     /* otherwise this integer */
} ct_json_member;

/*
 * Appends the object of the n members canonically, as ct_json_canon would
 * for ct_json_members_object(m, n); sorts m by key in place (members
 * already in key order are cheapest). Keys must differ. Borrows the strings. CT_EINVAL (b unchanged) when a key or
 * value is not UTF-8; CT_ENOMEM.
 */
int ct_json_canon_members(ct_buf *b, ct_json_member *m, size_t n);

/* The same object as a new json_t (caller owns), NULL when out of memory
 * or when a key or value is not UTF-8. */
json_t *ct_json_members_object(const ct_json_member *m, size_t n);

/* The string values of member name in the objects of list, as a new
 * object {value: true} to look them up in (the caller owns it): the bed
 * ids of a candidate list. Items without it are passed over; NULL when
 * out of memory. */
json_t *ct_json_key_set(const json_t *list, const char *name);

/* Adds 1 to the integer member name of o, which is set to 1 when
 * missing: a tally by name. Out of memory leaves the member as it was. */
void ct_json_count(json_t *o, const char *name);

#endif
