/*
 * Bundles in memory: the manifest format, packing, reading and writing
 * bundle files, signing and verifying. Directories are in bundle_fs.c.
 */
#include "bundle_int.h"

#include "clock.h"
#include "error.h"
#include "manifest.h"
#include "tar.h"
#include "util.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Canonical MANIFEST.json: sorted keys, two-space indent, ASCII, then a
 * newline. The bundle hash is over exactly these bytes. */
#define MANIFEST_JSON_FLAGS (JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

/* A bundle file holds the files, their headers and the two manifests. */
#define MAX_ARCHIVE_BYTES                                          \
    ((uint64_t)CT_BUNDLE_MAX_BYTES + 2u * CT_BUNDLE_MAX_FILE_BYTES + \
     ((uint64_t)CT_BUNDLE_MAX_FILES + 4u) * 2u * CT_TAR_BLOCK)

static const char *const problem_names[] = {
    [CT_BUNDLE_OK] = "ok",
    [CT_BUNDLE_UNSIGNED] = "unsigned",
    [CT_BUNDLE_UNKNOWN_KEY] = "unknown_key",
    [CT_BUNDLE_EXPIRED_KEY] = "expired_key",
    [CT_BUNDLE_BAD_SIGNATURE] = "bad_signature",
    [CT_BUNDLE_TAMPERED] = "tampered",
    [CT_BUNDLE_WRONG_API] = "wrong_api",
    [CT_BUNDLE_UNSAFE] = "unsafe",
    [CT_BUNDLE_TOO_BIG] = "too_big",
    [CT_BUNDLE_MALFORMED] = "malformed",
    [CT_BUNDLE_IO] = "io",
    [CT_BUNDLE_TESTS_FAILED] = "tests_failed",
    [CT_BUNDLE_DOWNGRADE] = "downgrade",
};

const char *ct_bundle_problem_name(ct_bundle_problem p)
{
    return (unsigned)p < CT_ARRAY_LEN(problem_names) ? problem_names[p]
                                                     : "?";
}

int64_t ct_bundle_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ct_bundle__refuse(ct_bundle_info *info, ct_bundle_problem p,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(info->reason, sizeof info->reason, fmt, ap);
    va_end(ap);
    info->problem = p;
    switch (p) {
    case CT_BUNDLE_OK: return 0;
    case CT_BUNDLE_UNSIGNED:
    case CT_BUNDLE_UNKNOWN_KEY:
    case CT_BUNDLE_EXPIRED_KEY:
    case CT_BUNDLE_BAD_SIGNATURE: return CT_ESIGNATURE;
    case CT_BUNDLE_WRONG_API: return CT_EUNSUPPORTED;
    case CT_BUNDLE_TOO_BIG: return CT_ELIMIT;
    case CT_BUNDLE_IO: return CT_EIO;
    case CT_BUNDLE_TESTS_FAILED: return CT_EPLUGIN;
    case CT_BUNDLE_DOWNGRADE: return CT_EDENIED;
    default: return CT_ECORRUPT;
    }
}

bool ct_bundle__safe_path(const char *path, char *why, size_t whylen)
{
    size_t n = strlen(path);
    if (n == 0 || n > CT_BUNDLE_MAX_PATH) {
        snprintf(why, whylen, "'%.80s': path is empty or longer than %d "
                              "bytes", path, CT_BUNDLE_MAX_PATH);
        return false;
    }
    if (path[0] == '/') {
        snprintf(why, whylen, "'%.255s': absolute path", path);
        return false;
    }
    int depth = 0;
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 0 || (len == 1 && p[0] == '.') ||
            (len == 2 && p[0] == '.' && p[1] == '.')) {
            snprintf(why, whylen, "'%.255s': empty, '.' or '..' component",
                     path);
            return false;
        }
        if (p[0] == '.' || p[0] == '-') {
            snprintf(why, whylen, "'%.255s': a name may not start with '%c'",
                     path, p[0]);
            return false;
        }
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)p[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-')) {
                snprintf(why, whylen, "'%.255s': names may hold only "
                                      "letters, digits, '.', '_' and '-'",
                         path);
                return false;
            }
        }
        if (++depth > CT_BUNDLE_MAX_DEPTH) {
            snprintf(why, whylen, "'%.255s': nested deeper than %d levels",
                     path, CT_BUNDLE_MAX_DEPTH);
            return false;
        }
        p += len;
        if (*p == '/') {
            p++;
            if (!*p) {
                snprintf(why, whylen, "'%.255s': trailing '/'", path);
                return false;
            }
        }
    }
    return true;
}

