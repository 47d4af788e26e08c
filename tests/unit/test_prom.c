/*
 * The metrics registry: families, labels, escaping, histograms and
 * series computed at scrape time, checked on the rendered text.
 */
#include "prom.h"

#include "error.h"
#include "log.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static char *render(ct_prom *p, ct_buf *b)
{
    b->len = 0;
    cr_assert_eq(ct_prom_render(p, b), 0);
    return b->data;
}

Test(prom, counters_and_gauges_with_labels)
{
    ct_prom *p;
    cr_assert_eq(ct_prom_new(&p), 0);
    ct_prom_family *req, *up;
    cr_assert_eq(ct_prom_counter(p, "t_requests_total", "Requests.",
                                 (const char *[]){"route", "status", NULL},
                                 &req),
                 0);
    cr_assert_eq(ct_prom_gauge(p, "t_up", "Up.", NULL, &up), 0);
    cr_assert_eq(ct_prom_add(req, (const char *[]){"/a", "200"}, 1), 0);
    cr_assert_eq(ct_prom_add(req, (const char *[]){"/a", "200"}, 2), 0);
    cr_assert_eq(ct_prom_add(req, (const char *[]){"/b", "404"}, 1), 0);
    cr_assert_eq(ct_prom_set(up, NULL, 0.25), 0);
    cr_assert_eq(ct_prom_value(req, (const char *[]){"/a", "200"}), 3);
    cr_assert_eq(ct_prom_value(req, (const char *[]){"/c", "200"}), 0);
    ct_buf b = {0};
    cr_assert_str_eq(render(p, &b),
                     "# HELP t_requests_total Requests.\n"
                     "# TYPE t_requests_total counter\n"
                     "t_requests_total{route=\"/a\",status=\"200\"} 3\n"
                     "t_requests_total{route=\"/b\",status=\"404\"} 1\n"
                     "# HELP t_up Up.\n"
                     "# TYPE t_up gauge\n"
                     "t_up 0.25\n");
    ct_buf_free(&b);
    ct_prom_free(p);
}

Test(prom, refuses_misuse)
{
    ct_prom *p;
    cr_assert_eq(ct_prom_new(&p), 0);
    ct_prom_family *c, *g, *x;
    cr_assert_eq(ct_prom_counter(p, "c_total", "C", NULL, &c), 0);
    cr_assert_eq(ct_prom_counter(p, "c_total", "again", NULL, &x),
                 CT_EEXISTS);
    cr_assert_eq(ct_prom_counter(p, "9bad", "h", NULL, &x), CT_EINVAL);
    cr_assert_eq(ct_prom_counter(p, "bad-name", "h", NULL, &x), CT_EINVAL);
    cr_assert_eq(ct_prom_gauge(p, "g", "h", (const char *[]){"a:b", NULL},
                               &x),
                 CT_EINVAL, "colons are not for label names");
    cr_assert_eq(ct_prom_gauge(p, "g5", "h",
                               (const char *[]){"a", "b", "c", "d", "e",
                                                NULL},
                               &x),
                 CT_EINVAL, "too many labels");
    cr_assert_eq(ct_prom_histogram(p, "h", "h", (const char *[]){"le", NULL},
                                   (const double[]){1}, 1, &x),
                 CT_EINVAL, "le is the histogram's own");
    cr_assert_eq(ct_prom_histogram(p, "h", "h", NULL,
                                   (const double[]){2, 1}, 2, &x),
                 CT_EINVAL, "buckets must increase");
    cr_assert_eq(ct_prom_add(c, NULL, -1), CT_EINVAL, "counters only grow");
    cr_assert_eq(ct_prom_set(c, NULL, 1), CT_EINVAL, "set is for gauges");
    cr_assert_eq(ct_prom_observe(c, NULL, 1), CT_EINVAL);
    cr_assert_eq(ct_prom_gauge(p, "g", "h", (const char *[]){"a", NULL},
                               &g),
                 0);
    cr_assert_eq(ct_prom_set(g, NULL, 1), CT_ENOMEM,
                 "missing label values are refused");
    ct_prom_free(p);
}

