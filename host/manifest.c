#include "manifest.h"
#include "manifest_int.h"

#include "config_read.h"
#include "error.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
    [CT_SETTING_INTEGER] = "integer", [CT_SETTING_NUMBER] = "number",
    [CT_SETTING_STRING] = "string",   [CT_SETTING_BOOLEAN] = "boolean",
    [CT_SETTING_DURATION] = "duration", [CT_SETTING_ENUM] = "enum",
    [CT_SETTING_LIST] = "list", [CT_SETTING_FACILITY] = "facility",
    [CT_SETTING_ZONE] = "zone", [CT_SETTING_ORGANISATION] = "organisation",
    [CT_SETTING_TAG] = "tag", [CT_SETTING_NEED] = "need",
};

static bool is_ref_type(ct_setting_type t) { return t >= CT_SETTING_FACILITY; }

static const char *const fallback_names[] = {
    [CT_FALLBACK_MANUAL_REVIEW] = "manual_review",
    [CT_FALLBACK_SKIP] = "skip",
};

const char *ct_fallback_name(ct_fallback f)
{
    return (unsigned)f < CT_ARRAY_LEN(fallback_names) ? fallback_names[f]
                                                      : "?";
}

typedef struct checker {
    ct_config_reader r; /* where diagnostics go */
    /* Overrides only: the area's ids to check references against, and
     * where needs no bed meets are reported (either may be NULL). */
    const ct_manifest_area *area;
    ct_diags *warnings;
} checker;

/* The closest name in a list, if close enough to suggest. */
static const char *suggest(const char *word, const char *const *names,
                           size_t n)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = ct_levenshtein(word, names[i]);
        if (d < best_d && d < strlen(word)) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}

static void check_keys(checker *c, const ct_node *map,
                       const char *const *allowed, size_t nallowed,
                       const char *where)
{
    for (size_t i = 0; i < map->len; i++) {
        const ct_node *k = ct_node_key(map, i);
        size_t j;
        for (j = 0; j < nallowed; j++)
            if (strcmp(allowed[j], k->value) == 0)
                break;
        if (j < nallowed)
            continue;
        const char *s = suggest(k->value, allowed, nallowed);
        if (s)
            ct_config_read_err(&c->r, k,
                               "unknown key '%s' in %s; did you mean '%s'?",
                               k->value, where, s);
        else
            ct_config_read_err(&c->r, k, "unknown key '%s' in %s", k->value,
                               where);
    }
}

/* One pre-release field ("rc", "2"): numeric fields compare as numbers
 * and before alphanumeric ones. Advances *a and *b past it. */
static int prerelease_field_cmp(const char **a, const char **b)
{
    size_t la = strcspn(*a, ".+"), lb = strcspn(*b, ".+");
    bool na = la > 0 && strspn(*a, "0123456789") >= la;
    bool nb = lb > 0 && strspn(*b, "0123456789") >= lb;
    int c;
    if (na && nb)
        c = la != lb ? (la < lb ? -1 : 1) : strncmp(*a, *b, la);
    else if (na != nb)
        c = na ? -1 : 1;
    else {
        c = strncmp(*a, *b, la < lb ? la : lb);
        if (c == 0 && la != lb)
            c = la < lb ? -1 : 1;
    }
    *a += la;
    *b += lb;
    return c;
}

int ct_semver_cmp(const char *a, const char *b)
{
    for (int part = 0; part < 3; part++) {
        unsigned long long x = strtoull(a, (char **)&a, 10);
        unsigned long long y = strtoull(b, (char **)&b, 10);
        if (x != y)
            return x < y ? -1 : 1;
        if (part < 2) {
            a += *a == '.';
            b += *b == '.';
        }
    }
    bool pa = *a == '-', pb = *b == '-';
    if (!pa || !pb)
        return pa == pb ? 0 : pa ? -1 : 1; /* a pre-release comes first */
    a++;
    b++;
    for (;;) {
        bool ea = !*a || *a == '+', eb = !*b || *b == '+';
        if (ea || eb)
            return ea == eb ? 0 : ea ? -1 : 1; /* fewer fields first */
        int c = prerelease_field_cmp(&a, &b);
        if (c)
            return c;
        a += *a == '.';
        b += *b == '.';
    }
}

