/*
 * The command line's shared parts: every command's --help text (one
 * table, which the man page test walks), usage errors and the common
 * logging options. The commands (host/cmd_*.c) call these; main.c calls
 * the commands, never the other way round.
 */
#include "cli.h"

#include "config.h"
#include "log.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

const ct_command_help ct_cli_commands[] = {
    {"run", "serve the area: HTTP API, timers, plugins",
     "Usage: caretide run [--config FILE] [--listen ADDR:PORT] [--db FILE]\n"
     "\n"
     "Runs the daemon. With no options it serves the built-in demo area on\n"
     "127.0.0.1:8470 with data in ./caretide.db.\n"
     "\n"
     "Options:\n"
     "  -c, --config FILE area configuration (default: the embedded demo)\n"
     "  --listen ADDR:PORT address to listen on (overrides the config)\n"
     "  --db FILE         database file (overrides the config)\n"
     "  --restored        accept a database older than its audit head file\n"
     "                    (restored by hand) and record that in the audit\n"
     "                    log; without it such a database is refused\n"
     "  --ship DIR        ship every committed change to DIR for a warm\n"
     "                    standby (caretide standby)\n"
     "  --check-every DURATION\n"
     "                    background integrity and audit chain check\n"
     "                    period (default: 6h; 0: never)\n"
     "  --allow-demo-tokens serve the published demo tokens on an address\n"
     "                    that is not loopback (refused otherwise)\n"
     "  --print-routes    print every route with each role's access and exit\n"
     "  --no-group-commit commit each write alone (benchmark comparison;\n"
     "                    also CARETIDE_NO_GROUP_COMMIT=1)\n"
     CT_CLI_COMMON_HELP},
    {"check", "validate the area config and its plugins",
     "Usage: caretide check [--config FILE] [--quiet] [--json]\n"
     "\n"
     "Validates the area configuration and its plugins: settings naming\n"
     "facilities, zones, organisations or tags are checked against the\n"
     "area, and each plugin's setup() runs with the area's settings on a\n"
     "scratch copy. Exits 0 with a one-line summary, or 1 with every error\n"
     "as 'file:line:col: message', all in one run. Needs no bed's tags\n"
     "meet are 'file:line:col: warning: ...' lines. Nothing is written.\n"
     "\n"
     "Options:\n"
     "  -c, --config FILE area configuration (default: the embedded demo)\n"
     "  -q, --quiet       print errors and warnings only\n"
     "  --json            the result as one JSON document: ok, errors and\n"
     "                    warnings [{file, line, col, message}], the\n"
     "                    area's counts\n"
     CT_CLI_COMMON_HELP},
    {"repl", "interactive Lua with the host API and plugins",
     "Usage: caretide repl [--config FILE] [--db FILE] [--live] [-e CODE]...\n"
     "\n"
     "A Lua prompt with the host API (ct.*) and the configured plugins, on\n"
     "a scratch in-memory copy of the database (or of the config's area\n"
     "when there is no database yet) and a virtual clock you move with\n"
     ".advance. Nothing is saved unless --live. Line editing, history and\n"
     "tab completion at a terminal; .help lists the dot commands (.referral\n"
     "shows every plugin step of a decision). With -e, or with input from a\n"
     "pipe, it runs without a prompt and exits 1 at the first error.\n"
     "\n"
     "Options:\n"
     "  -c, --config FILE area configuration (default: the embedded demo)\n"
     "  --db FILE         database to copy (default: the config's)\n"
     "  --live            work on the database itself, on the real clock\n"
     "  -e CODE           run CODE (Lua or a dot command) and exit; may be\n"
     "                    given more than once\n"
     "  --history FILE    history file (default: $CARETIDE_HISTORY, else\n"
     "                    ~/.caretide_history; empty for none)\n"
     "  --timeout DURATION deadline of one evaluation (default: 10s)\n"
     CT_CLI_COMMON_HELP},
    {"test", "run plugin tests",
     "Usage: caretide test [--tap] [--coverage] [--min-coverage PCT]\n"
     "                     [--timeout DURATION] [--config FILE] [PATH...]\n"
     "\n"
     "Runs each plugin's test/*_test.lua inside the plugin's sandbox, every\n"
     "test on a fresh scratch store and virtual clock. PATH is a plugin\n"
     "directory, one test file (PLUGIN/test/NAME_test.lua) or a directory\n"
     "of plugins, each tested alone with its default settings; without\n"
     "PATH, the embedded demo's plugins. With --config and no PATH, an area\n"
     "run: the area's plugins' tests and its own test files (the config's\n"
     "tests:) with the area's real settings, facilities and all its\n"
     "plugins together, on the daemon's host. The last line is\n"
     "'N passed, N failed'; the exit status is 1 when any test failed.\n"
     "Logs go to stderr at level warn: --log-level info shows what plugins\n"
     "print.\n"
     "\n"
     "Options:\n"
     "  --tap             TAP version 13 output\n"
     "  --coverage        report the lines of plugin code the tests ran\n"
     "  --min-coverage PCT fail when less than PCT percent of the lines ran\n"
     "                    (implies --coverage)\n"
     "  --timeout DURATION deadline of each test, in CPU time (default: 5s)\n"
     "  -c, --config FILE test this area (when no PATH is given): its\n"
     "                    plugins and its own tests with its settings\n"
     "                    (default: the embedded demo's plugins, alone)\n"
     CT_CLI_COMMON_HELP},
    {"plugin",
     "signed bundles: keygen, pack, sign, verify, install, list, diff",
     "Usage: caretide plugin SUBCOMMAND [options] [ARGS]\n"
     "\n"
     "Manages signed plugin bundles (docs/bundles.md).\n"
     "\n"
     "Subcommands:\n"
     "  keygen NAME [--expires DATE] [--force]\n"
     "                    make a signing key pair NAME.key and NAME.pub\n"
     "  pack DIR [-o FILE] pack a plugin directory into NAME-VERSION.ctb\n"
     "  sign BUNDLE|DIR --key NAME.key [-o FILE]\n"
     "                    sign a bundle's manifest\n"
     "  verify BUNDLE|DIR [--key NAME.pub]... [--config FILE]\n"
     "                    check the signature and every file\n"
     "  install BUNDLE [--dir PLUGIN_DIR | --config FILE] [--key NAME.pub]...\n"
     "                    verify, then install into the plugin path\n"
     "  list [--config FILE]\n"
     "                    installed plugins: version, publisher, key, status\n"
     "  diff [--config FILE]\n"
     "                    settings that differ from the published defaults\n"
     "\n"
     "Run 'caretide plugin SUBCOMMAND --help' for its options.\n"
     "\n"
     "Options:\n"
     CT_CLI_COMMON_HELP},
    {"audit", "verify or list the audit hash chain",
     "Usage: caretide audit verify [--db FILE] [--config FILE]\n"
     "       caretide audit list [--after SEQ] [--limit N] [--kind PREFIX]\n"
     "                           [--json] [--db FILE] [--config FILE]\n"
     "\n"
     "verify walks the audit log's hash chain, checks it against the chain\n"
     "head and the head file (DB.audit-head), and names the first bad\n"
     "event; exits 0 when the chain is intact, 1 when it is broken or\n"
     "cannot be read. list prints the events oldest first, one a line:\n"
     "seq, time, actor (user:ID@ORG/ROLE, org:ORG/ROLE, cli:LOGIN, host,\n"
     "plugin:NAME ...), kind and payload. The database is opened\n"
     "read-only.\n"
     "\n"
     "Options:\n"
     "  --db FILE         database (default: the config's)\n"
     "  -c, --config FILE area configuration (default: the embedded demo)\n"
     "  --after SEQ       list: events after SEQ only\n"
     "  --limit N         list: at most N events\n"
     "  --kind PREFIX     list: events whose kind starts with PREFIX\n"
     "                    (token., access., config.)\n"
     "  --json            list: one JSON object a line\n"
     CT_CLI_COMMON_HELP},
    {"token", "named users' and clients' tokens, display links",
     "Usage: caretide token add (--user ID --name NAME | --client NAME)\n"
     "                          --org ORG --role ROLE [--expires WHEN]\n"
     "       caretide token add --display NAME [--expires WHEN]\n"
     "       caretide token list [--all]\n"
     "       caretide token revoke ID\n"
     "       caretide token rotate ID [--expires WHEN]\n"
     "\n"
     "Manages the token store, the file <database>.tokens beside the\n"
     "database (apart from the area config): a named person of an\n"
     "organisation with a role (audit actor user:ID@ORG/ROLE), a machine\n"
     "client such as an EPR interface (client:NAME@ORG/ROLE), or a screen\n"
     "on a wall (display:NAME, aggregate figures only). add and rotate\n"
     "print the secret once; only its SHA-256 is kept. A running daemon\n"
     "picks every change up within a second, refuses expired and revoked\n"
     "tokens (401), and audits each change with the actor cli:<login>.\n"
     "\n"
     "Options:\n"
     "  -c, --config FILE area configuration (default: the embedded demo)\n"
     "  --db FILE         database whose token store to use (default: the\n"
     "                    config's)\n"
     "  --user ID         add: a named person's user id\n"
     "  --name NAME       add: the person's name (required with --user)\n"
     "  --client NAME     add: a machine client of the organisation\n"
     "  --display NAME    add: a display link for a screen on a wall\n"
     "  --org ORG         add: the organisation (listed in the config)\n"
     "  --role ROLE       add: hub, hospital, provider, viewer or admin\n"
     "  --expires WHEN    never, a duration from now (90d), a day or a time;\n"
     "                    default 90d for a user, 365d for a client, never\n"
     "                    for a display\n"
     "  --all             list: revoked tokens too\n"
     "  --json            machine-readable output\n"
     CT_CLI_COMMON_HELP},
    {"backup", "consistent, verified snapshot of the database",
     "Usage: caretide backup [--db FILE | --config FILE] [--keep N] OUT\n"
     "\n"
     "Copies the database into OUT with SQLite's VACUUM INTO, safely while\n"
     "the daemon writes, with its audit anchor in OUT.audit-head; checks the\n"
     "copy (integrity_check and the whole audit chain) before reporting\n"
     "success. When OUT is a directory the copy is named\n"
     "caretide-YYYYmmddTHHMMSSZ.db inside it. Exits 0 once verified, 1 when\n"
     "the backup failed (nothing is left under OUT then).\n"
     "\n"
     "Options:\n"
     "  --db FILE         database (default: the config's)\n"
     "  -c, --config FILE area configuration (default: the embedded demo)\n"
     "  --keep N          with OUT a directory: then remove all but the\n"
     "                    newest N caretide-*.db backups there\n"
     CT_CLI_COMMON_HELP},
    {"restore", "install a backup, re-anchoring the audit log",
     "Usage: caretide restore [--db FILE | --config FILE] BACKUP\n"
     "\n"
     "Replaces the database with BACKUP. Refuses while a daemon runs on the\n"
     "database. Checks BACKUP first (integrity and audit chain), keeps the\n"
     "replaced files beside it as FILE.replaced-TIME, and appends an audited\n"
     "store.restored event (the backup's head, the discarded head, who\n"
     "restored) so that 'caretide audit verify' passes and shows the\n"
     "restore. Exits 0 when restored, 1 otherwise (nothing changed).\n"
     "\n"
     "Options:\n"
     "  --db FILE         database (default: the config's)\n"
     "  -c, --config FILE area configuration (default: the embedded demo)\n"
     CT_CLI_COMMON_HELP},
    {"standby", "keep a warm standby copy from shipped changes",
     "Usage: caretide standby --from DIR --db FILE [--poll DURATION]\n"
     "                        [--until-seq N | --until TIME]\n"
     "\n"
     "Follows what 'caretide run --ship DIR' ships (SQLite changesets, in\n"
     "DIR/gen-*/): installs the newest generation's base as FILE and\n"
     "applies its changes as they come, until SIGTERM or SIGINT; it then\n"
     "applies what is left and exits 0. Promote the standby with\n"
     "'caretide run --db FILE'. Exits 1 when a change cannot be applied.\n"
     "\n"
     "Options:\n"
     "  --from DIR        the primary's shipping directory\n"
     "  --db FILE         the standby's database\n"
     "  --poll DURATION   how often to look for new changes (default:\n"
     "                    200ms)\n"
     "  --until-seq N     point-in-time recovery: stop before the first\n"
     "                    committed group whose audit events pass seq N,\n"
     "                    and exit 0 (FILE then holds the area as it was)\n"
     "  --until TIME      the same by time: YYYY-MM-DDTHH:MM[:SS]Z, the\n"
     "                    newest audit event kept is at or before TIME\n"
     CT_CLI_COMMON_HELP},
    {"report",
     "reports, and the Capacity Tracker and sitrep national returns",
     "Usage: caretide report delays|capacity|escalation|today|daily|\n"
     "                       providers|pathways|access|\n"
     "                       capacity-tracker|sitrep [options]\n"
     "\n"
     "Reports from the area's database, opened read-only (docs/reports.md):\n"
     "  delays      referrals, delays and bed-days lost by responsible\n"
     "              organisation, delay reason or pathway, and the share\n"
     "              discharged on their discharge ready date\n"
     "  capacity    beds by facility, zone and cohort, occupancy, surge\n"
     "              share, data age and occupancy over the period\n"
     "  escalation  time at each level, the changes and actions taken\n"
     "  today       people past their discharge ready date and still in\n"
     "              hospital now, a day and a week ago, by responsible\n"
     "              organisation and delay reason\n"
     "  daily       day by day (default: the last 28 days): people past\n"
     "              their ready date and bed-days lost by organisation and\n"
     "              reason, occupancy, escalation, holds confirmed and\n"
     "              expired and hold-to-confirmation hours by provider\n"
     "              (kept per day by the daemon once the day is over)\n"
     "  providers   each provider's answers to holds over the period\n"
     "              (default: the last 28 days): confirmed, declined,\n"
     "              expired, hours from hold to confirmation\n"
     "  pathways    discharges by pathway and their shares (default: the\n"
     "              last 28 days)\n"
     "  access      who read a referral's personal data, when and how\n"
     "              (access.read audit events; needs --referral ID)\n"
     "  capacity-tracker  the care-home vacancy fields of the national\n"
     "              Capacity Tracker now, by home (CQC location id, ODS\n"
     "              code) and bed type, as CSV (or --format json)\n"
     "  sitrep      the daily discharge sitrep (default: today; --from\n"
     "              and --to for days): people no longer meeting the\n"
     "              criteria to reside, discharged by pathway, delays by\n"
     "              reason and responsible organisation (ODS code), CSV\n"
     "Exits 0, 1 when the database cannot be read, 2 on a usage error.\n"
     "\n"
     "Options:\n"
     "  --from DATE, --to DATE   period, whole days (YYYY-MM-DD, UK time); the\n"
     "                           delays report takes referrals whose ready\n"
     "                           date is in it\n"
     "  --by org|reason|pathway  grouping of the delays report (default org)\n"
     "  --format table|csv|json  output format (default: table)\n"
     "  --json                   the same as --format json\n"
     "  --referral ID            access: the referral\n"
     "  --db FILE                database (default: the config's)\n"
     "  -c, --config FILE        area configuration (default: the embedded\n"
     "                           demo)\n"
     CT_CLI_COMMON_HELP},
    {"sim", "run a winter on the virtual clock against policy variants",
     "Usage: caretide sim [--config AREA.yaml] [--scenario WINTER.yaml]\n"
     "                    [--variant NAME=OVERLAY.yaml]... [--seeds N]\n"
     "                    [--first-seed N] [--out DIR] [--quiet]\n"
     "                    [--from-db FILE --from DATE --to DATE]\n"
     "\n"
     "Runs the area's real config and plugins, in process, on a virtual\n"
     "clock and a scratch store in memory, through the host, intake and\n"
     "decision code the daemon runs: simulated people are referred, held,\n"
     "confirmed or declined, discharged and complete their stay, with\n"
     "delays and their reasons, as the scenario says (docs/simulation.md).\n"
     "Every variant (the area with an overlay merged in) runs on the same\n"
     "seeds and meets the same people, so differences are paired. The same\n"
     "seed gives the same output, byte for byte. Writes days.csv, lost.csv,\n"
     "summary.csv, results.json and report.html into DIR and prints the\n"
     "summary table. A progress bar is shown on a terminal only. Exits 1\n"
     "when a run stopped on an infection-segregation breach (naming the\n"
     "decision) or on an error, 2 on a usage error.\n"
     "\n"
     "Options:\n"
     "  -c, --config FILE area configuration (default: the embedded demo)\n"
     "  -s, --scenario FILE the winter (default: the built-in winter,\n"
     "                    config/scenarios/winter.yaml)\n"
     "  -v, --variant NAME=OVERLAY.yaml\n"
     "                    a variant: the overlay merged into the area\n"
     "                    (written to DIR/variant-NAME.yaml); may be given\n"
     "                    up to 16 times; 'base' is the area as it is\n"
     "  -n, --seeds N     seeds to run (default: the scenario's seeds)\n"
     "  --first-seed N    the first seed (default: 1)\n"
     "  -o, --out DIR     output directory (default: sim-out)\n"
     "  -q, --quiet       no table, no progress bar\n"
     "  --from-db FILE    replay the referrals an area's database recorded\n"
     "                    (its audit log) instead of the scenario's arrivals\n"
     "  --from DATE       first day replayed (with --from-db)\n"
     "  --to DATE         last day replayed (with --from-db)\n"
     CT_CLI_COMMON_HELP},
    {"version", "print versions",
     "Usage: caretide version\n"
     "\n"
     "Prints caretide's version and the versions of the libraries it runs\n"
     "with.\n"
     "\n"
     "Options:\n"
     "  -h, --help        show this help\n"},
    {NULL, NULL, NULL},
};

