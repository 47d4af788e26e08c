/*
 * Scenario files (sim_scenario.h): the YAML tree walked against the format
 * of docs/simulation.md, every error at its file:line:col, as the area
 * config is checked (config.c).
 */
#include "sim_scenario_int.h"

#include "clock.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ct_sim_scenario__scalar(loader *l, const ct_node *n,
                                    const char *what)
{
    return ct_config_read_scalar(&l->rd, n, what) ? n->value : NULL;
}

char *ct_sim_scenario__string(loader *l, const ct_node *n, const char *what)
{
    const char *s = ct_sim_scenario__scalar(l, n, what);
    return s ? strdup(s) : NULL;
}

bool ct_sim_scenario__number(loader *l, const ct_node *n, const char *what,
                             double lo, double hi, double *out)
{
    const char *s = ct_sim_scenario__scalar(l, n, what);
    if (!s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) {
        ct_config_read_err(&l->rd, n, "%s must be a number, not '%s'", what, s);
        return false;
    }
    if (v < lo || v > hi) {
        ct_config_read_err(&l->rd, n, "%s must be from %g to %g, not %g", what,
                           lo, hi, v);
        return false;
    }
    *out = v;
    return true;
}

bool ct_sim_scenario__integer(loader *l, const ct_node *n, const char *what,
                              long lo, long hi, long *out)
{
    const char *s = ct_sim_scenario__scalar(l, n, what);
    if (!s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno) {
        ct_config_read_err(&l->rd, n, "%s must be a whole number, not '%s'",
                           what, s);
        return false;
    }
    if (v < lo || v > hi) {
        ct_config_read_err(&l->rd, n, "%s must be from %ld to %ld, not %ld",
                           what, lo, hi, v);
        return false;
    }
    *out = v;
    return true;
}

bool ct_sim_scenario__date(loader *l, const ct_node *n, const char *what,
                           int64_t *day)
{
    const char *s = ct_sim_scenario__scalar(l, n, what);
    if (!s)
        return false;
    int64_t ms;
    char msg[160];
    if (ct_clock_parse_day(s, &ms, msg, sizeof msg)) {
        ct_config_read_err(&l->rd, n, "%s: %s", what, msg);
        return false;
    }
    *day = ms / DAY_MS;
    return true;
}

/* A duration distribution: a number of days (fixed) or {dist, mean, sd}. */
void ct_sim_scenario__dist(loader *l, const ct_node *n, const char *what,
                           ct_sim_dist *out)
{
    static const char *const keys[] = {"dist", "mean", "sd", NULL};
    static const char *const kinds[] = {"fixed", "exponential", "lognormal",
                                        "gamma"};
    if (n && n->kind == CT_NODE_SCALAR) {
        double v;
        if (ct_sim_scenario__number(l, n, what, 0, MAX_DAYS, &v))
            *out = (ct_sim_dist){CT_SIM_FIXED, v, 0};
        return;
    }
    if (!ct_config_read_keyed(&l->rd, n, keys, what))
        return;
    const ct_node *k = ct_node_get(n, "dist");
    const char *name = k ? ct_sim_scenario__scalar(l, k, "dist") : "fixed";
    if (!name)
        return;
    int kind = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(name, kinds[i]) == 0)
            kind = i;
    if (kind < 0) {
        ct_config_read_err(
            &l->rd, k,
            "dist must be fixed, exponential, lognormal or gamma, not "
            "'%s'",
            name);
        return;
    }
    double mean = 0, sd = 0;
    const ct_node *m = ct_node_get(n, "mean"), *d = ct_node_get(n, "sd");
    if (!m) {
        ct_config_read_err(&l->rd, n, "%s needs a mean (days)", what);
        return;
    }
    if (!ct_sim_scenario__number(l, m, "mean", 0, MAX_DAYS, &mean))
        return;
    bool needs_sd = kind == CT_SIM_LOGNORMAL || kind == CT_SIM_GAMMA;
    if (needs_sd && !d) {
        ct_config_read_err(&l->rd, n, "a %s distribution needs sd (days)",
                           name);
        return;
    }
    if (!needs_sd && d) {
        ct_config_read_err(&l->rd, d, "a %s distribution has no sd", name);
        return;
    }
    if (d && !ct_sim_scenario__number(l, d, "sd", 0, MAX_DAYS, &sd))
        return;
    if (needs_sd && (mean <= 0 || sd <= 0)) {
        ct_config_read_err(
            &l->rd, n, "a %s distribution needs a mean and sd above 0", name);
        return;
    }
    *out = (ct_sim_dist){(ct_sim_dist_kind)kind, mean, sd};
}

