/*
 * audit.h - the audit log: a bounded queue drained by one writer thread.
 *
 * Workers hand records to audit_submit(), which copies them and never waits
 * on SQLite.  The writer thread commits what is queued in one transaction
 * per batch, at least every 250 ms, into audit.db in WAL mode.
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
};

/*
 * Open (creating if missing) the audit database and start the writer thread.
 * capacity bounds the queue.  NULL after logging why.
 */
struct audit *audit_open(const char *path, unsigned capacity);

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

#endif
