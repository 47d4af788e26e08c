/*
 * The HTTP server: libmicrohttpd in its external epoll mode, driven by a
 * libuv loop (a uv_poll_t on MHD's epoll descriptor and a uv_timer_t on
 * MHD_get_timeout), with a route table, bearer-token auth, request bodies
 * bounded by limits.max_body, a request id on every answer (X-Request-Id,
 * and in the logs), JSON errors and Prometheus metrics.
 *
 * A route names a method, a path pattern with {name} segments, how it
 * touches the store, who may call it (one cell per role, see auth.h) and
 * a handler. Unknown paths are 404, a known path with another method 405
 * with Allow; a missing or bad token 401 with WWW-Authenticate: Bearer;
 * a role whose cell is NONE 403; all before the body is read.
 *
 * The kind says when the handler runs:
 *   CT_ROUTE_PLAIN  at once; it must not touch the store (health, metrics)
 *   CT_ROUTE_READ   outside any write transaction: at once when no group
 *                   commit is open, otherwise from the last commit
 *                   (read_begin below) or right after the group ends, so
 *                   a read never shows uncommitted data (also for work
 *                   that needs a transaction of its own, such as reload)
 *   CT_ROUTE_WRITE  inside the loop turn's group transaction, in its own
 *                   savepoint (commit.h); the answer is sent only after
 *                   the commit, and becomes 503 if the commit fails. A
 *                   handler that fails (returns an error or replies >= 400)
 *                   has its changes rolled back.
 *   CT_ROUTE_AUDITED a read of a person's data, run as a WRITE: the
 *                   access.read event it appends is on disk before the
 *                   answer leaves (docs/api.md "Audited access"); run
 *                   as a READ for a caller whose reads are not recorded
 *                   (ct_principal_personal false: viewer, admin).
 *
 * Handlers reply with ct_http_reply_* or ct_http_error, or return a
 * negative CT_E* code that maps to a status (CT_EINVAL 400, CT_EDENIED
 * 403, CT_ENOTFOUND 404, CT_ESTATE/CONFLICT/EXISTS/CAPACITY/COHORT/CLOSED
 * 409, CT_ELIMIT 422, CT_EBUSY 503; anything else 500, logged with the
 * request id). A handler that returns 0 without a reply is answered 500:
 * a handler bug never takes the daemon down.
 *
 * Life cycle: ct_http_start; ct_http_drain to stop accepting and let
 * in-flight requests finish; ct_http_close (callback once memory is
 * freed). Everything runs on the loop's thread.
 */
#ifndef CT_HTTP_H
#define CT_HTTP_H

#include "auth.h"
#include "commit.h"
#include "prom.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct ct_http ct_http;
typedef struct ct_http_req ct_http_req;

typedef enum ct_http_method {
    CT_HTTP_GET,
    CT_HTTP_POST,
    CT_HTTP_PUT,
    CT_HTTP_PATCH,
    CT_HTTP_DELETE,
    CT_HTTP__COUNT
} ct_http_method;

typedef enum ct_route_kind {
    CT_ROUTE_PLAIN,
    CT_ROUTE_READ,
    CT_ROUTE_WRITE,
    CT_ROUTE_AUDITED, /* a read of personal data: run as a write */
} ct_route_kind;

/* app is ct_http_options.app. Returns 0 after replying, or a CT_E* code. */
typedef int (*ct_http_handler)(ct_http_req *req, void *app);

typedef struct ct_http_route {
    ct_http_method method;
    const char *pattern;          /* "/v1/referrals/{id}/confirm" */
    ct_route_kind kind;
    bool public;                  /* no token needed; access is ignored */
    /* Indexed by ct_role; the extra last cell is a display credential's
     * (display.h): ALL on the routes of aggregate figures, else NONE. */
    ct_access access[CT_ROLE__COUNT + 1];
    ct_http_handler handler;
} ct_http_route;

#define CT_HTTP_DISPLAY CT_ROLE__COUNT /* the display's access cell */

#define CT_HTTP_MAX_PARAMS 4

/*
 * Another wire form for everything answered under a path prefix (the FHIR
 * façade, fhir.h): JSON replies there go out as content_type, and every
 * error body {"error": {code, message, field, ...}} (from a handler, the
 * route table, authentication or the commit) is first given to error,
 * which returns the body to send instead (a new reference) or NULL to
 * keep it. error runs on the loop thread; ct_http_req_ctx is the
 * handler's context while the handler runs, NULL otherwise.
 */
typedef struct ct_http_dialect {
    const char *prefix;       /* "/fhir/" */
    const char *content_type; /* static */
    json_t *(*error)(ct_http_req *r, unsigned status, const json_t *error);
} ct_http_dialect;

