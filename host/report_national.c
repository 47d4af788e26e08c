/*
 * Exports for national returns (report.h, docs/reports.md "National
 * returns"), with organisations by ODS code and homes by CQC location id:
 *
 *   capacity_tracker  per care home and bed type, the vacancy fields the
 *                     national care-home Capacity Tracker collects: maximum
 *                     capacity, occupied, vacant and reserved, vacant and
 *                     accepting admissions, vacant and not accepting, and
 *                     whether the home is closed to admissions;
 *   sitrep            per day, the shape of the daily acute discharge
 *                     situation report: people no longer meeting the
 *                     criteria to reside at the day's end, people
 *                     discharged by pathway, and delays by national reason
 *                     and responsible organisation.
 *
 * Both read what caretide knows: the sitrep counts the people referred to
 * the hub, not every patient of the trust.
 */
#include "report.h"

#include "area.h"
#include "capacity.h"
#include "log.h"
#include "capacity_view.h"
#include "clock.h"
#include "error.h"
#include "fhir.h"
#include "referral.h"
#include "report_int.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY CT_REPORT__DAY_MS
#define MAX_DAYS 366

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static const char *ods_of(const ct_config *cfg, const char *org)
{
    const ct_config_org *o =
        cfg && org ? ct_config_find_org(cfg, org) : NULL;
    return o && o->ods_code ? o->ods_code : "";
}

static int64_t floor_day(int64_t ms)
{
    return ms >= 0 ? ms / DAY : -((-ms + DAY - 1) / DAY);
}

/* Days are UK days (Europe/London), as the national returns count them. */
static void day_text(int64_t day, char out[11])
{
    ct_clock_day_text(day, out);
}

/* ---- Capacity Tracker ------------------------------------------------------ */

/* The Capacity Tracker's bed types, from a bed's tags. */
static const char *bed_type(const json_t *tags)
{
    bool nursing = false, dementia = false;
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *s = json_string_value(t);
        nursing |= s && strcmp(s, "nursing") == 0;
        dementia |= s && strcmp(s, "dementia") == 0;
    }
    return nursing ? (dementia ? "dementia_nursing" : "nursing")
                   : (dementia ? "dementia_residential" : "residential");
}

static const char *const tracker_counts[] = {
    "max_capacity", "occupied", "vacant_reserved", "vacant_accepting",
    "vacant_not_accepting"};

/* Adds one bed to its home's bed type (created on first use). */
static int count_bed(json_t *types, const json_t *bed, bool zone_closed)
{
    const char *type = bed_type(json_object_get(bed, "tags"));
    json_t *row = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(types, i, r)
        if (strcmp(str(r, "bed_type"), type) == 0)
            row = r;
    if (!row) {
        row = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i}", "bed_type", type,
                        "max_capacity", 0, "occupied", 0, "vacant_reserved",
                        0, "vacant_accepting", 0, "vacant_not_accepting", 0);
        if (!row || json_array_append_new(types, row))
            return CT_ENOMEM;
    }
    const char *status = str(bed, "status");
    const char *which = "vacant_not_accepting";
    if (status && strcmp(status, "occupied") == 0)
        which = "occupied";
    else if (status && strcmp(status, "held") == 0)
        which = "vacant_reserved";
    else if (status && strcmp(status, "available") == 0 && !zone_closed)
        which = "vacant_accepting";
    json_t *n = json_object_get(row, which);
    json_t *m = json_object_get(row, "max_capacity");
    json_integer_set(n, json_integer_value(n) + 1);
    json_integer_set(m, json_integer_value(m) + 1);
    return 0;
}

static bool zone_closed(const json_t *fac, const char *zone)
{
    size_t i;
    json_t *z;
    json_array_foreach(json_object_get(fac, "zones"), i, z)
        if (zone && strcmp(str(z, "id"), zone) == 0)
            return json_is_true(json_object_get(z, "closed"));
    return false;
}

