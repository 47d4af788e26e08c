/* Read views: capacity per facility and zone, bed and referral lists,
 * ownership lookups (host/capacity_view.c). */
#include "capacity_view.h"

#include "capacity_fixture.h"
#include "fixtures.h"
#include "isolation.h"
#include "referral.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static cap_fx f;
static const char *const nursing[] = {"nursing", NULL};

static void setup(void) { cap_fx_open(&f, NULL); }
static void teardown(void) { cap_fx_close(&f); }

TestSuite(capacity_view, .init = setup, .fini = teardown);

static int64_t referral(unsigned i, int pathway)
{
    char nhs[11];
    cap_fx_nhs(i, nhs);
    return cap_fx_referral(&f, nhs, "2026-11-23", pathway, nursing);
}

static json_t *view(void)
{
    json_t *v = NULL;
    CAP_OK(ct_capacity_view_json(f.cap, &v, &cap_err));
    return v;
}

/* The object of list whose "id" is id. */
static json_t *by_id(json_t *list, const char *id)
{
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "id")), id) == 0)
            return o;
    }
    cr_assert_fail("no '%s' in the list", id);
    return NULL;
}

static json_t *zone(json_t *v, const char *fac, const char *z)
{
    return by_id(json_object_get(by_id(json_object_get(v, "facilities"),
                                       fac),
                                 "zones"),
                 z);
}

/* "total/available/held/occupied/blocked/open surge open/total" */
static const char *counts(json_t *totals)
{
    static char buf[128];
    json_t *s = json_object_get(totals, "surge");
#define N(o, k) (long long)json_integer_value(json_object_get(o, k))
    snprintf(buf, sizeof buf, "%lld/%lld/%lld/%lld/%lld/%lld surge %lld/%lld",
             N(totals, "total"), N(totals, "available"), N(totals, "held"),
             N(totals, "occupied"), N(totals, "blocked"), N(totals, "open"),
             N(s, "open"), N(s, "total"));
#undef N
    return buf;
}

Test(capacity_view, facilities_and_zones_with_their_counts)
{
    json_t *v = view();
    cr_assert_eq(json_integer_value(json_object_get(v, "at")), CAP_FX_START);
    cr_assert_str_eq(counts(json_object_get(v, "totals")),
                     "23/23/0/0/0/23 surge 0/3");
    json_t *facs = json_object_get(v, "facilities");
    cr_assert_eq(json_array_size(facs), 4);
    const char *order[] = {"hc", "home", "rehab", "sd"};
    for (size_t i = 0; i < 4; i++)
        cr_assert_str_eq(json_string_value(json_object_get(
                             json_array_get(facs, i), "id")),
                         order[i]);
    json_t *sd = by_id(facs, "sd");
    cr_assert_str_eq(json_string_value(json_object_get(sd, "kind")),
                     "step_down");
    cr_assert_str_eq(json_string_value(json_object_get(sd, "org")),
                     "council");
    cr_assert(json_is_true(json_object_get(sd, "designated")));
    cr_assert_str_eq(counts(json_object_get(sd, "totals")),
                     "9/9/0/0/0/9 surge 0/3");
    json_t *zones = json_object_get(sd, "zones");
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(zones, 0), "id")),
                     "green");
    json_t *red = zone(v, "sd", "red");
    cr_assert_str_eq(counts(json_object_get(red, "totals")),
                     "4/4/0/0/0/4 surge 0/1");
    cr_assert(json_is_false(json_object_get(red, "closed")));
    cr_assert(json_is_null(json_object_get(red, "closed_reason")));
    json_t *cohorts = json_object_get(red, "cohorts");
    cr_assert_eq(json_object_size(cohorts), 3, "every configured pathogen");
    cr_assert_str_eq(json_string_value(json_object_get(cohorts, "covid")),
                     "positive");
    cr_assert_str_eq(json_string_value(json_object_get(cohorts, "flu")),
                     "open");
    json_t *main = zone(v, "home", "home-main");
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(main, "cohorts"), "norovirus")),
                     "negative");
    json_decref(v);
}

