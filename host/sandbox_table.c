/*
 * Bounded table functions. The standard insert, remove, move, sort,
 * concat and unpack loop in C over as many elements as the plugin names
 * (table.move(t, 1, 1e15, 2) walks 10^15 nils without allocating), where
 * the count hook never fires. These versions behave like the manual says
 * but look at the clock every CLOCK_EVERY elements, and concat and unpack
 * respect max_string and max_results. table.pack is the standard one.
 *
 * table.sort is a merge sort: O(n log n) comparisons in every case, so a
 * hostile comparator cannot make it quadratic. Unlike the standard sort it
 * is stable, and an inconsistent comparator gives some order instead of
 * "invalid order function for sorting".
 */
#include "sandbox_int.h"

#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>

#define CLOCK_EVERY 1024

#define TAB_R 1
#define TAB_W 2
#define TAB_L 4
#define TAB_RW (TAB_R | TAB_W)

static bool meta_has(lua_State *L, int mt, const char *key)
{
    lua_pushstring(L, key);
    bool has = lua_rawget(L, mt) != LUA_TNIL;
    lua_pop(L, 1);
    return has;
}

/* A table, or anything whose metatable provides what the function needs. */
static void check_table(lua_State *L, int arg, int what)
{
    if (lua_type(L, arg) == LUA_TTABLE)
        return;
    if (lua_getmetatable(L, arg)) {
        int mt = lua_gettop(L);
        bool ok = (!(what & TAB_R) || meta_has(L, mt, "__index")) &&
                  (!(what & TAB_W) || meta_has(L, mt, "__newindex")) &&
                  (!(what & TAB_L) || meta_has(L, mt, "__len"));
        lua_pop(L, 1);
        if (ok)
            return;
    }
    luaL_checktype(L, arg, LUA_TTABLE);
}

static lua_Integer length_of(lua_State *L, int arg, int what)
{
    check_table(L, arg, what | TAB_L);
    return luaL_len(L, arg);
}

static void tick(lua_State *L, lua_Integer i)
{
    if ((i & (CLOCK_EVERY - 1)) == 0)
        ct_sandbox__deadline(L);
}

/* table.insert(list, [pos,] value) */
static int tab_insert(lua_State *L)
{
    lua_Integer e = luaL_intop(+, length_of(L, 1, TAB_RW), 1);
    lua_Integer pos;
    switch (lua_gettop(L)) {
    case 2: pos = e; break;
    case 3:
        pos = luaL_checkinteger(L, 2);
        luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)e, 2,
                      "position out of bounds");
        for (lua_Integer i = e; i > pos; i--) {
            tick(L, i);
            lua_geti(L, 1, i - 1);
            lua_seti(L, 1, i);
        }
        break;
    default: return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    lua_seti(L, 1, pos);
    return 0;
}

/* table.remove(list [, pos]) -> value */
static int tab_remove(lua_State *L)
{
    lua_Integer size = length_of(L, 1, TAB_RW);
    lua_Integer pos = luaL_optinteger(L, 2, size);
    if (pos != size)
        luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 2,
                      "position out of bounds");
    lua_geti(L, 1, pos);
    for (; pos < size; pos++) {
        tick(L, pos);
        lua_geti(L, 1, pos + 1);
        lua_seti(L, 1, pos);
    }
    lua_pushnil(L);
    lua_seti(L, 1, pos);
    return 1;
}

/* table.move(a1, f, e, t [, a2]) -> a2 */
static int tab_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4);
    int tt = !lua_isnoneornil(L, 5) ? 5 : 1;
    check_table(L, 1, TAB_R);
    check_table(L, tt, TAB_W);
    if (e >= f) {
        luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3,
                      "too many elements to move");
        lua_Integer n = e - f + 1;
        luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4,
                      "destination wrap around");
        /* Forward unless the ranges overlap with the destination after
         * the source in the same table. */
        if (t > e || t <= f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ))) {
            for (lua_Integer i = 0; i < n; i++) {
                tick(L, i + 1);
                lua_geti(L, 1, f + i);
                lua_seti(L, tt, t + i);
            }
        } else {
            for (lua_Integer i = n - 1; i >= 0; i--) {
                tick(L, i + 1);
                lua_geti(L, 1, f + i);
                lua_seti(L, tt, t + i);
            }
        }
    }
    lua_pushvalue(L, tt);
    return 1;
}

static void add_element(lua_State *L, luaL_Buffer *b, lua_Integer i)
{
    lua_geti(L, 1, i);
    if (!lua_isstring(L, -1))
        luaL_error(L, "invalid value (%s) at index %I in table for 'concat'",
                   luaL_typename(L, -1), (LUAI_UACINT)i);
    luaL_addvalue(b);
}

/* table.concat(list [, sep [, i [, j]]]) -> string */
static int tab_concat(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    lua_Integer last = length_of(L, 1, TAB_R);
    size_t lsep;
    const char *sep = luaL_optlstring(L, 2, "", &lsep);
    lua_Integer i = luaL_optinteger(L, 3, 1);
    last = luaL_optinteger(L, 4, last);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (; i < last; i++) {
        tick(L, i);
        add_element(L, &b, i);
        luaL_addlstring(&b, sep, lsep);
        if (luaL_bufflen(&b) > sb->lim.max_string)
            ct_sandbox__string_limit(L, "table.concat", luaL_bufflen(&b));
    }
    if (i == last)
        add_element(L, &b, i);
    if (luaL_bufflen(&b) > sb->lim.max_string)
        ct_sandbox__string_limit(L, "table.concat", luaL_bufflen(&b));
    luaL_pushresult(&b);
    return 1;
}

