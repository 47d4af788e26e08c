/*
 * The plugin manager's events and schedules: the bus's committed events
 * queued and delivered to ct.on handlers, and ct.every/ct.daily jobs run
 * in a transaction of their own.
 */
#include "plugins_int.h"

#include "error.h"
#include "log.h"
#include "util.h"

#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store.h"

/* Emitted events delivered per flush at most: plugins that answer each
 * other's events forever stop here. */
#define MAX_EVENT_ROUNDS 64

static bool matches(const char *pattern, const char *kind)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*')
        return strncmp(pattern, kind, n - 1) == 0;
    return strcmp(pattern, kind) == 0;
}

static void deliver(ct_plugins *m, const char *kind, const json_t *payload,
                    int depth)
{
    for (size_t i = 0; m->cur && i < m->cur->n; i++) {
        ct_plugin *p = m->cur->items[i];
        for (size_t j = 0; j < p->nsubs; j++) {
            ct_plugin_guard *g = &p->subs[j].guard;
            if (g->quarantined || !matches(p->subs[j].event, kind))
                continue;
            lua_State *L = ct_sandbox_state(p->sb);
            ct_sandbox_push_ref(p->sb, p->subs[j].ref);
            json_t *arg = json_deep_copy(payload);
            json_object_set_new(arg, "event", json_string(kind));
            int rc = ct_sandbox_push_json(p->sb, arg);
            json_decref(arg);
            if (rc) {
                lua_settop(L, lua_gettop(L) - 1);
                continue;
            }
            char what[160];
            snprintf(what, sizeof what, "on(%s)", kind);
            p->calls++;
            const char *outer = m->answering;
            int outer_depth = m->answering_depth;
            m->answering = p->manifest->name;
            m->answering_depth = depth;
            const char *msg;
            rc = ct_plugins__budgeted_call(p, what, 1, 0, CT_PER_MINUTE, &msg);
            m->answering = outer;
            m->answering_depth = outer_depth;
            if (rc) {
                ct_log_warn("plugins", "%s",
                            ct_sandbox_last_error(p->sb)->message);
                ct_plugins__count_failure(p, g, p->subs[j].event, rc);
            } else {
                ct_plugins__count_success(g);
            }
        }
    }
}

static void enqueue_from(ct_plugins *m, const char *kind, json_t *payload,
                         const char *from, int depth);

/* Takes a payload reference; the emitter is the plugin answering now. */
void ct_plugins__enqueue(ct_plugins *m, const char *kind, json_t *payload)
{
    enqueue_from(m, kind, payload, m->answering,
                 m->answering ? m->answering_depth + 1 : 0);
}

static void enqueue_from(ct_plugins *m, const char *kind, json_t *payload,
                         const char *from, int depth)
{
    if (ct_grow(&m->queue, &m->capqueue, m->nqueue, sizeof *m->queue, 8)) {
        json_decref(payload);
        return;
    }
    m->queue[m->nqueue++] =
        (queued){strdup(kind), payload, ct_strdup(from), depth};
}

void ct_plugins__note_answer(ct_plugins *m, int64_t seq)
{
    if (!m->due_fn || !m->answering || seq <= 0)
        return; /* heard at once (no write of the embedder's around it) */
    if (ct_grow(&m->answers, &m->capanswers, m->nanswers,
                sizeof *m->answers, 8))
        return; /* heard as the host's: one chain may run longer */
    char *from = ct_strdup(m->answering);
    if (!from)
        return;
    m->answers[m->nanswers++] =
        (answered){seq, from, m->answering_depth + 1};
}

/* Forgets the answers noted (those not heard were rolled back). */
static void clear_answers(ct_plugins *m)
{
    for (size_t i = 0; i < m->nanswers; i++)
        free(m->answers[i].from);
    m->nanswers = 0;
}

/* The bus hands over each committed event (the host's and the plugins'
 * own). It is delivered at once unless plugin code is running (a handler
 * whose own write just committed, a hook, setup): never re-entering a
 * running plugin, it waits in the queue for the loop that runs it. */
