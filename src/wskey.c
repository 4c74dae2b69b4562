/*
 * wskey.c - the WebSocket opening handshake's key and its proof (RFC 6455
 * 4.1, 4.2.2).  Pure but for the randomness of a new key.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "wskey.h"

#define WSKEY_GUID	"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WSKEY_MAX	128	/* a longer key is no key a client sends */

int
wskey_new(char *key)
{
	unsigned char nonce[16];

	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce));
	return 0;
}

int
wskey_accept(const char *key, size_t klen, char *accept)
{
	unsigned char in[WSKEY_MAX + sizeof(WSKEY_GUID)], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	if (klen > WSKEY_MAX)
		return -1;
	memcpy(in, key, klen);
	memcpy(in + klen, WSKEY_GUID, sizeof(WSKEY_GUID) - 1);
	if (EVP_Digest(in, klen + sizeof(WSKEY_GUID) - 1, md, &mdlen,
	    EVP_sha1(), NULL) != 1 || mdlen != 20)
		return -1;
	EVP_EncodeBlock((unsigned char *)accept, md, mdlen);
	return 0;
}
