/*
 * The token store (token.h): a JSON file of hashed credentials.
 *
 *   {"caretide_tokens": 1, "next_id": 4, "tokens": [
 *     {"id": 3, "kind": "user", "name": "jsmith", "display_name": "Jane
 *      Smith", "org": "demo-acute", "role": "hospital", "sha256": "<hex>",
 *      "created_at": MS, "created_by": "cli:root", "expires_at": MS|null,
 *      "rotated_at": MS|null, "rotated_by": ..., "revoked_at": MS|null,
 *      "revoked_by": ...}]}
 */
#include "token.h"

#include "error.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT_VERSION 1

struct ct_tokens {
    ct_token *items; /* in id order */
    size_t n, cap;
    int64_t next_id;
};

static int fail(char *why, size_t n, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t n, int rc, const char *fmt, ...)
{
    if (why && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

char *ct_tokens_path(const char *db_path)
{
    size_t len = strlen(db_path);
    char *p = malloc(len + sizeof ".tokens");
    if (p) {
        memcpy(p, db_path, len);
        memcpy(p + len, ".tokens", sizeof ".tokens");
    }
    return p;
}

const char *ct_token_kind_name(ct_token_kind k)
{
    switch (k) {
    case CT_TOKEN_USER: return "user";
    case CT_TOKEN_CLIENT: return "client";
    case CT_TOKEN_DISPLAY: return "display";
    }
    return "user";
}

int ct_token_kind_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "user") == 0)
        return CT_TOKEN_USER;
    if (strcmp(s, "client") == 0)
        return CT_TOKEN_CLIENT;
    if (strcmp(s, "display") == 0)
        return CT_TOKEN_DISPLAY;
    return -1;
}

void ct_token_actor(const ct_token *tok, char *out, size_t n)
{
    if (tok->kind == CT_TOKEN_DISPLAY)
        snprintf(out, n, "display:%s", tok->name);
    else
        snprintf(out, n, "%s:%s@%s/%s", ct_token_kind_name(tok->kind),
                 tok->name, tok->org, ct_role_name(tok->role));
}

/* Ids: 1 to 64 letters, digits, '-', '_' or '.', as in the config. */
static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= CT_TOKEN_NAME_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789-_.") == n;
}

/* Free text (a person's name, an actor): UTF-8 without control
 * characters, at most CT_TOKEN_TEXT_MAX bytes. */
static bool text_ok(const char *s, bool may_be_empty)
{
    size_t n = s ? strlen(s) : 0;
    if ((n == 0 && !may_be_empty) || n > CT_TOKEN_TEXT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    json_t *probe = n ? json_stringn(s, n) : NULL; /* checks UTF-8 */
    bool ok = n == 0 || probe != NULL;
    json_decref(probe);
    return ok;
}

static bool live(const ct_token *t)
{
    return t->revoked_at == 0;
}

/* ---- the collection ------------------------------------------------- */

static int push(ct_tokens *t, const ct_token *tok)
{
    if (ct_grow(&t->items, &t->cap, t->n, sizeof *t->items, 8))
        return CT_ENOMEM;
    t->items[t->n++] = *tok;
    if (tok->id >= t->next_id)
        t->next_id = tok->id + 1;
    return 0;
}

void ct_tokens_free(ct_tokens *t)
{
    if (!t)
        return;
    if (t->items)
        sodium_memzero(t->items, t->cap * sizeof *t->items);
    free(t->items);
    free(t);
}

size_t ct_tokens_count(const ct_tokens *t)
{
    return t ? t->n : 0;
}

const ct_token *ct_tokens_at(const ct_tokens *t, size_t i)
{
    return t && i < t->n ? &t->items[i] : NULL;
}

const ct_token *ct_tokens_find(const ct_tokens *t, int64_t id)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (t->items[i].id == id)
            return &t->items[i];
    return NULL;
}

const ct_token *ct_tokens_find_name(const ct_tokens *t, ct_token_kind kind,
                                    const char *name)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (t->items[i].kind == kind && live(&t->items[i]) &&
            strcmp(t->items[i].name, name) == 0)
            return &t->items[i];
    return NULL;
}

