/*
 * The daemon's life: start-up (config, store, reconcile, committer, clock,
 * metrics, HTTP), signals, reload and the graceful shutdown chain:
 * drain HTTP → close HTTP → close the clock (no more timers) → close the
 * committer (commits what is open) → close the signal handles → the loop
 * ends → close the store.
 */
#include "daemon_int.h"

#include "auth.h"
#include "error.h"
#include "events.h"
#include "handoff.h"
#include "http.h"
#include "log.h"
#include "sha256.h"
#include "util.h"
#include "version.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNIT "daemon"
/* Extra time a drain gets beyond the request timeout. */
#define DRAIN_GRACE_MS 2000

/* ---- accessors --------------------------------------------------------- */

uv_loop_t *ct_daemon_loop(ct_daemon *d)
{
    return &d->loop;
}

ct_store *ct_daemon_store(ct_daemon *d)
{
    return d->snap_cap ? d->snap_store : d->store;
}

ct_commit *ct_daemon_commit(ct_daemon *d)
{
    return d->commit;
}

ct_prom *ct_daemon_prom(ct_daemon *d)
{
    return d->prom;
}

const ct_config *ct_daemon_config(ct_daemon *d)
{
    return d->cfg;
}

ct_clock *ct_daemon_clock(ct_daemon *d)
{
    return d->clock;
}

bool ct_daemon_stopping(const ct_daemon *d)
{
    return d->stopping;
}

bool ct_daemon_ready(const ct_daemon *d)
{
    return d->holds == 0 && !d->stopping;
}

void ct_daemon_ready_hold(ct_daemon *d)
{
    d->holds++;
    ct_prom_set(d->m_ready, NULL, ct_daemon_ready(d));
}

void ct_daemon_ready_release(ct_daemon *d)
{
    if (d->holds > 0)
        d->holds--;
    ct_prom_set(d->m_ready, NULL, ct_daemon_ready(d));
}

int ct_daemon_on_reload(ct_daemon *d, const ct_daemon_reload_hook *hook)
{
    if (d->nhooks == CT_DAEMON__MAX_HOOKS)
        return CT_ELIMIT;
    d->hooks[d->nhooks++] = *hook;
    return 0;
}

int ct_daemon_on_health(ct_daemon *d, ct_daemon_health_fn fn, void *data)
{
    if (d->nhealth == CT_DAEMON__MAX_HOOKS)
        return CT_ELIMIT;
    d->health[d->nhealth].fn = fn;
    d->health[d->nhealth].data = data;
    d->nhealth++;
    return 0;
}

json_t *ct_daemon_health(ct_daemon *d, bool *ready)
{
    *ready = ct_daemon_ready(d);
    const char *reason = NULL;
    bool degraded = ct_daemon__guard_degraded(d, &reason);
    const char *status = d->stopping ? "stopping"
                         : !*ready   ? "starting"
                         : degraded  ? "degraded"
                                     : "ok";
    /* Degraded answers 503 too: a balancer or a standby's watchdog must
     * not send writes to a daemon that cannot keep them. */
    if (degraded)
        *ready = false;
    json_t *h = json_pack("{s:s, s:s, s:s, s:[]}", "status", status,
                          "version", CT_VERSION, "area", d->cfg->area_id,
                          "plugins");
    if (h && degraded)
        json_object_set_new(h, "reason", json_string(reason));
    for (size_t i = 0; h && i < d->nhealth; i++)
        d->health[i].fn(d, h, d->health[i].data);
    return h;
}

/* ---- config ------------------------------------------------------------ */

/*
 * The demo area's tokens are published (config/demo.yaml, the docs):
 * anyone could use them. Serving them on an address other hosts can
 * reach needs --allow-demo-tokens; loopback is the demo's own.
 */
static bool loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0;
}

