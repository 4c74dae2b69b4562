/*
 * nfqueue.h - --nfqueue: a verdict for the first packet of every new flow.
 */
#ifndef SLUICE_NFQUEUE_H
#define SLUICE_NFQUEUE_H

#include <stdint.h>

#include "addrname.h"
#include "audit.h"
#include "config.h"
#include "flowaudit.h"
#include "rules.h"

enum nfqueue_verdict {
	NFQUEUE_INTERCEPT = 0,	/* accept, NETMARK_INTERCEPT: nat may redirect */
	NFQUEUE_DENY,		/* NETMARK_DENY (FORWARD rejects) or drop */
};

struct nfqueue;

/*
 * Bind queue cfg->nfqueue (needs CAP_NET_ADMIN).  The DNS answers queued
 * to it teach names (from cfg->dns_trust's resolvers, if any) into names,
 * which the verdicts read with the snapshots rules publishes (names and
 * rules are not owned and must outlive the nfqueue).  NULL after logging
 * one line saying why.
 */
struct nfqueue *nfqueue_open(const struct config *cfg, struct audit *audit,
    struct rules *rules, struct addrname *names);

/* Start the thread that gives the verdicts. */
int nfqueue_start(struct nfqueue *);

/*
 * Stop the thread (if started), unbind the queue, write the audit rows
 * still counted (before audit_close()), log the counters, free.
 */
void nfqueue_free(struct nfqueue *);

/*
 * Pure, for tests: parse an IPv4/IPv6 TCP/UDP packet (at least its
 * headers) into f.  0, or -1 if it is not one.
 */
int nfqueue_parse(const uint8_t *pkt, size_t len, struct flow *f);

/*
 * Pure, for tests: the verdict for a flow to addr (text) / name (NULL: not
 * known) and port, from snap (may be NULL: no rules).  *rule is the rule
 * that decided, or NULL for the default policy.
 */
enum nfqueue_verdict nfqueue_decide(const struct rules_snapshot *snap,
    int default_deny, const char *name, const char *addr, int port,
    const struct rule **rule);

#endif
