/*
 * libFuzzer target for the Lua-to-JSON conversion of hook results
 * (host/sandbox_json.c). The input is a small program that builds a Lua
 * value in a sandbox: strings (any bytes, so invalid UTF-8 and NULs),
 * integers, floats (NaN and infinities included), booleans, nested and
 * shared tables, keys of every kind, cycles. The value is converted; when
 * that succeeds it must convert back and again to the same JSON. Built and
 * run by tests/fuzz/run.sh.
 */
#include "error.h"
#include "log.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct prog {
    const uint8_t *p;
    size_t n;
} prog;

static int next(prog *g)
{
    if (!g->n)
        return -1;
    g->n--;
    return *g->p++;
}

/* Builds values on the stack from the program; index 1 is a table of
 * every table made so far (for sharing and cycles). Runs protected. */
static int build(lua_State *L)
{
    prog *g = lua_touserdata(L, 1);
    lua_settop(L, 1);
    lua_newtable(L); /* 2: tables made */
    lua_newtable(L); /* 3: the root */
    lua_pushvalue(L, 3);
    lua_rawseti(L, 2, 1);
    int ntables = 1, op;
    while ((op = next(g)) >= 0 && lua_gettop(L) < 40) {
        switch (op % 10) {
        case 0: { /* string of up to 255 bytes */
            int n = next(g);
            n = n < 0 ? 0 : n;
            if ((size_t)n > g->n)
                n = (int)g->n;
            lua_pushlstring(L, (const char *)g->p, (size_t)n);
            g->p += n;
            g->n -= (size_t)n;
            break;
        }
        case 1: lua_pushinteger(L, (lua_Integer)(int8_t)next(g) * 1000003); break;
        case 2: {
            static const double f[] = {0.5, -1e300, 1.0 / 0.0, 0.0 / 0.0, 3};
            lua_pushnumber(L, f[(unsigned)next(g) % 5]);
            break;
        }
        case 3: lua_pushboolean(L, next(g) & 1); break;
        case 4: /* a new table */
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_rawseti(L, 2, ++ntables);
            break;
        case 5: /* an earlier table (shared, or a cycle) */
            lua_rawgeti(L, 2, 1 + (unsigned)next(g) % (unsigned)ntables);
            break;
        case 6: /* t[k] = v with the top two, into the table below them */
            if (lua_gettop(L) >= 6 && lua_istable(L, -3) &&
                !lua_isnil(L, -2) &&
                !(lua_type(L, -2) == LUA_TNUMBER &&
                  lua_tonumber(L, -2) != lua_tonumber(L, -2)))
                lua_rawset(L, -3);
            else if (lua_gettop(L) > 3)
                lua_pop(L, 1);
            break;
        case 7: /* append the top to the table below it */
            if (lua_gettop(L) >= 5 && lua_istable(L, -2))
                lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
            else if (lua_gettop(L) > 3)
                lua_pop(L, 1);
            break;
        case 8: /* store the top into the root */
            if (lua_gettop(L) >= 4)
                lua_rawseti(L, 3, (lua_Integer)lua_rawlen(L, 3) + 1);
            break;
        default: /* the root gets a string key */
            if (lua_gettop(L) >= 4) {
                char k[8];
                k[0] = 'k';
                k[1] = (char)('a' + (unsigned)next(g) % 26);
                k[2] = 0;
                lua_setfield(L, 3, k);
            }
            break;
        }
    }
    lua_settop(L, 3);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ct_sandbox *sb;
    if (!sb) {
        ct_log_setup(CT_LOG_TEXT, CT_LOG_ERROR);
        ct_sandbox_limits lim = {.deadline_ms = 10000,
                                 .memory = (size_t)16 << 20};
        if (ct_sandbox_new("fuzz", NULL, &lim, &sb))
            abort();
    }
    lua_State *L = ct_sandbox_state(sb);
    prog g = {data, size};
    lua_pushcfunction(L, build);
    lua_pushlightuserdata(L, &g);
    if (ct_sandbox_call(sb, "build", 1, 1))
        return 0;
    json_t *a = NULL, *b = NULL;
    if (ct_sandbox_to_json(sb, -1, "result", 0, &a) == 0) {
        if (ct_sandbox_push_json(sb, a) == 0) {
            /* What crossed once crosses again, unchanged. */
            if (ct_sandbox_to_json(sb, -1, "result", 0, &b) != 0 ||
                !json_equal(a, b))
                abort();
            lua_pop(L, 1);
        }
    }
    lua_settop(L, 0);
    json_decref(a);
    json_decref(b);
    return 0;
}
