/*
 * Internals of the scenario reader shared by its files: sim_scenario.c
 * (the value readers, the area's changes, stays, providers, costs, the
 * entry points and the check against an area) and sim_scenario_people.c
 * (who arrives: the arrival curves and CSV, pathways, ages, infections,
 * outbreaks). Not for use outside them.
 */
#ifndef CT_SIM_SCENARIO_INT_H
#define CT_SIM_SCENARIO_INT_H

#include "sim_scenario.h"

#include "config_read.h"
#include "yaml_tree.h"

#include <stdbool.h>
#include <stdint.h>

#define DAY_MS 86400000LL
#define MAX_DAYS 3660

typedef struct loader {
    ct_config_reader rd; /* the file, its diagnostics, the error count */
    const char *dir;
} loader;

/* Node readers: each reports what is wrong at n, naming it what. scalar:
 * the value (borrowed from the tree) or NULL; string: a copy. number,
 * integer: within [lo, hi]; date: a UK day "YYYY-MM-DD"; each true with
 * *out set, else false. */
const char *ct_sim_scenario__scalar(loader *l, const ct_node *n,
                                    const char *what);
char *ct_sim_scenario__string(loader *l, const ct_node *n, const char *what);
bool ct_sim_scenario__number(loader *l, const ct_node *n, const char *what,
                             double lo, double hi, double *out);
bool ct_sim_scenario__integer(loader *l, const ct_node *n, const char *what,
                              long lo, long hi, long *out);
bool ct_sim_scenario__date(loader *l, const ct_node *n, const char *what,
                           int64_t *day);

/* A duration distribution: a number of days (fixed) or {dist, mean, sd}. */
void ct_sim_scenario__dist(loader *l, const ct_node *n, const char *what,
                           ct_sim_dist *out);

/* [{date, <key>: v}, ...] in date order, each v in [0, hi]. */
void ct_sim_scenario__curve(loader *l, const ct_node *n, const char *key,
                            double hi, ct_sim_curve *out);

/* Reports shares (at n) that do not add up to 1, within rounding. */
void ct_sim_scenario__sum_one(loader *l, const ct_node *n, double sum,
                              const char *what);

/* A 'responsible' organisation: a copy, or NULL for none or "auto". */
char *ct_sim_scenario__responsible(loader *l, const ct_node *n);

/* The sections of who arrives (sim_scenario_people.c). */
void ct_sim_scenario__load_arrivals(loader *l, const ct_node *n,
                                    ct_sim_scenario *s);
void ct_sim_scenario__load_pathways(loader *l, const ct_node *n,
                                    ct_sim_scenario *s);
void ct_sim_scenario__load_ages(loader *l, const ct_node *n,
                                ct_sim_scenario *s);
void ct_sim_scenario__load_infections(loader *l, const ct_node *n,
                                      ct_sim_scenario *s);
void ct_sim_scenario__load_outbreaks(loader *l, const ct_node *n,
                                     ct_sim_scenario *s);

#endif
