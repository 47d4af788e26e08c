/*
 * The daemon's guard over its database (docs/operations.md, "Self-checks"):
 *
 * - at start: the lock ("<db>.lock", so a second daemon on the same file
 *   is refused), a database missing, empty or older than its audit head
 *   file is refused unless --restored, then quick_check and the whole
 *   audit chain: a corrupt file or a broken chain is refused;
 * - every second: whether the file is still the one open (deleted or
 *   replaced: every write refused, health 503 "database file gone");
 * - every --check-every (6 h by default): integrity_check and the chain
 *   on a connection of its own in libuv's thread pool, so the loop keeps
 *   serving; a failure refuses writes (a broken chain stops appending);
 * - degraded states (file gone, disk full, read-only, corrupt, I/O
 *   errors) with their reason in GET /v1/health and in the metrics;
 * - backups asked for by POST /v1/admin/backup, in the thread pool too.
 */
#include "daemon_int.h"

#include "audit.h"
#include "backup.h"
#include "error.h"
#include "log.h"
#include "ship.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define UNIT "daemon"
#define FILE_CHECK_MS 1000

/* A check or backup running in the thread pool. Owned by the guard. */
typedef struct job {
    uv_work_t work;
    struct ct_daemon__guard *g;
    bool running;
    bool backup;          /* else an integrity and chain check */
    char *path;           /* the backup's target */
    int rc;
    ct_backup_report report;
    int64_t finished;     /* host clock */
} job;

struct ct_daemon__guard {
    ct_daemon *d;
    ct_store_lock *lock;
    uv_timer_t file_timer; /* monotonic: a clock step must not stall it */
    bool file_timer_open;
    ct_timer check_timer;
    int64_t check_every_ms;
    int degraded;          /* a CT_E* code, 0 when healthy */
    char reason[256];
    int64_t degraded_since;
    ct_prom_family *m_degraded, *m_checks, *m_check_seconds, *m_check_last,
        *m_backups, *m_backup_seconds, *m_backup_last;
    job check, backup;
    char *db_path;         /* for the jobs: the config may be reloaded */
    int64_t tick_wall, tick_mono; /* at the last file tick, for steps */
    ct_ship *ship;         /* --ship, or NULL */
    ct_commit_req step_req;
    bool step_queued;
    int64_t step_behind;   /* ms the clock went back */
};

static const struct {
    int err;
    const char *label;
    const char *what;
} reasons[] = {
    {CT_EGONE, "file_gone", "database file gone"},
    {CT_EFULL, "disk_full", "database or disk is full"},
    {CT_EREADONLY, "read_only", "database is read-only"},
    {CT_ECORRUPT, "corrupt", "database corrupt"},
    {CT_EIO, "io_error", "input/output error on the database"},
};

/* ---- degraded states ---------------------------------------------------- */

static void set_gauges(struct ct_daemon__guard *g)
{
    for (size_t i = 0; g->m_degraded && i < CT_ARRAY_LEN(reasons); i++)
        ct_prom_set(g->m_degraded, (const char *[]){reasons[i].label},
                    g->degraded == reasons[i].err);
}

/* Enters (or stays in) a degraded state. Gone and corrupt are for good;
 * the others end when a write commits again. */
static void degrade(struct ct_daemon__guard *g, int err, const char *detail)
{
    size_t i = 0;
    while (i < CT_ARRAY_LEN(reasons) && reasons[i].err != err)
        i++;
    if (i == CT_ARRAY_LEN(reasons))
        return;
    if (g->degraded == CT_EGONE || g->degraded == CT_ECORRUPT)
        return; /* the worse state stays */
    if (g->degraded == err) {
        if (detail && !strchr(g->reason, ':'))
            snprintf(g->reason, sizeof g->reason, "%s: %s", reasons[i].what,
                     detail);
        return;
    }
    g->degraded = err;
    g->degraded_since = g->d->clock ? ct_clock_now(g->d->clock) : 0;
    snprintf(g->reason, sizeof g->reason, "%s%s%s", reasons[i].what,
             detail ? ": " : "", detail ? detail : "");
    ct_log_error(UNIT, "degraded: %s", g->reason);
    if (err == CT_EGONE || err == CT_ECORRUPT)
        ct_store_refuse_writes(g->d->store, err);
    set_gauges(g);
}

