/*
 * Scenario files (sim_scenario.h): the YAML tree walked against the format
 * of docs/simulation.md, every error at its file:line:col, as the area
 * config is checked (config.c).
 */
#include "sim_scenario.h"

#include "clock.h"
#include "error.h"
#include "util.h"
#include "yaml_tree.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define MAX_DAYS 3660

typedef struct loader {
    const char *file, *dir;
    ct_diags *diags;
    int errors;
} loader;

static void err(loader *l, const ct_node *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void err(loader *l, const ct_node *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ct_diags_add(l->diags, l->file, n ? n->line : 0, n ? n->col : 0, "%s",
                 msg);
    l->errors++;
}

/* Every key of map must be one of keys (NULL-terminated). */
static bool check_keys(loader *l, const ct_node *map, const char *const *keys,
                       const char *what)
{
    if (!map || map->kind != CT_NODE_MAP) {
        err(l, map, "%s must be a mapping, not %s", what,
            ct_node_describe(map));
        return false;
    }
    for (size_t i = 0; i < map->len; i++) {
        const ct_node *k = ct_node_key(map, i);
        bool ok = false;
        for (size_t j = 0; keys[j] && !ok; j++)
            ok = k->value && strcmp(k->value, keys[j]) == 0;
        if (!ok) {
            char list[256] = "";
            for (size_t j = 0; keys[j]; j++) {
                strncat(list, j ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, keys[j], sizeof list - strlen(list) - 1);
            }
            err(l, k, "unknown key '%s' in %s (expected one of: %s)",
                k->value ? k->value : "?", what, list);
        }
    }
    return true;
}

static const char *scalar(loader *l, const ct_node *n, const char *what)
{
    if (!n || n->kind != CT_NODE_SCALAR || ct_node_is_null(n)) {
        err(l, n, "%s must be a value, not %s", what, ct_node_describe(n));
        return NULL;
    }
    return n->value;
}

static char *string(loader *l, const ct_node *n, const char *what)
{
    const char *s = scalar(l, n, what);
    return s ? strdup(s) : NULL;
}

static bool number(loader *l, const ct_node *n, const char *what, double lo,
                   double hi, double *out)
{
    const char *s = scalar(l, n, what);
    if (!s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) {
        err(l, n, "%s must be a number, not '%s'", what, s);
        return false;
    }
    if (v < lo || v > hi) {
        err(l, n, "%s must be from %g to %g, not %g", what, lo, hi, v);
        return false;
    }
    *out = v;
    return true;
}

static bool integer(loader *l, const ct_node *n, const char *what, long lo,
                    long hi, long *out)
{
    const char *s = scalar(l, n, what);
    if (!s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno) {
        err(l, n, "%s must be a whole number, not '%s'", what, s);
        return false;
    }
    if (v < lo || v > hi) {
        err(l, n, "%s must be from %ld to %ld, not %ld", what, lo, hi, v);
        return false;
    }
    *out = v;
    return true;
}

static bool date(loader *l, const ct_node *n, const char *what, int64_t *day)
{
    const char *s = scalar(l, n, what);
    if (!s)
        return false;
    int64_t ms;
    char msg[160];
    if (ct_clock_parse_day(s, &ms, msg, sizeof msg)) {
        err(l, n, "%s: %s", what, msg);
        return false;
    }
    *day = ms / DAY_MS;
    return true;
}

static const ct_node *seq(loader *l, const ct_node *n, const char *what)
{
    if (!n || n->kind != CT_NODE_SEQ) {
        err(l, n, "%s must be a list, not %s", what, ct_node_describe(n));
        return NULL;
    }
    return n;
}

/* A duration distribution: a number of days (fixed) or {dist, mean, sd}. */
static void dist(loader *l, const ct_node *n, const char *what,
                 ct_sim_dist *out)
{
    static const char *const keys[] = {"dist", "mean", "sd", NULL};
    static const char *const kinds[] = {"fixed", "exponential", "lognormal",
                                        "gamma"};
    if (n && n->kind == CT_NODE_SCALAR) {
        double v;
        if (number(l, n, what, 0, MAX_DAYS, &v))
            *out = (ct_sim_dist){CT_SIM_FIXED, v, 0};
        return;
    }
    if (!check_keys(l, n, keys, what))
        return;
    const ct_node *k = ct_node_get(n, "dist");
    const char *name = k ? scalar(l, k, "dist") : "fixed";
    if (!name)
        return;
    int kind = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(name, kinds[i]) == 0)
            kind = i;
    if (kind < 0) {
        err(l, k, "dist must be fixed, exponential, lognormal or gamma, not "
                  "'%s'",
            name);
        return;
    }
    double mean = 0, sd = 0;
    const ct_node *m = ct_node_get(n, "mean"), *d = ct_node_get(n, "sd");
    if (!m) {
        err(l, n, "%s needs a mean (days)", what);
        return;
    }
    if (!number(l, m, "mean", 0, MAX_DAYS, &mean))
        return;
    bool needs_sd = kind == CT_SIM_LOGNORMAL || kind == CT_SIM_GAMMA;
    if (needs_sd && !d) {
        err(l, n, "a %s distribution needs sd (days)", name);
        return;
    }
    if (!needs_sd && d) {
        err(l, d, "a %s distribution has no sd", name);
        return;
    }
    if (d && !number(l, d, "sd", 0, MAX_DAYS, &sd))
        return;
    if (needs_sd && (mean <= 0 || sd <= 0)) {
        err(l, n, "a %s distribution needs a mean and sd above 0", name);
        return;
    }
    *out = (ct_sim_dist){(ct_sim_dist_kind)kind, mean, sd};
}

