/*
 * Sandbox setup and loading: registering host libraries and preloaded
 * modules, compiling text chunks and the plugin's own files (text only,
 * inside the plugin directory, size-limited), running init.lua, and the
 * registry references handed to embedders.
 */
#include "sandbox_int.h"

#include "error.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Setup and preloading                                               */

/* The protected halves of the functions below take their C arguments as
 * light userdata at index 1; plugin code never sees them. */
static int setup_p(lua_State *L)
{
    lua_CFunction fn = lua_tocfunction(L, 2);
    lua_settop(L, 1);
    fn(L);
    return 0;
}

int ct_sandbox_setup(ct_sandbox *sb, lua_CFunction fn, void *ud)
{
    ct_sandbox__error_reset(sb);
    lua_pushlightuserdata(sb->L, ud);
    lua_pushcfunction(sb->L, fn);
    return ct_sandbox__protected(sb, setup_p, 2, 0, "setup");
}

static int preload_p(lua_State *L)
{
    const char *name = lua_touserdata(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, name);
    return 0;
}

int ct_sandbox_preload(ct_sandbox *sb, const char *name, lua_CFunction open)
{
    ct_sandbox__error_reset(sb);
    lua_pushlightuserdata(sb->L, (void *)name);
    lua_pushcfunction(sb->L, open);
    return ct_sandbox__protected(sb, preload_p, 2, 0, "preload");
}

/* loader(name, ":preload:") -> module. The text lives in a userdata (not
 * a string, so max_string does not apply to the SDK) held as an upvalue,
 * invisible to plugin code. */