int ct_bundle__add(ct_bundle *b, const char *path, uint8_t *data,
                   size_t len, ct_bundle_info *info)
{
    if (b->nfiles >= CT_BUNDLE_MAX_FILES) {
        free(data);
        return ct_bundle__refuse(info, CT_BUNDLE_TOO_BIG,
                                 "more than %d files", CT_BUNDLE_MAX_FILES);
    }
    if (len > CT_BUNDLE_MAX_FILE_BYTES ||
        b->total + len > CT_BUNDLE_MAX_BYTES) {
        free(data);
        return ct_bundle__refuse(
            info, CT_BUNDLE_TOO_BIG,
            "%s: files may hold at most %u MiB each and %u MiB together",
            path, CT_BUNDLE_MAX_FILE_BYTES >> 20, CT_BUNDLE_MAX_BYTES >> 20);
    }
    if (ct_grow(&b->files, &b->cap, b->nfiles, sizeof *b->files, 16)) {
        free(data);
        return CT_ENOMEM;
    }
    char *p = strdup(path);
    if (!p) {
        free(data);
        return CT_ENOMEM;
    }
    b->files[b->nfiles++] = (ct_bundle_entry){p, data, len};
    b->total += len;
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const ct_bundle_entry *)a)->path,
                  ((const ct_bundle_entry *)b)->path);
}

int ct_bundle__finish(ct_bundle *b, ct_bundle_info *info)
{
    if (b->nfiles > 1)
        qsort(b->files, b->nfiles, sizeof *b->files, entry_cmp);
    for (size_t i = 1; i < b->nfiles; i++)
        if (strcmp(b->files[i].path, b->files[i - 1].path) == 0)
            return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                     "'%s' appears twice", b->files[i].path);
    return 0;
}

int ct_bundle__hand_over(ct_bundle *b, int rc, ct_bundle **out)
{
    if (rc)
        ct_bundle_free(b);
    else
        *out = b;
    return rc;
}

void ct_bundle_free(ct_bundle *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nfiles; i++) {
        free(b->files[i].path);
        free(b->files[i].data);
    }
    free(b->files);
    free(b->manifest);
    free(b->sig);
    free(b);
}

const uint8_t *ct_bundle_file(const ct_bundle *b, const char *path,
                              size_t *len)
{
    ct_bundle_entry key = {.path = (char *)path};
    const ct_bundle_entry *e =
        b->nfiles ? bsearch(&key, b->files, b->nfiles, sizeof *b->files,
                            entry_cmp)
                  : NULL;
    if (!e)
        return NULL;
    if (len)
        *len = e->len;
    return e->data;
}

size_t ct_bundle_count(const ct_bundle *b)
{
    return b->nfiles;
}

const char *ct_bundle_path_at(const ct_bundle *b, size_t i)
{
    return i < b->nfiles ? b->files[i].path : NULL;
}

/* --- the manifest ---------------------------------------------------- */

static void sha256_hex(const uint8_t *data, size_t len, char hex[65])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    ct_hex_encode(h, sizeof h, hex);
}

/* The canonical bytes of a manifest object, with a final newline. */
static int canonical(const json_t *root, uint8_t **out, size_t *len)
{
    char *text = json_dumps(root, MANIFEST_JSON_FLAGS);
    if (!text)
        return CT_ENOMEM;
    size_t n = strlen(text);
    uint8_t *p = malloc(n + 1);
    if (!p) {
        free(text);
        return CT_ENOMEM;
    }
    memcpy(p, text, n);
    p[n] = '\n';
    free(text);
    *out = p;
    *len = n + 1;
    return 0;
}

typedef struct mfile {
    const char *path;
    const char *sha256; /* 64 hex digits */
    json_int_t size;
} mfile;

typedef struct manifest {
    json_t *root;
    const char *name, *version, *publisher;
    json_int_t api;
    mfile *files;
    size_t nfiles;
} manifest;

static void manifest_clear(manifest *m)
{
    json_decref(m->root);
    free(m->files);
    memset(m, 0, sizeof *m);
}

static bool only_keys(json_t *obj, const char *const *keys, size_t n,
                      const char **bad)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        size_t i = 0;
        while (i < n && strcmp(keys[i], k) != 0)
            i++;
        if (i == n) {
            *bad = k;
            return false;
        }
    }
    return true;
}

