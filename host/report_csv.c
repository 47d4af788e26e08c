/*
 * Reports as CSV (report.h's ct_report_csv): one writer for the API
 * (GET /v1/reports/...?format=csv) and `caretide report --format csv`,
 * so a spreadsheet gets the same figures whichever way it asked.
 * RFC 4180: fields with a comma, quote or line break are quoted; null is
 * an empty field.
 */
#include "report.h"
#include "report_int.h"

#include "clock.h"
#include "error.h"
#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* One field, quoted when it holds a comma, quote or line break. */
void ct_report__csv_field(FILE *out, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        fputs(s, out);
    }
    fputc(last ? '\n' : ',', out);
}

/* A JSON value as a CSV field: numbers in full, null as empty. */
static void csv_field(FILE *out, const char *s, bool last)
{
    ct_report__csv_field(out, s, last);
}

static void csv_value(FILE *out, const json_t *v, bool last)
{
    char buf[64];
    if (json_is_string(v)) {
        csv_field(out, json_string_value(v), last);
        return;
    }
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, sizeof buf, "%.6g", json_real_value(v));
    else if (json_is_true(v) || json_is_false(v))
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    else
        buf[0] = '\0';
    csv_field(out, buf, last);
}

/* Columns named by a table: the names as fields (a header), or those
 * fields of object o; last ends the line after the final one. */
static void csv_names(FILE *out, const char *const *cols, size_t n,
                      bool last)
{
    for (size_t c = 0; c < n; c++)
        csv_field(out, cols[c], last && c + 1 == n);
}

static void csv_values(FILE *out, const json_t *o, const char *const *cols,
                       size_t n, bool last)
{
    for (size_t c = 0; c < n; c++)
        csv_value(out, json_object_get(o, cols[c]), last && c + 1 == n);
}

/* A list of objects as a table: a header of cols, then a line each. */
static void csv_table(FILE *out, const json_t *rows, const char *const *cols,
                      size_t n)
{
    csv_names(out, cols, n, true);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) csv_values(out, r, cols, n, true);
}

#define COLS(a) (a), CT_ARRAY_LEN(a)

static const char *const delay_cols[] = {
    "referrals",       "delayed",
    "bed_days_lost",   "mean_delay_days",
    "max_delay_days",  "discharged",
    "discharged_on_ready_date", "share_on_ready_date",
    "in_hospital",     "delayed_in_hospital"};

static void delays_csv(FILE *out, const json_t *rep)
{
    csv_field(out, "key", false);
    csv_field(out, "name", false);
    csv_names(out, COLS(delay_cols), true);
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(rep, "groups"), i, g)
    {
        csv_field(out, jstr(g, "key"), false);
        csv_field(out, jstr(g, "name"), false);
        csv_values(out, g, COLS(delay_cols), true);
    }
    csv_field(out, "total", false);
    csv_field(out, "All referrals", false);
    csv_values(out, json_object_get(rep, "totals"), COLS(delay_cols), true);
}

static const char *const cap_cols[] = {"total",   "open",     "available",
                                       "held",    "occupied", "blocked",
                                       "occupancy"};

static void cap_csv_row(FILE *out, const char *level, const char *fac,
                        const char *zone, const char *kind, const json_t *t,
                        const json_t *age)
{
    csv_field(out, level, false);
    csv_field(out, fac, false);
    csv_field(out, zone, false);
    csv_field(out, kind, false);
    csv_values(out, t, COLS(cap_cols), false);
    const json_t *s = json_object_get(t, "surge");
    csv_value(out, json_object_get(s, "open"), false);
    csv_value(out, json_object_get(s, "total"), false);
    csv_value(out, json_object_get(t, "surge_share"), false);
    csv_value(out, age, true);
}

static void capacity_csv(FILE *out, const json_t *rep)
{
    fputs("level,facility,zone,kind,total,open,available,held,occupied,"
          "blocked,occupancy,surge_open,surge_total,surge_share,"
          "data_age_hours\n",
          out);
    cap_csv_row(out, "area", "", "", "", json_object_get(rep, "totals"),
                NULL);
    size_t i, j;
    json_t *f, *z;
    json_array_foreach(json_object_get(rep, "facilities"), i, f)
    {
        cap_csv_row(out, "facility", jstr(f, "id"), "", jstr(f, "kind"),
                    json_object_get(f, "totals"),
                    json_object_get(f, "data_age_hours"));
        json_array_foreach(json_object_get(f, "zones"), j, z)
            cap_csv_row(out, "zone", jstr(f, "id"), jstr(z, "id"),
                        jstr(f, "kind"), json_object_get(z, "totals"),
                        json_object_get(z, "data_age_hours"));
    }
}

static void escalation_csv(FILE *out, const json_t *rep)
{
    static const char *const cols[] = {"level", "ms", "hours", "share"};
    csv_table(out, json_object_get(rep, "levels"), COLS(cols));
}

