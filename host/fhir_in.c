/*
 * A referral from FHIR UK Core (fhir.h; docs/fhir.md, "A referral in:
 * ServiceRequest"): a ServiceRequest, with its Patient, Encounter,
 * requesting Organization and infection Observations contained or beside
 * it in a Bundle, becomes the body of POST /v1/referrals. Each element
 * caretide reads is checked
 * against the base profile's cardinality and the value set it is bound to;
 * an error names the element by FHIRPath. Elements caretide does not read
 * (extensions among them) are ignored, as FHIR expects of a receiver.
 */
#include "fhir.h"

#include "clock.h"
#include "error.h"
#include "model.h"
#include "natid.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 256
#define MAX_NEEDS 32

typedef struct reader {
    const json_t *sr;      /* the ServiceRequest */
    const json_t *entries; /* Bundle.entry, or NULL */
    char sr_path[64];      /* "ServiceRequest", "Bundle.entry[2].resource" */
    const ct_fhir_area *area;
    ct_fhir_error *e;
    json_t *body, *paths, *infections;
} reader;

static int fail(reader *rd, unsigned status, const char *code,
                const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static int fail(reader *rd, unsigned status, const char *code,
                const char *path, const char *fmt, ...)
{
    ct_fhir_error *e = rd->e;
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->expression, sizeof e->expression, "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return CT_EINVAL;
}

static int nomem(reader *rd)
{
    fail(rd, 500, "exception", "", "out of memory");
    return CT_ENOMEM;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Records that the API body's field came from the element at path. */
static int from(reader *rd, const char *field, const char *path)
{
    return json_object_set_new(rd->paths, field, json_string(path))
               ? nomem(rd)
               : 0;
}

static bool in_set(const char *v, const char *const *set)
{
    for (; v && *set; set++)
        if (strcmp(v, *set) == 0)
            return true;
    return false;
}

static void set_list(char *out, size_t size, const char *const *set)
{
    size_t n = 0;
    out[0] = 0;
    for (const char *const *p = set; *p && n < size; p++)
        n += (size_t)snprintf(out + n, size - n, "%s%s",
                              p == set ? "" : ", ", *p);
}

/* A required code element bound to a required value set. */
static int code_in(reader *rd, const json_t *res, const char *base,
                   const char *key, const char *const *set,
                   const char *vs_name, const char **out)
{
    char path[PATH_MAX_LEN], list[240];
    snprintf(path, sizeof path, "%s.%s", base, key);
    const json_t *v = json_object_get(res, key);
    if (!v)
        return fail(rd, 400, "required", path, "%s is required (1..1)",
                    path);
    set_list(list, sizeof list, set);
    if (!json_is_string(v) || !in_set(json_string_value(v), set))
        return fail(rd, 400, "code-invalid", path,
                    "%s must be a code of the %s value set (%s)", path,
                    vs_name, list);
    *out = json_string_value(v);
    return 0;
}

/* ---- dates ------------------------------------------------------------ */

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/*
 * A FHIR date or dateTime with at least a day: "YYYY-MM-DD" or
 * "YYYY-MM-DDThh:mm:ss[.f+](Z|+hh:mm|-hh:mm)", to ms UTC (midnight UTC for
 * a date) and its calendar day as written (day[11]).
 */
static bool fhir_datetime(const char *s, int64_t *ms, char day[11])
{
    char msg[8];
    if (!s || strlen(s) < 10 || (s[10] && s[10] != 'T'))
        return false;
    memcpy(day, s, 10);
    day[10] = 0;
    int64_t midnight;
    if (ct_clock_parse_day(day, &midnight, msg, sizeof msg))
        return false;
    if (!s[10]) {
        *ms = midnight;
        return true;
    }
    const char *t = s + 11;
    if (strlen(t) < 8 || !digits(t, 2) || t[2] != ':' || !digits(t + 3, 2) ||
        t[5] != ':' || !digits(t + 6, 2))
        return false;
    int h = (t[0] - '0') * 10 + t[1] - '0';
    int m = (t[3] - '0') * 10 + t[4] - '0';
    int sec = (t[6] - '0') * 10 + t[7] - '0';
    if (h > 23 || m > 59 || sec > 59)
        return false;
    t += 8;
    int64_t frac = 0;
    if (*t == '.') {
        int n = 0;
        for (t++; *t >= '0' && *t <= '9'; t++, n++)
            if (n < 3)
                frac = frac * 10 + (*t - '0');
        if (n == 0)
            return false;
        for (; n < 3; n++)
            frac *= 10;
    }
    int64_t offset = 0;
    if (*t == 'Z') {
        t++;
    } else if ((*t == '+' || *t == '-') && strlen(t) == 6 &&
               digits(t + 1, 2) && t[3] == ':' && digits(t + 4, 2)) {
        int oh = (t[1] - '0') * 10 + t[2] - '0';
        int om = (t[4] - '0') * 10 + t[5] - '0';
        if (oh > 14 || om > 59)
            return false;
        offset = (*t == '-' ? -1 : 1) * ((int64_t)oh * 3600000 + om * 60000);
        t += 6;
    } else {
        return false; /* FHIR requires a zone with a time */
    }
    if (*t)
        return false;
    *ms = midnight + (int64_t)h * 3600000 + m * 60000 + sec * 1000 + frac -
          offset;
    return true;
}

/* Whole years from a FHIR date ("YYYY", "YYYY-MM" or "YYYY-MM-DD") to
 * now; -1 when it is not one or is in the future. */
static int age_from(const char *birth, int64_t now)
{
    size_t n = birth ? strlen(birth) : 0;
    if (!(n == 4 || n == 7 || n == 10) || !digits(birth, 4))
        return -1;
    /* A year alone counts from its middle; a month from its first day. */
    char full[11] = "0000-07-01";
    memcpy(full, birth, n);
    int64_t born;
    char msg[8];
    if ((n >= 7 && birth[4] != '-') || (n == 10 && birth[7] != '-') ||
        ct_clock_parse_day(full, &born, msg, sizeof msg) || born > now)
        return -1;
    char today[32];
    ct_clock_format(now, today, sizeof today);
    int years = atoi(today) - atoi(full);
    /* Not yet this year's birthday. */
    if (strncmp(today + 5, full + 5, 5) < 0)
        years--;
    return years < 0 ? 0 : years;
}

/* ---- references ------------------------------------------------------- */

/*
 * The resource a Reference points to, with its path: "#id" among the
 * ServiceRequest's contained resources; in a Bundle, the entry whose
 * fullUrl is the reference or whose resource is Type/id. *out NULL (and
 * 0) for a logical reference (identifier only).
 */
static int resolve(reader *rd, const json_t *ref, const char *ref_path,
                   const char *type, const json_t **out, char *path,
                   size_t size)
{
    *out = NULL;
    if (!json_is_object(ref))
        return fail(rd, 400, "structure", ref_path,
                    "%s must be a Reference object", ref_path);
    const json_t *r = json_object_get(ref, "reference");
    if (!r)
        return 0;
    char rpath[PATH_MAX_LEN];
    snprintf(rpath, sizeof rpath, "%s.reference", ref_path);
    const char *s = json_string_value(r);
    if (!s || !*s)
        return fail(rd, 400, "value", rpath, "%s must be a string",
                    rpath);
    size_t i;
    const json_t *c;
    if (s[0] == '#') {
        json_array_foreach(json_object_get(rd->sr, "contained"), i, c)
        {
            const char *id = str(c, "id");
            if (id && strcmp(id, s + 1) == 0) {
                *out = c;
                snprintf(path, size, "%s.contained[%zu]", rd->sr_path, i);
                break;
            }
        }
    } else {
        json_array_foreach(rd->entries, i, c)
        {
            const json_t *res = json_object_get(c, "resource");
            const char *full = str(c, "fullUrl");
            const char *rt = str(res, "resourceType"), *id = str(res, "id");
            char tid[160] = "";
            if (rt && id)
                snprintf(tid, sizeof tid, "%s/%s", rt, id);
            size_t sl = strlen(s), tl = strlen(tid);
            bool tail = tl && sl >= tl && strcmp(s + sl - tl, tid) == 0 &&
                        (sl == tl || s[sl - tl - 1] == '/');
            if ((full && strcmp(full, s) == 0) || tail) {
                *out = res;
                snprintf(path, size, "Bundle.entry[%zu].resource", i);
                break;
            }
        }
    }
    if (!*out)
        return fail(rd, 400, "not-found", rpath,
                    "%s '%s' does not resolve to a resource in the %s", rpath,
                    s, rd->entries ? "Bundle" : "ServiceRequest's contained");
    const char *rt = str(*out, "resourceType");
    if (!rt || strcmp(rt, type) != 0)
        return fail(rd, 400, "value", rpath,
                    "%s must refer to a %s, not a %s", rpath, type,
                    rt ? rt : "resource without resourceType");
    return 0;
}

/* ---- the person --------------------------------------------------------- */

/* The NHS number among identifiers (an Identifier or a list of them). */
static int nhs_number(reader *rd, const json_t *ids, const char *base)
{
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "%s", base);
    if (!ids || (json_is_array(ids) && json_array_size(ids) == 0))
        return fail(rd, 400, "required", path,
                    "%s is required: the person's NHS number (system %s)",
                    path, CT_NATID_NHS_SYSTEM);
    bool list = json_is_array(ids);
    size_t n = list ? json_array_size(ids) : 1;
    const char *other = NULL;
    size_t other_i = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *id = list ? json_array_get(ids, i) : ids;
        char ip[PATH_MAX_LEN];
        if (list)
            snprintf(ip, sizeof ip, "%s[%zu]", base, i);
        else
            snprintf(ip, sizeof ip, "%s", base);
        const char *sys = str(id, "system");
        if (!sys || strcmp(sys, CT_NATID_NHS_SYSTEM) != 0) {
            if (!other) {
                other = sys ? sys : "(none)";
                other_i = i;
            }
            continue;
        }
        char vp[PATH_MAX_LEN + 8], norm[11];
        snprintf(vp, sizeof vp, "%s.value", ip);
        const char *v = str(id, "value");
        if (!v)
            return fail(rd, 400, "required", vp,
                        "%s is required: the NHS number", vp);
        if (!ct_nhs_number_valid(v, norm))
            return fail(rd, 400, "value", vp,
                        "%s '%s' is not a valid NHS number (10 digits, "
                        "modulus 11 check)",
                        vp, v);
        if (json_object_set_new(rd->body, "nhs_number", json_string(norm)))
            return nomem(rd);
        return from(rd, "nhs_number", vp);
    }
    if (list)
        snprintf(path, sizeof path, "%s[%zu].system", base, other_i);
    else
        snprintf(path, sizeof path, "%s.system", base);
    return fail(rd, 400, "code-invalid", path,
                "no identifier has system %s (the NHS number); %s is '%s'",
                CT_NATID_NHS_SYSTEM, path, other);
}

