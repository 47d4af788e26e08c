/*
 * Loading a config into the store (host/store_reconcile.c): organisations,
 * facilities, zones and beds follow the config idempotently. Kept apart
 * from store.h, which knows storage only, so that the config, trust and
 * YAML headers reach only the units that load configs.
 */
#ifndef CT_RECONCILE_H
#define CT_RECONCILE_H

#include "config.h"
#include "diag.h"
#include "store.h"

typedef struct ct_reconcile_stats {
    unsigned orgs_added, orgs_changed;
    unsigned facilities_added, facilities_changed, facilities_retired;
    unsigned zones_added, zones_changed, zones_retired;
    unsigned beds_added, beds_changed, beds_retired;
} ct_reconcile_stats;

/*
 * Brings organisations, facilities, zones (cohorts, closure) and beds
 * (tags, surge flag) in line with cfg, in one transaction of its own
 * (CT_ESTATE if one is already open). Running it twice with the same
 * config changes nothing and writes no row. Beds, zones and facilities
 * missing from cfg are retired, never deleted, so history keeps its
 * references, and come back when listed again; organisations are never
 * retired. Retiring a bed that is held or occupied is CT_ECONFIG with one
 * record per such bed added to diags (cfg->file, at the line of the bed's
 * zone, or of its facility if the zone is gone too, else line 0), and then
 * nothing changes. Bed status and surge_open are run-time state and never
 * touched. Borrows cfg and diags (not NULL); stats (may be NULL) is
 * zeroed unless the call succeeds.
 *
 * Cohorts and closure in cfg are declared values: reconcile applies a
 * declared value when it differs from the one declared at the previous
 * load, so runtime changes (made by plugins or the API) survive a restart
 * but an edited config still takes effect. A pathogen a zone does not
 * list is declared open; a zone_cohort row written at run time for such a
 * pathogen keeps declared NULL, which counts as open.
 */
int ct_store_reconcile(ct_store *s, const ct_config *cfg,
                       ct_reconcile_stats *stats, ct_diags *diags);

#endif
