/* state: the stat cache (file hashes remembered between runs) and memos. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/state.h"
#include "store/db.h"
#include "test.h"
#include "core/util.h"

static hash fh(struct state *s, const char *path)
{
	hash h = {0, 0};

	if (filehash(s, path, &h) < 0)
		testfail(__FILE__, __LINE__, "filehash %s failed", path);
	return h;
}

static hash hashof(const char *text)
{
	return hashbytes(text, strlen(text));
}

/* wait until files written now are no longer "racy" (changed within the
 * last second), so the stat cache records them */
static void settle(void)
{
	struct timespec ts = {1, 200000000};

	nanosleep(&ts, NULL);
}

TEST(state_filehash_is_content_hash)
{
	intmpdir();
	struct state *s = openstate("cache");
	put("f", "hello\n");
	CHECK(hasheq(fh(s, "f"), hashof("hello\n")));
	put("empty", "");
	CHECK(hasheq(fh(s, "empty"), hashof("")));
	hash h;
	errno = 0;
	CHECK_INT(filehash(s, "missing", &h), -1);
	CHECK_INT(errno, ENOENT);
	closestate(s);
}

TEST(state_changed_file_is_rehashed)
{
	intmpdir();
	struct state *s = openstate("cache");
	put("f", "one");
	CHECK(hasheq(fh(s, "f"), hashof("one")));
	put("f", "three");
	CHECK(hasheq(fh(s, "f"), hashof("three")));
	put("f", "four!");
	CHECK(hasheq(fh(s, "f"), hashof("four!")));
	closestate(s);
}

/* one settle for the slow cases: remembered, then changed in ways that keep
 * the size or the mtime */
TEST(state_remembered_across_save_and_reopen_then_rehashed_on_change)
{
	intmpdir();
	mkdirs("cache", 0755);
	put("f", "aaaa");
	put("g", "same size");
	put("h", "keep mtime");
	settle();
	struct state *s = openstate("cache");
	CHECK(hasheq(fh(s, "f"), hashof("aaaa")));
	CHECK(hasheq(fh(s, "g"), hashof("same size")));
	CHECK(hasheq(fh(s, "h"), hashof("keep mtime")));
	savestate(s);
	closestate(s);

	/* the index records f with its hash */
	char hx[33];
	hashhex(hashof("aaaa"), hx);
	sqlite3 *db = NULL;
	REQUIRE(sqlite3_open("cache/" DB_NAME, &db) == SQLITE_OK);
	char *q = xasprintf("SELECT count(*) FROM files WHERE path = 'f' AND hash = '%s'", hx);
	sqlite3_stmt *st = NULL;
	CHECK(sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW
	      && sqlite3_column_int(st, 0) == 1);
	sqlite3_finalize(st);
	free(q);
	/* prove the reopened state trusts what it recorded: swap f's hash for
	 * another one in the index and see filehash return it unread */
	char other[33];
	hashhex(hashof("not the content"), other);
	q = xasprintf("UPDATE files SET hash = '%s' WHERE path = 'f'", other);
	CHECK(sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK);
	free(q);
	sqlite3_close(db);
	s = openstate("cache");
	CHECK(hasheq(fh(s, "f"), hashof("not the content")));

	/* g: same size, new content (and so a new mtime) */
	put("g", "SAME SIZE");
	CHECK(hasheq(fh(s, "g"), hashof("SAME SIZE")));
	/* h: new content, old mtime and size put back: the ctime still moves */
	struct stat before;
	CHECK_INT(stat("h", &before), 0);
	put("h", "KEEP MTIME");
	struct timespec ts[2] = {before.st_atim, before.st_mtim};
	CHECK_INT(utimensat(AT_FDCWD, "h", ts, 0), 0);
	CHECK(hasheq(fh(s, "h"), hashof("KEEP MTIME")));
	closestate(s);
}

