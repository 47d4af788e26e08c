/*
 * Read views of the area (capacity_view.h): a few queries folded into
 * JSON.
 */
#include "capacity_view.h"

#include "capacity_int.h"
#include "error.h"
#include "isolation.h"
#include "json_canon.h"
#include "referral.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : NULL;
}

static json_t *opt_string(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* ---- capacity -------------------------------------------------------- */

typedef struct totals {
    int64_t total, available, held, occupied, blocked, closed, surge,
        surge_open;
} totals;

static void add_totals(totals *to, const totals *t)
{
    to->total += t->total;
    to->available += t->available;
    to->held += t->held;
    to->occupied += t->occupied;
    to->blocked += t->blocked;
    to->closed += t->closed;
    to->surge += t->surge;
    to->surge_open += t->surge_open;
}

static json_t *totals_json(const totals *t)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I}}",
                     "total", (json_int_t)t->total, "available",
                     (json_int_t)t->available, "held", (json_int_t)t->held,
                     "occupied", (json_int_t)t->occupied, "blocked",
                     (json_int_t)t->blocked, "closed", (json_int_t)t->closed,
                     "open",
                     (json_int_t)(t->total - t->blocked - t->closed), "surge",
                     "open",
                     (json_int_t)t->surge_open, "total",
                     (json_int_t)t->surge);
}

/* Every configured pathogen as open; zone_cohort rows override. */
static json_t *default_cohorts(const ct_capacity *c)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < ct_area_npathogens(c); i++)
        if (json_object_set_new(o, ct_area_pathogen(c, i),
                                json_string("open"))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

/* Reads VIEW_COHORTS into zones (an object: zone id -> zone object). */
static int fill_cohorts(ct_capacity *c, json_t *zones, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_VIEW_COHORTS, err);
    if (!st)
        return CT_ESTORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *z = json_object_get(zones, col(st, 0));
        json_t *cohorts = json_object_get(z, "cohorts");
        if (cohorts && json_object_set_new(cohorts, col(st, 1),
                                           json_string(col(st, 2)))) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ct_area__dberr(c, err, rc, "reading zone cohorts");
    return 0;
}

/* Closes the facility being built: its totals, then into the list. */
static int end_facility(json_t *facilities, json_t *fac, const totals *t)
{
    if (!fac)
        return 0;
    if (json_object_set_new(fac, "totals", totals_json(t))) {
        json_decref(fac);
        return CT_ENOMEM;
    }
    return json_array_append_new(facilities, fac) ? CT_ENOMEM : 0;
}

static json_t *facility_json(sqlite3_stmt *st)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:[]}", "id", col(st, 0),
                     "name", col(st, 1), "kind", col(st, 2), "org",
                     col(st, 3), "designated", sqlite3_column_int(st, 4),
                     "zones");
}

/* A zone's totals from VIEW_ZONES's counting columns (9..15). */
static void row_totals(sqlite3_stmt *st, totals *t)
{
    t->total = sqlite3_column_int64(st, 9);
    t->available = sqlite3_column_int64(st, 10);
    t->held = sqlite3_column_int64(st, 11);
    t->occupied = sqlite3_column_int64(st, 12);
    t->blocked = sqlite3_column_int64(st, 13);
    t->surge = sqlite3_column_int64(st, 14);
    t->surge_open = sqlite3_column_int64(st, 15);
}

/* t holds the zone's bed counts; closure is applied here. */
static json_t *zone_json(ct_capacity *c, sqlite3_stmt *st, totals *t)
{
    /* Free beds of a zone closed to admissions are neither available nor
     * open (an outbreak); held and occupied ones stay as they are. */
    t->closed = 0;
    if (sqlite3_column_int(st, 7)) {
        t->closed = t->available;
        t->available = 0;
    }
    return json_pack("{s:s, s:s, s:b, s:o, s:o, s:o}", "id", col(st, 5),
                     "name", col(st, 6), "closed",
                     sqlite3_column_int(st, 7), "closed_reason",
                     opt_string(col(st, 8)), "totals", totals_json(t),
                     "cohorts", default_cohorts(c));
}

/* The area index's counts of every zone in service, in zone id order
 * (ct_candidates__zones): the view then reads zones without their beds. */
typedef struct zone_totals {
    struct zt {
        char *id;
        totals t;
    } *v;
    size_t n, cap;
} zone_totals;

