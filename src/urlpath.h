/*
 * urlpath.h - the request target that rules match and the upstream gets.
 *
 * Pure: no I/O, no allocation.  A client can spell one path many ways
 * ("//admin", "/./admin", "/v1/../admin", "/%61dmin"); sluice matches
 * rules on one spelling and forwards that same spelling, so a rule and
 * the upstream never read two different paths.  Fuzzed by
 * tests/fuzz/fuzz_urlpath.c.
 */
#ifndef SLUICE_URLPATH_H
#define SLUICE_URLPATH_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Normalise an origin-form target (path, then an optional '?' and query)
 * into out, which has room for len + 1 bytes: the result is never longer
 * than the input, and is NUL-terminated.  In the path, escapes of
 * unreserved characters (ALPHA DIGIT - . _ ~) are decoded, the hex digits
 * of every other escape are upper-cased ("%2f" -> "%2F", still encoded),
 * then dot segments are removed (RFC 3986 5.2.4), also those that were
 * spelt "%2e".  Repeated slashes are kept.  The query is copied as it is.
 * The target "*" is copied as it is.
 *
 * Returns the length of out, or -1 when the target cannot be read one
 * way only: it is not origin-form or "*", a '%' in the path is not
 * followed by two hex digits, the path holds a raw '\\' (read as '/' by
 * IIS and some frameworks, not a URI character), or a segment is "." or
 * ".." with a ';' parameter ("..;x", which Tomcat and Jetty read as "..",
 * RFC 3986 as a name).  The caller answers 400.
 */
ssize_t urlpath_normalise(const char *target, size_t len, char *out);

/*
 * The length of target[0..len)'s path: what comes before its '?'.  Rules
 * match the path alone, and a log line that names a target writes only
 * this much of it ("%.*s"): the query may carry a client's credential or
 * an injected one.
 */
size_t urlpath_path_len(const char *target, size_t len);

/*
 * The normalised path np[0..len) (no query) as the most lenient upstreams
 * read it: "%2F" and "%5C" as '/' (nginx's $uri, IIS, Tomcat with
 * ALLOW_ENCODED_SLASH), each segment's ';' parameters dropped (Tomcat,
 * Jetty, Spring: "/admin;x" is "/admin"), then dot segments removed
 * again, so "/ok%2F..%2Fadmin" reads as "/admin".  Into out, which has
 * room for len + 1 bytes, NUL-terminated.  Returns its length, or -1 when
 * it cannot be read so.
 */
ssize_t urlpath_lenient(const char *np, size_t len, char *out);

/*
 * Can urlpath_lenient() read np[0..len) otherwise than as it is: does it
 * hold "%2F", "%5C" or ';'?
 */
int urlpath_ambiguous(const char *np, size_t len);

/* The value of a hex digit, or -1. */
int urlpath_hexval(char ch);

/* Is ch unreserved in RFC 3986 (ALPHA DIGIT - . _ ~)? */
int urlpath_unreserved(unsigned char ch);

#endif
