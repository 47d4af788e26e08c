/*
 * The plugin manager: the area's ordered plugins, each in its own sandbox,
 * with the hooks of docs/design.md composed as the plugin contract says:
 * triage (first non-nil answer wins), rank (each plugin reorders, drops
 * and annotates the previous one's list), admit (every plugin must allow),
 * escalate (the highest level wins), events (ct.on) and schedules
 * (ct.every, ct.daily) on the host clock.
 *
 * A failing call is contained: counted, logged, the plugin's fallback
 * applied; after limits.quarantine_after consecutive failures the plugin
 * is quarantined (its hooks are skipped and its fallback applies) until it
 * is reloaded. Reload builds a complete new set in fresh states, runs each
 * plugin's setup, and swaps only when all of it worked; otherwise the
 * running set stays and the error is returned. No call sees half a set.
 *
 * ct_plugins is the stable handle other units keep; the set inside it is
 * replaced on reload.
 */
#ifndef CT_PLUGINS_H
#define CT_PLUGINS_H

#include "bundle.h"
#include "capacity.h"
#include "config.h"
#include "trust.h"
#include "diag.h"
#include "sandbox.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct ct_plugins ct_plugins;

/*
 * Loads cfg's plugins (borrowed; the caller keeps cfg alive until the next
 * reload or free) against cap (borrowed). Every problem is added to diags.
 * On success *out owns the manager; free with ct_plugins_free.
 */
int ct_plugins_new(ct_capacity *cap, const ct_config *cfg, ct_plugins **out,
                   ct_diags *diags);
void ct_plugins_free(ct_plugins *p);

/*
 * Replaces the set with cfg's plugins, loaded fresh. On any failure the
 * running set is kept, diags says why, and CT_ECONFIG/CT_EPLUGIN is
 * returned. cfg is borrowed as in ct_plugins_new.
 */
int ct_plugins_reload(ct_plugins *p, const ct_config *cfg, ct_diags *diags);

/*
 * The two halves of a reload, for callers that swap several things at
 * once (the daemon): prepare loads cfg's set into fresh states and runs
 * setup without touching the running set (CT_ECONFIG with diags on
 * failure); apply swaps it in and cannot fail; abort drops a prepared set.
 * cfg is borrowed from prepare on, as in ct_plugins_new.
 */
int ct_plugins_prepare(ct_plugins *p, const ct_config *cfg, ct_diags *diags);
void ct_plugins_apply(ct_plugins *p);
void ct_plugins_abort(ct_plugins *p);

/*
 * prepare in three steps, for a caller that loads the new set off its
 * event loop (the daemon's reload): begin and end run on the loop's
 * thread; load, between them, on any thread while the loop goes on, and
 * the loop touches neither p's next set nor cfg nor diags meanwhile
 * (nor calls prepare, apply, abort or reload). gate (copied; may be NULL
 * to run plainly) is installed on each new plugin's sandbox for the load
 * (ct_sandbox_set_host_gate; it needs ct_plugins_options.watchdog_ms):
 * every passage of plugin code into the host holds the loop through it,
 * so host functions, the manager's event queue and the clock are used by
 * one thread at a time. end removes the gates, checks downgrades, and
 * returns what prepare would (0: apply or abort next).
 */
typedef struct ct_plugins_gate {
    ct_sandbox_gate_fn enter, leave;
    void *ud;
} ct_plugins_gate;
int ct_plugins_prepare_begin(ct_plugins *p, const ct_config *cfg,
                             ct_diags *diags);
void ct_plugins_prepare_load(ct_plugins *p, const ct_config *cfg,
                             const ct_plugins_gate *gate, ct_diags *diags);
int ct_plugins_prepare_end(ct_plugins *p, const ct_config *cfg,
                           ct_diags *diags);
/* Whether a gate can be installed: the plugins have a thread each
 * (ct_plugins_options.watchdog_ms). Without it, prepare_load ignores the
 * gate and must run on the loop's thread. */
bool ct_plugins_gated(const ct_plugins *p);

/*
 * Downgrades. prepare refuses a plugin whose version is lower than the
 * running one (CT_ECONFIG, "... a reload refuses a downgrade ...") unless
 * `caretide plugin install --allow-downgrade` left an allowance for that
 * version: the file ct_plugins_allowance_path names beside the plugin's
 * directory ("FROM TO"). ct_plugins_audit_downgrades (the daemon, at
 * start and after each reload) records every running plugin loaded under
 * an allowance as a `plugin.downgraded` audit event and removes the
 * allowance. allowance_path: CT_EINVAL when out (n bytes) is too small.
 */
int ct_plugins_allowance_path(const char *plugin_dir, char *out, size_t n);
void ct_plugins_audit_downgrades(ct_plugins *p);

/* The directories of the running plugins, for watching their files: a new
 * JSON array of strings. */
json_t *ct_plugins_dirs(const ct_plugins *p);

/* Number of plugins in the running set. */
size_t ct_plugins_count(const ct_plugins *p);