int ct_report_capacity_tracker_json(ct_capacity *c, const ct_config *cfg,
                                    json_t **out, ct_cap_error *err)
{
    *out = NULL;
    json_t *view = NULL, *homes = json_array();
    int rc = homes ? ct_capacity_view_json(c, &view, err) : CT_ENOMEM;
    size_t i, j;
    json_t *f, *z;
    json_array_foreach(json_object_get(view, "facilities"), i, f)
    {
        if (rc || !str(f, "kind") || strcmp(str(f, "kind"), "care_home"))
            continue;
        const ct_config_facility *cf =
            cfg ? ct_config_find_facility(cfg, str(f, "id")) : NULL;
        bool closed = false;
        json_array_foreach(json_object_get(f, "zones"), j, z)
            closed |= json_is_true(json_object_get(z, "closed"));
        const ct_config_org *o =
            cfg && str(f, "org") ? ct_config_find_org(cfg, str(f, "org"))
                                 : NULL;
        json_t *home = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:[]}", "facility",
            str(f, "id"), "name", str(f, "name") ? str(f, "name") : "",
            "cqc_location_id", cf && cf->cqc_location ? cf->cqc_location : "",
            "ods_site_code", cf && cf->ods_site ? cf->ods_site : "",
            "provider_ods_code", ods_of(cfg, str(f, "org")), "provider",
            o && o->name ? o->name : (str(f, "org") ? str(f, "org") : ""),
            "admissions_closed", closed, "bed_types");
        if (!home || json_array_append_new(homes, home)) {
            rc = CT_ENOMEM;
            break;
        }
        /* Every bed of the home, a page at a time. */
        char after[CT_CAP_ID_MAX] = "";
        for (;;) {
            ct_bed_filter bf = {.facility_id = str(f, "id"),
                                .status = -1,
                                .after = *after ? after : NULL,
                                .limit = CT_VIEW_MAX_BEDS};
            json_t *beds = NULL;
            if ((rc = ct_capacity_view_beds_json(c, &bf, &beds, err)))
                break;
            json_t *b;
            json_array_foreach(beds, j, b)
            {
                /* A surge bed counts only while its surge is open. */
                if (json_is_true(json_object_get(b, "surge")) &&
                    !json_is_true(json_object_get(b, "surge_open")))
                    continue;
                if ((rc = count_bed(json_object_get(home, "bed_types"), b,
                                    zone_closed(f, str(b, "zone")))))
                    break;
            }
            size_t n = json_array_size(beds);
            if (n)
                snprintf(after, sizeof after, "%s",
                         str(json_array_get(beds, n - 1), "id"));
            json_decref(beds);
            if (rc || n < (size_t)CT_VIEW_MAX_BEDS)
                break;
        }
    }
    json_decref(view);
    if (rc) {
        json_decref(homes);
        return rc;
    }
    int64_t now = ct_clock_now(ct_capacity_clock(c));
    char date[11];
    day_text(ct_clock_uk_day(now), date);
    *out = json_pack("{s:s, s:I, s:s, s:o}", "report", "capacity_tracker",
                     "at", (json_int_t)now, "date", date, "homes", homes);
    return *out ? 0 : CT_ENOMEM;
}

/* ---- sitrep ----------------------------------------------------------------- */

/* One referral of REP_SITREP with its wait worked out. */
typedef struct srow {
    int64_t ready_day, created, end, discharged;
    int state;
    char *reason, *org, *pathway, *residence;
    ct_report_episodes eps; /* each delay day to the episode then */
} srow;

static char *dup_col(sqlite3_stmt *st, int i)
{
    const char *s = ct_report__col(st, i);
    return s ? ct_strdup(s) : NULL;
}

static void rows_free(srow *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].reason);
        free(rows[i].org);
        free(rows[i].pathway);
        free(rows[i].residence);
        ct_report__episodes_free(&rows[i].eps);
    }
    free(rows);
}

static int read_rows(ct_capacity *c, int64_t from, int64_t to, srow **out,
                     size_t *n, ct_cap_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = ct_report__stmt(c, CT_STMT_REP_SITREP, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    srow *rows = NULL;
    size_t cap = 0;
    int rc = 0, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (ct_grow(&rows, &cap, *n, sizeof *rows, 64)) {
            rc = CT_ENOMEM;
            break;
        }
        srow *r = &rows[(*n)++];
        memset(r, 0, sizeof *r);
        const char *ready = ct_report__col(st, 0);
        int state = ct_referral_state_parse(ct_report__col(st, 1));
        r->state = state < 0 ? CT_REFERRAL_RECEIVED : state;
        r->discharged = sqlite3_column_int64(st, 2);
        int64_t updated = sqlite3_column_int64(st, 3);
        r->created = sqlite3_column_int64(st, 4);
        r->reason = dup_col(st, 5);
        r->org = dup_col(st, 6);
        r->pathway = dup_col(st, 7);
        r->residence = dup_col(st, 8);
        r->end = ct_referral_wait_end((ct_referral_state)r->state,
                                      r->discharged, updated, INT64_MAX);
        int64_t ms = 0;
        r->ready_day = ready && ct_clock_parse(ready, &ms) == 0
                           ? floor_day(ms)
                           : INT64_MAX;
        if ((rc = ct_report__episodes_load(c, sqlite3_column_int64(st, 9),
                                           &r->eps, err)))
            break;
    }
    if (!rc && s != SQLITE_DONE)
        rc = ct_area__dberr(c, err, s, "reading the sitrep's referrals");
    sqlite3_reset(st);
    if (rc) {
        rows_free(rows, *n);
        *n = 0;
        return rc;
    }
    *out = rows;
    return 0;
}

