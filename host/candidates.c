/*
 * Candidate search (candidates.h): plan choice, the query, and rows packed
 * into the caller's reusable list.
 */
#include "candidates.h"

#include "capacity_int.h"
#include "error.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K(n) (1u << CT_FACILITY_##n)
#define MAX_TAGS 64
#define TAG_SEP '\x1f' /* group_concat separator in the query */

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
    memset(l, 0, sizeof *l);
}

/* ---- tag statistics -------------------------------------------------- */

void ct_candidates__forget(ct_capacity *c)
{
    for (size_t i = 0; i < c->ntagstats; i++)
        free(c->tagstats[i].tag);
    free(c->tagstats);
    c->tagstats = NULL;
    c->ntagstats = 0;
    c->tagstats_loaded = false;
}

static int load_tagstats(ct_capacity *c, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_capacity__stmt(c, CT_STMT_CAND_BED_COUNT, err);
    if (!st)
        return CT_ESTORE;
    int rc = sqlite3_step(st);
    c->tagstat_beds = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return ct_capacity__dberr(c, err, rc, "counting beds");
    if (!(st = ct_capacity__stmt(c, CT_STMT_CAND_TAG_STATS, err)))
        return CT_ESTORE;
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (c->ntagstats == cap) {
            cap = cap ? 2 * cap : 16;
            ct_cap_tagstat *p = realloc(c->tagstats, cap * sizeof *p);
            if (!p) {
                rc = SQLITE_NOMEM;
                break;
            }
            c->tagstats = p;
        }
        char *tag = ct_strdup((const char *)sqlite3_column_text(st, 0));
        if (!tag) {
            rc = SQLITE_NOMEM;
            break;
        }
        c->tagstats[c->ntagstats++] =
            (ct_cap_tagstat){tag, sqlite3_column_int64(st, 1)};
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        ct_candidates__forget(c);
        return ct_capacity__dberr(c, err, rc, "counting tags");
    }
    c->tagstats_loaded = true;
    return 0;
}

static int64_t beds_with(const ct_capacity *c, const char *tag)
{
    for (size_t i = 0; i < c->ntagstats; i++)
        if (strcmp(c->tagstats[i].tag, tag) == 0)
            return c->tagstats[i].beds;
    return 0;
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
static ptrdiff_t put_text(ct_candidate_list *l, const char *s, size_t n)
{
    if (reserve((void **)&l->text, &l->text_cap, l->text_len + n + 1, 1))
        return -1;
    ptrdiff_t at = (ptrdiff_t)l->text_len;
    memcpy(l->text + at, s, n);
    l->text[at + (ptrdiff_t)n] = '\0';
    l->text_len += n + 1;
    return at;
}

static ptrdiff_t put_col(ct_candidate_list *l, sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return put_text(l, s ? s : "", s ? (size_t)sqlite3_column_bytes(st, i)
                                     : 0);
}

/* While rows come in, the pointers hold offsets into text and tagv (whose
 * storage may still move); fix_pointers turns them into addresses. */
#define OFF(p) ((uintptr_t)(p))
#define AS_PTR(off) ((const char *)(uintptr_t)(off))

static int add_row(ct_candidate_list *l, sqlite3_stmt *st)
{
    if (reserve((void **)&l->items, &l->cap, l->len + 1, sizeof *l->items))
        return CT_ENOMEM;
    ct_candidate *c = &l->items[l->len];
    memset(c, 0, sizeof *c);
    ptrdiff_t bed = put_col(l, st, 0), zone = put_col(l, st, 1),
              fac = put_col(l, st, 2), org = put_col(l, st, 4);
    if (bed < 0 || zone < 0 || fac < 0 || org < 0)
        return CT_ENOMEM;
    c->bed_id = AS_PTR(bed);
    c->zone_id = AS_PTR(zone);
    c->facility_id = AS_PTR(fac);
    c->org_id = AS_PTR(org);
    c->kind = (ct_facility_kind)ct_facility_kind_parse(
        (const char *)sqlite3_column_text(st, 3));
    c->designated = sqlite3_column_int(st, 5);
    c->surge = sqlite3_column_int(st, 6);
    c->tags = (const char *const *)(uintptr_t)l->ntagv;
    const char *tags = (const char *)sqlite3_column_text(st, 7);
    while (tags && *tags) {
        const char *end = strchr(tags, TAG_SEP);
        size_t n = end ? (size_t)(end - tags) : strlen(tags);
        ptrdiff_t at = put_text(l, tags, n);
        if (at < 0 || reserve((void **)&l->tagv, &l->tagv_cap, l->ntagv + 1,
                              sizeof *l->tagv))
            return CT_ENOMEM;
        l->tagv[l->ntagv++] = AS_PTR(at);
        if (n == strlen("isolation_room") &&
            memcmp(tags, "isolation_room", n) == 0)
            c->isolation_room = true;
        c->ntags++;
        tags = end ? end + 1 : tags + n;
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
    }
}

/* ---- search ---------------------------------------------------------- */

/* The required tags (needs, then the query's) as JSON text, or NULL when
 * none; *drive is the rarest (borrowed from *arr), NULL when no tag is rare
 * enough to beat walking the available beds. */
static int required_tags(ct_capacity *c, const ct_ref_row *r,
                         const ct_candidate_query *q, json_t **arr,
                         const char **drive, ct_cap_error *err)
{
    *arr = NULL;
    *drive = NULL;
    bool no_needs = !r->needs || strcmp(r->needs, "[]") == 0;
    if (no_needs && q->ntags == 0)
        return 0;
    json_t *a = no_needs ? json_array() : json_loads(r->needs, 0, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        return ct_capacity__fail(err, CT_ECORRUPT,
                                 "referral %" PRId64 " has unreadable needs",
                                 r->id);
    }
    for (size_t i = 0; i < q->ntags; i++)
        if (json_array_append_new(a, json_string(q->tags[i]))) {
            json_decref(a);
            return ct_capacity__fail(err, CT_ENOMEM, "out of memory");
        }
    int rc = 0;
    if (!c->tagstats_loaded && (rc = load_tagstats(c, err))) {
        json_decref(a);
        return rc;
    }
    int64_t best = INT64_MAX;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        int64_t n = beds_with(c, json_string_value(v));
        if (n < best) {
            best = n;
            *drive = json_string_value(v);
        }
    }
    /* Walking a tag's beds pays off when it is on under a quarter of them. */
    if (best * 4 >= c->tagstat_beds)
        *drive = NULL;
    *arr = a;
    return 0;
}

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

