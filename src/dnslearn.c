/*
 * dnslearn.c - names for addresses, from the DNS answers on the LAN side.
 *
 * dnslearn_packet() learns from one answer: it is parsed by dns.c and
 * every address it yields goes into the addrname table under the
 * question's name, for the answer's TTL (the smallest along its CNAME
 * chain; addrname caps it).  Two paths feed it:
 *
 *  - nfqueue.c, for the answers the netfilter layout queues as they leave
 *    for the LAN (filter FORWARD/OUTPUT -o LAN, source port 53): it learns
 *    before it lets the answer go, so the client's next SYN, judged by the
 *    same thread, always finds the name.  This is the normal path.
 *  - --dns-capture: one libpcap live capture per interface and one thread
 *    that polls them all, for rulesets that do not queue the answers.
 *    Each capture sees only packets the gateway sends out of that
 *    interface (PCAP_D_OUT) with source port 53: the answers going to
 *    clients, not anything a client sends with a forged source port.  It
 *    races with the client: a SYN sent right after the answer arrived can
 *    be judged before this thread has read it.
 *
 * A client can still ask a resolver of its own choosing (UDP/53 crosses
 * the gateway) and so make a name resolve to any address.  With
 * --dns-trust, only answers whose IP source is one of those resolvers
 * are learned: dnslearn_packet() checks the source (the capture filter
 * selects them too, as an optimisation).  Without it, every answer is
 * learned, and main.c says so once.
 *
 * DNS over TCP is not reassembled: a segment is parsed only when it holds
 * a whole message after its 2-byte length (the first segment of a short
 * answer); longer answers are not learned.  Neither are IPv4 fragments
 * nor IPv6 packets with extension headers.
 *
 * Nothing here decides a verdict: a flow whose name was not learned is
 * decided by its address (nfqueue.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <pcap/pcap.h>

#include "dns.h"
#include "dnslearn.h"
#include "log.h"
#include "util.h"

#define DNSLEARN_MAX_IF		16
#define DNSLEARN_SNAPLEN	8192		/* EDNS answers: 4096 and headers */
#define DNSLEARN_BUFFER		(1 << 20)	/* kernel ring, per interface */
#define DNSLEARN_POLL_MS	200		/* how soon a stop is noticed */
#define DNSLEARN_FILTER		"(udp src port 53 or tcp src port 53)"
/* The filter and " and (src host ADDR or ...)" for every trusted address. */
#define DNSLEARN_FILTER_MAX	(sizeof(DNSLEARN_FILTER) + 8 + \
	    CONFIG_MAX_DNS_TRUST * (13 + INET6_ADDRSTRLEN))

struct dnslearn {
	pcap_t		*pcaps[DNSLEARN_MAX_IF];
	char		*names[DNSLEARN_MAX_IF];
	int		 npcaps;
	struct addrname	*table;
	const struct config_addr *trust;	/* not owned */
	int		 ntrust;
	pthread_t	 thread;
	int		 started;
	atomic_int	 stopping;
};

/* The IP packet in a frame of this link type, or NULL. */
static const uint8_t *
dnslearn_ip(int dlt, const uint8_t *f, size_t len, size_t *iplen)
{
	size_t off;
	uint16_t type;

	switch (dlt) {
	case DLT_EN10MB:
		off = 14;
		if (len < off)
			return NULL;
		type = (uint16_t)(f[12] << 8 | f[13]);
		if (type == 0x8100 && len >= 18) {
			type = (uint16_t)(f[16] << 8 | f[17]);
			off = 18;
		}
		if (type != 0x0800 && type != 0x86dd)
			return NULL;
		break;
	case DLT_LINUX_SLL:
		off = 16;
		break;
	case DLT_RAW:
		off = 0;
		break;
	default:
		return NULL;
	}
	if (len <= off)
		return NULL;
	*iplen = len - off;
	return f + off;
}

/*
 * The transport payload of an IPv4/IPv6 UDP or TCP packet: the DNS message
 * (for TCP, after its length, only when the segment holds all of it).
 */
