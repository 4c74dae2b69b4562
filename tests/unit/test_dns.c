/*
 * test_dns.c - dns.c: answers as resolvers send them (compressed names,
 * CNAME chains), and the malformed ones a hostile sender could craft.
 */
#include <string.h>
#include <sys/socket.h>

#include "dns.h"
#include "unit.h"

struct msg {
	uint8_t		 b[1024];
	size_t		 n;
};

static void
put(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void
put16(struct msg *m, unsigned v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(m, b, 2);
}

static void
put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

/* "api.example.com" as labels. */
static void
putname(struct msg *m, const char *name)
{
	const char *dot;
	size_t n;

	while (*name != '\0') {
		dot = strchr(name, '.');
		n = dot != NULL ? (size_t)(dot - name) : strlen(name);
		m->b[m->n++] = (uint8_t)n;
		put(m, name, n);
		name += n + (dot != NULL);
	}
	m->b[m->n++] = 0;
}

/* Header and the question at offset 12, for name, with an answers. */
static void
head(struct msg *m, unsigned flags, unsigned an, const char *qname)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, 1);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
	putname(m, qname);
	put16(m, 1);
	put16(m, 1);
}

/* A record header whose owner is a pointer to off. */
static void
rr_ptr(struct msg *m, unsigned off, unsigned type, uint32_t ttl,
    unsigned rdlen)
{
	put16(m, 0xc000 | off);
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	put16(m, rdlen);
}

static void
test_simple(void)
{
	struct dns_answer a;
	struct msg m;
	uint8_t v4[4] = { 10, 77, 2, 2 };
	uint8_t v6[16] = { 0xfd, 0, 0, 0x77, 0, 2, [15] = 2 };

	head(&m, 0x8180, 2, "Api.Test");
	rr_ptr(&m, 12, 1, 300, 4);
	put(&m, v4, 4);
	rr_ptr(&m, 12, 28, 30, 16);
	put(&m, v6, 16);
	CHECK(dns_parse_response(m.b, m.n, &a) == 2, "A and AAAA: two addresses");
	CHECK(strcmp(a.name, "api.test") == 0, "the question, lowercased");
	CHECK(a.addrs[0].family == AF_INET &&
	    memcmp(a.addrs[0].addr, v4, 4) == 0 && a.addrs[0].ttl == 300,
	    "the A record and its TTL");
	CHECK(a.addrs[1].family == AF_INET6 &&
	    memcmp(a.addrs[1].addr, v6, 16) == 0 && a.addrs[1].ttl == 30,
	    "the AAAA record and its TTL");

	head(&m, 0x8180, 0, "api.test");
	CHECK(dns_parse_response(m.b, m.n, &a) == 0 &&
	    strcmp(a.name, "api.test") == 0, "NOERROR without answers: 0");
}

static void
test_cname(void)
{
	struct dns_answer a;
	struct msg m;
	size_t cname_at;
	uint8_t v4[4] = { 192, 0, 2, 7 };

	/* www.test CNAME edge.cdn.test (TTL 50); edge.cdn.test A (TTL 900). */
	head(&m, 0x8180, 3, "www.test");
	rr_ptr(&m, 12, 5, 50, 10);
	cname_at = m.n;
	putname(&m, "edge");		/* 6 bytes ... */
	m.n--;				/* ... continued by a pointer */
	put16(&m, 0xc000 | 16);		/* "test" of the question */
	/* An unrelated A for the question's name would be a stale record. */
	rr_ptr(&m, (unsigned)cname_at, 1, 900, 4);
	put(&m, v4, 4);
	CHECK(dns_parse_response(m.b, m.n, &a) == -1,
	    "a CNAME whose RDATA length is wrong is malformed");

	head(&m, 0x8180, 2, "www.test");
	rr_ptr(&m, 12, 5, 50, 7);
	cname_at = m.n;
	m.b[m.n++] = 4;
	put(&m, "edge", 4);
	put16(&m, 0xc000 | 16);
	rr_ptr(&m, (unsigned)cname_at, 1, 900, 4);
	put(&m, v4, 4);
	CHECK(dns_parse_response(m.b, m.n, &a) == 1, "CNAME then A: one address");
	CHECK(strcmp(a.name, "www.test") == 0, "named by the question");
	CHECK(memcmp(a.addrs[0].addr, v4, 4) == 0 && a.addrs[0].ttl == 50,
	    "TTL: the smallest along the chain");

	/* An A record owned by some other name is not the question's. */
	head(&m, 0x8180, 1, "www.test");
	put16(&m, 0xc000 | 16);		/* owner "test" */
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 60);
	put16(&m, 4);
	put(&m, v4, 4);
	CHECK(dns_parse_response(m.b, m.n, &a) == 0,
	    "an address for another name is ignored");
}

