/*
 * Isolation: infection status per person and pathogen, zone cohorts per
 * pathogen, closure of zones to admissions (outbreaks), and the
 * segregation rule, a hard rule of the host (docs/design.md principle 1).
 *
 * The rule, per pathogen, for a person placed in a bed of a zone:
 *   - an open cohort (or no cohort for that pathogen) takes anyone;
 *   - an isolation_room bed (bed tag) takes anyone isolating, whatever
 *     the zone's cohort;
 *   - a negative cohort refuses anyone isolating: positive before the end
 *     of their isolation (or with no end set yet), or awaiting a result;
 *   - a positive cohort takes only people who tested positive (isolating
 *     or past their isolation end); negative, untested or awaiting people
 *     are refused.
 * A person with no record, or "unknown", counts as not positive. The rule
 * is one function, ct_isolation_admits: holds, confirms and cohort changes
 * call it per zone cohort; candidate search applies a table of its answers
 * for the person (pathogen x cohort x isolation room) inside its query.
 *
 * A test result is a fact and is always recorded. When it makes a current
 * placement break the rule, a hold there is released (its referral waits
 * again) and an occupant is reported with an "isolation.breach" event, so
 * the hub moves the person or closes the zone; nobody is placed in breach.
 * The end of an isolation fires "isolation.ended" on the host clock.
 */
#ifndef CT_ISOLATION_H
#define CT_ISOLATION_H

#include "area.h"
#include "model.h"

#define CT_PATHOGEN_MAX 64 /* bytes of a pathogen name */

/* Whether status (ct_infection_status, or -1 for no record) with its
 * isolation end (INT64_MAX: none set) means isolating at now. */
bool ct_isolation_isolating(int status, int64_t isolation_end, int64_t now);

/*
 * The segregation rule for one pathogen: whether a zone with cohort takes
 * a person with status/isolation_end at now, in a bed that is an isolation
 * room or not. When it does not and why is not NULL, *why is a static
 * phrase for the person ("positive and isolating").
 */
bool ct_isolation_admits(ct_cohort cohort, int status, int64_t isolation_end,
                         int64_t now, bool isolation_room, const char **why);

typedef struct ct_infection_update {
    const char *nhs_number;
    const char *pathogen;
    ct_infection_status status;
    int64_t tested_at;     /* ms; 0 when not given; never in the future */
    int64_t isolation_end; /* ms; 0 when none; only with positive */
} ct_infection_update;

typedef struct ct_infection_result {
    int holds_released; /* holds that broke the rule and were released */
    int breaches;       /* occupants now in breach, reported by event */
    bool conflict;      /* a stricter record of another org was kept */
} ct_infection_result;

/* Records a test result (replacing the previous one for the pathogen),
 * creating the person if new; then releases or reports placements that
 * break the rule (above). res may be NULL. The host's own users (REPL,
 * hub tools) call this: their word is final. */
int ct_isolation_set_status(ct_capacity *c, const ct_infection_update *u,
                            const char *actor, ct_infection_result *res,
                            ct_cap_error *err);

/*
 * The same for a result an organisation reports (source_org, a
 * referral's from_org) with referral (0 when none). The stricter status
 * applies when organisations disagree: a report never lowers a record another source set while that
 * record still isolates the person (positive before its end, or
 * awaiting): not to a lesser status, nor to an earlier end. The record is
 * kept, an "infection.conflict" event says who reported what, and
 * res->conflict is set; the call still succeeds (the report is a fact the
 * referral keeps, docs/api.md "Access rules").
 */
int ct_isolation_report(ct_capacity *c, const ct_infection_update *u,
                        const char *source_org, int64_t referral,
                        const char *actor, ct_infection_result *res,
                        ct_cap_error *err);

typedef struct ct_infection {
    char pathogen[CT_PATHOGEN_MAX];
    ct_infection_status status;
    int64_t tested_at;     /* 0 when not known */
    int64_t isolation_end; /* 0 when none */
    bool isolating;        /* at the clock's now */
    bool end_notified;     /* isolation.ended has fired */
} ct_infection;

/* CT_ENOTFOUND when the person has no record for the pathogen. */
int ct_isolation_get(ct_capacity *c, const char *nhs_number,
                     const char *pathogen, ct_infection *out,
                     ct_cap_error *err);