bool ct_semver_valid(const char *s)
{
    for (int part = 0; part < 3; part++) {
        if (!isdigit((unsigned char)*s))
            return false;
        if (*s == '0' && isdigit((unsigned char)s[1]))
            return false; /* no leading zeros */
        while (isdigit((unsigned char)*s))
            s++;
        if (part < 2 && *s++ != '.')
            return false;
    }
    if (*s == '-') {
        s++;
        if (!*s || *s == '+')
            return false;
        while (*s && *s != '+')
            if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-')
                return false;
            else
                s++;
    }
    if (*s == '+') {
        s++;
        if (!*s)
            return false;
        while (*s)
            if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-')
                return false;
            else
                s++;
    }
    return *s == '\0';
}

/* A need no bed's tags carry: a warning (a referral with it is never
 * placed), never an error. */
static void warn_need(ct_diags *w, const char *file, uint32_t line,
                      uint32_t col, const char *what, const char *need)
{
    ct_diags_add(w, file, line, col,
                 "warning: %s: need '%s': no bed in the "
                 "area carries the tag '%s', so a referral with this need "
                 "is never placed",
                 what, need, need);
}

/*
 * A string value against the setting's form, and (for overrides) its
 * references against the area. Returns false after reporting an error.
 */
static bool check_form(checker *c, const ct_setting *s, const ct_node *n,
                       const char *what)
{
    if (!s || !s->form)
        return true;
    ct_ref_span refs[8];
    int nrefs = ct_setting_form_match(s->form, n->value, refs, 8);
    if (nrefs < 0) {
        ct_config_read_err(&c->r, n, "%s: '%s' should look like %s", what,
                           n->value, ct_setting_form_text(s->form));
        return false;
    }
    bool ok = true;
    for (int i = 0; c->area && i < nrefs && i < 8; i++) {
        const char *id = n->value + refs[i].off;
        if (ct_manifest_area_has(c->area, refs[i].kind, id, refs[i].len))
            continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)refs[i].len, id);
        if (refs[i].kind == CT_REF_NEED) {
            if (c->warnings)
                warn_need(c->warnings, c->r.file, n->line, n->col, what, name);
            continue;
        }
        const char *sug = ct_manifest_area_suggest(c->area, refs[i].kind,
                                                   name);
        if (sug)
            ct_config_read_err(&c->r, n,
                               "%s: no %s '%s' in the area; did you mean '%s'?",
                               what, ct_ref_kind_name(refs[i].kind), name, sug);
        else
            ct_config_read_err(&c->r, n, "%s: no %s '%s' in the area", what,
                               ct_ref_kind_name(refs[i].kind), name);
        ok = false;
    }
    return ok;
}

/*
 * Converts a scalar node to a typed JSON value, checking it against the
 * setting (type, range, enum). what names the setting in messages. Returns
 * a new reference or NULL after reporting an error.
 */
