/*
 * sluice-netfilter.c - installs and removes the netfilter rules a gateway
 * running sluice needs, for IPv4 and IPv6.
 *
 *   sluice-netfilter up --lan IFACE[,IFACE...] --listen-port PORT
 *                       [--listen-port6 PORT] [--ports 443[,PORT...]] [--tproxy]
 *                       [--nfqueue NUM [--fail-open]]
 *   sluice-netfilter down
 *   sluice-netfilter status
 *
 * Everything lives in chains of the tool's own, one per table, each reached
 * by one jump inserted at the top of a built-in chain:
 *
 *   mangle PREROUTING -> SLUICE-PREROUTING  (--nfqueue, --tproxy)
 *   nat    PREROUTING -> SLUICE-PREROUTING  (REDIRECT, without --tproxy)
 *   filter FORWARD    -> SLUICE-FORWARD     (denied flows, UDP/443,
 *                                            --nfqueue: DNS answers)
 *   filter OUTPUT     -> SLUICE-OUTPUT      (--nfqueue: DNS answers of a
 *                                            resolver on the gateway)
 *
 * With --nfqueue, the DNS answers going out to the LAN (UDP and TCP from
 * port 53, replies of a connection the ruleset let through) are queued to
 * the same queue, always with --queue-bypass: sluice learns the names in
 * them before the client gets them (src/nfqueue.c).  An answer is not a
 * flow decision, so if sluice is down it passes untouched; the flows that
 * follow it are still queued, and fail closed unless --fail-open.
 *
 * plus, with --tproxy, "ip rule fwmark 0x1000/0x1000 lookup 100" and a local
 * default route in table 100.  Every chain starts by letting sluice's own
 * upstream sockets (NETMARK_UPSTREAM) through, and every mark is matched
 * under NETMARK_MASK (src/netmark.h, shared with the daemon).
 *
 * The installed chains are the only state: "up", "down" and "status" read
 * them from one iptables-nft-save per family, so nothing is lost when the
 * tool or the machine restarts.  "up" is idempotent: it flushes and refills
 * its chains, adds a jump or an ip rule only when it is missing, and drops
 * the chains and routes a previous "up" installed that the new options no
 * longer need.  Each family's chains are changed by one
 * iptables-nft-restore --noflush, which nf_tables applies as one
 * transaction: all of it or nothing, and no moment when a chain is empty.
 * If any command fails, "up" prints that command and iptables' own
 * message, then removes everything of its own, so a half-done setup never
 * stays behind.
 *
 * Commands run by fork/exec with their arguments as argv, never through a
 * shell (a restore script is their standard input); iptables is always the
 * nf_tables one (iptables-nft), never legacy.
 *
 * Exit status: 0 done (status: something is installed), 1 failed (status:
 * nothing is installed), 2 usage.
 */
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netmark.h"

#define SLUICE_NF_MAX_LAN	16
#define SLUICE_NF_MAX_PORTS	15	/* what -m multiport accepts */
#define SLUICE_NF_MAX_ARGS	48
#define SLUICE_NF_IFNAMSIZ	16	/* IFNAMSIZ, with the NUL */
#define SLUICE_NF_TPROXY_TABLE	"100"

static const char sluice_nf_usage[] =
    "usage: sluice-netfilter up --lan IFACE[,IFACE...] --listen-port PORT\n"
    "                           [--listen-port6 PORT] [--ports 443[,PORT...]]\n"
    "                           [--tproxy]\n"
    "                           [--nfqueue NUM [--fail-open]]\n"
    "       sluice-netfilter down\n"
    "       sluice-netfilter status\n";

struct sluice_nf_opts {
	char	 lan[SLUICE_NF_MAX_LAN][SLUICE_NF_IFNAMSIZ];
	int	 nlan;
	char	 listen_port[8];
	char	 listen_port6[8];		/* IPv6's, if not listen_port */
	char	 ports[SLUICE_NF_MAX_PORTS * 6];	/* "443,8443" */
	int	 tproxy;
	char	 queue[8];			/* "" without --nfqueue */
	int	 fail_open;
};

/* One address family: its iptables programs, its ip flag and its ICMP
 * reject. */
struct sluice_nf_family {
	int		 v6;
	const char	*name;
	const char	*iptables;
	const char	*save;
	const char	*restore;
	const char	*ip_flag;
	const char	*unreachable;
};

static const struct sluice_nf_family sluice_nf_families[] = {
	{ 0, "ipv4", "iptables-nft", "iptables-nft-save",
	    "iptables-nft-restore", "-4", "icmp-port-unreachable" },
	{ 1, "ipv6", "ip6tables-nft", "ip6tables-nft-save",
	    "ip6tables-nft-restore", "-6", "icmp6-port-unreachable" },
};

/* The tool's chains; "from" is the built-in chain that jumps to each.  A
 * restore script has one section per table, so chains of one table are
 * listed together. */
struct sluice_nf_chain {
	const char	*table;
	const char	*chain;
	const char	*from;
};

static const struct sluice_nf_chain sluice_nf_chains[] = {
	{ "mangle", "SLUICE-PREROUTING", "PREROUTING" },
	{ "nat", "SLUICE-PREROUTING", "PREROUTING" },
	{ "filter", "SLUICE-FORWARD", "FORWARD" },
	{ "filter", "SLUICE-OUTPUT", "OUTPUT" },
};
#define SLUICE_NF_MANGLE	0
#define SLUICE_NF_NAT		1
#define SLUICE_NF_FILTER	2
#define SLUICE_NF_OUTPUT	3
#define SLUICE_NF_NCHAINS	4

/* An argv under construction. */
struct sluice_nf_argv {
	const char	*v[SLUICE_NF_MAX_ARGS + 1];
	int		 n;
};

/*
 * A restore script under construction, in iptables-save's format: a
 * "*table" line, commands, "COMMIT", for each table in turn.  On ENOMEM
 * it stops growing and says so in nomem.
 */
struct sluice_nf_script {
	char		*buf;
	size_t		 len;
	size_t		 cap;
	const char	*table;		/* the open section's, or NULL */
	int		 nomem;
};

