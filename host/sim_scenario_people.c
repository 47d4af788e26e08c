/*
 * Who arrives in a scenario (sim_scenario_int.h): the arrival curves or a
 * CSV of daily counts, the pathways with their needs, ages, infections
 * and outbreaks.
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

/* CSV of daily counts: "date,count" lines (a header line is allowed). */
static void load_csv(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    const char *name = ct_sim_scenario__scalar(l, n, "csv");
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
        ct_config_read_err(&l->rd, n, "cannot read %s: %s", path ? path : name,
                           rc == CT_ENOTFOUND ? "no such file"
                                              : ct_strerror(rc));
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
            ct_diags_add(l->rd.diags, path, line, 1,
                         "expected 'YYYY-MM-DD,COUNT' (a date and a whole "
                         "number of referrals from 0 to 1000000)");
            l->rd.errors++;
            continue;
        }
        int64_t day = ms / DAY_MS;
        if (s->ncsv && day != s->csv_first_day + (int64_t)s->ncsv) {
            ct_diags_add(l->rd.diags, path, line, 1,
                         "dates must follow each other day by day");
            l->rd.errors++;
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

void ct_sim_scenario__load_arrivals(loader *l, const ct_node *n,
                                    ct_sim_scenario *s)
{
    static const char *const keys[] = {
        "per_day", "population", "per_1000_a_day", "weekday",
        "season",  "from",       "lead_days",      "csv",
        "hours",   NULL};
    if (!n) {
        ct_config_read_err(&l->rd, NULL, "the scenario needs arrivals");
        return;
    }
    if (!ct_config_read_keyed(&l->rd, n, keys, "arrivals"))
        return;
    const ct_node *pd = ct_node_get(n, "per_day"),
                  *pop = ct_node_get(n, "population"),
                  *rate = ct_node_get(n, "per_1000_a_day"),
                  *csv = ct_node_get(n, "csv");
    if (!!pd + !!(pop || rate) + !!csv != 1) {
        ct_config_read_err(
            &l->rd, n,
            "arrivals need exactly one of per_day, population with "
            "per_1000_a_day, or csv");
    } else if (pd) {
        ct_sim_scenario__number(l, pd, "per_day", 0, 100000, &s->per_day);
    } else if (csv) {
        load_csv(l, csv, s);
    } else if (!pop || !rate) {
        ct_config_read_err(&l->rd, n,
                           "population and per_1000_a_day go together");
    } else {
        double p = 0, r = 0;
        if (ct_sim_scenario__number(l, pop, "population", 1, 1e8, &p) &&
            ct_sim_scenario__number(l, rate, "per_1000_a_day", 0, 100, &r))
            s->per_day = p / 1000.0 * r;
    }
    for (int i = 0; i < 7; i++)
        s->weekday[i] = 1.0;
    const ct_node *w = ct_node_get(n, "weekday");
    if (w && ct_config_read_seq(&l->rd, w, "weekday")) {
        if (w->len != 7)
            ct_config_read_err(&l->rd, w,
                               "weekday needs 7 factors, Monday to Sunday");
        else
            for (int i = 0; i < 7; i++)
                ct_sim_scenario__number(l, w->items[i], "a weekday factor", 0,
                                        100, &s->weekday[i]);
    }
    const ct_node *sea = ct_node_get(n, "season");
    if (sea)
        ct_sim_scenario__curve(l, sea, "factor", 100, &s->season);
    s->hour_from = 8;
    s->hour_to = 20;
    const ct_node *hrs = ct_node_get(n, "hours");
    if (hrs && ct_config_read_seq(&l->rd, hrs, "hours")) {
        long a = 0, b = 0;
        if (hrs->len != 2)
            ct_config_read_err(
                &l->rd, hrs, "hours needs two hours [from, to], e.g. [8, 20]");
        else if (ct_sim_scenario__integer(l, hrs->items[0], "from", 0, 23,
                                          &a) &&
                 ct_sim_scenario__integer(l, hrs->items[1], "to", 1, 24, &b)) {
            if (b <= a)
                ct_config_read_err(&l->rd, hrs->items[1],
                                   "to must be after from");
            s->hour_from = (int)a;
            s->hour_to = (int)b;
        }
    }
    s->lead = (ct_sim_dist){CT_SIM_FIXED, 1, 0};
    const ct_node *lead = ct_node_get(n, "lead_days");
    if (lead)
        ct_sim_scenario__dist(l, lead, "lead_days", &s->lead);
    const ct_node *from = ct_node_get(n, "from");
    if (from && ct_config_read_seq(&l->rd, from, "from") && from->len) {
        static const char *const fk[] = {"org", "share", NULL};
        s->from = calloc(from->len, sizeof *s->from);
        double sum = 0;
        for (size_t i = 0; s->from && i < from->len; i++) {
            const ct_node *it = from->items[i];
            if (!ct_config_read_keyed(&l->rd, it, fk, "a source"))
                continue;
            const ct_node *o = ct_node_get(it, "org"),
                          *sh = ct_node_get(it, "share");
            ct_sim_source *src = &s->from[s->nfrom++];
            src->line = it->line;
            src->col = it->col;
            src->share = 1;
            if (!o)
                ct_config_read_err(&l->rd, it, "a source needs org");
            else
                src->org = ct_sim_scenario__string(l, o, "org");
            if (sh)
                ct_sim_scenario__number(l, sh, "share", 0, 1, &src->share);
            sum += src->share;
        }
        ct_sim_scenario__sum_one(l, from, sum, "from");
    }
}

static void load_needs(loader *l, const ct_node *n, ct_sim_pathway *p)
{
    static const char *const keys[] = {"tags", "share", NULL};
    if (!ct_config_read_seq(&l->rd, n, "needs") || !n->len)
        return;
    p->needs = calloc(n->len, sizeof *p->needs);
    double sum = 0;
    for (size_t i = 0; p->needs && i < n->len; i++) {
        const ct_node *it = n->items[i];
        if (!ct_config_read_keyed(&l->rd, it, keys, "a needs set"))
            continue;
        ct_sim_needs *ns = &p->needs[p->nneeds++];
        const ct_node *t = ct_node_get(it, "tags"),
                      *sh = ct_node_get(it, "share");
        if (!sh || !ct_sim_scenario__number(l, sh, "share", 0, 1, &ns->share))
            ct_config_read_err(&l->rd, it,
                               "a needs set needs a share from 0 to 1");
        sum += ns->share;
        if (t && ct_config_read_seq(&l->rd, t, "tags") && t->len) {
            ns->tags = calloc(t->len, sizeof *ns->tags);
            for (size_t j = 0; ns->tags && j < t->len; j++) {
                char *tag = ct_sim_scenario__string(l, t->items[j], "a tag");
                if (tag)
                    ns->tags[ns->ntags++] = tag;
            }
        }
    }
    ct_sim_scenario__sum_one(l, n, sum, "needs");
}

void ct_sim_scenario__load_pathways(loader *l, const ct_node *n,
                                    ct_sim_scenario *s)
{
    static const char *const keys[] = {"P0", "P1", "P2", "P3", NULL};
    static const char *const pk[] = {"share", "needs", "delay_reason",
                                     "responsible", NULL};
    static const char *const dflt[] = {"awaiting_transport",
                                       "awaiting_p1_care", "awaiting_p2_bed",
                                       "awaiting_p3_bed"};
    if (!n) {
        ct_config_read_err(&l->rd, NULL, "the scenario needs pathways");
        return;
    }
    if (!ct_config_read_keyed(&l->rd, n, keys, "pathways"))
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
        if (!ct_config_read_keyed(&l->rd, it, pk, keys[i]))
            continue;
        const ct_node *sh = ct_node_get(it, "share");
        if (!sh || !ct_sim_scenario__number(l, sh, "share", 0, 1, &p->share))
            ct_config_read_err(&l->rd, it, "%s needs a share from 0 to 1",
                               keys[i]);
        sum += p->share;
        const ct_node *nd = ct_node_get(it, "needs");
        if (nd)
            load_needs(l, nd, p);
        const ct_node *r = ct_node_get(it, "delay_reason");
        if (r) {
            char *code = ct_sim_scenario__string(l, r, "delay_reason");
            if (code) {
                free(p->delay_reason);
                p->delay_reason = code;
            }
        }
        p->responsible =
            ct_sim_scenario__responsible(l, ct_node_get(it, "responsible"));
    }
    ct_sim_scenario__sum_one(l, n, sum, "pathways");
}