static json_t *scalar_value(checker *c, const ct_setting *s,
                            ct_setting_type type, const ct_node *n,
                            const char *what)
{
    if (!n || n->kind != CT_NODE_SCALAR) {
        ct_config_read_err(&c->r, n, "%s must be a %s, not %s", what,
                           type_names[type], ct_node_describe(n));
        return NULL;
    }
    const char *v = n->value;
    json_t *out = NULL;
    double num = 0;
    switch (type) {
    case CT_SETTING_INTEGER: {
        char *end;
        errno = 0;
        long long x = n->quoted ? 0 : strtoll(v, &end, 10);
        if (n->quoted || !*v || *end || errno) {
            ct_config_read_err(&c->r, n, "%s must be an integer, got '%s'",
                               what, v);
            return NULL;
        }
        num = (double)x;
        out = json_integer(x);
        break;
    }
    case CT_SETTING_NUMBER: {
        char *end;
        errno = 0;
        double x = n->quoted ? 0 : strtod(v, &end);
        if (n->quoted || !*v || *end || errno || !isfinite(x)) {
            ct_config_read_err(&c->r, n, "%s must be a number, got '%s'", what,
                               v);
            return NULL;
        }
        num = x;
        out = json_real(x);
        break;
    }
    case CT_SETTING_BOOLEAN:
        if (!n->quoted && strcmp(v, "true") == 0)
            out = json_true();
        else if (!n->quoted && strcmp(v, "false") == 0)
            out = json_false();
        else {
            ct_config_read_err(&c->r, n, "%s must be true or false, got '%s'",
                               what, v);
            return NULL;
        }
        return out;
    case CT_SETTING_DURATION: {
        int64_t ms;
        if (ct_parse_duration_ms(v, &ms)) {
            ct_config_read_err(
                &c->r, n,
                "%s must be a duration like 30s, 15m, 48h or 14d, "
                "got '%s'",
                what, v);
            return NULL;
        }
        num = (double)ms;
        out = json_integer(ms);
        break;
    }
    case CT_SETTING_ENUM:
        for (size_t i = 0; s && i < s->nvalues; i++)
            if (strcmp(s->values[i], v) == 0)
                return json_string(v);
        if (s) {
            ct_buf list = {0};
            for (size_t i = 0; i < s->nvalues; i++)
                ct_buf_printf(&list, "%s%s", i ? ", " : "", s->values[i]);
            ct_config_read_err(&c->r, n, "%s must be one of %s, got '%s'", what,
                               list.data ? list.data : "", v);
            ct_buf_free(&list);
        }
        return NULL;
    case CT_SETTING_STRING:
    case CT_SETTING_FACILITY:
    case CT_SETTING_ZONE:
    case CT_SETTING_ORGANISATION:
    case CT_SETTING_TAG:
    case CT_SETTING_NEED:
        return check_form(c, s, n, what) ? json_string(v) : NULL;
    case CT_SETTING_LIST:
        return NULL;
    }
    if (s && type != CT_SETTING_LIST &&
        ((s->has_min && num < s->min) || (s->has_max && num > s->max))) {
        char lo[32] = "-inf", hi[32] = "inf";
        if (s->has_min)
            snprintf(lo, sizeof lo, "%g", s->min);
        if (s->has_max)
            snprintf(hi, sizeof hi, "%g", s->max);
        ct_config_read_err(&c->r, n, "%s is out of range: %s not in [%s, %s]%s",
                           what, v, lo, hi,
                           type == CT_SETTING_DURATION ? " ms" : "");
        json_decref(out);
        return NULL;
    }
    return out;
}

