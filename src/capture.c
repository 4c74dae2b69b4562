/*
 * capture.c - --pcap: decrypted traffic as synthetic TCP/IP packets.
 *
 * Owns the pcap file, its rotation and the writer thread; does not decide
 * which connections are captured (front.c starts one capture_conn per
 * connection whose TLS sluice terminates).
 *
 * What is captured is the client leg: what the client sent inside TLS and
 * what sluice wrote back to it, with the real client address and the
 * original destination.  That is what the client did; the upstream leg
 * carries the credentials sluice injects, and would need masking in every
 * request rather than only where an upstream echoes one.
 *
 * Workers (capture_bytes, capture_flush) copy bytes into the queue entry
 * being filled for each direction, mask secrets there, and queue it: no
 * I/O, no libpcap, one copy, one short mutex hold per chunk.  They also number the bytes
 * (sequence numbers), so a dropped chunk shows in Wireshark as a gap in an
 * otherwise correct stream.  The writer swaps the whole queue out under
 * the mutex and writes it with pcap_dump: link type raw IP (LINKTYPE_RAW),
 * IPv4 or IPv6 per connection, segments of at most CAPTURE_MSS bytes, IP
 * and TCP checksums computed.
 *
 * Masking: bytes for the client are masked with the forms of the request's
 * rule's secrets (rule->mask, mask.c) when they arrive; an end that a
 * form may continue (at most the longest form - 1 bytes) stays pending
 * until more comes or the response is complete, so a secret split across
 * two arrivals is still found whole.  Since exchange.c masks what the
 * client is sent, this finds something only in what does not pass there
 * (a WebSocket after its 101).
 *
 * HTTP/2 (capture_conn_h2): HPACK codes what sluice writes, so those bytes
 * go through capture_h2.c, which re-encodes the frames for the file with
 * the secrets of every rule a stream of the connection answered for
 * (capture_rule) masked; the numbering counts what it emits.  What the
 * client sent is copied as it came.
 *
 * Rotation: when the file reaches max_bytes, FILE.(KEEP-1) -> FILE.KEEP,
 * ..., FILE -> FILE.1, and a new FILE; the oldest is overwritten.  A
 * connection that spans a rotation continues in the new file without its
 * handshake.  FILE is never truncated while it holds packets: at start a
 * non-empty one is rotated first (or sluice does not start), and if it
 * cannot be renamed later it just grows.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <pcap/pcap.h>

#include "capture.h"
#include "capture_h2.h"
#include "log.h"
#include "mask.h"
#include "rules.h"
#include "util.h"

#define CAPTURE_KEEP		5		/* FILE.1 ... FILE.5 */
#define CAPTURE_MSS		1400		/* payload bytes per packet */
#define CAPTURE_SNAPLEN		65535
/*
 * Bytes per queue entry: below glibc's mmap threshold, which main.c's
 * M_TRIM_THRESHOLD freezes at 128 KiB, so entries come from the heap
 * rather than a fresh mapping each.
 */
#define CAPTURE_CHUNK		(64 * 1024)
#define CAPTURE_WAIT_MS		100
#define CAPTURE_WINDOW		65535
#define CAPTURE_STDIO_BUF	(256 * 1024)

enum capture_kind {
	CAPTURE_OPEN,		/* SYN, SYN-ACK, ACK */
	CAPTURE_DATA,
	CAPTURE_CLOSE,		/* FIN-ACK both ways, ACK */
};

/* Both ends of one connection, in network byte order. */
struct capture_flow {
	int		 v6;
	unsigned char	 client[16], server[16];
	uint16_t	 cport, sport;
	uint32_t	 isn[2];	/* [0] client's, [1] server's */
};

/* One queued chunk: bytes one way, or a connection's start or end. */
struct capture_item {
	struct capture_item	*next;
	struct timeval		 ts;
	enum capture_kind	 kind;
	int			 to_client;
	struct capture_flow	 flow;
	uint32_t		 seq[2];	/* next byte each way, [0] client's */
	size_t			 len;
	unsigned char		 data[];
};

