#include "clock.h"
#include "error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MINUTE (60 * 1000LL)
#define DAY (24 * 60 * MINUTE)
/* 2026-11-23T00:00:00Z */
#define T0 1795392000000LL

/* A log of firings: which timer (by tag) and what ct_clock_now said. */
typedef struct firing {
    int tag;
    int64_t now;
} firing;

static firing fired[256];
static int nfired;

typedef struct tagged {
    ct_timer t;
    int tag;
    ct_timer *other;  /* a timer to stop or start from the callback */
    int64_t period;   /* > 0: re-start self period ms after due */
    int remaining;    /* re-starts left when periodic */
} tagged;

static void record(ct_timer *t, void *data)
{
    tagged *tg = data;
    cr_assert_lt(nfired, 256);
    fired[nfired].tag = tg->tag;
    fired[nfired].now = ct_clock_now(t->clock);
    nfired++;
}

static void setup(void)
{
    nfired = 0;
    memset(fired, 0, sizeof fired);
}

TestSuite(clock, .init = setup);

static ct_clock *virtual_at(int64_t start)
{
    ct_clock *c = NULL;
    cr_assert_eq(ct_clock_new_virtual(start, &c), 0);
    cr_assert(ct_clock_is_virtual(c));
    cr_assert_eq(ct_clock_now(c), start);
    return c;
}

static void start(tagged *tg, int64_t due, ct_timer_cb cb)
{
    cr_assert_eq(ct_timer_start(&tg->t, due, cb, tg), 0);
}

Test(clock, fires_in_due_order_seeing_due_time)
{
    ct_clock *c = virtual_at(T0);
    tagged a = {.tag = 1}, b = {.tag = 2}, d = {.tag = 3};
    ct_timer_init(c, &a.t);
    ct_timer_init(c, &b.t);
    ct_timer_init(c, &d.t);
    start(&a, T0 + 300, record);
    start(&b, T0 + 100, record);
    start(&d, T0 + 200, record);
    cr_assert_eq(ct_clock_next_due(c), T0 + 100);
    cr_assert_eq(ct_clock_advance(c, 150), 1);
    cr_assert_eq(ct_clock_now(c), T0 + 150);
    cr_assert_eq(ct_clock_advance(c, 1000), 2);
    cr_assert_eq(ct_clock_now(c), T0 + 1150);
    cr_assert_eq(nfired, 3);
    cr_assert_eq(fired[0].tag, 2);
    cr_assert_eq(fired[0].now, T0 + 100);
    cr_assert_eq(fired[1].tag, 3);
    cr_assert_eq(fired[1].now, T0 + 200);
    cr_assert_eq(fired[2].tag, 1);
    cr_assert_eq(fired[2].now, T0 + 300);
    cr_assert_not(ct_timer_active(&a.t));
    cr_assert_eq(ct_clock_next_due(c), INT64_MAX);
    ct_clock_close(c, NULL, NULL);
}

Test(clock, ties_fire_in_start_order)
{
    ct_clock *c = virtual_at(0);
    tagged t[6];
    for (int i = 0; i < 6; i++) {
        t[i] = (tagged){.tag = i};
        ct_timer_init(c, &t[i].t);
        start(&t[i], 50, record);
    }
    /* Re-starting moves a timer behind the others at the same time. */
    start(&t[0], 50, record);
    cr_assert_eq(ct_clock_advance_to(c, 50), 6);
    int want[] = {1, 2, 3, 4, 5, 0};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(fired[i].tag, want[i], "firing %d", i);
        cr_assert_eq(fired[i].now, 50);
    }
    ct_clock_close(c, NULL, NULL);
}

Test(clock, restart_reschedules_and_stop_cancels)
{
    ct_clock *c = virtual_at(0);
    tagged a = {.tag = 1}, b = {.tag = 2};
    ct_timer_init(c, &a.t);
    ct_timer_init(c, &b.t);
    start(&a, 500, record);
    start(&a, 200, record); /* earlier */
    start(&b, 100, record);
    start(&b, 900, record); /* later */
    cr_assert_eq(ct_clock_next_due(c), 200);
    cr_assert_eq(ct_clock_advance(c, 600), 1);
    cr_assert_eq(fired[0].tag, 1);
    cr_assert_eq(fired[0].now, 200);
    ct_timer_stop(&b.t);
    ct_timer_stop(&b.t); /* harmless twice */
    cr_assert_not(ct_timer_active(&b.t));
    cr_assert_eq(ct_clock_advance(c, 1000), 0);
    cr_assert_eq(nfired, 1);
    ct_clock_close(c, NULL, NULL);
}

