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
 * beds, surge, closure and cohorts (ct_area__note) and the notes are
 * applied when the change commits; a rollback of what the index saw
 * (a store watcher), a commit by another connection (PRAGMA data_version)
 * or ct_capacity_refresh (after a reconcile) make the next search reload.
 */
#include "candidates_int.h"

#include "error.h"
#include "isolation.h"
#include "json_canon.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        return ct_area__fail(err, CT_EINVAL, "query is required");
    if (q->pathway < -1 || q->pathway >= CT_PATHWAY__COUNT)
        return ct_area__fail(err, CT_EINVAL, "pathway %d is not a pathway",
                             q->pathway);
    if (q->kinds >> CT_FACILITY__COUNT)
        return ct_area__fail(err, CT_EINVAL,
                             "facility kinds 0x%x name no kind", q->kinds);
    if (q->ntags > MAX_TAGS)
        return ct_area__fail(err, CT_EINVAL, "more than %d tags",
                             MAX_TAGS);
    for (size_t i = 0; i < q->ntags; i++)
        if (!q->tags[i] || !*q->tags[i])
            return ct_area__fail(err, CT_EINVAL, "tag %zu is empty", i);
    if (q->facility_id && strlen(q->facility_id) >= CT_CAP_ID_MAX)
        return ct_area__fail(err, CT_EINVAL, "facility id is too long");
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
        return ct_area__fail(err, CT_ECORRUPT,
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
    ct_cap_index *x = ct_cand_of(c)->index;
    for (int i = 0; i < x->npathogens; i++) {
        x->pstatus[i] = -1;
        x->pend[i] = INT64_MAX;
    }
    memset(r, 0, sizeof *r);
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_CAND_PERSON, err);
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
            if (strcmp(x->pathogens[i], row_text(st, 4)) == 0)
                p = i;
        if (p < 0) /* no zone has a cohort for it */
            continue;
        x->pstatus[p] = ct_infection_status_parse(row_text(st, 5));
        x->pend[p] = sqlite3_column_type(st, 6) == SQLITE_NULL
                         ? INT64_MAX
                         : sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    if (out)
        return out;
    if (rc != SQLITE_DONE)
        return ct_area__dberr(c, err, rc, "reading a referral");
    if (first)
        return ct_area__fail(err, CT_ENOTFOUND,
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
    const ct_cap_index *x = ct_cand_of(c)->index;
    int64_t now = ct_clock_now(ct_area_clock(c));
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
    if (rc || ct_store_in_transaction(ct_area_store(c)))
        return rc ? rc : search(c, q, out, err);
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_CAND_READ_BEGIN, err);
    if (!st)
        return CT_ESTORE;
    if ((rc = ct_store__step_done(ct_area_store(c), st)))
        return ct_area__fail(err, rc, "cannot begin a read: %s",
                             ct_strerror(rc));
    rc = search(c, q, out, err);
    st = ct_area__stmt(c, CT_STMT_CAND_READ_END, NULL);
    int end = st ? ct_store__step_done(ct_area_store(c), st) : CT_ESTORE;
    if (end && ct_store_in_transaction(ct_area_store(c)))
        ct_store_rollback(ct_area_store(c)); /* nothing was written */
    if (!rc && end) {
        out->len = out->text_len = out->ntagv = out->ncohortv = 0;
        rc = ct_area__fail(err, end, "cannot end a read: %s",
                           ct_strerror(end));
    }
    return rc;
}

/* What a search and its explanation start from: the index (loaded when
 * it may lag), then the person's records read into its scratch, and the
 * referral in *r (free with ct_referral__row_free; freed on failure). */
static int open_query(ct_capacity *c, const ct_candidate_query *q,
                      ct_ref_row *r, ct_cap_error *err)
{
    int rc = ct_candidates__ensure_index(c, err);
    if (rc)
        return rc;
    if ((rc = load_person(c, q->referral_id, r, err)))
        ct_referral__row_free(r);
    return rc;
}

