/*
 * ct_plugins_dry_run: every plugin of an area loaded as `caretide run`
 * would load it, on a scratch copy of the area, for `caretide check`.
 * Without it a check passed while the daemon would not start: a bundle
 * whose own tests fail, or a setup() that fails with the area's settings.
 */
#include "plugins.h"

#include "bundle.h"
#include "capacity.h"
#include "clock.h"
#include "error.h"
#include "store.h"

int ct_plugins_dry_run(const ct_config *cfg, ct_diags *diags)
{
    ct_store *store = NULL;
    ct_clock *clock = NULL;
    ct_capacity *cap = NULL;
    ct_plugins *m = NULL;
    ct_store_options so = {.sync = CT_SYNC_NORMAL};
    int rc = ct_store_open(":memory:", &so, &store);
    if (rc)
        goto fail;
    if ((rc = ct_store_reconcile(store, cfg, NULL, diags)))
        goto fail_store;
    /* The plugins see today's date, as at a start. */
    if ((rc = ct_clock_new_virtual(ct_bundle_wall_ms(), &clock)))
        goto fail_store;
    ct_capacity_options co = {.hold_ttl_ms = cfg->limits.hold_ttl_ms,
                              .pathogens = (const char *const *)cfg->pathogens,
                              .npathogens = cfg->npathogens};
    if ((rc = ct_capacity_new(store, clock, &co, &cap)))
        goto fail_clock;
    rc = ct_plugins_new(cap, cfg, &m, diags);
    ct_plugins_free(m);
    ct_capacity_free(cap);
fail_clock:
    ct_clock_close(clock, NULL, NULL);
fail_store:
    ct_store_close(store);
fail:
    if (rc && diags->len == 0)
        ct_diags_add(diags, cfg->file, 0, 0,
                     "cannot load the plugins on a scratch copy: %s",
                     ct_strerror(rc));
    return rc ? CT_ECONFIG : 0;
}
