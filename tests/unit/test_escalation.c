/* The escalation level, its changes and history (host/escalation.c). */
#include "escalation.h"

#include "capacity_fixture.h"
#include "fixtures.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

static cap_fx f;

static void setup(void) { cap_fx_open(&f, NULL); }
static void teardown(void) { cap_fx_close(&f); }

TestSuite(escalation, .init = setup, .fini = teardown);

static bool record(int level, const char *reason, const char *actions)
{
    json_t *a = actions ? json_loads(actions, 0, NULL) : NULL;
    bool changed = true;
    CAP_OK(ct_escalation_record(f.cap, level, reason, a, "plugin:surge",
                                &changed, &cap_err));
    json_decref(a);
    return changed;
}

Test(escalation, level_one_until_something_is_recorded)
{
    ct_escalation e;
    cr_assert_eq(ct_escalation_current(f.store, &e), 0);
    cr_assert_eq(e.level, 1);
    cr_assert_eq(e.seq, 0);
    cr_assert_eq(e.at, 0);
    json_t *j = NULL;
    cr_assert_eq(ct_escalation_json(f.store, 10, &j), 0);
    cr_assert_eq(json_integer_value(json_object_get(j, "level")), 1);
    cr_assert(json_is_null(json_object_get(j, "since")));
    cr_assert(json_is_null(json_object_get(j, "reason")));
    cr_assert_eq(json_array_size(json_object_get(j, "history")), 0);
    json_decref(j);
    /* Recording level 1 first is no change. */
    cr_assert_not(record(1, "all calm", NULL));
    cr_assert_eq(cap_fx_events(&f, "escalation.changed"), 0);
}

Test(escalation, changes_are_recorded_with_their_event)
{
    cr_assert(record(3, "occupancy 96%", "[\"open surge at sd\"]"));
    ct_escalation e;
    cr_assert_eq(ct_escalation_current(f.store, &e), 0);
    cr_assert_eq(e.level, 3);
    cr_assert_eq(e.at, CAP_FX_START);
    cr_assert_str_eq(e.reason, "occupancy 96%");
    json_t *p = cap_fx_last(&f, "escalation.changed");
    cr_assert_not_null(p);
    cr_assert_eq(json_integer_value(json_object_get(p, "from")), 1);
    cr_assert_eq(json_integer_value(json_object_get(p, "to")), 3);
    cr_assert_eq(json_integer_value(json_object_get(p, "escalation")), e.seq);
    cr_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(p, "actions"), 0)),
                     "open surge at sd");

    /* The same level again writes nothing, whatever the reason. */
    int64_t head = ct_audit_head(f.store);
    cr_assert_not(record(3, "occupancy 97%", NULL));
    cr_assert_eq(ct_audit_head(f.store), head);

    ct_clock_advance(f.clock, HOUR_MS);
    cr_assert(record(2, "easing", NULL));
    json_t *j = NULL;
    cr_assert_eq(ct_escalation_json(f.store, 10, &j), 0);
    cr_assert_eq(json_integer_value(json_object_get(j, "level")), 2);
    cr_assert_eq(json_integer_value(json_object_get(j, "since")),
                 CAP_FX_START + HOUR_MS);
    cr_assert_str_eq(json_string_value(json_object_get(j, "reason")),
                     "easing");
    json_t *h = json_object_get(j, "history");
    cr_assert_eq(json_array_size(h), 2);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(h, 0),
                                                    "level")),
                 2, "newest first");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(h, 1),
                                                    "level")),
                 3);
    json_decref(j);

    /* Paging back from the newest. */
    json_t *page = NULL;
    cr_assert_eq(ct_escalation_history_json(f.store, e.seq + 1, 10, &page),
                 0);
    cr_assert_eq(json_array_size(page), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(page, 0),
                                                    "seq")),
                 e.seq);
    json_decref(page);
    cr_assert_eq(ct_escalation_history_json(f.store, INT64_MAX, 0, &page),
                 CT_EINVAL);
}

Test(escalation, refusals_write_nothing)
{
    CAP_REFUSED(&f, CT_EINVAL,
                ct_escalation_record(f.cap, 5, "x", NULL, "plugin:p", NULL,
                                     &cap_err),
                "escalation level 5 is not between 1 and 4");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_escalation_record(f.cap, 0, "x", NULL, "plugin:p", NULL,
                                     &cap_err),
                "is not between");
    CAP_REFUSED(&f, CT_EINVAL,
                ct_escalation_record(f.cap, 2, "", NULL, "plugin:p", NULL,
                                     &cap_err),
                "reason is required");
    json_t *notlist = json_object();
    CAP_REFUSED(&f, CT_EINVAL,
                ct_escalation_record(f.cap, 2, "x", notlist, "plugin:p", NULL,
                                     &cap_err),
                "actions must be a list");
    json_decref(notlist);
}

Test(escalation, inside_a_caller_transaction_rolled_back)
{
    cr_assert_eq(ct_store_begin(f.store), 0);
    cr_assert(record(4, "safety at risk", NULL));
    ct_store_rollback(f.store);
    ct_escalation e;
    cr_assert_eq(ct_escalation_current(f.store, &e), 0);
    cr_assert_eq(e.level, 1);
    cr_assert_eq(cap_fx_events(&f, "escalation.changed"), 0);
}