/* The sitrep's pathway: returning care-home residents (P0 with a care
 * home as usual residence) are P3b; step-down is a short-term bed, P2. */
static const char *sitrep_pathway(const srow *r)
{
    const char *p = r->pathway ? r->pathway : "unknown";
    if (strcmp(p, "P0") == 0 && r->residence &&
        strcmp(r->residence, "care_home") == 0)
        return "P3b";
    if (strcmp(p, "step_down") == 0)
        return "P2";
    return p;
}

static const char *const sitrep_pathways[] = {"P0", "P1", "P2",
                                              "P3", "P3b", "unknown"};

static json_t *delay_group(json_t *delays, const ct_config *cfg,
                           const char *reason, const char *org)
{
    size_t i;
    json_t *g;
    const char *rk = reason ? reason : "none", *ok = org ? org : "";
    json_array_foreach(delays, i, g)
        if (strcmp(str(g, "reason"), rk) == 0 &&
            strcmp(str(g, "responsible_org"), ok) == 0)
            return g;
    /* The national wording where the code is a national reason. */
    const ct_fhir_delay_code *dc = ct_fhir_delay_lookup(rk);
    const ct_config_org *o = cfg && org ? ct_config_find_org(cfg, org) : NULL;
    g = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i}", "reason", rk,
                  "reason_text",
                  dc               ? dc->display
                  : reason         ? rk
                                   : "No delay reason recorded",
                  "responsible_org", ok, "responsible_ods_code",
                  ods_of(cfg, org), "responsible_name",
                  o && o->name ? o->name : ok, "people", 0, "delay_days", 0);
    if (g && json_array_append_new(delays, g))
        return NULL;
    return g;
}

static void bump(json_t *o, const char *key, json_int_t by)
{
    json_t *n = json_object_get(o, key);
    json_integer_set(n, json_integer_value(n) + by);
}

/* The day d (days since the epoch) read at its end, or now for today. */
static json_t *sitrep_day(const srow *rows, size_t n, int64_t d,
                          int64_t now, const ct_config *cfg)
{
    int64_t t = ct_clock_uk_midnight(d + 1) - 1;
    if (t > now)
        t = now;
    char date[11];
    day_text(d, date);
    json_t *day = json_pack("{s:s, s:I, s:i, s:i, s:{}, s:[]}", "date", date,
                            "at", (json_int_t)t, "nctr", 0, "delayed", 0,
                            "discharged", "delays");
    if (!day)
        return NULL;
    json_t *dis = json_object_get(day, "discharged");
    for (size_t i = 0; i < CT_ARRAY_LEN(sitrep_pathways); i++)
        json_object_set_new(dis, sitrep_pathways[i], json_integer(0));
    json_t *delays = json_object_get(day, "delays");
    for (size_t i = 0; i < n; i++) {
        const srow *r = &rows[i];
        if (r->discharged >= ct_clock_uk_midnight(d) && r->discharged <= t &&
            r->state != CT_REFERRAL_CANCELLED)
            bump(dis, sitrep_pathway(r), 1);
        bool in_hospital = r->created <= t && r->end > t;
        if (!in_hospital || r->ready_day == INT64_MAX || r->ready_day > d)
            continue;
        bump(day, "nctr", 1);
        if (r->ready_day == d)
            continue;
        bump(day, "delayed", 1);
        /* The episode in force that day; a referral without episodes keeps
         * its current reason. */
        const ct_report_episode *ep =
            r->eps.n ? ct_report__episode_at(&r->eps, d) : NULL;
        json_t *g = r->eps.n ? delay_group(delays, cfg, ep ? ep->reason : NULL,
                                           ep ? ep->org : NULL)
                             : delay_group(delays, cfg, r->reason, r->org);
        if (!g) {
            json_decref(day);
            return NULL;
        }
        bump(g, "people", 1);
        bump(g, "delay_days", d - r->ready_day);
    }
    return day;
}

