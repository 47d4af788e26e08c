/*
 * Isolation: infection records, the segregation rule and isolation ends
 * on the host clock (isolation.h). Zone cohorts and closure are in
 * isolation_zone.c.
 */
#include "isolation_int.h"

#include "area.h"
#include "log.h"
#include "referral.h"
#include "error.h"
#include "util.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MS 1000

/* Isolation's own state, in the area handle's CT_AREA_ISOLATION slot:
 * the isolation length per pathogen (ct_isolation_set_length) and the
 * timer of the next isolation end. */
typedef struct iso_state {
    struct iso_length {
        char pathogen[64];
        int64_t ms;
    } *lengths;
    size_t nlengths;
    ct_timer timer;
} iso_state;

static iso_state *iso_of(const ct_capacity *c)
{
    return ct_area__slot(c, CT_AREA_ISOLATION);
}

int ct_isolation__new(ct_capacity *c)
{
    iso_state *k = calloc(1, sizeof *k);
    if (!k)
        return CT_ENOMEM;
    ct_timer_init(ct_area_clock(c), &k->timer);
    ct_area__set_slot(c, CT_AREA_ISOLATION, k);
    return 0;
}

void ct_isolation__free(ct_capacity *c)
{
    iso_state *k = iso_of(c);
    if (!k)
        return;
    ct_timer_stop(&k->timer);
    free(k->lengths);
    free(k);
    ct_area__set_slot(c, CT_AREA_ISOLATION, NULL);
}

/* ---- the rule -------------------------------------------------------- */

bool ct_isolation_isolating(int status, int64_t isolation_end, int64_t now)
{
    return status == CT_INFECTION_AWAITING ||
           (status == CT_INFECTION_POSITIVE && now < isolation_end);
}

bool ct_isolation_admits(ct_cohort cohort, int status, int64_t isolation_end,
                         int64_t now, bool isolation_room, const char **why)
{
    bool isolating = ct_isolation_isolating(status, isolation_end, now);
    const char *no = NULL;
    if (cohort == CT_COHORT_OPEN || (isolation_room && isolating))
        return true;
    if (cohort == CT_COHORT_NEGATIVE) {
        if (isolating)
            no = status == CT_INFECTION_AWAITING ? "awaiting a result"
                                                 : "positive and isolating";
    } else if (status != CT_INFECTION_POSITIVE) {
        no = status == CT_INFECTION_AWAITING   ? "awaiting a result"
             : status == CT_INFECTION_NEGATIVE ? "negative"
                                               : "not known to be positive";
    }
    if (no && why)
        *why = no;
    return no == NULL;
}

