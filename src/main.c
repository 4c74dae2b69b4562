/*
 * main.c - flags, start-up and shutdown.
 *
 * Start-up fails with one line and a non-zero exit on any bad flag or
 * unreadable file, before a socket is bound.  Signals are blocked in every
 * thread and taken by sigwait() here: SIGHUP reloads the rules and reopens
 * the audit database (after a rotation), SIGTERM and
 * SIGINT drain the workers, flush the audit log and exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "addrname.h"
#include "admin.h"
#include "audit.h"
#include "cache.h"
#include "capture.h"
#include "certforge.h"
#include "config.h"
#include "dnslearn.h"
#include "log.h"
#include "nfqueue.h"
#include "ratelimit.h"
#include "redistls.h"
#include "rules.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

#define MAIN_AUDIT_QUEUE	65536
#define MAIN_CERT_CACHE		4096
#define MAIN_RATE_BUCKETS	65536
#define MAIN_RULES_POLL_MS	500
#define MAIN_MALLOC_TRIM	(64 << 20)
#define MAIN_PCAP_QUEUE		((size_t)32 << 20)	/* bytes */
#define MAIN_ADDRNAMES		16384	/* addresses with a learned name */
#define MAIN_ADDRNAME_TTL_MAX	3600	/* s: caps a learned name's TTL */

static void main_file_error(const char *, const char *, int)
    __attribute__((noreturn));

static void __attribute__((noreturn, format(printf, 1, 2)))
main_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sluice: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see sluice --help)\n");
	exit(2);
}

static void
main_usage(void)
{
	printf("usage: sluice --rules FILE --audit FILE --ca-cert FILE "
	    "--ca-key FILE\n"
	    "              (--listen | --tproxy | --connect ADDR:PORT)... "
	    "[options]\n"
	    "  --tproxy ADDR:PORT           transparent listener for TPROXY "
	    "rules (repeatable)\n"
	    "  --audit-retention DAYS       delete audit rows older than this "
	    "(keep all)\n"
	    "  --upstream-ca FILE           trust store for upstreams "
	    "(default: system)\n"
	    "  --resolve HOST:PORT:ADDR     dial ADDR for HOST:PORT "
	    "(repeatable)\n"
	    "  --default-policy allow|deny  when no rule matches (deny)\n"
	    "  --report-only                deny nothing: forward and audit "
	    "would_deny\n"
	    "  --gateway-name NAME          this gateway in audit rows "
	    "(host name)\n"
	    "  --upstream-timeout SECONDS   connect/response head timeout (60)\n"
	    "  --stream-idle-timeout SECONDS  longest gap within a streaming "
	    "body (300)\n"
	    "  --drain-timeout SECONDS      shutdown grace period (10)\n"
	    "  --handshake-timeout SECONDS  client TLS handshake (10)\n"
	    "  --idle-timeout SECONDS       keep-alive idle / request head "
	    "(60)\n"
	    "  --upstream-idle-timeout SECONDS  an idle pooled upstream "
	    "connection is closed (30)\n"
	    "  --max-connections N          client connections in all "
	    "(4096)\n"
	    "  --workers N                  event-loop threads (CPUs)\n"
	    "  --cache-size MIB             memory for cached responses (64)\n"
	    "  --no-tls-resumption          full handshake for every client "
	    "connection\n"
	    "  --keylog FILE                TLS secrets, SSLKEYLOGFILE format\n"
	    "  --pcap FILE                  decrypted client traffic as pcap "
	    "(0600;\n"
	    "                               injected secrets masked)\n"
	    "  --pcap-max-mb N              rotate the pcap at N MiB (FILE.1 "
	    "... FILE.5)\n"
	    "  --pcap-filter HOST           capture only connections to HOST "
	    "(exact,\n"
	    "                               *.example.com or *, as in rules)\n"
	    "  --admin ADDR:PORT            /healthz /readyz /metrics /rules "
	    "over HTTP\n"
	    "  --admin-allow-remote         allow a non-loopback --admin "
	    "address\n"
	    "  --nfqueue NUM                a verdict for every new flow "
	    "queued to NUM\n"
	    "  --nfqueue-deny reject|drop   a denied flow: reset/unreachable "
	    "or dropped\n"
	    "                               (reject)\n"
	    "  --dns-capture IFACE          learn names from a capture of the "
	    "DNS answers\n"
	    "                               sent out of IFACE, not from the "
	    "queue: for\n"
	    "                               rulesets that do not queue them "
	    "(racy;\n"
	    "                               repeatable; needs --nfqueue)\n"
	    "  --dns-trust ADDR             learn only from answers sent by the "
	    "resolver\n"
	    "                               at ADDR (repeatable; default: any)\n"
	    "  --redis IP:PORT              Redis for limits shared by a "
	    "fleet (rate_limits.shared)\n"
	    "  --redis-password-file FILE   AUTH with the file's one line\n"
	    "  --redis-tls                  TLS to Redis, verified like "
	    "an upstream's\n"
	    "  --redis-sni NAME             the name Redis's certificate "
	    "carries (the address)\n"
	    "  --redis-prefix PREFIX        key prefix naming the rule set "
	    "(sluice:)\n"
	    "  --redis-timeout-ms MS        longest wait for a shared "
	    "decision (50)\n"
	    "  --fleet-size N               gateways sharing a limit: a "
	    "local bucket gets rate/N (1)\n"
	    "  --user NAME                  drop root after binding\n"
	    "  --log-level debug|info|warn  lowest level logged (info)\n"
	    "  --log-format text|json       one line per event, text or a "
	    "JSON object (text)\n"
	    "  --verbose                    the same as --log-level debug\n");
}