static void zone_totals_free(zone_totals *zt)
{
    for (size_t i = 0; i < zt->n; i++)
        free(zt->v[i].id);
    free(zt->v);
}

/* A zone's totals (before closure) from its counts. */
static void counts_totals(const ct_cap_zone_counts *z, totals *t)
{
    memset(t, 0, sizeof *t);
    for (int s = 0; s < CT_BED__COUNT; s++)
        t->total += z->n[s];
    t->available = z->n[CT_BED_AVAILABLE];
    t->held = z->n[CT_BED_HELD];
    t->occupied = z->n[CT_BED_OCCUPIED];
    t->blocked = z->n[CT_BED_BLOCKED];
    t->surge = z->surge_beds;
    t->surge_open = z->surge_beds_open;
}

static int take_zone(void *ud, const ct_cap_zone_counts *z)
{
    zone_totals *zt = ud;
    if (ct_grow(&zt->v, &zt->cap, zt->n, sizeof *zt->v, 256))
        return CT_ENOMEM;
    struct zt *e = &zt->v[zt->n];
    if (!(e->id = ct_strdup(z->zone_id)))
        return CT_ENOMEM;
    zt->n++;
    counts_totals(z, &e->t);
    return 0;
}

static const totals *find_totals(const zone_totals *zt, const char *id)
{
    size_t lo = 0, hi = zt->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(zt->v[mid].id, id);
        if (cmp == 0)
            return &zt->v[mid].t;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* k: a copy of the counts, or NULL for the area index's. */
static int view_json(ct_capacity *c, const ct_cap_counts *k, json_t **out,
                     ct_cap_error *err)
{
    *out = NULL;
    /* Bed counts from the area index, O(zones); inside a change whose
     * notes are not applied yet, from the rows (VIEW_ZONES). */
    zone_totals zt = {0};
    int rc = ct_cap_counts__walk(c, k, take_zone, &zt, err);
    bool counted = rc == 0;
    if (rc && rc != CT_EBUSY) {
        zone_totals_free(&zt);
        return rc == CT_ENOMEM
                   ? ct_area__fail(err, CT_ENOMEM, "out of memory")
                   : rc;
    }
    sqlite3_stmt *st = ct_area__stmt(
        c, counted ? CT_STMT_VIEW_ZONES_PLAIN : CT_STMT_VIEW_ZONES, err);
    if (!st) {
        zone_totals_free(&zt);
        return CT_ESTORE;
    }
    json_t *facilities = json_array(), *by_id = json_object();
    json_t *fac = NULL;
    totals area = {0}, ft = {0};
    if (!facilities || !by_id) {
        rc = SQLITE_NOMEM;
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *fid = col(st, 0);
        if (!fac || strcmp(json_string_value(json_object_get(fac, "id")),
                           fid) != 0) {
            if (end_facility(facilities, fac, &ft)) {
                fac = NULL;
                rc = SQLITE_NOMEM;
                break;
            }
            memset(&ft, 0, sizeof ft);
            if (!(fac = facility_json(st))) {
                rc = SQLITE_NOMEM;
                break;
            }
        }
        totals t = {0};
        const totals *known = counted ? find_totals(&zt, col(st, 5)) : NULL;
        if (!counted)
            row_totals(st, &t);
        else if (known)
            t = *known;
        json_t *z = zone_json(c, st, &t);
        if (!z || json_array_append_new(json_object_get(fac, "zones"), z) ||
            json_object_set(by_id, col(st, 5), z)) {
            rc = SQLITE_NOMEM;
            break;
        }
        add_totals(&ft, &t);
        add_totals(&area, &t);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        if (end_facility(facilities, fac, &ft))
            rc = SQLITE_NOMEM;
        fac = NULL;
    }
done:
    zone_totals_free(&zt);
    json_decref(fac);
    if (rc != SQLITE_DONE) {
        json_decref(facilities);
        json_decref(by_id);
        return rc == SQLITE_NOMEM
                   ? ct_area__fail(err, CT_ENOMEM, "out of memory")
                   : ct_area__dberr(c, err, rc, "reading capacity");
    }
    rc = fill_cohorts(c, by_id, err);
    json_decref(by_id);
    if (rc) {
        json_decref(facilities);
        return rc;
    }
    *out = json_pack("{s:I, s:o, s:o}", "at",
                     (json_int_t)ct_clock_now(ct_area_clock(c)), "totals",
                     totals_json(&area), "facilities", facilities);
    return *out ? 0 : ct_area__fail(err, CT_ENOMEM, "out of memory");
}

int ct_capacity_view_json(ct_capacity *c, json_t **out, ct_cap_error *err)
{
    return view_json(c, NULL, out, err);
}

int ct_capacity_view_json_from(ct_capacity *c, const ct_cap_counts *k,
                               json_t **out, ct_cap_error *err)
{
    return k ? view_json(c, k, out, err) : CT_EINVAL;
}

/* ---- the same view as text ------------------------------------------- */

/*
 * The view written straight into text, byte for byte what json_dumps
 * (JSON_COMPACT | JSON_ENSURE_ASCII) makes of ct_capacity_view_json's
 * object: an England-sized area is 31,000 zones and 11 MB, and building
 * and dumping the json_t took most of a second. The unit test holds the
 * two to the same bytes.
 */

typedef struct zcohort {
    char *zone, *pathogen, *cohort;
} zcohort;

typedef struct cohort_rows {
    zcohort *v;
    size_t n, cap;
} cohort_rows;

static void cohort_rows_free(cohort_rows *cr)
{
    for (size_t i = 0; i < cr->n; i++) {
        free(cr->v[i].zone);
        free(cr->v[i].pathogen);
        free(cr->v[i].cohort);
    }
    free(cr->v);
}

/* VIEW_COHORTS, in zone then pathogen order. */
static int read_cohorts(ct_capacity *c, cohort_rows *cr, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_VIEW_COHORTS, err);
    if (!st)
        return CT_ESTORE;
    int rc, out = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (ct_grow(&cr->v, &cr->cap, cr->n, sizeof *cr->v, 256)) {
            out = CT_ENOMEM;
            break;
        }
        zcohort *z = &cr->v[cr->n++];
        z->zone = ct_strdup(col(st, 0) ? col(st, 0) : "");
        z->pathogen = ct_strdup(col(st, 1) ? col(st, 1) : "");
        z->cohort = ct_strdup(col(st, 2) ? col(st, 2) : "");
        if (!z->zone || !z->pathogen || !z->cohort) {
            out = CT_ENOMEM;
            break;
        }
    }
    sqlite3_reset(st);
    if (out)
        return ct_area__fail(err, out, "out of memory");
    return rc == SQLITE_DONE
               ? 0
               : ct_area__dberr(c, err, rc, "reading zone cohorts");
}

