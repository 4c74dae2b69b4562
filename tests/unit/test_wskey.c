/*
 * test_wskey.c - the WebSocket handshake's key and Sec-WebSocket-Accept.
 */
#include <string.h>

#include "unit.h"
#include "wskey.h"

int
main(void)
{
	static const char sample[] = "dGhlIHNhbXBsZSBub25jZQ==";
	char key[WSKEY_KEY_SIZE], other[WSKEY_KEY_SIZE];
	char accept[WSKEY_ACCEPT_SIZE];
	char big[200];

	CHECK(wskey_accept(sample, strlen(sample), accept) == 0 &&
	    strcmp(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
	    "accept: RFC 6455 1.3's example");
	CHECK(wskey_new(key) == 0 && wskey_new(other) == 0 &&
	    strlen(key) == 24 && key[22] == '=' && key[23] == '=',
	    "new: 16 bytes in base64");
	CHECK(strcmp(key, other) != 0, "new: two keys differ");
	memset(big, 'a', sizeof(big));
	CHECK(wskey_accept(big, sizeof(big), accept) == -1,
	    "accept: an over-long key is refused");
	return unit_done();
}
