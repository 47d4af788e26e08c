/*
 * Metrics (metrics.h): a few grouped queries folded into counts.
 */
#include "metrics.h"

#include "area.h"
#include "capacity.h"
#include "log.h"
#include "clock.h"
#include "delay.h"
#include "error.h"
#include "referral.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : NULL;
}

/* A free bed of a zone closed to admissions (an outbreak) is neither
 * available nor open: nobody can be placed in it. */
static void add_status(ct_bed_counts *b, ct_bed_status s, int64_t n,
                       int64_t surge, bool closed)
{
    b->total += n;
    if (closed && s == CT_BED_AVAILABLE) {
        b->closed += n;
        b->open = b->total - b->blocked - b->closed;
        return;
    }
    switch (s) {
    case CT_BED_AVAILABLE: b->available += n; break;
    case CT_BED_HELD: b->held += n; break;
    case CT_BED_OCCUPIED: b->occupied += n; break;
    case CT_BED_BLOCKED: b->blocked += n; break;
    default: break;
    }
    if (s != CT_BED_BLOCKED)
        b->surge_open += surge;
    b->open = b->total - b->blocked - b->closed;
}

static double ratio(int64_t a, int64_t b)
{
    return b > 0 ? (double)a / (double)b : 0.0;
}

static json_t *counts_json(const ct_bed_counts *b)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
                     "total", (json_int_t)b->total, "available",
                     (json_int_t)b->available, "held", (json_int_t)b->held,
                     "occupied", (json_int_t)b->occupied, "blocked",
                     (json_int_t)b->blocked, "closed", (json_int_t)b->closed,
                     "open", (json_int_t)b->open,
                     "surge_open", (json_int_t)b->surge_open, "occupancy",
                     ratio(b->occupied, b->open));
}

/* The zone's object of by_zone. */
static int add_zone(json_t *zones, const ct_bed_counts *z, const char *zone,
                    const char *fac, int kind, bool closed)
{
    json_t *o = counts_json(z);
    if (!o || json_object_set_new(o, "zone", json_string(zone)) ||
        json_object_set_new(o, "facility", json_string(fac)) ||
        json_object_set_new(
            o, "kind",
            json_string(ct_facility_kind_name((ct_facility_kind)kind))) ||
        json_object_set_new(o, "closed", json_boolean(closed)) ||
        json_array_append_new(zones, o)) {
        json_decref(o);
        return CT_ENOMEM;
    }
    return 0;
}

typedef struct bed_walk {
    ct_metrics *m;
    json_t *zones;
} bed_walk;

/* One zone of the area index (ct_candidates__zones) into the counts: the
 * same sums MET_BEDS makes of the rows. */
static int bed_zone(void *ud, const ct_cap_zone_counts *zc)
{
    bed_walk *w = ud;
    ct_bed_counts z = {0};
    for (int s = 0; s < CT_BED__COUNT; s++) {
        if (!zc->n[s])
            continue;
        add_status(&z, (ct_bed_status)s, zc->n[s], zc->surge[s], zc->closed);
        add_status(&w->m->beds, (ct_bed_status)s, zc->n[s], zc->surge[s],
                   zc->closed);
        if ((int)zc->kind >= 0 && zc->kind < CT_FACILITY__COUNT)
            add_status(&w->m->by_kind[zc->kind], (ct_bed_status)s, zc->n[s],
                       zc->surge[s], zc->closed);
    }
    if (!w->zones || !z.total)
        return 0; /* as MET_BEDS: a zone without counted beds has no row */
    return add_zone(w->zones, &z, zc->zone_id, zc->facility_id,
                    (int)zc->kind, zc->closed);
}

/* Bed counts; with zones not NULL, also one object per zone. From the
 * area index (O(zones)), or from the rows inside a capacity change whose
 * notes the index has not taken yet. */
