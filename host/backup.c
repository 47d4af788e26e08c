/*
 * Backup, verification and restore of an area's database (backup.h).
 */
#include "backup.h"

#include "error.h"
#include "log.h"
#include "store_int.h"
#include "token.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define UNIT "backup"

static void problem(ct_backup_report *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void problem(ct_backup_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->problem, sizeof r->problem, fmt, ap);
    va_end(ap);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "<a><b>" into a new string. */
static char *cat2(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", a, b);
    return p;
}

/* fsync of a file, or of the directory holding path (so a rename in it
 * survives a crash). */
static int sync_path(const char *path, bool dir)
{
    char *copy = dir ? ct_strdup(path) : NULL;
    if (dir && !copy)
        return CT_ENOMEM;
    const char *target = dir ? dirname(copy) : path;
    int fd = open(target, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) |
                              O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : CT_EIO;
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

static void unlink_with_sidecars(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal",
                                      ".audit-head", ".tokens"};
    for (size_t i = 0; i < CT_ARRAY_LEN(sfx); i++) {
        char *p = cat2(path, sfx[i]);
        if (p)
            unlink(p);
        free(p);
    }
}

/* ---- verify ------------------------------------------------------------- */

/* Checks an open store: integrity, then the chain. */
static int verify_store(ct_store *s, const char *path, ct_backup_report *r)
{
    char msg[200];
    int rc = ct_store_check_integrity(s, true, msg, sizeof msg);
    if (rc) {
        problem(r, "%s fails integrity_check: %s", path, msg);
        return rc;
    }
    ct_audit_report ar;
    rc = ct_audit_verify(s, &ar);
    r->events = ar.events;
    if (rc == CT_ECORRUPT) {
        problem(r, "%s: audit chain broken at seq %" PRId64 ": %s", path,
                ar.first_bad, ar.reason);
        return rc;
    }
    if (rc) {
        problem(r, "%s: cannot verify the audit chain: %s", path,
                ct_strerror(rc));
        return rc;
    }
    return ct_audit_store_anchor(s, &r->head);
}

int ct_backup_verify(const char *path, ct_backup_report *r)
{
    memset(r, 0, sizeof *r);
    double t0 = now_s();
    struct stat sb;
    if (stat(path, &sb) != 0) {
        problem(r, "cannot open %s: %s", path, strerror(errno));
        return errno == ENOENT ? CT_ENOTFOUND : CT_EIO;
    }
    r->bytes = sb.st_size;
    ct_store_options o = {.readonly = true};
    ct_store *s;
    int rc = ct_store_open(path, &o, &s);
    if (rc) {
        problem(r, "cannot open %s: %s", path, ct_strerror(rc));
        return rc;
    }
    rc = verify_store(s, path, r);
    ct_store_close(s);
    r->seconds = now_s() - t0;
    return rc;
}

/* ---- backup ------------------------------------------------------------- */

/* VACUUM INTO out from src's connection: one read transaction. */
static int vacuum_into(ct_store *src, const char *out, ct_backup_report *r)
{
    sqlite3 *db = ct_store__db(src);
    sqlite3_stmt *st;
    int rc = 0;
    int src_rc = sqlite3_prepare_v2(db, "VACUUM INTO ?1", -1, &st, NULL);
    if (src_rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, out, -1, SQLITE_STATIC);
        src_rc = sqlite3_step(st);
        if (src_rc == SQLITE_DONE)
            src_rc = SQLITE_OK;
    }
    if (src_rc != SQLITE_OK) {
        problem(r, "VACUUM INTO %s: %s", out, sqlite3_errmsg(db));
        rc = ct_err_from_sqlite(src_rc);
    }
    sqlite3_finalize(st);
    return rc;
}

/* The copy in partial: synced, anchored on its own head, verified, made
 * one self-contained file. */
