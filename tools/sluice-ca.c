/*
 * sluice-ca.c - create the interception CA that clients are told to trust.
 *
 * "sluice-ca init DIR" writes DIR/ca.key (mode 0600) and DIR/ca.crt (mode
 * 0644).  The certificate is built by certforge_ca_build(), so this tool and
 * the daemon agree on what a sluice CA is; this file only handles the
 * command line and the files.
 *
 * The key file is created with O_EXCL before any key exists: an existing key
 * is never overwritten, and the new one is never readable by others, not even
 * between open() and a chmod().  If anything fails after that, the key file
 * is removed again so that a second run can succeed.
 *
 * Exit status: 0 done, 1 failed (including "ca.key exists"), 2 usage.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certforge.h"

static const char sluice_ca_usage[] = "usage: sluice-ca init DIR\n";

/* Open path for writing with exactly mode, whatever the umask. */
static FILE *
sluice_ca_create(const char *path, int flags, mode_t mode)
{
	FILE *f;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, mode)) ==
	    -1) {
		if (errno == EEXIST)
			fprintf(stderr, "sluice-ca: %s exists; refusing to "
			    "overwrite\n", path);
		else
			fprintf(stderr, "sluice-ca: %s: %s\n", path,
			    strerror(errno));
		return NULL;
	}
	if (fchmod(fd, mode) == -1 || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "sluice-ca: %s: %s\n", path, strerror(errno));
		close(fd);
		return NULL;
	}
	return f;
}

/* Finish writing f; ok is whether everything before went well. */
static int
sluice_ca_close(FILE *f, int ok, const char *path)
{
	if (fclose(f) != 0 || !ok) {
		fprintf(stderr, "sluice-ca: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

static int
sluice_ca_init(const char *dir)
{
	char keypath[PATH_MAX], crtpath[PATH_MAX];
	EVP_PKEY *key = NULL;
	X509 *crt = NULL;
	FILE *f;
	int n, m;

	n = snprintf(keypath, sizeof(keypath), "%s/ca.key", dir);
	m = snprintf(crtpath, sizeof(crtpath), "%s/ca.crt", dir);
	if (n < 0 || (size_t)n >= sizeof(keypath) ||
	    m < 0 || (size_t)m >= sizeof(crtpath)) {
		fprintf(stderr, "sluice-ca: %s: name too long\n", dir);
		return -1;
	}
	if (mkdir(dir, 0755) == 0) {
		/* mkdir() honours the umask; the certificate must be public. */
		if (chmod(dir, 0755) == -1) {
			fprintf(stderr, "sluice-ca: %s: %s\n", dir,
			    strerror(errno));
			return -1;
		}
	} else if (errno != EEXIST) {
		fprintf(stderr, "sluice-ca: %s: %s\n", dir, strerror(errno));
		return -1;
	}

	if ((f = sluice_ca_create(keypath, O_EXCL, 0600)) == NULL)
		return -1;
	if ((key = EVP_EC_gen("P-256")) == NULL ||
	    (crt = certforge_ca_build(key, time(NULL))) == NULL) {
		fprintf(stderr, "sluice-ca: cannot make the CA\n");
		fclose(f);
		goto fail;
	}
	if (sluice_ca_close(f, PEM_write_PrivateKey(f, key, NULL, NULL, 0,
	    NULL, NULL), keypath) == -1)
		goto fail;

	if ((f = sluice_ca_create(crtpath, O_TRUNC, 0644)) == NULL)
		goto fail;
	if (sluice_ca_close(f, PEM_write_X509(f, crt), crtpath) == -1)
		goto fail;

	printf("sluice-ca: wrote %s (give it to clients to trust) and %s\n",
	    crtpath, keypath);
	X509_free(crt);
	EVP_PKEY_free(key);
	return 0;
 fail:
	unlink(keypath);
	X509_free(crt);
	EVP_PKEY_free(key);
	return -1;
}

int
main(int argc, char *argv[])
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		fputs(sluice_ca_usage, stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "init") != 0 || argv[2][0] == '\0') {
		fputs(sluice_ca_usage, stderr);
		return 2;
	}
	return sluice_ca_init(argv[2]) == 0 ? 0 : 1;
}