static int bed_counts(ct_capacity *c, const ct_cap_counts *k, ct_metrics *m,
                      json_t *zones, ct_cap_error *err)
{
    bed_walk w = {m, zones};
    int rc = ct_cap_counts__walk(c, k, bed_zone, &w, err);
    if (rc == 0) {
        m->occupancy = ratio(m->beds.occupied, m->beds.open);
        m->surge_share = ratio(m->beds.surge_open, m->beds.open);
        return 0;
    }
    if (rc == CT_ENOMEM)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    if (rc != CT_EBUSY)
        return rc;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_MET_BEDS, err);
    if (!st)
        return CT_ESTORE;
    ct_bed_counts z = {0};
    char zone[CT_CAP_ID_MAX] = "", fac[CT_CAP_ID_MAX] = "";
    int kind = -1, closed = 0;
    bool have = false;
    for (;;) {
        rc = sqlite3_step(st);
        bool row = rc == SQLITE_ROW;
        if (have && (!row || strcmp(col(st, 0), zone) != 0) && zones &&
            add_zone(zones, &z, zone, fac, kind, closed)) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (!row)
            break;
        if (!have || strcmp(col(st, 0), zone) != 0) {
            memset(&z, 0, sizeof z);
            snprintf(zone, sizeof zone, "%s", col(st, 0));
            snprintf(fac, sizeof fac, "%s", col(st, 1));
            kind = ct_facility_kind_parse(col(st, 2));
            closed = sqlite3_column_int(st, 3);
            have = true;
        }
        int s = ct_bed_status_parse(col(st, 4));
        int64_t n = sqlite3_column_int64(st, 5);
        int64_t surge = (int64_t)sqlite3_column_double(st, 6);
        add_status(&z, (ct_bed_status)s, n, surge, closed);
        add_status(&m->beds, (ct_bed_status)s, n, surge, closed);
        if (kind >= 0)
            add_status(&m->by_kind[kind], (ct_bed_status)s, n, surge,
                       closed);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ct_area__dberr(c, err, rc, "counting beds");
    m->occupancy = ratio(m->beds.occupied, m->beds.open);
    m->surge_share = ratio(m->beds.surge_open, m->beds.open);
    return 0;
}

static const char *const age_buckets[] = {"<1d", "1-3d", "3-7d", "7-14d",
                                          "14d+"};

static int age_bucket(int64_t d)
{
    return d < 1 ? 0 : d < 3 ? 1 : d < 7 ? 2 : d < 14 ? 3 : 4;
}

static json_t *pathway_entry(json_t *by, const char *p)
{
    json_t *o = json_object_get(by, p);
    if (o)
        return o;
    o = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:f}", "total", 0, "<1d",
                  0, "1-3d", 0, "3-7d", 0, "7-14d", 0, "14d+", 0,
                  "oldest_days", 0.0);
    if (o && json_object_set_new(by, p, o))
        return NULL;
    return o;
}

static void bump(json_t *o, const char *key, json_int_t by)
{
    json_t *v = json_object_get(o, key);
    json_integer_set(v, json_integer_value(v) + by);
}

static int waiting(ct_capacity *c, ct_metrics *m, json_t *by,
                   ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_MET_WAITING, err);
    if (!st)
        return CT_ESTORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        m->waiting++;
        if (!by)
            continue;
        int64_t past = ct_referral_delay_days(col(st, 1), m->at);
        if (past < 0)
            past = 0;
        json_t *o = pathway_entry(by, col(st, 0) ? col(st, 0) : "none");
        if (!o) {
            rc = SQLITE_NOMEM;
            break;
        }
        bump(o, "total", 1);
        bump(o, age_buckets[age_bucket(past)], 1);
        json_t *old = json_object_get(o, "oldest_days");
        double days = (double)past;
        if (days > json_real_value(old))
            json_real_set(old, days);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0
                             : ct_area__dberr(c, err, rc,
                                              "counting waiting referrals");
}

