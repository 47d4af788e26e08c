/*
 * Outbound notifications (notify.h): the outbox written with each change,
 * the timer that sends what is due, and the record of every attempt.
 *
 * Writing: the event bus's hook (events.h) hears the referral changes
 * inside their transaction; for a referral whose organisation has a
 * webhook it builds the payload there (the Task, or the referral as
 * JSON, as the change left it) and inserts the row, so the row is
 * committed or rolled back with the change.
 *
 * Sending: only committed rows are read: a scan never runs while the
 * group commit has a transaction open (it is deferred to after the
 * commit), so no notification goes out for a change that could still be
 * rolled back. Rows due are started on the sender (notify_send.c), at
 * most MAX_FLYING at once; each outcome is recorded as a write of the
 * group commit (the attempt row, and the notification delivered, failed
 * or due again after a backoff), after which the scan runs again. A row
 * whose attempt was in flight when the process died is still pending
 * and is sent again after the restart (at least once).
 */
#include "notify.h"

#include "error.h"
#include "events.h"
#include "fhir.h"
#include "log.h"
#include "notify_int.h"
#include "pipeline.h"
#include "referral.h"
#include "referral_place.h"
#include "store_int.h"
#include "util.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT "notify"
#define MAX_FLYING 8
/* After a failed scan or record, the next try. */
#define RETRY_MS 1000

/* The referral changes a referrer hears of: the audit kind and the
 * notification's event name. */
static const struct {
    const char *kind, *event;
} changes[] = {
    {"hold.created", "held"},           {"hold.confirmed", "placed"},
    {"hold.declined", "declined"},      {"hold.expired", "expired"},
    {"referral.discharged", "discharged"},
    {"referral.completed", "completed"}, {"referral.cancelled", "cancelled"},
};
static const char *const hooked_kinds[] = {
    "hold.created",        "hold.confirmed",     "hold.declined",
    "hold.expired",        "referral.discharged", "referral.completed",
    "referral.cancelled",  NULL};

typedef struct notify notify;

/* One attempt of one row, from its start to its record. */
typedef struct job {
    notify *u;
    int64_t id, seq, referral;
    int64_t n;       /* this attempt's number */
    int64_t started; /* host clock */
    int64_t ended;
    char org[CT_CAP_ID_MAX];
    char event[24];
    char *url, *body;
    ct_notify__request req;
    ct_commit_req write;
    bool flying;  /* on the sender */
    bool give_up; /* cannot be sent at all: failed at once */
    struct job *next;
} job;

struct notify {
    ct_daemon *d;
    ct_notify__sender *sender;
    ct_timer timer; /* the next scan */
    ct_commit_req scan_req;
    bool scan_deferred;
    bool enqueued; /* a row was written since the last scan */
    bool any_webhook;
    bool stopping;
    job *jobs; /* started and not yet recorded */
    int njobs;
    int64_t retry_at;
    ct_prom_family *m_attempts, *m_rows;
};

static void scan(notify *u);

/* ---- writing: the hook inside the change's transaction ------------------ */

static const char *event_of(const char *kind)
{
    for (size_t i = 0; i < CT_ARRAY_LEN(changes); i++)
        if (strcmp(changes[i].kind, kind) == 0)
            return changes[i].event;
    return NULL;
}

/* The payload for w: the Task, or the event as caretide's JSON. */
static json_t *payload(notify *u, const ct_config *cfg,
                       const ct_config_notify *w, json_t *ref,
                       const ct_event *ev, const char *event, int64_t id)
{
    ct_capacity *cap = ct_daemon_capacity(u->d);
    json_t *decision = NULL;
    ct_cap_error e = {0};
    if (ct_pipeline_stored_decision(cap, id, &decision, &e))
        decision = json_null();
    json_t *out;
    if (w->format == CT_NOTIFY_FHIR) {
        char fac[CT_CAP_ID_MAX], org[CT_CAP_ID_MAX];
        ct_referral_place(cap, ref, fac, org, sizeof fac);
        ct_fhir_place place = {fac, org};
        out = ct_fhir_task(ref, decision, &place, cfg);
        json_decref(decision);
    } else {
        char key[160];
        snprintf(key, sizeof key, "%s:%" PRId64, cfg->area_id, ev->seq);
        out = json_pack("{s:s, s:s, s:s, s:I, s:I, s:O, s:o}", "id", key,
                        "area", cfg->area_id, "event", event, "seq",
                        (json_int_t)ev->seq, "at", (json_int_t)ev->at,
                        "referral", ref, "decision", decision);
    }
    return out;
}