ct_token_match ct_tokens_match(const ct_tokens *t, const uint8_t h[32],
                               int64_t now, const ct_token **out)
{
    if (out)
        *out = NULL;
    if (!t)
        return CT_TOKEN_NONE;
    /* As ct_auth_bearer: every entry compared, the match picked by mask,
     * so the time does not depend on which entry matched. */
    size_t found = 0;
    unsigned matched = 0;
    for (size_t i = 0; i < t->n; i++) {
        unsigned eq = (unsigned)(sodium_memcmp(h, t->items[i].sha256, 32) ==
                                 0) &
                      (unsigned)live(&t->items[i]);
        size_t mask = (size_t)0 - (size_t)eq;
        found = (found & ~mask) | (i & mask);
        matched |= eq;
    }
    if (!matched)
        return CT_TOKEN_NONE;
    const ct_token *tok = &t->items[found];
    if (out)
        *out = tok;
    return now >= tok->expires_at ? CT_TOKEN_EXPIRED : CT_TOKEN_VALID;
}

static int check_entry(const ct_token *tok, char *why, size_t n)
{
    if (!name_ok(tok->name))
        return fail(why, n, CT_EINVAL,
                    "a %s name is 1 to %d letters, digits, '-', '_' or '.'",
                    ct_token_kind_name(tok->kind), CT_TOKEN_NAME_MAX);
    if (!text_ok(tok->display_name, tok->kind != CT_TOKEN_USER))
        return fail(why, n, CT_EINVAL,
                    "%s: a user's display name is 1 to %d characters of "
                    "text",
                    tok->name, CT_TOKEN_TEXT_MAX);
    if (tok->kind != CT_TOKEN_DISPLAY && !name_ok(tok->org))
        return fail(why, n, CT_EINVAL, "%s: the organisation is missing or "
                    "not an id", tok->name);
    return 0;
}

static int check_actor(const char *actor, char *why, size_t n)
{
    return text_ok(actor, false)
               ? 0
               : fail(why, n, CT_EINVAL, "the actor is 1 to %d characters",
                      CT_TOKEN_TEXT_MAX);
}

static void new_secret(char secret[CT_TOKEN_SECRET_LEN + 1], uint8_t h[32])
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(secret, CT_TOKEN_SECRET_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    crypto_hash_sha256(h, (const unsigned char *)secret,
                       CT_TOKEN_SECRET_LEN);
}

int ct_tokens_add(ct_tokens *t, const ct_token *proto, int64_t now,
                  const char *actor, char secret[CT_TOKEN_SECRET_LEN + 1],
                  int64_t *id, char *why, size_t n)
{
    secret[0] = '\0';
    int rc;
    if ((rc = check_entry(proto, why, n)) || (rc = check_actor(actor, why, n)))
        return rc;
    if (ct_tokens_find_name(t, proto->kind, proto->name))
        return fail(why, n, CT_EEXISTS,
                    "%s '%s' already has a valid token; revoke or rotate it",
                    ct_token_kind_name(proto->kind), proto->name);
    if (sodium_init() < 0)
        return fail(why, n, CT_EINVAL, "libsodium did not start");
    ct_token tok = *proto;
    tok.id = t->next_id > 0 ? t->next_id : 1;
    if (tok.kind == CT_TOKEN_DISPLAY) {
        tok.org[0] = '\0';
        tok.role = CT_ROLE_VIEWER;
    }
    tok.created_at = now;
    ct_copy_str(tok.created_by, sizeof tok.created_by, actor);
    tok.rotated_at = tok.revoked_at = 0;
    tok.rotated_by[0] = tok.revoked_by[0] = '\0';
    if (tok.expires_at <= 0)
        tok.expires_at = CT_TOKEN_NEVER;
    new_secret(secret, tok.sha256);
    if ((rc = push(t, &tok))) {
        sodium_memzero(secret, CT_TOKEN_SECRET_LEN + 1);
        return fail(why, n, rc, "out of memory");
    }
    sodium_memzero(&tok, sizeof tok);
    if (id)
        *id = t->items[t->n - 1].id;
    return 0;
}

static ct_token *find_mut(ct_tokens *t, int64_t id)
{
    return (ct_token *)ct_tokens_find(t, id);
}

/* The live entry id names, for a change by actor (revoke, rotate):
 * 0 with *out, or the error in why, whose end if_revoked words for that
 * change. */
