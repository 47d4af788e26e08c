/* The FHIR translation layer without HTTP (fhir.h): what a ServiceRequest
 * becomes, the FHIRPath of each field, and the tables. The integration
 * test (test_fhir.sh) drives the same through the daemon. */
#include "config.h"
#include "error.h"
#include "fhir.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <string.h>

static ct_config *demo(void)
{
    ct_config *cfg = NULL;
    ct_diags d = {0};
    cr_assert_eq(ct_config_load_demo(&cfg, &d), 0);
    ct_diags_free(&d);
    return cfg;
}

/* 2026-12-07T12:00:00Z */
#define NOW 1796644800000LL

static json_t *request(const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"resourceType\": \"ServiceRequest\", \"status\": \"active\","
             " \"intent\": \"order\", \"contained\": [{\"resourceType\": "
             "\"Patient\", \"id\": \"p\", \"birthDate\": \"1940-12-08\", "
             "\"identifier\": [{\"system\": \"https://example.org/mrn\", "
             "\"value\": \"X1\"}, {\"system\": "
             "\"https://fhir.nhs.uk/Id/nhs-number\", \"value\": "
             "\"999 000 0018\"}]}, {\"resourceType\": \"Observation\", "
             "\"status\": \"final\", \"code\": {\"coding\": [{\"system\": "
             "\"https://fhir.caretide.org/CodeSystem/pathogen\", \"code\": "
             "\"flu\"}]}, \"effectiveDateTime\": "
             "\"2026-12-07T09:30:00.5+01:00\", \"valueCodeableConcept\": "
             "{\"coding\": [{\"system\": \"http://snomed.info/sct\", "
             "\"code\": \"10828004\"}]}}], \"subject\": {\"reference\": "
             "\"#p\"}, \"occurrenceDateTime\": \"2026-12-08T00:30:00+01:00\""
             "%s}",
             extra);
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    cr_assert_not_null(j, "%s", e.text);
    return j;
}

Test(fhir, service_request_to_api_body)
{
    ct_config *cfg = demo();
    ct_fhir_area area = {cfg, NOW, "demo-acute"};
    json_t *sr = request(", \"priority\": \"asap\"");
    ct_fhir_referral out;
    ct_fhir_error e;
    cr_assert_eq(ct_fhir_referral_read(sr, &area, &out, &e), 0, "%s: %s",
                 e.expression, e.message);
    json_t *b = out.body;
    cr_expect_str_eq(json_string_value(json_object_get(b, "nhs_number")),
                     "9990000018");
    /* The day as written, whatever the zone. */
    cr_expect_str_eq(json_string_value(json_object_get(b, "ready_date")),
                     "2026-12-08");
    /* 86 until the birthday tomorrow. */
    cr_expect_eq(json_integer_value(json_object_get(b, "age")), 85);
    cr_expect_eq(json_integer_value(json_object_get(b, "priority")), 2);
    json_t *flu = json_object_get(json_object_get(b, "infections"), "flu");
    cr_expect_str_eq(json_string_value(json_object_get(flu, "status")),
                     "positive");
    /* +01:00 taken off; whole seconds for the API. */
    cr_expect_str_eq(json_string_value(json_object_get(flu, "tested_at")),
                     "2026-12-07T08:30:00Z");
    cr_expect_null(json_object_get(b, "from_org"));
    cr_expect_str_eq(ct_fhir_path_for(out.paths, "nhs_number"),
                     "ServiceRequest.contained[0].identifier[1].value");
    cr_expect_str_eq(ct_fhir_path_for(out.paths, "infections.flu.tested_at"),
                     "ServiceRequest.contained[1].effective");
    /* A deeper field than listed: its nearest listed parent. */
    cr_expect_str_eq(ct_fhir_path_for(out.paths, "infections.flu.x.y"),
                     "ServiceRequest.contained[1]");
    cr_expect_null(ct_fhir_path_for(out.paths, "usual_residence"));
    ct_fhir_referral_free(&out);
    json_decref(sr);
    ct_config_free(cfg);
}

