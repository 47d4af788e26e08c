/*
 * The host clock: real (libuv) or virtual, with one-shot timers kept in a
 * binary min-heap ordered by (due, start order). See clock.h.
 */
#include "clock.h"

#include "error.h"
#include "util.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ct_clock {
    bool is_virtual;
    bool closing;    /* ct_clock_close was called */
    bool dispatching; /* inside advance or the uv timer callback */
    bool held;       /* ct_clock_hold: a real clock fires nothing */
    int64_t now;     /* virtual time; unused by a real clock */
    uint64_t next_order;
    ct_timer **heap;
    size_t n, cap;
    /* Real clock only. */
    uv_loop_t *loop;
    uv_timer_t uvt;
    int64_t armed_due; /* due time the uv timer is set for; INT64_MAX idle */
    ct_clock_close_cb close_cb;
    void *close_data;
};

/* ---- heap ---------------------------------------------------------- */

static bool before(const ct_timer *a, const ct_timer *b)
{
    return a->due < b->due || (a->due == b->due && a->order < b->order);
}

static void place(ct_clock *c, size_t i, ct_timer *t)
{
    c->heap[i] = t;
    t->heap_index = i;
}

static void sift_up(ct_clock *c, size_t i)
{
    ct_timer *t = c->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, c->heap[parent]))
            break;
        place(c, i, c->heap[parent]);
        i = parent;
    }
    place(c, i, t);
}

static void sift_down(ct_clock *c, size_t i)
{
    ct_timer *t = c->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const ct_timer *best = t;
        if (l < c->n && before(c->heap[l], best)) {
            m = l;
            best = c->heap[l];
        }
        if (r < c->n && before(c->heap[r], best))
            m = r;
        if (m == i)
            break;
        place(c, i, c->heap[m]);
        i = m;
    }
    place(c, i, t);
}

static int heap_push(ct_clock *c, ct_timer *t)
{
    if (ct_grow(&c->heap, &c->cap, c->n, sizeof *c->heap, 16))
        return CT_ENOMEM;
    place(c, c->n++, t);
    sift_up(c, c->n - 1);
    return 0;
}

static void heap_remove(ct_clock *c, ct_timer *t)
{
    size_t i = t->heap_index;
    ct_timer *last = c->heap[--c->n];
    t->heap_index = SIZE_MAX;
    if (i == c->n)
        return;
    place(c, i, last);
    sift_down(c, i);
    sift_up(c, last->heap_index);
}

/* ---- real clock ---------------------------------------------------- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_uv_timer(uv_timer_t *h);

/* Points the uv timer at the earliest due timer, or stops it so an idle
 * clock does not keep the loop alive. Not while dispatching: the dispatch
 * loop re-arms once at its end, with min_delay 1 because libuv (before
 * 1.45) runs a timer re-started with timeout 0 again in the same timer
 * phase, which would let a callback re-starting itself "now" spin. */
static void rearm_after(ct_clock *c, int64_t min_delay)
{
    if (c->is_virtual || c->dispatching || c->closing)
        return;
    int64_t due = c->n ? c->heap[0]->due : INT64_MAX;
    if (due == c->armed_due)
        return;
    c->armed_due = due;
    if (due == INT64_MAX) {
        uv_timer_stop(&c->uvt);
        return;
    }
    int64_t delay = due - wall_ms();
    if (delay < min_delay)
        delay = min_delay;
    /* uv measures from its cached loop time; refresh it so a stale cache
     * does not make us fire early. An early wake-up only re-arms. */
    uv_update_time(c->loop);
    uv_timer_start(&c->uvt, on_uv_timer, (uint64_t)delay, 0);
}

static void rearm(ct_clock *c)
{
    rearm_after(c, 0);
}

static void free_clock(ct_clock *c)
{
    ct_clock_close_cb cb = c->close_cb;
    void *data = c->close_data;
    if (cb)
        cb(c, data);
    free(c->heap);
    free(c);
}

static void on_uv_closed(uv_handle_t *h)
{
    free_clock(h->data);
}

/* A real clock's dispatch stops after this much callback time and lets
 * the loop serve I/O before the next: a hundred plugin schedules of 40 ms
 * due together were four seconds of one turn, without a health answer. */
#define DISPATCH_SLICE_NS (50 * 1000000ULL)

/*
 * Fires every timer due by now that was started before this dispatch
 * began, for DISPATCH_SLICE_NS at most (the rest fire on the next turn).
 * Timers started by callbacks wait for the next loop turn even if
 * already due, so a callback re-starting itself at "now" cannot spin.
 */
static void on_uv_timer(uv_timer_t *h)
{
    ct_clock *c = h->data;
    if (c->held) { /* ct_clock_hold(c, false) arms it again */
        c->armed_due = INT64_MAX;
        return;
    }
    uint64_t horizon = c->next_order;
    int64_t now = wall_ms();
    uint64_t t0 = uv_hrtime();
    c->dispatching = true;
    c->armed_due = INT64_MAX; /* the one-shot uv timer has fired */
    while (!c->closing && !c->held && c->n && c->heap[0]->due <= now &&
           c->heap[0]->order < horizon &&
           uv_hrtime() - t0 < DISPATCH_SLICE_NS) {
        ct_timer *t = c->heap[0];
        heap_remove(c, t);
        t->cb(t, t->data);
    }
    c->dispatching = false;
    rearm_after(c, 1);
}

