/*
 * Bounded string functions. Lua's pattern matcher backtracks without limit
 * inside C, where the count hook never fires: string.find(("a"):rep(300),
 * ".-.-.-b") runs for minutes. This file holds a matcher written from the
 * manual's description of patterns (§6.4.1) that counts its steps: each
 * call of find, match, gsub or of a gmatch iterator may take at most
 * max_match_steps steps, looks at the clock every CLOCK_EVERY steps, and
 * refuses subjects longer than max_subject. Results are the same as Lua's,
 * error messages included.
 *
 * string.rep is rebuilt (the standard one spins for string.rep("", 1e15)
 * and copies byte by byte); string.byte and string.unpack respect
 * max_results; string.dump is gone. The string metatable is frozen
 * (__metatable = false) and plugins get a read-only proxy of the library,
 * so nothing they do changes the methods every string shares.
 */
#include "sandbox_int.h"

#include <ctype.h>
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#define MAX_CAPTURES 32
#define MAX_DEPTH 200
#define CLOCK_EVERY 4096
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)
#define SPECIALS "^$*+?.([%-"

typedef struct matcher {
    lua_State *L;
    const char *fn;  /* "string.find", for messages */
    const char *src; /* the subject */
    const char *src_end;
    const char *pat_end;
    int level; /* captures open or closed so far */
    int depth; /* recursion left */
    uint64_t steps, max_steps, next_check;
    struct {
        const char *init;
        ptrdiff_t len;
    } cap[MAX_CAPTURES];
} matcher;

static unsigned char uc(char c)
{
    return (unsigned char)c;
}

static void too_many_steps(matcher *m)
{
    char desc[64];
    snprintf(desc, sizeof desc, "pattern step limit of %llu",
             (unsigned long long)m->max_steps);
    ct_sandbox__limit(m->L, desc, "%s: pattern too complex for its subject",
                      m->fn);
}

static void step(matcher *m, uint64_t n)
{
    m->steps += n;
    if (m->steps < m->next_check)
        return;
    if (m->steps > m->max_steps)
        too_many_steps(m);
    ct_sandbox__deadline(m->L);
    m->next_check = m->steps + CLOCK_EVERY;
    if (m->next_check > m->max_steps + 1)
        m->next_check = m->max_steps + 1;
}

static void matcher_init(matcher *m, lua_State *L, const char *fn,
                         const char *s, size_t ls, const char *p, size_t lp)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    m->L = L;
    m->fn = fn;
    m->src = s;
    m->src_end = s + ls;
    m->pat_end = p + lp;
    m->level = 0;
    m->depth = MAX_DEPTH;
    m->steps = 0;
    m->max_steps = sb->lim.max_match_steps;
    m->next_check = CLOCK_EVERY < m->max_steps ? CLOCK_EVERY : m->max_steps + 1;
}

static void check_subject(lua_State *L, const char *fn, size_t len)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    if (len <= sb->lim.max_subject)
        return;
    char size[32], desc[64];
    ct_sandbox__fmt_size(size, sizeof size, sb->lim.max_subject);
    snprintf(desc, sizeof desc, "subject length limit of %s", size);
    ct_sandbox__limit(L, desc, "%s: subject of %zu bytes", fn, len);
}

/* ------------------------------------------------------------------ */
/* Character classes                                                  */

/* %a, %d... for cl; any other cl stands for itself. */
static bool class_match(int c, int cl)
{
    int r;
    switch (tolower(cl)) {
    case 'a': r = isalpha(c); break;
    case 'c': r = iscntrl(c); break;
    case 'd': r = isdigit(c); break;
    case 'g': r = isgraph(c); break;
    case 'l': r = islower(c); break;
    case 'p': r = ispunct(c); break;
    case 's': r = isspace(c); break;
    case 'u': r = isupper(c); break;
    case 'w': r = isalnum(c); break;
    case 'x': r = isxdigit(c); break;
    case 'z': r = c == 0; break; /* deprecated, still in Lua 5.4 */
    default: return cl == c;
    }
    return isupper(cl) ? !r : r != 0;
}

