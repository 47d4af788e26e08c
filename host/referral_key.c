/*
 * Idempotency keys of referrals (referral_key.h).
 */
#include "referral_key.h"

#include "area.h"
#include "log.h"
#include "error.h"

#include <inttypes.h>
#include <string.h>

int ct_referral_key_find(ct_capacity *c, const char *org, const char *key,
                         int64_t *id, uint8_t sha[32], bool *has_sha,
                         ct_cap_error *err)
{
    *id = 0;
    *has_sha = false;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_REFKEY_FIND, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        if (sqlite3_column_bytes(st, 1) == 32) {
            memcpy(sha, sqlite3_column_blob(st, 1), 32);
            *has_sha = true;
        }
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = CT_ENOTFOUND;
    } else {
        rc = ct_area__dberr(c, err, rc, "reading an idempotency key");
    }
    sqlite3_reset(st);
    return rc;
}

int ct_referral_key_set_sha(ct_capacity *c, int64_t id, const uint8_t sha[32],
                            ct_cap_error *err)
{
    if (!ct_store_in_transaction(ct_area_store(c)))
        return ct_area__fail(err, CT_ESTATE,
                             "a request fingerprint is written inside "
                             "the referral's transaction");
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_REFKEY_SET, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_blob(st, 2, sha, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ct_area__dberr(c, err, rc, "recording a request fingerprint");
    if (sqlite3_changes(ct_store__db(ct_area_store(c))) != 1)
        return ct_area__fail(err, CT_ENOTFOUND,
                             "referral %" PRId64 " does not exist", id);
    return 0;
}
