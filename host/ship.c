/*
 * Log shipping with SQLite's session extension (ship.h).
 */
#include "ship.h"

#include "audit.h"
#include "backup.h"
#include "clock.h"
#include "error.h"
#include "log.h"
#include "store_int.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define UNIT "ship"
#define GEN_PREFIX "gen-"
#define MAX_RECORD (1u << 30)

struct ct_ship {
    ct_store *s;
    sqlite3_session *sess;
    int fd;
    bool failed;
    bool dirty; /* written since the last sync */
    char *changes;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A session on every table of main: rows are keyed by their primary key
 * (every caretide table has one; a table without would be skipped). */
static int new_session(ct_ship *sh)
{
    sqlite3 *db = ct_store__db(sh->s);
    int rc = sqlite3session_create(db, "main", &sh->sess);
    if (rc == SQLITE_OK)
        rc = sqlite3session_attach(sh->sess, NULL);
    if (rc != SQLITE_OK) {
        ct_log_error(UNIT, "cannot start a session: %s", sqlite3_errstr(rc));
        if (sh->sess)
            sqlite3session_delete(sh->sess);
        sh->sess = NULL;
        return ct_err_from_sqlite(rc);
    }
    return 0;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : CT_EIO;
    if (fd >= 0)
        close(fd);
    return rc;
}

int ct_ship_start(ct_store *s, const char *dir, ct_ship **out)
{
    *out = NULL;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        ct_log_error(UNIT, "cannot make %s: %s", dir, strerror(errno));
        return CT_EIO;
    }
    ct_ship *sh = calloc(1, sizeof *sh);
    if (!sh)
        return CT_ENOMEM;
    sh->s = s;
    sh->fd = -1;
    ct_buf gen = {0}, base = {0}, changes = {0};
    /* Zero-padded milliseconds: the names sort by time. */
    int rc = ct_buf_printf(&gen, "%s/" GEN_PREFIX "%015" PRId64, dir,
                           wall_ms());
    rc = rc ? rc : ct_buf_printf(&base, "%s/base.db", gen.data);
    rc = rc ? rc : ct_buf_printf(&changes, "%s/changes", gen.data);
    if (rc)
        goto fail;
    if (mkdir(gen.data, 0750) != 0) {
        ct_log_error(UNIT, "cannot make %s: %s", gen.data, strerror(errno));
        rc = CT_EIO;
        goto fail;
    }
    /* The changes file first, so that the base, renamed into place only
     * once verified, marks a complete generation for the standby. */
    sh->fd = open(changes.data, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                  0640);
    if (sh->fd < 0) {
        ct_log_error(UNIT, "cannot create %s: %s", changes.data,
                     strerror(errno));
        rc = CT_EIO;
        goto fail;
    }
    ct_backup_report r;
    if ((rc = ct_backup_make_from(s, base.data, &r))) {
        ct_log_error(UNIT, "cannot make the standby's base %s: %s",
                     base.data, r.problem);
        goto fail;
    }
    /* No write happens between the base's snapshot and the session: the
     * daemon is still starting. */
    if ((rc = new_session(sh)) || (rc = sync_dir(gen.data)) ||
        (rc = sync_dir(dir)))
        goto fail;
    sh->changes = changes.data;
    ct_log_info(UNIT, "shipping changes to %s (base at audit seq %" PRId64
                ")", gen.data, r.head.seq);
    ct_buf_free(&gen);
    ct_buf_free(&base);
    *out = sh;
    return 0;

fail:
    if (sh->fd >= 0)
        close(sh->fd);
    ct_buf_free(&gen);
    ct_buf_free(&base);
    ct_buf_free(&changes);
    free(sh);
    return rc;
}

