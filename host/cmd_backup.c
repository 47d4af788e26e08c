/*
 * caretide backup and caretide restore (backup.h, docs/operations.md).
 */
#include "cli.h"

#include "backup.h"
#include "clock.h"
#include "config.h"
#include "diag.h"
#include "error.h"
#include "ship.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STAMP_PREFIX "caretide-"
#define STAMP_LEN 16 /* YYYYmmddTHHMMSSZ */

/* The options both commands take, and the database they name. */
typedef struct args {
    const char *db, *config, *log_format, *log_level;
    long keep;
    int first; /* optind of the first operand */
    const char *path; /* the database: --db or the config's */
    char *owned; /* path when made here; the caller frees it */
} args;

/* The database: --db, else the config's storage.path (resolved against
 * the config file's directory, as `run` does). *owned is freed by the
 * caller. */
static const char *database(const args *a, char **owned)
{
    *owned = NULL;
    if (a->db)
        return a->db;
    ct_config *cfg;
    if (ct_cli_load_config(a->config, &cfg, stderr))
        return NULL;
    ct_buf b = {0};
    int rc;
    if (cfg->db_path[0] != '/' && strcmp(cfg->dir, ".") != 0)
        rc = ct_buf_printf(&b, "%s/%s", cfg->dir, cfg->db_path);
    else
        rc = ct_buf_printf(&b, "%s", cfg->db_path);
    ct_config_free(cfg);
    if (rc) {
        ct_buf_free(&b);
        return NULL;
    }
    *owned = b.data;
    return b.data;
}

/* --keep N, backup's only: how many backups the folder keeps. */
static int keep_count(const char *cmd, const char *value, void *to)
{
    char *end;
    long *keep = to;
    errno = 0;
    *keep = strtol(value, &end, 10);
    if (errno || *end || *keep < 1 || *keep > 100000)
        return ct_cli_usage_error(cmd, "--keep: expected a count of 1 or "
                                       "more, got '%s'",
                                  value);
    return -1;
}

/* 0 with *a filled and a->path set; -1 when the help was shown; or the
 * exit status of a usage or config error. */
static int parse(const char *cmd, int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    ct_cli_opt opts[] = {
        {"db", 0, .text = &a->db},
        {"config", 'c', .text = &a->config},
        {"keep", 0, .parse = keep_count, .to = &a->keep, .has_value = true},
        {NULL},
    };
    if (strcmp(cmd, "backup") != 0)
        opts[2] = (ct_cli_opt){NULL}; /* --keep is backup's */
    int first, stop = ct_cli_parse(cmd, argc, argv, opts, &a->log_format,
                                   &a->log_level, &first);
    /* -1 tells the caller the help was shown (exit 0). */
    if (stop >= 0)
        return stop == CT_EXIT_OK ? -1 : stop;
    if (first >= argc)
        return ct_cli_usage_error(cmd, "missing %s", strcmp(cmd, "backup")
                                                         ? "BACKUP"
                                                         : "OUT");
    if (first + 1 < argc)
        return ct_cli_usage_error(cmd, "unexpected argument '%s'",
                                  argv[first + 1]);
    if (a->db && a->config)
        return ct_cli_usage_error(cmd, "give --db or --config, not both");
    a->first = first;
    int rc = ct_cli_logging(cmd, a->log_format, a->log_level);
    if (rc)
        return rc;
    a->path = database(a, &a->owned);
    return a->path ? 0 : CT_EXIT_FAIL;
}

static bool is_stamped(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, STAMP_PREFIX, strlen(STAMP_PREFIX)) == 0 &&
           n == strlen(STAMP_PREFIX) + STAMP_LEN + 3 &&
           strcmp(name + n - 3, ".db") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keeps the newest keep timestamped backups in dir: the names sort by
 * time. Only caretide-YYYYmmddTHHMMSSZ.db files (and their head files)
 * are ever removed. */
static void prune(const char *dir, long keep)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (!is_stamped(e->d_name))
            continue;
        if (ct_grow(&names, &cap, n, sizeof *names, 16))
            break;
        names[n] = ct_strdup(e->d_name);
        if (names[n])
            n++;
    }
    closedir(dp);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if ((long)(n - i) > keep) {
            ct_buf p = {0};
            if (ct_buf_printf(&p, "%s/%s", dir, names[i]) == 0) {
                unlink(p.data);
                size_t base = p.len;
                ct_buf_printf(&p, ".audit-head");
                unlink(p.data);
                p.len = base;
                p.data[base] = '\0';
                ct_buf_printf(&p, ".tokens");
                unlink(p.data);
                printf("removed %s/%s (keeping the newest %ld)\n", dir,
                       names[i], keep);
            }
            ct_buf_free(&p);
        }
        free(names[i]);
    }
    free(names);
}