static int nctr(ct_capacity *c, ct_metrics *m, ct_cap_error *err)
{
    char today[11];
    ct_clock_day_text(ct_clock_uk_day(m->at), today);
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_MET_NCTR, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, today, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        m->nctr = (int64_t)sqlite3_column_double(st, 0);
        m->delayed = (int64_t)sqlite3_column_double(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0
                            : ct_area__dberr(c, err, rc, "counting NCTR");
}

/* Adds days to objs[i][key] for the span's reason (0) and org (1). */
static int add_span(void *ud, const ct_delay_span *sp)
{
    json_t **objs = ud;
    const char *keys[2] = {sp->reason ? sp->reason : "none",
                           sp->org ? sp->org : "none"};
    json_int_t days = sp->to_day - sp->from_day;
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(objs[i], keys[i]);
        if (v)
            json_integer_set(v, json_integer_value(v) + days);
        else if (json_object_set_new(objs[i], keys[i], json_integer(days)))
            return CT_ENOMEM;
    }
    return 0;
}

/* Bed-days lost: each referral's delay days (UK days past the ready date,
 * referral.h), by reason and organisation through its delay episodes. */
static int delays(ct_capacity *c, ct_metrics *m, json_t *by_reason,
                  json_t *by_org, ct_cap_error *err)
{
    char today[11];
    ct_clock_day_text(ct_clock_uk_day(m->at), today);
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_MET_DELAYS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, today, -1, SQLITE_TRANSIENT);
    json_t *objs[2] = {by_reason, by_org};
    int rc, src = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int state = ct_referral_state_parse(col(st, 2));
        int64_t end = ct_referral_wait_end(
            state < 0 ? CT_REFERRAL_RECEIVED : (ct_referral_state)state,
            sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4), m->at);
        int64_t days = ct_referral_delay_days(col(st, 1), end);
        if (days <= 0)
            continue;
        m->bed_days_lost += days;
        if (state != CT_REFERRAL_DISCHARGED &&
            state != CT_REFERRAL_COMPLETED && state != CT_REFERRAL_CANCELLED)
            m->bed_days_lost_open += days;
        if (!by_reason)
            continue;
        int64_t ready = ct_delay_day(col(st, 1));
        if ((src = ct_delay_spans(c, sqlite3_column_int64(st, 0), ready,
                                  ready + days, add_span, objs, err)))
            break;
    }
    sqlite3_reset(st);
    if (src == CT_ENOMEM)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    if (src)
        return src;
    return rc == SQLITE_DONE ? 0
                             : ct_area__dberr(c, err, rc,
                                              "summing delays");
}

int ct_metrics_collect(ct_capacity *c, ct_metrics *out, ct_cap_error *err)
{
    memset(out, 0, sizeof *out);
    out->at = ct_clock_now(ct_area_clock(c));
    int rc;
    if ((rc = bed_counts(c, NULL, out, NULL, err)) ||
        (rc = waiting(c, out, NULL, err)) || (rc = nctr(c, out, err)) ||
        (rc = delays(c, out, NULL, NULL, err)))
        return rc;
    return 0;
}

/* Admittable beds (available, zone open) of one zone of the area index,
 * and whether any zone has some: MET_COHORTS makes no row when none. */
typedef struct cohort_walk {
    char **pathogens; /* the pathogens counted for */
    size_t n;
    int64_t (*sum)[CT_COHORT__COUNT]; /* per pathogen, per cohort */
    bool any;
} cohort_walk;

static int cohort_zone(void *ud, const ct_cap_zone_counts *zc)
{
    cohort_walk *w = ud;
    int64_t avail = zc->n[CT_BED_AVAILABLE];
    if (zc->closed || !avail)
        return 0;
    w->any = true;
    for (size_t p = 0; p < w->n; p++) {
        ct_cohort co = CT_COHORT_OPEN;
        for (int k = 0; k < zc->ncohorts; k++)
            if (strcmp(zc->pathogens[zc->cohorts[k].pathogen],
                       w->pathogens[p]) == 0)
                co = zc->cohorts[k].cohort;
        w->sum[p][co] += avail;
    }
    return 0;
}

static int bump_cohort(json_t *by, const char *p, const char *cohort,
                       int64_t n)
{
    json_t *o = json_object_get(by, p);
    if (!o) {
        o = json_pack("{s:i, s:i, s:i}", "open", 0, "positive", 0,
                      "negative", 0);
        if (!o || json_object_set_new(by, p, o))
            return CT_ENOMEM;
    }
    bump(o, cohort, (json_int_t)n);
    return 0;
}

