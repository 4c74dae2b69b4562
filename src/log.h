/*
 * log.h - one-line logging to stderr.
 *
 * log_warn appends strerror(errno); log_warnx does not.  fatal/fatalx log and
 * exit(1).  Nothing that holds a secret is ever passed to these functions.
 * log_init() also sends libevent's messages here ("libevent: ...").
 *
 * Two formats: text, "sluice: LEVEL message", and json, one object per line
 * {"ts": ISO 8601 UTC with milliseconds, "level", "msg"}.  Lines below the
 * level are dropped; fatal lines never are.
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
};

enum log_format {
	LOG_TEXT,
	LOG_JSON,
};

void log_init(enum log_level level, enum log_format format);
/* "debug", "info", "warn" -> 0 and *level; anything else -1. */
int log_level_parse(const char *s, enum log_level *level);
/* "text", "json" -> 0 and *format; anything else -1. */
int log_format_parse(const char *s, enum log_format *format);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Log the OpenSSL error queue (and clear it) after a warnx line. */
void log_ssl_errors(const char *what);

#endif
