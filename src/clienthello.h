/*
 * clienthello.h - find the SNI in a TLS ClientHello without consuming it.
 *
 * The listener peeks (MSG_PEEK) at the first bytes of a connection and asks
 * this parser whether a whole ClientHello is there yet.  Pure: no I/O, no
 * allocation; fuzzed by tests/fuzz/fuzz_clienthello.c.
 */
#ifndef SLUICE_CLIENTHELLO_H
#define SLUICE_CLIENTHELLO_H

#include <stddef.h>
#include <stdint.h>

/* The most bytes the caller should ever peek for a ClientHello. */
#define CLIENTHELLO_MAX 16384

enum clienthello_result {
	CLIENTHELLO_OK = 0,	/* complete; sni set ("" when absent) */
	CLIENTHELLO_MORE = 1,	/* incomplete: peek again when more arrives */
	CLIENTHELLO_BAD = -1,	/* not TLS, or a malformed ClientHello */
};

/*
 * Parse buf[0..len).  On CLIENTHELLO_OK, sni holds the host_name from the
 * server_name extension, lowercased, NUL-terminated, validated as a DNS name
 * (letters, digits, '-', '.', '_'; at most 253 bytes), or "" when there is
 * none.  A ClientHello spread over several TLS records is handled.
 */
enum clienthello_result clienthello_parse(const uint8_t *buf, size_t len,
    char *sni, size_t snisz);

#endif
