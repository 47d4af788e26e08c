/*
 * What route handlers see of a request: accessors, replies, JSON errors
 * and the validation helpers that name the offending field.
 */
#include "http_int.h"

#include "error.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define UNIT "http"
#define MAX_PATH_DEPTH 8

static const char *const method_names[CT_HTTP__COUNT] = {
    "GET", "POST", "PUT", "PATCH", "DELETE",
};

const char *ct_http_method_name(ct_http_method m)
{
    return (unsigned)m < CT_HTTP__COUNT ? method_names[m] : "?";
}

/* ---- accessors --------------------------------------------------------- */

const char *ct_http_req_id(const ct_http_req *r)
{
    return r->id;
}

const char *ct_http_req_path(const ct_http_req *r)
{
    return r->path;
}

ct_http_method ct_http_req_method(const ct_http_req *r)
{
    return r->method;
}

const ct_http_route *ct_http_req_route(const ct_http_req *r)
{
    return r->route;
}

const char *ct_http_req_param(const ct_http_req *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nparams; i++)
        if (r->params[i].name_len == n &&
            memcmp(r->params[i].name, name, n) == 0)
            return r->params[i].value;
    return NULL;
}

const char *ct_http_req_query(const ct_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *ct_http_req_header(const ct_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const ct_principal *ct_http_req_principal(const ct_http_req *r)
{
    return r->authed ? &r->who : NULL;
}

ct_access ct_http_req_access(const ct_http_req *r)
{
    return r->access;
}

void ct_http_req_set_access(ct_http_req *r, ct_access access)
{
    r->access = access;
}

const char *ct_http_req_body(const ct_http_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

int ct_http_req_owns(ct_http_req *r, const char *owner_org)
{
    if (!r->authed || ct_auth_owns(&r->who, r->access, owner_org))
        return 0;
    return ct_http_error(r, 403, "forbidden", NULL,
                         "this belongs to another organisation");
}

int ct_http_req_owns_known(ct_http_req *r, const char *what,
                           const char *owner_org)
{
    if (!r->authed || ct_auth_owns(&r->who, r->access, owner_org))
        return 0;
    return ct_http_error(r, 403, "forbidden", NULL,
                         "%s belongs to %s, not to yours (%s)", what,
                         owner_org && *owner_org ? owner_org : "no organisation",
                         r->who.org);
}

/* ---- replies ----------------------------------------------------------- */

void ct_http__reply_reset(ct_http_req *r)
{
    free(r->reply);
    r->reply = NULL;
    r->reply_len = 0;
    r->status = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    r->nheaders = 0;
}

int ct_http_reply_buf(ct_http_req *r, unsigned status,
                      const char *content_type, char *body, size_t len)
{
    if (status < 100 || status > 599) {
        free(body);
        return CT_EINVAL;
    }
    free(r->reply);
    r->reply = body;
    r->reply_len = body ? len : 0;
    r->content_type = content_type;
    r->status = status;
    return 0;
}

int ct_http_reply_json(ct_http_req *r, unsigned status, json_t *body)
{
    if (!body)
        return CT_ENOMEM;
    const ct_http_dialect *dia = r->dialect;
    const json_t *e = json_object_get(body, "error");
    if (dia && status >= 400 && json_is_object(e)) {
        json_t *other = dia->error(r, status, e);
        if (other) {
            json_decref(body);
            body = other;
        }
    }
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(body);
    if (!text)
        return CT_ENOMEM;
    return ct_http_reply_buf(r, status,
                             dia ? dia->content_type : "application/json",
                             text, strlen(text));
}

int ct_http_reply_json_text(ct_http_req *r, unsigned status, char *text,
                            size_t len)
{
    if (status >= 400) {
        free(text);
        return CT_EINVAL;
    }
    const ct_http_dialect *dia = r->dialect;
    return ct_http_reply_buf(r, status,
                             dia ? dia->content_type : "application/json",
                             text, len);
}

int ct_http_reply_header(ct_http_req *r, const char *name, const char *value)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0) {
            char *v = ct_strdup(value);
            if (!v)
                return CT_ENOMEM;
            free(r->headers[i].value);
            r->headers[i].value = v;
            return 0;
        }
    }
    if (r->nheaders == CT_HTTP__MAX_HEADERS)
        return CT_ELIMIT;
    char *n = ct_strdup(name), *v = ct_strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return CT_ENOMEM;
    }
    r->headers[r->nheaders].name = n;
    r->headers[r->nheaders].value = v;
    r->nheaders++;
    return 0;
}

