/*
 * fuzz_clienthello.c - libFuzzer driver for clienthello_parse().
 *
 *   clang -fsanitize=fuzzer,address,undefined -Isrc src/clienthello.c \
 *       tests/fuzz/fuzz_clienthello.c -o fuzz_clienthello
 *   ./fuzz_clienthello tests/fuzz/corpus/clienthello
 *
 * Besides memory errors, it aborts when a result breaks the promises in
 * clienthello.h: an OK name outside the DNS byte set or too long, a non-empty
 * name on anything but OK, MORE at or past CLIENTHELLO_MAX, or a different
 * answer when the name buffer is merely large enough.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clienthello.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
fuzz_clienthello_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '-' || *s == '.' || *s == '_'))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char sni[256], *exact;
	enum clienthello_result r, r2;
	size_t n;

	r = clienthello_parse(data, size, sni, sizeof(sni));
	if (r == CLIENTHELLO_OK && sni[0] != '\0' &&
	    !fuzz_clienthello_name_ok(sni))
		abort();
	if (r != CLIENTHELLO_OK && sni[0] != '\0')
		abort();
	if (r == CLIENTHELLO_MORE && size >= CLIENTHELLO_MAX)
		abort();

	/* A heap buffer of exactly strlen + 1 lets ASan see any overrun. */
	n = strlen(sni) + 1;
	if ((exact = malloc(n)) == NULL)
		return 0;
	r2 = clienthello_parse(data, size, exact, n);
	if (r2 != r || strcmp(exact, sni) != 0)
		abort();
	free(exact);
	return 0;
}