/* [{date, <key>: v}, ...] in date order. */
void ct_sim_scenario__curve(loader *l, const ct_node *n, const char *key,
                            double hi, ct_sim_curve *out)
{
    static const char *const k1[] = {"date", "factor", NULL};
    static const char *const k2[] = {"date", "share", NULL};
    if (!ct_config_read_seq(&l->rd, n, key))
        return;
    out->p = calloc(n->len ? n->len : 1, sizeof *out->p);
    if (!out->p)
        return;
    for (size_t i = 0; i < n->len; i++) {
        const ct_node *it = n->items[i];
        if (!ct_config_read_keyed(&l->rd, it, strcmp(key, "factor") ? k2 : k1,
                                  "a point"))
            continue;
        const ct_node *d = ct_node_get(it, "date"), *v = ct_node_get(it, key);
        if (!d || !v) {
            ct_config_read_err(&l->rd, it, "a point needs date and %s", key);
            continue;
        }
        ct_sim_point p;
        if (!ct_sim_scenario__date(l, d, "date", &p.day) ||
            !ct_sim_scenario__number(l, v, key, 0, hi, &p.v))
            continue;
        if (out->n && p.day <= out->p[out->n - 1].day) {
            ct_config_read_err(&l->rd, d, "dates must increase");
            continue;
        }
        out->p[out->n++] = p;
    }
}

double ct_sim_curve_at(const ct_sim_curve *c, int64_t day, double dflt)
{
    if (!c->n)
        return dflt;
    if (day <= c->p[0].day)
        return c->p[0].v;
    for (size_t i = 1; i < c->n; i++) {
        if (day <= c->p[i].day) {
            double f = (double)(day - c->p[i - 1].day) /
                       (double)(c->p[i].day - c->p[i - 1].day);
            return c->p[i - 1].v + f * (c->p[i].v - c->p[i - 1].v);
        }
    }
    return c->p[c->n - 1].v;
}

/* Shares that must add up to 1 (within rounding). */
void ct_sim_scenario__sum_one(loader *l, const ct_node *n, double sum,
                              const char *what)
{
    if (fabs(sum - 1.0) > 0.001)
        ct_config_read_err(&l->rd, n, "the shares of %s add up to %g, not 1",
                           what, sum);
}

char *ct_sim_scenario__responsible(loader *l, const ct_node *n)
{
    if (!n)
        return NULL;
    const char *s = ct_sim_scenario__scalar(l, n, "responsible");
    if (!s || strcmp(s, "auto") == 0)
        return NULL;
    return strdup(s);
}