static int finish_copy(const char *partial, ct_backup_report *r)
{
    if (sync_path(partial, false)) {
        problem(r, "cannot sync %s: %s", partial, strerror(errno));
        return CT_EIO;
    }
    /* The anchor is the copy's own head: the same snapshot by
     * construction. Then the copy is checked against it. */
    ct_store_options o = {0};
    ct_store *s;
    int rc = ct_store_open(partial, &o, &s);
    if (rc) {
        problem(r, "cannot open the copy %s: %s", partial, ct_strerror(rc));
        return rc;
    }
    rc = ct_audit_reanchor(s);
    if (!rc)
        rc = verify_store(s, partial, r);
    /* A backup is one self-contained file: rollback journal mode, so that
     * reading it (a check, a restore) leaves no -wal or -shm beside it. */
    if (!rc && sqlite3_exec(ct_store__db(s), "PRAGMA journal_mode = DELETE",
                            NULL, NULL, NULL) != SQLITE_OK) {
        problem(r, "%s: journal_mode: %s", partial,
                sqlite3_errmsg(ct_store__db(s)));
        rc = CT_ESTORE;
    }
    ct_store_close(s);
    if (rc && !r->problem[0])
        problem(r, "cannot anchor the copy: %s", ct_strerror(rc));
    return rc;
}

/* Copies the token store beside from_db (docs/operations.md "Named
 * users") to beside to_db, mode 0600 like the original; *copied says
 * whether there was one. The file is replaced whole by every change
 * (temp and rename), so the copy is one version of it. */
static int copy_tokens(const char *from_db, const char *to_db, bool *copied)
{
    *copied = false;
    char *from = ct_tokens_path(from_db), *to = ct_tokens_path(to_db);
    int rc = from && to ? 0 : CT_ENOMEM;
    struct stat sb;
    if (!rc && stat(from, &sb) == 0) {
        rc = ct_backup_copy_file(from, to);
        if (!rc && chmod(to, 0600) != 0)
            rc = CT_EIO;
        if (rc)
            unlink(to);
        *copied = rc == 0;
    }
    free(from);
    free(to);
    return rc;
}

/* The whole backup from an open source store (or, src NULL, from a
 * read-only connection of its own on db_path). */
static int make(ct_store *src, const char *db_path, const char *out,
                ct_backup_report *r)
{
    memset(r, 0, sizeof *r);
    double t0 = now_s();
    struct stat sb;
    if (stat(out, &sb) == 0) {
        problem(r, "%s already exists; choose another name", out);
        return CT_EEXISTS;
    }
    char *partial = cat2(out, ".partial");
    char *partial_head = partial ? cat2(partial, ".audit-head") : NULL;
    char *out_head = cat2(out, ".audit-head");
    ct_store *own = NULL;
    int rc = CT_ENOMEM;
    if (!partial || !partial_head || !out_head)
        goto out;
    unlink_with_sidecars(partial); /* left by an interrupted backup */
    if (!src) {
        if (stat(db_path, &sb) != 0) {
            problem(r, "cannot open %s: %s", db_path, strerror(errno));
            rc = CT_ENOTFOUND;
            goto out;
        }
        ct_store_options o = {.readonly = true};
        if ((rc = ct_store_open(db_path, &o, &own))) {
            problem(r, "cannot open %s: %s", db_path, ct_strerror(rc));
            goto out;
        }
        src = own;
    }
    rc = vacuum_into(src, partial, r);
    ct_store_close(own);
    if (rc || (rc = finish_copy(partial, r)))
        goto fail;
    /* The named users' tokens go with it: a restore on a new machine
     * must not lock everyone out. */
    if ((rc = copy_tokens(db_path, partial, &r->tokens))) {
        problem(r, "cannot copy the token store: %s", ct_strerror(rc));
        goto fail;
    }
    /* An empty chain has no head file to move. */
    char *partial_tok = ct_tokens_path(partial), *out_tok = ct_tokens_path(out);
    bool moved = partial_tok && out_tok &&
                 (rename(partial_head, out_head) == 0 || errno == ENOENT) &&
                 (!r->tokens || rename(partial_tok, out_tok) == 0) &&
                 rename(partial, out) == 0 && sync_path(out, true) == 0;
    if (!moved) {
        problem(r, "cannot move the copy to %s: %s", out, strerror(errno));
        rc = CT_EIO;
        unlink(out_head);
        if (out_tok)
            unlink(out_tok);
    }
    free(partial_tok);
    free(out_tok);
    if (!moved)
        goto fail;
    if (stat(out, &sb) == 0)
        r->bytes = sb.st_size;
    r->seconds = now_s() - t0;
    ct_log_info(UNIT, "backup %s: %" PRId64 " events, head seq %" PRId64
                ", %" PRId64 " bytes, %.2f s", out, r->events, r->head.seq,
                r->bytes, r->seconds);
    goto out;

fail:
    unlink_with_sidecars(partial);
    ct_log_error(UNIT, "backup of %s failed: %s", db_path, r->problem);
out:
    free(partial);
    free(partial_head);
    free(out_head);
    return rc;
}

