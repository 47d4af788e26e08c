/* Statements of host/kv.c (see store_sql.h). */
#ifndef CT_STORE_SQL_KV_H
#define CT_STORE_SQL_KV_H

#define CT_STMTS_KV(X)                                                       \
    X(KV_GET, "SELECT value FROM plugin_kv WHERE plugin = ?1 AND key = ?2")  \
    X(KV_PUT, "INSERT INTO plugin_kv (plugin, key, value) VALUES (?1, ?2, ?3)" \
              " ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value") \
    X(KV_DELETE, "DELETE FROM plugin_kv WHERE plugin = ?1 AND key = ?2")     \
    X(KV_KEYS, "SELECT key FROM plugin_kv WHERE plugin = ?1 ORDER BY key")   \
    X(KV_USAGE, "SELECT coalesce(sum(length(CAST(key AS BLOB)) +"            \
                " length(CAST(value AS BLOB))), 0) FROM plugin_kv"           \
                " WHERE plugin = ?1 AND key <> ?2")

#endif