static int err_for_status(unsigned status)
{
    switch (status) {
    case 401:
    case 403: return CT_EDENIED;
    case 404: return CT_ENOTFOUND;
    case 409: return CT_ECONFLICT;
    case 413: return CT_ELIMIT;
    default: return CT_EINVAL;
    }
}

/* The static fallback when even the error body cannot be built. */
static const char oom_body[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\","
    "\"field\":null}}";

static void reply_oom(ct_http_req *r)
{
    ct_http__reply_reset(r);
    char *copy = ct_strdup(oom_body);
    ct_http_reply_buf(r, 500, "application/json", copy,
                      copy ? strlen(copy) : 0);
}

static int verror(ct_http_req *r, unsigned status, const char *code,
                  const char *field, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* Headers of an earlier reply (Location...) would not fit an error;
     * the ones the server adds for the error itself come after. */
    ct_http__reply_reset(r);
    json_t *body = json_pack("{s:{s:s, s:s, s:o}}", "error", "code", code,
                             "message", msg, "field",
                             field ? json_string(field) : json_null());
    if (ct_http_reply_json(r, status, body))
        reply_oom(r);
    return err_for_status(status);
}

int ct_http_error(ct_http_req *r, unsigned status, const char *code,
                  const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int err = verror(r, status, code, field, fmt, ap);
    va_end(ap);
    return err;
}

unsigned ct_http_status_for(int err, const char **code)
{
    static const struct {
        int err;
        unsigned status;
        const char *code;
    } map[] = {
        {CT_EINVAL, 400, "invalid"},      {CT_EDENIED, 403, "forbidden"},
        {CT_ENOTFOUND, 404, "not_found"}, {CT_EEXISTS, 409, "exists"},
        {CT_ESTATE, 409, "state"},        {CT_ECONFLICT, 409, "conflict"},
        {CT_ECAPACITY, 409, "no_capacity"}, {CT_ECOHORT, 409, "cohort"},
        {CT_ECLOSED, 409, "closed"},      {CT_ELIMIT, 422, "limit"},
        {CT_EBUSY, 503, "busy"},          {CT_EFULL, 507, "disk_full"},
        {CT_EREADONLY, 503, "read_only"}, {CT_EGONE, 503, "unavailable"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (map[i].err == err) {
            *code = map[i].code;
            return map[i].status;
        }
    *code = "internal";
    return 0;
}

void ct_http__reply_for_error(ct_http_req *r, int err)
{
    if (r->status >= 400)
        return; /* the handler said what went wrong */
    const char *code;
    unsigned status = ct_http_status_for(err, &code);
    if (!status) {
        ct_log_error(UNIT, "request %s (%s %s): handler failed: %s",
                     r->id, ct_http_method_name(r->method), r->path,
                     err ? ct_err_name(err) : "returned no reply");
        ct_http_error(r, 500, "internal", NULL,
                      "internal error; quote request id %s", r->id);
        return;
    }
    ct_http_error(r, status, code, NULL, "%s", ct_strerror(err));
}

void ct_http__req_clear(ct_http_req *r)
{
    ct_http__reply_reset(r);
    for (size_t i = 0; i < r->nparams; i++)
        free(r->params[i].value);
    r->nparams = 0;
    free(r->path);
    r->path = NULL;
    ct_buf_free(&r->body);
    json_decref(r->json);
    r->json = NULL;
}

/* ---- the JSON body ----------------------------------------------------- */

static bool json_content_type(const char *ct)
{
    if (!ct)
        return true; /* lenient: curl -d without -H */
    size_t n = strcspn(ct, ";");
    while (n && isspace((unsigned char)ct[n - 1]))
        n--;
    /* FHIR's own type is JSON too (fhir.h). */
    static const char want[] = "application/json",
                      fhir[] = "application/fhir+json";
    return (n == sizeof want - 1 && strncasecmp(ct, want, n) == 0) ||
           (n == sizeof fhir - 1 && strncasecmp(ct, fhir, n) == 0);
}

int ct_http_req_json(ct_http_req *r, json_t **out)
{
    *out = NULL;
    if (r->json) {
        *out = r->json;
        return 0;
    }
    if (!json_content_type(ct_http_req_header(r, "Content-Type")))
        return ct_http_error(r, 415, "unsupported_media_type", "body",
                             "send the body as application/json or "
                             "application/fhir+json");
    if (r->body.len == 0)
        return ct_http_error(r, 400, "missing", "body",
                             "a JSON object body is required");
    json_error_t jerr;
    json_t *j = json_loadb(r->body.data, r->body.len,
                           JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!j)
        return ct_http_error(r, 400, "malformed_json", "body",
                             "malformed JSON at line %d, column %d: %s",
                             jerr.line, jerr.column, jerr.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return ct_http_error(r, 400, "invalid", "body",
                             "the body must be a JSON object");
    }
    r->json = j;
    *out = j;
    return 0;
}

void ct_http_req_set_json(ct_http_req *r, json_t *body)
{
    json_decref(r->json);
    r->json = body;
}

void ct_http_req_set_ctx(ct_http_req *r, void *ctx)
{
    r->ctx = ctx;
}

void *ct_http_req_ctx(const ct_http_req *r)
{
    return r->ctx;
}

/* ---- fields ------------------------------------------------------------ */

/*
 * Walks path from the body's root. Returns 0 with *out the value or NULL
 * when absent; CT_EINVAL after replying when the body is bad or a step
 * of the path is not an object.
 */
static int lookup(ct_http_req *r, const char *path, json_t **out)
{
    *out = NULL;
    json_t *cur;
    int err = ct_http_req_json(r, &cur);
    if (err)
        return err;
    if (!path || !*path) {
        *out = cur;
        return 0;
    }
    char key[128];
    const char *p = path;
    for (int depth = 0; depth < MAX_PATH_DEPTH; depth++) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof key)
            return CT_EINVAL;
        memcpy(key, p, n);
        key[n] = '\0';
        json_t *next = json_object_get(cur, key);
        if (!next || json_is_null(next))
            return 0;
        if (!p[n]) {
            *out = next;
            return 0;
        }
        if (!json_is_object(next))
            return ct_http_error(r, 400, "invalid", path,
                                 "'%.*s' must be an object",
                                 (int)(p + n - path), path);
        cur = next;
        p += n + 1;
    }
    return CT_EINVAL;
}

/* The value at path, or a 400 "missing" when required and absent. */
static int need(ct_http_req *r, const char *path, bool required, json_t **v)
{
    int err = lookup(r, path, v);
    if (err)
        return err;
    if (!*v && required)
        return ct_http_error(r, 400, "missing", path, "'%s' is required",
                             path);
    return 0;
}

int ct_http_field_string(ct_http_req *r, const char *path, bool required,
                         size_t max_len, const char **out)
{
    json_t *v;
    int err = need(r, path, required, &v);
    if (err || !v)
        return err;
    if (!json_is_string(v))
        return ct_http_error(r, 400, "invalid", path,
                             "'%s' must be a string", path);
    size_t len = json_string_length(v);
    if (max_len && len > max_len)
        return ct_http_error(r, 400, "invalid", path,
                             "'%s' is longer than %zu characters", path,
                             max_len);
    if (strlen(json_string_value(v)) != len)
        return ct_http_error(r, 400, "invalid", path,
                             "'%s' must not contain NUL characters", path);
    *out = json_string_value(v);
    return 0;
}

int ct_http_field_int(ct_http_req *r, const char *path, bool required,
                      int64_t min, int64_t max, int64_t *out, bool *present)
{
    if (present)
        *present = false;
    json_t *v;
    int err = need(r, path, required, &v);
    if (err || !v)
        return err;
    if (!json_is_integer(v))
        return ct_http_error(r, 400, "invalid", path,
                             "'%s' must be an integer", path);
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return ct_http_error(r, 400, "invalid", path,
                             "'%s' must be between %lld and %lld", path,
                             (long long)min, (long long)max);
    *out = i;
    if (present)
        *present = true;
    return 0;
}

int ct_http_field_bool(ct_http_req *r, const char *path, bool required,
                       bool *out, bool *present)
{
    if (present)
        *present = false;
    json_t *v;
    int err = need(r, path, required, &v);
    if (err || !v)
        return err;
    if (!json_is_boolean(v))
        return ct_http_error(r, 400, "invalid", path,
                             "'%s' must be true or false", path);
    *out = json_is_true(v);
    if (present)
        *present = true;
    return 0;
}

int ct_http_field_enum(ct_http_req *r, const char *path, bool required,
                       int (*parse)(const char *), const char *expected,
                       int *out)
{
    const char *s = NULL;
    int err = ct_http_field_string(r, path, required, 64, &s);
    if (err || !s)
        return err;
    int v = parse(s);
    if (v < 0)
        return ct_http_error(r, 400, "invalid", path,
                             "'%s' must be one of %s", path, expected);
    *out = v;
    return 0;
}

static bool valid_date(const char *s)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                               31};
    for (int i = 0; i < 10; i++) {
        bool dash = i == 4 || i == 7;
        if (dash ? s[i] != '-' : !isdigit((unsigned char)s[i]))
            return false;
    }
    if (s[10])
        return false;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (y < 1900 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

int ct_http_field_date(ct_http_req *r, const char *path, bool required,
                       char out[11])
{
    const char *s = NULL;
    int err = ct_http_field_string(r, path, required, 32, &s);
    if (err || !s)
        return err;
    if (strlen(s) != 10 || !valid_date(s))
        return ct_http_error(r, 400, "invalid", path,
                             "'%s' must be a date written YYYY-MM-DD", path);
    memcpy(out, s, 11);
    return 0;
}

int ct_http_field_nhs(ct_http_req *r, const char *path, bool required,
                      char out[11])
{
    const char *s = NULL;
    int err = ct_http_field_string(r, path, required, 32, &s);
    if (err || !s)
        return err;
    if (!ct_nhs_number_valid(s, out))
        return ct_http_error(r, 400, "invalid", path,
                             "'%s' is not a valid NHS number (10 digits "
                             "with a modulus 11 check digit)", path);
    return 0;
}

static const char *type_name(json_type t)
{
    switch (t) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "true or false";
    case JSON_NULL: return "null";
    }
    return "?";
}