Test(capacity_view, counts_follow_changes)
{
    int64_t a = referral(0, CT_PATHWAY_STEP_DOWN);
    int64_t b = referral(1, CT_PATHWAY_STEP_DOWN);
    CAP_OK(ct_capacity_block(f.cap, "G01", "deep clean", "org:council",
                             &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, a, "G02", 0, "org:council", NULL,
                            &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, b, "G03", 0, "org:council", NULL,
                            &cap_err));
    CAP_OK(ct_capacity_confirm(f.cap, b, "org:council", NULL, &cap_err));
    CAP_OK(ct_capacity_surge_open(f.cap, "sd", 1, "org:council", NULL,
                                  &cap_err));
    CAP_OK(ct_isolation_close_zone(f.cap, "ward", "norovirus outbreak",
                                   "org:council", NULL, &cap_err));
    CAP_OK(ct_isolation_set_cohort(f.cap, "ward", "flu", CT_COHORT_POSITIVE,
                                   "org:council", &cap_err));
    json_t *v = view();
    /* The surge bed opened is the lowest id: G05. */
    cr_assert_str_eq(counts(json_object_get(zone(v, "sd", "green"), "totals")),
                     "6/3/1/1/1/5 surge 1/2");
    /* The closed ward's three free beds are neither available nor open
     * (issue 22, finding 5). */
    cr_assert_str_eq(counts(json_object_get(v, "totals")),
                     "24/18/1/1/1/20 surge 1/3");
    json_t *ward = zone(v, "rehab", "ward");
    cr_assert(json_is_true(json_object_get(ward, "closed")));
    cr_assert_str_eq(json_string_value(json_object_get(ward,
                                                       "closed_reason")),
                     "norovirus outbreak");
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(ward, "cohorts"), "flu")),
                     "positive");
    json_decref(v);
}

static json_t *beds(const ct_bed_filter *flt)
{
    json_t *l = NULL;
    CAP_OK(ct_capacity_view_beds_json(f.cap, flt, &l, &cap_err));
    return l;
}

static const char *ids(json_t *list)
{
    static char buf[512];
    buf[0] = '\0';
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o)
    {
        if (i)
            strcat(buf, " ");
        strcat(buf, json_string_value(json_object_get(o, "id")));
    }
    return buf;
}

Test(capacity_view, bed_lists_by_facility_zone_status_and_tags)
{
    ct_bed_filter flt = {.status = -1, .limit = 100};
    json_t *l = beds(&flt);
    cr_assert_eq(json_array_size(l), 26, "surge beds are listed too");
    json_decref(l);

    flt.facility_id = "home";
    l = beds(&flt);
    cr_assert_str_eq(ids(l), "H01 H02 H03 H04 H05 H06 M01 M02");
    json_t *h5 = json_array_get(l, 4);
    cr_assert_str_eq(json_string_value(json_object_get(h5, "zone")),
                     "home-main");
    cr_assert_str_eq(json_string_value(json_object_get(h5, "org")), "homes");
    cr_assert_str_eq(json_string_value(json_object_get(h5, "kind")),
                     "care_home");
    json_t *tags = json_object_get(h5, "tags");
    cr_assert_eq(json_array_size(tags), 2);
    cr_assert_str_eq(json_string_value(json_array_get(tags, 0)), "bariatric");
    json_decref(l);

    static const char *const want[] = {"nursing", "dementia"};
    flt.tags = want;
    flt.ntags = 2;
    l = beds(&flt);
    cr_assert_str_eq(ids(l), "M01 M02");
    json_decref(l);

    flt = (ct_bed_filter){.zone_id = "red", .status = -1, .limit = 2,
                          .after = "R01"};
    l = beds(&flt);
    cr_assert_str_eq(ids(l), "R02 R03", "a page after R01");
    json_decref(l);

    int64_t r = referral(0, CT_PATHWAY_STEP_DOWN);
    CAP_OK(ct_capacity_hold(f.cap, r, "G04", HOUR_MS, "org:council", NULL,
                            &cap_err));
    CAP_OK(ct_capacity_block(f.cap, "G01", "leak", "org:council", &cap_err));
    flt = (ct_bed_filter){.facility_id = "sd", .status = CT_BED_HELD,
                          .limit = 10};
    l = beds(&flt);
    cr_assert_str_eq(ids(l), "G04");
    json_t *g4 = json_array_get(l, 0);
    cr_assert_eq(json_integer_value(json_object_get(g4, "referral")), r);
    cr_assert_eq(json_integer_value(json_object_get(g4, "hold_expires_at")),
                 CAP_FX_START + HOUR_MS);
    json_decref(l);
    flt.status = CT_BED_BLOCKED;
    l = beds(&flt);
    cr_assert_str_eq(ids(l), "G01");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(l, 0),
                                                       "blocked_reason")),
                     "leak");
    json_decref(l);
}

Test(capacity_view, bed_list_refusals)
{
    json_t *l = NULL;
    ct_bed_filter flt = {.facility_id = "nowhere", .status = -1, .limit = 1};
    cr_assert_eq(ct_capacity_view_beds_json(f.cap, &flt, &l, &cap_err),
                 CT_ENOTFOUND);
    cr_assert_str_eq(cap_err.message, "facility 'nowhere' does not exist");
    flt = (ct_bed_filter){.zone_id = "attic", .status = -1, .limit = 1};
    cr_assert_eq(ct_capacity_view_beds_json(f.cap, &flt, &l, &cap_err),
                 CT_ENOTFOUND);
    cr_assert_str_eq(cap_err.message, "zone 'attic' does not exist");
    flt = (ct_bed_filter){.status = -1, .limit = 0};
    cr_assert_eq(ct_capacity_view_beds_json(f.cap, &flt, &l, &cap_err),
                 CT_EINVAL);
    flt = (ct_bed_filter){.status = CT_BED__COUNT, .limit = 1};
    cr_assert_eq(ct_capacity_view_beds_json(f.cap, &flt, &l, &cap_err),
                 CT_EINVAL);
    cr_assert_null(l);
}

