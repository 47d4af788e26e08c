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
 * `items`, a scalar type), and the references facility, zone,
 * organisation, tag and need: strings naming an id of the area. A string
 * setting (or list of strings) may give a `form` with references in it,
 * such as "[organisation/]facility=band" (manifest_form.c). The area's
 * overrides are checked against the area's ids when the caller gives them
 * (ct_manifest_settings_in), so `check` and load refuse a setting that
 * names a facility the area does not have.
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
    /* References: strings naming an id of the area. */
    CT_SETTING_FACILITY,
    CT_SETTING_ZONE,
    CT_SETTING_ORGANISATION,
    CT_SETTING_TAG,
    CT_SETTING_NEED,
} ct_setting_type;

/* What a reference names. A tag is a bed tag; a need is a person's need,
 * which only a bed carrying the same tag meets (candidates.c), so an
 * unmet need is a warning rather than an error. */
typedef enum ct_ref_kind {
    CT_REF_FACILITY,
    CT_REF_ZONE,
    CT_REF_ORGANISATION,
    CT_REF_TAG,
    CT_REF_NEED,
    CT_REF_KINDS
} ct_ref_kind;

/* The shape of a string value with the references in it (opaque). */
typedef struct ct_setting_form ct_setting_form;

/* The area's ids by kind, for checking references (arrays borrowed for
 * the call). Needs are checked against the tag list. */
typedef struct ct_manifest_area {
    const char *const *ids[CT_REF_KINDS];
    size_t n[CT_REF_KINDS];
} ct_manifest_area;

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
    /* Strings (or their items): the shape values must have, with their
     * references; owned, NULL for free text. A reference type has the
     * form of its kind alone ("facility"). */
    ct_setting_form *form;
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

/*
 * The same, with the area's overrides checked against the area's ids
 * (area may be NULL: shapes only). A reference to a facility, zone,
 * organisation or tag the area lacks is an error at its position, with
 * the closest id suggested. A need no bed carries as a tag goes to
 * warnings (when not NULL) as "warning: ...", for the overrides at their
 * position and for the defaults at (def_line, def_col) of config_file
 * (the plugin's entry); warnings never fail the call.
 */
int ct_manifest_settings_in(const ct_manifest *m, const char *config_file,
                            const ct_node *overrides,
                            const ct_manifest_area *area, uint32_t def_line,
                            uint32_t def_col, json_t **out, ct_diags *diags,
                            ct_diags *warnings);

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
