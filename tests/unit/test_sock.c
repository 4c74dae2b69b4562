/*
 * test_sock.c - sock.c over real sockets and real TLS, both ends in one
 * event base.
 *
 * Ends are socketpair()s (AF_UNIX) or, where TCP matters (connect, a
 * reset), loopback TCP.  The server's certificate is a self-signed one
 * from certforge_ca_build; the client does not verify it.  Checked: the
 * handshake both ways, 1 MiB each way with the reader pausing after every
 * callback (input never above the high-water mark), many small records
 * read while paused at a small high-water mark (what OpenSSL holds is not
 * stranded), how the peer closed (close_notify, FIN, reset), a refused
 * connect, output written before the handshake held until it is done, and
 * plain TCP.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "certforge.h"
#include "sock.h"
#include "unit.h"
#include "unit_tls.h"

#define MIB		(1024 * 1024)
#define PATTERN(i)	((unsigned char)((i) % 251))

static struct event_base *base;
static SSL_CTX *server_ctx, *client_ctx;

struct end {
	struct sock	*s;
	struct end	*peer;
	short		 events;	/* every SOCK_EV_* that came */
	enum sock_close	 kind;
	int		 err;
	size_t		 total;		/* to send */
	size_t		 sent;
	size_t		 got;		/* received and checked */
	size_t		 max_in;	/* the input's largest length */
	int		 bad;		/* a received byte was wrong */
	int		 pause;		/* pause after each readcb */
	int		 pending_seen;	/* SSL_has_pending while paused */
	size_t		 out_at_connect;
	int		 free_at_end;
	struct event	*resume;
};

static struct end ends[2];
static int (*stop_when)(void);

static void
maybe_stop(void)
{
	if (stop_when != NULL && stop_when())
		event_base_loopbreak(base);
}

/* Queue the pattern while the output is short of 64 KiB. */
static void
fill(struct end *e)
{
	unsigned char buf[16384];
	size_t n, i;

	while (e->s != NULL && e->sent < e->total &&
	    evbuffer_get_length(sock_output(e->s)) < 65536) {
		n = e->total - e->sent < sizeof(buf) ? e->total - e->sent :
		    sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = PATTERN(e->sent + i);
		evbuffer_add(sock_output(e->s), buf, n);
		e->sent += n;
	}
}