static int
main_int(const char *flag, const char *s, int min, int max)
{
	char *ep;
	long v;

	errno = 0;
	v = strtol(s, &ep, 10);
	if (*s == '\0' || *ep != '\0' || errno != 0 || v < min || v > max) {
		fprintf(stderr, "sluice: %s wants a number from %d to %d, "
		    "not '%s'\n", flag, min, max, s);
		exit(2);
	}
	return (int)v;
}

/* --dns-trust ADDR: a bare IPv4 or IPv6 address. */
static void
main_dns_trust(struct config *cfg, const char *s)
{
	struct config_addr *a = &cfg->dns_trust[cfg->ndns_trust];

	if (cfg->ndns_trust == CONFIG_MAX_DNS_TRUST)
		main_usage_error("too many --dns-trust flags");
	if (inet_pton(AF_INET, s, a->addr) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, s, a->addr) == 1)
		a->family = AF_INET6;
	else
		main_usage_error("--dns-trust wants an IPv4 or IPv6 address, "
		    "not '%s'", s);
	cfg->ndns_trust++;
}

static void
main_listen(struct config_listen *l, int *n, const char *flag, const char *s)
{
	if (*n >= CONFIG_MAX_LISTEN)
		main_usage_error("too many %s flags", flag);
	if (util_parse_addr(s, 0, &l[*n].addr, &l[*n].addrlen) == -1)
		main_usage_error("bad address '%s': want IP:PORT or [IPv6]:PORT",
		    s);
	(*n)++;
}

/* HOST:PORT:ADDR where ADDR may be IP, IP:PORT, [IPv6] or [IPv6]:PORT. */
static void
main_resolve(struct config *cfg, const char *s)
{
	struct config_resolve *r;
	const char *c1, *c2;
	char port[8];

	if (cfg->nresolve >= CONFIG_MAX_RESOLVE)
		main_usage_error("too many --resolve flags");
	r = &cfg->resolve[cfg->nresolve];
	if ((c1 = strchr(s, ':')) == NULL || (c2 = strchr(c1 + 1, ':')) == NULL
	    || c1 == s || (size_t)(c1 - s) >= sizeof(r->host) ||
	    (size_t)(c2 - c1 - 1) >= sizeof(port))
		main_usage_error("bad --resolve '%s': want HOST:PORT:ADDR", s);
	util_lowercase(r->host, sizeof(r->host), s, c1 - s);
	memcpy(port, c1 + 1, c2 - c1 - 1);
	port[c2 - c1 - 1] = '\0';
	r->port = main_int("--resolve port", port, 1, 65535);
	if (util_parse_addr(c2 + 1, r->port, &r->addr, &r->addrlen) == -1)
		main_usage_error("bad --resolve address in '%s'", s);
	cfg->nresolve++;
}

/*
 * An audit rows' gateway name: visible ASCII (no space or control byte,
 * which would garble the reader's columns or terminal), and short.
 */
