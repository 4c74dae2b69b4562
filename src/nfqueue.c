/*
 * nfqueue.c - --nfqueue NUM: a verdict for the first packet of every new
 * outbound flow, from the current rules snapshot.
 *
 * Owns the libnetfilter_queue handle bound to queue NUM and the one thread
 * that reads it.  The netfilter rules (tools/sluice-netfilter, or the
 * tests' own) queue new TCP and UDP flows from the LAN (and the DNS
 * answers to it, below), and save the mark this thread sets into the
 * flow's connmark, so only a flow's first packet costs a verdict:
 *
 *	intercept  accept, mark |= NETMARK_INTERCEPT  (nat REDIRECTs the
 *	           intercepted ports to sluice; other ports simply pass)
 *	deny       accept, mark |= NETMARK_DENY       (FORWARD rejects:
 *	           TCP RST / ICMP unreachable), or NF_DROP with
 *	           --nfqueue-deny drop
 *
 * Mark bits outside NETMARK_MASK are kept as they came.  "Accept" is
 * NF_REPEAT: the packet, now marked, goes through the mangle chain again,
 * where the layout's rules skip marked packets except for the
 * CONNMARK --save-mark that makes the verdict the flow's.  NF_ACCEPT
 * would leave the chain at the NFQUEUE rule and skip that save.  A packet
 * that arrives already carrying a verdict (rules that queue marked
 * packets) gets NF_ACCEPT, so that it cannot loop.
 *
 * The layout also queues the DNS answers the gateway sends to the LAN
 * (filter FORWARD and OUTPUT, -o LAN, source port 53, --queue-bypass):
 * this thread learns from each one (dnslearn_packet(), --dns-trust
 * applies) and then gives it NF_ACCEPT, never a flow verdict, never an
 * audit row.  So the client has its answer only once the name is in the
 * table, and its SYN, queued after the answer was let go, is judged by
 * this same thread afterwards: there is no race between the two.  An
 * answer is told from a flow by the hook it was queued at (flows are
 * queued in PREROUTING), not by its port, since a client can send from
 * port 53 too.  An answer that cannot be read still goes: it teaches
 * nothing, and the flows that follow are decided by address.  With
 * --dns-capture (for rulesets that do not queue answers), the capture is
 * the only source of names and queued answers are let go unread.
 *
 * The decision mirrors the per-connection step of INTERFACE.md, by the
 * destination's learned name (addrname) and its address: the first rule whose host matches either and whose port
 * matches, ignoring denies that carry a method or path (those decide
 * requests), decides; deny -> deny, allow -> intercept (an allow with a
 * method or path, too: sluice decides each request), passthrough ->
 * intercept as well.  No rule: the default policy (deny -> deny, allow ->
 * intercept).  With --report-only a deny is audited as would_deny and the
 * flow intercepted as if allowed.
 *
 * Passthrough is not "forward untouched" here, because the name came from
 * a DNS answer that a LAN client can choose (its own resolver): a flow
 * passed by name would reach any address the client made that name
 * resolve to.  Intercepted, a flow on an intercepted port reaches
 * intercept.c's passthrough, which relays it bound to its SNI (dialling only
 * an address sluice itself resolves the name to), still untouched inside.
 *
 * Per packet: no SQL and no allocation (an answer is parsed on the
 * stack).  The snapshot is re-acquired only
 * when rules_generation() moves (as workers do); the name lookup holds
 * addrname's mutex for one hash walk; the verdict is one sendmsg.  Denied
 * flows are audited through flowaudit.c (rate-limited; that path
 * allocates in audit_submit(), at most twice per client and destination
 * per window).
 *
 * Bounds: the kernel copies at most NFQUEUE_COPY bytes of each packet
 * (a whole EDNS answer; a SYN is far shorter, and only its own length is
 * copied), queues at most NFQUEUE_MAXLEN packets (more are dropped
 * by the kernel: fail-closed), and the socket buffer is NFQUEUE_RCVBUF;
 * when it overflows recv() says ENOBUFS, which is counted and logged at
 * most once a second.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "dnslearn.h"
#include "log.h"
#include "netmark.h"
#include "nfqueue.h"
#include "util.h"

#define NFQUEUE_COPY		(4096 + 128)	/* EDNS answer, IPv6 + TCP */
#define NFQUEUE_MAXLEN		4096		/* packets waiting in the kernel */
#define NFQUEUE_RCVBUF		(1 << 20)
#define NFQUEUE_POLL_MS		200		/* how soon a stop is noticed */
#define NFQUEUE_AUDIT_SLOTS	4096
#define NFQUEUE_AUDIT_WINDOW_MS	10000
#define NFQUEUE_SWEEP_MS	1000
#define NETMARK_VERDICTS	(NETMARK_INTERCEPT | NETMARK_DENY)

