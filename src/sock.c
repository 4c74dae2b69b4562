/*
 * sock.c - sluice's own socket: an fd, optionally an SSL, an input and an
 * output evbuffer, and one edge-triggered event.  The only code in the
 * data path that calls SSL_read, SSL_write or SSL_do_handshake, or sees
 * SSL_ERROR_WANT_*.
 *
 * It does not own timeouts (the connection's timer does) or know HTTP.
 *
 *   CONNECTING --connect done--> HANDSHAKE --handshake done--> OPEN
 *        |  (plain: straight to OPEN)  |                         |
 *        +--------- error -------------+------ error, EOF -------+--> DONE
 *
 * The event is added once with EV_READ|EV_WRITE|EV_PERSIST|EV_ET, so no
 * epoll_ctl is spent per write burst or per pause.  An edge only says
 * "something changed"; can_read / can_write remember it until a read or
 * write says EAGAIN (WANT_READ / WANT_WRITE), and only that clears them.
 * So stopping early (reading paused, input at the high-water mark, the
 * per-run read budget spent) strands nothing: the flag stays set and the
 * sock re-activates its own event (sock_schedule) when it may go on.
 * SSL_has_pending() (records OpenSSL holds, decrypted or read ahead) is
 * covered the same way: WANT_READ is only seen once OpenSSL holds no whole
 * record.
 *
 * A read() that fills less than it was given emptied the kernel's queue:
 * it counts as the EAGAIN (can_read cleared) without a second read(), or
 * for TLS a second SSL_read, to hear it.  Data arriving after that read
 * raises a new edge.  A FIN that came before it does not, so the event
 * also asks for EV_CLOSED (EPOLLRDHUP): once the peer's FIN was seen,
 * reading goes on to EAGAIN or EOF as before.  TLS reads go through
 * sock.c's own BIO (read() and write() on the fd) to see the short read.
 *
 * Invariants:
 * - User callbacks run only from sock_fd_cb (the loop), never from a
 *   call the user made; work the user asks for (output added, reading
 *   resumed, input drained) re-activates the event, which libevent runs
 *   after the current callback, in the same loop pass.
 * - sock_free() inside the sock's own callback only marks it dead; the
 *   sock is freed when the callback returns.
 * - SSL_read/SSL_write after WANT_x are retried only once x is ready; a
 *   retried SSL_write is given the same bytes and length.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "sock.h"
#include "util.h"

#define SOCK_RECORD	16384		/* TLS's largest record */
#define SOCK_PLAIN_READ	65536		/* one read() on a plain socket */
#define SOCK_READ_BUDGET (256 * 1024)	/* read per run, then yield */

enum sock_state {
	SOCK_CONNECTING,	/* connect() in progress */
	SOCK_HANDSHAKE,		/* TLS handshake in progress */
	SOCK_OPEN,
	SOCK_DONE,		/* EOF or error: nothing more is read */
};

/* What a TLS read or write waits for after WANT_READ / WANT_WRITE. */
enum sock_want {
	SOCK_WANT_NONE,
	SOCK_WANT_READ,
	SOCK_WANT_WRITE,
};

struct sock {
	struct event_base	*base;
	struct event		*ev;
	int			 fd;
	SSL			*ssl;
	enum sock_state		 state;
	struct evbuffer		*in, *out;
	struct evbuffer_cb_entry *in_cb;	/* while read_full */
	sock_data_cb		*readcb, *writecb;
	sock_event_cb		*eventcb;
	void			*arg;
	size_t			 read_high, write_low;
	size_t			 retry_len;	/* SSL_write to repeat */
	enum sock_want		 read_wants, write_wants, hs_wants;
	enum sock_close		 close_kind;
	int			 err;
	unsigned long		 ssl_err;
	short			 pending;	/* SOCK_EV_* to report */
	unsigned		 can_read:1;	/* no EAGAIN since the last edge */
	unsigned		 can_write:1;
	unsigned		 reading:1;	/* sock_set_read */
	unsigned		 started:1;	/* the first run happened */
	unsigned		 scheduled:1;	/* event_active pending */
	unsigned		 running:1;	/* inside sock_fd_cb */
	unsigned		 dead:1;	/* sock_free() while running */
	unsigned		 connected:1;	/* CONNECTED reported */
	unsigned		 read_full:1;	/* stopped at read_high */
	unsigned		 wrote:1;	/* output shrank this run */
	unsigned		 shut_wanted:1;	/* sock_shutdown */
	unsigned		 shut_done:1;
	unsigned		 reset:1;	/* sock_reset_on_free */
	unsigned		 write_dead:1;	/* writing is over too */
	unsigned		 wipe:1;	/* sock_set_wipe */
	unsigned		 rdhup:1;	/* the peer's FIN was seen */
	unsigned		 short_read:1;	/* the last read() was short */
};

