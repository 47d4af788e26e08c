#include "capacity_fixture.h"

#include "error.h"
#include "log.h"
#include "isolation.h"
#include "reconcile.h"
#include "referral.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ct_cap_error cap_err;

const char cap_fx_area[] =
    "area: {id: t, name: Test}\n"
    "pathogens: [covid, flu, norovirus]\n"
    "organisations:\n"
    "  - {id: acute, name: Acute Trust}\n"
    "  - {id: council, name: Council}\n"
    "  - {id: homes, name: Homes Ltd}\n"
    "facilities:\n"
    "  - id: sd\n"
    "    name: Step-down\n"
    "    kind: step_down\n"
    "    organisation: council\n"
    "    designated_setting: true\n"
    "    zones:\n"
    "      - id: red\n"
    "        name: Red\n"
    "        cohort: {covid: positive}\n"
    "        beds:\n"
    "          - range: R01..R04\n"
    "            tags: [isolation_room, nursing]\n"
    "          - id: R05\n"
    "            tags: [isolation_room, nursing]\n"
    "            surge: true\n"
    "      - id: green\n"
    "        name: Green\n"
    "        cohort: {covid: negative}\n"
    "        beds:\n"
    "          - range: G01..G04\n"
    "            tags: [nursing]\n"
    "          - range: G05..G06\n"
    "            tags: [nursing]\n"
    "            surge: true\n"
    "          - id: G07\n"
    "            tags: [isolation_room, nursing]\n"
    "  - id: home\n"
    "    name: Care home\n"
    "    kind: care_home\n"
    "    organisation: homes\n"
    "    zones:\n"
    "      - id: home-main\n"
    "        name: Main\n"
    "        cohort: {covid: negative, norovirus: negative}\n"
    "        beds:\n"
    "          - range: H01..H04\n"
    "            tags: [nursing]\n"
    "          - range: H05..H06\n"
    "            tags: [nursing, bariatric]\n"
    "      - id: home-memory\n"
    "        name: Memory\n"
    "        beds:\n"
    "          - range: M01..M02\n"
    "            tags: [dementia, nursing]\n"
    "  - id: rehab\n"
    "    name: Rehab ward\n"
    "    kind: rehab\n"
    "    organisation: council\n"
    "    zones:\n"
    "      - id: ward\n"
    "        name: Ward\n"
    "        beds:\n"
    "          - range: W01..W03\n"
    "            tags: [rehab]\n"
    "  - id: hc\n"
    "    name: Home care\n"
    "    kind: home_care\n"
    "    organisation: council\n"
    "    zones:\n"
    "      - id: north\n"
    "        name: North\n"
    "        beds:\n"
    "          - range: HC01..HC03\n"
    "            tags: [reablement]\n";

static void on_event(const ct_capacity_event *ev, void *data)
{
    cap_fx *f = data;
    json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:O}", "seq",
                          (json_int_t)ev->seq, "at", (json_int_t)ev->at,
                          "actor", ev->actor, "kind", ev->kind, "payload",
                          (json_t *)ev->payload);
    cr_assert_not_null(o);
    json_array_append_new(f->events, o);
}

static void make_capacity(cap_fx *f)
{
    ct_capacity_options o = {
        .hold_ttl_ms = 4 * HOUR_MS,
        .pathogens = (const char *const *)f->cfg->pathogens,
        .npathogens = f->cfg->npathogens,
        .event_cb = on_event,
        .event_data = f,
    };
    int rc = ct_capacity_new(f->store, f->clock, &o, &f->cap);
    cr_assert_eq(rc, 0, "ct_capacity_new: %s", ct_strerror(rc));
}

void cap_fx_open_path(cap_fx *f, const char *yaml, const char *path,
                      ct_sync_mode sync)
{
    memset(f, 0, sizeof *f);
    ct_log_setup(CT_LOG_AUTO, CT_LOG_WARN);
    if (!yaml)
        yaml = cap_fx_area;
    ct_diags d = {0};
    int rc = ct_config_load_text("area.yaml", ".", yaml, strlen(yaml),
                                 &f->cfg, &d);
    if (rc)
        ct_diags_print(&d, stderr);
    ct_diags_free(&d);
    cr_assert_eq(rc, 0, "test area does not load");
    ct_store_options so = {.sync = sync};
    rc = ct_store_open(path ? path : ":memory:", &so, &f->store);
    cr_assert_eq(rc, 0, "ct_store_open: %s", ct_strerror(rc));
    rc = ct_store_reconcile(f->store, f->cfg, NULL, &d);
    if (rc)
        ct_diags_print(&d, stderr);
    ct_diags_free(&d);
    cr_assert_eq(rc, 0, "reconcile: %s", ct_strerror(rc));
    cr_assert_eq(ct_clock_new_virtual(CAP_FX_START, &f->clock), 0);
    f->events = json_array();
    make_capacity(f);
}

