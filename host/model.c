#include "model.h"

#include <string.h>

#define NAMES_AND_PARSE(fn, type, MAP, COUNT)                        \
    static const char *const fn##_names[COUNT] = {MAP(NAME_ENTRY)};  \
    const char *ct_##fn##_name(type v)                               \
    {                                                                \
        return (unsigned)v < COUNT ? fn##_names[v] : "?";            \
    }                                                                \
    int ct_##fn##_parse(const char *s)                               \
    {                                                                \
        for (int i = 0; i < (int)COUNT; i++)                         \
            if (s && strcmp(s, fn##_names[i]) == 0)                  \
                return i;                                            \
        return -1;                                                   \
    }

#define NAME_ENTRY(n, s) s,

NAMES_AND_PARSE(facility_kind, ct_facility_kind, CT_FACILITY_KIND_MAP,
                CT_FACILITY__COUNT)
NAMES_AND_PARSE(cohort, ct_cohort, CT_COHORT_MAP, CT_COHORT__COUNT)
NAMES_AND_PARSE(role, ct_role, CT_ROLE_MAP, CT_ROLE__COUNT)
NAMES_AND_PARSE(bed_status, ct_bed_status, CT_BED_STATUS_MAP, CT_BED__COUNT)
NAMES_AND_PARSE(referral_state, ct_referral_state, CT_REFERRAL_STATE_MAP,
                CT_REFERRAL__COUNT)
NAMES_AND_PARSE(pathway, ct_pathway, CT_PATHWAY_MAP, CT_PATHWAY__COUNT)
NAMES_AND_PARSE(residence, ct_residence, CT_RESIDENCE_MAP,
                CT_RESIDENCE__COUNT)
NAMES_AND_PARSE(infection_status, ct_infection_status,
                CT_INFECTION_STATUS_MAP, CT_INFECTION__COUNT)

/* "a, b or c" into buf from a name table. */
static const char *join(char *buf, size_t size, const char *const *names,
                        size_t n)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strncat(buf, i + 1 == n ? " or " : ", ", size - strlen(buf) - 1);
        strncat(buf, names[i], size - strlen(buf) - 1);
    }
    return buf;
}

const char *ct_facility_kind_list(void)
{
    static char buf[160];
    return join(buf, sizeof buf, facility_kind_names, CT_FACILITY__COUNT);
}

const char *ct_cohort_list(void)
{
    static char buf[64];
    return join(buf, sizeof buf, cohort_names, CT_COHORT__COUNT);
}

const char *ct_role_list(void)
{
    static char buf[80];
    return join(buf, sizeof buf, role_names, CT_ROLE__COUNT);
}

const char *ct_residence_list(void)
{
    static char buf[96];
    return join(buf, sizeof buf, residence_names, CT_RESIDENCE__COUNT);
}
