/*
 * Code lines of a Lua 5.4 chunk, read from its binary dump (ldump.c's
 * format), and the hit tally of `caretide test --coverage`.
 */
#include "coverage.h"

#include "error.h"
#include "util.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

/* Constants' type tags in a 5.4 dump (lobject.h makevariant values). */
enum {
    TAG_NIL = 0x00,
    TAG_FALSE = 0x01,
    TAG_TRUE = 0x11,
    TAG_INT = 0x03,
    TAG_FLT = 0x13,
    TAG_SHRSTR = 0x04,
    TAG_LNGSTR = 0x14,
};

/* lineinfo entry meaning "see abslineinfo" (ldebug.h ABSLINEINFO). */
#define ABSLINEINFO (-0x80)
/* Nested functions deeper than this are refused (Lua's own limit on
 * nesting is lower). */
#define MAX_NESTING 250

typedef struct reader {
    const unsigned char *p, *end;
    bool bad;
    bool *code;
    int nlines;
} reader;

static int dump_writer(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    return ct_buf_append(ud, p, n) ? 1 : 0;
}

static bool need(reader *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return false;
    }
    return true;
}

static unsigned get_byte(reader *r)
{
    if (!need(r, 1))
        return 0;
    return *r->p++;
}

static void skip(reader *r, size_t n)
{
    if (need(r, n))
        r->p += n;
}

/* ldump.c dumpSize: 7 bits a byte, most significant first, the last byte
 * marked with 0x80. */
static size_t get_size(reader *r)
{
    size_t x = 0;
    for (int i = 0; i < 10; i++) {
        unsigned b = get_byte(r);
        if (r->bad)
            return 0;
        x = (x << 7) | (b & 0x7f);
        if (b & 0x80)
            return x;
    }
    r->bad = true;
    return 0;
}

static int get_int(reader *r)
{
    size_t x = get_size(r);
    if (x > (size_t)0x7fffffff)
        r->bad = true;
    return r->bad ? 0 : (int)x;
}

static void skip_string(reader *r)
{
    size_t n = get_size(r);
    if (n > 0)
        skip(r, n - 1);
}

static void mark(reader *r, int line)
{
    if (line >= 1 && line <= r->nlines)
        r->code[line] = true;
}

/*
 * One function: header, code, constants, upvalues, nested functions, then
 * the debug part whose line info gives each instruction's line (ldebug.c
 * nextline and collectvalidlines).
 */
static void read_function(reader *r, int depth)
{
    if (depth > MAX_NESTING) {
        r->bad = true;
        return;
    }
    skip_string(r);                    /* source */
    int linedefined = get_int(r);      /* linedefined */
    (void)get_int(r);                  /* lastlinedefined */
    skip(r, 1);                        /* numparams */
    bool is_vararg = get_byte(r) != 0; /* is_vararg */
    skip(r, 1);                        /* maxstacksize */
    int ncode = get_int(r);
    skip(r, (size_t)ncode * 4);
    int nk = get_int(r);
    for (int i = 0; i < nk && !r->bad; i++) {
        switch (get_byte(r)) {
        case TAG_NIL:
        case TAG_FALSE:
        case TAG_TRUE: break;
        case TAG_INT:
        case TAG_FLT: skip(r, 8); break;
        case TAG_SHRSTR:
        case TAG_LNGSTR: skip_string(r); break;
        default: r->bad = true;
        }
    }
    int nup = get_int(r);
    skip(r, (size_t)nup * 3);
    int np = get_int(r);
    for (int i = 0; i < np && !r->bad; i++)
        read_function(r, depth + 1);

    int nli = get_int(r);
    if (!need(r, (size_t)nli))
        return;
    const signed char *lineinfo = (const signed char *)r->p;
    r->p += nli;
    int nabs = get_int(r);
    int(*abs)[2] = nabs ? calloc((size_t)nabs, sizeof *abs) : NULL;
    if (nabs && !abs) {
        r->bad = true;
        return;
    }
    for (int i = 0; i < nabs; i++) {
        abs[i][0] = get_int(r);
        abs[i][1] = get_int(r);
    }
    if (!r->bad && nli > 0 && nli != ncode)
        r->bad = true;
    int line = linedefined, first = 0;
    int *lines = r->bad ? NULL : calloc((size_t)nli + 1, sizeof *lines);
    if (!r->bad && !lines)
        r->bad = true;
    for (int pc = 0; lines && pc < nli; pc++) {
        if (lineinfo[pc] != ABSLINEINFO) {
            line += lineinfo[pc];
        } else {
            int found = 0;
            for (int i = 0; i < nabs; i++)
                if (abs[i][0] == pc) {
                    line = abs[i][1];
                    found = 1;
                }
            if (!found)
                r->bad = true;
        }
        lines[pc] = line;
    }
    /* A vararg function starts with OP_VARARGPREP, which is no line of
     * code of its own (collectvalidlines skips it). */
    if (is_vararg)
        first = 1;
    for (int pc = first; lines && !r->bad && pc < nli; pc++)
        mark(r, lines[pc]);
    free(lines);
    free(abs);

    int nloc = get_int(r);
    for (int i = 0; i < nloc && !r->bad; i++) {
        skip_string(r);
        (void)get_int(r);
        (void)get_int(r);
    }
    int nupn = get_int(r);
    for (int i = 0; i < nupn && !r->bad; i++)
        skip_string(r);
}

