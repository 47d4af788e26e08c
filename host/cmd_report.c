/*
 * caretide report delays|capacity|escalation: the reports of report.h on
 * a database opened read-only, as a table for people, CSV for
 * spreadsheets or JSON (the same object as GET /v1/reports/...).
 */
#include "cli.h"
#include "audit.h"

#include "capacity.h"
#include "clock.h"
#include "config.h"
#include "diag.h"
#include "error.h"
#include "report.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CMD "report"

typedef enum format { FMT_TABLE, FMT_CSV, FMT_JSON } format;
typedef enum report_kind {
    REP_DELAYS,
    REP_CAPACITY,
    REP_ESCALATION,
    REP_TODAY,
    REP_DAILY,
    REP_PROVIDERS,
    REP_PATHWAYS,
    REP_CAPACITY_TRACKER, /* national returns: CSV or JSON only */
    REP_SITREP,
    REP__COUNT
} report_kind;

/* ---- reading JSON ------------------------------------------------------ */

static json_int_t jint(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void when(json_t *v, char *buf, size_t size)
{
    if (!json_is_integer(v)) {
        snprintf(buf, size, "-");
        return;
    }
    char iso[32];
    ct_clock_format(json_integer_value(v), iso, sizeof iso);
    /* "2026-11-23T18:00:00.000Z" -> "2026-11-23 18:00" */
    snprintf(buf, size, "%.10s %.5s", iso, iso + 11);
}

/* A share as a percentage, "-" for null. */
static void pct(const json_t *v, char *buf, size_t size)
{
    if (json_is_number(v))
        snprintf(buf, size, "%.1f%%", 100.0 * json_number_value(v));
    else
        snprintf(buf, size, "-");
}

static void num(const json_t *v, char *buf, size_t size)
{
    if (json_is_integer(v))
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_number(v))
        snprintf(buf, size, "%.1f", json_number_value(v));
    else
        snprintf(buf, size, "-");
}

/* ---- delays ------------------------------------------------------------ */

/* The name shown for a group: "Name (key)" unless they are the same. */
static void group_label(const json_t *g, char *buf, size_t size)
{
    if (strcmp(jstr(g, "key"), jstr(g, "name")) == 0 ||
        strcmp(jstr(g, "key"), "none") == 0)
        snprintf(buf, size, "%s", jstr(g, "name"));
    else
        snprintf(buf, size, "%s (%s)", jstr(g, "name"), jstr(g, "key"));
}

static void delays_row(FILE *out, int width, const char *name,
                       const json_t *g)
{
    char mean[32], share[32];
    num(json_object_get(g, "mean_delay_days"), mean, sizeof mean);
    pct(json_object_get(g, "share_on_ready_date"), share, sizeof share);
    fprintf(out,
            "%-*s %9" JSON_INTEGER_FORMAT " %7" JSON_INTEGER_FORMAT
            " %8" JSON_INTEGER_FORMAT " %5s %4" JSON_INTEGER_FORMAT
            " %10" JSON_INTEGER_FORMAT " %7s %11" JSON_INTEGER_FORMAT
            " %19" JSON_INTEGER_FORMAT "\n",
            width, name, jint(g, "referrals"), jint(g, "delayed"),
            jint(g, "bed_days_lost"), mean, jint(g, "max_delay_days"),
            jint(g, "discharged"), share, jint(g, "in_hospital"),
            jint(g, "delayed_in_hospital"));
}

static void period_line(FILE *out, const json_t *rep)
{
    const json_t *p = json_object_get(rep, "period");
    const char *from = jstr(p, "from"), *to = jstr(p, "to");
    fprintf(out, "Delays of referrals ready from %s to %s\n",
            *from ? from : "the first", *to ? to : "the last");
}

