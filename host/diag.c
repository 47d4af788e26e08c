#include "diag.h"

#include "util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void ct_diags_add(ct_diags *d, const char *file, uint32_t line, uint32_t col,
                  const char *fmt, ...)
{
    if (ct_grow(&d->items, &d->cap, d->len, sizeof *d->items, 8))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ct_diag *r = &d->items[d->len];
    r->file = strdup(file ? file : "<input>");
    r->message = strdup(msg);
    r->line = line;
    r->col = col;
    if (!r->file || !r->message) {
        free(r->file);
        free(r->message);
        return;
    }
    d->len++;
}

void ct_diags_print(const ct_diags *d, FILE *out)
{
    for (size_t i = 0; i < d->len; i++) {
        const ct_diag *r = &d->items[i];
        if (r->line)
            fprintf(out, "%s:%u:%u: %s\n", r->file, r->line, r->col,
                    r->message);
        else
            fprintf(out, "%s: %s\n", r->file, r->message);
    }
}

void ct_diags_free(ct_diags *d)
{
    for (size_t i = 0; i < d->len; i++) {
        free(d->items[i].file);
        free(d->items[i].message);
    }
    free(d->items);
    d->items = NULL;
    d->len = d->cap = 0;
}
