/*
 * rulesdist.c - copies of the rules database for a fleet of gateways:
 * snapshot, verify, install, identify.
 *
 * Owns what makes one master rules.db the same file on every gateway.  A
 * snapshot is a consistent copy of the master (SQLite's backup API, in one
 * read transaction) in rollback-journal mode, brought to this build's
 * schema version by sluice's own migrations (so a gateway never rewrites
 * what it was sent, and every gateway reads one file), checked and
 * fsynced.  Its id
 * is the SHA-256 of its bytes; install copies those bytes verbatim and
 * sluice only reads them, so one id on two gateways means one rule set.
 * Install puts a snapshot at the path sluice reads by rename(2) from a
 * temporary file in the same directory: a reader opens the old file or the
 * new one, never a mix, and sluice's loader sees the new inode (rules.c)
 * and reloads.  Does not own the schema (rules.c) or the command line and
 * transport (tools/sluice-rules.c).
 *
 * The trap: SQLite pairs PATH-wal with whatever file is at PATH.  A
 * database sluice created is in WAL mode; if its -wal still holds frames
 * when another file is renamed in, the next connection opens the new file
 * in WAL mode and reads those frames over its pages: the old rules, or a
 * corrupt mix (tests/unit/test_rulesdist.c shows it).  So before the
 * rename, install checkpoints the old database into its main file
 * (wal_checkpoint(TRUNCATE)), holds its write lock so that no writer that
 * has it open can add frames, and unlinks -wal and -shm.  Connections
 * already open on the old file keep theirs; the new file, in rollback
 * mode, gets none, and later installs over it have nothing to retire.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "rules.h"
#include "rulesdist.h"

#define RULESDIST_BUSY_MS	5000
/* The largest snapshot install reads. */
#define RULESDIST_MAX_BYTES	(1024LL * 1024 * 1024)
#define RULESDIST_HEADER	100	/* bytes of an SQLite file header */

/* Long paths shorten the message; the buffer is RULESDIST_ERRLEN. */
static void __attribute__((format(printf, 2, 3)))
rulesdist_err(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, RULESDIST_ERRLEN, fmt, ap);
	va_end(ap);
}

static void
rulesdist_sqlerr(char *err, const char *path, sqlite3 *db)
{
	rulesdist_err(err, "%s: %s", path,
	    db != NULL ? sqlite3_errmsg(db) : "out of memory");
}

