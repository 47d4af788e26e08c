/*
 * Static checks of the plugins an area config names, for `caretide check`
 * and for the plugin runtime before it loads anything: find each plugin's
 * directory, verify it against the area's trust (signature and file
 * hashes, host/bundle.h), check plugin.yaml, check the area's settings
 * overrides against the schema (references against the area's ids:
 * facilities, zones, organisations, bed tags), and compile (never run)
 * every Lua file.
 * Errors are diagnostics: file:line:col for YAML, file:line for Lua.
 */
#ifndef CT_PLUGIN_CHECK_H
#define CT_PLUGIN_CHECK_H

#include "bundle.h"
#include "config.h"
#include "diag.h"
#include "manifest.h"

#include <jansson.h>

/*
 * The directory of plugin entry p: its explicit path, else the first
 * plugin_path directory holding NAME/plugin.yaml. Returns a malloc'd path
 * or NULL after adding a diagnostic at the entry's config line.
 */
char *ct_plugin_check_resolve(const ct_config *cfg,
                              const ct_config_plugin *p, ct_diags *diags);

/*
 * Compiles every *.lua file under dir (recursively, text chunks only) and
 * requires init.lua. Adds "file:line: message" diagnostics; returns 0 or
 * CT_ECONFIG.
 */
int ct_plugin_check_lua(const char *dir, ct_diags *diags);

/*
 * Verifies plugin directory dir of entry p against cfg's trust at now_ms
 * (ms since the epoch; the real clock for check, start and reload), with
 * p->require_signed. On refusal adds "plugin 'NAME' refused (PROBLEM):
 * REASON" at the entry's line and returns the bundle error (CT_ESIGNATURE,
 * CT_ECORRUPT, ...). info (may be NULL) receives what was verified: the
 * bundle hash, key id and signer for provenance. bundle_out (may be NULL)
 * receives the verified bundle held in memory when dir holds one (NULL for
 * a plain directory): the bytes to run, so that nothing read from disk
 * later can differ from what was checked. The caller frees it.
 */
int ct_plugin_check_trust(const ct_config *cfg, const ct_config_plugin *p,
                          const char *dir, int64_t now_ms,
                          ct_bundle_info *info, ct_bundle **bundle_out,
                          ct_diags *diags);

/*
 * All checks for entry p, the trust check at the real clock included. On success returns 0 and, when the out pointers
 * are not NULL, the resolved directory (malloc'd), the manifest and the
 * effective settings (new reference); the caller owns them.
 */
int ct_plugin_check_entry(const ct_config *cfg, const ct_config_plugin *p,
                          char **dir, ct_manifest **manifest,
                          json_t **settings, ct_diags *diags);

/* ct_plugin_check_entry over every configured plugin; CT_ECONFIG if any
 * fails (all are checked). */
int ct_plugin_check_all(const ct_config *cfg, ct_diags *diags);

/* The same, with warnings (may be NULL) for what will not fail a load but
 * will not work either: needs in settings that no bed's tags meet. Also
 * works on a config that failed to load (ct_config_load_file_partial),
 * so one run of `check` reports the plugins' errors with the area's. */
int ct_plugin_check_area(const ct_config *cfg, ct_diags *diags,
                         ct_diags *warnings);

#endif
