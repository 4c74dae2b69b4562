/*
 * dns.h - a parser of DNS response messages (RFC 1035), for learning which
 * name a client looked up before it opens a flow to an address.
 *
 * Pure: no I/O, no allocation, no global state; the caller owns every
 * buffer.  Used by dnslearn.c on captured answers, fuzzed by
 * tests/fuzz/fuzz_dns.c.
 */
#ifndef SLUICE_DNS_H
#define SLUICE_DNS_H

#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX	256	/* 253 characters, NUL, rounded */
#define DNS_MAX_ADDRS	32	/* addresses kept from one answer */
#define DNS_MAX_CHAIN	8	/* CNAME hops followed from the question */

struct dns_addr {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* network order; 4 bytes for AF_INET */
	uint32_t	 ttl;		/* smallest TTL along the CNAME chain */
};

struct dns_answer {
	char		 name[DNS_NAME_MAX];	/* the question, lowercased,
						   no trailing dot */
	struct dns_addr	 addrs[DNS_MAX_ADDRS];
	size_t		 naddrs;
};

/*
 * Parse a response (QR set, RCODE 0, one question of class IN) and keep
 * the A and AAAA records reached from the question's name through at most
 * DNS_MAX_CHAIN CNAMEs.  Returns the number of addresses (0 is a valid
 * answer without any) or -1 when msg is not such a response or is
 * malformed.  Names must be printable ASCII without '.' inside a label.
 */
int dns_parse_response(const uint8_t *msg, size_t len,
    struct dns_answer *out);

#endif
