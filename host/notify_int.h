/*
 * Shared by notify.c (the outbox, its timer and its records) and
 * notify_send.c (HTTP requests with libcurl's multi interface on the
 * libuv loop). Not for use outside those files.
 */
#ifndef CT_NOTIFY_INT_H
#define CT_NOTIFY_INT_H

#include <curl/curl.h>
#include <stdint.h>
#include <uv.h>

typedef struct ct_notify__sender ct_notify__sender;

/* One request. The caller fills method, url, headers and body (all owned
 * by the caller until done) and keeps the struct until done runs. The
 * sender fills the outcome: http_status (0: no answer), retry_after_s
 * and error ("" when an answer came). */
typedef struct ct_notify__request {
    const char *method; /* "PUT" or "POST" */
    const char *url;
    struct curl_slist *headers;
    const char *body;
    long timeout_ms;
    long http_status;
    long retry_after_s; /* the answer's Retry-After in seconds, 0: none */
    char error[CURL_ERROR_SIZE];
    CURL *easy; /* the sender's */
    struct ct_notify__request *prev, *next; /* the sender's, in flight */
    void *data; /* the caller's */
} ct_notify__request;

/* Called on the loop once a request has ended (answered, failed or
 * cancelled by close: then http_status 0 and error "cancelled"). */
typedef void (*ct_notify__done_fn)(ct_notify__request *r, void *data);

/* A sender on loop (borrowed, outliving it); done hears every request. */
int ct_notify__sender_new(uv_loop_t *loop, ct_notify__done_fn done,
                          void *data, ct_notify__sender **out);
/* Starts r (CT_ENOMEM, CT_EINVAL when libcurl refuses an option); done
 * runs later, never from inside this call. */
int ct_notify__send(ct_notify__sender *s, ct_notify__request *r);
/* Cancels what is in flight without calling done, closes the handles and
 * frees the sender once libuv has closed them. NULL is harmless. */
void ct_notify__sender_close(ct_notify__sender *s);

/* "t=SECONDS,sha256=HEX": HMAC-SHA256 with key over "SECONDS.body". */
void ct_notify__sign(const char *key, int64_t seconds, const char *body,
                     char *out, size_t size);

#endif
