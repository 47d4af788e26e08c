/*
 * caretide token add|list|revoke|rotate: the token store (token.h), the
 * file beside the database. The running daemon re-reads it within a
 * second and audits each change with the actor recorded here,
 * "cli:<login>" of whoever ran the command.
 */
#include "cli.h"

#include "clock.h"
#include "config.h"
#include "diag.h"
#include "error.h"
#include "token.h"
#include "util.h"

#include <inttypes.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CMD "token"
#define DAY_MS (24 * 3600 * 1000LL)

typedef struct opts {
    const char *config, *db, *user, *name, *client, *display, *org, *role,
        *expires;
    bool json, all;
} opts;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "cli:<login>": who ran the command, as the audit names them. */
static void cli_actor(char *out, size_t n)
{
    struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name && pw->pw_name[0])
        snprintf(out, n, "cli:%s", pw->pw_name);
    else
        snprintf(out, n, "cli:uid-%u", (unsigned)geteuid());
}

/* WHEN: "never", a duration from now ("90d", "12h"), a day
 * ("2027-03-31", midnight UTC) or a time ("2027-03-31T18:00:00Z"). */
static int parse_expiry(const char *s, int64_t now, int64_t *out)
{
    int64_t ms;
    if (strcmp(s, "never") == 0) {
        *out = CT_TOKEN_NEVER;
        return 0;
    }
    if (ct_parse_duration_ms(s, &ms) == 0 && ms > 0) {
        *out = now + ms;
        return 0;
    }
    if (ct_clock_parse(s, &ms) == 0 && ms > now) {
        *out = ms;
        return 0;
    }
    return CT_EINVAL;
}

static void when(int64_t ms, char *buf, size_t n)
{
    if (ms == 0 || ms == CT_TOKEN_NEVER)
        snprintf(buf, n, "-");
    else
        ct_clock_format(ms, buf, n);
}

/* Loads the config for the organisations and the database path. */
static int load(const opts *o, ct_config **cfg, char **path)
{
    if (ct_cli_load_config(o->config, cfg, stderr))
        return CT_EXIT_FAIL;
    *path = ct_tokens_path(o->db ? o->db : (*cfg)->db_path);
    if (!*path) {
        ct_config_free(*cfg);
        return CT_EXIT_FAIL;
    }
    return 0;
}

/* Ends an edit begun with ct_tokens_edit_begin: saves t when rc, the
 * change's result, is 0, else leaves the file as it was; prints why it
 * failed. 0 once the change is saved. */
static int edit_end(const char *path, int lock, ct_tokens *t, int rc,
                    char *why, size_t n)
{
    if (!rc)
        rc = ct_tokens_edit_end(path, lock, t, true, why, n);
    else
        ct_tokens_edit_end(path, lock, t, false, NULL, 0);
    if (rc)
        fprintf(stderr, "caretide token: %s\n", why);
    return rc;
}

static bool org_known(const ct_config *cfg, const char *org)
{
    for (size_t i = 0; i < cfg->norgs; i++)
        if (strcmp(cfg->orgs[i].id, org) == 0)
            return true;
    return false;
}

static void print_secret(const opts *o, const ct_token *tok,
                         const char *verb, const char *secret)
{
    if (o->json) {
        json_t *j = json_pack("{s:o, s:s}", "token", ct_token_json(tok, 0),
                              "secret", secret);
        json_object_del(json_object_get(j, "token"), "state");
        char *text = json_dumps(j, JSON_SORT_KEYS);
        if (text)
            puts(text);
        free(text);
        json_decref(j);
        return;
    }
    char actor[200], exp[40];
    ct_token_actor(tok, actor, sizeof actor);
    when(tok->expires_at, exp, sizeof exp);
    printf("token %" PRId64 " %s: %s%s%s%s, expires %s\n", tok->id, verb,
           actor, tok->display_name[0] ? " (" : "", tok->display_name,
           tok->display_name[0] ? ")" : "", exp);
    printf("secret (shown once, only its hash is kept): %s\n", secret);
}

/* One change of the token file: add proto, or rotate or revoke id. */
typedef struct change {
    enum { ADD, ROTATE, REVOKE } op;
    const ct_token *proto; /* add */
    int64_t id;            /* rotate, revoke; add sets it */
    int64_t now, expires;  /* expires: rotate's --expires, 0 to keep */
} change;

/* Runs ch under the file's lock, saves it and prints what it did; the
 * secret a change makes is shown once and wiped. An exit status. */