struct nfqueue {
	const struct config *cfg;
	struct addrname	*names;		/* not owned */
	struct rules	*ruleset;	/* not owned: publishes snapshots */
	struct flowaudit *flowaudit;
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	int		 fd;
	pthread_t	 thread;
	int		 started;
	atomic_int	 stopping;
	struct rules_snapshot *rules;	/* this thread's reference */
	int64_t		 last_sweep_ms;
	time_t		 last_warn_s;

	/* Counters, read at the end (one thread writes them). */
	uint64_t	 verdicts[2];
	uint64_t	 answers;	/* DNS answers let through */
	uint64_t	 malformed;
	uint64_t	 enobufs;
	uint64_t	 decide_ns;	/* sum: parse, name, rules, audit */
	uint64_t	 decide_max_ns;
	uint64_t	 verdict_ns;	/* sum: the verdict's sendmsg, in which
					   the kernel reinjects the packet */

	char		 buf[65536];	/* one netlink read: several packets */
};

static const char *const nfqueue_verdict_names[] = {
	"intercept", "deny",
};

/* Skip IPv6 extension headers to the transport one, within len. */
static int
nfqueue_v6_transport(const uint8_t *p, size_t len, size_t *off, int *proto)
{
	int nh = p[6], i;
	size_t o = 40;

	for (i = 0; i < 8; i++) {
		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if (o + 8 > len)
				return -1;
			nh = p[o];
			o += ((size_t)p[o + 1] + 1) * 8;
			break;
		case IPPROTO_FRAGMENT:
			/* Only a first fragment has the ports. */
			if (o + 8 > len || (p[o + 2] << 8 | (p[o + 3] & 0xf8)) != 0)
				return -1;
			nh = p[o];
			o += 8;
			break;
		default:
			*off = o;
			*proto = nh;
			return 0;
		}
	}
	return -1;
}

int
nfqueue_parse(const uint8_t *p, size_t len, struct flow *f)
{
	size_t off;
	int proto;

	memset(f, 0, sizeof(*f));
	if (len < 20)
		return -1;
	if ((p[0] >> 4) == 4) {
		off = (size_t)(p[0] & 0x0f) * 4;
		if (off < 20 || (p[6] & 0x1f) != 0 || p[7] != 0)
			return -1;	/* not a first fragment */
		proto = p[9];
		f->family = AF_INET;
		memcpy(f->src, p + 12, 4);
		memcpy(f->dst, p + 16, 4);
	} else if ((p[0] >> 4) == 6) {
		if (len < 40 || nfqueue_v6_transport(p, len, &off, &proto) == -1)
			return -1;
		f->family = AF_INET6;
		memcpy(f->src, p + 8, 16);
		memcpy(f->dst, p + 24, 16);
	} else {
		return -1;
	}
	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || off + 4 > len)
		return -1;
	f->proto = proto;
	f->sport = (uint16_t)(p[off] << 8 | p[off + 1]);
	f->dport = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
	return 0;
}

enum nfqueue_verdict
nfqueue_decide(const struct rules_snapshot *snap, int default_deny,
    const char *name, const char *addr, int port, const struct rule **rule)
{
	const struct rule *r = NULL;

	if (snap != NULL)
		r = rules_match_flow(snap, name, addr, port);
	*rule = r;
	if (r == NULL)
		return default_deny ? NFQUEUE_DENY : NFQUEUE_INTERCEPT;
	/* Passthrough too: tunnel.c relays it bound to its SNI (see above). */
	return r->action == RULE_DENY ? NFQUEUE_DENY : NFQUEUE_INTERCEPT;
}

/* The snapshot the workers see, re-acquired only when it changed. */
static void
nfqueue_refresh_rules(struct nfqueue *q)
{
	if (q->rules != NULL && q->rules->generation ==
	    rules_generation(q->ruleset))
		return;
	if (q->rules != NULL)
		rules_snapshot_unref(q->rules);
	q->rules = rules_acquire(q->ruleset);
}