static void stop_other(ct_timer *t, void *data)
{
    tagged *tg = data;
    record(t, data);
    ct_timer_stop(tg->other);
    ct_timer_stop(t); /* stopping itself while firing is harmless */
}

Test(clock, callbacks_stop_timers)
{
    ct_clock *c = virtual_at(0);
    tagged a = {.tag = 1}, b = {.tag = 2}, d = {.tag = 3};
    ct_timer_init(c, &a.t);
    ct_timer_init(c, &b.t);
    ct_timer_init(c, &d.t);
    a.other = &b.t;
    start(&a, 10, stop_other);
    start(&b, 20, record); /* due in the same window, stopped by a */
    start(&d, 30, record);
    cr_assert_eq(ct_clock_advance(c, 100), 2);
    cr_assert_eq(nfired, 2);
    cr_assert_eq(fired[0].tag, 1);
    cr_assert_eq(fired[1].tag, 3);
    cr_assert_not(ct_timer_active(&b.t));
    ct_clock_close(c, NULL, NULL);
}

static void start_other(ct_timer *t, void *data)
{
    tagged *tg = data;
    record(t, data);
    tagged *o = tg->other->data;
    cr_assert_eq(ct_timer_start(tg->other, ct_clock_now(t->clock) + o->period,
                                record, o),
                 0);
}

Test(clock, timers_started_by_callbacks_fire_within_window)
{
    ct_clock *c = virtual_at(0);
    tagged a = {.tag = 1}, near = {.tag = 2, .period = 50},
           a2 = {.tag = 3}, far = {.tag = 4, .period = 5000};
    ct_timer_init(c, &a.t);
    ct_timer_init(c, &near.t);
    ct_timer_init(c, &a2.t);
    ct_timer_init(c, &far.t);
    near.t.data = &near;
    far.t.data = &far;
    a.other = &near.t;
    a2.other = &far.t;
    start(&a, 100, start_other);  /* starts near at 150 */
    start(&a2, 120, start_other); /* starts far at 5120 */
    cr_assert_eq(ct_clock_advance(c, 1000), 3);
    cr_assert_eq(nfired, 3);
    cr_assert_eq(fired[2].tag, 2);
    cr_assert_eq(fired[2].now, 150);
    cr_assert(ct_timer_active(&far.t));
    cr_assert_eq(ct_clock_next_due(c), 5120);
    ct_clock_close(c, NULL, NULL);
    cr_assert_not(ct_timer_active(&far.t), "close leaves timers idle");
}

static void periodic(ct_timer *t, void *data)
{
    tagged *tg = data;
    record(t, data);
    if (tg->remaining-- > 0)
        cr_assert_eq(ct_timer_start(t, t->due + tg->period, periodic, tg), 0);
}

Test(clock, a_day_of_quarter_hours)
{
    ct_clock *c = virtual_at(T0);
    tagged q = {.tag = 7, .period = 15 * MINUTE, .remaining = 1000};
    ct_timer_init(c, &q.t);
    start(&q, T0 + 15 * MINUTE, periodic);
    cr_assert_eq(ct_clock_advance(c, DAY), 96);
    cr_assert_eq(nfired, 96);
    for (int i = 0; i < 96; i++)
        cr_assert_eq(fired[i].now, T0 + (i + 1) * 15 * MINUTE, "firing %d", i);
    cr_assert_eq(ct_clock_now(c), T0 + DAY);
    cr_assert_eq(ct_clock_next_due(c), T0 + DAY + 15 * MINUTE);
    ct_clock_close(c, NULL, NULL);
}

Test(clock, past_due_fires_at_next_advance_without_going_back)
{
    ct_clock *c = virtual_at(1000);
    tagged a = {.tag = 1};
    ct_timer_init(c, &a.t);
    start(&a, 10, record);
    cr_assert_eq(ct_clock_advance(c, 0), 1);
    cr_assert_eq(fired[0].now, 1000);
    cr_assert_eq(ct_clock_now(c), 1000);
    ct_clock_close(c, NULL, NULL);
}