int ct_http_field_json(ct_http_req *r, const char *path, bool required,
                       json_type type, json_t **out)
{
    *out = NULL;
    json_t *v;
    int err = need(r, path, required, &v);
    if (err || !v)
        return err;
    json_type t = json_typeof(v);
    bool ok = t == type || (type == JSON_TRUE && t == JSON_FALSE) ||
              (type == JSON_FALSE && t == JSON_TRUE);
    if (!ok)
        return ct_http_error(r, 400, "invalid", path, "'%s' must be %s",
                             path, type_name(type));
    *out = v;
    return 0;
}

int ct_http_field_only(ct_http_req *r, const char *path,
                       const char *const *allowed)
{
    json_t *obj;
    int err = lookup(r, path, &obj);
    if (err || !obj)
        return err;
    if (!json_is_object(obj))
        return ct_http_error(r, 400, "invalid", path, "'%s' must be an "
                             "object", path);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (known)
            continue;
        /* The suggestion only for a key that is not known: the distances
         * to every field name cost more than the rest of the check. */
        const char *best = NULL;
        size_t best_d = 3;
        for (size_t i = 0; allowed[i]; i++) {
            size_t d = ct_levenshtein(key, allowed[i]);
            if (d < best_d) {
                best_d = d;
                best = allowed[i];
            }
        }
        char field[192];
        snprintf(field, sizeof field, "%s%s%s", path && *path ? path : "",
                 path && *path ? "." : "", key);
        if (best)
            return ct_http_error(r, 400, "unknown_field", field,
                                 "unknown field '%s'; did you mean '%s'?",
                                 field, best);
        return ct_http_error(r, 400, "unknown_field", field,
                             "unknown field '%s'", field);
    }
    return 0;
}

/* ---- query arguments --------------------------------------------------- */

int ct_http_query_int(ct_http_req *r, const char *name, int64_t min,
                      int64_t max, int64_t def, int64_t *out)
{
    const char *s = ct_http_req_query(r, name);
    if (!s) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || !(isdigit((unsigned char)*s) || *s == '-'))
        return ct_http_error(r, 400, "invalid", name,
                             "'%s' must be an integer", name);
    if (v < min || v > max)
        return ct_http_error(r, 400, "invalid", name,
                             "'%s' must be between %lld and %lld", name,
                             (long long)min, (long long)max);
    *out = v;
    return 0;
}

int ct_http_query_enum(ct_http_req *r, const char *name,
                       int (*parse)(const char *), const char *expected,
                       int *out)
{
    *out = -1;
    const char *s = ct_http_req_query(r, name);
    if (!s)
        return 0;
    int v = parse(s);
    if (v < 0)
        return ct_http_error(r, 400, "invalid", name,
                             "'%s' must be one of %s", name, expected);
    *out = v;
    return 0;
}
