/*
 * What a simulation writes (sim.h ct_sim_write, docs/simulation.md
 * "Reading the results"): the days of every run (days.csv), bed-days lost
 * by pathway, reason and organisation (lost.csv), the summary per variant
 * with intervals over seeds and the differences from the baseline paired
 * by seed (summary.csv, and a table on the terminal), all of it as
 * results.json, and the report (report.html, sim_report.c).
 *
 * Numbers are printed with fixed formats so that the same seed writes the
 * same bytes.
 */
#include "sim.h"

#include "clock.h"
#include "error.h"
#include "util.h"

#include <gsl/gsl_cdf.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef double (*metric_fn)(const ct_sim_run *r, int arg);

typedef struct metric {
    const char *name;
    const char *label;
    metric_fn fn;
    int arg;
} metric;

static double sum_field(const ct_sim_run *r, size_t off)
{
    double s = 0;
    for (int i = 0; i < r->ndays; i++)
        s += *(const double *)((const char *)&r->days[i] + off);
    return s;
}

static double m_referrals(const ct_sim_run *r, int a)
{
    (void)a;
    double s = 0;
    for (int i = 0; i < r->ndays; i++)
        s += r->days[i].referrals;
    return s;
}

static double m_on_drd(const ct_sim_run *r, int a)
{
    (void)a;
    double on = 0, all = 0;
    for (int i = 0; i < r->ndays; i++) {
        on += r->days[i].on_ready_date;
        all += r->days[i].discharges;
    }
    return all > 0 ? on / all : 0;
}

static double m_lost(const ct_sim_run *r, int a)
{
    (void)a;
    return sum_field(r, offsetof(ct_sim_day, bed_days_lost));
}

static double m_lost_pathway(const ct_sim_run *r, int p)
{
    double s = 0;
    for (int i = 0; i < r->ndays; i++)
        s += r->days[i].lost_by_pathway[p];
    return s;
}

static double m_past(const ct_sim_run *r, int a)
{
    (void)a;
    double s = 0;
    for (int i = 0; i < r->ndays; i++)
        s += r->days[i].past_ready_date;
    return r->ndays ? s / r->ndays : 0;
}

/* People discharged after waiting at least a days past the ready date. */
static double m_waits_over(const ct_sim_run *r, int a)
{
    double n = 0;
    for (int p = 0; p < CT_SIM_PATHWAYS; p++)
        for (size_t i = 0; i < r->nwaits[p]; i++)
            n += r->waits[p][i] >= a;
    return n;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double q_of(const ct_sim_run *r, int p, double q)
{
    size_t n = r->nwaits[p];
    if (!n)
        return 0;
    double *v = malloc(n * sizeof *v);
    if (!v)
        return 0;
    memcpy(v, r->waits[p], n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_d);
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)h;
    double x = lo + 1 < n ? v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo])
                          : v[lo];
    free(v);
    return x;
}

static double m_median(const ct_sim_run *r, int p)
{
    return q_of(r, p, 0.5);
}

static double m_p90(const ct_sim_run *r, int p)
{
    return q_of(r, p, 0.9);
}

static double m_idle(const ct_sim_run *r, int a)
{
    (void)a;
    return sum_field(r, offsetof(ct_sim_day, idle_designated));
}

static double m_designated(const ct_sim_run *r, int a)
{
    (void)a;
    return sum_field(r, offsetof(ct_sim_day, designated_beds));
}

static double m_surge(const ct_sim_run *r, int a)
{
    (void)a;
    return sum_field(r, offsetof(ct_sim_day, surge_beds));
}

static double m_level(const ct_sim_run *r, int lv)
{
    double h = 0;
    for (int i = 0; i < r->ndays; i++)
        h += r->days[i].level_hours[lv];
    return h / 24;
}

static double m_occupancy(const ct_sim_run *r, int k)
{
    double s = 0;
    for (int i = 0; i < r->ndays; i++)
        s += r->days[i].occupancy[k];
    return r->ndays ? s / r->ndays : 0;
}