static void
drain(struct end *e)
{
	unsigned char buf[16384];
	int n, i;

	while ((n = evbuffer_remove(sock_input(e->s), buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++, e->got++)
			if (buf[i] != PATTERN(e->got))
				e->bad = 1;
}

static void
on_read(struct sock *s, void *arg)
{
	struct end *e = arg;
	size_t len = evbuffer_get_length(sock_input(s));
	struct timeval tv = { 0, 1000 };

	if (len > e->max_in)
		e->max_in = len;
	if (e->pause) {
		sock_set_read(s, 0);
		evtimer_add(e->resume, &tv);
		return;
	}
	drain(e);
	maybe_stop();
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct end *e = arg;

	(void)fd;
	(void)what;
	if (e->s == NULL)
		return;
	if (sock_ssl(e->s) != NULL && SSL_has_pending(sock_ssl(e->s)))
		e->pending_seen = 1;
	drain(e);
	sock_set_read(e->s, 1);
	maybe_stop();
}

static void
on_write(struct sock *s, void *arg)
{
	(void)s;
	fill(arg);
}

static void
on_event(struct sock *s, short what, void *arg)
{
	struct end *e = arg;

	e->events |= what;
	if (what & SOCK_EV_CONNECTED) {
		e->out_at_connect = evbuffer_get_length(sock_output(s));
		fill(e);
	}
	if (what & (SOCK_EV_EOF | SOCK_EV_ERROR)) {
		e->kind = sock_close_kind(s);
		e->err = sock_errno(s);
		drain(e);
		if (e->free_at_end) {
			sock_free(s);
			e->s = NULL;
		}
	}
	maybe_stop();
}

static void
end_init(struct end *e, struct sock *s, size_t high)
{
	memset(e, 0, sizeof(*e));
	e->s = s;
	e->resume = evtimer_new(base, on_resume, e);
	sock_setcb(s, on_read, on_write, on_event, e);
	sock_set_watermarks(s, high, 16384);
}

static void
ends_free(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (ends[i].s != NULL)
			sock_free(ends[i].s);
		if (ends[i].resume != NULL)
			event_free(ends[i].resume);
		ends[i].s = NULL;
		ends[i].resume = NULL;
	}
}

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

/* Run the loop until stop_when() or 10 s; 0 if it stopped. */
static int
run(int (*stop)(void))
{
	struct timeval tv = { 10, 0 };
	struct event *guard = evtimer_new(base, on_guard, NULL);
	int timed_out;

	stop_when = stop;
	evtimer_add(guard, &tv);
	if (!stop())
		event_base_dispatch(base);
	timed_out = !stop();
	event_free(guard);
	stop_when = NULL;
	return timed_out ? -1 : 0;
}

static SSL *
ssl_new(int server)
{
	SSL *ssl = SSL_new(server ? server_ctx : client_ctx);

	if (ssl == NULL) {
		fprintf(stderr, "SSL_new failed\n");
		exit(1);
	}
	return ssl;
}

/* ends[0] connects (client), ends[1] accepts; tls 0: plain. */
static void
pair_on(int fd0, int fd1, int tls, size_t high)
{
	struct sock *a, *b;

	a = tls ? sock_new_tls(base, fd0, ssl_new(0), SOCK_TLS_CONNECT) :
	    sock_new_plain(base, fd0);
	b = tls ? sock_new_tls(base, fd1, ssl_new(1), SOCK_TLS_ACCEPT) :
	    sock_new_plain(base, fd1);
	if (a == NULL || b == NULL) {
		fprintf(stderr, "sock_new failed\n");
		exit(1);
	}
	end_init(&ends[0], a, high);
	end_init(&ends[1], b, high);
	ends[0].peer = &ends[1];
	ends[1].peer = &ends[0];
}

static void
pair(int tls, size_t high)
{
	int fds[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1) {
		perror("socketpair");
		exit(1);
	}
	pair_on(fds[0], fds[1], tls, high);
}

/* A listening loopback TCP socket; its address in sin. */
static int
tcp_listener(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)sin, len) == -1 ||
	    listen(fd, 4) == -1 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) == -1) {
		perror("tcp listener");
		exit(1);
	}
	return fd;
}