static const uint8_t *
dnslearn_payload(const uint8_t *ip, size_t len, size_t *plen)
{
	size_t hl, tl;
	uint8_t proto;

	if (len < 1)
		return NULL;
	if ((ip[0] >> 4) == 4) {
		hl = (size_t)(ip[0] & 0x0f) * 4;
		if (hl < 20 || len < hl)
			return NULL;
		if ((ip[6] & 0x3f) != 0 || ip[7] != 0)
			return NULL;	/* a fragment (MF or offset) */
		tl = (size_t)(ip[2] << 8 | ip[3]);
		if (tl < hl || tl > len)
			return NULL;
		len = tl;
		proto = ip[9];
	} else if ((ip[0] >> 4) == 6) {
		hl = 40;
		if (len < hl)
			return NULL;
		tl = hl + (size_t)(ip[4] << 8 | ip[5]);
		if (tl > len)
			return NULL;
		len = tl;
		proto = ip[6];
	} else {
		return NULL;
	}
	ip += hl;
	len -= hl;
	if (proto == 17) {
		if (len < 8)
			return NULL;
		*plen = len - 8;
		return ip + 8;
	}
	if (proto != 6 || len < 20)
		return NULL;
	hl = (size_t)(ip[12] >> 4) * 4;
	if (hl < 20 || len < hl + 2)
		return NULL;
	ip += hl;
	len -= hl;
	tl = (size_t)(ip[0] << 8 | ip[1]);
	if (tl + 2 > len)
		return NULL;
	*plen = tl;
	return ip + 2;
}

/* Whether the packet's IP source is a trusted resolver (none: any). */
static int
dnslearn_trusted(const struct config_addr *trust, int ntrust,
    const uint8_t *ip, size_t len)
{
	const uint8_t *src;
	int family, i;
	size_t alen;

	if (ntrust == 0)
		return 1;
	if ((ip[0] >> 4) == 4 && len >= 20) {
		family = AF_INET, src = ip + 12, alen = 4;
	} else if ((ip[0] >> 4) == 6 && len >= 40) {
		family = AF_INET6, src = ip + 8, alen = 16;
	} else {
		return 0;
	}
	for (i = 0; i < ntrust; i++)
		if (trust[i].family == family &&
		    memcmp(trust[i].addr, src, alen) == 0)
			return 1;
	return 0;
}

int
dnslearn_packet(struct addrname *table, const struct config_addr *trust,
    int ntrust, const uint8_t *ip, size_t len, int64_t now_ms)
{
	struct dns_answer a;
	const uint8_t *msg;
	size_t mlen, i;

	if (len < 1 || !dnslearn_trusted(trust, ntrust, ip, len) ||
	    (msg = dnslearn_payload(ip, len, &mlen)) == NULL ||
	    dns_parse_response(msg, mlen, &a) <= 0)
		return 0;
	for (i = 0; i < a.naddrs; i++)
		addrname_put(table, a.addrs[i].family, a.addrs[i].addr, a.name,
		    a.addrs[i].ttl, now_ms);
	log_debug("dns: learned %zu addresses for %s (ttl %u)", a.naddrs,
	    a.name, (unsigned)a.addrs[0].ttl);
	return (int)a.naddrs;
}

int
dnslearn_frame(struct addrname *table, const struct config_addr *trust,
    int ntrust, int dlt, const uint8_t *frame, size_t len, int64_t now_ms)
{
	const uint8_t *ip;
	size_t iplen;

	if ((ip = dnslearn_ip(dlt, frame, len, &iplen)) == NULL)
		return 0;
	return dnslearn_packet(table, trust, ntrust, ip, iplen, now_ms);
}

struct dnslearn_cb {
	struct dnslearn	*dl;
	int		 dlt;
};

static void
dnslearn_captured(u_char *arg, const struct pcap_pkthdr *h, const u_char *p)
{
	struct dnslearn_cb *cb = (struct dnslearn_cb *)arg;

	dnslearn_frame(cb->dl->table, cb->dl->trust, cb->dl->ntrust, cb->dlt,
	    p, h->caplen, (int64_t)util_mono_ms());
}