static int refuse_demo_tokens(const ct_daemon_options *o, const ct_config *c)
{
    static const char *const published[] = {
        "demo-hub-token",      "demo-hospital-token", "demo-provider-token",
        "demo-community-token", "demo-viewer-token",  "demo-admin-token"};
    if (o->allow_demo_tokens || loopback(c->listen_host))
        return 0;
    for (size_t k = 0; k < CT_ARRAY_LEN(published); k++) {
        uint8_t h[CT_SHA256_BYTES];
        ct_sha256_pair(published[k], strlen(published[k]), NULL, 0, h);
        for (size_t i = 0; i < c->norgs; i++)
            for (size_t j = 0; j < c->orgs[i].ntokens; j++)
                if (memcmp(c->orgs[i].tokens[j].sha256, h, sizeof h) == 0) {
                    ct_log_error(UNIT,
                                 "refusing to serve the published demo "
                                 "token '%s' (organisation %s) on %s, which "
                                 "is not a loopback address: replace the "
                                 "tokens, listen on 127.0.0.1, or pass "
                                 "--allow-demo-tokens",
                                 published[k], c->orgs[i].id,
                                 c->listen_host);
                    return CT_ECONFIG;
                }
    }
    return 0;
}

static int load_config(const ct_daemon_options *o, ct_config **out,
                       ct_diags *diags)
{
    int err = o->config_path ? ct_config_load_file(o->config_path, out, diags)
                             : ct_config_load_demo(out, diags);
    if (err)
        return err;
    ct_config *c = *out;
    /* Command line overrides; a relative storage.path is the config
     * file's, a relative --db the caller's. */
    char *db = NULL;
    if (o->db_path)
        db = ct_strdup(o->db_path);
    else if (c->db_path[0] != '/' && strcmp(c->dir, ".") != 0) {
        ct_buf b = {0};
        if (ct_buf_printf(&b, "%s/%s", c->dir, c->db_path) == 0)
            db = b.data;
    }
    if (db) {
        free(c->db_path);
        c->db_path = db;
    }
    if (o->listen_host) {
        char *host = ct_strdup(o->listen_host);
        if (host) {
            free(c->listen_host);
            c->listen_host = host;
        }
    }
    if (o->listen_port >= 0)
        c->listen_port = (uint16_t)o->listen_port;
    return refuse_demo_tokens(o, c);
}

static void print_diags(const ct_diags *diags)
{
    for (size_t i = 0; i < diags->len; i++) {
        const ct_diag *g = &diags->items[i];
        if (g->line)
            ct_log_error("config", "%s:%u:%u: %s", g->file, g->line, g->col,
                         g->message);
        else
            ct_log_error("config", "%s: %s", g->file, g->message);
    }
}

/* Settings read only at start-up: say so when a reload changes them. */
static void warn_restart_only(const ct_config *old, const ct_config *next)
{
    if (strcmp(old->listen_host, next->listen_host) != 0 ||
        old->listen_port != next->listen_port)
        ct_log_warn(UNIT, "server.listen changed: takes effect at restart");
    if (strcmp(old->db_path, next->db_path) != 0 || old->sync != next->sync)
        ct_log_warn(UNIT, "storage changed: takes effect at restart");
    if (old->limits.hold_ttl_ms != next->limits.hold_ttl_ms)
        ct_log_warn(UNIT, "limits.hold_ttl changed: takes effect at restart");
    bool same = old->npathogens == next->npathogens;
    for (size_t i = 0; same && i < old->npathogens; i++)
        same = strcmp(old->pathogens[i], next->pathogens[i]) == 0;
    if (!same)
        ct_log_warn(UNIT, "pathogens changed: takes effect at restart");
    if (old->limits.header_timeout_ms != next->limits.header_timeout_ms ||
        old->limits.connections_per_address !=
            next->limits.connections_per_address)
        ct_log_warn(UNIT, "limits.header_timeout and "
                          "limits.connections_per_address take effect at "
                          "restart");
    if (old->limits.request_timeout_ms != next->limits.request_timeout_ms)
        ct_log_warn(UNIT, "limits.request_timeout changed: takes effect at "
                    "restart");
    if (strcmp(old->area_id, next->area_id) != 0)
        ct_log_warn(UNIT, "area.id changed from '%s' to '%s'", old->area_id,
                    next->area_id);
}

/* ---- the audit of a reload -------------------------------------------- */

/* At most this many ids per list in a config.reloaded event; the counts
 * are always whole. */
#define DIFF_IDS_MAX 200

static void add_id(json_t *list, const char *id)
{
    if (json_array_size(list) < DIFF_IDS_MAX)
        json_array_append_new(list, json_string(id));
}

