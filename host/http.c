/*
 * The HTTP server proper: libmicrohttpd in external epoll mode on a libuv
 * loop, routing, auth, body limits and the request life cycle.
 *
 * MHD calls the access handler several times per request: once when the
 * headers are in (routing, auth and Content-Length are decided there, so
 * a refused request never has its body read), once per chunk of body, and
 * once when the body is complete (the handler runs, or the request is
 * suspended until its group commits). After MHD_resume_connection MHD
 * calls it again, and the prepared reply is queued.
 *
 * The loop drives MHD through two handles: a uv_poll_t on MHD's epoll
 * descriptor (readable when any socket of MHD has work) and a uv_timer_t
 * set from MHD_get_timeout after every MHD_run (connection timeouts, and
 * zero when MHD still has buffered work or resumed connections).
 */
#include "http_int.h"

#include "error.h"
#include "log.h"

#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define UNIT "http"
#define DEFAULT_CONNECTION_LIMIT 1024
/* MHD answers a request whose line and headers do not fit a connection's
 * memory pool with its own HTML page (431, 414). The door (http_door.c)
 * passes it only request lines of at most 9 KiB and header blocks of at
 * most 18 KiB, which fit this pool with room for a hundred headers'
 * records; our own, smaller limits then refuse with a JSON error. At
 * 32 KiB MHD takes the pool from malloc: a larger one is mapped and
 * unmapped for every connection, which cost about 45 us a request. */
#define MHD_POOL_BYTES (32 * 1024)
#define DEFAULT_PER_ADDRESS_LIMIT 64
#define DEFAULT_HEADER_TIMEOUT_MS 10000
/* A chunked body over the limit is read and dropped up to this many bytes
 * more (so the 413 can be sent on a clean connection); past that the
 * connection is cut. */
#define MAX_DISCARD (1024 * 1024)

struct ct_http {
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_timer_t drain_timer;
    const ct_http_route *routes;
    size_t nroutes;
    void *app;
    ct_commit *commit;
    bool (*read_begin)(void *app);
    void (*read_end)(void *app);
    const ct_auth *auth;
    const ct_http_dialect *dialect;
    uint64_t max_body;
    uint64_t timeout_ns; /* a whole request, headers to complete body */
    uint16_t port;
    unsigned active;    /* requests from headers to completion */
    unsigned suspended; /* of which waiting for a commit or deferral */
    bool draining, drain_done, closing;
    uint64_t drain_deadline;
    void (*drain_cb)(ct_http *h, void *data);
    void *drain_data;
    void (*close_cb)(void *data);
    void *close_data;
    int handles;
    uint32_t id_prefix;
    uint64_t id_counter;
    ct_prom_family *m_requests, *m_latency, *m_in_flight;
    /* Connections not in a request (their headers still coming), for the
     * header timeout: swept by sweep_timer. */
    struct conn_track *conns;
    uv_timer_t sweep_timer;
    uint64_t header_timeout_ms;
    ct_http__door *door; /* http_door.c: accepts, looks at request lines */
};

/*
 * One connection, from accept to close. MHD's connection timeout counts
 * idle time only, so a client trickling a header byte a second was never
 * closed (issue 14: 1,100 of them starved every other client). A
 * connection whose request headers have not all arrived header_timeout
 * after it opened (or after its previous request ended) is shut down;
 * MHD then sees the end of the stream and closes it as usual.
 */
typedef struct conn_track {
    struct conn_track *next, *prev;
    struct MHD_Connection *conn;
    uint64_t since_ms; /* loop time the current wait for headers began */
    bool in_request;   /* headers complete, request not yet answered */
    bool shut;
} conn_track;

/* ---- driving MHD from the loop ---------------------------------------- */

static void on_timer(uv_timer_t *t);

static void schedule(ct_http *h)
{
    if (h->closing)
        return;
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(h->mhd, &ms) == MHD_YES)
        uv_timer_start(&h->timer, on_timer, (uint64_t)ms, 0);
    else
        uv_timer_stop(&h->timer);
}