/* ends[0] sock_connect()s over TCP; count bytes are queued before. */
static void
tcp_pair(int tls, size_t queued)
{
	struct sockaddr_in sin;
	int lfd = tcp_listener(&sin), fd, afd;
	unsigned char buf[1024];
	struct sock *a, *b;
	size_t i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = PATTERN(i);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a = tls ? sock_new_tls(base, fd, ssl_new(0), SOCK_TLS_CONNECT) :
	    sock_new_plain(base, fd);
	if (a == NULL || sock_connect(a, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1) {
		fprintf(stderr, "sock_connect failed\n");
		exit(1);
	}
	evbuffer_add(sock_output(a), buf, queued);
	/* Loopback: the kernel finishes the connect without us. */
	if ((afd = accept(lfd, NULL, NULL)) == -1) {
		perror("accept");
		exit(1);
	}
	close(lfd);
	b = tls ? sock_new_tls(base, afd, ssl_new(1), SOCK_TLS_ACCEPT) :
	    sock_new_plain(base, afd);
	end_init(&ends[0], a, SOCK_READ_HIGH);
	end_init(&ends[1], b, SOCK_READ_HIGH);
	ends[0].peer = &ends[1];
	ends[1].peer = &ends[0];
	ends[0].sent = ends[0].total = queued;
}

/* ---- the cases ----------------------------------------------------- */

static int
both_got_all(void)
{
	return ends[0].got == ends[1].total && ends[1].got == ends[0].total;
}

static int
both_connected(void)
{
	return (ends[0].events & SOCK_EV_CONNECTED) &&
	    (ends[1].events & SOCK_EV_CONNECTED);
}

static void
test_handshake(void)
{
	pair(1, SOCK_READ_HIGH);
	CHECK(run(both_connected) == 0, "tls: both ends report CONNECTED");
	CHECK(SSL_is_init_finished(sock_ssl(ends[0].s)) &&
	    SSL_is_init_finished(sock_ssl(ends[1].s)),
	    "tls: both handshakes finished");
	CHECK(!SSL_is_server(sock_ssl(ends[0].s)) &&
	    SSL_is_server(sock_ssl(ends[1].s)), "tls: the roles as asked");
	CHECK(sock_is_connected(ends[0].s) && sock_is_connected(ends[1].s),
	    "tls: sock_is_connected");
	ends_free();
}

/* 1 MiB each way, each reader pausing after every callback. */
static void
test_bulk(int tls)
{
	size_t high = 65536;
	const char *what = tls ? "tls" : "plain";
	char name[128];

	pair(tls, high);
	ends[0].total = ends[1].total = MIB;
	ends[0].pause = ends[1].pause = 1;
	if (!tls) {		/* no CONNECTED on an accepted plain socket */
		fill(&ends[0]);
		fill(&ends[1]);
	}
	snprintf(name, sizeof(name), "%s: 1 MiB each way, reading paused "
	    "and resumed", what);
	CHECK(run(both_got_all) == 0, name);
	snprintf(name, sizeof(name), "%s: every byte as sent", what);
	CHECK(!ends[0].bad && !ends[1].bad, name);
	snprintf(name, sizeof(name), "%s: input stays under the high-water "
	    "mark (%zu, %zu)", what, ends[0].max_in, ends[1].max_in);
	CHECK(ends[0].max_in <= high && ends[1].max_in <= high, name);
	ends_free();
}

static int
reader_got_all(void)
{
	return ends[1].got == ends[0].total;
}

/*
 * 150 records of 100 bytes, read with a 1000-byte mark: one pause leaves
 * records in OpenSSL and the kernel, and no new edge will come for them.
 */
static void
test_small_records(void)
{
	unsigned char buf[100];
	int i;

	pair(1, 1000);
	CHECK(run(both_connected) == 0, "small records: connected");
	ends[1].pause = 1;
	for (i = 0; i < 150; i++) {
		memset(buf, 0, sizeof(buf));
		for (size_t j = 0; j < sizeof(buf); j++)
			buf[j] = PATTERN(ends[0].sent + j);
		evbuffer_add(sock_output(ends[0].s), buf, sizeof(buf));
		ends[0].sent += sizeof(buf);
		sock_flush(ends[0].s);	/* one record each */
	}
	ends[0].total = ends[0].sent;
	CHECK(run(reader_got_all) == 0,
	    "small records: all read though paused at the mark");
	CHECK(!ends[1].bad, "small records: every byte as sent");
	CHECK(ends[1].max_in <= 1000, "small records: input <= the mark");
	CHECK(ends[1].pending_seen,
	    "small records: OpenSSL held records while paused");
	ends_free();
}

static int
reader_ended(void)
{
	return (ends[1].events & (SOCK_EV_EOF | SOCK_EV_ERROR)) != 0;
}

static void
test_close(void)
{
	int fds[2];

	/* close_notify */
	pair(1, SOCK_READ_HIGH);
	CHECK(run(both_connected) == 0, "close: connected");
	evbuffer_add(sock_output(ends[0].s), "bye", 3);
	sock_shutdown(ends[0].s);
	ends[1].free_at_end = 1;
	CHECK(run(reader_ended) == 0, "close_notify: the peer sees the end");
	CHECK(ends[1].events & SOCK_EV_EOF, "close_notify: an EOF");
	CHECK(ends[1].kind == SOCK_CLOSE_NOTIFY, "close_notify: clean");
	CHECK(ends[1].got == 3, "close_notify: the data before it read");
	ends_free();

	/* a FIN without close_notify */
	pair(1, SOCK_READ_HIGH);
	CHECK(run(both_connected) == 0, "close: connected");
	shutdown(sock_fd(ends[0].s), SHUT_WR);
	CHECK(run(reader_ended) == 0, "fin: the peer sees the end");
	CHECK(ends[1].events & SOCK_EV_EOF, "fin: an EOF, not an error");
	CHECK(ends[1].kind == SOCK_CLOSE_FIN, "fin: dirty");
	CHECK(sock_ssl_error(ends[1].s) == 0, "fin: no protocol error");
	ends_free();

	/* a reset, over TCP */
	tcp_pair(1, 0);
	CHECK(run(both_connected) == 0, "reset: connected over tcp");
	sock_reset_on_free(ends[0].s);
	sock_free(ends[0].s);
	ends[0].s = NULL;
	CHECK(run(reader_ended) == 0, "reset: the peer sees the end");
	CHECK(ends[1].kind == SOCK_CLOSE_RESET, "reset: a reset");
	CHECK(ends[1].err == ECONNRESET, "reset: ECONNRESET");
	ends_free();

	/* a plain FIN */
	pair(0, SOCK_READ_HIGH);
	shutdown(sock_fd(ends[0].s), SHUT_WR);
	CHECK(run(reader_ended) == 0, "plain fin: the peer sees the end");
	CHECK(ends[1].kind == SOCK_CLOSE_FIN, "plain fin: a FIN");
	ends_free();

	/* the TLS peer goes away in the handshake */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1)
		exit(1);
	pair_on(fds[0], fds[1], 1, SOCK_READ_HIGH);
	sock_free(ends[0].s);
	ends[0].s = NULL;
	CHECK(run(reader_ended) == 0, "handshake: the peer sees the end");
	CHECK((ends[1].events & SOCK_EV_HANDSHAKE) &&
	    !(ends[1].events & SOCK_EV_CONNECTED),
	    "handshake: the end is flagged as in the handshake");
	ends_free();
}