static bool has_bed(const ct_config *c, const char *id)
{
    for (size_t f = 0; f < c->nfacilities; f++)
        for (size_t z = 0; z < c->facilities[f].nzones; z++)
            for (size_t b = 0; b < c->facilities[f].zones[z].nbeds; b++)
                if (strcmp(c->facilities[f].zones[z].beds[b].id, id) == 0)
                    return true;
    return false;
}

/* Beds of a that b does not list, by id, into list. */
static void beds_missing(const ct_config *a, const ct_config *b, json_t *list)
{
    for (size_t f = 0; f < a->nfacilities; f++)
        for (size_t z = 0; z < a->facilities[f].nzones; z++)
            for (size_t i = 0; i < a->facilities[f].zones[z].nbeds; i++) {
                const char *id = a->facilities[f].zones[z].beds[i].id;
                if (!has_bed(b, id))
                    add_id(list, id);
            }
}

static bool has_zone(const ct_config *c, const char *id)
{
    for (size_t f = 0; f < c->nfacilities; f++)
        for (size_t z = 0; z < c->facilities[f].nzones; z++)
            if (strcmp(c->facilities[f].zones[z].id, id) == 0)
                return true;
    return false;
}

/* Zones of a that b does not list, by id, into list. */
static void zones_missing(const ct_config *a, const ct_config *b,
                          json_t *list)
{
    for (size_t f = 0; f < a->nfacilities; f++)
        for (size_t z = 0; z < a->facilities[f].nzones; z++)
            if (!has_zone(b, a->facilities[f].zones[z].id))
                add_id(list, a->facilities[f].zones[z].id);
}

static const ct_config_org *find_org(const ct_config *c, const char *id)
{
    for (size_t i = 0; i < c->norgs; i++)
        if (strcmp(c->orgs[i].id, id) == 0)
            return &c->orgs[i];
    return NULL;
}

static size_t tokens_missing(const ct_config_org *a, const ct_config_org *b)
{
    size_t n = 0;
    for (size_t i = 0; a && i < a->ntokens; i++) {
        bool found = false;
        for (size_t j = 0; b && j < b->ntokens && !found; j++)
            found = memcmp(a->tokens[i].sha256, b->tokens[j].sha256, 32) ==
                        0 &&
                    a->tokens[i].role == b->tokens[j].role;
        n += !found;
    }
    return n;
}

/*
 * What a reload changed, for its config.reloaded event: the reconcile's
 * counts; beds, zones and organisations added and gone by id; per organisation
 * how many config tokens came and went (never a hash); and the plugins
 * before and after (name, version, settings and bundle hashes) when they
 * differ. A new object.
 */
/* Per plugin in both sets, each setting whose value changed:
 * [{"plugin": NAME, "changed": {SETTING: {"from": OLD, "to": NEW}}}] (a
 * setting that appeared or went has null on that side). Plugins added or
 * removed show in plugins_before/after. A new array. */
static json_t *settings_diff(json_t *before, json_t *after)
{
    json_t *out = json_array();
    const char *name;
    json_t *b;
    json_object_foreach(before, name, b) {
        json_t *a = json_object_get(after, name);
        if (!a || json_equal(a, b))
            continue;
        json_t *changed = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(b, k, v) {
            json_t *w = json_object_get(a, k);
            if (!w || !json_equal(v, w))
                json_object_set_new(changed, k,
                                    json_pack("{s:O, s:O}", "from", v, "to",
                                              w ? w : json_null()));
        }
        json_object_foreach(a, k, v) {
            if (!json_object_get(b, k))
                json_object_set_new(changed, k,
                                    json_pack("{s:n, s:O}", "from", "to", v));
        }
        json_array_append_new(out, json_pack("{s:s, s:o}", "plugin", name,
                                             "changed", changed));
    }
    return out;
}

/* The reconcile's counts, as config.loaded and config.reloaded record
 * them. */
static json_t *counts_json(const ct_reconcile_stats *st)
{
    return json_pack(
        "{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}",
        "orgs_added", st->orgs_added, "orgs_changed", st->orgs_changed,
        "facilities_added", st->facilities_added, "facilities_changed",
        st->facilities_changed, "facilities_retired", st->facilities_retired,
        "zones_added", st->zones_added, "zones_changed", st->zones_changed,
        "zones_retired", st->zones_retired, "beds_added", st->beds_added,
        "beds_changed", st->beds_changed, "beds_retired", st->beds_retired);
}

