/*
 * The token store in the daemon (token.h, daemon_int.h): read at start,
 * re-read when its file changes, each change audited once.
 *
 * The CLI edits the file while the daemon runs; a timer looks at the
 * file's identity (device, inode, size, modification time) every second
 * and re-reads it when that moved, so a revocation is refused within a
 * second and no restart or reload is needed. What changed is audited by
 * comparing the file with what the chain last recorded (token_audit.h),
 * as a write of the group commit, so the events share its transaction
 * and its fsync like a request's.
 */
#include "daemon_int.h"

#include "error.h"
#include "log.h"
#include "token_audit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define UNIT "tokens"
#define POLL_MS 1000

typedef struct ct_daemon__tokens {
    ct_daemon *d;
    char *path;
    ct_tokens *t;        /* the store as last read */
    struct stat seen;    /* the file's identity when read (zero: re-read) */
    bool have_seen;
    ct_timer poll;
    ct_commit_req req;
    bool queued;         /* an audit write is in this turn's group */
    bool audit_pending;  /* a change read but not yet audited */
} ct_daemon__tokens;

/* The area's event bus: the one way into the audit log. */
static ct_events *bus_of(ct_daemon *d)
{
    return ct_capacity_events(ct_daemon_capacity(d));
}

const ct_tokens *ct_daemon_tokens(ct_daemon *d)
{
    return d->tk ? d->tk->t : NULL;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
           a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Takes ownership of t: the store authentication reads from now on. */
static void swap_in(ct_daemon__tokens *k, ct_tokens *t)
{
    ct_tokens *old = k->t;
    k->t = t;
    if (k->d->auth)
        ct_auth_set_tokens(k->d->auth, t, k->d->clock);
    ct_tokens_free(old);
}

static void note_identity(ct_daemon__tokens *k)
{
    k->have_seen = stat(k->path, &k->seen) == 0;
}

int ct_daemon__tokens_check_config(ct_daemon *d, const ct_config *cfg,
                                   ct_diags *diags)
{
    char why[300];
    if (!d->tk || !ct_auth_check_clash(cfg, d->tk->t, why, sizeof why))
        return 0;
    ct_diags_add(diags, cfg->file, 0, 0, "%s", why);
    return CT_ECONFIG;
}

void ct_daemon__tokens_auth_changed(ct_daemon *d, ct_auth *auth)
{
    ct_auth_set_tokens(auth, d->tk ? d->tk->t : NULL, d->clock);
}

/* ---- auditing ---------------------------------------------------------- */

static int audit_write(ct_store *s, void *arg)
{
    ct_daemon__tokens *k = arg;
    int n = 0;
    (void)s;
    int rc = ct_token_audit_sync(bus_of(k->d), k->t, &n);
    if (!rc && n)
        ct_log_info(UNIT, "%s: %d change%s audited", k->path, n,
                    n == 1 ? "" : "s");
    return rc;
}

static void on_audited(ct_commit_req *r, int status)
{
    ct_daemon__tokens *k = r->data;
    k->queued = false;
    int err = status ? status : r->result;
    if (err) /* tried again at the next poll */
        ct_log_error(UNIT, "auditing the token store failed (%s); retrying",
                     ct_strerror(err));
    else
        k->audit_pending = false;
}

static void queue_audit(ct_daemon__tokens *k)
{
    if (k->queued || !k->d->commit)
        return;
    k->req.data = k;
    if (ct_commit_write(k->d->commit, &k->req, audit_write, k, on_audited) ==
        0)
        k->queued = true;
}

/* ---- watching the file ------------------------------------------------- */

static void on_poll(ct_timer *timer, void *data)
{
    (void)timer;
    ct_daemon__tokens *k = data;
    ct_daemon *d = k->d;
    struct stat sb;
    bool exists = stat(k->path, &sb) == 0;
    bool changed = exists != k->have_seen ||
                   (exists && !same_file(&sb, &k->seen));
    if (changed) {
        ct_tokens *t = NULL;
        char why[300] = "";
        int rc = ct_tokens_load(k->path, &t, why, sizeof why);
        if (rc == 0 && d->cfg &&
            ct_auth_check_clash(d->cfg, t, why, sizeof why)) {
            ct_tokens_free(t);
            rc = CT_ECONFIG;
        }
        if (rc) {
            /* The running store stays: a half-written or wrong file must
             * not lock everyone out, nor let anyone in. */
            ct_log_error(UNIT, "%s not re-read: %s", k->path, why);
        } else {
            swap_in(k, t);
            k->audit_pending = true;
            ct_log_info(UNIT, "%s re-read: %zu entries", k->path,
                        ct_tokens_count(t));
        }
        k->have_seen = exists;
        if (exists)
            k->seen = sb;
    }
    if (k->audit_pending)
        queue_audit(k);
    if (d->clock && !d->stopping)
        ct_timer_start(&k->poll, ct_clock_now(d->clock) + POLL_MS, on_poll, k);
}

/* ---- edits from the API ------------------------------------------------ */

int ct_daemon_tokens_edit(ct_daemon *d, int (*fn)(ct_tokens *t, void *arg),
                          void *arg, char *why, size_t n)
{
    ct_daemon__tokens *k = d->tk;
    if (!k) {
        snprintf(why, n, "the token store is not open");
        return CT_ESTATE;
    }
    int lock = -1;
    ct_tokens *t = NULL;
    int rc = ct_tokens_edit_begin(k->path, &lock, &t, why, n);
    if (rc)
        return rc;
    if ((rc = fn(t, arg))) {
        ct_tokens_edit_end(k->path, lock, t, false, NULL, 0);
        ct_tokens_free(t);
        return rc;
    }
    if ((rc = ct_tokens_edit_end(k->path, lock, t, true, why, n))) {
        ct_tokens_free(t);
        return rc;
    }
    swap_in(k, t);
    note_identity(k);
    /* Audited in the caller's write; should its group fail, the next
     * poll audits it again (token_seen is then still behind). */
    k->audit_pending = true;
    int events = 0;
    rc = ct_token_audit_sync(bus_of(d), t, &events);
    if (rc)
        snprintf(why, n, "auditing the change failed: %s", ct_strerror(rc));
    return rc;
}

/* ---- life cycle -------------------------------------------------------- */

int ct_daemon__tokens_start(ct_daemon *d)
{
    ct_daemon__tokens *k = calloc(1, sizeof *k);
    if (!k)
        return CT_ENOMEM;
    k->d = d;
    if (!(k->path = ct_tokens_path(d->cfg->db_path))) {
        free(k);
        return CT_ENOMEM;
    }
    d->tk = k;
    ct_timer_init(d->clock, &k->poll);
    int lock = -1;
    ct_tokens *t = NULL;
    char why[300] = "";
    int rc = ct_tokens_edit_begin(k->path, &lock, &t, why, sizeof why);
    if (rc) {
        ct_log_error(UNIT, "cannot read the token store: %s", why);
        return rc;
    }
    /* In one transaction: migration 9's displays move in, and whatever
     * changed while the daemon was down is audited. The file is saved
     * before the commit, so a failure leaves at worst a moved display
     * whose table row is still there (moved again, by hash, not twice). */
    int moved = 0, events = 0;
    if ((rc = ct_store_begin(d->store)))
        goto fail;
    rc = ct_token_import_displays(d->store, t, &moved);
    if (!rc && moved)
        rc = ct_tokens_edit_end(k->path, lock, t, true, why, sizeof why);
    else
        ct_tokens_edit_end(k->path, lock, t, false, NULL, 0);
    lock = -1;
    if (!rc && !(rc = ct_auth_check_clash(d->cfg, t, why, sizeof why)))
        rc = ct_token_audit_sync(bus_of(d), t, &events);
    if (rc) {
        ct_store_rollback(d->store);
        goto fail;
    }
    if ((rc = ct_store_commit(d->store)))
        goto fail;
    if (moved)
        ct_log_info(UNIT, "%d display credential%s moved into %s", moved,
                    moved == 1 ? "" : "s", k->path);
    swap_in(k, t);
    note_identity(k);
    ct_log_info(UNIT, "%s: %zu entries%s", k->path, ct_tokens_count(t),
                events ? ", changes audited" : "");
    ct_timer_start(&k->poll, ct_clock_now(d->clock) + POLL_MS, on_poll, k);
    return 0;
fail:
    if (lock >= 0)
        ct_tokens_edit_end(k->path, lock, t, false, NULL, 0);
    ct_tokens_free(t);
    ct_log_error(UNIT, "cannot open the token store %s: %s", k->path,
                 why[0] ? why : ct_strerror(rc));
    return rc;
}

void ct_daemon__tokens_stop(ct_daemon *d)
{
    if (d->tk)
        ct_timer_stop(&d->tk->poll);
}

void ct_daemon__tokens_free(ct_daemon *d)
{
    ct_daemon__tokens *k = d->tk;
    if (!k)
        return;
    ct_tokens_free(k->t);
    free(k->path);
    free(k);
    d->tk = NULL;
}