Test(clock, advance_refusals)
{
    ct_clock *c = virtual_at(1000);
    cr_assert_eq(ct_clock_advance(c, -1), CT_EINVAL);
    cr_assert_eq(ct_clock_advance_to(c, 999), CT_EINVAL);
    cr_assert_eq(ct_clock_advance(c, INT64_MAX), CT_EINVAL);
    cr_assert_eq(ct_clock_now(c), 1000);
    tagged a = {.tag = 1};
    ct_timer_init(c, &a.t);
    cr_assert_eq(ct_timer_start(&a.t, 5, NULL, NULL), CT_EINVAL);
    ct_clock_close(c, NULL, NULL);

    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    cr_assert_eq(ct_clock_new_real(&loop, &c), 0);
    cr_assert_not(ct_clock_is_virtual(c));
    cr_assert_eq(ct_clock_advance(c, 10), CT_EINVAL);
    ct_clock_close(c, NULL, NULL);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

static int closed_calls;
static void on_closed(ct_clock *c, void *data)
{
    (void)c;
    cr_assert_eq(data, &closed_calls);
    closed_calls++;
}

static void advance_inside(ct_timer *t, void *data)
{
    record(t, data);
    cr_assert_eq(ct_clock_advance(t->clock, 1), CT_ESTATE);
}

static void close_inside(ct_timer *t, void *data)
{
    record(t, data);
    ct_clock_close(t->clock, on_closed, &closed_calls);
}

Test(clock, virtual_close_life_cycle)
{
    closed_calls = 0;
    ct_clock *c = virtual_at(0);
    ct_clock_close(c, on_closed, &closed_calls);
    cr_assert_eq(closed_calls, 1, "virtual close calls back at once");

    /* Closing from a callback defers the free to the end of advance;
     * later timers do not fire. */
    c = virtual_at(0);
    tagged a = {.tag = 1}, b = {.tag = 2}, d = {.tag = 3};
    ct_timer_init(c, &a.t);
    ct_timer_init(c, &b.t);
    ct_timer_init(c, &d.t);
    start(&a, 5, advance_inside);
    start(&b, 10, close_inside);
    start(&d, 20, record);
    cr_assert_eq(ct_clock_advance(c, 100), 2);
    cr_assert_eq(closed_calls, 2);
    cr_assert_eq(nfired, 2);
    cr_assert_not(ct_timer_active(&d.t));
}

/* ---- real clock ---------------------------------------------------- */

static void real_fired(ct_timer *t, void *data)
{
    (void)t;
    int *n = data;
    (*n)++;
}

Test(clock, real_clock_fires_on_the_loop_and_closes_cleanly)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    ct_clock *c = NULL;
    cr_assert_eq(ct_clock_new_real(&loop, &c), 0);

    /* The wall clock in ms, within a second of time(). */
    int64_t now = ct_clock_now(c);
    int64_t secs = (int64_t)time(NULL);
    cr_assert(now / 1000 >= secs - 1 && now / 1000 <= secs + 1);

    int n = 0, never = 0;
    ct_timer t, idle, stopped;
    ct_timer_init(c, &t);
    ct_timer_init(c, &idle);
    ct_timer_init(c, &stopped);
    cr_assert_eq(ct_timer_start(&stopped, now + 1, real_fired, &never), 0);
    cr_assert_eq(ct_timer_start(&t, now + 5, real_fired, &n), 0);
    ct_timer_stop(&stopped);
    /* The loop runs until no timer is left: the clock's handle must not
     * keep it alive once idle. */
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(n, 1);
    cr_assert_eq(never, 0);
    cr_assert_not(ct_timer_active(&t));

    /* A timer far away is dropped by close; the loop still ends. */
    cr_assert_eq(ct_timer_start(&idle, now + DAY, real_fired, &never), 0);
    closed_calls = 0;
    ct_clock_close(c, on_closed, &closed_calls);
    cr_assert_eq(closed_calls, 0, "real close calls back from the loop");
    cr_assert_not(ct_timer_active(&idle));
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(closed_calls, 1);
    cr_assert_eq(never, 0);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

static void restart_past(ct_timer *t, void *data)
{
    int *n = data;
    if (++*n < 3)
        cr_assert_eq(ct_timer_start(t, ct_clock_now(t->clock) - 1000,
                                    restart_past, n),
                     0);
}

Test(clock, real_clock_past_due_timers_fire_on_later_turns)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    ct_clock *c = NULL;
    cr_assert_eq(ct_clock_new_real(&loop, &c), 0);
    int n = 0;
    ct_timer t;
    ct_timer_init(c, &t);
    cr_assert_eq(ct_timer_start(&t, 0, restart_past, &n), 0);
    /* One timer phase fires it once: re-starts wait for the next turn
     * (otherwise this would spin through all three at once). */
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(n, 1, "n=%d", n);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(n, 3);
    ct_clock_close(c, NULL, NULL);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

/* ---- ISO-8601 ------------------------------------------------------ */

static void round_trip(int64_t ms, const char *text)
{
    char buf[32];
    ct_clock_format(ms, buf, sizeof buf);
    cr_assert_str_eq(buf, text);
    int64_t back = -1;
    cr_assert_eq(ct_clock_parse(buf, &back), 0, "%s", buf);
    cr_assert_eq(back, ms, "%s", buf);
}

Test(clock, format_and_parse_round_trip)
{
    round_trip(0, "1970-01-01T00:00:00.000Z");
    round_trip(T0 + 18 * 3600000LL, "2026-11-23T18:00:00.000Z");
    round_trip(-1, "1969-12-31T23:59:59.999Z");
    round_trip(951782400000LL + 12345, "2000-02-29T00:00:12.345Z");
    round_trip(4107542399999LL, "2100-02-28T23:59:59.999Z");
    round_trip(-62167219200000LL, "0000-01-01T00:00:00.000Z");
    round_trip(253402300799999LL, "9999-12-31T23:59:59.999Z");

    /* Agrees with the C library across a sweep of odd instants. */
    for (int64_t ms = -86400000LL * 400; ms < 86400000LL * 366 * 200;
         ms += 86400000LL * 37 + 3723456) {
        time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        struct tm tm;
        cr_assert_not_null(gmtime_r(&secs, &tm));
        char want[96], got[32];
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(ms - (int64_t)secs * 1000));
        ct_clock_format(ms, got, sizeof got);
        cr_assert_str_eq(got, want);
        int64_t back;
        cr_assert_eq(ct_clock_parse(got, &back), 0);
        cr_assert_eq(back, ms);
    }
}