static json_t *reload_diff(const ct_config *old, const ct_config *next,
                           const ct_reconcile_stats *st, json_t *plugins_before,
                           json_t *plugins_after, json_t *settings_before,
                           json_t *settings_after)
{
    json_t *beds_added = json_array(), *beds_gone = json_array();
    beds_missing(next, old, beds_added);
    beds_missing(old, next, beds_gone);
    json_t *zones_added = json_array(), *zones_gone = json_array();
    zones_missing(next, old, zones_added);
    zones_missing(old, next, zones_gone);
    json_t *orgs_added = json_array(), *tokens = json_array();
    for (size_t i = 0; i < next->norgs; i++) {
        const ct_config_org *n = &next->orgs[i];
        const ct_config_org *o = find_org(old, n->id);
        if (!o)
            add_id(orgs_added, n->id);
        size_t added = tokens_missing(n, o), gone = tokens_missing(o, n);
        if (added || gone)
            json_array_append_new(tokens,
                                  json_pack("{s:s, s:I, s:I}", "org", n->id,
                                            "added", (json_int_t)added,
                                            "removed", (json_int_t)gone));
    }
    json_t *out = json_pack(
        "{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
        "file", next->file, "counts", counts_json(st), "beds_added",
        beds_added, "beds_removed", beds_gone, "zones_added", zones_added,
        "zones_removed", zones_gone, "orgs_added", orgs_added,
        "config_tokens", tokens);
    if (out && !json_equal(plugins_before, plugins_after)) {
        json_object_set(out, "plugins_before", plugins_before);
        json_object_set(out, "plugins_after", plugins_after);
    }
    json_t *settings = settings_diff(settings_before, settings_after);
    if (out && json_array_size(settings))
        json_object_set(out, "plugin_settings", settings);
    json_decref(settings);
    return out;
}

/* Records a configuration event (kind; takes diff, NULL when it could not
 * be made) in a transaction of its own: start and reload run outside any
 * group. Audited only, not delivered to plugins. A failure is logged as
 * what's: the change has happened. */
static void audit_config(ct_daemon *d, const char *actor, const char *kind,
                         json_t *diff, const char *what)
{
    bool own = false;
    int rc = diff ? ct_store_enter(d->store, &own) : CT_ENOMEM;
    if (rc == 0)
        rc = ct_store_leave(
            d->store, own,
            ct_events_record(ct_capacity_events(ct_daemon_capacity(d)), actor,
                             kind, diff, CT_EVENT_QUIET, NULL, NULL));
    else
        json_decref(diff);
    if (rc)
        ct_log_error(UNIT, "%s could not be audited: %s", what,
                     ct_strerror(rc));
}

static void audit_reload(ct_daemon *d, const char *actor, json_t *diff)
{
    audit_config(d, actor, "config.reloaded", diff, "the reload");
    ct_daemon__data_changed(d);
}

/* Every start records the configuration it runs: what the reconcile
 * changed since the last run (an edited config takes effect at a
 * restart too) and the plugins with their versions and settings hashes,
 * so that consecutive config.loaded and config.reloaded events show every
 * change. */
static void audit_start(ct_daemon *d, const ct_reconcile_stats *st)
{
    ct_plugins *pl = ct_daemon_plugins(d);
    json_t *diff = json_pack(
        "{s:s, s:o, s:o}",
        "file", d->cfg->file, "counts", counts_json(st), "plugins",
        pl ? ct_plugins_provenance(pl) : json_array());
    audit_config(d, "host", "config.loaded", diff, "the configuration");
}

int ct_daemon_reload(ct_daemon *d, ct_diags *diags, ct_reconcile_stats *stats)
{
    return ct_daemon_reload_by(d, "host", diags, stats);
}

int ct_daemon__reload_begin(ct_daemon *d, ct_daemon__pending *p,
                            ct_diags *diags)
{
    memset(p, 0, sizeof *p);
    int err = load_config(&d->opts, &p->next, diags);
    if (err)
        goto fail_load;
    if ((err = ct_auth_new(p->next, &p->auth)))
        goto fail_auth;
    if ((err = ct_daemon__tokens_check_config(d, p->next, diags)))
        goto fail_tokens;
    ct_plugins *pl = ct_daemon_plugins(d);
    p->plugins_before = pl ? ct_plugins_provenance(pl) : json_array();
    p->settings_before = pl ? ct_plugins_settings(pl) : json_object();
    return 0;

fail_tokens:
    ct_auth_free(p->auth);
fail_auth:
    ct_config_free(p->next);
fail_load:
    memset(p, 0, sizeof *p);
    ct_daemon__reload_failed(d, err, diags);
    return err;
}