/* Every record of a person as a new JSON array (empty when none). */
int ct_isolation_person_json(ct_capacity *c, const char *nhs_number,
                             json_t **out, ct_cap_error *err);

/* A zone's cohort for a pathogen (open when none is set). */
int ct_isolation_get_cohort(ct_capacity *c, const char *zone_id,
                            const char *pathogen, ct_cohort *out,
                            ct_cap_error *err);
/* Sets it; CT_ECOHORT naming the bed and the person's status when someone
 * held or occupied in the zone would break the new cohort. Setting the
 * current cohort changes nothing. */
int ct_isolation_set_cohort(ct_capacity *c, const char *zone_id,
                            const char *pathogen, ct_cohort cohort,
                            const char *actor, ct_cap_error *err);

/* Closes a zone to admissions with a reason; its holds are released (no
 * admission into a closed zone), occupants stay. released may be NULL. */
int ct_isolation_close_zone(ct_capacity *c, const char *zone_id,
                            const char *reason, const char *actor,
                            int *released, ct_cap_error *err);
int ct_isolation_open_zone(ct_capacity *c, const char *zone_id,
                           const char *actor, ct_cap_error *err);

/* Whether the rule lets the person (by NHS number) into bed_id now: 0, or
 * CT_ECOHORT with the reason. Only the segregation rule. */
int ct_isolation_check(ct_capacity *c, const char *nhs_number,
                       const char *bed_id, ct_cap_error *err);

/*
 * The isolation length of a pathogen, from the area's policy (a standard
 * plugin's setting, registered with ct.isolation_length): a positive
 * result recorded without an isolation end gets one, the length after its
 * test (after now when the test time is unknown), so nobody isolates for
 * ever. ms 0 forgets the pathogen's length; ct_isolation_clear_lengths
 * forgets all (before a plugin set registers its own). CT_EINVAL for an
 * empty or over-long name or a negative length.
 */
int ct_isolation_set_length(ct_capacity *c, const char *pathogen, int64_t ms);
void ct_isolation_clear_lengths(ct_capacity *c);
/* The length registered for pathogen, 0 when none. */
int64_t ct_isolation_length(ct_capacity *c, const char *pathogen);

/* Fires isolation.ended for every isolation ended by now, one transaction
 * (the timer calls this). Returns how many, or a CT_E* code. */
int ct_isolation_notify_due(ct_capacity *c);
/* The next isolation end not yet notified, INT64_MAX when none. */
int64_t ct_isolation_next_end(ct_capacity *c);

/* ---- internals for the area's units (holds, candidate search) ------- */

/* Opens isolation's own state on the handle (its lengths and its timer,
 * in the CT_AREA_ISOLATION slot); free closes it. CT_ENOMEM. */
int ct_isolation__new(ct_capacity *c);
void ct_isolation__free(ct_capacity *c);

/*
 * The segregation rule tabulated for one person at the clock's now, for
 * set-based queries: known is ",p1,p2," (pathogens with a record);
 * forbid[r] is ",p:c,..." (pathogen and cohort refused, r = 1 in an
 * isolation room); dflt[r] is ",c," (cohorts refused for pathogens with no
 * record). Every entry comes from ct_isolation_admits, so candidate search
 * applies the same rule as holds. Strings are owned; free with
 * ct_isolation__table_free.
 */
typedef struct ct_iso_table {
    ct_buf known, forbid[2], dflt[2];
} ct_iso_table;

int ct_isolation__table(ct_capacity *c, const char *nhs_number,
                        ct_iso_table *t, ct_cap_error *err);
void ct_isolation__table_free(ct_iso_table *t);
/* CT_ECOHORT naming the pathogen, zone and statuses unless the person may
 * be placed in bed_id now. zone_id is the bed's zone when the caller has
 * read it in this transaction (saves reading the bed again), else NULL. */
int ct_isolation__check_bed(ct_capacity *c, const char *nhs_number,
                            const char *bed_id, const char *zone_id,
                            ct_cap_error *err);
/* Restarts the isolation timer at the earliest un-notified end. */
void ct_isolation__schedule(ct_capacity *c);


#endif
