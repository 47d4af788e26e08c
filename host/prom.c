/*
 * The metrics registry and its text rendering. Series of a family live in
 * an array (creation order, for stable output) indexed by an open
 * addressing hash table on their label values, so the per-request update
 * is a hash and one or two string compares.
 */
#include "prom.h"

#include "error.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT "metrics"

typedef enum kind { COUNTER, GAUGE, HISTOGRAM } kind;

typedef struct series {
    char *values[CT_PROM_MAX_LABELS];
    uint64_t hash;
    double value;     /* counter, gauge; histogram: sum */
    uint64_t count;   /* histogram observations */
    uint64_t *counts; /* histogram: per bucket, not cumulative */
    bool seen;        /* collected families: set during this scrape */
} series;

struct ct_prom_family {
    kind kind;
    char *name;
    char *help;
    char *labels[CT_PROM_MAX_LABELS];
    size_t nlabels;
    double *buckets;
    size_t nbuckets;
    ct_prom_collect_fn collect;
    void *collect_data;
    series **series;  /* creation order */
    size_t nseries, cap;
    uint32_t *index;  /* 1 + position in series, 0 empty */
    size_t index_cap; /* power of two */
    ct_prom_family *next;
};

struct ct_prom {
    ct_prom_family *head, **tail;
};

int ct_prom_new(ct_prom **out)
{
    ct_prom *p = calloc(1, sizeof *p);
    if (!p)
        return CT_ENOMEM;
    p->tail = &p->head;
    *out = p;
    return 0;
}

static void series_free(series *s, size_t nlabels)
{
    for (size_t i = 0; i < nlabels; i++)
        free(s->values[i]);
    free(s->counts);
    free(s);
}

static void family_clear(ct_prom_family *f)
{
    for (size_t i = 0; i < f->nseries; i++)
        series_free(f->series[i], f->nlabels);
    f->nseries = 0;
    if (f->index)
        memset(f->index, 0, f->index_cap * sizeof *f->index);
}

static void family_free(ct_prom_family *f)
{
    family_clear(f);
    free(f->series);
    free(f->index);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->buckets);
    free(f->name);
    free(f->help);
    free(f);
}

void ct_prom_free(ct_prom *p)
{
    if (!p)
        return;
    for (ct_prom_family *f = p->head, *next; f; f = next) {
        next = f->next;
        family_free(f);
    }
    free(p);
}

static bool valid_name(const char *s, bool colon_ok)
{
    if (!s || !*s || isdigit((unsigned char)*s))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' &&
            !(colon_ok && *s == ':'))
            return false;
    return true;
}

static int family_new(ct_prom *p, kind k, const char *name, const char *help,
                      const char *const *labels, ct_prom_family **out)
{
    *out = NULL;
    if (!valid_name(name, true) || !help)
        return CT_EINVAL;
    for (ct_prom_family *f = p->head; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return CT_EEXISTS;
    size_t n = 0;
    while (labels && labels[n]) {
        if (n == CT_PROM_MAX_LABELS || !valid_name(labels[n], false) ||
            (k == HISTOGRAM && strcmp(labels[n], "le") == 0))
            return CT_EINVAL;
        n++;
    }
    ct_prom_family *f = calloc(1, sizeof *f);
    if (!f)
        return CT_ENOMEM;
    f->kind = k;
    f->nlabels = n;
    f->name = ct_strdup(name);
    f->help = ct_strdup(help);
    bool ok = f->name && f->help;
    for (size_t i = 0; i < n; i++)
        ok = (f->labels[i] = ct_strdup(labels[i])) != NULL && ok;
    if (!ok) {
        family_free(f);
        return CT_ENOMEM;
    }
    *p->tail = f;
    p->tail = &f->next;
    *out = f;
    return 0;
}

int ct_prom_counter(ct_prom *p, const char *name, const char *help,
                    const char *const *labels, ct_prom_family **out)
{
    return family_new(p, COUNTER, name, help, labels, out);
}

int ct_prom_gauge(ct_prom *p, const char *name, const char *help,
                  const char *const *labels, ct_prom_family **out)
{
    return family_new(p, GAUGE, name, help, labels, out);
}

int ct_prom_gauge_fn(ct_prom *p, const char *name, const char *help,
                     const char *const *labels, ct_prom_collect_fn fn,
                     void *data, ct_prom_family **out)
{
    if (!fn)
        return CT_EINVAL;
    int err = family_new(p, GAUGE, name, help, labels, out);
    if (err)
        return err;
    (*out)->collect = fn;
    (*out)->collect_data = data;
    return 0;
}

int ct_prom_histogram(ct_prom *p, const char *name, const char *help,
                      const char *const *labels, const double *buckets,
                      size_t nbuckets, ct_prom_family **out)
{
    *out = NULL;
    if (!buckets || nbuckets == 0)
        return CT_EINVAL;
    for (size_t i = 0; i < nbuckets; i++)
        if (!isfinite(buckets[i]) || (i && buckets[i] <= buckets[i - 1]))
            return CT_EINVAL;
    double *copy = malloc(nbuckets * sizeof *copy);
    if (!copy)
        return CT_ENOMEM;
    memcpy(copy, buckets, nbuckets * sizeof *copy);
    int err = family_new(p, HISTOGRAM, name, help, labels, out);
    if (err) {
        free(copy);
        return err;
    }
    (*out)->buckets = copy;
    (*out)->nbuckets = nbuckets;
    return 0;
}

/* FNV-1a over the values, each followed by a separator byte. */
static uint64_t hash_values(const char *const *values, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *s = (const unsigned char *)values[i]; *s;
             s++)
            h = (h ^ *s) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
    }
    return h;
}