static void sock_fd_cb(evutil_socket_t, short, void *);
static void sock_fail(struct sock *, short, enum sock_close, int);

/* Run from the loop soon: after the current callback, in the same pass. */
static void
sock_schedule(struct sock *s)
{
	if (s->scheduled || s->dead)
		return;
	s->scheduled = 1;
	event_active(s->ev, EV_TIMEOUT, 1);
}

/* Output grew: write it once the user's current callback is over. */
static void
sock_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct sock *s = arg;

	(void)buf;
	if (info->n_added > 0 && !s->write_dead)
		sock_schedule(s);
}

static void sock_input_cb(struct evbuffer *, const struct evbuffer_cb_info *,
    void *);

/*
 * Reading stopped at the high-water mark (full), or may go on.  The
 * input's callback is there only while stopped: every change to a buffer
 * with a callback pays for running it, five times per keep-alive request.
 */
static void
sock_set_full(struct sock *s, int full)
{
	if (full && s->in_cb == NULL &&
	    (s->in_cb = evbuffer_add_cb(s->in, sock_input_cb, s)) == NULL) {
		sock_fail(s, SOCK_EV_ERROR, SOCK_CLOSE_NONE, ENOMEM);
		return;
	}
	if (!full && s->in_cb != NULL) {
		evbuffer_remove_cb_entry(s->in, s->in_cb);
		s->in_cb = NULL;
	}
	s->read_full = full;
	if (!full)
		sock_schedule(s);
}

/* Input drained below the high-water mark: reading may go on. */
static void
sock_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct sock *s = arg;

	if (info->n_deleted > 0 && s->read_full &&
	    evbuffer_get_length(buf) < s->read_high)
		sock_set_full(s, 0);	/* removes this callback: allowed */
}

static struct sock *
sock_new(struct event_base *base, int fd, SSL *ssl)
{
	struct sock *s;

	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->base = base;
	s->fd = fd;
	s->ssl = ssl;
	s->state = ssl != NULL ? SOCK_HANDSHAKE : SOCK_OPEN;
	s->read_high = SOCK_READ_HIGH;
	s->reading = 1;
	/* An fd may come with data already queued: try before any edge. */
	s->can_read = 1;
	s->can_write = 1;
	s->in = evbuffer_new();
	s->out = evbuffer_new();
	s->ev = event_new(base, fd, EV_READ | EV_WRITE | EV_CLOSED |
	    EV_PERSIST | EV_ET, sock_fd_cb, s);
	if (s->in == NULL || s->out == NULL || s->ev == NULL ||
	    evbuffer_add_cb(s->out, sock_output_cb, s) == NULL ||
	    event_add(s->ev, NULL) == -1)
		goto fail;
	sock_schedule(s);
	return s;
fail:
	if (s->ev != NULL)
		event_free(s->ev);
	if (s->in != NULL)
		evbuffer_free(s->in);
	if (s->out != NULL)
		evbuffer_free(s->out);
	free(s);
	return NULL;
}

struct sock *
sock_new_plain(struct event_base *base, int fd)
{
	return sock_new(base, fd, NULL);
}

/* ---- the TLS socket's BIO ----------------------------------------- */

