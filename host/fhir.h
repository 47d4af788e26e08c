/*
 * The FHIR R4 façade's translation layer (docs/fhir.md): FHIR UK Core JSON
 * to and from caretide's own records, and nothing else. It knows no HTTP,
 * no store and no decision: a referral arriving as a ServiceRequest is
 * turned into the body of POST /v1/referrals and goes through the same
 * intake (api_fhir.c); a referral read back is turned into a Task; the
 * capacity view into Locations and HealthcareServices. Every code system
 * and value set it reads or writes is in one table in fhir_map.c.
 *
 * Results are new JSON values the caller owns; inputs are borrowed.
 */
#ifndef CT_FHIR_H
#define CT_FHIR_H

#include "config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define CT_FHIR_VERSION "4.0.1"
#define CT_FHIR_CONTENT_TYPE "application/fhir+json; charset=utf-8"

/* The identifier and code systems of caretide's own where no national one
 * exists (docs/fhir.md "Code systems"). */
#define CT_FHIR_BASE "https://fhir.caretide.org"
#define CT_FHIR_SYS_PATHWAY CT_FHIR_BASE "/CodeSystem/discharge-pathway"
#define CT_FHIR_SYS_NEED CT_FHIR_BASE "/CodeSystem/need"
#define CT_FHIR_SYS_PATHOGEN CT_FHIR_BASE "/CodeSystem/pathogen"
#define CT_FHIR_SYS_STATE CT_FHIR_BASE "/CodeSystem/referral-state"
#define CT_FHIR_SYS_DELAY CT_FHIR_BASE "/CodeSystem/delay-reason"
#define CT_FHIR_SYS_ERROR CT_FHIR_BASE "/CodeSystem/api-error"
#define CT_FHIR_SYS_OUTPUT CT_FHIR_BASE "/CodeSystem/task-output"
#define CT_FHIR_ID_REFERRAL CT_FHIR_BASE "/Id/referral"
#define CT_FHIR_ID_FACILITY CT_FHIR_BASE "/Id/facility"
#define CT_FHIR_SNOMED "http://snomed.info/sct"

/* An input error: the HTTP status, the OperationOutcome issue type
 * ("required", "value", "code-invalid", "structure", "business-rule",
 * "not-found"), the element as FHIRPath and a message for a person. */
typedef struct ct_fhir_error {
    unsigned status;
    char code[24];
    char expression[256];
    char message[400];
} ct_fhir_error;

/* What the façade needs to know of the area. Borrowed. */
typedef struct ct_fhir_area {
    const ct_config *cfg;
    int64_t now;        /* ms, the host clock */
    const char *caller; /* the caller's organisation id */
} ct_fhir_area;

/* A referral read from FHIR: the POST /v1/referrals body and, for each
 * of its fields, the FHIRPath of the element it came from. */
typedef struct ct_fhir_referral {
    json_t *body;  /* {nhs_number, ready_date, ...} */
    json_t *paths; /* {"nhs_number": "Bundle.entry[1].resource...", ...} */
} ct_fhir_referral;

/*
 * Reads a referral from res: a ServiceRequest (its Patient, Encounter,
 * requester and infection Observations contained in it) or a Bundle
 * (transaction, message, collection or batch) holding one ServiceRequest
 * and the resources it refers to. Checks the elements caretide reads
 * against the profiles' cardinalities and value sets; ignores the rest
 * (unknown extensions included). 0 with *out filled (free with
 * ct_fhir_referral_free), or CT_EINVAL with *e filled and nothing
 * allocated.
 */
int ct_fhir_referral_read(const json_t *res, const ct_fhir_area *area,
                          ct_fhir_referral *out, ct_fhir_error *e);
void ct_fhir_referral_free(ct_fhir_referral *r);

/*
 * The FHIRPath for an error's field of the JSON API body ("nhs_number",
 * "infections.covid.tested_at"), from paths (the longest listed prefix),
 * or NULL when none is listed.
 */
const char *ct_fhir_path_for(const json_t *paths, const char *field);

/* An OperationOutcome with one error issue (expression may be NULL). */
json_t *ct_fhir_outcome(const char *code, const char *expression,
                        const char *detail_code, const char *message);
/* The issue type for an HTTP status and the API's error code. */
const char *ct_fhir_issue_type(unsigned status, const char *api_code);