void ct_cli_usage(FILE *out)
{
    fputs("Usage: caretide <command> [options]\n\nCommands:\n", out);
    for (const ct_command_help *c = ct_cli_commands; c->name; c++)
        fprintf(out, "  %-9s %s\n", c->name, c->summary);
    fputs("\nRun 'caretide <command> --help' for a command's options.\n",
          out);
}

int ct_cli_help(const char *cmd)
{
    for (const ct_command_help *c = ct_cli_commands; c->name; c++)
        if (strcmp(c->name, cmd) == 0)
            fputs(c->usage, stdout);
    return CT_EXIT_OK;
}

int ct_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "caretide %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'caretide %s --help'.\n", cmd);
    return CT_EXIT_USAGE;
}

int ct_cli_common_opt(const char *cmd, int c, char **argv,
                      const char **format, const char **level)
{
    switch (c) {
    case 'F': *format = optarg; return -1;
    case 'L': *level = optarg; return -1;
    case 'h': return ct_cli_help(cmd);
    case ':':
        return ct_cli_usage_error(cmd, "option '%s' needs a value",
                                  argv[optind - 1]);
    default:
        return ct_cli_usage_error(cmd, "unknown option '%s'",
                                  argv[optind - 1]);
    }
}

int ct_cli_load_config(const char *path, ct_config **cfg, FILE *diag_out)
{
    ct_diags d = {0};
    *cfg = NULL;
    int rc = path ? ct_config_load_file(path, cfg, &d)
                  : ct_config_load_demo(cfg, &d);
    if (rc)
        ct_diags_print(&d, diag_out);
    ct_diags_free(&d);
    return rc;
}

