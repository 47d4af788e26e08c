/*
 * The plugin sandbox: one Lua state per plugin with the limits that let the
 * host run code it does not trust (docs/design.md "The sandbox").
 *
 * What a plugin gets: the base library without dofile/loadfile/warn, load
 * for text chunks only, string (bounded pattern functions, no dump, frozen
 * metatable, read-only table), table (bounded), math, utf8, coroutine, os
 * with time/clock/date/difftime on the embedder's clock, collectgarbage
 * ("count" only), print (to the log as "plugin:<name>"), and require for
 * the plugin's own .lua files and the modules the embedder preloads.
 * Nothing else: no io, no debug, no C modules, no __gc metamethods.
 *
 * What the host gets: a memory cap, a deadline per call that coroutines and
 * pcall cannot escape, limits on the C functions that would otherwise spin
 * (patterns, string building, table.move/sort/concat/unpack), and one call
 * wrapper, ct_sandbox_call, that turns every failure into a CT_E* code and
 * a message naming the plugin and the rule it broke. No Lua error ever
 * escapes through the host.
 *
 * A sandbox is used from one thread at a time (its calls may run on a
 * thread of its own while that one waits: ct_sandbox_set_watchdog). The plugin manager builds on
 * this unit: it registers the host API with ct_sandbox_setup or
 * ct_sandbox_preload, loads init.lua with ct_sandbox_load_main, fetches
 * hooks with ct_sandbox_get_hook, converts arguments and results with the
 * JSON helpers and calls through ct_sandbox_call.
 */
#ifndef CT_SANDBOX_H
#define CT_SANDBOX_H

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ct_sandbox ct_sandbox;

/*
 * Limits. A zero field means "the default" (shown in brackets), so
 * `ct_sandbox_limits lim = {.deadline_ms = 200};` is a valid set.
 */
typedef struct ct_sandbox_limits {
    size_t memory;            /* bytes the state may hold [64 MiB] */
    int64_t deadline_ms;      /* per top-level call [50] */
    int hook_interval;        /* VM instructions between clock checks [256] */
    size_t max_string;        /* longest string the state may hold
                                 [256 KiB] */
    size_t max_subject;       /* longest subject of find/match/gmatch/gsub
                                 [256 KiB] */
    uint64_t max_match_steps; /* matcher steps per pattern call
                                 (~16 ms) [1,000,000] */
    int max_results;          /* values one C function may return
                                 (table.unpack, string.byte...) [10000] */
    size_t max_chunk;         /* longest source load/require takes [1 MiB] */
    int json_max_depth;       /* nesting of a JSON conversion [32] */
    size_t json_max_values;   /* values in one JSON conversion [100000] */
    size_t json_max_bytes;    /* the output limit: bytes one conversion of
                                 a result or host API argument may make,
                                 also held to the memory the plugin has
                                 left [1 MiB] */
} ct_sandbox_limits;

/* Fills every field with its default. */
void ct_sandbox_limits_default(ct_sandbox_limits *out);

/* The embedder's clock: milliseconds since the Unix epoch (virtual in tests
 * and simulation). Used for os.time, os.date, os.clock and
 * ct_sandbox_now_ms; deadlines always count the real CPU time of the thread
 * running the call (docs/sandbox.md "Which clock counts"). */
typedef int64_t (*ct_sandbox_clock_fn)(void *ud);

typedef struct ct_sandbox_stats {
    uint64_t calls;        /* ct_sandbox_call and load_main runs */
    uint64_t errors;       /* of those, failed for any reason */
    uint64_t timeouts;     /* failed with CT_ETIMEOUT */
    uint64_t mem_errors;   /* failed on the memory cap (CT_ELIMIT) */
    uint64_t limit_errors; /* failed on another limit (CT_ELIMIT) */
    size_t mem_used;       /* bytes held by the state now */
    size_t mem_peak;       /* most bytes ever held */
    size_t mem_limit;
    uint64_t busy_us;     /* time spent inside calls */
    uint64_t max_call_us; /* longest single call */
} ct_sandbox_stats;