void ct_sim_scenario__load_ages(loader *l, const ct_node *n, ct_sim_scenario *s)
{
    static const char *const keys[] = {"from", "to", "share", NULL};
    if (!ct_config_read_seq(&l->rd, n, "ages") || !n->len)
        return;
    s->ages = calloc(n->len, sizeof *s->ages);
    double sum = 0;
    for (size_t i = 0; s->ages && i < n->len; i++) {
        const ct_node *it = n->items[i];
        if (!ct_config_read_keyed(&l->rd, it, keys, "an age band"))
            continue;
        ct_sim_ageband *b = &s->ages[s->nages++];
        long lo = 0, hi = 0;
        const ct_node *f = ct_node_get(it, "from"), *t = ct_node_get(it, "to"),
                      *sh = ct_node_get(it, "share");
        if (!f || !t || !sh) {
            ct_config_read_err(&l->rd, it,
                               "an age band needs from, to and share");
            continue;
        }
        if (ct_sim_scenario__integer(l, f, "from", 0, 130, &lo) &&
            ct_sim_scenario__integer(l, t, "to", 0, 130, &hi) && hi < lo)
            ct_config_read_err(&l->rd, t, "to must not be below from");
        b->lo = (int)lo;
        b->hi = (int)hi;
        ct_sim_scenario__number(l, sh, "share", 0, 1, &b->share);
        sum += b->share;
    }
    ct_sim_scenario__sum_one(l, n, sum, "ages");
}