static int read_patient(reader *rd)
{
    char sp[PATH_MAX_LEN], pp[PATH_MAX_LEN], ip[PATH_MAX_LEN + 16];
    snprintf(sp, sizeof sp, "%s.subject", rd->sr_path);
    const json_t *subject = json_object_get(rd->sr, "subject");
    if (!subject)
        return fail(rd, 400, "required", sp,
                    "%s is required (1..1): the Patient", sp);
    const json_t *pat;
    int err = resolve(rd, subject, sp, "Patient", &pat, pp, sizeof pp);
    if (err)
        return err;
    if (!pat) {
        snprintf(ip, sizeof ip, "%s.identifier", sp);
        return nhs_number(rd, json_object_get(subject, "identifier"), ip);
    }
    snprintf(ip, sizeof ip, "%s.identifier", pp);
    if ((err = nhs_number(rd, json_object_get(pat, "identifier"), ip)))
        return err;
    const json_t *bd = json_object_get(pat, "birthDate");
    if (!bd)
        return 0;
    snprintf(ip, sizeof ip, "%s.birthDate", pp);
    int age = age_from(json_string_value(bd), rd->area->now);
    if (age < 0)
        return fail(rd, 400, "value", ip,
                    "%s must be a past date YYYY, YYYY-MM or YYYY-MM-DD",
                    ip);
    if (json_object_set_new(rd->body, "age", json_integer(age)))
        return nomem(rd);
    return from(rd, "age", ip);
}

