/* Reading the audit log page by page (host/audit_list.c). */
#include "audit.h"

#include "capacity_fixture.h"
#include "fixtures.h"

#include <criterion/criterion.h>
#include <string.h>

static cap_fx f;

static void setup(void) { cap_fx_open(&f, NULL); }
static void teardown(void) { cap_fx_close(&f); }

TestSuite(audit_list, .init = setup, .fini = teardown);

Test(audit_list, pages_of_events_with_hex_hashes)
{
    static const char *const beds[] = {"G01", "G02", "G03", "G04", "H01"};
    for (size_t i = 0; i < 5; i++)
        CAP_OK(ct_capacity_block(f.cap, beds[i], "repairs", "org:council",
                                 &cap_err));
    int64_t head = ct_audit_head(f.store);
    cr_assert_geq(head, 5);
    json_t *all = NULL;
    cr_assert_eq(ct_audit_list_json(f.store, 0, 1000, &all), 0);
    cr_assert_eq((int64_t)json_array_size(all), head);
    json_t *page = NULL;
    cr_assert_eq(ct_audit_list_json(f.store, head - 3, 2, &page), 0);
    cr_assert_eq(json_array_size(page), 2);
    json_t *e = json_array_get(page, 0);
    cr_assert_eq(json_integer_value(json_object_get(e, "seq")), head - 2);
    cr_assert_str_eq(json_string_value(json_object_get(e, "kind")),
                     "bed.blocked");
    cr_assert_str_eq(json_string_value(json_object_get(e, "actor")),
                     "org:council");
    cr_assert_eq(json_integer_value(json_object_get(e, "at")), CAP_FX_START);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(e, "payload"), "bed")),
                     "G03"); /* the 3rd of the 5 blocks */
    const char *hash = json_string_value(json_object_get(e, "hash"));
    cr_assert_eq(strlen(hash), 64);
    cr_assert_eq(strspn(hash, "0123456789abcdef"), 64);
    /* Chained: each event's prev_hash is the hash before it. */
    json_t *next = json_array_get(page, 1);
    cr_assert_str_eq(json_string_value(json_object_get(next, "prev_hash")),
                     hash);
    json_t *first = json_array_get(all, 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "prev_hash")),
                     "0000000000000000000000000000000000000000000000000000000000000000");
    json_decref(page);
    json_decref(all);
    cr_assert_eq(ct_audit_list_json(f.store, head, 10, &page), 0);
    cr_assert_eq(json_array_size(page), 0, "nothing after the head");
    json_decref(page);
    cr_assert_eq(ct_audit_list_json(f.store, 0, 1001, &page), CT_EINVAL);
    cr_assert_eq(ct_audit_list_json(f.store, -1, 10, &page), CT_EINVAL);
}