struct capture_conn {
	struct capture		*cap;
	struct capture_flow	 flow;
	uint32_t		 seq[2];	/* next byte each way */
	int			 opened;	/* handshake queued */
	struct capture_item	*pending[2];	/* being filled; [1]: for the
						   client */
	size_t			 room[2];	/* data bytes pending can take */
	size_t			 ready;		/* of pending[1]: masked; the
						   rest may begin a secret */
	struct mask_carry	 mask;		/* what the masker knows of
						   the rest */
	struct capture_h2	*h2;		/* HTTP/2: what sluice wrote,
						   re-encoded */
};

struct capture {
	char			*path;
	uint64_t		 max_bytes;	/* 0: never rotate */
	pcap_t			*dead;		/* writer thread only after open */
	pcap_dumper_t		*dumper;	/* writer thread; NULL: not open */
	uint64_t		 written;	/* bytes in the current file */
	int64_t			 retry_s;	/* reopen no sooner (monotonic) */
	int64_t			 error_s;	/* last write error logged */
	pthread_t		 thread;

	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;		/* CLOCK_MONOTONIC */
	struct capture_item	*head, **tail;	/* mtx */
	size_t			 queued;	/* mtx: bytes, headers included */
	size_t			 queue_max;
	int			 stopping;	/* mtx */

	_Atomic uint32_t	 nconns;	/* for initial sequence numbers */
	_Atomic uint64_t	 dropped;
	_Atomic uint64_t	 dropped_bytes;
	_Atomic uint64_t	 packets;	/* writer thread stores */
	uint64_t		 reported;	/* writer: dropped when last logged */
	int64_t			 report_s;
};

static int64_t
capture_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ---- the file (writer thread, and capture_open before it starts) ---- */

/*
 * FILE -> FILE.1 -> ... -> FILE.KEEP; the oldest is replaced.  -1 if FILE
 * is still there: a new FILE would then truncate it.
 */
static int
capture_rotate_names(const struct capture *cap)
{
	char from[PATH_MAX], to[PATH_MAX];
	int i;

	for (i = CAPTURE_KEEP - 1; i >= 0; i--) {
		if (i == 0)
			snprintf(from, sizeof(from), "%s", cap->path);
		else
			snprintf(from, sizeof(from), "%s.%d", cap->path, i);
		snprintf(to, sizeof(to), "%s.%d", cap->path, i + 1);
		if (rename(from, to) == -1 && errno != ENOENT) {
			log_event(LOG_WARN, "pcap_rotate_failed", "from=%s to=%s "
			    "err=%s", from, to, strerror(errno));
			if (i == 0)
				return -1;
		}
	}
	return 0;
}

/*
 * A new, empty FILE, 0600 whatever the umask and whatever mode an old file
 * had.  -1 after logging why.
 */