int ct_candidates_find(ct_capacity *c, const ct_candidate_query *q,
                       ct_candidate_list *out, ct_cap_error *err)
{
    out->len = 0;
    out->text_len = 0;
    out->ntagv = 0;
    int rc = check_query(q, err);
    if (rc)
        return rc;
    ct_ref_row r;
    json_t *tags = NULL;
    const char *drive = NULL;
    char *tagtext = NULL;
    ct_iso_table iso = {0};
    if ((rc = ct_referral__load(c, q->referral_id, &r, err)))
        return rc;
    int pathway = q->pathway >= 0 ? q->pathway : r.pathway;
    unsigned kinds = q->kinds;
    if (!kinds && pathway >= 0) {
        kinds = ct_candidates_kinds_for((ct_pathway)pathway);
        if (!kinds) /* P0: home with no new support needs no bed */
            goto done_tags;
    }
    char kindset[160] = ",";
    for (int k = 0; kinds && k < CT_FACILITY__COUNT; k++)
        if (kinds >> k & 1u) {
            strcat(kindset, ct_facility_kind_name((ct_facility_kind)k));
            strcat(kindset, ",");
        }
    if ((rc = required_tags(c, &r, q, &tags, &drive, err)) ||
        (rc = ct_isolation__table(c, r.nhs_number, &iso, err)))
        goto done_tags;
    if (tags && !(tagtext = json_dumps(tags, JSON_COMPACT))) {
        rc = ct_capacity__fail(err, CT_ENOMEM, "out of memory");
        goto done_tags;
    }
    sqlite3_stmt *st = ct_capacity__stmt(
        c, drive ? CT_STMT_CAND_BY_TAG : CT_STMT_CAND_BY_STATUS, err);
    if (!st) {
        rc = CT_ESTORE;
        goto done_tags;
    }
    if (kinds)
        sqlite3_bind_text(st, 1, kindset, -1, SQLITE_STATIC);
    if (q->facility_id)
        sqlite3_bind_text(st, 2, q->facility_id, -1, SQLITE_STATIC);
    if (tagtext)
        sqlite3_bind_text(st, 3, tagtext, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, iso.known.data ? iso.known.data : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 5, iso.forbid[0].data ? iso.forbid[0].data : "",
                      -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, iso.forbid[1].data ? iso.forbid[1].data : "",
                      -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, iso.dflt[0].data ? iso.dflt[0].data : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 10, iso.dflt[1].data ? iso.dflt[1].data : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, q->limit ? (sqlite3_int64)q->limit : -1);
    if (drive)
        sqlite3_bind_text(st, 7, drive, -1, SQLITE_STATIC);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = add_row(out, st)))
            break;
    sqlite3_reset(st);
    if (rc)
        rc = ct_capacity__fail(err, rc, "out of memory");
    else if (s != SQLITE_DONE)
        rc = ct_capacity__dberr(c, err, s, "searching candidates");
done_tags:
    ct_isolation__table_free(&iso);
    free(tagtext);
    json_decref(tags);
    ct_referral__row_free(&r);
    if (rc)
        out->len = out->text_len = out->ntagv = 0;
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
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:b, s:b}", "bed", c->bed_id,
            "zone", c->zone_id, "facility", c->facility_id, "kind",
            ct_facility_kind_name(c->kind), "org", c->org_id, "tags", tags,
            "designated", c->designated, "surge", c->surge, "isolation_room",
            c->isolation_room);
        if (!o || json_array_append_new(a, o)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}
