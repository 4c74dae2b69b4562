/*
 * log.c - one-line logging to stderr.
 *
 * Each line is logfmt ("level=warn event=NAME key=value ..." or
 * "level=warn msg=...") or with --log-format json one object, written with
 * a single fputs, so lines from different threads never interleave.  Owns
 * no state but the level and the format, which are set once before any
 * thread starts.  A message longer than the line buffer is cut, never
 * split over two lines; a pair that would not fit is left off whole.
 * Values are quoted and escaped here, not by callers, so that no value
 * (a Host header, a path) can end a line or pose as another pair.
 * libevent's own messages (evdns reading resolv.conf, a backend failing) are
 * routed here too, so every line on stderr has the same shape.
 */
#include <errno.h>
#include <sys/types.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/err.h>

#include "json.h"
#include "log.h"

#define LOG_MSG_MAX	1024
#define LOG_VALUE_MAX	512		/* bytes of one value, before escaping */
#define LOG_LINE_MAX	(LOG_MSG_MAX * JSON_ESCAPE_MAX + 128)

/* A line being built; what does not fit is not added. */
struct log_buf {
	char	 p[LOG_LINE_MAX];
	size_t	 len;
};

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

static void
log_put(struct log_buf *b, const char *s, size_t n)
{
	if (n < sizeof(b->p) - b->len) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
		b->p[b->len] = '\0';
	}
}

static void
log_puts(struct log_buf *b, const char *s)
{
	log_put(b, s, strlen(s));
}

/* "ts":"...", for the JSON lines. */
static void
log_put_ts(struct log_buf *b)
{
	struct timespec now;
	struct tm tm;
	char ts[64];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(now.tv_nsec / 1000000));
	log_puts(b, ts);
}

static int
log_needs_quotes(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	if (*p == '\0')
		return 1;
	for (; *p != '\0'; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == 0x7f)
			return 1;
	return 0;
}

/* v as a logfmt value: bare if it can be, else quoted and escaped. */
static void
log_text_value(char *out, size_t size, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n = 0;

	if (!log_needs_quotes(v)) {
		snprintf(out, size, "%s", v);
		return;
	}
	out[n++] = '"';
	for (; *p != '\0' && n + 6 < size; p++) {
		if (*p == '"' || *p == '\\') {
			out[n++] = '\\';
			out[n++] = (char)*p;
		} else if (*p == '\n' || *p == '\r' || *p == '\t') {
			out[n++] = '\\';
			out[n++] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
		} else if (*p < ' ' || *p == 0x7f)
			n += (size_t)snprintf(out + n, size - n, "\\x%02x", *p);
		else
			out[n++] = (char)*p;
	}
	out[n++] = '"';
	out[n] = '\0';
}

/* Level and message (the message an escaped value), in either format. */
static void
log_format_line(struct log_buf *b, const char *level, const char *msg)
{
	char esc[LOG_MSG_MAX * JSON_ESCAPE_MAX + 1];

	b->len = 0;
	b->p[0] = '\0';
	if (log_format == LOG_TEXT) {
		log_text_value(esc, sizeof(esc), msg);
		log_puts(b, "level=");
		log_puts(b, level);
		log_puts(b, " msg=");
		log_puts(b, esc);
		log_puts(b, "\n");
		return;
	}
	json_escape(esc, sizeof(esc), msg);
	log_put_ts(b);
	log_puts(b, ",\"level\":\"");
	log_puts(b, level);
	log_puts(b, "\",\"msg\":\"");
	log_puts(b, esc);
	log_puts(b, "\"}\n");
}

static void
log_vline(const char *level, const char *fmt, va_list ap, const char *suffix)
{
	struct log_buf line;
	char msg[LOG_MSG_MAX];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (suffix != NULL) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", suffix);
	}
	log_format_line(&line, level, msg);
	fputs(line.p, stderr);
}

/*
 * One conversion, at *fmt ('%'), of the next argument into out; *fmt moves
 * past it.  Only what log.h lists: printf proper would need fmt to be a
 * literal (-Wformat=2), and the compiler has checked the types already.
 */