static int
capture_file_open(struct capture *cap)
{
	FILE *fp;
	int fd;

	fd = open(cap->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1) {
		log_event(LOG_WARN, "pcap_open_failed", "path=%s err=%s",
		    cap->path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		log_event(LOG_WARN, "pcap_open_failed", "path=%s err=%s",
		    cap->path, strerror(errno));
		close(fd);
		return -1;
	}
	/* stdio's 4 KiB would cost a write(2) per three packets. */
	setvbuf(fp, NULL, _IOFBF, CAPTURE_STDIO_BUF);
	/* pcap_dump_fopen takes fp: pcap_dump_close closes it. */
	if ((cap->dumper = pcap_dump_fopen(cap->dead, fp)) == NULL) {
		log_event(LOG_WARN, "pcap_open_failed", "path=%s err=%s",
		    cap->path, pcap_geterr(cap->dead));
		fclose(fp);
		return -1;
	}
	cap->written = 24;	/* the file header */
	return 0;
}

static void
capture_file_close(struct capture *cap)
{
	if (cap->dumper != NULL) {
		pcap_dump_close(cap->dumper);
		cap->dumper = NULL;
	}
}

/* The file to write the next packets to, rotated if full; 0 or -1. */
static int
capture_file_ready(struct capture *cap)
{
	if (cap->dumper != NULL && cap->max_bytes > 0 &&
	    cap->written >= cap->max_bytes) {
		/* Renamed while open, so a failure loses nothing. */
		if (capture_rotate_names(cap) == 0)
			capture_file_close(cap);
		else {
			log_event(LOG_WARN, "pcap_rotate_failed", "path=%s "
			    "max_bytes=0", cap->path);
			cap->max_bytes = 0;
		}
	}
	if (cap->dumper != NULL)
		return 0;
	if (capture_mono_s() < cap->retry_s)
		return -1;
	if (capture_file_open(cap) == -1) {
		cap->retry_s = capture_mono_s() + 1;
		return -1;
	}
	return 0;
}

/* ---- packets (writer thread) ------------------------------------------ */

/*
 * The Internet checksum (RFC 1071) over native 32-bit words: the ones'
 * complement sum does not depend on byte order, so the result, stored as
 * is, is in network order.  Four times fewer steps than byte pairs; it is
 * most of the writer's work per byte.  len must be even but for the last
 * call.
 */
static uint64_t
capture_sum(uint64_t sum, const unsigned char *p, size_t len)
{
	uint32_t w;
	uint16_t h;

	for (; len >= 4; p += 4, len -= 4) {
		memcpy(&w, p, 4);
		sum += w;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len == 1) {
		h = 0;
		memcpy(&h, p, 1);	/* an odd last byte pads with zero */
		sum += h;
	}
	return sum;
}

/* Fold and complement; the two bytes go to p as they lie in memory. */
static void
capture_put_sum(unsigned char *p, uint64_t sum)
{
	uint16_t v;

	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	v = (uint16_t)~sum;
	memcpy(p, &v, 2);
}

static void
capture_put16(unsigned char *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void
capture_put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/*
 * One packet from the client (to_client = 0) or the server, with flags
 * (TH_SYN...) and len payload bytes.
 */
static void
capture_packet(struct capture *cap, const struct timeval *ts,
    const struct capture_flow *f, int to_client, uint8_t flags, uint32_t seq,
    uint32_t ack, const unsigned char *data, size_t len)
{
	unsigned char pkt[40 + 20 + CAPTURE_MSS], pseudo[4], *tcp;
	const unsigned char *src = to_client ? f->server : f->client;
	const unsigned char *dst = to_client ? f->client : f->server;
	size_t alen = f->v6 ? 16 : 4, iplen = f->v6 ? 40 : 20;
	struct pcap_pkthdr h;
	uint64_t sum;

	memset(pkt, 0, iplen + 20);
	if (f->v6) {
		pkt[0] = 0x60;
		capture_put16(pkt + 4, (uint16_t)(20 + len));
		pkt[6] = IPPROTO_TCP;
		pkt[7] = 64;
		memcpy(pkt + 8, src, 16);
		memcpy(pkt + 24, dst, 16);
	} else {
		pkt[0] = 0x45;
		capture_put16(pkt + 2, (uint16_t)(20 + 20 + len));
		capture_put16(pkt + 6, 0x4000);		/* DF */
		pkt[8] = 64;
		pkt[9] = IPPROTO_TCP;
		memcpy(pkt + 12, src, 4);
		memcpy(pkt + 16, dst, 4);
		capture_put_sum(pkt + 10, capture_sum(0, pkt, 20));
	}
	tcp = pkt + iplen;
	capture_put16(tcp, to_client ? f->sport : f->cport);
	capture_put16(tcp + 2, to_client ? f->cport : f->sport);
	capture_put32(tcp + 4, seq);
	capture_put32(tcp + 8, ack);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	capture_put16(tcp + 14, CAPTURE_WINDOW);
	if (len > 0)
		memcpy(tcp + 20, data, len);
	/* The pseudo-header: addresses, then zero, protocol, TCP length. */
	capture_put16(pseudo, IPPROTO_TCP);
	capture_put16(pseudo + 2, (uint16_t)(20 + len));
	sum = capture_sum(0, src, alen);
	sum = capture_sum(sum, dst, alen);
	sum = capture_sum(sum, pseudo, 4);
	capture_put_sum(tcp + 16, capture_sum(sum, tcp, 20 + len));

	h.ts = *ts;
	h.caplen = h.len = (bpf_u_int32)(iplen + 20 + len);
	pcap_dump((u_char *)cap->dumper, &h, pkt);
	cap->written += 16 + h.caplen;	/* the record header on disk */
	atomic_store(&cap->packets, atomic_load(&cap->packets) + 1);
}

#define CAPTURE_FIN	0x01
#define CAPTURE_SYN	0x02
#define CAPTURE_PSH	0x08
#define CAPTURE_ACK	0x10

static void
capture_write_item(struct capture *cap, const struct capture_item *it)
{
	const struct capture_flow *f = &it->flow;
	uint32_t c = it->seq[0], s = it->seq[1];
	size_t off, n;

	switch (it->kind) {
	case CAPTURE_OPEN:
		capture_packet(cap, &it->ts, f, 0, CAPTURE_SYN, f->isn[0], 0,
		    NULL, 0);
		capture_packet(cap, &it->ts, f, 1, CAPTURE_SYN | CAPTURE_ACK,
		    f->isn[1], f->isn[0] + 1, NULL, 0);
		capture_packet(cap, &it->ts, f, 0, CAPTURE_ACK, f->isn[0] + 1,
		    f->isn[1] + 1, NULL, 0);
		break;
	case CAPTURE_DATA:
		for (off = 0; off < it->len; off += n) {
			n = it->len - off < CAPTURE_MSS ? it->len - off :
			    CAPTURE_MSS;
			if (it->to_client)
				capture_packet(cap, &it->ts, f, 1, CAPTURE_PSH |
				    CAPTURE_ACK, s + (uint32_t)off, c,
				    it->data + off, n);
			else
				capture_packet(cap, &it->ts, f, 0, CAPTURE_PSH |
				    CAPTURE_ACK, c + (uint32_t)off, s,
				    it->data + off, n);
		}
		break;
	case CAPTURE_CLOSE:
		capture_packet(cap, &it->ts, f, 1, CAPTURE_FIN | CAPTURE_ACK,
		    s, c, NULL, 0);
		capture_packet(cap, &it->ts, f, 0, CAPTURE_FIN | CAPTURE_ACK,
		    c, s + 1, NULL, 0);
		capture_packet(cap, &it->ts, f, 1, CAPTURE_ACK, s + 1, c + 1,
		    NULL, 0);
		break;
	}
}

/* Say how much was lost since the last report, at most once a second. */
static void
capture_report_drops(struct capture *cap, int force)
{
	uint64_t d = atomic_load(&cap->dropped);
	int64_t now = capture_mono_s();

	if (d == cap->reported || (!force && now <= cap->report_s))
		return;
	log_event(LOG_WARN, "pcap_dropped", "chunks=%llu total=%llu "
	    "total_bytes=%llu", (unsigned long long)(d - cap->reported),
	    (unsigned long long)d,
	    (unsigned long long)atomic_load(&cap->dropped_bytes));
	cap->reported = d;
	cap->report_s = now;
}

static void
capture_drop(struct capture *cap, size_t len)
{
	atomic_fetch_add(&cap->dropped, 1);
	atomic_fetch_add(&cap->dropped_bytes, len);
}

static void *
capture_writer(void *arg)
{
	struct capture *cap = arg;
	struct capture_item *batch, *it;
	struct timespec until;
	int stop;

	for (;;) {
		pthread_mutex_lock(&cap->mtx);
		if (cap->head == NULL && !cap->stopping) {
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += CAPTURE_WAIT_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&cap->cond, &cap->mtx, &until);
		}
		batch = cap->head;
		cap->head = NULL;
		cap->tail = &cap->head;
		cap->queued = 0;
		stop = cap->stopping && batch == NULL;
		pthread_mutex_unlock(&cap->mtx);

		while ((it = batch) != NULL) {
			batch = it->next;
			if (capture_file_ready(cap) == 0)
				capture_write_item(cap, it);
			else
				capture_drop(cap, it->len);
			free(it);
		}
		/* pcap_dump cannot fail; a full disk shows here. */
		if (cap->dumper != NULL && pcap_dump_flush(cap->dumper) == -1 &&
		    capture_mono_s() > cap->error_s) {
			log_event(LOG_WARN, "pcap_write_failed", "path=%s "
			    "err=%s", cap->path, strerror(errno));
			cap->error_s = capture_mono_s();
		}
		capture_report_drops(cap, stop);
		if (stop)
			return NULL;
	}
}

/* ---- the queue (workers) ---------------------------------------------- */

static void
capture_enqueue(struct capture *cap, struct capture_item *it)
{
	size_t size = sizeof(*it) + it->len;
	int queued = 0, wake = 0;

	pthread_mutex_lock(&cap->mtx);
	if (!cap->stopping && cap->queued + size <= cap->queue_max) {
		*cap->tail = it;
		cap->tail = &it->next;
		cap->queued += size;
		queued = 1;
		/* Waking the writer for every chunk would cost a switch each. */
		wake = cap->queued > cap->queue_max / 2;
	}
	pthread_mutex_unlock(&cap->mtx);
	if (wake)
		pthread_cond_signal(&cap->cond);
	if (!queued) {
		capture_drop(cap, it->len);
		free(it);
	}
}

static struct capture_item *
capture_item_new(size_t room)
{
	struct capture_item *it;

	if ((it = malloc(sizeof(*it) + room)) != NULL) {
		it->next = NULL;
		it->len = 0;
	}
	return it;
}

/* Queue it (taken) with the connection's addresses and numbers. */
static void
capture_queue(struct capture_conn *cc, struct capture_item *it,
    enum capture_kind kind, int to_client)
{
	gettimeofday(&it->ts, NULL);
	it->kind = kind;
	it->to_client = to_client;
	it->flow = cc->flow;
	it->seq[0] = cc->seq[0];
	it->seq[1] = cc->seq[1];
	capture_enqueue(cc->cap, it);
}

/* A handshake or FIN: no payload. */
static void
capture_queue_flags(struct capture_conn *cc, enum capture_kind kind)
{
	struct capture_item *it;

	if ((it = capture_item_new(0)) == NULL) {
		capture_drop(cc->cap, 0);
		return;
	}
	capture_queue(cc, it, kind, 0);
}

/* ---- one connection (its worker) -------------------------------------- */

static int
capture_flow_addr(const char *s, unsigned char *addr, uint16_t *port, int *v6)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (util_parse_addr(s, 0, &ss, &len) == -1)
		return -1;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		memcpy(addr, &sin6->sin6_addr, 16);
		*v6 = 1;
	} else {
		const struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		memcpy(addr, &sin->sin_addr, 4);
		*v6 = 0;
	}
	*port = (uint16_t)util_addr_port((struct sockaddr *)&ss);
	return 0;
}

