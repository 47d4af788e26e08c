/*
 * The plugin manager's hook calls: triage, delay, rank, admit and
 * escalate composed across the running set, each call under its deadline
 * and budget, with fallbacks and quarantine.
 */
#include "plugins_int.h"

#include "error.h"
#include "json_canon.h"
#include "log.h"
#include "referral.h"
#include "util.h"

#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

const char *const ct_plugins__hook_names[CT_HOOK_COUNT] = {
    "triage", "rank", "admit", "escalate", "delay", "queue"};

void ct_plugins__count_success(ct_plugin_guard *g)
{
    g->consecutive = 0;
    g->history <<= 1;
}

/* Records a failure of g; true when g has now reached quarantine: limit
 * failures in a row, or limit among its last window calls. *n says how
 * many, *of among how many calls. */
static bool failed_past_limit(const ct_config_limits *lim,
                              ct_plugin_guard *g, uint64_t *n, uint64_t *of)
{
    g->consecutive++;
    g->history = g->history << 1 | 1;
    uint32_t w = lim->quarantine_window;
    uint64_t recent = w >= 64 ? g->history : g->history & ((1ULL << w) - 1);
    *n = g->consecutive;
    *of = g->consecutive;
    if (g->consecutive >= lim->quarantine_after)
        return true;
    *n = (uint64_t)__builtin_popcountll(recent);
    *of = w;
    return *n >= lim->quarantine_after;
}

/* Counts a failure of one hook, schedule or handler (its guard, named
 * what) and quarantines that part alone. */
void ct_plugins__count_failure(ct_plugin *p, ct_plugin_guard *g,
                               const char *what, int rc)
{
    p->errors++;
    if (rc == CT_ETIMEOUT)
        p->timeouts++;
    uint64_t n, of;
    if (failed_past_limit(&p->mgr->cfg->limits, g, &n, &of) &&
        !g->quarantined) {
        g->quarantined = true;
        ct_log_error("plugins",
                     "plugin '%s': %s quarantined after %llu failures in "
                     "its last %llu calls; it stays out until the plugin is "
                     "reloaded (its other hooks and schedules go on)",
                     p->manifest->name, what, (unsigned long long)n,
                     (unsigned long long)of);
        ct_plugins__enqueue(
            p->mgr, "plugin.quarantined",
            json_pack("{s:s, s:s, s:I}", "plugin", p->manifest->name,
                      "hook", what, "failures", (json_int_t)n));
    }
}

/* A decision of p has ended over its CPU budget (or within it): its
 * decisions are counted like the calls of a part, so that a plugin that
 * overruns every decision, one hook call at a time and never twice in a
 * row, still reaches quarantine: then all its decision hooks are out
 * (their fallbacks apply); its schedules and handlers go on. */
static void count_decision(ct_plugin *p, bool over)
{
    ct_plugin_guard *g = &p->budget;
    uint64_t n, of;
    if (!over) {
        ct_plugins__count_success(g);
        return;
    }
    if (!failed_past_limit(&p->mgr->cfg->limits, g, &n, &of) ||
        g->quarantined)
        return;
    g->quarantined = true;
    for (int i = 0; i < CT_HOOK_COUNT; i++)
        if (ct_plugins__has_hook(p, i))
            p->hooks[i].quarantined = true;
    ct_log_error("plugins",
                 "plugin '%s': decision hooks quarantined after %llu of its "
                 "last %llu decisions used up its CPU budget of %lld ms; "
                 "they stay out until the plugin is reloaded (its "
                 "schedules and handlers go on)",
                 p->manifest->name, (unsigned long long)n,
                 (unsigned long long)of,
                 (long long)p->mgr->cfg->limits.plugin_decision_budget_ms);
    ct_plugins__enqueue(
        p->mgr, "plugin.quarantined",
        json_pack("{s:s, s:s, s:s, s:I}", "plugin", p->manifest->name,
                  "hook", "decision", "reason", "budget", "failures",
                  (json_int_t)n));
}

/*
 * The watchdog gave up a call of p: its state belongs to the call's
 * thread until the instruction ends, so nothing of the plugin can run
 * again. All of it is quarantined at once, until it is reloaded.
 */
