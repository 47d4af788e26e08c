/*
 * Capacity and beds: GET /v1/capacity, GET /v1/beds, PATCH /v1/beds/{id}.
 */
#include "api_int.h"

#include "capacity_view.h"
#include "audit.h"
#include "error.h"
#include "isolation.h"
#include "json_canon.h"
#include "log.h"
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

/* GET /v1/capacity is answered from the daemon's reply cache while no
 * change has committed since and for at most this long (its clock-based
 * figures, "at" and ages of waits, may lag by as much). */
#define CAPACITY_CACHE_SLOT 0
#define CAPACITY_MAX_AGE_MS 1000

#define MAX_TAGS 16

/* The body of GET /v1/capacity: the capacity view (facilities, zones,
 * area totals) with the area's metrics (ct_metrics_json, less by_zone),
 * from the counts of k (NULL: the area index's, on the loop). */
static int capacity_body(ct_capacity *cap, const ct_cap_counts *k,
                         const char *area_id, const char *area_name,
                         char **text, size_t *len, ct_cap_error *err)
{
    json_t *view = NULL, *metrics = NULL;
    int rc = k ? ct_capacity_view_json_from(cap, k, &view, err)
               : ct_capacity_view_json(cap, &view, err);
    if (rc == 0)
        rc = k ? ct_metrics_json_from(cap, k, &metrics, err)
               : ct_metrics_json(cap, &metrics, err);
    if (rc) {
        json_decref(view);
        return rc;
    }
    /* Zones are in the view already, with more about each. */
    json_object_del(metrics, "by_zone");
    if (json_object_set_new(view, "area", json_string(area_id)) ||
        json_object_set_new(view, "area_name", json_string(area_name)) ||
        json_object_set_new(view, "metrics", metrics)) {
        json_decref(view);
        return CT_ENOMEM;
    }
    *text = json_dumps(view, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(view);
    if (!*text)
        return CT_ENOMEM;
    *len = strlen(*text);
    return 0;
}

/* The same body with the view written straight into text
 * (ct_capacity_view_text_from): the same bytes, without building the
 * json_t of 31,000 zones at England scale. */
static int capacity_text(ct_capacity *cap, const ct_cap_counts *k,
                         const char *area_id, const char *area_name,
                         char **text, size_t *len, ct_cap_error *err)
{
    ct_buf b = {0};
    json_t *metrics = NULL;
    char *mtext = NULL;
    int rc = ct_capacity_view_text_from(cap, k, &b, err);
    if (rc == 0)
        rc = ct_metrics_json_from(cap, k, &metrics, err);
    if (rc == 0) {
        /* Zones are in the view already, with more about each. */
        json_object_del(metrics, "by_zone");
        mtext = json_dumps(metrics, JSON_COMPACT | JSON_ENSURE_ASCII);
        b.len--; /* the view's closing brace: three members follow */
        if (!mtext || ct_buf_puts(&b, ",\"area\":") ||
            ct_json_canon_string(&b, area_id, strlen(area_id)) ||
            ct_buf_puts(&b, ",\"area_name\":") ||
            ct_json_canon_string(&b, area_name, strlen(area_name)) ||
            ct_buf_puts(&b, ",\"metrics\":") || ct_buf_puts(&b, mtext) ||
            ct_buf_puts(&b, "}"))
            rc = CT_ENOMEM;
    }
    json_decref(metrics);
    free(mtext);
    if (rc) {
        ct_buf_free(&b);
        return rc;
    }
    *text = b.data;
    *len = b.len;
    return 0;
}

/* ct_daemon_render_fn: the body on a thread of the pool. */
static int build_capacity(ct_capacity *reader, const ct_daemon_render_ctx *ctx,
                          void *arg, char **body, size_t *len)
{
    (void)arg;
    ct_cap_error err = {0};
    /* No counts: a write was waiting for plugin code; counted with SQL
     * on the reader's snapshot, the same figures as the index's. */
    int rc = ctx->counts ? capacity_text(reader, ctx->counts, ctx->area_id,
                                         ctx->area_name, body, len, &err)
                         : capacity_body(reader, NULL, ctx->area_id,
                                         ctx->area_name, body, len, &err);
    if (rc && err.message[0])
        ct_log_error("api", "GET /v1/capacity: %s", err.message);
    return rc;
}

/* GET /v1/capacity: every role. Built off the loop (ct_daemon_render) so
 * that an England-sized body never holds writes back; on the loop only
 * for an in-memory database. */
int ct_api__capacity(ct_http_req *r, void *app)
{
    ct_daemon *d = app;
    char *text;
    size_t len;
    if (ct_daemon_cache_get(d, CAPACITY_CACHE_SLOT, CAPACITY_MAX_AGE_MS,
                            &text, &len) == 0)
        return ct_http_reply_buf(r, 200, "application/json", text, len);
    int rc = ct_daemon_render(d, CAPACITY_CACHE_SLOT, r, build_capacity,
                              NULL);
    if (rc != CT_EUNSUPPORTED)
        return rc;
    ct_cap_error err = {0};
    const ct_config *cfg = ct_daemon_config(d);
    rc = capacity_body(ct_daemon_capacity(d), NULL, cfg->area_id,
                       cfg->area_name ? cfg->area_name : cfg->area_id, &text,
                       &len, &err);
    if (rc)
        return rc == CT_ENOMEM ? CT_ENOMEM
                               : ct_api__cap_reply(r, rc, &err, NULL);
    ct_daemon_cache_put(d, CAPACITY_CACHE_SLOT, text, len);
    return ct_http_reply_buf(r, 200, "application/json", text, len);
}

static int split_tags(ct_http_req *r, const char *s, char *buf, size_t size,
                      const char **tags, size_t *ntags)
{
    *ntags = 0;
    if (strlen(s) >= size)
        return ct_http_error(r, 400, "invalid", "tag", "'tag' is too long");
    strcpy(buf, s);
    for (char *p = buf, *next; p; p = next) {
        next = strchr(p, ',');
        if (next)
            *next++ = '\0';
        if (!*p)
            return ct_http_error(r, 400, "invalid", "tag",
                                 "'tag' lists tags separated by commas, "
                                 "none of them empty");
        if (*ntags == MAX_TAGS)
            return ct_http_error(r, 400, "invalid", "tag",
                                 "'tag' lists at most %d tags", MAX_TAGS);
        tags[(*ntags)++] = p;
    }
    return 0;
}

/* GET /v1/beds?facility=&zone=&status=&tag=a,b&after=&limit=: every role.
 * {beds: [...], next: bed id to pass as after, or null at the end}. */
int ct_api__beds(ct_http_req *r, void *app)
{
    ct_daemon *d = app;
    ct_bed_filter f = {.status = -1};
    int64_t limit;
    int err;
    if ((err = ct_http_query_enum(r, "status", ct_bed_status_parse,
                                  "available, held, occupied or blocked",
                                  &f.status)) ||
        (err = ct_http_query_int(r, "limit", 1, CT_VIEW_MAX_BEDS, 1000,
                                 &limit)))
        return err;
    f.limit = (int)limit;
    f.facility_id = ct_http_req_query(r, "facility");
    f.zone_id = ct_http_req_query(r, "zone");
    f.after = ct_http_req_query(r, "after");
    const char *tag = ct_http_req_query(r, "tag");
    const char *tags[MAX_TAGS];
    char buf[1024];
    if (tag && (err = split_tags(r, tag, buf, sizeof buf, tags, &f.ntags)))
        return err;
    f.tags = tags;
    ct_cap_error cerr = {0};
    json_t *beds;
    int rc = ct_capacity_view_beds_json(ct_daemon_capacity(d), &f, &beds,
                                        &cerr);
    if (rc == CT_ENOTFOUND) /* an unknown facility or zone in the query */
        return ct_http_error(r, 404, "not_found",
                             strstr(cerr.message, "zone") == cerr.message
                                 ? "zone"
                                 : "facility",
                             "%s", cerr.message);
    if (rc)
        return ct_api__cap_reply(r, rc, &cerr, NULL);
    return ct_api__page_reply(r, "beds", beds, f.limit, "id");
}

json_t *ct_api__bed_json(ct_capacity *cap, const char *id)
{
    ct_bed_filter f = {.bed_id = id, .status = -1, .limit = 1};
    ct_cap_error err = {0};
    json_t *list = NULL;
    if (ct_capacity_view_beds_json(cap, &f, &list, &err))
        return NULL;
    json_t *bed = json_incref(json_array_get(list, 0));
    json_decref(list);
    return bed;
}

/*
 * PATCH /v1/beds/{id} {"status": "blocked", "reason": "..."} or
 * {"status": "available"}: hub ALL, provider OWN (beds of its facilities).
 * 200 with the bed; 409 naming the state when the bed cannot change so.
 */
int ct_api__bed_patch(ct_http_req *r, void *app)
{
    static const char *const keys[] = {"status", "reason", NULL};
    ct_daemon *d = app;
    ct_capacity *cap = ct_daemon_capacity(d);
    const char *id = ct_http_req_param(r, "id");
    const char *status = NULL, *reason = NULL;
    int err;
    if ((err = ct_http_field_only(r, NULL, keys)) ||
        (err = ct_http_field_string(r, "status", true, 32, &status)) ||
        (err = ct_http_field_string(r, "reason", false, 500, &reason)))
        return err;
    bool block = strcmp(status, "blocked") == 0;
    if (!block && strcmp(status, "available") != 0)
        return ct_http_error(r, 400, "invalid", "status",
                             "'status' must be blocked or available");
    if (block && !reason)
        return ct_http_error(r, 400, "missing", "reason",
                             "'reason' is required to block a bed");
    if (block && !*reason)
        return ct_http_error(r, 400, "invalid", "reason",
                             "'reason' must not be empty");
    if (!block && reason)
        return ct_http_error(r, 400, "invalid", "reason",
                             "'reason' applies only to status blocked");
    char org[CT_CAP_ID_MAX];
    ct_cap_error cerr = {0};
    int rc = ct_capacity_view_bed_org(cap, id, org, &cerr);
    if (rc)
        return ct_api__cap_reply(r, rc, &cerr, NULL);
    char what[CT_CAP_ID_MAX + 8];
    snprintf(what, sizeof what, "bed %s", id);
    if ((err = ct_http_req_owns_known(r, what, org)))
        return err;
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    rc = block ? ct_capacity_block(cap, id, reason, actor, &cerr)
               : ct_capacity_unblock(cap, id, actor, &cerr);
    if (rc)
        return ct_api__cap_reply(r, rc, &cerr, NULL);
    json_t *bed = ct_api__bed_json(cap, id);
    return bed ? ct_http_reply_json(r, 200, json_pack("{s:o}", "bed", bed))
               : CT_ENOMEM;
}

/*
 * PATCH /v1/zones/{id} {"closed": true|false, "cohort": {"flu":
 * "positive", ...}, "reason": "..."}: an outbreak declared or over, and
 * the zone's cohorts, by the hub or the provider running the zone (OWN).
 * The reason is required and kept in the audit ("zone.changed", beside the
 * host's own zone.cohort_set, zone.closed, zone.opened). Cohorts change
 * first, then the closure; all or nothing. 200 with what changed; 409 when
 * a cohort would put someone held or placed there in breach, or the zone
 * already is as asked.
 */
int ct_api__zone_patch(ct_http_req *r, void *app)
{
    static const char *const keys[] = {"closed", "cohort", "reason", NULL};
    ct_daemon *d = app;
    ct_capacity *cap = ct_daemon_capacity(d);
    const char *id = ct_http_req_param(r, "id");
    const char *reason = NULL;
    bool closed = false, has_closed = false;
    json_t *cohort = NULL;
    int err;
    if ((err = ct_http_field_only(r, NULL, keys)) ||
        (err = ct_http_field_bool(r, "closed", false, &closed,
                                  &has_closed)) ||
        (err = ct_http_field_json(r, "cohort", false, JSON_OBJECT,
                                  &cohort)) ||
        (err = ct_http_field_string(r, "reason", true, 199, &reason)))
        return err;
    if (!*reason)
        return ct_http_error(r, 400, "invalid", "reason",
                             "'reason' must not be empty");
    if (!has_closed && json_object_size(cohort) == 0)
        return ct_http_error(r, 400, "missing", "closed",
                             "give 'closed' or 'cohort' (or both)");
    const char *pathogen;
    json_t *v;
    json_object_foreach(cohort, pathogen, v)
    {
        if (!json_is_string(v) || ct_cohort_parse(json_string_value(v)) < 0) {
            char field[128];
            snprintf(field, sizeof field, "cohort.%.100s", pathogen);
            return ct_http_error(r, 400, "invalid", field,
                                 "'%s' must be one of %s", field,
                                 ct_cohort_list());
        }
    }
    char org[CT_CAP_ID_MAX];
    ct_cap_error cerr = {0};
    int rc = ct_capacity_view_zone_org(cap, id, org, &cerr);
    if (rc)
        return ct_api__cap_reply(r, rc, &cerr, NULL);
    if ((err = ct_http_req_owns(r, org)))
        return err;
    char actor[CT_API__ACTOR_MAX];
    ct_api__actor(r, actor);
    json_object_foreach(cohort, pathogen, v)
    {
        rc = ct_isolation_set_cohort(
            cap, id, pathogen,
            (ct_cohort)ct_cohort_parse(json_string_value(v)), actor, &cerr);
        if (rc)
            return ct_api__cap_reply(r, rc, &cerr, "cohort");
    }
    int released = 0;
    if (has_closed) {
        rc = closed ? ct_isolation_close_zone(cap, id, reason, actor,
                                              &released, &cerr)
                    : ct_isolation_open_zone(cap, id, actor, &cerr);
        if (rc)
            return ct_api__cap_reply(r, rc, &cerr, "closed");
    }
    json_t *out = json_pack("{s:s, s:s, s:i}", "zone", id, "reason", reason,
                            "holds_released", released);
    if (!out)
        return CT_ENOMEM;
    if (has_closed)
        json_object_set_new(out, "closed", json_boolean(closed));
    if (cohort)
        json_object_set(out, "cohort", cohort);
    /* Audited with the change (the bus, QUIET: the zone's own events are
     * what subscribers hear). */
    rc = ct_events_record(ct_capacity_events(cap), actor, "zone.changed",
                          json_incref(out), CT_EVENT_QUIET, NULL, NULL);
    if (rc) {
        json_decref(out);
        return rc;
    }
    return ct_http_reply_json(r, 200, out);
}
