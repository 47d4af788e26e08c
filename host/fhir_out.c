/*
 * caretide's records as FHIR UK Core resources (fhir.h, docs/fhir.md):
 * a referral as a Task (and its ServiceRequest), facilities, zones and
 * beds as Locations, facilities as HealthcareServices, errors as
 * OperationOutcomes. Organisations are named by their ODS code, homes by
 * their CQC location id, people by their NHS number.
 */
#include "fhir.h"

#include "clock.h"
#include "natid.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define UKCORE "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
#define SYS_V2_0116 "http://terminology.hl7.org/CodeSystem/v2-0116"
#define SYS_PHYSICAL                                                        \
    "http://terminology.hl7.org/CodeSystem/location-physical-type"

/* "Location/" (when ref), the kind's prefix and the encoded id. */
static void place_ref(char *out, size_t n, bool ref, const char *prefix,
                      const char *id)
{
    char enc[CT_FHIR_ID_BUF];
    if (ct_fhir_id_put(id, enc, sizeof enc))
        enc[0] = '\0';
    snprintf(out, n, "%s%s.%s", ref ? "Location/" : "", prefix, enc);
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* json_object_set_new that keeps going: a failed member leaves the
 * resource incomplete and the caller's final check (json_is_object)
 * cannot see it, so count failures instead. */
static void put(json_t *o, const char *key, json_t *v, int *bad)
{
    if (!v || json_object_set_new(o, key, v))
        (*bad)++;
}

static json_t *instant(const json_t *ms)
{
    if (!json_is_integer(ms))
        return NULL;
    char buf[32];
    ct_clock_format(json_integer_value(ms), buf, sizeof buf);
    return json_string(buf);
}

static json_t *meta(const char *profile)
{
    return json_pack("{s:[s+]}", "profile", UKCORE, profile);
}

static json_t *coding(const char *system, const char *code,
                      const char *display)
{
    return display ? json_pack("{s:s, s:s, s:s}", "system", system, "code",
                               code, "display", display)
                   : json_pack("{s:s, s:s}", "system", system, "code", code);
}

static json_t *concept(const char *system, const char *code,
                       const char *display)
{
    return json_pack("{s:[o]}", "coding", coding(system, code, display));
}

/* A logical reference to an organisation by ODS code (its caretide id
 * when it has none), with its name. */
static json_t *org_ref(const ct_config *cfg, const char *id)
{
    const ct_config_org *o = id ? ct_config_find_org(cfg, id) : NULL;
    if (!o)
        return NULL;
    return json_pack("{s:{s:s, s:s}, s:s}", "identifier", "system",
                     o->ods_code ? CT_NATID_ODS_SYSTEM
                                 : CT_FHIR_BASE "/Id/organisation",
                     "value", o->ods_code ? o->ods_code : o->id, "display",
                     o->name ? o->name : o->id);
}

static json_t *output(const char *type, const char *value_key, json_t *v)
{
    if (!v)
        return NULL;
    return json_pack("{s:o, s:o}", "type",
                     concept(CT_FHIR_SYS_OUTPUT, type, NULL), value_key, v);
}

static void add(json_t *list, json_t *item, int *bad)
{
    if (item && json_array_append_new(list, item))
        (*bad)++;
}

/* What the decision said, for businessStatus.text. */
static void reasons_text(const json_t *decision, char *out, size_t size)
{
    size_t n = 0, i;
    const json_t *r;
    out[0] = 0;
    json_array_foreach(json_object_get(decision, "reasons"), i, r)
    {
        const char *s = json_string_value(r);
        if (s && n < size)
            n += (size_t)snprintf(out + n, size - n, "%s%s", n ? "; " : "",
                                  s);
    }
}

json_t *ct_fhir_task(const json_t *ref, const json_t *decision,
                     const ct_fhir_place *place, const ct_config *cfg)
{
    int bad = 0;
    json_int_t id = json_integer_value(json_object_get(ref, "id"));
    const char *state = str(ref, "state");
    const char *pathway = str(ref, "decided_pathway");
    char idtext[24], based[48], why[600], text[800];
    snprintf(idtext, sizeof idtext, "%" JSON_INTEGER_FORMAT, id);
    snprintf(based, sizeof based, "ServiceRequest/%s", idtext);
    json_t *t = json_pack("{s:s, s:s, s:o}", "resourceType", "Task", "id",
                          idtext, "meta", meta("Task"));
    if (!t)
        return NULL;
    /* The version a client names in If-Match when it updates the Task
     * (PUT Task/{id}): the referral's last change, in ms. */
    json_t *m = json_object_get(t, "meta");
    json_t *changed = json_object_get(ref, "updated_at");
    if (json_is_integer(changed)) {
        char ver[24];
        snprintf(ver, sizeof ver, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(changed));
        put(m, "versionId", json_string(ver), &bad);
        json_t *last = instant(changed);
        if (last)
            put(m, "lastUpdated", last, &bad);
    }
    put(t, "identifier",
        json_pack("[{s:s, s:s}]", "system", CT_FHIR_ID_REFERRAL, "value",
                  idtext),
        &bad);
    put(t, "basedOn", json_pack("[{s:s}]", "reference", based), &bad);
    put(t, "status", json_string(ct_fhir_task_status(state)), &bad);
    /* The business status: the referral's own state, the pathway decided
     * and the decision's reasons in words. */
    json_t *bs = json_pack("{s:[o]}", "coding",
                           coding(CT_FHIR_SYS_STATE, state ? state : "",
                                  NULL));
    if (bs && pathway)
        add(json_object_get(bs, "coding"),
            coding(CT_FHIR_SYS_PATHWAY, pathway, NULL), &bad);
    reasons_text(decision, why, sizeof why);
    snprintf(text, sizeof text, "%s%s%s%s%s", state ? state : "",
             pathway ? ", pathway " : "", pathway ? pathway : "",
             *why ? ": " : "", why);
    if (bs)
        put(bs, "text", json_string(text), &bad);
    put(t, "businessStatus", bs, &bad);
    put(t, "intent", json_string("order"), &bad);
    put(t, "priority",
        json_string(ct_fhir_priority_name(
            json_integer_value(json_object_get(ref, "priority")))),
        &bad);
    const char *nhs = str(ref, "nhs_number");
    if (nhs)
        put(t, "for",
            json_pack("{s:{s:s, s:s}}", "identifier", "system",
                      CT_NATID_NHS_SYSTEM, "value", nhs),
            &bad);
    json_t *at = instant(json_object_get(ref, "created_at"));
    if (at)
        put(t, "authoredOn", at, &bad);
    if ((at = instant(json_object_get(ref, "updated_at"))))
        put(t, "lastModified", at, &bad);
    json_t *who = org_ref(cfg, str(ref, "from_org"));
    if (who)
        put(t, "requester", who, &bad);
    if (place && place->org && *place->org &&
        (who = org_ref(cfg, place->org)))
        put(t, "owner", who, &bad);
    if ((at = instant(json_object_get(ref, "hold_expires_at"))))
        put(t, "restriction", json_pack("{s:{s:o}}", "period", "end", at),
            &bad);

    json_t *out = json_array();
    if (pathway)
        add(out,
            output("pathway", "valueCodeableConcept",
                   concept(CT_FHIR_SYS_PATHWAY, pathway, NULL)),
            &bad);
    const char *bed = str(ref, "bed");
    if (bed) {
        char loc[CT_FHIR_ID_BUF + 16];
        place_ref(loc, sizeof loc, true, "b", bed);
        add(out,
            output("bed", "valueReference",
                   json_pack("{s:s, s:s}", "reference", loc, "display",
                             bed)),
            &bad);
    }
    if (pathway || bed) {
        const ct_config_facility *f =
            place && place->facility && *place->facility
                ? ct_config_find_facility(cfg, place->facility)
                : NULL;
        ct_fhir_destination d = ct_fhir_discharge_destination(
            f ? ct_facility_kind_name(f->kind) : NULL, pathway);
        add(out,
            output("discharge-destination", "valueCodeableConcept",
                   concept(CT_FHIR_SYS_DESTINATION, d.code, d.display)),
            &bad);
    }
    /* The area's reason list is plugin data: a code outside the national
     * table goes out without a display. */
    const char *reason = str(ref, "delay_reason");
    const ct_fhir_delay_code *dc = ct_fhir_delay_lookup(reason);
    if (reason)
        add(out,
            output("delay-reason", "valueCodeableConcept",
                   concept(CT_FHIR_SYS_DELAY, reason,
                           dc ? dc->display : NULL)),
            &bad);
    if ((who = org_ref(cfg, str(ref, "responsible_org"))))
        add(out, output("responsible-organisation", "valueReference", who),
            &bad);
    const json_t *days = json_object_get(ref, "delay_days");
    if (json_is_integer(days))
        add(out,
            output("delay-days", "valueInteger",
                   json_integer(json_integer_value(days))),
            &bad);
    if (json_array_size(out))
        put(t, "output", out, &bad);
    else
        json_decref(out);
    if (bad) {
        json_decref(t);
        return NULL;
    }
    return t;
}

json_t *ct_fhir_service_request(const json_t *ref, const ct_config *cfg)
{
    int bad = 0;
    json_int_t id = json_integer_value(json_object_get(ref, "id"));
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%" JSON_INTEGER_FORMAT, id);
    json_t *s = json_pack("{s:s, s:s, s:o, s:[{s:s, s:s}], s:s, s:s}",
                          "resourceType", "ServiceRequest", "id", idtext,
                          "meta", meta("ServiceRequest"), "identifier",
                          "system", CT_FHIR_ID_REFERRAL, "value", idtext,
                          "status",
                          ct_fhir_request_status(str(ref, "state")),
                          "intent", "order");
    if (!s)
        return NULL;
    const char *rp = str(ref, "requested_pathway");
    if (rp)
        put(s, "code", concept(CT_FHIR_SYS_PATHWAY, rp, NULL), &bad);
    put(s, "priority",
        json_string(ct_fhir_priority_name(
            json_integer_value(json_object_get(ref, "priority")))),
        &bad);
    const char *nhs = str(ref, "nhs_number");
    /* subject is 1..1: a viewer sees that there is a person, not who. */
    put(s, "subject",
        nhs ? json_pack("{s:{s:s, s:s}}", "identifier", "system",
                        CT_NATID_NHS_SYSTEM, "value", nhs)
            : json_pack("{s:s}", "display", "withheld"),
        &bad);
    const char *ready = str(ref, "ready_date");
    if (ready)
        put(s, "occurrenceDateTime", json_string(ready), &bad);
    json_t *at = instant(json_object_get(ref, "created_at"));
    if (at)
        put(s, "authoredOn", at, &bad);
    json_t *who = org_ref(cfg, str(ref, "from_org"));
    if (who)
        put(s, "requester", who, &bad);
    json_t *needs = json_object_get(ref, "needs");
    if (json_array_size(needs)) {
        json_t *od = json_array();
        size_t i;
        json_t *n;
        json_array_foreach(needs, i, n)
            add(od, concept(CT_FHIR_SYS_NEED, json_string_value(n), NULL),
                &bad);
        put(s, "orderDetail", od, &bad);
    }
    if (bad) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* ---- places ------------------------------------------------------------- */

static json_t *physical(const char *code, const char *display)
{
    return concept(SYS_PHYSICAL, code, display);
}

static json_t *location(const char *prefix, const char *id,
                        const char *name)
{
    char fid[CT_FHIR_ID_BUF + 16];
    place_ref(fid, sizeof fid, false, prefix, id);
    return json_pack("{s:s, s:s, s:o, s:s, s:s}", "resourceType", "Location",
                     "id", fid, "meta", meta("Location"), "name",
                     name ? name : (id ? id : ""), "mode", "instance");
}

json_t *ct_fhir_location_facility(const json_t *fac, const ct_config *cfg)
{
    int bad = 0;
    const char *id = str(fac, "id");
    json_t *l = location("f", id, str(fac, "name"));
    if (!l)
        return NULL;
    json_t *ids = json_pack("[{s:s, s:s}]", "system", CT_FHIR_ID_FACILITY,
                            "value", id ? id : "");
    const ct_config_facility *f = id ? ct_config_find_facility(cfg, id) : NULL;
    if (f && f->ods_site)
        add(ids,
            json_pack("{s:s, s:s}", "system", CT_NATID_ODS_SITE_SYSTEM,
                      "value", f->ods_site),
            &bad);
    if (f && f->cqc_location)
        add(ids,
            json_pack("{s:s, s:s}", "system", CT_NATID_CQC_SYSTEM, "value",
                      f->cqc_location),
            &bad);
    put(l, "identifier", ids, &bad);
    put(l, "status", json_string("active"), &bad);
    put(l, "physicalType", physical("si", "Site"), &bad);
    json_t *org = org_ref(cfg, str(fac, "org"));
    if (org)
        put(l, "managingOrganization", org, &bad);
    if (bad) {
        json_decref(l);
        return NULL;
    }
    return l;
}

json_t *ct_fhir_location_zone(const json_t *zone, const json_t *fac)
{
    int bad = 0;
    json_t *l = location("z", str(zone, "id"), str(zone, "name"));
    if (!l)
        return NULL;
    bool closed = json_is_true(json_object_get(zone, "closed"));
    char part[CT_FHIR_ID_BUF + 16];
    place_ref(part, sizeof part, true, "f", str(fac, "id"));
    put(l, "status", json_string(closed ? "suspended" : "active"), &bad);
    /* A zone closed to admissions (an outbreak) is closed as a whole; an
     * open one has the statuses of its beds. */
    if (closed)
        put(l, "operationalStatus", coding(SYS_V2_0116, "C", "Closed"),
            &bad);
    put(l, "physicalType", physical("wa", "Ward"), &bad);
    put(l, "partOf", json_pack("{s:s}", "reference", part), &bad);
    if (bad) {
        json_decref(l);
        return NULL;
    }
    return l;
}

json_t *ct_fhir_location_bed(const json_t *bed)
{
    int bad = 0;
    const char *status = str(bed, "status");
    json_t *l = location("b", str(bed, "id"), str(bed, "id"));
    if (!l)
        return NULL;
    static const char *const names[] = {"U", "Unoccupied", "O", "Occupied",
                                        "C", "Closed"};
    const char *code = ct_fhir_bed_status(status), *display = "Closed";
    for (size_t i = 0; i < CT_ARRAY_LEN(names); i += 2)
        if (strcmp(names[i], code) == 0)
            display = names[i + 1];
    char part[CT_FHIR_ID_BUF + 16];
    place_ref(part, sizeof part, true, "z", str(bed, "zone"));
    bool blocked = status && strcmp(status, "blocked") == 0;
    put(l, "status", json_string(blocked ? "suspended" : "active"), &bad);
    put(l, "operationalStatus", coding(SYS_V2_0116, code, display), &bad);
    if (blocked && str(bed, "blocked_reason"))
        put(l, "description", json_string(str(bed, "blocked_reason")), &bad);
    put(l, "physicalType", physical("bd", "Bed"), &bad);
    put(l, "partOf", json_pack("{s:s}", "reference", part), &bad);
    if (bad) {
        json_decref(l);
        return NULL;
    }
    return l;
}

json_t *ct_fhir_healthcare_service(const json_t *fac, const ct_config *cfg)
{
    int bad = 0;
    const char *id = str(fac, "id"), *kind = str(fac, "kind");
    char loc[CT_FHIR_ID_BUF + 16], hid[CT_FHIR_ID_BUF];
    place_ref(loc, sizeof loc, true, "f", id);
    if (ct_fhir_id_put(id, hid, sizeof hid))
        hid[0] = '\0';
    json_t *h = json_pack(
        "{s:s, s:s, s:o, s:[{s:s, s:s}], s:b, s:[{s:s}], s:s, s:[{s:s}]}",
        "resourceType", "HealthcareService", "id", hid, "meta",
        meta("HealthcareService"), "identifier", "system",
        CT_FHIR_ID_FACILITY, "value", id ? id : "", "active", 1, "location",
        "reference", loc, "name", str(fac, "name") ? str(fac, "name") : "",
        "type", "text", ct_fhir_service_type(kind));
    if (!h)
        return NULL;
    json_t *org = org_ref(cfg, str(fac, "org"));
    if (org)
        put(h, "providedBy", org, &bad);
    /* The beds now, the figures of GET /v1/capacity: in a caretide
     * extension (FHIR has no element for them) and in words. */
    const json_t *tot = json_object_get(fac, "totals");
    static const char *const keys[] = {"total", "available", "held",
                                       "occupied", "blocked", "open"};
    json_t *counts = json_array();
    for (size_t i = 0; i < CT_ARRAY_LEN(keys); i++)
        add(counts,
            json_pack("{s:s, s:I}", "url", keys[i], "valueInteger",
                      json_integer_value(json_object_get(tot, keys[i]))),
            &bad);
    put(h, "extension",
        json_pack("[{s:s, s:o}]", "url",
                  CT_FHIR_BASE "/StructureDefinition/bed-counts",
                  "extension", counts),
        &bad);
    char words[160];
    snprintf(words, sizeof words,
             "%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
             " open beds available now",
             json_integer_value(json_object_get(tot, "available")),
             json_integer_value(json_object_get(tot, "open")));
    put(h, "availabilityExceptions", json_string(words), &bad);
    if (bad) {
        json_decref(h);
        return NULL;
    }
    return h;
}

/* ---- bundles and outcomes ------------------------------------------------ */

json_t *ct_fhir_searchset(json_t *list, const char *base)
{
    json_t *entries = json_array();
    size_t i;
    json_t *r;
    int bad = !entries || !list;
    json_array_foreach(list, i, r)
    {
        char url[256];
        snprintf(url, sizeof url, "%s/%s/%s", base, str(r, "resourceType"),
                 str(r, "id"));
        add(entries,
            json_pack("{s:s, s:O, s:{s:s}}", "fullUrl", url, "resource", r,
                      "search", "mode", "match"),
            &bad);
    }
    size_t n = json_array_size(list);
    json_decref(list);
    if (bad) {
        json_decref(entries);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:I, s:o}", "resourceType", "Bundle",
                     "type", "searchset", "total", (json_int_t)n, "entry",
                     entries);
}

json_t *ct_fhir_outcome(const char *code, const char *expression,
                        const char *detail_code, const char *message)
{
    json_t *issue = json_pack("{s:s, s:s, s:s}", "severity", "error", "code",
                              code, "diagnostics", message ? message : "");
    if (!issue)
        return NULL;
    int bad = 0;
    if (detail_code)
        put(issue, "details",
            concept(CT_FHIR_SYS_ERROR, detail_code, NULL), &bad);
    if (expression && *expression)
        put(issue, "expression", json_pack("[s]", expression), &bad);
    if (bad) {
        json_decref(issue);
        return NULL;
    }
    return json_pack("{s:s, s:[o]}", "resourceType", "OperationOutcome",
                     "issue", issue);
}

const char *ct_fhir_issue_type(unsigned status, const char *api)
{
    api = api ? api : "";
    switch (status) {
    case 400:
        if (strcmp(api, "missing") == 0)
            return "required";
        if (strcmp(api, "malformed_json") == 0 ||
            strcmp(api, "unknown_field") == 0)
            return "structure";
        return "value";
    case 401: return "login";
    case 403: return "forbidden";
    case 404: return "not-found";
    case 405:
    case 415: return "not-supported";
    case 409: return strcmp(api, "exists") == 0 ? "duplicate" : "conflict";
    case 413: return "too-costly";
    case 422:
        return strcmp(api, "idempotency_key_reused") == 0 ? "duplicate"
                                                          : "processing";
    case 429: return "throttled";
    case 503:
    case 507: return "transient";
    default: return status >= 500 ? "exception" : "processing";
    }
}