static void delays_table(FILE *out, const json_t *rep)
{
    static const char *const by_title[] = {"responsible organisation",
                                           "delay reason", "pathway"};
    int by = ct_report_by_parse(jstr(rep, "by"));
    const char *title = by >= 0 ? by_title[by] : "group";
    /* The first column is as wide as the longest name: names are never
     * cut, so an organisation is always recognisable. */
    int width = (int)strlen("All referrals");
    if ((int)strlen(title) > width)
        width = (int)strlen(title);
    size_t i;
    json_t *g;
    char name[512];
    json_array_foreach(json_object_get(rep, "groups"), i, g)
    {
        group_label(g, name, sizeof name);
        if ((int)strlen(name) > width)
            width = (int)strlen(name);
    }
    period_line(out, rep);
    fprintf(out, "\n%-*s %9s %7s %8s %5s %4s %10s %7s %11s %19s\n", width,
            title, "referrals", "delayed", "bed-days", "mean", "max",
            "discharged", "on DRD", "in hospital", "delayed in hospital");
    json_array_foreach(json_object_get(rep, "groups"), i, g)
    {
        group_label(g, name, sizeof name);
        delays_row(out, width, name, g);
    }
    delays_row(out, width, "All referrals", json_object_get(rep, "totals"));
    fputs("\nbed-days: delay days summed (bed-days lost); mean and max over "
          "the delayed;\non DRD: share of those discharged who left on "
          "their discharge ready date;\ndelayed in hospital: still in "
          "hospital and past their discharge ready date.\n",
          out);
}

/* ---- capacity ---------------------------------------------------------- */

static void cap_row(FILE *out, int width, const char *name,
                    const char *kind, const json_t *t, const json_t *age)
{
    char occ[16], share[16], agebuf[16], surge[24];
    pct(json_object_get(t, "occupancy"), occ, sizeof occ);
    pct(json_object_get(t, "surge_share"), share, sizeof share);
    num(age, agebuf, sizeof agebuf);
    const json_t *s = json_object_get(t, "surge");
    snprintf(surge, sizeof surge, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
             jint(s, "open"), jint(s, "total"));
    fprintf(out,
            "%-*s %-12s %5" JSON_INTEGER_FORMAT " %5" JSON_INTEGER_FORMAT
            " %5" JSON_INTEGER_FORMAT " %5" JSON_INTEGER_FORMAT
            " %5" JSON_INTEGER_FORMAT " %5" JSON_INTEGER_FORMAT
            " %7s %6s %6s %8s\n",
            width, name, kind, jint(t, "total"), jint(t, "open"),
            jint(t, "available"), jint(t, "held"), jint(t, "occupied"),
            jint(t, "blocked"), occ, surge, share, agebuf);
}

static void history_summary(FILE *out, const json_t *h)
{
    const json_t *area = json_object_get(h, "area");
    const json_t *open = json_object_get(area, "open");
    const json_t *occ = json_object_get(area, "occupied");
    size_t n = json_array_size(open);
    double lo = INFINITY, hi = -INFINITY, last = 0;
    for (size_t k = 0; k < n; k++) {
        json_int_t o = json_integer_value(json_array_get(open, k));
        double v = o > 0 ? (double)json_integer_value(json_array_get(occ, k)) /
                               (double)o
                         : 0.0;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        last = v;
    }
    if (!n)
        return;
    char from[32], to[32];
    when(json_array_get(json_object_get(h, "at"), 0), from, sizeof from);
    when(json_array_get(json_object_get(h, "at"), n - 1), to, sizeof to);
    fprintf(out,
            "\nOccupancy %s to %s (%zu samples, every %.0fh): lowest %.1f%%, "
            "highest %.1f%%, last %.1f%% (the series is in --format json)\n",
            from, to, n, (double)jint(h, "step_ms") / 3600000.0, 100 * lo,
            100 * hi, 100 * last);
}

