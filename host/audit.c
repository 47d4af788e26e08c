/*
 * The audit log: append inside the caller's transaction, verify the hash
 * chain, keep the head file. See audit.h for the canonical form.
 */
#include "audit.h"

#include "error.h"
#include "json_canon.h"
#include "log.h"
#include "sha256.h"
#include "store_int.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HASH_LEN crypto_hash_sha256_BYTES
#define HEAD_SUFFIX ".audit-head"

static const uint8_t zero_hash[HASH_LEN];

static int sodium_ready(void)
{
    static int ready;
    if (!ready) {
        if (sodium_init() < 0)
            return CT_ENOMEM;
        ready = 1;
    }
    return 0;
}

/* ---- canonical bytes ----------------------------------------------- */

/*
 * The canonical bytes, assembled from their parts: json_dumps of the whole
 * object with JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII, keys in
 * sorted order, no spaces. payload is
 * canonical text already (what the event row stores); NULL writes
 * payload_value's (or the members') canonical text in its place, and
 * *payload_at tells
 * where it starts (its length is *payload_len), so the row can store that
 * slice. Strings and numbers are written by json_canon.c, which matches
 * jansson byte for byte.
 */
static int canonical(ct_buf *b, int64_t seq, int64_t at, const char *actor,
                     size_t actor_len, const char *kind, size_t kind_len,
                     const char *payload, size_t payload_len,
                     const json_t *payload_value, ct_json_member *members,
                     size_t nmembers, size_t *payload_at,
                     size_t *payload_text_len)
{
    int rc;
    b->len = 0;
    if ((rc = ct_buf_append(b, "{\"actor\":", 9)) ||
        (rc = ct_json_canon_string(b, actor, actor_len)) ||
        (rc = ct_buf_append(b, ",\"at\":", 6)) ||
        (rc = ct_json_canon_int(b, at)) ||
        (rc = ct_buf_append(b, ",\"kind\":", 8)) ||
        (rc = ct_json_canon_string(b, kind, kind_len)) ||
        (rc = ct_buf_append(b, ",\"payload\":", 11)))
        return rc;
    size_t start = b->len;
    if (payload)
        rc = ct_buf_append(b, payload, payload_len);
    else if (payload_value)
        rc = ct_json_canon(b, payload_value);
    else if (members)
        rc = ct_json_canon_members(b, members, nmembers);
    else
        rc = ct_buf_append(b, "{}", 2);
    if (rc)
        return rc;
    if (payload_at) {
        *payload_at = start;
        *payload_text_len = b->len - start;
    }
    if ((rc = ct_buf_append(b, ",\"seq\":", 7)) ||
        (rc = ct_json_canon_int(b, seq)) || (rc = ct_buf_append(b, "}", 1)))
        return rc;
    return 0;
}

/* SHA-256(prev || canonical bytes), Nettle's (sha256.h). */
static void chain_hash(const uint8_t prev[HASH_LEN], const ct_buf *canon,
                       uint8_t out[HASH_LEN])
{
    ct_sha256_pair(prev, HASH_LEN, canon->data, canon->len, out);
}

/* ---- append -------------------------------------------------------- */

/* Column i of the row as a hash; CT_ECORRUPT when it is not one. */
static int hash_col(sqlite3_stmt *st, int i, uint8_t hash[HASH_LEN])
{
    const void *h = sqlite3_column_blob(st, i);
    if (sqlite3_column_bytes(st, i) != HASH_LEN || !h)
        return CT_ECORRUPT;
    memcpy(hash, h, HASH_LEN);
    return 0;
}

/* Reads chain_head; seq 0 and the zero hash when there is none. *last_at
 * (may be NULL) gets the head event's time, INT64_MIN when none. */
static int read_head_at(ct_store *s, int64_t *seq, uint8_t hash[HASH_LEN],
                        int64_t *last_at)
{
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_AUDIT_HEAD);
    if (!st)
        return CT_ESTORE;
    int rc = sqlite3_step(st);
    if (last_at)
        *last_at = INT64_MIN;
    if (rc == SQLITE_DONE) {
        *seq = 0;
        memcpy(hash, zero_hash, HASH_LEN);
        rc = 0;
    } else if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        if (last_at && sqlite3_column_type(st, 2) == SQLITE_INTEGER)
            *last_at = sqlite3_column_int64(st, 2);
        rc = hash_col(st, 1, hash);
    } else {
        rc = ct_err_from_sqlite(rc);
    }
    /* Release the read snapshot now, not when the statement is reused. */
    sqlite3_reset(st);
    return rc;
}

