/*
 * clienthello.c - find the SNI in a TLS ClientHello without consuming it.
 *
 * Owns: the record-layer framing of a client's first flight and the
 * ClientHello body, read only as far as the server_name extension.  Does not
 * own: any I/O, or deciding what to do with the name (that is the caller's).
 *
 * Two passes.  First the handshake fragments of consecutive handshake records
 * are copied into one buffer (at most CLIENTHELLO_MAX bytes, because the
 * input is cut there); checks that need only a prefix (content type, record
 * length, handshake type and length) run as soon as their bytes are there,
 * so garbage is refused without waiting for more.  Then, once the whole
 * handshake message is in, its body is walked with struct clienthello_rd,
 * whose readers fail instead of running past the end: nothing read from the
 * wire is used as a length or offset without going through them.
 *
 * Invariants: the input is never read beyond len, nor hs beyond hslen; on
 * any result but CLIENTHELLO_OK, sni is "".
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "clienthello.h"

#define CLIENTHELLO_REC_HANDSHAKE	22
#define CLIENTHELLO_REC_HDR		5
#define CLIENTHELLO_REC_MAX		16384	/* RFC 8446 5.1: plaintext */
#define CLIENTHELLO_HS_CLIENT_HELLO	1
#define CLIENTHELLO_HS_HDR		4
#define CLIENTHELLO_EXT_SERVER_NAME	0
#define CLIENTHELLO_SN_HOST_NAME	0
#define CLIENTHELLO_NAME_MAX		253
#define CLIENTHELLO_LABEL_MAX		63

/* A bounded cursor over bytes already known to be in memory. */
struct clienthello_rd {
	const uint8_t	*p;
	size_t		 len;
};

static int
clienthello_skip(struct clienthello_rd *r, size_t n)
{
	if (r->len < n)
		return -1;
	r->p += n;
	r->len -= n;
	return 0;
}

/* Read a big-endian integer of n (1..3) bytes. */
static int
clienthello_uint(struct clienthello_rd *r, size_t n, size_t *v)
{
	size_t i;

	if (r->len < n)
		return -1;
	*v = 0;
	for (i = 0; i < n; i++)
		*v = (*v << 8) | r->p[i];
	r->p += n;
	r->len -= n;
	return 0;
}

/* Split off a vector with an n-byte length prefix into sub. */
static int
clienthello_vec(struct clienthello_rd *r, size_t n, struct clienthello_rd *sub)
{
	size_t vlen;

	if (clienthello_uint(r, n, &vlen) == -1 || r->len < vlen)
		return -1;
	sub->p = r->p;
	sub->len = vlen;
	r->p += vlen;
	r->len -= vlen;
	return 0;
}

/*
 * Check a host_name and copy it, lowercased and without one trailing dot,
 * into sni.  DNS rules: labels of 1..63 bytes, 253 bytes in all; the byte set
 * is the one clienthello.h promises ('_' is allowed because real services
 * use it, even though it is not a hostname character).
 */
static int
clienthello_name(const uint8_t *p, size_t n, char *sni, size_t snisz)
{
	size_t i, label = 0;
	uint8_t c;

	if (n > 0 && p[n - 1] == '.')
		n--;
	if (n == 0 || n > CLIENTHELLO_NAME_MAX || n >= snisz)
		return -1;
	for (i = 0; i < n; i++) {
		c = p[i];
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
			sni[i] = '.';
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return -1;
		if (++label > CLIENTHELLO_LABEL_MAX)
			return -1;
		sni[i] = (char)c;
	}
	if (label == 0)
		return -1;
	sni[n] = '\0';
	return 0;
}

/*
 * The server_name extension body (RFC 6066 3): a non-empty list of
 * (name_type, name); at most one host_name.  Other name types are skipped.
 * name->p stays NULL when there is no host_name.
 */
static int
clienthello_server_name(struct clienthello_rd ext, struct clienthello_rd *name)
{
	struct clienthello_rd list, entry;
	size_t type;

	if (clienthello_vec(&ext, 2, &list) == -1 || ext.len != 0 ||
	    list.len == 0)
		return -1;
	while (list.len > 0) {
		if (clienthello_uint(&list, 1, &type) == -1 ||
		    clienthello_vec(&list, 2, &entry) == -1)
			return -1;
		if (type != CLIENTHELLO_SN_HOST_NAME)
			continue;
		if (name->p != NULL)
			return -1;
		*name = entry;
	}
	return 0;
}