static bool valid_plugin_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

static bool valid_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

/* Parses and checks b's MANIFEST.json into m, filling info as it goes. */
static int parse_manifest(const ct_bundle *b, manifest *m,
                          ct_bundle_info *info)
{
    static const char *const top[] = {"api",  "files",     "format",
                                      "name", "publisher", "version"};
    static const char *const entry[] = {"path", "sha256", "size"};
    const char *bad = NULL;
    json_error_t je;
    memset(m, 0, sizeof *m);
    m->root = json_loadb((const char *)b->manifest, b->manifest_len,
                         JSON_REJECT_DUPLICATES, &je);
    if (!m->root)
        return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                 CT_BUNDLE_MANIFEST ":%d:%d: %s", je.line,
                                 je.column, je.text);
    const char *format = json_string_value(json_object_get(m->root, "format"));
    if (!json_is_object(m->root) || !format)
        return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                 CT_BUNDLE_MANIFEST " is not a caretide "
                                 "bundle manifest");
    if (strcmp(format, CT_BUNDLE_FORMAT) != 0)
        return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                 CT_BUNDLE_MANIFEST ": format '%.64s' is not "
                                 "supported (this host reads %s)",
                                 format, CT_BUNDLE_FORMAT);
    if (!only_keys(m->root, top, CT_ARRAY_LEN(top), &bad))
        return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                 CT_BUNDLE_MANIFEST ": unknown key '%.64s'",
                                 bad);
    json_t *api = json_object_get(m->root, "api");
    json_t *files = json_object_get(m->root, "files");
    m->name = json_string_value(json_object_get(m->root, "name"));
    m->version = json_string_value(json_object_get(m->root, "version"));
    m->publisher = json_string_value(json_object_get(m->root, "publisher"));
    if (!json_is_integer(api) || !json_is_array(files) || !m->name ||
        !m->version || !m->publisher)
        return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                 CT_BUNDLE_MANIFEST " needs api (integer), "
                                 "files (list), name, version and publisher");
    if (!valid_plugin_name(m->name) || !ct_semver_valid(m->version) ||
        strlen(m->version) >= sizeof info->version ||
        strlen(m->publisher) >= sizeof info->publisher)
        return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                 CT_BUNDLE_MANIFEST ": bad name, version or "
                                 "publisher");
    m->api = json_integer_value(api);
    snprintf(info->name, sizeof info->name, "%s", m->name);
    snprintf(info->version, sizeof info->version, "%s", m->version);
    snprintf(info->publisher, sizeof info->publisher, "%s", m->publisher);
    info->api = m->api > INT32_MAX || m->api < 0 ? -1 : (int)m->api;

    size_t n = json_array_size(files);
    if (n > CT_BUNDLE_MAX_FILES)
        return ct_bundle__refuse(info, CT_BUNDLE_TOO_BIG,
                                 CT_BUNDLE_MANIFEST " lists more than %d "
                                 "files", CT_BUNDLE_MAX_FILES);
    m->files = calloc(n ? n : 1, sizeof *m->files);
    if (!m->files)
        return CT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(files, i);
        mfile *mf = &m->files[i];
        char why[320];
        if (!json_is_object(f) ||
            !only_keys(f, entry, CT_ARRAY_LEN(entry), &bad))
            return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                     CT_BUNDLE_MANIFEST ": file %zu is not "
                                     "{path, sha256, size}", i + 1);
        mf->path = json_string_value(json_object_get(f, "path"));
        mf->sha256 = json_string_value(json_object_get(f, "sha256"));
        json_t *size = json_object_get(f, "size");
        if (!mf->path || !mf->sha256 || !json_is_integer(size) ||
            !valid_hex64(mf->sha256) || json_integer_value(size) < 0)
            return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                     CT_BUNDLE_MANIFEST ": file %zu is not "
                                     "{path, sha256, size}", i + 1);
        mf->size = json_integer_value(size);
        if (!ct_bundle__safe_path(mf->path, why, sizeof why))
            return ct_bundle__refuse(info, CT_BUNDLE_UNSAFE,
                                     CT_BUNDLE_MANIFEST ": %s", why);
        if (i && strcmp(m->files[i - 1].path, mf->path) >= 0)
            return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                     CT_BUNDLE_MANIFEST ": files are not "
                                     "sorted by path or repeat '%s'",
                                     mf->path);
    }
    m->nfiles = n;
    info->nfiles = n;
    /* One form only, so the hash names one manifest. */
    uint8_t *canon = NULL;
    size_t clen = 0;
    int rc = canonical(m->root, &canon, &clen);
    if (rc)
        return rc;
    bool same = clen == b->manifest_len &&
                memcmp(canon, b->manifest, clen) == 0;
    free(canon);
    if (!same)
        return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                 CT_BUNDLE_MANIFEST " is not in canonical "
                                 "form (was it edited by hand?)");
    return 0;
}

