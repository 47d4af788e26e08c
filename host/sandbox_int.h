/*
 * Internals shared by the sandbox files (sandbox.c: life cycle, allocator,
 * deadline, calls; sandbox_lib.c: the plugin's environment; sandbox_table.c
 * and sandbox_string.c: bounded library functions; sandbox_json.c: values
 * across the border). Nothing outside host/sandbox*.c includes this.
 */
#ifndef CT_SANDBOX_INT_H
#define CT_SANDBOX_INT_H

#include "sandbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef CT_DEBUG_REFS
struct ref_owner {
    int ref;
    const char *owner;
};
#endif

struct ct_sandbox {
    lua_State *L;
    char *name;
    char *dir;      /* realpath of the plugin directory, or NULL */
    char *log_unit; /* "plugin:<name>" */
    ct_sandbox_limits lim;
    ct_sandbox_clock_fn clock;
    void *clock_ud;
    int64_t created_ms; /* embedder clock at creation, for os.clock */
    void *userdata;
    ct_sandbox_source_fn source; /* own files from memory; NULL: disk */
    void *source_ud;
    ct_sandbox_line_fn line_fn; /* coverage; NULL when off */
    void *line_ud;

    /* Memory, kept by the allocator. */
    size_t mem_used;
    size_t mem_peak;
    bool mem_refused;      /* the cap refused a block in this call */
    size_t string_refused; /* size of a string refused in this call */

    /* The deadline of the running top-level call. */
    int depth;           /* nesting of ct_sandbox_call */
    bool armed;          /* a call is running */
    bool tripped;        /* its deadline passed: every check raises again */
    char stopped_src[160]; /* where the deadline stopped Lua code, or "" */
    int stopped_line;
    /* The deadline counts the CPU time of the thread running the call
     * (CLOCK_THREAD_CPUTIME_ID), so a plugin preempted on a loaded
     * machine is not failed for the machine's time. A thread's CPU time
     * never runs ahead of the wall clock, so the cheap monotonic clock is
     * read first and the CPU clock only once it has passed deadline_ns. */
    int64_t deadline_ns;     /* CLOCK_MONOTONIC: the earliest it can pass */
    int64_t cpu_deadline_ns; /* the running thread's CPU clock */
    int64_t cpu_begin_ns, cpu_end_ns; /* the top-level call's, same clock */
    int64_t last_cpu_ns;     /* CPU time of the last top-level call */
    int64_t deadline_ms; /* for messages */
    int close_depth;     /* coroutine closes running one inside the other */
    unsigned push_count; /* values pushed from JSON, for clock checks */

    /* The last limit a bounded function raised in this call. */
    char limit_raised[256]; /* the Lua message, to recognise it later */
    char limit_desc[96];    /* "string length limit of 256 KiB" */
    char limit_ctx[128];    /* "string.rep: result of 1000000 bytes" */

    /* Error captured by the message handler of the running call. */
    char *cap_detail;
    char *cap_traceback;

    char warn_buf[256]; /* a warning arriving in pieces */
    size_t warn_len;

    int main_ref; /* what init.lua returned; LUA_NOREF before */
    bool main_loaded;
    int refs; /* references handed to embedders */
#ifdef CT_DEBUG_REFS
    struct ref_owner *ref_owners; /* who holds each reference */
    size_t ref_owners_len, ref_owners_cap;
#endif

    /* The watchdog (sandbox_worker.c); NULL when calls run on the
     * caller's thread. */
    struct ct_sandbox__worker *worker;
    bool abandoned;         /* a call was given up: nothing runs again */
    size_t frozen_mem_used; /* memory when it was, for stats */
    size_t frozen_mem_peak;

    struct {
        ct_sandbox_error pub;
        char *message, *detail, *traceback, *file, *text;
    } err;
    ct_sandbox_stats stats;
};

/* Records a failure for ct_sandbox_last_error; the message gets the
 * "plugin '<name>': " prefix. Takes ownership of detail and traceback
 * (either may be NULL). Returns code. */