/* {name, version, state: active|degraded|quarantined|stuck, calls,
 *  errors, timeouts, consecutive_failures, settings_hash, memory,
 *  stuck_ms?, ...} per plugin, as a new JSON array. stuck: a call given up
 *  by the watchdog still runs (stuck_ms so far); quarantined once it
 *  ended. */
json_t *ct_plugins_status(const ct_plugins *p);

/*
 * Hook composition. Each adds one entry per plugin consulted to trace (a
 * JSON array, borrowed): {plugin, version, hook, input, output, ms,
 * error?, fallback?}.
 *
 * triage: referral is the plugin view of the referral (borrowed). *answer
 * is a new {pathway, reason, priority} from the first non-nil answer, or
 * NULL when none answered. *manual is set when a failing plugin's fallback
 * is manual review.
 */
/*
 * A bundle's own tests. The runtime does not hold a test runner: the
 * program registers one (the caretide binary registers `caretide test`'s,
 * ct_testrun_self_test) with ct_plugins_set_self_test, process-wide,
 * before any plugin loads. The runner runs the tests under dir/test
 * quietly, trusting trust's keys, listing and reading the test files
 * from bundle (the verified bytes, borrowed) when it is not NULL, and
 * fills res (structured: counts and the first failure, never parsed
 * text); it returns 0 when it could run them (whatever they gave) or a
 * CT_E* code with diagnostics. Without a registered runner a signed
 * bundle that has tests is not activated.
 */
typedef struct ct_plugins_test_result {
    unsigned passed, failed;
    char first_failure[256]; /* "NAME: MESSAGE" of the first, or "" */
} ct_plugins_test_result;
typedef int (*ct_plugins_test_fn)(const char *dir, const ct_trust *trust,
                                  const ct_bundle *bundle,
                                  ct_plugins_test_result *res,
                                  ct_diags *diags);
void ct_plugins_set_self_test(ct_plugins_test_fn fn);

/*
 * Runs the tests under dir/test (a plugin directory: installed, or
 * unpacked by `caretide plugin install` before the swap) through the
 * registered runner, quietly, with trust for signed bundles. bundle
 * (borrowed; may be NULL) is the plugin's verified bytes: the test files
 * are then listed and read from it, never from the disk. 0 when they pass
 * or there are none; CT_EPLUGIN with "plugin 'NAME' VERSION not
 * activated: its own tests failed (...)" and the runner's diagnostics
 * otherwise.
 */
/* The running plugins' effective settings: {NAME: {SETTING: VALUE}}, a
 * new object (for the audit of a reload: which settings changed). */
json_t *ct_plugins_settings(const ct_plugins *p);

/*
 * The results of `caretide plugin selftest --json` run by a child process
 * on the config about to be prepared (the daemon's reload, so that a test
 * that never ends holds a process, not the event loop): from now on,
 * prepare activates a signed bundle only when a row names its plugin, the
 * very bundle hash it verified and "pass", instead of running its tests
 * in this process. results is kept (a new reference); NULL runs the tests
 * here again.
 */
void ct_plugins_set_pretested(ct_plugins *p, json_t *results);

int ct_plugins_self_test(const char *dir, const char *name,
                         const char *version, const ct_trust *trust,
                         const ct_bundle *bundle, ct_diags *diags);

/*
 * Starts a decision: each plugin's CPU budget for one decision
 * (limits.plugin_decision_budget, all its triage, rank and admit calls
 * together) starts again. Called by the pipeline before triage.
 */
void ct_plugins_decision_begin(ct_plugins *p);

int ct_plugins_triage(ct_plugins *p, const json_t *referral, json_t *trace,
                      json_t **answer, bool *manual);
/* rank: candidates (a JSON array) is replaced by the ranked list. Every
 * bed a plugin left out is appended to drops (may be NULL) as {plugin,
 * bed, reason}: the reason from the hook's optional second result, a
 * table of bed id -> reason (docs/plugins.md "rank"), or "dropped without
 * a reason". */
int ct_plugins_rank(ct_plugins *p, const json_t *referral,
                    json_t **candidates, json_t *trace, bool *manual,
                    json_t *drops);
/* admit: *allowed false with *reason (static or trace-owned string) when a
 * plugin refuses the bed. */
int ct_plugins_admit(ct_plugins *p, const json_t *referral,
                     const json_t *candidate, json_t *trace, bool *allowed,
                     const char **reason, bool *manual);
/* escalate: the highest level returned (0 when no plugin answered), with
 * the winning reason and every plugin's actions, as a new JSON object
 * {level, reason, actions: [...]} in *out. */
int ct_plugins_escalate(ct_plugins *p, const json_t *metrics, json_t *trace,
                        json_t **out);

/*
 * queue: the waiting list in the plugins' order (docs/plugins.md "The
 * waiting list"). *list is a JSON array of entries {id, position,
 * priority, ...} in the host's order, which each plugin with a queue hook
 * may reorder in turn (the next one gets the result); *list is replaced
 * by the final order. A plugin that fails or answers in another shape
 * leaves the order as it got it (logged, counted, traced in trace, which
 * may be NULL). Always 0.
 */
