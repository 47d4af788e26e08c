/*
 * Internals of the area config loader shared by its files: config.c (the
 * entry points, area, server, storage, trust, plugins and limits),
 * config_orgs.c (organisations and tokens) and config_facilities.c
 * (facilities, zones, beds). Not for use outside them.
 */
#ifndef CT_CONFIG_INT_H
#define CT_CONFIG_INT_H

#include "config.h"
#include "config_read.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct loader {
    ct_config_reader rd; /* the file, its diagnostics, the error count */
    const char *dir;
    ct_config *cfg;
    /* The organisations' ids sorted (load_facilities), so that naming one
     * costs a binary search, not a walk: an England-sized area names
     * about 1,500 from 15,000 facilities. */
    const char **org_ids;
    size_t norg_ids;
} loader;

/* A list of ids (n: a sequence) into a new array *out of *count copies;
 * what names it in messages. */
void ct_config__load_id_list(loader *l, const ct_node *n, const char *what,
                             char ***out, size_t *count);

/* Whether the area names pathogen p (config.c). */
bool ct_config__known_pathogen(const ct_config *c, const char *p);

/* path made absolute against the config's directory (a copy). */
char *ct_config__resolve(const loader *l, const char *path);

/* The 'organisations' section (config_orgs.c). */
void ct_config__load_orgs(loader *l, const ct_node *n);

/* Frees an organisation's webhook (NULL is fine; config_orgs.c). */
void ct_config__notify_free(ct_config_notify *w);

/* The 'facilities' section and the checks across it
 * (config_facilities.c); load_orgs runs first. */
void ct_config__load_facilities(loader *l, const ct_node *n);

/* Whether an organisation of this id is in the area (after
 * load_facilities has sorted their ids). */
bool ct_config__known_org(const loader *l, const char *id);

#endif
