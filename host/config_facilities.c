/*
 * The area config's facilities, zones and beds (config.h), with the
 * checks across them: unique ids, known organisations and pathogens.
 */
#include "config_int.h"
#include "natid.h"

#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bed range may not expand to more than this many beds. */
#define MAX_RANGE 100000

/* Splits "WH-R07" into prefix "WH-R", number 7 and width 2. */
static bool split_numbered(const char *s, size_t *prefix_len, long *num,
                           int *width)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && isdigit((unsigned char)s[i - 1]))
        i--;
    if (i == n || n - i > 9)
        return false;
    *prefix_len = i;
    *num = strtol(s + i, NULL, 10);
    *width = (int)(n - i);
    return true;
}

typedef struct bed_list {
    ct_config_bed *items;
    size_t len, cap;
} bed_list;

static ct_config_bed *bed_push(bed_list *b)
{
    if (ct_grow(&b->items, &b->cap, b->len, sizeof *b->items, 16))
        return NULL;
    ct_config_bed *bed = &b->items[b->len++];
    memset(bed, 0, sizeof *bed);
    return bed;
}

static char **copy_tags(loader *l, const ct_node *n, size_t *count)
{
    char **tags = NULL;
    *count = 0;
    if (n)
        ct_config__load_id_list(l, n, "'tags'", &tags, count);
    return tags;
}

/* One entry of a zone's beds list: {id: X} or {range: A..B}, with tags
 * and surge. Appends the beds it names. */
static void load_bed_entry(loader *l, const ct_node *n, bed_list *beds)
{
    static const char *const keys[] = {"id", "range", "tags", "surge", NULL};
    if (!ct_config_read_map(&l->rd, n, "a bed entry"))
        return;
    ct_config_read_keys(&l->rd, n, keys, "a bed entry");
    const ct_node *id = ct_node_get(n, "id");
    const ct_node *range = ct_node_get(n, "range");
    if (!!id + !!range != 1) {
        ct_config_read_err(&l->rd, n,
                           "a bed entry needs exactly one of 'id' or 'range'");
        return;
    }
    bool surge = ct_config_read_bool(&l->rd, n, "surge", false);
    const ct_node *tags_node = ct_node_get(n, "tags");
    size_t first = beds->len;
    if (id) {
        char *bid = ct_config_read_id(&l->rd, n, "id", "a bed entry");
        if (!bid)
            return;
        ct_config_bed *b = bed_push(beds);
        if (!b) {
            free(bid);
            return;
        }
        b->id = bid;
    } else {
        if (!ct_config_read_scalar(&l->rd, range, "'range'"))
            return;
        const char *s = range->value, *dots = strstr(s, "..");
        char *lo = dots ? strndup(s, (size_t)(dots - s)) : NULL;
        const char *hi = dots ? dots + 2 : NULL;
        size_t plo, phi;
        long a, z;
        int wlo, whi;
        if (!lo || !split_numbered(lo, &plo, &a, &wlo) ||
            !split_numbered(hi, &phi, &z, &whi) || plo != phi ||
            strncmp(lo, hi, plo) != 0 || !ct_config_read_valid_id(lo) ||
            !ct_config_read_valid_id(hi)) {
            ct_config_read_err(&l->rd, range,
                               "'range' must look like WH-R01..WH-R14 (same "
                               "prefix, numbers at the end), got '%s'",
                               s);
            free(lo);
            return;
        }
        if (z < a) {
            ct_config_read_err(&l->rd, range,
                               "'range' %s ends before it starts", s);
            free(lo);
            return;
        }
        if (z - a + 1 > MAX_RANGE) {
            ct_config_read_err(&l->rd, range,
                               "'range' %s names more than %d beds", s,
                               MAX_RANGE);
            free(lo);
            return;
        }
        int width = wlo == whi ? wlo : 0;
        for (long k = a; k <= z; k++) {
            ct_config_bed *b = bed_push(beds);
            char buf[CT_CONFIG_ID_MAX + 16];
            snprintf(buf, sizeof buf, "%.*s%0*ld", (int)plo, lo, width, k);
            if (!b || !(b->id = strdup(buf)))
                break;
        }
        free(lo);
    }
    size_t ntags = 0;
    char **tags = copy_tags(l, tags_node, &ntags);
    for (size_t i = first; i < beds->len; i++) {
        ct_config_bed *b = &beds->items[i];
        b->surge = surge;
        b->line = n->line;
        b->col = n->col;
        b->tags = calloc(ntags ? ntags : 1, sizeof *b->tags);
        for (size_t t = 0; b->tags && t < ntags; t++)
            if ((b->tags[b->ntags] = strdup(tags[t])))
                b->ntags++;
    }
    for (size_t t = 0; t < ntags; t++)
        free(tags[t]);
    free(tags);
}

