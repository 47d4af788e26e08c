/*
 * Delay episodes (delay.h): the history of why a person waits past the
 * discharge ready date, and the walk that apportions delay days between
 * its episodes for the reports and metrics.
 */
#include "delay.h"

#include "area.h"
#include "log.h"
#include "clock.h"
#include "error.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int64_t ct_delay_day(const char *date)
{
    int64_t ms;
    char msg[8];
    if (ct_clock_parse_day(date, &ms, msg, sizeof msg))
        return -1;
    return ms / 86400000;
}

static bool code_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CT_DELAY_REASON_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_'))
            return false;
    return true;
}

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* The referral's state and ready date, failing once it has left unless
 * left (may be NULL) asks for the day it left: then a discharged or
 * completed referral gives that UK day in left (YYYY-MM-DD) and one still
 * in hospital gives "". A cancelled referral never takes a delay. */
static int load(ct_capacity *c, int64_t id, const char *verb, char ready[11],
                char left[11], ct_cap_error *err)
{
    sqlite3_stmt *st;
    int rc = ct_area__row(c, CT_STMT_DEL_REFERRAL, id, "reading a referral",
                          &st, err);
    if (rc)
        return rc;
    if (!st)
        return ct_area__fail(err, CT_ENOTFOUND,
                             "referral %" PRId64 " does not exist", id);
    char state[16];
    snprintf(state, sizeof state, "%s", col(st, 0) ? col(st, 0) : "");
    snprintf(ready, 11, "%s", col(st, 1) ? col(st, 1) : "");
    int64_t discharged_at = sqlite3_column_int64(st, 2);
    sqlite3_reset(st);
    bool gone = !strcmp(state, "discharged") || !strcmp(state, "completed");
    if (left) {
        left[0] = '\0';
        if (gone && discharged_at > 0)
            ct_clock_day_text(ct_clock_uk_day(discharged_at), left);
    }
    if ((gone && !(left && left[0])) || !strcmp(state, "cancelled"))
        return ct_area__fail(err, CT_ESTATE,
                             "referral %" PRId64 " is %s; cannot %s", id,
                             state, verb);
    return 0;
}

typedef struct last_ep {
    int64_t id; /* 0: none */
    char from[11], to[11]; /* to "" while open */
} last_ep;

static int last_episode(ct_capacity *c, int64_t id, last_ep *out,
                        ct_cap_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    int rc = ct_area__row(c, CT_STMT_DEL_LAST, id, "reading delay episodes",
                          &st, err);
    if (rc || !st)
        return rc;
    out->id = sqlite3_column_int64(st, 0);
    snprintf(out->from, sizeof out->from, "%s", col(st, 1));
    snprintf(out->to, sizeof out->to, "%s", col(st, 2) ? col(st, 2) : "");
    sqlite3_reset(st);
    return 0;
}

static int close_episode(ct_capacity *c, int64_t ep, const char *to,
                         ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_DEL_CLOSE, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, ep);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE
               ? 0
               : ct_area__dberr(c, err, rc, "ending a delay episode");
}

static void today(ct_capacity *c, char out[11])
{
    ct_clock_day_text(ct_clock_uk_day(ct_clock_now(ct_area_clock(c))), out);
}

/* Checks what can be checked without the store; sets *field. */
static int check_input(const ct_delay_input *in, const char **field,
                       ct_cap_error *err)
{
    char msg[120];
    int64_t ms;
    if (!in->reason || !code_ok(in->reason)) {
        *field = "reason";
        return ct_area__fail(err, CT_EINVAL,
                             "a delay reason is a code of 1 to %d "
                             "lower-case letters, digits and '_', not "
                             "'%s'",
                             CT_DELAY_REASON_MAX,
                             in->reason ? in->reason : "");
    }
    if (in->reason_text && strlen(in->reason_text) > CT_DELAY_TEXT_MAX) {
        *field = "reason";
        return ct_area__fail(err, CT_EINVAL,
                             "the reason's text is longer than %d bytes",
                             CT_DELAY_TEXT_MAX);
    }
    *field = "responsible_org";
    int rc = ct_area__check_text("responsible organisation",
                                 in->responsible_org, CT_CAP_ID_MAX - 1,
                                 err);
    if (rc)
        return rc;
    if (in->from && ct_clock_parse_day(in->from, &ms, msg, sizeof msg)) {
        *field = "from";
        return ct_area__fail(err, CT_EINVAL, "from: %s", msg);
    }
    *field = NULL;
    return 0;
}