void ct_plugins__on_bus_event(const ct_event *ev, void *data)
{
    ct_plugins *m = data;
    json_t *payload = json_incref((json_t *)ev->payload);
    size_t i = 0;
    while (i < m->nanswers && m->answers[i].seq != ev->seq)
        i++;
    if (!m->answering && i < m->nanswers) {
        answered a = m->answers[i];
        m->answers[i] = m->answers[--m->nanswers];
        enqueue_from(m, ev->kind, payload, a.from, a.depth);
        free(a.from);
    } else {
        ct_plugins__enqueue(m, ev->kind, payload);
    }
    if (m->running || m->flushing)
        return;
    if (m->due_fn) /* the embedder delivers them where it may wait */
        m->due_fn(m->due_ud);
    else
        ct_plugins_flush(m);
}

/* --- work the embedder runs (ct_plugins_set_due) ------------------------ */

void ct_plugins_set_due(ct_plugins *m, ct_plugins_due_fn due, void *ud)
{
    m->due_fn = due;
    m->due_ud = ud;
}

void ct_plugins__forget_due(ct_plugins *m, const ct_plugin *p)
{
    size_t k = 0;
    for (size_t i = 0; i < m->ndue; i++)
        if (m->due[i]->plugin != p)
            m->due[k++] = m->due[i];
    m->ndue = k;
}

void ct_plugins__schedule_fired(ct_plugin_schedule *s)
{
    ct_plugins *m = s->plugin->mgr;
    if (!m->due_fn) {
        ct_plugins__run_schedule(s);
        return;
    }
    if (ct_grow(&m->due, &m->capdue, m->ndue, sizeof *m->due, 8)) {
        /* tried again at its next time */
        ct_log_error("plugins", "plugin '%s': %s not run: out of memory",
                     s->plugin->manifest->name, s->name);
        ct_plugins__schedule_arm(s, false);
        return;
    }
    m->due[m->ndue++] = s;
    m->due_fn(m->due_ud);
}

bool ct_plugins_run_due(ct_plugins *m)
{
    clear_answers(m);
    if (m->ndue) {
        ct_plugin_schedule *s = m->due[0];
        memmove(m->due, m->due + 1, (m->ndue - 1) * sizeof *m->due);
        m->ndue--;
        ct_plugins__run_schedule(s); /* flushes the events it made */
    } else {
        ct_plugins_flush(m);
    }
    return m->ndue || m->nqueue;
}

/* Adds name to the list unless it is there (or NULL). */
static void add_name(const char **names, size_t *n, size_t max,
                     const char *name)
{
    for (size_t i = 0; name && i < *n; i++)
        if (strcmp(names[i], name) == 0)
            return;
    if (name && *n < max)
        names[(*n)++] = name;
}

/* Says what the event loop dropped and who kept it going: each kind
 * still queued with its count, then the plugins that emitted those
 * events or would have answered them. */
static void log_dropped(ct_plugins *m, const queued *qs, size_t nq)
{
    const char *names[32];
    size_t nnames = 0;
    ct_buf kinds = {0}, who = {0};
    for (size_t i = 0; i < nq; i++) {
        const queued *q = &qs[i];
        size_t first = 0, n = 0;
        while (first < i && (!q->kind || !qs[first].kind ||
                             strcmp(qs[first].kind, q->kind) != 0))
            first++;
        if (!q->kind || first < i)
            continue; /* counted with the first of its kind */
        for (size_t j = i; j < nq; j++) {
            const queued *o = &qs[j];
            if (o->kind && strcmp(o->kind, q->kind) == 0) {
                n++;
                add_name(names, &nnames, CT_ARRAY_LEN(names), o->from);
            }
        }
        ct_buf_printf(&kinds, "%s%s x%zu", kinds.len ? ", " : "", q->kind, n);
        for (size_t k = 0; m->cur && k < m->cur->n; k++) {
            const ct_plugin *p = m->cur->items[k];
            for (size_t s = 0; s < p->nsubs; s++)
                if (matches(p->subs[s].event, q->kind))
                    add_name(names, &nnames, CT_ARRAY_LEN(names),
                             p->manifest->name);
        }
    }
    for (size_t i = 0; i < nnames; i++)
        ct_buf_printf(&who, "%s%s", i ? ", " : "", names[i]);
    ct_log_warn("plugins", "dropped %zu event%s still queued after %d "
                           "rounds (%s): plugins %s kept emitting in answer "
                           "to each other",
                nq, nq == 1 ? "" : "s", MAX_EVENT_ROUNDS,
                kinds.data ? kinds.data : "", who.data ? who.data : "?");
    ct_buf_free(&kinds);
    ct_buf_free(&who);
}