static void plugin_stuck(ct_plugin *p, const char *what)
{
    if (p->stuck || !ct_sandbox_abandoned(p->sb, NULL))
        return;
    p->stuck = true;
    for (int i = 0; i < CT_HOOK_COUNT; i++)
        p->hooks[i].quarantined = true;
    for (size_t i = 0; i < p->nscheds; i++)
        p->scheds[i]->guard.quarantined = true;
    for (size_t i = 0; i < p->nsubs; i++)
        p->subs[i].guard.quarantined = true;
    ct_log_error("plugins",
                 "plugin '%s': %s did not end and was given up; the whole "
                 "plugin is quarantined until it is reloaded (its call "
                 "runs on alone, on its own thread, until its instruction "
                 "ends)",
                 p->manifest->name, what);
    ct_plugins__enqueue(
        p->mgr, "plugin.quarantined",
        json_pack("{s:s, s:s, s:s}", "plugin", p->manifest->name, "hook",
                  what, "reason", "stuck"));
}

/* The guard of a decision hook by name. */
static ct_plugin_guard *hook_guard(ct_plugin *p, const char *hook)
{
    int h = 0;
    while (h < CT_HOOK_COUNT - 1 &&
           strcmp(ct_plugins__hook_names[h], hook) != 0)
        h++;
    return &p->hooks[h];
}

/* Visits every guard of p with its name; stops when fn returns true. */
bool ct_plugins__each_guard(const ct_plugin *p,
                            bool (*fn)(const ct_plugin_guard *, const char *,
                                       void *),
                            void *ud)
{
    for (int i = 0; i < CT_HOOK_COUNT; i++)
        if (fn(&p->hooks[i], ct_plugins__hook_names[i], ud))
            return true;
    for (size_t i = 0; i < p->nscheds; i++)
        if (fn(&p->scheds[i]->guard, p->scheds[i]->name, ud))
            return true;
    for (size_t i = 0; i < p->nsubs; i++)
        if (fn(&p->subs[i].guard, p->subs[i].event, ud))
            return true;
    return false;
}

static json_t *trace_entry(ct_plugin *p, const char *hook, json_t *input)
{
    return json_pack("{s:s, s:s, s:s, s:o}", "plugin", p->manifest->name,
                     "version", p->manifest->version, "hook", hook, "input",
                     input ? input : json_null());
}

