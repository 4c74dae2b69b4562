/*
 * log.c - one-line logging to stderr.
 *
 * Each line is "sluice: LEVEL message", or with --log-format json one object
 * {"ts","level","msg"}, written with a single fputs, so lines from different
 * threads never interleave.  Owns no state but the level and the format,
 * which are set once before any thread starts.  A message longer than the
 * line buffer is cut, never split over two lines.
 * libevent's own messages (evdns reading resolv.conf, a backend failing) are
 * routed here too, so every line on stderr has the same shape.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/err.h>

#include "json.h"
#include "log.h"

#define LOG_MSG_MAX	1024

static enum log_level	log_level = LOG_INFO;
static enum log_format	log_format = LOG_TEXT;

/*
 * No fatal callback: libevent logs why through this one (EVENT_LOG_ERR)
 * before it exits, or aborts on a broken internal assertion, which keeps
 * the core dump that such a bug needs.
 */
static void
log_libevent(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

void
log_init(enum log_level level, enum log_format format)
{
	log_level = level;
	log_format = format;
	event_set_log_callback(log_libevent);
}

int
log_level_parse(const char *s, enum log_level *level)
{
	if (strcmp(s, "debug") == 0)
		*level = LOG_DEBUG;
	else if (strcmp(s, "info") == 0)
		*level = LOG_INFO;
	else if (strcmp(s, "warn") == 0)
		*level = LOG_WARN;
	else
		return -1;
	return 0;
}

int
log_format_parse(const char *s, enum log_format *format)
{
	if (strcmp(s, "text") == 0)
		*format = LOG_TEXT;
	else if (strcmp(s, "json") == 0)
		*format = LOG_JSON;
	else
		return -1;
	return 0;
}

/* The line for level and msg, in the configured format, into buf. */
static void
log_format_line(char *buf, size_t size, const char *level, const char *msg)
{
	char esc[LOG_MSG_MAX * JSON_ESCAPE_MAX + 1];
	struct timespec now;
	struct tm tm;

	if (log_format == LOG_TEXT) {
		snprintf(buf, size, "sluice: %s %s\n", level, msg);
		return;
	}
	json_escape(esc, sizeof(esc), msg);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(buf, size, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\","
	    "\"level\":\"%s\",\"msg\":\"%s\"}\n", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int)(now.tv_nsec / 1000000), level, esc);
}

static void
log_vline(const char *level, const char *fmt, va_list ap, const char *suffix)
{
	char msg[LOG_MSG_MAX], line[LOG_MSG_MAX * JSON_ESCAPE_MAX + 128];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (suffix != NULL) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", suffix);
	}
	log_format_line(line, sizeof(line), level, msg);
	fputs(line, stderr);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_level > LOG_INFO)
		return;
	va_start(ap, fmt);
	log_vline("info", fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_level > LOG_DEBUG)
		return;
	va_start(ap, fmt);
	log_vline("debug", fmt, ap, NULL);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vline("warn", fmt, ap, strerror(saved));
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline("warn", fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vline("fatal", fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline("fatal", fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

void
log_ssl_errors(const char *what)
{
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warnx("%s: %s", what, buf);
	}
}