struct capture_conn *
capture_conn_new(struct capture *cap, const char *client, const char *server)
{
	struct capture_conn *cc;
	int cv6, sv6;
	uint32_t n;

	if ((cc = calloc(1, sizeof(*cc))) == NULL)
		return NULL;
	if (capture_flow_addr(client, cc->flow.client, &cc->flow.cport,
	    &cv6) == -1 || capture_flow_addr(server, cc->flow.server,
	    &cc->flow.sport, &sv6) == -1 || cv6 != sv6) {
		free(cc);
		return NULL;
	}
	cc->cap = cap;
	cc->flow.v6 = cv6;
	/* Distinct per connection; nothing depends on them being secret. */
	n = atomic_fetch_add(&cap->nconns, 1) + 1;
	cc->flow.isn[0] = n * 2654435761u;
	cc->flow.isn[1] = ~cc->flow.isn[0];
	cc->seq[0] = cc->flow.isn[0] + 1;
	cc->seq[1] = cc->flow.isn[1] + 1;
	return cc;
}

/* No secret to mask: what a client sent, or what no rule injects into. */
static const struct mask_set capture_none;

/*
 * The bytes for the client pending past ready, masked with set: those a
 * secret cannot continue (all when end) become ready.
 */
static void
capture_mask(struct capture_conn *cc, const struct mask_set *set, int end)
{
	struct capture_item *it = cc->pending[1];

	if (it != NULL)
		cc->ready += mask_window(set, &cc->mask, it->data + cc->ready,
		    it->len - cc->ready, 1, end);
}

