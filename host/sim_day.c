/*
 * Each simulated UK day (sim_int.h): at midnight the day's figures are
 * recorded, then the scenario's changes (outbreaks, closures, blocks) and
 * the day's arrivals are applied.
 */
#include "sim_int.h"

#include "capacity.h"
#include "error.h"
#include "isolation.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- days --------------------------------------------------------------- */


/* A designated setting's beds are those kept for people isolating: the
 * zones of a designated facility that are positive for a pathogen. A
 * unit's negative wing is ordinary step-down, and counting it made the
 * stand-alone unit look dearer than designated zones in a care home for
 * beds that were never kept for anyone isolating (issue 20). */
static bool designated_zone(const ct_config_facility *f, const char *zone)
{
    if (!f->designated || !zone)
        return false;
    for (size_t i = 0; i < f->nzones; i++) {
        if (strcmp(f->zones[i].id, zone) != 0)
            continue;
        for (size_t k = 0; k < f->zones[i].ncohorts; k++)
            if (f->zones[i].cohorts[k].cohort == CT_COHORT_POSITIVE)
                return true;
        return false;
    }
    return false;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double quantile(double *v, size_t n, double q)
{
    if (!n)
        return -1;
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)h;
    double f = h - (double)lo;
    return lo + 1 < n ? v[lo] + f * (v[lo + 1] - v[lo]) : v[lo];
}

static void add_lost(sim *s, int64_t day, const person *p)
{
    ct_sim_run *r = s->run;
    for (size_t i = r->nlost; i-- > 0 && r->lost[i].day == day;) {
        ct_sim_lost *l = &r->lost[i];
        if (l->pathway == p->pathway && l->reason == p->cur_reason &&
            l->org == p->cur_org) {
            l->bed_days += 1;
            return;
        }
    }
    ct_sim_lost *g = realloc(r->lost, (r->nlost + 1) * sizeof *g);
    if (!g)
        return;
    r->lost = g;
    g[r->nlost++] = (ct_sim_lost){day, p->pathway, p->cur_reason, p->cur_org,
                                  1};
}

/* Day `day` ends (at the clock's now): its figures go into the run. */
static void end_day(sim *s, int64_t day)
{
    ct_sim_day *d = &s->cur;
    d->day = day;
    for (size_t i = 0; i < s->npeople; i++) {
        const person *p = s->people[i];
        if (p->st == P_NEW || p->st >= P_OUT || p->ready_day > day)
            continue;
        d->past_ready_date++;
        d->bed_days_lost += 1;
        d->lost_by_pathway[p->pathway] += 1;
        if (day + 1 - p->ready_day >= 14)
            d->waits14++;
        if (day + 1 - p->ready_day >= 21)
            d->waits21++;
        if (day >= s->first_day && day <= s->last_day)
            add_lost(s, day, p);
    }
    d->waiting = (int)s->nwait;
    json_t *m = NULL;
    ct_cap_error err = {0};
    if (ct_metrics_json(s->cap, &m, &err) == 0) {
        json_t *bk = json_object_get(m, "by_kind");
        for (int k = 0; k < CT_FACILITY__COUNT; k++) {
            json_t *c = json_object_get(bk, ct_facility_kind_name(k));
            double open =
                (double)json_integer_value(json_object_get(c, "open"));
            double occ =
                (double)json_integer_value(json_object_get(c, "occupied"));
            d->occupancy[k] = open > 0 ? occ / open : 0;
        }
        d->surge_beds = (double)json_integer_value(
            json_object_get(json_object_get(m, "beds"), "surge_open"));
        size_t i;
        json_t *z;
        json_array_foreach(json_object_get(m, "by_zone"), i, z)
        {
            const char *fid =
                json_string_value(json_object_get(z, "facility"));
            const ct_config_facility *f =
                fid ? ct_config_find_facility(s->cfg, fid) : NULL;
            if (!f || !designated_zone(
                          f, json_string_value(json_object_get(z, "zone"))))
                continue;
            json_t *c = json_object_get(z, "counts");
            if (!c)
                c = z;
            d->designated_beds +=
                (double)json_integer_value(json_object_get(c, "open"));
            d->idle_designated +=
                (double)json_integer_value(json_object_get(c, "available"));
        }
        json_decref(m);
    }
    d->level = s->level;
    memcpy(d->level_hours, s->level_hours, sizeof d->level_hours);
    memset(s->level_hours, 0, sizeof s->level_hours);
    json_t *st = ct_plugins_status(s->pl);
    int fails = 0;
    size_t i;
    json_t *v;
    json_array_foreach(st, i, v)
    {
        fails += (int)json_integer_value(json_object_get(v, "errors")) +
                 (int)json_integer_value(json_object_get(v, "timeouts"));
    }
    json_decref(st);
    d->plugin_failures = fails - s->plugin_failures_seen;
    s->plugin_failures_seen = fails;
    const ct_sim_costs *c = &s->sc->costs;
    d->cost = d->bed_days_lost * c->delayed_bed_day +
              d->surge_beds * c->surge_bed_day +
              d->designated_beds * c->designated_bed_day;
    for (int p = 0; p < CT_SIM_PATHWAYS; p++) {
        if (s->nday_waits[p])
            qsort(s->day_waits[p], s->nday_waits[p], sizeof(double),
                  cmp_double);
        d->wait_median[p] = quantile(s->day_waits[p], s->nday_waits[p], 0.5);
        d->wait_p90[p] = quantile(s->day_waits[p], s->nday_waits[p], 0.9);
        for (size_t k = 0; k < s->nday_waits[p]; k++) {
            double *g = realloc(s->run->waits[p],
                                (s->run->nwaits[p] + 1) * sizeof *g);
            if (!g)
                break;
            s->run->waits[p] = g;
            g[s->run->nwaits[p]++] = s->day_waits[p][k];
        }
        s->nday_waits[p] = 0;
    }
    if (day >= s->first_day && day <= s->last_day)
        s->run->days[s->run->ndays++] = *d;
    else
        d->breaches = 0;
    memset(d, 0, sizeof *d);
}

