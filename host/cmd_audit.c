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
#include <getopt.h>
#include <jansson.h>
#include <inttypes.h>
#include <stdio.h>
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

/* Opens path read-only (never creating it) and verifies. */
static int verify(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "caretide audit: cannot open database %s: %s\n",
                path, strerror(errno));
        return CT_EXIT_FAIL;
    }
    ct_store_options opts = {.readonly = true};
    ct_store *s = NULL;
    int rc = ct_store_open(path, &opts, &s);
    if (rc) {
        fprintf(stderr, "caretide audit: cannot open database %s: %s\n",
                path, ct_strerror(rc));
        return CT_EXIT_FAIL;
    }
    ct_audit_report r;
    rc = ct_audit_verify(s, &r);
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

int ct_cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"log-format", required_argument, NULL, 'F'},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *config_path = NULL, *log_format = NULL,
               *log_level = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'c': config_path = optarg; break;
        case 'F': log_format = optarg; break;
        case 'L': log_level = optarg; break;
        case 'h': return ct_cli_help("audit");
        case ':':
            return ct_cli_usage_error("audit", "option '%s' needs a value",
                                      argv[optind - 1]);
        default:
            return ct_cli_usage_error("audit", "unknown option '%s'",
                                      argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return ct_cli_usage_error("audit", "missing subcommand (verify)");
    if (strcmp(argv[optind], "verify") != 0)
        return ct_cli_usage_error("audit", "unknown subcommand '%s'",
                                  argv[optind]);
    if (optind + 1 < argc)
        return ct_cli_usage_error("audit", "unexpected argument '%s'",
                                  argv[optind + 1]);
    if (ct_cli_logging("audit", log_format, log_level))
        return CT_EXIT_USAGE;

    if (db)
        return verify(db);

    /* No --db: the configured database. */
    ct_diags diags = {0};
    ct_config *cfg = NULL;
    int rc = config_path ? ct_config_load_file(config_path, &cfg, &diags)
                         : ct_config_load_demo(&cfg, &diags);
    if (rc) {
        ct_diags_print(&diags, stdout);
        ct_diags_free(&diags);
        return CT_EXIT_FAIL;
    }
    int status = verify(cfg->db_path);
    ct_config_free(cfg);
    ct_diags_free(&diags);
    return status;
}
