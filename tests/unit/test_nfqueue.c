/*
 * test_nfqueue.c - the flow side of --nfqueue without a kernel: packets
 * parsed, verdicts decided from rules, names kept and forgotten
 * (addrname.c), denied flows audited at a bounded rate (flowaudit.c), and
 * an answer captured on a veth (dnslearn_frame).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <pcap/pcap.h>
#include <sqlite3.h>

#include "addrname.h"
#include "audit.h"
#include "dnslearn.h"
#include "flowaudit.h"
#include "nfqueue.h"
#include "rules.h"
#include "unit.h"

static char test_dir[64];

static int
test_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(db, 2000);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static int64_t
test_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static void
test_parse(void)
{
	/* IPv4 TCP SYN 10.77.1.2:40000 -> 10.77.2.2:2222 (header only). */
	uint8_t v4[40] = { 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0,
	    10, 77, 1, 2, 10, 77, 2, 2, 0x9c, 0x40, 0x08, 0xae };
	uint8_t v6[48] = { 0x60, 0, 0, 0, 0, 8, 17, 64 };
	struct flow f;

	CHECK(nfqueue_parse(v4, sizeof(v4), &f) == 0 && f.family == AF_INET &&
	    f.proto == IPPROTO_TCP && f.sport == 40000 && f.dport == 2222 &&
	    f.dst[3] == 2 && f.src[2] == 1, "IPv4 TCP: addresses and ports");
	v4[6] = 0x20;
	CHECK(nfqueue_parse(v4, sizeof(v4), &f) == 0 && f.dport == 2222,
	    "a first IPv4 fragment has the ports");
	v4[7] = 1;
	CHECK(nfqueue_parse(v4, sizeof(v4), &f) == -1,
	    "a later IPv4 fragment has none");
	v4[6] = 0x40;
	v4[7] = 0;
	v4[9] = 1;
	CHECK(nfqueue_parse(v4, sizeof(v4), &f) == -1, "ICMP is not a flow");
	CHECK(nfqueue_parse(v4, 21, &f) == -1, "truncated IPv4");

	v6[23] = 2;		/* src ::2 */
	v6[39] = 3;		/* dst ::3 */
	v6[40] = 0x30;
	v6[41] = 0x39;		/* 12345 */
	v6[42] = 0x01;
	v6[43] = 0xbb;		/* 443 */
	CHECK(nfqueue_parse(v6, sizeof(v6), &f) == 0 && f.family == AF_INET6 &&
	    f.proto == IPPROTO_UDP && f.sport == 12345 && f.dport == 443 &&
	    f.dst[15] == 3, "IPv6 UDP: addresses and ports");
	CHECK(nfqueue_parse(v6, 42, &f) == -1, "truncated IPv6 transport");
}

static void
test_decide(void)
{
	char path[PATH_MAX];
	struct rules_snapshot *snap;
	const struct rule *r;

	snprintf(path, sizeof(path), "%s/rules.db", test_dir);
	CHECK(rules_db_init(path) == 0, "decide: rules db created");
	CHECK(test_exec(path,
	    "INSERT INTO rules (id, priority, host, port, method, path, action)"
	    " VALUES"
	    " (1, 10, 'api.test', 443, NULL, NULL, 'allow'),"
	    " (2, 10, 'pinned.test', NULL, NULL, NULL, 'passthrough'),"
	    " (3, 10, '10.77.2.2', 2222, NULL, NULL, 'deny'),"
	    " (4, 20, 'shop.test', 443, 'POST', '/buy', 'deny'),"
	    " (5, 30, 'shop.test', 443, NULL, NULL, 'deny'),"
	    " (6, 20, 'docs.test', 443, 'GET', '/v1/*', 'allow'),"
	    " (7, 30, 'docs.test', NULL, NULL, NULL, 'deny'),"
	    " (8, 40, '*', 22, NULL, NULL, 'allow'),"
	    " (9, 5, '10.77.2.9', NULL, NULL, NULL, 'deny')") == SQLITE_OK,
	    "decide: rules inserted");
	if ((snap = rules_load(path)) == NULL) {
		CHECK(0, "decide: rules loaded");
		return;
	}
#define V(n, a, p) nfqueue_decide(snap, 1, (n), (a), (p), &r)
	CHECK(V("api.test", "10.77.2.2", 443) == NFQUEUE_INTERCEPT &&
	    r->id == 1, "allow: intercept");
	CHECK(V("pinned.test", "10.77.2.2", 443) == NFQUEUE_INTERCEPT &&
	    r->id == 2, "passthrough: intercept (relayed bound to its SNI)");
	CHECK(V(NULL, "10.77.2.2", 2222) == NFQUEUE_DENY && r->id == 3,
	    "a rule naming the address: deny");
	CHECK(V("api.test", "10.77.2.2", 2222) == NFQUEUE_DENY && r->id == 3,
	    "a known name does not hide a rule on the address");
	CHECK(V("api.test", "10.77.2.9", 443) == NFQUEUE_DENY && r->id == 9,
	    "the first rule by priority wins, name or address");
	CHECK(V("shop.test", "10.77.2.2", 443) == NFQUEUE_DENY && r->id == 5,
	    "a deny with a method/path is skipped; the next rule decides");
	CHECK(V("docs.test", "10.77.2.2", 443) == NFQUEUE_INTERCEPT &&
	    r->id == 6, "an allow with a method/path: intercept");
	CHECK(V("docs.test", "10.77.2.2", 8443) == NFQUEUE_DENY && r->id == 7,
	    "... but only on its port");
	CHECK(V(NULL, "10.77.2.5", 22) == NFQUEUE_INTERCEPT && r->id == 8,
	    "host '*' decides a flow with no name");
	CHECK(V(NULL, "10.77.2.5", 443) == NFQUEUE_DENY && r == NULL,
	    "no rule: default deny");
	CHECK(nfqueue_decide(snap, 0, NULL, "10.77.2.5", 443, &r) ==
	    NFQUEUE_INTERCEPT && r == NULL, "no rule: default allow intercepts");
	CHECK(nfqueue_decide(NULL, 0, NULL, "10.77.2.5", 443, &r) ==
	    NFQUEUE_INTERCEPT, "no snapshot: default policy");
#undef V
	rules_snapshot_unref(snap);
}