int ct_sandbox__error(ct_sandbox *sb, int code, char *detail, char *traceback,
                      const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
void ct_sandbox__error_reset(ct_sandbox *sb);
/* Text for an error object, in C memory (caller frees; may be NULL when
 * out of memory). Runs __tostring protected, never after the deadline. */
char *ct_sandbox__describe(lua_State *L, int idx);
/*
 * Runs fn over the nargs values on the top of the stack in protected mode
 * with the sandbox's message handler, without a deadline of its own (host
 * work). On failure the values are popped, the error recorded and a CT_E*
 * code returned.
 */
int ct_sandbox__protected(ct_sandbox *sb, lua_CFunction fn, int nargs,
                          int nresults, const char *what);

/* Sizes as people write them: "64 MiB", "256 KiB", "1000 bytes". */
void ct_sandbox__fmt_size(char *buf, size_t n, size_t bytes);
int64_t ct_sandbox__mono_ns(void);
/* The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID). */
int64_t ct_sandbox__cpu_ns(void);

/* Raises the deadline error if the running call has passed its deadline
 * (or passed it earlier and the plugin caught the error). */
void ct_sandbox__deadline(lua_State *L);
/* Raises the deadline error again if it was already raised in this call. */
void ct_sandbox__rethrow(lua_State *L);
/* Whether the deadline hook killed this coroutine: it must then never be
 * closed (its __close handlers would run with hooks disabled). */
bool ct_sandbox__killed(lua_State *co);
/* Installs the deadline hook on a new thread (coroutine). */
void ct_sandbox__hook_thread(ct_sandbox *sb, lua_State *co);

/*
 * Raises a limit error: `limit` describes the rule ("string length limit of
 * 256 KiB"), the formatted rest says what broke it ("string.rep: result of
 * 10000000 bytes"). The call then fails with CT_ELIMIT unless the plugin
 * catches the error and carries on.
 */
int ct_sandbox__limit(lua_State *L, const char *limit, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4), noreturn))
#endif
    ;
/* Raises the string length limit for a result of `len` bytes from `fn`. */
int ct_sandbox__string_limit(lua_State *L, const char *fn, size_t len)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;

/* Compiles a source held in a Lua-managed buffer; used by load, require
 * and ct_sandbox_load. Mode is always "t". */
int ct_sandbox__load_text(lua_State *L, const char *text, size_t len,
                          const char *chunkname);
/* Compiles relpath under the plugin directory: pushes the function and
 * returns 0, or pushes a message and returns CT_ENOTFOUND, CT_EDENIED,
 * CT_EINVAL, CT_EIO, CT_ELIMIT (too long) or CT_EPLUGIN (syntax). Raises
 * only when out of memory. */
int ct_sandbox__compile_own(lua_State *L, const char *relpath);

/* The plugin's environment, opened once in protected mode (sandbox_lib.c).
 * Expects the sandbox as light userdata at index 1. */
int ct_sandbox__open_env(lua_State *L);
/* Library replacements (sandbox_string.c, sandbox_table.c): each opens its
 * bounded library and leaves the table the plugin sees on the stack. */
int ct_sandbox__open_string(lua_State *L);
int ct_sandbox__open_table(lua_State *L);

/*
 * The watchdog (sandbox_worker.c). ct_sandbox__pcall is lua_pcall on the
 * sandbox's worker for an outer call (and on this thread otherwise); it
 * returns CT_SANDBOX__ABANDONED when the caller gave up on it. The host
 * gate: host functions run between host_enter (raises once the call is
 * abandoned) and host_leave; host_clear says the worker is back in Lua
 * (an error left a host function, or it was caught). worker_close stops
 * the worker, or hands the sandbox over to it (true) when an abandoned
 * call still runs; destroy frees a sandbox that has no worker running.
 */
#define CT_SANDBOX__ABANDONED (-1000)
int ct_sandbox__pcall(ct_sandbox *sb, bool outer, int nargs, int nresults,
                      int base);
void ct_sandbox__host_enter(lua_State *L);
void ct_sandbox__host_leave(lua_State *L);
void ct_sandbox__host_clear(ct_sandbox *sb);
bool ct_sandbox__worker_close(ct_sandbox *sb);
void ct_sandbox__destroy(ct_sandbox *sb);
/* CT_ESTATE with the message, when sb gave up a call. */
int ct_sandbox__refuse_abandoned(ct_sandbox *sb);

#endif