static int source_loader(lua_State *L)
{
    size_t len = lua_rawlen(L, lua_upvalueindex(1));
    const char *text = lua_touserdata(L, lua_upvalueindex(1));
    const char *chunkname = lua_tostring(L, lua_upvalueindex(2));
    if (ct_sandbox__load_text(L, text, len, chunkname) != LUA_OK)
        return lua_error(L);
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

struct source_args {
    const char *name, *chunkname, *text;
    size_t len;
};

static int preload_source_p(lua_State *L)
{
    struct source_args *a = lua_touserdata(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    void *copy = lua_newuserdatauv(L, a->len, 0);
    memcpy(copy, a->text, a->len);
    lua_pushfstring(L, "@%s", a->chunkname);
    lua_pushcclosure(L, source_loader, 2);
    lua_setfield(L, -2, a->name);
    return 0;
}

int ct_sandbox_preload_source(ct_sandbox *sb, const char *name,
                              const char *chunkname, const char *text,
                              size_t len)
{
    ct_sandbox__error_reset(sb);
    struct source_args a = {name, chunkname, text, len};
    lua_pushlightuserdata(sb->L, &a);
    return ct_sandbox__protected(sb, preload_source_p, 1, 0, "preload");
}

/* ------------------------------------------------------------------ */
/* Loading                                                            */

int ct_sandbox__load_text(lua_State *L, const char *text, size_t len,
                          const char *chunkname)
{
    return luaL_loadbufferx(L, text, len, chunkname, "t");
}

/* Splits "name:12: message" into line and text for `caretide check`. */
static void parse_location(ct_sandbox *sb, const char *chunk, const char *file)
{
    const char *d = sb->err.pub.detail;
    size_t n = strlen(chunk);
    if (strncmp(d, chunk, n) != 0 || d[n] != ':')
        return;
    char *end;
    long line = strtol(d + n + 1, &end, 10);
    if (end == d + n + 1 || *end != ':' || line <= 0 || line > INT_MAX)
        return;
    const char *text = end + 1;
    while (*text == ' ')
        text++;
    sb->err.file = ct_strdup(file);
    sb->err.text = ct_strdup(text);
    if (!sb->err.file || !sb->err.text)
        return;
    sb->err.pub.file = sb->err.file;
    sb->err.pub.text = sb->err.text;
    sb->err.pub.line = (int)line;
}

struct load_args {
    const char *text;
    size_t len;
    const char *chunkname;
    int status;
};

static int load_p(lua_State *L)
{
    struct load_args *a = lua_touserdata(L, 1);
    lua_pushfstring(L, "@%s", a->chunkname);
    a->status = ct_sandbox__load_text(L, a->text, a->len, lua_tostring(L, -1));
    return 1;
}

/* After a compile that returned a status: the function, or a message. */
static int finish_load(ct_sandbox *sb, int status, const char *chunk,
                       const char *file)
{
    if (status == LUA_OK)
        return 0;
    char *detail = ct_sandbox__describe(sb->L, -1);
    lua_pop(sb->L, 1);
    if (status == LUA_ERRMEM) {
        char size[32];
        ct_sandbox__fmt_size(size, sizeof size, sb->lim.memory);
        sb->stats.mem_errors++;
        return ct_sandbox__error(sb, CT_ELIMIT, detail, NULL,
                                 "memory limit of %s exceeded loading %s", size,
                                 chunk);
    }
    ct_sandbox__error(sb, CT_EPLUGIN, detail, NULL, "%s",
                      detail ? detail : chunk);
    parse_location(sb, chunk, file);
    return CT_EPLUGIN;
}

int ct_sandbox_load(ct_sandbox *sb, const char *chunkname, const char *text,
                    size_t len)
{
    ct_sandbox__error_reset(sb);
    if (len > sb->lim.max_chunk) {
        char size[32];
        ct_sandbox__fmt_size(size, sizeof size, sb->lim.max_chunk);
        sb->stats.limit_errors++;
        return ct_sandbox__error(sb, CT_ELIMIT, NULL, NULL,
                                 "chunk size limit of %s exceeded loading %s "
                                 "(%zu bytes)",
                                 size, chunkname, len);
    }
    struct load_args a = {text, len, chunkname, LUA_OK};
    lua_pushlightuserdata(sb->L, &a);
    int rc = ct_sandbox__protected(sb, load_p, 1, 1, chunkname);
    if (rc)
        return rc;
    return finish_load(sb, a.status, chunkname, chunkname);
}

/* Resolves relpath inside the plugin directory into path (PATH_MAX). */
/* A relative path without "..", backslashes or control bytes. */
static int check_relpath(const char *relpath)
{
    size_t n = strlen(relpath);
    if (n == 0 || relpath[0] == '/' || n > 512)
        return CT_EINVAL;
    for (const char *p = relpath; *p; p++) {
        if (p[0] == '.' && p[1] == '.' && (p == relpath || p[-1] == '/') &&
            (p[2] == '/' || p[2] == '\0'))
            return CT_EINVAL;
        if (*p == '\\' || (unsigned char)*p < 0x20)
            return CT_EINVAL;
    }
    return 0;
}

static int resolve_own(ct_sandbox *sb, const char *relpath, char *path)
{
    if (!sb->dir)
        return CT_ENOTFOUND;
    int rc = check_relpath(relpath);
    if (rc)
        return rc;
    char joined[PATH_MAX];
    if ((size_t)snprintf(joined, sizeof joined, "%s/%s", sb->dir, relpath) >=
        sizeof joined)
        return CT_EINVAL;
    if (!realpath(joined, path))
        return errno == ENOENT || errno == ENOTDIR ? CT_ENOTFOUND : CT_EIO;
    size_t dn = strlen(sb->dir);
    if (strncmp(path, sb->dir, dn) != 0 || path[dn] != '/')
        return CT_EDENIED;
    struct stat st;
    if (stat(path, &st) != 0)
        return CT_EIO;
    if (!S_ISREG(st.st_mode))
        return CT_ENOTFOUND;
    return 0;
}

struct file_reader {
    int fd;
    bool failed;
    size_t total, max;
    bool too_big;
    char buf[4096];
};

static const char *read_chunk(lua_State *L, void *ud, size_t *size)
{
    (void)L;
    struct file_reader *r = ud;
    ssize_t n;
    do
        n = read(r->fd, r->buf, sizeof r->buf);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        r->failed = true;
        n = 0;
    }
    r->total += (size_t)n;
    if (r->total > r->max) {
        r->too_big = true;
        n = 0;
    }
    *size = (size_t)n;
    return n ? r->buf : NULL;
}

/* compile_own from the embedder's source (a verified bundle in memory):
 * nothing is read from disk. */
/* Replaces the compile result on top of L with the size limit's message:
 * one wording whether the embedder's bytes or the file were too large. */
static int too_big_chunk(lua_State *L, ct_sandbox *sb, const char *relpath)
{
    char size[32];
    lua_pop(L, 1);
    ct_sandbox__fmt_size(size, sizeof size, sb->lim.max_chunk);
    lua_pushfstring(L, "chunk size limit of %s exceeded loading %s", size,
                    relpath);
    return CT_ELIMIT;
}

static int compile_source(lua_State *L, ct_sandbox *sb, const char *relpath)
{
    int rc = check_relpath(relpath);
    size_t len = 0;
    lua_pushfstring(L, "@%s", relpath);
    /* The bytes are the embedder's (watchdog's gate): read and compiled
     * while it waits. Neither raises. */
    ct_sandbox__host_enter(L);
    const char *text = rc ? NULL : sb->source(sb->source_ud, relpath, &len);
    int status = LUA_OK;
    if (text && len <= sb->lim.max_chunk)
        status = luaL_loadbufferx(L, text, len, lua_tostring(L, -1), "t");
    ct_sandbox__host_leave(L);
    if (!text) {
        lua_pop(L, 1);
        lua_pushfstring(L, "cannot open %s: %s", relpath,
                        ct_strerror(rc ? rc : CT_ENOTFOUND));
        return rc ? rc : CT_ENOTFOUND;
    }
    if (len > sb->lim.max_chunk)
        return too_big_chunk(L, sb, relpath);
    lua_remove(L, -2);
    if (status == LUA_ERRMEM)
        return lua_error(L);
    return status == LUA_OK ? 0 : CT_EPLUGIN;
}

int ct_sandbox__compile_own(lua_State *L, const char *relpath)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    if (sb->source)
        return compile_source(L, sb, relpath);
    char path[PATH_MAX];
    int rc = resolve_own(sb, relpath, path);
    if (rc) {
        lua_pushfstring(L, "cannot open %s: %s", relpath,
                        rc == CT_EDENIED ? "outside the plugin directory"
                                         : ct_strerror(rc));
        return rc;
    }
    /* Everything that may raise comes before open, and lua_load catches
     * every error, so the file is always closed. */
    struct file_reader *r = lua_newuserdatauv(L, sizeof *r, 0);
    lua_pushfstring(L, "@%s", relpath);
    r->total = 0;
    r->max = sb->lim.max_chunk;
    r->too_big = r->failed = false;
    /* path is resolved; refuse a last component swapped for a symlink
     * since, and anything that is not a regular file (a FIFO would block).
     */
    struct stat st;
    r->fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (r->fd < 0 || fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = r->fd < 0 ? errno : EINVAL;
        if (r->fd >= 0)
            close(r->fd);
        lua_pop(L, 2);
        lua_pushfstring(L, "cannot open %s: %s", relpath, strerror(err));
        return CT_EIO;
    }
    int status = lua_load(L, read_chunk, r, lua_tostring(L, -1), "t");
    bool failed = r->failed;
    bool too_big = r->too_big;
    close(r->fd);
    lua_rotate(L, -3, 1); /* the result below the reader and chunkname */
    lua_pop(L, 2);
    if (too_big)
        return too_big_chunk(L, sb, relpath);
    if (failed) {
        lua_pop(L, 1);
        lua_pushfstring(L, "cannot read %s", relpath);
        return CT_EIO;
    }
    if (status == LUA_ERRMEM)
        return lua_error(L);
    return status == LUA_OK ? 0 : CT_EPLUGIN;
}

