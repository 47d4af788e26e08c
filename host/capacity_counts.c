/*
 * Copies of the area's bed counts by zone (capacity_view.h), and the
 * read-only capacity handle that builds whole-area answers from them on
 * another thread.
 */
#include "capacity_view.h"

#include "capacity_int.h"
#include "error.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* One zone as ct_cap_zone_counts, with its strings and cohorts owned. */
typedef struct kzone {
    ct_cap_zone_counts z;
    char *zone_id, *facility_id;
    ct_cap_cohort *cohorts;
} kzone;

struct ct_cap_counts {
    kzone *zones;
    size_t n, cap;
    char **pathogens; /* the index's, copied from the first zone */
    int npathogens;
};

void ct_cap_counts_free(ct_cap_counts *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++) {
        free(k->zones[i].zone_id);
        free(k->zones[i].facility_id);
        free(k->zones[i].cohorts);
    }
    for (int i = 0; i < k->npathogens; i++)
        free(k->pathogens[i]);
    free(k->pathogens);
    free(k->zones);
    free(k);
}

static int copy_pathogens(ct_cap_counts *k, const ct_cap_zone_counts *z)
{
    if (z->npathogens <= k->npathogens)
        return 0; /* the index interns pathogens once, for every zone */
    char **v = realloc(k->pathogens, (size_t)z->npathogens * sizeof *v);
    if (!v)
        return CT_ENOMEM;
    k->pathogens = v;
    for (int i = k->npathogens; i < z->npathogens; i++) {
        if (!(v[i] = ct_strdup(z->pathogens[i])))
            return CT_ENOMEM;
        k->npathogens = i + 1;
    }
    return 0;
}

static int copy_zone(void *ud, const ct_cap_zone_counts *z)
{
    ct_cap_counts *k = ud;
    if (copy_pathogens(k, z))
        return CT_ENOMEM;
    if (ct_grow(&k->zones, &k->cap, k->n, sizeof *k->zones, 256))
        return CT_ENOMEM;
    kzone *e = &k->zones[k->n];
    memset(e, 0, sizeof *e);
    e->z = *z;
    e->zone_id = ct_strdup(z->zone_id);
    e->facility_id = ct_strdup(z->facility_id);
    if (z->ncohorts)
        e->cohorts = malloc((size_t)z->ncohorts * sizeof *e->cohorts);
    k->n++;
    if (!e->zone_id || !e->facility_id || (z->ncohorts && !e->cohorts))
        return CT_ENOMEM;
    if (z->ncohorts)
        memcpy(e->cohorts, z->cohorts,
               (size_t)z->ncohorts * sizeof *e->cohorts);
    return 0;
}

int ct_cap_counts_take(ct_capacity *c, ct_cap_counts **out,
                       ct_cap_error *err)
{
    *out = NULL;
    ct_cap_counts *k = calloc(1, sizeof *k);
    if (!k)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    int rc = ct_candidates__zones(c, copy_zone, k, err);
    if (rc) {
        ct_cap_counts_free(k);
        return rc == CT_ENOMEM
                   ? ct_area__fail(err, CT_ENOMEM, "out of memory")
                   : rc == CT_EBUSY
                         ? ct_area__fail(err, CT_EBUSY,
                                         "a capacity change is in "
                                         "progress")
                         : rc;
    }
    *out = k;
    return 0;
}

static int nothing(void *ud, const ct_cap_zone_counts *z)
{
    (void)ud;
    (void)z;
    return 0;
}

int ct_capacity_warm(ct_capacity *c, ct_cap_error *err)
{
    int rc = ct_candidates__zones(c, nothing, NULL, err);
    return rc == CT_EBUSY ? 0 : rc;
}

/* k's zone i with its own strings. */
static void zone_at(const ct_cap_counts *k, size_t i, ct_cap_zone_counts *z)
{
    *z = k->zones[i].z;
    z->zone_id = k->zones[i].zone_id;
    z->facility_id = k->zones[i].facility_id;
    z->cohorts = k->zones[i].cohorts;
    z->pathogens = (const char *const *)k->pathogens;
    z->npathogens = k->npathogens;
}

int ct_cap_counts__walk(ct_capacity *c, const ct_cap_counts *k,
                        ct_cap_zone_fn fn, void *ud, ct_cap_error *err)
{
    if (!k)
        return ct_candidates__zones(c, fn, ud, err);
    for (size_t i = 0; i < k->n; i++) {
        ct_cap_zone_counts z;
        zone_at(k, i, &z);
        int rc = fn(ud, &z);
        if (rc)
            return rc;
    }
    return 0;
}

bool ct_cap_counts__find(const ct_cap_counts *k, const char *zone_id,
                         ct_cap_zone_counts *out)
{
    /* The index walks zones in id order, so the copy is sorted. */
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(k->zones[mid].zone_id, zone_id);
        if (cmp == 0) {
            zone_at(k, mid, out);
            return true;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

int ct_capacity_reader_new(ct_capacity *c, ct_store *s, ct_capacity **out)
{
    *out = NULL;
    /* A clock of its own, moved only by ct_capacity_reader_at: the
     * answer's "at" is when the counts were taken, and no other thread
     * reads the loop's clock. */
    ct_clock *clock;
    if (ct_clock_new_virtual(ct_clock_now(ct_area_clock(c)), &clock))
        return CT_ENOMEM;
    ct_capacity *r;
    ct_cap_state *k = calloc(1, sizeof *k);
    if (!k || ct_area__new_reader(c, s, clock, &r)) {
        free(k);
        ct_clock_close(clock, NULL, NULL);
        return CT_ENOMEM;
    }
    k->hold_ttl_ms = ct_capacity__state(c)->hold_ttl_ms;
    ct_area__set_slot(r, CT_AREA_HOLDS, k);
    *out = r;
    return 0;
}

void ct_capacity_reader_at(ct_capacity *r, int64_t now_ms)
{
    ct_clock_advance_to(ct_area_clock(r), now_ms);
}

void ct_capacity_reader_free(ct_capacity *r)
{
    if (!r)
        return;
    ct_clock *clock = ct_area_clock(r);
    free(ct_capacity__state(r));
    ct_area__free(r);
    ct_clock_close(clock, NULL, NULL);
}