/* ---- public -------------------------------------------------------- */

void ct_clock_hold(ct_clock *c, bool held)
{
    c->held = held;
    if (!held)
        rearm(c);
}

static ct_clock *clock_alloc(bool is_virtual)
{
    ct_clock *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->is_virtual = is_virtual;
    c->armed_due = INT64_MAX;
    return c;
}

/* The loop is borrowed and must outlive the clock (until the close
 * callback ran). *out is owned by the caller until ct_clock_close. */
int ct_clock_new_real(uv_loop_t *loop, ct_clock **out)
{
    if (!loop || !out)
        return CT_EINVAL;
    ct_clock *c = clock_alloc(false);
    if (!c)
        return CT_ENOMEM;
    int rc = uv_timer_init(loop, &c->uvt);
    if (rc < 0) {
        free(c);
        return ct_err_from_uv(rc);
    }
    c->loop = loop;
    c->uvt.data = c;
    *out = c;
    return 0;
}

/* *out is owned by the caller until ct_clock_close. */
int ct_clock_new_virtual(int64_t start_ms, ct_clock **out)
{
    if (!out)
        return CT_EINVAL;
    ct_clock *c = clock_alloc(true);
    if (!c)
        return CT_ENOMEM;
    c->now = start_ms;
    *out = c;
    return 0;
}

/* Takes back ownership of c; c is freed right after cb returns. Timers
 * are left idle and their memory stays with their owners. */
void ct_clock_close(ct_clock *c, ct_clock_close_cb cb, void *data)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    c->close_cb = cb;
    c->close_data = data;
    for (size_t i = 0; i < c->n; i++)
        c->heap[i]->heap_index = SIZE_MAX;
    c->n = 0;
    if (!c->is_virtual) {
        uv_timer_stop(&c->uvt);
        uv_close((uv_handle_t *)&c->uvt, on_uv_closed);
        return;
    }
    /* Closed from inside a callback: advance frees it on the way out. */
    if (!c->dispatching)
        free_clock(c);
}

int64_t ct_clock_now(const ct_clock *c)
{
    return c->is_virtual ? c->now : wall_ms();
}

bool ct_clock_is_virtual(const ct_clock *c)
{
    return c->is_virtual;
}

/*
 * Fires timers in (due, order) order while the earliest is due by at.
 * A timer started in the past fires at the current time: virtual time
 * never goes backwards.
 */
int ct_clock_advance_to(ct_clock *c, int64_t at_ms)
{
    if (!c->is_virtual || at_ms < c->now)
        return CT_EINVAL;
    if (c->closing || c->dispatching)
        return CT_ESTATE;
    int fired = 0;
    c->dispatching = true;
    while (!c->closing && c->n && c->heap[0]->due <= at_ms) {
        ct_timer *t = c->heap[0];
        heap_remove(c, t);
        if (t->due > c->now)
            c->now = t->due;
        if (fired < INT_MAX)
            fired++;
        t->cb(t, t->data);
    }
    c->dispatching = false;
    if (c->closing) {
        free_clock(c);
        return fired;
    }
    c->now = at_ms;
    return fired;
}

int ct_clock_advance(ct_clock *c, int64_t ms)
{
    if (!c->is_virtual || ms < 0 || c->now > INT64_MAX - ms)
        return CT_EINVAL;
    return ct_clock_advance_to(c, c->now + ms);
}

/* t is owned by the caller and must stay put while it is started. */
void ct_timer_init(ct_clock *c, ct_timer *t)
{
    memset(t, 0, sizeof *t);
    t->clock = c;
    t->heap_index = SIZE_MAX;
}

int ct_timer_start(ct_timer *t, int64_t due, ct_timer_cb cb, void *data)
{
    ct_clock *c = t->clock;
    if (!cb)
        return CT_EINVAL;
    if (c->closing)
        return CT_ESTATE;
    if (t->heap_index != SIZE_MAX)
        heap_remove(c, t);
    t->due = due;
    t->cb = cb;
    t->data = data;
    t->order = c->next_order++;
    int rc = heap_push(c, t);
    rearm(c);
    return rc;
}

void ct_timer_stop(ct_timer *t)
{
    if (t->heap_index == SIZE_MAX)
        return;
    heap_remove(t->clock, t);
    rearm(t->clock);
}

bool ct_timer_active(const ct_timer *t)
{
    return t->heap_index != SIZE_MAX;
}

int64_t ct_clock_next_due(const ct_clock *c)
{
    return c->n ? c->heap[0]->due : INT64_MAX;
}

/* ---- ISO-8601 ------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The day number of the last Sunday of month m (3 or 10) of year y. */
static int64_t last_sunday(int64_t y, int m)
{
    int64_t last = days_from_civil(y, m, 31); /* March and October: 31 */
    int64_t wd = ((last + 4) % 7 + 7) % 7;    /* 1970-01-01 was a Thursday */
    return last - wd;
}

