/*
 * tunnel.c - raw relays: a passthrough connection, and a connection after
 * a 101.  Bytes move as they come, within the high-water mark each way;
 * one side's close passes on what it sent, then closes the other.
 *
 * A passthrough tunnel has plain TCP on both sides, so once the upstream
 * is connected and the socks hold no byte (the ClientHello went through
 * them), the socks give their fds away (sock_release) and the bytes move
 * kernel to kernel: splice(2) from a socket into a pipe, and from the pipe
 * into the other socket, one pipe per direction.  What a pipe holds is
 * the bound (its size), as the high-water mark is for buffers.  The fds'
 * own edge-triggered events run both directions each time, until every
 * splice has said EAGAIN (or a budget is spent, and the run is scheduled
 * again).  Where that cannot start (no pipe), the buffers go on.
 *
 *   OPEN --one side's EOF or error--> DRAINING its pipe into the other
 *                                     (CONN_FLUSH_SECS) --> closed
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "datapath.h"
#include "guard.h"
#include "sock.h"

#define TUNNEL_PIPE_SIZE	CONN_HIGH_WATER	/* asked; the kernel may
						   give less */
#define TUNNEL_RUN_BUDGET	(1024 * 1024)	/* bytes per run, then yield */

enum { TUNNEL_CLIENT = 0, TUNNEL_UPSTREAM = 1 };

/* Bytes from one side to the other: what its pipe holds. */
struct tunnel_dir {
	int		 pipe[2];	/* read end, write end */
	size_t		 held;
};

struct tunnel_splice {
	struct conn	*c;
	int		 fd[2];		/* TUNNEL_CLIENT, TUNNEL_UPSTREAM */
	struct event	*ev[2];
	struct tunnel_dir dir[2];	/* dir[i]: from side i */
	int		 closed;	/* -1, or the side that ended first */
};

static void tunnel_splice_cb(evutil_socket_t, short, void *);

/*
 * The exchange a 101 made the connection's tunnel, or NULL.  HTTP/1 only:
 * an HTTP/2 stream's WebSocket is its exchange's bodies (extconnect.c).
 */
static struct exchange *
tunnel_upgraded(struct conn *c)
{
	struct exchange *r = TAILQ_FIRST(&c->exs);

	return r != NULL && r->tunneled && !c->codec->multiplexed ? r : NULL;
}

/*
 * How long the tunnel may carry nothing.  An upgraded one is an exchange
 * whose bodies stream: --stream-idle-timeout, as for an HTTP/2 stream's
 * WebSocket.  A passthrough relays bytes sluice never reads, of any
 * protocol, with no request or stream to bound: CONN_TUNNEL_IDLE.
 */
static int
tunnel_idle_secs(struct conn *c)
{
	return tunnel_upgraded(c) != NULL ?
	    front_cfg(c)->stream_idle_timeout : CONN_TUNNEL_IDLE;
}

static void
tunnel_io(struct sock *s, void *arg)
{
	front_run(arg);
}

static void
tunnel_event(struct sock *s, short what, void *arg)
{
	struct conn *c = arg;

	if (what & SOCK_EV_CONNECTED)
		c->tsock_connected = 1;
	else if (c->state == CONN_TUNNEL)
		tunnel_end(c, &c->tsock);
	else {
		upstream_free(c->env, c->tsock);	/* flushing the client */
		c->tsock = NULL;
	}
	front_run(c);
}

/* The tunnel's upstream side, c->tsock, tells the tunnel. */
void
tunnel_sock_setup(struct conn *c)
{
	front_sock_watch(c->tsock, tunnel_io, tunnel_event, c);
}

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
	c->tsock = upstream_connect_tcp(c->env, (struct sockaddr *)&c->up_addr,
	    c->up_len);
	if (c->tsock == NULL) {
		log_event(LOG_WARN, "passthrough_failed", "client=%s server=%s "
		    "err=%s", c->client_str, c->server_str, strerror(errno));
		front_kill(c);
		return;
	}
	front_sock_setup(c);
	tunnel_sock_setup(c);
	c->state = CONN_TUNNEL;
	front_arm(c, tunnel_idle_secs(c));
}

/*
 * A 101: both sides now speak something else; relay it untouched, on the
 * exchange's upstream leg.  The exchange stays on the connection, done,
 * until the tunnel ends: its one row then says how long it lived and what
 * crossed it (tunnel_audit()).
 */