int ct_isolation__check_bed(ct_capacity *c, const char *nhs_number,
                            const char *bed_id, const char *zone_id,
                            ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(
        c, zone_id ? CT_STMT_ISO_ZONE_CHECK : CT_STMT_ISO_BED_CHECK, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, bed_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, nhs_number, -1, SQLITE_STATIC);
    if (zone_id)
        sqlite3_bind_text(st, 3, zone_id, -1, SQLITE_STATIC);
    int64_t now = ct_clock_now(ct_area_clock(c));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *why = NULL;
        int status = col(st, 2) ? ct_infection_status_parse(col(st, 2)) : -1;
        int cohort = ct_cohort_parse(col(st, 1));
        if (!ct_isolation_admits((ct_cohort)cohort, status, end_col(st, 3),
                                 now, sqlite3_column_int(st, 5), &why)) {
            rc = ct_area__fail(err, CT_ECOHORT,
                               "bed %s is in zone %s, %s %s; the person "
                               "is %s for %s",
                               bed_id, col(st, 4), col(st, 0), col(st, 1),
                               why, col(st, 0));
            sqlite3_reset(st);
            return rc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0
                             : ct_area__dberr(c, err, rc,
                                              "checking cohorts");
}

/* Appends ",a" (or ",a:b") to b; the list ends with "," when closed. */
static int put_item(ct_buf *b, const char *a, const char *c)
{
    if (b->len == 0 && ct_buf_puts(b, ","))
        return CT_ENOMEM;
    return c ? ct_buf_printf(b, "%s:%s,", a, c) : ct_buf_printf(b, "%s,", a);
}

void ct_isolation__table_free(ct_iso_table *t)
{
    ct_buf_free(&t->known);
    for (int r = 0; r < 2; r++) {
        ct_buf_free(&t->forbid[r]);
        ct_buf_free(&t->dflt[r]);
    }
}

int ct_isolation__table(ct_capacity *c, const char *nhs_number,
                        ct_iso_table *t, ct_cap_error *err)
{
    static const ct_cohort tested[] = {CT_COHORT_POSITIVE,
                                       CT_COHORT_NEGATIVE};
    memset(t, 0, sizeof *t);
    int64_t now = ct_clock_now(ct_area_clock(c));
    int rc = 0;
    for (int r = 0; r < 2 && !rc; r++)
        for (size_t k = 0; k < 2 && !rc; k++)
            if (!ct_isolation_admits(tested[k], -1, INT64_MAX, now, r, NULL))
                rc = put_item(&t->dflt[r], ct_cohort_name(tested[k]), NULL);
    sqlite3_stmt *st = rc ? NULL
                          : ct_area__stmt(c, CT_STMT_ISO_INF_RULE, err);
    if (!rc && !st)
        rc = CT_ESTORE;
    if (st) {
        sqlite3_bind_text(st, 1, nhs_number, -1, SQLITE_STATIC);
        int s;
        while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
            const char *p = col(st, 0);
            int status = ct_infection_status_parse(col(st, 1));
            int64_t end = end_col(st, 2);
            rc = put_item(&t->known, p, NULL);
            for (int r = 0; r < 2 && !rc; r++)
                for (size_t k = 0; k < 2 && !rc; k++)
                    if (!ct_isolation_admits(tested[k], status, end, now, r,
                                             NULL))
                        rc = put_item(&t->forbid[r], p,
                                      ct_cohort_name(tested[k]));
        }
        if (!rc && s != SQLITE_DONE)
            rc = ct_area__dberr(c, err, s, "reading infection records");
        sqlite3_reset(st);
    }
    if (rc == CT_ENOMEM)
        ct_area__fail(err, rc, "out of memory");
    if (rc)
        ct_isolation__table_free(t);
    return rc;
}

/* ---- arguments ------------------------------------------------------- */

int ct_isolation__check_pathogen(ct_capacity *c, const char *p,
                                 ct_cap_error *err)
{
    int rc = ct_area__check_text("pathogen", p, CT_PATHOGEN_MAX - 1, err);
    if (rc)
        return rc;
    for (const char *q = p; *q; q++)
        if (!isalnum((unsigned char)*q) && !strchr("._-", *q))
            return ct_area__fail(err, CT_EINVAL,
                                 "pathogen '%s' is not a name (letters, "
                                 "digits, . _ -)",
                                 p);
    if (!ct_area_npathogens(c))
        return 0;
    for (size_t i = 0; i < ct_area_npathogens(c); i++)
        if (strcmp(ct_area_pathogen(c, i), p) == 0)
            return 0;
    char known[256] = "";
    for (size_t i = 0; i < ct_area_npathogens(c); i++) {
        if (i)
            strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, ct_area_pathogen(c, i),
                sizeof known - strlen(known) - 1);
    }
    return ct_area__fail(err, CT_EINVAL,
                         "pathogen %s is not tracked here (%s)", p, known);
}

static int check_nhs(const char *s, char norm[11], ct_cap_error *err)
{
    if (!s || !ct_nhs_number_valid(s, norm))
        return ct_area__fail(err, CT_EINVAL,
                             "NHS number '%s' is not valid", s ? s : "");
    return 0;
}

/* ---- infection status ------------------------------------------------ */

const char *ct_isolation__person_phrase(int status, int64_t end, int64_t now)
{
    switch (status) {
    case CT_INFECTION_POSITIVE:
        return now < end ? "positive and isolating"
                         : "positive, isolation ended";
    case CT_INFECTION_AWAITING: return "awaiting a result";
    case CT_INFECTION_NEGATIVE: return "negative";
    default: return "not known to be positive";
    }
}

typedef struct placement {
    ct_cap_assignment a;
    char zone_id[CT_CAP_ID_MAX];
    ct_cohort cohort;
    bool iso_room;
} placement;

/* The person's active holds and occupancies with each zone's cohort for
 * pathogen; *out is malloc'd (caller frees). */