static void capacity_table(FILE *out, const json_t *rep)
{
    char at[32];
    when(json_object_get(rep, "at"), at, sizeof at);
    fprintf(out, "Capacity at %s UTC\n\n", at);
    /* As wide as the longest facility or (indented) zone name. */
    int width = (int)strlen("facility / zone");
    size_t i, j;
    json_t *f, *z;
    json_array_foreach(json_object_get(rep, "facilities"), i, f)
    {
        if ((int)strlen(jstr(f, "name")) > width)
            width = (int)strlen(jstr(f, "name"));
        json_array_foreach(json_object_get(f, "zones"), j, z)
            if ((int)strlen(jstr(z, "name")) + 2 > width)
                width = (int)strlen(jstr(z, "name")) + 2;
    }
    fprintf(out, "%-*s %-12s %5s %5s %5s %5s %5s %5s %7s %6s %6s %8s\n",
            width, "facility / zone", "kind", "total", "open", "avail",
            "held", "occ", "block", "occ%", "surge", "surge%", "age (h)");
    json_array_foreach(json_object_get(rep, "facilities"), i, f)
    {
        cap_row(out, width, jstr(f, "name"), jstr(f, "kind"),
                json_object_get(f, "totals"),
                json_object_get(f, "data_age_hours"));
        json_array_foreach(json_object_get(f, "zones"), j, z)
        {
            char name[512];
            snprintf(name, sizeof name, "  %s", jstr(z, "name"));
            cap_row(out, width, name,
                    json_is_true(json_object_get(z, "closed")) ? "closed"
                                                               : "",
                    json_object_get(z, "totals"),
                    json_object_get(z, "data_age_hours"));
        }
    }
    cap_row(out, width, "All facilities", "", json_object_get(rep, "totals"),
            NULL);

    fprintf(out, "\n%-12s %-9s %5s %5s %9s %8s\n", "pathogen", "cohort",
            "zones", "beds", "available", "occupied");
    const char *pathogen;
    json_t *p;
    json_object_foreach(json_object_get(rep, "cohorts"), pathogen, p)
    {
        const char *cohort;
        json_t *e;
        json_object_foreach(p, cohort, e)
        {
            fprintf(out,
                    "%-12s %-9s %5" JSON_INTEGER_FORMAT
                    " %5" JSON_INTEGER_FORMAT " %9" JSON_INTEGER_FORMAT
                    " %8" JSON_INTEGER_FORMAT "\n",
                    pathogen, cohort, jint(e, "zones"), jint(e, "total"),
                    jint(e, "available"), jint(e, "occupied"));
        }
    }
    const json_t *stale = json_object_get(rep, "stale_providers");
    fprintf(out, "\nProviders not updated within %.0fh: ",
            json_number_value(json_object_get(rep, "stale_after_hours")));
    if (!json_array_size(stale))
        fputs("none", out);
    json_array_foreach(stale, i, f)
        fprintf(out, "%s%s", i ? ", " : "", json_string_value(f));
    fputc('\n', out);
    history_summary(out, json_object_get(rep, "history"));
    fputs("\nocc%: occupied / open beds; surge: open surge beds / surge "
          "beds; age: hours since\nthe facility's or zone's beds last changed (- "
          "when never).\n",
          out);
}

/* ---- escalation -------------------------------------------------------- */

