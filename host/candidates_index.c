/*
 * The in-memory index candidate search runs on (candidates.c): loaded
 * from the store, kept in step with the notes of each change
 * (the area handle's note hook) applied at its commit, reloaded when a rollback
 * or another connection may have changed what it mirrors.
 */
#include "candidates_int.h"

#include "error.h"
#include "isolation.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void forget(ct_capacity *c);

/* ---- the index ------------------------------------------------------- */
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

/* An index being loaded, with the capacities of its growing arrays. */
typedef struct loader {
    ct_cap_index *x;
    int facs, zones, beds, tags;
} loader;

/* Steps st through its rows, calling row for each; resets it. */
static int each_row(ct_capacity *c, ct_stmt id, loader *x,
                    int (*row)(loader *, sqlite3_stmt *), ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, id, err);
    if (!st)
        return CT_ESTORE;
    int rc, out = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if ((out = row(x, st)))
            break;
    if (!out && rc != SQLITE_DONE)
        out = ct_area__dberr(c, err, rc, "loading the area index");
    else if (out)
        ct_area__fail(err, out, "loading the area index: %s",
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
    f->id = ct_strdup(row_text(st, 0));
    f->org = ct_strdup(row_text(st, 1));
    x->nfacs++;
    if (!f->id || !f->org)
        return CT_ENOMEM;
    f->kind = ct_facility_kind_parse(row_text(st, 2));
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
    z->id = ct_strdup(row_text(st, 0));
    x->nzones++;
    if (!z->id)
        return CT_ENOMEM;
    z->fac = find_fac(x, row_text(st, 1));
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
    int z = find_zone(x, row_text(st, 0));
    int co = ct_cohort_parse(row_text(st, 2));
    if (z < 0 || co < 0)
        return 0;
    return add_cohort(x, &x->zones[z], row_text(st, 1), (ct_cohort)co);
}

static int tag_row(loader *l, sqlite3_stmt *st)
{
    ct_cap_index *x = l->x;
    if (grow((void **)&x->tags, &l->tags, x->ntags + 1, sizeof *x->tags))
        return CT_ENOMEM;
    if (!(x->tags[x->ntags] = ct_strdup(row_text(st, 0))))
        return CT_ENOMEM;
    x->ntags++;
    return 0;
}

static int bed_row(loader *l, sqlite3_stmt *st)
{
    ct_cap_index *x = l->x;
    int z = find_zone(x, row_text(st, 1));
    if (z < 0)
        return 0;
    if (grow((void **)&x->beds, &l->beds, x->nbeds + 1, sizeof *x->beds))
        return CT_ENOMEM;
    ibed *b = &x->beds[x->nbeds];
    memset(b, 0, sizeof *b);
    if (!(b->id = ct_strdup(row_text(st, 0))))
        return CT_ENOMEM;
    b->zone = z;
    b->status = (ct_bed_status)ct_bed_status_parse(row_text(st, 2));
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
    int b = find_bed(x, row_text(st, 0)), t = find_tag(x, row_text(st, 1));
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
    struct ct_cand *k = ct_cand_of(c);
    loader l = {.x = calloc(1, sizeof(ct_cap_index))};
    ct_cap_index *x = l.x;
    idpos *ids = NULL;
    if (!x)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    int rc;
    for (size_t i = 0; i < ct_area_npathogens(c); i++)
        if (intern_pathogen(x, ct_area_pathogen(c, i)) < 0)
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
    k->index = x;
    k->stale = false;
    k->gen++; /* loaded inside a transaction: its rollback reloads */
    return 0;

fail_nomem:
    rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
fail:
    free(ids);
    index_free(x);
    return rc;
}

