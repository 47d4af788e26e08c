/*
 * Reference settings (manifest.h): the shape of a string value
 * ("[organisation/]facility=band") and the area's ids it names.
 *
 * A form is text with words of lowercase letters and '_' as placeholders
 * and any other character as itself; one part in [brackets] may be left
 * out. A placeholder named after a kind (facility, zone, organisation,
 * tag, need) is an id of that kind; any other word stands for free text.
 * Ids are what the area config allows (letters, digits, '-', '_', '.'),
 * so an id placeholder ends where they end; free text runs to the next
 * literal character. A form with one optional part is kept as its two
 * alternatives, the longer first.
 */
#include "manifest_int.h"

#include "error.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[CT_REF_KINDS] = {
    [CT_REF_FACILITY] = "facility",
    [CT_REF_ZONE] = "zone",
    [CT_REF_ORGANISATION] = "organisation",
    [CT_REF_TAG] = "tag",
    [CT_REF_NEED] = "need",
};

const char *ct_ref_kind_name(ct_ref_kind k)
{
    return (unsigned)k < CT_REF_KINDS ? kind_names[k] : "?";
}

int ct_ref_kind_parse(const char *s, size_t len, ct_ref_kind *out)
{
    for (int k = 0; k < CT_REF_KINDS; k++)
        if (strlen(kind_names[k]) == len && memcmp(kind_names[k], s, len) == 0) {
            *out = (ct_ref_kind)k;
            return 0;
        }
    return -1;
}

typedef enum { TOK_LITERAL, TOK_REF, TOK_FREE } tok_kind;

typedef struct tok {
    tok_kind kind;
    ct_ref_kind ref;  /* TOK_REF */
    const char *text; /* into the form's text: literal or word */
    size_t len;
} tok;

typedef struct alt {
    tok *t;
    size_t n;
} alt;

struct ct_setting_form {
    char *text;
    alt alts[2];
    size_t nalts;
};

static bool id_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

static bool word_char(char c) { return islower((unsigned char)c) || c == '_'; }

/* Tokens of text[from, to) appended to a; words become placeholders. */
static int tokenise(const char *text, size_t from, size_t to, alt *a)
{
    size_t i = from;
    while (i < to) {
        tok t = {.text = text + i};
        size_t j = i;
        if (word_char(text[i])) {
            while (j < to && word_char(text[j]))
                j++;
            t.len = j - i;
            t.kind = ct_ref_kind_parse(t.text, t.len, &t.ref) == 0
                         ? TOK_REF
                         : TOK_FREE;
        } else {
            while (j < to && !word_char(text[j]))
                j++;
            t.kind = TOK_LITERAL;
            t.len = j - i;
        }
        tok *grown = realloc(a->t, (a->n + 1) * sizeof *grown);
        if (!grown)
            return CT_ENOMEM;
        a->t = grown;
        a->t[a->n++] = t;
        i = j;
    }
    return 0;
}

void ct_setting_form_free(ct_setting_form *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nalts; i++)
        free(f->alts[i].t);
    free(f->text);
    free(f);
}

const char *ct_setting_form_text(const ct_setting_form *f)
{
    return f->text;
}