/* [set] with p at '[' and last at the closing ']'. */
static bool set_match(int c, const char *p, const char *last)
{
    bool in = true;
    if (p[1] == '^') {
        in = false;
        p++;
    }
    while (++p < last) {
        if (*p == '%') {
            p++;
            if (class_match(c, uc(*p)))
                return in;
        } else if (p[1] == '-' && p + 2 < last) {
            if (uc(p[0]) <= c && c <= uc(p[2]))
                return in;
            p += 2;
        } else if (uc(*p) == c) {
            return in;
        }
    }
    return !in;
}

/* End of the single-character class that starts at p. */
static const char *class_end(matcher *m, const char *p)
{
    char c = *p++;
    if (c == '%') {
        if (p >= m->pat_end)
            luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (p < m->pat_end && *p == '^')
            p++;
        /* The first character of a set is never its end: "[]]". */
        do {
            if (p >= m->pat_end)
                luaL_error(m->L, "malformed pattern (missing ']')");
            c = *p++;
            if (c == '%' && p < m->pat_end)
                p++;
        } while (p >= m->pat_end || *p != ']');
        return p + 1;
    }
    return p;
}

static bool single_match(matcher *m, const char *s, const char *p,
                         const char *ep)
{
    if (s >= m->src_end)
        return false;
    int c = uc(*s);
    switch (*p) {
    case '.': return true;
    case '%': return class_match(c, uc(p[1]));
    case '[': return set_match(c, p, ep - 1);
    default: return uc(*p) == c;
    }
}

/* ------------------------------------------------------------------ */
/* Matching                                                           */

static const char *do_match(matcher *m, const char *s, const char *p);

static const char *match_balance(matcher *m, const char *s, const char *p)
{
    if (p + 1 >= m->pat_end)
        luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->src_end || *s != *p)
        return NULL;
    char open = p[0], close = p[1];
    int depth = 1;
    while (++s < m->src_end) {
        step(m, 1);
        if (*s == close) {
            if (--depth == 0)
                return s + 1;
        } else if (*s == open) {
            depth++;
        }
    }
    return NULL;
}

static const char *match_backref(matcher *m, const char *s, int digit)
{
    int l = digit - '1';
    if (l < 0 || l >= m->level || m->cap[l].len == CAP_UNFINISHED)
        luaL_error(m->L, "invalid capture index %%%d", l + 1);
    ptrdiff_t len = m->cap[l].len;
    if (len < 0) /* a position capture matches no text */
        return NULL;
    step(m, 1 + (uint64_t)len / 64);
    if (m->src_end - s >= len && memcmp(m->cap[l].init, s, (size_t)len) == 0)
        return s + len;
    return NULL;
}

static const char *start_capture(matcher *m, const char *s, const char *p,
                                 ptrdiff_t what)
{
    if (m->level >= MAX_CAPTURES)
        luaL_error(m->L, "too many captures");
    m->cap[m->level].init = s;
    m->cap[m->level].len = what;
    m->level++;
    const char *r = do_match(m, s, p);
    if (!r)
        m->level--;
    return r;
}

static const char *end_capture(matcher *m, const char *s, const char *p)
{
    int l = m->level - 1;
    while (l >= 0 && m->cap[l].len != CAP_UNFINISHED)
        l--;
    if (l < 0)
        luaL_error(m->L, "invalid pattern capture");
    m->cap[l].len = s - m->cap[l].init;
    const char *r = do_match(m, s, p);
    if (!r)
        m->cap[l].len = CAP_UNFINISHED;
    return r;
}

/* Longest run first, then shorter ones (for * and +). */
static const char *max_expand(matcher *m, const char *s, const char *p,
                              const char *ep)
{
    ptrdiff_t i = 0;
    while (single_match(m, s + i, p, ep)) {
        step(m, 1);
        i++;
    }
    for (; i >= 0; i--) {
        const char *r = do_match(m, s + i, ep + 1);
        if (r)
            return r;
    }
    return NULL;
}

/* Shortest run first (for -). */
static const char *min_expand(matcher *m, const char *s, const char *p,
                              const char *ep)
{
    for (;;) {
        const char *r = do_match(m, s, ep + 1);
        if (r)
            return r;
        if (!single_match(m, s, p, ep))
            return NULL;
        s++;
    }
}

/* %f[set]: p at '['. */
static bool frontier(matcher *m, const char *s, const char *p, const char *ep)
{
    int prev = s == m->src ? '\0' : uc(s[-1]);
    int cur = s < m->src_end ? uc(*s) : '\0';
    (void)m;
    return !set_match(prev, p, ep - 1) && set_match(cur, p, ep - 1);
}

