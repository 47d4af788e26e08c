/*
 * The simulator behind `caretide sim` (docs/simulation.md): a winter run on
 * the virtual clock through the host every front-end runs (ct_host_open on
 * a scratch store in memory, the area's real config and plugins), driven by
 * a scenario (sim_scenario.h) through the use cases the API offers: intake
 * (ct_intake_referral), confirm and decline, discharge, complete, delay
 * episodes checked by the area's reason list, the escalation round, and
 * the hub's retry of waiting referrals through the same decision pipeline.
 *
 * Deterministic per seed: every random draw comes from a GSL generator
 * seeded from (seed, what, whom), and a person's draws are uniforms turned
 * into durations by inverse CDFs, so every variant meets the same people
 * with the same needs, stays and refusals (common random numbers) and the
 * differences between variants are paired.
 *
 * A segregation breach (the host's rule checked again on every hold and
 * placement, and any isolation.breach event) stops the run with the
 * decision that caused it.
 */
#ifndef CT_SIM_H
#define CT_SIM_H

#include "config.h"
#include "diag.h"
#include "sim_scenario.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

/* One day of one run, recorded at the day's end (UK midnight). */
typedef struct ct_sim_day {
    int64_t day; /* days since 1970-01-01 */
    int referrals;       /* received that day */
    int discharges;      /* discharged that day */
    int on_ready_date;   /* of those, on their discharge ready date */
    int past_ready_date; /* in hospital past their ready date, day end */
    int waits14, waits21; /* of those, delayed 14+ / 21+ days */
    int waiting;          /* waiting for the hub at day end */
    double bed_days_lost; /* delay days that day */
    double lost_by_pathway[CT_SIM_PATHWAYS];
    double designated_beds, idle_designated; /* bed-days */
    double surge_beds;                       /* surge beds open, day end */
    double level_hours[5];                   /* hours at level 1..4 */
    int level;                               /* day end */
    double occupancy[CT_FACILITY__COUNT];    /* occupied / open, day end */
    int breaches, plugin_failures;
    double cost;
    /* Delay days of people discharged that day by pathway (median, 90th
     * percentile); -1 when none. */
    double wait_median[CT_SIM_PATHWAYS], wait_p90[CT_SIM_PATHWAYS];
} ct_sim_day;

/* Bed-days lost on a day to one pathway, reason and organisation. */
typedef struct ct_sim_lost {
    int64_t day;
    int pathway;
    int reason, org; /* indices into the run's names */
    double bed_days;
} ct_sim_lost;

/* A referral as replayed from an area's audit log (ct_sim_replay_load). */
typedef struct ct_sim_arrival {
    int64_t at;        /* host clock */
    char from_org[128];
    int64_t ready_day; /* days since 1970-01-01 */
    int pathway;       /* requested, -1 when none */
    int age;
    char needs[256];   /* comma separated */
    bool positive[8];  /* per scenario infection */
} ct_sim_arrival;

typedef struct ct_sim_run {
    char *variant;
    uint64_t seed;
    ct_sim_day *days;
    int ndays;
    ct_sim_lost *lost;
    size_t nlost;
    char **names; /* reasons and organisations, indexed by ct_sim_lost */
    size_t nnames;
    double *waits[CT_SIM_PATHWAYS]; /* every recorded delay, days */
    size_t nwaits[CT_SIM_PATHWAYS];
    int referrals, decisions;
    char *stopped; /* why the run stopped early (a breach), or NULL */
} ct_sim_run;

/* Progress: of a run, days done out of days. */
typedef void (*ct_sim_progress_fn)(void *ud, const char *variant,
                                   uint64_t seed, int done, int days);

typedef struct ct_sim_options {
    const ct_sim_scenario *scenario;
    const char *variant;  /* its name in the results */
    const ct_config *cfg; /* the variant's area */
    uint64_t seed;
    /* Replayed arrivals instead of the scenario's (time order). */
    const ct_sim_arrival *replay;
    size_t nreplay;
    ct_sim_progress_fn progress;
    void *progress_ud;
} ct_sim_options;

/*
 * Runs one variant on one seed into *out (the caller frees it with
 * ct_sim_run_free). 0 also when the run stopped on a breach (out->stopped
 * says why); a CT_E* code with diags when the host cannot be opened on the
 * area or the scenario names what the area lacks.
 */
int ct_sim_run_one(const ct_sim_options *o, ct_sim_run *out, ct_diags *d);
void ct_sim_run_free(ct_sim_run *r);

/*
 * The config of a variant: the area's YAML (area_text, named area_file,
 * relative paths resolved against area_dir) with the overlay at
 * overlay_path merged in (sim_overlay.c), written to out_path (may be
 * NULL) and loaded by the config loader, which names its errors there.
 */
int ct_sim_variant_config(const char *area_file, const char *area_text,
                          size_t area_len, const char *area_dir,
                          const char *overlay_path, const char *out_path,
                          ct_config **out, ct_diags *d);

/*
 * Reads the referrals created from from_day to to_day (inclusive, UK days)
 * from an area's database (read-only) as arrivals, with their infections
 * as the scenario's pathogens. *out is the caller's to free.
 */
int ct_sim_replay_load(const char *db_path, int64_t from_day, int64_t to_day,
                       const ct_sim_scenario *sc, ct_sim_arrival **out,
                       size_t *n, ct_diags *d);

/*
 * The outputs (sim_out.c) of runs (variant-major, seeds in order; the
 * first variant is the baseline the others are compared with) into dir:
 * days.csv, lost.csv, summary.csv, results.json and report.html. The
 * summary table is also printed to table (may be NULL).
 */
int ct_sim_write(const char *dir, const ct_sim_scenario *sc,
                 const char *const *variants, size_t nvariants,
                 const ct_sim_run *runs, size_t seeds, FILE *table,
                 ct_diags *d);

/* report.html in dir from the results.json document (sim_report.c). */
int ct_sim_report(const char *dir, const json_t *results, ct_diags *d);

#endif
