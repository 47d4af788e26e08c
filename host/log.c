#include "log.h"

#include "error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static struct {
    ct_log_format format;
    ct_log_level min;
    FILE *stream;
} logger = {CT_LOG_AUTO, CT_LOG_INFO, NULL};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ct_log_setup(ct_log_format format, ct_log_level min_level)
{
    logger.format = format;
    logger.min = min_level;
}

void ct_log_set_stream(void *stream)
{
    logger.stream = stream;
}

int ct_log_parse_format(const char *s, ct_log_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = CT_LOG_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = CT_LOG_JSON;
    else if (strcmp(s, "auto") == 0)
        *out = CT_LOG_AUTO;
    else
        return CT_EINVAL;
    return 0;
}

int ct_log_parse_level(const char *s, ct_log_level *out)
{
    for (size_t i = 0; i < sizeof level_names / sizeof *level_names; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (ct_log_level)i;
            return 0;
        }
    }
    return CT_EINVAL;
}

static void emit(ct_log_level level, const char *unit,
                 const char *const *kv, const char *fmt, va_list ap)
{
    if (level < logger.min)
        return;
    FILE *out = logger.stream ? logger.stream : stderr;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);

    ct_log_format format = logger.format;
    if (format == CT_LOG_AUTO)
        format = isatty(fileno(out)) ? CT_LOG_TEXT : CT_LOG_JSON;
    if (format == CT_LOG_TEXT) {
        fprintf(out, "%s %-5s %s: %s", when, level_names[level], unit, msg);
        for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
            fprintf(out, " %s=%s", kv[i], kv[i + 1]);
        fputc('\n', out);
    } else {
        json_t *rec = json_pack("{s:s, s:s, s:s, s:s}", "ts", when, "level",
                                level_names[level], "unit", unit, "msg", msg);
        for (size_t i = 0; rec && kv && kv[i] && kv[i + 1]; i += 2)
            json_object_set_new(rec, kv[i], json_string(kv[i + 1]));
        char *line = rec ? json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII)
                         : NULL;
        if (line) {
            fprintf(out, "%s\n", line);
            free(line);
        }
        json_decref(rec);
    }
    fflush(out);
}

void ct_logv(ct_log_level level, const char *unit, const char *fmt, va_list ap)
{
    emit(level, unit, NULL, fmt, ap);
}

void ct_log_kv(ct_log_level level, const char *unit, const char *const *kv,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, unit, kv, fmt, ap);
    va_end(ap);
}

int ct_log_enabled(ct_log_level level)
{
    return level >= logger.min;
}

void ct_log(ct_log_level level, const char *unit, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ct_logv(level, unit, fmt, ap);
    va_end(ap);
}
