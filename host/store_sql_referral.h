/*
 * Statements of referral.c: referrals and the people they are for.
 * Joined through store_sql_capacity.h.
 */
#ifndef CT_STORE_SQL_REFERRAL_H
#define CT_STORE_SQL_REFERRAL_H

/* The columns of a referral read (REF_GET and REF_LIST share them). */
#define CT_SQL_REF_COLUMNS                                                   \
    "SELECT r.id, r.nhs_number, p.age, r.from_org, r.ready_date,"            \
    "       r.requested_pathway, r.decided_pathway, r.state, r.priority,"    \
    "       r.delay_reason, r.responsible_org, r.created_at, r.updated_at,"  \
    "       r.discharged_at, a.id, a.kind, a.bed_id, a.expires_at, p.needs," \
    "       p.usual_residence"                                               \
    "  FROM referral r"                                                      \
    "  JOIN person p ON p.nhs_number = r.nhs_number"                         \
    "  LEFT JOIN assignment a ON a.referral_id = r.id AND a.active = 1"

#define CT_STMTS_REFERRAL(X)                                                 \
    X(REF_ORG_EXISTS, "SELECT 1 FROM organisation WHERE id = ?1")            \
    X(REF_PERSON_UPSERT,                                                     \
      "INSERT INTO person (nhs_number, age, needs, usual_residence)"         \
      " VALUES (?1, ?2, ?3, ?4)"                                             \
      " ON CONFLICT (nhs_number) DO UPDATE"                                  \
      " SET age = coalesce(excluded.age, age), needs = excluded.needs,"      \
      "     usual_residence = coalesce(excluded.usual_residence,"            \
      "                                usual_residence)")                    \
    X(REF_BY_KEY,                                                            \
      "SELECT id FROM referral WHERE from_org = ?1 AND idempotency_key = ?2")\
    X(REF_INSERT,                                                            \
      "INSERT INTO referral (nhs_number, from_org, ready_date,"               \
      "                      requested_pathway, priority, created_at,"       \
      "                      updated_at, idempotency_key)"                   \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)")                            \
    X(REF_LOAD,                                                              \
      "SELECT r.state, r.nhs_number,"                                        \
      "       coalesce(r.decided_pathway, r.requested_pathway), p.needs"     \
      "  FROM referral r JOIN person p ON p.nhs_number = r.nhs_number"       \
      " WHERE r.id = ?1")                                                    \
    X(REF_SET_STATE,                                                         \
      "UPDATE referral SET state = ?3, updated_at = ?4"                      \
      " WHERE id = ?1 AND state = ?2")                                       \
    X(REF_TRIAGE,                                                            \
      "UPDATE referral SET decided_pathway = ?2, priority = ?3"              \
      " WHERE id = ?1")                                                      \
    X(REF_SET_DISCHARGED,                                                    \
      "UPDATE referral SET discharged_at = ?2 WHERE id = ?1")                \
    X(REF_SET_DELAY,                                                         \
      "UPDATE referral SET delay_reason = ?2, responsible_org = ?3,"         \
      "                    updated_at = ?4"                                  \
      " WHERE id = ?1")                                                      \
    X(REF_SET_READY,                                                         \
      "UPDATE referral SET ready_date = ?2, updated_at = ?3 WHERE id = ?1")  \
    X(REF_GET, CT_SQL_REF_COLUMNS " WHERE r.id = ?1")                        \
    X(REF_LIST,                                                              \
      CT_SQL_REF_COLUMNS                                                     \
      " WHERE (?1 IS NULL OR r.state = ?1) AND r.id > ?2"                    \
      " ORDER BY r.id LIMIT ?3")

#endif
