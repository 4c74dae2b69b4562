/*
 * rulesdist.h - copies of the rules database for a fleet of gateways:
 * snapshot, verify, install, identify (tools/sluice-rules).
 *
 * Every function writes why it failed to err (RULESDIST_ERRLEN bytes) and
 * returns -1; none logs, so the tool can say it once per gateway.
 */
#ifndef SLUICE_RULESDIST_H
#define SLUICE_RULESDIST_H

#include <stdint.h>

#define RULESDIST_ERRLEN	512
#define RULESDIST_IDLEN		16	/* hex digits of the SHA-256 shown */

/* What status reports about the database at a path. */
struct rulesdist_info {
	char		 id[RULESDIST_IDLEN + 1];	/* of the file's bytes */
	int64_t		 version;	/* user_version */
	int64_t		 nrules;	/* rows in rules, enabled or not */
	int		 wal;		/* a non-empty -wal: edits the id misses */
};

/*
 * A consistent copy of master at out (one read transaction of master, by
 * SQLite's backup API), in rollback-journal mode, verified and fsynced,
 * put at out by rename.  out is never half written.
 */
int rulesdist_snapshot(const char *master, const char *out, char *err);

/*
 * A database we distribute: an SQLite file in rollback-journal mode,
 * PRAGMA integrity_check "ok", a rules table, and a user_version between
 * 1 and RULES_SCHEMA_VERSION.
 */
int rulesdist_verify(const char *path, char *err);

/*
 * Read a snapshot from fd and make it the database at path, atomically:
 * temporary file in path's directory, fsync, verify, retire the old
 * database's -wal and -shm, rename, fsync of the directory.  The new file
 * gets the old one's mode and owner (0640 and ours when there was none).
 * id receives the snapshot's id.  On failure path is untouched.
 */
int rulesdist_install(int fd, const char *path,
    char id[RULESDIST_IDLEN + 1], char *err);

int rulesdist_info(const char *path, struct rulesdist_info *info, char *err);

#endif