static void trace_error(json_t *entry, ct_plugin *p, const char *msg)
{
    json_object_set_new(entry, "error", json_string(msg));
    json_object_set_new(entry, "fallback",
                        json_string(ct_fallback_name(p->manifest->fallback)));
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void ct_plugins_decision_begin(ct_plugins *m)
{
    for (size_t i = 0; m->cur && i < m->cur->n; i++) {
        ct_plugin *p = m->cur->items[i];
        /* The last decision it took part in ended within its budget. */
        if (p->decision_ns > 0 && !p->overran)
            count_decision(p, false);
        p->overran = false;
        p->decision_ns = 0;
    }
}

/* p's budget for this decision is used up: counted once a decision. */
static void overran(ct_plugin *p)
{
    if (!p->overran) {
        p->overran = true;
        count_decision(p, true);
    }
}

/*
 * ct_sandbox_call within the plugin's CPU budget, on the deadline's clock
 * (the CPU time of the thread that ran the call, ct_sandbox_last_call_ns):
 * the call's deadline is the plugin deadline or what is left of the
 * budget, whichever is less, and the time it took is charged whatever
 * came of it. A budget used up is CT_ELIMIT (before the call: the function
 * and arguments are popped). *msg is the failure's message.
 */
int ct_plugins__budgeted_call(ct_plugin *p, const char *what, int nargs,
                              int nres, enum ct_plugins__budget b,
                              const char **msg)
{
    const ct_config_limits *lim = &p->mgr->cfg->limits;
    int64_t t0 = mono_ns();
    int64_t *used = &p->decision_ns, total = lim->plugin_decision_budget_ms;
    const char *per = "a decision";
    if (b != CT_PER_DECISION) {
        /* The minute is the host clock's when it is virtual (the REPL,
         * tests, caretide sim): a simulated minute passes in microseconds,
         * and a budget per real minute would skip a day's schedules by
         * the wall clock, making a seeded run depend on the machine's
         * load. Its CPU is still charged in real time. */
        ct_capacity *cap = ct_plugins__capacity(p->mgr);
        ct_clock *clk = cap ? ct_capacity_clock(cap) : NULL;
        int64_t minute = clk && ct_clock_is_virtual(clk)
                             ? ct_clock_now(clk) / 60000
                             : t0 / 60000000000LL;
        if (minute != p->minute_at) {
            p->minute_at = minute;
            p->minute_ns = 0;
        }
        used = &p->minute_ns;
        total = lim->plugin_minute_budget_ms;
        per = "a minute for events and schedules";
    }
    int64_t left = total - *used / 1000000;
    *msg = NULL;
    if (left <= 0) {
        lua_State *L = ct_sandbox_state(p->sb);
        lua_settop(L, lua_gettop(L) - nargs - 1);
        snprintf(p->budget_msg, sizeof p->budget_msg,
                 "plugin '%s': CPU budget of %lld ms %s used up before %s",
                 p->manifest->name, (long long)total, per, what);
        *msg = p->budget_msg;
        if (b == CT_PER_DECISION)
            overran(p);
        return CT_ELIMIT;
    }
    int64_t dl = b == CT_PER_SCHEDULE ? lim->schedule_deadline_ms
                                   : lim->plugin_deadline_ms;
    p->mgr->running++;
    int rc = ct_sandbox_call_deadline(p->sb, what, nargs, nres,
                                      left < dl ? left : dl);
    p->mgr->running--;
    *used += ct_sandbox_last_call_ns(p->sb);
    if (rc == CT_ETIMEOUT)
        plugin_stuck(p, what);
    /* Given up stuck, the call's own message says so. */
    if (rc == CT_ETIMEOUT && left < dl && !p->stuck) {
        snprintf(p->budget_msg, sizeof p->budget_msg,
                 "plugin '%s': CPU budget of %lld ms %s used up in %s",
                 p->manifest->name, (long long)total, per, what);
        *msg = p->budget_msg;
        if (b == CT_PER_DECISION)
            overran(p);
        return CT_ELIMIT;
    }
    if (rc)
        *msg = ct_sandbox_last_error(p->sb)->message;
    return rc;
}

/*
 * Calls hook with up to two JSON arguments and converts nres results.
 * Returns 1 when the plugin has no such hook (nothing traced), 0 on
 * success, a negative code on failure (counted, logged, traced). res must
 * hold nres slots; each gets a new reference (JSON null for nil). The
 * first result's parts equal to like's (rank: the candidates, paired by
 * bed) are taken from like rather than copied (ct_sandbox_to_json_like).
 */
static int call_hook_like(ct_plugin *p, const char *hook, const json_t *a1,
                          const json_t *a2, int nres, json_t **res,
                          json_t *trace, json_t **entry_out,
                          const json_t *like)
{
    for (int i = 0; i < nres; i++)
        res[i] = NULL;
    if (entry_out)
        *entry_out = NULL;
    ct_plugin_guard *g = hook_guard(p, hook);
    if (g->quarantined) {
        /* A stuck plugin's state cannot be looked at: every hook of it
         * is traced as out. */
        if (p->stuck || ct_sandbox_get_hook(p->sb, hook) == 0) {
            if (!p->stuck)
                lua_settop(ct_sandbox_state(p->sb),
                           lua_gettop(ct_sandbox_state(p->sb)) - 1);
            json_t *e = trace_entry(p, hook, NULL);
            trace_error(e, p, p->stuck ? "quarantined (stuck): not called"
                                       : "quarantined: not called");
            if (trace)
                json_array_append_new(trace, e);
            else
                json_decref(e);
            return CT_EQUARANTINED;
        }
        return 1;
    }
    int rc = ct_sandbox_get_hook(p->sb, hook);
    if (rc == CT_ENOTFOUND)
        return 1;
    json_t *input = json_array();
    json_t *entry = NULL;
    const char *budget_msg = NULL;
    double t0 = now_ms();
    if (rc == 0) {
        int nargs = 0;
        const json_t *args[2] = {a1, a2};
        for (int i = 0; i < 2 && args[i]; i++, nargs++) {
            json_array_append(input, (json_t *)args[i]);
            if ((rc = ct_sandbox_push_json(p->sb, args[i]))) {
                lua_settop(ct_sandbox_state(p->sb),
                           lua_gettop(ct_sandbox_state(p->sb)) - nargs - 1);
                break;
            }
        }
        if (rc == 0)
            rc = ct_plugins__budgeted_call(p, hook, nargs, nres,
                                           CT_PER_DECISION, &budget_msg);
    }
    p->calls++;
    if (rc == 0) {
        for (int i = 0; i < nres && rc == 0; i++)
            rc = ct_sandbox_to_json_like(p->sb, -nres + i,
                                         i ? "result2" : "result", 0,
                                         i ? NULL : like, "bed", &res[i]);
        lua_settop(ct_sandbox_state(p->sb),
                   lua_gettop(ct_sandbox_state(p->sb)) - nres);
    }
    entry = trace_entry(p, hook, json_array_size(input) == 1
                                     ? json_incref(json_array_get(input, 0))
                                     : json_incref(input));
    json_decref(input);
    json_object_set_new(entry, "ms", json_real(now_ms() - t0));
    if (rc) {
        const char *msg = rc == CT_ELIMIT && budget_msg
                              ? budget_msg
                              : ct_sandbox_last_error(p->sb)->message;
        ct_log_warn("plugins", "%s", msg);
        trace_error(entry, p, msg);
        ct_plugins__count_failure(p, g, hook, rc);
        for (int i = 0; i < nres; i++) {
            json_decref(res[i]);
            res[i] = NULL;
        }
    } else {
        /* Provisional until the caller accepts the result's shape:
         * shape_error puts the count back, so a plugin that always answers
         * in the wrong shape still reaches quarantine. */
        g->unconfirmed = g->consecutive;
        ct_plugins__count_success(g);
        json_object_set(entry, "output",
                        nres == 1 ? res[0] : json_pack("[OO]", res[0], res[1]));
        if (nres != 1)
            json_decref(json_object_get(entry, "output"));
    }
    if (trace)
        json_array_append(trace, entry);
    if (entry_out)
        *entry_out = entry;
    else
        json_decref(entry);
    return rc;
}

static int call_hook(ct_plugin *p, const char *hook, const json_t *a1,
                     const json_t *a2, int nres, json_t **res,
                     json_t *trace, json_t **entry_out)
{
    return call_hook_like(p, hook, a1, a2, nres, res, trace, entry_out, NULL);
}

/* A result of the wrong shape is a failure of the plugin like any other. */
static int shape_error(ct_plugin *p, json_t *entry, const char *hook,
                       const char *what)
{
    char msg[512];
    snprintf(msg, sizeof msg, "plugin '%s': %s returned %s",
             p->manifest->name, hook, what);
    ct_log_warn("plugins", "%s", msg);
    if (entry) {
        json_object_del(entry, "output");
        trace_error(entry, p, msg);
    }
    ct_plugin_guard *g = hook_guard(p, hook);
    g->consecutive = g->unconfirmed;
    g->history >>= 1; /* the call's provisional success, taken back */
    ct_plugins__count_failure(p, g, hook, CT_EPLUGIN);
    return CT_EPLUGIN;
}

static void fallback(ct_plugin *p, bool *manual)
{
    if (p->manifest->fallback == CT_FALLBACK_MANUAL_REVIEW && manual)
        *manual = true;
}

/* A triage answer's kinds: absent, or a list of facility kinds a person
 * can be discharged to (an empty table arrives as an empty object). */
static bool kinds_ok(const json_t *kinds)
{
    if (!kinds || (json_is_object(kinds) && json_object_size(kinds) == 0))
        return true;
    if (!json_is_array(kinds))
        return false;
    size_t i;
    json_t *k;
    json_array_foreach(kinds, i, k)
    {
        int kind = ct_facility_kind_parse(json_string_value(k));
        if (kind < 0 || kind == CT_FACILITY_ACUTE)
            return false;
    }
    return true;
}

int ct_plugins_triage(ct_plugins *m, const json_t *referral, json_t *trace,
                      json_t **answer, bool *manual)
{
    *answer = NULL;
    for (size_t i = 0; m->cur && i < m->cur->n && !*answer; i++) {
        ct_plugin *p = m->cur->items[i];
        json_t *res, *entry;
        int rc = call_hook(p, "triage", referral, NULL, 1, &res, trace,
                           &entry);
        if (rc == 1)
            continue;
        if (rc == 0 && !json_is_null(res)) {
            const char *pw =
                json_string_value(json_object_get(res, "pathway"));
            json_t *prio = json_object_get(res, "priority");
            json_t *why = json_object_get(res, "reason");
            if (!json_is_object(res) || !pw || ct_pathway_parse(pw) < 0)
                rc = shape_error(p, entry, "triage",
                                 "no valid pathway (expected {pathway = "
                                 "\"P0\"|\"P1\"|\"P2\"|\"P3\"|\"step_down\", "
                                 "reason = string, priority = integer})");
            else if ((prio && !json_is_integer(prio)) ||
                     (why && !json_is_string(why)))
                rc = shape_error(p, entry, "triage",
                                 "a priority that is not an integer or a "
                                 "reason that is not a string");
            /* The ranges the host stores (and the API accepts): an answer
             * outside them is the plugin's failure, never the referral's. */
            else if (why && json_string_length(why) > CT_TRIAGE_REASON_MAX)
                rc = shape_error(p, entry, "triage",
                                 "a reason longer than 500 bytes");
            else if (prio && (json_integer_value(prio) < -CT_PRIORITY_MAX ||
                              json_integer_value(prio) > CT_PRIORITY_MAX))
                rc = shape_error(p, entry, "triage",
                                 "a priority outside -1000000 to 1000000");
            else if (!kinds_ok(json_object_get(res, "kinds")))
                rc = shape_error(p, entry, "triage",
                                 "kinds that are not a list of facility "
                                 "kinds other than acute (step_down, rehab, "
                                 "care_home, home_care, virtual_ward)");
            else
                *answer = json_incref(res);
        }
        json_decref(res);
        json_decref(entry);
        if (rc)
            fallback(p, manual);
        if (*manual)
            break;
    }
    ct_plugins_flush(m);
    return 0;
}

static bool delay_answer_ok(const json_t *res)
{
    json_t *valid = json_object_get(res, "valid");
    json_t *text = json_object_get(res, "text");
    json_t *msg = json_object_get(res, "message");
    const char *field = json_string_value(json_object_get(res, "field"));
    if (!json_is_object(res) || !json_is_boolean(valid))
        return false;
    if (json_is_true(valid))
        return !text || (json_is_string(text) &&
                         json_string_length(text) <= CT_DELAY_TEXT_MAX);
    return json_is_string(msg) && json_string_length(msg) <= 500 &&
           (!json_object_get(res, "field") ||
            (field && (!strcmp(field, "reason") ||
                       !strcmp(field, "responsible_org") ||
                       !strcmp(field, "from"))));
}

int ct_plugins_delay(ct_plugins *m, const json_t *referral,
                     const json_t *delay, json_t *trace, json_t **answer)
{
    *answer = NULL;
    int out = 0;
    ct_plugins_decision_begin(m);
    for (size_t i = 0; m->cur && i < m->cur->n && !*answer && !out; i++) {
        ct_plugin *p = m->cur->items[i];
        json_t *res, *entry;
        int rc = call_hook(p, "delay", referral, delay, 1, &res, trace,
                           &entry);
        if (rc == 1)
            continue;
        if (rc == 0 && !json_is_null(res)) {
            if (!delay_answer_ok(res))
                rc = shape_error(p, entry, "delay",
                                 "no verdict (expected {valid = true, text "
                                 "= string} or {valid = false, message = "
                                 "string, field = \"reason\"|"
                                 "\"responsible_org\"|\"from\"})");
            else
                *answer = json_incref(res);
        }
        json_decref(res);
        json_decref(entry);
        if (rc)
            out = CT_EPLUGIN;
    }
    ct_plugins_flush(m);
    return out;
}

/* Whether p has a queue hook (its state looked at on this thread). */
static bool queue_hook(const ct_plugin *p)
{
    lua_State *L = ct_sandbox_state(p->sb);
    if (ct_sandbox_get_hook(p->sb, "queue") != 0)
        return false;
    lua_settop(L, lua_gettop(L) - 1);
    return true;
}

/* queue's answer, taken in place of list when it is one: referral ids in
 * the plugin's order, or tables naming them as {id = ...}. Ids not on the
 * list or given twice are skipped; the referrals it left out follow in
 * the order the plugin was given (a plugin orders the list, it cannot
 * take anyone off it). NULL when res is not a list of either. */
static json_t *queue_order(const json_t *res, const json_t *list)
{
    if (!json_is_array(res))
        return NULL;
    json_t *by_id = json_object(), *out = json_array(), *v;
    size_t i;
    char key[24];
    json_array_foreach(list, i, v)
    {
        snprintf(key, sizeof key, "%lld",
                 (long long)json_integer_value(json_object_get(v, "id")));
        json_object_set(by_id, key, v);
    }
    json_array_foreach(res, i, v)
    {
        const json_t *id = json_is_object(v) ? json_object_get(v, "id") : v;
        if (!json_is_integer(id)) {
            json_decref(by_id);
            json_decref(out);
            return NULL;
        }
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(id));
        json_t *e = json_object_get(by_id, key);
        if (e) {
            json_array_append(out, e);
            json_object_del(by_id, key);
        }
    }
    json_array_foreach(list, i, v)
    {
        snprintf(key, sizeof key, "%lld",
                 (long long)json_integer_value(json_object_get(v, "id")));
        if (json_object_get(by_id, key))
            json_array_append(out, v);
    }
    json_decref(by_id);
    return out;
}

