/*
 * The front door of the HTTP server: the listening socket, and each new
 * connection until its request line has arrived.
 *
 * libmicrohttpd 0.9.75 answers a request line it cannot use (a version
 * other than HTTP/1.x, a line without one, no method) with its own HTML
 * page, a 505 for a version it does not know, before any hook of the
 * application runs, and offers no way to change those answers
 * (connection.c: parse_http_version and transmit_error_response_len
 * queue static strings). So the door accepts connections itself, looks
 * at the request line without taking it off the socket (MSG_PEEK), and
 * hands only a well-formed HTTP/1.x line to MHD (MHD_add_connection);
 * anything else gets a JSON 400 here and the connection closes. Every
 * answer carries `Connection: close` (http.c), so each request line on
 * a connection is the first one and passes the door: a keep-alive
 * follow-up can never reach MHD unseen.
 *
 * The door holds a connection only until its line is complete, under the
 * same rules as MHD: the header timeout counts from accept (and goes on
 * in MHD, see ct_http__door_accepted_at), the per-address and total
 * connection limits count connections at the door too. While a line is
 * incomplete the socket's receive low-water mark is set one byte past
 * what is there, so that the loop wakes only when more arrives.
 */
#define _GNU_SOURCE /* accept4 */
#include "http_int.h"

#include "error.h"
#include "log.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UNIT "http"
/* A request line longer than this (a path over 8 KiB is refused by the
 * server anyway, with a JSON 414) is refused at the door, and so is a
 * header block longer than HEADERS_MAX_BYTES (the server's own limit,
 * 16 KiB of names and values, answers 431 below that, the door above);
 * what passes fits MHD's connection pool (http.c, MHD_POOL_BYTES). */
#define LINE_MAX_BYTES (8192 + 1024)
#define HEADERS_MAX_BYTES (16384 + 2048)
/* After a refusal, what the client still sends is read and dropped for
 * this long, so that closing does not reset the connection before the
 * answer is read. */
#define LINGER_MS 2000

typedef struct waiting {
    struct waiting *next, *prev;
    ct_http__door *door;
    uv_poll_t poll;
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint64_t since_ms; /* accepted, loop time */
    bool lingering;    /* answered here; draining what the client sends */
    int lowat;         /* the receive low-water mark set, 1 by default */
} waiting;

struct ct_http__door {
    ct_http *http;
    uv_loop_t *loop;
    int fd; /* the listening socket, -1 once closed */
    uv_poll_t poll;
    uv_timer_t sweep;
    waiting *list;
    unsigned count;
    unsigned limit, per_address;
    uint64_t header_timeout_ms;
    uint64_t admitting_since; /* of the connection being handed over */
    int open;                 /* handles not yet closed */
    bool closing;
    void (*close_cb)(void *data);
    void *close_data;
};

/* ---- the connections at the door --------------------------------------- */

static bool same_address(const struct sockaddr_storage *a,
                         const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return false;
}

static void on_waiting_closed(uv_handle_t *h)
{
    waiting *w = h->data;
    ct_http__door *d = w->door;
    free(w);
    if (--d->open == 0 && d->closing && d->close_cb)
        d->close_cb(d->close_data);
}

static void unlink_waiting(waiting *w)
{
    ct_http__door *d = w->door;
    if (w->prev)
        w->prev->next = w->next;
    else
        d->list = w->next;
    if (w->next)
        w->next->prev = w->prev;
    d->count--;
}

/* Drops the connection: closes the socket and the handle. What the
 * client sent is read first (the door only peeked at it): closing a
 * socket with unread data resets the connection instead of ending it. */
