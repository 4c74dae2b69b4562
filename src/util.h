/*
 * util.h - small helpers shared by several files: address formatting and
 * parsing, clocks, lowercasing.
 */
#ifndef SLUICE_UTIL_H
#define SLUICE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "ip:port" ("[v6]:port" for IPv6; IPv4-mapped addresses print as IPv4). */
void util_addr_str(const struct sockaddr *sa, char *buf, size_t bufsz);
/* The address alone, without port or brackets. */
void util_addr_ip(const struct sockaddr *sa, char *buf, size_t bufsz);
int util_addr_port(const struct sockaddr *sa);
socklen_t util_addr_len(const struct sockaddr *sa);

/*
 * Parse "a.b.c.d:port", "[v6]:port" or a bare address when default_port > 0.
 * Returns 0 or -1.
 */
int util_parse_addr(const char *s, int default_port,
    struct sockaddr_storage *ss, socklen_t *len);

/* Is s an IPv4 or IPv6 literal? */
int util_is_ip_literal(const char *s);

/* The same host name (any case), or two spellings of the same IP address. */
int util_same_host(const char *a, const char *b);

int64_t util_wall_ms(void);
double util_mono_ms(void);

/* Copy at most n bytes of src, lowercased, into dst (dstsz incl. NUL). */
void util_lowercase(char *dst, size_t dstsz, const char *src, size_t n);

/*
 * Copy at most n bytes of src into dst (dstsz incl. NUL), truncated to fit:
 * snprintf(dst, dstsz, "%.*s", n, src) for a src without NULs, without the
 * formatting (once or twice per request).
 */
void util_copy(char *dst, size_t dstsz, const char *src, size_t n);

/*
 * Overwrite every byte buf holds (a head with injected credentials) before
 * its memory goes back to the allocator; then free it.  NULL: a no-op.
 */
struct evbuffer;
void util_evbuffer_wipe_free(struct evbuffer *buf);

#endif
