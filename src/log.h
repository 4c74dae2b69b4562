/*
 * log.h - one-line logging to stderr.
 *
 * log_warn appends strerror(errno); log_warnx does not.  fatal/fatalx log and
 * exit(1).  Nothing that holds a secret is ever passed to these functions.
 * log_init() also sends libevent's messages here ("libevent: ...").
 *
 * An event is a name and key=value pairs (log_event()); a message is free
 * text (log_warnx() and friends: libevent's lines, fatal errors).  Two
 * formats: text, logfmt,
 *
 *	level=warn event=upstream_verify_failed host=api.test err="..."
 *	level=warn msg="libevent: ..."
 *
 * and json, one object per line: {"ts": ISO 8601 UTC with milliseconds,
 * "level", "event", then the pairs} or {"ts", "level", "msg"}.  A value is
 * quoted when it is empty or holds a space, '"', '=' or a control
 * character, and control characters are escaped, so a value that came from
 * the network (a Host, a path) can neither end the line nor pass for
 * another key.  Lines below the level are dropped; fatal lines never are.
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

/*
 * One event line: name (a fixed [a-z_] word) and pairs in fmt, written
 * "key=VALUE key=VALUE", each VALUE a printf conversion or literal text
 * without spaces; the conversions supported are %s (and %.*s), %c, %d %i
 * %u %x with the h, hh, l, ll, z, j and t modifiers, and %f %g (and %.Nf).
 * A value that is a single number conversion is a JSON number.
 */
void log_event(enum log_level level, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* The OpenSSL error queue (cleared) as warn events named what, err=REASON. */
void log_ssl_errors(const char *what);

#endif