static uint64_t
nfqueue_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Decide a parsed flow, audit a deny; the verdict to give. */
static enum nfqueue_verdict
nfqueue_flow(struct nfqueue *q, const struct flow *f)
{
	char name[DNS_NAME_MAX], addr[INET6_ADDRSTRLEN];
	const struct rule *rule;
	enum nfqueue_verdict v;
	int known;
	int64_t now_ms = (int64_t)util_mono_ms();

	known = addrname_get(q->names, f->family, f->dst, now_ms, name);
	if (inet_ntop(f->family, f->dst, addr, sizeof(addr)) == NULL)
		return NFQUEUE_DENY;
	nfqueue_refresh_rules(q);
	v = nfqueue_decide(q->rules, q->cfg->default_deny,
	    known ? name : NULL, addr, f->dport, &rule);
	log_debug("nfqueue: %s %s:%u (%s) -> %s",
	    f->proto == IPPROTO_TCP ? "tcp" : "udp", addr, (unsigned)f->dport,
	    known ? name : "no name", nfqueue_verdict_names[v]);
	if (v != NFQUEUE_DENY)
		return v;
	flowaudit_deny(q->flowaudit, f, known ? name : NULL,
	    rule != NULL ? rule->id : -1,
	    q->cfg->report_only ? "would_deny" : "denied", now_ms);
	return q->cfg->report_only ? NFQUEUE_INTERCEPT : NFQUEUE_DENY;
}

/* A DNS answer on its way to the LAN: learn from it, then let it go. */
static int
nfqueue_answer(struct nfqueue *q, struct nfq_q_handle *qh, uint32_t id,
    const unsigned char *pkt, int len)
{
	/* One source of names: a capture lagging behind the queue would
	 * put back a name the queue has since replaced. */
	if (len > 0 && q->cfg->ndns_capture == 0)
		dnslearn_packet(q->names, q->cfg->dns_trust,
		    q->cfg->ndns_trust, pkt, (size_t)len,
		    (int64_t)util_mono_ms());
	q->answers++;
	if (nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL) < 0)
		log_warn("nfqueue: verdict for answer %u", id);
	return 0;
}

static int
nfqueue_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg,
    struct nfq_data *nfa, void *arg)
{
	static const uint32_t marks[] = {
		NETMARK_INTERCEPT, NETMARK_DENY,
	};
	struct nfqueue *q = arg;
	struct nfqnl_msg_packet_hdr *ph;
	enum nfqueue_verdict v = NFQUEUE_DENY;
	unsigned char *pkt;
	struct flow f;
	uint64_t t0 = nfqueue_ns(), t1;
	uint32_t id, mark;
	int len, rc;

	if ((ph = nfq_get_msg_packet_hdr(nfa)) == NULL)
		return 0;
	id = ntohl(ph->packet_id);
	mark = nfq_get_nfmark(nfa);
	len = nfq_get_payload(nfa, &pkt);
	if (ph->hook == NF_INET_FORWARD || ph->hook == NF_INET_LOCAL_OUT)
		return nfqueue_answer(q, qh, id, pkt, len);
	/* Unreadable: refused like a deny, never let through unjudged. */
	if (len < 0 || nfqueue_parse(pkt, (size_t)len, &f) == -1)
		q->malformed++;
	else
		v = nfqueue_flow(q, &f);
	q->verdicts[v]++;
	t1 = nfqueue_ns();
	q->decide_ns += t1 - t0;
	if (t1 - t0 > q->decide_max_ns)
		q->decide_max_ns = t1 - t0;
	if (v == NFQUEUE_DENY && q->cfg->nfqueue_drop)
		rc = nfq_set_verdict(qh, id, NF_DROP, 0, NULL);
	else
		rc = nfq_set_verdict2(qh, id, (mark & NETMARK_VERDICTS) != 0 ?
		    NF_ACCEPT : NF_REPEAT, (mark & ~NETMARK_MASK) | marks[v],
		    0, NULL);
	if (rc < 0)
		log_warn("nfqueue: verdict for packet %u", id);
	q->verdict_ns += nfqueue_ns() - t1;
	return 0;
}

/* The kernel could not hand us packets: they were dropped (fail-closed). */
static void
nfqueue_enobufs(struct nfqueue *q)
{
	time_t now = time(NULL);

	q->enobufs++;
	if (now != q->last_warn_s) {
		q->last_warn_s = now;
		log_warnx("nfqueue: socket buffer overflowed: packets dropped "
		    "by the kernel (%llu times so far)",
		    (unsigned long long)q->enobufs);
	}
}