static void escalation_table(FILE *out, const json_t *rep)
{
    const json_t *p = json_object_get(rep, "period");
    const json_t *cur = json_object_get(rep, "current");
    char a[32], b[32], since[32];
    when(json_object_get(p, "start"), a, sizeof a);
    when(json_object_get(p, "end"), b, sizeof b);
    when(json_object_get(cur, "since"), since, sizeof since);
    fprintf(out, "Escalation %s to %s UTC\n", a, b);
    fprintf(out, "Current level: %" JSON_INTEGER_FORMAT, jint(cur, "level"));
    if (json_is_integer(json_object_get(cur, "since")))
        fprintf(out, " since %s: %s", since, jstr(cur, "reason"));
    fprintf(out, "\n\n%-6s %10s %7s\n", "level", "hours", "share");
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(rep, "levels"), i, l)
    {
        char share[16];
        pct(json_object_get(l, "share"), share, sizeof share);
        fprintf(out, "%-6" JSON_INTEGER_FORMAT " %10.1f %7s\n",
                jint(l, "level"),
                json_number_value(json_object_get(l, "hours")), share);
    }
    const json_t *changes = json_object_get(rep, "changes");
    fprintf(out, "\nChanges (%zu):\n", json_array_size(changes));
    json_t *c;
    json_array_foreach(changes, i, c)
    {
        char at[32];
        when(json_object_get(c, "at"), at, sizeof at);
        fprintf(out, "  %s  %" JSON_INTEGER_FORMAT " -> %" JSON_INTEGER_FORMAT
                     "  %s\n",
                at, jint(c, "from"), jint(c, "to"), jstr(c, "reason"));
    }
    const json_t *acts = json_object_get(rep, "actions");
    fprintf(out, "\nActions taken (%zu kinds):\n", json_array_size(acts));
    json_array_foreach(acts, i, c)
    {
        const char *plugin = jstr(c, "plugin");
        fprintf(out, "  %4" JSON_INTEGER_FORMAT "  %s%s%s%s\n",
                jint(c, "count"), jstr(c, "action"), *plugin ? " (" : "",
                plugin, *plugin ? ")" : "");
    }
}

/* ---- today ------------------------------------------------------------- */

static void today_row(FILE *out, int width, const char *name,
                      const json_t *g)
{
    const json_t *len = json_object_get(g, "by_length");
    fprintf(out,
            "%-*s %5" JSON_INTEGER_FORMAT " %9" JSON_INTEGER_FORMAT
            " %9" JSON_INTEGER_FORMAT " %8" JSON_INTEGER_FORMAT
            " %8" JSON_INTEGER_FORMAT " %5" JSON_INTEGER_FORMAT
            " %5" JSON_INTEGER_FORMAT " %6" JSON_INTEGER_FORMAT
            " %5" JSON_INTEGER_FORMAT "\n",
            width, name, jint(g, "now"), jint(g, "yesterday"),
            jint(g, "last_week"), jint(g, "bed_days"), jint(g, "max_days"),
            jint(len, "1-2d"), jint(len, "3-6d"), jint(len, "7-13d"),
            jint(len, "14d+"));
}

static void today_block(FILE *out, const char *title, const json_t *list,
                        const json_t *totals)
{
    int width = (int)strlen(title);
    size_t i;
    json_t *g;
    char name[512];
    json_array_foreach(list, i, g)
    {
        group_label(g, name, sizeof name);
        if ((int)strlen(name) > width)
            width = (int)strlen(name);
    }
    fprintf(out, "\n%-*s %5s %9s %9s %8s %8s %5s %5s %6s %5s\n", width,
            title, "now", "yesterday", "last week", "bed-days", "max days",
            "1-2d", "3-6d", "7-13d", "14d+");
    json_array_foreach(list, i, g)
    {
        group_label(g, name, sizeof name);
        today_row(out, width, name, g);
    }
    today_row(out, width, "All", totals);
}

static void today_table(FILE *out, const json_t *rep)
{
    char at[32];
    when(json_object_get(rep, "at"), at, sizeof at);
    fprintf(out, "People past their discharge ready date and still in "
                 "hospital, %s UTC\n",
            at);
    const json_t *t = json_object_get(rep, "totals");
    today_block(out, "responsible organisation", json_object_get(rep, "orgs"),
                t);
    today_block(out, "delay reason", json_object_get(rep, "reasons"), t);
    fputs("\nnow, yesterday, last week: people past their ready date and in "
          "hospital now, 24 hours\nand 7 days ago; bed-days and max days: "
          "days past the ready date of those now,\nsummed and longest; "
          "1-2d ... 14d+: those now by days past their ready date.\n",
          out);
}

/* ---- daily ------------------------------------------------------------- */