struct file_args {
    const char *relpath;
    int rc;
};

static int load_file_p(lua_State *L)
{
    struct file_args *a = lua_touserdata(L, 1);
    a->rc = ct_sandbox__compile_own(L, a->relpath);
    return 1;
}

int ct_sandbox_load_file(ct_sandbox *sb, const char *relpath)
{
    ct_sandbox__error_reset(sb);
    struct file_args a = {relpath, 0};
    lua_pushlightuserdata(sb->L, &a);
    int rc = ct_sandbox__protected(sb, load_file_p, 1, 1, relpath);
    if (rc)
        return rc;
    if (a.rc == 0)
        return 0;
    if (a.rc == CT_EPLUGIN) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", sb->dir, relpath);
        return finish_load(sb, LUA_ERRSYNTAX, relpath, path);
    }
    char *detail = ct_sandbox__describe(sb->L, -1);
    lua_pop(sb->L, 1);
    if (a.rc == CT_ELIMIT)
        sb->stats.limit_errors++;
    return ct_sandbox__error(sb, a.rc, detail, NULL, "%s",
                             detail ? detail : relpath);
}

static int ref_p(lua_State *L)
{
    lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
    return 1;
}

static int take_ref(ct_sandbox *sb, const char *what, int *ref)
{
    int rc = ct_sandbox__protected(sb, ref_p, 1, 1, what);
    if (rc)
        return rc;
    *ref = (int)lua_tointeger(sb->L, -1);
    lua_pop(sb->L, 1);
    return 0;
}