int ct_report_sitrep_json(ct_capacity *c, const ct_config *cfg,
                          const ct_report_period *p, json_t **out,
                          ct_cap_error *err)
{
    *out = NULL;
    int64_t now = ct_clock_now(ct_capacity_clock(c));
    /* Today alone unless a period is given. */
    int64_t today = ct_clock_uk_day(now);
    int64_t first = p->from_day == INT64_MIN ? today : p->from_day;
    int64_t last = p->to_day == INT64_MAX ? today : p->to_day;
    if (last > today)
        last = today;
    if (last < first || last - first >= MAX_DAYS) {
        return ct_area__fail(err, CT_EINVAL,
                             "the sitrep covers 1 to %d days up to "
                             "today",
                             MAX_DAYS);
    }
    srow *rows;
    size_t n;
    int rc = read_rows(c, ct_clock_uk_midnight(first),
                       ct_clock_uk_midnight(last + 1), &rows, &n, err);
    if (rc)
        return rc;
    json_t *days = json_array();
    for (int64_t d = first; days && d <= last; d++) {
        json_t *day = sitrep_day(rows, n, d, now, cfg);
        if (!day || json_array_append_new(days, day)) {
            json_decref(days);
            days = NULL;
        }
    }
    rows_free(rows, n);
    if (days)
        *out = json_pack("{s:s, s:I, s:o, s:o}", "report", "sitrep", "at",
                         (json_int_t)now, "period", ct_report__period_json(p),
                         "days", days);
    return *out ? 0 : CT_ENOMEM;
}

/* ---- CSV -------------------------------------------------------------------- */

void ct_report__tracker_csv(FILE *out, const json_t *rep)
{
    static const char *const head[] = {
        "date", "cqc_location_id", "ods_site_code", "home", "provider_ods_code",
        "provider", "bed_type", "max_capacity", "occupied",
        "vacant_reserved", "vacant_accepting", "vacant_not_accepting",
        "admissions_closed", "caretide_facility"};
    for (size_t i = 0; i < CT_ARRAY_LEN(head); i++)
        ct_report__csv_field(out, head[i], i + 1 == CT_ARRAY_LEN(head));
    size_t i, j;
    json_t *h, *b;
    json_array_foreach(json_object_get(rep, "homes"), i, h)
    {
        json_array_foreach(json_object_get(h, "bed_types"), j, b)
        {
            ct_report__csv_field(out, str(rep, "date"), false);
            ct_report__csv_field(out, str(h, "cqc_location_id"), false);
            ct_report__csv_field(out, str(h, "ods_site_code"), false);
            ct_report__csv_field(out, str(h, "name"), false);
            ct_report__csv_field(out, str(h, "provider_ods_code"), false);
            ct_report__csv_field(out, str(h, "provider"), false);
            ct_report__csv_field(out, str(b, "bed_type"), false);
            for (size_t k = 0; k < CT_ARRAY_LEN(tracker_counts); k++)
                fprintf(out, "%" JSON_INTEGER_FORMAT ",",
                        json_integer_value(
                            json_object_get(b, tracker_counts[k])));
            ct_report__csv_field(
                out,
                json_is_true(json_object_get(h, "admissions_closed")) ? "yes"
                                                                      : "no",
                false);
            ct_report__csv_field(out, str(h, "facility"), true);
        }
    }
}

/* date,measure,pathway,delay_reason,delay_reason_text,
 * responsible_ods_code,responsible_organisation,value */
static void sitrep_line(FILE *out, const char *date, const char *measure,
                        const char *pathway, const json_t *g,
                        json_int_t value)
{
    ct_report__csv_field(out, date, false);
    ct_report__csv_field(out, measure, false);
    ct_report__csv_field(out, pathway ? pathway : "", false);
    ct_report__csv_field(out, g ? str(g, "reason") : "", false);
    ct_report__csv_field(out, g ? str(g, "reason_text") : "", false);
    ct_report__csv_field(out, g ? str(g, "responsible_ods_code") : "", false);
    ct_report__csv_field(out, g ? str(g, "responsible_name") : "", false);
    fprintf(out, "%" JSON_INTEGER_FORMAT "\n", value);
}

void ct_report__sitrep_csv(FILE *out, const json_t *rep)
{
    fputs("date,measure,pathway,delay_reason,delay_reason_text,"
          "responsible_ods_code,responsible_organisation,value\n",
          out);
    size_t i, j;
    json_t *d, *g;
    json_array_foreach(json_object_get(rep, "days"), i, d)
    {
        const char *date = str(d, "date");
        sitrep_line(out, date, "nctr", NULL, NULL,
                    json_integer_value(json_object_get(d, "nctr")));
        for (size_t k = 0; k < CT_ARRAY_LEN(sitrep_pathways); k++)
            sitrep_line(out, date, "discharged", sitrep_pathways[k], NULL,
                        json_integer_value(json_object_get(
                            json_object_get(d, "discharged"),
                            sitrep_pathways[k])));
        sitrep_line(out, date, "delayed", NULL, NULL,
                    json_integer_value(json_object_get(d, "delayed")));
        json_array_foreach(json_object_get(d, "delays"), j, g)
        {
            sitrep_line(out, date, "delayed_by_reason", NULL, g,
                        json_integer_value(json_object_get(g, "people")));
            sitrep_line(out, date, "delay_days_by_reason", NULL, g,
                        json_integer_value(json_object_get(g, "delay_days")));
        }
    }
}