bool ct_plugins_has_queue(const ct_plugins *m)
{
    for (size_t i = 0; m->cur && i < m->cur->n; i++) {
        const ct_plugin *p = m->cur->items[i];
        /* A stuck plugin's state is still in use on its thread: not
         * looked at (and its hooks are out anyway). */
        if (!p->stuck && !p->hooks[CT_HOOK_QUEUE].quarantined &&
            queue_hook(p))
            return true;
    }
    return false;
}

int ct_plugins_queue(ct_plugins *m, json_t **list, json_t *trace)
{
    ct_plugins_decision_begin(m);
    for (size_t i = 0; m->cur && i < m->cur->n; i++) {
        ct_plugin *p = m->cur->items[i];
        json_t *res, *entry;
        int rc = call_hook(p, "queue", *list, NULL, 1, &res, trace, &entry);
        if (rc == 1)
            continue;
        json_t *next = rc == 0 ? queue_order(res, *list) : NULL;
        if (rc == 0 && !next)
            shape_error(p, entry, "queue",
                        "not a list of referral ids (expected the list "
                        "it was given, reordered, or their ids)");
        if (next) {
            json_decref(*list);
            *list = next;
        }
        /* A failure keeps the order it was given: the list is still
         * served, in the order before this plugin. */
        json_decref(res);
        json_decref(entry);
    }
    ct_plugins_flush(m);
    return 0;
}

