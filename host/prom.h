/*
 * Metrics in the Prometheus text exposition format (version 0.0.4), served
 * at GET /metrics. A registry holds metric families (counter, gauge,
 * histogram), each with label names fixed at registration; a series is
 * created the first time a combination of label values is used. Families
 * render in registration order, series in creation order.
 *
 * Units that own a number register what they need: the HTTP server counts
 * requests by route and status and observes latencies; capacity, the
 * escalation level and the plugin manager register gauges, either set as
 * things change or computed at scrape time through a collect callback.
 *
 * Single-threaded, like the loop that owns it. Label values are copied.
 */
#ifndef CT_PROM_H
#define CT_PROM_H

#include "util.h"

#include <stddef.h>

typedef struct ct_prom ct_prom;
typedef struct ct_prom_family ct_prom_family;

#define CT_PROM_MAX_LABELS 4

/* Called at each scrape before rendering: it sets the family's series
 * (ct_prom_set); series it does not set this time are dropped. Returns 0
 * or a CT_E* code (the family then renders empty and the error is logged). */
typedef int (*ct_prom_collect_fn)(ct_prom_family *f, void *data);

/* A new empty registry in *out; free with ct_prom_free. */
int ct_prom_new(ct_prom **out);
/* Frees the registry, its families and series. NULL is harmless. */
void ct_prom_free(ct_prom *p);

/*
 * Registers a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]*, labels is
 * a NULL-terminated list of at most CT_PROM_MAX_LABELS names (NULL for
 * none); both and help are copied. Registering a name twice is CT_EEXISTS.
 * *out is owned by the registry and valid until ct_prom_free.
 */
int ct_prom_counter(ct_prom *p, const char *name, const char *help,
                    const char *const *labels, ct_prom_family **out);
int ct_prom_gauge(ct_prom *p, const char *name, const char *help,
                  const char *const *labels, ct_prom_family **out);
/* buckets: strictly increasing upper bounds (+Inf is implied), copied. */
int ct_prom_histogram(ct_prom *p, const char *name, const char *help,
                      const char *const *labels, const double *buckets,
                      size_t nbuckets, ct_prom_family **out);
/* A gauge whose series are computed by fn at scrape time (data borrowed
 * until ct_prom_free). */
int ct_prom_gauge_fn(ct_prom *p, const char *name, const char *help,
                     const char *const *labels, ct_prom_collect_fn fn,
                     void *data, ct_prom_family **out);

/*
 * Updates one series; values holds one label value per label name, in
 * order (NULL when the family has no labels). Counters only grow: add
 * refuses a negative v with CT_EINVAL. Returns 0, CT_EINVAL for a call
 * that does not fit the family's type, or CT_ENOMEM.
 */
int ct_prom_add(ct_prom_family *f, const char *const *values, double v);
int ct_prom_set(ct_prom_family *f, const char *const *values, double v);
int ct_prom_observe(ct_prom_family *f, const char *const *values, double v);

/* The current value of a counter or gauge series; 0 when it has none. */
double ct_prom_value(ct_prom_family *f, const char *const *values);

/* Appends the whole registry in text format to out. */
int ct_prom_render(ct_prom *p, ct_buf *out);

/* The content type of the rendered text. */
#define CT_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