Test(clock, parse_shorter_forms)
{
    int64_t ms;
    cr_assert_eq(ct_clock_parse("2026-11-23", &ms), 0);
    cr_assert_eq(ms, T0);
    cr_assert_eq(ct_clock_parse("2026-11-23T18:05Z", &ms), 0);
    cr_assert_eq(ms, T0 + 18 * 3600000LL + 5 * MINUTE);
    cr_assert_eq(ct_clock_parse("2026-11-23T18:05:07Z", &ms), 0);
    cr_assert_eq(ms, T0 + 18 * 3600000LL + 5 * MINUTE + 7000);
    cr_assert_eq(ct_clock_parse("2026-11-23T18:05:07.5Z", &ms), 0);
    cr_assert_eq(ms, T0 + 18 * 3600000LL + 5 * MINUTE + 7500);
    cr_assert_eq(ct_clock_parse("2026-11-23T18:05:07.05Z", &ms), 0);
    cr_assert_eq(ms, T0 + 18 * 3600000LL + 5 * MINUTE + 7050);
    cr_assert_eq(ct_clock_parse("2024-02-29", &ms), 0);
}

Test(clock, parse_refusals)
{
    static const char *bad[] = {
        "",
        "2026",
        "2026-11",
        "26-11-23",
        "2026-1-23",
        "2026-00-10",
        "2026-13-01",
        "2026-11-00",
        "2026-11-31",
        "2026-02-29",
        "1900-02-29",
        "2026-11-23T",
        "2026-11-23T18Z",
        "2026-11-23T18:00",
        "2026-11-23T24:00Z",
        "2026-11-23T18:60Z",
        "2026-11-23T18:00:60Z",
        "2026-11-23T18:00:00.Z",
        "2026-11-23T18:00:00.1234Z",
        "2026-11-23T18:00:00+00:00",
        "2026-11-23 18:00Z",
        "2026-11-23t18:00z",
        "2026-11-23T18:00Zjunk",
        "2026-11-23x",
        " 2026-11-23",
        "2026-11-23T-1:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        cr_assert_eq(ct_clock_parse(bad[i], &ms), CT_EINVAL, "'%s'", bad[i]);
        cr_assert_eq(ms, 42, "'%s' left *out alone", bad[i]);
    }
    int64_t ms;
    cr_assert_eq(ct_clock_parse(NULL, &ms), CT_EINVAL);
}

/* A whole day: a date that does not exist is told from a wrong shape. */
Test(clock, parse_day_says_why)
{
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"2026-02-30", "2026-02-30 does not exist: February 2026 has 28 days"},
        {"2026-02-29", "2026-02-29 does not exist: February 2026 has 28 days"},
        {"2026-04-31", "2026-04-31 does not exist: April 2026 has 30 days"},
        {"2026-11-00", "2026-11-00 does not exist: November 2026 has 30 days"},
        {"2026-13-01", "2026-13-01 does not exist: a month is 01 to 12"},
        {"23/11/2026", "'23/11/2026' is not a date YYYY-MM-DD"},
        {"2026-11-23T00:00Z", "'2026-11-23T00:00Z' is not a date YYYY-MM-DD"},
        {"2026-1-230", "'2026-1-230' is not a date YYYY-MM-DD"},
        {"", "'' is not a date YYYY-MM-DD"},
    };
    char msg[120];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        cr_assert_eq(ct_clock_parse_day(bad[i].in, &ms, msg, sizeof msg),
                     CT_EINVAL, "'%s'", bad[i].in);
        cr_assert_str_eq(msg, bad[i].msg);
        cr_assert_eq(ms, 42);
    }
    int64_t ms = 0, want = 0;
    cr_assert_eq(ct_clock_parse_day("2028-02-29", &ms, msg, sizeof msg), 0);
    cr_assert_eq(ct_clock_parse("2028-02-29", &want), 0);
    cr_assert_eq(ms, want);
}