void cap_fx_open(cap_fx *f, const char *yaml)
{
    cap_fx_open_path(f, yaml, NULL, CT_SYNC_NORMAL);
}

void cap_fx_reopen_capacity(cap_fx *f)
{
    ct_capacity_free(f->cap);
    make_capacity(f);
}

void cap_fx_close(cap_fx *f)
{
    ct_audit_report r = {0};
    int rc = ct_audit_verify(f->store, &r);
    cr_assert_eq(rc, 0, "audit chain: %s at %lld", r.reason,
                 (long long)r.first_bad);
    ct_capacity_free(f->cap);
    ct_clock_close(f->clock, NULL, NULL);
    ct_store_close(f->store);
    ct_config_free(f->cfg);
    json_decref(f->events);
    memset(f, 0, sizeof *f);
}

int64_t cap_fx_referral(cap_fx *f, const char *nhs, const char *ready_date,
                        int pathway, const char *const *needs)
{
    size_t n = 0;
    while (needs && needs[n])
        n++;
    ct_referral_input in = {
        .nhs_number = nhs,
        .age = 80,
        .needs = needs,
        .nneeds = n,
        .from_org = "acute",
        .ready_date = ready_date,
        .requested_pathway = -1,
    };
    ct_cap_error err = {0};
    int64_t id = 0;
    int rc = ct_referral_create(f->cap, &in, "org:acute", &id, &err);
    cr_assert_eq(rc, 0, "create: %s", err.message);
    if (pathway >= 0) {
        rc = ct_referral_triage(f->cap, id, (ct_pathway)pathway, 0, NULL,
                                "org:council", &err);
        cr_assert_eq(rc, 0, "triage: %s", err.message);
    }
    return id;
}

void cap_fx_infection(cap_fx *f, const char *nhs, const char *pathogen,
                      ct_infection_status status, int64_t isolation_end)
{
    ct_infection_update u = {nhs, pathogen, status,
                             ct_clock_now(f->clock), isolation_end};
    ct_cap_error err = {0};
    int rc = ct_isolation_set_status(f->cap, &u, "org:acute", NULL, &err);
    cr_assert_eq(rc, 0, "infection: %s", err.message);
}

size_t cap_fx_events(const cap_fx *f, const char *kind)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(f->events, i, e)
    {
        n += strcmp(json_string_value(json_object_get(e, "kind")), kind) == 0;
    }
    return n;
}

json_t *cap_fx_last(const cap_fx *f, const char *kind)
{
    for (size_t i = json_array_size(f->events); i-- > 0;) {
        json_t *e = json_array_get(f->events, i);
        if (strcmp(json_string_value(json_object_get(e, "kind")), kind) == 0)
            return json_object_get(e, "payload");
    }
    return NULL;
}

static sqlite3_stmt *prep(cap_fx *f, const char *sql, const char *p1)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = ct_store__db(f->store);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK,
                 "%s: %s", sql, sqlite3_errmsg(db));
    if (p1)
        sqlite3_bind_text(st, 1, p1, -1, SQLITE_TRANSIENT);
    return st;
}

long long cap_fx_int(cap_fx *f, const char *sql, const char *p1)
{
    sqlite3_stmt *st = prep(f, sql, p1);
    int rc = sqlite3_step(st);
    cr_assert_eq(rc, SQLITE_ROW, "%s returned no row", sql);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

char *cap_fx_text(cap_fx *f, const char *sql, const char *p1)
{
    sqlite3_stmt *st = prep(f, sql, p1);
    int rc = sqlite3_step(st);
    cr_assert_eq(rc, SQLITE_ROW, "%s returned no row", sql);
    const char *t = (const char *)sqlite3_column_text(st, 0);
    char *out = ct_strdup(t ? t : "");
    sqlite3_finalize(st);
    return out;
}

void cap_fx_nhs(unsigned i, char out[11])
{
    for (unsigned n = 0, found = 0; n < 1000000; n++) {
        char s[11];
        for (int k = 8, v = (int)n; k >= 3; k--, v /= 10)
            s[k] = (char)('0' + v % 10);
        s[0] = s[1] = s[2] = '9';
        int sum = 0;
        for (int k = 0; k < 9; k++)
            sum += (s[k] - '0') * (10 - k);
        int check = 11 - sum % 11;
        if (check == 11)
            check = 0;
        if (check == 10)
            continue;
        if (found++ == i) {
            s[9] = (char)('0' + check);
            s[10] = '\0';
            memcpy(out, s, 11);
            cr_assert(ct_nhs_number_valid(out, s));
            return;
        }
    }
    cr_assert_fail("no NHS number %u in the test range", i);
}
