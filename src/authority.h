/*
 * authority.h - the one reading of a request's authority, whichever way it
 * came: an HTTP/1.1 Host field, an absolute-form or CONNECT target, an
 * HTTP/2 :authority (or host).  Pure, no allocation.
 *
 * Every listener asks the same questions of it, so a spelling cannot be
 * refused on one and let through on another: is it host [":" port] in the
 * narrow grammar below (else 400), does the host name what the connection
 * was verified for (else 421), and does the port, when given, name the
 * port the client connected to (else 421: a request for another port is
 * for another origin, which an upstream routing on Host:port could serve
 * from another backend with this rule's credentials).  What the upstream
 * gets is then written by authority_format() from the verified name and
 * port, never from the client's spelling.
 */
#ifndef SLUICE_AUTHORITY_H
#define SLUICE_AUTHORITY_H

#include <stddef.h>

#include "config.h"

#define AUTHORITY_HTTPS_PORT	443
/* "[" v6 "]" ":" port, with NUL */
#define AUTHORITY_MAX		(CONFIG_HOST_MAX + 8)

struct authority {
	char	 host[CONFIG_HOST_MAX];	/* lowercased, no brackets, no
					   trailing dot */
	int	 port;			/* 0: none given */
};

enum authority_verdict {
	AUTHORITY_OK = 0,
	AUTHORITY_MALFORMED,		/* 400 */
	AUTHORITY_OTHER_HOST,		/* 421 */
	AUTHORITY_OTHER_PORT,		/* 421 */
};

/*
 * p[0..len) as host [":" port]: the host a DNS name (ALPHA, DIGIT, '-',
 * '.', '_'; at most one trailing dot), an IPv4 address or a bracketed IPv6
 * literal; the port 1 to 5 digits, 1-65535.  Narrower than RFC 3986 on
 * purpose: userinfo, percent-encoding, sub-delims or an empty port only
 * serve to make two readers disagree about which host is meant.  a may be
 * NULL.  0, or -1 (a left undefined).
 */
int authority_parse(const char *p, size_t len, struct authority *a);

/*
 * May a request whose authority is p[0..len) ride on a connection
 * verified for name (the SNI, else the CONNECT host, else the destination
 * address) on port?  The host must be name (any case, one trailing dot,
 * any spelling of the same IP address); a port, when given, must be port.
 */
enum authority_verdict authority_check(const char *p, size_t len,
    const char *name, int port);

/*
 * The authority sent upstream for name and port: name (an IPv6 address
 * in brackets), then ":port" unless port is 443.  out has AUTHORITY_MAX
 * bytes.
 */
void authority_format(char *out, const char *name, int port);

#endif