/* today: the area, each organisation, each reason. */
static const char *const today_cols[] = {"now", "yesterday", "last_week",
                                         "bed_days", "max_days"};
static const char *const length_cols[] = {"1-2d", "3-6d", "7-13d", "14d+"};

static void today_row(FILE *out, const char *level, const char *key,
                      const char *name, const json_t *g)
{
    csv_field(out, level, false);
    csv_field(out, key, false);
    csv_field(out, name, false);
    csv_values(out, g, COLS(today_cols), false);
    csv_values(out, json_object_get(g, "by_length"), COLS(length_cols), true);
}

static void today_csv(FILE *out, const json_t *rep)
{
    fputs("level,key,name,now,yesterday,last_week,bed_days,max_days,"
          "days_1_2,days_3_6,days_7_13,days_14_plus\n",
          out);
    today_row(out, "area", "total", "Past their ready date, in hospital",
              json_object_get(rep, "totals"));
    static const char *const lists[][2] = {{"orgs", "org"},
                                           {"reasons", "reason"}};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *g;
        json_array_foreach(json_object_get(rep, lists[l][0]), i, g)
            today_row(out, lists[l][1], jstr(g, "key"), jstr(g, "name"), g);
    }
}

/* daily: long ("tidy") rows, one figure of one day each, so a
 * spreadsheet pivots them any way: day,figure,group,key,name,value. */
static int daily_value(void *ud, const char *day, const char *figure,
                       const char *group, const char *key, const char *name,
                       const json_t *v)
{
    FILE *out = ud;
    csv_field(out, day, false);
    csv_field(out, figure, false);
    csv_field(out, group, false);
    csv_field(out, key, false);
    csv_field(out, name, false);
    csv_value(out, v, true);
    return 0;
}

static void daily_csv(FILE *out, const json_t *rep)
{
    fputs("day,figure,group,key,name,value\n", out);
    ct_report__daily_walk(rep, -1, daily_value, out);
}

const ct_report__daily_figure ct_report__daily_area[] = {
    {"occupancy", "open", "open_beds"},
    {"occupancy", "occupied", "occupied_beds"},
    {"occupancy", "held", "held_beds"},
    {"occupancy", "share", "occupancy"},
    {"escalation", "level", "escalation_level"},
    {"escalation", "max_level", "escalation_max_level"},
    {"holds", "confirmed", "holds_confirmed"},
    {"holds", "expired", "holds_expired"},
    {"holds", "declined", "holds_declined"},
    {"holds", "confirm_hours_median", "hold_to_confirm_hours_median"},
    {NULL, NULL, NULL}};
/* The area's figures from this one on are also per provider. */
const size_t ct_report__daily_first_provider = 6;

static int walk_groups(const json_t *days, int64_t only, const char *figure,
                       const json_t *fig, ct_report__daily_fn fn, void *ud)
{
    static const char *const groups[][2] = {{"by_org", "org"},
                                            {"by_reason", "reason"}};
    size_t k;
    json_t *day;
    int rc = 0;
    json_array_foreach(days, k, day)
        if ((only < 0 || (size_t)only == k) &&
            (rc = fn(ud, json_string_value(day), figure, "area", "total", "",
                     json_array_get(json_object_get(fig, "total"), k))))
            return rc;
    for (size_t g = 0; g < 2; g++) {
        const char *key;
        json_t *s;
        json_object_foreach(json_object_get(fig, groups[g][0]), key, s)
            json_array_foreach(days, k, day)
                if ((only < 0 || (size_t)only == k) &&
                    (rc = fn(ud, json_string_value(day), figure, groups[g][1],
                             key, jstr(s, "name"),
                             json_array_get(json_object_get(s, "values"),
                                            k))))
                    return rc;
    }
    return 0;
}

int ct_report__daily_walk(const json_t *rep, int64_t only,
                          ct_report__daily_fn fn, void *ud)
{
    const json_t *days = json_object_get(rep, "days");
    int rc;
    if ((rc = walk_groups(days, only, "delayed",
                          json_object_get(rep, "delayed"), fn, ud)) ||
        (rc = walk_groups(days, only, "bed_days_lost",
                          json_object_get(rep, "bed_days_lost"), fn, ud)))
        return rc;
    size_t k;
    json_t *day;
    for (const ct_report__daily_figure *a = ct_report__daily_area; a->figure;
         a++)
        json_array_foreach(days, k, day)
            if ((only < 0 || (size_t)only == k) &&
                (rc = fn(ud, json_string_value(day), a->figure, "area",
                         "total", "",
                         json_array_get(json_object_get(json_object_get(
                                                            rep, a->section),
                                                        a->member),
                                        k))))
                return rc;
    const char *org;
    json_t *p;
    json_object_foreach(json_object_get(json_object_get(rep, "holds"),
                                        "by_provider"),
                        org, p)
    {
        for (const ct_report__daily_figure *a =
                 ct_report__daily_area + ct_report__daily_first_provider;
             a->figure; a++)
            json_array_foreach(days, k, day)
                if ((only < 0 || (size_t)only == k) &&
                    (rc = fn(ud, json_string_value(day), a->figure,
                             "provider", org, jstr(p, "name"),
                             json_array_get(json_object_get(p, a->member),
                                            k))))
                    return rc;
    }
    return 0;
}

