/*
 * dnslearn.h - learn address -> name from the DNS answers that cross the
 * gateway, into an addrname table: from the packets nfqueue.c holds, or
 * from a libpcap capture (--dns-capture).
 */
#ifndef SLUICE_DNSLEARN_H
#define SLUICE_DNSLEARN_H

#include "addrname.h"
#include "config.h"

struct dnslearn;

/*
 * Open a live capture on each of the n interfaces (before dropping
 * privileges), learning only from answers sent by one of the ntrust
 * resolvers in trust (ntrust 0: from any, with a warning).  NULL after
 * logging why.  The table and trust are not owned.
 */
struct dnslearn *dnslearn_open(const char *const *ifaces, int n,
    const struct config_addr *trust, int ntrust, struct addrname *table);

/* Start the capture thread. */
int dnslearn_start(struct dnslearn *);

/* Stop the thread (if started), close the captures, free. */
void dnslearn_free(struct dnslearn *);

/*
 * Pure: learn from one IP packet (IPv4 or IPv6, UDP or TCP, from its IP
 * header on) if it is a DNS answer whose source is one of the ntrust
 * addresses in trust (ntrust 0: any).  The number of addresses learned.
 * No allocation: nfqueue.c calls it for every answer it holds.
 */
int dnslearn_packet(struct addrname *table, const struct config_addr *trust,
    int ntrust, const uint8_t *ip, size_t len, int64_t now_ms);

/*
 * Pure, for tests: learn from one captured frame of the given DLT, if its
 * source is one of the ntrust addresses in trust (ntrust 0: any).  The
 * number of addresses learned.
 */
int dnslearn_frame(struct addrname *table, const struct config_addr *trust,
    int ntrust, int dlt, const uint8_t *frame, size_t len, int64_t now_ms);

#endif
