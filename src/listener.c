/*
 * listener.c - listening sockets and original destinations.
 *
 * Sockets are created by main() before the workers start, so a bad address
 * fails start-up with one line; each worker then accepts on its own sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "listener.h"
#include "log.h"
#include "util.h"

int
listener_bind(const struct sockaddr *sa, socklen_t len)
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

int
listener_original_dst(int fd, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(struct sockaddr_in);
	memset(ss, 0, sizeof(*ss));
	if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, ss, len) == 0)
		return 0;
	*len = sizeof(struct sockaddr_in6);
	if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, ss, len) == 0)
		return 0;
	return -1;
}
