/*
 * flowaudit.h - audit rows for flows denied by --nfqueue, at most one per
 * client address and destination per window.
 */
#ifndef SLUICE_FLOWAUDIT_H
#define SLUICE_FLOWAUDIT_H

#include <stdint.h>

#include "audit.h"

/* A new flow as its first packet shows it. */
struct flow {
	int		 family;	/* AF_INET or AF_INET6 */
	int		 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t		 src[16];	/* network order; 4 bytes for AF_INET */
	uint8_t		 dst[16];
	uint16_t	 sport;		/* host order */
	uint16_t	 dport;
};

struct flowaudit;

/* slots bounds the clients+destinations remembered; window_ms the period. */
struct flowaudit *flowaudit_new(struct audit *, unsigned slots,
    int64_t window_ms);

/*
 * A denied flow (decision "denied" or "would_deny"; host and rule_id -1
 * may be NULL): a log line and a requests + connections row now, unless
 * the same client address had a row for the same destination within the
 * window, in which case it is only counted.  Returns 1 if a row was
 * submitted, 0 if counted.
 */
int flowaudit_deny(struct flowaudit *, const struct flow *, const char *host,
    int64_t rule_id, const char *decision, int64_t now_ms);

/*
 * Close the windows that ended by now_ms: each that counted flows becomes
 * one more row, whose connections.flows says how many it stands for.
 */
void flowaudit_sweep(struct flowaudit *, int64_t now_ms);

/* Close every window (rows for what was counted), free. */
void flowaudit_free(struct flowaudit *);

/* "ip:port" of a flow's source or destination, as audit rows show it. */
void flowaudit_addr_str(int family, const uint8_t *addr, uint16_t port,
    char *buf, size_t len);

#endif