Test(prom, escapes_help_and_label_values)
{
    ct_prom *p;
    cr_assert_eq(ct_prom_new(&p), 0);
    ct_prom_family *g;
    cr_assert_eq(ct_prom_gauge(p, "e", "Back\\slash and\nnewline \"q\"",
                               (const char *[]){"v", NULL}, &g),
                 0);
    cr_assert_eq(ct_prom_set(g, (const char *[]){"a\"b\\c\nd"}, 1), 0);
    ct_buf b = {0};
    cr_assert_str_eq(render(p, &b),
                     "# HELP e Back\\\\slash and\\nnewline \"q\"\n"
                     "# TYPE e gauge\n"
                     "e{v=\"a\\\"b\\\\c\\nd\"} 1\n");
    ct_buf_free(&b);
    ct_prom_free(p);
}

Test(prom, histograms_are_cumulative)
{
    ct_prom *p;
    cr_assert_eq(ct_prom_new(&p), 0);
    ct_prom_family *h;
    cr_assert_eq(ct_prom_histogram(p, "lat_seconds", "Latency.",
                                   (const char *[]){"route", NULL},
                                   (const double[]){0.005, 0.1, 1}, 3, &h),
                 0);
    const char *const r[] = {"/x"};
    cr_assert_eq(ct_prom_observe(h, r, 0.001), 0);
    cr_assert_eq(ct_prom_observe(h, r, 0.005), 0, "upper bound inclusive");
    cr_assert_eq(ct_prom_observe(h, r, 0.5), 0);
    cr_assert_eq(ct_prom_observe(h, r, 7), 0);
    cr_assert_eq(ct_prom_observe(h, r, NAN), CT_EINVAL);
    ct_buf b = {0};
    cr_assert_str_eq(render(p, &b),
                     "# HELP lat_seconds Latency.\n"
                     "# TYPE lat_seconds histogram\n"
                     "lat_seconds_bucket{route=\"/x\",le=\"0.005\"} 2\n"
                     "lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
                     "lat_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
                     "lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
                     "lat_seconds_sum{route=\"/x\"} 7.506\n"
                     "lat_seconds_count{route=\"/x\"} 4\n");
    ct_buf_free(&b);
    ct_prom_free(p);
}

static int collect_calls;

/* First scrape: two zones; later scrapes: only the first. */
static int collect(ct_prom_family *f, void *data)
{
    (void)data;
    collect_calls++;
    ct_prom_set(f, (const char *[]){"red"}, 3);
    if (collect_calls == 1)
        ct_prom_set(f, (const char *[]){"green"}, 5);
    return collect_calls == 3 ? CT_ESTORE : 0;
}

Test(prom, collected_gauges_follow_the_source)
{
    ct_prom *p;
    cr_assert_eq(ct_prom_new(&p), 0);
    ct_prom_family *g;
    cr_assert_eq(ct_prom_gauge_fn(p, "beds_available", "Beds.",
                                  (const char *[]){"zone", NULL}, collect,
                                  NULL, &g),
                 0);
    ct_buf b = {0};
    cr_assert(strstr(render(p, &b), "beds_available{zone=\"green\"} 5\n"));
    const char *text = render(p, &b);
    cr_assert(strstr(text, "beds_available{zone=\"red\"} 3\n"));
    cr_assert_null(strstr(text, "green"), "a vanished series goes: %s",
                   text);
    /* A failing collector leaves the family empty, not stale. */
    ct_log_setup(CT_LOG_AUTO, CT_LOG_ERROR);
    text = render(p, &b);
    cr_assert(strstr(text, "# TYPE beds_available gauge\n"));
    cr_assert_null(strstr(text, "beds_available{"), "%s", text);
    cr_assert_eq(collect_calls, 3);
    ct_buf_free(&b);
    ct_prom_free(p);
}

Test(prom, many_series_stay_findable)
{
    ct_prom *p;
    cr_assert_eq(ct_prom_new(&p), 0);
    ct_prom_family *c;
    cr_assert_eq(ct_prom_counter(p, "n_total", "N",
                                 (const char *[]){"k", NULL}, &c),
                 0);
    char key[16];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 500; i++) {
            snprintf(key, sizeof key, "k%d", i);
            cr_assert_eq(ct_prom_add(c, (const char *[]){key}, i), 0);
        }
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(ct_prom_value(c, (const char *[]){key}), 2.0 * i);
    }
    ct_prom_free(p);
}