/* Marks as iptables prints them, so "status" compares like with like. */
static char sluice_nf_upstream_mark[24], sluice_nf_intercept_mark[24],
    sluice_nf_deny_mark[24], sluice_nf_tproxy_mark[24], sluice_nf_mask[24],
    sluice_nf_unmarked[24];

static void __attribute__((format(printf, 1, 2), noreturn))
sluice_nf_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("sluice-netfilter: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void
sluice_nf_marks_init(void)
{
	snprintf(sluice_nf_upstream_mark, sizeof(sluice_nf_upstream_mark),
	    "0x%x/0x%x", NETMARK_UPSTREAM, NETMARK_UPSTREAM);
	snprintf(sluice_nf_intercept_mark, sizeof(sluice_nf_intercept_mark),
	    "0x%x/0x%x", NETMARK_INTERCEPT, NETMARK_INTERCEPT);
	snprintf(sluice_nf_deny_mark, sizeof(sluice_nf_deny_mark),
	    "0x%x/0x%x", NETMARK_DENY, NETMARK_DENY);
	snprintf(sluice_nf_tproxy_mark, sizeof(sluice_nf_tproxy_mark),
	    "0x%x/0x%x", NETMARK_TPROXY, NETMARK_TPROXY);
	snprintf(sluice_nf_mask, sizeof(sluice_nf_mask), "0x%x", NETMARK_MASK);
	snprintf(sluice_nf_unmarked, sizeof(sluice_nf_unmarked), "0x0/0x%x",
	    NETMARK_MASK);
}

/* The next line of the text at *p, which ends at end: its start, its
 * length (without the newline) in *len, and *p moved past it; NULL when
 * there is none. */
static const char *
sluice_nf_next_line(const char **p, const char *end, size_t *len)
{
	const char *line = *p, *nl;

	if (line >= end)
		return NULL;
	nl = memchr(line, '\n', end - line);
	*len = (nl != NULL ? nl : end) - line;
	*p = nl != NULL ? nl + 1 : end;
	return line;
}

/* Whether the line (len bytes) is exactly the string s. */
static int
sluice_nf_line_is(const char *line, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(line, s, len) == 0;
}

/* --- running commands ---------------------------------------------------- */

/* Appends the NULL-terminated words to a. */
static void
sluice_nf_add(struct sluice_nf_argv *a, ...)
{
	const char *s;
	va_list ap;

	va_start(ap, a);
	while ((s = va_arg(ap, const char *)) != NULL) {
		if (a->n >= SLUICE_NF_MAX_ARGS) {
			fputs("sluice-netfilter: internal error: too many "
			    "arguments\n", stderr);
			exit(1);
		}
		a->v[a->n++] = s;
	}
	a->v[a->n] = NULL;
	va_end(ap);
}

/* Reads fd to its end into a NUL-terminated malloc'd string (NULL: ENOMEM). */
static char *
sluice_nf_slurp(int fd)
{
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	ssize_t r;

	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 8192;
			if ((nbuf = realloc(buf, cap)) == NULL)
				goto fail;
			buf = nbuf;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += r;
	}
	buf[len] = '\0';
	return buf;
fail:
	free(buf);
	return NULL;
}

/* A file holding the string s, read from its start: a child's standard
 * input that cannot fill up like a pipe.  -1 on error. */
