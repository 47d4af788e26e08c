/*
 * Logging. One line per record on stderr: readable text when stderr is a
 * terminal, JSON lines otherwise (or when forced with --log-format). The
 * "unit" names the subsystem (store, config, plugin:stepdown, http).
 */
#ifndef CT_LOG_H
#define CT_LOG_H

#include <stdarg.h>

typedef enum ct_log_level {
    CT_LOG_DEBUG,
    CT_LOG_INFO,
    CT_LOG_WARN,
    CT_LOG_ERROR,
} ct_log_level;

typedef enum ct_log_format {
    CT_LOG_AUTO,
    CT_LOG_TEXT,
    CT_LOG_JSON,
} ct_log_format;

void ct_log_setup(ct_log_format format, ct_log_level min_level);
/* Parses "text", "json", "auto"; returns 0 or CT_EINVAL. */
int ct_log_parse_format(const char *s, ct_log_format *out);
int ct_log_parse_level(const char *s, ct_log_level *out);

/* Redirects records (tests); NULL restores stderr. Not owned. */
void ct_log_set_stream(void *stream);

/*
 * While prefix is set, every record is written at debug level under
 * "prefix:unit" (a bundle's self-tests: what its tests make it log is
 * about demo data, not the area). NULL ends it. prefix is borrowed.
 */
void ct_log_quiet(const char *prefix);

#if defined(__GNUC__)
#define CT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CT_PRINTF(a, b)
#endif

void ct_log(ct_log_level level, const char *unit, const char *fmt, ...)
    CT_PRINTF(3, 4);
void ct_logv(ct_log_level level, const char *unit, const char *fmt,
             va_list ap);

/*
 * A record with extra fields: kv is a NULL-terminated list of key, value
 * string pairs (borrowed), written as JSON members after "msg" (or as
 * key=value after the text). For request logs: "req", the request id...
 */
void ct_log_kv(ct_log_level level, const char *unit, const char *const *kv,
               const char *fmt, ...) CT_PRINTF(4, 5);

/* Whether a record at level would be written (to skip costly formatting). */
int ct_log_enabled(ct_log_level level);

#define ct_log_debug(unit, ...) ct_log(CT_LOG_DEBUG, unit, __VA_ARGS__)
#define ct_log_info(unit, ...)  ct_log(CT_LOG_INFO, unit, __VA_ARGS__)
#define ct_log_warn(unit, ...)  ct_log(CT_LOG_WARN, unit, __VA_ARGS__)
#define ct_log_error(unit, ...) ct_log(CT_LOG_ERROR, unit, __VA_ARGS__)

#endif