static int
rulesdist_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* fsync a file or a directory by name. */
static int
rulesdist_fsync(const char *path, int dir, char *err)
{
	int fd;

	fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
	if (fd == -1 || fsync(fd) == -1) {
		rulesdist_err(err, "%s: fsync: %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
rulesdist_fsync_dir_of(const char *path, char *err)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		rulesdist_err(err, "%s: path too long", path);
		return -1;
	}
	return rulesdist_fsync(dirname(buf), 1, err);
}

/* A temporary file next to path (so that rename stays in one file system). */
static int
rulesdist_mktemp(const char *path, char tmp[PATH_MAX], char *err)
{
	int fd;

	if (snprintf(tmp, PATH_MAX, "%s.XXXXXX", path) >= PATH_MAX) {
		rulesdist_err(err, "%s: path too long", path);
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		rulesdist_err(err, "%s: %s", tmp, strerror(errno));
	return fd;
}

/*
 * Checked on the bytes before SQLite opens the file: a file whose header
 * says WAL would make even a read-only open look for (or make) a -wal.
 */
static int
rulesdist_header_check(const char *path, const char *name, char *err)
{
	unsigned char h[RULESDIST_HEADER];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		rulesdist_err(err, "%s: %s", name, strerror(errno));
		return -1;
	}
	n = read(fd, h, sizeof(h));
	close(fd);
	if (n != (ssize_t)sizeof(h) || memcmp(h, "SQLite format 3", 16) != 0) {
		rulesdist_err(err, "%s: not an SQLite database",
		    name);
		return -1;
	}
	if (h[18] != 1 || h[19] != 1) {
		rulesdist_err(err, "%s: in WAL mode; a snapshot "
		    "must be in rollback-journal mode (sluice-rules snapshot "
		    "makes one)", name);
		return -1;
	}
	return 0;
}

/* PRAGMA integrity_check answers one row "ok", or the problems. */
static int
rulesdist_integrity(sqlite3 *db, const char *path, char *err)
{
	sqlite3_stmt *st = NULL;
	const char *row;
	char *p;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(1)", -1, &st,
	    NULL) != SQLITE_OK || (rc = sqlite3_step(st)) != SQLITE_ROW) {
		rulesdist_sqlerr(err, path, db);
		sqlite3_finalize(st);
		return -1;
	}
	row = (const char *)sqlite3_column_text(st, 0);
	if (row == NULL || strcmp(row, "ok") != 0) {
		rulesdist_err(err, "%s: integrity_check: %s", path,
		    row != NULL ? row : "no answer");
		/* Its report spans lines; ours is one. */
		for (p = err; (p = strpbrk(p, "\r\n")) != NULL; )
			*p = ' ';
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/* rulesdist_verify(), saying name in errors (a temporary file's origin). */
static int
rulesdist_check(const char *path, const char *name, char *err)
{
	sqlite3 *db = NULL;
	int64_t version, ntables;

	if (rulesdist_header_check(path, name, err) == -1)
		return -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		rulesdist_sqlerr(err, name, db);
		goto fail;
	}
	sqlite3_busy_timeout(db, RULESDIST_BUSY_MS);
	if (rulesdist_integrity(db, name, err) == -1)
		goto fail;
	if (rulesdist_int(db, "PRAGMA user_version", &version) == -1 ||
	    rulesdist_int(db, "SELECT count(*) FROM sqlite_schema "
	    "WHERE type = 'table' AND name = 'rules'", &ntables) == -1) {
		rulesdist_sqlerr(err, name, db);
		goto fail;
	}
	if (version < 1 || version > RULES_SCHEMA_VERSION) {
		rulesdist_err(err, "%s: schema version %lld, this "
		    "sluice-rules knows 1 to %d", name, (long long)version,
		    RULES_SCHEMA_VERSION);
		goto fail;
	}
	if (ntables == 0) {
		rulesdist_err(err, "%s: no rules table", name);
		goto fail;
	}
	sqlite3_close(db);
	return 0;
fail:
	sqlite3_close(db);
	return -1;
}

int
rulesdist_verify(const char *path, char *err)
{
	return rulesdist_check(path, path, err);
}

/* Copy master into the empty file tmp and leave it in rollback mode. */
static int
rulesdist_backup(const char *master, const char *tmp, char *err)
{
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	int rc, tries;

	if (sqlite3_open_v2(master, &src, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		rulesdist_sqlerr(err, master, src);
		goto fail;
	}
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		rulesdist_sqlerr(err, tmp, dst);
		goto fail;
	}
	sqlite3_busy_timeout(src, RULESDIST_BUSY_MS);
	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		rulesdist_sqlerr(err, tmp, dst);
		goto fail;
	}
	/* All pages in one step: one read transaction, one state. */
	for (tries = 0; (rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY ||
	    rc == SQLITE_LOCKED; tries++) {
		if (tries == RULESDIST_BUSY_MS / 50)
			break;
		sqlite3_sleep(50);
	}
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		rulesdist_err(err, "%s: backup: %s", master,
		    sqlite3_errstr(rc));
		goto fail;
	}
	/*
	 * The copied header keeps the master's journal mode; a WAL master
	 * gives a copy in WAL mode, which switching back rewrites.
	 */
	sqlite3_close(dst);
	dst = NULL;
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK || sqlite3_exec(dst, "PRAGMA journal_mode = DELETE",
	    NULL, NULL, NULL) != SQLITE_OK) {
		rulesdist_sqlerr(err, tmp, dst);
		goto fail;
	}
	sqlite3_close(src);
	if (sqlite3_close(dst) != SQLITE_OK) {
		rulesdist_err(err, "%s: cannot close", tmp);
		return -1;
	}
	return 0;
