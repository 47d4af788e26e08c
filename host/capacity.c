/*
 * Opening the capacity handle: the area handle (area.h) with every unit's
 * own state on it (candidate search, isolation, the waiting list, holds)
 * and capacity's hooks. Beds and surge are in capacity_beds.c, holds and
 * their expiry in capacity_holds.c.
 */
#include "capacity_int.h"
#include "capacity_resident.h"
#include "capacity_waitlist.h"

#include "audit.h"
#include "error.h"
#include "referral.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TTL_MS (4 * 3600 * 1000LL)

/* ---- handle ---------------------------------------------------------- */
/* The embedder's callback, on the bus for the host's events. */
static void to_callback(const ct_event *e, void *data)
{
    ct_capacity *c = data;
    ct_cap_state *k = ct_capacity__state(c);
    ct_capacity_event ev = {e->seq, e->at, e->actor, e->kind, e->payload};
    k->event_cb(&ev, k->event_data);
}

/* The placement hooks of the area handle (area.h): referrals and
 * isolation end placements and release holds through them. The referral
 * row's delay too: referrals keep no state of their own to open, so
 * capacity, which opens the area with every unit, registers it. */
static const ct_area_hooks placement_hooks = {
    .active_of = ct_capacity__active_of,
    .end = ct_capacity__end,
    .release_hold = ct_capacity__release_hold,
    .set_delay = ct_referral__set_delay,
};

static void close_units(ct_capacity *c)
{
    ct_cap_state *k = ct_capacity__state(c);
    if (k)
        ct_timer_stop(&k->hold_timer);
    ct_isolation__free(c);
    ct_capacity_waitlist__free(c);
    ct_candidates__free(c);
    free(k);
    ct_area__set_slot(c, CT_AREA_HOLDS, NULL);
}

int ct_capacity_new(ct_store *s, ct_clock *clock,
                    const ct_capacity_options *opts, ct_capacity **out)
{
    if (!s || !clock || !out)
        return CT_EINVAL;
    *out = NULL;
    ct_capacity_options none = {0};
    if (!opts)
        opts = &none;
    if (opts->hold_ttl_ms < 0 || opts->hold_ttl_ms > CT_CAP_HOLD_TTL_MAX_MS)
        return CT_EINVAL;
    ct_capacity *c;
    int rc = ct_area__new(s, clock, opts->pathogens, opts->npathogens,
                          opts->external_timers, &c);
    if (rc)
        return rc;
    ct_cap_state *k = calloc(1, sizeof *k);
    if (!k) {
        rc = CT_ENOMEM;
        goto fail_area;
    }
    k->hold_ttl_ms = opts->hold_ttl_ms ? opts->hold_ttl_ms : DEFAULT_TTL_MS;
    k->event_cb = opts->event_cb;
    k->event_data = opts->event_data;
    ct_timer_init(clock, &k->hold_timer);
    ct_area__set_slot(c, CT_AREA_HOLDS, k);
    ct_area__set_hooks(c, &placement_hooks);
    /* Savepoints (changes inside a caller's transaction) keep their
     * journal in memory: the store sees to that (store.c,
     * configure_library). The candidates' store watcher first: the index
     * is in step before the bus delivers anything. */
    if ((rc = ct_candidates__new(c)) || (rc = ct_isolation__new(c)) ||
        (rc = ct_capacity_waitlist__new(c)))
        goto fail_units;
    if (k->event_cb &&
        (rc = ct_events_subscribe(ct_area_events(c), CT_EVENTS_HOST,
                                  to_callback, c)))
        goto fail_units;
    ct_capacity__schedule_holds(c);
    ct_isolation__schedule(c);
    *out = c;
    return 0;

fail_units:
    close_units(c);
fail_area:
    ct_area__free(c);
    return rc;
}

void ct_capacity_free(ct_capacity *c)
{
    if (!c)
        return;
    close_units(c);
    ct_area__free(c);
}

int ct_capacity_refresh(ct_capacity *c)
{
    ct_candidates__invalidate(c);
    /* A reconcile may add beds or zones, a reload change the policy. */
    ct_capacity_waitlist_mark(c, CT_WAITLIST_CAPACITY | CT_WAITLIST_POLICY);
    ct_capacity__schedule_holds(c);
    ct_isolation__schedule(c);
    return 0;
}

int ct_capacity_set_pathogens(ct_capacity *c, const char *const *names,
                              size_t n)
{
    return ct_area_set_pathogens(c, names, n);
}

ct_store *ct_capacity_store(ct_capacity *c) { return ct_area_store(c); }
ct_clock *ct_capacity_clock(ct_capacity *c) { return ct_area_clock(c); }
ct_events *ct_capacity_events(ct_capacity *c) { return ct_area_events(c); }