typedef struct episode_row {
    int64_t referral, superseded_by;
    char reason[CT_DELAY_REASON_MAX + 1], org[CT_CAP_ID_MAX];
    char from[11], to[11]; /* to "" while open */
} episode_row;

static int read_episode(ct_capacity *c, int64_t ep, episode_row *out,
                        ct_cap_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    int rc = ct_area__row(c, CT_STMT_DEL_EPISODE, ep,
                          "reading a delay episode", &st, err);
    if (rc)
        return rc;
    if (!st)
        return CT_ENOTFOUND;
    out->referral = sqlite3_column_int64(st, 0);
    snprintf(out->reason, sizeof out->reason, "%s", col(st, 1));
    snprintf(out->org, sizeof out->org, "%s", col(st, 2));
    snprintf(out->from, sizeof out->from, "%s", col(st, 3));
    snprintf(out->to, sizeof out->to, "%s", col(st, 4) ? col(st, 4) : "");
    out->superseded_by = sqlite3_column_int64(st, 5);
    sqlite3_reset(st);
    return 0;
}

static int supersede(ct_capacity *c, int64_t ep, int64_t by,
                     ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_DEL_SUPERSEDE, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, ep);
    sqlite3_bind_int64(st, 2, by);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE
               ? 0
               : ct_area__dberr(c, err, rc, "correcting a delay");
}

/* A new episode of referral id with in's reason and organisation, from
 * the day from to the day to ("" while open), recorded by actor now; its
 * id in *ep. doing words a database error. */
static int insert_episode(ct_capacity *c, int64_t id,
                          const ct_delay_input *in, const char *from,
                          const char *to, const char *actor, int64_t *ep,
                          const char *doing, ct_cap_error *err)
{
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_DEL_INSERT, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, in->reason, -1, SQLITE_STATIC);
    if (in->reason_text)
        sqlite3_bind_text(st, 3, in->reason_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, in->responsible_org, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, from, -1, SQLITE_STATIC);
    if (to[0])
        sqlite3_bind_text(st, 6, to, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, ct_clock_now(ct_area_clock(c)));
    sqlite3_bind_text(st, 8, actor, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ct_area__dberr(c, err, rc, doing);
    *ep = sqlite3_last_insert_rowid(ct_store__db(ct_area_store(c)));
    return 0;
}

/* ct_delay_correct inside the change. */
static int correct(ct_capacity *c, int64_t id, int64_t episode,
                   const ct_delay_input *in, const char *actor,
                   const char **field, ct_cap_error *err)
{
    char ready[11], left[11];
    episode_row old;
    int rc;
    if ((rc = load(c, id, "correct a delay", ready, left, err)))
        return rc;
    if (in->from) {
        *field = "from";
        return ct_area__fail(err, CT_EINVAL,
                             "a correction keeps the days of the "
                             "episode it corrects; give no 'from'");
    }
    rc = read_episode(c, episode, &old, err);
    if (rc == CT_ENOTFOUND || (rc == 0 && old.referral != id)) {
        *field = "episode";
        return ct_area__fail(err, CT_EINVAL,
                             "referral %" PRId64 " has no delay episode "
                             "%" PRId64,
                             id, episode);
    }
    if (rc)
        return rc;
    if (old.superseded_by) {
        *field = "episode";
        return ct_area__fail(err, CT_EINVAL,
                             "delay episode %" PRId64 " was corrected "
                             "by episode %" PRId64 "; correct that one",
                             episode, old.superseded_by);
    }
    if ((rc = ct_area__org_exists(c, in->responsible_org, err))) {
        *field = "responsible_org";
        return rc;
    }
    /* Out of force first (a row naming itself for the moment): an open
     * episode and its correction may not both be open. */
    if ((rc = supersede(c, episode, episode, err)))
        return rc;
    int64_t ep;
    if ((rc = insert_episode(c, id, in, old.from, old.to, actor, &ep,
                             "correcting a delay", err)) ||
        (rc = supersede(c, episode, ep, err)))
        return rc;
    /* The open episode is the referral's current delay. */
    if (!old.to[0] &&
        (rc = ct_area__set_delay(c, id, in->reason, in->responsible_org,
                                 err)))
        return rc;
    return ct_area__emit(
        c, actor, "referral.delay_corrected",
        json_pack("{s:I, s:I, s:I, s:s, s:o, s:s, s:s, s:o, s:{s:s, s:s},"
                  " s:b}",
                  "referral", (json_int_t)id, "episode", (json_int_t)ep,
                  "supersedes", (json_int_t)episode, "reason",
                  in->reason, "text",
                  in->reason_text ? json_string(in->reason_text)
                                  : json_null(),
                  "responsible_org", in->responsible_org, "from", old.from,
                  "to", old.to[0] ? json_string(old.to) : json_null(),
                  "was", "reason", old.reason, "responsible_org", old.org,
                  "retrospective", left[0] != '\0'),
        err);
}

