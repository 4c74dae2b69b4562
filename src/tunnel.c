/*
 * tunnel.c - raw relays: a passthrough connection, and a connection after
 * a 101.  Bytes move as they come, within the high-water mark each way;
 * one side's close passes on what it sent, then closes the other.
 */

#include <event2/buffer.h>
#include <event2/event.h>

#include "datapath.h"
#include "guard.h"
#include "sock.h"

void
tunnel_start(struct conn *c, int64_t rule_id)
{
	char why[160];

	/* CONNECT mode checked its address before the 200. */
	if (!c->connect_mode && guard_check((struct sockaddr *)&c->up_addr,
	    dpenv_rules(c->env), c->name, why, sizeof(why)) == -1) {
		intercept_refuse(c, rule_id, why);
		return;
	}
	event_free(c->ev);
	c->ev = NULL;
	c->passthrough = 1;
	c->passthrough_rule = rule_id;
	c->csock = sock_new_plain(c->env->base, c->fd);
	if (c->csock == NULL) {
		front_kill(c);
		return;
	}
	c->fd = -1;
	c->usock = upstream_connect_tcp(c->env, (struct sockaddr *)&c->up_addr,
	    c->up_len);
	if (c->usock == NULL) {
		log_event(LOG_WARN, "passthrough_failed", "client=%s server=%s "
		    "err=%s", c->client_str, c->server_str, strerror(errno));
		front_kill(c);
		return;
	}
	front_sock_setup(c, c->csock, 1);
	front_sock_setup(c, c->usock, 0);
	c->state = CONN_TUNNEL;
	front_arm(c, CONN_TUNNEL_IDLE);
}

/* A 101: both sides now speak something else; relay it untouched. */
void
tunnel_upgrade(struct conn *c)
{
	/* The request's row is written now; the tunnel gets none of its own. */
	exchange_audit(c);
	c->state = CONN_TUNNEL;
	front_arm(c, CONN_TUNNEL_IDLE);
}

/* Move what src received to dst's output; all of it, or while dst has room. */
static uint64_t
tunnel_relay(struct sock *src, struct sock *dst, int all)
{
	struct evbuffer *in = sock_input(src);
	size_t n = evbuffer_get_length(in);

	if (n == 0 || (!all && !front_has_room(dst)))
		return 0;
	evbuffer_add_buffer(sock_output(dst), in);
	return n;
}

int
tunnel_pump(struct conn *c)
{
	uint64_t up, down;

	if (c->csock == NULL || c->usock == NULL)
		return 0;
	up = tunnel_relay(c->csock, c->usock, 0);
	down = tunnel_relay(c->usock, c->csock, 0);
	c->tunnel_up += up;
	c->tunnel_down += down;
	if (up + down > 0)
		front_arm(c, CONN_TUNNEL_IDLE);
	return 0;
}

/* One side of a tunnel closed: pass on its last bytes, then close. */
void
tunnel_end(struct conn *c, struct sock **closed)
{
	struct sock *other = *closed == c->csock ? c->usock : c->csock;
	uint64_t n = other ? tunnel_relay(*closed, other, 1) : 0;

	if (*closed == c->csock)
		c->tunnel_up += n;
	else
		c->tunnel_down += n;
	if (*closed == c->usock)
		upstream_free(c->env, *closed);
	else {
		front_client_wire(c);
		sock_free(*closed);
	}
	*closed = NULL;
	front_flush(c);
}
