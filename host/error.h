/*
 * Error codes for the whole host. Functions return 0 (CT_OK) or a negative
 * CT_E* code; one X-macro list makes the enum, ct_strerror() and
 * ct_err_name(). Codes from SQLite, libyaml, libuv and Lua are translated
 * once, where they enter the host (see ct_err_from_sqlite and friends).
 */
#ifndef CT_ERROR_H
#define CT_ERROR_H

#define CT_ERRNO_MAP(X)                                              \
    X(NOMEM,       "out of memory")                                  \
    X(INVAL,       "invalid argument")                               \
    X(CONFIG,      "invalid configuration")                          \
    X(IO,          "input/output error")                             \
    X(STORE,       "storage error")                                  \
    X(BUSY,        "database is busy")                               \
    X(NOTFOUND,    "not found")                                      \
    X(EXISTS,      "already exists")                                 \
    X(STATE,       "illegal state transition")                       \
    X(CONFLICT,    "conflicting change")                             \
    X(CAPACITY,    "no capacity")                                    \
    X(COHORT,      "infection cohort rule violated")                 \
    X(CLOSED,      "closed to admissions")                           \
    X(CORRUPT,     "data corrupt or tampered with")                  \
    X(PLUGIN,      "plugin error")                                   \
    X(TIMEOUT,     "deadline exceeded")                              \
    X(LIMIT,       "limit exceeded")                                 \
    X(DENIED,      "permission denied")                              \
    X(QUARANTINED, "plugin quarantined")                             \
    X(SIGNATURE,   "signature check failed")                         \
    X(UNSUPPORTED, "not supported")                                  \
    X(FULL,        "database or disk is full")                       \
    X(READONLY,    "database is read-only")                          \
    X(GONE,        "database file gone")

/* Positions first, so the public values can be their negatives. */
enum ct__errpos {
    CT__EPOS_OK,
#define X(name, msg) CT__EPOS_##name,
    CT_ERRNO_MAP(X)
#undef X
    CT__EPOS_MAX
};

typedef enum ct_err {
    CT_OK = 0,
#define X(name, msg) CT_E##name = -CT__EPOS_##name,
    CT_ERRNO_MAP(X)
#undef X
} ct_err;

/* Static text for a code; never NULL, "unknown error" for foreign values. */
const char *ct_strerror(int err);
/* Static symbolic name ("CT_ENOTFOUND"); never NULL. */
const char *ct_err_name(int err);

/* Translation at the borders. */
int ct_err_from_sqlite(int rc);
int ct_err_from_uv(int rc);

#endif
