/*
 * A referral that changes (referral.h, ct_referral_update): its needs and
 * priority replaced, and an infection result added to what it reports,
 * each audited as referral.updated with what it replaces. Deciding it
 * again is intake's (ct_intake_update).
 */
#include "referral.h"

#include "area.h"
#include "log.h"
#include "error.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static json_t *needs_json(const char *const *needs, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(needs[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static int change(ct_capacity *c, int64_t id, const ct_referral_change *ch,
                  const char *actor, ct_cap_error *err)
{
    ct_referral ref;
    int rc = ct_referral_get(c, id, &ref, err);
    if (rc)
        return rc;
    if (ref.state != CT_REFERRAL_RECEIVED &&
        ref.state != CT_REFERRAL_TRIAGED &&
        ref.state != CT_REFERRAL_WAITING && ref.state != CT_REFERRAL_HELD)
        return ct_area__fail(err, CT_ESTATE,
                             "referral %" PRId64 " is %s; cannot update "
                             "it (only before placement)",
                             id, ct_referral_state_name(ref.state));
    ct_ref_row row;
    if ((rc = ct_referral__load(c, id, &row, err)))
        return rc;
    json_t *was = row.needs ? json_loads(row.needs, 0, NULL) : json_array();
    ct_referral__row_free(&row);
    json_t *payload = json_pack("{s:I}", "referral", (json_int_t)id);
    json_t *now = ch->set_needs ? needs_json(ch->needs, ch->nneeds) : NULL;
    char *text = now ? json_dumps(now, JSON_COMPACT) : NULL;
    if (!payload || !was || (ch->set_needs && !text)) {
        rc = ct_area__fail(err, CT_ENOMEM, "out of memory");
        goto done;
    }
    if (ch->set_needs)
        json_object_set_new(payload, "needs",
                            json_pack("{s:O, s:O}", "was", was, "now", now));
    if (ch->set_priority)
        json_object_set_new(payload, "priority",
                            json_pack("{s:i, s:i}", "was", ref.priority,
                                      "now", ch->priority));
    if (ch->pathogen) {
        json_t *rep = ch->report ? json_loads(ch->report, 0, NULL) : NULL;
        json_object_set_new(payload, "infection",
                            json_pack("{s:s, s:o}", "pathogen", ch->pathogen,
                                      "reported", rep ? rep : json_null()));
    }
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_REF_UPDATE, err);
    if (!st) {
        rc = CT_ESTORE;
        goto done;
    }
    sqlite3_bind_int64(st, 1, id);
    if (text)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    if (ch->set_priority)
        sqlite3_bind_int(st, 3, ch->priority);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, ct_clock_now(ct_area_clock(c)));
    if (ch->pathogen && ch->report) {
        sqlite3_bind_text(st, 5, ch->pathogen, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, ch->report, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 5);
        sqlite3_bind_null(st, 6);
    }
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    if (s != SQLITE_DONE) {
        rc = ct_area__dberr(c, err, s, "updating a referral");
        goto done;
    }
    rc = ct_area__emit(c, actor, "referral.updated", payload, err);
    payload = NULL;
done:
    json_decref(payload);
    json_decref(was);
    json_decref(now);
    free(text);
    return rc;
}

int ct_referral_update(ct_capacity *c, int64_t id,
                       const ct_referral_change *ch, const char *actor,
                       ct_cap_error *err)
{
    if (ch->set_needs && ch->nneeds > CT_REFERRAL_MAX_NEEDS)
        return ct_area__fail(err, CT_EINVAL, "more than %d needs",
                             CT_REFERRAL_MAX_NEEDS);
    for (size_t i = 0; ch->set_needs && i < ch->nneeds; i++)
        if (!ct_referral_tag_valid(ch->needs[i]))
            return ct_area__fail(err, CT_EINVAL, "need %zu is not a tag",
                                 i);
    if (ch->set_priority && (ch->priority < -CT_PRIORITY_MAX ||
                             ch->priority > CT_PRIORITY_MAX))
        return ct_area__fail(err, CT_EINVAL, "priority out of range");
    int rc;
    if ((rc = ct_area__check_text("actor", actor, 200, err)) ||
        (rc = ct_area__begin(c, err)))
        return rc;
    rc = change(c, id, ch, actor, err);
    return ct_area__finish(c, rc, err);
}
