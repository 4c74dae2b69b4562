/*
 * netmark.h - the packet marks that sluice and tools/sluice-netfilter share.
 *
 * Every mark sluice sets or reads lives under NETMARK_MASK, and every rule
 * the tool installs matches with that mask, so an operator's own marks in
 * other bits pass through untouched.
 */
#ifndef SLUICE_NETMARK_H
#define SLUICE_NETMARK_H

#define NETMARK_MASK		0x1f00u

/* SO_MARK on sluice's own upstream sockets: never intercepted, never queued. */
#define NETMARK_UPSTREAM	0x0100u

/* --nfqueue verdicts, carried to the rest of the flow by CONNMARK. */
#define NETMARK_INTERCEPT	0x0200u	/* redirected (or TPROXYed) to sluice */
#define NETMARK_DENY		0x0400u	/* rejected in FORWARD: RST / ICMP */

/* Policy routing of TPROXYed packets to the local stack (ip rule fwmark). */
#define NETMARK_TPROXY		0x1000u

#endif