Test(fhir, errors_name_the_element)
{
    ct_config *cfg = demo();
    ct_fhir_area area = {cfg, NOW, "demo-acute"};
    static const struct {
        const char *extra, *expr, *code;
        unsigned status;
    } cases[] = {
        {", \"priority\": \"now\"", "ServiceRequest.priority",
         "code-invalid", 400},
        {", \"requester\": {\"identifier\": {\"system\": "
         "\"https://fhir.nhs.uk/Id/ods-organization-code\", \"value\": "
         "\"rx\"}}",
         "ServiceRequest.requester.identifier.value", "value", 400},
        {", \"requester\": {\"identifier\": {\"system\": "
         "\"https://fhir.nhs.uk/Id/ods-organization-code\", \"value\": "
         "\"Q99\"}}",
         "ServiceRequest.requester.identifier.value", "not-found", 422},
        {", \"encounter\": {\"reference\": \"#nowhere\"}",
         "ServiceRequest.encounter.reference", "not-found", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *sr = request(cases[i].extra);
        ct_fhir_referral out;
        ct_fhir_error e;
        cr_expect_eq(ct_fhir_referral_read(sr, &area, &out, &e), CT_EINVAL,
                     "case %zu", i);
        cr_expect_str_eq(e.expression, cases[i].expr, "case %zu", i);
        cr_expect_str_eq(e.code, cases[i].code, "case %zu", i);
        cr_expect_eq(e.status, cases[i].status, "case %zu", i);
        cr_expect_null(out.body);
        json_decref(sr);
    }
    /* A requester by ODS code becomes the organisation's id. */
    json_t *sr = request(", \"requester\": {\"identifier\": {\"system\": "
                         "\"https://fhir.nhs.uk/Id/ods-organization-code\", "
                         "\"value\": \"R9Z\"}}");
    ct_fhir_referral out;
    ct_fhir_error e;
    cr_assert_eq(ct_fhir_referral_read(sr, &area, &out, &e), 0, "%s",
                 e.message);
    cr_expect_str_eq(json_string_value(json_object_get(out.body, "from_org")),
                     "demo-acute");
    ct_fhir_referral_free(&out);
    json_decref(sr);
    ct_config_free(cfg);
}

Test(fhir, tables)
{
    cr_expect_str_eq(ct_fhir_task_status("held"), "accepted");
    cr_expect_str_eq(ct_fhir_task_status("placed"), "in-progress");
    cr_expect_str_eq(ct_fhir_task_status("cancelled"), "cancelled");
    cr_expect_str_eq(ct_fhir_request_status("cancelled"), "revoked");
    cr_expect_str_eq(ct_fhir_discharge_destination("care_home", "P3").code,
                     "85");
    cr_expect_str_eq(ct_fhir_discharge_destination(NULL, "P1").code, "19");
    cr_expect_str_eq(ct_fhir_discharge_destination(NULL, "P3").code, "98");
    cr_expect_str_eq(ct_fhir_priority_name(ct_fhir_priority_parse("stat")),
                     "stat");
    cr_expect_eq(ct_fhir_priority_parse("soon"), -1);
    cr_expect_not_null(ct_fhir_delay_lookup("awaiting_p3_bed"));
    cr_expect_null(ct_fhir_delay_lookup("nope"));
    const char *why;
    cr_expect_null(ct_fhir_infection_status("final", "http://loinc.org",
                                            "10828004", &why));
    cr_expect_not_null(why);
    cr_expect_str_eq(ct_fhir_infection_status("preliminary", NULL, NULL,
                                              &why),
                     "awaiting");
    cr_expect_str_eq(ct_fhir_issue_type(409, "exists"), "duplicate");
    cr_expect_str_eq(ct_fhir_issue_type(400, "missing"), "required");
}

/* Found on main: a place id with '_' became a FHIR id outside
 * [A-Za-z0-9.-]. The encoding is reversible and leaves plain ids alone. */
Test(fhir, place_ids_round_trip)
{
    static const char *const ids[] = {"oakwood-main", "a_b", "a.b", "a._b",
                                      "_", ".", "x.-y", "OAK-001"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char enc[CT_FHIR_ID_BUF], dec[CT_FHIR_ID_BUF];
        cr_assert_eq(ct_fhir_id_put(ids[i], enc, sizeof enc), 0);
        for (const char *p = enc; *p; p++)
            cr_assert(isalnum((unsigned char)*p) || *p == '-' || *p == '.',
                      "%s -> %s", ids[i], enc);
        cr_assert_eq(ct_fhir_id_get(enc, dec, sizeof dec), 0);
        cr_assert_str_eq(dec, ids[i]);
    }
    char out[CT_FHIR_ID_BUF];
    cr_assert_eq(ct_fhir_id_put("oakwood-main", out, sizeof out), 0);
    cr_assert_str_eq(out, "oakwood-main");
    cr_assert_eq(ct_fhir_id_put("a_b.c", out, sizeof out), 0);
    cr_assert_str_eq(out, "a.-b..c");
    cr_assert_eq(ct_fhir_id_get("a.b", out, sizeof out), CT_EINVAL);
    cr_assert_eq(ct_fhir_id_get("a.", out, sizeof out), CT_EINVAL);
    char tiny[4];
    cr_assert_eq(ct_fhir_id_put("a_b", tiny, sizeof tiny), CT_ELIMIT);
}
