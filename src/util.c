/*
 * util.c - address formatting and parsing, clocks, lowercasing.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>

#include "util.h"

static int
util_mapped_v4(const struct sockaddr *sa, struct in_addr *v4)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return 0;
	memcpy(v4, &s6->sin6_addr.s6_addr[12], 4);
	return 1;
}

void
util_addr_ip(const struct sockaddr *sa, char *buf, size_t bufsz)
{
	struct in_addr v4;

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    buf, bufsz);
	else if (util_mapped_v4(sa, &v4))
		inet_ntop(AF_INET, &v4, buf, bufsz);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, bufsz);
	else
		snprintf(buf, bufsz, "?");
}

int
util_addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

socklen_t
util_addr_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

void
util_addr_str(const struct sockaddr *sa, char *buf, size_t bufsz)
{
	char ip[INET6_ADDRSTRLEN];
	struct in_addr v4;
	int v6;

	util_addr_ip(sa, ip, sizeof(ip));
	v6 = sa->sa_family == AF_INET6 && !util_mapped_v4(sa, &v4);
	snprintf(buf, bufsz, v6 ? "[%s]:%d" : "%s:%d", ip, util_addr_port(sa));
}

int
util_parse_addr(const char *s, int default_port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL, *end;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	char *ep;
	long p;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return -1;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return -1;
		s++;
	} else {
		end = strrchr(s, ':');
		if (end != NULL && strchr(s, ':') != end)
			end = NULL;	/* a bare IPv6 address */
		if (end != NULL)
			port = end + 1;
		else
			end = s + strlen(s);
	}
	if ((size_t)(end - s) >= sizeof(host))
		return -1;
	memcpy(host, s, end - s);
	host[end - s] = '\0';

	if (port != NULL) {
		p = strtol(port, &ep, 10);
		if (*port == '\0' || *ep != '\0' || p < 1 || p > 65535)
			return -1;
	} else if (default_port > 0)
		p = default_port;
	else
		return -1;

	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(p);
		*len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(p);
		*len = sizeof(*s6);
	} else
		return -1;
	return 0;
}

int
util_is_ip_literal(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

int
util_same_host(const char *a, const char *b)
{
	unsigned char x[sizeof(struct in6_addr)], y[sizeof(struct in6_addr)];
	int fam;

	if (strcasecmp(a, b) == 0)
		return 1;
	fam = strchr(a, ':') != NULL ? AF_INET6 : AF_INET;
	return inet_pton(fam, a, x) == 1 && inet_pton(fam, b, y) == 1 &&
	    memcmp(x, y, fam == AF_INET6 ? 16 : 4) == 0;
}

int64_t
util_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double
util_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

void
util_lowercase(char *dst, size_t dstsz, const char *src, size_t n)
{
	size_t i;

	if (dstsz == 0)
		return;
	for (i = 0; i < n && i + 1 < dstsz; i++)
		dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? src[i] + 32 : src[i];
	dst[i] = '\0';
}

void
util_copy(char *dst, size_t dstsz, const char *src, size_t n)
{
	if (dstsz == 0)
		return;
	if (n > dstsz - 1)
		n = dstsz - 1;
	if (n > 0)		/* src may be NULL then (a head never parsed) */
		memcpy(dst, src, n);
	dst[n] = '\0';
}

void
util_evbuffer_wipe_free(struct evbuffer *buf)
{
	struct evbuffer_iovec v[8];
	struct evbuffer_ptr pos;
	int i, n;

	if (buf == NULL)
		return;
	evbuffer_ptr_set(buf, &pos, 0, EVBUFFER_PTR_SET);
	while ((n = evbuffer_peek(buf, -1, &pos, v, 8)) > 0) {
		for (i = 0; i < n && i < 8; i++) {
			OPENSSL_cleanse(v[i].iov_base, v[i].iov_len);
			evbuffer_ptr_set(buf, &pos, v[i].iov_len, EVBUFFER_PTR_ADD);
		}
		if (n <= 8)
			break;
	}
	evbuffer_free(buf);
}

