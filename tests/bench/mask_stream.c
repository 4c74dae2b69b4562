/*
 * mask_stream.c - how fast a response body passes the masker (mask.c), in
 * MB/s, for a rule with one bearer token and for a rule with four
 * injections (bearer, basic, a header, a query parameter: 9 forms with
 * their JSON spellings), against the copy alone.
 *
 * Built with the tests (make tests), run by hand: tests/bench/mask_stream.
 * The body is 256 MiB of JSON-ish text (printable ASCII, quotes, slashes)
 * with a secret every 64 KiB, fed in 16 KiB reads as the upstream's
 * socket gives them, and drained as the client's codec would.  A rule
 * without injections does not reach the masker at all (exchange.c tests
 * rule->mask.n first).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "inject.h"
#include "mask.h"
#include "rules.h"

#define BENCH_BODY	(256U << 20)
#define BENCH_READ	(16U << 10)
#define BENCH_EVERY	(64U << 10)	/* a secret this often */

static double
bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct rule_injection
bench_injection(enum rule_inject_kind kind, const char *name,
    const char *value)
{
	struct rule_injection inj;

	memset(&inj, 0, sizeof(inj));
	inj.kind = kind;
	inj.name = (char *)name;
	if ((inj.value = strdup(value)) == NULL)
		exit(1);
	inj.value_len = strlen(value);
	if (inject_prepare(&inj) == -1)
		exit(1);
	return inj;
}

/* The body, with secret (if any) planted every BENCH_EVERY bytes. */
static unsigned char *
bench_body(const char *secret)
{
	static const char text[] = "abcdefghijklmnopqrstuvwxyz0123456789 "
	    "\"{}:,/ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	unsigned char *b = malloc(BENCH_BODY);
	uint64_t rng = 0x243f6a8885a308d3ULL;
	size_t i;

	if (b == NULL)
		exit(1);
	for (i = 0; i < BENCH_BODY; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		b[i] = text[rng % (sizeof(text) - 1)];
	}
	for (i = BENCH_EVERY / 2; secret != NULL &&
	    i + strlen(secret) < BENCH_BODY; i += BENCH_EVERY)
		memcpy(b + i, secret, strlen(secret));
	return b;
}

/* MB/s of the body through a stream masked with set (NULL: copied only). */
static double
bench_run(const struct mask_set *set, const unsigned char *body)
{
	struct mask_stream *ms = set != NULL ? mask_stream_new(set) : NULL;
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	size_t off, ready;
	double t0 = bench_now_s();

	if (in == NULL || out == NULL || (set != NULL && ms == NULL))
		exit(1);
	for (off = 0; off < BENCH_BODY; off += BENCH_READ) {
		evbuffer_add(in, body + off, BENCH_READ);
		if (ms == NULL) {
			evbuffer_remove_buffer(in, out, BENCH_READ);
			evbuffer_drain(out, BENCH_READ);
			continue;
		}
		if (mask_stream_put(ms, in, BENCH_READ, 0, &ready) == -1)
			exit(1);
		evbuffer_drain(mask_stream_out(ms), ready);
	}
	if (ms != NULL && mask_stream_put(ms, in, 0, 1, &ready) == 0)
		evbuffer_drain(mask_stream_out(ms), ready);
	t0 = bench_now_s() - t0;
	mask_stream_free(ms);
	evbuffer_free(in);
	evbuffer_free(out);
	return BENCH_BODY / t0 / 1e6;
}

int
main(void)
{
	struct rule_injection inj[4];
	struct mask_set one = { 0 }, four = { 0 };
	const char *bearer = "sk-proj-4f9a1c2b7d3e8f60a5b4c3d2e1f0a9b8c7d6e5f4";
	unsigned char *body = bench_body(bearer);
	size_t i;

	inj[0] = bench_injection(RULE_INJECT_BEARER, NULL, bearer);
	inj[1] = bench_injection(RULE_INJECT_BASIC, NULL,
	    "svc-account:pw/7Hq\"2x");
	inj[2] = bench_injection(RULE_INJECT_HEADER, "X-Api-Key",
	    "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
	inj[3] = bench_injection(RULE_INJECT_QUERY, "key", "AIza/SyD-q 91");
	if (inject_mask_forms(&one, &inj[0]) == -1)
		return 1;
	for (i = 0; i < 4; i++)
		if (inject_mask_forms(&four, &inj[i]) == -1)
			return 1;
	printf("body %u MiB in %u KiB reads, a secret every %u KiB\n",
	    BENCH_BODY >> 20, BENCH_READ >> 10, BENCH_EVERY >> 10);
	printf("copy only                   %8.0f MB/s\n", bench_run(NULL, body));
	printf("one bearer (%2zu form)        %8.0f MB/s\n", one.n,
	    bench_run(&one, body));
	printf("four injections (%2zu forms)  %8.0f MB/s\n", four.n,
	    bench_run(&four, body));
	mask_set_clear(&one);
	mask_set_clear(&four);
	for (i = 0; i < 4; i++)
		inject_clear(&inj[i]);
	free(body);
	return 0;
}