int ct_backup_make(const char *db_path, const char *out, ct_backup_report *r)
{
    return make(NULL, db_path, out, r);
}

int ct_backup_make_from(ct_store *s, const char *out, ct_backup_report *r)
{
    return make(s, ct_store_path(s), out, r);
}

/* ---- restore ------------------------------------------------------------ */

void ct_backup_who(char *out, size_t n)
{
    const struct passwd *pw = getpwuid(getuid());
    const char *sudo = getenv("SUDO_USER");
    if (pw && sudo && *sudo)
        snprintf(out, n, "user:%s (sudo %s)", sudo, pw->pw_name);
    else if (pw)
        snprintf(out, n, "user:%s", pw->pw_name);
    else
        snprintf(out, n, "uid:%ld", (long)getuid());
}

int ct_backup_record_restore(ct_store *s, int64_t at, const char *from,
                             const char *by, const ct_audit_anchor *discarded)
{
    ct_audit_anchor head;
    int rc = ct_audit_store_anchor(s, &head);
    if (rc)
        return rc;
    ct_json_member m[7] = {
        {.key = "backup_seq", .num = head.seq},
        {.key = "backup_hash", .str = head.hash},
        {.key = "discarded_seq", .num = discarded ? discarded->seq : 0},
        {.key = "discarded_hash",
         .str = discarded && discarded->hash[0] ? discarded->hash : ""},
        {.key = "from", .str = from},
        {.key = "by", .str = by},
        {.key = "note", .str = "events after backup_seq up to "
                               "discarded_seq were discarded; seqs from "
                               "here on follow the restored chain"},
    };
    if ((rc = ct_store_begin(s)))
        return rc;
    char actor[200];
    snprintf(actor, sizeof actor, "%s", by);
    if ((rc = ct_audit_append_members(s, at, actor, "store.restored", m, 7,
                                      NULL)) ||
        (rc = ct_store_commit(s))) {
        ct_store_rollback(s);
        return rc;
    }
    return ct_audit_reanchor(s);
}

int ct_backup_copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return CT_EIO;
    int outfd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (outfd < 0) {
        close(in);
        return CT_EIO;
    }
    char buf[1 << 16];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(outfd, buf + off, (size_t)(n - off));
            if (w < 0) {
                rc = errno == ENOSPC ? CT_EFULL : CT_EIO;
                goto done;
            }
            off += w;
        }
    }
    if (n < 0)
        rc = CT_EIO;
    else if (fsync(outfd) != 0)
        rc = CT_EIO;
done:
    close(in);
    if (close(outfd) != 0 && !rc)
        rc = CT_EIO;
    return rc;
}

/* The head the restore discards: the head file's, else the old
 * database's own chain head, else none (seq 0). */
static void discarded_head(const char *db_path, ct_audit_anchor *a)
{
    memset(a, 0, sizeof *a);
    if (ct_audit_read_anchor(db_path, a) == 0)
        return;
    memset(a, 0, sizeof *a);
    struct stat sb;
    if (stat(db_path, &sb) != 0)
        return;
    ct_store_options o = {.readonly = true};
    ct_store *s;
    if (ct_store_open(db_path, &o, &s) == 0) {
        if (ct_audit_store_anchor(s, a))
            memset(a, 0, sizeof *a);
        ct_store_close(s);
    }
}

/* Renames path (if it exists) to path + suffix. */
static int move_aside(const char *path, const char *suffix)
{
    char *to = cat2(path, suffix);
    if (!to)
        return CT_ENOMEM;
    int rc = rename(path, to) == 0 || errno == ENOENT ? 0 : CT_EIO;
    free(to);
    return rc;
}

