/*
 * The host API plugins call: module `caretide`, also the global `ct`
 * (lua/meta/caretide.lua documents every function). Each C function checks
 * its arguments first and quotes its Lua signature when misused; expected
 * refusals return nil, message, code. Values cross as plain tables.
 */
#include "plugins_int.h"

#include "capacity.h"
#include "capacity_resident.h"
#include "capacity_view.h"
#include "escalation.h"
#include "error.h"
#include "events.h"
#include "isolation.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "referral.h"
#include "util.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>

/*
 * Area-wide policy values live in the kv table under namespaces no plugin
 * can own ('@' cannot start a plugin name): each publisher's values under
 * "@policy:<plugin>" (so the kv quota applies per plugin), and who
 * publishes each key under "@policy-owner". "@policy" holds values written
 * before keys had owners; they are read until a publisher takes the key.
 */
#define POLICY_LEGACY_NS "@policy"
#define POLICY_OWNER_NS "@policy-owner"
#define POLICY_NS_PREFIX "@policy:"

/* ct.emit: at most this many payload bytes per event, and per plugin per
 * minute of the host clock, so that no plugin grows the audit log without
 * bound. */
#define EMIT_EVENT_MAX ((size_t)16 << 10)
#define EMIT_MINUTE_MAX ((size_t)256 << 10)

static ct_plugin *self(lua_State *L)
{
    return ct_sandbox_userdata(ct_sandbox_from_state(L));
}

static ct_capacity *cap_of(lua_State *L)
{
    return ct_plugins__capacity(self(L)->mgr);
}

static const char *actor_of(lua_State *L, char *buf, size_t size)
{
    snprintf(buf, size, "plugin:%s", self(L)->manifest->name);
    return buf;
}

static int push_boxed(lua_State *L)
{
    json_t **box = lua_touserdata(L, 1);
    ct_sandbox_lua_push_json(L, *box);
    return 1;
}

/* Pushes a JSON value (consumed) as a Lua value; raises on failure. */
static int push_json(lua_State *L, json_t *v)
{
    /* Pushed onto L, the calling thread (a coroutine perhaps). The value is
     * anchored on L's stack while it converts so that an error (memory)
     * does not leak it. */
    json_t **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = v;
    lua_pushcfunction(L, push_boxed);
    lua_insert(L, -2);
    int st = lua_pcall(L, 1, 1, 0);
    json_decref(v);
    if (st != LUA_OK)
        return lua_error(L);
    return 1;
}

/* nil, message, code: the expected-failure channel (docs/style.md 8). */
static int fail(lua_State *L, int code, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg && *msg ? msg : ct_strerror(code));
    lua_pushstring(L, ct_err_name(code));
    return 3;
}

/* --- time ------------------------------------------------------------ */

/* ct.now() -> integer */
static int l_now(lua_State *L)
{
    lua_pushinteger(L, ct_clock_now(ct_capacity_clock(cap_of(L))));
    return 1;
}

/* ct.format_time(ms [, "datetime"|"date"]) -> string */
static int l_format_time(lua_State *L)
{
    lua_Integer ms = luaL_checkinteger(L, 1);
    /* Years 0000 to 9999: the format's four digits, and far from the
     * overflow of the day arithmetic at the ends of the integers. */
    luaL_argcheck(L, ms >= -62167219200000LL && ms <= 253402300799999LL, 1,
                  "expected format_time(ms) with ms in years 0000 to 9999");
    static const char *const what[] = {"datetime", "date", NULL};
    int opt = luaL_checkoption(L, 2, "datetime", what);
    char buf[40];
    ct_clock_format((int64_t)ms, buf, sizeof buf);
    if (opt == 1)
        buf[10] = '\0';
    lua_pushstring(L, buf);
    return 1;
}

/* Lua's expected-failure channel for a text-to-milliseconds parse: the
 * integer, or nil and "not a WHAT: 'text' (expected EXPECTED)". */
static int push_ms(lua_State *L, int (*parse)(const char *, int64_t *),
                   const char *what, const char *expected)
{
    const char *s = luaL_checkstring(L, 1);
    int64_t ms;
    if (parse(s, &ms)) {
        lua_pushnil(L);
        lua_pushfstring(L, "not a %s: '%s' (expected %s)", what, s, expected);
        return 2;
    }
    lua_pushinteger(L, ms);
    return 1;
}