/* What starting and correcting a delay do first: *field cleared, the
 * input and the actor checked, the capacity's transaction begun. */
static int begin_change(ct_capacity *c, const ct_delay_input *in,
                        const char *actor, const char **field,
                        ct_cap_error *err)
{
    *field = NULL;
    int rc = check_input(in, field, err);
    if (!rc)
        rc = ct_area__check_text("actor", actor, 200, err);
    return rc ? rc : ct_area__begin(c, err);
}

int ct_delay_correct(ct_capacity *c, int64_t id, int64_t episode,
                     const ct_delay_input *in, const char *actor,
                     const char **field, ct_cap_error *err)
{
    const char *f_dummy;
    if (!field)
        field = &f_dummy;
    int rc = begin_change(c, in, actor, field, err);
    if (rc)
        return rc;
    rc = correct(c, id, episode, in, actor, field, err);
    return ct_area__finish(c, rc, err);
}

int ct_delay_start(ct_capacity *c, int64_t id, const ct_delay_input *in,
                   const char *actor, const char **field, ct_cap_error *err)
{
    const char *f_dummy;
    if (!field)
        field = &f_dummy;
    int rc = begin_change(c, in, actor, field, err);
    if (rc)
        return rc;
    char ready[11], now_day[11], from[11], left[11];
    today(c, now_day);
    last_ep last;
    if ((rc = load(c, id, "record a delay", ready, left, err)) ||
        (rc = last_episode(c, id, &last, err)))
        goto done;
    /* After discharge the delay is coded retrospectively, as the national
     * sitrep allows: its days end the day the person left. */
    bool retro = left[0] != '\0';
    if (retro && strcmp(ready, left) >= 0) {
        rc = ct_area__fail(err, CT_EINVAL,
                           "the person left hospital on %s, not after "
                           "the discharge ready date (%s): there is no "
                           "delay to record",
                           left, ready);
        goto done;
    }
    if (strcmp(ready, now_day) > 0) {
        rc = ct_area__fail(err, CT_EINVAL,
                           "the discharge ready date (%s) is after "
                           "today (%s): there is no delay to record yet",
                           ready, now_day);
        goto done;
    }
    /* The first reason covers the delay from its start; a later one
     * starts today, or after discharge corrects the latest from its first
     * day; either unless the caller says when. */
    snprintf(from, sizeof from, "%s",
             in->from    ? in->from
             : !last.id  ? ready
             : retro     ? last.from
                         : now_day);
    /* Dates as YYYY-MM-DD compare as text. */
    if (strcmp(from, ready) < 0) {
        *field = "from";
        rc = ct_area__fail(err, CT_EINVAL,
                           "a delay starts on or after the discharge "
                           "ready date (%s), not on %s",
                           ready, from);
        goto done;
    }
    if (retro && strcmp(from, left) >= 0) {
        *field = "from";
        rc = ct_area__fail(err, CT_EINVAL,
                           "the person left hospital on %s: a delay "
                           "coded afterwards starts before that day, "
                           "not on %s",
                           left, from);
        goto done;
    }
    if (strcmp(from, now_day) > 0) {
        *field = "from";
        rc = ct_area__fail(err, CT_EINVAL,
                           "a delay cannot start in the future (%s; "
                           "today is %s)",
                           from, now_day);
        goto done;
    }
    if ((rc = ct_area__org_exists(c, in->responsible_org, err))) {
        *field = "responsible_org";
        goto done;
    }
    if (last.id && strcmp(from, last.from) < 0) {
        *field = "from";
        rc = ct_area__fail(err, CT_EINVAL,
                           "the delay since %s is recorded; a new one "
                           "starts on or after it, not on %s (the "
                           "history is not rewritten)",
                           last.from, from);
        goto done;
    }
    /* The latest episode ends where this one starts: the open one, or a
     * closed one that ran past it. */
    if (last.id && (!last.to[0] || strcmp(last.to, from) > 0) &&
        (rc = close_episode(c, last.id, from, err)))
        goto done;
    int64_t ep;
    if ((rc = insert_episode(c, id, in, from, "", actor, &ep,
                             "recording a delay", err)) ||
        (rc = ct_area__set_delay(c, id, in->reason, in->responsible_org,
                                 err)))
        goto done;
    json_t *payload = json_pack(
        "{s:I, s:I, s:s, s:o, s:s, s:s, s:o}", "referral", (json_int_t)id,
        "episode", (json_int_t)ep, "reason", in->reason, "text",
        in->reason_text ? json_string(in->reason_text) : json_null(),
        "responsible_org", in->responsible_org, "from", from, "ended",
        last.id && !last.to[0] ? json_integer(last.id) : json_null());
    /* Coded after the person left: the event says so, and when they left
     * (the actor and the event's time say who and when). */
    if (payload && retro) {
        json_object_set_new(payload, "retrospective", json_true());
        json_object_set_new(payload, "left", json_string(left));
    }
    rc = ct_area__emit(c, actor, "referral.delay_set", payload, err);
done:
    return ct_area__finish(c, rc, err);
}

