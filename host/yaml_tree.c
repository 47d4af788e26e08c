#include "yaml_tree.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Nesting deeper than this is refused: no config needs it, and it bounds
 * the recursion of ct_node_free. */
#define MAX_DEPTH 64

static ct_node *node_new(ct_node_kind kind, const yaml_mark_t *mark)
{
    ct_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = (uint32_t)mark->line + 1;
    n->col = (uint32_t)mark->column + 1;
    return n;
}

void ct_node_free(ct_node *n)
{
    if (!n)
        return;
    size_t count = n->kind == CT_NODE_MAP ? 2 * n->len : n->len;
    for (size_t i = 0; i < count; i++)
        ct_node_free(n->items[i]);
    free(n->items);
    free(n->value);
    free(n);
}

/* Makes room for one more child pointer in a collection. */
static int grow(ct_node *p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    ct_node **q = realloc(p->items, ncap * sizeof *q);
    if (!q)
        return CT_ENOMEM;
    p->items = q;
    *cap = ncap;
    return 0;
}

typedef struct frame {
    ct_node *node;
    size_t cap;
    size_t pending; /* map: 1 while a key waits for its value */
} frame;

typedef struct builder {
    const char *file;
    ct_diags *diags;
    frame stack[MAX_DEPTH];
    int depth;
    ct_node *root;
} builder;

/* "<what> (found <sigil><name>)" at a mark. */
static void diag_at(builder *b, const yaml_mark_t *m, const char *what,
                    const char *sigil, const yaml_char_t *name)
{
    if (name)
        ct_diags_add(b->diags, b->file, (uint32_t)m->line + 1,
                     (uint32_t)m->column + 1, "%s (found %s%s)", what, sigil,
                     (const char *)name);
    else
        ct_diags_add(b->diags, b->file, (uint32_t)m->line + 1,
                     (uint32_t)m->column + 1, "%s", what);
}

/* Attaches a finished node to the open collection (or makes it the root).
 * For maps, checks that keys are scalars and unique. */
static int attach(builder *b, ct_node *n)
{
    if (b->depth == 0) {
        b->root = n;
        return 0;
    }
    frame *f = &b->stack[b->depth - 1];
    ct_node *p = f->node;
    if (p->kind == CT_NODE_SEQ) {
        if (grow(p, &f->cap, p->len + 1)) {
            ct_node_free(n);
            return CT_ENOMEM;
        }
        p->items[p->len++] = n;
        return 0;
    }
    if (!f->pending) {
        if (n->kind != CT_NODE_SCALAR) {
            ct_diags_add(b->diags, b->file, n->line, n->col,
                         "mapping keys must be plain strings");
            ct_node_free(n);
            return CT_ECONFIG;
        }
        for (size_t i = 0; i < p->len; i++) {
            const ct_node *k = p->items[2 * i];
            if (strcmp(k->value, n->value) == 0) {
                ct_diags_add(b->diags, b->file, n->line, n->col,
                             "duplicate key '%s' (first at line %u)",
                             n->value, k->line);
                ct_node_free(n);
                return CT_ECONFIG;
            }
        }
        /* Temporarily store the key at 2*len; value follows at 2*len+1. */
        if (grow(p, &f->cap, 2 * p->len + 2)) {
            ct_node_free(n);
            return CT_ENOMEM;
        }
        p->items[2 * p->len] = n;
        f->pending = 1;
        return 0;
    }
    p->items[2 * p->len + 1] = n;
    p->len++;
    f->pending = 0;
    return 0;
}

static int open_collection(builder *b, ct_node *n)
{
    if (b->depth == MAX_DEPTH) {
        ct_diags_add(b->diags, b->file, n->line, n->col,
                     "nesting deeper than %d levels", MAX_DEPTH);
        ct_node_free(n);
        return CT_ECONFIG;
    }
    b->stack[b->depth++] = (frame){n, 0, 0};
    return 0;
}

static int close_collection(builder *b)
{
    frame f = b->stack[--b->depth];
    if (f.pending) {
        /* A dangling key cannot happen with a well-formed event stream. */
        ct_node_free(f.node->items[2 * f.node->len]);
    }
    return attach(b, f.node);
}

/* Syntax errors reported in one file before giving up looking further. */
#define MAX_SYNTAX 10

typedef struct syntax {
    bool found;
    size_t line, col;  /* 0-based, where libyaml stopped */
    size_t ctx_line;   /* 0-based line of the construct it was reading */
    char msg[400];
} syntax;

/*
 * libyaml's problem and context in plain words, with where the enclosing
 * block or quote starts: an operator editing a config by hand meets
 * "did not find expected key while parsing a block mapping" as jargon.
 */