/* A typed value (scalar or list) for setting s from node n. */
static json_t *typed_value(checker *c, const ct_setting *s, const ct_node *n,
                           const char *what)
{
    if (s->type != CT_SETTING_LIST)
        return scalar_value(c, s, s->type, n, what);
    if (!n || n->kind != CT_NODE_SEQ) {
        ct_config_read_err(&c->r, n, "%s must be a list, not %s", what,
                           ct_node_describe(n));
        return NULL;
    }
    if ((s->has_min && (double)n->len < s->min) ||
        (s->has_max && (double)n->len > s->max)) {
        ct_config_read_err(&c->r, n, "%s has %zu items; allowed %g to %g", what,
                           n->len, s->has_min ? s->min : 0,
                           s->has_max ? s->max : INFINITY);
        return NULL;
    }
    json_t *arr = json_array();
    size_t before = c->r.errors;
    for (size_t i = 0; i < n->len; i++) {
        /* Items are checked for type only; min/max bound the length. */
        ct_setting item = *s;
        item.type = s->item_type;
        item.has_min = item.has_max = false;
        json_t *v = scalar_value(c, &item, s->item_type, n->items[i], what);
        if (v)
            json_array_append_new(arr, v);
    }
    if (c->r.errors != before) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

#define TYPE_LIST                                                           \
    "integer, number, string, boolean, duration, enum, list, facility, "     \
    "zone, organisation, tag or need"

static int parse_type(const char *s, ct_setting_type *out)
{
    for (size_t i = 0; i < CT_ARRAY_LEN(type_names); i++)
        if (strcmp(s, type_names[i]) == 0) {
            *out = (ct_setting_type)i;
            return 0;
        }
    return -1;
}

static bool number_node(const ct_node *n, double *out)
{
    if (!n || n->kind != CT_NODE_SCALAR || n->quoted)
        return false;
    char *end;
    errno = 0;
    *out = strtod(n->value, &end);
    return *n->value && !*end && !errno;
}

static void parse_setting(checker *c, const ct_node *key, const ct_node *n,
                          ct_setting *s)
{
    static const char *const keys[] = {"type", "default", "min", "max",
                                       "doc",  "values",  "items", "form"};
    char where[160];
    snprintf(where, sizeof where, "setting '%s'", key->value);
    s->name = strdup(key->value);
    if (!n || n->kind != CT_NODE_MAP) {
        ct_config_read_err(&c->r, n ? n : key,
                           "%s must be a mapping with at least 'type' and "
                           "'default'",
                           where);
        return;
    }
    check_keys(c, n, keys, CT_ARRAY_LEN(keys), where);
    const ct_node *type = ct_node_get(n, "type");
    if (!type || type->kind != CT_NODE_SCALAR) {
        ct_config_read_err(&c->r, type ? type : n,
                           "%s needs a 'type': " TYPE_LIST, where);
        return;
    }
    if (parse_type(type->value, &s->type)) {
        ct_config_read_err(&c->r, type,
                           "%s has unknown type '%s'; expected " TYPE_LIST,
                           where, type->value);
        return;
    }
    const ct_node *doc = ct_node_get(n, "doc");
    if (doc && doc->kind == CT_NODE_SCALAR)
        s->doc = strdup(doc->value);
    else
        ct_config_read_err(&c->r, doc ? doc : n,
                           "%s needs a 'doc' string saying what it does",
                           where);
    const ct_node *values = ct_node_get(n, "values");
    if (s->type == CT_SETTING_ENUM) {
        if (!values || values->kind != CT_NODE_SEQ || values->len == 0) {
            ct_config_read_err(
                &c->r, values ? values : n,
                "%s is an enum and needs a non-empty list 'values'", where);
            return;
        }
        s->values = calloc(values->len, sizeof *s->values);
        for (size_t i = 0; s->values && i < values->len; i++)
            if (values->items[i]->kind == CT_NODE_SCALAR)
                s->values[s->nvalues++] = strdup(values->items[i]->value);
    } else if (values) {
        ct_config_read_err(&c->r, values, "%s: 'values' applies to enums only",
                           where);
    }
    const ct_node *items = ct_node_get(n, "items");
    if (s->type == CT_SETTING_LIST) {
        if (!items || items->kind != CT_NODE_SCALAR ||
            parse_type(items->value, &s->item_type) ||
            s->item_type == CT_SETTING_LIST ||
            s->item_type == CT_SETTING_ENUM) {
            ct_config_read_err(
                &c->r, items ? items : n,
                "%s is a list and needs 'items': integer, number, string, "
                "boolean, duration, facility, zone, organisation, tag or "
                "need",
                where);
            return;
        }
    } else if (items) {
        ct_config_read_err(&c->r, items, "%s: 'items' applies to lists only",
                           where);
    }
    ct_setting_type scalar = s->type == CT_SETTING_LIST ? s->item_type
                                                        : s->type;
    const ct_node *form = ct_node_get(n, "form");
    char why[160];
    if (form && scalar != CT_SETTING_STRING) {
        ct_config_read_err(&c->r, form,
                           "%s: 'form' applies to strings and lists of strings "
                           "only",
                           where);
    } else if (form && (form->kind != CT_NODE_SCALAR ||
                        ct_setting_form_parse(form->value, &s->form, why,
                                              sizeof why))) {
        ct_config_read_err(&c->r, form,
                           "%s: 'form' must be a string such as "
                           "\"[organisation/]facility=band\": %s",
                           where,
                           form->kind == CT_NODE_SCALAR ? why : "not a string");
    } else if (is_ref_type(scalar) &&
               ct_setting_form_parse(type_names[scalar], &s->form, why,
                                     sizeof why)) {
        ct_config_read_err(&c->r, type, "%s: cannot compile its form: %s",
                           where, why);
    }
    const char *bounds[] = {"min", "max"};
    for (int b = 0; b < 2; b++) {
        const ct_node *bn = ct_node_get(n, bounds[b]);
        if (!bn)
            continue;
        double v;
        int64_t ms;
        if (s->type == CT_SETTING_DURATION && bn->kind == CT_NODE_SCALAR &&
            !ct_parse_duration_ms(bn->value, &ms))
            v = (double)ms;
        else if (!number_node(bn, &v) || is_ref_type(s->type) ||
                 s->type == CT_SETTING_STRING ||
                 s->type == CT_SETTING_BOOLEAN ||
                 s->type == CT_SETTING_ENUM) {
            ct_config_read_err(
                &c->r, bn, "%s: '%s' must be a %s", where, bounds[b],
                s->type == CT_SETTING_DURATION ? "duration" : "number");
            continue;
        }
        if (b == 0) {
            s->has_min = true;
            s->min = v;
        } else {
            s->has_max = true;
            s->max = v;
        }
    }
    if (s->has_min && s->has_max && s->min > s->max)
        ct_config_read_err(&c->r, n, "%s: min is greater than max", where);
    const ct_node *def = ct_node_get(n, "default");
    if (!def) {
        ct_config_read_err(&c->r, n, "%s needs a 'default'", where);
        return;
    }
    char what[200];
    snprintf(what, sizeof what, "the default of '%s'", s->name);
    s->def = typed_value(c, s, def, what);
}

int ct_manifest_parse(const char *file, const char *text, size_t len,
                      ct_manifest **out, ct_diags *diags)
{
    static const char *const keys[] = {"name",      "version",  "api",
                                       "description", "publisher",
                                       "fallback",  "settings"};
    *out = NULL;
    ct_node *root = NULL;
    int rc = ct_yaml_parse(file, text, len, &root, diags);
    if (rc)
        return rc == CT_ENOMEM ? rc : CT_ECONFIG;
    checker c = {.r = {.file = file, .diags = diags}};
    ct_manifest *m = calloc(1, sizeof *m);
    if (!m) {
        ct_node_free(root);
        return CT_ENOMEM;
    }
    m->file = strdup(file);
    if (root->kind != CT_NODE_MAP) {
        ct_config_read_err(&c.r, root, "plugin.yaml must be a mapping, not %s",
                           ct_node_describe(root));
        goto done;
    }
    check_keys(&c, root, keys, CT_ARRAY_LEN(keys), "plugin.yaml");

    const char *required[] = {"name", "version", "description", "publisher"};
    char **fields[] = {&m->name, &m->version, &m->description, &m->publisher};
    for (size_t i = 0; i < CT_ARRAY_LEN(required); i++) {
        const ct_node *n = ct_node_get(root, required[i]);
        if (!n)
            ct_config_read_err(&c.r, root,
                               "plugin.yaml is missing required key '%s'",
                               required[i]);
        else if (n->kind != CT_NODE_SCALAR || ct_node_is_null(n))
            ct_config_read_err(&c.r, n, "'%s' must be a string", required[i]);
        else
            *fields[i] = strdup(n->value);
    }
    if (m->name) {
        const char *p = m->name;
        int ok = *p && strlen(p) <= 64;
        for (; *p; p++)
            if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
                *p != '_' && *p != '-')
                ok = 0;
        if (!ok)
            ct_config_read_err(
                &c.r, ct_node_get(root, "name"),
                "plugin name '%s' must be 1 to 64 lowercase letters, digits, "
                "'_' or '-'",
                m->name);
    }
    if (m->version && !ct_semver_valid(m->version))
        ct_config_read_err(&c.r, ct_node_get(root, "version"),
                           "version '%s' is not semver (MAJOR.MINOR.PATCH)",
                           m->version);
    const ct_node *api = ct_node_get(root, "api");
    if (!api)
        ct_config_read_err(&c.r, root,
                           "plugin.yaml is missing required key 'api'");
    else if (api->kind != CT_NODE_SCALAR || strcmp(api->value, "1") != 0)
        ct_config_read_err(
            &c.r, api, "unsupported plugin api '%s'; this host supports api 1",
            api->kind == CT_NODE_SCALAR ? api->value : "?");
    else
        m->api = 1;
    const ct_node *fb = ct_node_get(root, "fallback");
    m->fallback = CT_FALLBACK_MANUAL_REVIEW;
    if (fb) {
        if (fb->kind == CT_NODE_SCALAR && strcmp(fb->value, "skip") == 0)
            m->fallback = CT_FALLBACK_SKIP;
        else if (fb->kind != CT_NODE_SCALAR ||
                 strcmp(fb->value, "manual_review") != 0)
            ct_config_read_err(&c.r, fb,
                               "fallback must be manual_review or skip");
    }
    const ct_node *settings = ct_node_get(root, "settings");
    if (settings && !ct_node_is_null(settings)) {
        if (settings->kind != CT_NODE_MAP) {
            ct_config_read_err(&c.r, settings,
                               "'settings' must be a mapping of setting "
                               "names to their schema");
        } else {
            m->settings = calloc(settings->len ? settings->len : 1,
                                 sizeof *m->settings);
            for (size_t i = 0; m->settings && i < settings->len; i++)
                parse_setting(&c, ct_node_key(settings, i),
                              ct_node_value(settings, i),
                              &m->settings[m->nsettings++]);
        }
    }
done:
    ct_node_free(root);
    if (c.r.errors) {
        ct_manifest_free(m);
        return CT_ECONFIG;
    }
    *out = m;
    return 0;
}