/*
 * Queue the pending bytes of one direction but the last keep, which move
 * to a new entry.
 */
static void
capture_flush_dir(struct capture_conn *cc, int to_client, size_t keep)
{
	struct capture_item *it = cc->pending[to_client], *rest = NULL, *shrunk;
	size_t n;

	if (it == NULL || it->len <= keep)
		return;
	if (keep > 0) {
		if ((rest = capture_item_new(keep + CAPTURE_CHUNK)) == NULL) {
			/* Out of memory: what may begin a secret, starred. */
			memset(it->data + it->len - keep, '*', keep);
			cc->mask.len = 0;
			keep = 0;
		} else {
			memcpy(rest->data, it->data + it->len - keep, keep);
			rest->len = keep;
		}
	}
	n = it->len - keep;
	it->len = n;
	/* The queue counts what entries hold: give back what this one won't. */
	if (n + CAPTURE_CHUNK / 4 < cc->room[to_client] &&
	    (shrunk = realloc(it, sizeof(*it) + n)) != NULL)
		it = shrunk;
	if (!cc->opened) {
		capture_queue_flags(cc, CAPTURE_OPEN);
		cc->opened = 1;
	}
	capture_queue(cc, it, CAPTURE_DATA, to_client);
	cc->seq[to_client] += (uint32_t)n;
	cc->pending[to_client] = rest;
	cc->room[to_client] = rest != NULL ? keep + CAPTURE_CHUNK : 0;
	if (to_client)
		cc->ready = 0;
}

