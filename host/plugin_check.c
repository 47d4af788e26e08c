#include "plugin_check.h"

#include "error.h"
#include "util.h"

#include <dirent.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deeper plugin trees than this are refused (and bound the recursion). */
#define MAX_DEPTH 8

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *ct_plugin_check_resolve(const ct_config *cfg,
                              const ct_config_plugin *p, ct_diags *diags)
{
    char path[4096];
    if (p->path) {
        snprintf(path, sizeof path, "%s/plugin.yaml", p->path);
        if (is_file(path))
            return strdup(p->path);
        ct_diags_add(diags, cfg->file, p->line, p->col,
                     "plugin '%s': no plugin.yaml in '%s'",
                     p->name ? p->name : "?", p->path);
        return NULL;
    }
    for (size_t i = 0; i < cfg->nplugin_path; i++) {
        snprintf(path, sizeof path, "%s/%s/plugin.yaml", cfg->plugin_path[i],
                 p->name);
        if (is_file(path)) {
            snprintf(path, sizeof path, "%s/%s", cfg->plugin_path[i],
                     p->name);
            return strdup(path);
        }
    }
    ct_buf searched = {0};
    for (size_t i = 0; i < cfg->nplugin_path; i++)
        ct_buf_printf(&searched, "%s%s", i ? ", " : "", cfg->plugin_path[i]);
    ct_diags_add(diags, cfg->file, p->line, p->col,
                 "plugin '%s' not found (searched: %s)", p->name,
                 searched.data ? searched.data : "nothing");
    ct_buf_free(&searched);
    return NULL;
}

/* Lua's syntax messages read "path:LINE: text"; split them. */
static void lua_diag(ct_diags *diags, const char *path, const char *msg)
{
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':') {
        char *end;
        unsigned long line = strtoul(msg + n + 1, &end, 10);
        if (end != msg + n + 1 && *end == ':') {
            ct_diags_add(diags, path, (uint32_t)line, 0, "%s",
                         end[1] == ' ' ? end + 2 : end + 1);
            return;
        }
    }
    ct_diags_add(diags, path, 0, 0, "%s", msg);
}

static int check_file(lua_State *L, const char *path, ct_diags *diags)
{
    char *text = NULL;
    size_t len = 0;
    if (ct_read_file(path, &text, &len)) {
        ct_diags_add(diags, path, 0, 0, "cannot read file");
        return CT_ECONFIG;
    }
    char chunkname[4100];
    snprintf(chunkname, sizeof chunkname, "@%s", path);
    int rc = luaL_loadbufferx(L, text, len, chunkname, "t");
    free(text);
    if (rc != LUA_OK) {
        lua_diag(diags, path, lua_tostring(L, -1));
        lua_pop(L, 1);
        return CT_ECONFIG;
    }
    lua_pop(L, 1);
    return 0;
}

static int walk(lua_State *L, const char *dir, int depth, ct_diags *diags)
{
    if (depth > MAX_DEPTH) {
        ct_diags_add(diags, dir, 0, 0, "plugin directories nest deeper "
                                       "than %d levels", MAX_DEPTH);
        return CT_ECONFIG;
    }
    DIR *d = opendir(dir);
    if (!d) {
        ct_diags_add(diags, dir, 0, 0, "cannot open plugin directory");
        return CT_ECONFIG;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st))
            continue;
        size_t n = strlen(e->d_name);
        if (S_ISDIR(st.st_mode)) {
            if (walk(L, path, depth + 1, diags))
                rc = CT_ECONFIG;
        } else if (S_ISREG(st.st_mode) && n > 4 &&
                   strcmp(e->d_name + n - 4, ".lua") == 0) {
            if (check_file(L, path, diags))
                rc = CT_ECONFIG;
        }
    }
    closedir(d);
    return rc;
}

int ct_plugin_check_lua(const char *dir, ct_diags *diags)
{
    char init[4096];
    snprintf(init, sizeof init, "%s/init.lua", dir);
    int rc = 0;
    if (!is_file(init)) {
        ct_diags_add(diags, init, 0, 0, "missing: a plugin's code starts in "
                                        "init.lua, which returns its hooks");
        rc = CT_ECONFIG;
    }
    /* Compiling only: no libraries are opened and nothing runs. */
    lua_State *L = luaL_newstate();
    if (!L)
        return CT_ENOMEM;
    if (walk(L, dir, 0, diags))
        rc = CT_ECONFIG;
    lua_close(L);
    return rc;
}

int ct_plugin_check_trust(const ct_config *cfg, const ct_config_plugin *p,
                          const char *dir, int64_t now_ms,
                          ct_bundle_info *info, ct_bundle **bundle_out,
                          ct_diags *diags)
{
    ct_bundle_info local;
    if (!info)
        info = &local;
    if (bundle_out)
        *bundle_out = NULL;
    ct_bundle *b = NULL;
    int rc = ct_bundle_load_dir(dir, &b, info);
    if (rc == 0)
        rc = ct_bundle_verify(b, &cfg->trust, p->require_signed, now_ms,
                              info);
    if (rc == 0 && bundle_out && info->has_manifest)
        *bundle_out = b;
    else
        ct_bundle_free(b);
    if (rc)
        ct_diags_add(diags, cfg->file, p->line, p->col,
                     "plugin '%s' refused (%s): %s", p->name ? p->name : "?",
                     ct_bundle_problem_name(info->problem), info->reason);
    return rc;
}

/* The area's ids that reference settings may name (manifest.h). The
 * arrays borrow the config's strings. */
typedef struct area_ids {
    ct_manifest_area area;
    const char **facilities, **zones, **orgs, **tags;
} area_ids;

