/*
 * The area configuration (YAML, docs/config.md): server, storage,
 * organisations and their tokens, facilities with zones and beds, the
 * ordered plugin list with per-plugin settings, the keys trusted to sign
 * plugin bundles, and limits.
 *
 * A loaded ct_config is immutable plain data: other units read its fields
 * directly. It owns every string and array below it, and the parsed YAML
 * tree, kept so that plugin settings can be validated later with their
 * file:line:col.
 */
#ifndef CT_CONFIG_H
#define CT_CONFIG_H

#include "diag.h"
#include "model.h"
#include "store.h"
#include "trust.h"
#include "yaml_tree.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_CONFIG_DEMO "config/demo.yaml" /* embedded name */

typedef struct ct_config_token {
    ct_role role;
    uint8_t sha256[32]; /* hash of the bearer token; plain tokens never kept */
    uint32_t line;
} ct_config_token;

/* How a notification is sent (docs/config.md "notify"). */
typedef enum ct_config_notify_format {
    CT_NOTIFY_FHIR = 0, /* fhir-rest-hook: PUT url/Task/{id}, the Task */
    CT_NOTIFY_JSON,     /* json: POST url, caretide's event JSON */
} ct_config_notify_format;

typedef enum ct_config_notify_auth {
    CT_NOTIFY_AUTH_NONE = 0,
    CT_NOTIFY_AUTH_HMAC,   /* X-Caretide-Signature: sha256=HMAC(body) */
    CT_NOTIFY_AUTH_BEARER, /* Authorization: Bearer SECRET */
} ct_config_notify_auth;

/* An organisation's webhook: where its system hears of changes to the
 * referrals it made (notify.h). */
typedef struct ct_config_notify {
    char *url; /* http(s), no user or password in it */
    ct_config_notify_format format;
    ct_config_notify_auth auth;
    char *secret; /* from env or file, never from the config text; zeroed
                     when freed; NULL with auth none */
    uint32_t line;
} ct_config_notify;

/* Retries of notifications (the notifications: section). */
typedef struct ct_config_notifications {
    uint32_t max_attempts;  /* then the notification is failed */
    int64_t backoff_ms;     /* before the second attempt; doubles */
    int64_t max_backoff_ms; /* the longest wait between attempts */
    int64_t timeout_ms;     /* one attempt, connection to answer */
} ct_config_notifications;

typedef struct ct_config_org {
    char *id;
    char *name;
    char *ods_code; /* ODS organisation code (natid.h), or NULL */
    ct_config_notify *notify; /* its webhook, or NULL */
    ct_config_token *tokens;
    size_t ntokens;
    uint32_t line;
} ct_config_org;

typedef struct ct_config_bed {
    char *id;
    char **tags;
    size_t ntags;
    bool surge; /* counts only while its facility's surge capacity is open */
    uint32_t line, col; /* the bed entry that named it */
} ct_config_bed;

typedef struct ct_config_cohort {
    char *pathogen;
    ct_cohort cohort;
} ct_config_cohort;

typedef struct ct_config_zone {
    char *id;
    char *name;
    ct_config_cohort *cohorts; /* pathogens not listed are open */
    size_t ncohorts;
    bool closed; /* closed to admissions at first load */
    ct_config_bed *beds;
    size_t nbeds;
    uint32_t line, col;
} ct_config_zone;

typedef struct ct_config_facility {
    char *id;
    char *name;
    ct_facility_kind kind;
    char *org; /* id of the owning organisation */
    char *ods_site; /* ODS site code (natid.h), or NULL */
    char *cqc_location; /* CQC location id (natid.h), or NULL */
    bool designated; /* designated setting for isolating people */
    ct_config_zone *zones;
    size_t nzones;
    uint32_t line;
} ct_config_facility;

typedef struct ct_config_plugin {
    char *name;
    char *path;              /* directory; resolved against plugin_path */
    const ct_node *settings; /* map or NULL; borrowed from the tree */
    bool require_signed;     /* its own, else trust.require_signed */
    uint32_t line, col;
} ct_config_plugin;