/*
 * The last failure. Strings are owned by the sandbox and valid until the
 * next sandbox function that can fail; never NULL (empty when absent).
 * - message: one line for logs and API errors, always naming the plugin:
 *   "plugin 'stepdown': deadline of 50 ms exceeded in triage".
 * - detail: the Lua error as raised ("init.lua:12: boom"), or the reason
 *   for host-side failures (JSON conversion).
 * - traceback: "stack traceback:\n\t..." when the error came from Lua code.
 * - file/line: set for syntax errors in a file (file is the path on disk),
 *   so `caretide check` can print "file:line: text"; text is the message
 *   without its "chunk:line: " prefix. line is 0 otherwise.
 */
typedef struct ct_sandbox_error {
    int code;
    const char *message;
    const char *detail;
    const char *traceback;
    const char *file;
    int line;
    const char *text;
} ct_sandbox_error;

/*
 * Creates a sandbox for plugin `name` whose own files live in `dir` (NULL:
 * no own files; require then only finds preloaded modules). Copies name,
 * dir and limits (NULL: defaults). On success *out owns a new sandbox
 * (free with ct_sandbox_close). CT_EINVAL for a bad name or limits,
 * CT_ENOTFOUND when dir does not exist, CT_ENOMEM.
 */
int ct_sandbox_new(const char *name, const char *dir,
                   const ct_sandbox_limits *limits, ct_sandbox **out);

/*
 * Frees the state and everything in it. Runs no plugin code (plugins cannot
 * set __gc), so it cannot hang. Returns CT_ESTATE, after freeing, when
 * references handed out by ct_sandbox_ref were never released (logged with
 * their owners), 0 otherwise. NULL is a no-op.
 */
int ct_sandbox_close(ct_sandbox *sb);

/* Sets the clock (NULL restores the real-time clock). ud is not owned. */
void ct_sandbox_set_clock(ct_sandbox *sb, ct_sandbox_clock_fn now_ms, void *ud);
/* The embedder's clock as the plugin sees it (for ct.now()). */
int64_t ct_sandbox_now_ms(const ct_sandbox *sb);

/* The plugin name, static for the sandbox's life. */
const char *ct_sandbox_name(const ct_sandbox *sb);
/* One pointer for the embedder (the plugin manager's record); not owned. */
void ct_sandbox_set_userdata(ct_sandbox *sb, void *ud);
void *ct_sandbox_userdata(const ct_sandbox *sb);
/*
 * A line callback for host tools (`caretide test --coverage`): while set,
 * fn(ud, source, line) runs each time Lua code in this sandbox starts a
 * new line (Lua's line hook, added next to the deadline's count hook, on
 * every thread). source is the chunk name as Lua keeps it ("@init.lua"),
 * valid while the function that runs it exists. fn must not touch the Lua
 * state. NULL turns it off. Costs one call per line run while set.
 */
typedef void (*ct_sandbox_line_fn)(void *ud, const char *source, int line);
void ct_sandbox_set_line_hook(ct_sandbox *sb, ct_sandbox_line_fn fn,
                              void *ud);

/*
 * Where the plugin's own files come from instead of its directory: fn
 * returns the bytes of relpath (relative, as the manifest of a bundle
 * names it: "init.lua", "lib/rules.lua") or NULL when there is none, with
 * *len set; the bytes must stay valid while the sandbox lives. Once set,
 * ct_sandbox_load_file, load_main and require read nothing from disk, so
 * what runs is what the embedder verified (a bundle in memory). ud is not
 * owned.
 */
typedef const char *(*ct_sandbox_source_fn)(void *ud, const char *relpath,
                                            size_t *len);
void ct_sandbox_set_source(ct_sandbox *sb, ct_sandbox_source_fn fn, void *ud);

/* The sandbox a state belongs to, for C functions registered into it. */
ct_sandbox *ct_sandbox_from_state(lua_State *L);