/* --- arrivals ----------------------------------------------------------- */

void ct_sim__nhs_number(sim *s, char out[11])
{
    for (;;) {
        unsigned serial = s->serial++;
        char d[16];
        snprintf(d, sizeof d, "999%06u", serial % 1000000u);
        int check = ct_nhs_check_digit(d);
        if (check < 0)
            continue;
        memcpy(out, d, 9);
        out[9] = (char)('0' + check);
        out[10] = '\0';
        return;
    }
}

static person *new_person(sim *s, int64_t at_ms)
{
    if (ct_grow(&s->people, &s->cap_people, s->npeople, sizeof *s->people, 1024))
        return NULL;
    person *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->s = s;
    p->idx = s->npeople;
    s->people[s->npeople++] = p;
    ct_timer_init(s->clock, &p->t);
    p->arrive_at = at_ms;
    p->other_reason = -1;
    p->cur_reason = p->cur_org = -1;
    p->kind = CT_FACILITY_CARE_HOME;
    ct_sim__nhs_number(s, p->nhs);
    return p;
}

/* A person of the scenario: every draw from the person's own stream. */
static void draw_person(sim *s, person *p, int64_t day)
{
    const ct_sim_scenario *sc = s->sc;
    gsl_rng *g = ct_sim__stream(s, S_PERSON, p->idx, 0);
    double u_from = gsl_rng_uniform(g), u_path = gsl_rng_uniform(g),
           u_needs = gsl_rng_uniform(g), u_age = gsl_rng_uniform(g),
           u_age2 = gsl_rng_uniform(g), u_other = gsl_rng_uniform(g);
    p->u_stay = gsl_rng_uniform_pos(g);
    p->u_other_len = gsl_rng_uniform_pos(g);
    p->u_other_reason = gsl_rng_uniform(g);
    p->u_lead = gsl_rng_uniform_pos(g);
    for (size_t i = 0; i < sc->ninfections && i < 8; i++)
        p->positive[i] =
            gsl_rng_uniform(g) <
            ct_sim_curve_at(&sc->infections[i].prevalence, day, 0);
    int f = ct_sim__pick(s->from_share, s->nfrom, sizeof(double), u_from);
    ct_copy_str(p->from, sizeof p->from, s->from_orgs[f]);
    p->pathway = ct_sim__pick(&sc->pathways[0].share, CT_SIM_PATHWAYS,
                              sizeof sc->pathways[0], u_path);
    const ct_sim_pathway *pw = &sc->pathways[p->pathway];
    p->needs = pw->nneeds ? ct_sim__pick(&pw->needs[0].share, pw->nneeds,
                                         sizeof *pw->needs, u_needs)
                          : -1;
    if (sc->nages) {
        const ct_sim_ageband *b = &sc->ages[ct_sim__pick(
            &sc->ages[0].share, sc->nages, sizeof *sc->ages, u_age)];
        p->age = b->lo + (int)(u_age2 * (b->hi - b->lo + 1));
        if (p->age > b->hi)
            p->age = b->hi;
    } else {
        p->age = -1;
    }
    p->ready_day =
        day + (int64_t)floor(ct_sim__draw(&sc->lead, p->u_lead) + 0.5);
    if (sc->nreasons && u_other < sc->other_share) {
        p->other_reason = ct_sim__pick(&sc->reasons[0].share, sc->nreasons,
                                       sizeof *sc->reasons, p->u_other_reason);
        p->other_until =
            p->ready_day +
            (int64_t)ceil(ct_sim__draw(&sc->other_length, p->u_other_len));
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void arrivals(sim *s, int64_t day)
{
    const ct_sim_scenario *sc = s->sc;
    if (s->o->replay) {
        int64_t end = ct_sim__uk_time(day + 1, 0);
        while (s->next_replay < s->o->nreplay &&
               s->o->replay[s->next_replay].at < end) {
            const ct_sim_arrival *a = &s->o->replay[s->next_replay++];
            person *p = new_person(s, a->at);
            if (!p) {
                s->failed = CT_ENOMEM;
                return;
            }
            draw_person(s, p, day);
            p->rp = a;
            ct_copy_str(p->from, sizeof p->from, a->from_org);
            p->ready_day = a->ready_day;
            if (a->pathway >= 0 && a->pathway < CT_SIM_PATHWAYS)
                p->pathway = a->pathway;
            p->age = a->age;
            for (size_t i = 0; i < 8; i++)
                p->positive[i] = a->positive[i];
            ct_sim__at(p, a->at);
        }
        return;
    }
    gsl_rng *g = ct_sim__stream(s, S_DAY, (uint64_t)day, 0);
    double mean;
    if (sc->csv_counts) {
        int64_t i = day - sc->csv_first_day;
        mean = i >= 0 && (size_t)i < sc->ncsv ? (double)sc->csv_counts[i] : 0;
    } else {
        int dow = (int)((day + 3) % 7); /* 1970-01-01 was a Thursday */
        mean = sc->per_day * sc->weekday[dow] *
               ct_sim_curve_at(&sc->season, day, 1.0);
    }
    /* A CSV gives the day's count itself; rates give a Poisson count. */
    unsigned n = sc->csv_counts ? (unsigned)mean
                                : gsl_ran_poisson(g, mean);
    int64_t *times = n ? calloc(n, sizeof *times) : NULL;
    if (n && !times) {
        s->failed = CT_ENOMEM;
        return;
    }
    /* Referrals come in during the scenario's hours (08:00 to 20:00). */
    int64_t from = ct_sim__uk_time(day, sc->hour_from);
    for (unsigned i = 0; i < n; i++)
        times[i] = from + (int64_t)(gsl_rng_uniform(g) *
                                    (sc->hour_to - sc->hour_from) * HOUR_MS);
    if (n)
        qsort(times, n, sizeof *times, cmp_i64);
    for (unsigned i = 0; i < n; i++) {
        person *p = new_person(s, times[i]);
        if (!p) {
            s->failed = CT_ENOMEM;
            break;
        }
        draw_person(s, p, day);
        ct_sim__at(p, times[i]);
    }
    free(times);
}

/* --- scenario events ---------------------------------------------------- */

static const ct_config_zone *zone_of(const ct_config *cfg, const char *id)
{
    for (size_t f = 0; f < cfg->nfacilities; f++)
        for (size_t z = 0; z < cfg->facilities[f].nzones; z++)
            if (strcmp(cfg->facilities[f].zones[z].id, id) == 0)
                return &cfg->facilities[f].zones[z];
    return NULL;
}

/* The zone an outbreak of a facility kind falls on, drawn per seed (the
 * same for every variant that has the zones). */
static const char *outbreak_zone(sim *s, size_t i)
{
    const ct_sim_outbreak *o = &s->sc->outbreaks[i];
    if (o->zone)
        return o->zone;
    size_t n = 0;
    for (size_t f = 0; f < s->cfg->nfacilities; f++)
        if ((int)s->cfg->facilities[f].kind == o->kind)
            n += s->cfg->facilities[f].nzones;
    if (!n)
        return NULL;
    size_t k = gsl_rng_uniform_int(ct_sim__stream(s, S_OUTBREAK, i, 0), n);
    for (size_t f = 0; f < s->cfg->nfacilities; f++) {
        const ct_config_facility *fa = &s->cfg->facilities[f];
        if ((int)fa->kind != o->kind)
            continue;
        if (k < fa->nzones)
            return fa->zones[k].id;
        k -= fa->nzones;
    }
    return NULL;
}

static void block_beds(sim *s, const ct_sim_change *c, bool block)
{
    const ct_config_zone *z = zone_of(s->cfg, c->target);
    int done = 0;
    for (size_t b = 0; z && b < z->nbeds && done < c->n; b++) {
        ct_cap_error err = {0};
        int rc = block ? ct_capacity_block(s->cap, z->beds[b].id, c->reason,
                                           "sim:scenario", &err)
                       : ct_capacity_unblock(s->cap, z->beds[b].id,
                                             "sim:scenario", &err);
        done += rc == 0;
    }
}

static void scenario_events(sim *s, int64_t day)
{
    const ct_sim_scenario *sc = s->sc;
    const char *actor = "sim:scenario";
    for (size_t i = 0; i < sc->noutbreaks; i++) {
        const ct_sim_outbreak *o = &sc->outbreaks[i];
        const char *zone = NULL;
        if (o->from_day == day || o->from_day + o->days == day)
            zone = outbreak_zone(s, i);
        ct_cap_error err = {0};
        if (zone && o->from_day == day)
            ct_isolation_close_zone(s->cap, zone, o->reason, actor, NULL,
                                    &err);
        else if (zone)
            ct_isolation_open_zone(s->cap, zone, actor, &err);
    }
    for (size_t i = 0; i < sc->nchanges; i++) {
        const ct_sim_change *c = &sc->changes[i];
        if (c->day != day)
            continue;
        ct_cap_error err = {0};
        switch (c->kind) {
        case CT_SIM_SURGE_OPEN:
            ct_capacity_surge_open(s->cap, c->target, c->n, actor, NULL,
                                   &err);
            break;
        case CT_SIM_SURGE_CLOSE:
            ct_capacity_surge_close(s->cap, c->target, c->n, actor, NULL,
                                    &err);
            break;
        case CT_SIM_ZONE_OPEN:
            ct_isolation_open_zone(s->cap, c->target, actor, &err);
            break;
        case CT_SIM_ZONE_CLOSE:
            ct_isolation_close_zone(s->cap, c->target, c->reason, actor, NULL,
                                    &err);
            break;
        case CT_SIM_BLOCK:
        case CT_SIM_UNBLOCK:
            block_beds(s, c, c->kind == CT_SIM_BLOCK);
            break;
        }
        if (err.code)
            ct_log_info("sim", "scenario change at %s:%u: %s", sc->file,
                        c->line, err.message);
    }
}

void ct_sim__midnight_cb(ct_timer *t, void *data)
{
    sim *s = data;
    int64_t day = ct_clock_uk_day(ct_sim__now(s)), prev = s->today;
    s->today = day;
    ct_timer_start(t, ct_sim__uk_time(day + 1, 0), ct_sim__midnight_cb, s);
    /* Who missed yesterday's ready date gets the episode that says why
     * before yesterday's bed-days are counted against it. */
    if (!s->run->stopped && !s->failed)
        ct_sim__update_delays(s);
    if (prev != NO_DAY)
        end_day(s, prev);
    if (s->run->stopped || s->failed || day > s->last_day)
        return;
    scenario_events(s, day);
    arrivals(s, day);
}
