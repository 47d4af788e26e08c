/*
 * Reports over the API: GET /v1/reports/delays, capacity, escalation and
 * decisions (report.h), with the query arguments of `caretide report`:
 * from and to (YYYY-MM-DD) and, for delays, by (org, reason, pathway).
 * Every role may read them: they carry no personal data beyond referral
 * ids, and transparency between partners is their point; except the
 * list of delayed people, which names people and is for the hub and
 * admins. format=csv answers text/csv instead of JSON.
 */
#include "api_int.h"

#include "audit.h"

#include "error.h"
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The period from the query, or 400 naming from or to. */
static int period_of(ct_http_req *r, ct_report_period *p)
{
    char msg[160];
    const char *from = ct_http_req_query(r, "from");
    const char *to = ct_http_req_query(r, "to");
    if (ct_report_period_parse(from, NULL, p, msg, sizeof msg))
        return ct_http_error(r, 400, "invalid", "from", "%s", msg);
    if (ct_report_period_parse(from, to, p, msg, sizeof msg))
        return ct_http_error(r, 400, "invalid", "to", "%s", msg);
    return 0;
}

/* The report as CSV (format=csv): the same writer as `caretide report
 * --format csv`. Takes the report. */
static int reply_csv(ct_http_req *r, json_t *report)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        json_decref(report);
        return CT_ENOMEM;
    }
    int rc = ct_report_csv(report, f);
    json_decref(report);
    if (fclose(f) != 0 && !rc)
        rc = CT_ENOMEM;
    if (rc) {
        free(text);
        return rc == CT_EINVAL ? ct_http_error(r, 400, "invalid", "format",
                                               "this report has no CSV "
                                               "form; ask for JSON")
                               : rc;
    }
    return ct_http_reply_buf(r, 200, "text/csv; charset=utf-8", text, len);
}

static int reply(ct_http_req *r, void *app, int rc, json_t *report,
                 const ct_cap_error *err)
{
    if (rc)
        return ct_api__cap_reply(r, rc, err, NULL);
    const char *format = ct_http_req_query(r, "format");
    if (format && strcmp(format, "csv") == 0)
        return reply_csv(r, report);
    const ct_config *cfg = ct_daemon_config(app);
    if (json_object_set_new(report, "area", json_string(cfg->area_id)) ||
        json_object_set_new(report, "area_name",
                            json_string(cfg->area_name ? cfg->area_name
                                                       : cfg->area_id))) {
        json_decref(report);
        return CT_ENOMEM;
    }
    return ct_http_reply_json(r, 200, report);
}

/* format=json (the default) or csv, else 400 naming format. */
static int format_of(ct_http_req *r)
{
    const char *f = ct_http_req_query(r, "format");
    if (!f || strcmp(f, "json") == 0 || strcmp(f, "csv") == 0)
        return 0;
    return ct_http_error(r, 400, "invalid", "format",
                         "format must be json or csv, not '%s'", f);
}

/* GET /v1/reports/delays?from=&to=&by=org|reason|pathway */
int ct_api__report_delays(ct_http_req *r, void *app)
{
    ct_report_period p;
    int by, err;
    if ((err = format_of(r)) || (err = period_of(r, &p)) ||
        (err = ct_http_query_enum(r, "by", ct_report_by_parse,
                                  "org, reason or pathway", &by)))
        return err;
    json_t *out = NULL;
    ct_cap_error cerr = {0};
    int rc = ct_report_delays_json(ct_daemon_capacity(app), &p,
                                   by < 0 ? CT_REPORT_BY_ORG
                                          : (ct_report_by)by,
                                   &out, &cerr);
    return reply(r, app, rc, out, &cerr);
}

/* A report over a period: the query's format and period, the report built,
 * the reply. stale_after_ms >= 0 flags the capacity report's stale
 * facilities. */
typedef int (*period_fn)(ct_capacity *cap, const ct_report_period *p,
                         json_t **out, ct_cap_error *err);

