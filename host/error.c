#include "error.h"

#include <sqlite3.h>
#include <uv.h>

static const char *const messages[CT__EPOS_MAX] = {
    [CT__EPOS_OK] = "success",
#define X(name, msg) [CT__EPOS_##name] = msg,
    CT_ERRNO_MAP(X)
#undef X
};

static const char *const names[CT__EPOS_MAX] = {
    [CT__EPOS_OK] = "CT_OK",
#define X(name, msg) [CT__EPOS_##name] = "CT_E" #name,
    CT_ERRNO_MAP(X)
#undef X
};

const char *ct_strerror(int err)
{
    if (err > 0 || -err >= CT__EPOS_MAX)
        return "unknown error";
    return messages[-err];
}

const char *ct_err_name(int err)
{
    if (err > 0 || -err >= CT__EPOS_MAX)
        return "CT_EUNKNOWN";
    return names[-err];
}

int ct_err_from_sqlite(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return CT_OK;
    case SQLITE_NOMEM:
        return CT_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return CT_EBUSY;
    case SQLITE_CONSTRAINT:
        return CT_ECONFLICT;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return CT_ECORRUPT;
    case SQLITE_FULL:
        return CT_EFULL;
    case SQLITE_READONLY:
        return CT_EREADONLY;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        return CT_EIO;
    default:
        return CT_ESTORE;
    }
}

int ct_err_from_uv(int rc)
{
    switch (rc) {
    case 0:
        return CT_OK;
    case UV_ENOMEM:
        return CT_ENOMEM;
    case UV_EINVAL:
        return CT_EINVAL;
    case UV_ENOENT:
        return CT_ENOTFOUND;
    case UV_EEXIST:
    case UV_EADDRINUSE:
        return CT_EEXISTS;
    case UV_EACCES:
    case UV_EPERM:
        return CT_EDENIED;
    case UV_ETIMEDOUT:
        return CT_ETIMEOUT;
    default:
        return CT_EIO;
    }
}
