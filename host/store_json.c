/* Rows into JSON (store_json.h). */
#include "store_json.h"

int ct_store_json_rows(sqlite3_stmt *st, ct_store_json_row_fn row,
                       void *data, json_t **out)
{
    *out = NULL;
    json_t *list = json_array();
    int rc = list ? SQLITE_DONE : SQLITE_NOMEM;
    while (list && (rc = sqlite3_step(st)) == SQLITE_ROW)
        /* json_array_append_new frees what it is given, and refuses NULL. */
        if (json_array_append_new(list, row(st, data))) {
            rc = SQLITE_NOMEM;
            break;
        }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}