int ct_bundle__set_manifest(ct_bundle *b, const ct_manifest *pm)
{
    json_t *files = json_array();
    json_t *root = json_pack("{s:s, s:s, s:s, s:I, s:s, s:o}", "format",
                             CT_BUNDLE_FORMAT, "name", pm->name, "version",
                             pm->version, "api", (json_int_t)pm->api,
                             "publisher", pm->publisher, "files", files);
    if (!root)
        return CT_ENOMEM;
    for (size_t i = 0; i < b->nfiles; i++) {
        char hex[65];
        sha256_hex(b->files[i].data, b->files[i].len, hex);
        if (json_array_append_new(
                files, json_pack("{s:s, s:s, s:I}", "path", b->files[i].path,
                                 "sha256", hex, "size",
                                 (json_int_t)b->files[i].len))) {
            json_decref(root);
            return CT_ENOMEM;
        }
    }
    free(b->manifest);
    b->manifest = NULL;
    int rc = canonical(root, &b->manifest, &b->manifest_len);
    json_decref(root);
    return rc;
}

/* --- verification ---------------------------------------------------- */

/* Compares the files with the manifest; names the first difference in
 * path order. */
static int check_files(const ct_bundle *b, const manifest *m,
                       ct_bundle_info *info)
{
    size_t i = 0, j = 0;
    while (i < m->nfiles || j < b->nfiles) {
        int c = i == m->nfiles   ? 1
                : j == b->nfiles ? -1
                                 : strcmp(m->files[i].path, b->files[j].path);
        if (c < 0)
            return ct_bundle__refuse(info, CT_BUNDLE_TAMPERED,
                                     "%s: listed in " CT_BUNDLE_MANIFEST
                                     " but missing",
                                     m->files[i].path);
        if (c > 0)
            return ct_bundle__refuse(info, CT_BUNDLE_TAMPERED,
                                     "%.255s: not in " CT_BUNDLE_MANIFEST
                                     " (added)",
                                     b->files[j].path);
        char hex[65];
        sha256_hex(b->files[j].data, b->files[j].len, hex);
        if ((json_int_t)b->files[j].len != m->files[i].size ||
            strcmp(hex, m->files[i].sha256) != 0)
            return ct_bundle__refuse(
                info, CT_BUNDLE_TAMPERED,
                "%s: content differs from " CT_BUNDLE_MANIFEST
                " (SHA-256 %.12s..., %zu bytes; expected %.12s..., %lld "
                "bytes)",
                m->files[i].path, hex, b->files[j].len, m->files[i].sha256,
                (long long)m->files[i].size);
        i++;
        j++;
    }
    return 0;
}

/* plugin.yaml must be there, valid, and agree with the manifest. */
static int check_plugin_yaml(const ct_bundle *b, const manifest *m,
                             ct_bundle_info *info)
{
    size_t len = 0;
    const uint8_t *text = ct_bundle_file(b, "plugin.yaml", &len);
    if (!text)
        return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                 "no plugin.yaml in the bundle");
    ct_diags d = {0};
    ct_manifest *pm = NULL;
    int rc = ct_manifest_parse("plugin.yaml", (const char *)text, len, &pm,
                               &d);
    if (rc == CT_ENOMEM) {
        ct_diags_free(&d);
        return rc;
    }
    if (rc)
        rc = ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                               "plugin.yaml:%u:%u: %s",
                               d.len ? d.items[0].line : 0,
                               d.len ? d.items[0].col : 0,
                               d.len ? d.items[0].message : "invalid");
    else if (strcmp(pm->name, m->name) != 0 ||
             strcmp(pm->version, m->version) != 0 ||
             strcmp(pm->publisher, m->publisher) != 0 || pm->api != m->api)
        rc = ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                               "plugin.yaml (%s %s) does not agree with "
                               CT_BUNDLE_MANIFEST " (%s %s)",
                               pm->name, pm->version, m->name, m->version);
    ct_manifest_free(pm);
    ct_diags_free(&d);
    return rc;
}

