/*
 * Code lines from the compiled chunk (host/coverage.c): the same lines
 * Lua's own debug.getinfo(f, "L").activelines lists for every function of
 * a chunk, nested ones included, and exact figures on a known file.
 */
#include "coverage.h"
#include "error.h"

#include <criterion/criterion.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

/* Every function of the chunk is reachable from what it returns, so a
 * plain state (test code only, never plugin code) can ask Lua itself. */
static const char reachable[] =
    "local M = {}\n"                                  /* 1 */
    "\n"                                              /* 2 */
    "-- a comment\n"                                  /* 3 */
    "function M.add(a, b)\n"                          /* 4 */
    "  return a + b\n"                                /* 5 */
    "end\n"                                           /* 6 */
    "\n"                                              /* 7 */
    "function M.loop(n)\n"                            /* 8 */
    "  local s = 0\n"                                 /* 9 */
    "  while s < n do\n"                              /* 10 */
    "    s = s + 1\n"                                 /* 11 */
    "  end\n"                                         /* 12 */
    "  for i = 1, n do s = s + i end\n"               /* 13 */
    "  return s\n"                                    /* 14 */
    "end\n"                                           /* 15 */
    "\n"                                              /* 16 */
    "function M.nest(x)\n"                            /* 17 */
    "  local function inner(...)\n"                   /* 18 */
    "    local t = {...}\n"                           /* 19 */
    "    if #t > 1 then\n"                            /* 20 */
    "      return 'many'\n"                           /* 21 */
    "    elseif #t == 1 then\n"                       /* 22 */
    "      return 'one'\n"                            /* 23 */
    "    end\n"                                       /* 24 */
    "  end\n"                                         /* 25 */
    "  M.inner = inner\n"                             /* 26 */
    "  return inner(x)\n"                             /* 27 */
    "end\n"                                           /* 28 */
    "M.s = [[\n"                                      /* 29 */
    "long string\n"                                   /* 30 */
    "]]\n"                                            /* 31 */
    "M.k = { 1.5, 2, 'x', true, false }\n"            /* 32 */
    "return M\n";                                     /* 33 */

/* The union of activelines of M's functions and the main chunk. */
static void lua_activelines(bool *want, int n)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    static const char driver[] =
        "local src = ...\n"
        "local main = assert(load(src, '=reachable'))\n"
        "local M = main()\n"
        "M.nest(1)\n"
        "local out = {}\n"
        "local function add(f)\n"
        "  for l in pairs(debug.getinfo(f, 'L').activelines) do\n"
        "    out[#out + 1] = l\n"
        "  end\n"
        "end\n"
        "add(main); add(M.add); add(M.loop); add(M.nest); add(M.inner)\n"
        "return out\n";
    cr_assert_eq(luaL_loadstring(L, driver), LUA_OK);
    lua_pushstring(L, reachable);
    cr_assert_eq(lua_pcall(L, 1, 1, 0), LUA_OK, "%s", lua_tostring(L, -1));
    lua_Integer len = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_rawgeti(L, -1, i);
        lua_Integer l = lua_tointeger(L, -1);
        cr_assert(l >= 1 && l <= n, "line %lld", (long long)l);
        want[l] = true;
        lua_pop(L, 1);
    }
    lua_close(L);
}

Test(coverage, same_lines_as_lua_activelines)
{
    bool *code = NULL;
    int n = 0;
    char *err = NULL;
    int rc = ct_coverage_code_lines("@reachable", reachable,
                                    strlen(reachable), &code, &n, &err);
    cr_assert_eq(rc, 0, "%s: %s", ct_err_name(rc), err ? err : "");
    cr_assert_eq(n, 33);
    bool want[34] = {0};
    lua_activelines(want, 33);
    for (int l = 1; l <= 33; l++)
        cr_expect_eq(code[l], want[l], "line %d: ours %d, Lua's %d", l,
                     code[l], want[l]);
    free(code);
}

Test(coverage, known_file)
{
    bool *code = NULL;
    int n = 0;
    char *err = NULL;
    cr_assert_eq(ct_coverage_code_lines("@reachable", reachable,
                                        strlen(reachable), &code, &n, &err),
                 0);
    /* Code: statements, a function's `end` (the closure is made there),
     * the line a long string ends on. Not code: blank lines, comments,
     * the `end` of a while loop (its jump back is on the body's line) and
     * of an if, and `local function` headers (only a vararg function's
     * setup is there, which activelines leaves out). */
    static const int expected[] = {1,  4,  5,  6,  8,  9,  10, 11,
                                   13, 14, 15, 17, 19, 20, 21, 22,
                                   23, 25, 26, 27, 28, 31, 32, 33};
    bool want[34] = {0};
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        want[expected[i]] = true;
    for (int l = 1; l <= 33; l++)
        cr_expect_eq(code[l], want[l], "line %d: got %d, want %d", l,
                     code[l], want[l]);
    free(code);
}

Test(coverage, syntax_error_and_tally)
{
    bool *code = NULL;
    int n = 0;
    char *err = NULL;
    cr_assert_eq(ct_coverage_code_lines("@bad.lua", "local x = = 1\n", 14,
                                        &code, &n, &err),
                 CT_EPLUGIN);
    cr_assert_null(code);
    cr_assert_not_null(strstr(err, "bad.lua:1:"), "%s", err);
    free(err);

    ct_coverage_file f;
    const char *src = "local a = 1\n\nlocal b = 2\nreturn a + b\n";
    cr_assert_eq(ct_coverage_file_init(&f, "p/init.lua", "@init.lua", src,
                                       strlen(src), &err),
                 0);
    cr_assert_eq(f.nlines, 4);
    ct_coverage_hit(&f, 1);
    ct_coverage_hit(&f, 1);
    ct_coverage_hit(&f, 2);  /* no code there: not counted as covered */
    ct_coverage_hit(&f, 99); /* outside the file: ignored */
    int c, h;
    ct_coverage_counts(&f, &c, &h);
    cr_assert_eq(c, 3);
    cr_assert_eq(h, 1);
    ct_coverage_file_free(&f);
    ct_coverage_file_free(&f); /* twice is harmless */
}