static int
main_gateway_name_ok(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (s[n] <= ' ' || s[n] >= 0x7f)
			return 0;
	return n > 0 && n <= AUDIT_GATEWAY_MAX;
}

/* --gateway-name's default: the host name, if it makes a valid one. */
static void
main_gateway_default(struct config *cfg)
{
	static char host[256];

	if (gethostname(host, sizeof(host) - 1) == -1 ||
	    !main_gateway_name_ok(host)) {
		log_warnx("the host name is not a usable --gateway-name; audit "
		    "rows say 'sluice'");
		snprintf(host, sizeof(host), "sluice");
	}
	cfg->gateway_name = host;
}

/* --redis IP:PORT or [IPv6]:PORT: an address, so connecting never resolves. */
static void
main_redis(struct config *cfg, const char *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const void *ip;

	if (util_parse_addr(s, 6379, &ss, &len) == -1)
		main_usage_error("bad --redis address '%s': want IP:PORT or "
		    "[IPv6]:PORT", s);
	if (ss.ss_family == AF_INET) {
		ip = &((struct sockaddr_in *)&ss)->sin_addr;
		cfg->redis_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else {
		ip = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		cfg->redis_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	inet_ntop(ss.ss_family, ip, cfg->redis_host, sizeof(cfg->redis_host));
	cfg->has_redis = 1;
}

/*
 * A secret held in a file (one trailing newline dropped).  Its bytes go to
 * no log line; the error names the file only.
 */
static char *
main_read_secret(const char *flag, const char *path)
{
	char buf[1024], *secret;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		main_file_error(flag, path, errno);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		main_file_error(flag, path, errno);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0 || (size_t)n >= sizeof(buf) - 1 ||
	    memchr(buf, '\n', n) != NULL || memchr(buf, '\0', n) != NULL) {
		explicit_bzero(buf, sizeof(buf));
		fprintf(stderr, "sluice: %s %s: want one line of 1 to 1000 "
		    "bytes\n", flag, path);
		exit(1);
	}
	if ((secret = strndup(buf, n)) == NULL)
		fatal("%s", flag);
	explicit_bzero(buf, sizeof(buf));
	return secret;
}

/* The forms of rules.host: "*", "*.domain", or a name without '*'. */
static int
main_host_pattern_ok(const char *s)
{
	if (strcmp(s, "*") == 0)
		return 1;
	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	return *s != '\0' && strchr(s, '*') == NULL;
}

static void
main_parse(struct config *cfg, int argc, char **argv)
{
	enum {
		OPT_RULES = 256, OPT_AUDIT, OPT_CA_CERT, OPT_CA_KEY, OPT_LISTEN,
		OPT_CONNECT, OPT_UPSTREAM_CA, OPT_RESOLVE, OPT_POLICY,
		OPT_UP_TIMEOUT, OPT_DRAIN, OPT_HS_TIMEOUT, OPT_IDLE,
		OPT_UP_IDLE, OPT_MAXCONN, OPT_WORKERS, OPT_KEYLOG, OPT_USER, OPT_ADMIN,
		OPT_PCAP, OPT_NFQUEUE, OPT_VERBOSE, OPT_HELP, OPT_NO_RESUME,
		OPT_CACHE_SIZE, OPT_STREAM_IDLE, OPT_LOG_LEVEL, OPT_LOG_FORMAT,
		OPT_PCAP_MAX, OPT_PCAP_FILTER, OPT_AUDIT_RETENTION,
		OPT_ADMIN_REMOTE, OPT_REPORT_ONLY, OPT_NFQUEUE_DENY,
		OPT_DNS_CAPTURE, OPT_TPROXY, OPT_GATEWAY_NAME, OPT_REDIS,
		OPT_REDIS_PASS, OPT_REDIS_TLS, OPT_REDIS_SNI, OPT_REDIS_PREFIX,
		OPT_REDIS_TIMEOUT, OPT_FLEET, OPT_DNS_TRUST,
	};
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, OPT_RULES },
		{ "audit", required_argument, NULL, OPT_AUDIT },
		{ "audit-retention", required_argument, NULL,
		    OPT_AUDIT_RETENTION },
		{ "ca-cert", required_argument, NULL, OPT_CA_CERT },
		{ "ca-key", required_argument, NULL, OPT_CA_KEY },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "connect", required_argument, NULL, OPT_CONNECT },
		{ "tproxy", required_argument, NULL, OPT_TPROXY },
		{ "upstream-ca", required_argument, NULL, OPT_UPSTREAM_CA },
		{ "resolve", required_argument, NULL, OPT_RESOLVE },
		{ "default-policy", required_argument, NULL, OPT_POLICY },
		{ "report-only", no_argument, NULL, OPT_REPORT_ONLY },
		{ "gateway-name", required_argument, NULL, OPT_GATEWAY_NAME },
		{ "redis", required_argument, NULL, OPT_REDIS },
		{ "redis-password-file", required_argument, NULL,
		    OPT_REDIS_PASS },
		{ "redis-tls", no_argument, NULL, OPT_REDIS_TLS },
		{ "redis-sni", required_argument, NULL, OPT_REDIS_SNI },
		{ "redis-prefix", required_argument, NULL, OPT_REDIS_PREFIX },
		{ "redis-timeout-ms", required_argument, NULL,
		    OPT_REDIS_TIMEOUT },
		{ "fleet-size", required_argument, NULL, OPT_FLEET },
		{ "upstream-timeout", required_argument, NULL, OPT_UP_TIMEOUT },
		{ "stream-idle-timeout", required_argument, NULL,
		    OPT_STREAM_IDLE },
		{ "drain-timeout", required_argument, NULL, OPT_DRAIN },
		{ "handshake-timeout", required_argument, NULL, OPT_HS_TIMEOUT },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE },
		{ "upstream-idle-timeout", required_argument, NULL,
		    OPT_UP_IDLE },
		{ "max-connections", required_argument, NULL, OPT_MAXCONN },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "keylog", required_argument, NULL, OPT_KEYLOG },
		{ "user", required_argument, NULL, OPT_USER },
		{ "admin", required_argument, NULL, OPT_ADMIN },
		{ "admin-allow-remote", no_argument, NULL, OPT_ADMIN_REMOTE },
		{ "pcap", required_argument, NULL, OPT_PCAP },
		{ "pcap-max-mb", required_argument, NULL, OPT_PCAP_MAX },
		{ "pcap-filter", required_argument, NULL, OPT_PCAP_FILTER },
		{ "nfqueue", required_argument, NULL, OPT_NFQUEUE },
		{ "nfqueue-deny", required_argument, NULL, OPT_NFQUEUE_DENY },
		{ "dns-capture", required_argument, NULL, OPT_DNS_CAPTURE },
		{ "dns-trust", required_argument, NULL, OPT_DNS_TRUST },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "no-tls-resumption", no_argument, NULL, OPT_NO_RESUME },
		{ "cache-size", required_argument, NULL, OPT_CACHE_SIZE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *redis_pass = NULL;
	int ch;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	memset(cfg, 0, sizeof(*cfg));
	cfg->default_deny = 1;
	cfg->nfqueue = -1;
	cfg->workers = ncpu > 0 ? (int)ncpu : 1;
	cfg->upstream_timeout = 60;
	cfg->stream_idle_timeout = 300;
	cfg->drain_timeout = 10;
	cfg->handshake_timeout = 10;
	cfg->idle_timeout = 60;
	cfg->upstream_idle_timeout = 30;
	cfg->max_connections = 4096;
	cfg->tls_resumption = 1;
	cfg->cache_size = (size_t)64 << 20;
	cfg->log_level = LOG_INFO;
	cfg->log_format = LOG_TEXT;
	cfg->redis_prefix = "sluice:";
	cfg->redis_timeout_ms = 50;
	cfg->fleet_size = 1;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_RULES: cfg->rules_path = optarg; break;
		case OPT_AUDIT: cfg->audit_path = optarg; break;
		case OPT_AUDIT_RETENTION:
			cfg->audit_retention = main_int("--audit-retention "
			    "(days)", optarg, 1, 36500);
			break;
		case OPT_CA_CERT: cfg->ca_cert_path = optarg; break;
		case OPT_CA_KEY: cfg->ca_key_path = optarg; break;
		case OPT_LISTEN:
			main_listen(cfg->listen, &cfg->nlisten, "--listen",
			    optarg);
			break;
		case OPT_CONNECT:
			main_listen(cfg->connect, &cfg->nconnect, "--connect",
			    optarg);
			break;
		case OPT_TPROXY:
			main_listen(cfg->tproxy, &cfg->ntproxy, "--tproxy",
			    optarg);
			break;
		case OPT_UPSTREAM_CA: cfg->upstream_ca_path = optarg; break;
		case OPT_RESOLVE: main_resolve(cfg, optarg); break;
		case OPT_POLICY:
			if (strcmp(optarg, "allow") == 0)
				cfg->default_deny = 0;
			else if (strcmp(optarg, "deny") == 0)
				cfg->default_deny = 1;
			else
				main_usage_error("--default-policy wants allow "
				    "or deny, not '%s'", optarg);
			break;
		case OPT_REPORT_ONLY: cfg->report_only = 1; break;
		case OPT_GATEWAY_NAME:
			if (!main_gateway_name_ok(optarg))
				main_usage_error("--gateway-name wants 1 to %d "
				    "printable ASCII characters without spaces",
				    AUDIT_GATEWAY_MAX);
			cfg->gateway_name = optarg;
			break;
		case OPT_REDIS: main_redis(cfg, optarg); break;
		case OPT_REDIS_PASS: redis_pass = optarg; break;
		case OPT_REDIS_TLS: cfg->redis_tls = 1; break;
		case OPT_REDIS_SNI:
			if (*optarg == '\0' || strlen(optarg) > 253 ||
			    strpbrk(optarg, " \t\r\n/") != NULL)
				main_usage_error("bad --redis-sni '%s': want "
				    "a host name or IP", optarg);
			cfg->redis_sni = optarg;
			break;
		case OPT_REDIS_PREFIX:
			if (*optarg == '\0' || strlen(optarg) > 64 ||
			    strpbrk(optarg, " \t\r\n") != NULL)
				main_usage_error("--redis-prefix wants 1 to 64 "
				    "characters without spaces");
			cfg->redis_prefix = optarg;
			break;
		case OPT_REDIS_TIMEOUT:
			cfg->redis_timeout_ms = main_int("--redis-timeout-ms",
			    optarg, 1, 10000);
			break;
		case OPT_FLEET:
			cfg->fleet_size = main_int("--fleet-size", optarg, 1,
			    1000);
			break;
		case OPT_UP_TIMEOUT:
			cfg->upstream_timeout = main_int("--upstream-timeout",
			    optarg, 1, 86400);
			break;
		case OPT_STREAM_IDLE:
			cfg->stream_idle_timeout = main_int(
			    "--stream-idle-timeout", optarg, 1, 86400);
			break;
		case OPT_DRAIN:
			cfg->drain_timeout = main_int("--drain-timeout", optarg,
			    0, 86400);
			break;
		case OPT_HS_TIMEOUT:
			cfg->handshake_timeout = main_int("--handshake-timeout",
			    optarg, 1, 3600);
			break;
		case OPT_IDLE:
			cfg->idle_timeout = main_int("--idle-timeout", optarg,
			    1, 86400);
			break;
		case OPT_UP_IDLE:
			cfg->upstream_idle_timeout = main_int(
			    "--upstream-idle-timeout", optarg, 1, 3600);
			break;
		case OPT_MAXCONN:
			cfg->max_connections = main_int("--max-connections",
			    optarg, 1, 1000000);
			break;
		case OPT_WORKERS:
			cfg->workers = main_int("--workers", optarg, 1, 256);
			break;
		case OPT_KEYLOG: cfg->keylog_path = optarg; break;
		case OPT_USER: cfg->user = optarg; break;
		case OPT_PCAP: cfg->pcap_path = optarg; break;
		case OPT_PCAP_MAX:
			cfg->pcap_max_bytes = (uint64_t)main_int(
			    "--pcap-max-mb", optarg, 1, 1048576) << 20;
			break;
		case OPT_PCAP_FILTER:
			if (!main_host_pattern_ok(optarg))
				main_usage_error("--pcap-filter wants a host, "
				    "*.domain or *, not '%s'", optarg);
			cfg->pcap_filter = optarg;
			break;
		case OPT_ADMIN:
			if (util_parse_addr(optarg, 0, &cfg->admin.addr,
			    &cfg->admin.addrlen) == -1)
				main_usage_error("bad --admin address '%s': want "
				    "IP:PORT or [IPv6]:PORT", optarg);
			cfg->has_admin = 1;
			break;
		case OPT_ADMIN_REMOTE: cfg->admin_allow_remote = 1; break;
		case OPT_NFQUEUE:
			cfg->nfqueue = main_int("--nfqueue", optarg, 0, 65535);
			break;
		case OPT_NFQUEUE_DENY:
			if (strcmp(optarg, "reject") == 0)
				cfg->nfqueue_drop = 0;
			else if (strcmp(optarg, "drop") == 0)
				cfg->nfqueue_drop = 1;
			else
				main_usage_error("--nfqueue-deny wants reject or "
				    "drop, not '%s'", optarg);
			break;
		case OPT_DNS_CAPTURE:
			if (cfg->ndns_capture == CONFIG_MAX_DNS_CAPTURE)
				main_usage_error("too many --dns-capture flags");
			if (*optarg == '\0')
				main_usage_error("--dns-capture wants an "
				    "interface name");
			cfg->dns_capture[cfg->ndns_capture++] = optarg;
			break;
		case OPT_DNS_TRUST:
			main_dns_trust(cfg, optarg);
			break;
		case OPT_VERBOSE: cfg->log_level = LOG_DEBUG; break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(optarg, &cfg->log_level) == -1)
				main_usage_error("--log-level wants debug, info "
				    "or warn, not '%s'", optarg);
			break;
		case OPT_LOG_FORMAT:
			if (log_format_parse(optarg, &cfg->log_format) == -1)
				main_usage_error("--log-format wants text or "
				    "json, not '%s'", optarg);
			break;
		case OPT_NO_RESUME: cfg->tls_resumption = 0; break;
		case OPT_CACHE_SIZE:
			cfg->cache_size = (size_t)main_int("--cache-size (MiB)",
			    optarg, 1, 65536) << 20;
			break;
		case OPT_HELP:
			main_usage();
			exit(0);
		default:
			main_usage_error("unknown or incomplete flag '%s'",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		main_usage_error("unexpected argument '%s'", argv[optind]);
	if (cfg->rules_path == NULL)
		main_usage_error("%s is required", "--rules");
	if (cfg->audit_path == NULL)
		main_usage_error("%s is required", "--audit");
	if (cfg->ca_cert_path == NULL)
		main_usage_error("%s is required", "--ca-cert");
	if (cfg->ca_key_path == NULL)
		main_usage_error("%s is required", "--ca-key");
	if (cfg->nlisten + cfg->nconnect + cfg->ntproxy == 0)
		main_usage_error("%s", "at least one --listen, --tproxy or "
		    "--connect is required");
	if (cfg->gateway_name == NULL)
		main_gateway_default(cfg);
	if (cfg->admin_allow_remote && !cfg->has_admin)
		main_usage_error("--admin-allow-remote needs --admin");
	if (cfg->has_admin && !cfg->admin_allow_remote &&
	    !admin_addr_is_loopback((struct sockaddr *)&cfg->admin.addr))
		main_usage_error("--admin is not a loopback address; add "
		    "--admin-allow-remote to serve it to the network");
	if (cfg->ndns_capture > 0 && cfg->nfqueue < 0)
		main_usage_error("--dns-capture needs --nfqueue");
	if (cfg->ndns_trust > 0 && cfg->nfqueue < 0)
		main_usage_error("--dns-trust needs --nfqueue");
	/* Verdicts are netlink messages: the kernel checks the sender's caps. */
	if (cfg->nfqueue >= 0 && cfg->user != NULL)
		main_usage_error("--nfqueue needs CAP_NET_ADMIN, which --user "
		    "drops (run as a user that keeps it)");
	if (cfg->redis_tls && !cfg->has_redis)
		main_usage_error("--redis-tls needs --redis");
	if (cfg->redis_sni != NULL && !cfg->redis_tls)
		main_usage_error("--redis-sni needs --redis-tls");
	if (redis_pass != NULL) {
		if (!cfg->has_redis)
			main_usage_error("--redis-password-file needs --redis");
		cfg->redis_password = main_read_secret("--redis-password-file",
		    redis_pass);
	}
	if ((cfg->pcap_max_bytes > 0 || cfg->pcap_filter != NULL) &&
	    cfg->pcap_path == NULL)
		main_usage_error("%s needs --pcap", cfg->pcap_max_bytes > 0 ?
		    "--pcap-max-mb" : "--pcap-filter");
}