static void
test_addrname(void)
{
	struct addrname *t = addrname_new(2, 100);
	uint8_t a[4] = { 10, 0, 0, 1 }, b[4] = { 10, 0, 0, 2 },
	    c[4] = { 10, 0, 0, 3 }, a6[16] = { 10, 0, 0, 1 };
	char name[DNS_NAME_MAX];

	if (t == NULL) {
		CHECK(0, "addrname: created");
		return;
	}
	addrname_put(t, AF_INET, a, "a.test", 10, 1000);
	CHECK(addrname_get(t, AF_INET, a, 1000, name) == 1 &&
	    strcmp(name, "a.test") == 0, "addrname: learned");
	CHECK(addrname_get(t, AF_INET6, a6, 1000, name) == 0,
	    "addrname: the family is part of the key");
	CHECK(addrname_get(t, AF_INET, a, 11000, name) == 0,
	    "addrname: forgotten after its TTL");
	addrname_put(t, AF_INET, a, "a2.test", 1000000, 20000);
	CHECK(addrname_get(t, AF_INET, a, 119999, name) == 1 &&
	    strcmp(name, "a2.test") == 0 &&
	    addrname_get(t, AF_INET, a, 120000, name) == 0,
	    "addrname: a new answer renews, its TTL capped");
	addrname_put(t, AF_INET, b, "b.test", 60, 20000);
	addrname_put(t, AF_INET, c, "c.test", 60, 20000);
	CHECK(addrname_count(t) == 2 &&
	    addrname_get(t, AF_INET, a, 20000, name) == 0 &&
	    addrname_get(t, AF_INET, b, 20000, name) == 1 &&
	    addrname_get(t, AF_INET, c, 20000, name) == 1,
	    "addrname: full, the oldest goes");
	addrname_free(t);
}

/* --dns-trust: the same answer, learned only from a trusted source. */
static void
test_dnslearn_trust(const uint8_t *answer, size_t len)
{
	struct config_addr trust[2] = {
		{ .family = AF_INET6, .addr = { 10, 77, 2, 53 } },
		{ .family = AF_INET, .addr = { 10, 77, 2, 54 } },
	};
	uint8_t frame[256];
	struct addrname *t = addrname_new(16, 3600);

	if (t == NULL || len > sizeof(frame)) {
		CHECK(0, "dnslearn trust: set up");
		addrname_free(t);
		return;
	}
	memcpy(frame, answer, len);
	memcpy(frame + 14 + 12, (uint8_t[]){ 10, 77, 2, 53 }, 4);
	CHECK(dnslearn_frame(t, trust, 2, DLT_EN10MB, frame, len, 0) == 0,
	    "dnslearn trust: an untrusted source teaches nothing (an IPv6 "
	    "address with the same first bytes is not it)");
	trust[1].addr[3] = 53;
	CHECK(dnslearn_frame(t, trust, 2, DLT_EN10MB, frame, len, 0) == 1,
	    "dnslearn trust: a trusted source is learned");
	addrname_free(t);
}

