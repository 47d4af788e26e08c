/* Statements of host/pipeline.c (see store_sql.h). */
#ifndef CT_STORE_SQL_PIPELINE_H
#define CT_STORE_SQL_PIPELINE_H

#define CT_STMTS_PIPELINE(X)                                                 \
    X(PIPE_SET_DECISION, "UPDATE referral SET decision = ?2 WHERE id = ?1")  \
    X(PIPE_GET_DECISION, "SELECT decision FROM referral WHERE id = ?1")      \
    X(PIPE_PERSON, "SELECT p.age, p.needs, p.usual_residence FROM person p"  \
                   " JOIN referral r ON r.nhs_number = p.nhs_number"         \
                   " WHERE r.id = ?1")

#endif
