/*
 * A capacity handle on a scratch store for the capacity unit tests: an
 * inline YAML area loaded with ct_config_load_text and reconciled, a
 * virtual clock, and every delivered event kept in order for checks.
 */
#ifndef CT_TEST_CAPACITY_FIXTURE_H
#define CT_TEST_CAPACITY_FIXTURE_H

#include "audit.h"
#include "capacity.h"
#include "config.h"
#include "store_int.h"

#include "error.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

/* A small area: a step-down unit (designated; red covid-positive and
 * green covid-negative wings, surge beds, isolation rooms), a care home
 * (covid and norovirus negative), a rehab ward and home care. */
extern const char cap_fx_area[];

/* 2026-11-23T08:00:00Z */
#define CAP_FX_START 1795420800000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

typedef struct cap_fx {
    ct_store *store;
    ct_clock *clock;
    ct_capacity *cap;
    ct_config *cfg;
    json_t *events; /* [{seq, at, actor, kind, payload}] as delivered */
} cap_fx;

/* Opens ":memory:" (path NULL) or path with sync, loads and reconciles
 * yaml (cap_fx_area when NULL), virtual clock at CAP_FX_START. */
void cap_fx_open(cap_fx *f, const char *yaml);
void cap_fx_open_path(cap_fx *f, const char *yaml, const char *path,
                      ct_sync_mode sync);
/* New capacity handle on the same store and clock (a restart). */
void cap_fx_reopen_capacity(cap_fx *f);
/* Verifies the audit chain, then frees everything. */
void cap_fx_close(cap_fx *f);

/* A referral for nhs (triaged to pathway when pathway >= 0), ready on
 * ready_date; needs is a NULL-terminated list or NULL. */
int64_t cap_fx_referral(cap_fx *f, const char *nhs, const char *ready_date,
                        int pathway, const char *const *needs);
/* Sets an infection status (0 tested_at/isolation_end: none). */
void cap_fx_infection(cap_fx *f, const char *nhs, const char *pathogen,
                      ct_infection_status status, int64_t isolation_end);

/* Delivered events of a kind, and the last one's payload (borrowed). */
size_t cap_fx_events(const cap_fx *f, const char *kind);
json_t *cap_fx_last(const cap_fx *f, const char *kind);

/* First column of the first row of sql (with optional text parameter ?1). */
long long cap_fx_int(cap_fx *f, const char *sql, const char *p1);
/* As a malloc'd string ("" for NULL); caller frees. */
char *cap_fx_text(cap_fx *f, const char *sql, const char *p1);

/* The error of the last checked call. */
extern ct_cap_error cap_err;

/* expr (which passes &cap_err) must succeed. */
#define CAP_OK(expr)                                                         \
    do {                                                                     \
        memset(&cap_err, 0, sizeof cap_err);                                 \
        int rc_ = (expr);                                                    \
        cr_assert_eq(rc_, 0, "%s -> %s: %s", #expr, ct_err_name(rc_),        \
                     cap_err.message);                                       \
    } while (0)

/* expr must fail with code, a message containing substr, and no audit
 * event written (a refused change writes nothing). */
#define CAP_REFUSED(fx, want, expr, substr)                                  \
    do {                                                                     \
        memset(&cap_err, 0, sizeof cap_err);                                 \
        int64_t head_ = ct_audit_head((fx)->store);                          \
        int rc_ = (expr);                                                    \
        cr_assert_eq(rc_, (want), "%s -> %s (want %s): %s", #expr,           \
                     ct_err_name(rc_), ct_err_name(want), cap_err.message);  \
        cr_assert_eq(cap_err.code, (want), "%s: err.code", #expr);           \
        cr_assert_not_null(strstr(cap_err.message, (substr)),                \
                           "%s: message '%s' lacks '%s'", #expr,             \
                           cap_err.message, (substr));                       \
        cr_assert_eq(ct_audit_head((fx)->store), head_,                      \
                     "%s: a refused change wrote an event", #expr);          \
    } while (0)

/* A valid NHS number in the 999 range, the i-th one (static buffer per
 * call site is the caller's: writes 11 bytes into out). */
void cap_fx_nhs(unsigned i, char out[11]);

#endif
