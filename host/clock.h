/*
 * The host clock (docs/design.md principle 5). Wall time in milliseconds since
 * the Unix epoch (UTC), either real or virtual, and one-shot timers due at
 * an absolute time on that clock. Holds expiring, isolations ending and
 * plugin schedules all run on it.
 *
 * A real clock drives its timers from a libuv loop (one uv_timer_t for the
 * earliest due timer). A virtual clock never moves by itself: the owner
 * calls ct_clock_advance, and every timer due up to the new time fires in
 * order of due time (ties in order of start), each callback seeing
 * ct_clock_now() equal to its due time. A day of timers thus runs in
 * milliseconds in tests, the REPL and simulation.
 *
 * Life cycle follows libuv's: create, start/stop timers, close with a
 * callback. The clock frees itself once libuv is done with its handle,
 * right after the close callback returns (a virtual clock does so before
 * ct_clock_close returns, or, when closed from inside a timer callback,
 * before ct_clock_advance returns). Timers are the caller's memory; after
 * ct_clock_close they are idle and may be freed at once.
 *
 * Callbacks may start and stop any timer, themselves included. On a real
 * clock a timer started by a callback with a due time already passed
 * fires on the next loop turn, never in the same dispatch, so a callback
 * that re-starts itself "now" cannot starve the loop.
 */
#ifndef CT_CLOCK_H
#define CT_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct ct_clock ct_clock;
typedef struct ct_timer ct_timer;

typedef void (*ct_timer_cb)(ct_timer *t, void *data);
typedef void (*ct_clock_close_cb)(ct_clock *c, void *data);

/*
 * A timer is embedded by its owner (no allocation): init once, start and
 * stop any number of times. Starting a started timer reschedules it.
 */
struct ct_timer {
    ct_clock *clock;
    int64_t due;      /* absolute ms on the clock */
    uint64_t order;   /* start sequence, breaks ties */
    size_t heap_index; /* position in the clock's heap; SIZE_MAX if idle */
    ct_timer_cb cb;
    void *data;
};

/* Allocates a real clock bound to loop (borrowed; must outlive it). */
int ct_clock_new_real(uv_loop_t *loop, ct_clock **out);
/* Allocates a virtual clock starting at start_ms. */
int ct_clock_new_virtual(int64_t start_ms, ct_clock **out);
/* Stops every timer and frees the clock once libuv is done with it; cb
 * (may be NULL) runs then. For a virtual clock that is immediate. */
void ct_clock_close(ct_clock *c, ct_clock_close_cb cb, void *data);

int64_t ct_clock_now(const ct_clock *c);
bool ct_clock_is_virtual(const ct_clock *c);

/* A real clock fires no timer while held (the daemon holds it while a
 * write waits for plugin code on the host thread, handoff.h); due timers
 * fire once it is let go. */
void ct_clock_hold(ct_clock *c, bool held);

/*
 * Moves a virtual clock forward by ms (>= 0), firing due timers; timers
 * started by callbacks fire too if due within the window. A timer started
 * with a due time already past fires at the current time (time never goes
 * back). CT_EINVAL on a real clock, a negative step or overflow;
 * CT_ESTATE when called from a timer callback or after close. Returns the
 * number of timers fired (>= 0).
 */
int ct_clock_advance(ct_clock *c, int64_t ms);
/* Sets a virtual clock to an absolute time (forward only), like advance. */
int ct_clock_advance_to(ct_clock *c, int64_t at_ms);

void ct_timer_init(ct_clock *c, ct_timer *t);
/* Schedules t at absolute time due (past times fire at the next chance:
 * the next loop turn, or the next advance). cb receives data. CT_EINVAL
 * without cb, CT_ESTATE once the clock is closing, CT_ENOMEM (t is then
 * idle). */
int ct_timer_start(ct_timer *t, int64_t due, ct_timer_cb cb, void *data);
void ct_timer_stop(ct_timer *t);
bool ct_timer_active(const ct_timer *t);

/* The earliest due time of any started timer, or INT64_MAX. */
int64_t ct_clock_next_due(const ct_clock *c);

/*
 * The civil day of ms in England (Europe/London), as days since
 * 1970-01-01: delays are counted in UK days (docs/reports.md). UK time is
 * GMT, and BST (GMT+1) from 01:00 GMT on the last Sunday of March to 01:00
 * GMT on the last Sunday of October (the Summer Time Order 2002; the same
 * dates since 1996, which is all the host needs). ct_clock_uk_offset
 * gives the offset in ms at ms (0 or 3600000).
 */
int64_t ct_clock_uk_day(int64_t ms);
int64_t ct_clock_uk_offset(int64_t ms);
/* The ms at which UK day `day` (days since 1970-01-01) begins: its
 * midnight in Europe/London, so reports cut days and periods where people
 * in England do (23:00 UTC the evening before, in summer). */
int64_t ct_clock_uk_midnight(int64_t day);
/* "YYYY-MM-DD" of a day number (days since 1970-01-01) into out. */
void ct_clock_day_text(int64_t day, char out[11]);

/* Formats ms as "2026-11-23T18:00:00.000Z" into buf (>= 25 bytes). */
void ct_clock_format(int64_t ms, char *buf, size_t size);
/* Parses "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM[:SS[.mmm]]Z"
 * (one to three fraction digits). Strict: CT_EINVAL on impossible dates,
 * leap seconds, offsets other than Z or trailing text. */
int ct_clock_parse(const char *s, int64_t *out);
/*
 * Parses a whole day "YYYY-MM-DD" into *out (midnight UTC). On CT_EINVAL
 * writes why into msg (at most len bytes), telling a date that does not
 * exist ("2026-02-30 does not exist: February 2026 has 28 days") from
 * text that is not shaped like a date ("... is not a date YYYY-MM-DD").
 */
int ct_clock_parse_day(const char *s, int64_t *out, char *msg, size_t len);

#endif