/* ---- the referrer ------------------------------------------------------ */

static int ods_of(reader *rd, const json_t *ids, const char *base)
{
    bool list = json_is_array(ids);
    size_t n = list ? json_array_size(ids) : (ids ? 1 : 0);
    for (size_t i = 0; i < n; i++) {
        const json_t *id = list ? json_array_get(ids, i) : ids;
        if (!str(id, "system") || strcmp(str(id, "system"), CT_NATID_ODS_SYSTEM))
            continue;
        char vp[PATH_MAX_LEN];
        if (list)
            snprintf(vp, sizeof vp, "%s[%zu].value", base, i);
        else
            snprintf(vp, sizeof vp, "%s.value", base);
        const char *v = str(id, "value");
        if (!v || !ct_natid_ods_valid(v))
            return fail(rd, 400, "value", vp,
                        "%s must be an ODS organisation code (3 to 10 "
                        "upper-case letters and digits)",
                        vp);
        const ct_config_org *o = ct_config_find_org_by_ods(rd->area->cfg, v);
        if (!o)
            return fail(rd, 422, "not-found", vp,
                        "no organisation of this area has ODS code '%s'",
                        v);
        if (json_object_set_new(rd->body, "from_org", json_string(o->id)))
            return nomem(rd);
        return from(rd, "from_org", vp);
    }
    return fail(rd, 400, "required", base,
                "%s must include the organisation's ODS code (system %s)",
                base, CT_NATID_ODS_SYSTEM);
}

