/*
 * Replay (sim.h ct_sim_replay_load): the referrals an area really received
 * in a past period, read from its audit log ("referral.created", with the
 * age and infections their referral rows keep), so that a winter that
 * happened can be run again under other rules. The database is opened
 * read-only and never changed.
 */
#include "sim.h"

#include "clock.h"
#include "error.h"
#include "model.h"
#include "store.h"
#include "store_int.h"
#include "store_sql_sim.h"
#include "util.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* The statements of this unit, apart from the store's list. */
CT_STMT_SET_DEFINE(replay_stmts, CT_STMTS_SIM, CT_STMT_SIM__COUNT);

#define DAY_MS 86400000LL

static int64_t uk_midnight(int64_t day)
{
    int64_t t = day * DAY_MS;
    return t - ct_clock_uk_offset(t);
}

static void read_row(sqlite3_stmt *st, const ct_sim_scenario *sc,
                     ct_sim_arrival *a)
{
    memset(a, 0, sizeof *a);
    a->at = sqlite3_column_int64(st, 0);
    a->age = sqlite3_column_type(st, 2) == SQLITE_NULL
                 ? -1
                 : sqlite3_column_int(st, 2);
    a->pathway = -1;
    const char *pj = (const char *)sqlite3_column_text(st, 1);
    json_t *p = pj ? json_loads(pj, 0, NULL) : NULL;
    const char *org = json_string_value(json_object_get(p, "from_org"));
    const char *ready = json_string_value(json_object_get(p, "ready_date"));
    const char *path =
        json_string_value(json_object_get(p, "requested_pathway"));
    ct_copy_str(a->from_org, sizeof a->from_org, org ? org : "");
    int64_t ms;
    char msg[120];
    a->ready_day = ready && !ct_clock_parse_day(ready, &ms, msg, sizeof msg)
                       ? ms / DAY_MS
                       : ct_clock_uk_day(a->at);
    if (path)
        a->pathway = ct_pathway_parse(path);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(p, "needs"), i, v)
    {
        const char *t = json_string_value(v);
        if (!t || strlen(a->needs) + strlen(t) + 2 > sizeof a->needs)
            continue;
        if (a->needs[0])
            strcat(a->needs, ",");
        strcat(a->needs, t);
    }
    json_decref(p);
    const char *ij = (const char *)sqlite3_column_text(st, 3);
    json_t *inf = ij ? json_loads(ij, 0, NULL) : NULL;
    for (size_t k = 0; k < sc->ninfections && k < 8; k++) {
        json_t *e = json_object_get(inf, sc->infections[k].pathogen);
        const char *s = json_string_value(json_object_get(e, "status"));
        a->positive[k] = s && strcmp(s, "positive") == 0;
    }
    json_decref(inf);
}

int ct_sim_replay_load(const char *db_path, int64_t from_day, int64_t to_day,
                       const ct_sim_scenario *sc, ct_sim_arrival **out,
                       size_t *n, ct_diags *d)
{
    *out = NULL;
    *n = 0;
    ct_store_options so = {.readonly = true};
    ct_store *s = NULL;
    int rc = ct_store_open(db_path, &so, &s);
    if (rc) {
        ct_diags_add(d, db_path, 0, 0, "cannot open the database: %s",
                     ct_strerror(rc));
        return rc;
    }
    sqlite3_stmt *st = ct_store__stmt_of(s, &replay_stmts, CT_STMT_SIM_REPLAY);
    if (!st) {
        ct_diags_add(d, db_path, 0, 0, "cannot read the audit log");
        ct_store_close(s);
        return CT_EIO;
    }
    sqlite3_bind_int64(st, 1, uk_midnight(from_day));
    sqlite3_bind_int64(st, 2, uk_midnight(to_day + 1));
    size_t cap = 0;
    ct_sim_arrival *v = NULL;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            ct_sim_arrival *g = realloc(v, cap * sizeof *g);
            if (!g) {
                rc = CT_ENOMEM;
                break;
            }
            v = g;
        }
        read_row(st, sc, &v[(*n)++]);
    }
    if (!rc && step != SQLITE_DONE) {
        ct_diags_add(d, db_path, 0, 0, "cannot read the audit log: %s",
                     sqlite3_errstr(step));
        rc = CT_EIO;
    }
    sqlite3_reset(st);
    ct_store_close(s);
    if (!rc && !*n) {
        ct_diags_add(d, db_path, 0, 0, "no referrals were created in the "
                                       "period asked for");
        rc = CT_ENOTFOUND;
    }
    if (rc) {
        free(v);
        *n = 0;
        return rc;
    }
    *out = v;
    return 0;
}