/*
 * The ClientHello body (RFC 8446 4.1.2, same layout back to TLS 1.0).  The
 * extensions block is optional, but when present it must fill the rest of
 * the message exactly.
 */
static int
clienthello_body(struct clienthello_rd r, struct clienthello_rd *name)
{
	struct clienthello_rd vec, exts;
	size_t version, type;
	int seen_sni = 0;

	/* legacy_version, random */
	if (clienthello_uint(&r, 2, &version) == -1 || (version >> 8) != 3 ||
	    clienthello_skip(&r, 32) == -1)
		return -1;
	/* legacy_session_id, cipher_suites, legacy_compression_methods */
	if (clienthello_vec(&r, 1, &vec) == -1 || vec.len > 32)
		return -1;
	if (clienthello_vec(&r, 2, &vec) == -1 || vec.len == 0 ||
	    vec.len % 2 != 0)
		return -1;
	if (clienthello_vec(&r, 1, &vec) == -1 || vec.len == 0)
		return -1;
	if (r.len == 0)
		return 0;
	if (clienthello_vec(&r, 2, &exts) == -1 || r.len != 0)
		return -1;
	while (exts.len > 0) {
		if (clienthello_uint(&exts, 2, &type) == -1 ||
		    clienthello_vec(&exts, 2, &vec) == -1)
			return -1;
		if (type != CLIENTHELLO_EXT_SERVER_NAME)
			continue;
		if (seen_sni++)
			return -1;
		if (clienthello_server_name(vec, name) == -1)
			return -1;
	}
	return 0;
}

enum clienthello_result
clienthello_parse(const uint8_t *buf, size_t len, char *sni, size_t snisz)
{
	uint8_t hs[CLIENTHELLO_MAX];
	struct clienthello_rd body, name = { NULL, 0 };
	size_t inlen = len, off = 0, hslen = 0, reclen, n, msglen = 0;

	if (snisz == 0)
		return CLIENTHELLO_BAD;
	sni[0] = '\0';
	if (len > CLIENTHELLO_MAX)
		len = CLIENTHELLO_MAX;

	while (off < len) {
		if (hslen >= CLIENTHELLO_HS_HDR &&
		    hslen >= CLIENTHELLO_HS_HDR + msglen)
			break;
		/* SSLv2 and anything that is not TLS fail right here. */
		if (buf[off] != CLIENTHELLO_REC_HANDSHAKE)
			return CLIENTHELLO_BAD;
		if (off + 1 < len && buf[off + 1] != 3)
			return CLIENTHELLO_BAD;
		if (off + CLIENTHELLO_REC_HDR > len)
			break;
		reclen = (size_t)buf[off + 3] << 8 | buf[off + 4];
		/* Empty handshake fragments are forbidden (RFC 8446 5.1). */
		if (reclen == 0 || reclen > CLIENTHELLO_REC_MAX)
			return CLIENTHELLO_BAD;
		off += CLIENTHELLO_REC_HDR;
		n = len - off < reclen ? len - off : reclen;
		/* hslen + n <= off <= len <= CLIENTHELLO_MAX = sizeof(hs) */
		memcpy(hs + hslen, buf + off, n);
		hslen += n;
		off += n;
		if (hslen >= 1 && hs[0] != CLIENTHELLO_HS_CLIENT_HELLO)
			return CLIENTHELLO_BAD;
		if (hslen >= CLIENTHELLO_HS_HDR) {
			msglen = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 |
			    hs[3];
			/* It could never fit in what the caller will peek. */
			if (CLIENTHELLO_REC_HDR + CLIENTHELLO_HS_HDR + msglen >
			    CLIENTHELLO_MAX)
				return CLIENTHELLO_BAD;
		}
		if (n < reclen)
			break;
	}

	if (hslen < CLIENTHELLO_HS_HDR || hslen < CLIENTHELLO_HS_HDR + msglen)
		return inlen >= CLIENTHELLO_MAX ? CLIENTHELLO_BAD :
		    CLIENTHELLO_MORE;

	body.p = hs + CLIENTHELLO_HS_HDR;
	body.len = msglen;
	if (clienthello_body(body, &name) == -1)
		return CLIENTHELLO_BAD;
	if (name.p != NULL &&
	    clienthello_name(name.p, name.len, sni, snisz) == -1) {
		sni[0] = '\0';
		return CLIENTHELLO_BAD;
	}
	return CLIENTHELLO_OK;
}