/* ct.parse_time(text) -> integer | nil, err */
static int l_parse_time(lua_State *L)
{
    return push_ms(L, ct_clock_parse, "date or time",
                   "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
}

/* ct.duration(text) -> integer | nil, err */
static int l_duration(lua_State *L)
{
    return push_ms(L, ct_parse_duration_ms, "duration", "e.g. 15m, 48h, 14d");
}

/* ct.days_between(from, to) -> integer */
static int l_days_between(lua_State *L)
{
    const char *a = luaL_checkstring(L, 1), *b = luaL_checkstring(L, 2);
    int64_t x, y;
    luaL_argcheck(L, strlen(a) == 10 && ct_clock_parse(a, &x) == 0, 1,
                  "expected days_between(\"YYYY-MM-DD\", \"YYYY-MM-DD\")");
    luaL_argcheck(L, strlen(b) == 10 && ct_clock_parse(b, &y) == 0, 2,
                  "expected days_between(\"YYYY-MM-DD\", \"YYYY-MM-DD\")");
    lua_pushinteger(L, (y - x) / 86400000);
    return 1;
}

/* --- logging ----------------------------------------------------------- */

static int log_at(lua_State *L, ct_log_level level)
{
    luaL_checkstring(L, 1);
    if (lua_gettop(L) > 1) {
        /* string.format(fmt, ...) through Lua's own, already bounded. */
        lua_getglobal(L, "string");
        lua_getfield(L, -1, "format");
        lua_insert(L, 1);
        lua_pop(L, 1);
        lua_call(L, lua_gettop(L) - 1, 1);
    }
    char unit[80];
    snprintf(unit, sizeof unit, "plugin:%s", self(L)->manifest->name);
    ct_log(level, unit, "%s", lua_tostring(L, -1));
    return 0;
}

/* ct.log.debug(fmt, ...) and friends */
static int l_log_debug(lua_State *L) { return log_at(L, CT_LOG_DEBUG); }
static int l_log_info(lua_State *L) { return log_at(L, CT_LOG_INFO); }
static int l_log_warn(lua_State *L) { return log_at(L, CT_LOG_WARN); }
static int l_log_error(lua_State *L) { return log_at(L, CT_LOG_ERROR); }

/* --- schedules and events ----------------------------------------------- */

static void schedule_fire(ct_timer *t, void *data)
{
    (void)t;
    ct_plugins__schedule_fired(data);
}

/* Next due time of a schedule after now. */
static int64_t next_due(const ct_plugin_schedule *s, int64_t now)
{
    if (s->daily_minute < 0)
        return now + s->interval_ms;
    int64_t day = 86400000, midnight = now - (now % day);
    int64_t at = midnight + (int64_t)s->daily_minute * 60000;
    return at > now ? at : at + day;
}

void ct_plugins__schedule_arm(ct_plugin_schedule *s, bool soon)
{
    ct_clock *clock = ct_capacity_clock(ct_plugins__capacity(s->plugin->mgr));
    int64_t now = ct_clock_now(clock);
    ct_timer_start(&s->timer, soon ? now : next_due(s, now), schedule_fire,
                   s);
}

static int add_schedule(lua_State *L, int64_t interval, int minute,
                        const char *kind, const char *when)
{
    ct_plugin *p = self(L);
    ct_plugin_schedule **v =
        realloc(p->scheds, (p->nscheds + 1) * sizeof *v);
    if (!v)
        return luaL_error(L, "out of memory");
    p->scheds = v;
    /* The reference first: taking it may raise (out of memory), and
     * nothing of ours is held yet. */
    int ref;
    lua_pushvalue(L, 2);
    ct_sandbox_lua_ref(L, "ct.every/daily", &ref);
    ct_plugin_schedule *s = calloc(1, sizeof *s);
    if (!s) {
        ct_sandbox_unref(ct_sandbox_from_state(L), ref);
        return luaL_error(L, "out of memory");
    }
    s->plugin = p;
    s->interval_ms = interval;
    s->daily_minute = minute;
    s->ref = ref;
    snprintf(s->name, sizeof s->name, "%s %.20s #%zu", kind, when,
             p->nscheds + 1);
    ct_timer_init(ct_capacity_clock(cap_of(L)), &s->timer);
    p->scheds[p->nscheds++] = s;
    lua_pushinteger(L, (lua_Integer)p->nscheds);
    return 1;
}

/* ct.every(interval, fn) -> integer */
static int l_every(lua_State *L)
{
    const char *iv = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (!self(L)->in_setup)
        return luaL_error(L, "ct.every(interval, fn) is only allowed in "
                             "setup()");
    int64_t ms;
    luaL_argcheck(L, ct_parse_duration_ms(iv, &ms) == 0 && ms >= 1000, 1,
                  "expected every(duration, function) with a duration of "
                  "at least 1s, like \"15m\"");
    return add_schedule(L, ms, -1, "every", iv);
}

/* ct.daily(hhmm, fn) -> integer */
static int l_daily(lua_State *L)
{
    const char *s = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (!self(L)->in_setup)
        return luaL_error(L, "ct.daily(hhmm, fn) is only allowed in "
                             "setup()");
    int h = -1, m = -1;
    char extra;
    luaL_argcheck(L,
                  strlen(s) == 5 &&
                      sscanf(s, "%2d:%2d%c", &h, &m, &extra) == 2 &&
                      h >= 0 && h < 24 && m >= 0 && m < 60,
                  1, "expected daily(\"HH:MM\", function)");
    return add_schedule(L, 86400000, h * 60 + m, "daily", s);
}

/* ct.isolation_length(pathogen, duration) */
static int l_isolation_length(lua_State *L)
{
    static const char *const sig =
        "expected isolation_length(pathogen, duration)";
    size_t n;
    const char *pathogen = luaL_checklstring(L, 1, &n);
    luaL_argcheck(L, n > 0 && n < 64, 1, sig);
    int64_t ms = -1;
    if (lua_isinteger(L, 2))
        ms = (int64_t)lua_tointeger(L, 2);
    else if (lua_type(L, 2) == LUA_TSTRING &&
             ct_parse_duration_ms(lua_tostring(L, 2), &ms))
        ms = -1;
    luaL_argcheck(L, ms > 0, 2,
                  "expected isolation_length(pathogen, duration) with a "
                  "positive duration, like \"10d\" or milliseconds");
    ct_plugin *p = self(L);
    if (!p->in_setup)
        return luaL_error(L, "ct.isolation_length(pathogen, duration) is "
                             "only allowed in setup()");
    size_t i = 0;
    while (i < p->niso && strcmp(p->iso[i].pathogen, pathogen))
        i++;
    if (i == p->niso) {
        struct ct_plugin_iso *v = realloc(p->iso, (i + 1) * sizeof *v);
        if (!v)
            return luaL_error(L, "out of memory");
        p->iso = v;
        memcpy(v[i].pathogen, pathogen, n + 1);
        p->niso++;
    }
    p->iso[i].ms = ms;
    return 0;
}

/* ct.on(event, fn) */
static int l_on(lua_State *L)
{
    const char *ev = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    ct_plugin *p = self(L);
    if (!p->in_setup)
        return luaL_error(L, "ct.on(event, fn) is only allowed in setup()");
    luaL_argcheck(L, *ev && strlen(ev) <= 100, 1,
                  "expected on(event, function) with a dotted event name");
    ct_plugin_sub *v = realloc(p->subs, (p->nsubs + 1) * sizeof *v);
    if (!v)
        return luaL_error(L, "out of memory");
    p->subs = v;
    ct_plugin_sub *sub = &p->subs[p->nsubs];
    *sub = (ct_plugin_sub){.ref = LUA_NOREF};
    lua_pushvalue(L, 2);
    ct_sandbox_lua_ref(L, "ct.on", &sub->ref); /* may raise: nothing held */
    if (!(sub->event = strdup(ev))) {
        ct_sandbox_unref(ct_sandbox_from_state(L), sub->ref);
        return luaL_error(L, "cannot keep the event handler");
    }
    p->nsubs++;
    return 0;
}

/* Converts argument idx to JSON (nil allowed as null); raises on shapes
 * that cannot cross. */
static json_t *arg_json(lua_State *L, int idx, const char *what)
{
    if (lua_isnoneornil(L, idx))
        return json_null();
    json_t *v = NULL;
    int rc = ct_sandbox_lua_to_json(L, idx, what, 0, &v);
    if (rc)
        luaL_error(L, "%s", ct_sandbox_last_error(ct_sandbox_from_state(L))
                                ->message);
    return v;
}

typedef struct emit_write {
    ct_events *bus;
    const char *actor, *kind;
    json_t *payload; /* owned until recorded */
    int64_t seq;
} emit_write;

static int emit_fn(ct_store *s, void *arg)
{
    (void)s;
    emit_write *w = arg;
    json_t *payload = w->payload;
    w->payload = NULL;
    return ct_events_record(w->bus, w->actor, w->kind, payload,
                            CT_EVENT_PLUGIN, NULL, &w->seq);
}

/* ct.emit(event, payload?) -> true | nil, err, code */
static int l_emit(lua_State *L)
{
    const char *ev = luaL_checkstring(L, 1);
    luaL_argcheck(L, *ev && strlen(ev) <= 100, 1,
                  "expected emit(event, table?) with a dotted event name");
    json_t *payload = arg_json(L, 2, "payload");
    if (json_is_null(payload)) {
        json_decref(payload);
        payload = json_object();
    }
    /* The payload as the audit log will hold it, against the quotas. */
    char *text = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len = text ? strlen(text) : 0;
    free(text);
    if (!text) {
        json_decref(payload);
        return fail(L, CT_ENOMEM, "cannot record the event");
    }
    ct_plugin *p = self(L);
    int64_t minute = ct_clock_now(ct_capacity_clock(cap_of(L))) / 60000;
    if (minute != p->emit_minute) {
        p->emit_minute = minute;
        p->emit_bytes = 0;
    }
    if (len > EMIT_EVENT_MAX || len > EMIT_MINUTE_MAX - p->emit_bytes) {
        json_decref(payload);
        return fail(L, CT_ELIMIT,
                    len > EMIT_EVENT_MAX
                        ? "event payload is over the 16 KiB limit"
                        : "the plugin's emit quota of 256 KiB a minute is "
                          "used up");
    }
    p->emit_bytes += len;
    char kind[160], actor[160];
    snprintf(kind, sizeof kind, "plugin.%s", ev);
    /* Recorded in the caller's transaction when there is one (a decision,
     * a group commit) so that it stands or falls with it; delivered by
     * the bus after the commit that keeps it. */
    emit_write w = {ct_capacity_events(cap_of(L)),
                    actor_of(L, actor, sizeof actor), kind, payload, 0};
    int rc = ct_store_run(ct_events_store(w.bus), emit_fn, &w);
    if (w.payload) /* not reached: begin failed */
        json_decref(w.payload);
    if (rc)
        return fail(L, rc, "cannot record the event in the audit log");
    ct_plugins__note_answer(self(L)->mgr, w.seq);
    lua_pushboolean(L, 1);
    return 1;
}

/* --- kv and policy ------------------------------------------------------- */

static uint64_t kv_limit(lua_State *L)
{
    return ct_plugins__config(self(L)->mgr)->limits.plugin_kv_bytes;
}

static int kv_get(lua_State *L, const char *ns)
{
    const char *key = luaL_checkstring(L, 1);
    json_t *v = NULL;
    int rc = ct_kv_get(ct_capacity_store(cap_of(L)), ns, key, &v);
    if (rc == CT_ENOTFOUND) {
        lua_pushnil(L);
        return 1;
    }
    if (rc)
        return fail(L, rc, "cannot read the store");
    return push_json(L, v);
}

static int kv_set(lua_State *L, const char *ns, const char *sig)
{
    const char *key = luaL_checkstring(L, 1);
    luaL_argcheck(L, !lua_isnoneornil(L, 2), 2, sig);
    json_t *v = arg_json(L, 2, "value");
    int rc = ct_kv_set(ct_capacity_store(cap_of(L)), ns, key, v, kv_limit(L));
    json_decref(v);
    if (rc == CT_ELIMIT)
        return fail(L, rc, "the plugin's store is full (limits.plugin_kv)");
    if (rc == CT_EINVAL)
        return fail(L, rc, "keys are 1 to 256 bytes");
    if (rc)
        return fail(L, rc, "cannot write the store");
    lua_pushboolean(L, 1);
    return 1;
}

/* ct.kv.get(key) -> value | nil | nil, err, code */
static int l_kv_get(lua_State *L)
{
    return kv_get(L, self(L)->manifest->name);
}

/* ct.kv.set(key, value) -> true | nil, err, code */
static int l_kv_set(lua_State *L)
{
    return kv_set(L, self(L)->manifest->name,
                  "expected kv.set(string, value)");
}

/* ct.kv.delete(key) -> boolean | nil, err, code */
static int l_kv_delete(lua_State *L)
{
    const char *key = luaL_checkstring(L, 1);
    int existed = 0;
    int rc = ct_kv_delete(ct_capacity_store(cap_of(L)),
                          self(L)->manifest->name, key, &existed);
    if (rc)
        return fail(L, rc, "cannot write the store");
    lua_pushboolean(L, existed);
    return 1;
}

/* ct.kv.keys() -> {string...} | nil, err, code */
static int l_kv_keys(lua_State *L)
{
    json_t *keys = NULL;
    int rc = ct_kv_keys(ct_capacity_store(cap_of(L)), self(L)->manifest->name,
                        &keys);
    if (rc)
        return fail(L, rc, "cannot read the store");
    return push_json(L, keys);
}

/* Pushes the publisher of a policy key (or nil); raises when the store
 * cannot be read. */
static const char *policy_owner(lua_State *L, const char *key, json_t **own)
{
    *own = NULL;
    int rc = ct_kv_get(ct_capacity_store(cap_of(L)), POLICY_OWNER_NS, key,
                       own);
    if (rc == CT_ENOTFOUND)
        return NULL;
    if (rc)
        luaL_error(L, "cannot read the store");
    return json_string_value(*own);
}

/* ct.policy.get(key) -> value | nil | nil, err, code */
static int l_policy_get(lua_State *L)
{
    const char *key = luaL_checkstring(L, 1);
    json_t *own;
    const char *owner = policy_owner(L, key, &own);
    if (!owner) {
        json_decref(own);
        return kv_get(L, POLICY_LEGACY_NS);
    }
    char ns[128];
    snprintf(ns, sizeof ns, POLICY_NS_PREFIX "%s", owner);
    json_decref(own);
    return kv_get(L, ns);
}

/* One policy change: the value, its owner when taken, and the audit
 * record that subscribers hear of as policy.changed after the commit. */
typedef struct policy_write {
    ct_capacity *c;
    const char *ns, *key, *actor;
    json_t *value, *owner;
    uint64_t limit;
} policy_write;

static int policy_write_fn(ct_store *s, void *arg)
{
    policy_write *w = arg;
    int rc = ct_kv_set(s, w->ns, w->key, w->value, w->limit);
    if (rc == 0 && w->owner)
        rc = ct_kv_set(s, POLICY_OWNER_NS, w->key, w->owner, UINT64_MAX);
    if (rc == 0)
        rc = ct_events_record(
            ct_capacity_events(w->c), w->actor, "policy.published",
            json_pack("{s:s, s:O}", "key", w->key, "value", w->value),
            CT_EVENT_PLUGIN, "policy.changed", NULL);
    return rc;
}

/*
 * ct.policy.set(key, value) -> true | nil, err, code
 * Publishes a value for every plugin to read. A key belongs to the plugin
 * that first published it, for as long as that plugin is loaded; another
 * plugin is refused (CT_EDENIED). Each change is an audit event
 * (policy.published, actor plugin:<name>) in the running transaction,
 * delivered as policy.changed after its commit; a refused or rolled back
 * change is announced to nobody.
 */
static int l_policy_set(lua_State *L)
{
    const char *key = luaL_checkstring(L, 1);
    luaL_argcheck(L, !lua_isnoneornil(L, 2), 2,
                  "expected policy.set(string, value)");
    ct_plugin *p = self(L);
    const char *me = p->manifest->name;
    ct_capacity *c = cap_of(L);
    ct_store *s = ct_capacity_store(c);
    json_t *own;
    const char *owner = policy_owner(L, key, &own);
    if (owner && strcmp(owner, me) != 0 &&
        ct_plugins__loaded(p->mgr, owner)) {
        char msg[300];
        snprintf(msg, sizeof msg, "policy '%s' is published by plugin '%s'",
                 key, owner);
        json_decref(own);
        return fail(L, CT_EDENIED, msg);
    }
    bool take = !owner || strcmp(owner, me) != 0;
    json_decref(own);
    json_t *v = arg_json(L, 2, "value");
    char ns[128], actor[160];
    snprintf(ns, sizeof ns, POLICY_NS_PREFIX "%s", me);
    json_t *old = NULL;
    if (!take && ct_kv_get(s, ns, key, &old) == 0 && json_equal(old, v)) {
        json_decref(old);
        json_decref(v);
        lua_pushboolean(L, 1); /* unchanged: nothing to publish or audit */
        return 1;
    }
    json_decref(old);
    policy_write w = {.c = c,
                      .ns = ns,
                      .key = key,
                      .value = v,
                      .owner = take ? json_string(me) : NULL,
                      .limit = kv_limit(L),
                      .actor = actor_of(L, actor, sizeof actor)};
    int rc = !take || w.owner ? ct_store_run(s, policy_write_fn, &w)
                              : CT_ENOMEM;
    json_decref(w.owner);
    json_decref(v);
    if (rc) {
        if (rc == CT_ELIMIT)
            return fail(L, rc, "the plugin's store is full (limits.plugin_kv)");
        if (rc == CT_EINVAL)
            return fail(L, rc, "keys are 1 to 256 bytes");
        return fail(L, rc, "cannot write the store");
    }
    ct_log_info("policy", "%s published policy '%s'", actor, key);
    lua_pushboolean(L, 1);
    return 1;
}

/* --- views ---------------------------------------------------------------- */

/* ct.metrics() -> table | nil, err, code */
static int l_metrics(lua_State *L)
{
    json_t *m = NULL;
    ct_cap_error err = {0};
    if (ct_metrics_json(cap_of(L), &m, &err))
        return fail(L, err.code, err.message);
    return push_json(L, m);
}

/* ct.referral(id) -> table | nil | nil, err, code */
static int l_referral(lua_State *L)
{
    lua_Integer id = luaL_checkinteger(L, 1);
    json_t *r = NULL;
    ct_cap_error err = {0};
    int rc = ct_capacity_view_referral(cap_of(L), (int64_t)id, &r, &err);
    if (rc == CT_ENOTFOUND) {
        lua_pushnil(L);
        return 1;
    }
    if (rc)
        return fail(L, rc, err.message);
    return push_json(L, r);
}

/* ct.referrals(filter?) -> {table...} | nil, err, code
 * filter: {state=, pathway=, discharged_before=, after=, limit=} */
static int l_referrals(lua_State *L)
{
    ct_referral_scan f = {.state = -1, .pathway = -1, .limit = 1000};
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_getfield(L, 1, "state");
        if (!lua_isnil(L, -1)) {
            f.state = ct_referral_state_parse(lua_tostring(L, -1));
            luaL_argcheck(L, f.state >= 0, 1,
                          "expected referrals{state = a referral state}");
        }
        lua_getfield(L, 1, "pathway");
        if (!lua_isnil(L, -1)) {
            f.pathway = ct_pathway_parse(lua_tostring(L, -1));
            luaL_argcheck(L, f.pathway >= 0, 1,
                          "expected referrals{pathway = P0, P1, P2, P3 or "
                          "step_down}");
        }
        lua_getfield(L, 1, "discharged_before");
        lua_Integer before = luaL_optinteger(L, -1, 0);
        luaL_argcheck(L, before >= 0, 1,
                      "expected referrals{discharged_before = a time in ms}");
        f.discharged_before = (int64_t)before;
        lua_getfield(L, 1, "after");
        f.after_id = (int64_t)luaL_optinteger(L, -1, 0);
        lua_getfield(L, 1, "limit");
        lua_Integer limit = luaL_optinteger(L, -1, 1000);
        luaL_argcheck(L, limit >= 1 && limit <= 1000, 1,
                      "expected referrals{limit = 1 to 1000}");
        f.limit = (int)limit;
        lua_pop(L, 5);
    }
    json_t *list = NULL;
    ct_cap_error err = {0};
    int rc = ct_referral_find_json(cap_of(L), &f, &list, &err);
    if (rc)
        return fail(L, rc, err.message);
    return push_json(L, list);
}