/* Where a referral's person is held or placed now: the bed's facility
 * and its organisation ids ("" when none). */
typedef struct ct_fhir_place {
    const char *facility, *org;
} ct_fhir_place;

/*
 * A referral (GET /v1/referrals/{id}'s referral and decision, already cut
 * to what the caller may see) as a Task. The Task's for (the person's NHS
 * number) appears only when the referral carries it (personal roles).
 */
json_t *ct_fhir_task(const json_t *referral, const json_t *decision,
                     const ct_fhir_place *place, const ct_config *cfg);

/* The referral part of a Task as a ServiceRequest (GET ServiceRequest/N). */
json_t *ct_fhir_service_request(const json_t *referral,
                                const ct_config *cfg);

/* Locations: a facility of the capacity view (a site), one of its zones
 * (a ward, partOf the site) or a bed of GET /v1/beds (partOf its zone),
 * with operational status. */
/*
 * Place ids in FHIR. FHIR ids are letters, digits, '-' and '.'; caretide
 * ids also allow '_'. put writes an id with '.' as ".." and '_' as ".-"
 * (an id with neither is unchanged), get reads it back (CT_EINVAL for a
 * '.' followed by anything else). Locations are "f.", "z." or "b." and
 * the encoded id; HealthcareServices the encoded facility id. CT_ELIMIT
 * when out (n bytes) is too small.
 */
#define CT_FHIR_ID_BUF 160 /* an encoded id: twice the longest id, + NUL */
int ct_fhir_id_put(const char *id, char *out, size_t n);
int ct_fhir_id_get(const char *fid, char *out, size_t n);

json_t *ct_fhir_location_facility(const json_t *facility,
                                  const ct_config *cfg);
json_t *ct_fhir_location_zone(const json_t *zone, const json_t *facility);
json_t *ct_fhir_location_bed(const json_t *bed);
/* A facility of the capacity view as a HealthcareService with its counts. */
json_t *ct_fhir_healthcare_service(const json_t *facility,
                                   const ct_config *cfg);

/* A searchset Bundle of the resources in list (takes ownership), each with
 * fullUrl base/Type/id. */
json_t *ct_fhir_searchset(json_t *list, const char *base);

/* ---- the tables (fhir_map.c) ------------------------------------------ */

/* Task.status for a referral state ("requested", "accepted", ...). */
const char *ct_fhir_task_status(const char *state);
/* Whether code is in the R4 TaskStatus / TaskIntent value set. */
bool ct_fhir_task_status_valid(const char *code);
bool ct_fhir_task_intent_valid(const char *code);
/* ServiceRequest.status for a referral state ("active", "completed"...). */
const char *ct_fhir_request_status(const char *state);
/* Priority: request-priority code <-> the API's integer. -1 unknown. */
int ct_fhir_priority_parse(const char *code);
const char *ct_fhir_priority_name(int64_t priority);
/* The national delay code set entry for a caretide delay reason; NULL for
 * an unknown one. */
typedef struct ct_fhir_delay_code {
    const char *reason; /* caretide's name */
    const char *code;   /* the sitrep's category */
    const char *display;
} ct_fhir_delay_code;
const ct_fhir_delay_code *ct_fhir_delay_lookup(const char *reason);
/* The UK Core discharge destination (England) for a placement in a
 * facility of kind (or NULL for none: home), and its display. */
typedef struct ct_fhir_destination {
    const char *code, *display;
} ct_fhir_destination;
ct_fhir_destination ct_fhir_discharge_destination(const char *kind,
                                                  const char *pathway);
#define CT_FHIR_SYS_DESTINATION                                             \
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland"
/* The infection status for an Observation: status and value coding.
 * Returns a ct_infection_status name, or NULL with *why set. */
const char *ct_fhir_infection_status(const char *obs_status,
                                     const char *system, const char *code,
                                     const char **why);
/* The area pathogen an Observation.code coding names, or NULL. */
const char *ct_fhir_pathogen(const ct_config *cfg, const char *system,
                             const char *code);
/* v2-0116 bed status for a caretide bed status. */
const char *ct_fhir_bed_status(const char *status);
/* The HealthcareService type text for a facility kind. */
const char *ct_fhir_service_type(const char *kind);

#endif