void ct_plugins_flush(ct_plugins *m)
{
    if (m->flushing)
        return;
    m->flushing = true;
    for (int round = 0; m->nqueue && round < MAX_EVENT_ROUNDS; round++) {
        queued q = m->queue[0];
        memmove(m->queue, m->queue + 1, (m->nqueue - 1) * sizeof *m->queue);
        m->nqueue--;
        /* An answer 65 deep: 64 answers in a row before it (heard over
         * several writes in the daemon, each a delivery of its own). */
        if (q.depth > MAX_EVENT_ROUNDS)
            log_dropped(m, &q, 1);
        else if (q.kind && q.payload)
            deliver(m, q.kind, q.payload, q.depth);
        free(q.kind);
        free(q.from);
        json_decref(q.payload);
    }
    if (m->nqueue) {
        log_dropped(m, m->queue, m->nqueue);
        ct_plugins__drop_queue(m);
    }
    m->flushing = false;
}

void ct_plugins_dispatch(ct_plugins *m, const char *kind,
                         const json_t *payload)
{
    deliver(m, kind, payload, 0);
    ct_plugins_flush(m);
}

/*
 * One call of a schedule's function, under the schedule's own deadline
 * (limits.schedule_deadline) and in one transaction: every event and kv
 * write of the call commits together, or none does when it fails, so a
 * retried job never repeats what a failed one half did, and a job that
 * keeps its progress in ct.kv resumes where its last call ended. Returns
 * true when the function answered true: more work is left, call again as
 * soon as the loop has served what waits (requests, triage).
 */
static bool schedule_call(ct_plugin *p, ct_plugin_schedule *s)
{
    ct_store *st = ct_capacity_store(p->mgr->cap);
    lua_State *L = ct_sandbox_state(p->sb);
    bool own;
    int rc = ct_store_enter(st, &own);
    if (rc) {
        ct_log_error("plugins", "plugin '%s': %s not run: %s",
                     p->manifest->name, s->name, ct_strerror(rc));
        return false;
    }
    ct_sandbox_push_ref(p->sb, s->ref);
    p->calls++;
    const char *msg;
    rc = ct_plugins__budgeted_call(p, s->name, 0, 1, CT_PER_SCHEDULE, &msg);
    bool more = false;
    if (rc == 0) {
        more = lua_isboolean(L, -1) && lua_toboolean(L, -1);
        lua_settop(L, lua_gettop(L) - 1);
        ct_plugins__count_success(&s->guard);
    } else if (rc == CT_ELIMIT && msg && strstr(msg, "used up before")) {
        /* Not run: the minute's budget is spent. Not the job's failure;
         * it runs at its next time. */
        ct_log_warn("plugins", "%s", msg);
    } else {
        ct_log_warn("plugins", "%s", msg ? msg : "schedule failed");
        ct_plugins__count_failure(p, &s->guard, s->name, rc);
    }
    /* Undone whole on failure, its events with it (the bus drops them). */
    int end = ct_store_leave(st, own, rc);
    if (end && rc == 0)
        ct_log_error("plugins", "plugin '%s': %s not kept: %s",
                     p->manifest->name, s->name, ct_strerror(end));
    return end ? false : more;
}

/* A job that always answers "more" would otherwise run without end
 * (under the virtual clock, inside one advance). */
#define MAX_SLICES 10000

void ct_plugins__run_schedule(ct_plugin_schedule *s)
{
    ct_plugin *p = s->plugin;
    bool more = !s->guard.quarantined && schedule_call(p, s);
    if (more && ++s->slices >= MAX_SLICES) {
        ct_log_warn("plugins", "plugin '%s': %s answered \"more\" %d times "
                               "in a row; it waits for its next time",
                    p->manifest->name, s->name, MAX_SLICES);
        more = false;
    }
    if (!more)
        s->slices = 0;
    if (p->live)
        ct_plugins__schedule_arm(s, more);
    ct_plugins_flush(p->mgr);
}