static int read_head(ct_store *s, int64_t *seq, uint8_t hash[HASH_LEN])
{
    return read_head_at(s, seq, hash, NULL);
}

/*
 * The newest event time already reported as a clock step back, so that
 * the events clamped to it until the clock catches up say it once. Per
 * process: a restart during a step reports it once more.
 */
static int64_t step_reported;

/* Audit times never go backwards: an event's time is at least its
 * predecessor's. A clock stepped back (by hand, a bad NTP source, a VM
 * restored) would otherwise make the log lie about order. The daemon
 * notices the step itself and audits it (daemon_guard.c); here it is
 * logged once. */
static int monotonic_at(ct_store *s, int64_t *at, int64_t last_at,
                        int64_t head);

/* The payload is text (canonical already, text_len bytes), or payload
 * (an object), or the n members, or {}. */
static int append(ct_store *s, int64_t at, const char *actor,
                  const char *kind, const char *text, size_t text_len,
                  const json_t *payload, ct_json_member *members,
                  size_t nmembers, int64_t *seq)
{
    if (!ct_store_in_transaction(s))
        return CT_ESTATE;
    int rc = sodium_ready();
    if (rc)
        return rc;

    int64_t head, last_at;
    uint8_t prev[HASH_LEN], hash[HASH_LEN];
    if ((rc = read_head_at(s, &head, prev, &last_at)))
        return rc;
    if (head == INT64_MAX)
        return CT_ELIMIT;
    if (at < last_at && (rc = monotonic_at(s, &at, last_at, head)))
        return rc;
    /* One buffer: the canonical bytes, whose payload slice is the text the
     * row stores. A payload with text that is not UTF-8 is CT_EINVAL. */
    ct_buf canon = {0};
    size_t pat = 0, plen = 0;
    if ((rc = ct_buf_reserve(&canon, 256)) ||
        (rc = canonical(&canon, head + 1, at, actor, strlen(actor), kind,
                        strlen(kind), text, text_len, payload, members,
                        nmembers, &pat, &plen)))
        goto fail_canon;
    if (plen > INT_MAX / 2) {
        rc = CT_ELIMIT;
        goto fail_canon;
    }
    chain_hash(prev, &canon, hash);

    sqlite3_stmt *ins = ct_store__stmt(s, CT_STMT_AUDIT_INSERT);
    if (!ins) {
        rc = CT_ESTORE;
        goto fail_canon;
    }
    sqlite3_bind_int64(ins, 1, head + 1);
    sqlite3_bind_int64(ins, 2, at);
    sqlite3_bind_text(ins, 3, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 4, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 5, canon.data + pat, (int)plen, SQLITE_STATIC);
    sqlite3_bind_blob(ins, 6, prev, HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(ins, 7, hash, HASH_LEN, SQLITE_STATIC);
    if ((rc = ct_store__step_done(s, ins)))
        goto fail_canon;

    /* The head row exists from the first event on: a plain UPDATE is
     * cheaper than the upsert, which is kept for the first. */
    sqlite3_stmt *up = ct_store__stmt(
        s, head > 0 ? CT_STMT_AUDIT_UPDATE_HEAD : CT_STMT_AUDIT_SET_HEAD);
    if (!up) {
        rc = CT_ESTORE;
        goto fail_canon;
    }
    sqlite3_bind_int64(up, 1, head + 1);
    sqlite3_bind_blob(up, 2, hash, HASH_LEN, SQLITE_STATIC);
    if ((rc = ct_store__step_done(s, up)))
        goto fail_canon;
    if (sqlite3_changes(ct_store__db(s)) != 1) {
        rc = CT_ECORRUPT; /* read a moment ago in this transaction */
        goto fail_canon;
    }
    if (seq)
        *seq = head + 1;

fail_canon:
    ct_buf_free(&canon);
    return rc;
}

static int monotonic_at(ct_store *s, int64_t *at, int64_t last_at,
                        int64_t head)
{
    (void)s;
    int64_t behind = last_at - *at;
    *at = last_at;
    if (last_at <= step_reported)
        return 0;
    step_reported = last_at;
    ct_log_warn("audit", "the clock is %" PRId64 " ms behind audit event "
                "%" PRId64 ": it was stepped back; events keep that event's "
                "time until the clock catches up",
                behind, head);
    return 0;
}

/* Borrows payload; everything else is copied into the database. */
int ct_audit_append(ct_store *s, int64_t at, const char *actor,
                    const char *kind, const json_t *payload, int64_t *seq)
{
    if (!actor || !*actor || !kind || !*kind ||
        (payload && !json_is_object(payload)))
        return CT_EINVAL;
    return append(s, at, actor, kind, NULL, 0, payload, NULL, 0, seq);
}

/* Borrows members (reordered by key). */
int ct_audit_append_members(ct_store *s, int64_t at, const char *actor,
                            const char *kind, ct_json_member *members,
                            size_t n, int64_t *seq)
{
    if (!actor || !*actor || !kind || !*kind || (n && !members))
        return CT_EINVAL;
    return append(s, at, actor, kind, NULL, 0, NULL, members, n, seq);
}

/* Borrows text. */
int ct_audit_append_text(ct_store *s, int64_t at, const char *actor,
                         const char *kind, const char *text, size_t len,
                         int64_t *seq)
{
    if (!actor || !*actor || !kind || !*kind || !text || len < 2 ||
        text[0] != '{' || text[len - 1] != '}')
        return CT_EINVAL;
    return append(s, at, actor, kind, text, len, NULL, NULL, 0, seq);
}

int64_t ct_audit_head(ct_store *s)
{
    int64_t seq = 0;
    uint8_t hash[HASH_LEN];
    int rc = read_head(s, &seq, hash);
    return rc ? rc : seq;
}

int ct_audit_head_at(ct_store *s, int64_t *seq, int64_t *at)
{
    uint8_t hash[HASH_LEN];
    return read_head_at(s, seq, hash, at);
}

/* ---- head file ----------------------------------------------------- */

/* "<db path>.audit-head" into a new string; NULL for an in-memory or
 * temporary database (*rc 0) or when out of memory (*rc CT_ENOMEM). */
static char *head_path_of(const char *db, int *rc)
{
    *rc = 0;
    if (!db || !*db)
        return NULL;
    size_t n = strlen(db) + sizeof HEAD_SUFFIX;
    char *p = malloc(n);
    if (!p) {
        *rc = CT_ENOMEM;
        return NULL;
    }
    snprintf(p, n, "%s%s", db, HEAD_SUFFIX);
    return p;
}

static char *head_path(ct_store *s, int *rc)
{
    return head_path_of(sqlite3_db_filename(ct_store__db(s), "main"), rc);
}

/* For the functions that set the head file from the database: its path
 * (the caller frees it) with the database's head in *seq and hash.
 * Outside a transaction only, so that the file never names an event that
 * could still roll back. NULL with *rc as head_path, CT_ESTATE or the
 * head's read error. */
static char *head_to_write(ct_store *s, int64_t *seq, uint8_t hash[HASH_LEN],
                           int *rc)
{
    if (ct_store_in_transaction(s)) {
        *rc = CT_ESTATE;
        return NULL;
    }
    char *path = head_path(s, rc);
    if (path && (*rc = read_head(s, seq, hash))) {
        free(path);
        path = NULL;
    }
    return path;
}

/*
 * Reads the head file: 0 with *seq and hash, CT_ENOTFOUND when there is
 * none, CT_ECORRUPT when it is not one well-formed line, CT_EIO.
 */
static int read_head_file(const char *path, int64_t *seq,
                          uint8_t hash[HASH_LEN])
{
    char *text = NULL;
    size_t len = 0;
    int rc = ct_read_file(path, &text, &len);
    if (rc)
        return rc;
    /* "<seq> <64 hex>\n", nothing else; seq has no leading zero and at
     * most 18 digits, so it cannot overflow. */
    const char *p = text;
    int64_t v = 0;
    int ndig = 0;
    while (*p >= '0' && *p <= '9' && ndig < 19) {
        v = v * 10 + (*p++ - '0');
        ndig++;
    }
    rc = CT_ECORRUPT;
    if (ndig == 0 || ndig > 18 || text[0] == '0' || *p++ != ' ' ||
        len != (size_t)(p - text) + 2 * HASH_LEN + 1 ||
        text[len - 1] != '\n')
        goto out;
    char hex[2 * HASH_LEN + 1];
    for (size_t i = 0; i < 2 * HASH_LEN; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            goto out;
        hex[i] = p[i];
    }
    hex[2 * HASH_LEN] = '\0';
    if (ct_hex_decode(hex, hash, HASH_LEN))
        goto out;
    *seq = v;
    rc = 0;
out:
    free(text);
    return rc;
}

static int write_head_file(const char *path, int64_t seq,
                           const uint8_t hash[HASH_LEN])
{
    char line[32 + 2 * HASH_LEN], hex[2 * HASH_LEN + 1];
    ct_hex_encode(hash, HASH_LEN, hex);
    int n = snprintf(line, sizeof line, "%" PRId64 " %s\n", seq, hex);
    int rc = ct_write_file(path, line, (size_t)n, 0644, false);
    if (rc)
        ct_log_error("audit", "cannot write %s: %s", path,
                     rc == CT_EIO ? strerror(errno) : ct_strerror(rc));
    return rc;
}

/* The stored hash of event seq into hash; CT_ENOTFOUND when absent. */
static int event_hash(ct_store *s, int64_t seq, uint8_t hash[HASH_LEN])
{
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_AUDIT_EVENT_HASH);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, seq);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        rc = CT_ENOTFOUND;
    } else if (rc == SQLITE_ROW) {
        rc = hash_col(st, 0, hash);
    } else {
        rc = ct_err_from_sqlite(rc);
    }
    sqlite3_reset(st);
    return rc;
}

