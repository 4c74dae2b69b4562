/*
 * log.h - one-line logging to stderr.
 *
 * log_warn appends strerror(errno); log_warnx does not.  fatal/fatalx log and
 * exit(1).  Nothing that holds a secret is ever passed to these functions.
 * log_init() also sends libevent's messages here ("libevent: ...").
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>

void log_init(int verbose);
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
