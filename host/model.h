/*
 * The enumerations of the domain model (docs/design.md "Domain model") with their
 * wire names. Every unit that stores, validates or prints these uses the
 * tables here, so a name is spelled in one place.
 */
#ifndef CT_MODEL_H
#define CT_MODEL_H

#define CT_FACILITY_KIND_MAP(X)                                      \
    X(ACUTE, "acute")                                                \
    X(STEP_DOWN, "step_down")                                        \
    X(REHAB, "rehab")                                                \
    X(CARE_HOME, "care_home")                                        \
    X(HOME_CARE, "home_care")                                        \
    X(VIRTUAL_WARD, "virtual_ward")

#define CT_COHORT_MAP(X)                                             \
    X(OPEN, "open")                                                  \
    X(POSITIVE, "positive")                                          \
    X(NEGATIVE, "negative")

#define CT_ROLE_MAP(X)                                               \
    X(HUB, "hub")                                                    \
    X(HOSPITAL, "hospital")                                          \
    X(PROVIDER, "provider")                                          \
    X(VIEWER, "viewer")                                              \
    X(ADMIN, "admin")

#define CT_BED_STATUS_MAP(X)                                         \
    X(AVAILABLE, "available")                                        \
    X(HELD, "held")                                                  \
    X(OCCUPIED, "occupied")                                          \
    X(BLOCKED, "blocked")

#define CT_REFERRAL_STATE_MAP(X)                                     \
    X(RECEIVED, "received")                                          \
    X(TRIAGED, "triaged")                                            \
    X(WAITING, "waiting")                                            \
    X(HELD, "held")                                                  \
    X(PLACED, "placed")                                              \
    X(DISCHARGED, "discharged")                                      \
    X(COMPLETED, "completed")                                        \
    X(CANCELLED, "cancelled")

#define CT_PATHWAY_MAP(X)                                            \
    X(P0, "P0")                                                      \
    X(P1, "P1")                                                      \
    X(P2, "P2")                                                      \
    X(P3, "P3")                                                      \
    X(STEP_DOWN, "step_down")

#define CT_INFECTION_STATUS_MAP(X)                                   \
    X(NEGATIVE, "negative")                                          \
    X(POSITIVE, "positive")                                          \
    X(AWAITING, "awaiting")                                          \
    X(UNKNOWN, "unknown")

/* Where a person usually lives: the discharge hub sends a care-home
 * resident back to their home (P0) rather than into a new placement. */
#define CT_RESIDENCE_MAP(X)                                          \
    X(HOME, "home")                                                  \
    X(CARE_HOME, "care_home")                                        \
    X(SUPPORTED_LIVING, "supported_living")                          \
    X(NO_FIXED_ABODE, "no_fixed_abode")                              \
    X(OTHER, "other")

typedef enum ct_facility_kind {
#define X(n, s) CT_FACILITY_##n,
    CT_FACILITY_KIND_MAP(X)
#undef X
    CT_FACILITY__COUNT
} ct_facility_kind;

typedef enum ct_cohort {
#define X(n, s) CT_COHORT_##n,
    CT_COHORT_MAP(X)
#undef X
    CT_COHORT__COUNT
} ct_cohort;

typedef enum ct_role {
#define X(n, s) CT_ROLE_##n,
    CT_ROLE_MAP(X)
#undef X
    CT_ROLE__COUNT
} ct_role;

typedef enum ct_bed_status {
#define X(n, s) CT_BED_##n,
    CT_BED_STATUS_MAP(X)
#undef X
    CT_BED__COUNT
} ct_bed_status;

typedef enum ct_referral_state {
#define X(n, s) CT_REFERRAL_##n,
    CT_REFERRAL_STATE_MAP(X)
#undef X
    CT_REFERRAL__COUNT
} ct_referral_state;

typedef enum ct_pathway {
#define X(n, s) CT_PATHWAY_##n,
    CT_PATHWAY_MAP(X)
#undef X
    CT_PATHWAY__COUNT
} ct_pathway;

typedef enum ct_residence {
#define X(n, s) CT_RESIDENCE_##n,
    CT_RESIDENCE_MAP(X)
#undef X
    CT_RESIDENCE__COUNT
} ct_residence;

typedef enum ct_infection_status {
#define X(n, s) CT_INFECTION_##n,
    CT_INFECTION_STATUS_MAP(X)
#undef X
    CT_INFECTION__COUNT
} ct_infection_status;

/* Wire names (static strings) and their reverse lookups, which return the
 * value or -1 for an unknown name. */
const char *ct_facility_kind_name(ct_facility_kind k);
int ct_facility_kind_parse(const char *s);
const char *ct_cohort_name(ct_cohort c);
int ct_cohort_parse(const char *s);
const char *ct_role_name(ct_role r);
int ct_role_parse(const char *s);
const char *ct_bed_status_name(ct_bed_status s);
int ct_bed_status_parse(const char *s);
const char *ct_referral_state_name(ct_referral_state s);
int ct_referral_state_parse(const char *s);
const char *ct_pathway_name(ct_pathway p);
int ct_pathway_parse(const char *s);
const char *ct_residence_name(ct_residence r);
int ct_residence_parse(const char *s);
const char *ct_infection_status_name(ct_infection_status s);
int ct_infection_status_parse(const char *s);

/* The names joined as "a, b or c" for error messages. Static storage. */
const char *ct_facility_kind_list(void);
const char *ct_cohort_list(void);
const char *ct_role_list(void);
const char *ct_residence_list(void);

#endif
