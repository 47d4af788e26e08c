/*
 * Config reconciliation (ct_store_reconcile): organisations, facilities,
 * zones with their cohorts and closure, and beds with their tags and surge
 * flag follow the loaded config, in one transaction.
 *
 * Every row goes through "insert if missing, else update if different"
 * (the RECONCILE_* statements in store_sql_store.h), so a second load of
 * the same config writes nothing and the counts say exactly what moved.
 * What the config no longer lists is retired, never deleted: history
 * (assignments, events) keeps pointing at it.
 *
 * The SHA-256 of every value it writes (config_hash) is kept with the
 * rows (table config_loaded, in the same transaction): a start or reload
 * whose config hashes the same has nothing to write and skips the walk,
 * seconds on an England-sized area (docs/performance.md, "Scale").
 */
#include "reconcile.h"
#include "store_int.h"

#include "error.h"
#include "json_canon.h"
#include "log.h"
#include "model.h"
#include "sha256.h"
#include "util.h"

#include <stdint.h>
#include <string.h>

#define UNIT "store"

/* One bound parameter: text when s is not NULL, else the integer i. */
typedef struct arg {
    const char *s;
    int64_t i;
} arg;

enum { SAME, ADDED, CHANGED };

/* Binds a[0..n) to ?1..?n of the cached statement id, runs it to
 * completion and reports the rows it changed. The texts are bound
 * SQLITE_STATIC: they only need to outlive this call. */
static int run(ct_store *s, ct_stmt id, const arg *a, int n, int *changes)
{
    sqlite3_stmt *st = ct_store__stmt(s, id);
    if (!st)
        return CT_ESTORE;
    for (int i = 0; i < n; i++) {
        int rc = a[i].s ? sqlite3_bind_text(st, i + 1, a[i].s, -1,
                                            SQLITE_STATIC)
                        : sqlite3_bind_int64(st, i + 1, a[i].i);
        if (rc != SQLITE_OK) {
            ct_log_error(UNIT, "binding parameter %d of %s: %s", i + 1,
                         sqlite3_sql(st), sqlite3_errstr(rc));
            return ct_err_from_sqlite(rc);
        }
    }
    int err = ct_store__step_done(s, st);
    if (!err && changes)
        *changes = sqlite3_changes(ct_store__db(s));
    return err;
}

/* Insert-if-missing then update-if-different, both statements taking the
 * same parameters. *outcome is SAME, ADDED or CHANGED. */
static int upsert(ct_store *s, ct_stmt ins, ct_stmt upd, const arg *a, int n,
                  int *outcome)
{
    int changes = 0;
    int err = run(s, ins, a, n, &changes);
    if (err)
        return err;
    if (changes) {
        *outcome = ADDED;
        return 0;
    }
    if ((err = run(s, upd, a, n, &changes)))
        return err;
    *outcome = changes ? CHANGED : SAME;
    return 0;
}

/*
 * JSON arrays of strings, bound as one text and read with json_each. A
 * zeroed ct_buf is an empty list to start; json_end closes it.
 */
static int json_add(ct_buf *b, const char *str)
{
    int err = ct_buf_puts(b, b->len ? ",\"" : "[\"");
    for (const unsigned char *p = (const unsigned char *)str; !err && *p;
         p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            err = ct_buf_append(b, esc, 2);
        } else if (*p < 0x20) {
            err = ct_buf_printf(b, "\\u%04x", *p);
        } else {
            err = ct_buf_append(b, p, 1);
        }
    }
    return err ? err : ct_buf_puts(b, "\"");
}

static int json_end(ct_buf *b)
{
    return ct_buf_puts(b, b->len ? "]" : "[]");
}

