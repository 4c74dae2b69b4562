/*
 * test_auditfilter.c - the filters and durations of tools/sluice-audit.
 */
#include <string.h>

#include "auditfilter.h"
#include "unit.h"

static void
test_duration(void)
{
	CHECK(auditfilter_duration("30s") == 30, "30s");
	CHECK(auditfilter_duration("15m") == 900, "15m");
	CHECK(auditfilter_duration("1h") == 3600, "1h");
	CHECK(auditfilter_duration("7d") == 7 * 86400, "7d");
	CHECK(auditfilter_duration("0s") == -1, "0s refused");
	CHECK(auditfilter_duration("") == -1, "empty refused");
	CHECK(auditfilter_duration("h") == -1, "no number refused");
	CHECK(auditfilter_duration("10") == -1, "no unit refused");
	CHECK(auditfilter_duration("10x") == -1, "unknown unit refused");
	CHECK(auditfilter_duration("10hh") == -1, "trailing bytes refused");
	CHECK(auditfilter_duration("-5m") == -1, "negative refused");
	CHECK(auditfilter_duration("+5m") == -1, "sign refused");
	CHECK(auditfilter_duration(" 5m") == -1, "space refused");
	CHECK(auditfilter_duration("99999999999999999999d") == -1,
	    "overflow refused");
	CHECK(auditfilter_duration("24856d") == -1, "past 2^31 s refused");
	CHECK(auditfilter_duration("24855d") == 24855LL * 86400,
	    "just under 2^31 s");
}

static void
test_glob(void)
{
	CHECK(auditfilter_glob("api.test", "api.test"), "exact");
	CHECK(auditfilter_glob("API.test", "api.TEST"), "case-insensitive");
	CHECK(!auditfilter_glob("api.test", "api.test.evil"), "exact is whole");
	CHECK(!auditfilter_glob("api.test", "xapi.test"), "exact is whole (2)");
	CHECK(auditfilter_glob("*.test", "api.test"), "leading star");
	CHECK(auditfilter_glob("*.test", "a.b.test"), "star spans dots");
	CHECK(!auditfilter_glob("*.test", "test"), "star needs the dot");
	CHECK(auditfilter_glob("api.*", "api.test"), "trailing star");
	CHECK(auditfilter_glob("*", "anything"), "lone star");
	CHECK(auditfilter_glob("a*i*t", "api.test"), "two stars");
	CHECK(auditfilter_glob("*a*a*a*b", "aaaaaaaab"), "backtracking");
	CHECK(!auditfilter_glob("*a*a*a*b", "aaaaaaaaa"), "backtracking fails");
	CHECK(!auditfilter_glob("api?test", "api.test"), "? is literal");
	CHECK(!auditfilter_glob("x", ""), "empty host");
}

static void
test_match(void)
{
	struct auditfilter f;
	long long r7 = 7, r8 = 8;

	auditfilter_init(&f);
	CHECK(auditfilter_match(&f, NULL, NULL, NULL, NULL),
	    "empty filter matches everything");

	f.host = "*.test";
	CHECK(auditfilter_match(&f, "api.test", "forwarded", "1.2.3.4:5", NULL),
	    "host glob");
	CHECK(!auditfilter_match(&f, "api.example", "forwarded", "1.2.3.4:5",
	    NULL), "host glob, other host");
	CHECK(!auditfilter_match(&f, NULL, "forwarded", "1.2.3.4:5", NULL),
	    "host filter and no host");

	auditfilter_init(&f);
	f.decision = "denied";
	CHECK(auditfilter_match(&f, "h", "denied", "c", NULL), "decision");
	CHECK(!auditfilter_match(&f, "h", "would_deny", "c", NULL),
	    "decision is exact");

	auditfilter_init(&f);
	f.rule = 7;
	CHECK(auditfilter_match(&f, "h", "d", "c", &r7), "rule");
	CHECK(!auditfilter_match(&f, "h", "d", "c", &r8), "other rule");
	CHECK(!auditfilter_match(&f, "h", "d", "c", NULL), "no rule");

	auditfilter_init(&f);
	CHECK(auditfilter_set_client(&f, "10.77.1.2") == 0, "IPv4 client");
	CHECK(auditfilter_match(&f, "h", "d", "10.77.1.2:41000", NULL),
	    "client ip:port");
	CHECK(!auditfilter_match(&f, "h", "d", "10.77.1.20:41000", NULL),
	    "client is not a prefix match");
	CHECK(!auditfilter_match(&f, "h", "d", "10.77.1.3:41000", NULL),
	    "other client");
	CHECK(!auditfilter_match(&f, "h", "d", "[fd00:77:1::2]:41000", NULL),
	    "other family");
	CHECK(!auditfilter_match(&f, "h", "d", NULL, NULL), "no client");

	auditfilter_init(&f);
	CHECK(auditfilter_set_client(&f, "fd00:77:1:0::2") == 0, "IPv6 client");
	CHECK(auditfilter_match(&f, "h", "d", "[fd00:77:1::2]:41000", NULL),
	    "client [v6]:port, spelled differently");
	CHECK(auditfilter_match(&f, "h", "d", "fd00:77:1::2", NULL),
	    "bare v6 client");
	CHECK(auditfilter_set_client(&f, "[fd00:77:1::2]") == 0,
	    "bracketed IPv6 client");
	CHECK(auditfilter_match(&f, "h", "d", "[fd00:77:1::2]:1", NULL),
	    "bracketed filter matches");
	CHECK(auditfilter_set_client(&f, "api.test") == -1, "a name refused");
	CHECK(auditfilter_set_client(&f, "10.0.0.1:80") == -1,
	    "ip:port refused");
	CHECK(auditfilter_set_client(&f, "") == -1, "empty refused");
}

static void
test_misc(void)
{
	char buf[32];

	CHECK(auditfilter_decision_known("forwarded"), "forwarded known");
	CHECK(auditfilter_decision_known("would_deny"), "would_deny known");
	CHECK(!auditfilter_decision_known("allowed"), "allowed unknown");
	auditfilter_ts(1764266400, buf, sizeof(buf));
	CHECK(strcmp(buf, "2025-11-27T18:00:00.000Z") == 0, "timestamp");
}

int
main(void)
{
	test_duration();
	test_glob();
	test_match();
	test_misc();
	return unit_done();
}