/* rank's answer: a list of tables each naming a bed. */
static bool valid_ranking(const json_t *v)
{
    if (!json_is_array(v))
        return false;
    size_t i;
    json_t *c;
    json_array_foreach(v, i, c) if (!json_is_object(c) ||
                                    !json_is_string(json_object_get(c, "bed")))
        return false;
    return true;
}

/*
 * A rank step's trace without the candidate tables over again (50 of them,
 * twice per plugin, were most of a decision's size and of its cost): the
 * input becomes [referral, bed ids in the order the plugin got them] and
 * each output entry keeps its bed and only the fields the plugin added or
 * changed (score, reason...), in the plugin's order. The host's own list
 * is recorded once with the decision, so every step can be read back.
 */
struct member {
    const char *k;
    const json_t *v;
};

static void compact_rank_entry(json_t *entry, const json_t *given)
{
    json_t *input = json_object_get(entry, "input");
    json_t *ids = json_array();
    json_t *by_bed = json_object();
    if (!ids || !by_bed)
        goto done;
    size_t i;
    json_t *c;
    json_array_foreach(given, i, c)
    {
        json_t *bed = json_object_get(c, "bed");
        json_array_append(ids, bed);
        if (json_is_string(bed))
            json_object_set(by_bed, json_string_value(bed), c);
    }
    if (json_is_array(input) && json_array_size(input) == 2)
        json_array_set(input, 1, ids);
    json_t *out = json_object_get(entry, "output");
    if (!json_is_array(out))
        goto done;
    json_t *slim = json_array();
    if (!slim)
        goto done;
    json_array_foreach(out, i, c)
    {
        json_t *bed = json_object_get(c, "bed");
        const json_t *was =
            json_is_string(bed) ? json_object_get(by_bed, json_string_value(bed))
                                : NULL;
        json_t *d = json_object();
        const char *k;
        json_t *v;
        /* Taken back unchanged (ct_sandbox_to_json_like): only its bed. */
        if (c == was) {
            json_object_set(d, "bed", bed);
            json_array_append_new(slim, d);
            continue;
        }
        /* was's members as a list: a value taken back from the candidate
         * is the same pointer, found by a few comparisons rather than a
         * lookup per member (600 a decision). */
        struct member m[16];
        size_t nm = 0;
        if (was && json_object_size(was) <= 16)
            json_object_foreach((json_t *)was, k, v)
            {
                m[nm++] = (struct member){k, v};
            }
        json_object_foreach(c, k, v)
        {
            bool same = false;
            if (strcmp(k, "bed") != 0) {
                for (size_t j = 0; j < nm && !same; j++)
                    same = m[j].v == v && strcmp(m[j].k, k) == 0;
                const json_t *w =
                    same || !was ? NULL : json_object_get(was, k);
                same = same || (w && (w == v || json_equal(w, v)));
            }
            if (!same)
                json_object_set(d, k, v);
        }
        json_array_append_new(slim, d);
    }
    json_object_set_new(entry, "output", slim);
done:
    json_decref(ids);
    json_decref(by_bed);
}

