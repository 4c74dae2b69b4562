/*
 * unit.h - the smallest test harness that does the job.
 *
 * Each check prints "ok N - what" or "not ok N - what (file:line)";
 * unit_done() prints the totals and returns the exit status.  tests/run-tests
 * counts the ok / not ok lines.
 */
#ifndef SLUICE_UNIT_H
#define SLUICE_UNIT_H

#include <stdio.h>

static int unit_n, unit_failed;

#define CHECK(cond, what) unit_check((cond) != 0, (what), __FILE__, __LINE__)

static inline void
unit_check(int ok, const char *what, const char *file, int line)
{
	unit_n++;
	if (ok) {
		printf("ok %d - %s\n", unit_n, what);
	} else {
		unit_failed++;
		printf("not ok %d - %s (%s:%d)\n", unit_n, what, file, line);
	}
	fflush(stdout);
}

static inline int
unit_done(void)
{
	printf("# %d checks, %d failed\n", unit_n, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