static int insert_row(ct_store *s, const ct_event *ev, int64_t referral,
                      const char *org, const char *event, const char *state,
                      const char *body)
{
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_NOTIFY_INSERT);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, ev->seq);
    sqlite3_bind_int64(st, 2, referral);
    sqlite3_bind_text(st, 3, org, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, event, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, ev->at);
    return ct_store__step_done(s, st);
}

/* The bus's hook: a row for the referrer's webhook, in the change's
 * transaction. An error fails the change (nothing is said of a change
 * that could not be recorded for sending). */
static int on_change(const ct_event *ev, void *data)
{
    notify *u = data;
    if (!u->any_webhook)
        return 0;
    const char *event = event_of(ev->kind);
    json_int_t id = json_integer_value(json_object_get(ev->payload,
                                                       "referral"));
    if (!event || id <= 0)
        return 0;
    ct_capacity *cap = ct_daemon_capacity(u->d);
    const ct_config *cfg = ct_daemon_config(u->d);
    json_t *ref = NULL;
    ct_cap_error e = {0};
    int rc = ct_referral_get_json(cap, id, &ref, &e);
    if (rc)
        return rc;
    const char *from = json_string_value(json_object_get(ref, "from_org"));
    const ct_config_org *o = from ? ct_config_find_org(cfg, from) : NULL;
    if (!o || !o->notify) {
        json_decref(ref);
        return 0;
    }
    char state[32];
    snprintf(state, sizeof state, "%s",
             json_string_value(json_object_get(ref, "state"))
                 ? json_string_value(json_object_get(ref, "state"))
                 : "");
    json_t *p = payload(u, cfg, o->notify, ref, ev, event, id);
    json_decref(ref);
    char *body = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!body)
        return CT_ENOMEM;
    rc = insert_row(ct_daemon_store(u->d), ev, id, o->id, event, state, body);
    free(body);
    if (rc == 0)
        u->enqueued = true;
    return rc;
}

static bool any_webhook(const ct_config *cfg)
{
    for (size_t i = 0; i < cfg->norgs; i++)
        if (cfg->orgs[i].notify)
            return true;
    return false;
}

/* ---- sending ------------------------------------------------------------- */

static void job_free(job *j)
{
    curl_slist_free_all(j->req.headers);
    free(j->url);
    free(j->body);
    free(j);
}

static void job_unlink(notify *u, job *j)
{
    for (job **p = &u->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            u->njobs--;
            return;
        }
}

static bool job_known(const notify *u, int64_t id)
{
    for (const job *j = u->jobs; j; j = j->next)
        if (j->id == id)
            return true;
    return false;
}

/* The wait before attempt n+1 after n failed: backoff doubled each time,
 * at most max_backoff, the second half drawn at random (jitter), so that
 * receivers coming back are not hit by every sender at once. */
static int64_t backoff_ms(const ct_config_notifications *c, int64_t n)
{
    int64_t d = c->backoff_ms;
    for (int64_t i = 1; i < n && d < c->max_backoff_ms; i++)
        d *= 2;
    if (d > c->max_backoff_ms)
        d = c->max_backoff_ms;
    int64_t half = d / 2;
    return half + (half > 0 ? (int64_t)randombytes_uniform(
                                  (uint32_t)(half > UINT32_MAX ? UINT32_MAX
                                                               : half + 1))
                            : 0);
}

/* Whether an answer refuses the request itself, so that sending the same
 * bytes again cannot succeed: malformed (400), gone for good (410), too
 * large (413), a type it will never take (415), or content it will not
 * process (422). Other refusals (401, 403, 404: a receiver's set-up that
 * its owner can mend; 408, 429: come back later) are retried. */
static bool refused_for_good(long status)
{
    return status == 400 || status == 410 || status == 413 ||
           status == 415 || status == 422;
}

/* The outcome of j: delivered, retry or failed. */
static const char *outcome_of(const job *j, const ct_config_notifications *c)
{
    if (j->req.http_status >= 200 && j->req.http_status < 300)
        return "delivered";
    return j->give_up || refused_for_good(j->req.http_status) ||
                   j->n >= (int64_t)c->max_attempts
               ? "failed"
               : "retry";
}