static void load_cohorts(loader *l, const ct_node *n, ct_config_zone *z)
{
    if (!ct_config_read_map(&l->rd, n, "'cohort'"))
        return;
    z->cohorts = calloc(n->len ? n->len : 1, sizeof *z->cohorts);
    if (!z->cohorts)
        return;
    for (size_t i = 0; i < n->len; i++) {
        const ct_node *k = ct_node_key(n, i), *v = ct_node_value(n, i);
        if (!ct_config__known_pathogen(l->cfg, k->value)) {
            ct_config_read_err(
                &l->rd, k,
                "unknown pathogen '%s' in 'cohort'; declare it under "
                "'pathogens'",
                k->value);
            continue;
        }
        if (!ct_config_read_scalar(&l->rd, v, "a cohort"))
            continue;
        int c = ct_cohort_parse(v->value);
        if (c < 0) {
            ct_config_read_err(&l->rd, v,
                               "unknown cohort '%s' for %s; expected %s",
                               v->value, k->value, ct_cohort_list());
            continue;
        }
        ct_config_cohort *cc = &z->cohorts[z->ncohorts++];
        cc->pathogen = strdup(k->value);
        cc->cohort = (ct_cohort)c;
    }
}

static void load_zone(loader *l, const ct_node *n, ct_config_zone *z)
{
    static const char *const keys[] = {"id", "name", "cohort", "closed",
                                       "beds", NULL};
    z->line = n->line;
    z->col = n->col;
    if (!ct_config_read_map(&l->rd, n, "a zone"))
        return;
    ct_config_read_keys(&l->rd, n, keys, "a zone");
    z->id = ct_config_read_id(&l->rd, n, "id", "a zone");
    z->name = ct_config_read_string(&l->rd, n, "name", false, "a zone");
    if (!z->name && z->id)
        z->name = strdup(z->id);
    z->closed = ct_config_read_bool(&l->rd, n, "closed", false);
    const ct_node *cohort = ct_node_get(n, "cohort");
    if (cohort)
        load_cohorts(l, cohort, z);
    const ct_node *beds = ct_node_get(n, "beds");
    if (!beds) {
        ct_config_read_err(&l->rd, n,
                           "zone '%s' is missing required key 'beds'",
                           z->id ? z->id : "?");
        return;
    }
    if (!ct_config_read_seq(&l->rd, beds, "'beds'"))
        return;
    bed_list list = {0};
    for (size_t i = 0; i < beds->len; i++)
        load_bed_entry(l, beds->items[i], &list);
    z->beds = list.items;
    z->nbeds = list.len;
    l->cfg->nbeds += list.len;
}

static void load_facility(loader *l, const ct_node *n, ct_config_facility *f)
{
    static const char *const keys[] = {"id",           "name",
                                       "kind",         "organisation",
                                       "ods_site_code", "cqc_location_id",
                                       "designated_setting", "zones", NULL};
    f->line = n->line;
    if (!ct_config_read_map(&l->rd, n, "a facility"))
        return;
    ct_config_read_keys(&l->rd, n, keys, "a facility");
    f->id = ct_config_read_id(&l->rd, n, "id", "a facility");
    f->name = ct_config_read_string(&l->rd, n, "name", true, "a facility");
    const ct_node *kind = ct_node_get(n, "kind");
    if (!kind)
        ct_config_read_err(&l->rd, n,
                           "facility is missing required key 'kind'");
    else if (ct_config_read_scalar(&l->rd, kind, "'kind'")) {
        int k = ct_facility_kind_parse(kind->value);
        if (k < 0)
            ct_config_read_err(&l->rd, kind,
                               "unknown facility kind '%s'; expected %s",
                               kind->value, ct_facility_kind_list());
        else
            f->kind = (ct_facility_kind)k;
    }
    f->org =
        ct_config_read_string(&l->rd, n, "organisation", true, "a facility");
    if (f->org && !ct_config__known_org(l, f->org))
        ct_config_read_err(&l->rd, ct_node_get(n, "organisation"),
                           "facility '%s' names unknown organisation '%s'",
                           f->id ? f->id : "?", f->org);
    f->ods_site = ct_config_read_natid(
        &l->rd, n, "ods_site_code", ct_natid_ods_valid, "an ODS site code",
        "of 3 to 10 upper-case letters and digits, "
        "e.g. RXX01");
    f->cqc_location = ct_config_read_natid(
        &l->rd, n, "cqc_location_id", ct_natid_cqc_valid, "a CQC location id",
        "1- and 6 to 14 digits, e.g. 1-101674693");
    f->designated = ct_config_read_bool(&l->rd, n, "designated_setting", false);
    const ct_node *zones = ct_node_get(n, "zones");
    if (!zones) {
        ct_config_read_err(&l->rd, n,
                           "facility '%s' is missing required key 'zones'",
                           f->id ? f->id : "?");
        return;
    }
    if (!ct_config_read_seq(&l->rd, zones, "'zones'"))
        return;
    f->zones = calloc(zones->len ? zones->len : 1, sizeof *f->zones);
    if (!f->zones)
        return;
    for (size_t i = 0; i < zones->len; i++)
        load_zone(l, zones->items[i], &f->zones[f->nzones++]);
}

