/*
 * extconnect.c - an RFC 8441 extended CONNECT from an HTTP/2 client: the
 * stream's WebSocket, opened upstream as an HTTP/1.1 upgrade (RFC 6455).
 *
 * policy_dispatch_msg() hands the stream's message here first: it becomes
 * a GET of its :path asking for Upgrade: websocket with a fresh
 * Sec-WebSocket-Key, which rules, limits, injection and the audit then see
 * as any GET.  The upstream's 101 must prove it read that key
 * (Sec-WebSocket-Accept); the stream is then answered :status 200 and
 * carries the WebSocket both ways as its two bodies (exchange.c): the
 * client's DATA as raw bytes upstream, the upstream's bytes as DATA until
 * it closes.  Any other answer is the stream's response, as for a GET.
 */
#include <stdlib.h>
#include <string.h>

#include "datapath.h"
#include "h1codec.h"
#include "msg.h"
#include "util.h"
#include "wskey.h"

#define EXTCONNECT_S(lit)	lit, sizeof(lit) - 1

/*
 * Make exchange r's extended CONNECT the WebSocket upgrade request the
 * upstream gets.  Its body is the tunnel's client side: raw bytes, held
 * until the 101 (exchange_body_room()).  0, or -1 once answered (501 for
 * another protocol, 500 without memory or randomness).
 */
int
extconnect_request(struct exchange *r)
{
	struct msg *m = &r->req;
	const struct msg_field *proto = msg_find(m, EXTCONNECT_S("upgrade"));
	char key[WSKEY_KEY_SIZE];

	if (proto == NULL || !msg_str_eq(m, proto->value,
	    EXTCONNECT_S("websocket"))) {
		respond_error(r, 501, "not_implemented", "extended CONNECT "
		    "is supported for the websocket protocol only");
		return -1;
	}
	if (wskey_new(key) == -1 ||
	    wskey_accept(key, strlen(key), r->ws_accept) == -1 ||
	    msg_copy(m, EXTCONNECT_S("GET"), &m->method) == -1 ||
	    msg_set(m, EXTCONNECT_S("sec-websocket-key"), key,
	    strlen(key)) == -1 ||
	    (msg_find(m, EXTCONNECT_S("sec-websocket-version")) == NULL &&
	    msg_add(m, EXTCONNECT_S("sec-websocket-version"),
	    EXTCONNECT_S("13")) == -1) ||
	    (r->upgrade = strdup("websocket")) == NULL) {
		r->ws_accept[0] = '\0';
		respond_error(r, 500, "internal_error",
		    "cannot open the WebSocket upstream");
		return -1;
	}
	util_copy(r->method, sizeof(r->method), "GET", 3);
	msg_set_body(m, MSG_BODY_NONE, 0);
	r->body_chunked = 0;
	if (!r->body.done)
		http1_body_init(&r->body, HTTP1_BODY_UNTIL_CLOSE, 0);
	return 0;
}

/*
 * The upstream's 101 h (parsed from p) for exchange r's extended CONNECT:
 * the head the stream is answered with into m (an empty response
 * message): :status 200, the 101's fields but the handshake's own
 * (Sec-WebSocket-Protocol and -Extensions pass on), a body until the
 * upstream closes.  -1 with *why if the 101 is no answer to our key.
 */
int
extconnect_response(struct exchange *r, const struct http1_head *h,
    const char *p, struct msg *m, const char **why)
{
	const struct http1_header *accept;

	accept = http1_find(h, "sec-websocket-accept");
	if (accept == NULL || accept->value.len != strlen(r->ws_accept) ||
	    memcmp(accept->value.p, r->ws_accept, accept->value.len) != 0) {
		*why = "101 without the Sec-WebSocket-Accept of the key sent";
		return -1;
	}
	*why = "response head cannot be written";
	if (h1codec_response_msg(h, p, m) == -1 ||
	    msg_remove(m, EXTCONNECT_S("sec-websocket-accept")) == -1 ||
	    msg_remove(m, EXTCONNECT_S("upgrade")) == -1 ||
	    msg_set_status(m, 200, EXTCONNECT_S("OK")) == -1)
		return -1;
	m->upgrade = 0;
	msg_set_body(m, MSG_BODY_UNKNOWN, 0);
	return 0;
}