/* The wait before the next attempt of j: the backoff, or the receiver's
 * Retry-After when that is longer, never beyond max_backoff. */
static int64_t next_wait_ms(const job *j, const ct_config_notifications *c)
{
    int64_t d = backoff_ms(c, j->n);
    int64_t asked = j->req.retry_after_s;
    if (asked > 0) {
        asked = asked > c->max_backoff_ms / 1000 ? c->max_backoff_ms
                                                  : asked * 1000;
        if (asked > d)
            d = asked;
    }
    return d;
}

static int record_write(ct_store *s, void *arg)
{
    job *j = arg;
    const ct_config_notifications *c =
        &ct_daemon_config(j->u->d)->notifications;
    const char *outcome = outcome_of(j, c);
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_NOTIFY_ATTEMPT);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, j->id);
    sqlite3_bind_int64(st, 2, j->n);
    sqlite3_bind_int64(st, 3, j->started);
    sqlite3_bind_int64(st, 4, j->ended - j->started);
    if (j->req.http_status)
        sqlite3_bind_int64(st, 5, j->req.http_status);
    if (j->req.error[0])
        sqlite3_bind_text(st, 6, j->req.error, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, outcome, -1, SQLITE_STATIC);
    int rc = ct_store__step_done(s, st);
    if (rc)
        return rc;
    if (!(st = ct_store__stmt(s, CT_STMT_NOTIFY_SET)))
        return CT_ESTORE;
    bool retry = strcmp(outcome, "retry") == 0;
    sqlite3_bind_int64(st, 1, j->id);
    sqlite3_bind_text(st, 2, retry ? "pending" : outcome, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, j->n);
    sqlite3_bind_int64(st, 4, retry ? j->ended + next_wait_ms(j, c)
                                    : j->ended);
    if (!retry)
        sqlite3_bind_int64(st, 5, j->ended);
    return ct_store__step_done(s, st);
}

static void schedule_scan(notify *u, int64_t at);

static void record_done(ct_commit_req *r, int status)
{
    job *j = r->data;
    notify *u = j->u;
    int err = status ? status : r->result;
    const ct_config_notifications *c =
        &ct_daemon_config(u->d)->notifications;
    const char *outcome = outcome_of(j, c);
    if (err) {
        /* Still pending as before: sent again at the next scan. */
        ct_log_error(UNIT, "notification %" PRId64 ": attempt %" PRId64
                           " not recorded (%s)",
                     j->id, j->n, ct_strerror(err));
        u->retry_at = ct_clock_now(ct_daemon_clock(u->d)) + RETRY_MS;
    } else {
        ct_prom_add(u->m_attempts, (const char *[]){outcome}, 1);
        if (strcmp(outcome, "delivered") == 0)
            ct_log_info(UNIT, "notification %" PRId64 " (%s, referral %" PRId64
                              ") delivered to %s: HTTP %ld",
                        j->id, j->event, j->referral, j->org,
                        j->req.http_status);
        else if (j->req.http_status)
            ct_log_warn(UNIT, "notification %" PRId64 " to %s, attempt %" PRId64
                              ": HTTP %ld%s",
                        j->id, j->org, j->n, j->req.http_status,
                        strcmp(outcome, "retry") == 0
                            ? "; will retry"
                        : refused_for_good(j->req.http_status)
                            ? "; refused by the receiver, not retried"
                            : "; given up");
        else
            ct_log_warn(UNIT, "notification %" PRId64 " to %s, attempt %" PRId64
                              ": %s%s",
                        j->id, j->org, j->n, j->req.error,
                        strcmp(outcome, "failed") == 0
                            ? "; given up"
                            : "; will retry");
    }
    job_unlink(u, j);
    job_free(j);
    if (!u->stopping)
        schedule_scan(u, ct_clock_now(ct_daemon_clock(u->d)));
}

/* The attempt has ended (sender's callback, or at once for a row that
 * cannot be sent): record it in the next group. */
static void attempt_ended(notify *u, job *j)
{
    j->flying = false;
    j->ended = ct_clock_now(ct_daemon_clock(u->d));
    j->write.data = j;
    int err = ct_commit_write(ct_daemon_commit(u->d), &j->write,
                              record_write, j, record_done);
    if (err) {
        j->write.result = 0;
        record_done(&j->write, err);
    }
}

