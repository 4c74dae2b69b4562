/*
 * inject.h - credential injection: what a matching rule adds to a request.
 *
 * The request head is rewritten on its way to the upstream: headers the
 * rule injects replace any the client sent (never forwarded alongside), and
 * query parameters it injects replace the client's.  The audit copy of the
 * target shows injected parameters' values as "***".
 */
#ifndef SLUICE_INJECT_H
#define SLUICE_INJECT_H

#include <stddef.h>

#include "http1.h"

struct evbuffer;
struct rule;
struct rule_injection;

/*
 * Build inj->wire from inj->value (base64 for basic, "Bearer " prefix,
 * percent-encoding for query).  Called by the rules loader.  -1 if the
 * value cannot be sent (a NUL, CR or LF in a header value).
 */
int inject_prepare(struct rule_injection *inj);

/* Wipe and free value and wire. */
void inject_clear(struct rule_injection *inj);

/*
 * Write the request head at p (parsed as h) to out for rule (NULL: none):
 * the request line, made from h's method and version and target (the
 * target to send, e.g. normalised, in place of h->target) with injected
 * query parameters, then the fields that are neither hop-by-hop, framing
 * nor replaced, then the injected fields, then extra (whole field lines, or
 * NULL), then sluice's own framing field for the body it parsed, then the
 * blank line.  When a query parameter was injected, *audit_target
 * (malloc'd) gets the target with its value masked; otherwise it is NULL
 * and target is what to audit.  names gets the comma-separated names of
 * what was injected ("" when nothing).  -1 on allocation failure.
 */
int inject_write_request(struct evbuffer *out, const struct http1_head *h,
    const char *p, struct http1_str target, const struct rule *rule,
    const char *extra, char **audit_target, char *names, size_t namesz);

/* The header field an injection sets, or NULL for a query parameter. */
const char *inject_field_name(const struct rule_injection *inj);

/* Does rule (NULL: none) set the field named name (case-insensitive)? */
int inject_sets_field(const struct rule *rule, const char *name);

#endif