static void __attribute__((noreturn))
main_file_error(const char *flag, const char *path, int err)
{
	fprintf(stderr, "sluice: %s %s: %s\n", flag, path, strerror(err));
	exit(1);
}

/*
 * A file sluice reads: it must open, and not be a directory (which root
 * opens too, so "unreadable" for root means missing, a directory, or a path
 * through something that is not one).
 */
static void
main_check_read(const char *flag, const char *path)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		main_file_error(flag, path, errno);
	if (fstat(fd, &st) == -1)
		main_file_error(flag, path, errno);
	close(fd);
	if (S_ISDIR(st.st_mode))
		main_file_error(flag, path, EISDIR);
}

/*
 * A file sluice creates if it is missing: if it exists it must open with
 * mode, else its directory must take a new file.  Nothing is created here,
 * so a later error leaves no empty file behind.
 */
static void
main_check_create(const char *flag, const char *path, int mode)
{
	struct stat st;
	char *dir, *slash;
	int fd;

	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			main_file_error(flag, path, EISDIR);
		if ((fd = open(path, mode | O_CLOEXEC)) == -1)
			main_file_error(flag, path, errno);
		close(fd);
		return;
	}
	if (errno != ENOENT)
		main_file_error(flag, path, errno);
	if ((dir = strdup(path)) == NULL)
		fatal("%s", flag);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, strlen(dir) + 1, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) == -1)
		main_file_error(flag, path, errno);
	if (!S_ISDIR(st.st_mode))
		main_file_error(flag, path, ENOTDIR);
	if (access(dir, W_OK | X_OK) == -1)
		main_file_error(flag, path, errno);
	free(dir);
}