static bool same_values(const series *s, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->values[i], values[i]) != 0)
            return false;
    return true;
}

static int index_grow(ct_prom_family *f)
{
    size_t cap = f->index_cap ? f->index_cap * 2 : 16;
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (!idx)
        return CT_ENOMEM;
    for (size_t i = 0; i < f->nseries; i++) {
        size_t slot = f->series[i]->hash & (cap - 1);
        while (idx[slot])
            slot = (slot + 1) & (cap - 1);
        idx[slot] = (uint32_t)(i + 1);
    }
    free(f->index);
    f->index = idx;
    f->index_cap = cap;
    return 0;
}

/* The series for values, created when absent. NULL on OOM or bad values. */
static series *lookup(ct_prom_family *f, const char *const *values)
{
    for (size_t i = 0; i < f->nlabels; i++)
        if (!values || !values[i])
            return NULL;
    uint64_t h = hash_values(values, f->nlabels);
    if (f->index_cap) {
        size_t slot = h & (f->index_cap - 1);
        for (uint32_t pos; (pos = f->index[slot]);
             slot = (slot + 1) & (f->index_cap - 1)) {
            series *s = f->series[pos - 1];
            if (s->hash == h && same_values(s, values, f->nlabels))
                return s;
        }
    }
    /* Keep the table at most half full. */
    if ((f->nseries + 1) * 2 > f->index_cap && index_grow(f))
        return NULL;
    if (ct_grow(&f->series, &f->cap, f->nseries, sizeof *f->series, 8))
        return NULL;
    series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->hash = h;
    bool ok = true;
    for (size_t i = 0; i < f->nlabels; i++)
        ok = (s->values[i] = ct_strdup(values[i])) != NULL && ok;
    if (ok && f->kind == HISTOGRAM)
        ok = (s->counts = calloc(f->nbuckets, sizeof *s->counts)) != NULL;
    if (!ok) {
        series_free(s, f->nlabels);
        return NULL;
    }
    f->series[f->nseries++] = s;
    size_t slot = h & (f->index_cap - 1);
    while (f->index[slot])
        slot = (slot + 1) & (f->index_cap - 1);
    f->index[slot] = (uint32_t)f->nseries;
    return s;
}

int ct_prom_add(ct_prom_family *f, const char *const *values, double v)
{
    if (f->kind == HISTOGRAM || (f->kind == COUNTER && !(v >= 0)))
        return CT_EINVAL;
    series *s = lookup(f, values);
    if (!s)
        return CT_ENOMEM;
    s->value += v;
    s->seen = true;
    return 0;
}

int ct_prom_set(ct_prom_family *f, const char *const *values, double v)
{
    if (f->kind != GAUGE)
        return CT_EINVAL;
    series *s = lookup(f, values);
    if (!s)
        return CT_ENOMEM;
    s->value = v;
    s->seen = true;
    return 0;
}

int ct_prom_observe(ct_prom_family *f, const char *const *values, double v)
{
    if (f->kind != HISTOGRAM || isnan(v))
        return CT_EINVAL;
    series *s = lookup(f, values);
    if (!s)
        return CT_ENOMEM;
    size_t b = 0;
    while (b < f->nbuckets && v > f->buckets[b])
        b++;
    if (b < f->nbuckets)
        s->counts[b]++;
    s->count++;
    s->value += v;
    return 0;
}

double ct_prom_value(ct_prom_family *f, const char *const *values)
{
    if (f->kind == HISTOGRAM || !f->index_cap)
        return 0;
    for (size_t i = 0; i < f->nlabels; i++)
        if (!values || !values[i])
            return 0;
    uint64_t h = hash_values(values, f->nlabels);
    size_t slot = h & (f->index_cap - 1);
    for (uint32_t pos; (pos = f->index[slot]);
         slot = (slot + 1) & (f->index_cap - 1)) {
        series *s = f->series[pos - 1];
        if (s->hash == h && same_values(s, values, f->nlabels))
            return s->value;
    }
    return 0;
}

/* ---- rendering ------------------------------------------------------- */