int ct_plugins_queue(ct_plugins *p, json_t **list, json_t *trace);
/* Whether any running plugin has a queue hook that is not quarantined. */
bool ct_plugins_has_queue(const ct_plugins *p);

/*
 * delay: checks a delay reason against the area's reason list, which is
 * plugin data (discharge_hub). delay is {reason, responsible_org, from,
 * org {id, name, facility_kinds}} (borrowed). The first non-nil answer
 * decides: *answer is a new {valid = true, text?} or {valid = false,
 * message, field?}; NULL when no plugin answered. A plugin that fails (or
 * answers in another shape) makes this return CT_EPLUGIN with *answer
 * NULL: a delay is not recorded unchecked because its checker failed.
 */
int ct_plugins_delay(ct_plugins *p, const json_t *referral,
                     const json_t *delay, json_t *trace, json_t **answer);

/* Delivers events plugins emitted during the last calls (each public
 * hook function does this before it returns). */
void ct_plugins_flush(ct_plugins *p);

/*
 * Plugin work that falls due outside any call of the embedder (committed
 * events to deliver to ct.on handlers, ct.every/ct.daily schedules whose
 * time came) is run where it falls unless the embedder takes it: then it
 * is kept, and due(ud) says so (on the embedder's thread, at most once
 * until ct_plugins_run_due has run); the embedder calls
 * ct_plugins_run_due where it may wait for plugin code (the daemon: a
 * write on its host thread, handoff.h), until that returns false. Each
 * call runs one due schedule (in the order they fell due; each still in
 * a transaction or savepoint of its own) or, with none, delivers the
 * queued events (at most 64 rounds, as a flush). NULL due: run where it
 * falls again.
 */
typedef void (*ct_plugins_due_fn)(void *ud);
void ct_plugins_set_due(ct_plugins *p, ct_plugins_due_fn due, void *ud);
bool ct_plugins_run_due(ct_plugins *p);

/* Delivers a host event (capacity events, plugin emits) to subscribers. */
void ct_plugins_dispatch(ct_plugins *p, const char *kind,
                         const json_t *payload);

/* Provenance of the running set for decision records: a new JSON array of
 * {name, version, settings_hash, bundle_hash?, key_id?}. */
json_t *ct_plugins_provenance(const ct_plugins *p);

/*
 * For the analyst tools (`caretide test`, `caretide repl`).
 *
 * ct_plugins_sandbox: the sandbox of the running plugin called name (its
 * manifest name), or NULL. Borrowed; valid until the next reload or free.
 *
 * ct_plugins_new_traced: ct_plugins_new with fn as the line callback
 * (ct_sandbox_set_line_hook) of every sandbox the manager creates, set
 * before the plugin's init.lua runs, reloads included (`caretide test
 * --coverage`). ud is not owned.
 *
 * ct_plugins_preload_sdk: makes every embedded SDK module
 * (lua/caretide/x.lua) requirable as caretide.x in sb, as in every
 * plugin's sandbox.
 *
 * ct_plugins_console_new: a sandbox called name ("repl" for the REPL,
 * "area" for an area's own tests) with the SDK and the host API bound to
 * p (ct.* acts as a plugin of that name: kv namespace name, actor
 * "plugin:NAME", empty ct.settings; ct.every, ct.daily and ct.on refuse,
 * as outside setup). It is no part of the hook set and
 * survives reloads. lim may be NULL (sandbox defaults). Free with
 * ct_plugins_console_free before p.
 */
ct_sandbox *ct_plugins_sandbox(ct_plugins *p, const char *name);

/*
 * ct_plugins_new with options. line_fn/line_ud: as ct_plugins_new_traced.
 * watchdog_ms > 0: every plugin's calls run on a thread of its own and
 * are given up this long after their deadline (ct_sandbox_set_watchdog),
 * so that the caller's thread (the daemon's loop) never waits for one
 * instruction that does not end; such a plugin is stuck: all of it is
 * quarantined at once, its state is freed when the call ends, and a
 * reload is refused while a stuck call of a plugin reloaded away still
 * runs. Its host functions must then not call back into plugin code.
 */
typedef struct ct_plugins_options {
    ct_sandbox_line_fn line_fn;
    void *line_ud;
    int64_t watchdog_ms;
} ct_plugins_options;
int ct_plugins_new_with(ct_capacity *cap, const ct_config *cfg,
                        const ct_plugins_options *opts, ct_plugins **out,
                        ct_diags *diags);
int ct_plugins_new_traced(ct_capacity *cap, const ct_config *cfg,
                          ct_sandbox_line_fn fn, void *ud, ct_plugins **out,
                          ct_diags *diags);
int ct_plugins_preload_sdk(ct_sandbox *sb);
int ct_plugins_console_new(ct_plugins *p, const char *name,
                           const ct_sandbox_limits *lim, ct_sandbox **out);
void ct_plugins_console_free(ct_sandbox *sb);

#endif