static void on_sent(ct_notify__request *r, void *data)
{
    notify *u = data;
    job *j = r->data;
    if (u->stopping) {
        job_unlink(u, j);
        job_free(j);
        return;
    }
    attempt_ended(u, j);
}

/* "URL/Task/ID" for the FHIR rest-hook (the URL is the receiver's base),
 * the URL itself for JSON. */
static char *target(const ct_config_notify *w, int64_t referral)
{
    size_t n = strlen(w->url) + 40;
    char *out = malloc(n);
    if (!out)
        return NULL;
    if (w->format == CT_NOTIFY_FHIR) {
        size_t l = strlen(w->url);
        snprintf(out, n, "%s%sTask/%" PRId64, w->url,
                 l && w->url[l - 1] == '/' ? "" : "/", referral);
    } else {
        snprintf(out, n, "%s", w->url);
    }
    return out;
}

static struct curl_slist *add_header(struct curl_slist *l, bool *ok,
                                     const char *name, const char *value)
{
    char line[600];
    snprintf(line, sizeof line, "%s:%s%s", name, *value ? " " : "", value);
    struct curl_slist *n = curl_slist_append(l, line);
    if (!n) {
        *ok = false;
        return l;
    }
    return n;
}

/* The request's headers: type, idempotency key, event, attempt and the
 * webhook's authentication. */
static struct curl_slist *headers(notify *u, const job *j,
                                  const ct_config_notify *w)
{
    const ct_config *cfg = ct_daemon_config(u->d);
    bool ok = true;
    struct curl_slist *l = NULL;
    char key[160], num[32];
    snprintf(key, sizeof key, "%s:%" PRId64, cfg->area_id, j->seq);
    snprintf(num, sizeof num, "%" PRId64, j->n);
    l = add_header(l, &ok, "Content-Type",
                   w->format == CT_NOTIFY_FHIR ? CT_FHIR_CONTENT_TYPE
                                               : "application/json");
    l = add_header(l, &ok, "Idempotency-Key", key);
    l = add_header(l, &ok, "X-Caretide-Event", j->event);
    l = add_header(l, &ok, "X-Caretide-Attempt", num);
    l = add_header(l, &ok, "Expect", ""); /* no 100-continue round trip */
    if (w->auth == CT_NOTIFY_AUTH_BEARER) {
        char bearer[400];
        snprintf(bearer, sizeof bearer, "Bearer %s", w->secret);
        l = add_header(l, &ok, "Authorization", bearer);
        sodium_memzero(bearer, sizeof bearer);
    } else if (w->auth == CT_NOTIFY_AUTH_HMAC) {
        char sig[128];
        ct_notify__sign(w->secret, j->started / 1000, j->body, sig,
                        sizeof sig);
        l = add_header(l, &ok, "X-Caretide-Signature", sig);
    }
    if (!ok) {
        curl_slist_free_all(l);
        return NULL;
    }
    return l;
}

/* A due row as read by the scan. */
typedef struct due_row {
    int64_t id, seq, referral, attempts;
    char org[CT_CAP_ID_MAX];
    char event[24];
    char *body; /* owned */
} due_row;

/* Starts one due row; takes its body. */
static void start(notify *u, due_row *row)
{
    const ct_config *cfg = ct_daemon_config(u->d);
    job *j = calloc(1, sizeof *j);
    if (!j) {
        free(row->body);
        return;
    }
    j->u = u;
    j->id = row->id;
    j->seq = row->seq;
    j->referral = row->referral;
    memcpy(j->org, row->org, sizeof j->org);
    memcpy(j->event, row->event, sizeof j->event);
    j->body = row->body;
    j->n = row->attempts + 1;
    j->started = ct_clock_now(ct_daemon_clock(u->d));
    j->req.data = j;
    j->next = u->jobs;
    u->jobs = j;
    u->njobs++;
    const ct_config_org *o = ct_config_find_org(cfg, j->org);
    const ct_config_notify *w = o ? o->notify : NULL;
    if (!j->body) {
        snprintf(j->req.error, sizeof j->req.error, "out of memory");
    } else if (!w) {
        /* The webhook was removed from the config since: nowhere to
         * send, so the row fails at once (the attempt goes on record). */
        snprintf(j->req.error, sizeof j->req.error,
                 "organisation %s has no notify: webhook in the config",
                 j->org);
        j->give_up = true;
    } else if (!(j->url = target(w, j->referral)) ||
               !(j->req.headers = headers(u, j, w))) {
        snprintf(j->req.error, sizeof j->req.error, "out of memory");
    } else {
        j->req.method = w->format == CT_NOTIFY_FHIR ? "PUT" : "POST";
        j->req.url = j->url;
        j->req.body = j->body;
        j->req.timeout_ms = (long)cfg->notifications.timeout_ms;
        int err = ct_notify__send(u->sender, &j->req);
        if (!err) {
            j->flying = true;
            return;
        }
        snprintf(j->req.error, sizeof j->req.error, "not sent: %s",
                 ct_strerror(err));
    }
    attempt_ended(u, j);
}