static int put_number(ct_buf *out, double v)
{
    if (isnan(v))
        return ct_buf_puts(out, "NaN");
    if (isinf(v))
        return ct_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    /* Integers print as integers; others in the shortest form that reads
     * back exactly (0.005, not 0.0050000000000000001). */
    if (v == floor(v) && fabs(v) < 1e15)
        return ct_buf_printf(out, "%.0f", v);
    char text[32];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, v);
        if (strtod(text, NULL) == v)
            break;
    }
    return ct_buf_puts(out, text);
}

/* HELP text escapes backslash and newline; label values also quotes. */
static int put_escaped(ct_buf *out, const char *s, bool quotes)
{
    int err = 0;
    for (; *s && !err; s++) {
        if (*s == '\\')
            err = ct_buf_puts(out, "\\\\");
        else if (*s == '\n')
            err = ct_buf_puts(out, "\\n");
        else if (quotes && *s == '"')
            err = ct_buf_puts(out, "\\\"");
        else
            err = ct_buf_append(out, s, 1);
    }
    return err;
}

/* name{l1="v1",...,extra="x"} (braces only when there are labels). */
static int put_series_name(ct_buf *out, const ct_prom_family *f,
                           const series *s, const char *suffix,
                           const char *extra, double extra_value)
{
    int err = ct_buf_printf(out, "%s%s", f->name, suffix);
    if (f->nlabels == 0 && !extra)
        return err;
    err = err ? err : ct_buf_puts(out, "{");
    for (size_t i = 0; i < f->nlabels && !err; i++) {
        err = ct_buf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        err = err ? err : put_escaped(out, s->values[i], true);
        err = err ? err : ct_buf_puts(out, "\"");
    }
    if (extra && !err) {
        err = ct_buf_printf(out, "%s%s=\"", f->nlabels ? "," : "", extra);
        err = err ? err : put_number(out, extra_value);
        err = err ? err : ct_buf_puts(out, "\"");
    }
    return err ? err : ct_buf_puts(out, "}");
}

static int render_series(ct_buf *out, const ct_prom_family *f,
                         const series *s)
{
    int err = 0;
    if (f->kind != HISTOGRAM) {
        err = put_series_name(out, f, s, "", NULL, 0);
        err = err ? err : ct_buf_puts(out, " ");
        err = err ? err : put_number(out, s->value);
        return err ? err : ct_buf_puts(out, "\n");
    }
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= f->nbuckets && !err; b++) {
        cumulative += b < f->nbuckets ? s->counts[b] : 0;
        uint64_t n = b < f->nbuckets ? cumulative : s->count;
        err = put_series_name(out, f, s, "_bucket", "le",
                              b < f->nbuckets ? f->buckets[b] : INFINITY);
        err = err ? err : ct_buf_printf(out, " %llu\n",
                                        (unsigned long long)n);
    }
    err = err ? err : put_series_name(out, f, s, "_sum", NULL, 0);
    err = err ? err : ct_buf_puts(out, " ");
    err = err ? err : put_number(out, s->value);
    err = err ? err : ct_buf_puts(out, "\n");
    err = err ? err : put_series_name(out, f, s, "_count", NULL, 0);
    return err ? err : ct_buf_printf(out, " %llu\n",
                                     (unsigned long long)s->count);
}

/* Drops series a collect callback did not set this time. */
static void sweep_unseen(ct_prom_family *f)
{
    size_t kept = 0;
    for (size_t i = 0; i < f->nseries; i++) {
        if (f->series[i]->seen)
            f->series[kept++] = f->series[i];
        else
            series_free(f->series[i], f->nlabels);
    }
    f->nseries = kept;
    if (f->index_cap) {
        /* Rebuild the index at the same size. */
        memset(f->index, 0, f->index_cap * sizeof *f->index);
        for (size_t i = 0; i < f->nseries; i++) {
            size_t slot = f->series[i]->hash & (f->index_cap - 1);
            while (f->index[slot])
                slot = (slot + 1) & (f->index_cap - 1);
            f->index[slot] = (uint32_t)(i + 1);
        }
    }
}

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

int ct_prom_render(ct_prom *p, ct_buf *out)
{
    int err = 0;
    for (ct_prom_family *f = p->head; f && !err; f = f->next) {
        if (f->collect) {
            for (size_t i = 0; i < f->nseries; i++)
                f->series[i]->seen = false;
            int cerr = f->collect(f, f->collect_data);
            if (cerr) {
                ct_log_warn(UNIT, "collecting %s: %s", f->name,
                            ct_strerror(cerr));
                family_clear(f);
            } else {
                sweep_unseen(f);
            }
        }
        err = ct_buf_printf(out, "# HELP %s ", f->name);
        err = err ? err : put_escaped(out, f->help, false);
        err = err ? err : ct_buf_printf(out, "\n# TYPE %s %s\n", f->name,
                                        kind_names[f->kind]);
        for (size_t i = 0; i < f->nseries && !err; i++)
            err = render_series(out, f, f->series[i]);
    }
    return err;
}