static void
test_loop(void)
{
	struct dns_answer a;
	struct msg m;

	/* a.test CNAME a.test: followed at most DNS_MAX_CHAIN times. */
	head(&m, 0x8180, 1, "a.test");
	rr_ptr(&m, 12, 5, 60, 2);
	put16(&m, 0xc000 | 12);
	CHECK(dns_parse_response(m.b, m.n, &a) == 0, "a CNAME loop ends");
}

static void
test_malformed(void)
{
	struct dns_answer a;
	struct msg m;
	size_t n;

	head(&m, 0x0100, 0, "api.test");
	CHECK(dns_parse_response(m.b, m.n, &a) == -1, "a query is refused");
	head(&m, 0x8183, 0, "api.test");
	CHECK(dns_parse_response(m.b, m.n, &a) == -1, "NXDOMAIN is refused");
	CHECK(dns_parse_response(m.b, 11, &a) == -1, "short header");

	head(&m, 0x8180, 1, "api.test");
	n = m.n;
	rr_ptr(&m, 12, 1, 60, 4);
	put(&m, "\x0a\x00\x00\x01", 4);
	for (size_t cut = n; cut < m.n; cut++)
		if (dns_parse_response(m.b, cut, &a) != -1) {
			CHECK(0, "every truncation of the answer is refused");
			return;
		}
	CHECK(1, "every truncation of the answer is refused");

	/* A pointer to itself, and one pointing forwards. */
	head(&m, 0x8180, 1, "api.test");
	n = m.n;
	put16(&m, 0xc000 | (unsigned)n);
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 60);
	put16(&m, 0);
	CHECK(dns_parse_response(m.b, m.n, &a) == -1, "a pointer to itself");
	m.b[n + 1] = (uint8_t)(n + 4);
	CHECK(dns_parse_response(m.b, m.n, &a) == -1, "a forward pointer");

	/* A name with a byte a rule or a log line could misread. */
	m.n = 0;
	put16(&m, 0);
	put16(&m, 0x8180);
	put16(&m, 1);
	put16(&m, 0);
	put16(&m, 0);
	put16(&m, 0);
	put(&m, "\x05" "a\nb c" "\x04test\x00\x00\x01\x00\x01", 13);
	CHECK(dns_parse_response(m.b, m.n, &a) == -1,
	    "control characters in a label are refused");
	m.b[13] = '.';
	m.b[14] = 'x';
	m.b[15] = 'y';
	CHECK(dns_parse_response(m.b, m.n, &a) == -1,
	    "a dot inside a label is refused");

	/* A name longer than DNS_NAME_MAX. */
	head(&m, 0x8180, 0, "x");
	m.n = 12;
	for (int i = 0; i < 5; i++) {
		m.b[m.n++] = 63;
		memset(m.b + m.n, 'a', 63);
		m.n += 63;
	}
	m.b[m.n++] = 0;
	put16(&m, 1);
	put16(&m, 1);
	CHECK(dns_parse_response(m.b, m.n, &a) == -1, "an over-long name");
}

int
main(void)
{
	test_simple();
	test_cname();
	test_loop();
	test_malformed();
	return unit_done();
}