static int live_entry(ct_tokens *t, int64_t id, const char *actor,
                      const char *if_revoked, ct_token **out, char *why,
                      size_t n)
{
    int rc = check_actor(actor, why, n);
    if (rc)
        return rc;
    ct_token *tok = find_mut(t, id);
    if (!tok)
        return fail(why, n, CT_ENOTFOUND, "no token has id %lld",
                    (long long)id);
    if (!live(tok))
        return fail(why, n, CT_ESTATE, "token %lld is %s", (long long)id,
                    if_revoked);
    *out = tok;
    return 0;
}

int ct_tokens_revoke(ct_tokens *t, int64_t id, int64_t now,
                     const char *actor, char *why, size_t n)
{
    ct_token *tok;
    int rc = live_entry(t, id, actor, "already revoked", &tok, why, n);
    if (rc)
        return rc;
    tok->revoked_at = now;
    ct_copy_str(tok->revoked_by, sizeof tok->revoked_by, actor);
    return 0;
}

int ct_tokens_rotate(ct_tokens *t, int64_t id, int64_t now,
                     const char *actor, int64_t expires_at,
                     char secret[CT_TOKEN_SECRET_LEN + 1], char *why,
                     size_t n)
{
    secret[0] = '\0';
    ct_token *tok;
    int rc = live_entry(t, id, actor, "revoked; add a new one instead", &tok,
                        why, n);
    if (rc)
        return rc;
    if (sodium_init() < 0)
        return fail(why, n, CT_EINVAL, "libsodium did not start");
    new_secret(secret, tok->sha256);
    tok->rotated_at = now;
    ct_copy_str(tok->rotated_by, sizeof tok->rotated_by, actor);
    if (expires_at > 0)
        tok->expires_at = expires_at;
    return 0;
}

int ct_tokens_import(ct_tokens *t, const ct_token *tok, char *why, size_t n)
{
    int rc = check_entry(tok, why, n);
    if (rc)
        return rc;
    ct_token copy = *tok;
    copy.id = t->next_id > 0 ? t->next_id : 1;
    return push(t, &copy) ? fail(why, n, CT_ENOMEM, "out of memory") : 0;
}

/* ---- JSON ------------------------------------------------------------ */

static json_t *time_or_null(int64_t ms)
{
    return ms == 0 || ms == CT_TOKEN_NEVER ? json_null()
                                           : json_integer((json_int_t)ms);
}