static void recover(struct ct_daemon__guard *g)
{
    if (!g->degraded || g->degraded == CT_EGONE ||
        g->degraded == CT_ECORRUPT)
        return;
    ct_log_info(UNIT, "no longer degraded (%s): a write committed",
                g->reason);
    g->degraded = 0;
    g->reason[0] = '\0';
    set_gauges(g);
}

void ct_daemon__guard_outcome(ct_daemon *d, int err, bool committed)
{
    struct ct_daemon__guard *g = d->guard;
    if (!g)
        return;
    if (committed) {
        recover(g);
        /* Before the writers hear their answer (dispatch comes after
         * the group's report): acknowledged means shipped too. */
        ct_ship_commit(g->ship);
    }
    else if (err)
        degrade(g, err, NULL);
}

bool ct_daemon__guard_degraded(ct_daemon *d, const char **reason)
{
    struct ct_daemon__guard *g = d->guard;
    if (!g || !g->degraded)
        return false;
    *reason = g->reason;
    return true;
}

/* ---- start-up checks ---------------------------------------------------- */

static bool file_empty_or_missing(const char *path)
{
    struct stat sb;
    return stat(path, &sb) != 0 || sb.st_size == 0;
}

static int accept_restore(ct_daemon *d, const ct_audit_anchor *file)
{
    char by[160];
    ct_backup_who(by, sizeof by);
    ct_log_warn(UNIT, "--restored: accepting %s as a restore; the head "
                "file's seq %" PRId64 " is discarded and recorded",
                d->cfg->db_path, file->seq);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return ct_backup_record_restore(d->store, now,
                                    "in place (caretide run --restored)", by,
                                    file);
}

/* The anchor, quick_check and the chain, on the open store. */
static int check_store(ct_daemon *d)
{
    const char *path = d->cfg->db_path;
    char why[400];
    ct_audit_anchor file;
    int rc = ct_audit_check_anchor(d->store, &file, why, sizeof why);
    if (rc == CT_ECORRUPT && d->opts.restored)
        rc = accept_restore(d, &file);
    else if (rc == CT_ECORRUPT) {
        ct_log_error(UNIT, "%s; refusing to start. Restore the newest "
                     "backup (caretide restore BACKUP --db %s), or start "
                     "with --restored if this database was restored on "
                     "purpose", why, path);
        return rc;
    } else if (d->opts.restored && (rc == 0 || rc == CT_ENOTFOUND)) {
        ct_log_info(UNIT, "--restored: %s agrees with its head file; "
                    "nothing to accept", path);
    }
    if (rc && rc != CT_ENOTFOUND)
        return rc;

    if ((rc = ct_store_check_integrity(d->store, false, why, sizeof why))) {
        ct_log_error(UNIT, "%s fails quick_check: %s; refusing to start. "
                     "Restore the newest backup (caretide restore BACKUP "
                     "--db %s)", path, why, path);
        return rc;
    }
    ct_audit_report ar;
    rc = ct_audit_verify(d->store, &ar);
    if (rc == CT_ECORRUPT) {
        ct_log_error(UNIT, "%s: audit chain broken at seq %" PRId64 ": %s; "
                     "refusing to start, since nothing may be appended to "
                     "a broken chain. See caretide audit verify; restore "
                     "the newest backup", path, ar.first_bad, ar.reason);
        return rc;
    }
    if (rc)
        ct_log_error(UNIT, "%s: cannot verify the audit chain: %s", path,
                     ct_strerror(rc));
    return rc;
}