static double m_cost(const ct_sim_run *r, int a)
{
    (void)a;
    return sum_field(r, offsetof(ct_sim_day, cost));
}

static double m_breaches(const ct_sim_run *r, int a)
{
    (void)a;
    double s = 0;
    for (int i = 0; i < r->ndays; i++)
        s += r->days[i].breaches;
    return s + (r->stopped && !r->ndays);
}

static double m_failures(const ct_sim_run *r, int a)
{
    (void)a;
    double s = 0;
    for (int i = 0; i < r->ndays; i++)
        s += r->days[i].plugin_failures;
    return s;
}

static const metric metrics[] = {
    {"referrals", "referrals", m_referrals, 0},
    {"on_ready_date_share", "share discharged on the ready date", m_on_drd,
     0},
    {"past_ready_date_mean", "people past their ready date (daily mean)",
     m_past, 0},
    {"waits_14_plus", "people who waited 14+ days", m_waits_over, 14},
    {"waits_21_plus", "people who waited 21+ days", m_waits_over, 21},
    {"bed_days_lost", "bed-days lost to delay", m_lost, 0},
    {"bed_days_lost_P0", "  of them P0", m_lost_pathway, 0},
    {"bed_days_lost_P1", "  of them P1", m_lost_pathway, 1},
    {"bed_days_lost_P2", "  of them P2", m_lost_pathway, 2},
    {"bed_days_lost_P3", "  of them P3", m_lost_pathway, 3},
    {"wait_median_P1", "wait P1, median (days)", m_median, 1},
    {"wait_p90_P1", "wait P1, 90th percentile (days)", m_p90, 1},
    {"wait_median_P2", "wait P2, median (days)", m_median, 2},
    {"wait_p90_P2", "wait P2, 90th percentile (days)", m_p90, 2},
    {"wait_median_P3", "wait P3, median (days)", m_median, 3},
    {"wait_p90_P3", "wait P3, 90th percentile (days)", m_p90, 3},
    {"designated_bed_days", "designated bed-days open", m_designated, 0},
    {"idle_designated_bed_days", "idle designated bed-days", m_idle, 0},
    {"surge_bed_days", "surge bed-days", m_surge, 0},
    {"days_at_level_1", "days at escalation level 1", m_level, 1},
    {"days_at_level_2", "days at escalation level 2", m_level, 2},
    {"days_at_level_3", "days at escalation level 3", m_level, 3},
    {"days_at_level_4", "days at escalation level 4", m_level, 4},
    {"occupancy_step_down", "occupancy step-down (mean)", m_occupancy,
     CT_FACILITY_STEP_DOWN},
    {"occupancy_rehab", "occupancy rehab (mean)", m_occupancy,
     CT_FACILITY_REHAB},
    {"occupancy_care_home", "occupancy care homes (mean)", m_occupancy,
     CT_FACILITY_CARE_HOME},
    {"occupancy_home_care", "occupancy home care (mean)", m_occupancy,
     CT_FACILITY_HOME_CARE},
    {"occupancy_virtual_ward", "occupancy virtual wards (mean)", m_occupancy,
     CT_FACILITY_VIRTUAL_WARD},
    {"cost", "cost (GBP)", m_cost, 0},
    {"breaches", "segregation breaches (must be 0)", m_breaches, 0},
    {"plugin_failures", "plugin failures", m_failures, 0},
};
#define NMETRICS (sizeof metrics / sizeof *metrics)

/* Mean and the half width of its 95% interval (t, n - 1 degrees of
 * freedom); NAN half width for one value. */
static void interval(const double *v, size_t n, double *mean, double *half)
{
    double m = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        m += v[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - m) * (v[i] - m);
    *mean = m;
    *half = n > 1 ? gsl_cdf_tdist_Pinv(0.975, (double)(n - 1)) *
                        sqrt(ss / (double)(n - 1)) / sqrt((double)n)
                  : NAN;
}