static void
nfqueue_read(struct nfqueue *q)
{
	ssize_t n;
	int i;

	/* A bounded burst, so that sweeps and stops are not starved. */
	for (i = 0; i < 256; i++) {
		n = recv(q->fd, q->buf, sizeof(q->buf), MSG_DONTWAIT);
		if (n >= 0) {
			nfq_handle_packet(q->h, q->buf, (int)n);
			continue;
		}
		if (errno == ENOBUFS) {
			nfqueue_enobufs(q);
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_warn("nfqueue: recv");
		return;
	}
}

static void *
nfqueue_main(void *arg)
{
	struct nfqueue *q = arg;
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
	int64_t now;

	while (!atomic_load(&q->stopping)) {
		if (poll(&pfd, 1, NFQUEUE_POLL_MS) > 0)
			nfqueue_read(q);
		now = (int64_t)util_mono_ms();
		if (now - q->last_sweep_ms >= NFQUEUE_SWEEP_MS) {
			flowaudit_sweep(q->flowaudit, now);
			q->last_sweep_ms = now;
		}
	}
	return NULL;
}

struct nfqueue *
nfqueue_open(const struct config *cfg, struct audit *audit,
    struct rules *rules, struct addrname *names)
{
	struct nfqueue *q;
	int rcvbuf = NFQUEUE_RCVBUF;

	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->flowaudit = flowaudit_new(audit, NFQUEUE_AUDIT_SLOTS,
	    NFQUEUE_AUDIT_WINDOW_MS)) == NULL) {
		log_warnx("--nfqueue: out of memory");
		goto fail;
	}
	q->cfg = cfg;
	q->ruleset = rules;
	q->names = names;
	q->fd = -1;
	if ((q->h = nfq_open()) == NULL) {
		log_warn("--nfqueue %d: cannot open netlink (needs "
		    "CAP_NET_ADMIN)", cfg->nfqueue);
		goto fail;
	}
	if ((q->qh = nfq_create_queue(q->h, (uint16_t)cfg->nfqueue,
	    nfqueue_packet, q)) == NULL) {
		log_warn("--nfqueue %d: cannot bind the queue (is another "
		    "process bound to it?)", cfg->nfqueue);
		goto fail;
	}
	if (nfq_set_mode(q->qh, NFQNL_COPY_PACKET, NFQUEUE_COPY) < 0 ||
	    nfq_set_queue_maxlen(q->qh, NFQUEUE_MAXLEN) < 0) {
		log_warn("--nfqueue %d: cannot configure the queue",
		    cfg->nfqueue);
		goto fail;
	}
	q->fd = nfq_fd(q->h);
	if (setsockopt(q->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf)) == -1) {
		log_warn("--nfqueue %d: SO_RCVBUF", cfg->nfqueue);
		goto fail;
	}
	if (cfg->ndns_trust == 0)
		log_warnx("dns: no --dns-trust: names are learned from any "
		    "resolver the LAN can reach, so a client can make a name "
		    "resolve to an address of its choice");
	return q;
fail:
	nfqueue_free(q);
	return NULL;
}

int
nfqueue_start(struct nfqueue *q)
{
	q->last_sweep_ms = (int64_t)util_mono_ms();
	if (pthread_create(&q->thread, NULL, nfqueue_main, q) != 0) {
		log_warnx("nfqueue: cannot start its thread");
		return -1;
	}
	q->started = 1;
	log_info("nfqueue: giving verdicts on queue %d (deny: %s)",
	    q->cfg->nfqueue, q->cfg->nfqueue_drop ? "drop" : "reject");
	return 0;
}

void
nfqueue_free(struct nfqueue *q)
{
	uint64_t n;

	if (q == NULL)
		return;
	if (q->started) {
		atomic_store(&q->stopping, 1);
		pthread_join(q->thread, NULL);
		n = q->verdicts[NFQUEUE_INTERCEPT] + q->verdicts[NFQUEUE_DENY];
		log_info("nfqueue: %llu verdicts (intercept %llu, deny %llu), "
		    "%llu DNS answers, %llu unreadable, %llu overflows; decision "
		    "mean %.2f us, max %.1f us; verdict sent mean %.1f us",
		    (unsigned long long)n,
		    (unsigned long long)q->verdicts[NFQUEUE_INTERCEPT],
		    (unsigned long long)q->verdicts[NFQUEUE_DENY],
		    (unsigned long long)q->answers,
		    (unsigned long long)q->malformed,
		    (unsigned long long)q->enobufs,
		    n > 0 ? (double)q->decide_ns / (double)n / 1000.0 : 0.0,
		    (double)q->decide_max_ns / 1000.0,
		    n > 0 ? (double)q->verdict_ns / (double)n / 1000.0 : 0.0);
	}
	if (q->qh != NULL)
		nfq_destroy_queue(q->qh);
	if (q->h != NULL)
		nfq_close(q->h);
	flowaudit_free(q->flowaudit);
	if (q->rules != NULL)
		rules_snapshot_unref(q->rules);
	free(q);
}