static void explain(const yaml_parser_t *p, const char *text, size_t len,
                    syntax *syn)
{
    const yaml_mark_t *m = &p->problem_mark, *c = &p->context_mark;
    const char *problem = p->problem ? p->problem : "syntax error";
    const char *context = p->context ? p->context : "";
    size_t cl = c->line + 1, cc = c->column + 1;
    syn->found = true;
    syn->line = m->line;
    syn->col = m->column;
    syn->ctx_line = p->context ? c->line : m->line;
    char *out = syn->msg;
    size_t n = sizeof syn->msg;
    if (m->index < len && text[m->index] == '\t')
        snprintf(out, n, "YAML syntax error: tab character in indentation "
                         "(use spaces)");
    else if (strstr(problem, "mapping values are not allowed"))
        snprintf(out, n, "YAML syntax error: a ':' where no key can start; "
                         "indent this line like the keys above it, look for "
                         "a missing ':' on the line before, or quote a value "
                         "that holds \": \"");
    else if (strstr(problem, "did not find expected key") &&
             strstr(context, "block mapping"))
        snprintf(out, n, "YAML syntax error: this line is indented to "
                         "match no key or list entry above it (the block it "
                         "falls in starts at line %zu, column %zu); line it "
                         "up with the entries it belongs with",
                 cl, cc);
    else if (strstr(problem, "expected '-' indicator"))
        snprintf(out, n, "YAML syntax error: this line is indented to "
                         "match neither the entries of the list that starts "
                         "at line %zu, column %zu nor their keys; line it up "
                         "with the keys above it, or start a new entry with "
                         "'- '",
                 cl, cc);
    else if (strstr(problem, "unexpected end of stream") &&
             strstr(context, "quoted scalar"))
        snprintf(out, n, "YAML syntax error: the quote opened at line %zu, "
                         "column %zu is never closed",
                 cl, cc);
    else if (strstr(problem, "expected ',' or '}'"))
        snprintf(out, n, "YAML syntax error: the '{' at line %zu, column %zu "
                         "is not closed with '}', or its entries are not "
                         "separated by ','",
                 cl, cc);
    else if (strstr(problem, "expected ',' or ']'"))
        snprintf(out, n, "YAML syntax error: the '[' at line %zu, column %zu "
                         "is not closed with ']', or its entries are not "
                         "separated by ','",
                 cl, cc);
    else if (strstr(problem, "expected <document start>"))
        snprintf(out, n, "YAML syntax error: this line is outside every "
                         "section: indent it under the key it belongs to, "
                         "or make it a 'key: value'");
    else if (strstr(problem, "cannot start any token"))
        snprintf(out, n, "YAML syntax error: a value cannot start with this "
                         "character; put the value in quotes");
    else if (strstr(problem, "could not find expected ':'"))
        snprintf(out, n, "YAML syntax error: the key at line %zu, column %zu "
                         "has no ':' after it",
                 cl, cc);
    else
        snprintf(out, n, "YAML syntax error: %s%s%s", problem,
                 *context ? " " : "", context);
}

/* One pass of libyaml over text: the tree, or the first error. A syntax
 * error goes to *syn rather than diags, so the caller can look past it. */
static int parse_once(const char *file, const char *text, size_t len,
                      ct_node **root, ct_diags *diags, syntax *syn)
{
    *root = NULL;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return CT_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    builder b = {.file = file, .diags = diags};
    int rc = 0, docs = 0, done = 0;
    while (!done && !rc) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            if (parser.error == YAML_MEMORY_ERROR) {
                rc = CT_ENOMEM;
            } else {
                explain(&parser, text, len, syn);
                rc = CT_ECONFIG;
            }
            break;
        }
        ct_node *n = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                diag_at(&b, &ev.start_mark,
                        "only one YAML document is allowed per file", "",
                        NULL);
                rc = CT_ECONFIG;
            }
            break;
        case YAML_ALIAS_EVENT:
            diag_at(&b, &ev.start_mark, "YAML aliases are not supported",
                    "*", ev.data.alias.anchor);
            rc = CT_ECONFIG;
            break;
        case YAML_SCALAR_EVENT:
            if (ev.data.scalar.anchor) {
                diag_at(&b, &ev.start_mark, "YAML anchors are not supported",
                        "&", ev.data.scalar.anchor);
                rc = CT_ECONFIG;
                break;
            }
            if (!(n = node_new(CT_NODE_SCALAR, &ev.start_mark))) {
                rc = CT_ENOMEM;
                break;
            }
            n->value = strndup((const char *)ev.data.scalar.value,
                               ev.data.scalar.length);
            n->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
            if (!n->value) {
                ct_node_free(n);
                rc = CT_ENOMEM;
                break;
            }
            rc = attach(&b, n);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            const yaml_char_t *anchor = ev.type == YAML_SEQUENCE_START_EVENT
                                            ? ev.data.sequence_start.anchor
                                            : ev.data.mapping_start.anchor;
            if (anchor) {
                diag_at(&b, &ev.start_mark, "YAML anchors are not supported",
                        "&", anchor);
                rc = CT_ECONFIG;
                break;
            }
            n = node_new(ev.type == YAML_SEQUENCE_START_EVENT ? CT_NODE_SEQ
                                                              : CT_NODE_MAP,
                         &ev.start_mark);
            rc = n ? open_collection(&b, n) : CT_ENOMEM;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            rc = close_collection(&b);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    /* Unwind collections left open by an error. */
    while (b.depth > 0) {
        frame f = b.stack[--b.depth];
        if (f.pending)
            ct_node_free(f.node->items[2 * f.node->len]);
        ct_node_free(f.node);
    }
    if (!rc && !b.root) {
        ct_diags_add(diags, file, 0, 0, "file is empty");
        rc = CT_ECONFIG;
    }
    if (rc) {
        ct_node_free(b.root);
        return rc;
    }
    *root = b.root;
    return 0;
}