/*
 * The raw state, only for host units: inside a ct_sandbox_setup callback,
 * inside C functions called from the plugin, or for stack operations that
 * cannot raise (lua_gettop, lua_settop, lua_to*, lua_push{nil,integer,
 * number,boolean}). Anything that may raise must run in one of the first
 * two places: the state's panic handler only logs.
 */
lua_State *ct_sandbox_state(ct_sandbox *sb);

/*
 * Runs fn(L) in protected mode with ud as light userdata at index 1, no
 * deadline; for registering host libraries before loading (luaL_Reg tables,
 * globals). fn's results are discarded. 0, or CT_EPLUGIN / CT_ELIMIT with
 * the error in ct_sandbox_last_error.
 */
int ct_sandbox_setup(ct_sandbox *sb, lua_CFunction fn, void *ud);
/* Makes require(name) call open(name) (package.preload). */
int ct_sandbox_preload(ct_sandbox *sb, const char *name, lua_CFunction open);
/* Makes require(name) run `text` (Lua source, text only; copied), shown in
 * messages as `chunkname` ("caretide/test.lua"). */
int ct_sandbox_preload_source(ct_sandbox *sb, const char *name,
                              const char *chunkname, const char *text,
                              size_t len);

/*
 * Compiles text (mode "t") and pushes the function. chunkname names it in
 * messages ("repl", "init.lua"). CT_EPLUGIN on a syntax error (file/line
 * set to chunkname and the line), CT_ELIMIT when len > max_chunk or the
 * memory cap is hit. Pushes nothing on failure.
 */
int ct_sandbox_load(ct_sandbox *sb, const char *chunkname, const char *text,
                    size_t len);
/* Same for a file under the plugin directory: relpath is relative, without
 * "..", and must resolve inside the directory. CT_ENOTFOUND, CT_EDENIED
 * (outside the directory), CT_EIO, or the ct_sandbox_load codes. */
int ct_sandbox_load_file(ct_sandbox *sb, const char *relpath);
/*
 * Loads relpath ("init.lua") and runs it as ct_sandbox_call would (what =
 * relpath) under ten times the call deadline (at most 5 s, like setup),
 * keeping its first result, normally the hooks table, for
 * ct_sandbox_get_hook and ct_sandbox_push_main. Once per sandbox
 * (CT_ESTATE after that).
 */
int ct_sandbox_load_main(ct_sandbox *sb, const char *relpath);
/* Pushes the value init.lua returned (nil before load_main). */
int ct_sandbox_push_main(ct_sandbox *sb);
/*
 * Pushes main[name] when it is a function (raw access, no metamethods run).
 * CT_ENOTFOUND when the main value is not a table or has no such field
 * (nothing pushed, no error recorded); CT_EPLUGIN when the field is not a
 * function (nothing pushed, error recorded).
 */
int ct_sandbox_get_hook(ct_sandbox *sb, const char *name);

/*
 * The one way into plugin code (docs/style.md 10). The stack holds a function
 * and nargs arguments on top; they are popped. On success nresults values
 * (or all, with LUA_MULTRET) are pushed and 0 returned. On failure nothing
 * is pushed and the result is
 *   CT_ETIMEOUT  the deadline passed (whatever the plugin did about it),
 *   CT_ELIMIT    the memory cap or a string/pattern/results/chunk limit,
 *   CT_EPLUGIN   any other Lua error,
 *   CT_ESTATE    the stack did not hold a function and its arguments,
 * with the message in ct_sandbox_last_error. `what` names the call in
 * messages ("triage"); the deadline is limits.deadline_ms. A call made
 * while another is running (a host function calling back into the plugin)
 * shares the outer call's deadline.
 */
int ct_sandbox_call(ct_sandbox *sb, const char *what, int nargs, int nresults);
/* Same with an explicit deadline for this call (setup may need longer). */
int ct_sandbox_call_deadline(ct_sandbox *sb, const char *what, int nargs,
                             int nresults, int64_t deadline_ms);
/* The time the last top-level call counted against its deadline, in ns:
 * the CPU time of the thread that ran it (with a watchdog, the wall time
 * waited for a call that was abandoned). Budgets charge this. */
