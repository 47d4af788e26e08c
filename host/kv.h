/*
 * The durable key-value store each plugin gets (ct.kv in Lua): values are
 * JSON, namespaced by plugin name, and the bytes of keys plus values per
 * plugin are capped (limits.plugin_kv). Writes follow ct_store_run: a
 * savepoint of the caller's open transaction, or a transaction of their
 * own when none is open, so a write is on disk when the call returns.
 */
#ifndef CT_KV_H
#define CT_KV_H

#include "store.h"

#include <jansson.h>
#include <stdint.h>

/* Longest key accepted, in bytes. */
#define CT_KV_MAX_KEY 256

/* The value under key as a new JSON reference in *out, or CT_ENOTFOUND. */
int ct_kv_get(ct_store *s, const char *plugin, const char *key,
              json_t **out);

/*
 * Stores value (borrowed; any JSON value) under key. CT_ELIMIT when the
 * plugin's keys and values would exceed limit bytes, CT_EINVAL for an
 * empty or over-long key; nothing changes then.
 */
int ct_kv_set(ct_store *s, const char *plugin, const char *key,
              const json_t *value, uint64_t limit);

/* Removes key; 0 whether or not it existed, *existed says which. */
int ct_kv_delete(ct_store *s, const char *plugin, const char *key,
                 int *existed);

/* The plugin's keys in order, as a new JSON array of strings. */
int ct_kv_keys(ct_store *s, const char *plugin, json_t **out);

#endif