int ct_manifest_load(const char *dir, ct_manifest **out, ct_diags *diags)
{
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/plugin.yaml", dir);
    char *text = NULL;
    size_t len = 0;
    int rc = ct_read_file(path, &text, &len);
    if (rc) {
        ct_diags_add(diags, path, 0, 0, "cannot read plugin manifest: %s",
                     rc == CT_ENOTFOUND ? "no such file" : ct_strerror(rc));
        return rc;
    }
    rc = ct_manifest_parse(path, text, len, out, diags);
    free(text);
    return rc;
}

void ct_manifest_free(ct_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nsettings; i++) {
        ct_setting *s = &m->settings[i];
        free(s->name);
        free(s->doc);
        for (size_t j = 0; j < s->nvalues; j++)
            free(s->values[j]);
        free(s->values);
        json_decref(s->def);
        ct_setting_form_free(s->form);
    }
    free(m->settings);
    free(m->file);
    free(m->name);
    free(m->version);
    free(m->description);
    free(m->publisher);
    free(m);
}

const ct_setting *ct_manifest_setting(const ct_manifest *m, const char *name)
{
    for (size_t i = 0; i < m->nsettings; i++)
        if (strcmp(m->settings[i].name, name) == 0)
            return &m->settings[i];
    return NULL;
}