int64_t ct_sandbox_last_call_ns(const ct_sandbox *sb);

/*
 * The watchdog: from now on the sandbox's top-level calls run on a thread
 * of its own while the caller waits for them, and the caller stops
 * waiting grace_ms after a call's deadline even when the call has not
 * returned. The count hook only fires between VM instructions, and one
 * instruction can run for minutes (a table store that rehashes integer
 * keys all colliding in Lua 5.4's hash); the caller then gets CT_ETIMEOUT
 * ("... abandoned ...") and the sandbox is abandoned: every function here
 * that would touch its state fails with CT_ESTATE, and ct_sandbox_close
 * leaves the state to the worker, which frees it when the call ends.
 *
 * For this the worker never reaches the embedder outside a wait: host
 * functions registered with ct_sandbox_setfuncs_timed, the clock and the
 * source callback run only while the caller waits (once the call is
 * abandoned they raise instead), and the caller never gives up while one
 * of them runs. So host functions must be registered that way, must not
 * call back into Lua, and must watch the deadline in long work (as
 * ct_sandbox_check_deadline does). Set before the first call; CT_EINVAL
 * (twice, or grace_ms <= 0) or CT_ENOMEM (no thread).
 */
int ct_sandbox_set_watchdog(ct_sandbox *sb, int64_t grace_ms);

/*
 * The host gate, for calls whose owner does not wait for them (a reload
 * loading plugins while the event loop serves requests): enter runs on
 * the thread that is about to pass into the embedder (a timed host
 * function, the clock, the source callback) and returns once the
 * embedder's own thread is held for it, so that the passage is as alone
 * with the host as one made while the owner waits; leave runs when the
 * passage ends (the function returned or raised, or the call ended).
 * The time enter waits does not count against the running call's
 * deadline, up to one deadline more per call: a busy host is not the
 * plugin's fault. ud is passed back. Needs the watchdog (CT_EINVAL
 * without it); set or clear (NULL enter) only while no call runs.
 */
typedef void (*ct_sandbox_gate_fn)(void *ud);
int ct_sandbox_set_host_gate(ct_sandbox *sb, ct_sandbox_gate_fn enter,
                             ct_sandbox_gate_fn leave, void *ud);

/*
 * Lending the host while a call runs (the daemon's host thread,
 * handoff.h): set on a thread that holds the host only by the event
 * loop's leave. Every watched call made on that thread (a sandbox with the
 * watchdog and no host gate of its own) first gives the host back
 * (release), runs with gate_enter/gate_leave as its host gate (the
 * plugin's passages into the host ask the loop for it, as at a reload),
 * and once it has ended or been given up takes the host again (acquire,
 * which returns once the loop has handed it over). So the loop runs while
 * plugin code runs, and never at the same time as host code. NULL clears;
 * the struct is borrowed until then. Per thread.
 */
typedef struct ct_sandbox_lend {
    ct_sandbox_gate_fn release, acquire, gate_enter, gate_leave;
    void *ud;
} ct_sandbox_lend;
void ct_sandbox_set_thread_lend(const ct_sandbox_lend *lend);

/*
 * Whether a call of sb was abandoned; *running_ms (may be NULL) is how
 * long that call has been running, 0 once it has returned.
 */
bool ct_sandbox_abandoned(const ct_sandbox *sb, int64_t *running_ms);

/* Abandoned calls still running in sandboxes already closed, in the whole
 * process: each holds its thread, its state's memory and a CPU. */
int ct_sandbox_retired_running(void);

/* Last failure; see ct_sandbox_error. Valid until the next fallible call. */
const ct_sandbox_error *ct_sandbox_last_error(const ct_sandbox *sb);
void ct_sandbox_stats_get(const ct_sandbox *sb, ct_sandbox_stats *out);

/*
 * Registry references (docs/style.md 11). ct_sandbox_ref pops the top value and
 * stores a reference to it in *ref; `owner` names the holder in leak
 * reports and must be static text. Every reference must be released with
 * ct_sandbox_unref before ct_sandbox_close. push_ref pushes the value.
 */
