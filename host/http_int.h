/*
 * HTTP server internals shared by http.c (the server, MHD on libuv, the
 * request life cycle) and http_req.c (what handlers see: accessors,
 * replies, validation). Not for use outside those two files.
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

/* Drops any reply already set (a handler replied, then failed). */
void ct_http__reply_reset(ct_http_req *r);
/* Sets the reply for a handler's return code err when none is set, or
 * when a success reply must become an error. */
void ct_http__reply_for_error(ct_http_req *r, int err);
/* Frees everything the request owns but the struct itself. */
void ct_http__req_clear(ct_http_req *r);

#endif