static int
sluice_nf_input(const char *s)
{
	size_t len = strlen(s), off = 0;
	ssize_t w;
	int fd;

	if ((fd = memfd_create("sluice-netfilter", MFD_CLOEXEC)) == -1)
		return -1;
	while (off < len) {
		w = write(fd, s + off, len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += w;
	}
	if (lseek(fd, 0, SEEK_SET) == -1)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * Runs argv, returning its exit status (-1 if it could not run).  Its
 * standard input is the string in when in is not NULL, else ours.  Its
 * standard output goes to *out when out is not NULL (malloc'd, the caller
 * frees it), else nowhere; its standard error goes to *err likewise.  The
 * child's two outputs are read one after the other, which is fine for the
 * few lines iptables and ip print on standard error.
 */
static int
sluice_nf_run(const char *const *argv, const char *in, char **out,
    char **err)
{
	int opipe[2] = { -1, -1 }, epipe[2] = { -1, -1 }, infd = -1, status;
	pid_t pid;

	if (out != NULL)
		*out = NULL;
	if (err != NULL)
		*err = NULL;
	if (in != NULL && (infd = sluice_nf_input(in)) == -1)
		goto fail;
	if (pipe2(opipe, O_CLOEXEC) == -1 || pipe2(epipe, O_CLOEXEC) == -1)
		goto fail;
	if ((pid = fork()) == -1)
		goto fail;
	if (pid == 0) {
		if (dup2(opipe[1], 1) == -1 || dup2(epipe[1], 2) == -1 ||
		    (infd != -1 && dup2(infd, 0) == -1))
			_exit(127);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	if (infd != -1)
		close(infd);
	close(opipe[1]);
	close(epipe[1]);
	opipe[1] = epipe[1] = -1;
	if (out != NULL)
		*out = sluice_nf_slurp(opipe[0]);
	else
		free(sluice_nf_slurp(opipe[0]));
	if (err != NULL)
		*err = sluice_nf_slurp(epipe[0]);
	else
		free(sluice_nf_slurp(epipe[0]));
	close(opipe[0]);
	close(epipe[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
fail:
	fprintf(stderr, "sluice-netfilter: cannot run %s: %s\n", argv[0],
	    strerror(errno));
	if (infd != -1)
		close(infd);
	if (opipe[0] != -1) {
		close(opipe[0]);
		close(opipe[1]);
	}
	if (epipe[0] != -1) {
		close(epipe[0]);
		close(epipe[1]);
	}
	return -1;
}

/* Runs argv quietly: 0 when it exits 0. */
static int
sluice_nf_try(const struct sluice_nf_argv *a)
{
	return sluice_nf_run(a->v, NULL, NULL, NULL) == 0 ? 0 : -1;
}

/*
 * Prints "sluice-netfilter: WHAT: MESSAGE" as one line, MESSAGE being the
 * first line of err (a command's own error message), or its exit status
 * rc when it said nothing.
 */
static void
sluice_nf_report(const char *what, const char *err, int rc)
{
	fprintf(stderr, "sluice-netfilter: %s", what);
	if (err != NULL && err[0] != '\0')
		fprintf(stderr, ": %.*s\n", (int)strcspn(err, "\n"), err);
	else
		fprintf(stderr, ": exit status %d\n", rc);
}

/*
 * Runs argv; when it fails, prints the command and the first line of its
 * own error message, as one line.
 */
static int
sluice_nf_must(const struct sluice_nf_argv *a)
{
	char *err = NULL, cmd[1024];
	size_t len = 0;
	int i, rc;

	rc = sluice_nf_run(a->v, NULL, NULL, &err);
	if (rc == 0) {
		free(err);
		return 0;
	}
	cmd[0] = '\0';
	for (i = 0; i < a->n && len < sizeof(cmd); i++)
		len += snprintf(cmd + len, sizeof(cmd) - len, "%s%s",
		    i ? " " : "", a->v[i]);
	sluice_nf_report(cmd, err, rc);
	free(err);
	return -1;
}

/* --- restore scripts ------------------------------------------------------ */

static void
sluice_nf_script_puts(struct sluice_nf_script *s, const char *str)
{
	size_t len = strlen(str), cap;
	char *nbuf;

	if (s->nomem)
		return;
	if (s->cap - s->len < len + 1) {
		cap = s->cap ? 2 * s->cap : 4096;
		while (cap - s->len < len + 1)
			cap *= 2;
		if ((nbuf = realloc(s->buf, cap)) == NULL) {
			s->nomem = 1;
			return;
		}
		s->buf = nbuf;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, str, len + 1);
	s->len += len;
}

/* Ends the open table section, if any. */
static void
sluice_nf_script_commit(struct sluice_nf_script *s)
{
	if (s->table == NULL)
		return;
	sluice_nf_script_puts(s, "COMMIT\n");
	s->table = NULL;
}

/* Appends the command a (iptables' words after "-t TABLE") to table's
 * section, opening it if need be. */
static void
sluice_nf_script_add(struct sluice_nf_script *s, const char *table,
    const struct sluice_nf_argv *a)
{
	int i;

	if (s->table == NULL || strcmp(s->table, table) != 0) {
		sluice_nf_script_commit(s);
		sluice_nf_script_puts(s, "*");
		sluice_nf_script_puts(s, table);
		sluice_nf_script_puts(s, "\n");
		s->table = table;
	}
	for (i = 0; i < a->n; i++) {
		sluice_nf_script_puts(s, i ? " " : "");
		sluice_nf_script_puts(s, a->v[i]);
	}
	sluice_nf_script_puts(s, "\n");
}

/*
 * iptables-nft-restore's message in err, made one line: its program and
 * version prefix, its "Error occurred at line" and "Try ..." lines and
 * its "line N: " prefix left out.  Sets *lineno to the script line it
 * names (0 if none).  Returns a malloc'd string, or NULL.
 */
static char *
sluice_nf_restore_error(const char *err, int *lineno)
{
	const char *p = err, *end = err + strlen(err), *line, *colon;
	char *msg;
	size_t len;

	*lineno = 0;
	if ((msg = calloc(1, strlen(err) + 1)) == NULL)
		return NULL;
	while ((line = sluice_nf_next_line(&p, end, &len)) != NULL) {
		if (sscanf(line, "Error occurred at line: %d", lineno) == 1 ||
		    strncmp(line, "Try `", 5) == 0)
			continue;
		if (strncmp(line, "line ", 5) == 0 &&
		    sscanf(line, "line %d:", lineno) == 1 &&
		    (colon = memchr(line, ':', len)) != NULL) {
			len -= colon + 1 - line;
			line = colon + 1;
		}
		if (strncmp(line, "iptables", 8) == 0 ||
		    strncmp(line, "ip6tables", 9) == 0) {
			colon = memchr(line, ')', len);
			if (colon != NULL && colon + 1 < line + len &&
			    colon[1] == ':') {
				len -= colon + 2 - line;
				line = colon + 2;
			}
		}
		while (len > 0 && *line == ' ') {
			line++;
			len--;
		}
		if (len > 0 && msg[0] == '\0')
			memcpy(msg, line, len);
	}
	return msg;
}

/*
 * Prints the command of script s that iptables-nft-restore says failed,
 * as the iptables command it stands for, with iptables' own message, on
 * one line; the restore command itself if it names no line.
 */
static void
sluice_nf_restore_report(const struct sluice_nf_family *f,
    const struct sluice_nf_script *s, const char *err, int rc)
{
	const char *p = s->buf, *end = s->buf + s->len, *line, *table = NULL;
	char *msg, cmd[1024];
	size_t len, table_len = 0;
	int lineno, n = 0;

	msg = err != NULL ? sluice_nf_restore_error(err, &lineno) : NULL;
	if (msg == NULL)
		lineno = 0;
	while (lineno > 0 &&
	    (line = sluice_nf_next_line(&p, end, &len)) != NULL) {
		if (line[0] == '*') {
			table = line + 1;
			table_len = len - 1;
		}
		if (++n < lineno)
			continue;
		if (table != NULL && line[0] == '-') {
			snprintf(cmd, sizeof(cmd), "%s -t %.*s %.*s",
			    f->iptables, (int)table_len, table, (int)len, line);
			sluice_nf_report(cmd, msg, rc);
			free(msg);
			return;
		}
		break;
	}
	snprintf(cmd, sizeof(cmd), "%s --noflush", f->restore);
	sluice_nf_report(cmd, msg != NULL ? msg : err, rc);
	free(msg);
}

/* Applies script s to family f in one transaction; when it fails, says
 * which command failed and why. */
static int
sluice_nf_restore(const struct sluice_nf_family *f,
    struct sluice_nf_script *s)
{
	struct sluice_nf_argv a = { .n = 0 };
	char *err;
	int rc;

	sluice_nf_script_commit(s);
	if (s->nomem) {
		fprintf(stderr, "sluice-netfilter: %s: out of memory\n",
		    f->restore);
		return -1;
	}
	if (s->len == 0)
		return 0;
	sluice_nf_add(&a, f->restore, "--noflush", NULL);
	rc = sluice_nf_run(a.v, s->buf, NULL, &err);
	if (rc != 0)
		sluice_nf_restore_report(f, s, err, rc);
	free(err);
	return rc == 0 ? 0 : -1;
}

/* --- reading what is installed -------------------------------------------- */

/* Family f's whole ruleset as iptables-nft-save prints it (malloc'd), or
 * NULL, said on stderr, if it cannot be read. */
static char *
sluice_nf_save(const struct sluice_nf_family *f)
{
	struct sluice_nf_argv a = { .n = 0 };
	char *out, *err;
	int rc;

	sluice_nf_add(&a, f->save, NULL);
	rc = sluice_nf_run(a.v, NULL, &out, &err);
	if (rc == 0 && out != NULL) {
		free(err);
		return out;
	}
	sluice_nf_report(f->save, err, rc);
	free(out);
	free(err);
	return NULL;
}

/* The lines of table's section of save, as [*start, *end); 0 if the table
 * is not there. */
static int
sluice_nf_saved_table(const char *save, const char *table, const char **start,
    const char **end)
{
	const char *p = save, *send = save + strlen(save), *line;
	size_t len;

	while ((line = sluice_nf_next_line(&p, send, &len)) != NULL) {
		if (line[0] != '*' || strlen(table) != len - 1 ||
		    memcmp(line + 1, table, len - 1) != 0)
			continue;
		*start = p;
		while ((line = sluice_nf_next_line(&p, send, &len)) != NULL &&
		    !sluice_nf_line_is(line, len, "COMMIT"))
			;
		*end = line != NULL ? line : send;
		return 1;
	}
	return 0;
}

/*
 * Chain c's rules in save, as "iptables -S CHAIN" prints them less its
 * "-N" line (malloc'd), or NULL if the chain is absent.
 */
static char *
sluice_nf_saved_chain(const char *save, const struct sluice_nf_chain *c)
{
	const char *p, *end, *line;
	char decl[64], rule[64], *rules = NULL;
	size_t len, have = 0, dlen, rlen;

	if (!sluice_nf_saved_table(save, c->table, &p, &end))
		return NULL;
	dlen = snprintf(decl, sizeof(decl), ":%s ", c->chain);
	rlen = snprintf(rule, sizeof(rule), "-A %s ", c->chain);
	while ((line = sluice_nf_next_line(&p, end, &len)) != NULL) {
		if (rules == NULL && len >= dlen &&
		    memcmp(line, decl, dlen) == 0) {
			/* Every rule of the chain fits: they are in save. */
			if ((rules = calloc(1, end - save + 1)) == NULL)
				return NULL;
		}
		if (len >= rlen && memcmp(line, rule, rlen) == 0 &&
		    rules != NULL) {
			memcpy(rules + have, line, len);
			rules[have + len] = '\n';
			have += len + 1;
		}
	}
	return rules;
}

/* How many "-j CHAIN" jumps to chain c its built-in chain holds in save. */
static int
sluice_nf_saved_jumps(const char *save, const struct sluice_nf_chain *c)
{
	const char *p, *end, *line;
	char jump[96];
	size_t len;
	int n = 0;

	if (!sluice_nf_saved_table(save, c->table, &p, &end))
		return 0;
	snprintf(jump, sizeof(jump), "-A %s -j %s", c->from, c->chain);
	while ((line = sluice_nf_next_line(&p, end, &len)) != NULL)
		n += sluice_nf_line_is(line, len, jump);
	return n;
}

/* Whether save's mangle chain holds a TPROXY rule. */
static int
sluice_nf_saved_tproxy(const char *save)
{
	char *rules;
	int yes;

	rules = sluice_nf_saved_chain(save,
	    &sluice_nf_chains[SLUICE_NF_MANGLE]);
	yes = rules != NULL && strstr(rules, "-j TPROXY") != NULL;
	free(rules);
	return yes;
}

/* "ip -4|-6 rule ..." selecting the TPROXY rule, after verb. */
static void
sluice_nf_ip_rule(struct sluice_nf_argv *a, const struct sluice_nf_family *f,
    const char *verb)
{
	a->n = 0;
	sluice_nf_add(a, "ip", f->ip_flag, "rule", verb, "fwmark",
	    sluice_nf_tproxy_mark, "lookup", SLUICE_NF_TPROXY_TABLE, NULL);
}

static int
sluice_nf_ip_rule_present(const struct sluice_nf_family *f)
{
	struct sluice_nf_argv a;
	char *out;
	int yes;

	sluice_nf_ip_rule(&a, f, "list");
	yes = sluice_nf_run(a.v, NULL, &out, NULL) == 0 && out != NULL &&
	    out[0] != '\0';
	free(out);
	return yes;
}

/* --- removing ------------------------------------------------------------- */

/* Adds to s the removal of chain c and of every jump to it that save
 * shows; nothing if it is absent. */
static void
sluice_nf_script_remove(struct sluice_nf_script *s, const char *save,
    const struct sluice_nf_chain *c)
{
	struct sluice_nf_argv a;
	char *rules;
	int n;

	for (n = sluice_nf_saved_jumps(save, c); n > 0; n--) {
		a.n = 0;
		sluice_nf_add(&a, "-D", c->from, "-j", c->chain, NULL);
		sluice_nf_script_add(s, c->table, &a);
	}
	if ((rules = sluice_nf_saved_chain(save, c)) == NULL)
		return;
	free(rules);
	a.n = 0;
	sluice_nf_add(&a, "-F", c->chain, NULL);
	sluice_nf_script_add(s, c->table, &a);
	a.n = 0;
	sluice_nf_add(&a, "-X", c->chain, NULL);
	sluice_nf_script_add(s, c->table, &a);
}

/* Removes the TPROXY ip rule and route of family f. */
static void
sluice_nf_route_remove(const struct sluice_nf_family *f)
{
	struct sluice_nf_argv a;

	while (sluice_nf_ip_rule_present(f)) {
		sluice_nf_ip_rule(&a, f, "del");
		if (sluice_nf_must(&a) == -1)
			break;
	}
	a.n = 0;
	sluice_nf_add(&a, "ip", f->ip_flag, "route", "del", "local", "default",
	    "dev", "lo", "table", SLUICE_NF_TPROXY_TABLE, NULL);
	(void)sluice_nf_try(&a);
}

/*
 * Removes everything of family f, the chains in one transaction; the ip
 * rule and route only if the installed chains say that "up" added them
 * (--tproxy).
 */
static int
sluice_nf_down_family(const struct sluice_nf_family *f)
{
	struct sluice_nf_script s = { .buf = NULL };
	char *save;
	int tproxy, i, rc;

	if ((save = sluice_nf_save(f)) == NULL)
		return -1;
	tproxy = sluice_nf_saved_tproxy(save);
	for (i = 0; i < SLUICE_NF_NCHAINS; i++)
		sluice_nf_script_remove(&s, save, &sluice_nf_chains[i]);
	rc = sluice_nf_restore(f, &s);
	if (tproxy)
		sluice_nf_route_remove(f);
	free(s.buf);
	free(save);
	return rc;
}

static int
sluice_nf_down(void)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(sluice_nf_families) /
	    sizeof(sluice_nf_families[0]); i++)
		if (sluice_nf_down_family(&sluice_nf_families[i]) == -1)
			rc = -1;
	return rc;
}

/* --- installing ----------------------------------------------------------- */

static const char *
sluice_nf_listen_port(const struct sluice_nf_family *f,
    const struct sluice_nf_opts *o)
{
	return f->v6 && o->listen_port6[0] != '\0' ? o->listen_port6 :
	    o->listen_port;
}

/* "-A CHAIN" of chain c, ready for the rule's words. */
static void
sluice_nf_append(struct sluice_nf_argv *a, const struct sluice_nf_chain *c)
{
	a->n = 0;
	sluice_nf_add(a, "-A", c->chain, NULL);
}

/* Adds to s: chain c created, or emptied if it exists, and its first
 * rule, which lets sluice's own upstream sockets through. */
static void
sluice_nf_script_fresh(struct sluice_nf_script *s,
    const struct sluice_nf_chain *c)
{
	struct sluice_nf_argv a = { .n = 0 };
	char decl[64];

	snprintf(decl, sizeof(decl), ":%s - [0:0]", c->chain);
	sluice_nf_add(&a, decl, NULL);
	sluice_nf_script_add(s, c->table, &a);
	sluice_nf_append(&a, c);
	sluice_nf_add(&a, "-m", "mark", "--mark", sluice_nf_upstream_mark,
	    "-j", "RETURN", NULL);
	sluice_nf_script_add(s, c->table, &a);
}

/* Adds to s the jump to chain c unless save shows one. */
static void
sluice_nf_script_jump(struct sluice_nf_script *s, const char *save,
    const struct sluice_nf_chain *c)
{
	struct sluice_nf_argv a = { .n = 0 };

	if (sluice_nf_saved_jumps(save, c) > 0)
		return;
	sluice_nf_add(&a, "-I", c->from, "1", "-j", c->chain, NULL);
	sluice_nf_script_add(s, c->table, &a);
}

/*
 * mangle: with --nfqueue, every new flow from the LAN not yet decided goes
 * to the queue (UDP/53 excepted: DNS must work for sluice to learn names),
 * and the verdict's mark is kept in the connection; with --tproxy, the
 * intercepted ports go to sluice's transparent listener.  The restore only
 * touches unmarked packets, so a verdict that re-runs the chain (NF_REPEAT)
 * keeps its mark and is not queued again.
 */
static void
sluice_nf_fill_mangle(struct sluice_nf_script *s,
    const struct sluice_nf_family *f, const struct sluice_nf_opts *o,
    const char *lan)
{
	const struct sluice_nf_chain *c = &sluice_nf_chains[SLUICE_NF_MANGLE];
	struct sluice_nf_argv a;

	if (o->queue[0] != '\0') {
		sluice_nf_append(&a, c);
		sluice_nf_add(&a, "-i", lan, "-m", "mark", "--mark",
		    sluice_nf_unmarked, "-j", "CONNMARK", "--restore-mark",
		    "--mask", sluice_nf_mask, NULL);
		sluice_nf_script_add(s, c->table, &a);
		sluice_nf_append(&a, c);
		sluice_nf_add(&a, "-i", lan, "-p", "tcp", "-m", "conntrack",
		    "--ctstate", "NEW", "-m", "mark", "--mark",
		    sluice_nf_unmarked, "-j", "NFQUEUE", "--queue-num",
		    o->queue, NULL);
		if (o->fail_open)
			sluice_nf_add(&a, "--queue-bypass", NULL);
		sluice_nf_script_add(s, c->table, &a);
		sluice_nf_append(&a, c);
		sluice_nf_add(&a, "-i", lan, "-p", "udp", "!", "--dport", "53",
		    "-m", "conntrack", "--ctstate", "NEW", "-m", "mark",
		    "--mark", sluice_nf_unmarked, "-j", "NFQUEUE",
		    "--queue-num", o->queue, NULL);
		if (o->fail_open)
			sluice_nf_add(&a, "--queue-bypass", NULL);
		sluice_nf_script_add(s, c->table, &a);
		sluice_nf_append(&a, c);
		sluice_nf_add(&a, "-i", lan, "-j", "CONNMARK", "--save-mark",
		    "--mask", sluice_nf_mask, NULL);
		sluice_nf_script_add(s, c->table, &a);
	}
	if (!o->tproxy)
		return;
	/* Packets of a connection sluice already holds go to its socket. */
	sluice_nf_append(&a, c);
	sluice_nf_add(&a, "-i", lan, "-p", "tcp", "-m", "socket",
	    "--transparent", "-j", "MARK", "--set-xmark",
	    sluice_nf_tproxy_mark, NULL);
	sluice_nf_script_add(s, c->table, &a);
	sluice_nf_append(&a, c);
	sluice_nf_add(&a, "-i", lan, "-p", "tcp", "-m", "multiport",
	    "--dports", o->ports, NULL);
	if (o->queue[0] != '\0')
		sluice_nf_add(&a, "-m", "mark", "--mark",
		    sluice_nf_intercept_mark, NULL);
	sluice_nf_add(&a, "-j", "TPROXY", "--on-port",
	    sluice_nf_listen_port(f, o),
	    "--tproxy-mark", sluice_nf_tproxy_mark, NULL);
	sluice_nf_script_add(s, c->table, &a);
}

/* nat: REDIRECT of the intercepted ports (only flows sluice chose to
 * intercept, with --nfqueue). */
static void
sluice_nf_fill_nat(struct sluice_nf_script *s,
    const struct sluice_nf_family *f, const struct sluice_nf_opts *o,
    const char *lan)
{
	const struct sluice_nf_chain *c = &sluice_nf_chains[SLUICE_NF_NAT];
	struct sluice_nf_argv a;

	sluice_nf_append(&a, c);
	sluice_nf_add(&a, "-i", lan, "-p", "tcp", "-m", "multiport",
	    "--dports", o->ports, NULL);
	if (o->queue[0] != '\0')
		sluice_nf_add(&a, "-m", "mark", "--mark",
		    sluice_nf_intercept_mark, NULL);
	sluice_nf_add(&a, "-j", "REDIRECT", "--to-ports",
	    sluice_nf_listen_port(f, o), NULL);
	sluice_nf_script_add(s, c->table, &a);
}

/*
 * Queues the DNS answers leaving by lan in chain c, for sluice to learn
 * from: only replies (a client's own packet from port 53 is a flow, and
 * is decided as one), and always bypassing the queue when sluice is not
 * bound to it.
 */
static void
sluice_nf_fill_answers(struct sluice_nf_script *s,
    const struct sluice_nf_opts *o, const struct sluice_nf_chain *c,
    const char *lan)
{
	static const char *const protos[] = { "udp", "tcp" };
	struct sluice_nf_argv a;
	int i;

	for (i = 0; i < 2; i++) {
		sluice_nf_append(&a, c);
		sluice_nf_add(&a, "-o", lan, "-p", protos[i], "--sport", "53",
		    "-m", "conntrack", "--ctstate", "ESTABLISHED", "--ctdir",
		    "REPLY", "-j", "NFQUEUE", "--queue-num", o->queue,
		    "--queue-bypass", NULL);
		sluice_nf_script_add(s, c->table, &a);
	}
}

/* filter: flows sluice denied are refused at once, and so is QUIC from the
 * LAN, so that clients fall back to TCP (which sluice sees); with
 * --nfqueue, the DNS answers to the LAN go to the queue. */
static void
sluice_nf_fill_filter(struct sluice_nf_script *s,
    const struct sluice_nf_family *f, const struct sluice_nf_opts *o,
    const char *lan, int first)
{
	const struct sluice_nf_chain *c = &sluice_nf_chains[SLUICE_NF_FILTER];
	struct sluice_nf_argv a;

	if (first && o->queue[0] != '\0') {
		sluice_nf_append(&a, c);
		sluice_nf_add(&a, "-p", "tcp", "-m", "mark", "--mark",
		    sluice_nf_deny_mark, "-j", "REJECT", "--reject-with",
		    "tcp-reset", NULL);
		sluice_nf_script_add(s, c->table, &a);
		sluice_nf_append(&a, c);
		sluice_nf_add(&a, "-m", "mark", "--mark", sluice_nf_deny_mark,
		    "-j", "REJECT", "--reject-with", f->unreachable, NULL);
		sluice_nf_script_add(s, c->table, &a);
	}
	sluice_nf_append(&a, c);
	sluice_nf_add(&a, "-i", lan, "-p", "udp", "--dport", "443", "-j",
	    "REJECT", "--reject-with", f->unreachable, NULL);
	sluice_nf_script_add(s, c->table, &a);
	if (o->queue[0] != '\0')
		sluice_nf_fill_answers(s, o, c, lan);
}

/* The TPROXY policy route: marked packets are delivered locally. */
static int
sluice_nf_route_add(const struct sluice_nf_family *f)
{
	struct sluice_nf_argv a;

	if (!sluice_nf_ip_rule_present(f)) {
		sluice_nf_ip_rule(&a, f, "add");
		if (sluice_nf_must(&a) == -1)
			return -1;
	}
	a.n = 0;
	sluice_nf_add(&a, "ip", f->ip_flag, "route", "replace", "local",
	    "default", "dev", "lo", "table", SLUICE_NF_TPROXY_TABLE, NULL);
	return sluice_nf_must(&a);
}

/* Adds to s chain c of family f as the options o want it. */
static void
sluice_nf_script_chain(struct sluice_nf_script *s,
    const struct sluice_nf_family *f, const struct sluice_nf_opts *o,
    int i)
{
	int l;

	sluice_nf_script_fresh(s, &sluice_nf_chains[i]);
	for (l = 0; l < o->nlan; l++) {
		if (i == SLUICE_NF_MANGLE)
			sluice_nf_fill_mangle(s, f, o, o->lan[l]);
		else if (i == SLUICE_NF_NAT)
			sluice_nf_fill_nat(s, f, o, o->lan[l]);
		else if (i == SLUICE_NF_FILTER)
			sluice_nf_fill_filter(s, f, o, o->lan[l], l == 0);
		else
			sluice_nf_fill_answers(s, o, &sluice_nf_chains[i],
			    o->lan[l]);
	}
}

static int
sluice_nf_up_family(const struct sluice_nf_family *f,
    const struct sluice_nf_opts *o)
{
	struct sluice_nf_script s = { .buf = NULL };
	int need[SLUICE_NF_NCHAINS], had_tproxy, i, rc = -1;
	char *save;

	if ((save = sluice_nf_save(f)) == NULL)
		return -1;
	need[SLUICE_NF_MANGLE] = o->tproxy || o->queue[0] != '\0';
	need[SLUICE_NF_NAT] = !o->tproxy;
	need[SLUICE_NF_FILTER] = 1;
	need[SLUICE_NF_OUTPUT] = o->queue[0] != '\0';
	had_tproxy = sluice_nf_saved_tproxy(save);
	for (i = 0; i < SLUICE_NF_NCHAINS; i++) {
		if (!need[i]) {
			sluice_nf_script_remove(&s, save, &sluice_nf_chains[i]);
			continue;
		}
		sluice_nf_script_chain(&s, f, o, i);
		sluice_nf_script_jump(&s, save, &sluice_nf_chains[i]);
	}
	if (sluice_nf_restore(f, &s) == -1)
		goto fail;
	if (o->tproxy)
		rc = sluice_nf_route_add(f);
	else {
		if (had_tproxy)
			sluice_nf_route_remove(f);
		rc = 0;
	}
fail:
	free(s.buf);
	free(save);
	return rc;
}

static int
sluice_nf_up(const struct sluice_nf_opts *o)
{
	size_t i;

	for (i = 0; i < sizeof(sluice_nf_families) /
	    sizeof(sluice_nf_families[0]); i++) {
		if (sluice_nf_up_family(&sluice_nf_families[i], o) == -1) {
			fputs("sluice-netfilter: removing what was installed\n",
			    stderr);
			(void)sluice_nf_down();
			return -1;
		}
	}
	return 0;
}

/* --- status --------------------------------------------------------------- */

/*
 * Appends to list (size len) the value after every "key" in rules that is
 * not there yet, comma-separated: the LAN interfaces ("-i"), the ports...
 */
static void
sluice_nf_collect(const char *rules, const char *key, char *list, size_t len)
{
	const char *p = rules;
	char word[64], needle[72], padded[512];
	size_t klen = strlen(key), wlen, have;

	while ((p = strstr(p, key)) != NULL) {
		p += klen;
		wlen = strcspn(p, " \n");
		if (wlen == 0 || wlen >= sizeof(word))
			continue;
		memcpy(word, p, wlen);
		word[wlen] = '\0';
		snprintf(needle, sizeof(needle), ",%s,", word);
		snprintf(padded, sizeof(padded), ",%s,", list);
		have = strlen(list);
		if (strstr(padded, needle) == NULL)
			snprintf(list + have, len - have, "%s%s",
			    have ? "," : "", word);
	}
}

/* One line saying what the rules of family f do, from the rules alone. */
static void
sluice_nf_summary(const struct sluice_nf_family *f, const char *all)
{
	char lan[256] = "", ports[128] = "", to[64] = "", queue[32] = "";

	sluice_nf_collect(all, " -i ", lan, sizeof(lan));
	sluice_nf_collect(all, "--dports ", ports, sizeof(ports));
	sluice_nf_collect(all, strstr(all, "-j TPROXY") ? "--on-port " :
	    "--to-ports ", to, sizeof(to));
	sluice_nf_collect(all, "--queue-num ", queue, sizeof(queue));
	printf("%s: %s tcp ports %s from %s to port %s",
	    f->name, strstr(all, "-j TPROXY") ? "tproxy" : "redirect",
	    ports[0] ? ports : "?", lan[0] ? lan : "?", to[0] ? to : "?");
	if (queue[0] != '\0')
		printf("; nfqueue %s %s", queue, strstr(all, "--queue-bypass") ?
		    "fail-open" : "fail-closed");
	if (strstr(all, "--dport 443 -j REJECT") != NULL)
		printf("; udp/443 rejected");
	if (strstr(all, "--sport 53 ") != NULL)
		printf("; dns answers queued");
	printf("\n");
}

/* Prints the "-A" lines of chain c as "  -t TABLE -A ...". */
static void
sluice_nf_print_rules(const struct sluice_nf_chain *c, const char *rules)
{
	const char *p = rules, *end = rules + strlen(rules), *line;
	size_t len;

	while ((line = sluice_nf_next_line(&p, end, &len)) != NULL)
		if (strncmp(line, "-A ", 3) == 0)
			printf("  -t %s %.*s\n", c->table, (int)len, line);
}

/* Prints family f's rules; 1 if anything of the tool's is installed. */
static int
sluice_nf_status_family(const struct sluice_nf_family *f)
{
	const struct sluice_nf_chain *c;
	char *rules[SLUICE_NF_NCHAINS], *all, *save;
	size_t total = 1;
	int i, any = 0;

	save = sluice_nf_save(f);
	for (i = 0; i < SLUICE_NF_NCHAINS; i++) {
		rules[i] = save != NULL ?
		    sluice_nf_saved_chain(save, &sluice_nf_chains[i]) : NULL;
		if (rules[i] != NULL) {
			any = 1;
			total += strlen(rules[i]);
		}
	}
	if (!any) {
		printf("%s: not installed\n", f->name);
		free(save);
		return 0;
	}
	if ((all = calloc(1, total)) != NULL) {
		for (i = 0; i < SLUICE_NF_NCHAINS; i++)
			if (rules[i] != NULL)
				strcat(all, rules[i]);
		sluice_nf_summary(f, all);
		free(all);
	}
	for (i = 0; i < SLUICE_NF_NCHAINS; i++) {
		c = &sluice_nf_chains[i];
		if (rules[i] == NULL)
			continue;
		printf("  -t %s -A %s -j %s%s\n", c->table, c->from, c->chain,
		    sluice_nf_saved_jumps(save, c) > 0 ? "" :
		    "   (jump MISSING)");
		sluice_nf_print_rules(c, rules[i]);
		free(rules[i]);
	}
	free(save);
	if (sluice_nf_ip_rule_present(f))
		printf("  ip %s rule fwmark %s lookup %s\n", f->ip_flag,
		    sluice_nf_tproxy_mark, SLUICE_NF_TPROXY_TABLE);
	return 1;
}

static int
sluice_nf_status(void)
{
	size_t i;
	int any = 0;

	for (i = 0; i < sizeof(sluice_nf_families) /
	    sizeof(sluice_nf_families[0]); i++)
		any |= sluice_nf_status_family(&sluice_nf_families[i]);
	return any ? 0 : -1;
}

/* --- options -------------------------------------------------------------- */

static int
sluice_nf_port(const char *flag, const char *s, int min)
{
	char *ep;
	long v;

	errno = 0;
	v = strtol(s, &ep, 10);
	if (*s < '0' || *s > '9' || *ep != '\0' || errno != 0 || v < min ||
	    v > 65535)
		sluice_nf_usage_error("%s wants a number from %d to 65535, "
		    "not '%s'", flag, min, s);
	return (int)v;
}

/* An interface name iptables takes as it is ("+" is its wildcard). */
static void
sluice_nf_lan(struct sluice_nf_opts *o, const char *name)
{
	size_t len = strlen(name), i;

	if (len == 0 || len >= SLUICE_NF_IFNAMSIZ)
		sluice_nf_usage_error("--lan: '%s' is not an interface name "
		    "(1 to %d characters)", name, SLUICE_NF_IFNAMSIZ - 1);
	for (i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    strchr("-_.@+", name[i]) != NULL) || name[0] == '-')
			sluice_nf_usage_error("--lan: '%s' is not an interface "
			    "name", name);
	if (o->nlan >= SLUICE_NF_MAX_LAN)
		sluice_nf_usage_error("--lan: at most %d interfaces",
		    SLUICE_NF_MAX_LAN);
	memcpy(o->lan[o->nlan++], name, len + 1);
}

/* Calls each(o, item) for every item of a comma-separated list. */
static void
sluice_nf_list(struct sluice_nf_opts *o, const char *flag, const char *s,
    void (*each)(struct sluice_nf_opts *, const char *))
{
	char item[64];
	size_t len;

	for (;;) {
		len = strcspn(s, ",");
		if (len == 0 || len >= sizeof(item))
			sluice_nf_usage_error("%s: bad list '%s'", flag, s);
		memcpy(item, s, len);
		item[len] = '\0';
		each(o, item);
		if (s[len] == '\0')
			break;
		s += len + 1;
	}
}

static void
sluice_nf_one_port(struct sluice_nf_opts *o, const char *s)
{
	size_t have = strlen(o->ports);
	char *p;
	int n = 1;

	for (p = o->ports; (p = strchr(p, ',')) != NULL; p++)
		n++;
	if (have != 0 && n >= SLUICE_NF_MAX_PORTS)
		sluice_nf_usage_error("--ports: at most %d ports",
		    SLUICE_NF_MAX_PORTS);
	snprintf(o->ports + have, sizeof(o->ports) - have, "%s%d",
	    have ? "," : "", sluice_nf_port("--ports", s, 1));
}

static void
sluice_nf_parse_up(struct sluice_nf_opts *o, int argc, char *argv[])
{
	const char *a, *v;
	int i;

	for (i = 2; i < argc; i++) {
		a = argv[i];
		v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--tproxy") == 0) {
			o->tproxy = 1;
			continue;
		}
		if (strcmp(a, "--fail-open") == 0) {
			o->fail_open = 1;
			continue;
		}
		if (strcmp(a, "--fail-closed") == 0) {
			o->fail_open = 0;
			continue;
		}
		if (strcmp(a, "--lan") != 0 && strcmp(a, "--listen-port") != 0 &&
		    strcmp(a, "--listen-port6") != 0 &&
		    strcmp(a, "--ports") != 0 && strcmp(a, "--nfqueue") != 0)
			sluice_nf_usage_error("up: unknown option '%s'", a);
		if (v == NULL)
			sluice_nf_usage_error("%s needs a value", a);
		i++;
		if (strcmp(a, "--lan") == 0)
			sluice_nf_list(o, a, v, sluice_nf_lan);
		else if (strcmp(a, "--ports") == 0) {
			o->ports[0] = '\0';
			sluice_nf_list(o, a, v, sluice_nf_one_port);
		} else if (strcmp(a, "--listen-port") == 0)
			snprintf(o->listen_port, sizeof(o->listen_port), "%d",
			    sluice_nf_port(a, v, 1));
		else if (strcmp(a, "--listen-port6") == 0)
			snprintf(o->listen_port6, sizeof(o->listen_port6), "%d",
			    sluice_nf_port(a, v, 1));
		else
			snprintf(o->queue, sizeof(o->queue), "%d",
			    sluice_nf_port(a, v, 0));
	}
	if (o->nlan == 0)
		sluice_nf_usage_error("up needs --lan IFACE[,IFACE...]");
	if (o->listen_port[0] == '\0')
		sluice_nf_usage_error("up needs --listen-port PORT");
	if (o->fail_open && o->queue[0] == '\0')
		sluice_nf_usage_error("--fail-open needs --nfqueue NUM");
	if (o->ports[0] == '\0')
		snprintf(o->ports, sizeof(o->ports), "443");
}

int
main(int argc, char *argv[])
{
	struct sluice_nf_opts o;

	memset(&o, 0, sizeof(o));
	sluice_nf_marks_init();
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		fputs(sluice_nf_usage, stdout);
		return 0;
	}
	if (argc < 2) {
		fputs(sluice_nf_usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "up") == 0) {
		sluice_nf_parse_up(&o, argc, argv);
		return sluice_nf_up(&o) == 0 ? 0 : 1;
	}
	if (strcmp(argv[1], "down") == 0 || strcmp(argv[1], "status") == 0) {
		if (argc != 2)
			sluice_nf_usage_error("%s takes no options", argv[1]);
		if (argv[1][0] == 'd')
			return sluice_nf_down() == 0 ? 0 : 1;
		return sluice_nf_status() == 0 ? 0 : 1;
	}
	sluice_nf_usage_error("unknown command '%s' (up, down or status)",
	    argv[1]);
}