static BIO_METHOD *sock_bio_method;
static pthread_once_t sock_bio_once = PTHREAD_ONCE_INIT;

static int
sock_bio_read(BIO *b, char *buf, int len)
{
	struct sock *s = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (s == NULL)
		return -1;
	errno = 0;	/* as a socket BIO: no errno from an EOF */
	if ((n = read(s->fd, buf, (size_t)len)) == -1 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	s->short_read = n >= 0 && n < len;
	return (int)n;
}

static int
sock_bio_write(BIO *b, const char *buf, int len)
{
	struct sock *s = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (s == NULL)
		return -1;
	errno = 0;
	if ((n = write(s->fd, buf, (size_t)len)) == -1 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)n;
}

/* As a socket BIO answers, without kTLS: nothing buffered, flush is a no-op. */
static long
sock_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH || cmd == BIO_CTRL_DUP;
}

static void
sock_bio_init(void)
{
	BIO_METHOD *m;

	if ((m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
	    "sluice sock")) == NULL)
		return;
	if (BIO_meth_set_read(m, sock_bio_read) != 1 ||
	    BIO_meth_set_write(m, sock_bio_write) != 1 ||
	    BIO_meth_set_ctrl(m, sock_bio_ctrl) != 1) {
		BIO_meth_free(m);
		return;
	}
	sock_bio_method = m;
}

/* A BIO on no sock yet (it fails every read and write until set). */
static BIO *
sock_bio_new(void)
{
	BIO *b;

	if (pthread_once(&sock_bio_once, sock_bio_init) != 0 ||
	    sock_bio_method == NULL || (b = BIO_new(sock_bio_method)) == NULL)
		return NULL;
	BIO_set_init(b, 1);
	return b;
}

struct sock *
sock_new_tls(struct event_base *base, int fd, SSL *ssl,
    enum sock_tls_role role)
{
	struct sock *s;
	BIO *b;

	/*
	 * Read ahead: one read() takes what the kernel has, not a record
	 * header and then its body.  Partial writes and a moving buffer: an
	 * evbuffer's first chunk is written as far as the socket takes it.
	 */
	SSL_set_read_ahead(ssl, 1);
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if ((b = sock_bio_new()) == NULL) {
		ERR_clear_error();
		return NULL;
	}
	SSL_set_bio(ssl, b, b);
	if (role == SOCK_TLS_ACCEPT)
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	/* On failure the BIO stays with ssl, on no sock: the caller frees. */
	if ((s = sock_new(base, fd, ssl)) != NULL)
		BIO_set_data(b, s);
	return s;
}

int
sock_connect(struct sock *s, const struct sockaddr *addr, socklen_t len)
{
	if (s->started || s->state == SOCK_DONE)
		return -1;
	s->state = SOCK_CONNECTING;
	s->can_read = 0;
	s->can_write = 0;
	if (connect(s->fd, addr, len) == 0) {
		s->can_write = 1;	/* the run finds SO_ERROR 0 */
		return 0;
	}
	if (errno == EINPROGRESS || errno == EAGAIN)
		return 0;
	/* Refused at once (a local port): reported like a late refusal. */
	sock_fail(s, SOCK_EV_ERROR, SOCK_CLOSE_NONE, errno);
	return 0;
}

void
sock_setcb(struct sock *s, sock_data_cb *readcb, sock_data_cb *writecb,
    sock_event_cb *eventcb, void *arg)
{
	s->readcb = readcb;
	s->writecb = writecb;
	s->eventcb = eventcb;
	s->arg = arg;
	/* An event that came while nobody listened is told to the new one. */
	if (s->pending != 0)
		sock_schedule(s);
}

void
sock_set_watermarks(struct sock *s, size_t read_high, size_t write_low)
{
	s->read_high = read_high;
	s->write_low = write_low;
	if (s->read_full && (read_high == 0 ||
	    evbuffer_get_length(s->in) < read_high))
		sock_set_full(s, 0);
}

struct evbuffer *
sock_input(struct sock *s)
{
	return s->in;
}