/* The first of the zone's rows, or n. */
static size_t first_cohort(const cohort_rows *cr, const char *zone)
{
    size_t lo = 0, hi = cr->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(cr->v[mid].zone, zone) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int put(ct_buf *b, const char *s)
{
    return ct_buf_puts(b, s) ? CT_ENOMEM : 0;
}

static int put_str(ct_buf *b, const char *s)
{
    return ct_json_canon_string(b, s, strlen(s));
}

static int put_key_int(ct_buf *b, const char *key, int64_t v)
{
    int rc = put(b, key);
    return rc ? rc : ct_json_canon_int(b, v);
}

/* totals_json's object. */
static int put_totals(ct_buf *b, const totals *t)
{
    int rc;
    if ((rc = put_key_int(b, "{\"total\":", t->total)) ||
        (rc = put_key_int(b, ",\"available\":", t->available)) ||
        (rc = put_key_int(b, ",\"held\":", t->held)) ||
        (rc = put_key_int(b, ",\"occupied\":", t->occupied)) ||
        (rc = put_key_int(b, ",\"blocked\":", t->blocked)) ||
        (rc = put_key_int(b, ",\"closed\":", t->closed)) ||
        (rc = put_key_int(b, ",\"open\":",
                          t->total - t->blocked - t->closed)) ||
        (rc = put_key_int(b, ",\"surge\":{\"open\":", t->surge_open)) ||
        (rc = put_key_int(b, ",\"total\":", t->surge)))
        return rc;
    return put(b, "}}");
}

/* The zone's cohorts: every configured pathogen open, its rows over them
 * (default_cohorts then fill_cohorts), in that order. */
static int put_cohorts(ct_buf *b, ct_capacity *c, const cohort_rows *cr,
                       const char *zone)
{
    size_t first = first_cohort(cr, zone), end = first;
    while (end < cr->n && strcmp(cr->v[end].zone, zone) == 0)
        end++;
    int rc = put(b, "{");
    bool any = false;
    for (size_t i = 0; !rc && i < ct_area_npathogens(c); i++) {
        const char *v = "open";
        for (size_t j = first; j < end; j++)
            if (strcmp(cr->v[j].pathogen, ct_area_pathogen(c, i)) == 0)
                v = cr->v[j].cohort;
        if ((any && (rc = put(b, ","))) ||
            (rc = put_str(b, ct_area_pathogen(c, i))) || (rc = put(b, ":")) ||
            (rc = put_str(b, v)))
            break;
        any = true;
    }
    for (size_t j = first; !rc && j < end; j++) {
        bool known = false;
        for (size_t i = 0; i < ct_area_npathogens(c); i++)
            known |= strcmp(cr->v[j].pathogen, ct_area_pathogen(c, i)) == 0;
        if (known)
            continue;
        if ((any && (rc = put(b, ","))) ||
            (rc = put_str(b, cr->v[j].pathogen)) || (rc = put(b, ":")) ||
            (rc = put_str(b, cr->v[j].cohort)))
            break;
        any = true;
    }
    return rc ? rc : put(b, "}");
}

/* One zone of a VIEW_ZONES_PLAIN row, t its counts (closure applied). */
static int put_zone(ct_buf *b, ct_capacity *c, const cohort_rows *cr,
                    sqlite3_stmt *st, const totals *t)
{
    int rc;
    if ((rc = put(b, "{\"id\":")) || (rc = put_str(b, col(st, 5))) ||
        (rc = put(b, ",\"name\":")) || (rc = put_str(b, col(st, 6))) ||
        (rc = put(b, sqlite3_column_int(st, 7) ? ",\"closed\":true"
                                               : ",\"closed\":false")) ||
        (rc = put(b, ",\"closed_reason\":")) ||
        (rc = col(st, 8) ? put_str(b, col(st, 8)) : put(b, "null")) ||
        (rc = put(b, ",\"totals\":")) || (rc = put_totals(b, t)) ||
        (rc = put(b, ",\"cohorts\":")) ||
        (rc = put_cohorts(b, c, cr, col(st, 5))))
        return rc;
    return put(b, "}");
}

static int put_facility_head(ct_buf *b, sqlite3_stmt *st, bool first)
{
    int rc;
    if ((!first && (rc = put(b, ","))) || (rc = put(b, "{\"id\":")) ||
        (rc = put_str(b, col(st, 0))) || (rc = put(b, ",\"name\":")) ||
        (rc = put_str(b, col(st, 1))) || (rc = put(b, ",\"kind\":")) ||
        (rc = put_str(b, col(st, 2))) || (rc = put(b, ",\"org\":")) ||
        (rc = put_str(b, col(st, 3))))
        return rc;
    return put(b, sqlite3_column_int(st, 4)
                      ? ",\"designated\":true,\"zones\":["
                      : ",\"designated\":false,\"zones\":[");
}

static int put_facility_end(ct_buf *b, const totals *t)
{
    int rc = put(b, "],\"totals\":");
    if (!rc)
        rc = put_totals(b, t);
    return rc ? rc : put(b, "}");
}

int ct_capacity_view_text_from(ct_capacity *c, const ct_cap_counts *k,
                               ct_buf *out, ct_cap_error *err)
{
    if (!k)
        return CT_EINVAL;
    cohort_rows cr = {0};
    ct_buf fb = {0}; /* the facilities; the area totals go first */
    int rc = read_cohorts(c, &cr, err);
    sqlite3_stmt *st = NULL;
    if (rc == 0 &&
        !(st = ct_area__stmt(c, CT_STMT_VIEW_ZONES_PLAIN, err)))
        rc = CT_ESTORE;
    totals area = {0}, ft = {0};
    char *fac = NULL; /* the facility being written */
    bool have = false;
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *fid = col(st, 0) ? col(st, 0) : "";
        bool new_fac = !have || strcmp(fac, fid) != 0;
        if (new_fac) {
            if (have && (rc = put_facility_end(&fb, &ft)))
                break;
            memset(&ft, 0, sizeof ft);
            free(fac);
            if (!(fac = ct_strdup(fid))) {
                rc = CT_ENOMEM;
                break;
            }
            if ((rc = put_facility_head(&fb, st, !have)))
                break;
            have = true;
        } else if ((rc = put(&fb, ","))) {
            break;
        }
        totals t = {0};
        ct_cap_zone_counts zc;
        if (ct_cap_counts__find(k, col(st, 5), &zc))
            counts_totals(&zc, &t);
        if (sqlite3_column_int(st, 7)) {
            t.closed = t.available;
            t.available = 0;
        }
        if ((rc = put_zone(&fb, c, &cr, st, &t)))
            break;
        add_totals(&ft, &t);
        add_totals(&area, &t);
    }
    if (st)
        sqlite3_reset(st);
    if (rc == 0 && step != SQLITE_DONE)
        rc = ct_area__dberr(c, err, step, "reading capacity");
    if (rc == 0 && have)
        rc = put_facility_end(&fb, &ft);
    if (rc == 0 &&
        ((rc = put_key_int(out, "{\"at\":", ct_clock_now(ct_area_clock(c)))) ||
         (rc = put(out, ",\"totals\":")) || (rc = put_totals(out, &area)) ||
         (rc = put(out, ",\"facilities\":[")) ||
         (fb.len && ct_buf_append(out, fb.data, fb.len)) ||
         (rc = put(out, "]}"))))
        rc = rc ? rc : CT_ENOMEM;
    if (rc == CT_ENOMEM || rc == CT_EINVAL)
        ct_area__fail(err, rc, rc == CT_ENOMEM
                                   ? "out of memory"
                                   : "a name is not UTF-8 text");
    free(fac);
    ct_buf_free(&fb);
    cohort_rows_free(&cr);
    return rc;
}