/* All of buf, retrying short writes. */
static int write_all(int fd, const struct iovec *iov, int n)
{
    struct iovec v[2];
    memcpy(v, iov, (size_t)n * sizeof *iov);
    int i = 0;
    while (i < n) {
        ssize_t w = writev(fd, v + i, n - i);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == ENOSPC ? CT_EFULL : CT_EIO;
        }
        while (i < n && (size_t)w >= v[i].iov_len) {
            w -= (ssize_t)v[i].iov_len;
            i++;
        }
        if (i < n) {
            v[i].iov_base = (char *)v[i].iov_base + w;
            v[i].iov_len -= (size_t)w;
        }
    }
    return 0;
}

int ct_ship_commit(ct_ship *sh)
{
    if (!sh || sh->failed)
        return 0;
    int n = 0;
    void *buf = NULL;
    int rc = sqlite3session_changeset(sh->sess, &n, &buf);
    int err = 0;
    if (rc != SQLITE_OK) {
        err = ct_err_from_sqlite(rc);
        ct_log_error(UNIT, "cannot take the changeset: %s",
                     sqlite3_errstr(rc));
    } else if (n > 0) {
        uint32_t len = (uint32_t)n;
        unsigned char hdr[4] = {(unsigned char)(len >> 24),
                                (unsigned char)(len >> 16),
                                (unsigned char)(len >> 8),
                                (unsigned char)len};
        struct iovec iov[2] = {{hdr, 4}, {buf, (size_t)n}};
        if ((err = write_all(sh->fd, iov, 2)))
            ct_log_error(UNIT, "cannot append to %s: %s", sh->changes,
                         ct_strerror(err));
        sh->dirty = true;
    }
    sqlite3_free(buf);
    /* A session keeps everything since its start: a new one per group,
     * so each record holds that group's changes only. */
    sqlite3session_delete(sh->sess);
    sh->sess = NULL;
    if (!err)
        err = new_session(sh);
    if (err) {
        sh->failed = true;
        ct_log_error(UNIT, "shipping stopped; the standby falls behind from "
                     "here (restart the daemon to start a new generation)");
    }
    return err;
}

void ct_ship_sync(ct_ship *sh)
{
    if (!sh || !sh->dirty)
        return;
    sh->dirty = false;
    if (fdatasync(sh->fd) != 0)
        ct_log_error(UNIT, "cannot sync %s: %s", sh->changes,
                     strerror(errno));
}

void ct_ship_free(ct_ship *sh)
{
    if (!sh)
        return;
    if (!sh->failed)
        ct_ship_commit(sh); /* anything committed since the last group */
    ct_ship_sync(sh);
    if (sh->sess)
        sqlite3session_delete(sh->sess);
    close(sh->fd);
    free(sh->changes);
    free(sh);
}

/* ---- the standby --------------------------------------------------------- */

/* The newest complete generation in dir (a new string), NULL if none. */
static char *newest_gen(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return NULL;
    char *best = NULL;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (strncmp(e->d_name, GEN_PREFIX, strlen(GEN_PREFIX)) != 0)
            continue;
        if (best && strcmp(e->d_name, best) <= 0)
            continue;
        ct_buf b = {0};
        struct stat sb;
        if (ct_buf_printf(&b, "%s/%s/base.db", dir, e->d_name) == 0 &&
            stat(b.data, &sb) == 0) {
            free(best);
            best = ct_strdup(e->d_name);
        }
        ct_buf_free(&b);
    }
    closedir(dp);
    return best;
}

typedef struct follower {
    const char *dir, *db_path;
    char *gen;       /* current generation's name */
    ct_store *s;
    int fd;          /* its changes file, -1 until it exists */
    int64_t offset;  /* bytes applied */
    int64_t applied; /* records applied */
    int conflict;    /* the last conflict's type */
    const ct_ship_until *until; /* NULL: follow until stopped */
    bool reached;    /* the next record would pass until */
} follower;

/* Whether the store's newest event (inside the current transaction)
 * passes f->until; *past gets the answer. */
