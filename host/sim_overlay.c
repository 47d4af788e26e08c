/*
 * Variants (sim.h, docs/simulation.md "Variants"): an overlay YAML merged
 * into the area config's tree, written out as the variant's own config
 * file and loaded by the config loader, so a variant is checked exactly as
 * an area is and its errors point into a file the analyst can open.
 *
 * Merge rules: mappings merge key by key; a list of mappings that carry an
 * id (or, for plugins, a name) merges item by item on it, new items at the
 * end; `key+:` appends to the list under key; anything else replaces.
 */
#include "sim.h"

#include "error.h"
#include "util.h"
#include "yaml_tree.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static ct_node *copy(const ct_node *n)
{
    ct_node *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = *n;
    c->value = NULL;
    c->items = NULL;
    size_t nitems = n->kind == CT_NODE_MAP ? 2 * n->len
                    : n->kind == CT_NODE_SEQ ? n->len
                                             : 0;
    if (n->value && !(c->value = strdup(n->value)))
        goto fail;
    if (nitems) {
        if (!(c->items = calloc(nitems, sizeof *c->items)))
            goto fail;
        for (size_t i = 0; i < nitems; i++)
            if (!(c->items[i] = copy(n->items[i])))
                goto fail;
    }
    return c;
fail:
    c->len = c->items ? c->len : 0;
    ct_node_free(c);
    return NULL;
}

/* Appends item (owned) to a map pair list or sequence. */
static int push(ct_node *n, ct_node *a, ct_node *b)
{
    size_t have = n->kind == CT_NODE_MAP ? 2 * n->len : n->len;
    size_t add = b ? 2 : 1;
    ct_node **g = realloc(n->items, (have + add) * sizeof *g);
    if (!g) {
        ct_node_free(a);
        ct_node_free(b);
        return CT_ENOMEM;
    }
    n->items = g;
    g[have] = a;
    if (b)
        g[have + 1] = b;
    n->len++;
    return 0;
}

static const char *identity(const ct_node *n)
{
    if (!n || n->kind != CT_NODE_MAP)
        return NULL;
    const ct_node *id = ct_node_get(n, "id");
    if (!id)
        id = ct_node_get(n, "name");
    return id && id->kind == CT_NODE_SCALAR ? id->value : NULL;
}

static int merge(ct_node *base, const ct_node *over, const char *file,
                 ct_diags *d);

/* Replaces *slot with a copy of over. */
static int replace(ct_node **slot, const ct_node *over)
{
    ct_node *c = copy(over);
    if (!c)
        return CT_ENOMEM;
    ct_node_free(*slot);
    *slot = c;
    return 0;
}

static int merge_seq(ct_node *base, const ct_node *over, const char *file,
                     ct_diags *d)
{
    for (size_t i = 0; i < over->len; i++) {
        const char *id = identity(over->items[i]);
        ct_node *target = NULL;
        for (size_t j = 0; id && j < base->len && !target; j++) {
            const char *bid = identity(base->items[j]);
            if (bid && strcmp(bid, id) == 0)
                target = base->items[j];
        }
        int rc = target ? merge(target, over->items[i], file, d)
                        : push(base, copy(over->items[i]), NULL);
        if (rc)
            return rc;
    }
    return 0;
}

static int merge(ct_node *base, const ct_node *over, const char *file,
                 ct_diags *d)
{
    if (base->kind != CT_NODE_MAP || over->kind != CT_NODE_MAP)
        return CT_EINVAL; /* the caller replaces */
    for (size_t i = 0; i < over->len; i++) {
        const ct_node *k = ct_node_key(over, i), *v = ct_node_value(over, i);
        char key[256];
        ct_copy_str(key, sizeof key, k->value ? k->value : "");
        size_t kl = strlen(key);
        bool append = kl > 1 && key[kl - 1] == '+';
        if (append)
            key[kl - 1] = '\0';
        ct_node **slot = NULL;
        for (size_t j = 0; j < base->len && !slot; j++) {
            const ct_node *bk = ct_node_key(base, j);
            if (bk->value && strcmp(bk->value, key) == 0)
                slot = &base->items[2 * j + 1];
        }
        int rc;
        if (append && v->kind != CT_NODE_SEQ) {
            ct_diags_add(d, file, k->line, k->col,
                         "'%s+' appends a list, not %s", key,
                         ct_node_describe(v));
            continue;
        }
        if (append && slot && (*slot)->kind != CT_NODE_SEQ &&
            !ct_node_is_null(*slot)) {
            ct_diags_add(d, file, k->line, k->col,
                         "'%s+' appends to a list, but the area's '%s' is %s",
                         key, key, ct_node_describe(*slot));
            continue;
        }
        if (!slot) {
            ct_node *kc = copy(k), *vc = copy(v);
            if (kc) {
                free(kc->value);
                kc->value = strdup(key);
            }
            if (!kc || !kc->value || !vc || (rc = push(base, kc, vc))) {
                return CT_ENOMEM;
            }
            continue;
        }
        if (append) {
            if (ct_node_is_null(*slot) && (rc = replace(slot, v)))
                return rc;
            else if (!ct_node_is_null(*slot))
                for (size_t j = 0; j < v->len; j++)
                    if ((rc = push(*slot, copy(v->items[j]), NULL)))
                        return rc;
            continue;
        }
        if ((*slot)->kind == CT_NODE_MAP && v->kind == CT_NODE_MAP)
            rc = merge(*slot, v, file, d);
        else if ((*slot)->kind == CT_NODE_SEQ && v->kind == CT_NODE_SEQ &&
                 v->len && identity(v->items[0]))
            rc = merge_seq(*slot, v, file, d);
        else
            rc = replace(slot, v);
        if (rc)
            return rc;
    }
    return 0;
}