fail:
	sqlite3_close(src);
	sqlite3_close(dst);
	return -1;
}

/*
 * The copy at this build's schema version: rules_db_init() applies the
 * migrations a gateway's sluice would otherwise apply to the installed
 * file at start, changing it (and its id) behind the operator's back.
 */
static int
rulesdist_upgrade(const char *path, const char *name, char *err)
{
	if (rules_db_init(path) == -1) {
		rulesdist_err(err, "%s: cannot bring the copy to schema version "
		    "%d", name, RULES_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

int
rulesdist_snapshot(const char *master, const char *out, char *err)
{
	char tmp[PATH_MAX];
	int fd;

	if (access(master, R_OK) == -1) {
		rulesdist_err(err, "%s: %s", master,
		    strerror(errno));
		return -1;
	}
	if ((fd = rulesdist_mktemp(out, tmp, err)) == -1)
		return -1;
	close(fd);
	if (rulesdist_backup(master, tmp, err) == -1 ||
	    rulesdist_check(tmp, master, err) == -1 ||
	    rulesdist_upgrade(tmp, master, err) == -1 ||
	    rulesdist_check(tmp, master, err) == -1 ||
	    rulesdist_fsync(tmp, 0, err) == -1)
		goto fail;
	if (rename(tmp, out) == -1) {
		rulesdist_err(err, "%s: %s", out, strerror(errno));
		goto fail;
	}
	return rulesdist_fsync_dir_of(out, err);
fail:
	unlink(tmp);
	/* What the backup's own journal may have left. */
	if (strlen(tmp) + 9 < PATH_MAX) {
		strcat(tmp, "-journal");
		unlink(tmp);
	}
	return -1;
}

static void
rulesdist_hex(const unsigned char *md, char id[RULESDIST_IDLEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < RULESDIST_IDLEN / 2; i++) {
		id[2 * i] = hex[md[i] >> 4];
		id[2 * i + 1] = hex[md[i] & 0xf];
	}
	id[RULESDIST_IDLEN] = '\0';
}

/*
 * Copy in to out (to its end), hashing what passes.  out NULL: hash only.
 */
static int
rulesdist_copy(int in, int out, const char *name, char id[RULESDIST_IDLEN + 1],
    char *err)
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx;
	long long total = 0;
	ssize_t n, w, off;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		rulesdist_err(err, "%s: out of memory", name);
		goto fail;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rulesdist_err(err, "%s: read: %s", name,
			    strerror(errno));
			goto fail;
		}
		if ((total += n) > RULESDIST_MAX_BYTES) {
			rulesdist_err(err, "%s: larger than %lld "
			    "bytes", name, RULESDIST_MAX_BYTES);
			goto fail;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		for (off = 0; out != -1 && off < n; off += w) {
			if ((w = write(out, buf + off, (size_t)(n - off))) ==
			    -1) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				rulesdist_err(err, "%s: write: %s",
				    name, strerror(errno));
				goto fail;
			}
		}
	}
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	rulesdist_hex(md, id);
	return 0;
fail:
	EVP_MD_CTX_free(ctx);
	return -1;
}

