/*
 * Candidate search (candidates.h) on an in-memory index of the area.
 *
 * A search must cost microseconds at thousands of beds, so the area's
 * structure and state (facilities, zones with their cohorts and closure,
 * beds with status, surge and tags as bit sets) are mirrored in memory:
 * a search walks the zones, skips those that cannot take the person as a
 * whole (kind, closure, cohorts, no bed free), and tests the beds of the
 * others with a few comparisons each. The store stays the authority: a
 * hold checks every rule again in SQL, so an index that lags can only
 * offer a bed the hold then refuses, never break an invariant.
 *
 * Keeping it in step: the capacity units note what each change does to
 * beds, surge, closure and cohorts (ct_candidates__note) and the notes are
 * applied when the change commits; a rollback of what the index saw
 * (a store watcher), a commit by another connection (PRAGMA data_version)
 * or ct_capacity_refresh (after a reconcile) make the next search reload.
 */
#include "candidates.h"

#include "capacity_int.h"
#include "error.h"
#include "isolation.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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

static void forget(ct_capacity *c);

#define K(n) (1u << CT_FACILITY_##n)
#define MAX_TAGS 64

unsigned ct_candidates_kinds_for(ct_pathway p)
{
    switch (p) {
    case CT_PATHWAY_P0: return 0;
    case CT_PATHWAY_P1: return K(HOME_CARE) | K(VIRTUAL_WARD);
    case CT_PATHWAY_P2: return K(REHAB) | K(STEP_DOWN);
    case CT_PATHWAY_P3: return K(CARE_HOME);
    case CT_PATHWAY_STEP_DOWN: return K(STEP_DOWN);
    default: return 0;
    }
}

void ct_candidate_list_free(ct_candidate_list *l)
{
    if (!l)
        return;
    free(l->items);
    free(l->text);
    free(l->tagv);
    free(l->cohortv);
    memset(l, 0, sizeof *l);
}

/* ---- the index ------------------------------------------------------- */

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

static void index_free(ct_cap_index *x)
{
    if (!x)
        return;
    for (int i = 0; i < x->nfacs; i++) {
        free(x->facs[i].id);
        free(x->facs[i].org);
    }
    for (int i = 0; i < x->nzones; i++) {
        free(x->zones[i].id);
        free(x->zones[i].cohorts);
    }
    for (int i = 0; i < x->nbeds; i++)
        free(x->beds[i].id);
    for (int i = 0; i < x->ntags; i++)
        free(x->tags[i]);
    for (int i = 0; i < x->npathogens; i++)
        free(x->pathogens[i]);
    free(x->facs);
    free(x->zones);
    free(x->beds);
    free(x->by_id);
    free(x->tags);
    free(x->tagbits);
    free(x->pathogens);
    free(x->pstatus);
    free(x->pend);
    free(x);
}

static bool bed_open(const ibed *b)
{
    return !b->retired && (!b->surge || b->surge_open);
}

static bool bed_free(const ibed *b)
{
    return b->status == CT_BED_AVAILABLE && bed_open(b);
}