Test(capacity_view, owners_of_beds_facilities_and_referrals)
{
    char org[CT_CAP_ID_MAX];
    CAP_OK(ct_capacity_view_bed_org(f.cap, "H03", org, &cap_err));
    cr_assert_str_eq(org, "homes");
    CAP_OK(ct_capacity_view_facility_org(f.cap, "sd", org, &cap_err));
    cr_assert_str_eq(org, "council");
    cr_assert_eq(ct_capacity_view_bed_org(f.cap, "X99", org, &cap_err),
                 CT_ENOTFOUND);
    cr_assert_str_eq(cap_err.message, "bed 'X99' does not exist");

    int64_t r = referral(0, CT_PATHWAY_P3);
    ct_referral_orgs o;
    CAP_OK(ct_capacity_view_referral_orgs(f.cap, r, &o, &cap_err));
    cr_assert_str_eq(o.from_org, "acute");
    cr_assert_str_eq(o.holder_org, "");
    cr_assert_str_eq(o.last_org, "");
    CAP_OK(ct_capacity_hold(f.cap, r, "H01", HOUR_MS, "org:council", NULL,
                            &cap_err));
    CAP_OK(ct_capacity_view_referral_orgs(f.cap, r, &o, &cap_err));
    cr_assert_str_eq(o.holder_org, "homes");
    cr_assert_str_eq(o.last_org, "homes");
    /* Expired, the hold is no longer anyone's; the last one is kept. */
    ct_clock_advance(f.clock, HOUR_MS);
    CAP_OK(ct_capacity_view_referral_orgs(f.cap, r, &o, &cap_err));
    cr_assert_str_eq(o.holder_org, "");
    cr_assert_str_eq(o.last_org, "homes");
    cr_assert_eq(ct_capacity_view_referral_orgs(f.cap, 999, &o, &cap_err),
                 CT_ENOTFOUND);
    cr_assert_str_eq(cap_err.message, "referral 999 does not exist");
}

static const char *ref_ids(const ct_referral_filter *flt)
{
    static char buf[256];
    json_t *l = NULL;
    CAP_OK(ct_capacity_view_referrals_json(f.cap, flt, &l, &cap_err));
    buf[0] = '\0';
    size_t i;
    json_t *o;
    json_array_foreach(l, i, o)
    {
        char n[32];
        snprintf(n, sizeof n, "%s%lld", i ? " " : "",
                 (long long)json_integer_value(json_object_get(o, "id")));
        strcat(buf, n);
    }
    json_decref(l);
    return buf;
}

Test(capacity_view, referral_lists_by_organisation)
{
    int64_t r1 = referral(0, CT_PATHWAY_P3);
    int64_t r2 = referral(1, CT_PATHWAY_STEP_DOWN);
    int64_t r3 = referral(2, CT_PATHWAY_P3);
    cr_assert_eq(r1, 1);
    cr_assert_eq(r3, 3);
    CAP_OK(ct_capacity_hold(f.cap, r1, "H01", 0, "org:council", NULL,
                            &cap_err));
    CAP_OK(ct_capacity_hold(f.cap, r2, "G01", 0, "org:council", NULL,
                            &cap_err));
    ct_referral_filter flt = {.state = -1, .limit = 10};
    cr_assert_str_eq(ref_ids(&flt), "1 2 3");
    flt.from_org = "acute";
    cr_assert_str_eq(ref_ids(&flt), "1 2 3");
    flt.from_org = "homes";
    cr_assert_str_eq(ref_ids(&flt), "");
    flt = (ct_referral_filter){.state = -1, .limit = 10, .at_org = "homes"};
    cr_assert_str_eq(ref_ids(&flt), "1");
    flt.at_org = "council";
    cr_assert_str_eq(ref_ids(&flt), "2");
    flt = (ct_referral_filter){.state = CT_REFERRAL_HELD, .limit = 10};
    cr_assert_str_eq(ref_ids(&flt), "1 2");
    flt = (ct_referral_filter){.state = -1, .limit = 1, .after = 1};
    cr_assert_str_eq(ref_ids(&flt), "2");

    json_t *l = NULL;
    flt = (ct_referral_filter){.state = -1, .limit = 1001};
    cr_assert_eq(ct_capacity_view_referrals_json(f.cap, &flt, &l, &cap_err),
                 CT_EINVAL);
    flt = (ct_referral_filter){.state = -1, .limit = 1, .from_org = "a",
                               .at_org = "b"};
    cr_assert_eq(ct_capacity_view_referrals_json(f.cap, &flt, &l, &cap_err),
                 CT_EINVAL);
    cr_assert_null(l);
}