struct evbuffer *
sock_output(struct sock *s)
{
	return s->out;
}

void
sock_set_read(struct sock *s, int on)
{
	on = on != 0;
	if ((int)s->reading == on)
		return;
	s->reading = on;
	if (on)
		sock_schedule(s);
}

/* ---- errors -------------------------------------------------------- */

/*
 * Empty this thread's error queue before an SSL call, so that
 * SSL_get_error() sees only what that call queued.  ERR_clear_error()
 * wipes all 16 slots (about 800 instructions) even when they are empty,
 * which they nearly always are: peeking first costs a tenth of that.
 */
static void
sock_err_clear(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

/*
 * The end of reading; what stays to be reported is in pending.  Writing
 * goes on after a clean end of the peer's half (close_notify, or a FIN on
 * plain TCP): it may still read what we answer.
 */
static void
sock_fail(struct sock *s, short what, enum sock_close kind, int err)
{
	if (s->state == SOCK_DONE) {	/* a write failed after EOF */
		s->write_dead = 1;
		if (s->err == 0)
			s->err = err;
		return;
	}
	if (s->state == SOCK_CONNECTING)
		what |= SOCK_EV_CONNECTING;
	else if (s->state == SOCK_HANDSHAKE)
		what |= SOCK_EV_HANDSHAKE;
	if (s->state != SOCK_OPEN || !(kind == SOCK_CLOSE_NOTIFY ||
	    (kind == SOCK_CLOSE_FIN && s->ssl == NULL)))
		s->write_dead = 1;
	s->state = SOCK_DONE;
	s->pending |= what;
	s->close_kind = kind;
	s->err = err;
}

/*
 * A failed SSL call (rc <= 0, not WANT_*): which end it was.  OpenSSL 3
 * names a FIN without close_notify (unexpected eof); a reset comes back
 * as SSL_ERROR_SYSCALL with errno.  The first queued error is kept for
 * sock_ssl_error(), except for the bare FIN, which is no protocol error.
 */
static void
sock_ssl_failed(struct sock *s, int rc, int code)
{
	int err = errno;
	unsigned long e = ERR_peek_error();

	ERR_clear_error();
	if (code == SSL_ERROR_ZERO_RETURN) {
		sock_fail(s, SOCK_EV_EOF, SOCK_CLOSE_NOTIFY, 0);
		return;
	}
	if (code == SSL_ERROR_SSL &&
	    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		sock_fail(s, SOCK_EV_EOF, SOCK_CLOSE_FIN, 0);
		return;
	}
	if (code == SSL_ERROR_SYSCALL && e == 0) {
		if (rc == 0 || err == 0)	/* a FIN, older OpenSSL */
			sock_fail(s, SOCK_EV_EOF, SOCK_CLOSE_FIN, 0);
		else if (err == ECONNRESET || err == EPIPE)
			sock_fail(s, SOCK_EV_EOF, SOCK_CLOSE_RESET, err);
		else
			sock_fail(s, SOCK_EV_ERROR, SOCK_CLOSE_NONE, err);
		return;
	}
	s->ssl_err = e;
	sock_fail(s, SOCK_EV_ERROR, SOCK_CLOSE_NONE,
	    code == SSL_ERROR_SYSCALL ? err : 0);
}

/* A failed read() or write(): the errno's end. */
static void
sock_io_failed(struct sock *s, int err)
{
	if (err == ECONNRESET || err == EPIPE)
		sock_fail(s, SOCK_EV_EOF, SOCK_CLOSE_RESET, err);
	else
		sock_fail(s, SOCK_EV_ERROR, SOCK_CLOSE_NONE, err);
}

/* ---- connect and handshake ----------------------------------------- */

/* Whether what an operation waits for is there; dflt if it waits for none. */
static int
sock_ready(const struct sock *s, enum sock_want want, int dflt)
{
	if (want == SOCK_WANT_READ)
		return s->can_read;
	if (want == SOCK_WANT_WRITE)
		return s->can_write;
	return dflt;
}


static void
sock_connect_done(struct sock *s)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	/* Only an edge tells that connect() finished; SO_ERROR is 0 before. */
	if (!s->can_write)
		return;
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		soerr = errno;
	if (soerr != 0) {
		sock_fail(s, SOCK_EV_ERROR, SOCK_CLOSE_NONE, soerr);
		return;
	}
	s->can_read = 1;
	if (s->ssl != NULL) {
		s->state = SOCK_HANDSHAKE;
		return;
	}
	s->state = SOCK_OPEN;
	s->pending |= SOCK_EV_CONNECTED;
}