/* Every file a flag names, before anything is created or bound. */
static void
main_check_files(const struct config *cfg)
{
	main_check_read("--ca-cert", cfg->ca_cert_path);
	main_check_read("--ca-key", cfg->ca_key_path);
	if (cfg->upstream_ca_path != NULL)
		main_check_read("--upstream-ca", cfg->upstream_ca_path);
	/* An up-to-date rules database is only read. */
	main_check_create("--rules", cfg->rules_path, O_RDONLY);
	main_check_create("--audit", cfg->audit_path, O_RDWR);
	if (cfg->keylog_path != NULL)
		main_check_create("--keylog", cfg->keylog_path, O_WRONLY);
	if (cfg->pcap_path != NULL)
		main_check_create("--pcap", cfg->pcap_path, O_WRONLY);
}

static void
main_drop_privileges(const char *user)
{
	struct passwd *pw;

	if ((pw = getpwnam(user)) == NULL)
		fatalx("unknown user '%s'", user);
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1)
		fatal("cannot become user '%s'", user);
}

static int
main_wait(struct sluice *sl)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_event(LOG_INFO, "sighup", "action=%s",
			    "reload rules, reopen audit");
			rules_reload(sl->rules);
			audit_reopen(sl->audit);
			continue;
		}
		return sig;
	}
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct sluice sl;
	struct worker *ws;
	struct admin *admin = NULL;
	struct addrname *names = NULL;
	struct dnslearn *dnslearn = NULL;
	struct nfqueue *nfqueue = NULL;
	sigset_t set;
	int i, sig;

	main_parse(&cfg, argc, argv);
	main_check_files(&cfg);
	log_init(cfg.log_level, cfg.log_format);

	/*
	 * Record-sized buffers (evbuffer chains, TLS records) are freed and
	 * allocated again for every 16 KiB relayed; glibc would hand each
	 * freed heap top back to the kernel (madvise) and fault it in again.
	 * Keeping up to this much free memory costs less than that churn.
	 */
	mallopt(M_TRIM_THRESHOLD, MAIN_MALLOC_TRIM);
	/*
	 * Before any SQLite call: its allocator then keeps no statistics and
	 * takes no global mutex per allocation (nothing reads them; ~350
	 * instructions per audit row).
	 */
	if ((i = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0)) != SQLITE_OK)
		log_event(LOG_WARN, "sqlite_config_failed", "err=%s",
		    sqlite3_errstr(i));

	/* Every thread inherits this mask; main takes signals with sigwait. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	memset(&sl, 0, sizeof(sl));
	sl.cfg = &cfg;
	if ((sl.certforge = certforge_new(cfg.ca_cert_path, cfg.ca_key_path,
	    MAIN_CERT_CACHE)) == NULL)
		exit(1);
	if ((sl.client_ctx = tls_client_ctx_new(sl.certforge,
	    cfg.keylog_path, cfg.tls_resumption)) == NULL ||
	    (sl.upstream_ctx = tls_upstream_ctx_new(cfg.upstream_ca_path,
	    cfg.keylog_path)) == NULL)
		exit(1);
	redistls_set_ctx(sl.upstream_ctx);
	if (rules_db_init(cfg.rules_path) == -1 || (sl.rules =
	    rules_start(cfg.rules_path, MAIN_RULES_POLL_MS)) == NULL)
		exit(1);
	if ((sl.audit = audit_open(cfg.audit_path, MAIN_AUDIT_QUEUE,
	    cfg.audit_retention)) == NULL)
		exit(1);
	audit_set_gateway(sl.audit, cfg.gateway_name);
	if (cfg.pcap_path != NULL && (sl.capture = capture_open(cfg.pcap_path,
	    cfg.pcap_max_bytes, MAIN_PCAP_QUEUE)) == NULL)
		exit(1);
	if ((sl.ratelimit = ratelimit_new(MAIN_RATE_BUCKETS)) == NULL)
		exit(1);
	if ((sl.cache = cache_new(cfg.cache_size)) == NULL)
		fatalx("cannot allocate the response cache");
	if ((ws = worker_create_all(&sl, cfg.workers)) == NULL)
		exit(1);
	/* --nfqueue learns names from the DNS answers it is given. */
	if (cfg.nfqueue >= 0 && (names = addrname_new(MAIN_ADDRNAMES,
	    MAIN_ADDRNAME_TTL_MAX)) == NULL)
		fatalx("cannot allocate the table of learned names");
	if (cfg.ndns_capture > 0 && (dnslearn = dnslearn_open(cfg.dns_capture,
	    cfg.ndns_capture, cfg.dns_trust, cfg.ndns_trust, names)) == NULL)
		exit(1);
	if (cfg.nfqueue >= 0 &&
	    (nfqueue = nfqueue_open(&cfg, sl.audit, sl.rules,
	    names)) == NULL)
		exit(1);
	if (cfg.has_admin && ((admin = admin_new(&sl, ws, cfg.workers,
	    (struct sockaddr *)&cfg.admin.addr, cfg.admin.addrlen)) == NULL ||
	    admin_start(admin) == -1))
		exit(1);
	if (cfg.user != NULL)
		main_drop_privileges(cfg.user);
	for (i = 0; i < cfg.workers; i++)
		if (worker_start(&ws[i]) == -1)
			fatalx("cannot start worker threads");
	if ((dnslearn != NULL && dnslearn_start(dnslearn) == -1) ||
	    (nfqueue != NULL && nfqueue_start(nfqueue) == -1))
		exit(1);
	admin_set_ready(admin);
	log_event(LOG_INFO, "ready", "listeners=%d workers=%d "
	    "default_policy=%s", cfg.nlisten + cfg.ntproxy + cfg.nconnect,
	    cfg.workers, cfg.default_deny ? "deny" : "allow");

	sig = main_wait(&sl);
	log_event(LOG_INFO, "draining", "signal=%s timeout_s=%d",
	    strsignal(sig), cfg.drain_timeout);
	admin_set_draining(admin);
	for (i = 0; i < cfg.workers; i++)
		worker_stop(&ws[i]);
	worker_join_all(ws, cfg.workers);
	/* After the drain, which /healthz reports; before the counters go. */
	admin_free(admin);
	free(ws);
	/* Before the audit closes: it writes the flows it still counts. */
	nfqueue_free(nfqueue);
	dnslearn_free(dnslearn);
	addrname_free(names);
	audit_close(sl.audit);
	/* After the workers: the connections they closed queued their FINs. */
	capture_close(sl.capture);
	ratelimit_free(sl.ratelimit);
	/* The workers, which AUTH with it, are gone. */
	if (cfg.redis_password != NULL) {
		explicit_bzero(cfg.redis_password, strlen(cfg.redis_password));
		free(cfg.redis_password);
	}
	cache_free(sl.cache);
	rules_stop(sl.rules);
	SSL_CTX_free(sl.client_ctx);
	SSL_CTX_free(sl.upstream_ctx);
	certforge_free(sl.certforge);
	tls_keylog_close();
	log_event(LOG_INFO, "stopped", "workers=%d", cfg.workers);
	return 0;
}
