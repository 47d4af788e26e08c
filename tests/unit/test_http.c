/*
 * The HTTP server in process: a real MHD server on a loopback port and a
 * libuv loop running in a second thread, a real store and group commit,
 * and test routes that exercise routing, auth, bodies, validation, error
 * mapping and write durability. The test thread speaks HTTP over plain
 * sockets and checks the database through its own connection.
 */
#include "http.h"

#include "error.h"
#include "fixtures.h"
#include "log.h"
#include "model.h"
#include "store_int.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- test routes --------------------------------------------------------- */

static int hello(ct_http_req *r, void *app)
{
    (void)app;
    const char *x = ct_http_req_query(r, "x");
    return ct_http_reply_json(r, 200,
                              json_pack("{s:s, s:s?}", "hello",
                                        ct_http_req_param(r, "name"), "x",
                                        x));
}

static int whoami(ct_http_req *r, void *app)
{
    (void)app;
    const char *owner = ct_http_req_query(r, "owner");
    int err;
    if (owner && (err = ct_http_req_owns(r, owner)))
        return err;
    const ct_principal *p = ct_http_req_principal(r);
    return ct_http_reply_json(r, 200,
                              json_pack("{s:s, s:s, s:s}", "org", p->org,
                                        "role", ct_role_name(p->role),
                                        "access",
                                        ct_access_name(
                                            ct_http_req_access(r))));
}

static int insert_org(ct_store *s, const char *id)
{
    sqlite3_stmt *st;
    sqlite3 *db = ct_store__db(s);
    if (sqlite3_prepare_v2(db, "INSERT INTO organisation VALUES (?1, 'x')",
                           -1, &st, NULL) != SQLITE_OK)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : ct_err_from_sqlite(rc);
}

static ct_store *store;

/* A READ answered later (ct_http_req_later): by the next item created, or
 * at once without a reply when the path says so. */
static ct_http_req *later_req;
static atomic_bool later_waiting;
static int later(ct_http_req *r, void *app)
{
    (void)app;
    ct_http_req_later(r);
    if (strcmp(ct_http_req_param(r, "how"), "no-reply") == 0) {
        ct_http_req_done(r, CT_EIO);
        return 0;
    }
    later_req = r;
    atomic_store(&later_waiting, true);
    return 0;
}

/* POST /t/items: every validation helper, then one row. */
static int create_item(ct_http_req *r, void *app)
{
    (void)app;
    static const char *const keys[] = {"id", "nhs", "date", "pathway",
                                       "count", "nested", NULL};
    static const char *const nested_keys[] = {"flag", NULL};
    const char *id = NULL;
    char nhs[11], date[11];
    int pathway = -1;
    int64_t count = 0;
    bool flag = false, has_flag = false;
    json_t *nested;
    int err;
    if ((err = ct_http_field_only(r, NULL, keys)) ||
        (err = ct_http_field_string(r, "id", true, 64, &id)) ||
        (err = ct_http_field_nhs(r, "nhs", true, nhs)) ||
        (err = ct_http_field_date(r, "date", false, date)) ||
        (err = ct_http_field_enum(r, "pathway", false, ct_pathway_parse,
                                  "P0, P1, P2, P3 or step_down",
                                  &pathway)) ||
        (err = ct_http_field_int(r, "count", false, 1, 10, &count, NULL)) ||
        (err = ct_http_field_json(r, "nested", false, JSON_OBJECT,
                                  &nested)) ||
        (err = ct_http_field_only(r, "nested", nested_keys)) ||
        (err = ct_http_field_bool(r, "nested.flag", false, &flag,
                                  &has_flag)))
        return err;
    if ((err = insert_org(store, id)))
        return err == CT_ECONFLICT || err == CT_EEXISTS
                   ? ct_http_error(r, 409, "exists", "id", "'%s' exists", id)
                   : err;
    ct_http_reply_header(r, "Location", id);
    if (later_req) {
        ct_http_reply_json(later_req, 200, json_pack("{s:s}", "after", id));
        ct_http_req_done(later_req, 0);
        later_req = NULL;
    }
    return ct_http_reply_json(r, 201, json_pack("{s:s, s:s}", "id", id,
                                                "nhs", nhs));
}