static void
sock_handshake(struct sock *s)
{
	int rc, code;

	if (!sock_ready(s, s->hs_wants, 1))
		return;
	sock_err_clear();
	rc = SSL_do_handshake(s->ssl);
	if (rc == 1) {
		s->state = SOCK_OPEN;
		s->pending |= SOCK_EV_CONNECTED;
		return;
	}
	code = SSL_get_error(s->ssl, rc);
	if (code == SSL_ERROR_WANT_READ) {
		s->can_read = 0;
		s->hs_wants = SOCK_WANT_READ;
	} else if (code == SSL_ERROR_WANT_WRITE) {
		s->can_write = 0;
		s->hs_wants = SOCK_WANT_WRITE;
	} else
		sock_ssl_failed(s, rc, code);
}

/* ---- writing ------------------------------------------------------- */

/* One SSL_write of the output's first bytes; 1 if more may go. */
static int
sock_write_tls(struct sock *s)
{
	size_t n = s->retry_len;
	struct evbuffer_iovec v;
	unsigned char *p;
	int rc, code;

	if (n == 0) {
		n = evbuffer_get_length(s->out);
		if (n > SOCK_RECORD)
			n = SOCK_RECORD;
	}
	/*
	 * Whole records from small chunks: one pullup beats many records.
	 * But a pullup frees the chunks it copies unwiped, so a wiping sock
	 * writes its first chunk as it is.
	 */
	if (s->wipe && s->retry_len == 0) {
		if (evbuffer_peek(s->out, -1, NULL, &v, 1) < 1)
			return 0;
		p = v.iov_base;
		if (n > v.iov_len)
			n = v.iov_len;
	} else if ((p = evbuffer_pullup(s->out, (ev_ssize_t)n)) == NULL) {
		sock_fail(s, SOCK_EV_ERROR, SOCK_CLOSE_NONE, ENOMEM);
		return 0;
	}
	sock_err_clear();
	rc = SSL_write(s->ssl, p, (int)n);
	if (rc > 0) {
		if (s->wipe)
			OPENSSL_cleanse(p, (size_t)rc);
		evbuffer_drain(s->out, (size_t)rc);
		s->retry_len = 0;
		s->write_wants = SOCK_WANT_NONE;
		s->wrote = 1;
		return 1;
	}
	code = SSL_get_error(s->ssl, rc);
	s->retry_len = n;
	if (code == SSL_ERROR_WANT_WRITE) {
		s->can_write = 0;
		s->write_wants = SOCK_WANT_WRITE;
	} else if (code == SSL_ERROR_WANT_READ) {
		s->can_read = 0;
		s->write_wants = SOCK_WANT_READ;
	} else
		sock_ssl_failed(s, rc, code);
	return 0;
}