int ct_setting_form_parse(const char *text, ct_setting_form **out,
                          char *why, size_t whylen)
{
    *out = NULL;
    const char *open = strchr(text, '['), *close = strchr(text, ']');
    if ((open == NULL) != (close == NULL) || (open && close < open) ||
        (open && (strchr(open + 1, '[') || strchr(close + 1, ']')))) {
        snprintf(why, whylen, "at most one optional part, in [brackets]");
        return CT_EINVAL;
    }
    if (!*text || (open && close == open + 1)) {
        snprintf(why, whylen, "an empty form or optional part");
        return CT_EINVAL;
    }
    ct_setting_form *f = calloc(1, sizeof *f);
    if (!f || !(f->text = strdup(text))) {
        free(f);
        return CT_ENOMEM;
    }
    const char *t = f->text;
    size_t len = strlen(t);
    int rc = 0;
    if (open) {
        size_t o = (size_t)(open - text), c = (size_t)(close - text);
        /* With the optional part first, so a longer reading wins. */
        if ((rc = tokenise(t, 0, o, &f->alts[0])) ||
            (rc = tokenise(t, o + 1, c, &f->alts[0])) ||
            (rc = tokenise(t, c + 1, len, &f->alts[0])) ||
            (rc = tokenise(t, 0, o, &f->alts[1])) ||
            (rc = tokenise(t, c + 1, len, &f->alts[1])))
            goto fail;
        f->nalts = 2;
    } else {
        if ((rc = tokenise(t, 0, len, &f->alts[0])))
            goto fail;
        f->nalts = 1;
    }
    bool any = false;
    for (size_t a = 0; a < f->nalts; a++) {
        const alt *al = &f->alts[a];
        if (al->n == 0) {
            snprintf(why, whylen, "nothing left without the optional part");
            rc = CT_EINVAL;
            goto fail;
        }
        for (size_t i = 0; i < al->n; i++) {
            if (al->t[i].kind != TOK_LITERAL)
                any = true;
            if (i > 0 && al->t[i].kind != TOK_LITERAL &&
                al->t[i - 1].kind != TOK_LITERAL) {
                snprintf(why, whylen, "two placeholders with nothing between "
                                      "them");
                rc = CT_EINVAL;
                goto fail;
            }
        }
    }
    if (!any) {
        snprintf(why, whylen, "no placeholder (facility, zone, organisation, "
                              "tag, need or a word for free text)");
        rc = CT_EINVAL;
        goto fail;
    }
    *out = f;
    return 0;
fail:
    ct_setting_form_free(f);
    return rc;
}

/* Matches value against one alternative; the references found go to refs
 * (at most max). Returns the number of references, or -1 for no match. */
static int match_alt(const alt *a, const char *value, ct_ref_span *refs,
                     size_t max)
{
    const char *p = value;
    int n = 0;
    for (size_t i = 0; i < a->n; i++) {
        const tok *t = &a->t[i];
        if (t->kind == TOK_LITERAL) {
            if (strncmp(p, t->text, t->len) != 0)
                return -1;
            p += t->len;
            continue;
        }
        const char *end;
        if (t->kind == TOK_REF) {
            end = p;
            while (id_char(*end))
                end++;
        } else if (i + 1 < a->n) {
            /* Free text runs to the next literal (never a placeholder:
             * two placeholders are never neighbours). */
            const tok *next = &a->t[i + 1];
            end = p;
            while (*end && strncmp(end, next->text, next->len) != 0)
                end++;
        } else {
            end = p + strlen(p);
        }
        if (end == p)
            return -1;
        if (t->kind == TOK_REF && (size_t)n < max)
            refs[n++] = (ct_ref_span){.kind = t->ref,
                                      .off = (size_t)(p - value),
                                      .len = (size_t)(end - p)};
        p = end;
    }
    return *p ? -1 : n;
}

int ct_setting_form_match(const ct_setting_form *f, const char *value,
                          ct_ref_span *refs, size_t max)
{
    for (size_t a = 0; a < f->nalts; a++) {
        int n = match_alt(&f->alts[a], value, refs, max);
        if (n >= 0)
            return n;
    }
    return -1;
}

const char *ct_manifest_area_suggest(const ct_manifest_area *area,
                                     ct_ref_kind kind, const char *id)
{
    const char *best = NULL;
    size_t best_d = 3, idlen = strlen(id);
    for (size_t i = 0; i < area->n[kind]; i++) {
        size_t d = ct_levenshtein(id, area->ids[kind][i]);
        if (d < best_d && d < idlen) {
            best = area->ids[kind][i];
            best_d = d;
        }
    }
    return best;
}

bool ct_manifest_area_has(const ct_manifest_area *area, ct_ref_kind kind,
                          const char *id, size_t len)
{
    for (size_t i = 0; i < area->n[kind]; i++)
        if (strlen(area->ids[kind][i]) == len &&
            memcmp(area->ids[kind][i], id, len) == 0)
            return true;
    return false;
}
