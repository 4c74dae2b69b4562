/*
 * flowaudit.c - what a denied flow leaves in the audit database.
 *
 * Owns a fixed, direct-mapped table of windows keyed by (client address,
 * protocol, destination address, destination port): a client retrying a
 * denied destination (a retry storm, a scanner) gets one row when its
 * window opens, and the flows counted while it is open become one more row
 * when it closes (flowaudit_sweep), with connections.flows holding the
 * count and requests.error saying so.  So a key costs at most two rows per
 * window, and nothing denied goes unaccounted.  A key that collides with
 * an open window closes it early (its row is written then).
 *
 * Used by the nfqueue thread only: no locking.  Rows go through
 * audit_submit(), whose bounded queue counts what it cannot take.
 *
 * Each row: requests (decision, no method or path, server = destination
 * ip:port, client = source ip:port, host = the learned name, rule_id) and
 * connections (proto, port, flows, end_reason = the decision).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"
#include "flowaudit.h"
#include "log.h"
#include "util.h"

struct flowaudit_slot {
	int		 used;
	struct flow	 key;		/* sport is the last flow's */
	int64_t		 opened_ms;
	uint64_t	 counted;	/* flows since the window's row */
	int64_t		 rule_id;
	const char	*decision;	/* a string literal */
	char		 host[DNS_NAME_MAX];	/* "" : none */
};

struct flowaudit {
	struct audit	*audit;
	struct flowaudit_slot *slots;
	unsigned	 nslots;
	int64_t		 window_ms;
};

void
flowaudit_addr_str(int family, const uint8_t *addr, uint16_t port, char *buf,
    size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (inet_ntop(family, addr, ip, sizeof(ip)) == NULL)
		snprintf(ip, sizeof(ip), "?");
	if (family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, (unsigned)port);
	else
		snprintf(buf, len, "%s:%u", ip, (unsigned)port);
}

struct flowaudit *
flowaudit_new(struct audit *audit, unsigned slots, int64_t window_ms)
{
	struct flowaudit *fa;

	if (slots == 0 || (fa = calloc(1, sizeof(*fa))) == NULL)
		return NULL;
	if ((fa->slots = calloc(slots, sizeof(*fa->slots))) == NULL) {
		free(fa);
		return NULL;
	}
	fa->audit = audit;
	fa->nslots = slots;
	fa->window_ms = window_ms;
	return fa;
}

static int
flowaudit_same(const struct flow *a, const struct flow *b)
{
	size_t n = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && a->proto == b->proto &&
	    a->dport == b->dport && memcmp(a->src, b->src, n) == 0 &&
	    memcmp(a->dst, b->dst, n) == 0;
}

static unsigned
flowaudit_index(const struct flowaudit *fa, const struct flow *f)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i, n = f->family == AF_INET ? 4 : 16;

	for (i = 0; i < n; i++)
		h = (h ^ f->src[i]) * 0x100000001b3ULL;
	for (i = 0; i < n; i++)
		h = (h ^ f->dst[i]) * 0x100000001b3ULL;
	h = (h ^ f->dport) * 0x100000001b3ULL;
	h = (h ^ (unsigned)f->proto) * 0x100000001b3ULL;
	return (unsigned)(h % fa->nslots);
}

/*
 * One requests row and its connections row, standing for count flows; a
 * tail row is for those counted after the window's first row.
 */
static void
flowaudit_row(struct flowaudit *fa, const struct flowaudit_slot *s,
    uint64_t count, int tail)
{
	const struct flow *f = &s->key;
	const char *proto = f->proto == IPPROTO_TCP ? "tcp" : "udp";
	const char *host = s->host[0] != '\0' ? s->host : NULL;
	char client[64], server[64], note[96];
	struct audit_record r;
	struct audit_conn_record c;
	int64_t now = util_wall_ms();

	flowaudit_addr_str(f->family, f->src, f->sport, client,
	    sizeof(client));
	flowaudit_addr_str(f->family, f->dst, f->dport, server,
	    sizeof(server));
	if (tail)
		snprintf(note, sizeof(note), "%llu more flows from this client "
		    "within %lld s, audited as one row",
		    (unsigned long long)count, (long long)(fa->window_ms / 1000));
	memset(&c, 0, sizeof(c));
	c.id = audit_conn_id(fa->audit);
	c.started_ms = c.ended_ms = now;
	c.client = client;
	c.server = server;
	c.bytes_in = c.bytes_out = -1;
	c.end_reason = s->decision;
	c.proto = proto;
	c.port = f->dport;
	c.flows = (int64_t)count;
	memset(&r, 0, sizeof(r));
	r.ts_ms = now;
	r.client = client;
	r.server = server;
	r.host = host;
	r.decision = s->decision;
	r.rule_id = s->rule_id;
	r.req_bytes = r.resp_bytes = -1;
	r.error = tail ? note : NULL;
	r.conn_id = c.id;
	log_event(LOG_INFO, "flow", "decision=%s proto=%s client=%s server=%s "
	    "host=%s rule=%lld flows=%llu", s->decision, proto, client,
	    server, host != NULL ? host : "-", (long long)s->rule_id,
	    (unsigned long long)count);
	/* audit_submit() counts what its queue refuses (gaps). */
	(void)audit_submit(fa->audit, &r);
	(void)audit_submit_conn(fa->audit, &c);
}

static void
flowaudit_close(struct flowaudit *fa, struct flowaudit_slot *s)
{
	if (s->used && s->counted > 0)
		flowaudit_row(fa, s, s->counted, 1);
	s->used = 0;
}

int
flowaudit_deny(struct flowaudit *fa, const struct flow *f, const char *host,
    int64_t rule_id, const char *decision, int64_t now_ms)
{
	struct flowaudit_slot *s = &fa->slots[flowaudit_index(fa, f)];

	if (s->used && flowaudit_same(&s->key, f) &&
	    now_ms - s->opened_ms < fa->window_ms) {
		s->counted++;
		s->key.sport = f->sport;
		return 0;
	}
	flowaudit_close(fa, s);
	s->used = 1;
	s->key = *f;
	s->opened_ms = now_ms;
	s->counted = 0;
	s->rule_id = rule_id;
	s->decision = decision;
	snprintf(s->host, sizeof(s->host), "%s", host != NULL ? host : "");
	flowaudit_row(fa, s, 1, 0);
	return 1;
}

void
flowaudit_sweep(struct flowaudit *fa, int64_t now_ms)
{
	unsigned i;

	for (i = 0; i < fa->nslots; i++)
		if (fa->slots[i].used &&
		    now_ms - fa->slots[i].opened_ms >= fa->window_ms)
			flowaudit_close(fa, &fa->slots[i]);
}

void
flowaudit_free(struct flowaudit *fa)
{
	unsigned i;

	if (fa == NULL)
		return;
	for (i = 0; i < fa->nslots; i++)
		flowaudit_close(fa, &fa->slots[i]);
	free(fa->slots);
	free(fa);
}