static int past_until(follower *f, bool *past)
{
    *past = false;
    if (!f->until)
        return 0;
    int64_t seq = 0, at = INT64_MIN;
    int rc = ct_audit_head_at(f->s, &seq, &at);
    if (rc)
        return rc;
    *past = (f->until->seq > 0 && seq > f->until->seq) ||
            (f->until->at != INT64_MAX && at != INT64_MIN &&
             at > f->until->at);
    return 0;
}

static int on_conflict(void *ctx, int type, sqlite3_changeset_iter *it)
{
    (void)it;
    ((follower *)ctx)->conflict = type;
    return SQLITE_CHANGESET_ABORT;
}

static void close_gen(follower *f)
{
    ct_store_close(f->s);
    f->s = NULL;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    free(f->gen);
    f->gen = NULL;
}

/* Installs gen's base as the standby's database. */
static int install(follower *f, char *gen)
{
    close_gen(f);
    f->gen = gen;
    f->offset = f->applied = 0;
    ct_buf base = {0}, tmp = {0}, head = {0}, sidecar = {0};
    int rc = ct_buf_printf(&base, "%s/%s/base.db", f->dir, gen);
    rc = rc ? rc : ct_buf_printf(&tmp, "%s.standby-tmp", f->db_path);
    rc = rc ? rc : ct_buf_printf(&head, "%s.audit-head", f->db_path);
    if (rc)
        goto out;
    if ((rc = ct_backup_copy_file(base.data, tmp.data))) {
        ct_log_error(UNIT, "cannot copy %s: %s", base.data, ct_strerror(rc));
        goto out;
    }
    static const char *const sfx[] = {"-wal", "-shm"};
    for (size_t i = 0; i < CT_ARRAY_LEN(sfx); i++) {
        sidecar.len = 0;
        if (ct_buf_printf(&sidecar, "%s%s", f->db_path, sfx[i]) == 0)
            unlink(sidecar.data);
    }
    unlink(head.data);
    if (rename(tmp.data, f->db_path) != 0) {
        ct_log_error(UNIT, "cannot install %s: %s", f->db_path,
                     strerror(errno));
        rc = CT_EIO;
        goto out;
    }
    ct_store_options o = {0};
    if ((rc = ct_store_open(f->db_path, &o, &f->s)))
        goto out;
    /* The primary's triggers already ran: their effects are in the
     * changesets. Running them again here would apply them twice. */
    sqlite3_db_config(ct_store__db(f->s), SQLITE_DBCONFIG_ENABLE_TRIGGER, 0,
                      NULL);
    bool past;
    rc = ct_audit_reanchor(f->s);
    if (!rc && !(rc = past_until(f, &past)) && past) {
        ct_log_error(UNIT, "the base of %s/%s is already past the point "
                     "asked for: recover from an older backup instead",
                     f->dir, gen);
        rc = CT_EINVAL;
        goto out;
    }
    ct_log_info(UNIT, "standby %s follows %s/%s", f->db_path, f->dir, gen);
out:
    ct_buf_free(&base);
    ct_buf_free(&tmp);
    ct_buf_free(&head);
    ct_buf_free(&sidecar);
    return rc;
}