/* The header of lua_dump's output (ldump.c dumpHeader). */
static bool read_header(reader *r)
{
    static const unsigned char sig[] = "\x1bLua\x54\x00\x19\x93\r\n\x1a\n";
    if (!need(r, sizeof sig - 1) || memcmp(r->p, sig, sizeof sig - 1) != 0)
        return false;
    r->p += sizeof sig - 1;
    unsigned isz = get_byte(r), intsz = get_byte(r), numsz = get_byte(r);
    if (isz != 4 || intsz != 8 || numsz != 8)
        return false;
    skip(r, 16); /* LUAC_INT, LUAC_NUM */
    skip(r, 1);  /* main closure's upvalue count */
    return !r->bad;
}

static int count_lines(const char *text, size_t len)
{
    int n = len ? 1 : 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n' && i + 1 < len)
            n++;
    return n;
}

int ct_coverage_code_lines(const char *chunkname, const char *text,
                           size_t len, bool **code, int *nlines, char **err)
{
    *code = NULL;
    *nlines = 0;
    *err = NULL;
    lua_State *L = luaL_newstate();
    if (!L)
        return CT_ENOMEM;
    int rc = 0;
    ct_buf dump = {0};
    int st = luaL_loadbufferx(L, text, len, chunkname, "t");
    if (st != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        *err = ct_strdup(m ? m : "cannot compile");
        rc = st == LUA_ERRMEM ? CT_ENOMEM : CT_EPLUGIN;
        goto done;
    }
    if (lua_dump(L, dump_writer, &dump, 0) != 0) {
        rc = CT_ENOMEM;
        goto done;
    }
    int n = count_lines(text, len);
    bool *flags = calloc((size_t)n + 1, sizeof *flags);
    if (!flags) {
        rc = CT_ENOMEM;
        goto done;
    }
    reader r = {(const unsigned char *)dump.data,
                (const unsigned char *)dump.data + dump.len,
                false,
                flags,
                n};
    if (!read_header(&r)) {
        free(flags);
        rc = CT_EUNSUPPORTED;
        goto done;
    }
    read_function(&r, 0);
    if (r.bad || r.p != r.end) {
        free(flags);
        rc = CT_EUNSUPPORTED;
        goto done;
    }
    *code = flags;
    *nlines = n;
done:
    ct_buf_free(&dump);
    lua_close(L);
    return rc;
}

int ct_coverage_file_init(ct_coverage_file *f, const char *name,
                          const char *source, const char *text, size_t len,
                          char **err)
{
    memset(f, 0, sizeof *f);
    int rc = ct_coverage_code_lines(source, text, len, &f->code,
                                    &f->nlines, err);
    if (rc)
        return rc;
    f->name = ct_strdup(name);
    f->source = ct_strdup(source);
    f->hits = calloc((size_t)f->nlines + 1, sizeof *f->hits);
    if (!f->name || !f->source || !f->hits) {
        ct_coverage_file_free(f);
        return CT_ENOMEM;
    }
    return 0;
}

void ct_coverage_file_free(ct_coverage_file *f)
{
    free(f->name);
    free(f->source);
    free(f->code);
    free(f->hits);
    memset(f, 0, sizeof *f);
}

void ct_coverage_hit(ct_coverage_file *f, int line)
{
    if (line >= 1 && line <= f->nlines)
        f->hits[line]++;
}

void ct_coverage_counts(const ct_coverage_file *f, int *code, int *hit)
{
    *code = *hit = 0;
    for (int l = 1; l <= f->nlines; l++) {
        if (!f->code[l])
            continue;
        (*code)++;
        if (f->hits[l])
            (*hit)++;
    }
}