int ct_backup_restore(const char *backup, const char *db_path,
                      const char *by, ct_backup_report *r)
{
    memset(r, 0, sizeof *r);
    double t0 = now_s();
    ct_store_lock *lock;
    long holder = 0;
    int rc = ct_store_lock_acquire(db_path, &lock, &holder);
    if (rc == CT_EBUSY) {
        problem(r, "%s is in use by a running caretide (pid %ld): stop it "
                "first", db_path, holder);
        return rc;
    }
    if (rc) {
        problem(r, "cannot lock %s: %s", db_path, ct_strerror(rc));
        return rc;
    }
    if ((rc = ct_backup_verify(backup, r)))
        goto fail_lock;
    ct_audit_anchor backup_head = r->head;
    ct_audit_anchor old;
    discarded_head(db_path, &old);

    char *tmp = cat2(db_path, ".restoring");
    char *tmp_head = tmp ? cat2(tmp, ".audit-head") : NULL;
    char *head = cat2(db_path, ".audit-head");
    char suffix[48];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(suffix, sizeof suffix, ".replaced-%Y%m%dT%H%M%SZ", &tm);
    rc = CT_ENOMEM;
    if (!tmp || !tmp_head || !head)
        goto fail_alloc;
    unlink_with_sidecars(tmp);
    if ((rc = ct_backup_copy_file(backup, tmp))) {
        problem(r, "cannot copy %s to %s: %s", backup, tmp, ct_strerror(rc));
        goto fail_copy;
    }
    ct_store *s;
    ct_store_options o = {0};
    if ((rc = ct_store_open(tmp, &o, &s))) {
        problem(r, "cannot open the copy %s: %s", tmp, ct_strerror(rc));
        goto fail_copy;
    }
    rc = ct_backup_record_restore(s, wall_ms(), backup, by, &old);
    if (!rc)
        rc = ct_audit_store_anchor(s, &r->head);
    ct_store_close(s); /* the last connection: checkpoints the WAL */
    if (rc) {
        problem(r, "cannot record the restore: %s", ct_strerror(rc));
        goto fail_copy;
    }
    /* The old files stay beside the new ones: nothing is deleted. */
    static const char *const sfx[] = {"", "-wal", "-shm", ".audit-head"};
    for (size_t i = 0; i < CT_ARRAY_LEN(sfx); i++) {
        char *p = cat2(db_path, sfx[i]);
        int mrc = p ? move_aside(p, suffix) : CT_ENOMEM;
        free(p);
        if (mrc) {
            problem(r, "cannot move %s%s aside: %s", db_path, sfx[i],
                    strerror(errno));
            rc = CT_EIO;
            goto fail_copy;
        }
    }
    if (rename(tmp, db_path) != 0 || rename(tmp_head, head) != 0 ||
        sync_path(db_path, true)) {
        problem(r, "cannot install %s: %s", db_path, strerror(errno));
        rc = CT_EIO;
        goto fail_alloc;
    }
    /* The token store: the current one stays (a token revoked since the
     * backup must stay revoked); only where there is none (a new
     * machine) does the backup's copy come back. */
    char *cur_tok = ct_tokens_path(db_path);
    struct stat tsb;
    if (cur_tok && stat(cur_tok, &tsb) != 0 && errno == ENOENT) {
        int trc = copy_tokens(backup, db_path, &r->tokens);
        if (trc)
            ct_log_error(UNIT, "restored %s, but its token store could not "
                         "be copied: %s; add tokens with caretide token add",
                         db_path, ct_strerror(trc));
    } else if (cur_tok) {
        ct_log_info(UNIT, "kept the current token store %s", cur_tok);
    }
    free(cur_tok);
    r->seconds = now_s() - t0;
    ct_log_info(UNIT, "restored %s from %s (backup head seq %" PRId64
                ", discarded head seq %" PRId64 "); the old files end in "
                "%s", db_path, backup, backup_head.seq, old.seq, suffix);
    goto fail_alloc; /* done: free and unlock */

fail_copy:
    unlink_with_sidecars(tmp);
fail_alloc:
    free(tmp);
    free(tmp_head);
    free(head);
fail_lock:
    ct_store_lock_release(lock);
    return rc;
}