static void load_changes(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    static const char *const keys[] = {
        "date", "facility", "zone", "surge_open", "surge_close", "open",
        "close", "block", "unblock", "reason", NULL};
    static const struct {
        const char *key;
        ct_sim_change_kind kind;
        bool zone, count;
    } acts[] = {
        {"surge_open", CT_SIM_SURGE_OPEN, false, true},
        {"surge_close", CT_SIM_SURGE_CLOSE, false, true},
        {"open", CT_SIM_ZONE_OPEN, true, false},
        {"close", CT_SIM_ZONE_CLOSE, true, false},
        {"block", CT_SIM_BLOCK, true, true},
        {"unblock", CT_SIM_UNBLOCK, true, true},
    };
    if (!ct_config_read_seq(&l->rd, n, "changes") || !n->len)
        return;
    s->changes = calloc(n->len, sizeof *s->changes);
    for (size_t i = 0; s->changes && i < n->len; i++) {
        const ct_node *it = n->items[i];
        if (!ct_config_read_keyed(&l->rd, it, keys, "a change"))
            continue;
        ct_sim_change *c = &s->changes[s->nchanges++];
        c->line = it->line;
        c->col = it->col;
        const ct_node *d = ct_node_get(it, "date");
        if (!d)
            ct_config_read_err(&l->rd, it, "a change needs a date");
        else
            ct_sim_scenario__date(l, d, "date", &c->day);
        int found = 0;
        for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
            const ct_node *v = ct_node_get(it, acts[a].key);
            if (!v)
                continue;
            if (found++)
                break;
            c->kind = acts[a].kind;
            const char *tk = acts[a].zone ? "zone" : "facility";
            const ct_node *t = ct_node_get(it, tk);
            if (!t)
                ct_config_read_err(&l->rd, it, "%s needs %s", acts[a].key, tk);
            else
                c->target = ct_sim_scenario__string(l, t, tk);
            long cnt = 0;
            if (!acts[a].count)
                c->n = 0;
            else if (v->value && strcmp(v->value, "all") == 0 &&
                     (c->kind == CT_SIM_SURGE_OPEN ||
                      c->kind == CT_SIM_SURGE_CLOSE))
                c->n = -1;
            else if (ct_sim_scenario__integer(l, v, acts[a].key, 1, 100000,
                                              &cnt))
                c->n = (int)cnt;
        }
        if (found != 1)
            ct_config_read_err(
                &l->rd, it,
                "a change does one of surge_open, surge_close, open, "
                "close, block or unblock");
        const ct_node *r = ct_node_get(it, "reason");
        if (!r && (c->kind == CT_SIM_ZONE_CLOSE || c->kind == CT_SIM_BLOCK)) {
            const ct_node *v = ct_node_get(it, c->kind == CT_SIM_BLOCK
                                                   ? "block"
                                                   : "close");
            if (c->kind == CT_SIM_ZONE_CLOSE && v && v->value &&
                strcmp(v->value, "true") != 0)
                c->reason = strdup(v->value);
            else
                c->reason = strdup("scenario change");
        } else {
            c->reason = r ? ct_sim_scenario__string(l, r, "reason")
                          : strdup("scenario change");
        }
    }
}

/* kind -> {...} maps (stay, providers, onward). */
static int kind_key(loader *l, const ct_node *k)
{
    int kind = k->value ? ct_facility_kind_parse(k->value) : -1;
    if (kind < 0)
        ct_config_read_err(
            &l->rd, k,
            "unknown facility kind '%s' (acute, step_down, rehab, "
            "care_home, home_care, virtual_ward)",
            k->value ? k->value : "?");
    return kind;
}

static void load_stay(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    if (!n || n->kind != CT_NODE_MAP) {
        ct_config_read_err(&l->rd, n,
                           "stay must be a mapping of facility kind to a "
                           "distribution, not %s",
                           ct_node_describe(n));
        return;
    }
    for (size_t i = 0; i < n->len; i++) {
        int kind = kind_key(l, ct_node_key(n, i));
        if (kind >= 0)
            ct_sim_scenario__dist(l, ct_node_value(n, i), "a stay",
                                  &s->stay[kind]);
    }
}

static void load_providers(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    static const char *const keys[] = {"decline", "response", NULL};
    if (!n || n->kind != CT_NODE_MAP) {
        ct_config_read_err(&l->rd, n,
                           "providers must be a mapping of facility kind to "
                           "{decline, response}, not %s",
                           ct_node_describe(n));
        return;
    }
    for (size_t i = 0; i < n->len; i++) {
        int kind = kind_key(l, ct_node_key(n, i));
        const ct_node *v = ct_node_value(n, i);
        if (kind < 0 || !ct_config_read_keyed(&l->rd, v, keys, "a provider"))
            continue;
        const ct_node *d = ct_node_get(v, "decline"),
                      *r = ct_node_get(v, "response");
        if (d)
            ct_sim_scenario__number(l, d, "decline", 0, 1,
                                    &s->providers[kind].decline);
        if (r)
            ct_sim_scenario__dist(l, r, "response",
                                  &s->providers[kind].response);
    }
}

