/*
 * Internals of one simulated winter shared by its files: sim.c (the run,
 * randomness, the hub's list, each person's life cycle, the hub's rounds,
 * delays) and sim_day.c (each UK day: its figures, its arrivals and the
 * scenario's changes). Not for use outside them.
 */
#ifndef CT_SIM_INT_H
#define CT_SIM_INT_H

#include "sim.h"

#include "capacity.h"
#include "clock.h"
#include "host.h"

#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stdint.h>

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define ROUND_MS HOUR_MS   /* the simulated hub retries waiting people */
#define FULL_ROUND_MS (6 * HOUR_MS)
#define SKIP_AFTER 3       /* failures of one pathway that end its round */
#define NO_DAY INT64_MIN

/* Streams: what a generator is seeded for (with the seed and indices). */
enum { S_DAY = 1, S_PERSON, S_ATTEMPT, S_OUTBREAK, S_ONWARD };

typedef enum pstate {
    P_NEW,     /* timer: arrival */
    P_WAITING, /* in the hub's list */
    P_HELD,    /* timer: the provider's answer */
    P_PLACED,  /* timer: discharge */
    P_HOME,    /* P0 or no bed: timer: discharge */
    P_OUT,     /* discharged; timer: the end of the stay */
    P_DONE,
} pstate;

typedef struct sim sim;

typedef struct person {
    ct_timer t;
    sim *s;
    size_t idx;
    pstate st;
    int64_t referral;
    char nhs[11];
    char from[CT_CAP_ID_MAX];
    int pathway, age, needs, kind;
    bool positive[8];
    int64_t arrive_at, ready_day, other_until; /* other_until: a UK day */
    int other_reason; /* -1 when none */
    int attempt, onward;
    char bed_org[CT_CAP_ID_MAX];
    int cur_reason, cur_org; /* recorded delay episode: name indices, -1 */
    double u_stay, u_other_len, u_other_reason, u_lead;
    double u_decline; /* the provider's answer to the current hold */
    const ct_sim_arrival *rp; /* replayed: its needs, or NULL */
} person;

struct sim {
    const ct_sim_options *o;
    const ct_sim_scenario *sc;
    const ct_config *cfg;
    ct_sim_run *run;
    ct_store *store;
    ct_clock *clock;
    ct_host *host;
    ct_capacity *cap;
    ct_plugins *pl;
    gsl_rng *rng;
    ct_timer midnight, round, escalate;
    person **people;
    size_t npeople, cap_people;
    person **byref; /* referral id -> person */
    size_t nbyref;
    person **wait;  /* the hub's list, in order of arrival */
    size_t nwait, cap_wait;
    unsigned serial;     /* NHS number serials handed out */
    int64_t today;       /* the UK day now */
    int64_t first_day, last_day; /* recorded */
    int64_t last_full_round;
    bool dirty;
    int level;
    double level_hours[5];
    int plugin_failures_seen;
    ct_sim_day cur;            /* the day being recorded */
    double *day_waits[CT_SIM_PATHWAYS];
    size_t nday_waits[CT_SIM_PATHWAYS], cap_day_waits[CT_SIM_PATHWAYS];
    char **from_orgs;
    double *from_share;
    size_t nfrom;
    size_t next_replay;
    int failed; /* a CT_E* code that stops the run */
};


/* The run's generator seeded for stream what at (a, b): the same draws
 * for the same seed and coordinates, whatever else the run did. */
gsl_rng *ct_sim__stream(sim *s, int what, uint64_t a, uint64_t b);

/* A duration in days from a uniform u in (0, 1) (inverse CDF). */
double ct_sim__draw(const ct_sim_dist *d, double u);

/* The index of n shares (each stride bytes apart) that u in [0, 1) falls
 * in. */
int ct_sim__pick(const double *share, size_t n, size_t stride, double u);

/* The host clock's time now. */
int64_t ct_sim__now(sim *s);

/* The host clock time of hh:00 UK time on UK day day. */
int64_t ct_sim__uk_time(int64_t day, int hour);

/* Starts p's timer at when (now at the earliest). */
void ct_sim__at(person *p, int64_t when);

/* At the start of the day: the delay episodes of everyone still in
 * hospital past their ready date; people waiting are tested again. */
void ct_sim__update_delays(sim *s);

/* The next never-issued NHS number of the 999 range (out: 10 digits). */
void ct_sim__nhs_number(sim *s, char out[11]);

/* The UK midnight timer: the day's figures, then the next day's
 * scenario changes and arrivals (sim_day.c). */
void ct_sim__midnight_cb(ct_timer *t, void *data);

#endif
