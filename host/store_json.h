/*
 * Rows into JSON, for the units that answer with lists read from the
 * store (the audit listing, the escalation history, referral lists, the
 * decisions report, a plugin's keys): the step loop, its out-of-memory
 * case and its reset written once. The store itself knows no JSON; this
 * sits beside it.
 */
#ifndef CT_STORE_JSON_H
#define CT_STORE_JSON_H

#include <jansson.h>
#include <sqlite3.h>

/* One row as a new JSON value (NULL: out of memory). st is on the row;
 * data is the caller's. */
typedef json_t *(*ct_store_json_row_fn)(sqlite3_stmt *st, void *data);

/*
 * Steps st, bound by the caller, through its rows and collects row(st,
 * data) of each into a new array in *out (the caller's), then resets st.
 * Returns 0 (SQLITE_OK), SQLITE_NOMEM, or the SQLite code of the failed
 * step, for the caller to word; *out is NULL on failure.
 */
int ct_store_json_rows(sqlite3_stmt *st, ct_store_json_row_fn row,
                       void *data, json_t **out);

#endif
