/*
 * Plugin manifests (plugin.yaml) and typed settings (docs/design.md "Plugin
 * contract"). A manifest gives the plugin's name, semver version, API
 * level, description, publisher, fallback and a settings schema; the area
 * config overrides settings per plugin. Both are checked here with
 * file:line:col diagnostics, and the effective settings come out as a
 * JSON object the plugin runtime hands to Lua as ct.settings.
 *
 * Setting types: integer, number, string, boolean, duration (written
 * "48h", given to Lua as milliseconds), enum (one of `values`), list (of
 * `items`, a scalar type).
 */
#ifndef CT_MANIFEST_H
#define CT_MANIFEST_H

#include "diag.h"
#include "yaml_tree.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ct_setting_type {
    CT_SETTING_INTEGER,
    CT_SETTING_NUMBER,
    CT_SETTING_STRING,
    CT_SETTING_BOOLEAN,
    CT_SETTING_DURATION,
    CT_SETTING_ENUM,
    CT_SETTING_LIST,
} ct_setting_type;

/* What applies when a hook fails: the plugin's answer is ignored (skip),
 * or the referral stops for a person to decide (manual_review). */
typedef enum ct_fallback {
    CT_FALLBACK_MANUAL_REVIEW,
    CT_FALLBACK_SKIP,
} ct_fallback;

typedef struct ct_setting {
    char *name;
    ct_setting_type type;
    ct_setting_type item_type; /* lists only */
    char **values;             /* enums: allowed values */
    size_t nvalues;
    bool has_min, has_max;
    double min, max; /* numbers; durations in ms; lists: length */
    json_t *def;     /* default, already typed (durations in ms) */
    char *doc;
} ct_setting;

typedef struct ct_manifest {
    char *file; /* path of plugin.yaml, for diagnostics */
    char *name;
    char *version;
    int api;
    char *description;
    char *publisher;
    ct_fallback fallback;
    ct_setting *settings;
    size_t nsettings;
} ct_manifest;

/*
 * Parses and checks plugin.yaml text. On success *out is a new manifest
 * (free with ct_manifest_free). On error returns CT_ECONFIG with every
 * problem in diags and *out NULL.
 */
int ct_manifest_parse(const char *file, const char *text, size_t len,
                      ct_manifest **out, ct_diags *diags);
/* Reads dir/plugin.yaml. */
int ct_manifest_load(const char *dir, ct_manifest **out, ct_diags *diags);
void ct_manifest_free(ct_manifest *m);

const ct_setting *ct_manifest_setting(const ct_manifest *m,
                                      const char *name);

/*
 * Effective settings: the defaults with the area's overrides applied.
 * overrides is the plugin entry's `settings` map from the area config (or
 * NULL); errors name config_file and the override's position: unknown
 * keys (with a suggestion), wrong types, values out of range or not in an
 * enum. On success *out is a new JSON object (caller decrefs).
 */
int ct_manifest_settings(const ct_manifest *m, const char *config_file,
                         const ct_node *overrides, json_t **out,
                         ct_diags *diags);

/* SHA-256 (hex, 65 bytes) of the canonical JSON of settings, for traces. */
void ct_manifest_settings_hash(const json_t *settings, char hex[65]);

/* Names of settings whose effective value differs from the default, as a
 * new JSON array of {"name", "default", "value"} objects. */
json_t *ct_manifest_deviations(const ct_manifest *m, const json_t *settings);

/* "MAJOR.MINOR.PATCH" with an optional "-prerelease" and "+build". */
bool ct_semver_valid(const char *s);
/* Orders two valid semver strings by precedence (MAJOR.MINOR.PATCH, then
 * a pre-release before its release, pre-release fields compared as
 * semver says; build metadata ignored): negative, 0 or positive. */
int ct_semver_cmp(const char *a, const char *b);

const char *ct_fallback_name(ct_fallback f);

#endif