void ct_sim_scenario__load_infections(loader *l, const ct_node *n,
                                      ct_sim_scenario *s)
{
    if (!n || n->kind != CT_NODE_MAP) {
        ct_config_read_err(
            &l->rd, n,
            "infections must be a mapping of pathogen to prevalence "
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
        ct_sim_scenario__curve(l, ct_node_value(n, i), "share", 1,
                               &inf->prevalence);
    }
}

void ct_sim_scenario__load_outbreaks(loader *l, const ct_node *n,
                                     ct_sim_scenario *s)
{
    static const char *const keys[] = {"zone", "kind",   "from",
                                       "days", "reason", NULL};
    if (!ct_config_read_seq(&l->rd, n, "outbreaks") || !n->len)
        return;
    s->outbreaks = calloc(n->len, sizeof *s->outbreaks);
    for (size_t i = 0; s->outbreaks && i < n->len; i++) {
        const ct_node *it = n->items[i];
        if (!ct_config_read_keyed(&l->rd, it, keys, "an outbreak"))
            continue;
        ct_sim_outbreak *o = &s->outbreaks[s->noutbreaks++];
        o->line = it->line;
        o->col = it->col;
        o->kind = -1;
        const ct_node *z = ct_node_get(it, "zone"),
                      *k = ct_node_get(it, "kind"),
                      *f = ct_node_get(it, "from"),
                      *d = ct_node_get(it, "days"),
                      *r = ct_node_get(it, "reason");
        if (!!z == !!k)
            ct_config_read_err(
                &l->rd, it,
                "an outbreak names a zone or a facility kind (one "
                "of its zones is drawn), not both");
        if (z)
            o->zone = ct_sim_scenario__string(l, z, "zone");
        if (k) {
            const char *kn = ct_sim_scenario__scalar(l, k, "kind");
            if (kn && (o->kind = ct_facility_kind_parse(kn)) < 0)
                ct_config_read_err(&l->rd, k, "unknown facility kind '%s'", kn);
        }
        long days = 0;
        if (!f || !d) {
            ct_config_read_err(&l->rd, it,
                               "an outbreak needs from (a date) and days");
        } else {
            ct_sim_scenario__date(l, f, "from", &o->from_day);
            if (ct_sim_scenario__integer(l, d, "days", 1, MAX_DAYS, &days))
                o->days = (int)days;
        }
        o->reason =
            r ? ct_sim_scenario__string(l, r, "reason") : strdup("outbreak");
    }
}