/* Queue what is ready for the client; the rest waits in a new entry. */
static void
capture_flush_client(struct capture_conn *cc)
{
	struct capture_item *it = cc->pending[1];

	if (it == NULL)
		return;
	if (cc->ready == 0 && it->len == cc->room[1]) {
		/* A whole entry that may begin a secret: starred, not held. */
		capture_mask(cc, &capture_none, 1);
		memset(it->data, '*', it->len);
	}
	capture_flush_dir(cc, 1, it->len - cc->ready);
}

/*
 * n bytes one way, copied into the entry being filled; for the client,
 * masked with rule's secrets (NULL: none).
 */
static void
capture_copy(struct capture_conn *cc, int to_client, const unsigned char *p,
    size_t n, const struct rule *rule)
{
	const struct mask_set *set = rule != NULL ? &rule->mask :
	    &capture_none;
	struct capture_item *it;
	size_t take;

	while (n > 0) {
		if ((it = cc->pending[to_client]) == NULL) {
			if ((it = capture_item_new(CAPTURE_CHUNK)) == NULL)
				goto lost;
			cc->pending[to_client] = it;
			cc->room[to_client] = CAPTURE_CHUNK;
		}
		take = cc->room[to_client] - it->len;
		if (take > n)
			take = n;
		memcpy(it->data + it->len, p, take);
		it->len += take;
		p += take;
		n -= take;
		if (to_client)
			capture_mask(cc, set, 0);
		if (it->len < cc->room[to_client])
			continue;
		if (to_client)
			capture_flush_client(cc);
		else
			capture_flush_dir(cc, 0, 0);
	}
	return;
lost:
	/* What is pending keeps its numbers; the lost bytes leave a gap. */
	if (to_client)
		capture_mask(cc, &capture_none, 1);
	capture_flush_dir(cc, to_client, 0);
	capture_drop(cc->cap, n);
	cc->seq[to_client] += (uint32_t)n;
}

/* capture_h2's re-encoded frames: they are the file's bytes for the client. */
static void
capture_h2_sink(void *arg, const unsigned char *p, size_t n)
{
	capture_copy(arg, 1, p, n, NULL);
}

/* Bytes the HTTP/2 walk cannot follow are not in the file. */
static void
capture_frames(struct capture_conn *cc, const unsigned char *p, size_t n)
{
	if (capture_h2_input(cc->h2, p, n) == -1)
		capture_drop(cc->cap, n);
}

void
capture_bytes(struct capture_conn *cc, int to_client, struct evbuffer *buf,
    size_t n, const struct rule *rule)
{
	struct evbuffer_iovec v[8];
	struct evbuffer_ptr pos;
	size_t take;
	int i, nv;

	/* The positions are in the buffer: these calls cannot fail. */
	if (evbuffer_ptr_set(buf, &pos, evbuffer_get_length(buf) - n,
	    EVBUFFER_PTR_SET) == -1)
		return;
	while (n > 0 && (nv = evbuffer_peek(buf, n, &pos, v, 8)) > 0) {
		for (i = 0; i < nv && i < 8 && n > 0; i++) {
			take = v[i].iov_len < n ? v[i].iov_len : n;
			if (to_client && cc->h2 != NULL)
				capture_frames(cc, v[i].iov_base, take);
			else
				capture_copy(cc, to_client, v[i].iov_base,
				    take, rule);
			n -= take;
			if (evbuffer_ptr_set(buf, &pos, take,
			    EVBUFFER_PTR_ADD) == -1)
				return;
		}
	}
}