int ct_sandbox_load_main(ct_sandbox *sb, const char *relpath)
{
    ct_sandbox__error_reset(sb);
    if (sb->main_loaded)
        return ct_sandbox__error(sb, CT_ESTATE, NULL, NULL,
                                 "%s: the main chunk is already loaded",
                                 relpath);
    int rc = ct_sandbox_load_file(sb, relpath);
    if (rc)
        return rc;
    /* Loading reads and compiles the plugin's files (require): like
     * setup, ten times the deadline, at most 5 s, so that a busy disk or
     * machine does not fail a plugin that is merely being loaded. */
    int64_t dl = sb->lim.deadline_ms * 10 < 5000 ? sb->lim.deadline_ms * 10
                                                 : 5000;
    if (dl < sb->lim.deadline_ms)
        dl = sb->lim.deadline_ms;
    rc = ct_sandbox_call_deadline(sb, relpath, 0, 1, dl);
    if (rc)
        return rc;
    rc = take_ref(sb, relpath, &sb->main_ref);
    if (rc)
        return rc;
    sb->main_loaded = true;
    return 0;
}

int ct_sandbox_push_main(ct_sandbox *sb)
{
    return ct_sandbox_push_ref(sb, sb->main_ref);
}

struct hook_args {
    const char *name;
    int type;
};

static int get_hook_p(lua_State *L)
{
    struct hook_args *a = lua_touserdata(L, 1);
    lua_pushstring(L, a->name);
    a->type = lua_rawget(L, 2);
    return 1;
}

int ct_sandbox_get_hook(ct_sandbox *sb, const char *name)
{
    int rc = ct_sandbox_push_main(sb);
    if (rc)
        return rc;
    if (!lua_istable(sb->L, -1)) {
        lua_pop(sb->L, 1);
        return CT_ENOTFOUND;
    }
    struct hook_args a = {name, LUA_TNIL};
    lua_pushlightuserdata(sb->L, &a);
    lua_insert(sb->L, -2);
    rc = ct_sandbox__protected(sb, get_hook_p, 2, 1, name);
    if (rc)
        return rc;
    if (a.type == LUA_TFUNCTION)
        return 0;
    lua_pop(sb->L, 1);
    if (a.type == LUA_TNIL)
        return CT_ENOTFOUND;
    return ct_sandbox__error(sb, CT_EPLUGIN, NULL, NULL,
                             "hook '%s' is a %s, expected a function", name,
                             lua_typename(sb->L, a.type));
}