/* Write the output until it is empty or the socket is full. */
static void
sock_write_out(struct sock *s)
{
	int n;

	while ((s->state == SOCK_OPEN || s->state == SOCK_DONE) &&
	    !s->write_dead && evbuffer_get_length(s->out) > 0 &&
	    sock_ready(s, s->write_wants, s->can_write)) {
		if (s->ssl != NULL) {
			if (!sock_write_tls(s))
				return;
			continue;
		}
		n = evbuffer_write(s->out, s->fd);	/* writev */
		if (n > 0) {
			s->wrote = 1;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			s->can_write = 0;
		else if (n == -1 && errno != EINTR)
			sock_io_failed(s, errno);
		return;
	}
}

/* The asked-for shutdown, once everything before it is on the wire. */
static void
sock_shutdown_now(struct sock *s)
{
	if (!s->shut_wanted || s->shut_done ||
	    (evbuffer_get_length(s->out) > 0 && !s->write_dead) ||
	    s->state == SOCK_CONNECTING || s->state == SOCK_HANDSHAKE)
		return;
	s->shut_done = 1;
	/* Best effort: the alert is small and the socket has room. */
	if (s->ssl != NULL && !s->write_dead && SSL_is_init_finished(s->ssl) &&
	    !(SSL_get_shutdown(s->ssl) & SSL_SENT_SHUTDOWN))
		SSL_shutdown(s->ssl);
	ERR_clear_error();
	shutdown(s->fd, SHUT_WR);
}

void
sock_flush(struct sock *s)
{
	sock_write_out(s);
	sock_shutdown_now(s);
	if (s->pending != 0)
		sock_schedule(s);
}

void
sock_shutdown(struct sock *s)
{
	s->shut_wanted = 1;
	sock_flush(s);
}

/* ---- reading ------------------------------------------------------- */

/* One read into the input; the bytes read, 0 if it should stop. */
static size_t
sock_read_once(struct sock *s, size_t max)
{
	struct evbuffer_iovec v;
	ssize_t n;
	int code;

	if (evbuffer_reserve_space(s->in, (ev_ssize_t)max, &v, 1) < 1) {
		sock_fail(s, SOCK_EV_ERROR, SOCK_CLOSE_NONE, ENOMEM);
		return 0;
	}
	if (s->ssl != NULL) {
		sock_err_clear();
		s->short_read = 0;	/* OpenSSL may read nothing */
		n = SSL_read(s->ssl, v.iov_base, (int)max);
		if (n <= 0) {
			code = SSL_get_error(s->ssl, (int)n);
			if (code == SSL_ERROR_WANT_READ) {
				s->can_read = 0;
				s->read_wants = SOCK_WANT_NONE;
			} else if (code == SSL_ERROR_WANT_WRITE) {
				s->can_write = 0;
				s->read_wants = SOCK_WANT_WRITE;
			} else
				sock_ssl_failed(s, (int)n, code);
			return 0;
		}
		s->read_wants = SOCK_WANT_NONE;
		if (s->short_read && !s->rdhup && !SSL_has_pending(s->ssl))
			s->can_read = 0;
	} else {
		n = read(s->fd, v.iov_base, max);
		if (n == 0) {
			sock_fail(s, SOCK_EV_EOF, SOCK_CLOSE_FIN, 0);
			return 0;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				s->can_read = 0;
			else if (errno != EINTR)
				sock_io_failed(s, errno);
			return 0;
		}
		if ((size_t)n < max && !s->rdhup)
			s->can_read = 0;
	}
	v.iov_len = (size_t)n;
	evbuffer_commit_space(s->in, &v, 1);
	return (size_t)n;
}

/*
 * Read until EAGAIN, the high-water mark or the budget; the bytes read.
 * Stopping for the mark or the budget leaves can_read set.
 */
static size_t
sock_read_in(struct sock *s)
{
	size_t total = 0, len, max, n;

	while (s->state == SOCK_OPEN && s->reading &&
	    sock_ready(s, s->read_wants, s->can_read)) {
		len = evbuffer_get_length(s->in);
		if (s->read_high != 0 && len >= s->read_high) {
			sock_set_full(s, 1);
			break;
		}
		if (total >= SOCK_READ_BUDGET) {
			sock_schedule(s);	/* others first, then more */
			break;
		}
		max = s->ssl != NULL ? SOCK_RECORD : SOCK_PLAIN_READ;
		if (s->read_high != 0 && s->read_high - len < max)
			max = s->read_high - len;
		if ((n = sock_read_once(s, max)) == 0)
			break;
		total += n;
	}
	return total;
}

/* ---- the run ------------------------------------------------------- */

static void sock_destroy(struct sock *);

/*
 * One pass: progress the connection, then tell the user - CONNECTED,
 * data, room, the end - in that order.  0, or -1 if a callback freed it.
 */
static int
sock_run(struct sock *s)
{
	size_t nread;
	short what;

	s->started = 1;
	s->wrote = 0;
	if (s->state == SOCK_CONNECTING)
		sock_connect_done(s);
	if (s->state == SOCK_HANDSHAKE)
		sock_handshake(s);
	if (s->pending & SOCK_EV_CONNECTED) {
		s->pending &= ~SOCK_EV_CONNECTED;
		s->connected = 1;
		if (s->eventcb != NULL) {
			s->eventcb(s, SOCK_EV_CONNECTED, s->arg);
			if (s->dead)
				return -1;
		}
	}
	sock_write_out(s);
	sock_shutdown_now(s);
	nread = sock_read_in(s);
	if (nread > 0 && s->readcb != NULL) {
		s->readcb(s, s->arg);
		if (s->dead)
			return -1;
	}
	if (s->wrote && evbuffer_get_length(s->out) <= s->write_low &&
	    s->writecb != NULL) {
		s->writecb(s, s->arg);
		if (s->dead)
			return -1;
	}
	if (s->pending != 0 && s->eventcb != NULL) {
		what = s->pending;
		s->pending = 0;
		s->eventcb(s, what, s->arg);
		if (s->dead)
			return -1;
	}
	return 0;
}

static void
sock_fd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sock *s = arg;

	(void)fd;
	if (what & EV_TIMEOUT)
		s->scheduled = 0;
	if (what & EV_READ)
		s->can_read = 1;
	if (what & EV_CLOSED)
		s->rdhup = 1;
	if (what & EV_WRITE)
		s->can_write = 1;
	s->running = 1;
	if (sock_run(s) == -1) {
		sock_destroy(s);
		return;
	}
	s->running = 0;
}