/* UK days: 23:30 GMT in winter is still that day; 23:30 UTC in summer is
 * already the next day in BST; the changes happen at 01:00 GMT on the
 * last Sundays of March and October. */
Test(clock, uk_day_follows_bst)
{
    static const struct {
        const char *utc, *day;
    } cases[] = {
        {"2026-01-15T23:30:00Z", "2026-01-15"},
        {"2026-07-15T23:30:00Z", "2026-07-16"},
        {"2026-07-15T22:59:59Z", "2026-07-15"},
        {"2026-03-29T00:59:59Z", "2026-03-29"}, /* GMT still */
        {"2026-03-28T23:30:00Z", "2026-03-28"}, /* the night before: GMT */
        {"2026-03-29T23:30:00Z", "2026-03-30"}, /* BST from 01:00 GMT */
        {"2026-10-24T23:30:00Z", "2026-10-25"}, /* BST still */
        {"2026-10-25T23:30:00Z", "2026-10-25"}, /* GMT again */
        {"2024-03-31T23:00:00Z", "2024-04-01"},
        {"2024-03-30T23:00:00Z", "2024-03-30"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms;
        char day[11];
        cr_assert_eq(ct_clock_parse(cases[i].utc, &ms), 0);
        ct_clock_day_text(ct_clock_uk_day(ms), day);
        cr_assert_str_eq(day, cases[i].day, "%s", cases[i].utc);
    }
}

/* Against the system's tz database, where it is installed: every hour of
 * 1996 to 2040 gives the same UK date as localtime in Europe/London. */
Test(clock, uk_day_matches_tzdata)
{
    FILE *f = fopen("/usr/share/zoneinfo/Europe/London", "rb");
    if (!f)
        cr_skip_test("no tz database (tzdata) on this machine");
    fclose(f);
    setenv("TZ", "Europe/London", 1);
    tzset();
    int64_t from = 820454400000; /* 1996-01-01 */
    int64_t to = 2209075200000;  /* 2040-01-01 */
    for (int64_t ms = from; ms < to; ms += 3600000 - 60000) {
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        localtime_r(&t, &tm);
        char want[32], got[11];
        snprintf(want, sizeof want, "%04d-%02d-%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday);
        ct_clock_day_text(ct_clock_uk_day(ms), got);
        cr_assert_str_eq(got, want, "at %lld", (long long)ms);
    }
}

/* A UK day begins at its Europe/London midnight: 00:00 UTC in winter,
 * 23:00 UTC the evening before in summer, on the days the clocks change
 * too; every day from 1996 to 2040 begins where ct_clock_uk_day turns. */
Test(clock, uk_midnight_starts_the_uk_day)
{
    static const struct {
        const char *day, *utc;
    } cases[] = {
        {"2026-01-15", "2026-01-15T00:00:00Z"},
        {"2026-07-16", "2026-07-15T23:00:00Z"},
        {"2026-03-29", "2026-03-29T00:00:00Z"}, /* GMT at its midnight */
        {"2026-03-30", "2026-03-29T23:00:00Z"}, /* the first BST midnight */
        {"2026-10-25", "2026-10-24T23:00:00Z"}, /* BST at its midnight */
        {"2026-10-26", "2026-10-26T00:00:00Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t day_ms, want;
        cr_assert_eq(ct_clock_parse(cases[i].day, &day_ms), 0);
        cr_assert_eq(ct_clock_parse(cases[i].utc, &want), 0);
        cr_assert_eq(ct_clock_uk_midnight(day_ms / 86400000), want, "%s",
                     cases[i].day);
    }
    for (int64_t day = 9496; day < 25567; day++) { /* 1996 to 2040 */
        int64_t m = ct_clock_uk_midnight(day);
        cr_assert_eq(ct_clock_uk_day(m), day);
        cr_assert_eq(ct_clock_uk_day(m - 1), day - 1);
    }
}
