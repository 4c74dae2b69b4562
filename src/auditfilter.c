/*
 * auditfilter.c - which audit rows an operator asked tools/sluice-audit for.
 *
 * Owns the meaning of the reader's filters (--host, --decision, --client,
 * --rule) and of its durations (--since); the tool runs the filter inside
 * SQLite as a function, so what is matched here is what every command
 * shows.  Pure functions: no I/O, no state.
 *
 * A client in the audit is 'ip:port' or '[ipv6]:port'; --client names the
 * address alone, and both are compared as addresses (inet_pton), so the
 * spelling of an IPv6 address does not matter.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auditfilter.h"

#define AUDITFILTER_ADDR_MAX	64

static const char *const auditfilter_decisions[] = {
	"forwarded", "denied", "rate_limited", "cached", "passthrough",
	"error", "would_deny", "revalidated",
};

void
auditfilter_init(struct auditfilter *f)
{
	memset(f, 0, sizeof(*f));
	f->rule = -1;
}

long long
auditfilter_duration(const char *s)
{
	long long v, unit;
	char *ep;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoll(s, &ep, 10);
	if (errno != 0 || v <= 0 || ep[0] == '\0' || ep[1] != '\0')
		return -1;
	switch (ep[0]) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -1;
	}
	if (v > INT_MAX / unit)
		return -1;
	return v * unit;
}

int
auditfilter_glob(const char *pat, const char *host)
{
	const char *star = NULL, *resume = NULL;

	/* Greedy with backtracking to the last '*': linear enough for the
	 * few stars a host pattern has. */
	while (*host != '\0') {
		if (*pat == '*') {
			star = ++pat;
			resume = host;
		} else if (*pat != '\0' && tolower((unsigned char)*pat) ==
		    tolower((unsigned char)*host)) {
			pat++;
			host++;
		} else if (star != NULL) {
			pat = star;
			host = ++resume;
		} else {
			return 0;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

/* Parses an address, with or without brackets, into addr; its family or 0. */
static int
auditfilter_addr(const char *s, size_t len, unsigned char *addr)
{
	char buf[AUDITFILTER_ADDR_MAX];

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, buf, addr) == 1)
		return AF_INET6;
	return 0;
}

int
auditfilter_set_client(struct auditfilter *f, const char *ip)
{
	if ((f->client_family = auditfilter_addr(ip, strlen(ip),
	    f->client_addr)) == 0)
		return -1;
	return 0;
}

/* Whether the address part of client ('ip:port', '[ipv6]:port') is f's. */
static int
auditfilter_client_match(const struct auditfilter *f, const char *client)
{
	unsigned char addr[sizeof(f->client_addr)];
	const char *colon;
	size_t len;
	int family;

	if ((colon = strrchr(client, ':')) == NULL)
		return 0;
	len = (size_t)(colon - client);
	/* A bare IPv6 address has colons but no port. */
	if (client[0] != '[' && memchr(client, ':', len) != NULL)
		len = strlen(client);
	if ((family = auditfilter_addr(client, len, addr)) != f->client_family)
		return 0;
	return memcmp(addr, f->client_addr, family == AF_INET ?
	    sizeof(struct in_addr) : sizeof(struct in6_addr)) == 0;
}

int
auditfilter_decision_known(const char *d)
{
	size_t i;

	for (i = 0; i < sizeof(auditfilter_decisions) /
	    sizeof(auditfilter_decisions[0]); i++)
		if (strcmp(d, auditfilter_decisions[i]) == 0)
			return 1;
	return 0;
}

int
auditfilter_match(const struct auditfilter *f, const char *host,
    const char *decision, const char *client, const long long *rule_id)
{
	if (f->host != NULL && (host == NULL ||
	    !auditfilter_glob(f->host, host)))
		return 0;
	if (f->decision != NULL && (decision == NULL ||
	    strcmp(f->decision, decision) != 0))
		return 0;
	if (f->client_family != 0 && (client == NULL ||
	    !auditfilter_client_match(f, client)))
		return 0;
	if (f->rule >= 0 && (rule_id == NULL || *rule_id != f->rule))
		return 0;
	return 1;
}

void
auditfilter_ts(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.000Z",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}