static json_t *text_or_null(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

json_t *ct_token_json(const ct_token *tok, int64_t now)
{
    const char *state = !live(tok)                 ? "revoked"
                        : now >= tok->expires_at ? "expired"
                                                 : "valid";
    bool person = tok->kind != CT_TOKEN_DISPLAY;
    return json_pack(
        "{s:I, s:s, s:s, s:o, s:o, s:o, s:I, s:s, s:o, s:o, s:o, s:o, s:o, "
        "s:s}",
        "id", (json_int_t)tok->id, "kind", ct_token_kind_name(tok->kind),
        "name", tok->name, "display_name", text_or_null(tok->display_name),
        "org", person ? json_string(tok->org) : json_null(), "role",
        person ? json_string(ct_role_name(tok->role)) : json_null(),
        "created_at", (json_int_t)tok->created_at, "created_by",
        tok->created_by, "expires_at", time_or_null(tok->expires_at),
        "rotated_at", time_or_null(tok->rotated_at), "rotated_by",
        text_or_null(tok->rotated_by), "revoked_at",
        time_or_null(tok->revoked_at), "revoked_by",
        text_or_null(tok->revoked_by), "state", state);
}

static json_t *entry_json(const ct_token *tok)
{
    json_t *o = ct_token_json(tok, 0);
    char hex[65];
    ct_hex_encode(tok->sha256, 32, hex);
    if (o) {
        json_object_del(o, "state");
        json_object_set_new(o, "sha256", json_string(hex));
    }
    return o;
}

static int get_text(json_t *o, const char *key, char *out, size_t size,
                    bool required)
{
    json_t *v = json_object_get(o, key);
    out[0] = '\0';
    if (!v || json_is_null(v))
        return required ? -1 : 0;
    const char *s = json_string_value(v);
    if (!s || strlen(s) >= size)
        return -1;
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

static int get_time(json_t *o, const char *key, int64_t *out, int64_t none)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = none;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return -1;
    *out = json_integer_value(v);
    return 0;
}

static int parse_entry(json_t *o, ct_token *tok, char *why, size_t n,
                       size_t index)
{
    memset(tok, 0, sizeof *tok);
    char kind[16], role[16] = "", hex[80];
    json_t *id = json_object_get(o, "id");
    int k;
    if (!json_is_object(o) || !json_is_integer(id) ||
        json_integer_value(id) < 1 ||
        get_text(o, "kind", kind, sizeof kind, true) ||
        (k = ct_token_kind_parse(kind)) < 0 ||
        get_text(o, "name", tok->name, sizeof tok->name, true) ||
        get_text(o, "display_name", tok->display_name,
                 sizeof tok->display_name, false) ||
        get_text(o, "org", tok->org, sizeof tok->org, false) ||
        get_text(o, "role", role, sizeof role, false) ||
        get_text(o, "sha256", hex, sizeof hex, true) ||
        strlen(hex) != 64 || ct_hex_decode(hex, tok->sha256, 32) ||
        get_time(o, "created_at", &tok->created_at, 0) ||
        get_text(o, "created_by", tok->created_by, sizeof tok->created_by,
                 true) ||
        get_time(o, "expires_at", &tok->expires_at, CT_TOKEN_NEVER) ||
        get_time(o, "rotated_at", &tok->rotated_at, 0) ||
        get_text(o, "rotated_by", tok->rotated_by, sizeof tok->rotated_by,
                 false) ||
        get_time(o, "revoked_at", &tok->revoked_at, 0) ||
        get_text(o, "revoked_by", tok->revoked_by, sizeof tok->revoked_by,
                 false))
        return fail(why, n, CT_ECONFIG, "entry %zu is malformed", index + 1);
    tok->id = json_integer_value(id);
    tok->kind = (ct_token_kind)k;
    if (tok->kind == CT_TOKEN_DISPLAY) {
        tok->role = CT_ROLE_VIEWER;
    } else {
        int r = ct_role_parse(role);
        if (r < 0)
            return fail(why, n, CT_ECONFIG, "entry %zu: unknown role '%s'",
                        index + 1, role);
        tok->role = (ct_role)r;
    }
    char sub[200];
    if (check_entry(tok, sub, sizeof sub))
        return fail(why, n, CT_ECONFIG, "entry %zu: %s", index + 1, sub);
    return 0;
}

/* Two entries with one id or one hash, or two valid ones of one kind and
 * name, would make a lookup ambiguous. */
static int check_unique(const ct_tokens *t, char *why, size_t n)
{
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = 0; j < i; j++) {
            const ct_token *a = &t->items[i], *b = &t->items[j];
            if (a->id == b->id)
                return fail(why, n, CT_ECONFIG, "two entries have id %lld",
                            (long long)a->id);
            if (sodium_memcmp(a->sha256, b->sha256, 32) == 0)
                return fail(why, n, CT_ECONFIG,
                            "entries %lld and %lld have the same secret",
                            (long long)b->id, (long long)a->id);
            if (a->kind == b->kind && live(a) && live(b) &&
                strcmp(a->name, b->name) == 0)
                return fail(why, n, CT_ECONFIG,
                            "entries %lld and %lld are both valid for %s "
                            "'%s'",
                            (long long)b->id, (long long)a->id,
                            ct_token_kind_name(a->kind), a->name);
        }
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    const ct_token *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

int ct_tokens_load(const char *path, ct_tokens **out, char *why, size_t n)
{
    *out = NULL;
    ct_tokens *t = calloc(1, sizeof *t);
    if (!t)
        return fail(why, n, CT_ENOMEM, "out of memory");
    t->next_id = 1;
    char *text = NULL;
    size_t len = 0;
    int rc = ct_read_file(path, &text, &len);
    if (rc == CT_ENOTFOUND) {
        *out = t;
        return 0;
    }
    if (rc) {
        ct_tokens_free(t);
        return fail(why, n, CT_EIO, "cannot read %s: %s", path,
                    strerror(errno));
    }
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    sodium_memzero(text, len);
    free(text);
    json_t *list = json_object_get(doc, "tokens");
    json_t *version = json_object_get(doc, "caretide_tokens");
    if (!doc) {
        rc = fail(why, n, CT_ECONFIG, "%s:%d:%d: %s", path, jerr.line,
                  jerr.column, jerr.text);
        goto done;
    }
    if (!json_is_integer(version) ||
        json_integer_value(version) != FORMAT_VERSION ||
        !json_is_array(list)) {
        rc = fail(why, n, CT_ECONFIG,
                  "%s: not a caretide token store (version %d)", path,
                  FORMAT_VERSION);
        goto done;
    }
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) {
        ct_token tok;
        char sub[200];
        if ((rc = parse_entry(o, &tok, sub, sizeof sub, i))) {
            fail(why, n, rc, "%s: %s", path, sub);
            goto done;
        }
        if ((rc = push(t, &tok))) {
            fail(why, n, rc, "out of memory");
            goto done;
        }
    }
    json_t *next = json_object_get(doc, "next_id");
    if (json_is_integer(next) && json_integer_value(next) > t->next_id)
        t->next_id = json_integer_value(next);
    if (t->n)
        qsort(t->items, t->n, sizeof *t->items, cmp_id);
    char sub[200];
    if ((rc = check_unique(t, sub, sizeof sub)))
        fail(why, n, rc, "%s: %s", path, sub);
done:
    json_decref(doc);
    if (rc) {
        ct_tokens_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ---- saving and locking -------------------------------------------- */

static int save(const char *path, const ct_tokens *t, char *why, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < t->n; i++)
        if (json_array_append_new(list, entry_json(&t->items[i]))) {
            json_decref(list);
            list = NULL;
        }
    json_t *doc = list ? json_pack("{s:i, s:I, s:o}", "caretide_tokens",
                                   FORMAT_VERSION, "next_id",
                                   (json_int_t)t->next_id, "tokens", list)
                       : NULL;
    char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS)
                     : NULL;
    json_decref(doc);
    if (!text)
        return fail(why, n, CT_ENOMEM, "out of memory");
    size_t len = strlen(text);
    char *tmp = malloc(strlen(path) + 8);
    if (!tmp) {
        free(text);
        return fail(why, n, CT_ENOMEM, "out of memory");
    }
    sprintf(tmp, "%s.new", path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = fail(why, n, CT_EIO, "cannot write %s: %s", tmp,
                  strerror(errno));
        goto done;
    }
    /* Run as root for a daemon running as its own user: the file keeps
     * the owner it had (or its directory's), or the daemon could not
     * read it any more. */
    struct stat sb;
    char *dircopy = ct_strdup(path);
    if (geteuid() == 0 &&
        (stat(path, &sb) == 0 || (dircopy && stat(dirname(dircopy), &sb) == 0)))
        (void)!fchown(fd, sb.st_uid, sb.st_gid);
    free(dircopy);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (off < len || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        rc = fail(why, n, CT_EIO, "cannot write %s: %s", tmp,
                  strerror(errno));
        close(fd);
        unlink(tmp);
        goto done;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        rc = fail(why, n, CT_EIO, "cannot replace %s: %s", path,
                  strerror(errno));
        unlink(tmp);
        goto done;
    }
    /* The rename itself made durable. */
    char *d = ct_strdup(path);
    int dfd = d ? open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(d);
done:
    sodium_memzero(text, len);
    free(text);
    free(tmp);
    return rc;
}

int ct_tokens_edit_begin(const char *path, int *lock, ct_tokens **out,
                         char *why, size_t n)
{
    *out = NULL;
    *lock = -1;
    char *lp = malloc(strlen(path) + 8);
    if (!lp)
        return fail(why, n, CT_ENOMEM, "out of memory");
    sprintf(lp, "%s.lock", path);
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int rc = fail(why, n, CT_EIO, "cannot open %s: %s", lp,
                      strerror(errno));
        free(lp);
        return rc;
    }
    free(lp);
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return fail(why, n, CT_EIO, "cannot lock %s.lock: %s", path,
                        strerror(errno));
        }
    }
    int rc = ct_tokens_load(path, out, why, n);
    if (rc) {
        close(fd);
        return rc;
    }
    *lock = fd;
    return 0;
}

int ct_tokens_edit_end(const char *path, int lock, ct_tokens *t, bool save_it,
                       char *why, size_t n)
{
    int rc = save_it ? save(path, t, why, n) : 0;
    if (lock >= 0)
        close(lock); /* releases the flock */
    return rc;
}