static void run(ct_http *h)
{
    if (h->closing)
        return;
    MHD_run(h->mhd);
    schedule(h);
}

static void on_timer(uv_timer_t *t)
{
    run(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)events;
    ct_http *h = p->data;
    if (status < 0)
        ct_log_warn(UNIT, "polling the server: %s", uv_strerror(status));
    run(h);
}

/* Makes MHD run at the next loop turn (after a resume, outside MHD_run). */
static void kick(ct_http *h)
{
    if (!h->closing)
        uv_timer_start(&h->timer, on_timer, 0, 0);
}

static conn_track *track_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        conn ? MHD_get_connection_info(conn,
                                       MHD_CONNECTION_INFO_SOCKET_CONTEXT)
             : NULL;
    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    ct_http *h = cls;
    conn_track *t = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        if (!(t = calloc(1, sizeof *t)))
            return; /* untracked: only the header timeout is lost */
        t->conn = conn;
        /* The header timeout counts from accept, at the door. */
        uint64_t at = h->door ? ct_http__door_accepted_at(h->door) : 0;
        t->since_ms = at ? at : uv_now(h->loop);
        if ((t->next = h->conns))
            t->next->prev = t;
        h->conns = t;
        *socket_context = t;
    } else if (t) {
        if (t->prev)
            t->prev->next = t->next;
        else
            h->conns = t->next;
        if (t->next)
            t->next->prev = t->prev;
        free(t);
        *socket_context = NULL;
    }
}

static void on_sweep(uv_timer_t *timer)
{
    ct_http *h = timer->data;
    uint64_t now = uv_now(h->loop);
    bool any = false;
    for (conn_track *t = h->conns; t; t = t->next) {
        if (t->in_request || t->shut ||
            now - t->since_ms < h->header_timeout_ms)
            continue;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(t->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci && ci->connect_fd != MHD_INVALID_SOCKET)
            shutdown(ci->connect_fd, SHUT_RDWR);
        t->shut = any = true;
    }
    if (any)
        kick(h);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    ct_http *h = cls;
    /* At start-up MHD explains why it cannot bind; later its messages are
     * about clients going away, which is routine. */
    ct_logv(h->mhd ? CT_LOG_DEBUG : CT_LOG_WARN, "http:mhd", fmt, ap);
}

/* ---- the request life cycle -------------------------------------------- */

static void on_drain_timer(uv_timer_t *t);

static void count_in_flight(ct_http *h, int delta)
{
    h->active = (unsigned)((int)h->active + delta);
    if (h->m_in_flight)
        ct_prom_set(h->m_in_flight, NULL, h->active);
}

static bool valid_request_id(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789-_.:");
    return n > 0 && n < 40 && s[n] == '\0';
}

static ct_http_req *req_new(ct_http *h, struct MHD_Connection *conn,
                            const char *url, const char *method)
{
    ct_http_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->http = h;
    r->conn = conn;
    r->start_ns = uv_hrtime();
    r->max_body = h->max_body;
    r->state = CT_HTTP__BODY;
    r->wait.data = r;
    const char *given = ct_http_req_header(r, "X-Request-Id");
    if (given && valid_request_id(given))
        snprintf(r->id, sizeof r->id, "%s", given);
    else
        snprintf(r->id, sizeof r->id, "%08x%08llx", h->id_prefix,
                 (unsigned long long)++h->id_counter);
    if (!(r->path = ct_strdup(ct_http__clean_text(url) ? url : "/"))) {
        free(r);
        return NULL;
    }
    if (h->dialect && strncmp(r->path, h->dialect->prefix,
                              strlen(h->dialect->prefix)) == 0)
        r->dialect = h->dialect;
    if (ct_http__refuse_unclean(r, url) || ct_http__refuse_oversized(r, url))
        return r;
    int err = ct_http__route(r, method, h->routes, h->nroutes);
    if (err) {
        ct_http__reply_for_error(r, err);
        return r;
    }
    if (r->status)
        return r;
    ct_http__authenticate(r, h->auth);
    if (r->status)
        return r;
    const char *cl = ct_http_req_header(r, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > r->max_body)
        ct_http_error(r, 413, "too_large", "body",
                      "the body is larger than the limit of %llu bytes",
                      (unsigned long long)r->max_body);
    return r;
}

