/*
 * caretide sim: a winter on the virtual clock against policy variants
 * (docs/simulation.md). Reads the area, the scenario and the variants,
 * runs every variant on every seed (sim.h), and writes the results.
 */
#include "cli.h"

#include "clock.h"
#include "config.h"
#include "diag.h"
#include "error.h"
#include "log.h"
#include "sim.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_VARIANTS 16
#define DEFAULT_SCENARIO "config/scenarios/winter.yaml" /* embedded */

typedef struct progress {
    bool on;
    size_t run, runs;
    int last;
} progress;

/* A bar on stderr, on a terminal only: percent of simulated days. */
static void on_progress(void *ud, const char *variant, uint64_t seed,
                        int done, int days)
{
    progress *p = ud;
    if (!p->on)
        return;
    int pct = days ? done * 100 / days : 100;
    if (pct == p->last && done != days)
        return;
    p->last = pct;
    char bar[31];
    int fill = pct * 30 / 100;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r%-16.16s seed %-4llu run %zu/%zu [%s] %3d%%", variant,
            (unsigned long long)seed, p->run + 1, p->runs, bar, pct);
    if (done == days)
        fputc('\n', stderr);
    fflush(stderr);
}

static bool valid_name(const char *s, size_t n)
{
    if (!n || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' ||
              s[i] == '.'))
            return false;
    return true;
}

static int parse_day(const char *s, int64_t *day)
{
    int64_t ms;
    char msg[160];
    if (ct_clock_parse_day(s, &ms, msg, sizeof msg))
        return -1;
    *day = ms / 86400000LL;
    return 0;
}

/*
 * The plugins' limits are wall-clock time on the machine running the
 * simulation, which may be loaded: a call that misses its deadline there
 * would change a seeded run's decisions. A simulation lifts them to 10 s a
 * call and a minute of CPU per decision and per simulated minute, so the
 * result depends on the seed alone; a plugin that fails or loops still
 * fails and is counted (docs/simulation.md).
 */
static void lift_deadlines(ct_config_limits *l)
{
    if (l->plugin_deadline_ms < 10000)
        l->plugin_deadline_ms = 10000;
    if (l->schedule_deadline_ms < 10000)
        l->schedule_deadline_ms = 10000;
    if (l->plugin_decision_budget_ms < 60000)
        l->plugin_decision_budget_ms = 60000;
    if (l->plugin_minute_budget_ms < 60000)
        l->plugin_minute_budget_ms = 60000;
}