typedef struct sigfile {
    json_t *root;
    const char *key_id;
    uint8_t sig[crypto_sign_BYTES];
} sigfile;

static int parse_sig(const ct_bundle *b, sigfile *s, ct_bundle_info *info)
{
    static const char *const keys[] = {"format", "key_id", "signature"};
    const char *bad = NULL;
    json_error_t je;
    memset(s, 0, sizeof *s);
    s->root = json_loadb((const char *)b->sig, b->sig_len,
                         JSON_REJECT_DUPLICATES, &je);
    if (!s->root)
        return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                 CT_BUNDLE_SIGNATURE ":%d:%d: %s", je.line,
                                 je.column, je.text);
    const char *format = json_string_value(json_object_get(s->root, "format"));
    const char *b64 = json_string_value(json_object_get(s->root, "signature"));
    s->key_id = json_string_value(json_object_get(s->root, "key_id"));
    size_t n = 0;
    const char *end = NULL;
    if (!json_is_object(s->root) || !format ||
        strcmp(format, CT_BUNDLE_SIG_FORMAT) != 0 ||
        !only_keys(s->root, keys, CT_ARRAY_LEN(keys), &bad) || !s->key_id ||
        strlen(s->key_id) != CT_KEY_ID_LEN || !b64 ||
        sodium_base642bin(s->sig, sizeof s->sig, b64, strlen(b64), NULL, &n,
                          &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != sizeof s->sig || *end)
        return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                 CT_BUNDLE_SIGNATURE " is not a %s "
                                 "signature {format, key_id, signature}",
                                 CT_BUNDLE_SIG_FORMAT);
    return 0;
}

/* The signed message: the context line, then the manifest bytes. */
static uint8_t *signed_message(const ct_bundle *b, size_t *len)
{
    size_t clen = strlen(CT_BUNDLE_SIG_CONTEXT);
    uint8_t *msg = malloc(clen + b->manifest_len);
    if (!msg)
        return NULL;
    memcpy(msg, CT_BUNDLE_SIG_CONTEXT, clen);
    memcpy(msg + clen, b->manifest, b->manifest_len);
    *len = clen + b->manifest_len;
    return msg;
}

static int check_signature(const ct_bundle *b, const ct_trust *t,
                           int64_t now_ms, ct_bundle_info *info)
{
    sigfile s;
    int rc = parse_sig(b, &s, info);
    if (rc)
        goto done;
    snprintf(info->key_id, sizeof info->key_id, "%s", s.key_id);
    const ct_trust_key *k = ct_trust_find(t, s.key_id);
    if (!k) {
        rc = ct_bundle__refuse(info, CT_BUNDLE_UNKNOWN_KEY,
                               "signed with key %s, which this area does not "
                               "trust (trust.keys)",
                               info->key_id);
        goto done;
    }
    snprintf(info->signer, sizeof info->signer, "%s",
             k->name ? k->name : k->id);
    info->key_expires_ms = k->expires_ms;
    if (now_ms >= k->expires_ms) {
        char when[32];
        ct_clock_format(k->expires_ms, when, sizeof when);
        rc = ct_bundle__refuse(info, CT_BUNDLE_EXPIRED_KEY,
                               "signed with key %s (%s), which expired at %s",
                               k->id, info->signer, when);
        goto done;
    }
    size_t len = 0;
    uint8_t *msg = signed_message(b, &len);
    if (!msg) {
        rc = CT_ENOMEM;
        goto done;
    }
    if (crypto_sign_verify_detached(s.sig, msg, len, k->public_key) != 0)
        rc = ct_bundle__refuse(info, CT_BUNDLE_BAD_SIGNATURE,
                               "the signature by key %s does not match "
                               CT_BUNDLE_MANIFEST " (manifest or signature "
                               "altered)",
                               k->id);
    else
        info->is_signed = true;
    free(msg);
done:
    json_decref(s.root);
    return rc;
}