static void req_free(ct_http_req *r)
{
    ct_http__req_clear(r);
    free(r);
}

static enum MHD_Result queue(ct_http_req *r)
{
    struct MHD_Response *resp;
    if (r->reply) {
        resp = MHD_create_response_from_buffer_with_free_callback(
            r->reply_len, r->reply, free);
        if (resp)
            r->reply = NULL; /* MHD frees it with the response */
    } else {
        resp = MHD_create_response_from_buffer(0, NULL,
                                               MHD_RESPMEM_PERSISTENT);
    }
    if (!resp)
        return MHD_NO;
    bool ok = true;
    if (r->reply_len && r->content_type)
        ok = MHD_add_response_header(resp, "Content-Type",
                                     r->content_type) == MHD_YES;
    /* Answers may carry personal data: never kept by a browser or a
     * proxy, never sniffed into another type. */
    ok = ok &&
         MHD_add_response_header(resp, "X-Request-Id", r->id) == MHD_YES &&
         MHD_add_response_header(resp, "Cache-Control", "no-store") ==
             MHD_YES &&
         MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") ==
             MHD_YES;
    for (size_t i = 0; ok && i < r->nheaders; i++)
        ok = MHD_add_response_header(resp, r->headers[i].name,
                                     r->headers[i].value) == MHD_YES;
    /* Never kept alive: the next request line on a connection would reach
     * MHD without passing the door (http_door.c), and MHD answers a line
     * it cannot use with its own HTML page. */
    if (ok)
        ok = MHD_add_response_header(resp, "Connection", "close") == MHD_YES;
    enum MHD_Result res =
        ok ? MHD_queue_response(r->conn, r->status, resp) : MHD_NO;
    MHD_destroy_response(resp);
    if (res == MHD_YES)
        r->state = CT_HTTP__QUEUED;
    return res;
}

static void suspend(ct_http_req *r)
{
    r->state = CT_HTTP__WAITING;
    r->http->suspended++;
    MHD_suspend_connection(r->conn);
}

static void resume(ct_http_req *r)
{
    ct_http *h = r->http;
    r->state = CT_HTTP__READY;
    h->suspended--;
    MHD_resume_connection(r->conn);
    kick(h);
}

/* Runs the handler; returns its verdict (an error when it failed in any
 * way, so that a write is rolled back). */
static int run_handler(ct_http_req *r)
{
    int err = r->route->handler(r, r->http->app);
    if (!err && r->later && r->status == 0) {
        r->ctx = NULL;
        return 0; /* answered by ct_http_req_done */
    }
    r->later = false;
    if (err || r->status == 0 || r->status >= 400) {
        ct_http__reply_for_error(r, err);
        r->ctx = NULL;
        return err ? err : CT_EINVAL;
    }
    r->ctx = NULL;
    return 0;
}

/* A request whose connection went away while it waited (only at a forced
 * shutdown) is freed when its wait ends. */
static bool orphaned(ct_http_req *r)
{
    if (r->conn)
        return false;
    r->http->suspended--;
    req_free(r);
    return true;
}

static void on_deferred(ct_commit_req *w, int status)
{
    (void)status;
    ct_http_req *r = w->data;
    if (orphaned(r))
        return;
    run_handler(r);
    if (!r->later)
        resume(r);
}

void ct_http_req_later(ct_http_req *r)
{
    r->later = true;
}

void ct_http_req_done(ct_http_req *r, int err)
{
    r->later = false;
    if (orphaned(r))
        return;
    if (r->status == 0)
        ct_http__reply_for_error(r, err ? err : CT_EINVAL);
    resume(r);
}

void *ct_http_req_app(const ct_http_req *r)
{
    return r->http->app;
}

static int write_fn(ct_store *s, void *arg)
{
    (void)s;
    return run_handler(arg);
}