int ct_cmd_sim(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"scenario", required_argument, NULL, 's'},
        {"variant", required_argument, NULL, 'v'},
        {"seeds", required_argument, NULL, 'n'},
        {"first-seed", required_argument, NULL, 'S'},
        {"out", required_argument, NULL, 'o'},
        {"from-db", required_argument, NULL, 'D'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        CT_CLI_COMMON_OPTS,
    };
    const char *config_path = NULL, *scenario_path = NULL, *out = "sim-out",
               *log_format = NULL, *log_level = NULL, *db = NULL,
               *from = NULL, *to = NULL;
    const char *vname[MAX_VARIANTS + 1], *vpath[MAX_VARIANTS + 1];
    char vbuf[MAX_VARIANTS][72];
    size_t nv = 0;
    long seeds = 0;
    unsigned long long first_seed = 1;
    int quiet = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:s:v:n:o:qh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c': config_path = optarg; break;
        case 's': scenario_path = optarg; break;
        case 'o': out = optarg; break;
        case 'q': quiet = 1; break;
        case 'D': db = optarg; break;
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'n':
            errno = 0;
            seeds = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno || seeds < 1 || seeds > 10000)
                return ct_cli_usage_error("sim", "--seeds must be a whole "
                                                 "number from 1 to 10000");
            break;
        case 'S':
            errno = 0;
            first_seed = strtoull(optarg, &end, 10);
            if (end == optarg || *end || errno || optarg[0] == '-')
                return ct_cli_usage_error("sim", "--first-seed must be a "
                                                 "whole number");
            break;
        case 'v': {
            const char *eq = strchr(optarg, '=');
            if (!eq || !valid_name(optarg, (size_t)(eq - optarg)) || !eq[1])
                return ct_cli_usage_error(
                    "sim", "--variant must be NAME=OVERLAY.yaml, NAME of 1 "
                           "to 64 letters, digits, '_', '-' or '.'");
            if (nv == MAX_VARIANTS)
                return ct_cli_usage_error("sim", "at most %d variants",
                                          MAX_VARIANTS);
            memcpy(vbuf[nv], optarg, (size_t)(eq - optarg));
            vbuf[nv][eq - optarg] = '\0';
            if (strcmp(vbuf[nv], "base") == 0)
                return ct_cli_usage_error("sim", "'base' is the area as "
                                                 "configured; name the "
                                                 "variant otherwise");
            for (size_t i = 0; i < nv; i++)
                if (strcmp(vbuf[i], vbuf[nv]) == 0)
                    return ct_cli_usage_error("sim", "variant '%s' given "
                                                     "twice", vbuf[nv]);
            vname[nv + 1] = vbuf[nv];
            vpath[nv + 1] = eq + 1;
            nv++;
            break;
        }
        default:
            if ((c = ct_cli_common_opt("sim", c, argv, &log_format,
                                       &log_level)) >= 0)
                return c;
        }
    }
    if (optind < argc)
        return ct_cli_usage_error("sim", "unexpected argument '%s'",
                                  argv[optind]);
    int64_t from_day = 0, to_day = 0;
    if (db && (!from || !to))
        return ct_cli_usage_error("sim", "--from-db needs --from and --to");
    if (!db && (from || to))
        return ct_cli_usage_error("sim", "--from and --to go with --from-db");
    if (db && (parse_day(from, &from_day) || parse_day(to, &to_day) ||
               to_day < from_day))
        return ct_cli_usage_error("sim", "--from and --to must be dates "
                                         "YYYY-MM-DD, --to not before "
                                         "--from");
    if (ct_cli_logging("sim", log_format, log_level ? log_level : "error"))
        return CT_EXIT_USAGE;
    vname[0] = "base";
    vpath[0] = NULL;
    size_t nvariants = nv + 1;

    ct_diags d = {0};
    int status = CT_EXIT_FAIL, rc;
    ct_sim_scenario *sc = NULL;
    ct_config *cfgs[MAX_VARIANTS + 1] = {0};
    ct_sim_run *runs = NULL;
    ct_sim_arrival *replay = NULL;
    size_t nreplay = 0;
    char *area_text = NULL;
    size_t area_len = 0, nruns = 0;
    const char *area_file;
    char *area_dir = NULL;

    if (scenario_path) {
        rc = ct_sim_scenario_load_file(scenario_path, &sc, &d);
    } else {
        const ct_embedded *e = ct_embedded_find(DEFAULT_SCENARIO);
        rc = e ? ct_sim_scenario_load_text("<built-in>/" DEFAULT_SCENARIO,
                                           NULL, e->data, e->len, &sc, &d)
               : CT_ENOTFOUND;
    }
    if (rc)
        goto done;
    if (config_path) {
        area_file = config_path;
        if ((rc = ct_read_file(config_path, &area_text, &area_len))) {
            ct_diags_add(&d, config_path, 0, 0, "cannot read config: %s",
                         rc == CT_ENOTFOUND ? "no such file"
                                            : ct_strerror(rc));
            goto done;
        }
        area_dir = strdup(config_path);
        char *slash = area_dir ? strrchr(area_dir, '/') : NULL;
        if (slash)
            *slash = '\0';
        else if (area_dir)
            strcpy(area_dir, ".");
    } else {
        const ct_embedded *e = ct_embedded_find(CT_CONFIG_DEMO);
        area_file = "<demo>/" CT_CONFIG_DEMO;
        area_text = e ? ct_strndup(e->data, e->len) : NULL;
        area_len = e ? e->len : 0;
        area_dir = strdup(".");
    }
    if (!area_text || !area_dir) {
        rc = CT_ENOMEM;
        goto done;
    }
    if (mkdir(out, 0777) && errno != EEXIST) {
        ct_diags_add(&d, out, 0, 0, "cannot make the output directory: %s",
                     strerror(errno));
        goto done;
    }
    for (size_t v = 0; v < nvariants; v++) {
        if (!vpath[v]) {
            rc = ct_config_load_text(area_file, area_dir, area_text, area_len,
                                     &cfgs[v], &d);
        } else {
            ct_buf p = {0};
            ct_buf_printf(&p, "%s/variant-%s.yaml", out, vname[v]);
            rc = p.data ? ct_sim_variant_config(area_file, area_text,
                                                area_len, area_dir, vpath[v],
                                                p.data, &cfgs[v], &d)
                        : CT_ENOMEM;
            ct_buf_free(&p);
        }
        if (!rc)
            rc = ct_sim_scenario_check(sc, cfgs[v], &d);
        if (rc)
            goto done;
        lift_deadlines(&cfgs[v]->limits);
    }
    if (db && (rc = ct_sim_replay_load(db, from_day, to_day, sc, &replay,
                                       &nreplay, &d)))
        goto done;
    /* A replay runs the recorded period, once per seed (the seed draws
     * only what the log does not say: stays, refusals, delays). */
    ct_sim_scenario replayed;
    const ct_sim_scenario *use = sc;
    if (db) {
        replayed = *sc;
        replayed.start_day = from_day;
        replayed.days = (int)(to_day - from_day + 1);
        use = &replayed;
    }
    size_t nseeds = seeds ? (size_t)seeds : sc->seeds;
    runs = calloc(nvariants * nseeds, sizeof *runs);
    if (!runs) {
        rc = CT_ENOMEM;
        goto done;
    }
    progress pg = {.on = !quiet && isatty(2), .runs = nvariants * nseeds,
                   .last = -1};
    bool stopped = false;
    for (size_t v = 0; v < nvariants; v++) {
        for (size_t s = 0; s < nseeds; s++) {
            ct_sim_options o = {
                .scenario = use,
                .variant = vname[v],
                .cfg = cfgs[v],
                .seed = first_seed + s,
                .replay = replay,
                .nreplay = nreplay,
                .progress = on_progress,
                .progress_ud = &pg,
            };
            pg.run = nruns;
            pg.last = -1;
            if ((rc = ct_sim_run_one(&o, &runs[nruns], &d)))
                goto done;
            if (runs[nruns].stopped) {
                fprintf(stderr, "caretide sim: variant %s, seed %llu "
                                "stopped: %s\n",
                        vname[v], (unsigned long long)o.seed,
                        runs[nruns].stopped);
                stopped = true;
            }
            nruns++;
        }
    }
    if ((rc = ct_sim_write(out, use, vname, nvariants, runs, nseeds,
                           quiet ? NULL : stdout, &d)))
        goto done;
    if (!quiet)
        printf("\nwritten to %s/: days.csv, lost.csv, summary.csv, "
               "results.json, report.html\n",
               out);
    status = stopped ? CT_EXIT_FAIL : CT_EXIT_OK;
done:
    if (status != CT_EXIT_OK && d.len == 0 && rc)
        fprintf(stderr, "caretide sim: %s\n", ct_strerror(rc));
    ct_diags_print(&d, stderr);
    ct_diags_free(&d);
    for (size_t i = 0; i < nruns; i++)
        ct_sim_run_free(&runs[i]);
    free(runs);
    free(replay);
    for (size_t v = 0; v < nvariants; v++)
        ct_config_free(cfgs[v]);
    ct_sim_scenario_free(sc);
    free(area_text);
    free(area_dir);
    return status;
}