typedef struct ct_config_limits {
    uint64_t plugin_memory;       /* bytes per plugin state */
    int64_t plugin_deadline_ms;   /* per hook call */
    int64_t schedule_deadline_ms; /* per call of a ct.every/daily job */
    int64_t self_test_timeout_ms; /* a reload's self-test child process */
    uint32_t quarantine_after;    /* failures in a row, or in the window */
    uint32_t quarantine_window;   /* calls looked back on: at most 64 */
    int64_t plugin_decision_budget_ms; /* all of a plugin's hook calls in
                                          one decision */
    int64_t plugin_minute_budget_ms;   /* its events and schedules in a
                                          minute */
    uint64_t plugin_kv_bytes;     /* durable store per plugin */
    uint64_t max_body;            /* HTTP request body */
    int64_t hold_ttl_ms;          /* default time to live of a hold */
    int64_t request_timeout_ms;   /* slow clients */
    int64_t header_timeout_ms;    /* a request's headers, however sent */
    uint32_t connections_per_address; /* open HTTP connections per client */
} ct_config_limits;

typedef struct ct_config {
    char *file;       /* name used in diagnostics */
    char *dir;        /* directory relative paths resolve against */
    char *area_id;
    char *area_name;
    int64_t stale_after_ms; /* area.stale_after: a provider's data is stale
                               when older (default 24h) */
    char *listen_host;
    uint16_t listen_port;
    char *db_path;
    ct_sync_mode sync;
    char **pathogens;
    size_t npathogens;
    char **plugin_path; /* directories searched for plugins by name */
    size_t nplugin_path;
    /* The area's own tests (`caretide test --config`): *_test.lua files
     * or directories of them, resolved against the config's directory;
     * each with its line in the config. */
    char **tests;
    unsigned *test_lines;
    size_t ntests;
    ct_config_org *orgs;
    size_t norgs;
    ct_config_facility *facilities;
    size_t nfacilities;
    ct_config_plugin *plugins;
    size_t nplugins;
    ct_trust trust; /* keys trusted to sign plugin bundles */
    ct_config_limits limits;
    ct_config_notifications notifications;
    size_t nbeds; /* total over all zones */
    ct_node *root;
} ct_config;

/*
 * Loads text (file names it in diagnostics; dir resolves relative paths).
 * On success returns 0 and a new config in *out (free with
 * ct_config_free). On any error returns CT_ECONFIG, adds every error found
 * to diags, and leaves *out NULL.
 */
int ct_config_load_text(const char *file, const char *dir, const char *text,
                        size_t len, ct_config **out, ct_diags *diags);
/* Reads and loads a file. CT_ENOTFOUND/CT_EIO (with a diagnostic) when it
 * cannot be read. */
int ct_config_load_file(const char *path, ct_config **out, ct_diags *diags);
/* The embedded demo area. */
int ct_config_load_demo(ct_config **out, ct_diags *diags);
/*
 * For `check` only: as ct_config_load_file and ct_config_load_demo, but a
 * config with errors (CT_ECONFIG) is still given in *out, with holes
 * where entries failed (NULL ids and names), so that its plugins'
 * settings can be checked in the same run. Such a config must never be
 * run; the caller frees it.
 */
int ct_config_load_file_partial(const char *path, ct_config **out,
                                ct_diags *diags);
int ct_config_load_demo_partial(ct_config **out, ct_diags *diags);
void ct_config_free(ct_config *cfg);

/* Lookups by id; NULL when absent. Borrowed from cfg. */
const ct_config_org *ct_config_find_org(const ct_config *cfg, const char *id);
const ct_config_facility *ct_config_find_facility(const ct_config *cfg,
                                                  const char *id);
/* The organisation whose ODS code is ods (exact, upper case), or NULL. */
const ct_config_org *ct_config_find_org_by_ods(const ct_config *cfg,
                                               const char *ods);

#endif
