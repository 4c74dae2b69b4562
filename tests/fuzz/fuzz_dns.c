/*
 * fuzz_dns.c - libFuzzer driver for src/dns.c.
 *
 * Each input is a DNS message as captured.  Whatever it holds, the parser
 * reads only inside it (ASan), and when it accepts: the name is a
 * NUL-terminated, non-empty, lowercase run of letters, digits, '-', '_'
 * and dots, the count is the number of addresses, and each has a family
 * and a TTL below 2^31.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_check(int cond)
{
	if (!cond)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_answer a;
	uint8_t *copy;
	size_t i, len;
	int n;

	/* A copy of exactly size bytes, so that ASan sees any overread. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	n = dns_parse_response(copy, size, &a);
	free(copy);
	if (n < 0)
		return 0;
	fuzz_check((size_t)n == a.naddrs && a.naddrs <= DNS_MAX_ADDRS);
	len = strnlen(a.name, sizeof(a.name));
	fuzz_check(len > 0 && len < sizeof(a.name));
	for (i = 0; i < len; i++)
		fuzz_check((a.name[i] >= 'a' && a.name[i] <= 'z') ||
		    (a.name[i] >= '0' && a.name[i] <= '9') ||
		    a.name[i] == '-' || a.name[i] == '_' || a.name[i] == '.');
	for (i = 0; i < a.naddrs; i++)
		fuzz_check((a.addrs[i].family == AF_INET ||
		    a.addrs[i].family == AF_INET6) &&
		    a.addrs[i].ttl < 0x80000000u);
	return 0;
}