static void daily_table(FILE *out, const json_t *rep)
{
    const json_t *days = json_object_get(rep, "days");
    const json_t *occ = json_object_get(rep, "occupancy");
    const json_t *esc = json_object_get(rep, "escalation");
    const json_t *holds = json_object_get(rep, "holds");
    fprintf(out, "Daily figures, each day at its end (today: now)\n\n");
    fprintf(out, "%-10s %7s %8s %9s %5s %5s %9s %7s %13s\n", "day",
            "delayed", "bed-days", "occupancy", "level", "max", "confirmed",
            "expired", "confirm (h)");
    size_t k;
    json_t *day;
    json_array_foreach(days, k, day)
    {
        char share[16], hours[16];
        pct(json_array_get(json_object_get(occ, "share"), k), share,
            sizeof share);
        num(json_array_get(json_object_get(holds, "confirm_hours_median"), k),
            hours, sizeof hours);
#define AT(o, m) json_integer_value(json_array_get(json_object_get(o, m), k))
        fprintf(out,
                "%-10s %7" JSON_INTEGER_FORMAT " %8" JSON_INTEGER_FORMAT
                " %9s %5" JSON_INTEGER_FORMAT " %5" JSON_INTEGER_FORMAT
                " %9" JSON_INTEGER_FORMAT " %7" JSON_INTEGER_FORMAT
                " %13s\n",
                json_string_value(day),
                AT(json_object_get(rep, "delayed"), "total"),
                AT(json_object_get(rep, "bed_days_lost"), "total"), share,
                AT(esc, "level"), AT(esc, "max_level"),
                AT(holds, "confirmed"), AT(holds, "expired"), hours);
#undef AT
    }
    fputs("\ndelayed: past their ready date and in hospital at the day's "
          "end; bed-days: delay\ndays that fell on the day; occupancy: "
          "occupied / open beds; level, max: OPEL\nat the day's end and the "
          "highest of the day; confirmed, expired: holds that\nended so; "
          "confirm (h): median hours from hold to confirmation. Per "
          "organisation,\nreason and provider: --format csv or json.\n",
          out);
}

/* ---- providers and pathways ----------------------------------------------- */

static void provider_row(FILE *out, const json_t *p, int w)
{
    char share[16], med[16], p90[16], dec[16];
    pct(json_object_get(p, "expired_share"), share, sizeof share);
    num(json_object_get(p, "confirm_hours_median"), med, sizeof med);
    num(json_object_get(p, "confirm_hours_p90"), p90, sizeof p90);
    num(json_object_get(p, "decline_hours_median"), dec, sizeof dec);
#define I(m) json_integer_value(json_object_get(p, m))
    fprintf(out,
            "%-*s %6" JSON_INTEGER_FORMAT " %9" JSON_INTEGER_FORMAT
            " %8" JSON_INTEGER_FORMAT " %7" JSON_INTEGER_FORMAT
            " %8s %8s %8s %8s\n",
            w, json_string_value(json_object_get(p, "name")), I("holds"),
            I("confirmed"), I("declined"), I("expired"), share, med, p90, dec);
#undef I
}

static void providers_table(FILE *out, const json_t *rep)
{
    const json_t *list = json_object_get(rep, "providers");
    int w = 13;
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        int n = (int)strlen(json_string_value(json_object_get(p, "name")));
        if (n > w)
            w = n;
    }
    fprintf(out, "Providers' answers to holds\n\n");
    fprintf(out, "%-*s %6s %9s %8s %7s %8s %8s %8s %8s\n", w, "provider",
            "holds", "confirmed", "declined", "expired", "expired%",
            "conf (h)", "p90 (h)", "decl (h)");
    json_array_foreach(list, i, p) provider_row(out, p, w);
    provider_row(out, json_object_get(rep, "totals"), w);
    fputs("\nholds: ended by the provider's answer or by expiry (released "
          "by the hub: not\ncounted); conf (h), p90 (h): median and 90th "
          "percentile hours from hold to\nconfirmation; decl (h): median "
          "hours to a decline.\n",
          out);
}

