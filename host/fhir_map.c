/*
 * The FHIR façade's tables (fhir.h): every code caretide reads from or
 * writes to FHIR, beside the caretide value it stands for, so the mapping
 * lives in one place and docs/fhir.md can list it row by row.
 */
#include "fhir.h"

#include "error.h"

#include "util.h"

#include <string.h>

typedef struct pair {
    const char *ours, *theirs;
} pair;

static const char *lookup(const pair *t, size_t n, const char *ours)
{
    for (size_t i = 0; ours && i < n; i++)
        if (strcmp(t[i].ours, ours) == 0)
            return t[i].theirs;
    return NULL;
}

/* Referral state -> Task.status: requested until a bed is found,
 * accepted while a bed is held, in progress once placed (the person may
 * still be leaving hospital), then completed or cancelled. */
static const pair task_status[] = {
    {"received", "requested"},    {"triaged", "requested"},
    {"waiting", "requested"},     {"held", "accepted"},
    {"placed", "in-progress"},    {"discharged", "in-progress"},
    {"completed", "completed"},   {"cancelled", "cancelled"},
};

const char *ct_fhir_task_status(const char *state)
{
    const char *s = lookup(task_status, CT_ARRAY_LEN(task_status), state);
    return s ? s : "requested";
}

/* The R4 value sets of Task.status and Task.intent (both required
 * bindings), for the Task a client sends back (PUT Task/{id}). */
static const char *const task_statuses[] = {
    "draft",     "requested", "received",    "accepted",
    "rejected",  "ready",     "cancelled",   "in-progress",
    "on-hold",   "failed",    "completed",   "entered-in-error"};
static const char *const task_intents[] = {
    "unknown",       "proposal", "plan",         "order", "original-order",
    "reflex-order",  "filler-order", "instance-order", "option"};

static bool listed(const char *const *v, size_t n, const char *code)
{
    for (size_t i = 0; code && i < n; i++)
        if (strcmp(v[i], code) == 0)
            return true;
    return false;
}

bool ct_fhir_task_status_valid(const char *code)
{
    return listed(task_statuses, CT_ARRAY_LEN(task_statuses), code);
}

bool ct_fhir_task_intent_valid(const char *code)
{
    return listed(task_intents, CT_ARRAY_LEN(task_intents), code);
}

/* Referral state -> ServiceRequest.status (request-status). */
static const pair request_status[] = {
    {"completed", "completed"},
    {"cancelled", "revoked"},
};

const char *ct_fhir_request_status(const char *state)
{
    const char *s =
        lookup(request_status, CT_ARRAY_LEN(request_status), state);
    return s ? s : "active";
}

/* request-priority: larger is more urgent, as in the API. */
static const char *const priorities[] = {"routine", "urgent", "asap",
                                         "stat"};

int ct_fhir_priority_parse(const char *code)
{
    for (size_t i = 0; code && i < CT_ARRAY_LEN(priorities); i++)
        if (strcmp(priorities[i], code) == 0)
            return (int)i;
    return -1;
}

const char *ct_fhir_priority_name(int64_t priority)
{
    if (priority <= 0)
        return "routine";
    if (priority >= (int64_t)CT_ARRAY_LEN(priorities))
        return "stat";
    return priorities[priority];
}

/* caretide's delay reasons with the wording of the NHS England acute
 * discharge situation report's reason categories. */
static const ct_fhir_delay_code delays[] = {
    {"awaiting_medical_decision", "awaiting_medical_decision",
     "Awaiting a medical decision or intervention"},
    {"awaiting_therapy_decision", "awaiting_therapy_decision",
     "Awaiting therapy decision or assessment of discharge requirements"},
    {"awaiting_hub_referral", "awaiting_hub_referral",
     "Awaiting referral to, or confirmation from, the transfer of care hub"},
    {"awaiting_diagnostics", "awaiting_diagnostics",
     "Awaiting a diagnostic test"},
    {"awaiting_medicines", "awaiting_medicines",
     "Awaiting medicines to take home"},
    {"awaiting_transport", "awaiting_transport", "Awaiting transport"},
    {"awaiting_p1_care", "awaiting_p1_care",
     "Pathway 1: awaiting care at home"},
    {"awaiting_p2_bed", "awaiting_p2_bed",
     "Pathway 2: awaiting a rehabilitation or recovery bed"},
    {"awaiting_p3_bed", "awaiting_p3_bed",
     "Pathway 3: awaiting a residential or nursing care home bed"},
    {"awaiting_equipment", "awaiting_equipment",
     "Awaiting community equipment or adaptations"},
    {"person_family_disagree", "person_family_disagree",
     "Patient or family dispute"},
    {"homeless_nrpf", "homeless_nrpf",
     "Homeless or no recourse to public funds"},
    {"safeguarding", "safeguarding",
     "Safeguarding concern or Court of Protection"},
    {"repatriation", "repatriation",
     "Awaiting repatriation to another trust"},
    {"infection_control", "infection_control",
     "Infection control or outbreak measures"},
    {"awaiting_chc_decision", "awaiting_chc_decision",
     "Awaiting a continuing healthcare decision"},
    {"no_plan", "no_plan", "No discharge plan"},
};

const ct_fhir_delay_code *ct_fhir_delay_lookup(const char *reason)
{
    for (size_t i = 0; reason && i < CT_ARRAY_LEN(delays); i++)
        if (strcmp(delays[i].reason, reason) == 0)
            return &delays[i];
    return NULL;
}