int ct_daemon__guard_open(ct_daemon *d)
{
    struct ct_daemon__guard *g = calloc(1, sizeof *g);
    if (!g)
        return CT_ENOMEM;
    d->guard = g;
    g->d = d;
    const char *path = d->cfg->db_path;
    g->db_path = ct_strdup(path);
    if (!g->db_path)
        return CT_ENOMEM;
    bool memory = strcmp(path, ":memory:") == 0;
    long holder = 0;
    int rc = memory ? 0 : ct_store_lock_acquire(path, &g->lock, &holder);
    if (rc == CT_EBUSY) {
        ct_log_error(UNIT, "%s is in use by another caretide (pid %ld; "
                     "lock file %s.lock): refusing to start a second daemon "
                     "on it", path, holder, path);
        return rc;
    }
    if (rc)
        return rc;

    ct_audit_anchor file;
    rc = memory ? CT_ENOTFOUND : ct_audit_read_anchor(path, &file);
    if (rc == CT_ECORRUPT && !d->opts.restored) {
        ct_log_error(UNIT, "%s.audit-head is malformed; refusing to start "
                     "(see docs/operations.md)", path);
        return rc;
    }
    if (rc == 0 && file.seq > 0 && file_empty_or_missing(path) &&
        !d->opts.restored) {
        ct_log_error(UNIT, "%s is missing or empty but %s.audit-head records "
                     "audit seq %" PRId64 ": the database was deleted or "
                     "replaced; refusing to start on an empty one. Restore "
                     "the newest backup (caretide restore BACKUP --db %s), "
                     "or start with --restored to begin again on purpose",
                     path, path, file.seq, path);
        return CT_ECORRUPT;
    }
    ct_store_options so = {.sync = d->cfg->sync};
    if ((rc = ct_store_open(path, &so, &d->store)))
        return rc;
    return memory ? 0 : check_store(d);
}

/* ---- the periodic checks ------------------------------------------------ */

/*
 * The file is gone but this connection still reaches its data (the
 * unlinked inode and WAL stay readable while open): copy everything that
 * was acknowledged into "<db>.rescued-TIME.db", anchored and verified
 * like a backup, for `caretide restore`. Blocks the loop for the copy,
 * in a state where no write is accepted anyway.
 */
static void rescue(struct ct_daemon__guard *g)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    ct_buf b = {0};
    if (ct_buf_printf(&b, "%s.rescued-%s.db", g->db_path, stamp))
        return;
    ct_backup_report r;
    if (ct_backup_make_from(g->d->store, b.data, &r) == 0) {
        ct_log_error(UNIT, "every acknowledged write is rescued in %s "
                     "(audit head seq %" PRId64 "): stop the daemon and "
                     "run caretide restore %s --db %s", b.data, r.head.seq,
                     b.data, g->db_path);
        snprintf(g->reason, sizeof g->reason, "database file gone: %s was "
                 "deleted or replaced; acknowledged writes rescued in %s",
                 g->db_path, b.data);
    } else {
        ct_log_error(UNIT, "cannot rescue the data of %s: %s", g->db_path,
                     r.problem);
    }
    ct_buf_free(&b);
}

/* ---- clock steps --------------------------------------------------------- */

/* A step back of more than this between two ticks is reported. */
#define STEP_TOLERANCE_MS 1000

static int step_write(ct_store *s, void *arg)
{
    struct ct_daemon__guard *g = arg;
    ct_json_member m[1] = {{.key = "behind_ms", .num = g->step_behind}};
    if (!g->d->cap) /* before the host is up: the log itself */
        return ct_audit_append_members(s, ct_clock_now(g->d->clock), "host",
                                       "clock.stepped_back", m, 1, NULL);
    return ct_events_record_members(ct_capacity_events(g->d->cap), "host",
                                    "clock.stepped_back", m, 1,
                                    CT_EVENT_QUIET, NULL);
}

static void step_written(ct_commit_req *r, int status)
{
    struct ct_daemon__guard *g = r->data;
    g->step_queued = false;
    if (status || r->result)
        ct_log_error(UNIT, "cannot audit the clock step: %s",
                     ct_strerror(status ? status : r->result));
}