/* ---- ownership lookups ----------------------------------------------- */

/* Runs a one-text-column lookup of key; "" for a NULL column. */
static int lookup_text(ct_capacity *c, ct_stmt id, const char *key,
                       char *out, const char *what, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, id, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(out, CT_CAP_ID_MAX, "%s", col(st, 0) ? col(st, 0) : "");
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = ct_area__fail(err, CT_ENOTFOUND, "%s '%s' does not exist",
                           what, key);
    } else {
        rc = ct_area__dberr(c, err, rc, "reading an owner");
    }
    sqlite3_reset(st);
    return rc;
}

int ct_capacity_view_facility_org(ct_capacity *c, const char *facility_id,
                                  char *out, ct_cap_error *err)
{
    return lookup_text(c, CT_STMT_VIEW_FACILITY_ORG, facility_id, out,
                       "facility", err);
}

int ct_capacity_view_bed_org(ct_capacity *c, const char *bed_id, char *out,
                             ct_cap_error *err)
{
    return lookup_text(c, CT_STMT_VIEW_BED_ORG, bed_id, out, "bed", err);
}

int ct_capacity_view_zone_org(ct_capacity *c, const char *zone_id, char *out,
                              ct_cap_error *err)
{
    return lookup_text(c, CT_STMT_VIEW_ZONE_ORG, zone_id, out, "zone", err);
}

