/*
 * dns.c - a parser of DNS response messages: the question's name and the
 * A/AAAA records its CNAME chain leads to.
 *
 * Owns nothing but its stack.  Input is hostile (anyone on the path can
 * send a packet from port 53), so every read is bounds-checked against
 * len, compression pointers may only point backwards (which ends every
 * name walk) and at most DNS_MAX_POINTERS of them are followed per name,
 * at most DNS_MAX_RRS answer records are looked at and at most
 * DNS_MAX_CHAIN CNAMEs are followed.  Names keep only letters, digits,
 * '-' and '_', lowercased: what they feed (rule matching, audit rows)
 * never sees a byte it could misread.
 *
 * The chain is followed by walking the answer section once per hop rather
 * than by copying every record: at most (DNS_MAX_CHAIN + 2) walks of
 * DNS_MAX_RRS records, and a stack of a few names.
 */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"

#define DNS_HEADER	12
#define DNS_MAX_POINTERS 16
#define DNS_MAX_RRS	64
#define DNS_TYPE_A	1
#define DNS_TYPE_CNAME	5
#define DNS_TYPE_AAAA	28
#define DNS_CLASS_IN	1

struct dns_rr {
	char		 owner[DNS_NAME_MAX];
	uint16_t	 type;
	uint16_t	 class;
	uint32_t	 ttl;
	size_t		 rdoff;		/* RDATA's offset in the message */
	uint16_t	 rdlen;
};

static uint16_t
dns_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
dns_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int
dns_label_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * Decode the name at off into out (lowercased, dot-separated, "" for the
 * root).  *next is where the record continues: after the name's first
 * pointer, or after its final zero label.
 */
static int
dns_name(const uint8_t *msg, size_t len, size_t off, char *out, size_t *next)
{
	size_t o = 0, pos = off, target, i;
	int jumps = 0, jumped = 0;
	uint8_t n, c;

	for (;;) {
		if (pos >= len)
			return -1;
		n = msg[pos];
		if ((n & 0xc0) == 0xc0) {
			if (pos + 1 >= len || ++jumps > DNS_MAX_POINTERS)
				return -1;
			target = (size_t)(n & 0x3f) << 8 | msg[pos + 1];
			if (target >= pos)
				return -1;
			if (!jumped)
				*next = pos + 2;
			jumped = 1;
			pos = target;
			continue;
		}
		if (n & 0xc0)
			return -1;	/* 0x40 and 0x80: no such label type */
		if (n == 0)
			break;
		if (pos + 1 + n > len || o + n + 1 >= DNS_NAME_MAX)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (i = 0; i < n; i++) {
			c = msg[pos + 1 + i];
			if (!dns_label_char(c))
				return -1;
			out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		pos += 1 + (size_t)n;
	}
	if (!jumped)
		*next = pos + 1;
	out[o] = '\0';
	return 0;
}

/* The record at *off; *off moves past it. */
static int
dns_rr_read(const uint8_t *msg, size_t len, size_t *off, struct dns_rr *rr)
{
	size_t p;

	if (dns_name(msg, len, *off, rr->owner, &p) == -1 || p + 10 > len)
		return -1;
	rr->type = dns_u16(msg + p);
	rr->class = dns_u16(msg + p + 2);
	rr->ttl = dns_u32(msg + p + 4);
	/* RFC 2181: a TTL with the top bit set is read as zero. */
	if (rr->ttl & 0x80000000u)
		rr->ttl = 0;
	rr->rdlen = dns_u16(msg + p + 8);
	rr->rdoff = p + 10;
	if (rr->rdoff + rr->rdlen > len)
		return -1;
	*off = rr->rdoff + rr->rdlen;
	return 0;
}

/*
 * The CNAME owned by name among the n answers at an: its target in next
 * and its TTL in *ttl.  1 if there is one, 0 if not, -1 if malformed.
 */
static int
dns_cname(const uint8_t *msg, size_t len, size_t an, unsigned n,
    const char *name, char *next, uint32_t *ttl)
{
	struct dns_rr rr;
	size_t off = an, end;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (dns_rr_read(msg, len, &off, &rr) == -1)
			return -1;
		if (rr.type != DNS_TYPE_CNAME || rr.class != DNS_CLASS_IN ||
		    strcmp(rr.owner, name) != 0)
			continue;
		if (dns_name(msg, rr.rdoff + rr.rdlen, rr.rdoff, next,
		    &end) == -1 || end != rr.rdoff + rr.rdlen ||
		    next[0] == '\0')
			return -1;
		*ttl = rr.ttl;
		return 1;
	}
	return 0;
}

/* Append name's A and AAAA records among the n answers at an. */
static int
dns_addrs(const uint8_t *msg, size_t len, size_t an, unsigned n,
    const char *name, uint32_t ttl, struct dns_answer *out)
{
	struct dns_addr *a;
	struct dns_rr rr;
	size_t off = an;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (dns_rr_read(msg, len, &off, &rr) == -1)
			return -1;
		if (rr.class != DNS_CLASS_IN || strcmp(rr.owner, name) != 0)
			continue;
		if (!(rr.type == DNS_TYPE_A && rr.rdlen == 4) &&
		    !(rr.type == DNS_TYPE_AAAA && rr.rdlen == 16))
			continue;
		if (out->naddrs == DNS_MAX_ADDRS)
			break;
		a = &out->addrs[out->naddrs++];
		memset(a, 0, sizeof(*a));
		a->family = rr.type == DNS_TYPE_A ? AF_INET : AF_INET6;
		memcpy(a->addr, msg + rr.rdoff, rr.rdlen);
		a->ttl = rr.ttl < ttl ? rr.ttl : ttl;
	}
	return 0;
}

int
dns_parse_response(const uint8_t *msg, size_t len, struct dns_answer *out)
{
	char cur[DNS_NAME_MAX], next[DNS_NAME_MAX];
	uint32_t ttl = UINT32_MAX, hop_ttl;
	uint16_t flags;
	unsigned an, hops;
	size_t off;
	int r;

	out->name[0] = '\0';
	out->naddrs = 0;
	if (len < DNS_HEADER)
		return -1;
	flags = dns_u16(msg + 2);
	/* QR = response, opcode QUERY, RCODE NOERROR, one question. */
	if (!(flags & 0x8000) || (flags & 0x7800) != 0 || (flags & 0x000f) != 0 ||
	    dns_u16(msg + 4) != 1)
		return -1;
	an = dns_u16(msg + 6);
	if (an > DNS_MAX_RRS)
		an = DNS_MAX_RRS;
	if (dns_name(msg, len, DNS_HEADER, out->name, &off) == -1 ||
	    out->name[0] == '\0' || off + 4 > len ||
	    dns_u16(msg + off + 2) != DNS_CLASS_IN)
		return -1;
	off += 4;

	memcpy(cur, out->name, sizeof(cur));
	for (hops = 0; hops < DNS_MAX_CHAIN; hops++) {
		if ((r = dns_cname(msg, len, off, an, cur, next,
		    &hop_ttl)) == -1)
			return -1;
		if (r == 0)
			break;
		if (hop_ttl < ttl)
			ttl = hop_ttl;
		memcpy(cur, next, sizeof(cur));
	}
	if (dns_addrs(msg, len, off, an, cur, ttl, out) == -1)
		return -1;
	return (int)out->naddrs;
}