int ct_manifest_settings(const ct_manifest *m, const char *config_file,
                         const ct_node *overrides, json_t **out,
                         ct_diags *diags)
{
    return ct_manifest_settings_in(m, config_file, overrides, NULL, 0, 0, out,
                                   diags, NULL);
}

/* Needs in a default no bed carries: warnings at the plugin's entry. */
static void warn_default_needs(const ct_manifest *m, const ct_node *overrides,
                               const ct_manifest_area *area, const char *file,
                               uint32_t line, uint32_t col, ct_diags *w)
{
    for (size_t i = 0; i < m->nsettings; i++) {
        const ct_setting *s = &m->settings[i];
        if (!s->form || !s->def ||
            (overrides && overrides->kind == CT_NODE_MAP &&
             ct_node_get(overrides, s->name)))
            continue;
        char what[200];
        snprintf(what, sizeof what, "the default of setting '%s' of plugin "
                                    "'%s'", s->name, m->name);
        json_t *one = json_is_array(s->def) ? NULL : s->def;
        size_t n = one ? 1 : json_array_size(s->def);
        for (size_t j = 0; j < n; j++) {
            const char *v = json_string_value(one ? one
                                                  : json_array_get(s->def, j));
            ct_ref_span refs[8];
            int nr = v ? ct_setting_form_match(s->form, v, refs, 8) : -1;
            for (int k = 0; k < nr && k < 8; k++) {
                if (refs[k].kind != CT_REF_NEED ||
                    ct_manifest_area_has(area, CT_REF_NEED, v + refs[k].off,
                                         refs[k].len))
                    continue;
                char need[256];
                snprintf(need, sizeof need, "%.*s", (int)refs[k].len,
                         v + refs[k].off);
                warn_need(w, file, line, col, what, need);
            }
        }
    }
}