/* ---- freeing ------------------------------------------------------- */

static void
sock_destroy(struct sock *s)
{
	struct linger l = { 1, 0 };

	event_free(s->ev);
	evbuffer_free(s->in);
	if (s->wipe)
		util_evbuffer_wipe_free(s->out);
	else
		evbuffer_free(s->out);
	if (s->reset)
		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	if (s->ssl != NULL)
		SSL_free(s->ssl);
	if (s->fd != -1)		/* -1: sock_release() gave it away */
		close(s->fd);
	free(s);
}

void
sock_reset_on_free(struct sock *s)
{
	s->reset = 1;
}

void
sock_set_wipe(struct sock *s)
{
	s->wipe = 1;
}

void
sock_free(struct sock *s)
{
	if (s == NULL)
		return;
	if (s->running) {
		s->dead = 1;
		return;
	}
	sock_destroy(s);
}

/*
 * Only an open plain sock with nothing buffered either way and nothing to
 * report: then the kernel holds every byte, and the caller may move them
 * itself.
 */
int
sock_can_release(const struct sock *s)
{
	return s->state == SOCK_OPEN && s->ssl == NULL && s->pending == 0 &&
	    !s->shut_wanted && evbuffer_get_length(s->in) == 0 &&
	    evbuffer_get_length(s->out) == 0;
}

/*
 * Inside the sock's own callback the rest is freed on return, and the
 * caller's own event on the fd must not rely on a new edge.
 */
int
sock_release(struct sock *s)
{
	int fd = s->fd;

	if (!sock_can_release(s))
		return -1;
	s->fd = -1;
	sock_free(s);
	return fd;
}

/* ---- accessors ----------------------------------------------------- */

int
sock_fd(const struct sock *s)
{
	return s->fd;
}

SSL *
sock_ssl(const struct sock *s)
{
	return s->ssl;
}

int
sock_is_connected(const struct sock *s)
{
	return s->connected;
}

enum sock_close
sock_close_kind(const struct sock *s)
{
	return s->close_kind;
}

int
sock_errno(const struct sock *s)
{
	return s->err;
}

unsigned long
sock_ssl_error(const struct sock *s)
{
	return s->ssl_err;
}
