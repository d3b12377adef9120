/* Unit tests of the inline run entries (store.h: commitentry, entrypart,
 * entryparts, entryartifacts, entrytime): rows of index.db for the small
 * entries, folders for artifacts and big parts. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "store/store.h"
#include "test.h"
#include "core/util.h"

/* one integer from the test's own connection to dir's index */
static long long dbint2(const char *dir, const char *sql)
{
	char *p = pathjoin(dir, "index.db");
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_open(p, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(p);
	return v;
}

TEST(store2_small_entry_is_a_row_and_reads_back)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);
	char meta[600];

	REQUIRE(s != NULL);
	/* a meta.json long enough to compress */
	snprintf(meta, sizeof(meta), "{\"output_hash\": \"x\", \"pad\": \"%0400d\"}", 7);
	struct part parts[] = {{"output", "hello", 5}, {"transcript", "", 0}, {"meta.json", meta, strlen(meta)}};
	struct runrec r = {.out = strkey("hello"), .seconds = 0.5};
	CHECK_INT(commitentry(s, strkey("k"), parts, 3, NULL, &r, 0), 0);
	char *p = runpath(s, strkey("k"));
	struct stat st;
	CHECK(stat(p, &st) < 0); /* no file, no folder */
	size_t len = 99;
	char *o = entrypart(s, strkey("k"), "output", &len);
	CHECK_STR(o, "hello");
	CHECK_INT((long)len, 5);
	free(o);
	char *t = entrypart(s, strkey("k"), "transcript", &len);
	CHECK(t != NULL && len == 0);
	free(t);
	CHECK(entrypart(s, strkey("k"), "prompt", NULL) == NULL);
	char *names = entryparts(s, strkey("k"));
	CHECK_STR(names, "output\ntranscript\nmeta.json\n");
	free(names);
	CHECK(entryartifacts(s, strkey("k")) == NULL);
	CHECK(entrytime(s, strkey("k")) > (long long)(time(NULL) - 60) * 1000000000LL);
	closestore(s);
	CHECK_INT((int)dbint2(d, "SELECT count(*) FROM entries"), 1);
	CHECK_INT((int)dbint2(d, "SELECT zstd FROM entries"), 1);
	CHECK_INT((int)dbint2(d, "SELECT count(*) FROM runs"), 1);
	/* and after reopening */
	s = teststore(d);
	REQUIRE(s != NULL);
	const struct runrec *got = findrun(s, strkey("k"));
	CHECK(got != NULL && hasheq(got->out, strkey("hello")));
	char *m = entrypart(s, strkey("k"), "meta.json", NULL);
	CHECK_STR(m, meta);
	free(m);
	closestore(s);
	free(p);
}

TEST(store2_first_writer_wins_unless_replace)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	struct part a[] = {{"output", "first", 5}, {"meta.json", "{}", 2}};
	struct part b[] = {{"output", "second", 6}, {"meta.json", "{}", 2}};
	struct runrec ra = {.out = strkey("first")}, rb = {.out = strkey("second")};
	CHECK_INT(commitentry(s, strkey("k"), a, 2, NULL, &ra, 0), 0);
	CHECK_INT(commitentry(s, strkey("k"), b, 2, NULL, &rb, 0), 0);
	char *o = entrypart(s, strkey("k"), "output", NULL);
	CHECK_STR(o, "first");
	free(o);
	CHECK_INT(commitentry(s, strkey("k"), b, 2, NULL, &rb, 1), 0);
	o = entrypart(s, strkey("k"), "output", NULL);
	CHECK_STR(o, "second");
	free(o);
	const struct runrec *got = findrun(s, strkey("k"));
	CHECK(got != NULL && hasheq(got->out, strkey("second")));
	closestore(s);
}

TEST(store2_artifacts_or_a_big_part_make_a_folder)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	/* an artifacts folder with a file */
	char *art = pathjoin(d, "art");
	CHECK_INT(mkdirs(art, 0755), 0);
	char *f = pathjoin(art, "note");
	writefile(f, "n", 1);
	struct part parts[] = {{"output", "out", 3}, {"meta.json", "{}", 2}};
	struct runrec r = {.out = strkey("out")};
	CHECK_INT(commitentry(s, strkey("a"), parts, 2, art, &r, 0), 0);
	char *where = entryartifacts(s, strkey("a"));
	REQUIRE(where != NULL);
	char *note = pathjoin(where, "note");
	char *n = readfile(note, NULL);
	CHECK_STR(n, "n");
	free(n);
	char *o = entrypart(s, strkey("a"), "output", NULL);
	CHECK_STR(o, "out");
	free(o);
	/* an empty artifacts folder is none */
	char *empty = pathjoin(d, "empty");
	CHECK_INT(mkdirs(empty, 0755), 0);
	CHECK_INT(commitentry(s, strkey("b"), parts, 2, empty, &r, 0), 0);
	CHECK(entryartifacts(s, strkey("b")) == NULL);
	/* a part over 256 KiB */
	size_t big = 300 * 1024;
	char *data = xmalloc(big);
	memset(data, 'x', big);
	struct part bp[] = {{"output", "out", 3}, {"transcript", data, big}, {"meta.json", "{}", 2}};
	CHECK_INT(commitentry(s, strkey("c"), bp, 3, NULL, &r, 0), 0);
	char *cp = runpath(s, strkey("c"));
	struct stat st;
	CHECK(stat(cp, &st) == 0 && S_ISDIR(st.st_mode));
	size_t len = 0;
	char *t = entrypart(s, strkey("c"), "transcript", &len);
	CHECK(t != NULL && len == big);
	free(t);
	closestore(s);
	CHECK_INT((int)dbint2(d, "SELECT count(*) FROM entries"), 1); /* b only */
	free(cp);
	free(data);
	free(empty);
	free(note);
	free(where);
	free(f);
	free(art);
}

/* a folder from newentry without artifacts goes inline; its folder goes */
TEST(store2_commitrun_of_a_small_folder_is_a_row)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	char *tmp = newentry(s, 1);
	char *o = pathjoin(tmp, "output"), *m = pathjoin(tmp, "meta.json");
	writefile(o, "x", 1);
	writefile(m, "{}", 2);
	struct runrec r = {.out = strkey("x")};
	CHECK_INT(commitrun(s, strkey("k"), tmp, &r, 0), 0);
	struct stat st;
	CHECK(stat(tmp, &st) < 0);
	char *p = runpath(s, strkey("k"));
	CHECK(stat(p, &st) < 0);
	char *got = entrypart(s, strkey("k"), "output", NULL);
	CHECK_STR(got, "x");
	free(got);
	/* dropped: the row goes */
	CHECK_INT(droprun(s, strkey("k")), 0);
	CHECK(entrypart(s, strkey("k"), "output", NULL) == NULL);
	closestore(s);
	CHECK_INT((int)dbint2(d, "SELECT count(*) FROM entries"), 0);
	free(p);
	free(o);
	free(m);
	free(tmp);
}