/* table.unpack(list [, i [, j]]) -> values */
static int tab_unpack(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    lua_Integer i = luaL_optinteger(L, 2, 1);
    lua_Integer e = luaL_opt(L, luaL_checkinteger, 3, luaL_len(L, 1));
    if (i > e)
        return 0;
    lua_Unsigned n = (lua_Unsigned)e - (lua_Unsigned)i;
    if (n >= (lua_Unsigned)sb->lim.max_results) {
        char desc[64];
        snprintf(desc, sizeof desc, "results limit of %d", sb->lim.max_results);
        ct_sandbox__limit(L, desc, "table.unpack: %llu values",
                          (unsigned long long)n + 1);
    }
    if (!lua_checkstack(L, (int)++n))
        return luaL_error(L, "too many results to unpack");
    for (; i < e; i++)
        lua_geti(L, 1, i);
    lua_geti(L, 1, e);
    return (int)n;
}

/* ------------------------------------------------------------------ */
/* sort                                                               */

/*
 * A bottom-up merge sort between the list (stack index 1) and a scratch
 * table (index 3): at most n*ceil(log2 n) comparisons in every case, about
 * half a heapsort's (the plugins' rank hooks sort 50 candidates through a
 * Lua comparator on every decision, so comparisons are what a sort costs).
 */
struct sorter {
    lua_State *L;
    bool has_comp;
    lua_Integer ops; /* comparisons and moves, for the clock */
};

/* Compares the values at stack indices a and b: a < b. */
static bool less(struct sorter *s, int a, int b)
{
    lua_State *L = s->L;
    if (++s->ops % CLOCK_EVERY == 0)
        ct_sandbox__deadline(L);
    if (!s->has_comp)
        return lua_compare(L, a, b, LUA_OPLT);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, a);
    lua_pushvalue(L, b);
    lua_call(L, 2, 1);
    bool r = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return r;
}

/* Moves the value on the top into position k (0-based) of table t. */
static void put_at(struct sorter *s, int t, lua_Integer k)
{
    if (++s->ops % CLOCK_EVERY == 0)
        ct_sandbox__deadline(s->L);
    lua_seti(s->L, t, k + 1);
}

/* Copies positions [i, end) of src to dst from position k on. */
static void copy_run(struct sorter *s, int src, int dst, lua_Integer i,
                     lua_Integer end, lua_Integer k)
{
    for (; i < end; i++, k++) {
        lua_geti(s->L, src, i + 1);
        put_at(s, dst, k);
    }
}

/* Merges src's sorted runs [lo, mid) and [mid, hi) into dst's [lo, hi);
 * equal values keep their order (the left run's first). */
static void merge(struct sorter *s, int src, int dst, lua_Integer lo,
                  lua_Integer mid, lua_Integer hi)
{
    lua_State *L = s->L;
    if (mid >= hi) {
        copy_run(s, src, dst, lo, mid, lo);
        return;
    }
    lua_Integer i = lo, j = mid, k = lo;
    lua_geti(L, src, i + 1);
    int a = lua_gettop(L);
    lua_geti(L, src, j + 1);
    int b = a + 1;
    for (;;) {
        if (less(s, b, a)) {
            lua_pushvalue(L, b);
            put_at(s, dst, k++);
            if (++j == hi) {
                lua_pushvalue(L, a);
                put_at(s, dst, k++);
                copy_run(s, src, dst, i + 1, mid, k);
                break;
            }
            lua_geti(L, src, j + 1);
            lua_replace(L, b);
        } else {
            lua_pushvalue(L, a);
            put_at(s, dst, k++);
            if (++i == mid) {
                lua_pushvalue(L, b);
                put_at(s, dst, k++);
                copy_run(s, src, dst, j + 1, hi, k);
                break;
            }
            lua_geti(L, src, i + 1);
            lua_replace(L, a);
        }
    }
    lua_settop(L, a - 1);
}

/* table.sort(list [, comp]) */
static int tab_sort(lua_State *L)
{
    lua_Integer n = length_of(L, 1, TAB_RW);
    if (n > 1) {
        luaL_argcheck(L, n < INT_MAX, 1, "array too big");
        if (!lua_isnoneornil(L, 2))
            luaL_checktype(L, 2, LUA_TFUNCTION);
        lua_settop(L, 2);
        lua_createtable(L, (int)n, 0); /* 3: the scratch table */
        struct sorter s = {L, !lua_isnil(L, 2), 0};
        int src = 1, dst = 3;
        for (lua_Integer w = 1; w < n; w *= 2) {
            for (lua_Integer lo = 0; lo < n; lo += 2 * w)
                merge(&s, src, dst, lo, lo + w < n ? lo + w : n,
                      lo + 2 * w < n ? lo + 2 * w : n);
            src = dst;
            dst = src == 1 ? 3 : 1;
        }
        if (src != 1)
            copy_run(&s, 3, 1, 0, n, 0);
    }
    return 0;
}

static const luaL_Reg bounded[] = {
    {"concat", tab_concat}, {"insert", tab_insert}, {"move", tab_move},
    {"remove", tab_remove}, {"sort", tab_sort},     {"unpack", tab_unpack},
    {NULL, NULL},
};

int ct_sandbox__open_table(lua_State *L)
{
    luaopen_table(L);
    luaL_setfuncs(L, bounded, 0);
    return 1;
}