static void drop(waiting *w)
{
    unlink_waiting(w);
    uv_poll_stop(&w->poll);
    char buf[4096];
    while (recv(w->fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
    close(w->fd);
    uv_close((uv_handle_t *)&w->poll, on_waiting_closed);
}

static void on_readable(uv_poll_t *p, int status, int events);

/* Answers a JSON 400 (414, 431) and lingers until the client has read
 * it. */
static void refuse(waiting *w, unsigned status, const char *field,
                   const char *message)
{
    char body[512], head[512];
    int blen = snprintf(body, sizeof body,
                        "{\"error\":{\"code\":\"%s\",\"message\":\"%s\","
                        "\"field\":\"%s\"}}",
                        status == 400 ? "invalid" : "too_large", message,
                        field);
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.1 %u %s\r\n"
                        "Content-Type: application/json\r\n"
                        "Content-Length: %d\r\n"
                        "Cache-Control: no-store\r\n"
                        "X-Content-Type-Options: nosniff\r\n"
                        "Connection: close\r\n\r\n",
                        status,
                        status == 414   ? "URI Too Long"
                        : status == 431 ? "Request Header Fields Too Large"
                                        : "Bad Request",
                        blen);
    /* A few hundred bytes into an empty send buffer: all of it goes, or
     * the client is gone. */
    if (send(w->fd, head, (size_t)hlen, MSG_NOSIGNAL | MSG_DONTWAIT) ==
        hlen)
        send(w->fd, body, (size_t)blen, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(w->fd, SHUT_WR);
    ct_log_info(UNIT, "request line refused at the door: %u %s", status,
                message);
    w->lingering = true;
    w->since_ms = uv_now(w->door->loop);
    if (w->lowat != 1) {
        int one = 1;
        setsockopt(w->fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
        w->lowat = 1;
    }
    uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, on_readable);
}

static bool tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/*
 * Checks one complete request line (without its line end): METHOD SP
 * TARGET SP HTTP/1.x. 0 when MHD may have it; otherwise the field and
 * the message of the refusal.
 */
static int check_line(const char *line, size_t len, const char **field,
                      const char **message)
{
    size_t m = 0;
    while (m < len && tchar((unsigned char)line[m]))
        m++;
    *field = "request_line";
    if (m == 0 || m == len || line[m] != ' ') {
        *message = "a request line is METHOD, a space, the path, a space "
                   "and HTTP/1.1";
        return CT_EINVAL;
    }
    size_t v = len;
    while (v > m && line[v - 1] != ' ')
        v--;
    const char *ver = line + v;
    size_t vlen = len - v;
    for (size_t i = m; i < len; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) {
            *message = "control characters in the request line";
            return CT_EINVAL;
        }
    if (v <= m + 1 || vlen == 0) {
        *message = "the request line has no HTTP version: use HTTP/1.1";
        return CT_EINVAL;
    }
    /* One space each side of the target, none inside (MHD would take a
     * target with spaces in its lenient mode; RFC 9112 3.2 has none). */
    if (v == m + 2 || memchr(line + m + 1, ' ', v - 1 - (m + 1))) {
        *message = "the request target is empty or has spaces: encode "
                   "them as %20";
        return CT_EINVAL;
    }
    *field = "version";
    if (vlen != 8 || memcmp(ver, "HTTP/", 5) != 0 || ver[6] != '.' ||
        ver[5] < '0' || ver[5] > '9' || ver[7] < '0' || ver[7] > '9') {
        *message = "the request line's HTTP version is malformed: use "
                   "HTTP/1.1";
        return CT_EINVAL;
    }
    if (ver[5] != '1') {
        *message = "only HTTP/1.0 and HTTP/1.1 are served: use HTTP/1.1";
        return CT_EINVAL;
    }
    return 0;
}

static void admit(waiting *w)
{
    ct_http__door *d = w->door;
    unlink_waiting(w);
    uv_poll_stop(&w->poll); /* libuv forgets the descriptor: MHD's now */
    if (w->lowat != 1) {
        int one = 1;
        setsockopt(w->fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
    }
    d->admitting_since = w->since_ms;
    ct_http__admit(d->http, w->fd, (struct sockaddr *)&w->addr, w->addrlen);
    d->admitting_since = 0;
    w->fd = -1;
    uv_close((uv_handle_t *)&w->poll, on_waiting_closed);
}

/* The end of the header block after the request line's end at nl: the
 * first empty line, or NULL. */
static const char *headers_end(const char *nl, const char *end)
{
    for (const char *p = nl; p < end; p++) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (!p)
            return NULL;
        if (p + 1 < end && p[1] == '\n')
            return p + 2;
        if (p + 2 < end && p[1] == '\r' && p[2] == '\n')
            return p + 3;
    }
    return NULL;
}

/* Wakes when more than n bytes are there. */
static void wait_more(waiting *w, ssize_t n)
{
    int lowat = (int)n + 1;
    if (setsockopt(w->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat) ==
        0)
        w->lowat = lowat;
}

static void look(waiting *w, int events)
{
    char buf[LINE_MAX_BYTES + HEADERS_MAX_BYTES + 4];
    ssize_t n = recv(w->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        drop(w); /* gone before its line */
        return;
    }
    /* Empty lines before a request line are allowed (RFC 9112 2.2). */
    size_t start = 0;
    while (start < (size_t)n && (buf[start] == '\r' || buf[start] == '\n'))
        start++;
    char *nl = memchr(buf + start, '\n', (size_t)n - start);
    if (!nl) {
        if ((size_t)n - start >= LINE_MAX_BYTES) {
            refuse(w, 414, "path", "the request line is over 8 KiB");
            return;
        }
        if (events & UV_DISCONNECT) { /* it will never end */
            refuse(w, 400, "request_line", "the request line never ended");
            return;
        }
        wait_more(w, n);
        return;
    }
    size_t len = (size_t)(nl - (buf + start));
    if (len >= LINE_MAX_BYTES) {
        refuse(w, 414, "path", "the request line is over 8 KiB");
        return;
    }
    if (len && buf[start + len - 1] == '\r')
        len--;
    const char *field, *message;
    if (check_line(buf + start, len, &field, &message)) {
        refuse(w, 400, field, message);
        return;
    }
    /* The whole header block, so that MHD never needs more than its
     * pool for it. */
    if (headers_end(nl, buf + n)) {
        admit(w);
        return;
    }
    if ((size_t)(buf + n - nl) > HEADERS_MAX_BYTES) {
        refuse(w, 431, "headers", "the request headers are over 16 KiB");
        return;
    }
    if (events & UV_DISCONNECT) {
        refuse(w, 400, "headers", "the request headers never ended");
        return;
    }
    wait_more(w, n);
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    waiting *w = p->data;
    if (status < 0) {
        drop(w);
        return;
    }
    if (!w->lingering) {
        look(w, events);
        return;
    }
    char buf[4096];
    ssize_t n;
    while ((n = recv(w->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
        ;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        drop(w);
}

/* ---- the listening socket ---------------------------------------------- */

static void on_accept(uv_poll_t *p, int status, int events)
{
    (void)events;
    ct_http__door *d = p->data;
    if (status < 0)
        return;
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        int fd = accept4(d->fd, (struct sockaddr *)&addr, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                ct_log_warn(UNIT, "cannot accept: %s", strerror(errno));
            return; /* EAGAIN: all taken; others: the next wake-up */
        }
        unsigned same = 0;
        for (waiting *o = d->list; o; o = o->next)
            same += !o->lingering && same_address(&o->addr, &addr);
        waiting *w = NULL;
        if (d->count >= d->limit || same >= d->per_address ||
            !(w = calloc(1, sizeof *w))) {
            close(fd); /* as MHD refuses past its limits: closed */
            continue;
        }
        w->door = d;
        w->fd = fd;
        w->addr = addr;
        w->addrlen = len;
        w->since_ms = uv_now(d->loop);
        w->lowat = 1;
        if (uv_poll_init_socket(d->loop, &w->poll, fd)) {
            close(fd);
            free(w);
            continue;
        }
        w->poll.data = w;
        d->open++;
        if ((w->next = d->list))
            w->next->prev = w;
        d->list = w;
        d->count++;
        /* The kernel hands over connections once they have data
         * (TCP_DEFER_ACCEPT): most lines are there already. */
        look(w, 0); /* admitted, refused, dropped, or still waiting */
        if (!w->lingering && !uv_is_closing((uv_handle_t *)&w->poll))
            uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT,
                          on_readable);
    }
}

static void on_sweep(uv_timer_t *t)
{
    ct_http__door *d = t->data;
    uint64_t now = uv_now(d->loop);
    waiting *next;
    for (waiting *w = d->list; w; w = next) {
        next = w->next;
        uint64_t limit = w->lingering ? LINGER_MS : d->header_timeout_ms;
        if (now - w->since_ms >= limit)
            drop(w);
    }
}

static void on_door_handle_closed(uv_handle_t *h)
{
    ct_http__door *d = h->data;
    if (--d->open == 0 && d->closing && d->close_cb)
        d->close_cb(d->close_data);
}

int ct_http__door_open(ct_http *http, uv_loop_t *loop,
                       const struct sockaddr *addr, unsigned limit,
                       unsigned per_address, uint64_t header_timeout_ms,
                       ct_http__door **out)
{
    *out = NULL;
    ct_http__door *d = calloc(1, sizeof *d);
    if (!d)
        return CT_ENOMEM;
    d->http = http;
    d->loop = loop;
    d->limit = limit;
    d->per_address = per_address;
    d->header_timeout_ms = header_timeout_ms;
    int err = CT_EIO;
    socklen_t alen = addr->sa_family == AF_INET6
                         ? sizeof(struct sockaddr_in6)
                         : sizeof(struct sockaddr_in);
    d->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
                                        SOCK_CLOEXEC, 0);
    if (d->fd < 0)
        goto fail;
    int one = 1;
    setsockopt(d->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr->sa_family == AF_INET6)
        setsockopt(d->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(d->fd, addr, alen) || listen(d->fd, 511))
        goto fail_socket;
    /* Accept once data has arrived (or after a second): the request line
     * can then be looked at without a wait. */
    int secs = 1;
    setsockopt(d->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs);
    if (uv_poll_init_socket(loop, &d->poll, d->fd))
        goto fail_socket;
    d->poll.data = d;
    uv_timer_init(loop, &d->sweep);
    d->sweep.data = d;
    d->open = 2;
    uv_poll_start(&d->poll, UV_READABLE, on_accept);
    /* A quarter of the timeout between sweeps, as for MHD's connections. */
    uint64_t every = header_timeout_ms / 4 ? header_timeout_ms / 4 : 1;
    if (every > LINGER_MS / 4)
        every = LINGER_MS / 4;
    uv_timer_start(&d->sweep, on_sweep, every, every);
    *out = d;
    return 0;

fail_socket:
    err = errno == EADDRINUSE ? CT_EEXISTS : CT_EIO;
    close(d->fd);
fail:
    free(d);
    return err;
}

uint16_t ct_http__door_port(const ct_http__door *d)
{
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    if (getsockname(d->fd, (struct sockaddr *)&a, &len))
        return 0;
    return ntohs(a.ss_family == AF_INET6
                     ? ((struct sockaddr_in6 *)&a)->sin6_port
                     : ((struct sockaddr_in *)&a)->sin_port);
}

uint64_t ct_http__door_accepted_at(const ct_http__door *d)
{
    return d->admitting_since;
}

void ct_http__door_quiesce(ct_http__door *d)
{
    if (d->fd >= 0) {
        uv_poll_stop(&d->poll);
        close(d->fd);
        d->fd = -1;
    }
    while (d->list)
        drop(d->list);
}

void ct_http__door_close(ct_http__door *d, void (*cb)(void *data),
                         void *data)
{
    ct_http__door_quiesce(d);
    d->closing = true;
    d->close_cb = cb;
    d->close_data = data;
    while (d->list)
        drop(d->list);
    uv_close((uv_handle_t *)&d->poll, on_door_handle_closed);
    uv_close((uv_handle_t *)&d->sweep, on_door_handle_closed);
}

void ct_http__door_free(ct_http__door *d)
{
    free(d);
}