void ct_daemon__reload_drop(ct_daemon *d, ct_daemon__pending *p, int err,
                            ct_diags *diags)
{
    json_decref(p->plugins_before);
    json_decref(p->settings_before);
    while (p->prepared-- > 0)
        if (d->hooks[p->prepared].abort)
            d->hooks[p->prepared].abort(d, p->next,
                                        d->hooks[p->prepared].data);
    ct_auth_free(p->auth);
    ct_config_free(p->next);
    memset(p, 0, sizeof *p);
    ct_daemon__reload_failed(d, err, diags);
}

int ct_daemon__reload_commit(ct_daemon *d, ct_daemon__pending *p,
                             const char *actor, ct_diags *diags,
                             ct_reconcile_stats *stats)
{
    ct_config *next = p->next;
    int err = ct_store_reconcile(d->store, next, stats, diags);
    if (err) {
        ct_daemon__reload_drop(d, p, err, diags);
        return err;
    }
    ct_daemon__cap_reloaded(d);
    for (size_t i = 0; i < d->nhooks; i++)
        if (d->hooks[i].apply)
            d->hooks[i].apply(d, next, d->hooks[i].data);
    warn_restart_only(d->cfg, next);
    json_t *plugins_after =
        ct_daemon_plugins(d) ? ct_plugins_provenance(ct_daemon_plugins(d))
                            : json_array();
    json_t *settings_after =
        ct_daemon_plugins(d) ? ct_plugins_settings(ct_daemon_plugins(d))
                            : json_object();
    json_t *diff = reload_diff(d->cfg, next, stats, p->plugins_before,
                               plugins_after, p->settings_before,
                               settings_after);
    json_decref(p->plugins_before);
    json_decref(plugins_after);
    json_decref(p->settings_before);
    json_decref(settings_after);
    audit_reload(d, actor, diff);
    ct_daemon__tokens_auth_changed(d, p->auth);
    ct_http_set_auth(d->http, p->auth);
    ct_http_set_max_body(d->http, next->limits.max_body);
    ct_auth_free(d->auth);
    ct_config_free(d->cfg);
    d->auth = p->auth;
    d->cfg = next;
    memset(p, 0, sizeof *p);
    ct_prom_add(d->m_reloads, (const char *[]){"ok"}, 1);
    ct_log_info(UNIT, "reloaded %s: %u beds added, %u changed, %u retired; "
                "%u organisations added, %u changed",
                next->file, stats->beds_added, stats->beds_changed,
                stats->beds_retired, stats->orgs_added, stats->orgs_changed);
    return 0;
}

int ct_daemon_reload_by(ct_daemon *d, const char *actor, ct_diags *diags,
                        ct_reconcile_stats *stats)
{
    if (ct_commit_pending(d->commit))
        return CT_ESTATE;
    ct_reconcile_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    ct_daemon__pending p;
    int err = ct_daemon__reload_begin(d, &p, diags);
    if (err)
        return err;
    for (; p.prepared < d->nhooks; p.prepared++) {
        const ct_daemon_reload_hook *h = &d->hooks[p.prepared];
        if (h->prepare && (err = h->prepare(d, p.next, diags, h->data))) {
            ct_daemon__reload_drop(d, &p, err, diags);
            return err;
        }
    }
    return ct_daemon__reload_commit(d, &p, actor, diags, stats);
}

void ct_daemon__reload_failed(ct_daemon *d, int err, const ct_diags *diags)
{
    ct_prom_add(d->m_reloads, (const char *[]){"failed"}, 1);
    ct_log_error(UNIT, "reload failed (%s); the running config stays",
                 ct_strerror(err));
    print_diags(diags);
}

/* ---- signals and shutdown ---------------------------------------------- */

static void units_stop(ct_daemon *d)
{
    for (size_t i = d->units_started; i-- > 0;)
        if (d->opts.units[i]->stop)
            d->opts.units[i]->stop(d, d->unit_data[i]);
}

