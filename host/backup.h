/*
 * Backups and restores of an area's database (docs/operations.md).
 *
 * A backup is a consistent snapshot made with SQLite's VACUUM INTO on a
 * read-only connection of its own: one read transaction from start to
 * end, so writers carry on (WAL) and, unlike the online backup API, it
 * never starts again when they write. The copy's own chain_head is its
 * audit anchor, written beside it as "<copy>.audit-head"; the copy is
 * then checked (integrity_check and the whole chain against that anchor)
 * before it takes its final name. A failed backup leaves nothing under
 * the final name.
 *
 * A restore installs a verified backup in place of the database (the
 * file it replaces is kept beside it, renamed) and appends one audited
 * store.restored event recording the backup's head, the head it discards
 * and who restored, then re-anchors the head file on the new chain, so
 * that `audit verify` passes and shows the restore.
 *
 * The token store beside the database ("<db>.tokens", the named users'
 * hashed tokens) is copied beside a backup as "<copy>.tokens". A restore
 * keeps the current token store (a token revoked since the backup stays
 * revoked) and installs the backup's only where there is none.
 */
#ifndef CT_BACKUP_H
#define CT_BACKUP_H

#include "audit.h"
#include "store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ct_backup_report {
    ct_audit_anchor head;  /* the copy's chain head */
    int64_t events;        /* events in the copy */
    int64_t bytes;         /* size of the copy */
    double seconds;        /* wall time of the whole backup */
    bool tokens;           /* backup: the token store was copied beside
                              it; restore: the backup's was installed */
    char problem[320];     /* why it failed, when it did */
} ct_backup_report;

/*
 * Snapshots the database at db_path into out, which must not exist
 * (CT_EEXISTS). Works while a daemon writes to it. 0 with r filled once
 * the copy and "<out>.audit-head" are written, synced and verified;
 * otherwise a CT_E* code with r->problem saying why, and no out left.
 */
int ct_backup_make(const char *db_path, const char *out,
                   ct_backup_report *r);

/*
 * The same from an open store's own connection, outside a transaction:
 * the daemon rescues a database whose file was deleted or replaced this
 * way, since only its open connection still reaches the data. Blocks for
 * the copy's duration.
 */
int ct_backup_make_from(ct_store *s, const char *out, ct_backup_report *r);

/*
 * Checks a backup (or any database) without changing it: integrity_check
 * and the audit chain, against "<path>.audit-head" when there is one.
 * CT_ECORRUPT with r->problem when either fails.
 */
int ct_backup_verify(const char *path, ct_backup_report *r);

/*
 * Appends store.restored at time at (ms, host clock; never before the
 * chain's last event) in a transaction of its own, recording the store's
 * current head as the backup's, discarded (may be NULL: nothing was
 * discarded), from (the backup file, or a note) and by (who restored),
 * then rewrites the head file on the new head. Borrows everything.
 */
int ct_backup_record_restore(ct_store *s, int64_t at, const char *from,
                             const char *by,
                             const ct_audit_anchor *discarded);

/*
 * Restores backup over db_path: refuses (CT_EBUSY, r->problem names the
 * pid) while a daemon holds the database's lock, and holds it meanwhile;
 * verifies the backup; copies it beside the database, records the
 * restore there (the discarded head is read from the head file, else from
 * the old database); keeps the old files as "<db>.replaced-<time>" and
 * installs the copy and its head file. by names who restores.
 */
int ct_backup_restore(const char *backup, const char *db_path,
                      const char *by, ct_backup_report *r);

/* A plain copy of a file, synced: 0, CT_EFULL, CT_EIO. */
int ct_backup_copy_file(const char *from, const char *to);

/* Who runs this process, for store.restored: "user:NAME" (or uid). */
void ct_backup_who(char *out, size_t n);

#endif