int64_t ct_clock_uk_offset(int64_t ms)
{
    int64_t y;
    int m, d;
    civil_from_days(floor_div(ms, 86400000), &y, &m, &d);
    if (m < 3 || m > 10)
        return 0;
    int64_t start = last_sunday(y, 3) * 86400000 + 3600000;
    int64_t end = last_sunday(y, 10) * 86400000 + 3600000;
    return ms >= start && ms < end ? 3600000 : 0;
}

int64_t ct_clock_uk_day(int64_t ms)
{
    return floor_div(ms + ct_clock_uk_offset(ms), 86400000);
}

int64_t ct_clock_uk_midnight(int64_t day)
{
    /* The clocks change at 01:00 GMT, never between 23:00 and 01:00 GMT,
     * so the offset an hour before UTC midnight is the one at the UK
     * midnight too. */
    int64_t utc = day * 86400000;
    return utc - ct_clock_uk_offset(utc - 3600000);
}

void ct_clock_day_text(int64_t day, char out[11])
{
    int64_t y;
    int m, d;
    civil_from_days(day, &y, &m, &d);
    /* Years 0..9999 only, so that the text always fits. */
    int yy = (int)(y < 0 ? 0 : y > 9999 ? 9999 : y);
    char buf[32];
    snprintf(buf, sizeof buf, "%04d-%02d-%02d", yy, m % 100, d % 100);
    memcpy(out, buf, 10);
    out[10] = '\0';
}

/* buf is the caller's; always NUL-terminated when size > 0. */
void ct_clock_format(int64_t ms, char *buf, size_t size)
{
    int64_t days = floor_div(ms, 86400000);
    int64_t rem = ms - days * 86400000;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, size, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m,
             d, (int)(rem / 3600000), (int)(rem / 60000 % 60),
             (int)(rem / 1000 % 60), (int)(rem % 1000));
}

/* Reads exactly n digits at *p, advancing it; -1 when not digits. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return -1;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    return v;
}

static int days_in_month(int y, int m)
{
    static const int len[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : len[m - 1];
}

int ct_clock_parse_day(const char *s, int64_t *out, char *msg, size_t len)
{
    static const char *const months[] = {
        "January", "February", "March",     "April",   "May",      "June",
        "July",    "August",   "September", "October", "November", "December"};
    const char *p = s;
    int y = -1, mo = -1, d = -1;
    if (s && strlen(s) == 10 && (y = digits(&p, 4)) >= 0 && *p++ == '-' &&
        (mo = digits(&p, 2)) >= 0 && *p++ == '-' && (d = digits(&p, 2)) >= 0) {
        if (mo < 1 || mo > 12) {
            snprintf(msg, len, "%s does not exist: a month is 01 to 12", s);
            return CT_EINVAL;
        }
        if (d < 1 || d > days_in_month(y, mo)) {
            snprintf(msg, len, "%s does not exist: %s %d has %d days", s,
                     months[mo - 1], y, days_in_month(y, mo));
            return CT_EINVAL;
        }
        *out = days_from_civil(y, mo, d) * 86400000;
        return 0;
    }
    snprintf(msg, len, "'%s' is not a date YYYY-MM-DD", s ? s : "");
    return CT_EINVAL;
}

/*
 * Strict: four-digit years, no leap seconds, "Z" only, one to three
 * fraction digits (".5" is 500 ms). Anything else is CT_EINVAL and *out
 * is left alone.
 */
int ct_clock_parse(const char *s, int64_t *out)
{
    if (!s)
        return CT_EINVAL;
    const char *p = s;
    int y = digits(&p, 4);
    if (y < 0 || *p++ != '-')
        return CT_EINVAL;
    int mo = digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-')
        return CT_EINVAL;
    int d = digits(&p, 2);
    if (d < 1 || d > days_in_month(y, mo))
        return CT_EINVAL;
    int64_t ms = days_from_civil(y, mo, d) * 86400000;
    if (*p == '\0') {
        *out = ms;
        return 0;
    }
    if (*p++ != 'T')
        return CT_EINVAL;
    int h = digits(&p, 2);
    if (h < 0 || h > 23 || *p++ != ':')
        return CT_EINVAL;
    int mi = digits(&p, 2);
    if (mi < 0 || mi > 59)
        return CT_EINVAL;
    int sec = 0, frac = 0;
    if (*p == ':') {
        p++;
        sec = digits(&p, 2);
        if (sec < 0 || sec > 59)
            return CT_EINVAL;
        if (*p == '.') {
            p++;
            int n = 0;
            while (n < 3 && p[n] >= '0' && p[n] <= '9')
                n++;
            if (n == 0)
                return CT_EINVAL;
            frac = digits(&p, n);
            for (int i = n; i < 3; i++)
                frac *= 10;
        }
    }
    if (p[0] != 'Z' || p[1] != '\0')
        return CT_EINVAL;
    *out = ms + (int64_t)h * 3600000 + (int64_t)mi * 60000 +
           (int64_t)sec * 1000 + frac;
    return 0;
}
