/* Statements of host/notify.c (see store_sql.h). */
#ifndef CT_STORE_SQL_NOTIFY_H
#define CT_STORE_SQL_NOTIFY_H

#define CT_NOTIFY_COLS                                                       \
    "id, event_seq, referral_id, org, event, state, created_at, status,"     \
    " attempts, next_at, done_at"

#define CT_STMTS_NOTIFY(X)                                                   \
    X(NOTIFY_INSERT,                                                         \
      "INSERT INTO notification (event_seq, referral_id, org, event, state," \
      " body, created_at, status, next_at)"                                  \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?7)")                 \
    X(NOTIFY_DUE, "SELECT id, event_seq, referral_id, org, event, body,"    \
                  " attempts FROM notification"                              \
                  " WHERE status = 'pending' AND next_at <= ?1"              \
                  " ORDER BY next_at, id LIMIT ?2")                          \
    X(NOTIFY_NEXT, "SELECT min(next_at) FROM notification"                   \
                   " WHERE status = 'pending' AND next_at > ?1")             \
    X(NOTIFY_ATTEMPT, "INSERT INTO notification_attempt (notification_id,"  \
                      " n, at, duration_ms, http_status, error, outcome)"    \
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")                \
    X(NOTIFY_SET, "UPDATE notification SET status = ?2, attempts = ?3,"     \
                  " next_at = ?4, done_at = ?5"                              \
                  " WHERE id = ?1 AND status = 'pending'")                   \
    X(NOTIFY_LIST, "SELECT " CT_NOTIFY_COLS " FROM notification"            \
                   " WHERE (?1 IS NULL OR status = ?1) AND id < ?2"          \
                   " ORDER BY id DESC LIMIT ?3")                             \
    X(NOTIFY_GET, "SELECT " CT_NOTIFY_COLS " FROM notification WHERE id = ?1") \
    X(NOTIFY_ATTEMPTS, "SELECT n, at, duration_ms, http_status, error,"     \
                       " outcome FROM notification_attempt"                  \
                       " WHERE notification_id = ?1 ORDER BY n")             \
    X(NOTIFY_COUNTS, "SELECT status, count(*) FROM notification"            \
                     " GROUP BY status")

#endif