/* ct.capacity() -> table | nil, err, code */
static int l_capacity(lua_State *L)
{
    json_t *v = NULL;
    ct_cap_error err = {0};
    if (ct_capacity_view_json(cap_of(L), &v, &err))
        return fail(L, err.code, err.message);
    return push_json(L, v);
}

/* Reads an optional string field of the filter table at index 1. */
static const char *opt_field(lua_State *L, const char *k)
{
    lua_getfield(L, 1, k);
    const char *v = lua_isnil(L, -1) ? NULL : lua_tostring(L, -1);
    luaL_argcheck(L, lua_isnil(L, -1) || v, 1,
                  "expected beds{facility=, zone=, status=, tag=} with "
                  "string values");
    lua_pop(L, 1); /* the string stays alive in the caller's table */
    return v;
}

/* ct.beds({facility=, zone=, status=, tag=}?) -> {bed...} | nil, err, code */
static int l_beds(lua_State *L)
{
    ct_bed_filter f = {.status = -1, .limit = CT_VIEW_MAX_BEDS};
    const char *tag = NULL;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        f.facility_id = opt_field(L, "facility");
        f.zone_id = opt_field(L, "zone");
        const char *st = opt_field(L, "status");
        if (st) {
            f.status = ct_bed_status_parse(st);
            luaL_argcheck(L, f.status >= 0, 1,
                          "expected beds{status = \"available\"|\"held\"|"
                          "\"occupied\"|\"blocked\"}");
        }
        tag = opt_field(L, "tag");
    }
    if (tag) {
        f.tags = &tag;
        f.ntags = 1;
    }
    json_t *v = NULL;
    ct_cap_error err = {0};
    if (ct_capacity_view_beds_json(cap_of(L), &f, &v, &err))
        return fail(L, err.code, err.message);
    return push_json(L, v);
}