static int placements_of(ct_capacity *c, const char *nhs,
                         const char *pathogen, placement **out, size_t *n,
                         ct_cap_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_ISO_PERSON_PLACEMENTS,
                                     err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, nhs, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pathogen, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (ct_grow(out, &cap, *n, sizeof **out, 4)) {
            rc = SQLITE_NOMEM;
            break;
        }
        placement *p = &(*out)[(*n)++];
        memset(p, 0, sizeof *p);
        p->a.id = sqlite3_column_int64(st, 0);
        p->a.referral_id = sqlite3_column_int64(st, 1);
        p->a.occupancy = strcmp(col(st, 2), "occupancy") == 0;
        p->a.started_at = sqlite3_column_int64(st, 3);
        p->a.expires_at = sqlite3_column_int64(st, 4);
        snprintf(p->a.bed_id, sizeof p->a.bed_id, "%s", col(st, 5));
        snprintf(p->zone_id, sizeof p->zone_id, "%s", col(st, 6));
        p->cohort = (ct_cohort)ct_cohort_parse(col(st, 7));
        p->iso_room = sqlite3_column_int(st, 8);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return ct_area__dberr(c, err, rc, "finding placements");
    }
    return 0;
}

/* After a new result: release holds and report occupants in breach. */
static int enforce(ct_capacity *c, const char *nhs, const char *pathogen,
                   int status, int64_t end, const char *actor,
                   ct_infection_result *res, ct_cap_error *err)
{
    placement *ps;
    size_t n;
    int rc = placements_of(c, nhs, pathogen, &ps, &n, err);
    int64_t now = ct_clock_now(ct_area_clock(c));
    for (size_t i = 0; rc == 0 && i < n; i++) {
        placement *p = &ps[i];
        const char *why = NULL;
        if (ct_isolation_admits(p->cohort, status, end, now, p->iso_room,
                                &why))
            continue;
        char text[256];
        snprintf(text, sizeof text, "person is %s for %s; zone %s is %s %s",
                 why, pathogen, p->zone_id, pathogen,
                 ct_cohort_name(p->cohort));
        if (!p->a.occupancy) {
            rc = ct_area__release_hold(c, &p->a, text, actor, err);
            res->holds_released++;
        } else {
            rc = ct_area__emit(
                c, actor, "isolation.breach",
                json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s}",
                          "nhs_number", nhs, "pathogen", pathogen, "status",
                          ct_infection_status_name(status), "referral",
                          (json_int_t)p->a.referral_id, "bed", p->a.bed_id,
                          "zone", p->zone_id, "cohort",
                          ct_cohort_name(p->cohort), "reason", text),
                err);
            res->breaches++;
        }
    }
    free(ps);
    return rc;
}

static void arm_iso_timer(ct_capacity *c, int64_t due);

/* How strictly a record isolates at now: 2 positive and isolating, 1
 * awaiting a result, 0 not isolating. */
static int strictness(int status, int64_t end, int64_t now)
{
    if (status == CT_INFECTION_POSITIVE && now < end)
        return 2;
    return status == CT_INFECTION_AWAITING ? 1 : 0;
}

/* Whether the new report would lower a record that isolates the person. */
static bool lowers(int old_status, int64_t old_end, int new_status,
                   int64_t new_end, int64_t now)
{
    int o = strictness(old_status, old_end, now);
    int n = strictness(new_status, new_end, now);
    return o > 0 && (n < o || (n == 2 && o == 2 && new_end < old_end));
}

static int check_update(ct_capacity *c, const ct_infection_update *u,
                        char nhs[11], ct_cap_error *err)
{
    int rc;
    if (!u)
        return ct_area__fail(err, CT_EINVAL, "update is required");
    if ((rc = check_nhs(u->nhs_number, nhs, err)) ||
        (rc = ct_isolation__check_pathogen(c, u->pathogen, err)))
        return rc;
    if ((unsigned)u->status >= CT_INFECTION__COUNT)
        return ct_area__fail(err, CT_EINVAL,
                             "infection status %d is not a status",
                             (int)u->status);
    int64_t now = ct_clock_now(ct_area_clock(c));
    if (u->tested_at < 0 || u->tested_at > now)
        return ct_area__fail(err, CT_EINVAL,
                             "test time must not be in the future");
    if (u->isolation_end < 0 ||
        (u->isolation_end && u->status != CT_INFECTION_POSITIVE))
        return ct_area__fail(err, CT_EINVAL,
                             "an isolation end goes with a positive "
                             "result only");
    if (u->isolation_end && u->tested_at && u->isolation_end <= u->tested_at)
        return ct_area__fail(err, CT_EINVAL,
                             "isolation must end after the test");
    return 0;
}