static bool listed(const char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static void area_ids_free(area_ids *a)
{
    free(a->facilities);
    free(a->zones);
    free(a->orgs);
    free(a->tags);
}

static int area_ids_init(const ct_config *cfg, area_ids *a)
{
    memset(a, 0, sizeof *a);
    size_t nz = 0, nt = 0;
    for (size_t i = 0; i < cfg->nfacilities; i++)
        for (size_t j = 0; j < cfg->facilities[i].nzones; j++) {
            nz++;
            for (size_t k = 0; k < cfg->facilities[i].zones[j].nbeds; k++)
                nt += cfg->facilities[i].zones[j].beds[k].ntags;
        }
    a->facilities = calloc(cfg->nfacilities + 1, sizeof *a->facilities);
    a->zones = calloc(nz + 1, sizeof *a->zones);
    a->orgs = calloc(cfg->norgs + 1, sizeof *a->orgs);
    a->tags = calloc(nt + 1, sizeof *a->tags);
    if (!a->facilities || !a->zones || !a->orgs || !a->tags) {
        area_ids_free(a);
        return CT_ENOMEM;
    }
    size_t nf = 0, no = 0;
    nz = nt = 0;
    /* A config that failed to load leaves holes (NULL ids): skipped, so
     * a broken area still has its plugins' settings checked. */
    for (size_t i = 0; i < cfg->norgs; i++)
        if (cfg->orgs[i].id)
            a->orgs[no++] = cfg->orgs[i].id;
    for (size_t i = 0; i < cfg->nfacilities; i++) {
        const ct_config_facility *f = &cfg->facilities[i];
        if (f->id)
            a->facilities[nf++] = f->id;
        for (size_t j = 0; j < f->nzones; j++) {
            const ct_config_zone *z = &f->zones[j];
            if (z->id)
                a->zones[nz++] = z->id;
            for (size_t k = 0; k < z->nbeds; k++)
                for (size_t t = 0; t < z->beds[k].ntags; t++) {
                    const char *tag = z->beds[k].tags[t];
                    if (tag && !listed(a->tags, nt, tag))
                        a->tags[nt++] = tag;
                }
        }
    }
    const char *const **ids = a->area.ids;
    ids[CT_REF_FACILITY] = a->facilities;
    ids[CT_REF_ZONE] = a->zones;
    ids[CT_REF_ORGANISATION] = a->orgs;
    ids[CT_REF_TAG] = ids[CT_REF_NEED] = a->tags;
    a->area.n[CT_REF_FACILITY] = nf;
    a->area.n[CT_REF_ZONE] = nz;
    a->area.n[CT_REF_ORGANISATION] = no;
    a->area.n[CT_REF_TAG] = a->area.n[CT_REF_NEED] = nt;
    return 0;
}

static int check_entry(const ct_config *cfg, const ct_config_plugin *p,
                       char **dir_out, ct_manifest **manifest_out,
                       json_t **settings_out, ct_diags *diags,
                       ct_diags *warnings);

int ct_plugin_check_entry(const ct_config *cfg, const ct_config_plugin *p,
                          char **dir_out, ct_manifest **manifest_out,
                          json_t **settings_out, ct_diags *diags)
{
    return check_entry(cfg, p, dir_out, manifest_out, settings_out, diags,
                       NULL);
}

static int check_entry(const ct_config *cfg, const ct_config_plugin *p,
                       char **dir_out, ct_manifest **manifest_out,
                       json_t **settings_out, ct_diags *diags,
                       ct_diags *warnings)
{
    char *dir = ct_plugin_check_resolve(cfg, p, diags);
    if (!dir)
        return CT_ECONFIG;
    ct_manifest *m = NULL;
    json_t *settings = NULL;
    /* A refused plugin is still checked, so one run names every error. */
    int rc = ct_plugin_check_trust(cfg, p, dir, ct_bundle_wall_ms(), NULL, NULL,
                                   diags)
                 ? CT_ECONFIG
                 : 0;
    if (ct_manifest_load(dir, &m, diags)) {
        rc = CT_ECONFIG;
        goto fail;
    }
    if (strcmp(m->name, p->name) != 0) {
        ct_diags_add(diags, cfg->file, p->line, p->col,
                     "plugin '%s' is named '%s' in its plugin.yaml", p->name,
                     m->name);
        rc = CT_ECONFIG;
    }
    area_ids ids;
    int arc = area_ids_init(cfg, &ids);
    if (arc) {
        rc = arc;
        goto fail;
    }
    if (ct_manifest_settings_in(m, cfg->file, p->settings, &ids.area,
                                p->line, p->col, &settings, diags, warnings))
        rc = CT_ECONFIG;
    area_ids_free(&ids);
    if (ct_plugin_check_lua(dir, diags))
        rc = CT_ECONFIG;
    if (rc)
        goto fail;
    if (dir_out)
        *dir_out = dir;
    else
        free(dir);
    if (manifest_out)
        *manifest_out = m;
    else
        ct_manifest_free(m);
    if (settings_out)
        *settings_out = settings;
    else
        json_decref(settings);
    return 0;
fail:
    json_decref(settings);
    ct_manifest_free(m);
    free(dir);
    return rc ? rc : CT_ECONFIG;
}

int ct_plugin_check_all(const ct_config *cfg, ct_diags *diags)
{
    return ct_plugin_check_area(cfg, diags, NULL);
}

int ct_plugin_check_area(const ct_config *cfg, ct_diags *diags,
                         ct_diags *warnings)
{
    int rc = 0;
    for (size_t i = 0; i < cfg->nplugins; i++)
        if (cfg->plugins[i].name && /* a hole in a partial config */
            check_entry(cfg, &cfg->plugins[i], NULL, NULL, NULL, diags,
                        warnings))
            rc = CT_ECONFIG;
    return rc;
}