int ct_delay_end(ct_capacity *c, int64_t id, const char *to,
                 const char *actor, ct_cap_error *err)
{
    char msg[120], day[11], ready[11];
    int64_t ms;
    if (to && ct_clock_parse_day(to, &ms, msg, sizeof msg))
        return ct_area__fail(err, CT_EINVAL, "to: %s", msg);
    int rc;
    if ((rc = ct_area__check_text("actor", actor, 200, err)) ||
        (rc = ct_area__begin(c, err)))
        return rc;
    today(c, day);
    if (to)
        snprintf(day, sizeof day, "%s", to);
    last_ep last;
    if ((rc = load(c, id, "clear a delay", ready, NULL, err)) ||
        (rc = last_episode(c, id, &last, err)))
        goto done;
    if (!last.id || last.to[0]) {
        rc = ct_area__fail(err, CT_ESTATE,
                           "referral %" PRId64 " has no open delay", id);
        goto done;
    }
    if (strcmp(day, last.from) < 0) {
        rc = ct_area__fail(err, CT_EINVAL,
                           "the delay since %s cannot end before it, on "
                           "%s",
                           last.from, day);
        goto done;
    }
    if ((rc = close_episode(c, last.id, day, err)) ||
        (rc = ct_area__set_delay(c, id, NULL, NULL, err)))
        goto done;
    rc = ct_area__emit(c, actor, "referral.delay_cleared",
                       json_pack("{s:I, s:I, s:s}", "referral",
                                 (json_int_t)id, "episode",
                                 (json_int_t)last.id, "to", day),
                       err);
done:
    return ct_area__finish(c, rc, err);
}