int ct_isolation_set_length(ct_capacity *c, const char *pathogen, int64_t ms)
{
    iso_state *k = iso_of(c);
    size_t n = pathogen ? strlen(pathogen) : 0;
    if (n == 0 || n >= sizeof k->lengths->pathogen || ms < 0)
        return CT_EINVAL;
    size_t i = 0;
    while (i < k->nlengths && strcmp(k->lengths[i].pathogen, pathogen))
        i++;
    if (ms == 0) {
        if (i < k->nlengths)
            k->lengths[i] = k->lengths[--k->nlengths];
        return 0;
    }
    if (i == k->nlengths) {
        struct iso_length *v = realloc(k->lengths, (i + 1) * sizeof *v);
        if (!v)
            return CT_ENOMEM;
        k->lengths = v;
        memcpy(v[i].pathogen, pathogen, n + 1);
        k->nlengths++;
    }
    k->lengths[i].ms = ms;
    return 0;
}

void ct_isolation_clear_lengths(ct_capacity *c)
{
    iso_of(c)->nlengths = 0;
}

int64_t ct_isolation_length(ct_capacity *c, const char *pathogen)
{
    const iso_state *k = iso_of(c);
    for (size_t i = 0; i < k->nlengths; i++)
        if (strcmp(k->lengths[i].pathogen, pathogen) == 0)
            return k->lengths[i].ms;
    return 0;
}

int ct_isolation_set_status(ct_capacity *c, const ct_infection_update *u,
                            const char *actor, ct_infection_result *res,
                            ct_cap_error *err)
{
    return ct_isolation_report(c, u, NULL, 0, actor, res, err);
}

int ct_isolation_report(ct_capacity *c, const ct_infection_update *given,
                        const char *source_org, int64_t referral,
                        const char *actor, ct_infection_result *res,
                        ct_cap_error *err)
{
    char nhs[11];
    int rc;
    if ((rc = check_update(c, given, nhs, err)) ||
        (rc = ct_area__check_text("actor", actor, 200, err)))
        return rc;
    /* A positive without an end ends after the pathogen's isolation
     * length, when the area's policy gives one (isolation.h). */
    ct_infection_update derived = *given;
    const ct_infection_update *u = &derived;
    int64_t length = ct_isolation_length(c, given->pathogen);
    bool derive = given->status == CT_INFECTION_POSITIVE &&
                  !given->isolation_end && length > 0;
    if (derive)
        derived.isolation_end =
            (given->tested_at ? given->tested_at
                              : ct_clock_now(ct_area_clock(c))) + length;
    if ((rc = ct_area__begin(c, err)))
        return rc;
    ct_infection_result r = {0};
    json_t *prev = json_null();
    int notified = 0;
    sqlite3_stmt *st;
    if ((rc = ct_referral__person_ensure(c, nhs, err)))
        goto done;
    if (!(st = ct_area__stmt(c, CT_STMT_ISO_INF_GET, err))) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_text(st, 1, nhs, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, u->pathogen, -1, SQLITE_STATIC);
    bool kept = false;
    json_t *kept_from = json_null();
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        prev = json_string(col(st, 0));
        /* The same end keeps its notification; a new end fires anew. */
        notified = sqlite3_column_int(st, 3) && u->isolation_end &&
                   sqlite3_column_type(st, 2) != SQLITE_NULL &&
                   sqlite3_column_int64(st, 2) == u->isolation_end;
        const char *src = col(st, 4);
        if (source_org && (!src || strcmp(src, source_org) != 0) &&
            lowers(ct_infection_status_parse(col(st, 0)), end_col(st, 2),
                   (int)u->status,
                   u->isolation_end ? u->isolation_end : INT64_MAX,
                   ct_clock_now(ct_area_clock(c)))) {
            kept = true;
            json_decref(kept_from);
            kept_from = src ? json_string(src) : json_null();
        }
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(kept_from);
        rc = ct_area__dberr(c, err, rc, "reading an infection record");
        goto done;
    }
    if (kept) {
        /* Another organisation's stricter record stays; the hub sees the
         * disagreement in the chain and on the referral. */
        r.conflict = true;
        rc = ct_area__emit(
            c, actor, "infection.conflict",
            json_pack("{s:s, s:s, s:s, s:O, s:s, s:o, s:o}", "nhs_number",
                      nhs, "pathogen", u->pathogen, "reported",
                      ct_infection_status_name(u->status), "applied", prev,
                      "reported_by", source_org, "applied_from",
                      kept_from, "referral",
                      referral ? json_integer(referral)
                                  : json_null()),
            err);
        notified = 1; /* no timer to arm: the record did not change */
        goto done;
    }
    json_decref(kept_from);
    if (!(st = ct_area__stmt(c, CT_STMT_ISO_INF_UPSERT, err))) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_text(st, 1, nhs, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, u->pathogen, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ct_infection_status_name(u->status), -1,
                      SQLITE_STATIC);
    if (u->tested_at)
        sqlite3_bind_int64(st, 4, u->tested_at);
    if (u->isolation_end)
        sqlite3_bind_int64(st, 5, u->isolation_end);
    sqlite3_bind_int(st, 6, notified);
    if (source_org)
        sqlite3_bind_text(st, 7, source_org, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        rc = ct_area__dberr(c, err, rc, "writing an infection record");
        goto done;
    }
    json_t *payload = json_pack(
        "{s:s, s:s, s:s, s:O, s:o, s:o}", "nhs_number", nhs, "pathogen",
        u->pathogen, "status", ct_infection_status_name(u->status),
        "previous", prev, "tested_at",
        u->tested_at ? json_integer(u->tested_at) : json_null(),
        "isolation_end",
        u->isolation_end ? json_integer(u->isolation_end) : json_null());
    /* The audit says when the end was worked out, and from what length. */
    if (payload && derive)
        json_object_set_new(payload, "isolation_length_ms",
                            json_integer(length));
    rc = ct_area__emit(c, actor, "infection.updated", payload, err);
    if (rc == 0)
        rc = enforce(c, nhs, u->pathogen, (int)u->status,
                     u->isolation_end ? u->isolation_end : INT64_MAX, actor,
                     &r, err);