int ct_audit_sync_head(ct_store *s)
{
    int rc;
    int64_t seq, fseq;
    uint8_t hash[HASH_LEN], fhash[HASH_LEN], at_f[HASH_LEN];
    char *path = head_to_write(s, &seq, hash, &rc);
    if (!path)
        return rc;
    rc = read_head_file(path, &fseq, fhash);
    if (rc == CT_ENOTFOUND) {
        fseq = 0;
    } else if (rc) {
        ct_log_error("audit", "%s is unreadable; not overwriting it", path);
        goto out;
    } else if (fseq > seq) {
        ct_log_error("audit", "%s records seq %" PRId64 " but the database "
                     "ends at %" PRId64 "; not moving it back", path, fseq,
                     seq);
        rc = CT_ECORRUPT;
        goto out;
    } else if ((rc = event_hash(s, fseq, at_f)) ||
               memcmp(at_f, fhash, HASH_LEN) != 0) {
        if (rc == 0 || rc == CT_ENOTFOUND) {
            ct_log_error("audit", "%s disagrees with event %" PRId64
                         "; not overwriting it", path, fseq);
            rc = CT_ECORRUPT;
        }
        goto out;
    }
    rc = seq > fseq ? write_head_file(path, seq, hash) : 0;
out:
    free(path);
    return rc;
}