int ct_capacity_view_referral_orgs(ct_capacity *c, int64_t id,
                                   ct_referral_orgs *out, ct_cap_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    int rc = ct_area__row(c, CT_STMT_VIEW_REFERRAL_ORGS, id,
                          "reading a referral", &st, err);
    if (rc)
        return rc;
    if (!st)
        return ct_area__fail(err, CT_ENOTFOUND,
                             "referral %" PRId64 " does not exist", id);
    snprintf(out->from_org, sizeof out->from_org, "%s",
             col(st, 0) ? col(st, 0) : "");
    snprintf(out->holder_org, sizeof out->holder_org, "%s",
             col(st, 1) ? col(st, 1) : "");
    snprintf(out->last_org, sizeof out->last_org, "%s",
             col(st, 2) ? col(st, 2) : "");
    sqlite3_reset(st);
    return 0;
}

/* ---- beds ------------------------------------------------------------ */

static json_t *bed_json(sqlite3_stmt *st)
{
    json_t *tags = json_loads(col(st, 9) ? col(st, 9) : "[]", 0, NULL);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:b}", "id",
        col(st, 0), "zone", col(st, 1), "facility", col(st, 2), "kind",
        col(st, 3), "org", col(st, 4), "status", col(st, 5),
        "blocked_reason", opt_string(col(st, 6)), "tags",
        tags ? tags : json_array(), "surge", sqlite3_column_int(st, 7),
        "surge_open", sqlite3_column_int(st, 8));
    if (o && sqlite3_column_type(st, 10) != SQLITE_NULL) {
        json_object_set_new(o, "referral",
                            json_integer(sqlite3_column_int64(st, 10)));
        if (col(st, 11) && strcmp(col(st, 11), "hold") == 0)
            json_object_set_new(o, "hold_expires_at",
                                json_integer(sqlite3_column_int64(st, 12)));
    }
    /* An existing resident (capacity_resident.h): no referral, no person. */
    if (o && sqlite3_column_type(st, 13) != SQLITE_NULL)
        json_object_set_new(
            o, "resident",
            json_pack("{s:I, s:I, s:o}", "id",
                      (json_int_t)sqlite3_column_int64(st, 13), "since",
                      (json_int_t)sqlite3_column_int64(st, 14),
                      "expected_end",
                      sqlite3_column_type(st, 15) == SQLITE_NULL
                          ? json_null()
                          : json_integer(sqlite3_column_int64(st, 15))));
    return o;
}

