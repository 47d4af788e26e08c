/*
 * caretide audit verify: walk the audit log's hash chain on a database,
 * opened read-only, and name the first bad event.
 */
#include "cli.h"

#include "audit.h"
#include "clock.h"
#include "config.h"
#include "diag.h"
#include "error.h"
#include "store.h"

#include <errno.h>
#include <jansson.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One line per restore the chain records. */
static void print_restore(int64_t seq, int64_t at, const char *actor,
                          const char *payload, void *data)
{
    (void)data;
    char when[40];
    ct_clock_format(at, when, sizeof when);
    json_error_t e;
    json_t *p = json_loads(payload, 0, &e);
    printf("restored at seq %" PRId64 " (%s) by %s: backup head seq %"
           JSON_INTEGER_FORMAT ", discarded head seq %" JSON_INTEGER_FORMAT
           ", from %s\n",
           seq, when, actor, json_integer_value(json_object_get(p, "backup_seq")),
           json_integer_value(json_object_get(p, "discarded_seq")),
           json_string_value(json_object_get(p, "from"))
               ? json_string_value(json_object_get(p, "from"))
               : "?");
    json_decref(p);
}

/* Opens path read-only, never creating it; NULL with the reason printed. */
static ct_store *open_readonly(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "caretide audit: cannot open database %s: %s\n",
                path, strerror(errno));
        return NULL;
    }
    ct_store_options opts = {.readonly = true};
    ct_store *s = NULL;
    int rc = ct_store_open(path, &opts, &s);
    if (rc) {
        fprintf(stderr, "caretide audit: cannot open database %s: %s\n",
                path, ct_strerror(rc));
        return NULL;
    }
    return s;
}

/* Verifies the database at path. */
static int verify(const char *path)
{
    ct_store *s = open_readonly(path);
    if (!s)
        return CT_EXIT_FAIL;
    ct_audit_report r;
    int rc = ct_audit_verify(s, &r);
    if (rc == CT_ECORRUPT) {
        ct_store_close(s);
        printf("audit chain broken at seq %" PRId64 ": %s\n", r.first_bad,
               r.reason);
        return CT_EXIT_FAIL;
    }
    if (rc) {
        ct_store_close(s);
        fprintf(stderr, "caretide audit: cannot verify %s: %s\n", path,
                ct_strerror(rc));
        return CT_EXIT_FAIL;
    }
    printf("audit chain intact: %" PRId64 " events, head seq %" PRId64 "\n",
           r.events, r.head_seq);
    /* Restores are part of the record: say where the chain was
     * re-anchored and what it discarded. */
    rc = ct_audit_each_restore(s, print_restore, NULL);
    ct_store_close(s);
    if (rc) {
        fprintf(stderr, "caretide audit: cannot list restores in %s: %s\n",
                path, ct_strerror(rc));
        return CT_EXIT_FAIL;
    }
    if (r.head_file_seq < 0 && r.events > 0)
        fprintf(stderr, "caretide audit: warning: no head file %s.audit-head;"
                        " deleting the newest events would not show\n",
                path);
    return CT_EXIT_OK;
}

/* caretide audit list: the events, oldest first, one a line (or JSON
 * lines), read-only; kind filters on a prefix ("token." or "access."). */
static int list(const char *path, int64_t after, int64_t limit,
                const char *kind, bool json)
{
    ct_store *s = open_readonly(path);
    if (!s)
        return CT_EXIT_FAIL;
    int rc;
    int64_t shown = 0;
    for (;;) {
        json_t *page = NULL;
        if ((rc = ct_audit_list_json(s, after, 1000, &page)))
            break;
        size_t n = json_array_size(page), i;
        json_t *e;
        json_array_foreach(page, i, e) {
            after = json_integer_value(json_object_get(e, "seq"));
            const char *k = json_string_value(json_object_get(e, "kind"));
            if (kind && strncmp(k, kind, strlen(kind)) != 0)
                continue;
            if (limit >= 0 && shown >= limit)
                break;
            shown++;
            json_object_del(e, "prev_hash");
            char *payload = json_dumps(json_object_get(e, "payload"),
                                       JSON_SORT_KEYS | JSON_COMPACT);
            if (json) {
                char *line = json_dumps(e, JSON_SORT_KEYS | JSON_COMPACT);
                if (line)
                    puts(line);
                free(line);
            } else {
                char when[40];
                ct_clock_format(
                    json_integer_value(json_object_get(e, "at")), when,
                    sizeof when);
                printf("%" JSON_INTEGER_FORMAT " %s %s %s %s\n",
                       json_integer_value(json_object_get(e, "seq")), when,
                       json_string_value(json_object_get(e, "actor")), k,
                       payload ? payload : "{}");
            }
            free(payload);
        }
        json_decref(page);
        if (n < 1000 || (limit >= 0 && shown >= limit))
            break;
    }
    ct_store_close(s);
    if (rc) {
        fprintf(stderr, "caretide audit: cannot list %s: %s\n", path,
                ct_strerror(rc));
        return CT_EXIT_FAIL;
    }
    return CT_EXIT_OK;
}

/* --after SEQ and --limit N: whole numbers of 0 or more. */
static int after_seq(const char *cmd, const char *value, void *to)
{
    char *end;
    long long *v = to;
    *v = strtoll(value, &end, 10);
    return *end || *v < 0 ? ct_cli_usage_error(cmd, "--after wants a seq")
                          : -1;
}

static int limit_count(const char *cmd, const char *value, void *to)
{
    char *end;
    long long *v = to;
    *v = strtoll(value, &end, 10);
    return *end || *v < 0 ? ct_cli_usage_error(cmd, "--limit wants a count")
                          : -1;
}

int ct_cmd_audit(int argc, char **argv)
{
    const char *db = NULL, *config_path = NULL, *log_format = NULL,
               *log_level = NULL, *kind = NULL;
    long long after = 0, limit = -1;
    bool json = false;
    const ct_cli_opt opts[] = {
        {"db", 0, .text = &db},
        {"config", 'c', .text = &config_path},
        {"after", 0, .parse = after_seq, .to = &after, .has_value = true},
        {"limit", 0, .parse = limit_count, .to = &limit, .has_value = true},
        {"kind", 0, .text = &kind},
        {"json", 0, .flag = &json},
        {NULL},
    };
    int first, stop = ct_cli_parse("audit", argc, argv, opts, &log_format,
                                   &log_level, &first);
    if (stop >= 0)
        return stop;
    if (first >= argc)
        return ct_cli_usage_error("audit", "missing subcommand (verify or "
                                           "list)");
    bool listing = strcmp(argv[first], "list") == 0;
    if (!listing && strcmp(argv[first], "verify") != 0)
        return ct_cli_usage_error("audit", "unknown subcommand '%s'",
                                  argv[first]);
    if (first + 1 < argc)
        return ct_cli_usage_error("audit", "unexpected argument '%s'",
                                  argv[first + 1]);
    if (ct_cli_logging("audit", log_format, log_level))
        return CT_EXIT_USAGE;

    if (db)
        return listing ? list(db, after, limit, kind, json) : verify(db);

    /* No --db: the configured database. */
    ct_config *cfg;
    if (ct_cli_load_config(config_path, &cfg, stdout))
        return CT_EXIT_FAIL;
    int status = listing ? list(cfg->db_path, after, limit, kind, json)
                         : verify(cfg->db_path);
    ct_config_free(cfg);
    return status;
}
