/*
 * A simulation scenario (docs/simulation.md "Scenario file"): the winter a
 * simulated area meets. YAML read with the config's tree (yaml_tree.h) and
 * checked the same way, every error as file:line:col in one run: the
 * period, arrivals per day with weekday and seasonal shape (or a CSV of
 * daily counts), the pathway, needs and age mix, infection prevalence per
 * pathogen over time, outbreaks that close zones, lengths of stay per
 * facility kind, provider refusals and response times, delays that are not
 * the hub's, onward moves, capacity changes on dates and unit costs.
 *
 * A loaded ct_sim_scenario is immutable plain data that owns everything
 * below it. Names of organisations, facilities and zones are checked
 * against each area the scenario runs on (ct_sim_scenario_check), with
 * the scenario's positions.
 */
#ifndef CT_SIM_SCENARIO_H
#define CT_SIM_SCENARIO_H

#include "config.h"
#include "diag.h"
#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A distribution of a duration in days. */
typedef enum ct_sim_dist_kind {
    CT_SIM_FIXED,
    CT_SIM_EXPONENTIAL,
    CT_SIM_LOGNORMAL,
    CT_SIM_GAMMA,
} ct_sim_dist_kind;

typedef struct ct_sim_dist {
    ct_sim_dist_kind kind;
    double mean, sd; /* days; sd unused by fixed and exponential */
} ct_sim_dist;

/* A value over time: linear between points (day: days since 1970-01-01),
 * flat before the first and after the last. */
typedef struct ct_sim_point {
    int64_t day;
    double v;
} ct_sim_point;

typedef struct ct_sim_curve {
    ct_sim_point *p;
    size_t n;
} ct_sim_curve;

typedef struct ct_sim_source {
    char *org; /* referring organisation */
    double share;
    uint32_t line, col;
} ct_sim_source;

typedef struct ct_sim_needs {
    char **tags;
    size_t ntags;
    double share;
} ct_sim_needs;

#define CT_SIM_PATHWAYS 4 /* P0..P3 */

typedef struct ct_sim_pathway {
    double share;
    ct_sim_needs *needs; /* one set is drawn, by share */
    size_t nneeds;
    char *delay_reason;  /* reason while waiting for the hub */
    char *responsible;   /* organisation, "referrer" or NULL (the first
                            organisation the area's reason list accepts) */
    uint32_t line, col;
} ct_sim_pathway;

typedef struct ct_sim_ageband {
    int lo, hi;
    double share;
} ct_sim_ageband;

typedef struct ct_sim_infection {
    char *pathogen;
    ct_sim_curve prevalence; /* share positive at referral */
    uint32_t line, col;
} ct_sim_infection;

typedef struct ct_sim_outbreak {
    char *zone;           /* a zone, or NULL with kind */
    int kind;             /* facility kind whose zone is drawn; -1 */
    int64_t from_day;
    int days;
    char *reason;
    uint32_t line, col;
} ct_sim_outbreak;

typedef enum ct_sim_change_kind {
    CT_SIM_SURGE_OPEN,
    CT_SIM_SURGE_CLOSE,
    CT_SIM_ZONE_OPEN,
    CT_SIM_ZONE_CLOSE,
    CT_SIM_BLOCK,
    CT_SIM_UNBLOCK,
} ct_sim_change_kind;

typedef struct ct_sim_change {
    int64_t day;
    ct_sim_change_kind kind;
    char *target; /* facility (surge) or zone */
    int n;        /* beds; CT_SURGE_ALL for all surge beds */
    char *reason;
    uint32_t line, col;
} ct_sim_change;

typedef struct ct_sim_reason {
    char *code;
    double share;
    char *responsible; /* organisation, "referrer" or NULL */
} ct_sim_reason;

typedef struct ct_sim_provider {
    double decline;       /* chance a provider refuses a hold */
    ct_sim_dist response; /* hold to answer */
} ct_sim_provider;

typedef struct ct_sim_costs {
    double delayed_bed_day, surge_bed_day, designated_bed_day;
} ct_sim_costs;

typedef struct ct_sim_scenario {
    char *file;
    char *name;
    int64_t start_day; /* days since 1970-01-01 */
    int days, warmup_days;
    unsigned seeds;
    /* Arrivals: per_day on an ordinary day x weekday[Mon..Sun] x season. */
    double per_day;
    double weekday[7];
    ct_sim_curve season;
    int64_t *csv_counts; /* daily counts from the CSV, or NULL */
    int64_t csv_first_day;
    size_t ncsv;
    ct_sim_source *from; /* empty: organisations running acute beds */
    size_t nfrom;
    ct_sim_dist lead; /* referral to the ready date */
    int hour_from, hour_to; /* referrals arrive in [from, to) UK hours */
    ct_sim_pathway pathways[CT_SIM_PATHWAYS];
    ct_sim_ageband *ages;
    size_t nages;
    ct_sim_infection *infections;
    size_t ninfections;
    ct_sim_outbreak *outbreaks;
    size_t noutbreaks;
    ct_sim_change *changes;
    size_t nchanges;
    ct_sim_dist stay[CT_FACILITY__COUNT];
    ct_sim_provider providers[CT_FACILITY__COUNT];
    /* Onward moves: after a stay of kind k, the chance of a new referral
     * on pathway p (P1..P3). */
    double onward[CT_FACILITY__COUNT][CT_SIM_PATHWAYS];
    /* Delays that are not the hub's (medical, transport ...). */
    double other_share;
    ct_sim_dist other_length;
    ct_sim_reason *reasons;
    size_t nreasons;
    ct_sim_costs costs;
} ct_sim_scenario;

/*
 * Loads a scenario from text (file names it in diagnostics; dir resolves
 * the CSV's path). 0 and a new scenario in *out, or CT_ECONFIG with every
 * error in diags and *out NULL. Free with ct_sim_scenario_free.
 */
int ct_sim_scenario_load_text(const char *file, const char *dir,
                              const char *text, size_t len,
                              ct_sim_scenario **out, ct_diags *diags);
int ct_sim_scenario_load_file(const char *path, ct_sim_scenario **out,
                              ct_diags *diags);
void ct_sim_scenario_free(ct_sim_scenario *s);

/* Checks the scenario's names against an area (organisations, facilities,
 * zones, pathogens): 0, or CT_ECONFIG with the scenario's positions. */
int ct_sim_scenario_check(const ct_sim_scenario *s, const ct_config *cfg,
                          ct_diags *diags);

/* The value of curve c on day (dflt when it has no points). */
double ct_sim_curve_at(const ct_sim_curve *c, int64_t day, double dflt);

#endif