/* The index's counts by cohort for the pathogens of MET_PATHOGENS (text:
 * the configured ones as a JSON array). CT_EBUSY as ct_candidates__zones. */
static int cohorts_from_index(ct_capacity *c, const ct_cap_counts *k,
                              const char *text, json_t *by,
                              ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_MET_PATHOGENS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    cohort_walk w = {0};
    size_t cap = 0;
    int rc, out = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (ct_grow(&w.pathogens, &cap, w.n, sizeof *w.pathogens, 8)) {
            out = CT_ENOMEM;
            break;
        }
        if (!(w.pathogens[w.n] = ct_strdup(col(st, 0) ? col(st, 0) : ""))) {
            out = CT_ENOMEM;
            break;
        }
        w.n++;
    }
    sqlite3_reset(st);
    if (!out && rc != SQLITE_DONE)
        out = ct_area__dberr(c, err, rc, "listing pathogens");
    if (!out && !(w.sum = calloc(w.n ? w.n : 1, sizeof *w.sum)))
        out = CT_ENOMEM;
    if (!out)
        out = ct_cap_counts__walk(c, k, cohort_zone, &w, err);
    for (size_t p = 0; !out && w.any && p < w.n; p++)
        for (int co = 0; !out && co < CT_COHORT__COUNT; co++)
            if (w.sum[p][co] || co == CT_COHORT_OPEN)
                out = bump_cohort(by, w.pathogens[p],
                                  ct_cohort_name((ct_cohort)co), w.sum[p][co]);
    for (size_t p = 0; p < w.n; p++)
        free(w.pathogens[p]);
    free(w.pathogens);
    free(w.sum);
    if (out == CT_ENOMEM)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    return out;
}

static int cohorts(ct_capacity *c, const ct_cap_counts *k, json_t *by,
                   ct_cap_error *err)
{
    json_t *known = json_array();
    for (size_t i = 0; known && i < ct_area_npathogens(c); i++)
        json_array_append_new(known, json_string(ct_area_pathogen(c, i)));
    char *text = known ? json_dumps(known, JSON_COMPACT) : NULL;
    json_decref(known);
    if (!text)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    int rc = cohorts_from_index(c, k, text, by, err);
    if (rc != CT_EBUSY) {
        free(text);
        return rc;
    }
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_MET_COHORTS, err);
    if (!st) {
        free(text);
        return CT_ESTORE;
    }
    sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (bump_cohort(by, col(st, 0), col(st, 1),
                        sqlite3_column_int64(st, 2))) {
            rc = SQLITE_NOMEM;
            break;
        }
    sqlite3_reset(st);
    free(text);
    return rc == SQLITE_DONE ? 0
                             : ct_area__dberr(c, err, rc,
                                              "counting beds by cohort");
}

/* with_zones false leaves by_zone out (31,000 objects at England scale,
 * which the capacity view has already). */
static int metrics_json(ct_capacity *c, const ct_cap_counts *k,
                        bool with_zones, json_t **out, ct_cap_error *err)
{
    ct_metrics m = {0};
    m.at = ct_clock_now(ct_area_clock(c));
    json_t *zones = json_array(), *cohort = json_object(),
           *by_path = json_object(), *by_reason = json_object(),
           *by_org = json_object(), *kinds = json_object(), *o = NULL;
    int rc = 0;
    if (!zones || !cohort || !by_path || !by_reason || !by_org || !kinds) {
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = bed_counts(c, k, &m, with_zones ? zones : NULL, err)) ||
        (rc = cohorts(c, k, cohort, err)) ||
        (rc = waiting(c, &m, by_path, err)) || (rc = nctr(c, &m, err)) ||
        (rc = delays(c, &m, by_reason, by_org, err)))
        goto done;
    for (int fk = 0; fk < CT_FACILITY__COUNT; fk++)
        if (m.by_kind[fk].total)
            json_object_set_new(kinds, ct_facility_kind_name(fk),
                                counts_json(&m.by_kind[fk]));
    json_t *beds = counts_json(&m.beds);
    if (beds)
        json_object_set_new(beds, "surge_share", json_real(m.surge_share));
    o = json_pack("{s:I, s:o, s:O, s:O, s:O, s:{s:I, s:O}, s:I, s:I,"
                  " s:{s:I, s:I, s:O, s:O}}",
                  "at", (json_int_t)m.at, "beds", beds, "by_kind", kinds,
                  "by_zone", zones, "available_by_cohort", cohort, "waiting",
                  "total", (json_int_t)m.waiting, "by_pathway", by_path,
                  "nctr", (json_int_t)m.nctr, "delayed",
                  (json_int_t)m.delayed, "bed_days_lost", "total",
                  (json_int_t)m.bed_days_lost, "open",
                  (json_int_t)m.bed_days_lost_open, "by_reason", by_reason,
                  "by_org", by_org);
    if (o && !with_zones)
        json_object_del(o, "by_zone"); /* (an empty array until here) */
    if (!o)
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
done:
    json_decref(zones);
    json_decref(cohort);
    json_decref(by_path);
    json_decref(by_reason);
    json_decref(by_org);
    json_decref(kinds);
    *out = rc ? NULL : o;
    return rc;
}

