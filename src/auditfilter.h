/*
 * auditfilter.h - the filters of tools/sluice-audit, as pure functions.
 */
#ifndef SLUICE_AUDITFILTER_H
#define SLUICE_AUDITFILTER_H

#include <stddef.h>
#include <time.h>

#include <netinet/in.h>

/* What a row must match; every field left at its auditfilter_init() value
 * matches anything. */
struct auditfilter {
	const char		*host;		/* exact, or a glob with '*' */
	const char		*decision;
	int			 client_family;	/* AF_INET, AF_INET6, 0: any */
	unsigned char		 client_addr[sizeof(struct in6_addr)];
	long long		 rule;		/* -1: any */
};

void auditfilter_init(struct auditfilter *f);

/* "30s", "15m", "1h", "7d" -> seconds; anything else (including 0 and
 * numbers that overflow a 32-bit count of seconds) -> -1. */
long long auditfilter_duration(const char *s);

/* Whether host matches pat, where '*' stands for any run of characters
 * (dots included) and everything else for itself, case-insensitively. */
int auditfilter_glob(const char *pat, const char *host);

/* Sets the client filter to the address ip ("10.0.0.1", "fd00::1" or
 * "[fd00::1]"); -1 if ip is not an IP address. */
int auditfilter_set_client(struct auditfilter *f, const char *ip);

/* Whether d is one of the decisions INTERFACE.md lists. */
int auditfilter_decision_known(const char *d);

/*
 * Whether a row matches f.  host is the request's Host (or the SNI when it
 * has none), client its 'ip:port' or '[ipv6]:port', rule_id NULL when no
 * rule decided; any of the strings may be NULL.
 */
int auditfilter_match(const struct auditfilter *f, const char *host,
    const char *decision, const char *client, const long long *rule_id);

/* t as an audit timestamp ("2026-11-29T18:00:00.000Z", UTC), which sorts
 * as text in time order; buf holds at least 32 bytes. */
void auditfilter_ts(time_t t, char *buf, size_t size);

#endif