int ct_delay_spans(ct_capacity *c, int64_t id, int64_t ready_day,
                   int64_t end_day, ct_delay_span_fn fn, void *ud,
                   ct_cap_error *err)
{
    if (end_day <= ready_day)
        return 0;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_DEL_SPANS, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    int64_t cur = ready_day;
    int rc, urc = 0;
    while (!urc && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t from = ct_delay_day(col(st, 4));
        int64_t to = col(st, 5) ? ct_delay_day(col(st, 5)) : INT64_MAX;
        if (from < 0 || to < 0)
            continue; /* the schema's CHECK and delay_start keep them dates */
        if (from < cur)
            from = cur;
        if (to > end_day)
            to = end_day;
        if (from >= to)
            continue;
        if (from > cur) {
            ct_delay_span gap = {NULL, NULL, NULL, cur, from};
            if ((urc = fn(ud, &gap)))
                break;
        }
        ct_delay_span s = {col(st, 1), col(st, 2), col(st, 3), from, to};
        urc = fn(ud, &s);
        cur = to;
    }
    if (!urc && rc != SQLITE_DONE) {
        sqlite3_reset(st);
        return ct_area__dberr(c, err, rc, "reading delay episodes");
    }
    sqlite3_reset(st);
    if (urc)
        return urc;
    if (cur < end_day) {
        ct_delay_span gap = {NULL, NULL, NULL, cur, end_day};
        return fn(ud, &gap);
    }
    return 0;
}

int ct_delay_episodes_json(ct_capacity *c, int64_t id, int64_t ready_day,
                           int64_t end_day, json_t **out, ct_cap_error *err)
{
    *out = NULL;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_DEL_LIST, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    json_t *a = json_array();
    int rc;
    while (a && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        /* Episodes do not overlap, so an episode's days are its overlap
         * with the delay days. */
        int64_t from = ct_delay_day(col(st, 4));
        int64_t to = col(st, 5) ? ct_delay_day(col(st, 5)) : INT64_MAX;
        if (from < ready_day)
            from = ready_day;
        if (to > end_day)
            to = end_day;
        if (json_array_append_new(
                a, json_pack("{s:I, s:s, s:o, s:s, s:s, s:o, s:I, s:I, s:o,"
                             " s:b}",
                             "id", (json_int_t)sqlite3_column_int64(st, 0),
                             "reason", col(st, 1), "text",
                             col(st, 2) ? json_string(col(st, 2))
                                        : json_null(),
                             "responsible_org", col(st, 3), "from",
                             col(st, 4), "to",
                             col(st, 5) ? json_string(col(st, 5))
                                        : json_null(),
                             "days", (json_int_t)(to > from ? to - from : 0),
                             "recorded_at",
                             (json_int_t)sqlite3_column_int64(st, 6),
                             "recorded_by",
                             col(st, 7) ? json_string(col(st, 7))
                                        : json_null(),
                             "retrospective",
                             sqlite3_column_int(st, 8) != 0)) ||
            json_object_set_new(
                json_array_get(a, json_array_size(a) - 1), "supersedes",
                sqlite3_column_type(st, 9) == SQLITE_NULL
                    ? json_null()
                    : json_integer(sqlite3_column_int64(st, 9)))) {
            json_decref(a);
            a = NULL;
        }
    }
    sqlite3_reset(st);
    if (!a)
        return ct_area__fail(err, CT_ENOMEM, "out of memory");
    if (rc != SQLITE_DONE) {
        json_decref(a);
        return ct_area__dberr(c, err, rc, "reading delay episodes");
    }
    *out = a;
    return 0;
}

int ct_delay_org_json(ct_capacity *c, const char *org, json_t **out,
                      ct_cap_error *err)
{
    *out = NULL;
    sqlite3_stmt *st = ct_area__stmt(c, CT_STMT_DEL_ORG, err);
    if (!st)
        return CT_ESTORE;
    sqlite3_bind_text(st, 1, org, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        json_t *kinds = json_loads(col(st, 1) ? col(st, 1) : "[]", 0, NULL);
        *out = json_pack("{s:s, s:s, s:o}", "id", org, "name", col(st, 0),
                         "facility_kinds", kinds ? kinds : json_array());
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return ct_area__fail(err, CT_ENOTFOUND,
                             "organisation %s does not exist", org);
    if (rc != SQLITE_ROW)
        return ct_area__dberr(c, err, rc, "reading an organisation");
    return *out ? 0 : ct_area__fail(err, CT_ENOMEM, "out of memory");
}