static int period_report(ct_http_req *r, void *app, period_fn fn,
                         int64_t stale_after_ms)
{
    ct_report_period p;
    int err;
    if ((err = format_of(r)) || (err = period_of(r, &p)))
        return err;
    json_t *out = NULL;
    ct_cap_error cerr = {0};
    int rc = fn(ct_daemon_capacity(app), &p, &out, &cerr);
    if (rc == 0 && stale_after_ms >= 0 &&
        ct_report_capacity_flag_stale(out, stale_after_ms)) {
        json_decref(out);
        return CT_ENOMEM;
    }
    return reply(r, app, rc, out, &cerr);
}

/* GET /v1/reports/capacity?from=&to= */
int ct_api__report_capacity(ct_http_req *r, void *app)
{
    return period_report(r, app, ct_report_capacity_json,
                         ct_daemon_config(app)->stale_after_ms);
}

/* GET /v1/reports/escalation?from=&to= */
int ct_api__report_escalation(ct_http_req *r, void *app)
{
    return period_report(r, app, ct_report_escalation_json, -1);
}

/* GET /v1/reports/decisions?limit=N (1..100, default 10): the newest. */
int ct_api__report_decisions(ct_http_req *r, void *app)
{
    int64_t limit;
    int err = ct_http_query_int(r, "limit", 1, 100, 10, &limit);
    if (err)
        return err;
    json_t *out = NULL;
    ct_cap_error cerr = {0};
    int rc = ct_report_decisions_json(ct_daemon_capacity(app), (int)limit,
                                      &out, &cerr);
    size_t i;
    json_t *d, *ids = json_array();
    json_array_foreach(json_object_get(out, "decisions"), i, d) {
        json_array_append(ids, json_object_get(d, "referral"));
        ct_api__redact_decision(r, json_object_get(d, "decision"));
    }
    if (!rc && (err = ct_api__audit_read(r, app, "referrals", ids))) {
        json_decref(out);
        return err;
    }
    if (rc)
        json_decref(ids);
    return reply(r, app, rc, out, &cerr);
}

/* GET /v1/reports/today: past their ready date now, a day and a week ago. */
int ct_api__report_today(ct_http_req *r, void *app)
{
    int err;
    if ((err = format_of(r)))
        return err;
    json_t *out = NULL;
    ct_cap_error cerr = {0};
    int rc = ct_report_today_json(ct_daemon_capacity(app), &out, &cerr);
    return reply(r, app, rc, out, &cerr);
}

/* GET /v1/reports/daily?from=&to=: the daily series. */
int ct_api__report_daily(ct_http_req *r, void *app)
{
    return period_report(r, app, ct_report_daily_json, -1);
}

/* GET /v1/reports/providers?from=&to=: providers' answers to holds. */
int ct_api__report_providers(ct_http_req *r, void *app)
{
    return period_report(r, app, ct_report_providers_json, -1);
}

/* GET /v1/reports/pathways?from=&to=: discharges by pathway. */
int ct_api__report_pathways(ct_http_req *r, void *app)
{
    return period_report(r, app, ct_report_pathways_json, -1);
}

/* GET /v1/reports/delayed-people: named people, for the hub only (the
 * route table keeps viewers, partners and displays out). */
int ct_api__report_people(ct_http_req *r, void *app)
{
    int err;
    if ((err = format_of(r)))
        return err;
    json_t *out = NULL;
    ct_cap_error cerr = {0};
    int rc = ct_report_people_json(ct_daemon_capacity(app), &out, &cerr);
    if (!rc) {
        /* The report names people: each one read is recorded. */
        json_t *ids = json_array(), *p;
        size_t i;
        json_array_foreach(json_object_get(out, "people"), i, p)
            json_array_append(ids, json_object_get(p, "referral"));
        if ((err = ct_api__audit_read(r, app, "referrals", ids))) {
            json_decref(out);
            return err;
        }
    }
    return reply(r, app, rc, out, &cerr);
}

/* GET /v1/reports/access?referral=ID: who read the referral's personal
 * data, when and through which route (access.read events). */
int ct_api__report_access(ct_http_req *r, void *app)
{
    int64_t id;
    int err = ct_http_query_int(r, "referral", 1, INT64_MAX, 0, &id);
    if (err)
        return err;
    if (id == 0)
        return ct_http_error(r, 400, "missing", "referral",
                             "'referral' is required");
    json_t *out = NULL;
    if ((err = ct_audit_access_json(ct_daemon_store(app), id, &out)))
        return err;
    return ct_http_reply_json(r, 200, out);
}