/* ct.escalation() -> {level=, since=, reason=, history=}|nil, err, code */
static int l_escalation(lua_State *L)
{
    json_t *v = NULL;
    int rc = ct_escalation_json(ct_capacity_store(cap_of(L)), 10, &v);
    if (rc)
        return fail(L, rc, "cannot read the escalation level");
    return push_json(L, v);
}

/* --- actions through the host's invariants ------------------------------ */

static int act_result(lua_State *L, int rc, const ct_cap_error *err)
{
    if (rc)
        return fail(L, rc, err->message);
    lua_pushboolean(L, 1);
    return 1;
}

static int surge(lua_State *L, bool open)
{
    const char *fac = luaL_checkstring(L, 1);
    lua_Integer n = luaL_optinteger(L, 2, CT_SURGE_ALL);
    /* Checked before the narrowing to int: 2^32-1 would become -1, which
     * is CT_SURGE_ALL. */
    luaL_argcheck(L, n == CT_SURGE_ALL || (n >= 1 && n <= 100000), 2,
                  open ? "expected open_surge(facility, count?) with a "
                         "count from 1 to 100000"
                       : "expected close_surge(facility, count?) with a "
                         "count from 1 to 100000");
    char actor[100];
    ct_surge_result res;
    ct_cap_error err = {0};
    int rc = open ? ct_capacity_surge_open(cap_of(L), fac, (int)n,
                                           actor_of(L, actor, sizeof actor),
                                           &res, &err)
                  : ct_capacity_surge_close(cap_of(L), fac, (int)n,
                                            actor_of(L, actor, sizeof actor),
                                            &res, &err);
    return act_result(L, rc, &err);
}