/* The beds of before that after lacks, onto drops with plugin p's
 * reasons (why: bed id -> text, may be anything). */
static void note_drops(const ct_plugin *p, const json_t *before,
                       const json_t *after, const json_t *why, json_t *drops)
{
    if (!drops)
        return;
    json_t *kept = ct_json_key_set(after, "bed");
    size_t i;
    json_t *c;
    json_array_foreach(before, i, c)
    {
        const char *b = json_string_value(json_object_get(c, "bed"));
        if (!b || json_object_get(kept, b))
            continue;
        const char *r = json_is_object(why)
                            ? json_string_value(json_object_get(why, b))
                            : NULL;
        json_array_append_new(
            drops, json_pack("{s:s, s:s, s:s}", "plugin", p->manifest->name,
                             "bed", b, "reason",
                             r ? r : "dropped without a reason"));
    }
    json_decref(kept);
}

int ct_plugins_rank(ct_plugins *m, const json_t *referral,
                    json_t **candidates, json_t *trace, bool *manual,
                    json_t *drops)
{
    for (size_t i = 0; m->cur && i < m->cur->n; i++) {
        ct_plugin *p = m->cur->items[i];
        json_t *res[2] = {NULL, NULL}, *entry;
        int rc = call_hook_like(p, "rank", referral, *candidates, 2, res,
                                trace, &entry, *candidates);
        if (rc == 1)
            continue;
        /* An empty table reads as an object; it is an empty list here. */
        if (rc == 0 && json_is_object(res[0]) &&
            json_object_size(res[0]) == 0) {
            json_decref(res[0]);
            res[0] = json_array();
        }
        if (rc == 0 && !valid_ranking(res[0]))
            rc = shape_error(p, entry, "rank",
                             "something other than a list of candidates "
                             "(tables with a bed field)");
        if (rc == 0) {
            if (entry) {
                /* The trace shows the list, and the reasons for drops
                 * beside it when the plugin gave any. */
                json_object_set(entry, "output", res[0]);
                if (json_is_object(res[1]) && json_object_size(res[1]))
                    json_object_set(entry, "drop_reasons", res[1]);
                compact_rank_entry(entry, *candidates);
            }
            note_drops(p, *candidates, res[0], res[1], drops);
            json_decref(*candidates);
            *candidates = json_incref(res[0]);
        } else {
            fallback(p, manual);
        }
        json_decref(res[0]);
        json_decref(res[1]);
        json_decref(entry);
        if (*manual)
            break;
    }
    ct_plugins_flush(m);
    return 0;
}

