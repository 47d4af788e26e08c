/*
 * HTTP server internals shared by http.c (the server, MHD on libuv, the
 * request life cycle), http_route.c (routing, authentication, request
 * checks), http_door.c (the front door) and http_req.c (what handlers
 * see: accessors, replies, validation). Not for use outside those files.
 */
#ifndef CT_HTTP_INT_H
#define CT_HTTP_INT_H

#include "http.h"
#include "util.h"

#include <microhttpd.h>

#define CT_HTTP__MAX_HEADERS 6

typedef struct ct_http__param {
    const char *name; /* points into the route pattern */
    size_t name_len;
    char *value;      /* owned */
} ct_http__param;

typedef struct ct_http__header {
    char *name, *value; /* owned */
} ct_http__header;

typedef enum ct_http__state {
    CT_HTTP__BODY,      /* headers in, receiving the body */
    CT_HTTP__DISCARD,   /* body over the limit: dropping the rest */
    CT_HTTP__WAITING,   /* suspended until a commit or deferral */
    CT_HTTP__READY,     /* reply computed, to be queued */
    CT_HTTP__QUEUED,    /* reply handed to MHD */
} ct_http__state;

struct ct_http_req {
    ct_http *http;
    struct MHD_Connection *conn;
    const ct_http_route *route; /* NULL when no route matched */
    ct_http_method method;
    char id[40];
    char *path;                 /* owned copy of the URL path */
    ct_http__param params[CT_HTTP_MAX_PARAMS];
    size_t nparams;
    bool authed;
    ct_principal who;
    ct_access access;
    ct_http__state state;
    uint64_t max_body;
    uint64_t discarded;
    ct_buf body;
    json_t *json;               /* parsed body, owned */
    const ct_http_dialect *dialect; /* when the path is under its prefix */
    void *ctx;                  /* the handler's, while it runs */
    bool later;                 /* ct_http_req_later: answered afterwards */
    uint64_t start_ns;
    /* The reply. */
    unsigned status;            /* 0 until a reply is set */
    char *reply;                /* owned until queued */
    size_t reply_len;
    const char *content_type;   /* static */
    ct_http__header headers[CT_HTTP__MAX_HEADERS];
    size_t nheaders;
    ct_commit_req wait;         /* while suspended */
};

/*
 * The front door (http_door.c): the listening socket, and connections
 * until their request line is complete and well-formed, then handed to
 * ct_http__admit (which gives the descriptor to MHD); any other line is
 * answered with a JSON 400 there. open binds addr and listens; limit and
 * per_address count connections at the door; accepted_at is the loop
 * time the connection being admitted was accepted (0 outside
 * ct_http__admit), for the header timeout; quiesce closes the listening
 * socket and drops connections still at the door; close does that and
 * closes the handles, then calls cb; free after cb.
 */
typedef struct ct_http__door ct_http__door;
int ct_http__door_open(ct_http *http, uv_loop_t *loop,
                       const struct sockaddr *addr, unsigned limit,
                       unsigned per_address, uint64_t header_timeout_ms,
                       ct_http__door **out);
uint16_t ct_http__door_port(const ct_http__door *d);
uint64_t ct_http__door_accepted_at(const ct_http__door *d);
void ct_http__door_quiesce(ct_http__door *d);
void ct_http__door_close(ct_http__door *d, void (*cb)(void *data),
                         void *data);
void ct_http__door_free(ct_http__door *d);
/* Takes fd (closed on failure). */
void ct_http__admit(ct_http *h, int fd, const struct sockaddr *addr,
                    socklen_t addrlen);

/* Routing and checks before the handler (http_route.c). route finds r's
 * route in the table for method (HEAD as GET), capturing {name} values;
 * on a miss it replies 404, or 405 with Allow, and returns 0. */
int ct_http__route(ct_http_req *r, const char *method,
                   const ct_http_route *routes, size_t nroutes);
/* Sets r->who and r->access for r's route from its bearer token against
 * auth (may be NULL: every token refused); replies 401 or 403 when it
 * may not go on. */
void ct_http__authenticate(ct_http_req *r, const ct_auth *auth);
/* Whether s is UTF-8 text without control characters. */
bool ct_http__clean_text(const char *s);
/* MHD's unescape callback: a %00 becomes text clean_text refuses. */
size_t ct_http__unescape(void *cls, struct MHD_Connection *c, char *s);
/* Reply 414/431, or 400, and return true when the request's path or
 * headers are over the limits, or its path or query not clean text. */
bool ct_http__refuse_oversized(ct_http_req *r, const char *url);
bool ct_http__refuse_unclean(ct_http_req *r, const char *url);

/* Drops any reply already set (a handler replied, then failed). */
void ct_http__reply_reset(ct_http_req *r);
/* Sets the reply for a handler's return code err when none is set, or
 * when a success reply must become an error. */
void ct_http__reply_for_error(ct_http_req *r, int err);
/* Frees everything the request owns but the struct itself. */
void ct_http__req_clear(ct_http_req *r);

#endif