typedef struct ct_http_options {
    const char *host;            /* numeric address: "127.0.0.1", "::1" */
    uint16_t port;               /* 0 picks a free port: see ct_http_port */
    uint64_t max_body;           /* bytes; larger bodies get 413 */
    int64_t request_timeout_ms;  /* idle connections and slow clients */
    unsigned connection_limit;   /* 0 for the default (1024) */
    int64_t header_timeout_ms;   /* a request's headers must all arrive in
                                    this long; 0 for the default (10 s) */
    unsigned per_address_limit;  /* connections per client address; 0 for
                                    the default (64) */
    const ct_http_route *routes; /* borrowed; must outlive the server */
    size_t nroutes;
    void *app;                   /* passed to handlers */
    ct_commit *commit;           /* borrowed; required for READ/WRITE */
    const ct_auth *auth;         /* borrowed; see ct_http_set_auth */
    ct_prom *prom;               /* borrowed; NULL for no metrics */
    const ct_http_dialect *dialect; /* borrowed, static; NULL for none */
    /* Reads beside an open group (docs/sandbox.md, "Reads beside the
     * host thread"): when a READ route's request comes while a group
     * commit is open, a GET asks read_begin(app) first; when it returns
     * true, the app has turned its handlers to the last commit (a
     * read-only connection of its own), the handler runs at once and
     * read_end(app) follows it. NULL, or false: the request waits for
     * the group as described above. */
    bool (*read_begin)(void *app);
    void (*read_end)(void *app);
} ct_http_options;

/*
 * Binds and starts serving on loop (borrowed; must outlive the server).
 * On success *out is the server; on error nothing is left listening and
 * the error is logged (CT_EINVAL for a bad option, CT_EIO when the
 * address cannot be bound).
 */
int ct_http_start(uv_loop_t *loop, const ct_http_options *opts,
                  ct_http **out);

/* The port actually bound (useful with port 0). */
uint16_t ct_http_port(const ct_http *h);

/* Swaps the token table (after a reload); borrowed until the next call or
 * ct_http_close. Requests already authenticated keep their principal. */
void ct_http_set_auth(ct_http *h, const ct_auth *auth);
/* Changes the body limit for requests that start from now on. */
void ct_http_set_max_body(ct_http *h, uint64_t max_body);

/* Requests between their headers and their completion. */
unsigned ct_http_in_flight(const ct_http *h);

/*
 * Stops accepting connections; requests already started run to their
 * answer (sent with Connection: close). cb runs from the loop once none
 * is left, or once timeout_ms has passed (answers already computed are
 * then still sent before ct_http_close closes the connections).
 */
void ct_http_drain(ct_http *h, uint64_t timeout_ms,
                   void (*cb)(ct_http *h, void *data), void *data);

/* Closes every connection and the server; cb(data) runs once its memory
 * is freed (may be NULL). Call after the drain callback, or at any time
 * when no request is waiting for a commit. */
void ct_http_close(ct_http *h, void (*cb)(void *data), void *data);

/* ---- for handlers: the request --------------------------------------- */

/* The request id (also sent as X-Request-Id). Valid for the request. */
const char *ct_http_req_id(const ct_http_req *r);

/*
 * For a PLAIN or READ handler whose answer comes from work that ends on a
 * later loop turn (a reload's self-test process): ct_http_req_later, then
 * return 0 without a reply; the connection waits. Once the work ends,
 * reply (ct_http_reply_*, ct_http_error) and call ct_http_req_done, which
 * sends it (or, with none, the status err maps to, as a handler's return
 * would), or frees the request when the client has gone (only at a
 * forced shutdown). Never for WRITE routes.
 */
void ct_http_req_later(ct_http_req *r);
void ct_http_req_done(ct_http_req *r, int err);

/* ct_http_options.app, for work that ends after its handler. */
void *ct_http_req_app(const ct_http_req *r);
const char *ct_http_req_path(const ct_http_req *r);
ct_http_method ct_http_req_method(const ct_http_req *r);
/* The route that matched. */
const ct_http_route *ct_http_req_route(const ct_http_req *r);
/* A {name} path segment, or NULL. Valid for the request. */
const char *ct_http_req_param(const ct_http_req *r, const char *name);
/* A query argument (decoded) or a header, or NULL. Valid for the request. */
const char *ct_http_req_query(const ct_http_req *r, const char *name);
const char *ct_http_req_header(const ct_http_req *r, const char *name);
/* The caller; NULL on a public route. Valid for the request. */
const ct_principal *ct_http_req_principal(const ct_http_req *r);
/* The caller's cell of the route's role matrix (ALL on public routes). */
ct_access ct_http_req_access(const ct_http_req *r);
/* The body as received (NUL-terminated; len 0 when there was none). */
const char *ct_http_req_body(const ct_http_req *r, size_t *len);

/*
 * 0 when the caller may touch data owned by owner_org (ct_auth_owns);
 * otherwise replies 403 and returns CT_EDENIED, so a handler can write
 *   if ((err = ct_http_req_owns(r, referral_org))) return err;
 */
int ct_http_req_owns(ct_http_req *r, const char *owner_org);
/* The same for data whose owner every caller of the route may read
 * anyway (a bed's organisation is in /v1/beds): the 403 names the owner,
 * "bed WH-G01 belongs to willow-care, ...". what is copied. */
int ct_http_req_owns_known(ct_http_req *r, const char *what,
                           const char *owner_org);

