/*
 * wskey.h - the WebSocket opening handshake's key and its proof (RFC 6455
 * 4.1, 4.2.2): what sluice sends as Sec-WebSocket-Key when it opens a
 * WebSocket upstream for an HTTP/2 client (RFC 8441), and the
 * Sec-WebSocket-Accept the upstream must answer with.
 */
#ifndef SLUICE_WSKEY_H
#define SLUICE_WSKEY_H

#include <stddef.h>

#define WSKEY_KEY_SIZE		25	/* base64 of 16 bytes, and a NUL */
#define WSKEY_ACCEPT_SIZE	29	/* base64 of a SHA-1, and a NUL */

/* A fresh random key into key[WSKEY_KEY_SIZE].  -1 if no randomness. */
int wskey_new(char *key);

/*
 * The Sec-WebSocket-Accept for key (klen bytes): base64(SHA-1(key +
 * the RFC's GUID)) into accept[WSKEY_ACCEPT_SIZE].  -1 on failure.
 */
int wskey_accept(const char *key, size_t klen, char *accept);

#endif