int ct_bundle_verify(const ct_bundle *b, const ct_trust *t, bool required,
                     int64_t now_ms, ct_bundle_info *info)
{
    memset(info, 0, sizeof *info);
    info->key_expires_ms = INT64_MAX;
    if (sodium_init() < 0)
        return CT_ENOMEM;
    if (!b->manifest) {
        if (required)
            return ct_bundle__refuse(info, CT_BUNDLE_UNSIGNED,
                                     "not a bundle (no "
                                     CT_BUNDLE_MANIFEST "), and this plugin "
                                     "must be signed (require_signed)");
        return 0;
    }
    info->has_manifest = true;
    sha256_hex(b->manifest, b->manifest_len, info->bundle_hash);
    manifest m;
    int rc = parse_manifest(b, &m, info);
    if (rc)
        goto done;
    if (m.api != CT_API_VERSION) {
        rc = ct_bundle__refuse(info, CT_BUNDLE_WRONG_API,
                               "built for plugin API %lld; this host runs "
                               "API %d",
                               (long long)m.api, CT_API_VERSION);
        goto done;
    }
    if (b->sig)
        rc = check_signature(b, t, now_ms, info);
    else if (required)
        rc = ct_bundle__refuse(info, CT_BUNDLE_UNSIGNED,
                               "no " CT_BUNDLE_SIGNATURE ", and "
                               "this plugin must be signed (require_signed)");
    if (!rc)
        rc = check_files(b, &m, info);
    if (!rc)
        rc = check_plugin_yaml(b, &m, info);
done:
    manifest_clear(&m);
    if (rc)
        info->is_signed = false;
    return rc;
}

/* --- packing, signing, bundle files ----------------------------------- */

int ct_bundle_sign(ct_bundle *b, const ct_signkey *k, int64_t now_ms,
                   ct_bundle_info *info)
{
    memset(info, 0, sizeof *info);
    info->key_expires_ms = INT64_MAX;
    if (sodium_init() < 0)
        return CT_ENOMEM;
    if (!b->manifest)
        return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                 "nothing to sign: no " CT_BUNDLE_MANIFEST
                                 " (pack the plugin first)");
    if (now_ms >= k->expires_ms)
        return ct_bundle__refuse(info, CT_BUNDLE_EXPIRED_KEY,
                                 "key %s (%s) has expired", k->id, k->name);
    info->has_manifest = true;
    sha256_hex(b->manifest, b->manifest_len, info->bundle_hash);
    manifest m;
    int rc = parse_manifest(b, &m, info);
    if (!rc)
        rc = check_files(b, &m, info);
    manifest_clear(&m);
    if (rc)
        return rc;
    size_t len = 0;
    uint8_t *msg = signed_message(b, &len);
    if (!msg)
        return CT_ENOMEM;
    uint8_t sig[crypto_sign_BYTES];
    ct_signkey_sign(k, msg, len, sig);
    free(msg);
    char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES,
                                       sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig,
                      sodium_base64_VARIANT_ORIGINAL);
    json_t *root = json_pack("{s:s, s:s, s:s}", "format",
                             CT_BUNDLE_SIG_FORMAT, "key_id", k->id,
                             "signature", b64);
    if (!root)
        return CT_ENOMEM;
    uint8_t *text = NULL;
    size_t tlen = 0;
    rc = canonical(root, &text, &tlen);
    json_decref(root);
    if (rc)
        return rc;
    free(b->sig);
    b->sig = text;
    b->sig_len = tlen;
    info->is_signed = true;
    snprintf(info->key_id, sizeof info->key_id, "%s", k->id);
    snprintf(info->signer, sizeof info->signer, "%s", k->name);
    info->key_expires_ms = k->expires_ms;
    return 0;
}

int ct_bundle__archive(const ct_bundle *b, ct_buf *out)
{
    int rc = ct_tar_add(out, CT_BUNDLE_MANIFEST, '0', 0644, b->manifest,
                        b->manifest_len);
    if (!rc && b->sig)
        rc = ct_tar_add(out, CT_BUNDLE_SIGNATURE, '0', 0644, b->sig,
                        b->sig_len);
    for (size_t i = 0; !rc && i < b->nfiles; i++)
        rc = ct_tar_add(out, b->files[i].path, '0', 0644, b->files[i].data,
                        b->files[i].len);
    if (!rc)
        rc = ct_tar_finish(out);
    return rc;
}

int ct_bundle_write(const ct_bundle *b, const char *path)
{
    if (!b->manifest)
        return CT_EINVAL;
    ct_buf out = {0};
    int rc = ct_bundle__archive(b, &out);
    if (rc) {
        ct_buf_free(&out);
        return rc;
    }
    rc = ct_write_file(path, out.data, out.len, 0644, false);
    ct_buf_free(&out);
    return rc;
}

