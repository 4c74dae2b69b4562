/*
 * test_guard.c - the SSRF guard's address classes, the gateway's own
 * addresses and the explicit-rule exemption.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "guard.h"
#include "rules.h"
#include "unit.h"

static struct sockaddr_storage ss;

/* A sockaddr for an address literal, port 443. */
static const struct sockaddr *
sa_of(const char *ip)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(443);
	} else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(443);
	} else {
		printf("# bad literal %s\n", ip);
	}
	return (const struct sockaddr *)&ss;
}

static void
test_classes(void)
{
	static const struct {
		const char	*ip;
		enum guard_class k;
	} cases[] = {
		{ "127.0.0.1", GUARD_LOOPBACK },
		{ "127.255.0.9", GUARD_LOOPBACK },
		{ "::1", GUARD_LOOPBACK },
		{ "::ffff:127.0.0.1", GUARD_LOOPBACK },
		{ "0.0.0.0", GUARD_UNSPECIFIED },
		{ "0.1.2.3", GUARD_UNSPECIFIED },
		{ "::", GUARD_UNSPECIFIED },
		{ "::ffff:0.0.0.0", GUARD_UNSPECIFIED },
		{ "169.254.169.254", GUARD_LINKLOCAL },
		{ "::ffff:169.254.1.1", GUARD_LINKLOCAL },
		{ "fe80::1", GUARD_LINKLOCAL },
		{ "febf::1", GUARD_LINKLOCAL },
		{ "224.0.0.1", GUARD_MULTICAST },
		{ "239.255.255.250", GUARD_MULTICAST },
		{ "ff02::1", GUARD_MULTICAST },
		{ "255.255.255.255", GUARD_BROADCAST },
		{ "8.8.8.8", GUARD_PUBLIC },
		{ "10.77.2.2", GUARD_PUBLIC },
		{ "169.253.1.1", GUARD_PUBLIC },
		{ "223.255.255.255", GUARD_PUBLIC },
		{ "240.0.0.1", GUARD_PUBLIC },
		{ "::2", GUARD_PUBLIC },
		{ "fec0::1", GUARD_PUBLIC },
		{ "2001:db8::1", GUARD_PUBLIC },
		{ "::ffff:8.8.8.8", GUARD_PUBLIC },
	};
	char what[96];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(what, sizeof(what), "%s is %s", cases[i].ip,
		    guard_class_str(cases[i].k));
		CHECK(guard_classify(sa_of(cases[i].ip)) == cases[i].k, what);
	}
}

/* The loopback interface is up wherever this runs; TEST-NET-1 is nobody's. */
static void
test_own(void)
{
	CHECK(guard_is_own(sa_of("127.0.0.1")), "127.0.0.1 is an own address");
	CHECK(guard_is_own(sa_of("::ffff:127.0.0.1")),
	    "v4-mapped 127.0.0.1 is an own address");
	CHECK(!guard_is_own(sa_of("192.0.2.1")), "192.0.2.1 is not own");
}

static void
test_exempt(void)
{
	struct rule rules[4];
	struct rules_snapshot snap = { .rules = rules, .nrules = 4 };
	char why[128];

	memset(rules, 0, sizeof(rules));
	rules[0].host = "*";
	rules[0].action = RULE_ALLOW;
	rules[1].host = "*.internal.test";
	rules[1].action = RULE_ALLOW;
	rules[2].host = "127.0.0.2";
	rules[2].action = RULE_DENY;
	rules[3].host = "metrics.test";
	rules[3].port = 8443;
	rules[3].action = RULE_ALLOW;

	CHECK(!guard_exempt(&snap, "127.0.0.1", "a.internal.test", 443),
	    "'*' and wildcards do not exempt");
	CHECK(!guard_exempt(&snap, "127.0.0.2", NULL, 443),
	    "a deny rule naming the address does not exempt");
	CHECK(!guard_exempt(&snap, "127.0.0.1", "metrics.test", 443),
	    "a rule for another port does not exempt");
	CHECK(guard_exempt(&snap, "127.0.0.1", "METRICS.test", 8443),
	    "a rule naming the host and port exempts");
	rules[2].action = RULE_ALLOW;
	CHECK(guard_exempt(&snap, "127.0.0.2", "x.test", 443),
	    "an allow rule naming the address exempts");
	rules[2].action = RULE_PASSTHROUGH;
	CHECK(guard_exempt(&snap, "127.0.0.2", NULL, 443),
	    "a passthrough rule naming the address exempts");
	CHECK(guard_exempt(NULL, "127.0.0.2", NULL, 443) == 0,
	    "no rules: no exemption");

	CHECK(guard_check(sa_of("127.0.0.1"), &snap, "x.test", why,
	    sizeof(why)) == -1 && strcmp(why,
	    "destination 127.0.0.1 is a loopback address") == 0,
	    "guard_check refuses loopback and says why");
	CHECK(guard_check(sa_of("127.0.0.2"), &snap, "x.test", why,
	    sizeof(why)) == 0, "guard_check lets an exempt address through");
	CHECK(guard_check(sa_of("192.0.2.1"), &snap, NULL, why,
	    sizeof(why)) == 0, "guard_check lets a public address through");
	CHECK(guard_check(sa_of("fe80::1"), NULL, NULL, why,
	    sizeof(why)) == -1 && strcmp(why,
	    "destination fe80::1 is a link-local address") == 0,
	    "guard_check refuses link-local IPv6");
}

int
main(void)
{
	test_classes();
	test_own();
	test_exempt();
	return unit_done();
}
