#include "log.h"

#include "error.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
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
    const char *quiet; /* ct_log_quiet's prefix, or NULL */
} logger = {CT_LOG_AUTO, CT_LOG_INFO, NULL, NULL};

/*
 * Identical warnings and errors (same level, unit and message; request
 * fields aside) are written once per REPEAT_WINDOW_MS: a failing disk
 * would otherwise write the same line for every request. The count of
 * those left out is written before the next record of that kind. The
 * thread pool's jobs log too, hence the mutex.
 */
#define REPEAT_WINDOW_MS 10000
static struct {
    pthread_mutex_t mu;
    ct_log_level level;
    char unit[32];
    char msg[512];
    int64_t first_ms;
    unsigned left_out;
} repeat = {.mu = PTHREAD_MUTEX_INITIALIZER};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ct_log_setup(ct_log_format format, ct_log_level min_level)
{
    logger.format = format;
    logger.min = min_level;
}

void ct_log_set_stream(void *stream)
{
    logger.stream = stream;
    /* A new stream (a test capturing the log) starts with no repeats. */
    pthread_mutex_lock(&repeat.mu);
    repeat.msg[0] = '\0';
    repeat.left_out = 0;
    pthread_mutex_unlock(&repeat.mu);
}

void ct_log_quiet(const char *prefix)
{
    logger.quiet = prefix;
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

static void write_record(ct_log_level level, const char *unit,
                         const char *const *kv, const char *msg);

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* false when the record is left out as a repeat. */
static bool admit(ct_log_level level, const char *unit, const char *msg)
{
    if (level < CT_LOG_WARN)
        return true;
    int64_t now = mono_ms();
    pthread_mutex_lock(&repeat.mu);
    bool same = repeat.level == level && strcmp(repeat.unit, unit) == 0 &&
                strncmp(repeat.msg, msg, sizeof repeat.msg - 1) == 0 &&
                strlen(msg) < sizeof repeat.msg;
    if (same && now - repeat.first_ms < REPEAT_WINDOW_MS) {
        repeat.left_out++;
        pthread_mutex_unlock(&repeat.mu);
        return false;
    }
    unsigned left_out = repeat.left_out;
    char lunit[32], lmsg[512];
    ct_log_level llevel = repeat.level;
    snprintf(lunit, sizeof lunit, "%s", repeat.unit);
    snprintf(lmsg, sizeof lmsg, "%s", repeat.msg);
    repeat.level = level;
    snprintf(repeat.unit, sizeof repeat.unit, "%s", unit);
    snprintf(repeat.msg, sizeof repeat.msg, "%s", msg);
    repeat.first_ms = now;
    repeat.left_out = 0;
    pthread_mutex_unlock(&repeat.mu);
    if (left_out) {
        char note[700];
        snprintf(note, sizeof note, "the previous message was repeated %u "
                 "more times (left out): %s", left_out, lmsg);
        write_record(llevel, lunit, NULL, note);
    }
    return true;
}

static void emit(ct_log_level level, const char *unit,
                 const char *const *kv, const char *fmt, va_list ap)
{
    char quieted[160];
    if (logger.quiet) {
        snprintf(quieted, sizeof quieted, "%s:%s", logger.quiet, unit);
        unit = quieted;
        level = CT_LOG_DEBUG;
    }
    if (level < logger.min)
        return;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (admit(level, unit, msg))
        write_record(level, unit, kv, msg);
}

static void write_record(ct_log_level level, const char *unit,
                         const char *const *kv, const char *msg)
{
    FILE *out = logger.stream ? logger.stream : stderr;

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