/* Blanks line (0-based) of buf in place, keeping every other position;
 * false when there is nothing left to blank there. */
static bool blank_line(char *buf, size_t len, size_t line)
{
    size_t i = 0;
    for (size_t l = 0; i < len && l < line; i++)
        if (buf[i] == '\n')
            l++;
    bool changed = false;
    for (; i < len && buf[i] != '\n'; i++) {
        if (buf[i] != ' ')
            changed = true;
        buf[i] = ' ';
    }
    return changed;
}

/*
 * Reports the first syntax error, then looks further: the same text with
 * the line in error left out (blanked, so positions hold) is parsed again,
 * up to MAX_SYNTAX errors, so that one run shows each of them. With
 * recovered, the tree of the text that finally parsed is kept for the
 * caller to check the rest of the file.
 */
static int parse(const char *file, const char *text, size_t len,
                 ct_node **root, ct_diags *diags, ct_node **recovered)
{
    *root = NULL;
    if (recovered)
        *recovered = NULL;
    syntax syn = {0};
    int rc = parse_once(file, text, len, root, diags, &syn);
    if (!syn.found)
        return rc;
    ct_diags_add(diags, file, (uint32_t)syn.line + 1, (uint32_t)syn.col + 1,
                 "%s", syn.msg);
    char *copy = malloc(len + 1);
    if (!copy)
        return CT_ECONFIG;
    memcpy(copy, text, len);
    copy[len] = '\0';
    bool repeated = false;
    for (int n = 1; n < MAX_SYNTAX; n++) {
        /* The same error again from the same construct (an unclosed '['
         * trips every later line): leave out where it starts instead. */
        size_t first = repeated ? syn.ctx_line : syn.line;
        if (!blank_line(copy, len, first) &&
            !blank_line(copy, len, syn.ctx_line))
            break; /* nothing left to leave out */
        syntax next = {0};
        ct_diags later = {0};
        ct_node *tree = NULL;
        int again = parse_once(file, copy, len, &tree, &later, &next);
        if (next.found) {
            repeated = next.ctx_line == syn.ctx_line &&
                       strcmp(next.msg, syn.msg) == 0;
            if (!repeated && (next.line != syn.line || next.col != syn.col))
                ct_diags_add(diags, file, (uint32_t)next.line + 1,
                             (uint32_t)next.col + 1, "%s", next.msg);
            syn = next;
            ct_diags_free(&later);
            continue;
        }
        /* The rest parses: its own errors (an alias, a second document)
         * are real too; an empty rest says nothing. */
        for (size_t i = 0; again != CT_ENOMEM && tree && i < later.len; i++)
            ct_diags_add(diags, later.items[i].file, later.items[i].line,
                         later.items[i].col, "%s", later.items[i].message);
        ct_diags_free(&later);
        if (recovered && again == 0)
            *recovered = tree;
        else
            ct_node_free(tree);
        break;
    }
    free(copy);
    return CT_ECONFIG;
}

int ct_yaml_parse(const char *file, const char *text, size_t len,
                  ct_node **root, ct_diags *diags)
{
    return parse(file, text, len, root, diags, NULL);
}

int ct_yaml_parse_lenient(const char *file, const char *text, size_t len,
                          ct_node **root, ct_node **recovered,
                          ct_diags *diags)
{
    return parse(file, text, len, root, diags, recovered);
}

const ct_node *ct_node_get(const ct_node *map, const char *key)
{
    if (!map || map->kind != CT_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->len; i++)
        if (strcmp(map->items[2 * i]->value, key) == 0)
            return map->items[2 * i + 1];
    return NULL;
}

const ct_node *ct_node_key(const ct_node *map, size_t i)
{
    return map->items[2 * i];
}

const ct_node *ct_node_value(const ct_node *map, size_t i)
{
    return map->items[2 * i + 1];
}

bool ct_node_is_null(const ct_node *n)
{
    if (!n)
        return true;
    if (n->kind != CT_NODE_SCALAR || n->quoted)
        return false;
    return !*n->value || strcmp(n->value, "~") == 0 ||
           strcmp(n->value, "null") == 0 || strcmp(n->value, "Null") == 0 ||
           strcmp(n->value, "NULL") == 0;
}

const char *ct_node_describe(const ct_node *n)
{
    if (ct_node_is_null(n))
        return "nothing (null)";
    switch (n->kind) {
    case CT_NODE_SEQ:
        return "a list";
    case CT_NODE_MAP:
        return "a mapping";
    default:
        return "a scalar";
    }
}