static void on_timer(ct_timer *t, void *data)
{
    (void)t;
    scan(data);
}

static void schedule_scan(notify *u, int64_t at)
{
    if (u->stopping)
        return;
    if (at < u->retry_at)
        at = u->retry_at;
    if (ct_timer_active(&u->timer) && u->timer.due <= at)
        return;
    ct_timer_start(&u->timer, at, on_timer, u);
}

static void scan_deferred(ct_commit_req *r, int status)
{
    (void)status;
    notify *u = r->data;
    u->scan_deferred = false;
    scan(u);
}

/* Starts what is due (committed rows only) and sets the timer for the
 * next. */
static void scan(notify *u)
{
    if (u->stopping || u->scan_deferred)
        return;
    ct_commit *c = ct_daemon_commit(u->d);
    if (ct_commit_pending(c)) {
        /* An open group may hold rows it will roll back. */
        u->scan_req.data = u;
        if (ct_commit_defer(c, &u->scan_req, scan_deferred) == 0) {
            u->scan_deferred = true;
            return;
        }
    }
    u->enqueued = false;
    ct_store *s = ct_daemon_store(u->d);
    int64_t now = ct_clock_now(ct_daemon_clock(u->d));
    if (now < u->retry_at) {
        schedule_scan(u, u->retry_at);
        return;
    }
    if (u->njobs < MAX_FLYING) {
        sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_NOTIFY_DUE);
        if (!st) {
            u->retry_at = now + RETRY_MS;
            schedule_scan(u, u->retry_at);
            return;
        }
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, MAX_FLYING + u->njobs);
        /* Read first: starting one may use the statement cache. */
        due_row rows[MAX_FLYING];
        int n = 0;
        while (u->njobs + n < MAX_FLYING && sqlite3_step(st) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(st, 0);
            if (job_known(u, id))
                continue;
            due_row *r = &rows[n++];
            r->id = id;
            r->seq = sqlite3_column_int64(st, 1);
            r->referral = sqlite3_column_int64(st, 2);
            snprintf(r->org, sizeof r->org, "%s",
                     (const char *)sqlite3_column_text(st, 3));
            snprintf(r->event, sizeof r->event, "%s",
                     (const char *)sqlite3_column_text(st, 4));
            r->body = ct_strdup((const char *)sqlite3_column_text(st, 5));
            r->attempts = sqlite3_column_int64(st, 6);
        }
        sqlite3_reset(st);
        for (int i = 0; i < n; i++)
            start(u, &rows[i]);
    }
    /* The next row due later (rows due now wait for a free slot: a job's
     * record scans again). */
    sqlite3_stmt *nx = ct_store__stmt(s, CT_STMT_NOTIFY_NEXT);
    if (!nx)
        return;
    sqlite3_bind_int64(nx, 1, now);
    int64_t next = INT64_MAX;
    if (sqlite3_step(nx) == SQLITE_ROW &&
        sqlite3_column_type(nx, 0) != SQLITE_NULL)
        next = sqlite3_column_int64(nx, 0);
    sqlite3_reset(nx);
    if (next != INT64_MAX)
        schedule_scan(u, next);
}

/* ---- after each commit ------------------------------------------------------ */

static size_t on_mark(void *data)
{
    (void)data;
    return 0;
}

static void on_undo(void *data, size_t mark, bool whole)
{
    (void)data;
    (void)mark;
    (void)whole;
}

