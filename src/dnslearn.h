/*
 * dnslearn.h - learn address -> name from the DNS answers that cross the
 * gateway (libpcap), into an addrname table.
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
 * Pure, for tests: learn from one captured frame of the given DLT, if its
 * source is one of the ntrust addresses in trust (ntrust 0: any).  The
 * number of addresses learned.
 */
int dnslearn_frame(struct addrname *table, const struct config_addr *trust,
    int ntrust, int dlt, const uint8_t *frame, size_t len, int64_t now_ms);

#endif