int ct_cli_logging(const char *cmd, const char *format, const char *level)
{
    ct_log_format f = CT_LOG_AUTO;
    ct_log_level l = CT_LOG_INFO;
    if (format && ct_log_parse_format(format, &f))
        return ct_cli_usage_error(cmd, "--log-format: expected text, json or "
                                       "auto, got '%s'", format);
    if (level && ct_log_parse_level(level, &l))
        return ct_cli_usage_error(cmd, "--log-level: expected debug, info, "
                                       "warn or error, got '%s'", level);
    ct_log_setup(f, l);
    return 0;
}

/* Long options get codes above any letter; a letter option's code is the
 * letter itself, so "-c X" and "--config X" are one case. */
#define LONG_BASE 0x100

static bool takes_value(const ct_cli_opt *o)
{
    return o->text || (o->parse && o->has_value);
}

int ct_cli_parse(const char *cmd, int argc, char **argv,
                 const ct_cli_opt *opts, const char **format,
                 const char **level, int *first)
{
    size_t n = 0;
    while (opts[n].name || opts[n].letter)
        n++;
    /* The command's options, then the three every command takes. */
    struct option *lo = calloc(n + 4, sizeof *lo);
    /* ':' first (missing values are told apart), "h", each letter with
     * ':' after it when it takes a value. */
    char *shortopts = malloc(2 * n + 3);
    if (!lo || !shortopts) {
        free(lo);
        free(shortopts);
        fprintf(stderr, "caretide %s: out of memory\n", cmd);
        return CT_EXIT_FAIL;
    }
    size_t k = 0, nlong = 0;
    shortopts[k++] = ':';
    for (size_t i = 0; i < n; i++) {
        const ct_cli_opt *o = &opts[i];
        int val = o->letter ? (unsigned char)o->letter : LONG_BASE + (int)i;
        if (o->name)
            lo[nlong++] = (struct option){o->name,
                                          takes_value(o) ? required_argument
                                                         : no_argument,
                                          NULL, val};
        if (o->letter) {
            shortopts[k++] = o->letter;
            if (takes_value(o))
                shortopts[k++] = ':';
        }
    }
    shortopts[k++] = 'h';
    shortopts[k] = '\0';
    lo[nlong] = (struct option){"log-format", required_argument, NULL, 'F'};
    lo[nlong + 1] = (struct option){"log-level", required_argument, NULL,
                                    'L'};
    lo[nlong + 2] = (struct option){"help", no_argument, NULL, 'h'};
    int c, rc = -1;
    opterr = 0;
    optind = 1;
    while (rc < 0 &&
           (c = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
        const ct_cli_opt *o = NULL;
        if (c >= LONG_BASE && c < LONG_BASE + (int)n)
            o = &opts[c - LONG_BASE];
        for (size_t i = 0; !o && c != 'h' && i < n; i++)
            if (opts[i].letter && (unsigned char)opts[i].letter == c)
                o = &opts[i];
        if (!o)
            rc = ct_cli_common_opt(cmd, c, argv, format, level);
        else if (o->text)
            *o->text = optarg;
        else if (o->flag)
            *o->flag = true;
        else
            rc = o->parse(cmd, o->has_value ? optarg : NULL, o->to);
    }
    free(lo);
    free(shortopts);
    *first = optind;
    return rc;
}
