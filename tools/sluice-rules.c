/*
 * sluice-rules.c - one rules database for a fleet of gateways.
 *
 *   sluice-rules snapshot MASTER.db OUT
 *   sluice-rules install SNAPSHOT|- PATH
 *   sluice-rules push [--ssh CMD] [--remote CMD] MASTER.db DEST...
 *   sluice-rules status [--ssh CMD] [--remote CMD] [--admin URL] DEST ...
 *
 * Operators edit one master database with sqlite3; push makes one snapshot
 * of it and installs that on every DEST: a local path, or HOST:PATH, where
 * the snapshot goes to "ssh HOST sluice-rules install - PATH" on stdin.
 * Push rather than pull: the operator who changed the rules sees at once,
 * gateway by gateway, which took them and which did not, and a gateway
 * needs no HTTP client, no URL to poll and no credential to fetch a file
 * that holds secrets; ssh already authenticates both ends and is how the
 * gateways are administered.  A gateway that fails costs one line on
 * stderr, not the others' update.
 *
 * What a snapshot is and how it is swapped in is rulesdist.c's; this file
 * is the command line and the transport.  Exit status: 0 done, 1 something
 * failed (one line per failed gateway), 2 usage.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rulesdist.h"

/* What we keep of a remote's stdout and of its stderr. */
#define SLUICE_RULES_OUT_MAX	4096
#define SLUICE_RULES_HTTP_MAX	(4 * 1024 * 1024)
/* Seconds for each of connect, send and receive. */
#define SLUICE_RULES_HTTP_TIMEOUT	5

static const char sluice_rules_usage[] =
    "usage: sluice-rules snapshot MASTER.db OUT\n"
    "       sluice-rules install SNAPSHOT|- PATH\n"
    "       sluice-rules push [--ssh CMD] [--remote CMD] MASTER.db DEST...\n"
    "       sluice-rules status [--ssh CMD] [--remote CMD] "
    "[--admin URL] DEST [[--admin URL] DEST]...\n"
    "DEST is a local path or HOST:PATH (over ssh); --admin URL (sluice's "
    "--admin\nlistener) applies to the DEST after it.\n";

/* How remote gateways are reached. */
struct sluice_rules_remote {
	const char	*ssh;		/* the ssh program */
	const char	*cmd;		/* sluice-rules on the far side */
};

/* What a child process wrote, kept for the report. */
struct sluice_rules_output {
	char		 out[SLUICE_RULES_OUT_MAX];
	char		 err[SLUICE_RULES_OUT_MAX];
};

static void __attribute__((format(printf, 2, 3)))
sluice_rules_err(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, RULESDIST_ERRLEN, fmt, ap);
	va_end(ap);
}