/* Adds (by 1) or takes away (by -1) the bed from its zone's counts. */
static void count_bed(izone *z, const ibed *b, int by)
{
    if (b->retired || (unsigned)b->status >= CT_BED__COUNT)
        return;
    z->surge_beds += by * b->surge;
    z->surge_open += by * (b->surge && b->surge_open);
    if (b->surge && !b->surge_open && b->status != CT_BED_HELD &&
        b->status != CT_BED_OCCUPIED)
        return; /* a closed, empty surge bed does not count */
    z->n[b->status] += by;
    z->nsurge[b->status] += by * b->surge;
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

static const char *fac_key(const ct_cap_index *x, int i)
{
    return x->facs[i].id;
}

static const char *zone_key(const ct_cap_index *x, int i)
{
    return x->zones[i].id;
}

static const char *bed_key(const ct_cap_index *x, int i)
{
    return x->beds[x->by_id[i]].id;
}

static const char *tag_key(const ct_cap_index *x, int i)
{
    return x->tags[i];
}

static int find_fac(const ct_cap_index *x, const char *id)
{
    return find_sorted(x, x->nfacs, fac_key, id);
}

static int find_zone(const ct_cap_index *x, const char *id)
{
    return find_sorted(x, x->nzones, zone_key, id);
}

static int find_bed(const ct_cap_index *x, const char *id)
{
    int i = find_sorted(x, x->nbeds, bed_key, id);
    return i < 0 ? -1 : x->by_id[i];
}

static int find_tag(const ct_cap_index *x, const char *tag)
{
    return find_sorted(x, x->ntags, tag_key, tag);
}

/* The pathogen's index, interning it (growing the scratch arrays). */
static int intern_pathogen(ct_cap_index *x, const char *p)
{
    for (int i = 0; i < x->npathogens; i++)
        if (strcmp(x->pathogens[i], p) == 0)
            return i;
    int n = x->npathogens + 1;
    char **names = realloc(x->pathogens, (size_t)n * sizeof *names);
    if (!names)
        return -1;
    x->pathogens = names;
    int *st = realloc(x->pstatus, (size_t)n * sizeof *st);
    if (!st)
        return -1;
    x->pstatus = st;
    int64_t *end = realloc(x->pend, (size_t)n * sizeof *end);
    if (!end)
        return -1;
    x->pend = end;
    if (!(names[n - 1] = ct_strdup(p)))
        return -1;
    x->npathogens = n;
    return n - 1;
}

static const char *text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

/* An index being loaded, with the capacities of its growing arrays. */
typedef struct loader {
    ct_cap_index *x;
    int facs, zones, beds, tags;
} loader;

/* Steps st through its rows, calling row for each; resets it. */
static int each_row(ct_capacity *c, ct_stmt id, loader *x,
                    int (*row)(loader *, sqlite3_stmt *), ct_cap_error *err)
{
    sqlite3_stmt *st = ct_capacity__stmt(c, id, err);
    if (!st)
        return CT_ESTORE;
    int rc, out = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if ((out = row(x, st)))
            break;
    if (!out && rc != SQLITE_DONE)
        out = ct_capacity__dberr(c, err, rc, "loading the area index");
    else if (out)
        ct_capacity__fail(err, out, "loading the area index: %s",
                          ct_strerror(out));
    sqlite3_reset(st);
    return out;
}

static int grow(void **p, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return 0;
    int n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, (size_t)n * size);
    if (!q)
        return CT_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int fac_row(loader *l, sqlite3_stmt *st)
{
    ct_cap_index *x = l->x;
    if (grow((void **)&x->facs, &l->facs, x->nfacs + 1, sizeof *x->facs))
        return CT_ENOMEM;
    ifac *f = &x->facs[x->nfacs];
    memset(f, 0, sizeof *f);
    f->id = ct_strdup(text(st, 0));
    f->org = ct_strdup(text(st, 1));
    x->nfacs++;
    if (!f->id || !f->org)
        return CT_ENOMEM;
    f->kind = ct_facility_kind_parse(text(st, 2));
    f->designated = sqlite3_column_int(st, 3);
    f->retired = sqlite3_column_int(st, 4);
    return 0;
}

static int zone_row(loader *l, sqlite3_stmt *st)
{
    ct_cap_index *x = l->x;
    if (grow((void **)&x->zones, &l->zones, x->nzones + 1,
             sizeof *x->zones))
        return CT_ENOMEM;
    izone *z = &x->zones[x->nzones];
    memset(z, 0, sizeof *z);
    z->id = ct_strdup(text(st, 0));
    x->nzones++;
    if (!z->id)
        return CT_ENOMEM;
    z->fac = find_fac(x, text(st, 1));
    z->closed = sqlite3_column_int(st, 2);
    z->retired = sqlite3_column_int(st, 3) || z->fac < 0;
    return 0;
}

static int add_cohort(ct_cap_index *x, izone *z, const char *pathogen,
                      ct_cohort cohort)
{
    int p = intern_pathogen(x, pathogen);
    if (p < 0)
        return CT_ENOMEM;
    for (int i = 0; i < z->ncohorts; i++)
        if (z->cohorts[i].pathogen == p) {
            if (cohort == CT_COHORT_OPEN)
                z->cohorts[i] = z->cohorts[--z->ncohorts];
            else
                z->cohorts[i].cohort = cohort;
            return 0;
        }
    if (cohort == CT_COHORT_OPEN)
        return 0;
    icohort *n = realloc(z->cohorts, (size_t)(z->ncohorts + 1) * sizeof *n);
    if (!n)
        return CT_ENOMEM;
    z->cohorts = n;
    n[z->ncohorts++] = (icohort){p, cohort};
    return 0;
}

static int cohort_row(loader *l, sqlite3_stmt *st)
{
    ct_cap_index *x = l->x;
    int z = find_zone(x, text(st, 0));
    int co = ct_cohort_parse(text(st, 2));
    if (z < 0 || co < 0)
        return 0;
    return add_cohort(x, &x->zones[z], text(st, 1), (ct_cohort)co);
}

static int tag_row(loader *l, sqlite3_stmt *st)
{
    ct_cap_index *x = l->x;
    if (grow((void **)&x->tags, &l->tags, x->ntags + 1, sizeof *x->tags))
        return CT_ENOMEM;
    if (!(x->tags[x->ntags] = ct_strdup(text(st, 0))))
        return CT_ENOMEM;
    x->ntags++;
    return 0;
}

static int bed_row(loader *l, sqlite3_stmt *st)
{
    ct_cap_index *x = l->x;
    int z = find_zone(x, text(st, 1));
    if (z < 0)
        return 0;
    if (grow((void **)&x->beds, &l->beds, x->nbeds + 1, sizeof *x->beds))
        return CT_ENOMEM;
    ibed *b = &x->beds[x->nbeds];
    memset(b, 0, sizeof *b);
    if (!(b->id = ct_strdup(text(st, 0))))
        return CT_ENOMEM;
    b->zone = z;
    b->status = (ct_bed_status)ct_bed_status_parse(text(st, 2));
    b->surge = sqlite3_column_int(st, 3);
    b->surge_open = sqlite3_column_int(st, 4);
    b->retired = sqlite3_column_int(st, 5);
    izone *zn = &x->zones[z];
    if (zn->nbeds++ == 0)
        zn->first = x->nbeds;
    zn->navail += bed_free(b);
    count_bed(zn, b, 1);
    x->nbeds++;
    return 0;
}

static int bed_tag_row(loader *l, sqlite3_stmt *st)
{
    ct_cap_index *x = l->x;
    int b = find_bed(x, text(st, 0)), t = find_tag(x, text(st, 1));
    if (b < 0 || t < 0)
        return 0;
    x->tagbits[(size_t)b * (size_t)x->words + (size_t)(t / 64)] |=
        UINT64_C(1) << (t % 64);
    if (strcmp(x->tags[t], "isolation_room") == 0)
        x->beds[b].iso = true;
    return 0;
}

typedef struct idpos {
    const char *id;
    int pos;
} idpos;

static int by_id(const void *a, const void *b)
{
    return strcmp(((const idpos *)a)->id, ((const idpos *)b)->id);
}

static int load_index(ct_capacity *c, ct_cap_error *err)
{
    loader l = {.x = calloc(1, sizeof(ct_cap_index))};
    ct_cap_index *x = l.x;
    idpos *ids = NULL;
    if (!x)
        return ct_capacity__fail(err, CT_ENOMEM, "out of memory");
    int rc;
    for (size_t i = 0; i < c->npathogens; i++)
        if (intern_pathogen(x, c->pathogens[i]) < 0)
            goto fail_nomem;
    if ((rc = each_row(c, CT_STMT_CAND_LOAD_FACILITIES, &l, fac_row, err)) ||
        (rc = each_row(c, CT_STMT_CAND_LOAD_ZONES, &l, zone_row, err)) ||
        (rc = each_row(c, CT_STMT_CAND_LOAD_COHORTS, &l, cohort_row, err)) ||
        (rc = each_row(c, CT_STMT_CAND_LOAD_TAGS, &l, tag_row, err)) ||
        (rc = each_row(c, CT_STMT_CAND_LOAD_BEDS, &l, bed_row, err)))
        goto fail;
    size_t n = (size_t)(x->nbeds ? x->nbeds : 1);
    x->words = x->ntags ? (x->ntags + 63) / 64 : 1;
    x->tagbits = calloc(n * (size_t)x->words, sizeof *x->tagbits);
    x->by_id = calloc(n, sizeof *x->by_id);
    ids = calloc(n, sizeof *ids);
    if (!x->tagbits || !x->by_id || !ids)
        goto fail_nomem;
    for (int i = 0; i < x->nbeds; i++)
        ids[i] = (idpos){x->beds[i].id, i};
    qsort(ids, (size_t)x->nbeds, sizeof *ids, by_id);
    for (int i = 0; i < x->nbeds; i++)
        x->by_id[i] = ids[i].pos;
    free(ids);
    ids = NULL;
    if ((rc = each_row(c, CT_STMT_CAND_LOAD_BED_TAGS, &l, bed_tag_row, err)))
        goto fail;
    forget(c);
    c->cand->index = x;
    c->cand->stale = false;
    c->cand->gen++; /* loaded inside a transaction: its rollback reloads */
    return 0;

fail_nomem:
    rc = ct_capacity__fail(err, CT_ENOMEM, "out of memory");
fail:
    free(ids);
    index_free(x);
    return rc;
}

static int64_t data_version(ct_capacity *c)
{
    sqlite3_stmt *st = ct_store__stmt(c->store, CT_STMT_CAND_DATA_VERSION);
    int64_t v = -1;
    if (st && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    if (st)
        sqlite3_reset(st);
    return v;
}

/*
 * The index, reloaded when it may lag the store. Inside a write
 * transaction other connections cannot commit, so once data_version has
 * been read in it (version_checked, cleared when the transaction ends by
 * the store watcher) it is not read again: a batch of placements reads it once.
 */
static int ensure_index(ct_capacity *c, ct_cap_error *err)
{
    sqlite3 *db = ct_store__db(c->store);
    bool writing = sqlite3_txn_state(db, "main") == SQLITE_TXN_WRITE;
    if (c->cand->index && !c->cand->stale && writing && c->cand->version_checked)
        return 0;
    int64_t v = data_version(c);
    c->cand->version_checked = writing && v >= 0;
    if (c->cand->index && !c->cand->stale && v == c->cand->data_version && v >= 0)
        return 0;
    int rc = load_index(c, err);
    if (rc == 0)
        c->cand->data_version = v;
    return rc;
}

static void forget(ct_capacity *c)
{
    index_free(c->cand->index);
    c->cand->index = NULL;
}

/* The store watcher: the index follows rollbacks of what it saw, and a
 * write transaction's end lets the next search check data_version. */
static size_t on_mark(void *data)
{
    struct ct_cand *x = data;
    return (size_t)x->gen;
}

static void on_undo(void *data, size_t mark, bool whole)
{
    struct ct_cand *x = data;
    if (whole)
        x->version_checked = false;
    if ((size_t)x->gen != mark)
        x->stale = true;
}

static void on_committed(void *data)
{
    struct ct_cand *x = data;
    x->version_checked = false;
}

static const ct_store_watcher watcher = {on_mark, on_undo, on_committed};

int ct_candidates__new(ct_capacity *c)
{
    struct ct_cand *x = calloc(1, sizeof *x);
    if (!x)
        return CT_ENOMEM;
    int rc = ct_store_watch(c->store, &watcher, x);
    if (rc) {
        free(x);
        return rc;
    }
    c->cand = x;
    return 0;
}

void ct_candidates__free(ct_capacity *c)
{
    if (!c->cand)
        return;
    ct_store_unwatch(c->store, &watcher, c->cand);
    forget(c);
    free(c->cand->ops);
    free(c->cand);
    c->cand = NULL;
}

void ct_candidates__invalidate(ct_capacity *c)
{
    c->cand->stale = true;
}

/* ---- keeping it in step ---------------------------------------------- */

void ct_candidates__note(ct_capacity *c, ct_cap_idxkind kind, const char *id,
                         const char *pathogen, int value)
{
    if (!c->cand->index)
        return; /* the first search loads what the store says */
    if (c->cand->nops == c->cand->capops) {
        size_t n = c->cand->capops ? 2 * c->cand->capops : 16;
        ct_cap_idxop *p = realloc(c->cand->ops, n * sizeof *p);
        if (!p) {
            c->cand->stale = true;
            return;
        }
        c->cand->ops = p;
        c->cand->capops = n;
    }
    ct_cap_idxop *op = &c->cand->ops[c->cand->nops++];
    op->kind = kind;
    op->value = value;
    ct_copy_str(op->id, sizeof op->id, id);
    ct_copy_str(op->pathogen, sizeof op->pathogen, pathogen);
}

static bool apply_one(ct_cap_index *x, const ct_cap_idxop *op)
{
    if (op->kind == CT_IDX_BED_STATUS || op->kind == CT_IDX_BED_SURGE) {
        int i = find_bed(x, op->id);
        if (i < 0)
            return false;
        ibed *b = &x->beds[i];
        izone *z = &x->zones[b->zone];
        z->navail -= bed_free(b);
        count_bed(z, b, -1);
        if (op->kind == CT_IDX_BED_STATUS)
            b->status = (ct_bed_status)op->value;
        else
            b->surge_open = op->value;
        z->navail += bed_free(b);
        count_bed(z, b, 1);
        return true;
    }
    int z = find_zone(x, op->id);
    if (z < 0)
        return false;
    if (op->kind == CT_IDX_ZONE_CLOSED) {
        x->zones[z].closed = op->value;
        return true;
    }
    return add_cohort(x, &x->zones[z], op->pathogen, (ct_cohort)op->value) ==
           0;
}

void ct_candidates__apply(ct_capacity *c)
{
    if (c->cand->nops && c->cand->index)
        c->cand->gen++;
    for (size_t i = 0; i < c->cand->nops && c->cand->index && !c->cand->stale; i++)
        if (!apply_one(c->cand->index, &c->cand->ops[i]))
            c->cand->stale = true;
    c->cand->nops = 0;
}

void ct_candidates__discard(ct_capacity *c)
{
    c->cand->nops = 0;
}

/* ---- whole-area counts ------------------------------------------------ */

static int walk_zones(ct_capacity *c, ct_cap_zone_fn fn, void *ud,
                      ct_cap_error *err)
{
    int rc = ensure_index(c, err);
    if (rc)
        return rc;
    const ct_cap_index *x = c->cand->index;
    ct_cap_zone_counts zc;
    for (int i = 0; i < x->nzones; i++) {
        const izone *z = &x->zones[i];
        if (z->retired || z->fac < 0 || x->facs[z->fac].retired)
            continue;
        const ifac *f = &x->facs[z->fac];
        memset(&zc, 0, sizeof zc);
        zc.zone_id = z->id;
        zc.facility_id = f->id;
        zc.kind = (ct_facility_kind)f->kind;
        zc.closed = z->closed;
        for (int s = 0; s < CT_BED__COUNT; s++) {
            zc.n[s] = z->n[s];
            zc.surge[s] = z->nsurge[s];
        }
        zc.surge_beds = z->surge_beds;
        zc.surge_beds_open = z->surge_open;
        zc.pathogens = (const char *const *)x->pathogens;
        zc.npathogens = x->npathogens;
        zc.cohorts = z->cohorts;
        zc.ncohorts = z->ncohorts;
        if ((rc = fn(ud, &zc)))
            return rc;
    }
    return 0;
}

int ct_candidates__zones(ct_capacity *c, ct_cap_zone_fn fn, void *ud,
                         ct_cap_error *err)
{
    if (!c->cand || (c->in_change && c->cand->nops))
        return CT_EBUSY; /* (no index: a reader, capacity_counts.c) */
    if (ct_store_in_transaction(c->store))
        return walk_zones(c, fn, ud, err);
    /* One snapshot for the freshness check and a reload, as a search. */
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_CAND_READ_BEGIN, err);
    if (!st)
        return CT_ESTORE;
    int rc = ct_store__step_done(c->store, st);
    if (rc)
        return ct_capacity__fail(err, rc, "cannot begin a read: %s",
                                 ct_strerror(rc));
    rc = walk_zones(c, fn, ud, err);
    st = ct_capacity__stmt(c, CT_STMT_CAND_READ_END, NULL);
    int end = st ? ct_store__step_done(c->store, st) : CT_ESTORE;
    if (end && ct_store_in_transaction(c->store))
        ct_store_rollback(c->store); /* nothing was written */
    if (!rc && end)
        rc = ct_capacity__fail(err, end, "cannot end a read: %s",
                               ct_strerror(end));
    return rc;
}

/* ---- rows ------------------------------------------------------------ */

static int reserve(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q)
        return CT_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

/* Appends s and a NUL to the text storage; returns its offset or -1. */
static ptrdiff_t put_text(ct_candidate_list *l, const char *s)
{
    size_t n = strlen(s);
    if (reserve((void **)&l->text, &l->text_cap, l->text_len + n + 1, 1))
        return -1;
    ptrdiff_t at = (ptrdiff_t)l->text_len;
    memcpy(l->text + at, s, n + 1);
    l->text_len += n + 1;
    return at;
}

/* While rows come in, the pointers hold offsets into text and tagv (whose
 * storage may still move); fix_pointers turns them into addresses. */
#define OFF(p) ((uintptr_t)(p))
#define AS_PTR(off) ((const char *)(uintptr_t)(off))

static int add_row(ct_candidate_list *l, const ct_cap_index *x, int bi)
{
    const ibed *b = &x->beds[bi];
    const izone *z = &x->zones[b->zone];
    const ifac *f = &x->facs[z->fac];
    if (reserve((void **)&l->items, &l->cap, l->len + 1, sizeof *l->items))
        return CT_ENOMEM;
    ct_candidate *c = &l->items[l->len];
    memset(c, 0, sizeof *c);
    ptrdiff_t bed = put_text(l, b->id), zone = put_text(l, z->id),
              fac = put_text(l, f->id), org = put_text(l, f->org);
    if (bed < 0 || zone < 0 || fac < 0 || org < 0)
        return CT_ENOMEM;
    c->bed_id = AS_PTR(bed);
    c->zone_id = AS_PTR(zone);
    c->facility_id = AS_PTR(fac);
    c->org_id = AS_PTR(org);
    c->kind = (ct_facility_kind)f->kind;
    c->designated = f->designated;
    c->surge = b->surge;
    c->isolation_room = b->iso;
    c->tags = (const char *const *)(uintptr_t)l->ntagv;
    const uint64_t *bits = &x->tagbits[(size_t)bi * (size_t)x->words];
    for (int t = 0; t < x->ntags; t++) {
        if (!(bits[t / 64] >> (t % 64) & 1))
            continue;
        ptrdiff_t at = put_text(l, x->tags[t]);
        if (at < 0 || reserve((void **)&l->tagv, &l->tagv_cap, l->ntagv + 1,
                              sizeof *l->tagv))
            return CT_ENOMEM;
        l->tagv[l->ntagv++] = AS_PTR(at);
        c->ntags++;
    }
    c->cohort_pathogens = (const char *const *)(uintptr_t)l->ntagv;
    c->cohorts = (const ct_cohort *)(uintptr_t)l->ncohortv;
    for (int k = 0; k < z->ncohorts; k++) {
        ptrdiff_t at = put_text(l, x->pathogens[z->cohorts[k].pathogen]);
        if (at < 0 ||
            reserve((void **)&l->tagv, &l->tagv_cap, l->ntagv + 1,
                    sizeof *l->tagv) ||
            reserve((void **)&l->cohortv, &l->cohortv_cap, l->ncohortv + 1,
                    sizeof *l->cohortv))
            return CT_ENOMEM;
        l->tagv[l->ntagv++] = AS_PTR(at);
        l->cohortv[l->ncohortv++] = z->cohorts[k].cohort;
        c->ncohorts++;
    }
    l->len++;
    return 0;
}

static void fix_pointers(ct_candidate_list *l)
{
    for (size_t i = 0; i < l->ntagv; i++)
        l->tagv[i] = l->text + OFF(l->tagv[i]);
    for (size_t i = 0; i < l->len; i++) {
        ct_candidate *c = &l->items[i];
        c->bed_id = l->text + OFF(c->bed_id);
        c->zone_id = l->text + OFF(c->zone_id);
        c->facility_id = l->text + OFF(c->facility_id);
        c->org_id = l->text + OFF(c->org_id);
        c->tags = c->ntags ? (const char *const *)(l->tagv + OFF(c->tags))
                           : NULL;
        if (c->ncohorts) {
            c->cohort_pathogens =
                (const char *const *)(l->tagv + OFF(c->cohort_pathogens));
            c->cohorts = l->cohortv + OFF(c->cohorts);
        } else {
            c->cohort_pathogens = NULL;
            c->cohorts = NULL;
        }
    }
}

/* ---- search ---------------------------------------------------------- */

static int check_query(const ct_candidate_query *q, ct_cap_error *err)
{
    if (!q)
        return ct_capacity__fail(err, CT_EINVAL, "query is required");
    if (q->pathway < -1 || q->pathway >= CT_PATHWAY__COUNT)
        return ct_capacity__fail(err, CT_EINVAL, "pathway %d is not a pathway",
                                 q->pathway);
    if (q->kinds >> CT_FACILITY__COUNT)
        return ct_capacity__fail(err, CT_EINVAL,
                                 "facility kinds 0x%x name no kind", q->kinds);
    if (q->ntags > MAX_TAGS)
        return ct_capacity__fail(err, CT_EINVAL, "more than %d tags",
                                 MAX_TAGS);
    for (size_t i = 0; i < q->ntags; i++)
        if (!q->tags[i] || !*q->tags[i])
            return ct_capacity__fail(err, CT_EINVAL, "tag %zu is empty", i);
    if (q->facility_id && strlen(q->facility_id) >= CT_CAP_ID_MAX)
        return ct_capacity__fail(err, CT_EINVAL, "facility id is too long");
    return 0;
}

/* Sets the bit of tag in want; false when no bed has it at all. */
static bool want_tag(const ct_cap_index *x, const char *tag, uint64_t *want)
{
    int t = find_tag(x, tag);
    if (t < 0)
        return false;
    want[t / 64] |= UINT64_C(1) << (t % 64);
    return true;
}

/* The person's needs (JSON text) and the query's tags as a bit set; false
 * when a tag no bed carries is required (no candidate then). */
static int required(const ct_cap_index *x, const ct_ref_row *r,
                    const ct_candidate_query *q, uint64_t *want, bool *any,
                    ct_cap_error *err)
{
    *any = true;
    for (size_t i = 0; i < q->ntags; i++)
        *any = want_tag(x, q->tags[i], want) && *any;
    if (!r->needs || strcmp(r->needs, "[]") == 0)
        return 0;
    json_t *a = json_loads(r->needs, 0, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        return ct_capacity__fail(err, CT_ECORRUPT,
                                 "referral %" PRId64 " has unreadable needs",
                                 r->id);
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        const char *t = json_string_value(v);
        *any = t && want_tag(x, t, want) && *any;
    }
    json_decref(a);
    return 0;
}

/*
 * The referral (as ct_referral__load reads it) and the person's record
 * per interned pathogen, into the index's scratch, in one statement.
 * CT_ENOTFOUND naming the referral. Free r with ct_referral__row_free.
 */
static int load_person(ct_capacity *c, int64_t id, ct_ref_row *r,
                       ct_cap_error *err)
{
    ct_cap_index *x = c->cand->index;
    for (int i = 0; i < x->npathogens; i++) {
        x->pstatus[i] = -1;
        x->pend[i] = INT64_MAX;
    }
    memset(r, 0, sizeof *r);
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_CAND_PERSON, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    int rc, out = 0;
    bool first = true;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (first && (out = ct_referral__from_row(st, id, r, err)))
            break;
        first = false;
        if (sqlite3_column_type(st, 4) == SQLITE_NULL)
            continue; /* no infection record */
        int p = -1;
        for (int i = 0; i < x->npathogens && p < 0; i++)
            if (strcmp(x->pathogens[i], text(st, 4)) == 0)
                p = i;
        if (p < 0) /* no zone has a cohort for it */
            continue;
        x->pstatus[p] = ct_infection_status_parse(text(st, 5));
        x->pend[p] = sqlite3_column_type(st, 6) == SQLITE_NULL
                         ? INT64_MAX
                         : sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    if (out)
        return out;
    if (rc != SQLITE_DONE)
        return ct_capacity__dberr(c, err, rc, "reading a referral");
    if (first)
        return ct_capacity__fail(err, CT_ENOTFOUND,
                                 "referral %" PRId64 " does not exist", id);
    return 0;
}

/* Whether zone z takes the person in an ordinary bed and in an isolation
 * room: ct_isolation_admits for each of its cohorts. */
static void zone_admits(const ct_cap_index *x, const izone *z, int64_t now,
                        bool *plain, bool *iso)
{
    *plain = *iso = true;
    for (int i = 0; i < z->ncohorts; i++) {
        int p = z->cohorts[i].pathogen;
        ct_cohort co = z->cohorts[i].cohort;
        *plain = *plain && ct_isolation_admits(co, x->pstatus[p], x->pend[p],
                                               now, false, NULL);
        *iso = *iso && ct_isolation_admits(co, x->pstatus[p], x->pend[p], now,
                                           true, NULL);
    }
}

static bool has_all(const uint64_t *bits, const uint64_t *want, int words)
{
    for (int w = 0; w < words; w++)
        if ((bits[w] & want[w]) != want[w])
            return false;
    return true;
}

static int walk(ct_capacity *c, const ct_candidate_query *q, unsigned kinds,
                const uint64_t *want, ct_candidate_list *out)
{
    const ct_cap_index *x = c->cand->index;
    int64_t now = ct_clock_now(c->clock);
    int only = -2;
    if (q->facility_id && (only = find_fac(x, q->facility_id)) < 0)
        return 0;
    for (int zi = 0; zi < x->nzones; zi++) {
        const izone *z = &x->zones[zi];
        if (z->navail == 0 || z->closed || z->retired)
            continue;
        const ifac *f = &x->facs[z->fac];
        if (f->retired || (only >= 0 && z->fac != only) ||
            (kinds && !(kinds >> f->kind & 1u)))
            continue;
        bool plain, iso;
        zone_admits(x, z, now, &plain, &iso);
        if (!plain && !iso)
            continue;
        for (int bi = z->first; bi < z->first + z->nbeds; bi++) {
            const ibed *b = &x->beds[bi];
            if (!bed_free(b) || !(plain || (iso && b->iso)) ||
                !has_all(&x->tagbits[(size_t)bi * (size_t)x->words], want,
                         x->words))
                continue;
            if (add_row(out, x, bi))
                return CT_ENOMEM;
            if (q->limit && out->len >= q->limit)
                return 0;
        }
    }
    return 0;
}

static int search(ct_capacity *c, const ct_candidate_query *q,
                  ct_candidate_list *out, ct_cap_error *err);

/*
 * Outside a transaction the search runs in one read transaction of its
 * own: one snapshot (and one WAL read lock) for the data_version check,
 * an index reload and the person's rows, rather than one per statement.
 * Nothing is written, so it ends with COMMIT; the store does not count
 * this read as a transaction of its own (no watcher hears of it).
 */
int ct_candidates_find(ct_capacity *c, const ct_candidate_query *q,
                       ct_candidate_list *out, ct_cap_error *err)
{
    out->len = 0;
    out->text_len = 0;
    out->ntagv = 0;
    out->ncohortv = 0;
    int rc = check_query(q, err);
    if (rc || ct_store_in_transaction(c->store))
        return rc ? rc : search(c, q, out, err);
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_CAND_READ_BEGIN, err);
    if (!st)
        return CT_ESTORE;
    if ((rc = ct_store__step_done(c->store, st)))
        return ct_capacity__fail(err, rc, "cannot begin a read: %s",
                                 ct_strerror(rc));
    rc = search(c, q, out, err);
    st = ct_capacity__stmt(c, CT_STMT_CAND_READ_END, NULL);
    int end = st ? ct_store__step_done(c->store, st) : CT_ESTORE;
    if (end && ct_store_in_transaction(c->store))
        ct_store_rollback(c->store); /* nothing was written */
    if (!rc && end) {
        out->len = out->text_len = out->ntagv = out->ncohortv = 0;
        rc = ct_capacity__fail(err, end, "cannot end a read: %s",
                               ct_strerror(end));
    }
    return rc;
}