static void
log_conv(const char **fmt, va_list *ap, char *out, size_t size, int *numeric)
{
	const char *p = *fmt + 1;
	int longs = 0, sz = 0, prec = -1, star = 0;
	intmax_t i;
	uintmax_t u;

	if (*p == '.') {
		p++;
		if (*p == '*') {
			star = 1;
			p++;
		} else
			for (prec = 0; *p >= '0' && *p <= '9'; p++)
				prec = prec * 10 + (*p - '0');
	}
	for (; *p == 'l' || *p == 'h' || *p == 'z' || *p == 'j' || *p == 't';
	    p++) {
		if (*p == 'l')
			longs++;
		else if (*p != 'h')
			sz = *p;
	}
	*numeric = 1;
	switch (*p) {
	case 'd':
	case 'i':
		i = sz == 'z' ? (intmax_t)va_arg(*ap, ssize_t) :
		    sz == 'j' ? va_arg(*ap, intmax_t) :
		    sz == 't' ? (intmax_t)va_arg(*ap, ptrdiff_t) :
		    longs >= 2 ? (intmax_t)va_arg(*ap, long long) :
		    longs == 1 ? (intmax_t)va_arg(*ap, long) :
		    (intmax_t)va_arg(*ap, int);
		snprintf(out, size, "%jd", i);
		break;
	case 'u':
	case 'x':
		u = sz == 'z' ? (uintmax_t)va_arg(*ap, size_t) :
		    sz == 'j' ? va_arg(*ap, uintmax_t) :
		    sz == 't' ? (uintmax_t)va_arg(*ap, ptrdiff_t) :
		    longs >= 2 ? (uintmax_t)va_arg(*ap, unsigned long long) :
		    longs == 1 ? (uintmax_t)va_arg(*ap, unsigned long) :
		    (uintmax_t)va_arg(*ap, unsigned);
		snprintf(out, size, *p == 'x' ? "%jx" : "%ju", u);
		*numeric = *p == 'u';
		break;
	case 'f':
	case 'g':
		if (*p == 'f')
			snprintf(out, size, "%.*f", prec >= 0 ? prec : 6,
			    va_arg(*ap, double));
		else
			snprintf(out, size, "%g", va_arg(*ap, double));
		break;
	case 'c':
		snprintf(out, size, "%c", (char)va_arg(*ap, int));
		*numeric = 0;
		break;
	case 's': {
		int n = star ? va_arg(*ap, int) : prec;
		const char *str = va_arg(*ap, const char *);

		if (str == NULL)
			str = "";
		snprintf(out, size, "%.*s", n >= 0 ? n : (int)size, str);
		*numeric = 0;
		break;
	}
	default:
		/* Not one log.h lists: a bug here, shown rather than hidden. */
		snprintf(out, size, "?");
		*numeric = 0;
		if (*p == '\0')
			p--;
		break;
	}
	*fmt = p + 1;
}

/*
 * The next "key=value" of *fmt: the key into key, the value (conversions
 * done) into val; *fmt moves past it.  0, or -1 at the end.
 */
static int
log_pair(const char **fmt, va_list *ap, char *key, size_t keysz, char *val,
    size_t valsz, int *numeric)
{
	const char *p = *fmt;
	char conv[LOG_VALUE_MAX + 1];
	size_t n = 0, k = 0;
	int convs = 0, num = 0;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return -1;
	for (; *p != '\0' && *p != '=' && *p != ' '; p++)
		if (k + 1 < keysz)
			key[k++] = *p;
	key[k] = '\0';
	if (*p == '=')
		p++;
	val[0] = '\0';
	while (*p != '\0' && *p != ' ') {
		if (*p == '%') {
			log_conv(&p, ap, conv, sizeof(conv), &num);
			convs++;
		} else {
			conv[0] = *p++;
			conv[1] = '\0';
			convs += 2;	/* literal text: not a bare number */
		}
		/* A long value is cut, not dropped. */
		n += (size_t)snprintf(val + n, valsz - n, "%s", conv);
		if (n >= valsz)
			n = valsz - 1;
	}
	*numeric = convs == 1 && num;
	*fmt = p;
	return 0;
}

/* One pair in the configured format, after the level and the event. */
static void
log_put_pair(struct log_buf *b, const char *key, const char *val, int numeric)
{
	char esc[LOG_VALUE_MAX * JSON_ESCAPE_MAX + 8];
	size_t need;

	if (log_format == LOG_TEXT)
		log_text_value(esc, sizeof(esc), val);
	else if (numeric && val[strspn(val, "-+.0123456789e")] == '\0')
		snprintf(esc, sizeof(esc), "%s", val);	/* not nan, inf */
	else {
		esc[0] = '"';
		need = json_escape(esc + 1, sizeof(esc) - 2, val);
		esc[need + 1] = '"';
		esc[need + 2] = '\0';
	}
	/* Whole or not at all, with room left for the line's end. */
	need = strlen(key) + strlen(esc) + 8;
	if (need > sizeof(b->p) - b->len)
		return;
	if (log_format == LOG_TEXT) {
		log_puts(b, " ");
		log_puts(b, key);
		log_puts(b, "=");
	} else {
		log_puts(b, ",\"");
		log_puts(b, key);	/* [a-z_]: nothing to escape */
		log_puts(b, "\":");
	}
	log_puts(b, esc);
}

static const char *
log_level_name(enum log_level level)
{
	return level == LOG_DEBUG ? "debug" : level == LOG_INFO ? "info" :
	    "warn";
}

void
log_event(enum log_level level, const char *name, const char *fmt, ...)
{
	struct log_buf line, *b = &line;
	char key[64], val[LOG_VALUE_MAX + 1];
	va_list ap;
	int numeric;

	if (level < log_level)
		return;
	b->len = 0;
	b->p[0] = '\0';
	if (log_format == LOG_TEXT) {
		log_puts(b, "level=");
		log_puts(b, log_level_name(level));
		log_puts(b, " event=");
		log_puts(b, name);
	} else {
		log_put_ts(b);
		log_puts(b, ",\"level\":\"");
		log_puts(b, log_level_name(level));
		log_puts(b, "\",\"event\":\"");
		log_puts(b, name);
		log_puts(b, "\"");
	}
	va_start(ap, fmt);
	while (log_pair(&fmt, &ap, key, sizeof(key), val, sizeof(val),
	    &numeric) == 0)
		log_put_pair(b, key, val, numeric);
	va_end(ap);
	/* log_put_pair() kept room for this. */
	log_puts(b, log_format == LOG_TEXT ? "\n" : "}\n");
	fputs(b->p, stderr);
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
		log_event(LOG_WARN, what, "err=%s", buf);
	}
}