static int read_requester(reader *rd)
{
    char rp[PATH_MAX_LEN], op[PATH_MAX_LEN], ip[PATH_MAX_LEN + 16];
    snprintf(rp, sizeof rp, "%s.requester", rd->sr_path);
    const json_t *req = json_object_get(rd->sr, "requester");
    if (!req)
        return 0; /* the caller's own organisation */
    const json_t *org;
    int err = resolve(rd, req, rp, "Organization", &org, op, sizeof op);
    if (err)
        return err;
    if (!org) {
        snprintf(ip, sizeof ip, "%s.identifier", rp);
        return ods_of(rd, json_object_get(req, "identifier"), ip);
    }
    snprintf(ip, sizeof ip, "%s.identifier", op);
    return ods_of(rd, json_object_get(org, "identifier"), ip);
}

/* ---- the request ------------------------------------------------------- */

static int read_ready_date(reader *rd)
{
    char p[PATH_MAX_LEN];
    const json_t *dt = json_object_get(rd->sr, "occurrenceDateTime");
    const json_t *per = json_object_get(rd->sr, "occurrencePeriod");
    const char *s = NULL;
    if (dt) {
        snprintf(p, sizeof p, "%s.occurrence", rd->sr_path);
        s = json_string_value(dt);
    } else if (per) {
        snprintf(p, sizeof p, "%s.occurrence.start", rd->sr_path);
        s = str(per, "start");
    } else {
        snprintf(p, sizeof p, "%s.occurrence", rd->sr_path);
        return fail(rd, 400, "required", p,
                    "%s is required: the discharge ready date, as "
                    "occurrenceDateTime or occurrencePeriod.start",
                    p);
    }
    int64_t ms;
    char day[11];
    if (!s || !fhir_datetime(s, &ms, day))
        return fail(rd, 400, "value", p,
                    "%s must be a FHIR date YYYY-MM-DD or dateTime "
                    "YYYY-MM-DDThh:mm:ss+zz:zz (the discharge ready date)",
                    p);
    if (json_object_set_new(rd->body, "ready_date", json_string(day)))
        return nomem(rd);
    return from(rd, "ready_date", p);
}

static int read_pathway(reader *rd)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(json_object_get(rd->sr, "code"),
                                       "coding"),
                       i, c)
    {
        const char *sys = str(c, "system");
        if (!sys || strcmp(sys, CT_FHIR_SYS_PATHWAY) != 0)
            continue;
        char p[PATH_MAX_LEN];
        snprintf(p, sizeof p, "%s.code.coding[%zu].code", rd->sr_path, i);
        const char *code = str(c, "code");
        if (!code || ct_pathway_parse(code) < 0)
            return fail(rd, 400, "code-invalid", p,
                        "%s must be a discharge pathway of %s: P0, P1, P2, "
                        "P3 or step_down",
                        p, CT_FHIR_SYS_PATHWAY);
        if (json_object_set_new(rd->body, "requested_pathway",
                                json_string(code)))
            return nomem(rd);
        return from(rd, "requested_pathway", p);
    }
    return 0;
}

static int read_priority(reader *rd)
{
    const json_t *v = json_object_get(rd->sr, "priority");
    if (!v)
        return 0;
    char p[PATH_MAX_LEN];
    snprintf(p, sizeof p, "%s.priority", rd->sr_path);
    int pr = ct_fhir_priority_parse(json_string_value(v));
    if (pr < 0)
        return fail(rd, 400, "code-invalid", p,
                    "%s must be a code of the request-priority value set "
                    "(routine, urgent, asap, stat)",
                    p);
    if (json_object_set_new(rd->body, "priority", json_integer(pr)))
        return nomem(rd);
    return from(rd, "priority", p);
}

