/*
 * A referral's decision record (referral.h): the decision the pipeline
 * made, stored on the referral with its audit record, and what the
 * pipeline reads of the referral beyond ct_referral_get_json. The
 * referral unit owns the table; the pipeline only asks.
 */
#include "referral.h"

#include "area.h"
#include "log.h"
#include "error.h"
#include "json_canon.h"

#include <stdlib.h>

int ct_referral_set_decision(ct_capacity *c, int64_t id, const json_t *d,
                             const char *actor, ct_cap_error *err)
{
    /* One serialisation: the canonical text is what the row keeps, what
     * the audit event hashes and stores, and what the API sends
     * (ct_referral_decision_text). A quiet event's payload is only
     * written, so no copy of the decision (tens of kilobytes) is kept. */
    ct_buf text = {0};
    int rc = json_is_object(d) ? ct_json_canon(&text, d) : CT_EINVAL;
    if (rc) {
        ct_buf_free(&text);
        return ct_area__fail(err, rc, "cannot write the decision: %s",
                             ct_strerror(rc));
    }
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_REF_SET_DECISION, err);
    rc = CT_ESTORE;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, text.data, (int)text.len, SQLITE_STATIC);
        rc = ct_store__step_done(ct_area_store(c), st);
    }
    if (rc) {
        ct_buf_free(&text);
        return ct_area__fail(err, rc, "cannot store the decision");
    }
    /* Audited, not delivered: the capacity events of the decision (the
     * hold, the triage) are what subscribers hear. */
    rc = ct_events_record_text(ct_area_events(c), actor, "referral.decided",
                               text.data, text.len, CT_EVENT_QUIET, NULL);
    ct_buf_free(&text);
    return rc ? ct_area__fail(err, rc, "cannot append audit event")
              : 0;
}

int ct_referral_decision_text(ct_capacity *c, int64_t id, ct_buf *out,
                              ct_cap_error *err)
{
    sqlite3_stmt *st;
    int rc = ct_area__row(c, CT_STMT_REF_GET_DECISION, id,
                          "reading a decision", &st, err);
    if (rc)
        return rc;
    if (!st)
        return ct_area__fail(err, CT_ENOTFOUND, "referral %lld not found",
                             (long long)id);
    const char *text = (const char *)sqlite3_column_text(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    rc = text ? ct_buf_append(out, text, len) : 0;
    sqlite3_reset(st);
    if (!text)
        return ct_area__fail(err, CT_ENOTFOUND,
                             "referral %lld has no decision yet",
                             (long long)id);
    return rc ? ct_area__fail(err, rc, "out of memory") : 0;
}

int ct_referral_decision(ct_capacity *c, int64_t id, json_t **out,
                         ct_cap_error *err)
{
    *out = NULL;
    ct_buf text = {0};
    int rc = ct_referral_decision_text(c, id, &text, err);
    if (rc == 0) {
        *out = json_loadb(text.data, text.len, 0, NULL);
        if (!*out)
            rc = ct_area__fail(err, CT_ENOTFOUND,
                               "referral %lld has no decision yet",
                               (long long)id);
    }
    ct_buf_free(&text);
    return rc;
}

json_t *ct_referral_residence_json(ct_capacity *c, int64_t id)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_REF_RESIDENCE, NULL);
    json_t *residence = NULL;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW &&
            sqlite3_column_type(st, 0) != SQLITE_NULL)
            residence = json_string((const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
    }
    return residence ? residence : json_null();
}