/* --- writing the merged tree ------------------------------------------ */

static int write_cb(void *data, unsigned char *buf, size_t size)
{
    return ct_buf_append(data, buf, size) == 0;
}

static int emit_node(yaml_emitter_t *e, const ct_node *n)
{
    yaml_event_t ev;
    int ok;
    switch (n->kind) {
    case CT_NODE_SCALAR:
        ok = yaml_scalar_event_initialize(
            &ev, NULL, NULL, (yaml_char_t *)(n->value ? n->value : ""),
            (int)strlen(n->value ? n->value : ""), 1, 1,
            n->quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                      : YAML_PLAIN_SCALAR_STYLE);
        return ok && yaml_emitter_emit(e, &ev);
    case CT_NODE_SEQ:
        if (!yaml_sequence_start_event_initialize(
                &ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        for (size_t i = 0; i < n->len; i++)
            if (!emit_node(e, n->items[i]))
                return 0;
        return yaml_sequence_end_event_initialize(&ev) &&
               yaml_emitter_emit(e, &ev);
    case CT_NODE_MAP:
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                 YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        for (size_t i = 0; i < 2 * n->len; i++)
            if (!emit_node(e, n->items[i]))
                return 0;
        return yaml_mapping_end_event_initialize(&ev) &&
               yaml_emitter_emit(e, &ev);
    }
    return 0;
}

static int emit(const ct_node *root, ct_buf *out)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e))
        return CT_ENOMEM;
    yaml_emitter_set_output(&e, write_cb, out);
    yaml_emitter_set_width(&e, 200);
    yaml_emitter_set_unicode(&e, 1);
    int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
             yaml_emitter_emit(&e, &ev) &&
             yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
             yaml_emitter_emit(&e, &ev) && emit_node(&e, root) &&
             yaml_document_end_event_initialize(&ev, 1) &&
             yaml_emitter_emit(&e, &ev) &&
             yaml_stream_end_event_initialize(&ev) &&
             yaml_emitter_emit(&e, &ev) && yaml_emitter_flush(&e);
    yaml_emitter_delete(&e);
    return ok ? 0 : CT_ENOMEM;
}

int ct_sim_variant_config(const char *area_file, const char *area_text,
                          size_t area_len, const char *area_dir,
                          const char *overlay_path, const char *out_path,
                          ct_config **out, ct_diags *d)
{
    *out = NULL;
    char *otext = NULL;
    size_t olen = 0;
    ct_node *base = NULL, *over = NULL;
    ct_buf text = {0};
    int rc = ct_read_file(overlay_path, &otext, &olen);
    if (rc) {
        ct_diags_add(d, overlay_path, 0, 0, "cannot read the variant: %s",
                     rc == CT_ENOTFOUND ? "no such file" : ct_strerror(rc));
        return rc;
    }
    size_t before = d->len;
    if ((rc = ct_yaml_parse(area_file, area_text, area_len, &base, d)) ||
        (rc = ct_yaml_parse(overlay_path, otext, olen, &over, d)))
        goto done;
    if (over->kind != CT_NODE_MAP) {
        ct_diags_add(d, overlay_path, over->line, over->col,
                     "a variant must be a mapping of config sections to "
                     "change, not %s",
                     ct_node_describe(over));
        rc = CT_ECONFIG;
        goto done;
    }
    if ((rc = merge(base, over, overlay_path, d)))
        goto done;
    if (d->len != before) {
        rc = CT_ECONFIG;
        goto done;
    }
    if ((rc = emit(base, &text)))
        goto done;
    if (out_path) {
        FILE *f = fopen(out_path, "w");
        if (!f || fwrite(text.data, 1, text.len, f) != text.len) {
            ct_diags_add(d, out_path, 0, 0, "cannot write the variant's "
                                            "config");
            if (f)
                fclose(f);
            rc = CT_EIO;
            goto done;
        }
        fclose(f);
    }
    rc = ct_config_load_text(out_path ? out_path : overlay_path, area_dir,
                             text.data, text.len, out, d);
done:
    ct_buf_free(&text);
    ct_node_free(base);
    ct_node_free(over);
    free(otext);
    return rc;
}