void
tunnel_upgrade(struct conn *c, struct exchange *r)
{
	c->tsock = upleg_take(r);
	c->tsock_connected = 1;
	tunnel_sock_setup(c);
	r->state = EX_DONE;
	c->state = CONN_TUNNEL;
	front_arm(c, tunnel_idle_secs(c));
}

/* The tunnel was idle too long: it ends, and its row says so. */
void
tunnel_timeout(struct conn *c)
{
	struct exchange *r = tunnel_upgraded(c);

	if (r != NULL && r->error[0] == '\0')
		snprintf(r->error, sizeof(r->error), "tunnel idle for %d s",
		    tunnel_idle_secs(c));
	front_kill(c);
}

/*
 * The connection ends: an upgraded exchange's row, with the bytes that
 * crossed the tunnel each way added to its bodies' (the row's req_bytes
 * and resp_bytes) and an error if the tunnel did not end cleanly.
 */
void
tunnel_audit(struct conn *c)
{
	struct exchange *r = tunnel_upgraded(c);

	if (r == NULL)
		return;
	r->body.payload += c->tunnel_up;
	r->resp.payload += c->tunnel_down;
	exchange_audit(r);
}

/*
 * How one side of an upgraded tunnel ended, for its row: a close_notify or
 * a FIN is a clean end, a reset or an error is not.
 */
static void
tunnel_note_end(struct conn *c, struct sock *closed)
{
	struct exchange *r = tunnel_upgraded(c);
	const char *side = closed == c->csock ? "client" : "upstream";

	if (r == NULL || r->error[0] != '\0')
		return;
	if (sock_close_kind(closed) == SOCK_CLOSE_RESET)
		snprintf(r->error, sizeof(r->error), "%s reset the tunnel",
		    side);
	else if (sock_close_kind(closed) == SOCK_CLOSE_NONE)
		snprintf(r->error, sizeof(r->error), "%s side of the tunnel "
		    "failed", side);
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

void
tunnel_free(struct conn *c)
{
	struct tunnel_splice *t = c->splice;
	int i, j;

	if (t == NULL)
		return;
	for (i = 0; i < 2; i++) {
		if (t->ev[i] != NULL)
			event_free(t->ev[i]);
		for (j = 0; j < 2; j++)
			if (t->dir[i].pipe[j] != -1)
				close(t->dir[i].pipe[j]);
	}
	/* What was spliced is queued in the kernel: a FIN goes after it. */
	if (t->fd[TUNNEL_CLIENT] != -1) {
		shutdown(t->fd[TUNNEL_CLIENT], SHUT_WR);
		close(t->fd[TUNNEL_CLIENT]);
	}
	upstream_close_fd(c->env, t->fd[TUNNEL_UPSTREAM]);
	free(t);
	c->splice = NULL;
}

static int
tunnel_pipes(struct tunnel_splice *t)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (pipe2(t->dir[i].pipe, O_NONBLOCK | O_CLOEXEC) == -1)
			return -1;
		/* Best effort: a smaller pipe only costs more splices. */
		(void)fcntl(t->dir[i].pipe[1], F_SETPIPE_SZ, TUNNEL_PIPE_SIZE);
	}
	return 0;
}

/*
 * Move to splicing if nothing is buffered; 0 if it did, -1 to go on with
 * the buffers (not now, or not possible).  The socks are gone after it.
 */