static int read_needs(reader *rd)
{
    json_t *needs = json_array();
    if (!needs)
        return nomem(rd);
    size_t i, j;
    const json_t *cc, *c;
    json_array_foreach(json_object_get(rd->sr, "orderDetail"), i, cc)
    {
        json_array_foreach(json_object_get(cc, "coding"), j, c)
        {
            const char *sys = str(c, "system");
            if (!sys || strcmp(sys, CT_FHIR_SYS_NEED) != 0)
                continue;
            const char *code = str(c, "code");
            if (!code) {
                char p[PATH_MAX_LEN];
                json_decref(needs);
                snprintf(p, sizeof p, "%s.orderDetail[%zu].coding[%zu].code",
                         rd->sr_path, i, j);
                return fail(rd, 400, "required", p,
                            "%s is required: a need such as nursing", p);
            }
            if (json_array_append_new(needs, json_string(code))) {
                json_decref(needs);
                return nomem(rd);
            }
        }
    }
    if (json_array_size(needs) == 0) {
        json_decref(needs);
        return 0;
    }
    char p[PATH_MAX_LEN];
    snprintf(p, sizeof p, "%s.orderDetail", rd->sr_path);
    if (json_object_set_new(rd->body, "needs", needs))
        return nomem(rd);
    return from(rd, "needs", p);
}

static int read_encounter(reader *rd)
{
    static const char *const status[] = {
        "planned",  "arrived",   "triaged",          "in-progress",
        "onleave",  "finished",  "cancelled",        "entered-in-error",
        "unknown",  NULL};
    char ep[PATH_MAX_LEN], p[PATH_MAX_LEN], cp[PATH_MAX_LEN + 8];
    snprintf(ep, sizeof ep, "%s.encounter", rd->sr_path);
    const json_t *ref = json_object_get(rd->sr, "encounter");
    if (!ref)
        return 0;
    const json_t *enc;
    const char *st;
    int err = resolve(rd, ref, ep, "Encounter", &enc, p, sizeof p);
    if (err || !enc)
        return err;
    if ((err = code_in(rd, enc, p, "status", status, "EncounterStatus",
                       &st)))
        return err;
    snprintf(cp, sizeof cp, "%s.class", p);
    const json_t *cls = json_object_get(enc, "class");
    if (!cls)
        return fail(rd, 400, "required", cp, "%s is required (1..1)", cp);
    if (!json_is_object(cls) || !str(cls, "code"))
        return fail(rd, 400, "structure", cp,
                    "%s must be a Coding with a code (ActEncounterCode, "
                    "e.g. IMP for an inpatient stay)",
                    cp);
    return 0;
}

/* ---- infection results ------------------------------------------------- */