static int search(ct_capacity *c, const ct_candidate_query *q,
                  ct_candidate_list *out, ct_cap_error *err)
{
    /* The index first: the person's records are read into its scratch. */
    int rc = ensure_index(c, err);
    if (rc)
        return rc;
    ct_ref_row r;
    if ((rc = load_person(c, q->referral_id, &r, err))) {
        ct_referral__row_free(&r);
        return rc;
    }
    uint64_t want_small[4] = {0}, *want = want_small;
    int pathway = q->pathway >= 0 ? q->pathway : r.pathway;
    unsigned kinds = q->kinds;
    if (!kinds && pathway >= 0) {
        kinds = ct_candidates_kinds_for((ct_pathway)pathway);
        if (!kinds) /* P0: home with no new support needs no bed */
            goto done;
    }
    if (c->cand->index->words > 4 &&
        !(want = calloc((size_t)c->cand->index->words, sizeof *want))) {
        rc = ct_capacity__fail(err, CT_ENOMEM, "out of memory");
        goto done;
    }
    bool any;
    if ((rc = required(c->cand->index, &r, q, want, &any, err)) || !any)
        goto done;
    if ((rc = walk(c, q, kinds, want, out)))
        ct_capacity__fail(err, rc, "out of memory");
done:
    if (want != want_small)
        free(want);
    ct_referral__row_free(&r);
    if (rc)
        out->len = out->text_len = out->ntagv = out->ncohortv = 0;
    else
        fix_pointers(out);
    return rc;
}

