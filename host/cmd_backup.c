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
#include <getopt.h>
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

/* 0 with *a filled and a->path set; -1 when the help was shown; or the
 * exit status of a usage or config error. */
static int parse(const char *cmd, int argc, char **argv, args *a)
{
    enum { OPT_DB = 256, OPT_KEEP };
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"config", required_argument, NULL, 'c'},
        {"keep", required_argument, NULL, OPT_KEEP},
        CT_CLI_COMMON_OPTS,
    };
    memset(a, 0, sizeof *a);
    int c;
    char *end;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: a->db = optarg; break;
        case 'c': a->config = optarg; break;
        case OPT_KEEP:
            errno = 0;
            a->keep = strtol(optarg, &end, 10);
            if (strcmp(cmd, "backup") != 0)
                return ct_cli_usage_error(cmd, "unknown option '--keep'");
            if (errno || *end || a->keep < 1 || a->keep > 100000)
                return ct_cli_usage_error(cmd, "--keep: expected a count "
                                          "of 1 or more, got '%s'", optarg);
            break;
        default:
            /* -1 tells the caller the help was shown (exit 0). */
            if ((c = ct_cli_common_opt(cmd, c, argv, &a->log_format,
                                       &a->log_level)) >= 0)
                return c == CT_EXIT_OK ? -1 : c;
        }
    }
    if (optind >= argc)
        return ct_cli_usage_error(cmd, "missing %s", strcmp(cmd, "backup")
                                                         ? "BACKUP"
                                                         : "OUT");
    if (optind + 1 < argc)
        return ct_cli_usage_error(cmd, "unexpected argument '%s'",
                                  argv[optind + 1]);
    if (a->db && a->config)
        return ct_cli_usage_error(cmd, "give --db or --config, not both");
    a->first = optind;
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

int ct_cmd_standby(int argc, char **argv)
{
    enum { OPT_FROM = 256, OPT_DB, OPT_POLL, OPT_UNTIL_SEQ, OPT_UNTIL };
    static const struct option opts[] = {
        {"from", required_argument, NULL, OPT_FROM},
        {"db", required_argument, NULL, OPT_DB},
        {"poll", required_argument, NULL, OPT_POLL},
        {"until-seq", required_argument, NULL, OPT_UNTIL_SEQ},
        {"until", required_argument, NULL, OPT_UNTIL},
        CT_CLI_COMMON_OPTS,
    };
    const char *from = NULL, *db = NULL, *log_format = NULL,
               *log_level = NULL;
    int64_t poll = 200;
    ct_ship_until until = {.seq = 0, .at = INT64_MAX};
    bool limited = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_FROM: from = optarg; break;
        case OPT_DB: db = optarg; break;
        case OPT_POLL:
            if (ct_parse_duration_ms(optarg, &poll) || poll < 10 ||
                poll > 60000)
                return ct_cli_usage_error("standby", "--poll: expected a "
                                          "duration from 10ms to 1m, got "
                                          "'%s'", optarg);
            break;
        case OPT_UNTIL_SEQ: {
            char *end;
            errno = 0;
            long long v = strtoll(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1)
                return ct_cli_usage_error("standby", "--until-seq: expected "
                                          "an audit sequence number of 1 or "
                                          "more, got '%s'", optarg);
            until.seq = v;
            limited = true;
            break;
        }
        case OPT_UNTIL:
            if (ct_clock_parse(optarg, &until.at))
                return ct_cli_usage_error("standby", "--until: expected a "
                                          "time YYYY-MM-DDTHH:MM[:SS]Z, got "
                                          "'%s'", optarg);
            limited = true;
            break;
        default:
            if ((c = ct_cli_common_opt("standby", c, argv, &log_format,
                                       &log_level)) >= 0)
                return c;
        }
    }
    if (optind < argc)
        return ct_cli_usage_error("standby", "unexpected argument '%s'",
                                  argv[optind]);
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
    return ct_ship_follow(from, db, (int)poll, limited ? &until : NULL,
                          &standby_stop)
               ? CT_EXIT_FAIL
               : CT_EXIT_OK;
}