static void on_written(ct_commit_req *w, int status)
{
    ct_http_req *r = w->data;
    if (orphaned(r))
        return;
    if (status == CT_EFULL)
        ct_http_error(r, 507, "disk_full", NULL,
                      "the change could not be committed (%s); nothing "
                      "was saved", ct_strerror(status));
    else if (status)
        ct_http_error(r, 503, "unavailable", NULL,
                      "the change could not be committed (%s); nothing "
                      "was saved, try again", ct_strerror(status));
    resume(r);
}

static enum MHD_Result dispatch(ct_http_req *r)
{
    ct_http *h = r->http;
    ct_route_kind kind = r->route->kind;
    /* Nothing to record for this caller: a plain read. */
    if (kind == CT_ROUTE_AUDITED &&
        !ct_principal_personal(ct_http_req_principal(r)))
        kind = CT_ROUTE_READ;
    switch (kind) {
    case CT_ROUTE_READ:
        if (!h->commit || !ct_commit_pending(h->commit))
            break;
        /* A write's group is open (its plugins may be running for
         * seconds): a GET reads the last commit beside it rather than
         * wait (a READ POST, the reload, needs the group to end). */
        if (r->route->method == CT_HTTP_GET && h->read_begin &&
            h->read_begin(h->app)) {
            run_handler(r);
            h->read_end(h->app);
            if (r->later) {
                suspend(r);
                return MHD_YES;
            }
            return queue(r);
        }
        if (ct_commit_defer(h->commit, &r->wait, on_deferred) == 0) {
            suspend(r);
            return MHD_YES;
        }
        break;
    case CT_ROUTE_WRITE:
    case CT_ROUTE_AUDITED: {
        int err = h->commit ? ct_commit_write(h->commit, &r->wait, write_fn,
                                              r, on_written)
                            : CT_ESTATE;
        if (err) {
            ct_log_error(UNIT, "request %s: cannot start a write: %s", r->id,
                         ct_strerror(err));
            ct_http_error(r, err == CT_EFULL ? 507 : 503,
                          err == CT_EFULL ? "disk_full" : "unavailable", NULL,
                          "the database is not accepting changes now (%s)",
                          ct_strerror(err));
            return queue(r);
        }
        suspend(r);
        return MHD_YES;
    }
    case CT_ROUTE_PLAIN:
        break;
    }
    run_handler(r);
    if (r->later) {
        suspend(r);
        return MHD_YES;
    }
    return queue(r);
}

static enum MHD_Result take_body(ct_http_req *r, const char *data,
                                 size_t *size)
{
    size_t n = *size;
    *size = 0;
    /* MHD's timeout is for silence; a client that trickles its body a
     * byte at a time is cut off by this one. */
    if (uv_hrtime() - r->start_ns > r->http->timeout_ns) {
        ct_log_info(UNIT, "request %s: body still incomplete after the "
                    "request timeout; closing", r->id);
        return MHD_NO;
    }
    if (r->state == CT_HTTP__DISCARD) {
        r->discarded += n;
        return r->discarded > MAX_DISCARD ? MHD_NO : MHD_YES;
    }
    if (r->body.len + n > r->max_body) {
        ct_http_error(r, 413, "too_large", "body",
                      "the body is larger than the limit of %llu bytes",
                      (unsigned long long)r->max_body);
        ct_buf_free(&r->body);
        r->state = CT_HTTP__DISCARD;
        r->discarded = n;
        return MHD_YES;
    }
    return ct_buf_append(&r->body, data, n) ? MHD_NO : MHD_YES;
}