void
capture_flush(struct capture_conn *cc, int whole)
{
	capture_flush_dir(cc, 0, 0);
	/*
	 * Wireshark tells HTTP/2 on port 443 from TLS by the client's
	 * preface, if it comes first: sluice's SETTINGS wait for it.
	 */
	if (cc->h2 != NULL && cc->seq[0] == cc->flow.isn[0] + 1)
		return;
	if (whole)
		capture_mask(cc, &capture_none, 1);
	capture_flush_client(cc);
}

int
capture_conn_h2(struct capture_conn *cc)
{
	return (cc->h2 = capture_h2_new(capture_h2_sink, cc)) != NULL ? 0 : -1;
}

void
capture_rule(struct capture_conn *cc, const struct rule *rule)
{
	size_t i;

	if (cc == NULL || cc->h2 == NULL || rule == NULL)
		return;
	for (i = 0; i < rule->mask.n; i++)
		capture_h2_secret(cc->h2, (const char *)rule->mask.v[i].p,
		    rule->mask.v[i].len);
}

void
capture_conn_free(struct capture_conn *cc)
{
	if (cc == NULL)
		return;
	if (cc->h2 != NULL) {
		capture_h2_end(cc->h2);
		capture_h2_free(cc->h2);
	}
	capture_flush(cc, 1);
	if (cc->opened)
		capture_queue_flags(cc, CAPTURE_CLOSE);
	free(cc->pending[0]);
	free(cc->pending[1]);
	mask_carry_clear(&cc->mask);
	free(cc);
}

/* ---- start and stop (main) -------------------------------------------- */

struct capture *
capture_open(const char *path, uint64_t max_bytes, size_t queue_bytes)
{
	struct capture *cap;
	pthread_condattr_t ca;
	struct stat st;

	if ((cap = calloc(1, sizeof(*cap))) == NULL ||
	    (cap->path = strdup(path)) == NULL) {
		log_event(LOG_WARN, "pcap_init_failed", "err=%s",
		    "out of memory");
		free(cap);
		return NULL;
	}
	cap->max_bytes = max_bytes;
	cap->queue_max = queue_bytes;
	cap->tail = &cap->head;
	if ((cap->dead = pcap_open_dead(DLT_RAW, CAPTURE_SNAPLEN)) == NULL) {
		log_event(LOG_WARN, "pcap_init_failed", "err=%s",
		    "pcap_open_dead failed");
		goto fail;
	}
	/* A restart must not truncate what the last run captured. */
	if (stat(path, &st) == 0 && st.st_size > 0 &&
	    capture_rotate_names(cap) == -1)
		goto fail;
	if (capture_file_open(cap) == -1)
		goto fail;
	pthread_mutex_init(&cap->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cap->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&cap->thread, NULL, capture_writer, cap) != 0) {
		log_event(LOG_WARN, "pcap_init_failed", "err=%s",
		    "cannot start the writer thread");
		pthread_mutex_destroy(&cap->mtx);
		pthread_cond_destroy(&cap->cond);
		goto fail;
	}
	return cap;
fail:
	capture_file_close(cap);
	if (cap->dead != NULL)
		pcap_close(cap->dead);
	free(cap->path);
	free(cap);
	return NULL;
}

void
capture_close(struct capture *cap)
{
	if (cap == NULL)
		return;
	pthread_mutex_lock(&cap->mtx);
	cap->stopping = 1;
	pthread_mutex_unlock(&cap->mtx);
	pthread_cond_signal(&cap->cond);
	pthread_join(cap->thread, NULL);
	capture_file_close(cap);
	pcap_close(cap->dead);
	pthread_mutex_destroy(&cap->mtx);
	pthread_cond_destroy(&cap->cond);
	free(cap->path);
	free(cap);
}

uint64_t
capture_dropped(struct capture *cap)
{
	return atomic_load(&cap->dropped);
}

uint64_t
capture_packets(struct capture *cap)
{
	return atomic_load(&cap->packets);
}
