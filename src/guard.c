/*
 * guard.c - the SSRF guard: addresses sluice will not dial for a client.
 *
 * A client picks the destination (the original destination, the CONNECT
 * line, a name that sluice resolves), so without this a client on the LAN
 * could make the gateway connect to its own loopback services, to a
 * link-local metadata endpoint or to one of its own addresses.  This file
 * owns the classification of an address and the list of the gateway's own
 * addresses; intercept.c decides what to do with a refusal.
 *
 * The own-address list is shared by the workers behind one mutex.  It is
 * refreshed lazily, when a lookup finds it older than GUARD_OWN_TTL_MS: an
 * address added to an interface is guarded within that time, at the cost of
 * one getifaddrs() (a netlink dump) per period, not per connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "guard.h"
#include "log.h"
#include "rules.h"
#include "util.h"

#define GUARD_OWN_TTL_MS	2000.0

/* An address without port or scope: 4 or 16 bytes. */
struct guard_addr {
	int		family;
	uint8_t		b[16];
};

static pthread_mutex_t	  guard_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct guard_addr *guard_own;
static size_t		  guard_nown;
static double		  guard_own_at = -1e18;

/* sa's address, a v4-mapped IPv6 address as the IPv4 one.  -1: neither. */
static int
guard_addr_of(const struct sockaddr *sa, struct guard_addr *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	const uint8_t *b6;

	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		a->family = AF_INET;
		memcpy(a->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	b6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (memcmp(b6, mapped, sizeof(mapped)) == 0) {
		a->family = AF_INET;
		memcpy(a->b, b6 + 12, 4);
	} else {
		a->family = AF_INET6;
		memcpy(a->b, b6, 16);
	}
	return 0;
}

static enum guard_class
guard_classify_v4(const uint8_t *b)
{
	if (b[0] == 127)
		return GUARD_LOOPBACK;
	if (b[0] == 0)
		return GUARD_UNSPECIFIED;
	if (b[0] == 169 && b[1] == 254)
		return GUARD_LINKLOCAL;
	if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255)
		return GUARD_BROADCAST;
	if ((b[0] & 0xf0) == 224)
		return GUARD_MULTICAST;
	return GUARD_PUBLIC;
}

static enum guard_class
guard_classify_v6(const uint8_t *b)
{
	static const uint8_t zero[15];

	if (memcmp(b, zero, 15) == 0)
		return b[15] == 1 ? GUARD_LOOPBACK :
		    b[15] == 0 ? GUARD_UNSPECIFIED : GUARD_PUBLIC;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return GUARD_LINKLOCAL;
	if (b[0] == 0xff)
		return GUARD_MULTICAST;
	return GUARD_PUBLIC;
}

enum guard_class
guard_classify(const struct sockaddr *sa)
{
	struct guard_addr a;

	if (guard_addr_of(sa, &a) == -1)
		return GUARD_UNSPECIFIED;
	return a.family == AF_INET ? guard_classify_v4(a.b) :
	    guard_classify_v6(a.b);
}

int
guard_same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	struct guard_addr x, y;

	return guard_addr_of(a, &x) == 0 && guard_addr_of(b, &y) == 0 &&
	    x.family == y.family && memcmp(x.b, y.b, sizeof(x.b)) == 0;
}

const char *
guard_class_str(enum guard_class k)
{
	switch (k) {
	case GUARD_LOOPBACK: return "a loopback address";
	case GUARD_LINKLOCAL: return "a link-local address";
	case GUARD_UNSPECIFIED: return "an unspecified address";
	case GUARD_MULTICAST: return "a multicast address";
	case GUARD_BROADCAST: return "a broadcast address";
	case GUARD_OWN: return "an address of the gateway itself";
	case GUARD_PUBLIC: break;
	}
	return "an address that may be dialled";
}

/* Replace the own-address list with getifaddrs()'s.  Under guard_mtx. */
static void
guard_own_refresh(void)
{
	struct ifaddrs *ifa, *i;
	struct guard_addr *list;
	size_t n = 0;

	if (getifaddrs(&ifa) == -1) {
		log_event(LOG_WARN, "getifaddrs_failed", "err=%s",
		    strerror(errno));
		return;
	}
	for (i = ifa; i != NULL; i = i->ifa_next)
		n++;
	if ((list = calloc(n ? n : 1, sizeof(*list))) == NULL) {
		freeifaddrs(ifa);
		return;
	}
	n = 0;
	for (i = ifa; i != NULL; i = i->ifa_next)
		if (i->ifa_addr != NULL &&
		    guard_addr_of(i->ifa_addr, &list[n]) == 0)
			n++;
	freeifaddrs(ifa);
	free(guard_own);
	guard_own = list;
	guard_nown = n;
}

int
guard_is_own(const struct sockaddr *sa)
{
	struct guard_addr a;
	double now = util_mono_ms();
	size_t i;
	int own = 0;

	if (guard_addr_of(sa, &a) == -1)
		return 0;
	pthread_mutex_lock(&guard_mtx);
	if (now - guard_own_at >= GUARD_OWN_TTL_MS) {
		guard_own_refresh();
		guard_own_at = now;
	}
	for (i = 0; i < guard_nown && !own; i++)
		own = guard_own[i].family == a.family &&
		    memcmp(guard_own[i].b, a.b, sizeof(a.b)) == 0;
	pthread_mutex_unlock(&guard_mtx);
	return own;
}

int
guard_exempt(const struct rules_snapshot *snap, const char *ip,
    const char *name, int port)
{
	const struct rule *r;
	size_t i;

	if (snap == NULL)
		return 0;
	for (i = 0; i < snap->nrules; i++) {
		r = &snap->rules[i];
		if (r->action == RULE_DENY || (r->port != 0 && r->port != port))
			continue;
		if (strcasecmp(r->host, ip) == 0 ||
		    (name != NULL && name[0] != '\0' &&
		    strcasecmp(r->host, name) == 0))
			return 1;
	}
	return 0;
}

int
guard_check(const struct sockaddr *sa, const struct rules_snapshot *snap,
    const char *name, char *why, size_t whysz)
{
	enum guard_class k;
	char ip[64];

	k = guard_classify(sa);
	if (k == GUARD_PUBLIC && guard_is_own(sa))
		k = GUARD_OWN;
	if (k == GUARD_PUBLIC)
		return 0;
	util_addr_ip(sa, ip, sizeof(ip));
	if (guard_exempt(snap, ip, name, util_addr_port(sa)))
		return 0;
	snprintf(why, whysz, "destination %s is %s", ip, guard_class_str(k));
	return -1;
}