/*
 * The wall clock against the monotonic one between two ticks: a step
 * back (by hand, a bad time source, a restored VM) is logged and audited
 * as clock.stepped_back. Audit times themselves never go backwards: each
 * event keeps at least its predecessor's time (audit.c).
 */
static void watch_clock(struct ct_daemon__guard *g)
{
    ct_daemon *d = g->d;
    int64_t wall = ct_clock_now(d->clock);
    int64_t mono = (int64_t)(uv_hrtime() / 1000000);
    if (g->tick_mono) {
        int64_t behind = (mono - g->tick_mono) - (wall - g->tick_wall);
        if (behind > STEP_TOLERANCE_MS && !g->step_queued &&
            !d->stopping) {
            ct_log_warn(UNIT, "the wall clock went back by %" PRId64 " ms; "
                        "audit times hold until it catches up", behind);
            g->step_behind = behind;
            g->step_req.data = g;
            g->step_queued = ct_commit_write(d->commit, &g->step_req,
                                             step_write, g,
                                             step_written) == 0;
        }
    }
    g->tick_wall = wall;
    g->tick_mono = mono;
}

static void on_file_tick(uv_timer_t *t)
{
    struct ct_daemon__guard *g = t->data;
    ct_daemon *d = g->d;
    if (d->stopping || !d->clock)
        return;
    ct_ship_sync(g->ship);
    watch_clock(g);
    if (ct_store_check_file(d->store) == CT_EGONE) {
        char detail[300];
        snprintf(detail, sizeof detail, "%s was deleted or replaced; no "
                 "write is acknowledged any more", g->db_path);
        degrade(g, CT_EGONE, detail);
        if (ct_store_in_transaction(d->store))
            return; /* a timer's write is open: rescue at the next tick */
        rescue(g);
        uv_timer_stop(t); /* for good: no need to look again */
    }
}

/* In the thread pool: a connection of its own; no logging state shared
 * with the loop beyond ct_log's line writes. */
static void check_work(uv_work_t *w)
{
    job *j = w->data;
    if (j->backup)
        j->rc = ct_backup_make(j->g->db_path, j->path, &j->report);
    else
        j->rc = ct_backup_verify(j->g->db_path, &j->report);
}

static void check_done(uv_work_t *w, int status)
{
    job *j = w->data;
    struct ct_daemon__guard *g = j->g;
    ct_daemon *d = g->d;
    j->running = false;
    j->finished = d->clock ? ct_clock_now(d->clock) : 0;
    if (status)
        j->rc = ct_err_from_uv(status);
    const char *result = j->rc ? "failed" : "ok";
    if (j->backup) {
        ct_prom_add(g->m_backups, (const char *[]){result}, 1);
        if (!j->rc) {
            ct_prom_set(g->m_backup_seconds, NULL, j->report.seconds);
            ct_prom_set(g->m_backup_last, NULL, (double)time(NULL));
        }
        return; /* ct_backup_make logged either way */
    }
    ct_prom_add(g->m_checks, (const char *[]){result}, 1);
    ct_prom_set(g->m_check_seconds, NULL, j->report.seconds);
    if (!j->rc) {
        ct_prom_set(g->m_check_last, NULL, (double)time(NULL));
        ct_log_info(UNIT, "self-check of %s: integrity ok, audit chain "
                    "intact (%" PRId64 " events) in %.2f s", g->db_path,
                    j->report.events, j->report.seconds);
    } else if (j->rc == CT_ECORRUPT) {
        degrade(g, CT_ECORRUPT, j->report.problem);
    } else {
        ct_log_error(UNIT, "self-check of %s could not run: %s (%s)",
                     g->db_path, ct_strerror(j->rc), j->report.problem);
    }
}