/* ct.act.open_surge(facility, count?) -> true | nil, err, code */
static int l_open_surge(lua_State *L) { return surge(L, true); }
/* ct.act.close_surge(facility, count?) -> true | nil, err, code */
static int l_close_surge(lua_State *L) { return surge(L, false); }

/* ct.act.block_bed(bed, reason) -> true | nil, err, code */
static int l_block_bed(lua_State *L)
{
    const char *bed = luaL_checkstring(L, 1);
    const char *why = luaL_checkstring(L, 2);
    char actor[100];
    ct_cap_error err = {0};
    return act_result(L,
                      ct_capacity_block(cap_of(L), bed, why,
                                        actor_of(L, actor, sizeof actor),
                                        &err),
                      &err);
}

/* ct.act.unblock_bed(bed) -> true | nil, err, code */
static int l_unblock_bed(lua_State *L)
{
    const char *bed = luaL_checkstring(L, 1);
    char actor[100];
    ct_cap_error err = {0};
    return act_result(L,
                      ct_capacity_unblock(cap_of(L), bed,
                                          actor_of(L, actor, sizeof actor),
                                          &err),
                      &err);
}

/* ct.act.record_resident(bed, expected_end?) -> true | nil, err, code */
static int l_record_resident(lua_State *L)
{
    const char *bed = luaL_checkstring(L, 1);
    lua_Integer end = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, end >= 0, 2,
                  "expected record_resident(bed, expected_end?) with a time "
                  "in ms");
    char actor[100];
    ct_cap_error err = {0};
    bool created;
    return act_result(L,
                      ct_capacity_resident_set(cap_of(L), bed, (int64_t)end,
                                               NULL,
                                               actor_of(L, actor,
                                                        sizeof actor),
                                               &created, &err),
                      &err);
}

