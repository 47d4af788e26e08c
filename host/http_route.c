/*
 * Routing and the checks a request passes before its handler: the route
 * table's matching (404, 405 with Allow), bearer authentication and the
 * role's access (401, 403), and the path, query and header limits (400,
 * 414, 431). Split from http.c, which drives MHD and the life cycle.
 */
#include "http_int.h"

#include "error.h"

#include <string.h>

/* MHD_POOL_BYTES in http.c: our limits stay under what its pool holds. */
#define MAX_PATH_BYTES 8192
#define MAX_HEADER_BYTES 16384

/* ---- routing ----------------------------------------------------------- */

/* Whether path fits pattern segment by segment; captures {name} values
 * into r when given (CT_ENOMEM when that fails). */
static int match(const char *pattern, const char *path, ct_http_req *r,
                 bool *ok)
{
    *ok = false;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0)
                return 0;
            if (r) {
                if (r->nparams == CT_HTTP_MAX_PARAMS)
                    return CT_ELIMIT;
                ct_http__param *pa = &r->params[r->nparams];
                if (!(pa->value = ct_strndup(s, slen)))
                    return CT_ENOMEM;
                pa->name = p + 1;
                pa->name_len = plen - 2;
                r->nparams++;
            }
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
    }
    *ok = !*p && !*s;
    return 0;
}

static int parse_method(const char *m, ct_http_method *out)
{
    if (strcmp(m, "HEAD") == 0)
        m = "GET"; /* MHD leaves the body out */
    for (int i = 0; i < CT_HTTP__COUNT; i++) {
        if (strcmp(m, ct_http_method_name((ct_http_method)i)) == 0) {
            *out = (ct_http_method)i;
            return 0;
        }
    }
    return CT_EINVAL;
}

/* Finds the route; on a miss replies 404, or 405 with Allow. */
int ct_http__route(ct_http_req *r, const char *method,
                   const ct_http_route *routes, size_t nroutes)
{
    ct_http_method m = CT_HTTP__COUNT;
    bool known_method = parse_method(method, &m) == 0;
    unsigned allow = 0;
    const ct_http_route *found = NULL;
    for (size_t i = 0; i < nroutes; i++) {
        bool ok;
        match(routes[i].pattern, r->path, NULL, &ok);
        if (!ok)
            continue;
        allow |= 1u << routes[i].method;
        if (known_method && routes[i].method == m && !found)
            found = &routes[i];
    }
    r->method = m;
    if (found) {
        bool ok;
        int err = match(found->pattern, r->path, r, &ok);
        if (err)
            return err;
        r->route = found;
        return 0;
    }
    if (!allow)
        return ct_http_error(r, 404, "not_found", NULL,
                             "no such resource: %s", r->path);
    char list[64] = "";
    for (int i = 0; i < CT_HTTP__COUNT; i++) {
        if (!(allow & (1u << i)))
            continue;
        if (*list)
            strcat(list, ", ");
        strcat(list, ct_http_method_name((ct_http_method)i));
        if (i == CT_HTTP_GET)
            strcat(list, ", HEAD");
    }
    ct_http_error(r, 405, "method_not_allowed", NULL,
                  "%s is not allowed on %s; allowed: %s", method, r->path,
                  list);
    return ct_http_reply_header(r, "Allow", list);
}

/* ---- authentication ---------------------------------------------------- */