int ct_plugins_admit(ct_plugins *m, const json_t *referral,
                     const json_t *candidate, json_t *trace, bool *allowed,
                     const char **reason, bool *manual)
{
    static char why[512];
    *allowed = true;
    *reason = NULL;
    for (size_t i = 0; m->cur && i < m->cur->n && *allowed; i++) {
        ct_plugin *p = m->cur->items[i];
        json_t *res[2], *entry;
        int rc = call_hook(p, "admit", referral, candidate, 2, res, trace,
                           &entry);
        if (rc == 1)
            continue;
        if (rc == 0 && !json_is_boolean(res[0]))
            rc = shape_error(p, entry, "admit",
                             "something other than true or false, reason");
        if (rc == 0 && json_is_false(res[0])) {
            *allowed = false;
            const char *r = json_string_value(res[1]);
            snprintf(why, sizeof why, "%s: %s", p->manifest->name,
                     r ? r : "refused");
            *reason = why;
        }
        json_decref(res[0]);
        json_decref(res[1]);
        json_decref(entry);
        if (rc) {
            /* manual review stops the decision; skip lets the bed pass. */
            fallback(p, manual);
            if (*manual)
                break;
        }
    }
    ct_plugins_flush(m);
    return 0;
}

int ct_plugins_escalate(ct_plugins *m, const json_t *metrics, json_t *trace,
                        json_t **out)
{
    ct_plugins_decision_begin(m); /* an escalation is a decision of its own */
    json_int_t best = 0;
    const char *best_reason = "";
    json_t *actions = json_array();
    json_t *answers = json_array();
    for (size_t i = 0; m->cur && i < m->cur->n; i++) {
        ct_plugin *p = m->cur->items[i];
        json_t *res, *entry;
        int rc = call_hook(p, "escalate", metrics, NULL, 1, &res, trace,
                           &entry);
        if (rc == 1)
            continue;
        if (rc == 0 && !json_is_null(res)) {
            json_t *lv = json_object_get(res, "level");
            json_t *acts = json_object_get(res, "actions");
            if (!json_is_integer(lv) || json_integer_value(lv) < 1 ||
                json_integer_value(lv) > 4)
                rc = shape_error(p, entry, "escalate",
                                 "no level from 1 to 4 (expected {level = "
                                 "1..4, reason = string, actions = {...}})");
            else if (acts && !json_is_array(acts) &&
                     !(json_is_object(acts) && json_object_size(acts) == 0))
                rc = shape_error(p, entry, "escalate",
                                 "actions that are not a list");
            else {
                json_array_append(answers, res);
                if (json_integer_value(lv) > best) {
                    best = json_integer_value(lv);
                    best_reason =
                        json_string_value(json_object_get(res, "reason"));
                    if (!best_reason)
                        best_reason = p->manifest->name;
                }
                size_t j;
                json_t *a;
                if (json_is_array(acts))
                    json_array_foreach(acts, j, a) json_array_append_new(
                        actions, json_pack("{s:s, s:O}", "plugin",
                                           p->manifest->name, "action", a));
            }
        }
        json_decref(res);
        json_decref(entry);
    }
    *out = json_pack("{s:I, s:s, s:o}", "level", best, "reason", best_reason,
                     "actions", actions);
    json_decref(answers);
    ct_plugins_flush(m);
    return *out ? 0 : CT_ENOMEM;
}