/* ct.act.resident_left(bed) -> true | nil, err, code */
static int l_resident_left(lua_State *L)
{
    const char *bed = luaL_checkstring(L, 1);
    char actor[100];
    ct_cap_error err = {0};
    return act_result(L,
                      ct_capacity_resident_leave(cap_of(L), bed,
                                                 actor_of(L, actor,
                                                          sizeof actor),
                                                 &err),
                      &err);
}

/* ct.act.set_cohort(zone, pathogen, cohort) -> true | nil, err, code */
static int l_set_cohort(lua_State *L)
{
    const char *zone = luaL_checkstring(L, 1);
    const char *pathogen = luaL_checkstring(L, 2);
    const char *cohort = luaL_checkstring(L, 3);
    int c = ct_cohort_parse(cohort);
    luaL_argcheck(L, c >= 0, 3,
                  "expected set_cohort(zone, pathogen, \"positive\"|"
                  "\"negative\"|\"open\")");
    char actor[100];
    ct_cap_error err = {0};
    return act_result(L,
                      ct_isolation_set_cohort(cap_of(L), zone, pathogen,
                                              (ct_cohort)c,
                                              actor_of(L, actor,
                                                       sizeof actor),
                                              &err),
                      &err);
}

/* --- registration ---------------------------------------------------------- */