static void pathways_table(FILE *out, const json_t *rep)
{
    fprintf(out, "Discharges by pathway (%" JSON_INTEGER_FORMAT " in all)\n\n",
            json_integer_value(json_object_get(rep, "discharges")));
    fprintf(out, "%-10s %10s %7s\n", "pathway", "discharges", "share");
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(rep, "pathways"), i, p)
    {
        char share[16];
        pct(json_object_get(p, "share"), share, sizeof share);
        fprintf(out, "%-10s %10" JSON_INTEGER_FORMAT " %7s\n",
                json_string_value(json_object_get(p, "pathway")),
                json_integer_value(json_object_get(p, "discharges")), share);
        if (json_object_get(p, "returning_residents"))
            fprintf(out, "  of which returning care-home residents (P3b): %"
                         JSON_INTEGER_FORMAT "\n",
                    json_integer_value(
                        json_object_get(p, "returning_residents")));
    }
    fputs("\nThe national planning assumption is about 50% P0, 45% P1, 4% "
          "P2, 1% P3\n(docs/domain.md); discharge_hub's daily summary "
          "compares with its planning_shares.\n",
          out);
}

/* ---- running ----------------------------------------------------------- */

typedef struct args {
    report_kind kind;
    format fmt;
    int by; /* -1: default */
    ct_report_period period;
} args;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int compute(ct_capacity *cap, const ct_config *cfg, const args *a,
                   json_t **rep, ct_cap_error *err)
{
    switch (a->kind) {
    case REP_CAPACITY_TRACKER:
        return ct_report_capacity_tracker_json(cap, cfg, rep, err);
    case REP_SITREP:
        return ct_report_sitrep_json(cap, cfg, &a->period, rep, err);
    case REP_DELAYS:
        return ct_report_delays_json(cap, &a->period,
                                     a->by < 0 ? CT_REPORT_BY_ORG
                                               : (ct_report_by)a->by,
                                     rep, err);
    case REP_CAPACITY:
        return ct_report_capacity_json(cap, &a->period, rep, err);
    case REP_ESCALATION:
        return ct_report_escalation_json(cap, &a->period, rep, err);
    case REP_TODAY:
        return ct_report_today_json(cap, rep, err);
    case REP_DAILY:
        return ct_report_daily_json(cap, &a->period, rep, err);
    case REP_PROVIDERS:
        return ct_report_providers_json(cap, &a->period, rep, err);
    case REP_PATHWAYS:
        return ct_report_pathways_json(cap, &a->period, rep, err);
    case REP__COUNT:
        break;
    }
    return CT_EINVAL;
}

static void print(const args *a, const json_t *rep)
{
    FILE *out = stdout;
    if (a->fmt == FMT_JSON) {
        json_dumpf(rep, out, JSON_INDENT(2));
        fputc('\n', out);
        return;
    }
    /* The national returns are tables already: CSV for people too. */
    if (a->fmt == FMT_CSV || a->kind >= REP_CAPACITY_TRACKER) {
        ct_report_csv(rep, out);
        return;
    }
    static void (*const table[REP_CAPACITY_TRACKER])(FILE *,
                                                     const json_t *) = {
        delays_table, capacity_table, escalation_table, today_table,
        daily_table,  providers_table, pathways_table};
    table[a->kind](out, rep);
}