int ct_manifest_settings_in(const ct_manifest *m, const char *config_file,
                            const ct_node *overrides,
                            const ct_manifest_area *area, uint32_t def_line,
                            uint32_t def_col, json_t **out, ct_diags *diags,
                            ct_diags *warnings)
{
    *out = NULL;
    checker c = {.r = {.file = config_file, .diags = diags},
                 .area = area,
                 .warnings = warnings};
    if (area && warnings)
        warn_default_needs(m, overrides, area, config_file, def_line, def_col,
                           warnings);
    json_t *obj = json_object();
    if (!obj)
        return CT_ENOMEM;
    for (size_t i = 0; i < m->nsettings; i++)
        if (m->settings[i].def)
            json_object_set(obj, m->settings[i].name, m->settings[i].def);
    if (overrides && overrides->kind == CT_NODE_MAP) {
        const char **names = calloc(m->nsettings ? m->nsettings : 1,
                                    sizeof *names);
        for (size_t i = 0; names && i < m->nsettings; i++)
            names[i] = m->settings[i].name;
        for (size_t i = 0; i < overrides->len; i++) {
            const ct_node *k = ct_node_key(overrides, i);
            const ct_setting *s = ct_manifest_setting(m, k->value);
            if (!s) {
                const char *sug =
                    names ? suggest(k->value, names, m->nsettings) : NULL;
                if (sug)
                    ct_config_read_err(
                        &c.r, k,
                        "plugin '%s' has no setting '%s'; did you "
                        "mean '%s'?",
                        m->name, k->value, sug);
                else
                    ct_config_read_err(&c.r, k,
                                       "plugin '%s' has no setting '%s'",
                                       m->name, k->value);
                continue;
            }
            char what[200];
            snprintf(what, sizeof what, "setting '%s' of plugin '%s'",
                     s->name, m->name);
            json_t *v = typed_value(&c, s, ct_node_value(overrides, i), what);
            if (v)
                json_object_set_new(obj, s->name, v);
        }
        free(names);
    } else if (overrides && !ct_node_is_null(overrides)) {
        ct_config_read_err(&c.r, overrides,
                           "settings of plugin '%s' must be a mapping",
                           m->name);
    }
    if (c.r.errors) {
        json_decref(obj);
        return CT_ECONFIG;
    }
    *out = obj;
    return 0;
}

void ct_manifest_settings_hash(const json_t *settings, char hex[65])
{
    uint8_t h[32];
    char *text = json_dumps(settings, JSON_SORT_KEYS | JSON_COMPACT |
                                          JSON_ENSURE_ASCII);
    crypto_hash_sha256(h, (const unsigned char *)(text ? text : ""),
                       text ? strlen(text) : 0);
    free(text);
    ct_hex_encode(h, 32, hex);
}

json_t *ct_manifest_deviations(const ct_manifest *m, const json_t *settings)
{
    json_t *out = json_array();
    for (size_t i = 0; out && i < m->nsettings; i++) {
        const ct_setting *s = &m->settings[i];
        json_t *v = json_object_get(settings, s->name);
        if (v && s->def && !json_equal(v, s->def))
            json_array_append_new(out, json_pack("{s:s, s:O, s:O}", "name",
                                                 s->name, "default", s->def,
                                                 "value", v));
    }
    return out;
}
