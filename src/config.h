/*
 * config.h - the daemon's settings, filled once by main.c from the command
 * line and read-only afterwards (shared by every thread without locking).
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdint.h>
#include <sys/socket.h>

#include "log.h"

#define CONFIG_MAX_LISTEN	16
#define CONFIG_MAX_RESOLVE	64
#define CONFIG_MAX_DNS_CAPTURE	16
#define CONFIG_MAX_DNS_TRUST	16
#define CONFIG_HOST_MAX		256	/* a DNS name (253) plus NUL, rounded */

struct config_resolve {
	char			 host[CONFIG_HOST_MAX];	/* lowercased */
	int			 port;
	struct sockaddr_storage	 addr;		/* port already set */
	socklen_t		 addrlen;
};

/* A bare IPv4 or IPv6 address (--dns-trust). */
struct config_addr {
	int			 family;	/* AF_INET or AF_INET6 */
	uint8_t			 addr[16];	/* network order */
};

struct config_listen {
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
};

struct config {
	const char		*rules_path;
	const char		*audit_path;
	int			 audit_retention;	/* days; 0: keep all */
	const char		*ca_cert_path;
	const char		*ca_key_path;
	const char		*upstream_ca_path;	/* NULL: system store */
	const char		*keylog_path;		/* NULL: off */
	const char		*pcap_path;		/* NULL: off */
	const char		*pcap_filter;		/* a rules.host pattern; NULL: all */
	const char		*user;			/* NULL: stay */
	const char		*gateway_name;		/* audit rows' gateway */

	struct config_listen	 listen[CONFIG_MAX_LISTEN];	/* transparent */
	int			 nlisten;
	struct config_listen	 connect[CONFIG_MAX_LISTEN];	/* CONNECT proxy */
	int			 nconnect;
	struct config_listen	 tproxy[CONFIG_MAX_LISTEN];	/* IP_TRANSPARENT */
	int			 ntproxy;
	struct config_listen	 admin;		/* valid when has_admin */
	int			 has_admin;
	int			 admin_allow_remote;
	struct config_resolve	 resolve[CONFIG_MAX_RESOLVE];
	int			 nresolve;

	int			 nfqueue;		/* --nfqueue NUM; -1: off */
	int			 nfqueue_drop;		/* deny: drop, not reject */
	const char		*dns_capture[CONFIG_MAX_DNS_CAPTURE];
	int			 ndns_capture;		/* interfaces */
	/* --redis: limits shared by a fleet (rate_limits.shared = 1) */
	int			 has_redis;
	char			 redis_host[64];	/* the IP, as hiredis wants */
	int			 redis_port;
	char			*redis_password;	/* from the file; NULL: none */
	int			 redis_tls;		/* through redistls.c */
	const char		*redis_sni;		/* NULL: the address */
	const char		*redis_prefix;		/* key prefix */
	int			 redis_timeout_ms;	/* per decision */
	int			 fleet_size;		/* local share: rate / this */
	struct config_addr	 dns_trust[CONFIG_MAX_DNS_TRUST];
	int			 ndns_trust;		/* 0: learn from any */

	int			 default_deny;
	int			 report_only;		/* deny becomes would_deny */
	int			 workers;
	int			 upstream_timeout;	/* seconds */
	int			 stream_idle_timeout;	/* seconds */
	int			 drain_timeout;		/* seconds */
	int			 handshake_timeout;	/* seconds */
	int			 idle_timeout;		/* seconds */
	int			 upstream_idle_timeout;	/* seconds, pooled */
	int			 max_connections;	/* in all, across workers */
	int			 tls_resumption;	/* session cache and tickets */
	size_t			 cache_size;		/* bytes of cached responses */
	enum log_level		 log_level;
	enum log_format		 log_format;
	uint64_t		 pcap_max_bytes;	/* 0: never rotate */
};

#endif