/* ------------------------------------------------------------------ */
/* References                                                         */

/* Records a reference taken for owner; CT_ENOMEM (reference released)
 * when the debug owner list cannot grow. */
static int count_ref(ct_sandbox *sb, const char *owner, int *ref)
{
    (void)owner; /* kept only by debug builds */
    if (*ref == LUA_REFNIL)
        return 0; /* nil needs no release; not counted */
#ifdef CT_DEBUG_REFS
    if (sb->ref_owners_len == sb->ref_owners_cap) {
        size_t cap = sb->ref_owners_cap ? 2 * sb->ref_owners_cap : 16;
        struct ref_owner *p =
            realloc(sb->ref_owners, cap * sizeof *sb->ref_owners);
        if (!p) {
            luaL_unref(sb->L, LUA_REGISTRYINDEX, *ref);
            *ref = LUA_NOREF;
            return ct_sandbox__error(sb, CT_ENOMEM, NULL, NULL,
                                     "%s: out of memory", owner);
        }
        sb->ref_owners = p;
        sb->ref_owners_cap = cap;
    }
    sb->ref_owners[sb->ref_owners_len].ref = *ref;
    sb->ref_owners[sb->ref_owners_len++].owner = owner;
#endif
    sb->refs++;
    return 0;
}

int ct_sandbox_ref(ct_sandbox *sb, const char *owner, int *ref)
{
    ct_sandbox__error_reset(sb);
    *ref = LUA_NOREF;
    if (lua_gettop(sb->L) < 1)
        return ct_sandbox__error(sb, CT_ESTATE, NULL, NULL,
                                 "%s: nothing to reference", owner);
    int rc = take_ref(sb, owner, ref);
    return rc ? rc : count_ref(sb, owner, ref);
}

void ct_sandbox_lua_ref(lua_State *L, const char *owner, int *ref)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (count_ref(sb, owner, ref))
        luaL_error(L, "%s: out of memory", owner);
}

void ct_sandbox_unref(ct_sandbox *sb, int ref)
{
    if (ref == LUA_NOREF || ref == LUA_REFNIL)
        return;
#ifdef CT_DEBUG_REFS
    size_t i = 0;
    while (i < sb->ref_owners_len && sb->ref_owners[i].ref != ref)
        i++;
    if (i == sb->ref_owners_len) {
        ct_log_error(sb->log_unit, "unref of unknown reference %d", ref);
        abort();
    }
    sb->ref_owners[i] = sb->ref_owners[--sb->ref_owners_len];
#endif
    /* Reusing an existing registry slot: luaL_unref does not allocate.
     * An abandoned state is the worker's; closing it frees the slot. */
    if (!sb->abandoned)
        luaL_unref(sb->L, LUA_REGISTRYINDEX, ref);
    sb->refs--;
}

int ct_sandbox_push_ref(ct_sandbox *sb, int ref)
{
    if (sb->abandoned)
        return ct_sandbox__refuse_abandoned(sb);
    ct_sandbox__error_reset(sb);
    if (!lua_checkstack(sb->L, 1))
        return ct_sandbox__error(sb, CT_ELIMIT, NULL, NULL,
                                 "stack limit exceeded");
    /* LUA_NOREF (main before load_main) is nil. */
    if (ref == LUA_NOREF)
        lua_pushnil(sb->L);
    else
        lua_rawgeti(sb->L, LUA_REGISTRYINDEX, ref);
    return 0;
}

int ct_sandbox_ref_count(const ct_sandbox *sb)
{
    return sb->refs;
}
