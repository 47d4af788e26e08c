/*
 * YAML documents as a small tree with positions, built with libyaml. The
 * config loader and the plugin manifest reader walk this tree so that every
 * error can name file:line:col. Aliases and anchors are refused (they buy
 * nothing in config and open the door to expansion bombs); multiple
 * documents in one file are refused.
 */
#ifndef CT_YAML_TREE_H
#define CT_YAML_TREE_H

#include "diag.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ct_node_kind {
    CT_NODE_SCALAR,
    CT_NODE_SEQ,
    CT_NODE_MAP,
} ct_node_kind;

typedef struct ct_node ct_node;
struct ct_node {
    ct_node_kind kind;
    uint32_t line, col; /* 1-based position of the node's start */
    bool quoted;        /* scalar was quoted: a string, never null/bool */
    char *value;        /* scalar text (NUL-terminated), NULL otherwise */
    size_t len;         /* seq: items; map: pairs */
    ct_node **items;    /* seq: len nodes; map: 2*len (key, value, ...) */
};

/*
 * Parses text into *root. file names the input in diagnostics. On syntax
 * errors adds one diagnostic for each (in plain words, up to 10: the parse
 * looks past each line in error) and returns CT_ECONFIG with *root NULL. An
 * empty document yields CT_ECONFIG and the diagnostic "file is empty".
 * The caller owns *root and frees it with ct_node_free().
 */
int ct_yaml_parse(const char *file, const char *text, size_t len,
                  ct_node **root, ct_diags *diags);
/*
 * ct_yaml_parse, and on syntax errors (each one reported: the parse goes
 * on past each line in error, left out) *recovered gets the tree of the
 * text without those lines, or NULL, so a caller can report the file's
 * other errors too. The caller frees *recovered; *root stays NULL.
 */
int ct_yaml_parse_lenient(const char *file, const char *text, size_t len,
                          ct_node **root, ct_node **recovered,
                          ct_diags *diags);
void ct_node_free(ct_node *n);

/* The value under key in a map, or NULL. Borrowed from the map. */
const ct_node *ct_node_get(const ct_node *map, const char *key);
/* The key node of a map pair i; the value is ct_node_value(map, i). */
const ct_node *ct_node_key(const ct_node *map, size_t i);
const ct_node *ct_node_value(const ct_node *map, size_t i);

/* Plain (unquoted) scalars "~", "null", "" or an absent node. */
bool ct_node_is_null(const ct_node *n);
/* Human name of the node's type for messages: "a string", "a list"... */
const char *ct_node_describe(const ct_node *n);

#endif