int ct_sandbox_ref(ct_sandbox *sb, const char *owner, int *ref);
void ct_sandbox_unref(ct_sandbox *sb, int ref);
int ct_sandbox_push_ref(ct_sandbox *sb, int ref);
/* References currently held by embedders (excluding the sandbox's own). */
int ct_sandbox_ref_count(const ct_sandbox *sb);

/*
 * Values across the border. ct_sandbox_push_json pushes a Lua copy of v:
 * objects become tables with string keys, arrays sequences, null nil (so
 * nulls in arrays leave holes), integers integers, reals floats.
 * CT_ELIMIT when deeper than json_max_depth or over the memory cap.
 *
 * ct_sandbox_to_json converts the value at idx into a new json_t (*out,
 * caller owns). Tables whose keys are all strings become objects, tables
 * whose keys are exactly 1..n become arrays, an empty table an object
 * (an array with CT_SANDBOX_JSON_EMPTY_ARRAY); nil becomes null. Metatables
 * are ignored and no plugin code runs. Functions, userdata, threads, NaN
 * and infinities, other keys, cycles and invalid UTF-8 are CT_EPLUGIN;
 * more than json_max_depth levels, json_max_values values, or a copy
 * larger than the output limit are CT_ELIMIT. The output limit is
 * json_max_bytes or what is left of the plugin's memory, whichever is
 * less: a copy is charged as if the plugin held it, so a table that holds
 * one large string many times cannot grow the host.
 * Messages name the place: "plugin 'x': result has a cycle at
 * result.candidates[2].next" where `what` ("result") is the root's name.
 */
enum { CT_SANDBOX_JSON_EMPTY_ARRAY = 1 };
int ct_sandbox_push_json(ct_sandbox *sb, const json_t *v);
int ct_sandbox_to_json(ct_sandbox *sb, int idx, const char *what,
                       unsigned flags, json_t **out);
/*
 * The same result as ct_sandbox_to_json, cheaper when the value is mostly
 * like (borrowed; a hook's argument): any part equal to the matching part
 * of like is that part, with a new reference, rather than a copy. Array
 * items pair with like's by their `match` string field ("bed" for rank's
 * candidates) when match is not NULL, else by position.
 */
int ct_sandbox_to_json_like(ct_sandbox *sb, int idx, const char *what,
                            unsigned flags, const json_t *like,
                            const char *match, json_t **out);

/*
 * The same three for C functions called by the plugin, on the stack of the
 * thread that called them (L, a coroutine perhaps; the sb functions above
 * always use the main thread's stack, which is only right outside a call):
 * ct_sandbox_lua_to_json reads L's stack and raises nothing;
 * ct_sandbox_lua_push_json pushes onto L and raises (memory, depth) like
 * any allocation; ct_sandbox_lua_ref pops L's top value into *ref, raising
 * when out of memory.
 */
int ct_sandbox_lua_to_json(lua_State *L, int idx, const char *what,
                           unsigned flags, json_t **out);
void ct_sandbox_lua_push_json(lua_State *L, const json_t *v);
void ct_sandbox_lua_ref(lua_State *L, const char *owner, int *ref);

/*
 * For C functions registered by host units that loop or do work in
 * proportion to their input: raises the deadline error (from Lua's point
 * of view) when the current call's deadline has passed. Cheap (one clock
 * read). Must only be called from a C function called by the plugin.
 */
void ct_sandbox_check_deadline(lua_State *L);

/*
 * luaL_setfuncs (no upvalues) for host functions, each wrapped so that the
 * deadline is checked when it is called and again when it returns: a host
 * function that reads the store can take longer than the 256 instructions
 * between the VM's own checks, and a loop of them must not run far past
 * the deadline. Must run where luaL_setfuncs may (setup, protected).
 */
void ct_sandbox_setfuncs_timed(lua_State *L, const luaL_Reg *funcs);

#endif