static void json_reset(ct_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* The ids the config lists, as JSON arrays. */
typedef struct listed {
    ct_buf facilities, zones, beds;
} listed;

static int list_ids(const ct_config *cfg, listed *l)
{
    int err = 0;
    for (size_t f = 0; !err && f < cfg->nfacilities; f++) {
        const ct_config_facility *fac = &cfg->facilities[f];
        err = json_add(&l->facilities, fac->id);
        for (size_t z = 0; !err && z < fac->nzones; z++) {
            const ct_config_zone *zone = &fac->zones[z];
            err = json_add(&l->zones, zone->id);
            for (size_t b = 0; !err && b < zone->nbeds; b++)
                err = json_add(&l->beds, zone->beds[b].id);
        }
    }
    if (!err)
        err = json_end(&l->facilities);
    if (!err)
        err = json_end(&l->zones);
    if (!err)
        err = json_end(&l->beds);
    return err;
}

/* Where to point a diagnostic about a bed of zone_id in facility_id: the
 * zone's line if the config still has the zone, else the facility's, else
 * no line. */
static uint32_t config_line(const ct_config *cfg, const char *zone_id,
                            const char *facility_id)
{
    uint32_t line = 0;
    for (size_t f = 0; f < cfg->nfacilities; f++) {
        const ct_config_facility *fac = &cfg->facilities[f];
        for (size_t z = 0; z < fac->nzones; z++)
            if (strcmp(fac->zones[z].id, zone_id) == 0)
                return fac->zones[z].line;
        if (facility_id && strcmp(fac->id, facility_id) == 0)
            line = fac->line;
    }
    return line;
}

/*
 * Beds the config drops while someone holds or occupies them: retiring
 * them would strand the person, so each one is reported and the whole
 * reconcile refused.
 */
static int check_busy(ct_store *s, const ct_config *cfg, const char *beds,
                      ct_diags *diags)
{
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_RECONCILE_BED_BUSY);
    if (!st)
        return CT_ESTORE;
    int rc = sqlite3_bind_text(st, 1, beds, -1, SQLITE_STATIC);
    if (rc != SQLITE_OK)
        return ct_err_from_sqlite(rc);
    unsigned busy = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *status = (const char *)sqlite3_column_text(st, 1);
        const char *zone = (const char *)sqlite3_column_text(st, 2);
        const char *fac = (const char *)sqlite3_column_text(st, 3);
        if (!id || !status || !zone)
            continue; /* out of memory reading columns: counted below */
        ct_diags_add(diags, cfg->file, config_line(cfg, zone, fac), 0,
                     "bed %s (zone %s) is %s and cannot be retired: end its "
                     "%s first or keep it in the config",
                     id, zone, status,
                     strcmp(status, "held") == 0 ? "hold" : "occupancy");
        busy++;
    }
    int err = rc == SQLITE_DONE ? 0 : ct_err_from_sqlite(rc);
    if (err)
        ct_log_error(UNIT, "finding busy beds: %s",
                     sqlite3_errmsg(ct_store__db(s)));
    sqlite3_reset(st);
    if (!err && busy) {
        ct_log_error(UNIT, "config retires %u held or occupied bed%s", busy,
                     busy == 1 ? "" : "s");
        err = CT_ECONFIG;
    }
    return err;
}

static int reconcile_orgs(ct_store *s, const ct_config *cfg,
                          ct_reconcile_stats *stats)
{
    for (size_t i = 0; i < cfg->norgs; i++) {
        const ct_config_org *o = &cfg->orgs[i];
        arg a[] = {{o->id, 0}, {o->name, 0}};
        int outcome, err = upsert(s, CT_STMT_RECONCILE_ORG_INSERT,
                                  CT_STMT_RECONCILE_ORG_UPDATE, a, 2,
                                  &outcome);
        if (err)
            return err;
        stats->orgs_added += outcome == ADDED;
        stats->orgs_changed += outcome == CHANGED;
    }
    return 0;
}

/* Declared cohorts of one zone; tells whether any live value moved. */
static int reconcile_cohorts(ct_store *s, const ct_config_zone *z,
                             ct_buf *scratch, bool *moved)
{
    json_reset(scratch);
    int err = 0, changes = 0;
    for (size_t i = 0; !err && i < z->ncohorts; i++) {
        const ct_config_cohort *c = &z->cohorts[i];
        arg a[] = {{z->id, 0}, {c->pathogen, 0},
                   {ct_cohort_name(c->cohort), 0}};
        if (!(err = run(s, CT_STMT_RECONCILE_COHORT_UPSERT, a, 3, &changes)))
            err = json_add(scratch, c->pathogen);
        *moved |= changes > 0;
    }
    if (!err)
        err = json_end(scratch);
    if (!err) {
        arg a[] = {{z->id, 0}, {scratch->data, 0}};
        err = run(s, CT_STMT_RECONCILE_COHORT_UNLISTED, a, 2, &changes);
        *moved |= changes > 0;
    }
    return err;
}