static void load_onward(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    static const char *const keys[] = {"P1", "P2", "P3", NULL};
    if (!n || n->kind != CT_NODE_MAP) {
        ct_config_read_err(
            &l->rd, n,
            "onward must be a mapping of facility kind to {P1, P2, "
            "P3} shares, not %s",
            ct_node_describe(n));
        return;
    }
    for (size_t i = 0; i < n->len; i++) {
        int kind = kind_key(l, ct_node_key(n, i));
        const ct_node *v = ct_node_value(n, i);
        if (kind < 0 ||
            !ct_config_read_keyed(&l->rd, v, keys, "an onward move"))
            continue;
        double sum = 0;
        for (int p = 1; p < CT_SIM_PATHWAYS; p++) {
            const ct_node *x = ct_node_get(v, keys[p - 1]);
            if (x && ct_sim_scenario__number(l, x, keys[p - 1], 0, 1,
                                             &s->onward[kind][p]))
                sum += s->onward[kind][p];
        }
        if (sum > 1.0001)
            ct_config_read_err(&l->rd, v,
                               "onward shares add up to %g, more than 1", sum);
    }
}

static void load_other(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    static const char *const keys[] = {"share", "length", "reasons", NULL};
    static const char *const rk[] = {"reason", "share", "responsible", NULL};
    if (!ct_config_read_keyed(&l->rd, n, keys, "other_delays"))
        return;
    const ct_node *sh = ct_node_get(n, "share"),
                  *len = ct_node_get(n, "length"),
                  *rs = ct_node_get(n, "reasons");
    if (!sh || !len || !rs) {
        ct_config_read_err(&l->rd, n,
                           "other_delays needs share, length and reasons");
        return;
    }
    ct_sim_scenario__number(l, sh, "share", 0, 1, &s->other_share);
    ct_sim_scenario__dist(l, len, "length", &s->other_length);
    if (!ct_config_read_seq(&l->rd, rs, "reasons"))
        return;
    if (!rs->len) {
        ct_config_read_err(&l->rd, rs, "reasons needs at least one reason");
        return;
    }
    s->reasons = calloc(rs->len, sizeof *s->reasons);
    double sum = 0;
    for (size_t i = 0; s->reasons && i < rs->len; i++) {
        const ct_node *it = rs->items[i];
        if (!ct_config_read_keyed(&l->rd, it, rk, "a reason"))
            continue;
        ct_sim_reason *r = &s->reasons[s->nreasons++];
        const ct_node *c = ct_node_get(it, "reason"),
                      *x = ct_node_get(it, "share");
        if (!c || !x) {
            ct_config_read_err(&l->rd, it,
                               "a reason needs reason (a code) and share");
            continue;
        }
        r->code = ct_sim_scenario__string(l, c, "reason");
        ct_sim_scenario__number(l, x, "share", 0, 1, &r->share);
        sum += r->share;
        r->responsible =
            ct_sim_scenario__responsible(l, ct_node_get(it, "responsible"));
    }
    ct_sim_scenario__sum_one(l, rs, sum, "reasons");
}

static void load_costs(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    static const char *const keys[] = {"delayed_bed_day", "surge_bed_day",
                                       "designated_bed_day", NULL};
    if (!ct_config_read_keyed(&l->rd, n, keys, "costs"))
        return;
    double *dst[] = {&s->costs.delayed_bed_day, &s->costs.surge_bed_day,
                     &s->costs.designated_bed_day};
    for (int i = 0; i < 3; i++) {
        const ct_node *v = ct_node_get(n, keys[i]);
        if (v)
            ct_sim_scenario__number(l, v, keys[i], 0, 1e6, dst[i]);
    }
}

