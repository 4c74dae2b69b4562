/*
 * sock.h - one connection's socket, with or without TLS, driven by one
 * edge-triggered event; its input and output are evbuffers.
 */
#ifndef SLUICE_SOCK_H
#define SLUICE_SOCK_H

#include <stddef.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

struct event_base;
struct evbuffer;
struct sock;

/* Default read high-water mark: reading stops when the input holds this. */
#define SOCK_READ_HIGH	(256 * 1024)

enum sock_tls_role {
	SOCK_TLS_ACCEPT,	/* sluice is the TLS server (the client leg) */
	SOCK_TLS_CONNECT,	/* sluice is the TLS client (the upstream leg) */
};

/* Bits of the eventcb's what. */
#define SOCK_EV_CONNECTED	0x01	/* TCP connect and TLS handshake done */
#define SOCK_EV_EOF		0x02	/* the peer closed: sock_close_kind() */
#define SOCK_EV_ERROR		0x04	/* sock_errno() / sock_ssl_error() */
#define SOCK_EV_CONNECTING	0x10	/* with EOF/ERROR: TCP never connected */
#define SOCK_EV_HANDSHAKE	0x20	/* with EOF/ERROR: during the handshake */

/* How the peer ended the connection (SOCK_EV_EOF). */
enum sock_close {
	SOCK_CLOSE_NONE,	/* not closed (yet) */
	SOCK_CLOSE_NOTIFY,	/* TLS close_notify: the stream is whole */
	SOCK_CLOSE_FIN,		/* a FIN; on TLS without close_notify (dirty) */
	SOCK_CLOSE_RESET,	/* a reset (ECONNRESET, EPIPE) */
};

typedef void sock_data_cb(struct sock *, void *arg);
typedef void sock_event_cb(struct sock *, short what, void *arg);

/*
 * Take fd (non-blocking, made so here) and close it in sock_free().
 * sock_new_tls also takes ssl: the handshake starts at once on a connected
 * fd, or once sock_connect()'s connect has finished.  NULL on failure, in
 * which case fd and ssl are still the caller's.
 */
struct sock *sock_new_plain(struct event_base *, int fd);
struct sock *sock_new_tls(struct event_base *, int fd, SSL *,
    enum sock_tls_role);

/*
 * Start a non-blocking connect on a sock made on an unconnected fd.  The
 * outcome comes through the eventcb (SOCK_EV_CONNECTED, or SOCK_EV_ERROR |
 * SOCK_EV_CONNECTING with sock_errno() saying why); output written before
 * then is held, and on TLS held until the handshake (and so the
 * verification) has finished.  -1 only if the sock is not new.
 */
int sock_connect(struct sock *, const struct sockaddr *, socklen_t);

/*
 * Callbacks run from the event loop, never from inside a sock_* or
 * evbuffer call the user made: readcb when input grew, writecb when output
 * drained to the low-water mark, eventcb last.  Any of them may free the
 * sock.
 */
void sock_setcb(struct sock *, sock_data_cb *readcb, sock_data_cb *writecb,
    sock_event_cb *eventcb, void *arg);

/* read_high 0: no limit.  write_low: writecb when output <= it. */
void sock_set_watermarks(struct sock *, size_t read_high, size_t write_low);

struct evbuffer *sock_input(struct sock *);
struct evbuffer *sock_output(struct sock *);

/* Reading on or off (backpressure); nothing read meanwhile is lost. */
void sock_set_read(struct sock *, int on);

/* Write what the output holds now, not at the end of the callback. */
void sock_flush(struct sock *);

/*
 * Once the output is written: close_notify (TLS, if the handshake
 * finished and no error came) and a FIN.  Reading goes on.
 */
void sock_shutdown(struct sock *);

/* Close with a reset (SO_LINGER 0) at sock_free(), discarding output. */
void sock_reset_on_free(struct sock *);

/*
 * The output carries secrets (injected credentials): every byte is
 * overwritten once written, and what is left at sock_free(), before the
 * memory goes back to the allocator.  TLS socks only.
 */
void sock_set_wipe(struct sock *);

/* Closes fd, frees SSL and the buffers; safe inside the sock's callbacks. */
void sock_free(struct sock *);

/*
 * Free a plain sock but keep its fd, which is returned (the caller closes
 * it); -1, with the sock untouched, unless sock_can_release(): it is
 * connected, with nothing buffered either way and no end seen.  For relays
 * that move bytes in the kernel (splice).
 */
int sock_release(struct sock *);
int sock_can_release(const struct sock *);

int sock_fd(const struct sock *);
SSL *sock_ssl(const struct sock *);		/* NULL on a plain sock */
int sock_is_connected(const struct sock *);	/* CONNECTED came */
enum sock_close sock_close_kind(const struct sock *);
int sock_errno(const struct sock *);		/* 0: none */
unsigned long sock_ssl_error(const struct sock *); /* 0: none */

#endif
