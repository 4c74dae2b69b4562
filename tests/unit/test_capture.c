/*
 * test_capture.c - capture.c: a secret that reaches the client in two
 * pieces, split at every position, is masked whole; the packets read back
 * with libpcap carry every byte once, in order, with sequence numbers
 * that count them; a full queue drops and counts; rotation keeps FILE.1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/buffer.h>
#include <pcap/pcap.h>

#include "capture.h"
#include "inject.h"
#include "mask.h"
#include "rules.h"
#include "unit.h"

static char test_dir[] = "/tmp/sluice-test-capture-XXXXXX";

#define TEST_WIRE	"Bearer s3cr3t-value-xyz"
#define TEST_VALUE	"s3cr3t-value-xyz"

/* What one direction of the one connection in a file carried. */
struct test_stream {
	unsigned char	 data[1 << 16];
	size_t		 len;
	int		 syn, fin, bad_seq;
	uint32_t	 next;		/* expected sequence number */
};

static void
test_read(const char *path, struct test_stream *to_client)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *p;
	pcap_t *pc;
	uint32_t seq;
	size_t plen;

	memset(to_client, 0, sizeof(*to_client));
	if ((pc = pcap_open_offline(path, err)) == NULL)
		return;
	while (pcap_next_ex(pc, &h, &p) == 1) {
		/* IPv4, 20-byte headers; the server's port is 443. */
		if (h->caplen < 40 || p[20] != 0x01 || p[21] != 0xbb)
			continue;
		seq = (uint32_t)p[24] << 24 | p[25] << 16 | p[26] << 8 | p[27];
		plen = h->caplen - 40;
		if (p[33] & 0x02) {
			to_client->syn++;
			to_client->next = seq + 1;
			continue;
		}
		if (p[33] & 0x01)
			to_client->fin++;
		if (plen == 0)
			continue;
		if (seq != to_client->next)
			to_client->bad_seq++;
		to_client->next = seq + (uint32_t)plen;
		if (to_client->len + plen <= sizeof(to_client->data)) {
			memcpy(to_client->data + to_client->len, p + 40, plen);
			to_client->len += plen;
		}
	}
	pcap_close(pc);
}

/* body, given to the connection in two pieces split at k. */
static void
test_split(struct capture *cap, const struct rule *rule, const char *body,
    size_t k)
{
	struct capture_conn *cc;
	struct evbuffer *out = evbuffer_new();
	size_t len = strlen(body);

	cc = capture_conn_new(cap, "10.0.0.1:40000", "10.0.0.2:443");
	evbuffer_add(out, body, k);
	capture_bytes(cc, 1, out, k, rule);
	capture_flush(cc, 0);			/* one conn_run ends */
	evbuffer_drain(out, k);			/* written to the client */
	evbuffer_add(out, body + k, len - k);
	capture_bytes(cc, 1, out, len - k, rule);
	capture_flush(cc, 0);
	capture_conn_free(cc);
	evbuffer_free(out);
}

static void
test_masking(void)
{
	struct rule_injection inj = {
		.kind = RULE_INJECT_BEARER,
		.value = TEST_VALUE, .value_len = strlen(TEST_VALUE),
		.wire = TEST_WIRE, .wire_len = strlen(TEST_WIRE),
	};
	struct rule rule = { .injections = &inj, .ninjections = 1 };
	const char *body = "{\"headers\": [[\"Authorization\", \"" TEST_WIRE
	    "\"]], \"raw\": \"" TEST_VALUE "\"}";
	char path[256], want[512];
	struct test_stream *s = malloc(sizeof(*s));
	struct capture *cap;
	size_t k, len = strlen(body), leaks = 0, wrong = 0, badseq = 0;
	char *q;

	snprintf(path, sizeof(path), "%s/split.pcap", test_dir);
	/* The expected bytes: both occurrences starred, same length. */
	snprintf(want, sizeof(want), "%s", body);
	q = strstr(want, TEST_VALUE);
	memset(q, '*', strlen(TEST_VALUE));
	q = strstr(want, TEST_VALUE);
	memset(q, '*', strlen(TEST_VALUE));
	CHECK(inject_mask_forms(&rule.mask, &inj) == 0, "the rule's forms");

	for (k = 0; k <= len; k++) {
		if ((cap = capture_open(path, 0, 1 << 20)) == NULL)
			break;
		test_split(cap, &rule, body, k);
		capture_close(cap);
		test_read(path, s);
		if (memmem(s->data, s->len, TEST_VALUE, strlen(TEST_VALUE)))
			leaks++;
		if (s->len != len || memcmp(s->data, want, len) != 0)
			wrong++;
		if (s->syn != 1 || s->fin != 1 || s->bad_seq != 0)
			badseq++;
		unlink(path);
	}
	CHECK(k == len + 1, "a capture opens for every split");
	CHECK(leaks == 0, "the secret is masked wherever it was split");
	CHECK(wrong == 0, "the client receives every byte once, masked in "
	    "place");
	CHECK(badseq == 0, "one SYN-ACK, one FIN, and sequence numbers that "
	    "count every byte");
	mask_set_clear(&rule.mask);
	free(s);
}

static void
test_drops_and_rotation(void)
{
	char path[256], old[300], chunk[4096];
	struct capture_conn *cc;
	struct evbuffer *out = evbuffer_new();
	struct capture *cap;
	struct stat st;
	int i;

	snprintf(path, sizeof(path), "%s/rot.pcap", test_dir);
	snprintf(old, sizeof(old), "%s.1", path);
	memset(chunk, 'x', sizeof(chunk));
	/* A queue that holds nothing: every chunk is dropped and counted. */
	cap = capture_open(path, 0, 0);
	CHECK(cap != NULL, "capture_open");
	if (cap == NULL)
		return;
	cc = capture_conn_new(cap, "[fd00::1]:40000", "[fd00::2]:443");
	CHECK(cc != NULL, "an IPv6 connection");
	evbuffer_add(out, chunk, sizeof(chunk));
	capture_bytes(cc, 0, out, sizeof(chunk), NULL);
	capture_conn_free(cc);
	CHECK(capture_dropped(cap) == 3, "open, data and close dropped and "
	    "counted");
	capture_close(cap);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "the file is 0600");

	/* A non-empty file is moved aside at start, and again when full. */
	cap = capture_open(path, 64 * 1024, 1 << 20);
	CHECK(cap != NULL && stat(old, &st) == 0, "an existing file is "
	    "rotated at start");
	unlink(old);
	cc = capture_conn_new(cap, "10.0.0.1:40000", "10.0.0.2:443");
	for (i = 0; i < 64; i++) {
		capture_bytes(cc, 0, out, sizeof(chunk), NULL);
		capture_flush(cc, 1);
		usleep(2000);
	}
	capture_conn_free(cc);
	capture_close(cap);
	CHECK(stat(old, &st) == 0 && st.st_size >= 64 * 1024 &&
	    st.st_size < 2 * 64 * 1024, "FILE.1 holds about --pcap-max-mb");
	CHECK(stat(path, &st) == 0 && st.st_size < 2 * 64 * 1024,
	    "FILE goes on after the rotation");
	evbuffer_free(out);
}

int
main(void)
{
	char cmd[300];

	if (mkdtemp(test_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	umask(0);
	test_masking();
	test_drops_and_rotation();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", test_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", test_dir);
	return unit_done();
}
