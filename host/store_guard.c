/*
 * The store's self-checks that need no statement cache: integrity checks
 * and the daemon's lock file. The file identity check and the refusal of
 * writes live in store.c, next to begin and commit, which they guard.
 */
#include "store_int.h"

#include "error.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define UNIT "store"

struct ct_store_lock {
    int fd;
};

const char *ct_store_path(ct_store *s)
{
    const char *p = sqlite3_db_filename(ct_store__db(s), "main");
    return p ? p : "";
}

int ct_store_check_integrity(ct_store *s, bool full, char *msg, size_t n)
{
    if (n)
        msg[0] = '\0';
    sqlite3 *db = ct_store__db(s);
    sqlite3_stmt *st;
    /* quick_check(1): stop at the first problem; the answer is either
     * one "ok" row or the first error. */
    int rc = sqlite3_prepare_v2(db, full ? "PRAGMA integrity_check(1)"
                                         : "PRAGMA quick_check(1)",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        snprintf(msg, n, "%s", sqlite3_errmsg(db));
        return ct_err_from_sqlite(rc);
    }
    rc = sqlite3_step(st);
    int err;
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        err = t && strcmp(t, "ok") == 0 ? 0 : CT_ECORRUPT;
        if (err)
            snprintf(msg, n, "%s", t ? t : "no answer");
    } else {
        /* A check that cannot even read the file is corruption too. */
        snprintf(msg, n, "%s", sqlite3_errmsg(db));
        err = ct_err_from_sqlite(rc);
        if (err == CT_ESTORE || err == CT_EIO)
            err = CT_ECORRUPT;
    }
    sqlite3_finalize(st);
    return err;
}

/* The pid written in the lock file by its holder, 0 when unreadable. */
static long read_holder(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

int ct_store_lock_acquire(const char *db_path, ct_store_lock **out, long *holder)
{
    *out = NULL;
    if (holder)
        *holder = 0;
    size_t len = strlen(db_path) + sizeof ".lock";
    char *path = malloc(len);
    if (!path)
        return CT_ENOMEM;
    snprintf(path, len, "%s.lock", db_path);
    ct_store_lock *l = malloc(sizeof *l);
    int err = CT_ENOMEM;
    if (!l)
        goto fail_alloc;
    l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0) {
        err = errno == EROFS || errno == EACCES ? CT_EREADONLY : CT_EIO;
        ct_log_error(UNIT, "cannot create the lock file %s: %s", path,
                     strerror(errno));
        goto fail_open;
    }
    if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
        err = errno == EWOULDBLOCK ? CT_EBUSY : CT_EIO;
        if (holder && err == CT_EBUSY)
            *holder = read_holder(l->fd);
        if (err != CT_EBUSY)
            ct_log_error(UNIT, "cannot lock %s: %s", path, strerror(errno));
        goto fail_lock;
    }
    /* The pid is for the message a second process prints; the lock is
     * the flock, which ends with this process however it ends. */
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, pid, (size_t)n, 0) != n)
        ct_log_warn(UNIT, "cannot write the pid into %s: %s", path,
                    strerror(errno));
    free(path);
    *out = l;
    return 0;

fail_lock:
    close(l->fd);
fail_open:
    free(l);
fail_alloc:
    free(path);
    return err;
}

void ct_store_lock_release(ct_store_lock *l)
{
    if (!l)
        return;
    close(l->fd);
    free(l);
}
