/*
 * Internals of candidate search shared by its files: candidates.c (rows,
 * search, why no candidate) and candidates_index.c (the in-memory index
 * of the area and keeping it in step). Not for use outside them.
 */
#ifndef CT_CANDIDATES_INT_H
#define CT_CANDIDATES_INT_H

#include "candidates.h"

#include "area.h"
#include "isolation.h"
#include "referral.h"
#include "store_int.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The area index candidate search runs on (below), and one change a change
 * in progress made to what it mirrors, applied once the change commits. */
typedef struct ct_cap_index ct_cap_index;

typedef struct ct_cap_idxop {
    ct_cap_idxkind kind;
    int value;
    char id[CT_CAP_ID_MAX];
    char pathogen[64];
} ct_cap_idxop;

/* The candidates' own state beside the capacity handle: the index, its
 * freshness, and the notes of the change in progress. */
struct ct_cand {
    /* NULL until the first search; stale when a rollback or another
     * connection may have changed what it mirrors. gen counts loads and
     * applied changes: a rollback past a point where it was lower undoes
     * something the index saw (the store watcher below). */
    ct_cap_index *index;
    bool stale;
    uint64_t gen;
    int64_t data_version;
    /* data_version was read inside the write transaction still open (the
     * watcher clears it when the transaction ends): no other connection
     * can commit before it ends, so it cannot have moved. */
    bool version_checked;
    ct_cap_idxop *ops; /* the change in progress, applied at its commit */
    size_t nops, capops;
};

static inline struct ct_cand *ct_cand_of(const ct_capacity *c)
{
    return ct_area__slot(c, CT_AREA_CANDIDATES);
}

typedef struct ifac {
    char *id, *org;
    int kind;
    bool designated, retired;
} ifac;

typedef ct_cap_cohort icohort; /* pathogen: index into pathogens */

typedef struct izone {
    char *id;
    int fac;
    bool closed, retired;
    int first, nbeds; /* its beds: beds[first .. first + nbeds) */
    int navail;       /* of them available and open */
    /* Counts of its beds in service (ct_cap_zone_counts), kept as they
     * change so that whole-area counts need no walk over the beds. */
    int n[CT_BED__COUNT], nsurge[CT_BED__COUNT], surge_beds, surge_open;
    icohort *cohorts; /* not open */
    int ncohorts;
} izone;

typedef struct ibed {
    char *id;
    int zone;
    ct_bed_status status;
    bool surge, surge_open, retired, iso;
} ibed;

struct ct_cap_index {
    ifac *facs; /* by id */
    int nfacs;
    izone *zones; /* by id */
    int nzones;
    ibed *beds; /* by zone, then id */
    int nbeds;
    int *by_id; /* bed positions ordered by bed id */
    char **tags; /* sorted; bit i is tags[i] */
    int ntags, words;
    uint64_t *tagbits; /* words per bed */
    char **pathogens;
    int npathogens;
    /* scratch for searches */
    int *pstatus;
    int64_t *pend;
};

static inline bool bed_open(const ibed *b)
{
    return !b->retired && (!b->surge || b->surge_open);
}


static inline bool bed_free(const ibed *b)
{
    return b->status == CT_BED_AVAILABLE && bed_open(b);
}


/* The one binary search over the index's id-ordered arrays: the
 * position in 0..n-1 whose key(x, i) is id, or -1. */
static inline int find_sorted(const ct_cap_index *x, int n,
                              const char *(*key)(const ct_cap_index *, int),
                              const char *id)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(key(x, mid), id);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static inline const char *fac_key(const ct_cap_index *x, int i)
{
    return x->facs[i].id;
}

static inline const char *zone_key(const ct_cap_index *x, int i)
{
    return x->zones[i].id;
}

static inline const char *bed_key(const ct_cap_index *x, int i)
{
    return x->beds[x->by_id[i]].id;
}

static inline const char *tag_key(const ct_cap_index *x, int i)
{
    return x->tags[i];
}

static inline int find_fac(const ct_cap_index *x, const char *id)
{
    return find_sorted(x, x->nfacs, fac_key, id);
}

static inline int find_zone(const ct_cap_index *x, const char *id)
{
    return find_sorted(x, x->nzones, zone_key, id);
}

static inline int find_bed(const ct_cap_index *x, const char *id)
{
    int i = find_sorted(x, x->nbeds, bed_key, id);
    return i < 0 ? -1 : x->by_id[i];
}

static inline int find_tag(const ct_cap_index *x, const char *tag)
{
    return find_sorted(x, x->ntags, tag_key, tag);
}


static inline const char *row_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

/* The index, loaded or reloaded when it may lag the store
 * (candidates_index.c): c->cand->index is current after 0. */
int ct_candidates__ensure_index(ct_capacity *c, ct_cap_error *err);

#endif
