/*
 * The transaction state a store keeps beside its connection (store.c
 * embeds it, store_tx.c runs it). Private to those two files.
 */
#ifndef CT_STORE_TX_H
#define CT_STORE_TX_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>

/* Watchers per store: the area's event bus and capacity's index today. */
#define CT_STORE_MAX_WATCHERS 8

typedef struct ct_store_watch_slot {
    const ct_store_watcher *w; /* NULL: a free slot */
    void *data;
} ct_store_watch_slot;

/* One level: the transaction (level 0) or a savepoint inside it. marks[i]
 * is what watcher i's mark answered when the level opened. */
typedef struct ct_store_level {
    size_t marks[CT_STORE_MAX_WATCHERS];
} ct_store_level;

typedef struct ct_store_txs {
    ct_store_watch_slot watch[CT_STORE_MAX_WATCHERS];
    ct_store_level *levels; /* owned; depth of them are open */
    size_t depth, cap;
} ct_store_txs;

/* The state of s (store.c). */
ct_store_txs *ct_store__txs(ct_store *s);
/* Frees what the state owns (at close). */
void ct_store__txs_free(ct_store_txs *t);

#endif