json_t *ct_candidates_json(const ct_candidate_list *l)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < l->len; i++) {
        const ct_candidate *c = &l->items[i];
        json_t *tags = json_array();
        for (size_t j = 0; tags && j < c->ntags; j++)
            json_array_append_new(tags, json_string(c->tags[j]));
        json_t *cohort = json_object();
        for (size_t j = 0; cohort && j < c->ncohorts; j++)
            json_object_set_new(cohort, c->cohort_pathogens[j],
                                json_string(ct_cohort_name(c->cohorts[j])));
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:b, s:b, s:o}", "bed",
            c->bed_id, "zone", c->zone_id, "facility", c->facility_id, "kind",
            ct_facility_kind_name(c->kind), "org", c->org_id, "tags", tags,
            "designated", c->designated, "surge", c->surge, "isolation_room",
            c->isolation_room, "cohort", cohort);
        if (!o || json_array_append_new(a, o)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* ---- why no candidate ------------------------------------------------ */

/* Adds n to o[key] (an integer member). */
static void count(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    json_object_set_new(o, key,
                        json_integer(v ? json_integer_value(v) + 1 : 1));
}

/* Each bed of the area counted once, under the first host rule that
 * keeps it from the person, in the order of candidates.h. */
static int explain(ct_capacity *c, const ct_candidate_query *q, json_t *o,
                   ct_cap_error *err)
{
    int rc = ensure_index(c, err);
    if (rc)
        return rc;
    ct_ref_row r;
    if ((rc = load_person(c, q->referral_id, &r, err))) {
        ct_referral__row_free(&r);
        return rc;
    }
    const ct_cap_index *x = c->cand->index;
    int pathway = q->pathway >= 0 ? q->pathway : r.pathway;
    unsigned kinds = q->kinds;
    if (!kinds && pathway >= 0)
        kinds = ct_candidates_kinds_for((ct_pathway)pathway);
    json_t *needs = r.needs ? json_loads(r.needs, 0, NULL) : NULL;
    json_t *tags = json_object(), *held = json_array(),
           *surge = json_object();
    int64_t now = ct_clock_now(c->clock), iso_end = 0;
    for (int zi = 0; zi < x->nzones; zi++) {
        const izone *z = &x->zones[zi];
        const ifac *f = &x->facs[z->fac];
        if (z->retired || f->retired)
            continue;
        bool plain, iso;
        zone_admits(x, z, now, &plain, &iso);
        for (int bi = z->first; bi < z->first + z->nbeds; bi++) {
            const ibed *b = &x->beds[bi];
            if (b->retired)
                continue;
            if (kinds && !(kinds >> f->kind & 1u)) {
                count(o, "pathway");
                continue;
            }
            const uint64_t *bits =
                &x->tagbits[(size_t)bi * (size_t)x->words];
            const char *missing = NULL;
            size_t i;
            json_t *v;
            json_array_foreach(needs, i, v)
            {
                const char *t = json_string_value(v);
                int ti = t ? find_tag(x, t) : -1;
                if (t && (ti < 0 || !(bits[ti / 64] >> (ti % 64) & 1))) {
                    missing = t;
                    break;
                }
            }
            if (missing) {
                count(tags, missing);
                continue;
            }
            if (!(plain || (iso && b->iso))) {
                count(o, "cohort");
                /* The person's isolation ending may let them in. */
                for (int k = 0; k < z->ncohorts; k++) {
                    int p = z->cohorts[k].pathogen;
                    if (x->pend[p] != INT64_MAX && x->pend[p] > now &&
                        (!iso_end || x->pend[p] < iso_end))
                        iso_end = x->pend[p];
                }
                continue;
            }
            if (z->closed) {
                count(o, "closed");
                continue;
            }
            if (b->surge && !b->surge_open) {
                count(o, "surge_closed");
                count(surge, f->id);
                continue;
            }
            switch (b->status) {
            case CT_BED_HELD:
                count(o, "held");
                if (json_array_size(held) < 64)
                    json_array_append_new(held, json_string(b->id));
                break;
            case CT_BED_OCCUPIED: count(o, "occupied"); break;
            case CT_BED_BLOCKED: count(o, "blocked"); break;
            default: count(o, "available"); break;
            }
        }
    }
    json_decref(needs);
    ct_referral__row_free(&r);
    json_object_set_new(o, "tags", tags);
    json_object_set_new(o, "held_beds", held);
    json_object_set_new(o, "surge_beds", surge);
    if (iso_end)
        json_object_set_new(o, "isolation_ends", json_integer(iso_end));
    return 0;
}

int ct_candidates_explain(ct_capacity *c, const ct_candidate_query *q,
                          json_t **out, ct_cap_error *err)
{
    *out = NULL;
    int rc = check_query(q, err);
    if (rc)
        return rc;
    json_t *o = json_object();
    if (!o)
        return ct_capacity__fail(err, CT_ENOMEM, "out of memory");
    if (ct_store_in_transaction(c->store)) {
        rc = explain(c, q, o, err);
    } else {
        sqlite3_stmt *st =
            ct_capacity__stmt(c, CT_STMT_CAND_READ_BEGIN, err);
        if (!st || (rc = ct_store__step_done(c->store, st))) {
            json_decref(o);
            return ct_capacity__fail(err, st ? rc : CT_ESTORE,
                                     "cannot begin a read");
        }
        rc = explain(c, q, o, err);
        st = ct_capacity__stmt(c, CT_STMT_CAND_READ_END, NULL);
        int end = st ? ct_store__step_done(c->store, st) : CT_ESTORE;
        if (end && ct_store_in_transaction(c->store))
            ct_store_rollback(c->store); /* nothing was written */
    }
    if (rc)
        json_decref(o);
    else
        *out = o;
    return rc;
}
