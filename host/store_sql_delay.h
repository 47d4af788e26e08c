/*
 * Statements of delay.c: delay episodes. Joined through
 * store_sql_capacity.h.
 */
#ifndef CT_STORE_SQL_DELAY_H
#define CT_STORE_SQL_DELAY_H

#define CT_STMTS_DELAY(X)                                                    \
    X(DEL_REFERRAL,                                                          \
      "SELECT state, ready_date, discharged_at FROM referral WHERE id = ?1")  \
    /* The latest episode in force (nothing superseded it): the open one, \
     * or the last to end. */                                                \
    X(DEL_LAST,                                                              \
      "SELECT id, from_day, to_day FROM delay_episode"                       \
      " WHERE referral_id = ?1 AND superseded_by IS NULL"                    \
      " ORDER BY from_day DESC, id DESC LIMIT 1")                            \
    /* One episode, for a correction. */                                   \
    X(DEL_EPISODE,                                                           \
      "SELECT referral_id, reason, responsible_org, from_day, to_day,"       \
      "       superseded_by FROM delay_episode WHERE id = ?1")               \
    X(DEL_SUPERSEDE,                                                         \
      "UPDATE delay_episode SET superseded_by = ?2 WHERE id = ?1")           \
    X(DEL_CLOSE, "UPDATE delay_episode SET to_day = ?2 WHERE id = ?1")       \
    /* An episode: open (to_day NULL), or a correction's closed span. */   \
    X(DEL_INSERT,                                                            \
      "INSERT INTO delay_episode (referral_id, reason, reason_text,"         \
      "                           responsible_org, from_day, to_day,"        \
      "                           recorded_at, recorded_by)"                 \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")                            \
    /* An organisation with the kinds of facility it runs. */              \
    X(DEL_ORG,                                                               \
      "SELECT o.name,"                                                       \
      "       (SELECT json_group_array(DISTINCT f.kind) FROM facility f"     \
      "         WHERE f.org_id = o.id AND f.retired = 0)"                    \
      "  FROM organisation o WHERE o.id = ?1")                               \
    /* The spans of the episodes in force, for the bed-days lost that     \
     * metrics sum every quarter hour: DEL_LIST's corrected-episode look-up \
     * reads every episode of the area (no index on superseded_by), which  \
     * made those sums a third of a simulated winter (issue 20). */         \
    X(DEL_SPANS,                                                             \
      "SELECT id, reason, reason_text, responsible_org, from_day, to_day"    \
      "  FROM delay_episode WHERE referral_id = ?1"                          \
      "   AND superseded_by IS NULL"                                         \
      " ORDER BY from_day, id")                                              \
    /* The episodes in force (corrected ones are history), with the one  \
     * each corrected. Retrospective: recorded after the person left. */    \
    X(DEL_LIST,                                                              \
      "SELECT id, reason, reason_text, responsible_org, from_day, to_day,"   \
      "       recorded_at, recorded_by,"                                     \
      "       coalesce(recorded_at > (SELECT discharged_at FROM referral"    \
      "                                WHERE id = ?1), 0),"                  \
      "       (SELECT s.id FROM delay_episode s"                             \
      "         WHERE s.superseded_by = delay_episode.id)"                   \
      "  FROM delay_episode WHERE referral_id = ?1"                          \
      "   AND superseded_by IS NULL"                                         \
      " ORDER BY from_day, id")

#endif