/* ---- anchoring ----------------------------------------------------- */

int ct_audit_read_anchor(const char *db_path, ct_audit_anchor *a)
{
    int rc;
    char *path = head_path_of(db_path, &rc);
    if (!path)
        return rc ? rc : CT_ENOTFOUND;
    uint8_t hash[HASH_LEN];
    rc = read_head_file(path, &a->seq, hash);
    if (!rc)
        ct_hex_encode(hash, HASH_LEN, a->hash);
    free(path);
    return rc;
}

int ct_audit_store_anchor(ct_store *s, ct_audit_anchor *a)
{
    uint8_t hash[HASH_LEN];
    int rc = read_head(s, &a->seq, hash);
    if (!rc)
        ct_hex_encode(hash, HASH_LEN, a->hash);
    return rc;
}

int ct_audit_check_anchor(ct_store *s, ct_audit_anchor *file, char *why,
                          size_t n)
{
    if (n)
        why[0] = '\0';
    file->seq = -1;
    file->hash[0] = '\0';
    int rc;
    char *path = head_path(s, &rc);
    if (!path)
        return rc ? rc : CT_ENOTFOUND;
    uint8_t fhash[HASH_LEN], at_f[HASH_LEN];
    rc = read_head_file(path, &file->seq, fhash);
    if (rc == CT_ECORRUPT) {
        snprintf(why, n, "the head file %s is malformed", path);
        goto out;
    }
    if (rc)
        goto out;
    ct_hex_encode(fhash, HASH_LEN, file->hash);
    int64_t seq;
    uint8_t hash[HASH_LEN];
    if ((rc = read_head(s, &seq, hash)))
        goto out;
    if (file->seq > seq) {
        snprintf(why, n, "the database ends at audit seq %" PRId64 " but its "
                 "head file %s records seq %" PRId64 ": the database is "
                 "older than its audit head (deleted, replaced or restored "
                 "by hand)", seq, path, file->seq);
        rc = CT_ECORRUPT;
    } else if ((rc = event_hash(s, file->seq, at_f)) == CT_ENOTFOUND ||
               (!rc && memcmp(at_f, fhash, HASH_LEN) != 0)) {
        snprintf(why, n, "audit event %" PRId64 " differs from the head "
                 "file %s: this database is not the one the head file "
                 "anchors", file->seq, path);
        rc = CT_ECORRUPT;
    }
out:
    free(path);
    return rc;
}