TEST(state_forgetfile_forces_rehash)
{
	intmpdir();
	mkdirs("cache", 0755);
	put("f", "abc");
	struct state *s = openstate("cache");
	hash h = fh(s, "f");
	forgetfile(s, "f");
	forgetfile(s, "never-seen");
	CHECK(hasheq(fh(s, "f"), h));
	closestate(s);
}

TEST(state_memo_round_trip_through_save)
{
	intmpdir();
	mkdirs("cache", 0755);
	struct state *s = openstate("cache");
	hash key = hashof("key"), key2 = hashof("key2"), val[2] = {hashof("v0"), hashof("v1")}, got[2];

	CHECK_INT(memoget(s, key, got), -1);
	memoput(s, key, val);
	CHECK_INT(memoget(s, key, got), 0);
	CHECK(hasheq(got[0], val[0]) && hasheq(got[1], val[1]));
	savestate(s);
	closestate(s);

	s = openstate("cache");
	memset(got, 0, sizeof(got));
	CHECK_INT(memoget(s, key, got), 0);
	CHECK(hasheq(got[0], val[0]) && hasheq(got[1], val[1]));
	CHECK_INT(memoget(s, key2, got), -1);
	/* overwrite, save, reopen */
	hash val2[2] = {hashof("w0"), hashof("w1")};
	memoput(s, key, val2);
	savestate(s);
	closestate(s);
	s = openstate("cache");
	CHECK_INT(memoget(s, key, got), 0);
	CHECK(hasheq(got[0], val2[0]) && hasheq(got[1], val2[1]));
	closestate(s);
}

TEST(state_many_memos_survive)
{
	intmpdir();
	mkdirs("cache", 0755);
	struct state *s = openstate("cache");
	char k[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		hash v[2] = {hashof(k), hashof("x")};
		memoput(s, hashof(k), v);
	}
	savestate(s);
	closestate(s);
	s = openstate("cache");
	int bad = 0;
	for (int i = 0; i < 5000; i++) {
		hash got[2];
		snprintf(k, sizeof(k), "k%d", i);
		if (memoget(s, hashof(k), got) < 0 || !hasheq(got[0], hashof(k)))
			bad++;
	}
	CHECK_INT(bad, 0);
	closestate(s);
}

TEST(state_corrupt_file_is_empty)
{
	intmpdir();
	mkdirs("cache", 0755);
	put("f", "content");
	put("cache/state", "\x7f" "ELF garbage\nM zz\nF 1 2 3\n");
	struct state *s = openstate("cache");
	hash got[2];
	CHECK_INT(memoget(s, hashof("anything"), got), -1);
	CHECK(hasheq(fh(s, "f"), hashof("content")));
	closestate(s);
}

TEST(state_corrupt_lines_are_skipped)
{
	char hx[33], bad[33];

	intmpdir();
	mkdirs("cache", 0755);
	put("f", "content");
	hashhex(hashof("k"), hx);
	hashhex(hashof("v"), bad);
	/* a right header, one good memo, then junk of every kind */
	char *text = xasprintf("evalmake-state 2\n"
	                       "M %s %s %s\n"
	                       "M %s short\n"
	                       "F not numbers %s f\n"
	                       "F 7 1 1 1 1 %s\n"
	                       "Q what\n",
	                       hx, bad, bad, hx, bad, bad);
	put("cache/state", text);
	free(text);
	struct state *s = openstate("cache");
	hash got[2];
	CHECK_INT(memoget(s, hashof("k"), got), 0);
	CHECK(hasheq(fh(s, "f"), hashof("content")));
	closestate(s);
}

TEST(state_missing_cache_folder_is_empty_state)
{
	intmpdir();
	struct state *s = openstate("no/such/cache");
	hash got[2];

	CHECK_INT(memoget(s, hashof("k"), got), -1);
	closestate(s);
}

TEST(state_save_without_changes_writes_nothing)
{
	intmpdir();
	mkdirs("cache", 0755);
	struct state *s = openstate("cache");

	savestate(s);
	CHECK(access("cache/state", F_OK) < 0);
	closestate(s);
}
