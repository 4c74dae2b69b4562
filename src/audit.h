/*
 * audit.h - the audit log: a bounded queue drained by one writer thread.
 *
 * Workers hand records to audit_submit() and audit_submit_conn(), which
 * copy them and never wait on SQLite.  The writer thread commits what is
 * queued in one transaction per batch, at least every 100 ms, into audit.db
 * in WAL mode; what cannot be written becomes a row in the gaps table.
 */
#ifndef SLUICE_AUDIT_H
#define SLUICE_AUDIT_H

#include <stdint.h>

struct audit;

/* What one request (or one passthrough connection) leaves behind. */
struct audit_record {
	int64_t		 ts_ms;		/* wall clock, ms since the epoch, at start */
	const char	*client;	/* "ip:port" */
	const char	*server;	/* original destination "ip:port" */
	const char	*sni;		/* NULL allowed for every const char * below */
	const char	*host;
	const char	*method;
	const char	*path;		/* with query, secrets already masked */
	int		 status;	/* 0: NULL */
	const char	*decision;	/* "forwarded", "denied", ... */
	int64_t		 rule_id;	/* -1: NULL */
	const char	*injected;
	int64_t		 req_bytes;	/* -1: NULL */
	int64_t		 resp_bytes;	/* -1: NULL */
	double		 duration_ms;
	const char	*error;
	int64_t		 conn_id;	/* audit_conn_id(); 0: NULL */
	const char	*limit_source;	/* shared limit: "redis"/"local"; NULL */
	const char	*client_proto;	/* "http/1.1", "http/1.0", "h2"; NULL:
					   no client leg (passthrough, ...) */
	const char	*upstream_proto; /* "http/1.1", "h2"; NULL: no leg */
	const char	*upgrade;	/* the protocol a 101 switched to,
					   lowercased ("websocket"); NULL:
					   not a tunnel */
};

/*
 * What one client connection leaves behind, submitted when it ends.  The
 * const char * fields may be NULL (-> NULL) except client and server.
 */
struct audit_conn_record {
	int64_t		 id;		/* from audit_conn_id() */
	int64_t		 started_ms;	/* wall clock, ms since the epoch */
	int64_t		 ended_ms;
	const char	*client;	/* "ip:port" */
	const char	*server;	/* original destination "ip:port" */
	const char	*sni;
	const char	*connect_host;
	const char	*tls_version;	/* client leg */
	const char	*cipher;
	const char	*alpn;
	const char	*upstream_tls_version;
	const char	*upstream_cipher;
	const char	*upstream_subject;
	const char	*upstream_issuer;
	const char	*verify_result;	/* "ok" or OpenSSL's reason */
	int64_t		 bytes_in;	/* -1: NULL */
	int64_t		 bytes_out;	/* -1: NULL */
	const char	*end_reason;
	const char	*proto;		/* --nfqueue flows: "tcp", "udp" */
	int		 port;		/* --nfqueue flows; 0: NULL */
	int64_t		 flows;		/* --nfqueue: flows this row stands for
					   (rate-limited); 0: NULL */
};

/*
 * Open (creating if missing, adding what an older version's file lacks) the
 * audit database and start the writer thread.  capacity bounds the queue;
 * retention_days > 0 makes the writer delete older rows.  NULL after
 * logging why.
 */
struct audit *audit_open(const char *path, unsigned capacity,
    int retention_days);

/*
 * A new connections.id, unique for this database and file: requests carry
 * it before their connection's row is written.
 */
int64_t audit_conn_id(struct audit *);

/* Like audit_submit(), for a connection's row. */
int audit_submit_conn(struct audit *, const struct audit_conn_record *rec);

#define AUDIT_GATEWAY_MAX	64	/* --gateway-name, bytes */

/*
 * The gateway column of every row from now on (the name is copied, cut at
 * AUDIT_GATEWAY_MAX).  Call it before any record is submitted: the writer
 * thread reads it without a lock, and the workers' first audit_submit()
 * (under the queue's mutex) is what publishes it to the writer.
 */
void audit_set_gateway(struct audit *, const char *name);

/* Close the database and open the configured path again (SIGHUP). */
void audit_reopen(struct audit *);

/*
 * Queue a copy of rec.  Never blocks on I/O; if the queue is full the record
 * is counted as dropped and -1 is returned (a warning is logged at most once
 * a second).
 */
int audit_submit(struct audit *, const struct audit_record *rec);

/* Write everything queued, stop the writer, close the database. */
void audit_close(struct audit *);

/*
 * Records that never reached the database: the queue was full, the record
 * lacked a required field, or the writer gave up on a batch it could not
 * commit.
 */
uint64_t audit_dropped(struct audit *);
/* Records committed to the database, and those waiting in the queue now. */
uint64_t audit_written(struct audit *);
unsigned audit_queued(struct audit *);

/* The longest write transaction so far, in ms (for tests and the log). */
double audit_max_txn_ms(struct audit *);

#endif