int ct_audit_reanchor(ct_store *s)
{
    int rc;
    int64_t seq;
    uint8_t hash[HASH_LEN];
    char *path = head_to_write(s, &seq, hash, &rc);
    if (!path)
        return rc;
    /* An empty chain has nothing to anchor: no head file, as for a new
     * database. */
    if (seq > 0)
        rc = write_head_file(path, seq, hash);
    else if (unlink(path) != 0 && errno != ENOENT)
        rc = CT_EIO;
    free(path);
    return rc;
}

int ct_audit_each_restore(ct_store *s, ct_audit_restore_fn fn, void *data)
{
    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_AUDIT_RESTORES);
    if (!st)
        return CT_ESTORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *actor = (const char *)sqlite3_column_text(st, 2);
        const char *payload = (const char *)sqlite3_column_text(st, 3);
        fn(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
           actor ? actor : "", payload ? payload : "{}", data);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : ct_err_from_sqlite(rc);
}

/* ---- verify -------------------------------------------------------- */

/* Records a failure at seq unless an earlier one is already named. */
static void fail_at(ct_audit_report *r, int64_t seq, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void fail_at(ct_audit_report *r, int64_t seq, const char *fmt, ...)
{
    if (r->first_bad != 0 && r->first_bad <= seq)
        return;
    r->first_bad = seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
}

static const char *col_text(sqlite3_stmt *st, int i, size_t *len)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    *len = (size_t)sqlite3_column_bytes(st, i);
    return t ? t : "";
}

/* What the walk carries from one event to the next. */
typedef struct walk {
    int64_t expect;          /* the seq the next event must have */
    uint8_t prev[HASH_LEN];  /* its prev_hash */
    int64_t file_seq;        /* head file's seq, or -1 */
    uint8_t file_hash[HASH_LEN];
    ct_buf canon;
} walk;

/* Checks one event row; false when it fails (reported) and the walk
 * stops, since every later link depends on this one. */
static bool check_event(sqlite3_stmt *st, walk *w, ct_audit_report *r)
{
    int64_t seq = sqlite3_column_int64(st, 0);
    if (seq != w->expect) {
        if (seq > w->expect)
            fail_at(r, w->expect, "event %" PRId64 " is missing (the next "
                    "is %" PRId64 ")", w->expect, seq);
        else
            fail_at(r, w->expect, "unexpected event seq %" PRId64, seq);
        return false;
    }
    const void *ph = sqlite3_column_blob(st, 5);
    if (sqlite3_column_bytes(st, 5) != HASH_LEN || !ph ||
        memcmp(ph, w->prev, HASH_LEN) != 0) {
        if (seq == 1)
            fail_at(r, seq, "prev_hash of the first event is not zero");
        else
            fail_at(r, seq, "prev_hash does not match the hash of event "
                    "%" PRId64, seq - 1);
        return false;
    }
    size_t alen, klen, plen;
    const char *actor = col_text(st, 2, &alen);
    const char *kind = col_text(st, 3, &klen);
    const char *payload = col_text(st, 4, &plen);
    int rc = canonical(&w->canon, seq, sqlite3_column_int64(st, 1), actor,
                       alen, kind, klen, payload, plen, NULL, NULL, 0, NULL,
                       NULL);
    if (rc) {
        fail_at(r, seq, rc == CT_EINVAL ? "actor or kind is not UTF-8 text"
                                        : "out of memory hashing the event");
        return false;
    }
    uint8_t h[HASH_LEN];
    chain_hash(w->prev, &w->canon, h);
    const void *stored = sqlite3_column_blob(st, 6);
    if (sqlite3_column_bytes(st, 6) != HASH_LEN || !stored ||
        memcmp(stored, h, HASH_LEN) != 0) {
        fail_at(r, seq, "hash does not match the event's contents");
        return false;
    }
    if (seq == w->file_seq && memcmp(h, w->file_hash, HASH_LEN) != 0)
        fail_at(r, seq, "event differs from the head file");
    memcpy(w->prev, h, HASH_LEN);
    w->expect = seq + 1;
    return true;
}