int ct_capacity_view_beds_json(ct_capacity *c, const ct_bed_filter *f,
                               json_t **out, ct_cap_error *err)
{
    *out = NULL;
    if (f->limit < 1 || f->limit > CT_VIEW_MAX_BEDS)
        return ct_area__fail(err, CT_EINVAL,
                             "limit must be between 1 and %d",
                             CT_VIEW_MAX_BEDS);
    if (f->status < -1 || f->status >= CT_BED__COUNT)
        return ct_area__fail(err, CT_EINVAL, "status %d is not a status",
                             f->status);
    char org[CT_CAP_ID_MAX];
    int rc;
    if (f->facility_id &&
        (rc = ct_capacity_view_facility_org(c, f->facility_id, org, err)))
        return rc;
    if (f->zone_id) {
        sqlite3_stmt *z = ct_area__stmt(c, CT_STMT_VIEW_ZONE_EXISTS, err);
        if (!z)
            return CT_ESTORE;
        sqlite3_bind_text(z, 1, f->zone_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(z);
        sqlite3_reset(z);
        if (rc == SQLITE_DONE)
            return ct_area__fail(err, CT_ENOTFOUND,
                                 "zone '%s' does not exist", f->zone_id);
        if (rc != SQLITE_ROW)
            return ct_area__dberr(c, err, rc, "reading a zone");
    }
    char *tags = NULL;
    if (f->ntags) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < f->ntags; i++)
            if (json_array_append_new(a, json_string(f->tags[i]))) {
                json_decref(a);
                a = NULL;
            }
        tags = a ? json_dumps(a, JSON_COMPACT) : NULL;
        json_decref(a);
        if (!tags)
            return ct_area__fail(err, CT_ENOMEM, "out of memory");
    }
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_VIEW_BEDS, err);
    json_t *list = json_array();
    if (!st || !list) {
        free(tags);
        json_decref(list);
        return st ? ct_area__fail(err, CT_ENOMEM, "out of memory")
                  : CT_ESTORE;
    }
    if (f->facility_id)
        sqlite3_bind_text(st, 1, f->facility_id, -1, SQLITE_STATIC);
    if (f->zone_id)
        sqlite3_bind_text(st, 2, f->zone_id, -1, SQLITE_STATIC);
    if (f->status >= 0)
        sqlite3_bind_text(st, 3, ct_bed_status_name(f->status), -1,
                          SQLITE_STATIC);
    if (tags)
        sqlite3_bind_text(st, 4, tags, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, f->after ? f->after : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, f->limit);
    if (f->bed_id)
        sqlite3_bind_text(st, 7, f->bed_id, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (json_array_append_new(list, bed_json(st))) {
            rc = SQLITE_NOMEM;
            break;
        }
    sqlite3_reset(st);
    free(tags);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return ct_area__dberr(c, err, rc, "listing beds");
    }
    *out = list;
    return 0;
}

/* ---- referrals ------------------------------------------------------- */