done:
    json_decref(prev);
    rc = ct_area__finish(c, rc, err);
    if (rc == 0) {
        if (u->isolation_end && !notified)
            arm_iso_timer(c, u->isolation_end);
        if (res)
            *res = r;
    }
    return rc;
}

static void fill_infection(sqlite3_stmt *st, int first, int64_t now,
                           ct_infection *out)
{
    out->status = (ct_infection_status)ct_infection_status_parse(
        col(st, first));
    out->tested_at = sqlite3_column_int64(st, first + 1);
    out->isolation_end = sqlite3_column_int64(st, first + 2);
    out->end_notified = sqlite3_column_int(st, first + 3);
    out->isolating = ct_isolation_isolating(out->status,
                                            end_col(st, first + 2), now);
}

int ct_isolation_get(ct_capacity *c, const char *nhs_number,
                     const char *pathogen, ct_infection *out,
                     ct_cap_error *err)
{
    char nhs[11];
    int rc;
    if ((rc = check_nhs(nhs_number, nhs, err)) ||
        (rc = ct_area__check_text("pathogen", pathogen,
                                  CT_PATHOGEN_MAX - 1, err)))
        return rc;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_ISO_INF_GET, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, nhs, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pathogen, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        snprintf(out->pathogen, sizeof out->pathogen, "%s", pathogen);
        fill_infection(st, 0, ct_clock_now(ct_area_clock(c)), out);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = ct_area__fail(err, CT_ENOTFOUND,
                           "no %s record for NHS number %s", pathogen,
                           nhs);
    } else {
        rc = ct_area__dberr(c, err, rc, "reading an infection record");
    }
    sqlite3_reset(st);
    return rc;
}

int ct_isolation_person_json(ct_capacity *c, const char *nhs_number,
                             json_t **out, ct_cap_error *err)
{
    char nhs[11];
    int rc = check_nhs(nhs_number, nhs, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_ISO_INF_LIST, err);
    if (!st)
        return CT_ESTORE;
    json_t *a = json_array();
    if (!a)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    sqlite3_bind_text(st, 1, nhs, -1, SQLITE_STATIC);
    int64_t now = ct_clock_now(ct_area_clock(c));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ct_infection i;
        fill_infection(st, 1, now, &i);
        json_t *o = json_pack(
            "{s:s, s:s, s:o, s:o, s:b}", "pathogen", col(st, 0), "status",
            ct_infection_status_name(i.status), "tested_at",
            i.tested_at ? json_integer(i.tested_at) : json_null(),
            "isolation_end",
            i.isolation_end ? json_integer(i.isolation_end) : json_null(),
            "isolating", i.isolating);
        if (json_array_append_new(a, o)) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(a);
        return ct_area__dberr(c, err, rc, "reading infection records");
    }
    *out = a;
    return 0;
}

