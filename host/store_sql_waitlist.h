/*
 * Statements of the waiting list (capacity_waitlist.c): the referrals in state
 * waiting in the list's order (docs/plugins.md "The waiting list"),
 * priority first (larger first), then the discharge ready date (earlier
 * first), then arrival (id). Row values compare the key as one, so a
 * round resumes after its position. Joined into CT_STMTS_CAPACITY.
 */
#ifndef CT_STORE_SQL_WAITLIST_H
#define CT_STORE_SQL_WAITLIST_H

#define CT_STMTS_WAITLIST(X)                                                 \
    X(WAIT_AFTER,                                                            \
      "SELECT id, priority, ready_date, decided_pathway,"                    \
      "       json_extract(decision, '$.outcome'),"                          \
      "       json_extract(decision, '$.deferred'),"                         \
      "       json_extract(decision, '$.kinds')"                             \
      "  FROM referral"                                                      \
      " WHERE state = 'waiting' AND (-priority, ready_date, id) > (?1, ?2, ?3)" \
      " ORDER BY -priority, ready_date, id LIMIT ?4")                        \
    /* One referral still waiting, as WAIT_AFTER reads it. */             \
    X(WAIT_ONE,                                                              \
      "SELECT id, priority, ready_date, decided_pathway,"                    \
      "       json_extract(decision, '$.outcome'),"                          \
      "       json_extract(decision, '$.deferred'),"                         \
      "       json_extract(decision, '$.kinds')"                             \
      "  FROM referral WHERE id = ?1 AND state = 'waiting'")                 \
    /* A provider declined this referral (capacity.h,                     \
     * ct_capacity_decline): none of its beds is offered to it again; a     \
     * hold that expired unanswered: that bed is not. */                    \
    X(WAIT_DECLINED,                                                         \
      "SELECT 1 FROM assignment a"                                           \
      "  JOIN bed b ON b.id = a.bed_id JOIN zone z ON z.id = b.zone_id"       \
      "  JOIN facility f ON f.id = z.facility_id"                            \
      " WHERE a.referral_id = ?1 AND ((a.end_reason = 'expired'"             \
      "   AND a.bed_id = ?2) OR (a.end_reason = 'declined' AND f.org_id ="    \
      "   (SELECT f2.org_id FROM bed b2 JOIN zone z2 ON z2.id = b2.zone_id"  \
      "      JOIN facility f2 ON f2.id = z2.facility_id WHERE b2.id = ?2)))" \
      " LIMIT 1")                                                            \
    X(WAIT_ANY_DECLINED,                                                     \
      "SELECT count(*) FROM assignment WHERE referral_id = ?1"               \
      "   AND (end_reason = 'declined' OR end_reason = 'expired')")          \
    /* A referral that changes (referral_update.c): NULL keeps a value. */  \
    X(REF_UPDATE,                                                            \
      "UPDATE referral SET needs = coalesce(?2, needs),"                     \
      "       priority = coalesce(?3, priority), updated_at = ?4,"           \
      "       infections = CASE WHEN ?5 IS NULL THEN infections ELSE"        \
      "         json_set(coalesce(infections, '{}'), '$.\"' || ?5 || '\"',"  \
      "                  json(?6)) END"                                      \
      " WHERE id = ?1")                                                      \
    /* GET /v1/waiting-list: positions in the whole list, then the     \
     * caller's organisation's (?1, NULL: all) after position ?2. */       \
    X(WAIT_PAGE,                                                             \
      "SELECT id, pos, priority, ready_date, requested_pathway,"             \
      "       decided_pathway, from_org, nhs_number, needs,"                 \
      "       json_extract(decision, '$.outcome'),"                          \
      "       json_extract(decision, '$.deferred'),"                         \
      "       json_extract(decision, '$.why'),"                              \
      "       json_extract(decision, '$.reasons'), updated_at,"              \
      "       delay_reason, responsible_org"                                 \
      "  FROM (SELECT *, row_number() OVER"                                  \
      "          (ORDER BY -priority, ready_date, id) AS pos"                \
      "          FROM referral WHERE state = 'waiting')"                     \
      " WHERE (?1 IS NULL OR from_org = ?1) AND pos > ?2"                    \
      " ORDER BY pos LIMIT ?3")                                              \
    X(WAIT_COUNT, "SELECT count(*) FROM referral WHERE state = 'waiting'")   \
    X(WAIT_ANY, "SELECT 1 FROM referral WHERE state = 'waiting' LIMIT 1")

#endif
