/*
 * capture.h - --pcap: the decrypted client leg of intercepted connections
 * as a pcap file, written by one thread from a bounded queue.
 *
 * Named capture_, not pcap_: libpcap's own symbols take that prefix.
 *
 * A worker keeps one struct capture_conn per intercepted connection and
 * hands it the bytes the client sent and received inside TLS; it copies
 * them (masking injected secrets in what the client received) and queues
 * them, never touching the file.  The writer thread turns them into
 * synthetic TCP/IP packets: a three-way handshake before the first byte,
 * sequence and acknowledgement numbers that count every byte, FIN at the
 * end.  A full queue drops and counts (logged once a second).
 */
#ifndef SLUICE_CAPTURE_H
#define SLUICE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct capture;
struct capture_conn;
struct evbuffer;
struct rule;

/*
 * Create path (mode 0600; an existing non-empty file is first rotated to
 * path.1) and start the writer.  max_bytes > 0 rotates at that size;
 * queue_bytes bounds what may wait for the writer.  NULL after logging why.
 */
struct capture *capture_open(const char *path, uint64_t max_bytes,
    size_t queue_bytes);

/* Write everything queued, stop the writer, close the file. */
void capture_close(struct capture *);

/* Queued chunks that never reached the file. */
uint64_t capture_dropped(struct capture *);
/* Packets written to the file (all rotations), for /metrics. */
uint64_t capture_packets(struct capture *);

/*
 * One connection between client and server ("ip:port", "[v6]:port").  NULL
 * if an address does not parse or memory is short: that connection is then
 * not captured.
 */
struct capture_conn *capture_conn_new(struct capture *, const char *client,
    const char *server);

/*
 * The connection speaks HTTP/2 (said before sluice writes to it): what
 * sluice writes is re-encoded for the file (capture_h2.c), masked with the
 * secrets of every rule capture_rule() named on it.  -1 if memory is
 * short: the caller must not capture the connection.
 */
int capture_conn_h2(struct capture_conn *);

/*
 * An HTTP/2 stream of this connection answers for rule: its credentials
 * are masked in every frame written from now on.  cc may be NULL (the
 * connection is not captured); nothing to do for HTTP/1.
 */
void capture_rule(struct capture_conn *, const struct rule *);

/*
 * The last n bytes of buf are new: what the client sent (to_client = 0) or
 * what sluice wrote for it (1).  Bytes for the client are masked with '*'
 * wherever a credential of rule (NULL: none) appears, in its wire form or
 * its raw value, also across calls.  On an HTTP/2 connection rule is not
 * used: what sluice wrote is masked with what capture_rule() named.
 */
void capture_bytes(struct capture_conn *, int to_client, struct evbuffer *buf,
    size_t n, const struct rule *rule);

/*
 * Queue what is pending.  Unless whole, the last bytes for the client
 * stay back (a secret may continue in the next call); whole says the
 * response is complete.
 */
void capture_flush(struct capture_conn *, int whole);

/* Queue the rest and the FIN, and free the connection's state. */
void capture_conn_free(struct capture_conn *);

#endif