/* A wait's why (docs/api.md "Why a referral waits") in words for a cell:
 * "70 without bariatric; 218 not for the pathway; 5 blocked". */
static void why_text(const json_t *why, ct_buf *b)
{
    static const char *const rules[][2] = {
        {"pathway", "not for the pathway"}, {"cohort", "infection cohort"},
        {"closed", "zone closed"},          {"surge_closed", "surge closed"},
        {"held", "held"},                   {"occupied", "occupied"},
        {"blocked", "blocked"},             {"available", "free, not offered"}};
    const json_t *ex = json_object_get(why, "excluded");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(ex, "tags"), k, v)
        if (json_integer_value(v))
            ct_buf_printf(b, "%s%lld without %s", b->len ? "; " : "",
                          (long long)json_integer_value(v), k);
    for (size_t i = 0; i < CT_ARRAY_LEN(rules); i++) {
        json_int_t n = json_integer_value(json_object_get(ex, rules[i][0]));
        if (n)
            ct_buf_printf(b, "%s%lld %s", b->len ? "; " : "", (long long)n,
                          rules[i][1]);
    }
    size_t i;
    json_array_foreach(json_object_get(why, "dropped"), i, v)
        ct_buf_printf(b, "%s%s left out %s", b->len ? "; " : "",
                      json_string_value(json_object_get(v, "plugin")),
                      json_string_value(json_object_get(v, "bed")));
    json_array_foreach(json_object_get(why, "refused"), i, v)
        ct_buf_printf(b, "%s%s refused", b->len ? "; " : "",
                      json_string_value(json_object_get(v, "bed")));
}

/* people: one row a person, as the JSON. */
static void people_csv(FILE *out, const json_t *rep)
{
    static const char *const cols[] = {
        "referral",    "nhs_number",      "from_org",
        "pathway",     "state",           "ready_date",
        "days_past_ready", "reason",      "reason_text",
        "responsible_org", "responsible_org_name"};
    csv_names(out, COLS(cols), false);
    csv_field(out, "updated_at", false);
    csv_field(out, "why", true);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(rep, "people"), i, p)
    {
        csv_values(out, p, COLS(cols), false);
        char iso[32];
        ct_clock_format(json_integer_value(json_object_get(p, "updated_at")),
                        iso, sizeof iso);
        csv_field(out, iso, false);
        ct_buf b = {0};
        why_text(json_object_get(p, "why"), &b);
        csv_field(out, b.data ? b.data : "", true);
        ct_buf_free(&b);
    }
}

/* providers: the totals row ("total"), then one row per provider. */
static void providers_csv(FILE *out, const json_t *rep)
{
    static const char *const cols[] = {
        "org",       "name",          "holds",
        "confirmed", "declined",      "expired",
        "expired_share", "confirm_hours_median", "confirm_hours_p90",
        "decline_hours_median"};
    csv_names(out, COLS(cols), true);
    csv_values(out, json_object_get(rep, "totals"), COLS(cols), true);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(rep, "providers"), i, p)
        csv_values(out, p, COLS(cols), true);
}

/* pathways: one row per pathway. */
static void pathways_csv(FILE *out, const json_t *rep)
{
    static const char *const cols[] = {"pathway", "discharges", "share",
                                       "returning_residents"};
    csv_table(out, json_object_get(rep, "pathways"), COLS(cols));
}

int ct_report_csv(const json_t *rep, FILE *out)
{
    static const struct {
        const char *name;
        void (*write)(FILE *, const json_t *);
    } kinds[] = {{"delays", delays_csv},         {"capacity", capacity_csv},
                 {"escalation", escalation_csv}, {"today", today_csv},
                 {"daily", daily_csv},           {"delayed_people", people_csv},
                 {"providers", providers_csv},   {"pathways", pathways_csv},
                 {"capacity_tracker", ct_report__tracker_csv},
                 {"sitrep", ct_report__sitrep_csv}};
    const char *name = jstr(rep, "report");
    for (size_t i = 0; i < CT_ARRAY_LEN(kinds); i++)
        if (strcmp(name, kinds[i].name) == 0) {
            kinds[i].write(out, rep);
            return ferror(out) ? CT_EIO : 0;
        }
    return CT_EINVAL;
}
