/*
 * Log shipping for a warm standby (docs/operations.md, "Warm standby"),
 * on SQLite's session extension (sqlite3session, built into Debian's
 * libsqlite3): no protocol of our own, only its changesets in a file.
 *
 * The primary (`caretide run --ship DIR`) starts a generation in DIR at
 * each start: "gen-<ms>/base.db" (a verified backup, made before it
 * serves) and "gen-<ms>/changes", to which each committed group's
 * changeset is appended as one record (a 4-byte big-endian length, then
 * the changeset) before the writers hear their answer; the file is
 * fsynced at most a second later. A process killed loses nothing that
 * was acknowledged (the kernel keeps the written file); a machine lost
 * loses at most that second.
 *
 * The standby (`caretide standby --from DIR --db FILE`) installs the
 * newest generation's base and applies its records in order with
 * sqlite3changeset_apply (triggers off: the primary's trigger effects are
 * in the changesets), following new records and new generations, until
 * SIGTERM or SIGINT; then FILE is an ordinary database for
 * `caretide run` (promotion).
 */
#ifndef CT_SHIP_H
#define CT_SHIP_H

#include "store.h"

#include <stdbool.h>

typedef struct ct_ship ct_ship;

/*
 * Starts a generation in dir for store s (borrowed; it must outlive the
 * shipper), outside any transaction: the base backup, the changes file,
 * the session. Logs why and returns a CT_E* code on failure.
 */
int ct_ship_start(ct_store *s, const char *dir, ct_ship **out);

/* After each successful commit: appends the changes since the previous
 * call. An error is logged; shipping then stops (the standby falls
 * behind, the primary serves on). */
int ct_ship_commit(ct_ship *sh);

/* Makes the changes file durable (the daemon calls it each second). */
void ct_ship_sync(ct_ship *sh);

/* Syncs and frees; NULL is harmless. */
void ct_ship_free(ct_ship *sh);

/*
 * A point in time to stop at (`standby --until-seq / --until`): the
 * newest audit event may not pass seq (when > 0) nor time at (when not
 * INT64_MAX). Each shipped record is one committed group, so the standby
 * stops after the last whole group within the target.
 */
typedef struct ct_ship_until {
    int64_t seq; /* 0: no limit */
    int64_t at;  /* ms; INT64_MAX: no limit */
} ct_ship_until;

/*
 * The standby loop: follows dir into db_path until *stop becomes true
 * (set from a signal handler), polling every poll_ms, or, with until (may
 * be NULL; borrowed), until the next record would pass it: then that
 * record is not applied and the loop returns 0 (point-in-time recovery).
 * Holds db_path's lock meanwhile, so no daemon runs on it. Returns 0
 * after a clean stop with everything available applied, or a CT_E* code
 * (logged); CT_EINVAL when the generation's base is already past until.
 */
int ct_ship_follow(const char *dir, const char *db_path, int poll_ms,
                   const ct_ship_until *until, volatile bool *stop);

#endif