static const luaL_Reg ct_funcs[] = {
    {"now", l_now},
    {"format_time", l_format_time},
    {"parse_time", l_parse_time},
    {"duration", l_duration},
    {"days_between", l_days_between},
    {"every", l_every},
    {"daily", l_daily},
    {"on", l_on},
    {"isolation_length", l_isolation_length},
    {"emit", l_emit},
    {"metrics", l_metrics},
    {"referral", l_referral},
    {"referrals", l_referrals},
    {"capacity", l_capacity},
    {"beds", l_beds},
    {"escalation", l_escalation},
    {NULL, NULL},
};

static const luaL_Reg log_funcs[] = {
    {"debug", l_log_debug},
    {"info", l_log_info},
    {"warn", l_log_warn},
    {"error", l_log_error},
    {NULL, NULL},
};

static const luaL_Reg kv_funcs[] = {
    {"get", l_kv_get},
    {"set", l_kv_set},
    {"delete", l_kv_delete},
    {"keys", l_kv_keys},
    {NULL, NULL},
};

static const luaL_Reg policy_funcs[] = {
    {"get", l_policy_get},
    {"set", l_policy_set},
    {NULL, NULL},
};

static const luaL_Reg act_funcs[] = {
    {"open_surge", l_open_surge},
    {"close_surge", l_close_surge},
    {"block_bed", l_block_bed},
    {"unblock_bed", l_unblock_bed},
    {"record_resident", l_record_resident},
    {"resident_left", l_resident_left},
    {"set_cohort", l_set_cohort},
    {NULL, NULL},
};

