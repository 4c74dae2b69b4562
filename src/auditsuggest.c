/*
 * auditsuggest.c - the rule-making part of `sluice-audit suggest`.
 *
 * Owns the generalisation of would_deny requests into rules: a few paths
 * stay exact, many become the glob of their common directory.  Does not
 * own reading the audit or writing SQL (tools/sluice-audit.c).  Pure: no
 * I/O, no allocation.
 */
#include <string.h>

#include "auditsuggest.h"

int
auditsuggest_host_ok(const char *host)
{
	const unsigned char *p = (const unsigned char *)host;

	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '*' || *p == '/')
			return 0;
	return 1;
}

int
auditsuggest_method_ok(const char *method)
{
	const char *p = method;

	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++)
		if (*p < 'A' || *p > 'Z')
			return 0;
	return 1;
}

int
auditsuggest_glob(const char *const *paths, size_t n, char *out,
    size_t outsz)
{
	size_t i, len, k;

	if (n == 0 || paths[0][0] != '/')
		return -1;
	len = strlen(paths[0]);
	for (i = 1; i < n; i++) {
		if (paths[i][0] != '/')
			return -1;
		for (k = 0; k < len && paths[i][k] == paths[0][k]; k++)
			;
		len = k;
	}
	/* Up to the last '/' of the common part: a directory, not a stem. */
	while (len > 0 && paths[0][len - 1] != '/')
		len--;
	if (len <= 1)
		return 1;
	if (len + 2 > outsz)
		return -1;
	memcpy(out, paths[0], len);
	out[len] = '*';
	out[len + 1] = '\0';
	return 0;
}
