/*
 * Reading settings out of a YAML tree (yaml_tree.h) with a diagnostic at
 * the position of every mistake. The area config (config*.c) and the
 * simulator's scenarios (sim_scenario.c) read their files through these,
 * so a key, a number, a duration or an id is checked, and worded, the
 * same way everywhere. A reader only counts and reports: nothing here
 * stops at the first error, callers build their result only when
 * errors is still 0.
 */
#ifndef CT_CONFIG_READ_H
#define CT_CONFIG_READ_H

#include "diag.h"
#include "yaml_tree.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Ids (facility, zone, plugin, ...) are 1 to this many of [A-Za-z0-9._-]. */
#define CT_CONFIG_ID_MAX 64

/* Where diagnostics go. file and diags are borrowed for the reader's
 * life; errors counts the diagnostics it added. */
typedef struct ct_config_reader {
    const char *file;
    ct_diags *diags;
    size_t errors;
} ct_config_reader;

/* Adds a diagnostic at n's position (0:0 when n is NULL) and counts it. */
void ct_config_read_err(ct_config_reader *r, const ct_node *n,
                        const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Reports every key of map not in allowed (NULL-terminated), suggesting
 * the nearest allowed one when it is close. where names the map. */
void ct_config_read_keys(ct_config_reader *r, const ct_node *map,
                         const char *const *allowed, const char *where);

/* Whether n is a mapping (reported when not, naming it where); its keys
 * are checked against allowed as ct_config_read_keys does. */
bool ct_config_read_keyed(ct_config_reader *r, const ct_node *n,
                          const char *const *allowed, const char *where);

/* Whether n is a mapping, a list, a non-null value; reports it when not
 * ("what must be a mapping, not a list"). */
bool ct_config_read_map(ct_config_reader *r, const ct_node *n,
                        const char *what);
bool ct_config_read_seq(ct_config_reader *r, const ct_node *n,
                        const char *what);
bool ct_config_read_scalar(ct_config_reader *r, const ct_node *n,
                           const char *what);

/* A string field of map: a copy the caller frees, or NULL when absent
 * (reported when required; where names the map) or not a value. */
char *ct_config_read_string(ct_config_reader *r, const ct_node *map,
                            const char *key, bool required,
                            const char *where);

/* Whether s is an id: 1 to CT_CONFIG_ID_MAX of [A-Za-z0-9._-]. */
bool ct_config_read_valid_id(const char *s);

/* A required id field (copy, or NULL when absent or not an id). */
char *ct_config_read_id(ct_config_reader *r, const ct_node *map,
                        const char *key, const char *where);

/* An optional national identifier (natid.h) checked for form by ok; what
 * names it in the message ("an ODS organisation code"), example shows the
 * form. A copy, or NULL when absent or wrong. */
char *ct_config_read_natid(ct_config_reader *r, const ct_node *map,
                           const char *key, bool (*ok)(const char *),
                           const char *what, const char *example);

/* Optional typed fields: def when absent, and when wrong (reported). An
 * int is a whole number, a duration "50ms".."14d" in milliseconds, a size
 * "64MiB" or a byte count; each within [min, max]. */
bool ct_config_read_bool(ct_config_reader *r, const ct_node *map,
                         const char *key, bool def);
int64_t ct_config_read_int(ct_config_reader *r, const ct_node *map,
                           const char *key, int64_t def, int64_t min,
                           int64_t max);
int64_t ct_config_read_duration(ct_config_reader *r, const ct_node *map,
                                const char *key, int64_t def, int64_t min,
                                int64_t max);
uint64_t ct_config_read_size(ct_config_reader *r, const ct_node *map,
                             const char *key, uint64_t def, uint64_t min,
                             uint64_t max);

#endif
