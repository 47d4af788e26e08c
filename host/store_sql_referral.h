/*
 * Statements of referral.c: referrals and the people they are for.
 * Joined through store_sql_capacity.h.
 */
#ifndef CT_STORE_SQL_REFERRAL_H
#define CT_STORE_SQL_REFERRAL_H

/* The columns of a referral read (REF_GET and REF_LIST share them). */
#define CT_SQL_REF_COLUMNS                                                   \
    "SELECT r.id, r.nhs_number, r.age, r.from_org, r.ready_date,"            \
    "       r.requested_pathway, r.decided_pathway, r.state, r.priority,"    \
    "       r.delay_reason, r.responsible_org, r.created_at, r.updated_at,"  \
    "       r.discharged_at, a.id, a.kind, a.bed_id, a.expires_at, r.needs," \
    "       r.usual_residence, r.infections"                                 \
    "  FROM referral r"                                                      \
    "  LEFT JOIN assignment a ON a.referral_id = r.id AND a.active = 1"

/* ct_referral_find_json's narrowing filters: ?4 a decided pathway, ?5 a
 * time discharged before (NULL: any). */
#define CT_SQL_REF_FILTER                                                    \
    " AND (?4 IS NULL OR r.decided_pathway = ?4)"                            \
    " AND (?5 IS NULL OR r.discharged_at < ?5)"

#define CT_STMTS_REFERRAL(X)                                                 \
    X(REF_ORG_EXISTS, "SELECT 1 FROM organisation WHERE id = ?1")            \
    X(REF_PERSON_ENSURE,                                                     \
      "INSERT INTO person (nhs_number) VALUES (?1)"                          \
      " ON CONFLICT (nhs_number) DO NOTHING")                                \
    /* The person's active referral, if any: one not yet discharged, or   \
     * discharged into a bed it still occupies (one per person). */         \
    X(REF_ACTIVE_FOR_PERSON,                                                 \
      "SELECT r.id, r.from_org FROM referral r"                              \
      " WHERE r.nhs_number = ?1 AND (r.state = 'received' OR"                \
      "       r.state = 'triaged' OR r.state = 'waiting' OR"                 \
      "       r.state = 'held' OR r.state = 'placed' OR"                     \
      "       (r.state = 'discharged' AND EXISTS (SELECT 1 FROM assignment a"\
      "         WHERE a.referral_id = r.id AND a.active = 1)))"              \
      " ORDER BY r.id LIMIT 1")                                              \
    X(REF_BY_KEY,                                                            \
      "SELECT id FROM referral WHERE from_org = ?1 AND idempotency_key = ?2")\
    X(REF_INSERT,                                                            \
      "INSERT INTO referral (nhs_number, from_org, ready_date,"               \
      "                      requested_pathway, priority, created_at,"       \
      "                      updated_at, idempotency_key, age, needs,"       \
      "                      usual_residence, infections)"                   \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10, ?11)")          \
    X(REF_LOAD,                                                              \
      "SELECT r.state, r.nhs_number,"                                        \
      "       coalesce(r.decided_pathway, r.requested_pathway), r.needs"     \
      "  FROM referral r"                                                    \
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
    /* Two statements, not "?1 IS NULL OR r.state = ?1": with the OR the \
     * planner walks every referral ever made from ?2 on; by state it     \
     * reads the state's rows through referral_by_state (plugins list the \
     * few in hospital every quarter hour, among thousands completed).    */\
    X(REF_LIST,                                                              \
      CT_SQL_REF_COLUMNS                                                     \
      " WHERE r.state = ?1 AND r.id > ?2" CT_SQL_REF_FILTER                  \
      " ORDER BY r.id LIMIT ?3")                                             \
    X(REF_LIST_ALL,                                                          \
      CT_SQL_REF_COLUMNS " WHERE r.id > ?2" CT_SQL_REF_FILTER                \
      " ORDER BY r.id LIMIT ?3")                                             \
    /* The decision record (referral_decision.c). */                       \
    X(REF_SET_DECISION, "UPDATE referral SET decision = ?2 WHERE id = ?1")   \
    X(REF_GET_DECISION, "SELECT decision FROM referral WHERE id = ?1")       \
    X(REF_RESIDENCE, "SELECT usual_residence FROM referral WHERE id = ?1")

#endif