static int edit(const opts *o, change *ch)
{
    ct_config *cfg = NULL;
    char *path = NULL;
    if (load(o, &cfg, &path))
        return CT_EXIT_FAIL;
    int status = CT_EXIT_FAIL;
    if (ch->op == ADD && ch->proto->kind != CT_TOKEN_DISPLAY &&
        !org_known(cfg, ch->proto->org)) {
        fprintf(stderr, "caretide token: organisation '%s' is not in %s\n",
                ch->proto->org, cfg->file);
        goto done;
    }
    char why[300] = "", actor[100], secret[CT_TOKEN_SECRET_LEN + 1] = "";
    cli_actor(actor, sizeof actor);
    int lock;
    ct_tokens *t = NULL;
    if (ct_tokens_edit_begin(path, &lock, &t, why, sizeof why)) {
        fprintf(stderr, "caretide token: %s\n", why);
        goto done;
    }
    int rc = ch->op == ADD ? ct_tokens_add(t, ch->proto, ch->now, actor,
                                           secret, &ch->id, why, sizeof why)
             : ch->op == ROTATE
                 ? ct_tokens_rotate(t, ch->id, ch->now, actor, ch->expires,
                                    secret, why, sizeof why)
                 : ct_tokens_revoke(t, ch->id, ch->now, actor, why,
                                    sizeof why);
    if (!edit_end(path, lock, t, rc, why, sizeof why)) {
        const ct_token *tok = ct_tokens_find(t, ch->id);
        if (ch->op != REVOKE) {
            print_secret(o, tok, ch->op == ADD ? "added" : "rotated",
                         secret);
        } else if (o->json) {
            printf("{\"id\": %" PRId64 ", \"revoked\": true}\n", ch->id);
        } else {
            char a[200];
            ct_token_actor(tok, a, sizeof a);
            printf("token %" PRId64 " revoked: %s\n", ch->id, a);
        }
        status = CT_EXIT_OK;
    }
    memset(secret, 0, sizeof secret);
    ct_tokens_free(t);
done:
    free(path);
    ct_config_free(cfg);
    return status;
}

static int cmd_add(const opts *o)
{
    int kinds = !!o->user + !!o->client + !!o->display;
    if (kinds != 1)
        return ct_cli_usage_error(CMD, "add needs one of --user, --client "
                                       "or --display");
    ct_token proto;
    memset(&proto, 0, sizeof proto);
    const char *name = o->user ? o->user : o->client ? o->client : o->display;
    proto.kind = o->user     ? CT_TOKEN_USER
                 : o->client ? CT_TOKEN_CLIENT
                             : CT_TOKEN_DISPLAY;
    if (strlen(name) > CT_TOKEN_NAME_MAX)
        return ct_cli_usage_error(CMD, "'%s' is longer than %d characters",
                                  name, CT_TOKEN_NAME_MAX);
    snprintf(proto.name, sizeof proto.name, "%s", name);
    if (proto.kind == CT_TOKEN_DISPLAY) {
        if (o->org || o->role || o->name)
            return ct_cli_usage_error(CMD, "a display has no --org, --role "
                                           "or --name: it sees aggregate "
                                           "figures only");
    } else {
        if (!o->org || !o->role)
            return ct_cli_usage_error(CMD, "--org and --role are required");
        int role = ct_role_parse(o->role);
        if (role < 0)
            return ct_cli_usage_error(CMD, "unknown role '%s' (expected %s)",
                                      o->role, ct_role_list());
        proto.role = (ct_role)role;
        if (strlen(o->org) > CT_TOKEN_NAME_MAX)
            return ct_cli_usage_error(CMD, "unknown organisation '%s'",
                                      o->org);
        snprintf(proto.org, sizeof proto.org, "%s", o->org);
    }
    if (proto.kind == CT_TOKEN_USER && !o->name)
        return ct_cli_usage_error(CMD, "--user needs --name (the person's "
                                       "name, for the audit and the list)");
    if (o->name) {
        if (proto.kind != CT_TOKEN_USER)
            return ct_cli_usage_error(CMD, "--name is for --user");
        if (strlen(o->name) > CT_TOKEN_TEXT_MAX)
            return ct_cli_usage_error(CMD, "--name is longer than %d bytes",
                                      CT_TOKEN_TEXT_MAX);
        snprintf(proto.display_name, sizeof proto.display_name, "%s",
                 o->name);
    }
    int64_t now = now_ms();
    /* Defaults: a person's token lasts a quarter, a machine's a year, a
     * screen's until revoked. */
    const char *exp = o->expires ? o->expires
                      : proto.kind == CT_TOKEN_USER   ? "90d"
                      : proto.kind == CT_TOKEN_CLIENT ? "365d"
                                                      : "never";
    if (parse_expiry(exp, now, &proto.expires_at))
        return ct_cli_usage_error(CMD, "--expires '%s': expected never, a "
                                       "duration (90d), a day or a time "
                                       "in the future",
                                  exp);

    change ch = {.op = ADD, .proto = &proto, .now = now};
    return edit(o, &ch);
}