/* Opens path read-only (never creating it), runs the report, prints it. */
static int run(const char *path, const ct_config *cfg, const args *a)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "caretide report: cannot open database %s: %s\n",
                path, strerror(errno));
        return CT_EXIT_FAIL;
    }
    ct_store_options so = {.readonly = true};
    ct_store *s = NULL;
    ct_clock *clock = NULL;
    ct_capacity *cap = NULL;
    json_t *rep = NULL;
    int status = CT_EXIT_FAIL;
    int rc = ct_store_open(path, &so, &s);
    if (rc) {
        fprintf(stderr, "caretide report: cannot open database %s: %s\n",
                path, ct_strerror(rc));
        return CT_EXIT_FAIL;
    }
    ct_capacity_options co = {.external_timers = true};
    if (cfg) {
        co.pathogens = (const char *const *)cfg->pathogens;
        co.npathogens = cfg->npathogens;
    }
    if ((rc = ct_clock_new_virtual(wall_ms(), &clock)) ||
        (rc = ct_capacity_new(s, clock, &co, &cap))) {
        fprintf(stderr, "caretide report: %s\n", ct_strerror(rc));
        goto done;
    }
    ct_cap_error err = {0};
    if ((rc = compute(cap, cfg, a, &rep, &err))) {
        fprintf(stderr, "caretide report: cannot read %s: %s\n", path,
                err.message[0] ? err.message : ct_strerror(rc));
        goto done;
    }
    /* Without a config (--db alone) the default interval applies. */
    if (a->kind == REP_CAPACITY &&
        ct_report_capacity_flag_stale(rep, cfg ? cfg->stale_after_ms : 0)) {
        fprintf(stderr, "caretide report: out of memory\n");
        goto done;
    }
    print(a, rep);
    status = fflush(stdout) == 0 ? CT_EXIT_OK : CT_EXIT_FAIL;
done:
    json_decref(rep);
    ct_capacity_free(cap);
    if (clock)
        ct_clock_close(clock, NULL, NULL);
    ct_store_close(s);
    return status;
}

/* caretide report access --referral ID: who read a referral's personal
 * data (access.read events), from the database opened read-only. */
static int access_report(const char *referral, const char *fmt,
                         const char *db, const char *config_path)
{
    char *end = NULL;
    long long id = referral ? strtoll(referral, &end, 10) : 0;
    if (!referral || !end || *end || id < 1)
        return ct_cli_usage_error(CMD, "access needs --referral ID");
    bool json = fmt && strcmp(fmt, "json") == 0;
    if (fmt && !json && strcmp(fmt, "table") != 0)
        return ct_cli_usage_error(CMD, "--format: the access report is a "
                                       "table or json");
    ct_config *cfg = NULL;
    if (!db) {
        if (ct_cli_load_config(config_path, &cfg, stderr))
            return CT_EXIT_FAIL;
        db = cfg->db_path;
    }
    ct_store_options so = {.readonly = true};
    ct_store *s = NULL;
    json_t *out = NULL;
    int rc = ct_store_open(db, &so, &s);
    if (!rc)
        rc = ct_audit_access_json(s, id, &out);
    ct_store_close(s);
    if (rc) {
        fprintf(stderr, "caretide report: %s: %s\n", db, ct_strerror(rc));
        ct_config_free(cfg);
        return CT_EXIT_FAIL;
    }
    if (json) {
        char *text = json_dumps(out, JSON_SORT_KEYS);
        if (text)
            puts(text);
        free(text);
    } else {
        printf("referral %lld: read %zu times\n", id,
               json_array_size(json_object_get(out, "reads")));
        printf("%-8s %-25s %-45s %s\n", "SEQ", "AT", "ACTOR", "ROUTE");
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(out, "reads"), i, e) {
            char when[40];
            ct_clock_format(json_integer_value(json_object_get(e, "at")),
                            when, sizeof when);
            printf("%-8" JSON_INTEGER_FORMAT " %-25s %-45s %s\n",
                   json_integer_value(json_object_get(e, "seq")), when,
                   json_string_value(json_object_get(e, "actor")),
                   json_string_value(json_object_get(e, "route")));
        }
    }
    json_decref(out);
    ct_config_free(cfg);
    return CT_EXIT_OK;
}

/* --json: --format json, as `plugin list --json`; the last of the two
 * given wins. */
static int json_format(const char *cmd, const char *value, void *to)
{
    (void)cmd;
    (void)value;
    *(const char **)to = "json";
    return -1;
}