static int read_observation(reader *rd, const json_t *obs, const char *op)
{
    static const char *const status[] = {
        "registered", "preliminary", "final",   "amended",
        "corrected",  "cancelled",   "entered-in-error", "unknown", NULL};
    const char *st;
    char p[PATH_MAX_LEN + 32];
    int err = code_in(rd, obs, op, "status", status, "ObservationStatus",
                      &st);
    if (err)
        return err;
    snprintf(p, sizeof p, "%s.code", op);
    const json_t *code = json_object_get(obs, "code");
    if (!code)
        return fail(rd, 400, "required", p, "%s is required (1..1)", p);
    if (strcmp(st, "cancelled") == 0 || strcmp(st, "entered-in-error") == 0)
        return 0;
    const char *pathogen = NULL;
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(code, "coding"), i, c)
    {
        if ((pathogen = ct_fhir_pathogen(rd->area->cfg, str(c, "system"),
                                         str(c, "code"))))
            break;
    }
    if (!pathogen)
        return 0; /* not an infection result caretide tracks */
    /* The newest result of a pathogen wins. */
    const json_t *eff = json_object_get(obs, "effectiveDateTime");
    int64_t at = 0;
    char day[11], tested[32] = "";
    if (eff) {
        snprintf(p, sizeof p, "%s.effective", op);
        if (!fhir_datetime(json_string_value(eff), &at, day))
            return fail(rd, 400, "value", p,
                        "%s must be a FHIR dateTime "
                        "YYYY-MM-DDThh:mm:ss+zz:zz or a date YYYY-MM-DD",
                        p);
        ct_clock_format(at, tested, sizeof tested);
        /* The API takes whole seconds: "...T10:30:00Z". */
        memcpy(tested + 19, "Z", 2);
    }
    json_t *prev = json_object_get(rd->infections, pathogen);
    if (prev && json_integer_value(json_object_get(prev, "_at")) > at)
        return 0;
    const char *why = NULL, *inf = NULL;
    const json_t *val = json_object_get(obs, "valueCodeableConcept");
    if (strcmp(st, "registered") == 0 || strcmp(st, "preliminary") == 0) {
        inf = "awaiting";
    } else if (!val) {
        snprintf(p, sizeof p, "%s.value", op);
        return fail(rd, 400, "required", p,
                    "%s is required for a %s result: a valueCodeableConcept "
                    "coded in SNOMED CT",
                    p, st);
    } else {
        const json_t *codings = json_object_get(val, "coding");
        size_t n = json_array_size(codings), k = 0;
        for (i = 0; i < n; i++)
            if (str(json_array_get(codings, i), "system") &&
                strcmp(str(json_array_get(codings, i), "system"),
                       CT_FHIR_SNOMED) == 0) {
                k = i;
                break;
            }
        const json_t *cd = json_array_get(codings, k);
        inf = ct_fhir_infection_status(st, str(cd, "system"),
                                       str(cd, "code"), &why);
        if (!inf) {
            snprintf(p, sizeof p, "%s.value.coding[%zu].%s", op, k,
                     str(cd, "system") &&
                             strcmp(str(cd, "system"), CT_FHIR_SNOMED) == 0
                         ? "code"
                         : "system");
            return fail(rd, 400, "code-invalid", p, "%s: %s", p, why);
        }
    }
    json_t *e = json_pack("{s:s, s:I}", "status", inf, "_at", (json_int_t)at);
    if (!e || (*tested && json_object_set_new(e, "tested_at",
                                              json_string(tested))) ||
        json_object_set_new(rd->infections, pathogen, e))
        return nomem(rd);
    char field[96];
    snprintf(field, sizeof field, "infections.%s", pathogen);
    if ((err = from(rd, field, op)))
        return err;
    snprintf(field, sizeof field, "infections.%s.status", pathogen);
    snprintf(p, sizeof p, "%s.value", op);
    if ((err = from(rd, field, p)))
        return err;
    snprintf(field, sizeof field, "infections.%s.tested_at", pathogen);
    snprintf(p, sizeof p, "%s.effective", op);
    return from(rd, field, p);
}

static int read_observations(reader *rd)
{
    size_t i;
    const json_t *c;
    char p[PATH_MAX_LEN];
    int err;
    json_array_foreach(json_object_get(rd->sr, "contained"), i, c)
    {
        const char *rt = str(c, "resourceType");
        snprintf(p, sizeof p, "%s.contained[%zu]", rd->sr_path, i);
        if (rt && strcmp(rt, "Observation") == 0 &&
            (err = read_observation(rd, c, p)))
            return err;
    }
    json_array_foreach(rd->entries, i, c)
    {
        const json_t *res = json_object_get(c, "resource");
        const char *rt = str(res, "resourceType");
        snprintf(p, sizeof p, "Bundle.entry[%zu].resource", i);
        if (rt && strcmp(rt, "Observation") == 0 &&
            (err = read_observation(rd, res, p)))
            return err;
    }
    const char *k;
    json_t *v;
    json_object_foreach(rd->infections, k, v) json_object_del(v, "_at");
    if (json_object_size(rd->infections) == 0)
        return 0;
    json_incref(rd->infections);
    return json_object_set_new(rd->body, "infections", rd->infections)
               ? nomem(rd)
               : 0;
}

/* ---- the resource posted ------------------------------------------------ */