static void queue_job(struct ct_daemon__guard *g, job *j)
{
    j->g = g;
    j->work.data = j;
    j->running = true;
    int rc = uv_queue_work(ct_daemon_loop(g->d), &j->work, check_work,
                           check_done);
    if (rc) {
        j->running = false;
        j->rc = ct_err_from_uv(rc);
        ct_log_error(UNIT, "cannot queue a background job: %s",
                     uv_strerror(rc));
    }
}

static void on_check_tick(ct_timer *t, void *data)
{
    struct ct_daemon__guard *g = data;
    ct_daemon *d = g->d;
    if (d->stopping)
        return;
    if (!g->check.running && g->degraded != CT_EGONE) {
        g->check.backup = false;
        queue_job(g, &g->check);
    }
    ct_timer_start(t, ct_clock_now(d->clock) + g->check_every_ms,
                   on_check_tick, g);
}

/* ---- backups from the API ----------------------------------------------- */

int ct_daemon_backup_start(ct_daemon *d, const char *name, char **path)
{
    struct ct_daemon__guard *g = d->guard;
    *path = NULL;
    if (!g || strcmp(g->db_path, ":memory:") == 0)
        return CT_EUNSUPPORTED;
    if (g->backup.running)
        return CT_EBUSY;
    char *copy = ct_strdup(g->db_path);
    if (!copy)
        return CT_ENOMEM;
    ct_buf b = {0};
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    int rc = name ? ct_buf_printf(&b, "%s/backups/%s", dirname(copy), name)
                  : ct_buf_printf(&b, "%s/backups/caretide-%s.db",
                                  dirname(copy), stamp);
    free(copy);
    if (rc) {
        ct_buf_free(&b);
        return rc;
    }
    /* The directory beside the database; made once, private. */
    char *dir = ct_strdup(b.data);
    if (!dir) {
        ct_buf_free(&b);
        return CT_ENOMEM;
    }
    if (mkdir(dirname(dir), 0750) != 0 && errno != EEXIST) {
        ct_log_error(UNIT, "cannot make the backup directory for %s: %s",
                     b.data, strerror(errno));
        free(dir);
        ct_buf_free(&b);
        return CT_EIO;
    }
    free(dir);
    struct stat sb;
    if (stat(b.data, &sb) == 0) {
        ct_buf_free(&b);
        return CT_EEXISTS;
    }
    free(g->backup.path);
    g->backup.path = b.data;
    g->backup.backup = true;
    memset(&g->backup.report, 0, sizeof g->backup.report);
    queue_job(g, &g->backup);
    if (!g->backup.running)
        return g->backup.rc;
    *path = g->backup.path;
    return 0;
}

/* ---- health and metrics ------------------------------------------------- */

static json_t *job_json(const job *j, const char *path_key)
{
    if (j->running)
        return json_pack("{s:s, s:s?}", "state", "running", path_key,
                         j->backup ? j->path : NULL);
    if (!j->finished)
        return NULL;
    char when[40];
    ct_clock_format(j->finished, when, sizeof when);
    if (j->rc)
        return json_pack("{s:s, s:s, s:s, s:s?}", "state", "failed", "at",
                         when, "problem", j->report.problem, path_key,
                         j->backup ? j->path : NULL);
    return json_pack("{s:s, s:s, s:I, s:I, s:f, s:s?}", "state", "ok", "at",
                     when, "head_seq", (json_int_t)j->report.head.seq,
                     "events", (json_int_t)j->report.events, "seconds",
                     j->report.seconds, path_key,
                     j->backup ? j->path : NULL);
}

static void health(ct_daemon *d, json_t *h, void *data)
{
    (void)d;
    struct ct_daemon__guard *g = data;
    json_t *c = job_json(&g->check, "path");
    if (c)
        json_object_set_new(h, "self_check", c);
    json_t *b = job_json(&g->backup, "path");
    if (b)
        json_object_set_new(h, "backup", b);
}