/* The command for the far side; -1 if it does not fit. */
static int __attribute__((format(printf, 3, 4)))
sluice_rules_command(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * HOST:PATH when there is a ':' before any '/' and the DEST does not start
 * with '/' or '.'; *host gets the host and the path is returned.
 */
static const char *
sluice_rules_split(const char *dest, char *host, size_t hostlen)
{
	const char *colon = strchr(dest, ':');
	const char *slash = strchr(dest, '/');

	host[0] = '\0';
	if (dest[0] == '/' || dest[0] == '.' || colon == NULL ||
	    (slash != NULL && slash < colon) || colon == dest ||
	    (size_t)(colon - dest) >= hostlen)
		return dest;
	memcpy(host, dest, (size_t)(colon - dest));
	host[colon - dest] = '\0';
	return colon + 1;
}

/* The path as one word for the remote shell: single quotes. */
static int
sluice_rules_quote(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	if (outlen < 3)
		return -1;
	out[n++] = '\'';
	for (; *s != '\0'; s++) {
		if (*s == '\'') {
			if (n + 4 >= outlen)
				return -1;
			memcpy(out + n, "'\\''", 4);
			n += 4;
		} else {
			if (n + 1 >= outlen)
				return -1;
			out[n++] = *s;
		}
	}
	if (n + 2 > outlen)
		return -1;
	out[n++] = '\'';
	out[n] = '\0';
	return 0;
}

/* Append what fd has to buf (NUL-terminated, truncated); 0 at EOF. */
static int
sluice_rules_drain(int fd, char *buf, size_t len)
{
	size_t used = strlen(buf);
	char tmp[1024];
	ssize_t n;

	if ((n = read(fd, tmp, sizeof(tmp))) <= 0)
		return n == -1 && errno == EINTR ? 1 : 0;
	if (used + 1 < len) {
		if ((size_t)n > len - used - 1)
			n = (ssize_t)(len - used - 1);
		memcpy(buf + used, tmp, (size_t)n);
		buf[used + n] = '\0';
	}
	return 1;
}

/*
 * Run "SSH -o BatchMode=yes ... HOST COMMAND" with stdin from in (or
 * /dev/null), collecting its stdout and stderr.  The exit status, or -1.
 */
static int
sluice_rules_ssh(const struct sluice_rules_remote *r, const char *host,
    const char *command, int in, struct sluice_rules_output *o)
{
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, st, open_fds = 2;
	struct pollfd pfd[2];
	pid_t pid;

	o->out[0] = o->err[0] = '\0';
	if (pipe2(po, O_CLOEXEC) == -1 || pipe2(pe, O_CLOEXEC) == -1) {
		snprintf(o->err, sizeof(o->err), "pipe: %s", strerror(errno));
		goto fail;
	}
	if ((pid = fork()) == -1) {
		snprintf(o->err, sizeof(o->err), "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		if (in == -1)
			in = open("/dev/null", O_RDONLY);
		if (dup2(in, 0) == -1 || dup2(po[1], 1) == -1 ||
		    dup2(pe[1], 2) == -1)
			_exit(255);
		/* Pushes run one after another: a gateway that stops
		 * answering must not hold up the rest for long. */
		execlp(r->ssh, r->ssh, "-o", "BatchMode=yes", "-o",
		    "ConnectTimeout=10", "-o", "ServerAliveInterval=5", "-o",
		    "ServerAliveCountMax=3", "--", host, command, (char *)NULL);
		dprintf(2, "%s: %s\n", r->ssh, strerror(errno));
		_exit(255);
	}
	close(po[1]);
	close(pe[1]);
	pfd[0] = (struct pollfd){ .fd = po[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = pe[0], .events = POLLIN };
	while (open_fds > 0) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents &&
		    !sluice_rules_drain(po[0], o->out, sizeof(o->out))) {
			pfd[0].fd = -1;
			open_fds--;
		}
		if (pfd[1].revents &&
		    !sluice_rules_drain(pe[0], o->err, sizeof(o->err))) {
			pfd[1].fd = -1;
			open_fds--;
		}
	}
	close(po[0]);
	close(pe[0]);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
fail:
	if (po[0] != -1) {
		close(po[0]);
		close(po[1]);
	}
	if (pe[0] != -1) {
		close(pe[0]);
		close(pe[1]);
	}
	return -1;
}

/* The last non-empty line of s, without its newline, in place. */
static const char *
sluice_rules_last_line(char *s)
{
	char *end = s + strlen(s), *start;

	while (end > s && (end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	start = strrchr(s, '\n');
	return start != NULL ? start + 1 : s;
}

static int
sluice_rules_cmd_snapshot(int argc, char **argv)
{
	char err[RULESDIST_ERRLEN];

	if (argc != 3) {
		fputs(sluice_rules_usage, stderr);
		return 2;
	}
	if (rulesdist_snapshot(argv[1], argv[2], err) == -1) {
		fprintf(stderr, "sluice-rules: %s\n", err);
		return 1;
	}
	return 0;
}

static int
sluice_rules_cmd_install(int argc, char **argv)
{
	char err[RULESDIST_ERRLEN], id[RULESDIST_IDLEN + 1];
	int fd, rc;

	if (argc != 3) {
		fputs(sluice_rules_usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "-") == 0)
		fd = 0;
	else if ((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "sluice-rules: %s: %s\n", argv[1],
		    strerror(errno));
		return 1;
	}
	rc = rulesdist_install(fd, argv[2], id, err);
	if (fd != 0)
		close(fd);
	if (rc == -1) {
		fprintf(stderr, "sluice-rules: %s\n", err);
		return 1;
	}
	printf("%s\n", id);
	return 0;
}

/* Install the snapshot at snap on one DEST; 0, or -1 with the reason. */
static int
sluice_rules_push_one(const struct sluice_rules_remote *r, const char *snap,
    const char *dest, const char *want, char *err)
{
	char host[256], qpath[PATH_MAX * 4 + 3], command[PATH_MAX * 4 + 512];
	char id[RULESDIST_IDLEN + 1];
	struct sluice_rules_output o;
	const char *path = sluice_rules_split(dest, host, sizeof(host));
	int fd, rc;

	if ((fd = open(snap, O_RDONLY | O_CLOEXEC)) == -1) {
		sluice_rules_err(err, "%s: %s", snap,
		    strerror(errno));
		return -1;
	}
	if (host[0] == '\0') {
		rc = rulesdist_install(fd, path, id, err);
		close(fd);
		return rc;
	}
	if (sluice_rules_quote(path, qpath, sizeof(qpath)) == -1 ||
	    sluice_rules_command(command, sizeof(command), "%s install - %s",
	    r->cmd, qpath) == -1) {
		close(fd);
		sluice_rules_err(err, "path too long");
		return -1;
	}
	rc = sluice_rules_ssh(r, host, command, fd, &o);
	close(fd);
	if (rc != 0) {
		sluice_rules_err(err, "%s (exit %d)",
		    o.err[0] != '\0' ? sluice_rules_last_line(o.err) :
		    "ssh failed", rc);
		return -1;
	}
	/* The far side hashed what it received: it must be what we sent. */
	if (strcmp(sluice_rules_last_line(o.out), want) != 0) {
		sluice_rules_err(err, "installed \"%s\", sent %s",
		    sluice_rules_last_line(o.out), want);
		return -1;
	}
	return 0;
}

static int
sluice_rules_snapshot_id(const char *snap, char id[RULESDIST_IDLEN + 1],
    char *err)
{
	struct rulesdist_info info;

	if (rulesdist_info(snap, &info, err) == -1)
		return -1;
	memcpy(id, info.id, sizeof(info.id));
	return 0;
}

/* Options that both push and status take; returns the next argument. */
static int
sluice_rules_remote_opts(int argc, char **argv, int i,
    struct sluice_rules_remote *r)
{
	for (; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--ssh") == 0)
			r->ssh = argv[i + 1];
		else if (strcmp(argv[i], "--remote") == 0)
			r->cmd = argv[i + 1];
		else
			break;
	}
	return i;
}

static int
sluice_rules_cmd_push(int argc, char **argv, struct sluice_rules_remote *r)
{
	char dir[] = "/tmp/sluice-rules.XXXXXX", snap[sizeof(dir) + 16];
	char err[RULESDIST_ERRLEN], id[RULESDIST_IDLEN + 1];
	int i, failed = 0;

	i = sluice_rules_remote_opts(argc, argv, 1, r);
	if (argc - i < 2) {
		fputs(sluice_rules_usage, stderr);
		return 2;
	}
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "sluice-rules: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(snap, sizeof(snap), "%s/snapshot.db", dir);
	if (rulesdist_snapshot(argv[i], snap, err) == -1 ||
	    sluice_rules_snapshot_id(snap, id, err) == -1) {
		fprintf(stderr, "sluice-rules: %s\n", err);
		rmdir(dir);
		return 1;
	}
	printf("snapshot %s of %s\n", id, argv[i]);
	for (i++; i < argc; i++) {
		if (sluice_rules_push_one(r, snap, argv[i], id, err) == -1) {
			fprintf(stderr, "sluice-rules: %s: %s\n", argv[i], err);
			failed = 1;
		} else {
			printf("%s: installed %s\n", argv[i], id);
		}
		fflush(stdout);
	}
	unlink(snap);
	rmdir(dir);
	return failed;
}

/* "http://HOST:PORT[/...]" into host and port; -1 if it is not one. */
static int
sluice_rules_parse_url(const char *url, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char *h, *end, *colon;

	if (strncmp(url, "http://", 7) != 0)
		return -1;
	h = url + 7;
	end = h + strcspn(h, "/");
	if (*h == '[') {
		if ((colon = memchr(h, ']', (size_t)(end - h))) == NULL ||
		    colon[1] != ':')
			return -1;
		h++;
		colon++;
		if ((size_t)(colon - 1 - h) >= hostlen)
			return -1;
		memcpy(host, h, (size_t)(colon - 1 - h));
		host[colon - 1 - h] = '\0';
	} else {
		if ((colon = memchr(h, ':', (size_t)(end - h))) == NULL ||
		    (size_t)(colon - h) >= hostlen)
			return -1;
		memcpy(host, h, (size_t)(colon - h));
		host[colon - h] = '\0';
	}
	if ((size_t)(end - colon - 1) >= portlen || end - colon - 1 == 0)
		return -1;
	memcpy(port, colon + 1, (size_t)(end - colon - 1));
	port[end - colon - 1] = '\0';
	return 0;
}

static int
sluice_rules_http_connect(const char *host, const char *port, char *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct timeval tv = { .tv_sec = SLUICE_RULES_HTTP_TIMEOUT };
	int fd = -1, e;

	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		sluice_rules_err(err, "%s: %s", host, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	if (fd == -1)
		sluice_rules_err(err, "%s port %s: %s", host, port,
		    strerror(errno));
	freeaddrinfo(res);
	return fd;
}

/*
 * GET /rules from sluice's admin listener; *generation gets the loaded
 * snapshot's generation (sluice counts every reload).
 */
static int
sluice_rules_admin_generation(const char *url, unsigned long long *generation,
    char *err)
{
	char host[256], port[16], req[512], *buf = NULL, *body, *g;
	size_t len = 0;
	ssize_t n;
	int fd;

	if (sluice_rules_parse_url(url, host, sizeof(host), port,
	    sizeof(port)) == -1) {
		sluice_rules_err(err, "%s: not http://HOST:PORT", url);
		return -1;
	}
	if ((fd = sluice_rules_http_connect(host, port, err)) == -1)
		return -1;
	snprintf(req, sizeof(req), "GET /rules HTTP/1.0\r\nHost: %s\r\n"
	    "Connection: close\r\n\r\n", host);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) ||
	    (buf = malloc(SLUICE_RULES_HTTP_MAX + 1)) == NULL)
		goto syserr;
	while (len < SLUICE_RULES_HTTP_MAX &&
	    (n = read(fd, buf + len, SLUICE_RULES_HTTP_MAX - len)) != 0) {
		if (n == -1)
			goto syserr;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 ||
	    strncmp(buf + 8, " 200", 4) != 0) {
		buf[strcspn(buf, "\r\n")] = '\0';
		sluice_rules_err(err, "%s/rules: %.60s", url,
		    len > 0 ? buf : "no answer");
		free(buf);
		return -1;
	}
	if ((body = strstr(buf, "\r\n\r\n")) == NULL ||
	    (g = strstr(body, "\"generation\":")) == NULL) {
		sluice_rules_err(err, "%s/rules: no generation", url);
		free(buf);
		return -1;
	}
	*generation = strtoull(g + 13, NULL, 10);
	free(buf);
	return 0;
syserr:
	sluice_rules_err(err, "%s: %s", url, strerror(errno));
	free(buf);
	close(fd);
	return -1;
}

/* status on HOST, over ssh; its line comes back with HOST: in front. */
static int
sluice_rules_status_remote(const struct sluice_rules_remote *r,
    const char *host, const char *path, const char *admin, char *err)
{
	char qpath[PATH_MAX * 4 + 3], command[PATH_MAX * 4 + 1024];
	char qadmin[1024 + 3];
	struct sluice_rules_output o;
	int rc;

	if (sluice_rules_quote(path, qpath, sizeof(qpath)) == -1 ||
	    (admin != NULL && sluice_rules_quote(admin, qadmin,
	    sizeof(qadmin)) == -1) ||
	    sluice_rules_command(command, sizeof(command), "%s status%s%s %s",
	    r->cmd, admin != NULL ? " --admin " : "",
	    admin != NULL ? qadmin : "", qpath) == -1) {
		sluice_rules_err(err, "argument too long");
		return -1;
	}
	if ((rc = sluice_rules_ssh(r, host, command, -1, &o)) != 0) {
		sluice_rules_err(err, "%s (exit %d)", o.err[0] != '\0' ?
		    sluice_rules_last_line(o.err) : "ssh failed", rc);
		return -1;
	}
	printf("%s:%s\n", host, sluice_rules_last_line(o.out));
	return 0;
}

/* One status line: DEST id=... version=... rules=... [generation=...]. */
static int
sluice_rules_status_one(const struct sluice_rules_remote *r, const char *dest,
    const char *admin, char *err)
{
	char host[256];
	struct rulesdist_info info;
	unsigned long long gen;
	const char *path = sluice_rules_split(dest, host, sizeof(host));
	int rc = 0;

	if (host[0] != '\0')
		return sluice_rules_status_remote(r, host, path, admin, err);
	if (rulesdist_info(path, &info, err) == -1)
		return -1;
	printf("%s id=%s%s version=%lld rules=%lld", dest, info.id,
	    info.wal ? "+wal" : "", (long long)info.version,
	    (long long)info.nrules);
	if (admin != NULL &&
	    (rc = sluice_rules_admin_generation(admin, &gen, err)) == 0)
		printf(" generation=%llu", gen);
	printf("\n");
	return rc;
}

static int
sluice_rules_cmd_status(int argc, char **argv, struct sluice_rules_remote *r)
{
	char err[RULESDIST_ERRLEN];
	const char *admin = NULL;
	int i, failed = 0, ndest = 0;

	for (i = sluice_rules_remote_opts(argc, argv, 1, r); i < argc; i++) {
		if (strcmp(argv[i], "--admin") == 0) {
			if (i + 1 == argc)
				break;
			admin = argv[++i];
			continue;
		}
		ndest++;
		if (sluice_rules_status_one(r, argv[i], admin, err) == -1) {
			fprintf(stderr, "sluice-rules: %s: %s\n", argv[i], err);
			failed = 1;
		}
		fflush(stdout);
		admin = NULL;
	}
	if (ndest == 0 || admin != NULL || i < argc) {
		fputs(sluice_rules_usage, stderr);
		return 2;
	}
	return failed;
}

int
main(int argc, char **argv)
{
	struct sluice_rules_remote r = { .ssh = "ssh", .cmd = "sluice-rules" };

	/* rules.c's migration notes name temporary files: warnings only. */
	log_init(LOG_WARN, LOG_TEXT);
	if (getenv("SLUICE_RULES_SSH") != NULL)
		r.ssh = getenv("SLUICE_RULES_SSH");
	if (argc < 2) {
		fputs(sluice_rules_usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "snapshot") == 0)
		return sluice_rules_cmd_snapshot(argc - 1, argv + 1);
	if (strcmp(argv[1], "install") == 0)
		return sluice_rules_cmd_install(argc - 1, argv + 1);
	if (strcmp(argv[1], "push") == 0)
		return sluice_rules_cmd_push(argc - 1, argv + 1, &r);
	if (strcmp(argv[1], "status") == 0)
		return sluice_rules_cmd_status(argc - 1, argv + 1, &r);
	fputs(sluice_rules_usage, stderr);
	return 2;
}