/*
 * Matches pattern p against the subject from s; returns the end of the
 * match or NULL. Sequences of single characters loop; quantifiers and
 * captures recurse, at most MAX_DEPTH deep.
 */
static const char *do_match(matcher *m, const char *s, const char *p)
{
    if (m->depth-- == 0)
        luaL_error(m->L, "pattern too complex");
    while (p < m->pat_end) {
        step(m, 1);
        if (*p == '(') {
            if (p + 1 < m->pat_end && p[1] == ')')
                s = start_capture(m, s, p + 2, CAP_POSITION);
            else
                s = start_capture(m, s, p + 1, CAP_UNFINISHED);
            goto done;
        }
        if (*p == ')') {
            s = end_capture(m, s, p + 1);
            goto done;
        }
        if (*p == '$' && p + 1 == m->pat_end) {
            s = s == m->src_end ? s : NULL;
            goto done;
        }
        if (*p == '%' && p + 1 < m->pat_end) {
            if (p[1] == 'b') {
                s = match_balance(m, s, p + 2);
                if (!s)
                    goto done;
                p += 4;
                continue;
            }
            if (p[1] == 'f') {
                p += 2;
                if (p >= m->pat_end || *p != '[')
                    luaL_error(m->L, "missing '[' after '%%f' in pattern");
                const char *ep = class_end(m, p);
                if (!frontier(m, s, p, ep)) {
                    s = NULL;
                    goto done;
                }
                p = ep;
                continue;
            }
            if (isdigit(uc(p[1]))) {
                s = match_backref(m, s, uc(p[1]));
                if (!s)
                    goto done;
                p += 2;
                continue;
            }
        }
        /* A single-character class with an optional quantifier. */
        const char *ep = class_end(m, p);
        char q = ep < m->pat_end ? *ep : '\0';
        if (!single_match(m, s, p, ep)) {
            if (q == '*' || q == '?' || q == '-') {
                p = ep + 1;
                continue;
            }
            s = NULL;
            goto done;
        }
        if (q == '?') {
            const char *r = do_match(m, s + 1, ep + 1);
            if (r) {
                s = r;
                goto done;
            }
            p = ep + 1;
        } else if (q == '+') {
            s = max_expand(m, s + 1, p, ep);
            goto done;
        } else if (q == '*') {
            s = max_expand(m, s, p, ep);
            goto done;
        } else if (q == '-') {
            s = min_expand(m, s, p, ep);
            goto done;
        } else {
            s++;
            p = ep;
        }
    }
done:
    m->depth++;
    return s;
}

/* ------------------------------------------------------------------ */
/* Captures                                                           */