static void on_signal_closed(uv_handle_t *h)
{
    ct_daemon *d = h->data;
    d->signals_open--;
}

static void on_commit_closed(void *data)
{
    ct_daemon *d = data;
    d->commit = NULL;
    ct_handoff_close(d->handoff);
    d->handoff = NULL;
    uv_close((uv_handle_t *)&d->sigterm, on_signal_closed);
    uv_close((uv_handle_t *)&d->sigint, on_signal_closed);
    uv_close((uv_handle_t *)&d->sighup, on_signal_closed);
}

static void on_clock_closed(ct_clock *c, void *data)
{
    (void)c;
    ct_daemon *d = data;
    d->clock = NULL;
    ct_commit_close(d->commit, on_commit_closed, d);
}

/* No request is left; stop the timers next, so nothing writes after the
 * committer has closed. */
static void on_http_closed(void *data)
{
    ct_daemon *d = data;
    d->http = NULL;
    /* A write still waiting for plugin code (a timer's) ends while the
     * clock it may use is open; its calls have deadlines. */
    if (d->handoff)
        ct_handoff_finish(d->handoff);
    ct_clock_close(d->clock, on_clock_closed, d);
}

static void on_drained(ct_http *h, void *data)
{
    ct_daemon *d = data;
    ct_http_close(h, on_http_closed, d);
}

static void on_signal(uv_signal_t *s, int signum)
{
    ct_daemon *d = s->data;
    if (signum == SIGHUP) {
        if (d->stopping)
            return;
        ct_log_info(UNIT, "SIGHUP: reloading the configuration");
        ct_daemon_request_reload(d);
        return;
    }
    if (d->stopping) {
        ct_log_info(UNIT, "%s: already shutting down",
                    signum == SIGINT ? "SIGINT" : "SIGTERM");
        return;
    }
    d->stopping = true;
    ct_daemon__reload_stop(d);
    ct_daemon__tokens_stop(d);
    units_stop(d);
    ct_daemon__guard_stop(d);
    ct_prom_set(d->m_ready, NULL, 0);
    ct_log_info(UNIT, "%s: shutting down; %u requests in flight",
                signum == SIGINT ? "SIGINT" : "SIGTERM",
                ct_http_in_flight(d->http));
    uint64_t grace =
        (uint64_t)d->cfg->limits.request_timeout_ms + DRAIN_GRACE_MS;
    ct_http_drain(d->http, grace, on_drained, d);
}

/* ---- metrics ----------------------------------------------------------- */

static void on_group(const ct_commit_group_info *info, void *data)
{
    ct_daemon *d = data;
    const char *result = info->status ? "failed" : "ok";
    ct_prom_add(d->m_groups, (const char *[]){result}, 1);
    ct_prom_add(d->m_writes, (const char *[]){"kept"},
                info->status ? 0 : info->writes - info->failed);
    ct_prom_add(d->m_writes, (const char *[]){"rolled_back"},
                info->status ? info->writes : info->failed);
    ct_prom_observe(d->m_group_size, NULL, info->writes);
    ct_daemon__guard_outcome(d, info->status,
                             !info->status && info->writes > info->failed);
    if (!info->status)
        ct_prom_observe(d->m_commit_seconds, NULL,
                        (double)info->commit_ns / 1e9);
    ct_daemon__group_done(d, info);
}