/*
 * The body parsed as a JSON object, borrowed until the request ends. On a
 * missing, malformed or non-object body replies 400 (field "body", the
 * parser's line and column in the message) and returns CT_EINVAL.
 */
int ct_http_req_json(ct_http_req *r, json_t **out);

/*
 * Makes body (an object; takes ownership) the request's parsed body, so
 * that the field helpers below read it: a front-end that translates
 * another wire form (fhir.h) into the API's body runs the same checks.
 */
void ct_http_req_set_json(ct_http_req *r, json_t *body);

/* Replaces the caller's access cell for the rest of the request: a
 * handler that carries out another route's action (the FHIR façade's Task
 * update confirming as POST /v1/referrals/{id}/confirm) applies that
 * route's cell for the caller's role. */
void ct_http_req_set_access(ct_http_req *r, ct_access access);

/* A pointer the handler keeps for its dialect's error function (borrowed;
 * cleared when the handler returns). */
void ct_http_req_set_ctx(ct_http_req *r, void *ctx);
void *ct_http_req_ctx(const ct_http_req *r);

/* ---- for handlers: replies ------------------------------------------- */

/* Replies with body as JSON. Takes ownership of body (even on error). */
int ct_http_reply_json(ct_http_req *r, unsigned status, json_t *body);
/* Replies with a malloc'd body of len bytes that is JSON text already
 * (the content type as ct_http_reply_json's; a 2xx or 3xx: errors go
 * through ct_http_reply_json for the dialect). Takes ownership of text. */
int ct_http_reply_json_text(ct_http_req *r, unsigned status, char *text,
                            size_t len);
/* Replies with a malloc'd body of len bytes; takes ownership of it. */
int ct_http_reply_buf(ct_http_req *r, unsigned status,
                      const char *content_type, char *body, size_t len);
/* Adds a response header (copied). At most a few per request. */
int ct_http_reply_header(ct_http_req *r, const char *name,
                         const char *value);

/*
 * The one mapping of CT_E* codes to HTTP (docs/api.md): the status and the
 * error body's code ("not_found", "state", ...) that err answers with, or
 * 0 when it has none a client can act on (a 500, "internal").
 */
unsigned ct_http_status_for(int err, const char **code);

/*
 * Replies {"error": {"code", "message", "field"}} with status (field may
 * be NULL: JSON null). Returns the CT_E* code for status (400 CT_EINVAL,
 * 401/403 CT_EDENIED, 404 CT_ENOTFOUND, 409 CT_ECONFLICT, 413 CT_ELIMIT,
 * otherwise CT_EINVAL), so handlers can `return ct_http_error(...)`.
 */
int ct_http_error(ct_http_req *r, unsigned status, const char *code,
                  const char *field, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* ---- for handlers: validation ---------------------------------------- */
/*
 * Each reads one field of the JSON body by a dotted path from the root
 * ("person.nhs_number"). When the field is absent: required → 400
 * "missing", otherwise 0 with *present false (where given) and *out left
 * as it was. When the type or value is wrong: 400 "invalid" naming the
 * field. On error they reply and return CT_EINVAL; the handler returns it.
 */
int ct_http_field_string(ct_http_req *r, const char *path, bool required,
                         size_t max_len, const char **out);
int ct_http_field_int(ct_http_req *r, const char *path, bool required,
                      int64_t min, int64_t max, int64_t *out, bool *present);
int ct_http_field_bool(ct_http_req *r, const char *path, bool required,
                       bool *out, bool *present);
/* parse returns the value or -1 (the ct_*_parse functions of model.h);
 * expected lists the names for the message ("P0, P1, P2, P3 or
 * step_down"). */
int ct_http_field_enum(ct_http_req *r, const char *path, bool required,
                       int (*parse)(const char *), const char *expected,
                       int *out);
/* A calendar date "YYYY-MM-DD", copied into out. */
int ct_http_field_date(ct_http_req *r, const char *path, bool required,
                       char out[11]);
/* An NHS number (modulus 11), normalised to 10 digits into out. */
int ct_http_field_nhs(ct_http_req *r, const char *path, bool required,
                      char out[11]);
/* Any JSON value (borrowed), checked only to be of type (JSON_OBJECT,
 * JSON_ARRAY...); NULL when absent and not required. */
int ct_http_field_json(ct_http_req *r, const char *path, bool required,
                       json_type type, json_t **out);
/* 400 "unknown_field" for any key of the object at path (NULL or "" for
 * the root) not in the NULL-terminated list allowed. */
int ct_http_field_only(ct_http_req *r, const char *path,
                       const char *const *allowed);

/* Query arguments, named as the field in errors. */
int ct_http_query_int(ct_http_req *r, const char *name, int64_t min,
                      int64_t max, int64_t def, int64_t *out);
int ct_http_query_enum(ct_http_req *r, const char *name,
                       int (*parse)(const char *), const char *expected,
                       int *out /* -1 when absent */);

/* "GET", "POST"... */
const char *ct_http_method_name(ct_http_method m);

#endif