/* An Ethernet frame with a DNS answer for learned.test -> 10.77.2.7. */
static void
test_dnslearn(void)
{
	static const uint8_t dns[] = {
	    0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
	    7, 'l', 'e', 'a', 'r', 'n', 'e', 'd', 4, 't', 'e', 's', 't', 0,
	    0, 1, 0, 1,
	    0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 77, 2, 7 };
	uint8_t frame[14 + 20 + 8 + sizeof(dns)] = { [12] = 0x08 };
	uint8_t *ip = frame + 14, *udp = ip + 20;
	uint8_t addr[4] = { 10, 77, 2, 7 };
	struct addrname *t = addrname_new(16, 3600);
	char name[DNS_NAME_MAX];
	size_t iplen = 20 + 8 + sizeof(dns);

	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[9] = 17;
	udp[1] = 53;
	udp[5] = (uint8_t)(8 + sizeof(dns));
	memcpy(udp + 8, dns, sizeof(dns));
	CHECK(t != NULL && dnslearn_frame(t, NULL, 0, DLT_EN10MB, frame,
	    sizeof(frame), 0) == 1,
	    "dnslearn: one address from an Ethernet frame");
	CHECK(t != NULL && addrname_get(t, AF_INET, addr, 4999, name) == 1 &&
	    strcmp(name, "learned.test") == 0 &&
	    addrname_get(t, AF_INET, addr, 5000, name) == 0,
	    "dnslearn: named for the answer's TTL");
	CHECK(t != NULL && dnslearn_frame(t, NULL, 0, DLT_EN10MB, frame,
	    sizeof(frame) - 1, 0) == 0, "dnslearn: a truncated frame: nothing");
	/* What the queue hands over: the packet from its IP header on. */
	CHECK(t != NULL && dnslearn_packet(t, NULL, 0, ip, iplen, 0) == 1,
	    "dnslearn: one address from a queued IP packet");
	CHECK(t != NULL && dnslearn_packet(t, NULL, 0, ip, iplen - 1, 0) == 0,
	    "dnslearn: a queued packet cut short by the copy range: nothing");
	addrname_free(t);
	test_dnslearn_trust(frame, sizeof(frame));
}

static void
test_flowaudit(void)
{
	char path[PATH_MAX];
	struct audit *audit;
	struct flowaudit *fa;
	struct flow f = { .family = AF_INET, .proto = IPPROTO_TCP,
	    .src = { 10, 77, 1, 2 }, .dst = { 10, 77, 2, 2 }, .sport = 40000,
	    .dport = 2222 };
	int i, rows = 0;

	snprintf(path, sizeof(path), "%s/audit.db", test_dir);
	if ((audit = audit_open(path, 1024, 0)) == NULL ||
	    (fa = flowaudit_new(audit, 64, 10000)) == NULL) {
		CHECK(0, "flowaudit: opened");
		return;
	}
	for (i = 0; i < 100; i++) {
		f.sport = (uint16_t)(40000 + i);
		rows += flowaudit_deny(fa, &f, "x.test", 3, "denied", 1000 + i);
	}
	CHECK(rows == 1, "flowaudit: a retry storm is one row now");
	f.dport = 2223;
	rows = flowaudit_deny(fa, &f, NULL, -1, "would_deny", 1200);
	CHECK(rows == 1, "flowaudit: another destination has its own row");
	flowaudit_sweep(fa, 5000);
	flowaudit_sweep(fa, 11000);
	flowaudit_free(fa);
	audit_close(audit);
	CHECK(test_int(path, "SELECT count(*) FROM requests") == 3,
	    "flowaudit: first row, the window's tail, the other port");
	CHECK(test_int(path, "SELECT flows FROM connections c JOIN requests r"
	    " ON r.conn_id = c.id WHERE r.error IS NOT NULL") == 99,
	    "flowaudit: the tail row stands for the 99 flows counted");
	CHECK(test_int(path, "SELECT count(*) FROM requests WHERE"
	    " decision = 'denied' AND method IS NULL AND path IS NULL AND"
	    " server = '10.77.2.2:2222' AND host = 'x.test' AND rule_id = 3"
	    " AND client LIKE '10.77.1.2:%'") == 2,
	    "flowaudit: the denied rows' columns");
	CHECK(test_int(path, "SELECT count(*) FROM connections WHERE"
	    " proto = 'tcp' AND port = 2223 AND flows = 1 AND"
	    " end_reason = 'would_deny'") == 1,
	    "flowaudit: the connection row: proto, port, flows");
}

int
main(void)
{
	char tmpl[] = "/tmp/test_nfqueue.XXXXXX", cmd[PATH_MAX + 16];

	if (mkdtemp(tmpl) == NULL)
		return 1;
	snprintf(test_dir, sizeof(test_dir), "%s", tmpl);
	test_parse();
	test_decide();
	test_addrname();
	test_dnslearn();
	test_flowaudit();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
	if (system(cmd) == -1)
		return 1;
	return unit_done();
}