/* A commit that wrote rows: scan on the next turn. */
static void on_committed(void *data)
{
    notify *u = data;
    if (u->enqueued && !u->stopping)
        schedule_scan(u, ct_clock_now(ct_daemon_clock(u->d)));
}

static const ct_store_watcher watcher = {on_mark, on_undo, on_committed};

/* ---- metrics, reload, the unit ---------------------------------------------- */

static int collect_rows(ct_prom_family *f, void *data)
{
    notify *u = data;
    static const char *const all[] = {"pending", "delivered", "failed"};
    int64_t n[3] = {0, 0, 0};
    sqlite3_stmt *st = ct_store__stmt(ct_daemon_store(u->d),
                                      CT_STMT_NOTIFY_COUNTS);
    if (!st)
        return CT_ESTORE;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        for (int i = 0; s && i < 3; i++)
            if (strcmp(s, all[i]) == 0)
                n[i] = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    for (int i = 0; i < 3; i++)
        ct_prom_set(f, (const char *[]){all[i]}, (double)n[i]);
    return 0;
}

static void reload_apply(ct_daemon *d, const ct_config *next, void *data)
{
    (void)d;
    notify *u = data;
    u->any_webhook = any_webhook(next);
    /* A webhook added or changed: what waits may go now. */
    u->retry_at = 0;
    schedule_scan(u, ct_clock_now(ct_daemon_clock(u->d)));
}

static int unit_start(ct_daemon *d, void **data)
{
    notify *u = calloc(1, sizeof *u);
    if (!u)
        return CT_ENOMEM;
    *data = u;
    u->d = d;
    u->any_webhook = any_webhook(ct_daemon_config(d));
    ct_timer_init(ct_daemon_clock(d), &u->timer);
    ct_prom *p = ct_daemon_prom(d);
    static const char *const outcome[] = {"outcome", NULL};
    static const char *const status[] = {"status", NULL};
    ct_daemon_reload_hook hook = {.apply = reload_apply, .data = u};
    int rc;
    if ((rc = ct_notify__sender_new(ct_daemon_loop(d), on_sent, u,
                                    &u->sender)) ||
        (rc = ct_prom_counter(p, "caretide_notification_attempts_total",
                              "Attempts to deliver notifications to "
                              "referrers' webhooks, by outcome (delivered, "
                              "retry, failed)",
                              outcome, &u->m_attempts)) ||
        (rc = ct_prom_gauge_fn(p, "caretide_notifications",
                               "Notifications in the outbox by status",
                               status, collect_rows, u, &u->m_rows)) ||
        (rc = ct_daemon_on_reload(d, &hook)) ||
        (rc = ct_store_watch(ct_daemon_store(d), &watcher, u)))
        return rc;
    ct_events_set_hook(ct_capacity_events(ct_daemon_capacity(d)),
                       hooked_kinds, on_change, u);
    /* Whatever was left pending before a restart. */
    schedule_scan(u, ct_clock_now(ct_daemon_clock(d)));
    return 0;
}

static void unit_stop(ct_daemon *d, void *data)
{
    notify *u = data;
    if (!u)
        return;
    u->stopping = true;
    ct_capacity *cap = ct_daemon_capacity(d);
    if (cap)
        ct_events_set_hook(ct_capacity_events(cap), NULL, NULL, NULL);
    ct_timer_stop(&u->timer);
    /* In flight: dropped unrecorded, still pending, sent after restart. */
    ct_notify__sender_close(u->sender);
    u->sender = NULL;
    for (job *j = u->jobs, *next; j; j = next) {
        next = j->next;
        if (j->flying) {
            job_unlink(u, j);
            job_free(j);
        }
    }
}

static void unit_free(ct_daemon *d, void *data)
{
    notify *u = data;
    if (!u)
        return;
    ct_store_unwatch(ct_daemon_store(d), &watcher, u);
    /* Jobs whose record was queued have had their callbacks by now. */
    while (u->jobs) {
        job *j = u->jobs;
        job_unlink(u, j);
        job_free(j);
    }
    free(u);
}

const ct_daemon_unit ct_notify_unit = {"notify", unit_start, unit_stop,
                                       unit_free};

/* ---- listing (GET /v1/notifications) --------------------------------------- */