/* %.6g, and "" for NAN (CSV) */
static void num(FILE *f, double v)
{
    if (isnan(v))
        return;
    if (v == 0)
        v = 0; /* no "-0" */
    fprintf(f, "%.6g", v);
}

static FILE *open_out(const char *dir, const char *name, ct_diags *d,
                      char **path)
{
    ct_buf b = {0};
    ct_buf_printf(&b, "%s/%s", dir, name);
    FILE *f = b.data ? fopen(b.data, "w") : NULL;
    if (!f)
        ct_diags_add(d, b.data ? b.data : name, 0, 0, "cannot write: %s", strerror(errno));
    if (path)
        *path = b.data;
    else
        ct_buf_free(&b);
    return f;
}

static int close_out(FILE *f, const char *what, ct_diags *d)
{
    int bad = ferror(f);
    if (fclose(f) || bad) {
        ct_diags_add(d, what, 0, 0, "cannot write");
        return CT_EIO;
    }
    return 0;
}

static int write_days(const char *dir, const ct_sim_run *runs, size_t n,
                      ct_diags *d)
{
    FILE *f = open_out(dir, "days.csv", d, NULL);
    if (!f)
        return CT_EIO;
    fputs("variant,seed,date,referrals,discharges,on_ready_date,"
          "past_ready_date,waits_14_plus,waits_21_plus,waiting,"
          "bed_days_lost,lost_P0,lost_P1,lost_P2,lost_P3,"
          "designated_beds,idle_designated_beds,surge_beds_open,"
          "hours_level_1,hours_level_2,hours_level_3,hours_level_4,"
          "escalation_level,occupancy_step_down,occupancy_rehab,"
          "occupancy_care_home,occupancy_home_care,occupancy_virtual_ward,"
          "wait_median_P0,wait_p90_P0,wait_median_P1,wait_p90_P1,"
          "wait_median_P2,wait_p90_P2,wait_median_P3,wait_p90_P3,"
          "breaches,plugin_failures,cost\n",
          f);
    for (size_t r = 0; r < n; r++) {
        for (int i = 0; i < runs[r].ndays; i++) {
            const ct_sim_day *x = &runs[r].days[i];
            char date[11];
            ct_clock_day_text(x->day, date);
            fprintf(f, "%s,%llu,%s,%d,%d,%d,%d,%d,%d,%d,", runs[r].variant,
                    (unsigned long long)runs[r].seed, date, x->referrals,
                    x->discharges, x->on_ready_date, x->past_ready_date,
                    x->waits14, x->waits21, x->waiting);
            num(f, x->bed_days_lost);
            for (int p = 0; p < CT_SIM_PATHWAYS; p++) {
                fputc(',', f);
                num(f, x->lost_by_pathway[p]);
            }
            fputc(',', f);
            num(f, x->designated_beds);
            fputc(',', f);
            num(f, x->idle_designated);
            fputc(',', f);
            num(f, x->surge_beds);
            for (int l = 1; l <= 4; l++) {
                fputc(',', f);
                num(f, x->level_hours[l]);
            }
            fprintf(f, ",%d", x->level);
            for (int k = CT_FACILITY_STEP_DOWN; k < CT_FACILITY__COUNT; k++) {
                fputc(',', f);
                num(f, x->occupancy[k]);
            }
            for (int p = 0; p < CT_SIM_PATHWAYS; p++) {
                fputc(',', f);
                num(f, x->wait_median[p] < 0 ? NAN : x->wait_median[p]);
                fputc(',', f);
                num(f, x->wait_p90[p] < 0 ? NAN : x->wait_p90[p]);
            }
            fprintf(f, ",%d,%d,", x->breaches, x->plugin_failures);
            num(f, x->cost);
            fputc('\n', f);
        }
    }
    return close_out(f, "days.csv", d);
}

