/* testutil: temp folders and small file helpers for the tests. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "test.h"
#include "core/util.h"
#include "store/db.h"
#include "store/store.h"

static char *dirs[16];
static int ndirs;
static char *startcwd;

const char *tmpdir(void)
{
	char tmpl[] = "/tmp/evalmake-unit-XXXXXX";

	if (ndirs == (int)LEN(dirs) || !mkdtemp(tmpl)) {
		testfail(__FILE__, __LINE__, "cannot make a temp folder");
		abort();
	}
	dirs[ndirs] = xstrdup(tmpl);
	return dirs[ndirs++];
}

const char *intmpdir(void)
{
	const char *d = tmpdir();

	if (!startcwd)
		startcwd = getcwd(NULL, 0);
	if (chdir(d) < 0)
		abort();
	return d;
}

void put(const char *path, const char *text)
{
	char *dir = dirname_of(path);

	mkdirs(dir, 0755);
	free(dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		testfail(__FILE__, __LINE__, "cannot write %s", path);
		return;
	}
	fputs(text, f);
	fclose(f);
}

char *slurp(const char *path)
{
	return readfile(path, NULL);
}

void setmtime(const char *path, double ago)
{
	struct timespec t[2];

	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= (time_t)ago;
	t[1] = t[0];
	utimensat(AT_FDCWD, path, t, 0);
}

int countentries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

void testcleanup(void)
{
	if (startcwd) {
		if (chdir(startcwd) < 0)
			abort();
		free(startcwd);
		startcwd = NULL;
	}
	for (int i = 0; i < ndirs; i++) {
		rmtree(dirs[i]);
		free(dirs[i]);
	}
	ndirs = 0;
}

hash strkey(const char *s)
{
	return hashbytes(s, strlen(s));
}

struct store *teststore(const char *dir)
{
	char *err = NULL;
	struct store *s = openstore(dir, &err);

	if (!s) {
		testfail(__FILE__, __LINE__, "openstore: %s", err ? err : "?");
		free(err);
	}
	return s;
}

sqlite3 *testdb(const char *dir)
{
	char *p = pathjoin(dir, DB_NAME);
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		db = NULL;
	}
	if (db)
		sqlite3_busy_timeout(db, 10000);
	free(p);
	return db;
}