int ct_isolation_check(ct_capacity *c, const char *nhs_number,
                       const char *bed_id, ct_cap_error *err)
{
    char nhs[11];
    int rc;
    if ((rc = check_nhs(nhs_number, nhs, err)) ||
        (rc = ct_area__check_text("bed id", bed_id, CT_CAP_ID_MAX - 1,
                                  err)))
        return rc;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_ISO_BED_EXISTS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, bed_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return ct_area__fail(err, CT_ENOTFOUND, "bed %s does not exist",
                             bed_id);
    if (rc != SQLITE_ROW)
        return ct_area__dberr(c, err, rc, "reading a bed");
    return ct_isolation__check_bed(c, nhs, bed_id, NULL, err);
}

/* ---- isolation ends -------------------------------------------------- */

static void iso_timer_cb(ct_timer *t, void *data);

static void arm_iso_timer(ct_capacity *c, int64_t due)
{
    if (ct_area__external_timers(c))
        return;
    ct_timer *t = &iso_of(c)->timer;
    if (!ct_timer_active(t) || due < t->due)
        ct_timer_start(t, due, iso_timer_cb, c);
}

int64_t ct_isolation_next_end(ct_capacity *c)
{
    return ct_area__next_due(c, CT_STMT_ISO_NEXT);
}

void ct_isolation__schedule(ct_capacity *c)
{
    if (!ct_area__external_timers(c))
        ct_area__rearm(c, &iso_of(c)->timer, ct_isolation_next_end(c),
                       iso_timer_cb);
}

typedef struct ended {
    char nhs[11];
    char pathogen[CT_PATHOGEN_MAX];
    char status[16];
    int64_t tested_at, end;
} ended;

static int notify_one(ct_capacity *c, const ended *e, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_ISO_MARK, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, e->nhs, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, e->pathogen, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ct_area__dberr(c, err, rc, "marking an isolation end");
    json_t *p = json_pack("{s:s, s:s, s:s, s:o, s:I}", "nhs_number", e->nhs,
                          "pathogen", e->pathogen, "status", e->status,
                          "tested_at",
                          e->tested_at ? json_integer(e->tested_at)
                                       : json_null(),
                          "isolation_end", (json_int_t)e->end);
    /* Where the person is now: the next move starts from there. */
    placement *ps;
    size_t n;
    if ((rc = placements_of(c, e->nhs, e->pathogen, &ps, &n, err))) {
        json_decref(p);
        return rc;
    }
    if (n && p) {
        json_object_set_new(p, "referral", json_integer(ps[0].a.referral_id));
        json_object_set_new(p, "bed", json_string(ps[0].a.bed_id));
        json_object_set_new(p, "zone", json_string(ps[0].zone_id));
        json_object_set_new(p, "placement", json_string(ps[0].a.occupancy
                                                            ? "occupied"
                                                            : "held"));
    }
    free(ps);
    return ct_area__emit(c, "host", "isolation.ended", p, err);
}

static void read_end(sqlite3_stmt *st, void *row)
{
    ended *e = row;
    snprintf(e->nhs, sizeof e->nhs, "%s", col(st, 0));
    snprintf(e->pathogen, sizeof e->pathogen, "%s", col(st, 1));
    snprintf(e->status, sizeof e->status, "%s", col(st, 2));
    e->tested_at = sqlite3_column_int64(st, 3);
    e->end = sqlite3_column_int64(st, 4);
}

static int notify_row(ct_capacity *c, void *row, ct_cap_error *err)
{
    return notify_one(c, row, err);
}

int ct_isolation_notify_due(ct_capacity *c)
{
    static const ct_area_due d = {
        CT_STMT_ISO_DUE, sizeof(ended), "finding isolation ends",
        "isolation end failed", read_end, notify_row,
        ct_isolation__schedule};
    return ct_area__run_due(c, &d);
}

static void iso_timer_cb(ct_timer *t, void *data)
{
    ct_capacity *c = data;
    if (ct_isolation_notify_due(c) < 0) /* logged; try again shortly */
        ct_timer_start(t, ct_clock_now(ct_area_clock(c)) + RETRY_MS,
                       iso_timer_cb, c);
}