static int64_t data_version(ct_capacity *c)
{
    sqlite3_stmt *st =
        ct_store__stmt(ct_area_store(c), CT_STMT_CAND_DATA_VERSION);
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
int ct_candidates__ensure_index(ct_capacity *c, ct_cap_error *err)
{
    struct ct_cand *k = ct_cand_of(c);
    sqlite3 *db = ct_store__db(ct_area_store(c));
    bool writing = sqlite3_txn_state(db, "main") == SQLITE_TXN_WRITE;
    if (k->index && !k->stale && writing &&
        k->version_checked)
        return 0;
    int64_t v = data_version(c);
    k->version_checked = writing && v >= 0;
    if (k->index && !k->stale && v == k->data_version &&
        v >= 0)
        return 0;
    int rc = load_index(c, err);
    if (rc == 0)
        k->data_version = v;
    return rc;
}

static void forget(ct_capacity *c)
{
    struct ct_cand *k = ct_cand_of(c);
    index_free(k->index);
    k->index = NULL;
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

static void note(ct_capacity *c, ct_cap_idxkind kind, const char *id,
                 const char *pathogen, int value);
static void apply(ct_capacity *c);
static void discard(ct_capacity *c);

/* What every change tells the index, through the area handle (area.h). */
static const ct_area_hooks index_hooks = {
    .note = note, .apply = apply, .discard = discard};

int ct_candidates__new(ct_capacity *c)
{
    struct ct_cand *x = calloc(1, sizeof *x);
    if (!x)
        return CT_ENOMEM;
    int rc = ct_store_watch(ct_area_store(c), &watcher, x);
    if (rc) {
        free(x);
        return rc;
    }
    ct_area__set_slot(c, CT_AREA_CANDIDATES, x);
    ct_area__set_hooks(c, &index_hooks);
    return 0;
}

void ct_candidates__free(ct_capacity *c)
{
    struct ct_cand *x = ct_cand_of(c);
    if (!x)
        return;
    ct_store_unwatch(ct_area_store(c), &watcher, x);
    forget(c);
    free(x->ops);
    free(x);
    ct_area__set_slot(c, CT_AREA_CANDIDATES, NULL);
}

void ct_candidates__invalidate(ct_capacity *c)
{
    ct_cand_of(c)->stale = true;
}

/* ---- keeping it in step ---------------------------------------------- */

/* The index hooks (area.h): a change notes what it did; apply runs just
 * before its commit (or savepoint release), discard at its rollback. */
static void note(ct_capacity *c, ct_cap_idxkind kind, const char *id,
                 const char *pathogen, int value)
{
    if (!ct_cand_of(c)->index)
        return; /* the first search loads what the store says */
    if (ct_cand_of(c)->nops == ct_cand_of(c)->capops) {
        size_t n = ct_cand_of(c)->capops ? 2 * ct_cand_of(c)->capops : 16;
        ct_cap_idxop *p = realloc(ct_cand_of(c)->ops, n * sizeof *p);
        if (!p) {
            ct_cand_of(c)->stale = true;
            return;
        }
        ct_cand_of(c)->ops = p;
        ct_cand_of(c)->capops = n;
    }
    ct_cap_idxop *op = &ct_cand_of(c)->ops[ct_cand_of(c)->nops++];
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

static void apply(ct_capacity *c)
{
    struct ct_cand *k = ct_cand_of(c);
    if (k->nops && k->index)
        k->gen++;
    for (size_t i = 0; i < k->nops && k->index && !k->stale;
         i++)
        if (!apply_one(k->index, &k->ops[i]))
            k->stale = true;
    k->nops = 0;
}

static void discard(ct_capacity *c)
{
    ct_cand_of(c)->nops = 0;
}

/* ---- whole-area counts ------------------------------------------------ */

static int walk_zones(ct_capacity *c, ct_cap_zone_fn fn, void *ud,
                      ct_cap_error *err)
{
    int rc = ct_candidates__ensure_index(c, err);
    if (rc)
        return rc;
    const ct_cap_index *x = ct_cand_of(c)->index;
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
    if (!ct_cand_of(c) || (ct_area__in_change(c) && ct_cand_of(c)->nops))
        return CT_EBUSY; /* (no index: a reader, capacity_counts.c) */
    if (ct_store_in_transaction(ct_area_store(c)))
        return walk_zones(c, fn, ud, err);
    /* One snapshot for the freshness check and a reload, as a search. */
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_CAND_READ_BEGIN, err);
    if (!st)
        return CT_ESTORE;
    int rc = ct_store__step_done(ct_area_store(c), st);
    if (rc)
        return ct_area__fail(err, rc, "cannot begin a read: %s",
                             ct_strerror(rc));
    rc = walk_zones(c, fn, ud, err);
    st = ct_area__stmt(c, CT_STMT_CAND_READ_END, NULL);
    int end = st ? ct_store__step_done(ct_area_store(c), st) : CT_ESTORE;
    if (end && ct_store_in_transaction(ct_area_store(c)))
        ct_store_rollback(ct_area_store(c)); /* nothing was written */
    if (!rc && end)
        rc = ct_area__fail(err, end, "cannot end a read: %s",
                           ct_strerror(end));
    return rc;
}