int ct_capacity_view_referrals_json(ct_capacity *c,
                                    const ct_referral_filter *f,
                                    json_t **out, ct_cap_error *err)
{
    *out = NULL;
    if (f->state < -1 || f->state >= CT_REFERRAL__COUNT)
        return ct_area__fail(err, CT_EINVAL, "state %d is not a state",
                             f->state);
    if (f->limit < 1 || f->limit > 1000)
        return ct_area__fail(err, CT_EINVAL,
                             "limit must be between 1 and 1000");
    if (f->from_org && f->at_org)
        return ct_area__fail(err, CT_EINVAL,
                             "filter by the referring organisation or "
                             "by the placing one, not both");
    /* Ids first, then each referral in full: the statement is reset
     * before the reads it would otherwise interleave with. */
    sqlite3_stmt *st = ct_area__stmt(
        c, f->at_org ? CT_STMT_VIEW_REFERRALS_AT : CT_STMT_VIEW_REFERRALS_FROM,
        err);
    if (!st)
        return CT_ESTORE;
    int64_t *ids = malloc((size_t)f->limit * sizeof *ids);
    if (!ids)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    if (f->state >= 0)
        sqlite3_bind_text(st, 1, ct_referral_state_name(f->state), -1,
                          SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, f->after);
    sqlite3_bind_int(st, 3, f->limit);
    const char *org = f->at_org ? f->at_org : f->from_org;
    if (org)
        sqlite3_bind_text(st, 4, org, -1, SQLITE_STATIC);
    int n = 0, rc;
    while (n < f->limit && (rc = sqlite3_step(st)) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(st, 0);
    if (n == f->limit)
        rc = SQLITE_DONE;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(ids);
        return ct_area__dberr(c, err, rc, "listing referrals");
    }
    json_t *list = json_array();
    rc = list ? 0 : ct_area__fail(err, CT_ENOMEM, "out of memory");
    for (int i = 0; i < n && rc == 0; i++) {
        json_t *r;
        if ((rc = ct_referral_get_json(c, ids[i], &r, err)) == 0 &&
            json_array_append_new(list, r))
            rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
    }
    free(ids);
    if (rc) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}

int ct_capacity_view_referral_states(ct_capacity *c,
                                     int64_t counts[CT_REFERRAL__COUNT],
                                     ct_cap_error *err)
{
    memset(counts, 0, CT_REFERRAL__COUNT * sizeof *counts);
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_VIEW_REFERRAL_STATES, err);
    if (!st)
        return CT_ESTORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int s = ct_referral_state_parse(col(st, 0));
        if (s >= 0)
            counts[s] = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE
               ? 0
               : ct_area__dberr(c, err, rc, "counting referrals");
}

/* ---- the referral as plugins see it -------------------------------- */

int ct_capacity_view_referral(ct_capacity *cap, int64_t id, json_t **out,
                              ct_cap_error *err)
{
    *out = NULL;
    json_t *r = NULL;
    int rc = ct_referral_get_json(cap, id, &r, err);
    if (rc)
        return rc;
    json_t *inf = NULL;
    const char *nhs = json_string_value(json_object_get(r, "nhs_number"));
    if ((rc = ct_isolation_person_json(cap, nhs, &inf, err))) {
        json_decref(r);
        return rc;
    }
    /* Infections keyed by pathogen read better in plugin code. */
    json_t *by = json_object();
    size_t i;
    json_t *it;
    json_array_foreach(inf, i, it)
    {
        json_t *copy = json_deep_copy(it);
        json_object_del(copy, "pathogen");
        json_object_set_new(
            by, json_string_value(json_object_get(it, "pathogen")), copy);
    }
    json_decref(inf);
    json_t *residence = ct_referral_residence_json(cap, id);
    json_t *person = json_pack("{s:O, s:O, s:o, s:o}", "age",
                               json_object_get(r, "age"), "needs",
                               json_object_get(r, "needs"), "usual_residence",
                               residence, "infections", by);
    json_t *delay = json_pack("{s:O, s:O, s:O}", "reason",
                              json_object_get(r, "delay_reason"),
                              "responsible_org",
                              json_object_get(r, "responsible_org"), "days",
                              json_object_get(r, "delay_days"));
    if (!person || !delay) {
        json_decref(person);
        json_decref(delay);
        json_decref(r);
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    }
    json_object_set_new(r, "person", person);
    json_object_set_new(r, "delay", delay);
    json_object_set(r, "pathway", json_object_get(r, "decided_pathway"));
    *out = r;
    return 0;
}