static int
tunnel_splice_start(struct conn *c)
{
	struct tunnel_splice *t;
	int i;

	if (!c->passthrough || !c->tsock_connected ||
	    !sock_can_release(c->csock) || !sock_can_release(c->tsock) ||
	    (t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	t->c = c;
	t->closed = -1;
	t->fd[0] = t->fd[1] = -1;
	for (i = 0; i < 2; i++)
		t->dir[i].pipe[0] = t->dir[i].pipe[1] = -1;
	c->splice = t;
	if (tunnel_pipes(t) == -1)
		goto fail;
	for (i = 0; i < 2; i++)
		if ((t->ev[i] = event_new(c->env->base, -1, EV_READ | EV_WRITE |
		    EV_PERSIST | EV_ET, tunnel_splice_cb, t)) == NULL)
			goto fail;
	/* Both can be released (checked above): nothing fails past here. */
	t->fd[TUNNEL_CLIENT] = sock_release(c->csock);
	t->fd[TUNNEL_UPSTREAM] = sock_release(c->tsock);
	c->csock = NULL;
	c->tsock = NULL;
	for (i = 0; i < 2; i++) {
		event_assign(t->ev[i], c->env->base, t->fd[i], EV_READ |
		    EV_WRITE | EV_PERSIST | EV_ET, tunnel_splice_cb, t);
		if (event_add(t->ev[i], NULL) == -1)
			front_kill(c);
	}
	/* The socks' events may have taken the edges: run once now. */
	event_active(t->ev[TUNNEL_CLIENT], EV_READ | EV_WRITE, 0);
	return 0;
fail:
	tunnel_free(c);
	return -1;
}

/*
 * Empty side i's pipe into the other side; the bytes it moved.  A write
 * error ends the other side, and what the pipe held for it.
 */
static size_t
tunnel_splice_out(struct tunnel_splice *t, int i)
{
	struct tunnel_dir *d = &t->dir[i];
	ssize_t n;

	if (d->held == 0)
		return 0;
	n = splice(d->pipe[0], NULL, t->fd[!i], NULL, d->held,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		d->held -= (size_t)n;
		if (i == TUNNEL_CLIENT)
			t->c->tunnel_up += (uint64_t)n;
		else
			t->c->tunnel_down += (uint64_t)n;
		return (size_t)n;
	}
	if (errno == EAGAIN)
		return 0;
	d->held = 0;		/* undeliverable: the other side is gone */
	if (t->closed == -1)
		t->closed = !i;
	return 0;
}

/* Fill side i's pipe from its socket; the bytes it took.  EOF ends i. */
static size_t
tunnel_splice_in(struct tunnel_splice *t, int i)
{
	struct tunnel_dir *d = &t->dir[i];
	ssize_t n;

	n = splice(t->fd[i], NULL, d->pipe[1], NULL, TUNNEL_PIPE_SIZE,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		d->held += (size_t)n;
		return (size_t)n;
	}
	if ((n == 0 || errno != EAGAIN) && t->closed == -1)
		t->closed = i;
	return 0;
}

/*
 * Both directions until nothing moves (every splice said EAGAIN) or the
 * budget is spent.  Once a side ended, only its pipe still empties into
 * the other, as tunnel_end() passes on its last bytes.
 */
static size_t
tunnel_splice_run(struct tunnel_splice *t)
{
	size_t moved, total = 0;
	int i;

	do {
		moved = 0;
		for (i = 0; i < 2; i++) {
			if (t->closed == !i)
				continue;	/* nobody left to write to */
			moved += tunnel_splice_out(t, i);
			if (t->closed == -1)
				moved += tunnel_splice_in(t, i);
		}
		total += moved;
	} while (moved > 0 && total < TUNNEL_RUN_BUDGET);
	if (moved > 0)
		event_active(t->ev[TUNNEL_CLIENT], EV_READ | EV_WRITE, 0);
	return total;
}

static void
tunnel_splice_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel_splice *t = arg;
	struct conn *c = t->c;
	int was_open = t->closed == -1;
	size_t moved = tunnel_splice_run(t);

	if (t->closed != -1 && t->dir[t->closed].held == 0)
		front_kill(c);
	else if (was_open && t->closed != -1)
		front_arm(c, CONN_FLUSH_SECS);	/* as front_flush() */
	else if (moved > 0 && t->closed == -1)
		front_arm(c, tunnel_idle_secs(c));
	front_run(c);
}

int
tunnel_pump(struct conn *c)
{
	uint64_t up, down;

	if (c->csock == NULL || c->tsock == NULL)
		return 0;
	up = tunnel_relay(c->csock, c->tsock, 0);
	down = tunnel_relay(c->tsock, c->csock, 0);
	c->tunnel_up += up;
	c->tunnel_down += down;
	if (up + down > 0)
		front_arm(c, tunnel_idle_secs(c));
	if (c->splice == NULL && c->tsock_connected)
		tunnel_splice_start(c);
	return 0;
}

/* One side of a tunnel closed: pass on its last bytes, then close. */
void
tunnel_end(struct conn *c, struct sock **closed)
{
	struct sock *other = *closed == c->csock ? c->tsock : c->csock;
	uint64_t n = other ? tunnel_relay(*closed, other, 1) : 0;

	tunnel_note_end(c, *closed);
	if (*closed == c->csock)
		c->tunnel_up += n;
	else
		c->tunnel_down += n;
	if (*closed == c->tsock)
		upstream_free(c->env, *closed);
	else {
		front_client_wire(c);
		sock_free(*closed);
	}
	*closed = NULL;
	front_flush(c);
}