/* Capture i, or the whole match s..e when there are no captures. */
static void push_capture(matcher *m, int i, const char *s, const char *e)
{
    if (i >= m->level) {
        if (i != 0)
            luaL_error(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t len = m->cap[i].len;
    if (len == CAP_UNFINISHED)
        luaL_error(m->L, "unfinished capture");
    if (len == CAP_POSITION)
        lua_pushinteger(m->L, (m->cap[i].init - m->src) + 1);
    else
        lua_pushlstring(m->L, m->cap[i].init, (size_t)len);
}

/* All captures; with s NULL, nothing for a pattern without captures. */
static int push_captures(matcher *m, const char *s, const char *e)
{
    int n = (m->level == 0 && s) ? 1 : m->level;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(m, i, s, e);
    return n;
}

/* ------------------------------------------------------------------ */
/* find, match, gmatch, gsub                                          */

/* Start position: negative counts from the end, clamped to 1. */
static size_t start_pos(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos;
    if (pos == 0 || pos < -(lua_Integer)len)
        return 1;
    return len + (size_t)pos + 1;
}

static bool no_specials(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (p[i] != '\0' && strchr(SPECIALS, p[i]))
            return false;
    return true;
}

static const char *plain_find(matcher *m, const char *s, size_t ls,
                              const char *p, size_t lp)
{
    if (lp == 0)
        return s;
    if (lp > ls)
        return NULL;
    const char *end = s + (ls - lp) + 1; /* one past the last start */
    while (s < end) {
        const char *hit = memchr(s, *p, (size_t)(end - s));
        if (!hit)
            return NULL;
        step(m, 1 + (uint64_t)(hit - s) / 256 + lp / 64);
        if (memcmp(hit + 1, p + 1, lp - 1) == 0)
            return hit;
        s = hit + 1;
    }
    return NULL;
}

static int find_aux(lua_State *L, bool find)
{
    const char *fn = find ? "string.find" : "string.match";
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
    check_subject(L, fn, ls);
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    matcher m;
    if (find && (lua_toboolean(L, 4) || no_specials(p, lp))) {
        matcher_init(&m, L, fn, s, ls, p, lp);
        const char *r = plain_find(&m, s + init, ls - init, p, lp);
        if (r) {
            lua_pushinteger(L, (r - s) + 1);
            lua_pushinteger(L, (lua_Integer)((size_t)(r - s) + lp));
            return 2;
        }
    } else {
        bool anchor = lp > 0 && *p == '^';
        if (anchor) {
            p++;
            lp--;
        }
        matcher_init(&m, L, fn, s, ls, p, lp);
        const char *s1 = s + init;
        do {
            m.level = 0;
            const char *e = do_match(&m, s1, p);
            if (e) {
                if (!find)
                    return push_captures(&m, s1, e);
                lua_pushinteger(L, (s1 - s) + 1);
                lua_pushinteger(L, e - s);
                return push_captures(&m, NULL, NULL) + 2;
            }
        } while (s1++ < m.src_end && !anchor);
    }
    luaL_pushfail(L);
    return 1;
}

/* string.find(s, pattern [, init [, plain]]) -> start, end, captures */
static int str_find(lua_State *L)
{
    return find_aux(L, true);
}

/* string.match(s, pattern [, init]) -> captures */
static int str_match(lua_State *L)
{
    return find_aux(L, false);
}

/* iterator() -> captures. Upvalues: subject, pattern, next start offset,
 * end of the last match (-1 before the first). A '^' is a plain character
 * here, as in Lua. */
static int gmatch_next(lua_State *L)
{
    size_t ls, lp;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
    lua_Integer pos = lua_tointeger(L, lua_upvalueindex(3));
    lua_Integer last = lua_tointeger(L, lua_upvalueindex(4));
    matcher m;
    matcher_init(&m, L, "string.gmatch", s, ls, p, lp);
    for (const char *src = s + pos; src <= m.src_end; src++) {
        m.level = 0;
        const char *e = do_match(&m, src, p);
        if (e && (last < 0 || e != s + last)) {
            lua_pushinteger(L, e - s);
            lua_copy(L, -1, lua_upvalueindex(3));
            lua_replace(L, lua_upvalueindex(4));
            return push_captures(&m, src, e);
        }
    }
    lua_pushinteger(L, (lua_Integer)ls + 1);
    lua_replace(L, lua_upvalueindex(3));
    return 0;
}

/* string.gmatch(s, pattern [, init]) -> iterator */
static int str_gmatch(lua_State *L)
{
    size_t ls;
    luaL_checklstring(L, 1, &ls);
    luaL_checkstring(L, 2);
    size_t init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
    check_subject(L, "string.gmatch", ls);
    if (init > ls)
        init = ls + 1;
    lua_settop(L, 2);
    lua_pushinteger(L, (lua_Integer)init);
    lua_pushinteger(L, -1);
    lua_pushcclosure(L, gmatch_next, 4);
    return 1;
}

/* The replacement string with %0-%9 and %%. */
static void add_string(matcher *m, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = m->L;
    size_t l;
    const char *news = lua_tolstring(L, 3, &l);
    const char *p;
    while ((p = memchr(news, '%', l)) != NULL) {
        luaL_addlstring(b, news, (size_t)(p - news));
        p++;
        if (p == news + l)
            luaL_error(L, "invalid use of '%%' in replacement string");
        if (*p == '%') {
            luaL_addchar(b, '%');
        } else if (*p == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit(uc(*p))) {
            push_capture(m, *p - '1', s, e);
            luaL_tolstring(L, -1, NULL); /* a position is an integer */
            lua_remove(L, -2);
            luaL_addvalue(b);
        } else {
            luaL_error(L, "invalid use of '%%' in replacement string");
        }
        l -= (size_t)(p + 1 - news);
        news = p + 1;
    }
    luaL_addlstring(b, news, l);
}

/* Adds the replacement of match s..e; false when the match is kept. */
static bool add_value(matcher *m, luaL_Buffer *b, const char *s, const char *e,
                      int tr)
{
    lua_State *L = m->L;
    if (tr == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e);
        lua_call(L, n, 1);
    } else if (tr == LUA_TTABLE) {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_string(m, b, s, e);
        return true;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return false;
    }
    if (!lua_isstring(L, -1))
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return true;
}

/* string.gsub(s, pattern, repl [, n]) -> string, count */
static int str_gsub(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    size_t srcl, lp;
    const char *src = luaL_checklstring(L, 1, &srcl);
    const char *p = luaL_checklstring(L, 2, &lp);
    int tr = lua_type(L, 3);
    lua_Integer max_n = luaL_optinteger(L, 4, (lua_Integer)srcl + 1);
    luaL_argexpected(L,
                     tr == LUA_TNUMBER || tr == LUA_TSTRING ||
                         tr == LUA_TFUNCTION || tr == LUA_TTABLE,
                     3, "string/function/table");
    check_subject(L, "string.gsub", srcl);
    bool anchor = lp > 0 && *p == '^';
    if (anchor) {
        p++;
        lp--;
    }
    matcher m;
    matcher_init(&m, L, "string.gsub", src, srcl, p, lp);
    const char *lastmatch = NULL;
    bool changed = false;
    lua_Integer n = 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    while (n < max_n) {
        m.level = 0;
        const char *e = do_match(&m, src, p);
        if (e && e != lastmatch) {
            n++;
            changed = add_value(&m, &b, src, e, tr) || changed;
            src = lastmatch = e;
        } else if (src < m.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (luaL_bufflen(&b) > sb->lim.max_string)
            ct_sandbox__string_limit(L, "string.gsub", luaL_bufflen(&b));
        if (anchor)
            break;
    }
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, src, (size_t)(m.src_end - src));
        if (luaL_bufflen(&b) > sb->lim.max_string)
            ct_sandbox__string_limit(L, "string.gsub", luaL_bufflen(&b));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

/* ------------------------------------------------------------------ */
/* rep, byte, unpack                                                  */

/* string.rep(s, n [, sep]) -> string */
static int str_rep(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    size_t l, lsep;
    const char *s = luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    const char *sep = luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    /* n copies and n - 1 separators: n * (l + lsep) - lsep <= max. */
    size_t unit = l + lsep, max = sb->lim.max_string;
    if (unit < l || (lua_Unsigned)n > (max + lsep) / unit) {
        double total = (double)n * (double)unit - (double)lsep;
        ct_sandbox__string_limit(L, "string.rep",
                                 total > (double)SIZE_MAX ? SIZE_MAX
                                                          : (size_t)total);
    }
    size_t total = (size_t)n * unit - lsep;
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, total);
    /* The result repeats with period `unit`: write one period, then
     * double the written prefix. */
    memcpy(out, s, l);
    size_t filled = l;
    if (n > 1) {
        memcpy(out + l, sep, lsep);
        filled = unit;
        while (filled < total) {
            size_t c = filled < total - filled ? filled : total - filled;
            memcpy(out + filled, out, c);
            filled += c;
        }
    }
    luaL_pushresultsize(&b, total);
    return 1;
}

static int results_limit(lua_State *L, const char *fn, size_t n)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    char desc[64];
    snprintf(desc, sizeof desc, "results limit of %d", sb->lim.max_results);
    return ct_sandbox__limit(L, desc, "%s: %zu values", fn, n);
}