static int find_request(reader *rd, const json_t *res)
{
    static const char *const types[] = {"transaction", "batch", "message",
                                        "collection", NULL};
    const char *rt = str(res, "resourceType");
    if (rt && strcmp(rt, "ServiceRequest") == 0) {
        rd->sr = res;
        snprintf(rd->sr_path, sizeof rd->sr_path, "ServiceRequest");
        return 0;
    }
    if (!rt || strcmp(rt, "Bundle") != 0)
        return fail(rd, 400, "structure", "resourceType",
                    "expected a ServiceRequest or a Bundle holding one, "
                    "not %s",
                    rt ? rt : "a resource without resourceType");
    const char *type;
    int err = code_in(rd, res, "Bundle", "type", types,
                      "BundleType (of those caretide takes)", &type);
    if (err)
        return err;
    rd->entries = json_object_get(res, "entry");
    size_t i;
    const json_t *e;
    json_array_foreach(rd->entries, i, e)
    {
        const json_t *r = json_object_get(e, "resource");
        const char *t = str(r, "resourceType");
        if (!t || strcmp(t, "ServiceRequest") != 0)
            continue;
        if (rd->sr)
            return fail(rd, 422, "business-rule",
                        "Bundle.entry.resource.ofType(ServiceRequest)",
                        "the Bundle holds more than one ServiceRequest; send "
                        "one referral per Bundle");
        rd->sr = r;
        snprintf(rd->sr_path, sizeof rd->sr_path, "Bundle.entry[%zu].resource",
                 i);
    }
    if (!rd->sr)
        return fail(rd, 400, "required", "Bundle.entry",
                    "the Bundle holds no ServiceRequest (the referral)");
    return 0;
}

static int read_request(reader *rd)
{
    static const char *const status[] = {
        "draft",     "active",           "on-hold", "revoked",
        "completed", "entered-in-error", "unknown", NULL};
    static const char *const intent[] = {
        "proposal",     "plan",         "directive",      "order",
        "original-order", "reflex-order", "filler-order", "instance-order",
        "option",       NULL};
    const char *st, *in;
    char p[PATH_MAX_LEN];
    int err;
    if ((err = code_in(rd, rd->sr, rd->sr_path, "status", status,
                       "RequestStatus", &st)) ||
        (err = code_in(rd, rd->sr, rd->sr_path, "intent", intent,
                       "RequestIntent", &in)))
        return err;
    if (strcmp(st, "active") != 0) {
        snprintf(p, sizeof p, "%s.status", rd->sr_path);
        return fail(rd, 422, "business-rule", p,
                    "%s is '%s': caretide acts on an 'active' referral only",
                    p, st);
    }
    if (strcmp(in, "order") != 0 && strcmp(in, "original-order") != 0) {
        snprintf(p, sizeof p, "%s.intent", rd->sr_path);
        return fail(rd, 422, "business-rule", p,
                    "%s is '%s': a referral is an 'order' (or "
                    "'original-order')",
                    p, in);
    }
    if ((err = read_patient(rd)) || (err = read_requester(rd)) ||
        (err = read_ready_date(rd)) || (err = read_pathway(rd)) ||
        (err = read_priority(rd)) || (err = read_needs(rd)) ||
        (err = read_encounter(rd)) || (err = read_observations(rd)))
        return err;
    return 0;
}

int ct_fhir_referral_read(const json_t *res, const ct_fhir_area *area,
                          ct_fhir_referral *out, ct_fhir_error *e)
{
    memset(out, 0, sizeof *out);
    memset(e, 0, sizeof *e);
    reader rd = {.area = area, .e = e};
    rd.body = json_object();
    rd.paths = json_object();
    rd.infections = json_object();
    int err = !rd.body || !rd.paths || !rd.infections ? nomem(&rd) : 0;
    if (!err && !json_is_object(res))
        err = fail(&rd, 400, "structure", "", "expected a JSON object");
    if (!err)
        err = find_request(&rd, res);
    if (!err)
        err = read_request(&rd);
    json_decref(rd.infections);
    if (err) {
        json_decref(rd.body);
        json_decref(rd.paths);
        return err;
    }
    out->body = rd.body;
    out->paths = rd.paths;
    return 0;
}

void ct_fhir_referral_free(ct_fhir_referral *r)
{
    json_decref(r->body);
    json_decref(r->paths);
    r->body = r->paths = NULL;
}

const char *ct_fhir_path_for(const json_t *paths, const char *field)
{
    if (!paths || !field)
        return NULL;
    char buf[160];
    snprintf(buf, sizeof buf, "%s", field);
    for (;;) {
        const char *p = json_string_value(json_object_get(paths, buf));
        if (p)
            return p;
        char *dot = strrchr(buf, '.');
        if (!dot)
            return NULL;
        *dot = 0;
    }
}