typedef struct ref {
    const char *id;
    uint32_t line, col;
} ref;

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool ct_config__known_org(const loader *l, const char *id)
{
    if (!l->org_ids) /* out of memory sorting them: walk the list */
        return ct_config_find_org(l->cfg, id) != NULL;
    return bsearch(&id, l->org_ids, l->norg_ids, sizeof *l->org_ids,
                   str_cmp) != NULL;
}

static int ref_cmp(const void *a, const void *b)
{
    const ref *x = a, *y = b;
    int d = strcmp(x->id, y->id);
    if (d)
        return d;
    return (x->line > y->line) - (x->line < y->line);
}

/* Reports ids used twice across the whole area: facilities, zones, beds. */
static void check_unique_ids(loader *l, const ct_node *n)
{
    const ct_config *c = l->cfg;
    /* Facilities, zones and beds: sorted by id, so that an England-sized
     * area (15,000 homes, 500,000 beds) is checked in n log n. */
    ref *facs = calloc(c->nfacilities ? c->nfacilities : 1, sizeof *facs);
    size_t fi = 0;
    for (size_t i = 0; facs && i < c->nfacilities; i++) {
        const ct_node *id = ct_node_get(n->items[i], "id");
        if (c->facilities[i].id && id)
            facs[fi++] = (ref){c->facilities[i].id, id->line, id->col};
    }
    if (facs) {
        qsort(facs, fi, sizeof *facs, ref_cmp);
        for (size_t i = 1; i < fi; i++) {
            if (strcmp(facs[i].id, facs[i - 1].id) != 0)
                continue;
            size_t first = i - 1;
            while (first > 0 && strcmp(facs[first - 1].id, facs[i].id) == 0)
                first--;
            const ct_config_facility *f1 =
                ct_config_find_facility(c, facs[first].id);
            ct_diags_add(l->rd.diags, l->rd.file, facs[i].line, facs[i].col,
                         "duplicate facility id '%s' (first at line %u)",
                         facs[i].id, f1 ? f1->line : facs[first].line);
            l->rd.errors++;
        }
        free(facs);
    }
    /* Zones and beds: a sorted index keeps this fast for large areas. */
    size_t nz = 0, nb = 0;
    for (size_t i = 0; i < c->nfacilities; i++) {
        nz += c->facilities[i].nzones;
        for (size_t j = 0; j < c->facilities[i].nzones; j++)
            nb += c->facilities[i].zones[j].nbeds;
    }
    ref *zones = calloc(nz ? nz : 1, sizeof *zones);
    ref *beds = calloc(nb ? nb : 1, sizeof *beds);
    if (!zones || !beds) {
        free(zones);
        free(beds);
        return;
    }
    size_t zi = 0, bi = 0;
    for (size_t i = 0; i < c->nfacilities; i++)
        for (size_t j = 0; j < c->facilities[i].nzones; j++) {
            const ct_config_zone *z = &c->facilities[i].zones[j];
            if (z->id)
                zones[zi++] = (ref){z->id, z->line, z->col};
            for (size_t k = 0; k < z->nbeds; k++)
                beds[bi++] = (ref){z->beds[k].id, z->beds[k].line,
                                    z->beds[k].col};
        }
    struct {
        ref *items;
        size_t n;
        const char *what;
    } sets[] = {{zones, zi, "zone"}, {beds, bi, "bed"}};
    for (size_t s = 0; s < 2; s++) {
        ref *r = sets[s].items;
        /* By id then line, so "first at" names the earliest. */
        qsort(r, sets[s].n, sizeof *r, ref_cmp);
        for (size_t i = 1; i < sets[s].n; i++) {
            if (strcmp(r[i].id, r[i - 1].id) == 0) {
                size_t first = i - 1;
                while (first > 0 && strcmp(r[first - 1].id, r[i].id) == 0)
                    first--;
                ct_diags_add(l->rd.diags, l->rd.file, r[i].line, r[i].col,
                             "duplicate %s id '%s' (first at line %u)",
                             sets[s].what, r[i].id, r[first].line);
                l->rd.errors++;
            }
        }
    }
    free(zones);
    free(beds);
}

void ct_config__load_facilities(loader *l, const ct_node *n)
{
    ct_config *c = l->cfg;
    if (!n) {
        ct_config_read_err(&l->rd, c->root,
                           "missing required section 'facilities'");
        return;
    }
    if (!ct_config_read_seq(&l->rd, n, "'facilities'"))
        return;
    c->facilities = calloc(n->len ? n->len : 1, sizeof *c->facilities);
    if (!c->facilities)
        return;
    l->org_ids = calloc(c->norgs ? c->norgs : 1, sizeof *l->org_ids);
    for (size_t i = 0; l->org_ids && i < c->norgs; i++)
        if (c->orgs[i].id)
            l->org_ids[l->norg_ids++] = c->orgs[i].id;
    if (l->org_ids)
        qsort(l->org_ids, l->norg_ids, sizeof *l->org_ids, str_cmp);
    for (size_t i = 0; i < n->len; i++)
        load_facility(l, n->items[i], &c->facilities[c->nfacilities++]);
    free(l->org_ids);
    l->org_ids = NULL;
    check_unique_ids(l, n);
}