static void sublib(lua_State *L, const char *name, const luaL_Reg *funcs)
{
    lua_newtable(L);
    ct_sandbox_setfuncs_timed(L, funcs);
    lua_setfield(L, -2, name);
}

/* Builds the `ct` table (also returned by require "caretide"). */
static int open_ct(lua_State *L)
{
    ct_plugin *p = lua_touserdata(L, 1);
    lua_newtable(L);
    ct_sandbox_setfuncs_timed(L, ct_funcs);
    sublib(L, "log", log_funcs);
    sublib(L, "kv", kv_funcs);
    sublib(L, "policy", policy_funcs);
    sublib(L, "act", act_funcs);
    ct_sandbox_lua_push_json(L, p->settings);
    lua_setfield(L, -2, "settings");
    /* plugin.yaml's defaults as the host reads them: what a plugin's
     * tests pin, whatever an area overrides. */
    json_t *def = NULL;
    ct_diags d = {0};
    if (ct_manifest_settings(p->manifest, "plugin.yaml", NULL, &def, &d))
        def = json_object(); /* a manifest that loaded has valid defaults */
    ct_diags_free(&d);
    ct_sandbox_lua_push_json(L, def);
    json_decref(def);
    lua_setfield(L, -2, "defaults");
    lua_createtable(L, 0, 2);
    lua_pushstring(L, p->manifest->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, p->manifest->version);
    lua_setfield(L, -2, "version");
    lua_setfield(L, -2, "plugin");
    lua_setglobal(L, "ct");
    return 0;
}

/* require "caretide": the same table as the global ct. */
static int require_caretide(lua_State *L)
{
    lua_getglobal(L, "ct");
    return 1;
}

int ct_hostapi_open(ct_plugin *p)
{
    int rc = ct_sandbox_setup(p->sb, open_ct, p);
    return rc ? rc : ct_sandbox_preload(p->sb, "caretide", require_caretide);
}