/* Writes, then fails: the write must be rolled back. */
static int create_then_fail(ct_http_req *r, void *app)
{
    (void)app;
    insert_org(store, ct_http_req_param(r, "id"));
    return CT_ECONFLICT;
}

/* Writes something that fails at COMMIT (a deferred foreign key). */
static int break_commit(ct_http_req *r, void *app)
{
    (void)app;
    sqlite3 *db = ct_store__db(store);
    sqlite3_exec(db, "PRAGMA defer_foreign_keys = ON", NULL, NULL, NULL);
    sqlite3_exec(db, "INSERT INTO facility(id, name, kind, org_id) VALUES "
                     "('f', 'F', 'rehab', 'nobody')",
                 NULL, NULL, NULL);
    return ct_http_reply_json(r, 201, json_object());
}

static int no_reply(ct_http_req *r, void *app)
{
    (void)r;
    (void)app;
    return 0;
}

static int store_error(ct_http_req *r, void *app)
{
    (void)r;
    (void)app;
    return CT_ESTORE;
}

static int count_items(ct_http_req *r, void *app)
{
    (void)app;
    int64_t limit;
    int err = ct_http_query_int(r, "limit", 1, 100, 10, &limit);
    if (err)
        return err;
    return ct_http_reply_json(r, 200, json_pack("{s:I}", "limit",
                                                (json_int_t)limit));
}

#define ROLES(a, b, c, d, e)                                             \
    {CT_ACCESS_##a, CT_ACCESS_##b, CT_ACCESS_##c, CT_ACCESS_##d,          \
     CT_ACCESS_##e}

static const ct_http_route routes[] = {
    {CT_HTTP_GET, "/t/hello/{name}", CT_ROUTE_PLAIN, true,
     ROLES(ALL, ALL, ALL, ALL, ALL), hello},
    {CT_HTTP_GET, "/t/whoami", CT_ROUTE_READ, false,
     ROLES(ALL, OWN, NONE, ALL, ALL), whoami},
    {CT_HTTP_POST, "/t/items", CT_ROUTE_WRITE, false,
     ROLES(ALL, ALL, ALL, NONE, NONE), create_item},
    {CT_HTTP_GET, "/t/items", CT_ROUTE_READ, false,
     ROLES(ALL, ALL, ALL, ALL, ALL), count_items},
    {CT_HTTP_POST, "/t/items/{id}/fail", CT_ROUTE_WRITE, false,
     ROLES(ALL, ALL, ALL, ALL, ALL), create_then_fail},
    {CT_HTTP_POST, "/t/break-commit", CT_ROUTE_WRITE, false,
     ROLES(ALL, ALL, ALL, ALL, ALL), break_commit},
    {CT_HTTP_GET, "/t/later/{how}", CT_ROUTE_READ, true,
     ROLES(ALL, ALL, ALL, ALL, ALL), later},
    {CT_HTTP_GET, "/t/no-reply", CT_ROUTE_PLAIN, true,
     ROLES(ALL, ALL, ALL, ALL, ALL), no_reply},
    {CT_HTTP_GET, "/t/store-error", CT_ROUTE_PLAIN, true,
     ROLES(ALL, ALL, ALL, ALL, ALL), store_error},
};

/* ---- the server thread --------------------------------------------------- */

static const char *dir;
static char db_path[512];
static uv_loop_t loop;
static uv_async_t stop;
static ct_commit *committer;
static ct_http *server;
static ct_prom *prom;
static ct_config *cfg;
static ct_auth *auth;
static pthread_t thread;
static uint16_t port;
static int loop_close_rc = -1;
static sqlite3 *observer;
static FILE *devnull;

static void on_commit_closed(void *data)
{
    (void)data;
    uv_close((uv_handle_t *)&stop, NULL);
}

static ct_commit_stats final_stats; /* the committer's, at shutdown */

static void on_http_closed(void *data)
{
    (void)data;
    ct_commit_get_stats(committer, &final_stats);
    ct_commit_close(committer, on_commit_closed, NULL);
}

static void on_drained(ct_http *h, void *data)
{
    (void)data;
    ct_http_close(h, on_http_closed, NULL);
}

static void on_stop(uv_async_t *a)
{
    (void)a;
    ct_http_drain(server, 5000, on_drained, NULL);
}

static void *serve(void *arg)
{
    (void)arg;
    uv_run(&loop, UV_RUN_DEFAULT);
    loop_close_rc = uv_loop_close(&loop);
    return NULL;
}

static int64_t request_timeout_ms = 10000;

static void start(uint64_t max_body, bool per_request)
{
    /* Errors provoked on purpose (handler failures) stay out of the way. */
    devnull = fopen("/dev/null", "w");
    ct_log_set_stream(devnull);
    dir = ct_test_tmpdir();
    snprintf(db_path, sizeof db_path, "%s/t.db", dir);
    ct_diags diags = {0};
    cr_assert_eq(ct_config_load_demo(&cfg, &diags), 0);
    cr_assert_eq(ct_auth_new(cfg, &auth), 0);
    cr_assert_eq(ct_store_open(db_path, NULL, &store), 0);
    cr_assert_eq(uv_loop_init(&loop), 0);
    ct_commit_options co = {.per_request = per_request};
    cr_assert_eq(ct_commit_new(&loop, store, &co, &committer), 0);
    cr_assert_eq(ct_prom_new(&prom), 0);
    ct_http_options o = {
        .host = "127.0.0.1",
        .port = 0,
        .max_body = max_body,
        .request_timeout_ms = request_timeout_ms,
        .routes = routes,
        .nroutes = CT_ARRAY_LEN(routes),
        .commit = committer,
        .auth = auth,
        .prom = prom,
    };
    cr_assert_eq(ct_http_start(&loop, &o, &server), 0);
    port = ct_http_port(server);
    cr_assert_neq(port, 0);
    cr_assert_eq(uv_async_init(&loop, &stop, on_stop), 0);
    cr_assert_eq(sqlite3_open(db_path, &observer), SQLITE_OK);
    cr_assert_eq(pthread_create(&thread, NULL, serve, NULL), 0);
}

static void stop_server(void)
{
    uv_async_send(&stop);
    pthread_join(thread, NULL);
    cr_assert_eq(loop_close_rc, 0, "every handle closed");
}

static void cleanup(void)
{
    sqlite3_close(observer);
    ct_store_close(store);
    ct_prom_free(prom);
    ct_auth_free(auth);
    ct_config_free(cfg);
    ct_test_rmtree(dir);
    ct_log_set_stream(NULL);
    fclose(devnull);
}

static void finish(void)
{
    stop_server();
    cleanup();
}

/* ---- the client ---------------------------------------------------------- */

typedef struct response {
    int status;
    char head[4096];
    char body[8192];
    const char *check_id; /* when set: was this row on disk at the answer? */
    bool row_on_disk;
} response;

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return; /* the server may close early (413) */
        data += n;
        len -= (size_t)n;
    }
}