/* Whether the request announced a body (chunked, or a non-zero length). */
static bool has_body(ct_http_req *r)
{
    const char *cl = ct_http_req_header(r, "Content-Length");
    const char *te = ct_http_req_header(r, "Transfer-Encoding");
    return te || (cl && strtoull(cl, NULL, 10) > 0);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    (void)version;
    ct_http *h = cls;
    ct_http_req *r = *con_cls;
    if (!r) {
        conn_track *t = track_of(conn);
        if (t)
            t->in_request = true;
        if (!(r = req_new(h, conn, url, method)))
            return MHD_NO;
        *con_cls = r;
        count_in_flight(h, +1);
        /* Refused on the headers alone: answer without reading a byte of
         * body (MHD then closes the connection). With no body coming, the
         * answer waits for the final call so the connection stays open. */
        if (r->status && has_body(r))
            return queue(r);
        return MHD_YES;
    }
    switch (r->state) {
    case CT_HTTP__BODY:
    case CT_HTTP__DISCARD:
        if (*upload_size)
            return take_body(r, upload, upload_size);
        return r->status ? queue(r) : dispatch(r);
    case CT_HTTP__READY:
        return queue(r);
    case CT_HTTP__WAITING:
    case CT_HTTP__QUEUED:
        break;
    }
    return MHD_YES;
}

/* Bytes a client controls, made safe for a log line. */
static void log_safe(char *out, size_t size, const char *s)
{
    size_t i = 0;
    for (; s && *s && i + 1 < size; s++)
        out[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[i] = '\0';
}

static void account(ct_http *h, ct_http_req *r,
                    enum MHD_RequestTerminationCode toe)
{
    double secs = (double)(uv_hrtime() - r->start_ns) / 1e9;
    const char *route = r->route ? r->route->pattern : "unmatched";
    const char *method = ct_http_method_name(r->method);
    char status[16];
    if (r->state == CT_HTTP__QUEUED)
        snprintf(status, sizeof status, "%u", r->status);
    else
        snprintf(status, sizeof status, "%s",
                 toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout"
                                                               : "aborted");
    if (h->m_requests) {
        ct_prom_add(h->m_requests,
                    (const char *[]){route, method, status}, 1);
        ct_prom_observe(h->m_latency, (const char *[]){route}, secs);
    }
    ct_log_level level = r->status >= 500 ? CT_LOG_WARN : CT_LOG_INFO;
    if (!ct_log_enabled(level))
        return;
    char path[256], ms[32];
    log_safe(path, sizeof path, r->path);
    snprintf(ms, sizeof ms, "%.3f", secs * 1e3);
    const char *kv[] = {"req",    r->id,  "method", method,
                        "path",   path,   "status", status,
                        "ms",     ms,     "org",    r->authed ? r->who.org
                                                              : NULL,
                        NULL};
    if (!r->authed)
        kv[10] = NULL;
    ct_log_kv(level, UNIT, kv, "%s %s %s %sms", method, path, status, ms);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe)
{
    ct_http *h = cls;
    conn_track *t = track_of(conn);
    if (t) { /* the next request's headers start now (keep-alive) */
        t->in_request = false;
        t->since_ms = uv_now(h->loop);
    }
    ct_http_req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    account(h, r, toe);
    count_in_flight(h, -1);
    if (r->state == CT_HTTP__WAITING) {
        /* Still queued in the committer: it frees the request. */
        r->conn = NULL;
    } else {
        req_free(r);
    }
    if (h->draining && h->active == 0 && !h->closing)
        uv_timer_start(&h->drain_timer, on_drain_timer, 0, 0);
}

/* ---- start, drain, close ----------------------------------------------- */

static int register_metrics(ct_http *h, ct_prom *p)
{
    static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025,  0.05,  0.1,    0.25,  0.5,
                                     1,      2.5,   5};
    int err = ct_prom_counter(p, "caretide_http_requests_total",
                              "HTTP requests answered, by route pattern, "
                              "method and status",
                              (const char *[]){"route", "method", "status",
                                               NULL},
                              &h->m_requests);
    if (!err)
        err = ct_prom_histogram(p, "caretide_http_request_duration_seconds",
                                "Time from request headers to the last "
                                "byte of the answer",
                                (const char *[]){"route", NULL}, buckets,
                                CT_ARRAY_LEN(buckets), &h->m_latency);
    if (!err)
        err = ct_prom_gauge(p, "caretide_http_requests_in_flight",
                            "Requests received and not yet answered", NULL,
                            &h->m_in_flight);
    if (!err)
        err = ct_prom_set(h->m_in_flight, NULL, 0);
    return err;
}

