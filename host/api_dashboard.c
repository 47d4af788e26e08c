/*
 * The dashboard: GET / (the page), /dashboard.js, /dashboard.css and the
 * charting library /vendor/chart.js (Chart.js's own dist file, copied
 * from npm by web/vendor.sh), compiled into the binary from web/
 * (cmake/Embed.cmake). Public PLAIN
 * routes: the files hold no data; the page asks for a token and reads the
 * JSON API with it. A Content-Security-Policy keeps the page to what the
 * daemon serves, so it loads nothing from anywhere else.
 */
#include "api_int.h"

#include "error.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define CSP                                                                  \
    "default-src 'none'; script-src 'self'; style-src 'self'; "              \
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "            \
    "form-action 'none'; frame-ancestors 'none'"

static int serve(ct_http_req *r, const char *name, const char *type)
{
    const ct_embedded *e = ct_embedded_find(name);
    if (!e)
        return ct_http_error(r, 404, "not_found", NULL, "%s is not built in",
                             name);
    char *copy = malloc(e->len + 1);
    if (!copy)
        return CT_ENOMEM;
    memcpy(copy, e->data, e->len + 1);
    int err;
    if ((err = ct_http_reply_header(r, "Cache-Control", "no-cache")) ||
        (err = ct_http_reply_header(r, "X-Content-Type-Options",
                                    "nosniff")) ||
        (err = ct_http_reply_header(r, "Content-Security-Policy", CSP))) {
        free(copy);
        return err;
    }
    return ct_http_reply_buf(r, 200, type, copy, e->len);
}

/* GET /: the dashboard page. */
int ct_api__dashboard_page(ct_http_req *r, void *app)
{
    (void)app;
    return serve(r, "web/dashboard.html", "text/html; charset=utf-8");
}

/* GET /dashboard.js */
int ct_api__dashboard_js(ct_http_req *r, void *app)
{
    (void)app;
    return serve(r, "web/dashboard.js", "text/javascript; charset=utf-8");
}

/* GET /dashboard.css */
int ct_api__dashboard_css(ct_http_req *r, void *app)
{
    (void)app;
    return serve(r, "web/dashboard.css", "text/css; charset=utf-8");
}

/* GET /vendor/chart.js: Chart.js, served like the page's own files. */
int ct_api__dashboard_chart_js(ct_http_req *r, void *app)
{
    (void)app;
    return serve(r, "web/vendor/chart.umd.min.js",
                 "text/javascript; charset=utf-8");
}
