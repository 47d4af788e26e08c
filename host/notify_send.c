/*
 * HTTP requests for notifications with libcurl's multi interface driven
 * by the daemon's libuv loop (notify_int.h): libcurl tells which sockets
 * to watch (one uv_poll_t each) and when to time out (one uv_timer_t);
 * the loop tells libcurl what happened. Nothing blocks the loop: name
 * resolution runs in libcurl's own resolver thread.
 */
#include "notify_int.h"

#include "error.h"
#include "version.h"

#include <limits.h>
#include <nettle/hmac.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ct_notify__sender {
    uv_loop_t *loop; /* borrowed */
    CURLM *multi;
    uv_timer_t timer;
    ct_notify__done_fn done;
    void *data;
    ct_notify__request *flying; /* in flight, newest first */
    int handles;  /* open libuv handles: the timer and every poll */
    bool closing; /* freed when handles reaches 0 */
};

/* A socket libcurl asked us to watch. */
typedef struct watch {
    uv_poll_t poll;
    curl_socket_t fd;
    ct_notify__sender *s;
} watch;

static void handle_closed(uv_handle_t *h)
{
    ct_notify__sender *s;
    if (h->type == UV_POLL) {
        watch *w = h->data;
        s = w->s;
        free(w);
    } else {
        s = h->data;
    }
    if (--s->handles == 0 && s->closing)
        free(s);
}

static void unlink_request(ct_notify__sender *s, ct_notify__request *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        s->flying = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

/* Hands ended transfers to the caller. */
static void check_done(ct_notify__sender *s)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        ct_notify__request *r = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
        if (m->data.result == CURLE_OK) {
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->http_status);
            /* Either form (seconds or an HTTP date), read by libcurl. */
            curl_off_t after = 0;
            if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &after) != CURLE_OK
                || after < 0)
                after = 0;
            r->retry_after_s = after > LONG_MAX ? LONG_MAX : (long)after;
            r->error[0] = '\0';
        } else {
            r->http_status = 0;
            if (!r->error[0])
                snprintf(r->error, sizeof r->error, "%s",
                         curl_easy_strerror(m->data.result));
        }
        curl_multi_remove_handle(s->multi, e);
        curl_easy_cleanup(e);
        r->easy = NULL;
        unlink_request(s, r);
        s->done(r, s->data);
    }
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    watch *w = p->data;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    ct_notify__sender *s = w->s;
    curl_multi_socket_action(s->multi, w->fd, flags, &running);
    check_done(s);
}

static void on_timeout(uv_timer_t *t)
{
    ct_notify__sender *s = t->data;
    int running;
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch, change or forget a socket. */
static int socket_cb(CURL *e, curl_socket_t fd, int what, void *userp,
                     void *socketp)
{
    (void)e;
    ct_notify__sender *s = userp;
    watch *w = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (w) {
            uv_poll_stop(&w->poll);
            uv_close((uv_handle_t *)&w->poll, handle_closed);
            curl_multi_assign(s->multi, fd, NULL);
        }
        return 0;
    }
    if (!w) {
        if (!(w = calloc(1, sizeof *w)))
            return -1;
        w->fd = fd;
        w->s = s;
        if (uv_poll_init_socket(s->loop, &w->poll, fd)) {
            free(w);
            return -1;
        }
        w->poll.data = w;
        s->handles++;
        curl_multi_assign(s->multi, fd, w);
    }
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&w->poll, events, on_poll) ? -1 : 0;
}

/* CURLMOPT_TIMERFUNCTION: libcurl's one timeout. */
static int timer_cb(CURLM *m, long ms, void *userp)
{
    (void)m;
    ct_notify__sender *s = userp;
    if (ms < 0)
        uv_timer_stop(&s->timer);
    else
        uv_timer_start(&s->timer, on_timeout, (uint64_t)ms, 0);
    return 0;
}

int ct_notify__sender_new(uv_loop_t *loop, ct_notify__done_fn done,
                          void *data, ct_notify__sender **out)
{
    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return CT_ENOMEM;
    ct_notify__sender *s = calloc(1, sizeof *s);
    if (!s)
        return CT_ENOMEM;
    s->loop = loop;
    s->done = done;
    s->data = data;
    if (!(s->multi = curl_multi_init())) {
        free(s);
        return CT_ENOMEM;
    }
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    int rc = uv_timer_init(loop, &s->timer);
    if (rc) {
        curl_multi_cleanup(s->multi);
        free(s);
        return ct_err_from_uv(rc);
    }
    s->timer.data = s;
    s->handles = 1;
    *out = s;
    return 0;
}

/* The answer's body is not kept: only its status counts. */
static size_t discard(char *p, size_t size, size_t n, void *data)
{
    (void)p;
    (void)data;
    return size * n;
}

int ct_notify__send(ct_notify__sender *s, ct_notify__request *r)
{
    if (s->closing)
        return CT_ESTATE;
    CURL *e = curl_easy_init();
    if (!e)
        return CT_ENOMEM;
    r->http_status = 0;
    r->retry_after_s = 0;
    r->error[0] = '\0';
    CURLcode c = CURLE_OK;
#define SET(opt, v)                                                          \
    if (c == CURLE_OK)                                                       \
    c = curl_easy_setopt(e, opt, v)
    SET(CURLOPT_URL, r->url);
    SET(CURLOPT_CUSTOMREQUEST, r->method);
    SET(CURLOPT_POSTFIELDS, r->body);
    SET(CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
    SET(CURLOPT_HTTPHEADER, r->headers);
    SET(CURLOPT_TIMEOUT_MS, r->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_USERAGENT, "caretide/" CT_VERSION);
    SET(CURLOPT_ERRORBUFFER, r->error);
    SET(CURLOPT_WRITEFUNCTION, discard);
    SET(CURLOPT_PRIVATE, r);
#undef SET
    if (c != CURLE_OK) {
        curl_easy_cleanup(e);
        return CT_EINVAL;
    }
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        return CT_ENOMEM;
    }
    r->easy = e;
    r->prev = NULL;
    r->next = s->flying;
    if (s->flying)
        s->flying->prev = r;
    s->flying = r;
    return 0;
}

void ct_notify__sender_close(ct_notify__sender *s)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    /* Every easy handle still added: removed without a word; their rows
     * stay pending and are sent after the restart. */
    while (s->flying) {
        ct_notify__request *r = s->flying;
        unlink_request(s, r);
        curl_multi_remove_handle(s->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    curl_multi_cleanup(s->multi); /* may close watched sockets (REMOVE) */
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, handle_closed);
}

void ct_notify__sign(const char *key, int64_t seconds, const char *body,
                     char *out, size_t size)
{
    struct hmac_sha256_ctx ctx;
    uint8_t mac[SHA256_DIGEST_SIZE];
    char t[24];
    int tn = snprintf(t, sizeof t, "%lld.", (long long)seconds);
    hmac_sha256_set_key(&ctx, strlen(key), (const uint8_t *)key);
    hmac_sha256_update(&ctx, (size_t)tn, (const uint8_t *)t);
    hmac_sha256_update(&ctx, strlen(body), (const uint8_t *)body);
    hmac_sha256_digest(&ctx, sizeof mac, mac);
    char hex[2 * SHA256_DIGEST_SIZE + 1];
    for (size_t i = 0; i < sizeof mac; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    snprintf(out, size, "t=%lld,sha256=%s", (long long)seconds, hex);
}