void ct_http__authenticate(ct_http_req *r, const ct_auth *auth)
{
    const ct_http_route *rt = r->route;
    if (rt->public) {
        r->access = CT_ACCESS_ALL;
        return;
    }
    const char *header = ct_http_req_header(r, "Authorization");
    int denied = auth ? ct_auth_bearer(auth, header, &r->who) : CT_EDENIED;
    if (denied) {
        ct_http_error(r, 401, "unauthorized", NULL,
                      !header                  ? "a bearer token is required"
                      : denied == CT_ETIMEOUT ? "the bearer token has expired"
                                               : "the bearer token is not "
                                                 "valid");
        ct_http_reply_header(r, "WWW-Authenticate",
                             header ? "Bearer error=\"invalid_token\""
                                    : "Bearer");
        return;
    }
    r->authed = true;
    r->access = rt->access[r->who.role];
    if (r->who.display && rt->access[CT_HTTP_DISPLAY] == CT_ACCESS_NONE) {
        /* A screen on a wall sees aggregate figures only (display.h). */
        r->access = CT_ACCESS_NONE;
        ct_http_error(r, 403, "forbidden", NULL,
                      "a display link may not %s %s: it sees aggregate "
                      "figures only",
                      ct_http_method_name(r->method), rt->pattern);
        return;
    }
    if (r->access == CT_ACCESS_NONE)
        ct_http_error(r, 403, "forbidden", NULL,
                      "role %s may not %s %s", ct_role_name(r->who.role),
                      ct_http_method_name(r->method), rt->pattern);
}

/*
 * Whether s is text a path or query may carry: UTF-8 (no overlong forms,
 * surrogates or code points past U+10FFFF) without control characters.
 * Anything else is 400 before routing, so no handler ever builds JSON
 * from bytes jansson refuses (a 500 "out of memory" before).
 */
bool ct_http__clean_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int n;
        unsigned cp;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, cp = c & 0x07;
        else
            return false;
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
            (cp >= 0x80 && cp < 0xa0)) /* C1 controls */
            return false;
        p += n + 1;
    }
    return true;
}

/* MHD's unescaping, but a %00 (which would cut the C string MHD hands
 * on: "/v1/capacity%00.json" answered as /v1/capacity) becomes a
 * control character that ct_http__clean_text refuses. */
size_t ct_http__unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    size_t n = MHD_http_unescape(s);
    if (strlen(s) != n) {
        s[0] = '\x01';
        s[1] = '\0';
        return 1;
    }
    return n;
}

typedef struct bad_arg {
    const char *key; /* the first argument that is not clean, or NULL */
    bool key_clean;
} bad_arg;

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind,
                                 const char *key, const char *value)
{
    (void)kind;
    bad_arg *b = cls;
    if (ct_http__clean_text(key) && (!value || ct_http__clean_text(value)))
        return MHD_YES;
    b->key = key;
    b->key_clean = ct_http__clean_text(key);
    return MHD_NO;
}

static enum MHD_Result add_header_len(void *cls, enum MHD_ValueKind kind,
                                      const char *key, const char *value)
{
    (void)kind;
    size_t *sum = cls;
    *sum += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": ", CRLF */
    return MHD_YES;
}

/* A path or headers beyond our limits: 414 or 431 as JSON (see
 * MHD_POOL_BYTES). */
bool ct_http__refuse_oversized(ct_http_req *r, const char *url)
{
    if (strlen(url) > MAX_PATH_BYTES) {
        ct_http_error(r, 414, "too_large", "path",
                      "the path is longer than %d bytes", MAX_PATH_BYTES);
        return true;
    }
    size_t sum = 0;
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_header_len,
                              &sum);
    if (sum > MAX_HEADER_BYTES) {
        ct_http_error(r, 431, "too_large", "headers",
                      "the request headers are larger than %d bytes",
                      MAX_HEADER_BYTES);
        return true;
    }
    return false;
}

/* 400 for a path or query argument that is not clean text. */
bool ct_http__refuse_unclean(ct_http_req *r, const char *url)
{
    if (!ct_http__clean_text(url)) {
        ct_http_error(r, 400, "invalid", "path",
                      "the path must be UTF-8 text without control "
                      "characters or %%00");
        return true;
    }
    bad_arg b = {0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, &b);
    if (!b.key)
        return false;
    ct_http_error(r, 400, "invalid", b.key_clean ? b.key : "query",
                  "query arguments must be UTF-8 text without control "
                  "characters or %%00");
    return true;
}