static int search(ct_capacity *c, const ct_candidate_query *q,
                  ct_candidate_list *out, ct_cap_error *err)
{
    ct_ref_row r;
    int rc = open_query(c, q, &r, err);
    if (rc)
        return rc;
    uint64_t want_small[4] = {0}, *want = want_small;
    int pathway = q->pathway >= 0 ? q->pathway : r.pathway;
    unsigned kinds = q->kinds;
    if (!kinds && pathway >= 0) {
        kinds = ct_candidates_kinds_for((ct_pathway)pathway);
        if (!kinds) /* P0: home with no new support needs no bed */
            goto done;
    }
    if (ct_cand_of(c)->index->words > 4 &&
        !(want = calloc((size_t)ct_cand_of(c)->index->words, sizeof *want))) {
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
        goto done;
    }
    bool any;
    if ((rc = required(ct_cand_of(c)->index, &r, q, want, &any, err)) || !any)
        goto done;
    if ((rc = walk(c, q, kinds, want, out)))
        ct_area__fail(err, rc, "out of memory");
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

/* The string of s, taken from *last when it holds the same text (the
 * candidates of one zone repeat its zone, facility, kind and organisation:
 * one shared value instead of fifty). Strings from the area index are
 * valid UTF-8 (the config reader checks them). */
static json_t *shared_string(json_t **last, const char *s)
{
    if (*last && strcmp(json_string_value(*last), s) == 0)
        return json_incref(*last);
    json_t *v = json_string_nocheck(s);
    json_decref(*last);
    *last = json_incref(v);
    return v;
}

static bool same_tags(const ct_candidate *a, const ct_candidate *b)
{
    if (!a || a->ntags != b->ntags)
        return false;
    for (size_t j = 0; j < a->ntags; j++)
        if (strcmp(a->tags[j], b->tags[j]) != 0)
            return false;
    return true;
}

static bool same_cohorts(const ct_candidate *a, const ct_candidate *b)
{
    if (!a || a->ncohorts != b->ncohorts)
        return false;
    for (size_t j = 0; j < a->ncohorts; j++)
        if (a->cohorts[j] != b->cohorts[j] ||
            strcmp(a->cohort_pathogens[j], b->cohort_pathogens[j]) != 0)
            return false;
    return true;
}

/*
 * Built member by member rather than through json_pack (which parsed its
 * format for each of 50 candidates: 14,000 instructions a candidate).
 * Values that repeat from one candidate to the next (a zone's strings,
 * tags and cohorts) are one shared value: nothing changes a candidate in
 * place (rank answers are new values; docs/sandbox.md, "Results").
 */
json_t *ct_candidates_json(const ct_candidate_list *l)
{
    json_t *a = json_array();
    json_t *zone = NULL, *fac = NULL, *kind = NULL, *org = NULL;
    json_t *tags = NULL, *cohort = NULL;
    const ct_candidate *prev = NULL;
    for (size_t i = 0; a && i < l->len; i++) {
        const ct_candidate *c = &l->items[i];
        if (!same_tags(prev, c)) {
            json_decref(tags);
            tags = json_array();
            for (size_t j = 0; tags && j < c->ntags; j++)
                json_array_append_new(tags, json_string_nocheck(c->tags[j]));
        }
        if (!same_cohorts(prev, c)) {
            json_decref(cohort);
            cohort = json_object();
            for (size_t j = 0; cohort && j < c->ncohorts; j++)
                json_object_set_new_nocheck(
                    cohort, c->cohort_pathogens[j],
                    json_string_nocheck(ct_cohort_name(c->cohorts[j])));
        }
        prev = c;
        json_t *o = json_object();
        if (!o || !tags || !cohort ||
            json_object_set_new_nocheck(o, "bed",
                                        json_string_nocheck(c->bed_id)) ||
            json_object_set_new_nocheck(o, "zone",
                                        shared_string(&zone, c->zone_id)) ||
            json_object_set_new_nocheck(
                o, "facility", shared_string(&fac, c->facility_id)) ||
            json_object_set_new_nocheck(
                o, "kind",
                shared_string(&kind, ct_facility_kind_name(c->kind))) ||
            json_object_set_new_nocheck(o, "org",
                                        shared_string(&org, c->org_id)) ||
            json_object_set_nocheck(o, "tags", tags) ||
            json_object_set_new_nocheck(o, "designated",
                                        json_boolean(c->designated)) ||
            json_object_set_new_nocheck(o, "surge", json_boolean(c->surge)) ||
            json_object_set_new_nocheck(o, "isolation_room",
                                        json_boolean(c->isolation_room)) ||
            json_object_set_nocheck(o, "cohort", cohort)) {
            json_decref(o);
            json_decref(a);
            a = NULL;
        } else if (json_array_append_new(a, o)) {
            json_decref(a);
            a = NULL;
        }
    }
    json_decref(zone);
    json_decref(fac);
    json_decref(kind);
    json_decref(org);
    json_decref(tags);
    json_decref(cohort);
    return a;
}

/* ---- why no candidate ------------------------------------------------ */


/* Each bed of the area counted once, under the first host rule that
 * keeps it from the person, in the order of candidates.h. */
static int explain(ct_capacity *c, const ct_candidate_query *q, json_t *o,
                   ct_cap_error *err)
{
    ct_ref_row r;
    int rc = open_query(c, q, &r, err);
    if (rc)
        return rc;
    const ct_cap_index *x = ct_cand_of(c)->index;
    int pathway = q->pathway >= 0 ? q->pathway : r.pathway;
    unsigned kinds = q->kinds;
    if (!kinds && pathway >= 0)
        kinds = ct_candidates_kinds_for((ct_pathway)pathway);
    json_t *needs = r.needs ? json_loads(r.needs, 0, NULL) : NULL;
    json_t *tags = json_object(), *held = json_array(),
           *surge = json_object();
    int64_t now = ct_clock_now(ct_area_clock(c)), iso_end = 0;
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
                ct_json_count(o, "pathway");
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
                ct_json_count(tags, missing);
                continue;
            }
            if (!(plain || (iso && b->iso))) {
                ct_json_count(o, "cohort");
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
                ct_json_count(o, "closed");
                continue;
            }
            if (b->surge && !b->surge_open) {
                ct_json_count(o, "surge_closed");
                ct_json_count(surge, f->id);
                continue;
            }
            switch (b->status) {
            case CT_BED_HELD:
                ct_json_count(o, "held");
                if (json_array_size(held) < 64)
                    json_array_append_new(held, json_string(b->id));
                break;
            case CT_BED_OCCUPIED: ct_json_count(o, "occupied"); break;
            case CT_BED_BLOCKED: ct_json_count(o, "blocked"); break;
            default: ct_json_count(o, "available"); break;
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
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    if (ct_store_in_transaction(ct_area_store(c))) {
        rc = explain(c, q, o, err);
    } else {
        sqlite3_stmt *st =
            ct_area__stmt(c, CT_STMT_CAND_READ_BEGIN, err);
        if (!st || (rc = ct_store__step_done(ct_area_store(c), st))) {
            json_decref(o);
            return ct_area__fail(err, st ? rc : CT_ESTORE,
                                 "cannot begin a read");
        }
        rc = explain(c, q, o, err);
        st = ct_area__stmt(c, CT_STMT_CAND_READ_END, NULL);
        int end = st ? ct_store__step_done(ct_area_store(c), st) : CT_ESTORE;
        if (end && ct_store_in_transaction(ct_area_store(c)))
            ct_store_rollback(ct_area_store(c)); /* nothing was written */
    }
    if (rc)
        json_decref(o);
    else
        *out = o;
    return rc;
}