int ct_cmd_backup(int argc, char **argv)
{
    args a;
    int rc = parse("backup", argc, argv, &a);
    if (rc)
        return rc < 0 ? CT_EXIT_OK : rc;
    const char *db = a.path;
    const char *out = argv[a.first];
    struct stat sb;
    ct_buf target = {0}, dir = {0};
    bool into_dir = stat(out, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (into_dir) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
        rc = ct_buf_printf(&target, "%s/" STAMP_PREFIX "%s.db", out, stamp);
        rc = rc ? rc : ct_buf_printf(&dir, "%s", out);
    } else {
        rc = ct_buf_printf(&target, "%s", out);
        if (a.keep)
            fprintf(stderr, "caretide backup: --keep applies only when OUT "
                            "is a directory; ignored\n");
    }
    int status = CT_EXIT_FAIL;
    if (rc)
        goto out;
    ct_backup_report r;
    rc = ct_backup_make(db, target.data, &r);
    if (rc) {
        fprintf(stderr, "caretide backup: %s\n", r.problem);
        goto out;
    }
    printf("backup %s: %" PRId64 " audit events, head seq %" PRId64
           " (%.16s...), %" PRId64 " bytes in %.2f s; integrity and audit "
           "chain verified\n",
           target.data, r.events, r.head.seq, r.head.hash, r.bytes,
           r.seconds);
    printf("anchor %s.audit-head\n", target.data);
    if (r.tokens)
        printf("tokens %s.tokens (the named users' token store)\n",
               target.data);
    if (into_dir && a.keep)
        prune(dir.data, a.keep);
    status = CT_EXIT_OK;
out:
    ct_buf_free(&target);
    ct_buf_free(&dir);
    free(a.owned);
    return status;
}

int ct_cmd_restore(int argc, char **argv)
{
    args a;
    int rc = parse("restore", argc, argv, &a);
    if (rc)
        return rc < 0 ? CT_EXIT_OK : rc;
    const char *db = a.path;
    const char *backup = argv[a.first];
    char by[160];
    ct_backup_who(by, sizeof by);
    ct_backup_report r;
    rc = ct_backup_restore(backup, db, by, &r);
    if (rc) {
        fprintf(stderr, "caretide restore: %s\n", r.problem);
        free(a.owned);
        return CT_EXIT_FAIL;
    }
    printf("restored %s from %s: the chain now ends at seq %" PRId64
           " (store.restored by %s); the replaced files were kept beside "
           "it as %s.replaced-*\n",
           db, backup, r.head.seq, by, db);
    if (r.tokens)
        printf("installed the backup's token store (there was none)\n");
    free(a.owned);
    return CT_EXIT_OK;
}

/* ---- caretide standby ---------------------------------------------------- */

static volatile bool standby_stop;

static void on_stop_signal(int sig)
{
    (void)sig;
    standby_stop = true;
}

/* Where standby stops (--until-seq, --until): none given, it follows
 * until stopped. */
typedef struct stop_at {
    int64_t poll;
    ct_ship_until until;
    bool limited;
} stop_at;

static int poll_every(const char *cmd, const char *value, void *to)
{
    stop_at *s = to;
    if (ct_parse_duration_ms(value, &s->poll) || s->poll < 10 ||
        s->poll > 60000)
        return ct_cli_usage_error(cmd, "--poll: expected a duration from "
                                       "10ms to 1m, got '%s'",
                                  value);
    return -1;
}

static int until_seq(const char *cmd, const char *value, void *to)
{
    stop_at *s = to;
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end || v < 1)
        return ct_cli_usage_error(cmd, "--until-seq: expected an audit "
                                       "sequence number of 1 or more, got "
                                       "'%s'",
                                  value);
    s->until.seq = v;
    s->limited = true;
    return -1;
}

static int until_time(const char *cmd, const char *value, void *to)
{
    stop_at *s = to;
    if (ct_clock_parse(value, &s->until.at))
        return ct_cli_usage_error(cmd, "--until: expected a time "
                                       "YYYY-MM-DDTHH:MM[:SS]Z, got '%s'",
                                  value);
    s->limited = true;
    return -1;
}

int ct_cmd_standby(int argc, char **argv)
{
    const char *from = NULL, *db = NULL, *log_format = NULL,
               *log_level = NULL;
    stop_at s = {.poll = 200, .until = {.seq = 0, .at = INT64_MAX}};
    const ct_cli_opt opts[] = {
        {"from", 0, .text = &from},
        {"db", 0, .text = &db},
        {"poll", 0, .parse = poll_every, .to = &s, .has_value = true},
        {"until-seq", 0, .parse = until_seq, .to = &s, .has_value = true},
        {"until", 0, .parse = until_time, .to = &s, .has_value = true},
        {NULL},
    };
    int first, stop = ct_cli_parse("standby", argc, argv, opts, &log_format,
                                   &log_level, &first);
    if (stop >= 0)
        return stop;
    if (first < argc)
        return ct_cli_usage_error("standby", "unexpected argument '%s'",
                                  argv[first]);
    if (!from || !db)
        return ct_cli_usage_error("standby", "--from DIR and --db FILE are "
                                             "both needed");
    if (ct_cli_logging("standby", log_format, log_level))
        return CT_EXIT_USAGE;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    return ct_ship_follow(from, db, (int)s.poll, s.limited ? &s.until : NULL,
                          &standby_stop)
               ? CT_EXIT_FAIL
               : CT_EXIT_OK;
}