static void load_root(loader *l, const ct_node *root, ct_sim_scenario *s)
{
    static const char *const keys[] = {
        "name", "start", "days", "warmup_days", "seeds", "arrivals",
        "pathways", "ages", "infections", "outbreaks", "changes", "stay",
        "providers", "onward", "other_delays", "costs", NULL};
    if (!ct_config_read_keyed(&l->rd, root, keys, "the scenario"))
        return;
    const ct_node *n = ct_node_get(root, "name");
    s->name = n ? ct_sim_scenario__string(l, n, "name") : strdup("scenario");
    n = ct_node_get(root, "start");
    if (!n)
        ct_config_read_err(&l->rd, root, "the scenario needs start (a date)");
    else
        ct_sim_scenario__date(l, n, "start", &s->start_day);
    long v = 0;
    n = ct_node_get(root, "days");
    if (!n)
        ct_config_read_err(&l->rd, root,
                           "the scenario needs days (how many days it runs)");
    else if (ct_sim_scenario__integer(l, n, "days", 1, MAX_DAYS, &v))
        s->days = (int)v;
    n = ct_node_get(root, "warmup_days");
    if (n && ct_sim_scenario__integer(l, n, "warmup_days", 0, 366, &v))
        s->warmup_days = (int)v;
    s->seeds = 1;
    n = ct_node_get(root, "seeds");
    if (n && ct_sim_scenario__integer(l, n, "seeds", 1, 10000, &v))
        s->seeds = (unsigned)v;
    ct_sim_scenario__load_arrivals(l, ct_node_get(root, "arrivals"), s);
    ct_sim_scenario__load_pathways(l, ct_node_get(root, "pathways"), s);
    if ((n = ct_node_get(root, "ages")))
        ct_sim_scenario__load_ages(l, n, s);
    if ((n = ct_node_get(root, "infections")))
        ct_sim_scenario__load_infections(l, n, s);
    if ((n = ct_node_get(root, "outbreaks")))
        ct_sim_scenario__load_outbreaks(l, n, s);
    if ((n = ct_node_get(root, "changes")))
        load_changes(l, n, s);
    for (int k = 0; k < CT_FACILITY__COUNT; k++) {
        s->stay[k] = (ct_sim_dist){CT_SIM_FIXED, 14, 0};
        s->providers[k].response = (ct_sim_dist){CT_SIM_FIXED, 0.125, 0};
    }
    if ((n = ct_node_get(root, "stay")))
        load_stay(l, n, s);
    if ((n = ct_node_get(root, "providers")))
        load_providers(l, n, s);
    if ((n = ct_node_get(root, "onward")))
        load_onward(l, n, s);
    if ((n = ct_node_get(root, "other_delays")))
        load_other(l, n, s);
    if ((n = ct_node_get(root, "costs")))
        load_costs(l, n, s);
}

int ct_sim_scenario_load_text(const char *file, const char *dir,
                              const char *text, size_t len,
                              ct_sim_scenario **out, ct_diags *diags)
{
    *out = NULL;
    ct_node *root = NULL;
    int rc = ct_yaml_parse(file, text, len, &root, diags);
    if (rc)
        return rc == CT_ENOMEM ? rc : CT_ECONFIG;
    ct_sim_scenario *s = calloc(1, sizeof *s);
    if (!s) {
        ct_node_free(root);
        return CT_ENOMEM;
    }
    s->file = strdup(file);
    loader l = {.rd = {.file = file, .diags = diags}, .dir = dir};
    load_root(&l, root, s);
    ct_node_free(root);
    if (l.rd.errors || !s->file) {
        ct_sim_scenario_free(s);
        return l.rd.errors ? CT_ECONFIG : CT_ENOMEM;
    }
    *out = s;
    return 0;
}

int ct_sim_scenario_load_file(const char *path, ct_sim_scenario **out,
                              ct_diags *diags)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = ct_read_file(path, &text, &len);
    if (rc) {
        ct_diags_add(diags, path, 0, 0, "cannot read the scenario: %s",
                     rc == CT_ENOTFOUND ? "no such file" : ct_strerror(rc));
        return rc;
    }
    char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = '\0';
    rc = ct_sim_scenario_load_text(path, slash ? dir : ".", text, len, out,
                                   diags);
    free(dir);
    free(text);
    return rc;
}

