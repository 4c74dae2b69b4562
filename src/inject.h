/*
 * inject.h - credential injection: what a matching rule adds to a request.
 *
 * The request message is changed on its way to the upstream: headers the
 * rule injects replace any the client sent (never forwarded alongside), and
 * query parameters it injects replace the client's.  The audit copy of the
 * target shows injected parameters' values as "***".
 */
#ifndef SLUICE_INJECT_H
#define SLUICE_INJECT_H

#include <stddef.h>

struct evbuffer;
struct http1_head;
struct mask_set;
struct msg;
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
 * Apply rule (NULL: none) to the request m: each injected field replaces
 * every field of that name (appended after the others), injected query
 * parameters replace the client's on m's path, and Accept-Encoding asks
 * for identity (a coded body would hide an echo from the masker).  When
 * a parameter was injected, *audit_target (malloc'd) gets the path with
 * its value masked; otherwise it is NULL and m's path is what to audit.
 * names gets the comma-separated names of what was injected ("" when
 * nothing).  m is marked as holding a secret (msg_free() wipes it).  -1
 * on allocation failure.
 */
int inject_request(struct msg *m, const struct rule *rule,
    char **audit_target, char *names, size_t namesz);

/*
 * The request an upstream gets, as the message m (made here; the caller's
 * msg_free() wipes the credentials): a copy of req (the exchange's
 * message, left as it was) with the rule's credentials (inject_request)
 * and extra field lines (the cache's validators) or NULL.  *audit_target
 * and names as for inject_request().  -1 on allocation failure, m then
 * freed already.
 */
int inject_request_copy(struct msg *m, const struct msg *req,
    const struct rule *rule, const char *extra, char **audit_target,
    char *names, size_t namesz);

/*
 * The same request written to out as HTTP/1.<minor>, with the framing
 * sluice decides.  The copy that held the credentials is wiped.  -1 on
 * allocation failure.
 */
int inject_write_request(struct evbuffer *out, const struct msg *req,
    int minor, const struct rule *rule, const char *extra,
    char **audit_target, char *names, size_t namesz);

/*
 * Add to set every form of inj's secret a response may echo: the value,
 * the encoded form it was sent in when that is not the value plus a
 * prefix (basic's base64, query's percent-encoding), and each of those
 * as a JSON string holds it (quote, backslash and control bytes escaped;
 * once more with '/' as "\/").  The rules loader builds rule->mask with
 * it.  -1 without memory or room (MASK_FORMS_MAX).
 */
int inject_mask_forms(struct mask_set *set, const struct rule_injection *inj);

/*
 * In the response head (or trailers) m, on its way to the client of a
 * request that rule (NULL: none) put credentials on, every form of a
 * secret the upstream echoed in a field value (rule->mask) becomes "***":
 * a redirect whose Location keeps the query comes back with "key=***",
 * which the next request's injection replaces again.  Forms shorter than
 * the mask are left.  Returns how many fields changed (m then wipes its
 * arena when freed), -1 without memory.
 */
int inject_mask_response(struct msg *m, const struct rule *rule);

/*
 * The response head h as inject_mask_response() leaves it, for the
 * cache: *out is h, with its fields in m (initialised here; the caller
 * frees it once done with out) when one echoed a secret.  -1 without
 * memory.
 */
int inject_mask_view(const struct http1_head *h, const struct rule *rule,
    struct msg *m, struct http1_head *out);

/*
 * Is the body of response m (or h) hidden from the masker: rule injects,
 * and the body comes with a content coding other than identity (or a
 * transfer coding besides chunked), which inject_request() asked the
 * upstream not to use?
 */
int inject_body_hidden(const struct rule *rule, const struct msg *m);
int inject_body_hidden_head(const struct rule *rule,
    const struct http1_head *h);

/* The header field an injection sets, or NULL for a query parameter. */
const char *inject_field_name(const struct rule_injection *inj);

/* Does rule (NULL: none) set the field named name (case-insensitive)? */
int inject_sets_field(const struct rule *rule, const char *name);

#endif