static int cmd_list(const opts *o)
{
    ct_config *cfg = NULL;
    char *path = NULL;
    if (load(o, &cfg, &path))
        return CT_EXIT_FAIL;
    ct_tokens *t = NULL;
    char why[300] = "";
    int status = CT_EXIT_FAIL;
    if (ct_tokens_load(path, &t, why, sizeof why)) {
        fprintf(stderr, "caretide token: %s\n", why);
        goto done;
    }
    int64_t now = now_ms();
    json_t *list = o->json ? json_array() : NULL;
    if (!o->json)
        printf("%-4s %-8s %-24s %-40s %-8s %s\n", "ID", "KIND", "NAME",
               "ACTOR", "STATE", "EXPIRES");
    for (size_t i = 0; i < ct_tokens_count(t); i++) {
        const ct_token *tok = ct_tokens_at(t, i);
        json_t *j = ct_token_json(tok, now);
        const char *state = json_string_value(json_object_get(j, "state"));
        if (!o->all && strcmp(state, "revoked") == 0) {
            json_decref(j);
            continue;
        }
        if (o->json) {
            json_array_append_new(list, j);
            continue;
        }
        char actor[200], exp[40];
        ct_token_actor(tok, actor, sizeof actor);
        when(tok->expires_at, exp, sizeof exp);
        printf("%-4" PRId64 " %-8s %-24s %-40s %-8s %s\n", tok->id,
               ct_token_kind_name(tok->kind),
               tok->display_name[0] ? tok->display_name : tok->name, actor,
               state, exp);
        json_decref(j);
    }
    if (o->json) {
        json_t *doc = json_pack("{s:s, s:o}", "file", path, "tokens", list);
        char *text = json_dumps(doc, JSON_SORT_KEYS);
        if (text)
            puts(text);
        free(text);
        json_decref(doc);
    }
    status = CT_EXIT_OK;
    ct_tokens_free(t);
done:
    free(path);
    ct_config_free(cfg);
    return status;
}

/* revoke and rotate: one entry by id. */
static int cmd_change(const opts *o, bool rotate, const char *id_text)
{
    char *end = NULL;
    long long id = strtoll(id_text, &end, 10);
    if (!end || *end || id < 1)
        return ct_cli_usage_error(CMD, "'%s' is not a token id (see "
                                       "'caretide token list')",
                                  id_text);
    if (!rotate && o->expires)
        return ct_cli_usage_error(CMD, "--expires is for add and rotate");
    int64_t now = now_ms(), expires = 0;
    if (o->expires && parse_expiry(o->expires, now, &expires))
        return ct_cli_usage_error(CMD, "--expires '%s': expected never, a "
                                       "duration (90d), a day or a time "
                                       "in the future",
                                  o->expires);
    change ch = {.op = rotate ? ROTATE : REVOKE, .id = id, .now = now,
                 .expires = expires};
    return edit(o, &ch);
}

int ct_cmd_token(int argc, char **argv)
{
    opts o = {0};
    const char *log_format = NULL, *log_level = NULL;
    const ct_cli_opt table[] = {
        {"config", 'c', .text = &o.config},
        {"db", 0, .text = &o.db},
        {"user", 0, .text = &o.user},
        {"name", 0, .text = &o.name},
        {"client", 0, .text = &o.client},
        {"display", 0, .text = &o.display},
        {"org", 0, .text = &o.org},
        {"role", 0, .text = &o.role},
        {"expires", 0, .text = &o.expires},
        {"json", 0, .flag = &o.json},
        {"all", 0, .flag = &o.all},
        {NULL},
    };
    int first, stop = ct_cli_parse(CMD, argc, argv, table, &log_format,
                                   &log_level, &first);
    if (stop >= 0)
        return stop;
    if (ct_cli_logging(CMD, log_format, log_level))
        return CT_EXIT_USAGE;
    if (first >= argc)
        return ct_cli_usage_error(CMD, "missing subcommand (add, list, "
                                       "revoke or rotate)");
    const char *sub = argv[first];
    int rest = argc - first - 1;
    bool person = o.user || o.client || o.display || o.org || o.role ||
                  o.name;
    if (strcmp(sub, "add") == 0) {
        if (rest)
            return ct_cli_usage_error(CMD, "unexpected argument '%s'",
                                      argv[first + 1]);
        return cmd_add(&o);
    }
    if (person && strcmp(sub, "add") != 0)
        return ct_cli_usage_error(CMD, "--user, --client, --display, --org, "
                                       "--role and --name are for add");
    if (strcmp(sub, "list") == 0) {
        if (rest)
            return ct_cli_usage_error(CMD, "unexpected argument '%s'",
                                      argv[first + 1]);
        return cmd_list(&o);
    }
    if (strcmp(sub, "revoke") == 0 || strcmp(sub, "rotate") == 0) {
        if (rest != 1)
            return ct_cli_usage_error(CMD, "%s takes one token id", sub);
        return cmd_change(&o, strcmp(sub, "rotate") == 0, argv[first + 1]);
    }
    return ct_cli_usage_error(CMD, "unknown subcommand '%s'", sub);
}