void ct_sim_scenario_free(ct_sim_scenario *s)
{
    if (!s)
        return;
    free(s->file);
    free(s->name);
    free(s->season.p);
    free(s->csv_counts);
    for (size_t i = 0; i < s->nfrom; i++)
        free(s->from[i].org);
    free(s->from);
    for (int i = 0; i < CT_SIM_PATHWAYS; i++) {
        ct_sim_pathway *p = &s->pathways[i];
        for (size_t j = 0; j < p->nneeds; j++) {
            for (size_t k = 0; k < p->needs[j].ntags; k++)
                free(p->needs[j].tags[k]);
            free(p->needs[j].tags);
        }
        free(p->needs);
        free(p->delay_reason);
        free(p->responsible);
    }
    free(s->ages);
    for (size_t i = 0; i < s->ninfections; i++) {
        free(s->infections[i].pathogen);
        free(s->infections[i].prevalence.p);
    }
    free(s->infections);
    for (size_t i = 0; i < s->noutbreaks; i++) {
        free(s->outbreaks[i].zone);
        free(s->outbreaks[i].reason);
    }
    free(s->outbreaks);
    for (size_t i = 0; i < s->nchanges; i++) {
        free(s->changes[i].target);
        free(s->changes[i].reason);
    }
    free(s->changes);
    for (size_t i = 0; i < s->nreasons; i++) {
        free(s->reasons[i].code);
        free(s->reasons[i].responsible);
    }
    free(s->reasons);
    free(s);
}

/* --- names against an area ------------------------------------------- */

static bool has_zone(const ct_config *cfg, const char *id)
{
    for (size_t f = 0; f < cfg->nfacilities; f++)
        for (size_t z = 0; z < cfg->facilities[f].nzones; z++)
            if (strcmp(cfg->facilities[f].zones[z].id, id) == 0)
                return true;
    return false;
}

static void check_org(const ct_sim_scenario *s, const ct_config *cfg,
                      const char *org, uint32_t line, uint32_t col,
                      ct_diags *d, int *errors)
{
    if (org && strcmp(org, "referrer") != 0 && !ct_config_find_org(cfg, org)) {
        ct_diags_add(d, s->file, line, col, "no organisation '%s' in the "
                     "area (%s)", org, cfg->file);
        (*errors)++;
    }
}

int ct_sim_scenario_check(const ct_sim_scenario *s, const ct_config *cfg,
                          ct_diags *d)
{
    int errors = 0;
    for (size_t i = 0; i < s->nfrom; i++)
        check_org(s, cfg, s->from[i].org, s->from[i].line, s->from[i].col, d,
                  &errors);
    for (int i = 0; i < CT_SIM_PATHWAYS; i++)
        check_org(s, cfg, s->pathways[i].responsible, s->pathways[i].line,
                  s->pathways[i].col, d, &errors);
    for (size_t i = 0; i < s->ninfections; i++) {
        bool ok = false;
        for (size_t p = 0; p < cfg->npathogens && !ok; p++)
            ok = strcmp(cfg->pathogens[p], s->infections[i].pathogen) == 0;
        if (!ok) {
            ct_diags_add(d, s->file, s->infections[i].line,
                         s->infections[i].col,
                         "the area (%s) does not track pathogen '%s'",
                         cfg->file, s->infections[i].pathogen);
            errors++;
        }
    }
    for (size_t i = 0; i < s->noutbreaks; i++) {
        const ct_sim_outbreak *o = &s->outbreaks[i];
        if (o->zone && !has_zone(cfg, o->zone)) {
            ct_diags_add(d, s->file, o->line, o->col,
                         "no zone '%s' in the area (%s)", o->zone, cfg->file);
            errors++;
        }
    }
    for (size_t i = 0; i < s->nchanges; i++) {
        const ct_sim_change *c = &s->changes[i];
        bool fac =
            c->kind == CT_SIM_SURGE_OPEN || c->kind == CT_SIM_SURGE_CLOSE;
        if (!c->target)
            continue;
        if (fac ? !ct_config_find_facility(cfg, c->target)
                : !has_zone(cfg, c->target)) {
            ct_diags_add(d, s->file, c->line, c->col, "no %s '%s' in the area "
                         "(%s)", fac ? "facility" : "zone", c->target,
                         cfg->file);
            errors++;
        }
    }
    if (!s->nfrom) {
        bool acute = false;
        for (size_t f = 0; f < cfg->nfacilities && !acute; f++)
            acute = cfg->facilities[f].kind == CT_FACILITY_ACUTE;
        if (!acute) {
            ct_diags_add(d, s->file, 0, 0, "the area (%s) runs no acute "
                         "facility: name the referring organisations in "
                         "arrivals.from", cfg->file);
            errors++;
        }
    }
    return errors ? CT_ECONFIG : 0;
}