/* The last whole answer of a handle, and what it was worked out from. */
typedef struct metrics_memo {
    json_t *json;
    int64_t day;          /* UK day */
    int64_t changes;      /* rows this connection changed, rolled back too */
    int64_t data_version; /* other connections' commits */
} metrics_memo;

static void memo_free(void *m)
{
    json_decref(((metrics_memo *)m)->json);
    free(m);
}

/* The memo's key now; false when it cannot be read (no memo then). */
static bool memo_key(ct_capacity *c, int64_t *changes, int64_t *dv)
{
    *changes = (int64_t)sqlite3_total_changes64(
        ct_store__db(ct_area_store(c)));
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_MET_DATA_VERSION, NULL);
    if (!st)
        return false;
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    *dv = ok ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return ok;
}

/*
 * Metrics are a function of the rows and of the UK day alone (every
 * figure counts whole days; only "at" is the clock's ms). Asked again the
 * same day with no row changed (the escalation round, then a plugin's
 * quarter-hour schedule reading ct.metrics: half of a simulated winter,
 * issue 20), the last answer is copied with the new "at". Any write on
 * this connection (rolled back ones too, never fewer than a change) or
 * another connection's commit (PRAGMA data_version) makes it work the
 * answer out again from the rows.
 */
int ct_metrics_json(ct_capacity *c, json_t **out, ct_cap_error *err)
{
    int64_t at = ct_clock_now(ct_area_clock(c)), day = ct_clock_uk_day(at);
    int64_t changes, dv;
    bool keyed = memo_key(c, &changes, &dv);
    metrics_memo *m = ct_area__slot(c, CT_AREA_METRICS);
    if (keyed && m && m->json && m->day == day && m->changes == changes &&
        m->data_version == dv) {
        json_t *o = json_deep_copy(m->json);
        if (!o || json_object_set_new(o, "at", json_integer(at))) {
            json_decref(o);
            return ct_area__fail(err, CT_ENOMEM, "out of memory");
        }
        *out = o;
        return 0;
    }
    if (m) {
        json_decref(m->json);
        m->json = NULL;
    }
    int rc = metrics_json(c, NULL, true, out, err);
    if (rc || !keyed)
        return rc;
    if (!m && (m = calloc(1, sizeof *m)))
        ct_area__set_slot_owned(c, CT_AREA_METRICS, m, memo_free);
    if (!m)
        return 0; /* no memo: the next call works it out again */
    /* Reading writes nothing; if something did, nothing is kept. */
    int64_t changes2, dv2;
    if (memo_key(c, &changes2, &dv2) && changes2 == changes && dv2 == dv &&
        (m->json = json_deep_copy(*out))) {
        m->day = day;
        m->changes = changes;
        m->data_version = dv;
    }
    return 0;
}

int ct_metrics_json_from(ct_capacity *c, const ct_cap_counts *k, json_t **out,
                         ct_cap_error *err)
{
    return k ? metrics_json(c, k, false, out, err) : CT_EINVAL;
}