/* Reads exactly n bytes at off; false when fewer are there yet. */
static bool read_at(int fd, void *buf, size_t n, int64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/* Applies every complete record after f->offset. */
static int apply_available(follower *f)
{
    if (f->fd < 0) {
        ct_buf p = {0};
        if (ct_buf_printf(&p, "%s/%s/changes", f->dir, f->gen) == 0)
            f->fd = open(p.data, O_RDONLY | O_CLOEXEC);
        ct_buf_free(&p);
        if (f->fd < 0)
            return 0;
    }
    int64_t before = f->applied;
    for (;;) {
        unsigned char hdr[4];
        if (!read_at(f->fd, hdr, 4, f->offset))
            break;
        uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
                       (uint32_t)hdr[2] << 8 | hdr[3];
        if (len == 0 || len > MAX_RECORD) {
            ct_log_error(UNIT, "%s/%s/changes: bad record length %u at "
                         "offset %" PRId64, f->dir, f->gen, len, f->offset);
            return CT_ECORRUPT;
        }
        void *buf = malloc(len);
        if (!buf)
            return CT_ENOMEM;
        if (!read_at(f->fd, buf, len, f->offset + 4)) {
            free(buf); /* the rest is still being written */
            break;
        }
        int rc = ct_store_begin(f->s);
        int src = SQLITE_OK;
        f->conflict = 0;
        bool past = false;
        if (!rc) {
            src = sqlite3changeset_apply(ct_store__db(f->s), (int)len, buf,
                                         NULL, on_conflict, f);
            rc = src == SQLITE_OK ? past_until(f, &past)
                                  : ct_err_from_sqlite(src);
            if (!rc && !past)
                rc = ct_store_commit(f->s);
        }
        free(buf);
        if (!rc && past) {
            /* This group would pass the point asked for: keep what is
             * before it and stop following. */
            ct_store_rollback(f->s);
            f->reached = true;
            break;
        }
        if (rc) {
            ct_store_rollback(f->s);
            ct_log_error(UNIT, "record %" PRId64 " of %s/%s does not apply "
                         "(%s%s): the standby stops here; rebuild it from a "
                         "new generation (restart the primary)",
                         f->applied + 1, f->dir, f->gen, ct_strerror(rc),
                         f->conflict ? ", a conflicting row" : "");
            return rc;
        }
        f->offset += 4 + (int64_t)len;
        f->applied++;
    }
    if (f->applied > before) {
        int rc = ct_audit_reanchor(f->s);
        if (rc)
            return rc;
        ct_log_debug(UNIT, "applied %" PRId64 " records (%" PRId64
                     " in this generation)", f->applied - before,
                     f->applied);
    }
    return 0;
}

int ct_ship_follow(const char *dir, const char *db_path, int poll_ms,
                   const ct_ship_until *until, volatile bool *stop)
{
    ct_store_lock *lock;
    long holder = 0;
    int rc = ct_store_lock_acquire(db_path, &lock, &holder);
    if (rc == CT_EBUSY) {
        ct_log_error(UNIT, "%s is in use by another caretide (pid %ld)",
                     db_path, holder);
        return rc;
    }
    if (rc)
        return rc;
    follower f = {.dir = dir, .db_path = db_path, .fd = -1, .until = until};
    bool waiting_said = false;
    for (;;) {
        bool last = *stop; /* one more pass after the stop is asked */
        char *gen = newest_gen(dir);
        if (gen && (!f.gen || strcmp(gen, f.gen) != 0)) {
            /* Finish the old generation first, then move on. */
            if (f.s && (rc = apply_available(&f)))
                break;
            if ((rc = install(&f, gen)))
                break;
        } else {
            free(gen);
        }
        if (!f.s && !waiting_said) {
            ct_log_info(UNIT, "waiting for a generation in %s", dir);
            waiting_said = true;
        }
        if (f.s && (rc = apply_available(&f)))
            break;
        if (last || f.reached)
            break;
        struct timespec ts = {poll_ms / 1000, (long)(poll_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    if (!rc && f.s && f.reached) {
        int64_t seq = 0, at = INT64_MIN;
        char when[32] = "-";
        if (ct_audit_head_at(f.s, &seq, &at) == 0 && at != INT64_MIN)
            ct_clock_format(at, when, sizeof when);
        ct_log_info(UNIT, "standby %s recovered to the point asked for: "
                    "audit seq %" PRId64 " at %s (record %" PRId64 " of %s; "
                    "the next one passes it); promote it with caretide run "
                    "--db %s", db_path, seq, when, f.applied, f.gen, db_path);
    } else if (!rc && f.s)
        ct_log_info(UNIT, "standby %s stopped at record %" PRId64 " of %s; "
                    "promote it with caretide run --db %s", db_path,
                    f.applied, f.gen, db_path);
    close_gen(&f);
    ct_store_lock_release(lock);
    return rc;
}