/* Asked by each writer thread as its answer arrives: on a connection of
 * its own, because statements that overlap on one shared connection share
 * one read transaction, whose snapshot may predate this row's commit. */
static bool row_exists(const char *id)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT count(*) FROM organisation "
                                    "WHERE id = ?1",
                                    -1, &st, NULL),
                 SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    bool found = sqlite3_column_int64(st, 0) > 0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}

static long long rows(void)
{
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(observer,
                                    "SELECT count(*) FROM organisation", -1,
                                    &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Reads the whole answer (requests say Connection: close). */
static void receive(int fd, response *out)
{
    char buf[16384];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 &&
           (n = recv(fd, buf + len, sizeof buf - 1 - len, 0)) > 0) {
        if (len == 0 && out->check_id)
            out->row_on_disk = row_exists(out->check_id);
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(fd);
    out->status = 0;
    sscanf(buf, "HTTP/1.1 %d", &out->status);
    char *sep = strstr(buf, "\r\n\r\n");
    cr_assert_not_null(sep, "no end of headers in: %s", buf);
    *sep = '\0';
    size_t hn = strlen(buf), bn = strlen(sep + 4);
    cr_assert_lt(hn, sizeof out->head);
    cr_assert_lt(bn, sizeof out->body);
    memcpy(out->head, buf, hn + 1);
    memcpy(out->body, sep + 4, bn + 1);
}

static void request(response *out, const char *method, const char *path,
                    const char *token, const char *body)
{
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                     "%s%s%s%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, token ? "Authorization: Bearer " : "",
                     token ? token : "", token ? "\r\n" : "",
                     body ? "Content-Type: application/json\r\n" : "",
                     body ? strlen(body) : 0);
    int fd = connect_server();
    send_all(fd, head, (size_t)n);
    if (body)
        send_all(fd, body, strlen(body));
    receive(fd, out);
}

static json_t *body_json(const response *r)
{
    json_error_t e;
    json_t *j = json_loads(r->body, 0, &e);
    cr_assert_not_null(j, "body is not JSON: %s", r->body);
    return j;
}

/* Asserts the status and, for errors, the JSON error's code and field. */
static void expect_error(const response *r, int status, const char *code,
                         const char *field)
{
    cr_assert_eq(r->status, status, "status %d, want %d: %s", r->status,
                 status, r->body);
    json_t *j = body_json(r);
    json_t *e = json_object_get(j, "error");
    cr_assert(json_is_object(e), "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(e, "code")), code,
                     "%s", r->body);
    cr_assert(json_is_string(json_object_get(e, "message")));
    json_t *f = json_object_get(e, "field");
    cr_assert_not_null(f, "field is always present: %s", r->body);
    if (field)
        cr_assert_str_eq(json_string_value(f), field, "%s", r->body);
    else
        cr_assert(json_is_null(f), "%s", r->body);
    json_decref(j);
}

static bool has_header(const response *r, const char *line)
{
    return strstr(r->head, line) != NULL;
}

/* ---- tests --------------------------------------------------------------- */

Test(http, routes_params_query_and_request_ids)
{
    start(4096, false);
    response r = {0};
    request(&r, "GET", "/t/hello/world?x=a%20b", NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "{\"hello\":\"world\",\"x\":\"a b\"}");
    cr_assert(has_header(&r, "Content-Type: application/json"));
    cr_assert(has_header(&r, "X-Request-Id: "));

    request(&r, "GET", "/t/nothing", NULL, NULL);
    expect_error(&r, 404, "not_found", NULL);
    request(&r, "GET", "/t/hello", NULL, NULL);
    expect_error(&r, 404, "not_found", NULL);
    request(&r, "GET", "/t/hello/a/b", NULL, NULL);
    expect_error(&r, 404, "not_found", NULL);

    request(&r, "DELETE", "/t/items", "demo-hub-token", NULL);
    expect_error(&r, 405, "method_not_allowed", NULL);
    cr_assert(has_header(&r, "Allow: GET, HEAD, POST"), "%s", r.head);
    request(&r, "OPTIONS", "/t/hello/x", NULL, NULL);
    expect_error(&r, 405, "method_not_allowed", NULL);

    /* HEAD is GET without the body. */
    int fd = connect_server();
    const char head[] = "HEAD /t/hello/x HTTP/1.1\r\nHost: t\r\n"
                        "Connection: close\r\nX-Request-Id: trace-42\r\n\r\n";
    send_all(fd, head, sizeof head - 1);
    receive(fd, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "");
    cr_assert(has_header(&r, "X-Request-Id: trace-42"), "client id kept");
    finish();
}

/* A deferred read waits without holding the loop: a write made while it
 * waits is answered, then the read with what the write's handler set. */
Test(http, a_deferred_read_waits_while_writes_go_on)
{
    start(4096, false);
    int fd = connect_server();
    const char get[] = "GET /t/later/next HTTP/1.1\r\nHost: t\r\n"
                       "Connection: close\r\n\r\n";
    send_all(fd, get, sizeof get - 1);
    response w = {0}, r = {0};
    /* Other requests are answered while it waits. */
    for (int i = 0; i < 1000 && !atomic_load(&later_waiting); i++) {
        request(&w, "GET", "/t/hello/x", NULL, NULL);
        cr_assert_eq(w.status, 200);
    }
    cr_assert(atomic_load(&later_waiting));
    request(&w, "POST", "/t/items", "demo-hub-token",
            "{\"id\": \"org-later\", \"nhs\": \"9990000018\"}");
    cr_assert_eq(w.status, 201, "%s", w.body);
    receive(fd, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "{\"after\":\"org-later\"}");
    /* done without a reply answers the error given, not a hang. */
    request(&r, "GET", "/t/later/no-reply", NULL, NULL);
    expect_error(&r, 500, "internal", NULL);
    finish();
}

Test(http, auth_401_403_and_own)
{
    start(4096, false);
    response r = {0};
    request(&r, "GET", "/t/whoami", NULL, NULL);
    expect_error(&r, 401, "unauthorized", NULL);
    cr_assert(has_header(&r, "WWW-Authenticate: Bearer"), "%s", r.head);
    request(&r, "GET", "/t/whoami", "not-a-token-of-this-area", NULL);
    expect_error(&r, 401, "unauthorized", NULL);
    cr_assert(has_header(&r, "invalid_token"), "%s", r.head);

    int fd = connect_server();
    const char basic[] = "GET /t/whoami HTTP/1.1\r\nHost: t\r\nConnection: "
                         "close\r\nAuthorization: Basic ZGVtbzpkZW1v\r\n\r\n";
    send_all(fd, basic, sizeof basic - 1);
    receive(fd, &r);
    expect_error(&r, 401, "unauthorized", NULL);

    request(&r, "GET", "/t/whoami", "demo-provider-token", NULL);
    expect_error(&r, 403, "forbidden", NULL);
    request(&r, "POST", "/t/items", "demo-viewer-token", "{}");
    expect_error(&r, 403, "forbidden", NULL);

    request(&r, "GET", "/t/whoami", "demo-hub-token", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"org\":\"demo-council\",\"role\":\"hub\","
                             "\"access\":\"all\"}");
    /* OWN: a hospital's own organisation passes, another's is 403. */
    request(&r, "GET", "/t/whoami?owner=demo-acute", "demo-hospital-token",
            NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    request(&r, "GET", "/t/whoami?owner=oakwood-care", "demo-hospital-token",
            NULL);
    expect_error(&r, 403, "forbidden", NULL);
    request(&r, "GET", "/t/whoami?owner=oakwood-care", "demo-hub-token",
            NULL);
    cr_assert_eq(r.status, 200);
    finish();
}

Test(http, validation_names_the_field)
{
    start(4096, false);
    response r = {0};
    const char *tok = "demo-hospital-token";
    request(&r, "POST", "/t/items", tok, "{\"id\": \"a\",");
    expect_error(&r, 400, "malformed_json", "body");
    request(&r, "POST", "/t/items", tok, "[1, 2]");
    expect_error(&r, 400, "invalid", "body");
    request(&r, "POST", "/t/items", tok, "{\"id\": 1, \"id\": 2}");
    expect_error(&r, 400, "malformed_json", "body");
    request(&r, "POST", "/t/items", tok, "");
    expect_error(&r, 400, "missing", "body");
    request(&r, "POST", "/t/items", tok, "{\"nhs\": \"9990000018\"}");
    expect_error(&r, 400, "missing", "id");
    request(&r, "POST", "/t/items", tok, "{\"id\": 7, \"nhs\": \"x\"}");
    expect_error(&r, 400, "invalid", "id");
    request(&r, "POST", "/t/items", tok, "{\"id\": \"a\", \"nhs\": "
                                         "\"9990000019\"}");
    expect_error(&r, 400, "invalid", "nhs");
    request(&r, "POST", "/t/items", tok, "{\"id\": \"a\", \"nhs\": "
                                         "\"9990000018\", \"date\": "
                                         "\"2026-02-29\"}");
    expect_error(&r, 400, "invalid", "date");
    request(&r, "POST", "/t/items", tok, "{\"id\": \"a\", \"nhs\": "
                                         "\"9990000018\", \"pathway\": "
                                         "\"P9\"}");
    expect_error(&r, 400, "invalid", "pathway");
    request(&r, "POST", "/t/items", tok, "{\"id\": \"a\", \"nhs\": "
                                         "\"9990000018\", \"count\": 11}");
    expect_error(&r, 400, "invalid", "count");
    request(&r, "POST", "/t/items", tok, "{\"id\": \"a\", \"nhs\": "
                                         "\"9990000018\", \"count\": 1.5}");
    expect_error(&r, 400, "invalid", "count");
    request(&r, "POST", "/t/items", tok, "{\"id\": \"a\", \"nhs\": "
                                         "\"9990000018\", \"nested\": 3}");
    expect_error(&r, 400, "invalid", "nested");
    request(&r, "POST", "/t/items", tok, "{\"id\": \"a\", \"nhs\": "
                                         "\"9990000018\", \"nested\": "
                                         "{\"flag\": \"yes\"}}");
    expect_error(&r, 400, "invalid", "nested.flag");
    request(&r, "POST", "/t/items", tok, "{\"id\": \"a\", \"nhs\": "
                                         "\"9990000018\", \"nested\": "
                                         "{\"flga\": true}}");
    expect_error(&r, 400, "unknown_field", "nested.flga");
    cr_assert(strstr(r.body, "did you mean 'flag'"), "%s", r.body);
    request(&r, "POST", "/t/items", tok, "{\"id\": \"a\", \"nsh\": 1}");
    expect_error(&r, 400, "unknown_field", "nsh");
    request(&r, "GET", "/t/items?limit=abc", tok, NULL);
    expect_error(&r, 400, "invalid", "limit");
    request(&r, "GET", "/t/items?limit=1000", tok, NULL);
    expect_error(&r, 400, "invalid", "limit");

    /* A wrong content type is refused too. */
    int fd = connect_server();
    const char form[] = "POST /t/items HTTP/1.1\r\nHost: t\r\nConnection: "
                        "close\r\nAuthorization: Bearer demo-hub-token\r\n"
                        "Content-Type: text/plain\r\nContent-Length: 2\r\n"
                        "\r\n{}";
    send_all(fd, form, sizeof form - 1);
    receive(fd, &r);
    expect_error(&r, 415, "unsupported_media_type", "body");

    /* Nothing above wrote anything; the valid request does. */
    cr_assert_eq(rows(), 0);
    request(&r, "POST", "/t/items", tok, "{\"id\": \"a\", \"nhs\": "
                                         "\"999 000 0018\", \"date\": "
                                         "\"2028-02-29\", \"pathway\": "
                                         "\"P1\", \"count\": 3, \"nested\": "
                                         "{\"flag\": true}}");
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_str_eq(r.body, "{\"id\":\"a\",\"nhs\":\"9990000018\"}");
    cr_assert(has_header(&r, "Location: a"));
    finish();
}

Test(http, bodies_over_the_limit_get_413)
{
    start(1024, false);
    response r = {0};
    char big[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    request(&r, "POST", "/t/items", "demo-hub-token", big);
    expect_error(&r, 413, "too_large", "body");

    /* Chunked: no length up front, refused once past the limit. */
    int fd = connect_server();
    const char head[] = "POST /t/items HTTP/1.1\r\nHost: t\r\nConnection: "
                        "close\r\nAuthorization: Bearer demo-hub-token\r\n"
                        "Content-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n";
    send_all(fd, head, sizeof head - 1);
    for (int i = 0; i < 4; i++) {
        char chunk[600];
        int n = snprintf(chunk, sizeof chunk, "200\r\n%.*s\r\n", 512, big);
        send_all(fd, chunk, (size_t)n);
    }
    send_all(fd, "0\r\n\r\n", 5);
    receive(fd, &r);
    expect_error(&r, 413, "too_large", "body");

    /* 401 comes before 413: an anonymous caller cannot make us read. */
    request(&r, "POST", "/t/items", NULL, big);
    expect_error(&r, 401, "unauthorized", NULL);
    cr_assert_eq(rows(), 0);
    finish();
}

Test(http, handler_failures_never_crash_and_roll_back)
{
    start(4096, false);
    response r = {0};
    request(&r, "GET", "/t/no-reply", NULL, NULL);
    expect_error(&r, 500, "internal", NULL);
    request(&r, "GET", "/t/store-error", NULL, NULL);
    expect_error(&r, 500, "internal", NULL);
    cr_assert(strstr(r.body, "quote request id"), "%s", r.body);

    request(&r, "POST", "/t/items/x/fail", "demo-hub-token", NULL);
    expect_error(&r, 409, "conflict", NULL);
    cr_assert_eq(rows(), 0, "the failed write was rolled back");

    request(&r, "POST", "/t/items", "demo-hub-token",
            "{\"id\": \"a\", \"nhs\": \"9990000018\"}");
    cr_assert_eq(r.status, 201, "%s", r.body);
    request(&r, "POST", "/t/items", "demo-hub-token",
            "{\"id\": \"a\", \"nhs\": \"9990000018\"}");
    expect_error(&r, 409, "exists", "id");

    request(&r, "POST", "/t/break-commit", "demo-hub-token", NULL);
    expect_error(&r, 503, "unavailable", NULL);
    cr_assert_eq(rows(), 1);

    /* Still serving. */
    request(&r, "GET", "/t/hello/still", NULL, NULL);
    cr_assert_eq(r.status, 200);
    finish();
}

/* Concurrent writers: every 201 arrives only once its row is on disk. */
typedef struct writer {
    pthread_t t;
    int n;
    response r;
} writer;

static void *write_one(void *arg)
{
    writer *w = arg;
    char body[128], id[16];
    snprintf(id, sizeof id, "w%d", w->n);
    snprintf(body, sizeof body, "{\"id\": \"%s\", \"nhs\": \"9990000018\"}",
             id);
    w->r.check_id = id;
    request(&w->r, "POST", "/t/items", "demo-provider-token", body);
    w->r.check_id = NULL;
    return NULL;
}

static void concurrent_writes(bool per_request)
{
    start(4096, per_request);
    enum { N = 24 };
    writer w[N];
    for (int i = 0; i < N; i++) {
        w[i].n = i;
        cr_assert_eq(pthread_create(&w[i].t, NULL, write_one, &w[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(w[i].t, NULL);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(w[i].r.status, 201, "%s", w[i].r.body);
        cr_assert(w[i].r.row_on_disk, "answered before its commit");
    }
    cr_assert_eq(rows(), N);
    stop_server();
    ct_commit_stats st = final_stats;
    cr_assert_eq(st.writes, N);
    if (per_request)
        cr_assert_eq(st.groups, N);
    else
        cr_assert_leq(st.groups, N);
    printf("%s: %d writes in %llu commits\n",
           per_request ? "per-request" : "group", N,
           (unsigned long long)st.groups);
    cleanup();
}

Test(http, concurrent_writes_are_durable_when_answered)
{
    concurrent_writes(false);
}

Test(http, concurrent_writes_per_request_commit)
{
    concurrent_writes(true);
}

/* A body trickled a byte at a time never times out on silence; the
 * request deadline (1s here) cuts it off. The test allows it 30s. */
Test(http, a_trickled_body_is_cut_off)
{
    request_timeout_ms = 1000;
    start(4096, false);
    int fd = connect_server();
    const char head[] = "POST /t/items HTTP/1.1\r\nHost: t\r\n"
                        "Authorization: Bearer demo-hub-token\r\n"
                        "Content-Type: application/json\r\n"
                        "Content-Length: 150\r\n\r\n{";
    send_all(fd, head, sizeof head - 1);
    bool closed = false;
    for (int i = 0; i < 148 && !closed; i++) {
        usleep(200 * 1000);
        if (send(fd, " ", 1, MSG_NOSIGNAL) != 1)
            closed = true;
        char c;
        ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            closed = true;
        cr_assert_leq(n, 0, "no answer is sent to a request cut off");
    }
    close(fd);
    cr_assert(closed, "the server closed the connection");
    response r = {0};
    request(&r, "GET", "/t/hello/after", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(rows(), 0);
    finish();
}

Test(http, metrics_count_requests)
{
    start(4096, false);
    response r = {0};
    request(&r, "GET", "/t/hello/a", NULL, NULL);
    request(&r, "GET", "/t/hello/b", NULL, NULL);
    request(&r, "GET", "/t/nothing", NULL, NULL);
    request(&r, "GET", "/t/whoami", NULL, NULL);
    stop_server(); /* the registry is the loop thread's until then */
    ct_buf b = {0};
    cr_assert_eq(ct_prom_render(prom, &b), 0);
    cr_assert(strstr(b.data, "caretide_http_requests_total{route=\"/t/hello/"
                             "{name}\",method=\"GET\",status=\"200\"} 2\n"),
              "%s", b.data);
    cr_assert(strstr(b.data, "caretide_http_requests_total{route=\"unmatched"
                             "\",method=\"GET\",status=\"404\"} 1\n"),
              "%s", b.data);
    cr_assert(strstr(b.data, "caretide_http_requests_total{route=\"/t/"
                             "whoami\",method=\"GET\",status=\"401\"} 1\n"),
              "%s", b.data);
    cr_assert(strstr(b.data, "caretide_http_request_duration_seconds_count{"
                             "route=\"/t/hello/{name}\"} 2\n"),
              "%s", b.data);
    cr_assert(strstr(b.data, "caretide_http_requests_in_flight 0\n"), "%s",
              b.data);
    ct_buf_free(&b);
    cleanup();
}
