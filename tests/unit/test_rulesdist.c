/*
 * test_rulesdist.c - snapshots and installs of the rules database, and the
 * stale -wal trap they avoid, on files in a temporary directory.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "rules.h"
#include "rulesdist.h"
#include "unit.h"

static char dir[] = "/tmp/test_rulesdist.XXXXXX";

/* A master as operators make it: rules/schema.sql, version 1. */
static const char schema[] =
#include "schema_sql.h"
;

/* dir/name, in a ring of 64: more than this test ever holds at once. */
static const char *
at(const char *name)
{
	static char buf[64][512];
	static int n;
	char *p = buf[n++ % 64];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

static int
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static sqlite3 *
db_open(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return NULL;
	sqlite3_busy_timeout(db, 2000);
	return db;
}

static int
db_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* The host of rule 1 as a fresh connection reads it ("" on error). */
static const char *
rule1_host(const char *path)
{
	static char host[64];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	host[0] = '\0';
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK && sqlite3_prepare_v2(db, "SELECT host FROM rules "
	    "WHERE id = 1", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		snprintf(host, sizeof(host), "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return host;
}

/* A database like sluice's: version 1, rule 1 for host. */
static int
make_db(const char *path, const char *host, int wal, int version)
{
	sqlite3 *db = db_open(path);
	char sql[8192];
	int rc;

	snprintf(sql, sizeof(sql), "%s%s INSERT INTO rules (id, host) "
	    "VALUES (1, '%s'); PRAGMA user_version = %d;",
	    wal ? "PRAGMA journal_mode = WAL;" : "", schema, host, version);
	rc = db != NULL ? db_exec(db, sql) : -1;
	sqlite3_close(db);
	return rc;
}

/*
 * A gateway's database in WAL mode whose last commit is still in its -wal:
 * a writer that does not checkpoint, and a reader that stays open, as
 * sluice's loader does.  Both are returned to be closed by the caller.
 */
static int
make_live_wal(const char *path, sqlite3 **writer, sqlite3 **reader)
{
	if (make_db(path, "old", 1, 1) == -1 ||
	    (*writer = db_open(path)) == NULL ||
	    (*reader = db_open(path)) == NULL ||
	    db_exec(*reader, "SELECT count(*) FROM rules") == -1 ||
	    db_exec(*writer, "PRAGMA wal_autocheckpoint = 0; "
	    "UPDATE rules SET host = 'old-in-wal' WHERE id = 1") == -1)
		return -1;
	return 0;
}

static int
install_file(const char *snap, const char *path, char *id, char *err)
{
	int fd = open(snap, O_RDONLY), rc;

	if (fd == -1)
		return -1;
	rc = rulesdist_install(fd, path, id, err);
	close(fd);
	return rc;
}

/* What the trap is: SQLite applies PATH-wal to whatever file is at PATH. */
static void
test_trap(void)
{
	sqlite3 *w = NULL, *r = NULL;
	const char *path = at("trap.db"), *next = at("trap-new.db");

	CHECK(make_live_wal(path, &w, &r) == 0, "trap: a WAL database with "
	    "a commit in its -wal");
	CHECK(make_db(next, "new", 0, 1) == 0, "trap: a new database");
	CHECK(rename(next, path) == 0, "trap: renamed over it");
	CHECK(strcmp(rule1_host(path), "old-in-wal") == 0,
	    "trap: a plain rename reads the old -wal over the new file");
	sqlite3_close(w);
	sqlite3_close(r);
}

static void
test_install_over_wal(void)
{
	char err[RULESDIST_ERRLEN], id[RULESDIST_IDLEN + 1];
	sqlite3 *w = NULL, *r = NULL;
	const char *path = at("gw.db"), *master = at("master1.db");
	const char *snap = at("snap1.db");
	struct rulesdist_info info;
	struct stat sb;

	CHECK(make_live_wal(path, &w, &r) == 0, "install: a live WAL database");
	chmod(path, 0604);
	CHECK(make_db(master, "new", 1, 1) == 0, "install: a WAL master");
	CHECK(rulesdist_snapshot(master, snap, err) == 0, "install: snapshot");
	CHECK(install_file(snap, path, id, err) == 0, "install: installed");
	CHECK(strcmp(rule1_host(path), "new") == 0,
	    "install: a new reader sees the new rules, not the old -wal");
	CHECK(!exists(at("gw.db-wal")) && !exists(at("gw.db-shm")),
	    "install: no -wal or -shm left next to the new file");
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0604,
	    "install: the old file's mode is kept");
	CHECK(rulesdist_info(path, &info, err) == 0 &&
	    strcmp(info.id, id) == 0 && info.version == RULES_SCHEMA_VERSION &&
	    info.nrules == 1 && !info.wal,
	    "install: info gives the id, the migrated version, the rule count");
	CHECK(rulesdist_info(snap, &info, err) == 0 &&
	    strcmp(info.id, id) == 0, "install: the snapshot has that id too");
	/* The old connections end without touching the new file. */
	sqlite3_close(w);
	sqlite3_close(r);
	CHECK(strcmp(rule1_host(path), "new") == 0 &&
	    rulesdist_verify(path, err) == 0,
	    "install: still new and sound once the old connections close");
	/* And once more over a file in rollback mode. */
	CHECK(install_file(snap, path, id, err) == 0 &&
	    strcmp(rule1_host(path), "new") == 0, "install: again");
}

static void
test_snapshot_checks(void)
{
	char err[RULESDIST_ERRLEN];
	unsigned char h[20];
	const char *out = at("snap2.db");
	FILE *f;
	int fd;

	CHECK(make_db(at("v99.db"), "x", 0, RULES_SCHEMA_VERSION + 1) == 0 &&
	    rulesdist_snapshot(at("v99.db"), out, err) == -1 &&
	    strstr(err, "schema version") != NULL && !exists(out),
	    "snapshot: a newer schema version is refused, nothing written");
	CHECK(make_db(at("v0.db"), "x", 0, 0) == 0 &&
	    rulesdist_snapshot(at("v0.db"), out, err) == -1 && !exists(out),
	    "snapshot: version 0 (made by hand) is refused");
	CHECK(rulesdist_snapshot(at("missing.db"), out, err) == -1 &&
	    !exists(out) && !exists(at("missing.db")),
	    "snapshot: a missing master is refused and not created");

	/* Page 2 (the rules table's root) overwritten with junk. */
	CHECK(make_db(at("bad.db"), "x", 0, 1) == 0, "a master to corrupt");
	fd = open(at("bad.db"), O_WRONLY);
	CHECK(fd != -1 && pwrite(fd, "garbage garbage garbage garbage", 31,
	    4096 + 0) == 31, "corrupted page 2");
	close(fd);
	CHECK(rulesdist_snapshot(at("bad.db"), out, err) == -1 && !exists(out),
	    "snapshot: a corrupt master is refused");

	CHECK(make_db(at("good.db"), "good", 1, 1) == 0 &&
	    rulesdist_snapshot(at("good.db"), out, err) == 0,
	    "snapshot: a WAL master");
	f = fopen(out, "rb");
	CHECK(f != NULL && fread(h, 1, sizeof(h), f) == sizeof(h) &&
	    h[18] == 1 && h[19] == 1, "snapshot: the copy is in rollback mode");
	if (f != NULL)
		fclose(f);
	CHECK(!exists(at("snap2.db-wal")) && !exists(at("snap2.db-journal")),
	    "snapshot: nothing next to it");
}

static void
test_install_refuses(void)
{
	char err[RULESDIST_ERRLEN], id[RULESDIST_IDLEN + 1];
	const char *path = at("gw2.db"), *junk = at("junk");
	struct rulesdist_info before, after;
	FILE *f;

	CHECK(make_db(path, "kept", 0, 1) == 0 &&
	    rulesdist_info(path, &before, err) == 0, "refuse: a gateway db");
	f = fopen(junk, "w");
	CHECK(f != NULL && fputs("not a database\n", f) >= 0, "refuse: junk");
	if (f != NULL)
		fclose(f);
	CHECK(install_file(junk, path, id, err) == -1 &&
	    strstr(err, "not an SQLite database") != NULL,
	    "refuse: junk is not installed");
	CHECK(make_db(at("v99b.db"), "x", 0, RULES_SCHEMA_VERSION + 1) == 0 &&
	    install_file(at("v99b.db"), path, id, err) == -1,
	    "refuse: a newer schema version is not installed");
	CHECK(make_db(at("walsnap.db"), "x", 1, 1) == 0 &&
	    install_file(at("walsnap.db"), path, id, err) == -1 &&
	    strstr(err, "WAL mode") != NULL,
	    "refuse: a file in WAL mode is not installed");
	CHECK(rulesdist_info(path, &after, err) == 0 &&
	    strcmp(before.id, after.id) == 0 &&
	    strcmp(rule1_host(path), "kept") == 0,
	    "refuse: the gateway keeps its database");
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_trap();
	test_install_over_wal();
	test_snapshot_checks();
	test_install_refuses();
	if (!unit_failed) {
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	return unit_done();
}