static int register_metrics(ct_daemon *d)
{
    static const double sizes[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    static const double secs[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                  0.005,  0.01,    0.025,  0.05,  0.1,
                                  0.25,   0.5,     1};
    ct_prom *p = d->prom;
    ct_prom_family *info;
    int err = ct_prom_gauge(p, "caretide_build_info",
                            "Always 1; the labels say what runs",
                            (const char *[]){"version", "area", NULL}, &info);
    err = err ? err
              : ct_prom_set(info, (const char *[]){CT_VERSION,
                                                   d->cfg->area_id},
                            1);
    ct_prom_family *started;
    err = err ? err
              : ct_prom_gauge(p, "caretide_start_time_seconds",
                              "When the daemon started, Unix time", NULL,
                              &started);
    err = err ? err : ct_prom_set(started, NULL, (double)time(NULL));
    err = err ? err
              : ct_prom_gauge(p, "caretide_ready",
                              "1 when the daemon is ready to serve", NULL,
                              &d->m_ready);
    err = err ? err
              : ct_prom_counter(p, "caretide_reloads_total",
                                "Configuration reloads by result",
                                (const char *[]){"result", NULL},
                                &d->m_reloads);
    err = err ? err
              : ct_prom_counter(p, "caretide_commit_groups_total",
                                "Group commits (transactions) by result",
                                (const char *[]){"result", NULL},
                                &d->m_groups);
    err = err ? err
              : ct_prom_counter(p, "caretide_commit_writes_total",
                                "Writes by outcome: kept, or rolled back "
                                "(the write failed or its group did)",
                                (const char *[]){"result", NULL},
                                &d->m_writes);
    err = err ? err
              : ct_prom_histogram(p, "caretide_commit_group_size",
                                  "Writes per group commit", NULL, sizes,
                                  CT_ARRAY_LEN(sizes), &d->m_group_size);
    err = err ? err
              : ct_prom_histogram(p, "caretide_commit_seconds",
                                  "Time spent in COMMIT (the fsync)", NULL,
                                  secs, CT_ARRAY_LEN(secs),
                                  &d->m_commit_seconds);
    return err;
}

/* ---- start-up ---------------------------------------------------------- */

static bool is_demo(const ct_daemon *d)
{
    return d->opts.config_path == NULL;
}

static void banner(ct_daemon *d)
{
    FILE *out = d->opts.out ? d->opts.out : stdout;
    const ct_config *c = d->cfg;
    bool v6 = strchr(c->listen_host, ':') != NULL;
    char url[128];
    snprintf(url, sizeof url, "http://%s%s%s:%u", v6 ? "[" : "",
             c->listen_host, v6 ? "]" : "", (unsigned)ct_http_port(d->http));
    fprintf(out, "caretide %s serving area '%s' (%s)\n", CT_VERSION,
            c->area_id, c->area_name ? c->area_name : c->area_id);
    fprintf(out, "listening on %s\n", url);
    fprintf(out, "database %s\n", c->db_path);
    fprintf(out, "try: curl %s/v1/health\n", url);
    if (is_demo(d))
        fprintf(out, "     curl -H 'Authorization: Bearer "
                     "demo-viewer-token' %s/v1/capacity\n"
                     "(demo tokens: demo-hub-token, demo-hospital-token, "
                     "demo-provider-token, demo-viewer-token, "
                     "demo-admin-token)\n",
                url);
    fflush(out);
}

/* While a write waits for plugin code on the host thread, the loop
 * runs, but no timer of the host clock fires (plugin schedules, due
 * writes): they would reach the plugins and the store in the middle of
 * that write. */
static void on_park(bool parked, void *data)
{
    ct_daemon *d = data;
    if (d->clock)
        ct_clock_hold(d->clock, parked);
    if (parked)
        ct_daemon__render_parked(d);
}

static int start(ct_daemon *d)
{
    ct_diags diags = {0};
    int err = load_config(&d->opts, &d->cfg, &diags);
    if (err) {
        ct_diags_print(&diags, stderr);
        ct_diags_free(&diags);
        return err;
    }
    if ((err = ct_daemon__guard_open(d)))
        return err;
    ct_reconcile_stats stats = {0};
    if ((err = ct_prom_new(&d->prom)) || (err = register_metrics(d)))
        return err;
    ct_daemon_ready_hold(d); /* released when start-up is done */
    ct_commit_options co = {.per_request = d->opts.per_request_commit,
                            .on_group = on_group,
                            .on_group_data = d,
                            .after_write = ct_daemon__after_write,
                            .write_data = d};
    if ((err = ct_commit_new(&d->loop, d->store, &co, &d->commit)))
        return err;
    if ((err = ct_clock_new_real(&d->loop, &d->clock)) ||
        (err = ct_handoff_new(&d->loop, on_park, d, &d->handoff)))
        return err;
    ct_commit_set_handoff(d->commit, d->handoff);
    if ((err = ct_daemon__guard_start(d)) ||
        (err = ct_daemon__cap_start(d, &stats)))
        return err;
    if ((err = ct_auth_new(d->cfg, &d->auth)))
        return err;
    if ((err = ct_daemon__tokens_start(d)))
        return err;
    ct_daemon__tokens_auth_changed(d, d->auth);
    /* Units that join the daemon hook in here, before the server starts. */
    if (d->opts.nunits > CT_DAEMON_MAX_UNITS)
        return CT_ELIMIT;
    for (; d->units_started < d->opts.nunits; d->units_started++) {
        const ct_daemon_unit *u = d->opts.units[d->units_started];
        if (u->start && (err = u->start(d, &d->unit_data[d->units_started]))) {
            ct_log_error(UNIT, "%s did not start: %s", u->name,
                         ct_strerror(err));
            d->units_started++; /* its stop and free still run */
            return err;
        }
    }
    audit_start(d, &stats);
    ct_http_options ho = {
        .host = d->cfg->listen_host,
        .port = d->cfg->listen_port,
        .max_body = d->cfg->limits.max_body,
        .request_timeout_ms = d->cfg->limits.request_timeout_ms,
        .header_timeout_ms = d->cfg->limits.header_timeout_ms,
        .per_address_limit = d->cfg->limits.connections_per_address,
        .routes = d->opts.routes,
        .nroutes = d->opts.nroutes,
        .app = d,
        .commit = d->commit,
        .auth = d->auth,
        .prom = d->prom,
        .dialect = d->opts.dialect,
        .read_begin = ct_daemon__read_begin,
        .read_end = ct_daemon__read_end,
    };
    if ((err = ct_http_start(&d->loop, &ho, &d->http)))
        return err;

    uv_signal_init(&d->loop, &d->sigterm);
    uv_signal_init(&d->loop, &d->sigint);
    uv_signal_init(&d->loop, &d->sighup);
    d->sigterm.data = d->sigint.data = d->sighup.data = d;
    d->signals_open = 3;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sighup, on_signal, SIGHUP);

    ct_log_info(UNIT, "area '%s': %zu facilities, %zu beds (%u added, %u "
                "retired); %s commit",
                d->cfg->area_id, d->cfg->nfacilities, d->cfg->nbeds,
                stats.beds_added, stats.beds_retired,
                d->opts.per_request_commit ? "per-request" : "group");
    banner(d);
    ct_daemon_ready_release(d);
    return 0;
}

