/*
 * Internals shared by isolation's files: isolation.c (the rule, infection
 * records, isolation ends) and isolation_zone.c (zone cohorts and
 * closure). Not for use outside them.
 */
#ifndef CT_ISOLATION_INT_H
#define CT_ISOLATION_INT_H

#include "isolation.h"

#include "area.h"
#include "store_int.h"

#include <sqlite3.h>
#include <stdint.h>

/* Column i of st's row as text, NULL for SQL NULL; borrowed until the
 * next step. */
static inline const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : NULL;
}

/* Column i as an isolation end: INT64_MAX for SQL NULL (no end). */
static inline int64_t end_col(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL
               ? INT64_MAX
               : sqlite3_column_int64(st, i);
}
/* How a person stands for a pathogen at now, in words. */
const char *ct_isolation__person_phrase(int status, int64_t end, int64_t now);
/* CT_EINVAL unless p is a pathogen name the area tracks (any name when it
 * lists none). */
int ct_isolation__check_pathogen(ct_capacity *c, const char *p,
                                 ct_cap_error *err);

#endif