static int wal_bytes(ct_prom_family *f, void *data)
{
    struct ct_daemon__guard *g = data;
    ct_buf b = {0};
    int rc = ct_buf_printf(&b, "%s-wal", g->db_path);
    struct stat sb;
    if (!rc)
        rc = ct_prom_set(f, NULL, stat(b.data, &sb) == 0
                                      ? (double)sb.st_size : 0.0);
    ct_buf_free(&b);
    return rc;
}

static int register_metrics(struct ct_daemon__guard *g)
{
    ct_prom *p = ct_daemon_prom(g->d);
    ct_prom_family *f;
    int err = ct_prom_gauge(p, "caretide_degraded",
                            "1 for the reason the daemon is degraded (it "
                            "then refuses writes or they fail)",
                            (const char *[]){"reason", NULL},
                            &g->m_degraded);
    err = err ? err
              : ct_prom_counter(p, "caretide_self_checks_total",
                                "Background integrity and audit chain "
                                "checks by result",
                                (const char *[]){"result", NULL},
                                &g->m_checks);
    err = err ? err
              : ct_prom_gauge(p, "caretide_self_check_seconds",
                              "Duration of the last background check", NULL,
                              &g->m_check_seconds);
    err = err ? err
              : ct_prom_gauge(p, "caretide_self_check_last_ok_seconds",
                              "When a background check last passed, Unix "
                              "time", NULL, &g->m_check_last);
    err = err ? err
              : ct_prom_counter(p, "caretide_backups_total",
                                "Backups asked for through the API, by "
                                "result",
                                (const char *[]){"result", NULL},
                                &g->m_backups);
    err = err ? err
              : ct_prom_gauge(p, "caretide_backup_seconds",
                              "Duration of the last successful backup", NULL,
                              &g->m_backup_seconds);
    err = err ? err
              : ct_prom_gauge(p, "caretide_backup_last_ok_seconds",
                              "When a backup through the API last "
                              "succeeded, Unix time", NULL,
                              &g->m_backup_last);
    err = err ? err
              : ct_prom_gauge_fn(p, "caretide_wal_bytes",
                                 "Size of the database's write-ahead log",
                                 NULL, wal_bytes, g, &f);
    if (!err)
        set_gauges(g);
    return err;
}

int ct_daemon__guard_start(ct_daemon *d)
{
    struct ct_daemon__guard *g = d->guard;
    int err = register_metrics(g);
    if (err || (err = ct_daemon_on_health(d, health, g)))
        return err;
    g->check_every_ms = d->opts.check_every_ms;
    ct_timer_init(d->clock, &g->check_timer);
    if (strcmp(g->db_path, ":memory:") == 0)
        return 0;
    if (d->opts.ship_dir &&
        (err = ct_ship_start(d->store, d->opts.ship_dir, &g->ship)))
        return err;
    uv_timer_init(ct_daemon_loop(d), &g->file_timer);
    g->file_timer.data = g;
    g->file_timer_open = true;
    uv_timer_start(&g->file_timer, on_file_tick, FILE_CHECK_MS,
                   FILE_CHECK_MS);
    int64_t now = ct_clock_now(d->clock);
    if (g->check_every_ms > 0)
        ct_timer_start(&g->check_timer, now + g->check_every_ms,
                       on_check_tick, g);
    return 0;
}

void ct_daemon__guard_stop(ct_daemon *d)
{
    struct ct_daemon__guard *g = d->guard;
    if (!g || !g->file_timer_open)
        return;
    g->file_timer_open = false;
    uv_close((uv_handle_t *)&g->file_timer, NULL);
}

void ct_daemon__guard_detach(ct_daemon *d)
{
    struct ct_daemon__guard *g = d->guard;
    if (!g)
        return;
    ct_ship_free(g->ship);
    g->ship = NULL;
}

void ct_daemon__guard_free(ct_daemon *d)
{
    struct ct_daemon__guard *g = d->guard;
    if (!g)
        return;
    ct_store_lock_release(g->lock);
    free(g->backup.path);
    free(g->db_path);
    free(g);
    d->guard = NULL;
}