static int
reader_got_one(void)
{
	return ends[1].got >= 1;
}

/*
 * The last bytes and the FIN reach an idle reader together, in one edge:
 * the read that takes the bytes comes back short, yet the end is seen
 * (EV_CLOSED), not left for the idle timeout.
 */
static void
test_fin_with_data(int tls)
{
	unsigned char first = PATTERN(0), rest[2] = { PATTERN(1), PATTERN(2) };
	const char *what = tls ? "tls fin with data" : "plain fin with data";
	char msg[80];

	pair(tls, SOCK_READ_HIGH);
	evbuffer_add(sock_output(ends[0].s), &first, 1);
	snprintf(msg, sizeof(msg), "%s: the first byte read", what);
	CHECK(run(reader_got_one) == 0, msg);
	/* Both before the loop runs again: one edge for the two. */
	evbuffer_add(sock_output(ends[0].s), rest, sizeof(rest));
	sock_flush(ends[0].s);
	shutdown(sock_fd(ends[0].s), SHUT_WR);
	snprintf(msg, sizeof(msg), "%s: the end is seen", what);
	CHECK(run(reader_ended) == 0, msg);
	snprintf(msg, sizeof(msg), "%s: a FIN, the bytes before it read",
	    what);
	CHECK(ends[1].kind == SOCK_CLOSE_FIN && ends[1].got == 3 &&
	    !ends[1].bad, msg);
	ends_free();
}

static int
client_ended(void)
{
	return (ends[0].events & (SOCK_EV_EOF | SOCK_EV_ERROR |
	    SOCK_EV_CONNECTED)) != 0;
}