/* The events, then chain_head against the newest one. Inside the caller's
 * read snapshot. */
static int walk_chain(ct_store *s, walk *w, ct_audit_report *r)
{
    int64_t head;
    uint8_t head_hash[HASH_LEN];
    int rc = read_head(s, &head, head_hash);
    if (rc == CT_ECORRUPT) {
        fail_at(r, 1, "chain_head holds a malformed hash");
        head = 0;
    } else if (rc) {
        return rc;
    }
    r->head_seq = head;

    sqlite3_stmt *st = ct_store__stmt(s, CT_STMT_AUDIT_WALK);
    if (!st)
        return CT_ESTORE;
    bool intact = true;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        r->events++;
        if (intact)
            intact = check_event(st, w, r);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ct_err_from_sqlite(rc);

    /* A broken walk already names the smallest seq the head checks
     * could. */
    if (!intact)
        return 0;
    int64_t newest = w->expect - 1;
    if (head > newest)
        fail_at(r, newest + 1, "events %" PRId64 "..%" PRId64 " are missing "
                "(chain_head records seq %" PRId64 ")", newest + 1, head,
                head);
    else if (head < newest)
        fail_at(r, head + 1, "event %" PRId64 " is beyond the recorded chain "
                "head (seq %" PRId64 ")", head + 1, head);
    else if (head > 0 && memcmp(head_hash, w->prev, HASH_LEN) != 0)
        fail_at(r, head, "hash differs from chain_head");
    if (w->file_seq > newest)
        fail_at(r, newest + 1, "events %" PRId64 "..%" PRId64 " are missing "
                "(the head file records seq %" PRId64 ")", newest + 1,
                w->file_seq, w->file_seq);
    return 0;
}

int ct_audit_verify(ct_store *s, ct_audit_report *report)
{
    memset(report, 0, sizeof *report);
    report->head_file_seq = -1;
    int rc = sodium_ready();
    if (rc)
        return rc;
    walk w = {.expect = 1, .file_seq = -1};

    /* The head file first: it never leads the database, so whatever it
     * says was committed before the snapshot below begins. */
    char *path = head_path(s, &rc);
    if (rc)
        return rc;
    if (path) {
        rc = read_head_file(path, &w.file_seq, w.file_hash);
        if (rc == CT_ECORRUPT)
            fail_at(report, 1, "head file %s is malformed", path);
        else if (rc && rc != CT_ENOTFOUND)
            goto fail_file;
        if (rc)
            w.file_seq = -1;
    }
    report->head_file_seq = w.file_seq;

    sqlite3 *db = ct_store__db(s);
    bool own_tx = sqlite3_get_autocommit(db) != 0;
    if (own_tx) {
        sqlite3_stmt *b = ct_store__stmt(s, CT_STMT_AUDIT_READ_BEGIN);
        if (!b) {
            rc = CT_ESTORE;
            goto fail_file;
        }
        if ((rc = ct_store__step_done(s, b)))
            goto fail_file;
    }
    rc = walk_chain(s, &w, report);
    if (own_tx) {
        sqlite3_stmt *e = ct_store__stmt(s, CT_STMT_AUDIT_READ_END);
        int rc2 = e ? ct_store__step_done(s, e) : CT_ESTORE;
        if (rc2 && !sqlite3_get_autocommit(db)) {
            sqlite3_stmt *a = ct_store__stmt(s, CT_STMT_AUDIT_READ_ABORT);
            if (a)
                ct_store__step_done(s, a);
        }
        if (!rc)
            rc = rc2;
    }
    if (!rc && report->first_bad)
        rc = CT_ECORRUPT;

fail_file:
    ct_buf_free(&w.canon);
    free(path);
    return rc;
}
