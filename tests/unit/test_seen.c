/* seen: the record of what a plan looked at must tell later whether any of
 * it changed, and refuse to be trusted when a path changed while it was
 * being recorded or was written within the margin before. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/seen.h"
#include "test.h"
#include "core/util.h"

/* an hour ago: older than any margin */
static void age(const char *path)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 3600;
	ts[1] = ts[0];
	utimensat(AT_FDCWD, path, ts, 0);
}

/* ctime cannot be set: a file made now stays "new" for the margin, so the
 * tests use a margin of 0 (every stamp counts as old) unless they test it */
TEST(seen_record_merges_paths_and_tells_changes)
{
	struct seenpath *p;
	struct seenvar *v;
	size_t np, nv;

	intmpdir();
	put("a.txt", "one\n");
	mkdir("d", 0755);
	put("d/b.txt", "two\n");
	seenmargin(-1000000000LL); /* a second in the future: nothing is racy */
	seenstart();
	seenpath("a.txt", 1);
	seenpath("a.txt", 1); /* the same twice: one record */
	char *text = readfile("d/b.txt", NULL); /* through regularfd */
	free(text);
	DIR *d = opendirseen("d");
	REQUIRE(d != NULL);
	closedir(d);
	seenpath("missing.txt", 1);
	seenenv("MODE", NULL);
	seenenv("MODE", NULL);
	seenstop();
	seenpath("after.txt", 1); /* not recording: ignored */
	REQUIRE(seenrecord(&p, &np, &v, &nv) == 0);
	CHECK_INT(np, 4);
	CHECK_STR(p[0].path, "a.txt");
	CHECK_STR(p[1].path, "d");
	CHECK_STR(p[2].path, "d/b.txt");
	CHECK_STR(p[3].path, "missing.txt");
	CHECK_INT(p[3].err, ENOENT);
	CHECK_INT(nv, 1);
	CHECK_STR(v[0].name, "MODE");
	CHECK(hasheq(v[0].value, seenvarhash("MODE", NULL)));
	CHECK(!hasheq(seenvarhash("MODE", NULL), seenvarhash("MODE", ""))); /* unset is not empty */
	for (size_t i = 0; i < np; i++)
		CHECK(seensame(AT_FDCWD, p[i].path, &p[i]));
	/* same size, the old times put back: the ctime still tells */
	struct stat st;
	stat("a.txt", &st);
	put("a.txt", "ONE\n");
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	utimensat(AT_FDCWD, "a.txt", ts, 0);
	CHECK(!seensame(AT_FDCWD, "a.txt", &p[0]));
	put("d/c.txt", "new\n"); /* a new entry: the folder's data change */
	CHECK(!seensame(AT_FDCWD, "d", &p[1]));
	put("missing.txt", "here now\n");
	CHECK(!seensame(AT_FDCWD, "missing.txt", &p[3]));
	seenfree();
	seenmargin(0);
}

TEST(seen_record_refuses_a_path_that_changed_while_recorded)
{
	struct seenpath *p;
	struct seenvar *v;
	size_t np, nv;

	intmpdir();
	put("a.txt", "one\n");
	seenmargin(-1000000000LL);
	seenstart();
	seenpath("a.txt", 1);
	put("a.txt", "one more\n");
	seenpath("a.txt", 1);
	CHECK(seenrecord(&p, &np, &v, &nv) < 0);
	seenfree();
	seenmargin(0);
}

TEST(seen_record_marks_a_file_written_within_the_margin_racy)
{
	struct seenpath *p;
	struct seenvar *v;
	size_t np, nv;

	intmpdir();
	put("old.txt", "x\n");
	age("old.txt");
	seenmargin(0); /* the default second */
	seenstart();
	seenpath("old.txt", 1); /* its ctime is now: within the second */
	REQUIRE(seenrecord(&p, &np, &v, &nv) == 0);
	REQUIRE(np == 1);
	CHECK(!strcmp(p[0].path, "old.txt") && p[0].racy);
	CHECK(seenracy() == 1);
	CHECK(strstr(seenwhy(), "old.txt") != NULL);
	seenfree();
}