static json_t *row_json(ct_store *s, sqlite3_stmt *st, const char *area)
{
    int64_t id = sqlite3_column_int64(st, 0);
    char key[160];
    snprintf(key, sizeof key, "%s:%" PRId64, area ? area : "",
             (int64_t)sqlite3_column_int64(st, 1));
    json_t *o = json_pack(
        "{s:I, s:s, s:I, s:I, s:s, s:s, s:s, s:I, s:s, s:I}", "id",
        (json_int_t)id, "idempotency_key", key, "event_seq",
        (json_int_t)sqlite3_column_int64(st, 1), "referral",
        (json_int_t)sqlite3_column_int64(st, 2), "org",
        (const char *)sqlite3_column_text(st, 3), "event",
        (const char *)sqlite3_column_text(st, 4), "state",
        (const char *)sqlite3_column_text(st, 5), "created_at",
        (json_int_t)sqlite3_column_int64(st, 6), "status",
        (const char *)sqlite3_column_text(st, 7), "attempts",
        (json_int_t)sqlite3_column_int64(st, 8));
    if (!o)
        return NULL;
    bool pending = strcmp((const char *)sqlite3_column_text(st, 7),
                          "pending") == 0;
    json_object_set_new(o, "next_at",
                        pending ? json_integer(sqlite3_column_int64(st, 9))
                                : json_null());
    json_object_set_new(o, "done_at",
                        sqlite3_column_type(st, 10) == SQLITE_NULL
                            ? json_null()
                            : json_integer(sqlite3_column_int64(st, 10)));
    json_t *list = json_array();
    sqlite3_stmt *a = ct_store__stmt(s, CT_STMT_NOTIFY_ATTEMPTS);
    if (!list || !a) {
        json_decref(list);
        json_decref(o);
        return NULL;
    }
    sqlite3_bind_int64(a, 1, id);
    while (sqlite3_step(a) == SQLITE_ROW) {
        json_t *e = json_pack(
            "{s:I, s:I, s:I, s:o, s:o, s:s}", "n",
            (json_int_t)sqlite3_column_int64(a, 0), "at",
            (json_int_t)sqlite3_column_int64(a, 1), "duration_ms",
            (json_int_t)sqlite3_column_int64(a, 2), "http_status",
            sqlite3_column_type(a, 3) == SQLITE_NULL
                ? json_null()
                : json_integer(sqlite3_column_int64(a, 3)),
            "error",
            sqlite3_column_type(a, 4) == SQLITE_NULL
                ? json_null()
                : json_string((const char *)sqlite3_column_text(a, 4)),
            "outcome", (const char *)sqlite3_column_text(a, 5));
        json_array_append_new(list, e);
    }
    sqlite3_reset(a);
    json_object_set_new(o, "attempt_log", list);
    return o;
}

int ct_notify_list_json(ct_store *s, const char *area, const char *status,
                        int64_t before, int limit, json_t **out)
{
    *out = NULL;
    if (status && strcmp(status, "pending") != 0 &&
        strcmp(status, "delivered") != 0 && strcmp(status, "failed") != 0)
        return CT_EINVAL;
    if (limit < 1 || limit > 500)
        return CT_EINVAL;
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_NOTIFY_LIST);
    if (!st)
        return CT_ESTORE;
    if (status)
        sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, before > 0 ? before : INT64_MAX);
    sqlite3_bind_int(st, 3, limit);
    /* Rows first: row_json steps another statement. */
    json_t *ids = json_array(), *list = json_array();
    if (!ids || !list)
        goto fail_nomem;
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(ids, json_integer(sqlite3_column_int64(st, 0)));
    sqlite3_reset(st);
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        json_t *one;
        int rc = ct_notify_get_json(s, area, json_integer_value(v), &one);
        if (rc) {
            json_decref(ids);
            json_decref(list);
            return rc;
        }
        json_array_append_new(list, one);
    }
    json_decref(ids);
    *out = list;
    return 0;

fail_nomem:
    json_decref(ids);
    json_decref(list);
    return CT_ENOMEM;
}

int ct_notify_get_json(ct_store *s, const char *area, int64_t id,
                       json_t **out)
{
    *out = NULL;
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_NOTIFY_GET);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return CT_ENOTFOUND;
    }
    /* The row's values are copied before the attempts are read. */
    json_t *o = row_json(s, st, area);
    sqlite3_reset(st);
    if (!o)
        return CT_ENOMEM;
    *out = o;
    return 0;
}
