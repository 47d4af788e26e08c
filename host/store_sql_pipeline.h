/* Statements of host/pipeline.c (see store_sql.h). */
#ifndef CT_STORE_SQL_PIPELINE_H
#define CT_STORE_SQL_PIPELINE_H

#define CT_STMTS_PIPELINE(X)                                                 \
    X(PIPE_SET_DECISION, "UPDATE referral SET decision = ?2 WHERE id = ?1")  \
    X(PIPE_GET_DECISION, "SELECT decision FROM referral WHERE id = ?1")      \
    X(PIPE_PERSON, "SELECT r.age, r.needs, r.usual_residence FROM referral r"\
                   " WHERE r.id = ?1")

#endif