/* A bed into a store that had no area (fresh): an insert and its tags,
 * nothing to compare or drop. Half a million beds in a second or two
 * rather than many (`caretide check`'s scratch copy, a first start). */
static int fresh_bed(ct_store *s, const ct_config_zone *z,
                     const ct_config_bed *b, ct_reconcile_stats *stats)
{
    arg a[] = {{b->id, 0}, {z->id, 0}, {NULL, b->surge}};
    int changes = 0, err = run(s, CT_STMT_RECONCILE_BED_INSERT, a, 3,
                               &changes);
    for (size_t i = 0; !err && i < b->ntags; i++) {
        arg t[] = {{b->id, 0}, {b->tags[i], 0}};
        err = run(s, CT_STMT_RECONCILE_BED_TAG_INSERT, t, 2, NULL);
    }
    if (!err && !changes)
        err = CT_ECORRUPT; /* ids are unique (config.c): cannot happen */
    if (!err)
        stats->beds_added++;
    return err;
}

static int reconcile_bed(ct_store *s, const ct_config_zone *z,
                         const ct_config_bed *b, ct_buf *scratch,
                         ct_reconcile_stats *stats)
{
    arg a[] = {{b->id, 0}, {z->id, 0}, {NULL, b->surge}};
    int outcome, err = upsert(s, CT_STMT_RECONCILE_BED_INSERT,
                              CT_STMT_RECONCILE_BED_UPDATE, a, 3, &outcome);
    if (err)
        return err;

    json_reset(scratch);
    for (size_t i = 0; !err && i < b->ntags; i++)
        err = json_add(scratch, b->tags[i]);
    if (!err)
        err = json_end(scratch);
    arg t[] = {{b->id, 0}, {scratch->data, 0}};
    int dropped = 0, added = 0;
    if (!err)
        err = run(s, CT_STMT_RECONCILE_BED_TAGS_DROP, t, 2, &dropped);
    if (!err)
        err = run(s, CT_STMT_RECONCILE_BED_TAGS_ADD, t, 2, &added);
    if (err)
        return err;
    if (outcome == SAME && (dropped || added))
        outcome = CHANGED;
    stats->beds_added += outcome == ADDED;
    stats->beds_changed += outcome == CHANGED;
    return 0;
}

static int reconcile_zone(ct_store *s, const ct_config_facility *f,
                          const ct_config_zone *z, ct_buf *scratch,
                          bool fresh, ct_reconcile_stats *stats)
{
    arg a[] = {{z->id, 0}, {f->id, 0}, {z->name, 0}, {NULL, z->closed}};
    int outcome, err = upsert(s, CT_STMT_RECONCILE_ZONE_INSERT,
                              CT_STMT_RECONCILE_ZONE_UPDATE, a, 4, &outcome);
    bool moved = false;
    if (!err)
        err = reconcile_cohorts(s, z, scratch, &moved);
    if (err)
        return err;
    if (outcome == SAME && moved)
        outcome = CHANGED;
    stats->zones_added += outcome == ADDED;
    stats->zones_changed += outcome == CHANGED;
    for (size_t i = 0; !err && i < z->nbeds; i++)
        err = fresh ? fresh_bed(s, z, &z->beds[i], stats)
                    : reconcile_bed(s, z, &z->beds[i], scratch, stats);
    return err;
}

static int reconcile_facilities(ct_store *s, const ct_config *cfg,
                                ct_buf *scratch, bool fresh,
                                ct_reconcile_stats *stats)
{
    for (size_t i = 0; i < cfg->nfacilities; i++) {
        const ct_config_facility *f = &cfg->facilities[i];
        arg a[] = {{f->id, 0}, {f->name, 0},
                   {ct_facility_kind_name(f->kind), 0}, {f->org, 0},
                   {NULL, f->designated}};
        int outcome, err = upsert(s, CT_STMT_RECONCILE_FACILITY_INSERT,
                                  CT_STMT_RECONCILE_FACILITY_UPDATE, a, 5,
                                  &outcome);
        if (err)
            return err;
        stats->facilities_added += outcome == ADDED;
        stats->facilities_changed += outcome == CHANGED;
        for (size_t z = 0; z < f->nzones; z++)
            if ((err = reconcile_zone(s, f, &f->zones[z], scratch, fresh,
                                      stats)))
                return err;
    }
    return 0;
}

