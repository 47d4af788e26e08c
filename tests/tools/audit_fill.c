/*
 * Test-only helper (not shipped): appends N audit events to the database
 * at DB, creating it if needed, one transaction per event, syncing the
 * head file after each commit as the daemon does. Used by
 * tests/integration/test_audit.sh to make chains without the daemon.
 *
 *   ct_audit_fill DB N
 */
#include "audit.h"
#include "error.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ct_audit_fill DB N\n");
        return 2;
    }
    char *end;
    long n = strtol(argv[2], &end, 10);
    if (*end || n < 0) {
        fprintf(stderr, "ct_audit_fill: bad count '%s'\n", argv[2]);
        return 2;
    }
    ct_store *s = NULL;
    int rc = ct_store_open(argv[1], NULL, &s);
    if (rc) {
        fprintf(stderr, "ct_audit_fill: %s: %s\n", argv[1], ct_strerror(rc));
        return 1;
    }
    for (long i = 0; i < n && !rc; i++) {
        json_t *p = json_pack("{s:s, s:i}", "bed", "demo-bed-1", "i", (int)i);
        if (!p)
            rc = CT_ENOMEM;
        if (!rc)
            rc = ct_store_begin(s);
        if (!rc)
            rc = ct_audit_append(s, 1795392000000LL + i * 60000,
                                 "org:demo-acute", "hold.created", p, NULL);
        if (!rc)
            rc = ct_store_commit(s);
        else
            ct_store_rollback(s);
        if (!rc)
            rc = ct_audit_sync_head(s);
        json_decref(p);
    }
    ct_store_close(s);
    if (rc) {
        fprintf(stderr, "ct_audit_fill: %s\n", ct_strerror(rc));
        return 1;
    }
    return 0;
}