int ct_cmd_report(int argc, char **argv)
{
    const char *from = NULL, *to = NULL, *by = NULL, *fmt = NULL, *db = NULL,
               *config_path = NULL, *log_format = NULL, *log_level = NULL,
               *referral = NULL;
    const ct_cli_opt opts[] = {
        {"from", 0, .text = &from},
        {"to", 0, .text = &to},
        {"by", 0, .text = &by},
        {"format", 0, .text = &fmt},
        {"json", 0, .parse = json_format, .to = &fmt},
        {"db", 0, .text = &db},
        {"config", 'c', .text = &config_path},
        {"referral", 0, .text = &referral},
        {NULL},
    };
    int first, stop = ct_cli_parse(CMD, argc, argv, opts, &log_format,
                                   &log_level, &first);
    if (stop >= 0)
        return stop;
    args a = {.by = -1};
    if (first < argc && strcmp(argv[first], "access") == 0)
        return access_report(referral, fmt, db, config_path);
    if (referral)
        return ct_cli_usage_error(CMD, "--referral is for the access report");
    if (first >= argc)
        return ct_cli_usage_error(CMD, "missing report: delays, capacity, "
                                       "escalation, today, daily, "
                                       "providers, pathways, "
                                       "capacity-tracker or sitrep");
    static const char *const kinds[REP__COUNT] = {
        "delays",    "capacity", "escalation",       "today", "daily",
        "providers", "pathways", "capacity-tracker", "sitrep"};
    int k = -1;
    for (int i = 0; i < REP__COUNT; i++)
        if (strcmp(argv[first], kinds[i]) == 0)
            k = i;
    if (k < 0)
        return ct_cli_usage_error(CMD, "unknown report '%s': expected "
                                       "delays, capacity, escalation, today, "
                                       "daily, providers, pathways, "
                                       "capacity-tracker or sitrep",
                                  argv[first]);
    a.kind = (report_kind)k;
    if (first + 1 < argc)
        return ct_cli_usage_error(CMD, "unexpected argument '%s'",
                                  argv[first + 1]);
    if (!fmt || strcmp(fmt, "table") == 0)
        a.fmt = FMT_TABLE;
    else if (strcmp(fmt, "csv") == 0)
        a.fmt = FMT_CSV;
    else if (strcmp(fmt, "json") == 0)
        a.fmt = FMT_JSON;
    else
        return ct_cli_usage_error(CMD, "--format: expected table, csv or "
                                       "json, got '%s'",
                                  fmt);
    if (by) {
        if (a.kind != REP_DELAYS)
            return ct_cli_usage_error(CMD, "--by applies to the delays "
                                           "report only");
        if ((a.by = ct_report_by_parse(by)) < 0)
            return ct_cli_usage_error(CMD, "--by: expected org, reason or "
                                           "pathway, got '%s'",
                                      by);
    }
    char msg[160];
    if (ct_report_period_parse(from, NULL, &a.period, msg, sizeof msg) ||
        ct_report_period_parse(from, to, &a.period, msg, sizeof msg))
        return ct_cli_usage_error(CMD, "--%s", msg);
    if (a.kind == REP_CAPACITY_TRACKER && (from || to))
        return ct_cli_usage_error(CMD, "--from and --to do not apply to the "
                                       "capacity-tracker export (beds now)");
    if (a.kind == REP_TODAY && (from || to))
        return ct_cli_usage_error(CMD, "--from and --to do not apply to the "
                                       "today report (now, a day and a week "
                                       "ago)");
    if (ct_cli_logging(CMD, log_format, log_level))
        return CT_EXIT_USAGE;

    if (db && !config_path)
        return run(db, NULL, &a);
    ct_config *cfg;
    if (ct_cli_load_config(config_path, &cfg, stderr))
        return CT_EXIT_FAIL;
    int status = run(db ? db : cfg->db_path, cfg, &a);
    ct_config_free(cfg);
    return status;
}
