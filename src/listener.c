/*
 * listener.c - listening sockets and original destinations.
 *
 * Sockets are created by main() before the workers start, so a bad address
 * fails start-up with one line; each worker then accepts on its own sockets.
 *
 * Two ways netfilter diverts a client to sluice, and so two ways to learn
 * where the client meant to go: REDIRECT (nat) rewrites the destination and
 * conntrack remembers the original (SO_ORIGINAL_DST); TPROXY (mangle) leaves
 * the packet alone and delivers it to a listener with IP_TRANSPARENT, whose
 * accepted sockets inherit the flag and carry the real destination as their
 * own local address.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "config.h"
#include "listener.h"
#include "log.h"
#include "util.h"

int
listener_bind(const struct sockaddr *sa, socklen_t len, int transparent)
{
	char name[64];
	int fd, on = 1, off = 0;

	util_addr_str(sa, name, sizeof(name));
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == -1)
		goto fail;
	/* On a dual-stack socket IPV6_TRANSPARENT covers IPv4 clients too. */
	if (transparent && (sa->sa_family == AF_INET6 ?
	    setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &on, sizeof(on)) :
	    setsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, sizeof(on))) == -1) {
		log_warn("listen %s: IP_TRANSPARENT (needs CAP_NET_ADMIN)",
		    name);
		close(fd);
		return -1;
	}
	if (bind(fd, sa, len) == -1 || listen(fd, 1024) == -1)
		goto fail;
	return fd;
fail:
	log_event(LOG_WARN, "listen_failed", "addr=%s err=%s", name,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

/* Whether fd was accepted on a --tproxy listener (the flag is inherited). */
static int
listener_is_transparent(int fd)
{
	socklen_t len = sizeof(int);
	int on = 0;

	if (getsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, &len) == 0 && on)
		return 1;
	len = sizeof(int);
	return getsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &on, &len) == 0 &&
	    on;
}

static int
listener_original_dst(int fd, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(struct sockaddr_in);
	if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, ss, len) == 0)
		return 0;
	*len = sizeof(struct sockaddr_in6);
	if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, ss, len) == 0)
		return 0;
	return -1;
}

int
listener_destination(const struct config *cfg, int fd,
    struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_storage local;
	socklen_t locallen = sizeof(local);
	int i, port;

	memset(ss, 0, sizeof(*ss));
	if (getsockname(fd, (struct sockaddr *)&local, &locallen) == -1)
		return -1;
	port = util_addr_port((struct sockaddr *)&local);
	if (listener_is_transparent(fd)) {
		/* Dialled straight at the --tproxy listener, not diverted. */
		for (i = 0; i < cfg->ntproxy; i++)
			if (util_addr_port((struct sockaddr *)
			    &cfg->tproxy[i].addr) == port)
				return -1;
		memcpy(ss, &local, locallen);
		*len = locallen;
		return 0;
	}
	if (listener_original_dst(fd, ss, len) == -1)
		return -1;
	/* A client that dialled us directly would make us dial ourselves. */
	if (util_addr_port((struct sockaddr *)ss) == port &&
	    *len == locallen && memcmp(ss, &local, locallen) == 0)
		return -1;
	return 0;
}