/* Facility kind -> UK Core discharge destination (England), the NHS
 * Data Dictionary's DISCHARGE DESTINATION CODE. Home care and virtual
 * wards bring the care to the usual place of residence. */
static const struct {
    const char *kind;
    ct_fhir_destination d;
} destinations[] = {
    {"care_home", {"85", "Non-NHS (other than Local Authority) run Care "
                         "Home"}},
    {"step_down", {"65", "Local Authority residential accommodation i.e. "
                         "where care is provided"}},
    {"rehab", {"51", "NHS other Hospital Provider - Ward for general "
                     "patients or the younger physically disabled"}},
    {"acute", {"51", "NHS other Hospital Provider - Ward for general "
                     "patients or the younger physically disabled"}},
    {"home_care", {"19", "Usual place of residence"}},
    {"virtual_ward", {"19", "Usual place of residence"}},
};

ct_fhir_destination ct_fhir_discharge_destination(const char *kind,
                                                  const char *pathway)
{
    for (size_t i = 0; kind && i < CT_ARRAY_LEN(destinations); i++)
        if (strcmp(destinations[i].kind, kind) == 0)
            return destinations[i].d;
    /* No bed: P0 and P1 go home; anything else is not known yet. */
    if (pathway && (strcmp(pathway, "P0") == 0 || strcmp(pathway, "P1") == 0))
        return (ct_fhir_destination){"19", "Usual place of residence"};
    return (ct_fhir_destination){"98", "Not applicable - Hospital Provider "
                                       "Spell not finished"};
}

/* SNOMED CT qualifier values for a test result. */
static const pair results[] = {
    {"10828004", "positive"},
    {"260385009", "negative"},
    {"261665006", "unknown"},
};

const char *ct_fhir_infection_status(const char *obs_status,
                                     const char *system, const char *code,
                                     const char **why)
{
    *why = NULL;
    /* No result yet. */
    if (obs_status && (strcmp(obs_status, "registered") == 0 ||
                       strcmp(obs_status, "preliminary") == 0))
        return "awaiting";
    if (!system || strcmp(system, CT_FHIR_SNOMED) != 0) {
        *why = "the result must be coded in SNOMED CT "
               "(system http://snomed.info/sct)";
        return NULL;
    }
    for (size_t i = 0; code && i < CT_ARRAY_LEN(results); i++)
        if (strcmp(results[i].ours, code) == 0)
            return results[i].theirs;
    *why = "the result must be one of SNOMED CT 10828004 |Positive|, "
           "260385009 |Negative| or 261665006 |Unknown|";
    return NULL;
}

/* SNOMED CT concepts for the diseases of the default pathogens. */
static const pair pathogen_snomed[] = {
    {"840539006", "covid"},
    {"6142004", "flu"},
};

const char *ct_fhir_pathogen(const ct_config *cfg, const char *system,
                             const char *code)
{
    if (!system || !code)
        return NULL;
    const char *name = NULL;
    if (strcmp(system, CT_FHIR_SYS_PATHOGEN) == 0)
        name = code;
    else if (strcmp(system, CT_FHIR_SNOMED) == 0)
        name = lookup(pathogen_snomed, CT_ARRAY_LEN(pathogen_snomed), code);
    for (size_t i = 0; name && i < cfg->npathogens; i++)
        if (strcmp(cfg->pathogens[i], name) == 0)
            return cfg->pathogens[i];
    return NULL;
}

/* HL7 v2 table 0116 (bed status), as Location.operationalStatus. A held
 * bed is closed to anyone else; a blocked one is closed and its Location
 * suspended (fhir_out.c). */
static const pair bed_status[] = {
    {"available", "U"}, /* unoccupied */
    {"held", "C"},
    {"occupied", "O"},
    {"blocked", "C"},
};

const char *ct_fhir_bed_status(const char *status)
{
    const char *s = lookup(bed_status, CT_ARRAY_LEN(bed_status), status);
    return s ? s : "C";
}

static const pair service_type[] = {
    {"acute", "Acute hospital"},
    {"step_down", "Step-down (intermediate care) beds"},
    {"rehab", "Community rehabilitation beds"},
    {"care_home", "Care home"},
    {"home_care", "Reablement and home care"},
    {"virtual_ward", "Virtual ward (hospital at home)"},
};

const char *ct_fhir_service_type(const char *kind)
{
    const char *s = lookup(service_type, CT_ARRAY_LEN(service_type), kind);
    return s ? s : kind;
}

/* --- place ids --------------------------------------------------------- */

int ct_fhir_id_put(const char *id, char *out, size_t n)
{
    size_t k = 0;
    for (const char *p = id ? id : ""; *p; p++) {
        const char *w = *p == '.' ? ".." : *p == '_' ? ".-" : NULL;
        size_t len = w ? 2 : 1;
        if (k + len >= n)
            return CT_ELIMIT;
        if (w)
            memcpy(out + k, w, 2);
        else
            out[k] = *p;
        k += len;
    }
    if (k >= n)
        return CT_ELIMIT;
    out[k] = '\0';
    return 0;
}

int ct_fhir_id_get(const char *fid, char *out, size_t n)
{
    size_t k = 0;
    for (const char *p = fid; *p; p++) {
        char c = *p;
        if (c == '.') {
            if (p[1] != '.' && p[1] != '-')
                return CT_EINVAL;
            c = *++p == '.' ? '.' : '_';
        }
        if (k + 1 >= n)
            return CT_ELIMIT;
        out[k++] = c;
    }
    out[k] = '\0';
    return 0;
}