/* The new file gets the old one's mode and owner, so sluice can read it. */
static int
rulesdist_own_like(int fd, const char *tmp, const char *path, char *err)
{
	struct stat sb;

	if (stat(path, &sb) == -1) {
		if (errno != ENOENT) {
			rulesdist_err(err, "%s: %s", path,
			    strerror(errno));
			return -1;
		}
		sb.st_mode = 0640;
		sb.st_uid = geteuid();
		sb.st_gid = getegid();
	}
	if (fchmod(fd, sb.st_mode & 07777) == -1 ||
	    ((sb.st_uid != geteuid() || sb.st_gid != getegid()) &&
	    fchown(fd, sb.st_uid, sb.st_gid) == -1)) {
		rulesdist_err(err, "%s: cannot give it %s's mode "
		    "and owner: %s", tmp, path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
rulesdist_exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 || errno != ENOENT;
}

static int
rulesdist_unlink(const char *path, char *err)
{
	if (unlink(path) == -1 && errno != ENOENT) {
		rulesdist_err(err, "%s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Make sure no -wal is left for the file that replaces path (see the top
 * of the file).  *held gets the connection that holds the old database's
 * write lock until the rename is done; NULL when there was nothing to do.
 */
static int
rulesdist_retire_wal(const char *path, sqlite3 **held, char *err)
{
	char wal[PATH_MAX], shm[PATH_MAX];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int busy;

	*held = NULL;
	if (snprintf(wal, sizeof(wal), "%s-wal", path) >= (int)sizeof(wal) ||
	    snprintf(shm, sizeof(shm), "%s-shm", path) >= (int)sizeof(shm)) {
		rulesdist_err(err, "%s: path too long", path);
		return -1;
	}
	if (!rulesdist_exists(wal) && !rulesdist_exists(shm))
		return 0;
	if (rulesdist_exists(path)) {
		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
		    SQLITE_OK)
			goto sqlfail;
		sqlite3_busy_timeout(db, RULESDIST_BUSY_MS);
		if (sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(TRUNCATE)",
		    -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW)
			goto sqlfail;
		busy = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		st = NULL;
		if (busy) {
			rulesdist_err(err, "%s: the old database's "
			    "WAL could not be checkpointed (busy)", path);
			goto fail;
		}
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
		    SQLITE_OK)
			goto sqlfail;
	}
	if (rulesdist_unlink(wal, err) == -1 ||
	    rulesdist_unlink(shm, err) == -1)
		goto fail;
	*held = db;
	return 0;
sqlfail:
	rulesdist_sqlerr(err, path, db);
fail:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return -1;
}

static void
rulesdist_release(sqlite3 *held)
{
	if (held == NULL)
		return;
	sqlite3_exec(held, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(held);
}

int
rulesdist_install(int in, const char *path, char id[RULESDIST_IDLEN + 1],
    char *err)
{
	char tmp[PATH_MAX];
	sqlite3 *held = NULL;
	int fd;

	if ((fd = rulesdist_mktemp(path, tmp, err)) == -1)
		return -1;
	if (rulesdist_copy(in, fd, path, id, err) == -1 ||
	    rulesdist_own_like(fd, tmp, path, err) == -1)
		goto fail;
	if (fsync(fd) == -1) {
		rulesdist_err(err, "%s: fsync: %s", tmp,
		    strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (rulesdist_check(tmp, "the snapshot", err) == -1 ||
	    rulesdist_retire_wal(path, &held, err) == -1)
		goto fail;
	if (rename(tmp, path) == -1) {
		rulesdist_err(err, "%s: %s", path, strerror(errno));
		goto fail;
	}
	rulesdist_release(held);
	return rulesdist_fsync_dir_of(path, err);
fail:
	rulesdist_release(held);
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

int
rulesdist_info(const char *path, struct rulesdist_info *info, char *err)
{
	char wal[PATH_MAX];
	struct stat sb;
	sqlite3 *db = NULL;
	int fd;

	memset(info, 0, sizeof(*info));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		rulesdist_err(err, "%s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (rulesdist_copy(fd, -1, path, info->id, err) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	info->wal = stat(wal, &sb) == 0 && sb.st_size > 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		rulesdist_sqlerr(err, path, db);
		goto fail;
	}
	sqlite3_busy_timeout(db, RULESDIST_BUSY_MS);
	if (rulesdist_int(db, "PRAGMA user_version", &info->version) == -1 ||
	    rulesdist_int(db, "SELECT count(*) FROM rules",
	    &info->nrules) == -1) {
		rulesdist_sqlerr(err, path, db);
		goto fail;
	}
	sqlite3_close(db);
	return 0;
fail:
	sqlite3_close(db);
	return -1;
}
