/*
 * guard.h - which destinations sluice refuses to dial on a client's behalf
 * (the SSRF guard): loopback, link-local, unspecified, multicast and
 * broadcast addresses, and the gateway's own addresses, unless a rule names
 * the address or the host explicitly.
 */
#ifndef SLUICE_GUARD_H
#define SLUICE_GUARD_H

#include <stddef.h>
#include <sys/socket.h>

struct rules_snapshot;

enum guard_class {
	GUARD_PUBLIC = 0,	/* none of the below: may be dialled */
	GUARD_LOOPBACK,		/* 127/8, ::1 */
	GUARD_LINKLOCAL,	/* 169.254/16, fe80::/10 */
	GUARD_UNSPECIFIED,	/* 0/8, :: */
	GUARD_MULTICAST,	/* 224/4, ff00::/8 */
	GUARD_BROADCAST,	/* 255.255.255.255 */
	GUARD_OWN,		/* an address of one of the gateway's interfaces */
};

/*
 * The class of sa's address by its prefix alone (a v4-mapped IPv6 address
 * is classified as the IPv4 address it carries).  Never GUARD_OWN.
 */
enum guard_class guard_classify(const struct sockaddr *sa);

/*
 * Whether sa's address belongs to one of this host's interfaces.  The list
 * comes from getifaddrs() and is refreshed when older than two seconds;
 * thread-safe.
 */
int guard_is_own(const struct sockaddr *sa);

/* Whether a and b carry the same address (ports ignored; v4-mapped = v4). */
int guard_same_addr(const struct sockaddr *a, const struct sockaddr *b);

/* "a loopback address", ... for messages. */
const char *guard_class_str(enum guard_class);

/*
 * Whether an enabled, non-deny rule of snap names ip (an address literal)
 * or name exactly (no wildcard) for port (a rule without a port matches
 * any).  name may be NULL or empty.
 */
int guard_exempt(const struct rules_snapshot *snap, const char *ip,
    const char *name, int port);

/*
 * The guard's decision for dialling sa on behalf of a connection for name
 * (SNI or CONNECT host, may be NULL).  0: allowed.  -1: refused, with why
 * set to a sentence such as "destination 127.0.0.1 is a loopback address".
 */
int guard_check(const struct sockaddr *sa, const struct rules_snapshot *snap,
    const char *name, char *why, size_t whysz);

#endif