static void *
dnslearn_main(void *arg)
{
	struct dnslearn *dl = arg;
	struct pollfd pfd[DNSLEARN_MAX_IF];
	struct dnslearn_cb cb[DNSLEARN_MAX_IF];
	int i;

	for (i = 0; i < dl->npcaps; i++) {
		pfd[i].fd = pcap_get_selectable_fd(dl->pcaps[i]);
		pfd[i].events = POLLIN;
		cb[i].dl = dl;
		cb[i].dlt = pcap_datalink(dl->pcaps[i]);
	}
	while (!atomic_load(&dl->stopping)) {
		if (poll(pfd, (nfds_t)dl->npcaps, DNSLEARN_POLL_MS) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("dns capture: poll");
			break;
		}
		for (i = 0; i < dl->npcaps; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLERR)))
				continue;
			if (pcap_dispatch(dl->pcaps[i], 64, dnslearn_captured,
			    (u_char *)&cb[i]) == PCAP_ERROR)
				log_warnx("dns capture: %s: %s", dl->names[i],
				    pcap_geterr(dl->pcaps[i]));
		}
	}
	return NULL;
}

/* The capture filter: answers, from the trusted resolvers if any. */
static void
dnslearn_filter(const struct config_addr *trust, int ntrust, char *buf,
    size_t size)
{
	char addr[INET6_ADDRSTRLEN];
	size_t off;
	int i;

	off = (size_t)snprintf(buf, size, "%s", DNSLEARN_FILTER);
	for (i = 0; i < ntrust && off < size; i++) {
		inet_ntop(trust[i].family, trust[i].addr, addr, sizeof(addr));
		off += (size_t)snprintf(buf + off, size - off, "%s src host %s",
		    i == 0 ? " and (" : " or", addr);
	}
	if (ntrust > 0 && off < size)
		snprintf(buf + off, size - off, ")");
}

static pcap_t *
dnslearn_open_one(const char *iface, const char *filter)
{
	char err[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;
	pcap_t *p;

	if ((p = pcap_create(iface, err)) == NULL) {
		log_warnx("--dns-capture %s: %s", iface, err);
		return NULL;
	}
	if (pcap_set_snaplen(p, DNSLEARN_SNAPLEN) != 0 ||
	    pcap_set_buffer_size(p, DNSLEARN_BUFFER) != 0 ||
	    pcap_set_immediate_mode(p, 1) != 0 ||
	    pcap_activate(p) < 0 ||
	    pcap_setdirection(p, PCAP_D_OUT) != 0 ||
	    pcap_compile(p, &prog, filter, 1,
	    PCAP_NETMASK_UNKNOWN) != 0)
		goto fail;
	if (pcap_setfilter(p, &prog) != 0) {
		pcap_freecode(&prog);
		goto fail;
	}
	pcap_freecode(&prog);
	if (pcap_setnonblock(p, 1, err) != 0 ||
	    pcap_get_selectable_fd(p) == -1)
		goto fail;
	return p;
fail:
	log_warnx("--dns-capture %s: %s", iface, pcap_geterr(p));
	pcap_close(p);
	return NULL;
}

struct dnslearn *
dnslearn_open(const char *const *ifaces, int n,
    const struct config_addr *trust, int ntrust, struct addrname *table)
{
	char filter[DNSLEARN_FILTER_MAX];
	struct dnslearn *dl;
	int i;

	if (n < 1 || n > DNSLEARN_MAX_IF || ntrust < 0 ||
	    ntrust > CONFIG_MAX_DNS_TRUST ||
	    (dl = calloc(1, sizeof(*dl))) == NULL)
		return NULL;
	dl->table = table;
	dl->trust = trust;
	dl->ntrust = ntrust;
	dnslearn_filter(trust, ntrust, filter, sizeof(filter));
	for (i = 0; i < n; i++) {
		if ((dl->pcaps[i] = dnslearn_open_one(ifaces[i],
		    filter)) == NULL ||
		    (dl->names[i] = strdup(ifaces[i])) == NULL)
			goto fail;
		dl->npcaps++;
	}
	return dl;
fail:
	if (dl->pcaps[i] != NULL)
		pcap_close(dl->pcaps[i]);
	dnslearn_free(dl);
	return NULL;
}

int
dnslearn_start(struct dnslearn *dl)
{
	if (pthread_create(&dl->thread, NULL, dnslearn_main, dl) != 0) {
		log_warnx("dns capture: cannot start its thread");
		return -1;
	}
	dl->started = 1;
	return 0;
}

void
dnslearn_free(struct dnslearn *dl)
{
	int i;

	if (dl == NULL)
		return;
	if (dl->started) {
		atomic_store(&dl->stopping, 1);
		pthread_join(dl->thread, NULL);
	}
	for (i = 0; i < dl->npcaps; i++) {
		pcap_close(dl->pcaps[i]);
		free(dl->names[i]);
	}
	free(dl);
}