static void csv_text(FILE *f, const char *s)
{
    bool q = strpbrk(s, ",\"\n") != NULL;
    if (!q) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_lost(const char *dir, const ct_sim_run *runs, size_t n,
                      ct_diags *d)
{
    static const char *const pw[] = {"P0", "P1", "P2", "P3"};
    FILE *f = open_out(dir, "lost.csv", d, NULL);
    if (!f)
        return CT_EIO;
    fputs("variant,seed,date,pathway,reason,responsible_org,bed_days\n", f);
    for (size_t r = 0; r < n; r++) {
        const ct_sim_run *x = &runs[r];
        for (size_t i = 0; i < x->nlost; i++) {
            const ct_sim_lost *l = &x->lost[i];
            char date[11];
            ct_clock_day_text(l->day, date);
            fprintf(f, "%s,%llu,%s,%s,", x->variant,
                    (unsigned long long)x->seed, date, pw[l->pathway]);
            csv_text(f, l->reason >= 0 ? x->names[l->reason] : "");
            fputc(',', f);
            csv_text(f, l->org >= 0 ? x->names[l->org] : "");
            fputc(',', f);
            num(f, l->bed_days);
            fputc('\n', f);
        }
    }
    return close_out(f, "lost.csv", d);
}

/* One summary row: variant v's metric m over seeds, and its paired
 * difference from variant 0. */
typedef struct row {
    double mean, half, dmean, dhalf;
} row;

static row summarise(const ct_sim_run *runs, size_t v, size_t seeds,
                     const metric *m)
{
    double *a = calloc(seeds, sizeof *a), *b = calloc(seeds, sizeof *b);
    row out = {NAN, NAN, NAN, NAN};
    if (!a || !b) {
        free(a);
        free(b);
        return out;
    }
    for (size_t s = 0; s < seeds; s++) {
        a[s] = m->fn(&runs[v * seeds + s], m->arg);
        b[s] = a[s] - m->fn(&runs[s], m->arg);
    }
    interval(a, seeds, &out.mean, &out.half);
    if (v > 0)
        interval(b, seeds, &out.dmean, &out.dhalf);
    free(a);
    free(b);
    return out;
}

static void json_num(json_t *o, const char *k, double v)
{
    json_object_set_new(o, k, isnan(v) ? json_null() : json_real(v));
}

int ct_sim_write(const char *dir, const ct_sim_scenario *sc,
                 const char *const *variants, size_t nvariants,
                 const ct_sim_run *runs, size_t seeds, FILE *table,
                 ct_diags *d)
{
    size_t n = nvariants * seeds;
    int rc;
    if ((rc = write_days(dir, runs, n, d)) ||
        (rc = write_lost(dir, runs, n, d)))
        return rc;
    FILE *f = open_out(dir, "summary.csv", d, NULL);
    if (!f)
        return CT_EIO;
    fputs("variant,metric,mean,ci95_low,ci95_high,diff_from_base,"
          "diff_ci95_low,diff_ci95_high\n",
          f);
    json_t *summary = json_array();
    if (table) {
        fprintf(table, "%-44s", "metric (mean over seeds [95% interval])");
        for (size_t v = 0; v < nvariants; v++)
            fprintf(table, " | %-30s", variants[v]);
        fputc('\n', table);
    }
    for (size_t i = 0; i < NMETRICS; i++) {
        const metric *m = &metrics[i];
        if (table)
            fprintf(table, "%-44s", m->label);
        for (size_t v = 0; v < nvariants; v++) {
            row x = summarise(runs, v, seeds, m);
            fprintf(f, "%s,%s,", variants[v], m->name);
            num(f, x.mean);
            fputc(',', f);
            num(f, x.mean - x.half);
            fputc(',', f);
            num(f, x.mean + x.half);
            fputc(',', f);
            num(f, x.dmean);
            fputc(',', f);
            num(f, x.dmean - x.dhalf);
            fputc(',', f);
            num(f, x.dmean + x.dhalf);
            fputc('\n', f);
            json_t *o = json_object();
            json_object_set_new(o, "variant", json_string(variants[v]));
            json_object_set_new(o, "metric", json_string(m->name));
            json_object_set_new(o, "label", json_string(m->label));
            json_num(o, "mean", x.mean);
            json_num(o, "ci95_half", x.half);
            json_num(o, "diff_from_base", x.dmean);
            json_num(o, "diff_ci95_half", x.dhalf);
            json_array_append_new(summary, o);
            if (!table)
                continue;
            char cell[64];
            if (v == 0 || isnan(x.dmean))
                snprintf(cell, sizeof cell, isnan(x.half) ? "%.4g"
                                                          : "%.4g [±%.3g]",
                         x.mean, x.half);
            else
                snprintf(cell, sizeof cell,
                         isnan(x.dhalf) ? "%.4g (%+.3g)"
                                        : "%.4g (%+.3g ±%.3g)",
                         x.mean, x.dmean, x.dhalf);
            fprintf(table, " | %-30s", cell);
        }
        if (table)
            fputc('\n', table);
    }
    if ((rc = close_out(f, "summary.csv", d))) {
        json_decref(summary);
        return rc;
    }
    /* results.json: the scenario, the summary, every run's days. */
    json_t *root = json_object(), *jr = json_array();
    json_object_set_new(root, "scenario", json_string(sc->name));
    char start[11];
    ct_clock_day_text(sc->start_day, start);
    json_object_set_new(root, "start", json_string(start));
    json_object_set_new(root, "days", json_integer(sc->days));
    json_object_set_new(root, "seeds", json_integer((json_int_t)seeds));
    json_t *jv = json_array();
    for (size_t v = 0; v < nvariants; v++)
        json_array_append_new(jv, json_string(variants[v]));
    json_object_set_new(root, "variants", jv);
    json_object_set_new(root, "summary", summary);
    for (size_t r = 0; r < n; r++) {
        const ct_sim_run *x = &runs[r];
        json_t *o = json_object(), *days = json_array();
        json_object_set_new(o, "variant", json_string(x->variant));
        json_object_set_new(o, "seed", json_integer((json_int_t)x->seed));
        json_object_set_new(o, "stopped",
                            x->stopped ? json_string(x->stopped)
                                       : json_null());
        for (int i = 0; i < x->ndays; i++) {
            const ct_sim_day *y = &x->days[i];
            char date[11];
            ct_clock_day_text(y->day, date);
            json_t *dj = json_pack(
                "{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:f, "
                "s:f, s:i, s:i, s:i, s:f}",
                "date", date, "referrals", y->referrals, "discharges",
                y->discharges, "on_ready_date", y->on_ready_date,
                "past_ready_date", y->past_ready_date, "waits_14_plus",
                y->waits14, "waits_21_plus", y->waits21, "waiting", y->waiting,
                "bed_days_lost", y->bed_days_lost, "idle_designated_beds",
                y->idle_designated, "surge_beds_open", y->surge_beds,
                "cost", y->cost, "escalation_level", y->level, "breaches",
                y->breaches, "plugin_failures", y->plugin_failures,
                "occupancy_care_home", y->occupancy[CT_FACILITY_CARE_HOME]);
            if (dj)
                json_array_append_new(days, dj);
        }
        json_object_set_new(o, "days", days);
        json_array_append_new(jr, o);
    }
    json_object_set_new(root, "runs", jr);
    char *path = NULL;
    FILE *jf = open_out(dir, "results.json", d, &path);
    if (!jf) {
        free(path);
        json_decref(root);
        return CT_EIO;
    }
    json_dumpf(root, jf, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
    fputc('\n', jf);
    rc = close_out(jf, path, d);
    free(path);
    if (rc == 0)
        rc = ct_sim_report(dir, root, d);
    json_decref(root);
    return rc;
}