/* string.byte(s [, i [, j]]) -> integers */
static int str_byte(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    size_t l;
    const char *s = luaL_checklstring(L, 1, &l);
    lua_Integer pi = luaL_optinteger(L, 2, 1);
    size_t posi = start_pos(pi, l);
    lua_Integer pe = luaL_optinteger(L, 3, pi);
    size_t pose;
    if (pe > (lua_Integer)l)
        pose = l;
    else if (pe >= 0)
        pose = (size_t)pe;
    else if (pe < -(lua_Integer)l)
        pose = 0;
    else
        pose = l + (size_t)pe + 1;
    if (posi > pose)
        return 0;
    size_t n = pose - posi + 1;
    if (n > (size_t)sb->lim.max_results)
        return results_limit(L, "string.byte", n);
    luaL_checkstack(L, (int)n, "string slice too long");
    for (size_t i = 0; i < n; i++)
        lua_pushinteger(L, uc(s[posi + i - 1]));
    return (int)n;
}

/* string.unpack(fmt, s [, pos]) -> values, next; upvalue 1 is Lua's.
 * Every value needs a format character, so the format's length bounds
 * the number of results. */
static int str_unpack(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    size_t lf, ld;
    luaL_checklstring(L, 1, &lf);
    luaL_checklstring(L, 2, &ld);
    /* Checked here as well: the original's own error, raised under our C
     * call, could not name the function. */
    luaL_argcheck(L, start_pos(luaL_optinteger(L, 3, 1), ld) - 1 <= ld, 3,
                  "initial position out of string");
    if (lf > (size_t)sb->lim.max_results)
        return results_limit(L, "string.unpack", lf);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/*
 * string.pack(fmt, v...) -> string; upvalue 1 is Lua's. Lua builds the
 * result before anything can refuse it ("c2000000000" writes zeros until
 * memory runs out, a quarter of a second), so the size is bounded first:
 * no option makes more than its count, or 16 bytes (integers, floats,
 * alignment), plus the strings it is given.
 */
static int str_pack(lua_State *L)
{
    ct_sandbox *sb = ct_sandbox_from_state(L);
    size_t lf;
    const char *f = luaL_checklstring(L, 1, &lf);
    size_t bound = 0, max = sb->lim.max_string;
    for (size_t i = 0; i < lf && bound <= max; i++) {
        if (f[i] >= '0' && f[i] <= '9') {
            size_t n = 0;
            for (; i < lf && f[i] >= '0' && f[i] <= '9'; i++)
                if (n <= max)
                    n = n * 10 + (size_t)(f[i] - '0');
            i--;
            bound += n;
        } else {
            bound += 16;
        }
    }
    for (int i = 2; i <= lua_gettop(L) && bound <= max; i++)
        if (lua_type(L, i) == LUA_TSTRING)
            bound += lua_rawlen(L, i);
    if (bound > max) {
        char lim[32], desc[64];
        ct_sandbox__fmt_size(lim, sizeof lim, max);
        snprintf(desc, sizeof desc, "string length limit of %s", lim);
        ct_sandbox__limit(L, desc, "string.pack: a result over %zu bytes",
                          max);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* string.name = value (__newindex of the proxy) */
static int read_only(lua_State *L)
{
    return luaL_error(L, "the string library is read-only in the sandbox");
}

/* iterator(proxy, key) -> key, function: next() over the real library
 * (upvalue 1), which must not be handed out itself. */
static int proxy_next(lua_State *L)
{
    lua_settop(L, 2);
    if (lua_next(L, lua_upvalueindex(1)))
        return 2;
    lua_pushnil(L);
    return 1;
}

/* pairs(string) */
static int proxy_pairs(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static const luaL_Reg bounded[] = {
    {"byte", str_byte}, {"find", str_find},   {"gmatch", str_gmatch},
    {"gsub", str_gsub}, {"match", str_match}, {"rep", str_rep},
    {NULL, NULL},
};

int ct_sandbox__open_string(lua_State *L)
{
    luaopen_string(L); /* also gives strings their metatable */
    int lib = lua_gettop(L);
    luaL_setfuncs(L, bounded, 0);
    lua_getfield(L, lib, "unpack");
    lua_pushcclosure(L, str_unpack, 1);
    lua_setfield(L, lib, "unpack");
    lua_getfield(L, lib, "pack");
    lua_pushcclosure(L, str_pack, 1);
    lua_setfield(L, lib, "pack");
    lua_pushnil(L);
    lua_setfield(L, lib, "dump");

    /* getmetatable("") now answers false and nothing can reach the real
     * metatable or, through its __index, the real library. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    lua_newtable(L); /* the proxy */
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, lib);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, lib);
    lua_pushcclosure(L, proxy_next, 1);
    lua_pushcclosure(L, proxy_pairs, 1);
    lua_setfield(L, -2, "__pairs");
    lua_pushcfunction(L, read_only);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, lib);
    return 1;
}