/* Retires beds, then zones, then facilities the config no longer lists. */
static int retire_unlisted(ct_store *s, const listed *l,
                           ct_reconcile_stats *stats)
{
    int n = 0;
    arg beds[] = {{l->beds.data, 0}};
    int err = run(s, CT_STMT_RECONCILE_BED_RETIRE, beds, 1, &n);
    if (err)
        return err;
    stats->beds_retired = (unsigned)n;
    arg zones[] = {{l->zones.data, 0}};
    if ((err = run(s, CT_STMT_RECONCILE_ZONE_RETIRE, zones, 1, &n)))
        return err;
    stats->zones_retired = (unsigned)n;
    arg facilities[] = {{l->facilities.data, 0}};
    if ((err = run(s, CT_STMT_RECONCILE_FACILITY_RETIRE, facilities, 1, &n)))
        return err;
    stats->facilities_retired = (unsigned)n;
    return 0;
}

/* Appends a value and a NUL (NULL as "\x01"): fields never run into one
 * another. */
static int hash_text(ct_buf *b, const char *v)
{
    return v ? ct_buf_append(b, v, strlen(v) + 1) : ct_buf_append(b, "\1", 2);
}

static int hash_int(ct_buf *b, int64_t v)
{
    /* The same decimal digits as "%lld" (the hashes already stored must
     * not move), without printf's cost on half a million beds. */
    return ct_json_canon_int(b, v) || ct_buf_append(b, "", 1) ? CT_ENOMEM
                                                               : 0;
}

/* The SHA-256 of everything reconcile writes, in its order, with the
 * schema version (a migration may change what the same config means). */
static int config_hash(const ct_config *cfg, uint8_t out[CT_SHA256_BYTES])
{
    ct_buf b = {0};
    int err = hash_text(&b, "caretide reconcile 1") ||
                      hash_int(&b, ct_store__nmigrations)
                  ? CT_ENOMEM
                  : 0;
    for (size_t i = 0; !err && i < cfg->norgs; i++)
        err = hash_text(&b, cfg->orgs[i].id) ||
                      hash_text(&b, cfg->orgs[i].name)
                  ? CT_ENOMEM
                  : 0;
    for (size_t i = 0; !err && i < cfg->nfacilities; i++) {
        const ct_config_facility *f = &cfg->facilities[i];
        err = hash_text(&b, "F") || hash_text(&b, f->id) ||
                      hash_text(&b, f->name) ||
                      hash_text(&b, ct_facility_kind_name(f->kind)) ||
                      hash_text(&b, f->org) || hash_int(&b, f->designated)
                  ? CT_ENOMEM
                  : 0;
        for (size_t z = 0; !err && z < f->nzones; z++) {
            const ct_config_zone *zn = &f->zones[z];
            err = hash_text(&b, "Z") || hash_text(&b, zn->id) ||
                          hash_text(&b, zn->name) ||
                          hash_int(&b, zn->closed)
                      ? CT_ENOMEM
                      : 0;
            for (size_t c = 0; !err && c < zn->ncohorts; c++)
                err = hash_text(&b, zn->cohorts[c].pathogen) ||
                              hash_text(&b, ct_cohort_name(
                                                zn->cohorts[c].cohort))
                          ? CT_ENOMEM
                          : 0;
            for (size_t k = 0; !err && k < zn->nbeds; k++) {
                const ct_config_bed *bd = &zn->beds[k];
                err = hash_text(&b, "B") || hash_text(&b, bd->id) ||
                              hash_int(&b, bd->surge)
                          ? CT_ENOMEM
                          : 0;
                for (size_t t = 0; !err && t < bd->ntags; t++)
                    err = hash_text(&b, bd->tags[t]) ? CT_ENOMEM : 0;
            }
        }
    }
    if (!err)
        ct_sha256_pair(b.data, b.len, NULL, 0, out);
    ct_buf_free(&b);
    return err;
}