int ct_bundle_read(const char *path, ct_bundle **out, ct_bundle_info *info)
{
    memset(info, 0, sizeof *info);
    info->key_expires_ms = INT64_MAX;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        ct_bundle__refuse(info, CT_BUNDLE_IO, "%s", strerror(e));
        return e == ENOENT ? CT_ENOTFOUND : CT_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return ct_bundle__refuse(info, CT_BUNDLE_IO, "not a file");
    }
    if ((uint64_t)st.st_size > MAX_ARCHIVE_BYTES) {
        close(fd);
        return ct_bundle__refuse(info, CT_BUNDLE_TOO_BIG,
                                 "larger than any bundle may be");
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return CT_ENOMEM;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (got != len) {
        free(buf);
        return ct_bundle__refuse(info, CT_BUNDLE_IO, "short read");
    }
    int rc = ct_bundle_read_mem(buf, len, out, info);
    free(buf);
    return rc;
}

int ct_bundle_read_mem(const uint8_t *buf, size_t len, ct_bundle **out,
                       ct_bundle_info *info)
{
    memset(info, 0, sizeof *info);
    info->key_expires_ms = INT64_MAX;
    *out = NULL;
    if ((uint64_t)len > MAX_ARCHIVE_BYTES)
        return ct_bundle__refuse(info, CT_BUNDLE_TOO_BIG,
                                 "larger than any bundle may be");
    ct_bundle *b = calloc(1, sizeof *b);
    if (!b)
        return CT_ENOMEM;
    int rc = 0;
    size_t pos = 0;
    char why[320];
    ct_tar_entry e;
    while (!rc) {
        int r = ct_tar_next(buf, len, &pos, &e, why, sizeof why);
        if (r == 0)
            break;
        if (r < 0) {
            rc = ct_bundle__refuse(info, CT_BUNDLE_MALFORMED, "%s", why);
            break;
        }
        bool is_dir = e.type == '5';
        size_t nlen = strlen(e.name);
        if (is_dir && nlen > 1 && e.name[nlen - 1] == '/')
            e.name[nlen - 1] = '\0';
        if (!is_dir && e.type != '0' && e.type != '\0') {
            rc = ct_bundle__refuse(info, CT_BUNDLE_UNSAFE,
                                   "entry '%.255s' is a %s; bundles hold only "
                                   "files",
                                   e.name, ct_tar_type_name(e.type));
            break;
        }
        if (!ct_bundle__safe_path(e.name, why, sizeof why)) {
            rc = ct_bundle__refuse(info, CT_BUNDLE_UNSAFE, "%s", why);
            break;
        }
        if (is_dir)
            continue;
        uint8_t **slot = NULL;
        size_t *slot_len = NULL;
        if (strcmp(e.name, CT_BUNDLE_MANIFEST) == 0) {
            slot = &b->manifest;
            slot_len = &b->manifest_len;
        } else if (strcmp(e.name, CT_BUNDLE_SIGNATURE) == 0) {
            slot = &b->sig;
            slot_len = &b->sig_len;
        }
        if (slot && (*slot || e.size > CT_BUNDLE_MAX_FILE_BYTES)) {
            rc = ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                   "'%s' appears twice or is too large",
                                   e.name);
            break;
        }
        if (e.size > CT_BUNDLE_MAX_FILE_BYTES) {
            rc = ct_bundle__refuse(info, CT_BUNDLE_TOO_BIG,
                                   "'%s' is larger than %u MiB", e.name,
                                   CT_BUNDLE_MAX_FILE_BYTES >> 20);
            break;
        }
        uint8_t *data = malloc(e.size ? e.size : 1);
        if (!data) {
            rc = CT_ENOMEM;
            break;
        }
        memcpy(data, e.data, e.size);
        if (slot) {
            *slot = data;
            *slot_len = e.size;
        } else {
            rc = ct_bundle__add(b, e.name, data, e.size, info);
        }
    }
    if (!rc && !b->manifest)
        rc = ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                               "not a caretide bundle (no "
                               CT_BUNDLE_MANIFEST ")");
    if (!rc)
        rc = ct_bundle__finish(b, info);
    return ct_bundle__hand_over(b, rc, out);
}