/* Undoes a failed start-up: whatever was made, in reverse. */
static void cleanup(ct_daemon *d)
{
    ct_daemon__tokens_stop(d);
    units_stop(d);
    ct_daemon__guard_stop(d);
    if (d->http)
        ct_http_close(d->http, NULL, NULL);
    if (d->clock)
        ct_clock_close(d->clock, NULL, NULL);
    if (d->commit)
        ct_commit_close(d->commit, NULL, NULL);
    if (d->signals_open)
        on_commit_closed(d);
    else
        ct_handoff_close(d->handoff);
    d->handoff = NULL;
    uv_run(&d->loop, UV_RUN_DEFAULT);
}

int ct_daemon_run(const ct_daemon_options *opts)
{
    ct_daemon *d = calloc(1, sizeof *d);
    if (!d) {
        ct_log_error(UNIT, "out of memory");
        return 1;
    }
    d->opts = *opts;
    int rc = uv_loop_init(&d->loop);
    if (rc) {
        ct_log_error(UNIT, "cannot start the event loop: %s",
                     uv_strerror(rc));
        free(d);
        return 1;
    }
    /* A client that goes away must not kill the daemon. */
    signal(SIGPIPE, SIG_IGN);

    int err = start(d);
    if (err) {
        ct_log_error(UNIT, "cannot start: %s", ct_strerror(err));
        cleanup(d);
    } else {
        uv_run(&d->loop, UV_RUN_DEFAULT);
    }
    int close_rc = uv_loop_close(&d->loop);
    if (close_rc)
        ct_log_error(UNIT, "event loop closed with handles open: %s",
                     uv_strerror(close_rc));
    ct_auth_free(d->auth);
    ct_daemon__tokens_free(d);
    for (size_t i = d->units_started; i-- > 0;)
        if (d->opts.units[i]->free)
            d->opts.units[i]->free(d, d->unit_data[i]);
    ct_daemon__cap_free(d);
    ct_daemon__guard_detach(d);
    ct_store_close(d->store);
    ct_daemon__guard_free(d);
    if (!err)
        ct_log_info(UNIT, "stopped; database %s closed", d->cfg->db_path);
    ct_config_free(d->cfg);
    ct_prom_free(d->prom);
    free(d);
    return err || close_rc ? 1 : 0;
}