/* Whether the store holds no area yet (inside the reconcile's
 * transaction): then nothing is busy, nothing to retire and every bed is
 * new. */
static int is_fresh(ct_store *s, bool *fresh)
{
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_RECONCILE_FRESH);
    if (!st)
        return CT_ESTORE;
    int rc = sqlite3_step(st);
    *fresh = rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : ct_err_from_sqlite(rc);
}

/* Whether the store last loaded a config with this hash. */
static bool loaded_already(ct_store *s, const uint8_t hash[CT_SHA256_BYTES])
{
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_RECONCILE_HASH_GET);
    if (!st)
        return false;
    bool same = sqlite3_step(st) == SQLITE_ROW &&
                sqlite3_column_bytes(st, 0) == CT_SHA256_BYTES &&
                memcmp(sqlite3_column_blob(st, 0), hash, CT_SHA256_BYTES) == 0;
    sqlite3_reset(st);
    return same;
}

static int save_hash(ct_store *s, const uint8_t hash[CT_SHA256_BYTES])
{
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_RECONCILE_HASH_SET);
    if (!st)
        return CT_ESTORE;
    int rc = sqlite3_bind_blob(st, 1, hash, CT_SHA256_BYTES, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        sqlite3_reset(st);
        return ct_err_from_sqlite(rc);
    }
    return ct_store__step_done(s, st);
}

int ct_store_reconcile(ct_store *s, const ct_config *cfg,
                       ct_reconcile_stats *stats, ct_diags *diags)
{
    ct_reconcile_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    if (!s || !cfg || !diags)
        return CT_EINVAL;

    uint8_t hash[CT_SHA256_BYTES];
    bool hashed = config_hash(cfg, hash) == 0;
    if (hashed && !ct_store_in_transaction(s) && loaded_already(s, hash)) {
        ct_log_info(UNIT, "reconciled %s: unchanged since the last load",
                    cfg->file ? cfg->file : "config");
        return 0;
    }

    listed l = {{0}, {0}, {0}};
    ct_buf scratch = {0};
    bool fresh = false;
    int err = ct_store_begin(s);
    if (err)
        goto fail_lists;
    if ((err = is_fresh(s, &fresh)))
        goto fail_txn;
    /* The lists of ids say what is no longer listed: nothing, in a store
     * with no area yet. */
    if (!fresh && ((err = list_ids(cfg, &l)) ||
                   (err = check_busy(s, cfg, l.beds.data, diags))))
        goto fail_txn;
    if ((err = reconcile_orgs(s, cfg, stats)))
        goto fail_txn;
    if ((err = reconcile_facilities(s, cfg, &scratch, fresh, stats)))
        goto fail_txn;
    if (!fresh && (err = retire_unlisted(s, &l, stats)))
        goto fail_txn;
    if (hashed && (err = save_hash(s, hash)))
        goto fail_txn;
    if ((err = ct_store_commit(s)))
        goto fail_txn;

    ct_log_info(UNIT,
                "reconciled %s: organisations +%u ~%u, facilities +%u ~%u "
                "-%u, zones +%u ~%u -%u, beds +%u ~%u -%u",
                cfg->file ? cfg->file : "config", stats->orgs_added,
                stats->orgs_changed, stats->facilities_added,
                stats->facilities_changed, stats->facilities_retired,
                stats->zones_added, stats->zones_changed,
                stats->zones_retired, stats->beds_added, stats->beds_changed,
                stats->beds_retired);
    ct_buf_free(&scratch);
    ct_buf_free(&l.beds);
    ct_buf_free(&l.zones);
    ct_buf_free(&l.facilities);
    return 0;

fail_txn:
    ct_store_rollback(s);
fail_lists:
    memset(stats, 0, sizeof *stats);
    ct_buf_free(&scratch);
    ct_buf_free(&l.beds);
    ct_buf_free(&l.zones);
    ct_buf_free(&l.facilities);
    return err;
}