static int resolve(const char *host, uint16_t port,
                   struct sockaddr_storage *out)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc || !res) {
        ct_log_error(UNIT, "listen address '%s' is not a numeric IPv4 or "
                     "IPv6 address", host);
        return CT_EINVAL;
    }
    memset(out, 0, sizeof *out);
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (out->ss_family == AF_INET)
        ((struct sockaddr_in *)out)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)out)->sin6_port = htons(port);
    return 0;
}

int ct_http_start(uv_loop_t *loop, const ct_http_options *o, ct_http **out)
{
    *out = NULL;
    if (!o->host || !o->routes || o->max_body == 0 ||
        o->request_timeout_ms <= 0)
        return CT_EINVAL;
    for (size_t i = 0; i < o->nroutes; i++)
        if (o->routes[i].kind != CT_ROUTE_PLAIN && !o->commit)
            return CT_EINVAL;
    struct sockaddr_storage addr;
    int err = resolve(o->host, o->port, &addr);
    if (err)
        return err;
    if (sodium_init() < 0)
        return CT_EINVAL;

    ct_http *h = calloc(1, sizeof *h);
    if (!h)
        return CT_ENOMEM;
    h->loop = loop;
    h->routes = o->routes;
    h->nroutes = o->nroutes;
    h->dialect = o->dialect;
    h->app = o->app;
    h->commit = o->commit;
    h->read_begin = o->read_begin;
    h->read_end = o->read_end;
    h->auth = o->auth;
    h->max_body = o->max_body;
    h->timeout_ns = (uint64_t)o->request_timeout_ms * 1000000u;
    h->header_timeout_ms = o->header_timeout_ms > 0
                               ? (uint64_t)o->header_timeout_ms
                               : DEFAULT_HEADER_TIMEOUT_MS;
    h->id_prefix = randombytes_random();
    if (o->prom && (err = register_metrics(h, o->prom)))
        goto fail_metrics;

    /* The door (http_door.c) listens and hands MHD connections whose
     * request line it has seen. */
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* MHD counts the timeout in whole seconds: round up. */
    unsigned timeout_s = (unsigned)((o->request_timeout_ms + 999) / 1000);
    unsigned limit =
        o->connection_limit ? o->connection_limit : DEFAULT_CONNECTION_LIMIT;
    unsigned per_address = o->per_address_limit ? o->per_address_limit
                                                : DEFAULT_PER_ADDRESS_LIMIT;
    h->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, h,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MHD_POOL_BYTES,
        MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_UNESCAPE_CALLBACK, ct_http__unescape, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_address,
        MHD_OPTION_END);
    if (!h->mhd) {
        ct_log_error(UNIT, "cannot start the HTTP server");
        err = CT_EIO;
        goto fail_metrics;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info) {
        err = CT_EIO;
        goto fail_mhd;
    }
    /* At the door a connection is idle or sending its first line: cut
     * at the header timeout, or sooner at the request timeout (MHD's
     * idle timeout for the connections it holds). */
    uint64_t door_ms = h->header_timeout_ms < (uint64_t)o->request_timeout_ms
                           ? h->header_timeout_ms
                           : (uint64_t)o->request_timeout_ms;
    if ((err = ct_http__door_open(h, loop, (struct sockaddr *)&addr, limit,
                                  per_address, door_ms, &h->door))) {
        ct_log_error(UNIT, "cannot listen on %s port %u", o->host,
                     (unsigned)o->port);
        goto fail_mhd;
    }
    h->port = ct_http__door_port(h->door);
    int rc = uv_poll_init(loop, &h->poll, info->epoll_fd);
    if (rc) {
        err = ct_err_from_uv(rc);
        goto fail_door;
    }
    uv_timer_init(loop, &h->timer);
    uv_timer_init(loop, &h->drain_timer);
    uv_timer_init(loop, &h->sweep_timer);
    h->sweep_timer.data = h;
    /* A quarter of the timeout between sweeps: a slow client is cut at
     * most a quarter late. */
    uint64_t every = h->header_timeout_ms / 4 ? h->header_timeout_ms / 4 : 1;
    uv_timer_start(&h->sweep_timer, on_sweep, every, every);
    h->poll.data = h->timer.data = h->drain_timer.data = h;
    uv_poll_start(&h->poll, UV_READABLE, on_poll);
    schedule(h);
    *out = h;
    return 0;