static void
test_connect(void)
{
	struct sockaddr_in sin;
	int fd = tcp_listener(&sin);
	struct sock *s;

	close(fd);		/* nobody listens there now */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	s = sock_new_tls(base, fd, ssl_new(0), SOCK_TLS_CONNECT);
	CHECK(s != NULL && sock_connect(s, (struct sockaddr *)&sin,
	    sizeof(sin)) == 0, "refused: connect started");
	end_init(&ends[0], s, SOCK_READ_HIGH);
	CHECK(run(client_ended) == 0, "refused: the end is reported");
	CHECK((ends[0].events & SOCK_EV_ERROR) &&
	    (ends[0].events & SOCK_EV_CONNECTING),
	    "refused: an error in the TCP connect");
	CHECK(ends[0].err == ECONNREFUSED, "refused: ECONNREFUSED");
	ends_free();

	/* Written before the handshake: held until it is done. */
	tcp_pair(1, 700);
	CHECK(run(both_connected) == 0, "connect: tls over tcp connected");
	CHECK(ends[0].out_at_connect == 700,
	    "connect: output held until the handshake finished");
	CHECK(run(both_got_all) == 0 && ends[1].got == 700 && !ends[1].bad,
	    "connect: then written");
	ends_free();

	tcp_pair(0, 300);
	CHECK(run(both_got_all) == 0, "connect: plain tcp, held bytes sent");
	CHECK(ends[0].events & SOCK_EV_CONNECTED, "connect: plain CONNECTED");
	ends_free();
}

/* sock_free from inside the sock's own read callback. */
static void
on_read_free(struct sock *s, void *arg)
{
	struct end *e = arg;

	drain(e);
	sock_free(s);
	e->s = NULL;
	e->events |= SOCK_EV_EOF;
	maybe_stop();
}

static void
test_free_in_callback(void)
{
	pair(0, SOCK_READ_HIGH);
	sock_setcb(ends[1].s, on_read_free, NULL, on_event, &ends[1]);
	evbuffer_add(sock_output(ends[0].s), "x", 1);
	CHECK(run(reader_ended) == 0 && ends[1].s == NULL,
	    "free inside the read callback");
	ends_free();
}

/* A referenced secret's bytes, and whether they were zero when let go. */
static unsigned char secret[4096];
static int secret_released, secret_zeroed;

static void
on_secret_done(const void *data, size_t len, void *arg)
{
	size_t i;

	(void)arg;
	secret_released = 1;
	secret_zeroed = 1;
	for (i = 0; i < len; i++)
		if (((const unsigned char *)data)[i] != 0)
			secret_zeroed = 0;
}

static int
reader_got_secret(void)
{
	return ends[1].got >= sizeof(secret) && secret_released;
}

/*
 * A wiping sock (the upstream leg, whose requests carry credentials)
 * overwrites what it wrote before the buffer lets the memory go; the
 * reader still gets the bytes as they were.  Without sock_set_wipe the
 * bytes are released as they were written.
 */
static void
test_wipe(int wipe)
{
	size_t i;

	pair(1, SOCK_READ_HIGH);
	for (i = 0; i < sizeof(secret); i++)
		secret[i] = PATTERN(i);
	secret_released = secret_zeroed = 0;
	if (wipe)
		sock_set_wipe(ends[0].s);
	ends[0].sent = ends[0].total = sizeof(secret);
	ends[1].total = 0;
	evbuffer_add_reference(sock_output(ends[0].s), secret, sizeof(secret),
	    on_secret_done, NULL);
	CHECK(run(reader_got_secret) == 0 && !ends[1].bad,
	    wipe ? "wipe: the reader gets the bytes" :
	    "no wipe: the reader gets the bytes");
	CHECK(wipe ? secret_zeroed : !secret_zeroed,
	    wipe ? "wipe: written bytes zeroed before they are let go" :
	    "no wipe: written bytes let go as they were");
	ends_free();
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	unit_tls_contexts(&server_ctx, &client_ctx);
	test_handshake();
	test_bulk(1);
	test_bulk(0);
	test_small_records();
	test_close();
	test_fin_with_data(0);
	test_fin_with_data(1);
	test_connect();
	test_free_in_callback();
	test_wipe(0);
	test_wipe(1);
	SSL_CTX_free(server_ctx);
	SSL_CTX_free(client_ctx);
	event_base_free(base);
	return unit_done();
}