/* [{date, <key>: v}, ...] in date order. */
static void curve(loader *l, const ct_node *n, const char *key, double hi,
                  ct_sim_curve *out)
{
    static const char *const k1[] = {"date", "factor", NULL};
    static const char *const k2[] = {"date", "share", NULL};
    if (!seq(l, n, key))
        return;
    out->p = calloc(n->len ? n->len : 1, sizeof *out->p);
    if (!out->p)
        return;
    for (size_t i = 0; i < n->len; i++) {
        const ct_node *it = n->items[i];
        if (!check_keys(l, it, strcmp(key, "factor") ? k2 : k1, "a point"))
            continue;
        const ct_node *d = ct_node_get(it, "date"), *v = ct_node_get(it, key);
        if (!d || !v) {
            err(l, it, "a point needs date and %s", key);
            continue;
        }
        ct_sim_point p;
        if (!date(l, d, "date", &p.day) || !number(l, v, key, 0, hi, &p.v))
            continue;
        if (out->n && p.day <= out->p[out->n - 1].day) {
            err(l, d, "dates must increase");
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
static void sum_one(loader *l, const ct_node *n, double sum, const char *what)
{
    if (fabs(sum - 1.0) > 0.001)
        err(l, n, "the shares of %s add up to %g, not 1", what, sum);
}

static char *responsible(loader *l, const ct_node *n)
{
    if (!n)
        return NULL;
    const char *s = scalar(l, n, "responsible");
    if (!s || strcmp(s, "auto") == 0)
        return NULL;
    return strdup(s);
}

/* CSV of daily counts: "date,count" lines (a header line is allowed). */
static void load_csv(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    const char *name = scalar(l, n, "csv");
    if (!name)
        return;
    ct_buf pb = {0};
    if (name[0] == '/' || !l->dir)
        ct_buf_puts(&pb, name);
    else
        ct_buf_printf(&pb, "%s/%s", l->dir, name);
    char *path = pb.data;
    char *text = NULL;
    size_t len = 0;
    int rc = path ? ct_read_file(path, &text, &len) : CT_ENOMEM;
    if (rc) {
        err(l, n, "cannot read %s: %s", path ? path : name,
            rc == CT_ENOTFOUND ? "no such file" : ct_strerror(rc));
        free(path);
        return;
    }
    size_t cap = 0;
    unsigned line = 0;
    for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        line++;
        size_t ll = strlen(p);
        if (ll && p[ll - 1] == '\r')
            p[--ll] = '\0';
        if (!ll || (line == 1 && strncmp(p, "date", 4) == 0))
            continue;
        char *comma = strchr(p, ',');
        int64_t ms;
        char msg[160];
        char *end = NULL;
        long v = -1;
        if (comma) {
            *comma = '\0';
            errno = 0;
            v = strtol(comma + 1, &end, 10);
        }
        if (!comma || ct_clock_parse_day(p, &ms, msg, sizeof msg) ||
            end == comma + 1 || *end || errno || v < 0 || v > 1000000) {
            ct_diags_add(l->diags, path, line, 1,
                         "expected 'YYYY-MM-DD,COUNT' (a date and a whole "
                         "number of referrals from 0 to 1000000)");
            l->errors++;
            continue;
        }
        int64_t day = ms / DAY_MS;
        if (s->ncsv && day != s->csv_first_day + (int64_t)s->ncsv) {
            ct_diags_add(l->diags, path, line, 1,
                         "dates must follow each other day by day");
            l->errors++;
            continue;
        }
        if (!s->ncsv)
            s->csv_first_day = day;
        if (s->ncsv == cap) {
            cap = cap ? cap * 2 : 128;
            int64_t *g = realloc(s->csv_counts, cap * sizeof *g);
            if (!g)
                break;
            s->csv_counts = g;
        }
        s->csv_counts[s->ncsv++] = v;
    }
    free(text);
    free(path);
}

static void load_arrivals(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    static const char *const keys[] = {
        "per_day", "population", "per_1000_a_day", "weekday", "season",
        "from", "lead_days", "csv", "hours", NULL};
    if (!n) {
        err(l, NULL, "the scenario needs arrivals");
        return;
    }
    if (!check_keys(l, n, keys, "arrivals"))
        return;
    const ct_node *pd = ct_node_get(n, "per_day"),
                  *pop = ct_node_get(n, "population"),
                  *rate = ct_node_get(n, "per_1000_a_day"),
                  *csv = ct_node_get(n, "csv");
    if (!!pd + !!(pop || rate) + !!csv != 1) {
        err(l, n, "arrivals need exactly one of per_day, population with "
                  "per_1000_a_day, or csv");
    } else if (pd) {
        number(l, pd, "per_day", 0, 100000, &s->per_day);
    } else if (csv) {
        load_csv(l, csv, s);
    } else if (!pop || !rate) {
        err(l, n, "population and per_1000_a_day go together");
    } else {
        double p = 0, r = 0;
        if (number(l, pop, "population", 1, 1e8, &p) &&
            number(l, rate, "per_1000_a_day", 0, 100, &r))
            s->per_day = p / 1000.0 * r;
    }
    for (int i = 0; i < 7; i++)
        s->weekday[i] = 1.0;
    const ct_node *w = ct_node_get(n, "weekday");
    if (w && seq(l, w, "weekday")) {
        if (w->len != 7)
            err(l, w, "weekday needs 7 factors, Monday to Sunday");
        else
            for (int i = 0; i < 7; i++)
                number(l, w->items[i], "a weekday factor", 0, 100,
                       &s->weekday[i]);
    }
    const ct_node *sea = ct_node_get(n, "season");
    if (sea)
        curve(l, sea, "factor", 100, &s->season);
    s->hour_from = 8;
    s->hour_to = 20;
    const ct_node *hrs = ct_node_get(n, "hours");
    if (hrs && seq(l, hrs, "hours")) {
        long a = 0, b = 0;
        if (hrs->len != 2)
            err(l, hrs, "hours needs two hours [from, to], e.g. [8, 20]");
        else if (integer(l, hrs->items[0], "from", 0, 23, &a) &&
                 integer(l, hrs->items[1], "to", 1, 24, &b)) {
            if (b <= a)
                err(l, hrs->items[1], "to must be after from");
            s->hour_from = (int)a;
            s->hour_to = (int)b;
        }
    }
    s->lead = (ct_sim_dist){CT_SIM_FIXED, 1, 0};
    const ct_node *lead = ct_node_get(n, "lead_days");
    if (lead)
        dist(l, lead, "lead_days", &s->lead);
    const ct_node *from = ct_node_get(n, "from");
    if (from && seq(l, from, "from") && from->len) {
        static const char *const fk[] = {"org", "share", NULL};
        s->from = calloc(from->len, sizeof *s->from);
        double sum = 0;
        for (size_t i = 0; s->from && i < from->len; i++) {
            const ct_node *it = from->items[i];
            if (!check_keys(l, it, fk, "a source"))
                continue;
            const ct_node *o = ct_node_get(it, "org"),
                          *sh = ct_node_get(it, "share");
            ct_sim_source *src = &s->from[s->nfrom++];
            src->line = it->line;
            src->col = it->col;
            src->share = 1;
            if (!o)
                err(l, it, "a source needs org");
            else
                src->org = string(l, o, "org");
            if (sh)
                number(l, sh, "share", 0, 1, &src->share);
            sum += src->share;
        }
        sum_one(l, from, sum, "from");
    }
}

static void load_needs(loader *l, const ct_node *n, ct_sim_pathway *p)
{
    static const char *const keys[] = {"tags", "share", NULL};
    if (!seq(l, n, "needs") || !n->len)
        return;
    p->needs = calloc(n->len, sizeof *p->needs);
    double sum = 0;
    for (size_t i = 0; p->needs && i < n->len; i++) {
        const ct_node *it = n->items[i];
        if (!check_keys(l, it, keys, "a needs set"))
            continue;
        ct_sim_needs *ns = &p->needs[p->nneeds++];
        const ct_node *t = ct_node_get(it, "tags"),
                      *sh = ct_node_get(it, "share");
        if (!sh || !number(l, sh, "share", 0, 1, &ns->share))
            err(l, it, "a needs set needs a share from 0 to 1");
        sum += ns->share;
        if (t && seq(l, t, "tags") && t->len) {
            ns->tags = calloc(t->len, sizeof *ns->tags);
            for (size_t j = 0; ns->tags && j < t->len; j++) {
                char *tag = string(l, t->items[j], "a tag");
                if (tag)
                    ns->tags[ns->ntags++] = tag;
            }
        }
    }
    sum_one(l, n, sum, "needs");
}

static void load_pathways(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    static const char *const keys[] = {"P0", "P1", "P2", "P3", NULL};
    static const char *const pk[] = {"share", "needs", "delay_reason",
                                     "responsible", NULL};
    static const char *const dflt[] = {"awaiting_transport",
                                       "awaiting_p1_care", "awaiting_p2_bed",
                                       "awaiting_p3_bed"};
    if (!n) {
        err(l, NULL, "the scenario needs pathways");
        return;
    }
    if (!check_keys(l, n, keys, "pathways"))
        return;
    double sum = 0;
    for (int i = 0; i < CT_SIM_PATHWAYS; i++) {
        ct_sim_pathway *p = &s->pathways[i];
        p->delay_reason = strdup(dflt[i]);
        const ct_node *it = ct_node_get(n, keys[i]);
        if (!it)
            continue;
        p->line = it->line;
        p->col = it->col;
        if (!check_keys(l, it, pk, keys[i]))
            continue;
        const ct_node *sh = ct_node_get(it, "share");
        if (!sh || !number(l, sh, "share", 0, 1, &p->share))
            err(l, it, "%s needs a share from 0 to 1", keys[i]);
        sum += p->share;
        const ct_node *nd = ct_node_get(it, "needs");
        if (nd)
            load_needs(l, nd, p);
        const ct_node *r = ct_node_get(it, "delay_reason");
        if (r) {
            char *code = string(l, r, "delay_reason");
            if (code) {
                free(p->delay_reason);
                p->delay_reason = code;
            }
        }
        p->responsible = responsible(l, ct_node_get(it, "responsible"));
    }
    sum_one(l, n, sum, "pathways");
}

static void load_ages(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    static const char *const keys[] = {"from", "to", "share", NULL};
    if (!seq(l, n, "ages") || !n->len)
        return;
    s->ages = calloc(n->len, sizeof *s->ages);
    double sum = 0;
    for (size_t i = 0; s->ages && i < n->len; i++) {
        const ct_node *it = n->items[i];
        if (!check_keys(l, it, keys, "an age band"))
            continue;
        ct_sim_ageband *b = &s->ages[s->nages++];
        long lo = 0, hi = 0;
        const ct_node *f = ct_node_get(it, "from"), *t = ct_node_get(it, "to"),
                      *sh = ct_node_get(it, "share");
        if (!f || !t || !sh) {
            err(l, it, "an age band needs from, to and share");
            continue;
        }
        if (integer(l, f, "from", 0, 130, &lo) &&
            integer(l, t, "to", 0, 130, &hi) && hi < lo)
            err(l, t, "to must not be below from");
        b->lo = (int)lo;
        b->hi = (int)hi;
        number(l, sh, "share", 0, 1, &b->share);
        sum += b->share;
    }
    sum_one(l, n, sum, "ages");
}

static void load_infections(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    if (!n || n->kind != CT_NODE_MAP) {
        err(l, n, "infections must be a mapping of pathogen to prevalence "
                  "points, not %s",
            ct_node_describe(n));
        return;
    }
    s->infections = calloc(n->len ? n->len : 1, sizeof *s->infections);
    for (size_t i = 0; s->infections && i < n->len; i++) {
        const ct_node *k = ct_node_key(n, i);
        ct_sim_infection *inf = &s->infections[s->ninfections++];
        inf->pathogen = strdup(k->value ? k->value : "");
        inf->line = k->line;
        inf->col = k->col;
        curve(l, ct_node_value(n, i), "share", 1, &inf->prevalence);
    }
}

static void load_outbreaks(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    static const char *const keys[] = {"zone", "kind", "from", "days",
                                       "reason", NULL};
    if (!seq(l, n, "outbreaks") || !n->len)
        return;
    s->outbreaks = calloc(n->len, sizeof *s->outbreaks);
    for (size_t i = 0; s->outbreaks && i < n->len; i++) {
        const ct_node *it = n->items[i];
        if (!check_keys(l, it, keys, "an outbreak"))
            continue;
        ct_sim_outbreak *o = &s->outbreaks[s->noutbreaks++];
        o->line = it->line;
        o->col = it->col;
        o->kind = -1;
        const ct_node *z = ct_node_get(it, "zone"), *k = ct_node_get(it, "kind"),
                      *f = ct_node_get(it, "from"), *d = ct_node_get(it, "days"),
                      *r = ct_node_get(it, "reason");
        if (!!z == !!k)
            err(l, it, "an outbreak names a zone or a facility kind (one "
                       "of its zones is drawn), not both");
        if (z)
            o->zone = string(l, z, "zone");
        if (k) {
            const char *kn = scalar(l, k, "kind");
            if (kn && (o->kind = ct_facility_kind_parse(kn)) < 0)
                err(l, k, "unknown facility kind '%s'", kn);
        }
        long days = 0;
        if (!f || !d) {
            err(l, it, "an outbreak needs from (a date) and days");
        } else {
            date(l, f, "from", &o->from_day);
            if (integer(l, d, "days", 1, MAX_DAYS, &days))
                o->days = (int)days;
        }
        o->reason = r ? string(l, r, "reason") : strdup("outbreak");
    }
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
    if (!seq(l, n, "changes") || !n->len)
        return;
    s->changes = calloc(n->len, sizeof *s->changes);
    for (size_t i = 0; s->changes && i < n->len; i++) {
        const ct_node *it = n->items[i];
        if (!check_keys(l, it, keys, "a change"))
            continue;
        ct_sim_change *c = &s->changes[s->nchanges++];
        c->line = it->line;
        c->col = it->col;
        const ct_node *d = ct_node_get(it, "date");
        if (!d)
            err(l, it, "a change needs a date");
        else
            date(l, d, "date", &c->day);
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
                err(l, it, "%s needs %s", acts[a].key, tk);
            else
                c->target = string(l, t, tk);
            long cnt = 0;
            if (!acts[a].count)
                c->n = 0;
            else if (v->value && strcmp(v->value, "all") == 0 &&
                     (c->kind == CT_SIM_SURGE_OPEN ||
                      c->kind == CT_SIM_SURGE_CLOSE))
                c->n = -1;
            else if (integer(l, v, acts[a].key, 1, 100000, &cnt))
                c->n = (int)cnt;
        }
        if (found != 1)
            err(l, it, "a change does one of surge_open, surge_close, open, "
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
            c->reason = r ? string(l, r, "reason") : strdup("scenario change");
        }
    }
}

/* kind -> {...} maps (stay, providers, onward). */
static int kind_key(loader *l, const ct_node *k)
{
    int kind = k->value ? ct_facility_kind_parse(k->value) : -1;
    if (kind < 0)
        err(l, k, "unknown facility kind '%s' (acute, step_down, rehab, "
                  "care_home, home_care, virtual_ward)",
            k->value ? k->value : "?");
    return kind;
}

static void load_stay(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    if (!n || n->kind != CT_NODE_MAP) {
        err(l, n, "stay must be a mapping of facility kind to a "
                  "distribution, not %s",
            ct_node_describe(n));
        return;
    }
    for (size_t i = 0; i < n->len; i++) {
        int kind = kind_key(l, ct_node_key(n, i));
        if (kind >= 0)
            dist(l, ct_node_value(n, i), "a stay", &s->stay[kind]);
    }
}

static void load_providers(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    static const char *const keys[] = {"decline", "response", NULL};
    if (!n || n->kind != CT_NODE_MAP) {
        err(l, n, "providers must be a mapping of facility kind to "
                  "{decline, response}, not %s",
            ct_node_describe(n));
        return;
    }
    for (size_t i = 0; i < n->len; i++) {
        int kind = kind_key(l, ct_node_key(n, i));
        const ct_node *v = ct_node_value(n, i);
        if (kind < 0 || !check_keys(l, v, keys, "a provider"))
            continue;
        const ct_node *d = ct_node_get(v, "decline"),
                      *r = ct_node_get(v, "response");
        if (d)
            number(l, d, "decline", 0, 1, &s->providers[kind].decline);
        if (r)
            dist(l, r, "response", &s->providers[kind].response);
    }
}

static void load_onward(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    static const char *const keys[] = {"P1", "P2", "P3", NULL};
    if (!n || n->kind != CT_NODE_MAP) {
        err(l, n, "onward must be a mapping of facility kind to {P1, P2, "
                  "P3} shares, not %s",
            ct_node_describe(n));
        return;
    }
    for (size_t i = 0; i < n->len; i++) {
        int kind = kind_key(l, ct_node_key(n, i));
        const ct_node *v = ct_node_value(n, i);
        if (kind < 0 || !check_keys(l, v, keys, "an onward move"))
            continue;
        double sum = 0;
        for (int p = 1; p < CT_SIM_PATHWAYS; p++) {
            const ct_node *x = ct_node_get(v, keys[p - 1]);
            if (x && number(l, x, keys[p - 1], 0, 1, &s->onward[kind][p]))
                sum += s->onward[kind][p];
        }
        if (sum > 1.0001)
            err(l, v, "onward shares add up to %g, more than 1", sum);
    }
}

static void load_other(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    static const char *const keys[] = {"share", "length", "reasons", NULL};
    static const char *const rk[] = {"reason", "share", "responsible", NULL};
    if (!check_keys(l, n, keys, "other_delays"))
        return;
    const ct_node *sh = ct_node_get(n, "share"), *len = ct_node_get(n, "length"),
                  *rs = ct_node_get(n, "reasons");
    if (!sh || !len || !rs) {
        err(l, n, "other_delays needs share, length and reasons");
        return;
    }
    number(l, sh, "share", 0, 1, &s->other_share);
    dist(l, len, "length", &s->other_length);
    if (!seq(l, rs, "reasons"))
        return;
    if (!rs->len) {
        err(l, rs, "reasons needs at least one reason");
        return;
    }
    s->reasons = calloc(rs->len, sizeof *s->reasons);
    double sum = 0;
    for (size_t i = 0; s->reasons && i < rs->len; i++) {
        const ct_node *it = rs->items[i];
        if (!check_keys(l, it, rk, "a reason"))
            continue;
        ct_sim_reason *r = &s->reasons[s->nreasons++];
        const ct_node *c = ct_node_get(it, "reason"),
                      *x = ct_node_get(it, "share");
        if (!c || !x) {
            err(l, it, "a reason needs reason (a code) and share");
            continue;
        }
        r->code = string(l, c, "reason");
        number(l, x, "share", 0, 1, &r->share);
        sum += r->share;
        r->responsible = responsible(l, ct_node_get(it, "responsible"));
    }
    sum_one(l, rs, sum, "reasons");
}

static void load_costs(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    static const char *const keys[] = {"delayed_bed_day", "surge_bed_day",
                                       "designated_bed_day", NULL};
    if (!check_keys(l, n, keys, "costs"))
        return;
    double *dst[] = {&s->costs.delayed_bed_day, &s->costs.surge_bed_day,
                     &s->costs.designated_bed_day};
    for (int i = 0; i < 3; i++) {
        const ct_node *v = ct_node_get(n, keys[i]);
        if (v)
            number(l, v, keys[i], 0, 1e6, dst[i]);
    }
}

static void load_root(loader *l, const ct_node *root, ct_sim_scenario *s)
{
    static const char *const keys[] = {
        "name", "start", "days", "warmup_days", "seeds", "arrivals",
        "pathways", "ages", "infections", "outbreaks", "changes", "stay",
        "providers", "onward", "other_delays", "costs", NULL};
    if (!check_keys(l, root, keys, "the scenario"))
        return;
    const ct_node *n = ct_node_get(root, "name");
    s->name = n ? string(l, n, "name") : strdup("scenario");
    n = ct_node_get(root, "start");
    if (!n)
        err(l, root, "the scenario needs start (a date)");
    else
        date(l, n, "start", &s->start_day);
    long v = 0;
    n = ct_node_get(root, "days");
    if (!n)
        err(l, root, "the scenario needs days (how many days it runs)");
    else if (integer(l, n, "days", 1, MAX_DAYS, &v))
        s->days = (int)v;
    n = ct_node_get(root, "warmup_days");
    if (n && integer(l, n, "warmup_days", 0, 366, &v))
        s->warmup_days = (int)v;
    s->seeds = 1;
    n = ct_node_get(root, "seeds");
    if (n && integer(l, n, "seeds", 1, 10000, &v))
        s->seeds = (unsigned)v;
    load_arrivals(l, ct_node_get(root, "arrivals"), s);
    load_pathways(l, ct_node_get(root, "pathways"), s);
    if ((n = ct_node_get(root, "ages")))
        load_ages(l, n, s);
    if ((n = ct_node_get(root, "infections")))
        load_infections(l, n, s);
    if ((n = ct_node_get(root, "outbreaks")))
        load_outbreaks(l, n, s);
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
    loader l = {.file = file, .dir = dir, .diags = diags};
    load_root(&l, root, s);
    ct_node_free(root);
    if (l.errors || !s->file) {
        ct_sim_scenario_free(s);
        return l.errors ? CT_ECONFIG : CT_ENOMEM;
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
        bool fac = c->kind == CT_SIM_SURGE_OPEN || c->kind == CT_SIM_SURGE_CLOSE;
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