fail_door:
    /* Nothing was accepted yet: the handles close on the next turn; the
     * door is left to them (start failures are followed by exit). */
    ct_http__door_close(h->door, NULL, NULL);
fail_mhd:
    MHD_stop_daemon(h->mhd);
fail_metrics:
    /* Metric families stay registered (the registry owns them); a failed
     * start is followed by exit. */
    free(h);
    return err;
}

uint16_t ct_http_port(const ct_http *h)
{
    return h->port;
}

void ct_http_set_auth(ct_http *h, const ct_auth *auth)
{
    h->auth = auth;
}

void ct_http_set_max_body(ct_http *h, uint64_t max_body)
{
    if (max_body)
        h->max_body = max_body;
}

unsigned ct_http_in_flight(const ct_http *h)
{
    return h->active;
}

static void on_drain_timer(uv_timer_t *t)
{
    ct_http *h = t->data;
    if (h->drain_done)
        return;
    uint64_t now = uv_now(h->loop);
    bool expired = now >= h->drain_deadline;
    if (h->active == 0 || (expired && h->suspended == 0)) {
        h->drain_done = true;
        if (h->active)
            ct_log_warn(UNIT, "closing with %u requests unanswered after "
                        "the drain timeout", h->active);
        h->drain_cb(h, h->drain_data);
        return;
    }
    /* Past the deadline with a request still waiting for its commit: it
     * ends within the turn, so look again very soon. */
    uv_timer_start(t, on_drain_timer, expired ? 1 : h->drain_deadline - now,
                   0);
}

void ct_http_drain(ct_http *h, uint64_t timeout_ms,
                   void (*cb)(ct_http *h, void *data), void *data)
{
    h->draining = true;
    h->drain_cb = cb;
    h->drain_data = data;
    ct_http__door_quiesce(h->door);
    h->drain_deadline = uv_now(h->loop) + timeout_ms;
    uv_timer_start(&h->drain_timer, on_drain_timer,
                   h->active ? timeout_ms : 0, 0);
}

static void on_closed(uv_handle_t *handle);

static void door_closed(void *data)
{
    ct_http *h = data;
    on_closed((uv_handle_t *)&h->timer); /* any of h's: data is h */
}

void ct_http__admit(ct_http *h, int fd, const struct sockaddr *addr,
                    socklen_t addrlen)
{
    /* On failure (limits) MHD has closed the socket. */
    if (h->closing || h->draining) {
        close(fd);
        return;
    }
    MHD_add_connection(h->mhd, fd, addr, addrlen);
    kick(h);
}

static void on_closed(uv_handle_t *handle)
{
    ct_http *h = handle->data;
    if (--h->handles > 0)
        return;
    void (*cb)(void *) = h->close_cb;
    void *data = h->close_data;
    ct_http__door_free(h->door);
    free(h);
    if (cb)
        cb(data);
}

void ct_http_close(ct_http *h, void (*cb)(void *data), void *data)
{
    h->closing = true;
    h->close_cb = cb;
    h->close_data = data;
    h->handles = 5;
    /* libuv stops watching the epoll descriptor before MHD closes it. */
    uv_close((uv_handle_t *)&h->poll, on_closed);
    uv_close((uv_handle_t *)&h->timer, on_closed);
    uv_close((uv_handle_t *)&h->drain_timer, on_closed);
    uv_close((uv_handle_t *)&h->sweep_timer, on_closed);
    ct_http__door_close(h->door, door_closed, h);
    if (h->suspended)
        ct_log_error(UNIT, "closing with %u requests waiting for a commit",
                     h->suspended);
    MHD_stop_daemon(h->mhd);
    h->mhd = NULL;
}
