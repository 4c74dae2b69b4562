/*
 * dnslearn.h - learn address -> name from the DNS answers that cross the
 * gateway (libpcap), into an addrname table.
 */
#ifndef SLUICE_DNSLEARN_H
#define SLUICE_DNSLEARN_H

#include "addrname.h"

struct dnslearn;

/*
 * Open a live capture on each of the n interfaces (before dropping
 * privileges).  NULL after logging why.  The table is not owned.
 */
struct dnslearn *dnslearn_open(const char *const *ifaces, int n,
    struct addrname *table);

/* Start the capture thread. */
int dnslearn_start(struct dnslearn *);

/* Stop the thread (if started), close the captures, free. */
void dnslearn_free(struct dnslearn *);

/* Pure, for tests: learn from one captured frame of the given DLT. */
int dnslearn_frame(struct addrname *table, int dlt, const uint8_t *frame,
    size_t len, int64_t now_ms);

#endif
