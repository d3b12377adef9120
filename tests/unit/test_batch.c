/* Unit tests of batches of inline entries (store.h: storebatch,
 * storecommitbatch): held entries are invisible until their batch
 * commits, then read back as any; a kill -9 before the commit leaves none
 * of them; first writer wins per key, as one at a time. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"
#include "test.h"
#include "core/util.h"

/* the rows of the entries table, read by the test's own connection: what
 * other processes see (-1 when there is no index) */
static long long nrows(const char *dir)
{
	char *p = pathjoin(dir, "index.db");
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
	    && sqlite3_prepare_v2(db, "SELECT count(*) FROM entries", -1, &st, NULL) == SQLITE_OK
	    && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(p);
	return v;
}

/* store the entry of key whose output is out (inline: small, no artifacts) */
static int put1(struct store *s, const char *key, const char *out)
{
	char meta[200], hx[33];
	hashhex(strkey(out), hx);
	snprintf(meta, sizeof(meta), "{\"output_hash\": \"%s\", \"exit\": 0}", hx);
	struct part parts[] = {{"output", out, strlen(out)}, {"meta.json", meta, strlen(meta)}};
	struct runrec r = {.out = strkey(out), .seconds = 1.5, .intokens = -1, .outtokens = -1};
	return commitentry(s, strkey(key), parts, 2, NULL, &r, 0);
}

static void checkout(struct store *s, const char *key, const char *out)
{
	const struct runrec *r = findrun(s, strkey(key));
	CHECK(r != NULL && hasheq(r->out, strkey(out)));
	char *o = entrypart(s, strkey(key), "output", NULL);
	CHECK_STR(o, out);
	free(o);
}

TEST(batch_entries_appear_at_commit_and_read_back)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);
	REQUIRE(s != NULL);
	size_t bytes = 1;

	storebatch(s, 1);
	CHECK_INT(put1(s, "a", "alpha"), 0);
	CHECK_INT(put1(s, "b", "beta"), 0);
	/* a part over 256 KiB: a folder, stored at once as outside a batch */
	size_t big = 300 * 1024;
	char *text = xmalloc(big);
	memset(text, 'x', big);
	char meta[200], hx[33];
	hashhex(hashbytes(text, big), hx);
	snprintf(meta, sizeof(meta), "{\"output_hash\": \"%s\"}", hx);
	struct part parts[] = {{"output", text, big}, {"meta.json", meta, strlen(meta)}};
	struct runrec r = {.out = hashbytes(text, big), .intokens = -1, .outtokens = -1};
	CHECK_INT(commitentry(s, strkey("c"), parts, 2, NULL, &r, 0), 0);
	CHECK_INT(storebatched(s, &bytes), 2);
	CHECK(bytes > 0);
	/* held: not seen by another connection */
	struct store *other = teststore(d);
	REQUIRE(other != NULL);
	CHECK(findrun(other, strkey("a")) == NULL);
	CHECK(entrypart(other, strkey("b"), "output", NULL) == NULL);
	CHECK_INT(nrows(d), 0);
	char *p = runpath(s, strkey("c"));
	struct stat st;
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	free(p);
	/* nor is the run lock of a held key let go: another process that
	 * took it would find no entry and run it again */
	CHECK_INT(lockrun(s, strkey("a")), 1);
	unlockrun(s, strkey("a"));
	CHECK_INT(storebatched(s, &bytes), 2);
	pid_t pid = fork();
	if (pid == 0) {
		struct store *c = teststore(d);
		_exit(c && lockrun(c, strkey("a")) == 1 ? 1 : 0);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* it could not take it */

	/* here, a lookup of a held key commits the batch first */
	checkout(s, "a", "alpha");
	CHECK_INT(storebatched(s, &bytes), 0);
	CHECK_INT((long long)bytes, 0);
	CHECK_INT(nrows(d), 2);
	checkout(s, "b", "beta");
	checkout(other, "b", "beta");
	CHECK_INT(storecommitbatch(s), 0);
	closestore(other);
	/* still batching: the next one is held until the batch ends */
	CHECK_INT(put1(s, "d", "delta"), 0);
	CHECK_INT(nrows(d), 2);
	storebatch(s, 0);
	CHECK_INT(nrows(d), 3);
	/* out of a batch: at once */
	CHECK_INT(put1(s, "e", "epsilon"), 0);
	CHECK_INT(nrows(d), 4);
	closestore(s);

	s = teststore(d);
	REQUIRE(s != NULL);
	checkout(s, "a", "alpha");
	checkout(s, "b", "beta");
	checkout(s, "d", "delta");
	checkout(s, "e", "epsilon");
	char *o = entrypart(s, strkey("c"), "output", NULL);
	CHECK(o != NULL && strlen(o) == big);
	free(o);
	free(text);
	closestore(s);
}

TEST(batch_killed_before_commit_leaves_nothing)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);
	REQUIRE(s != NULL);
	CHECK_INT(put1(s, "before", "stored"), 0);
	closestore(s);

	fflush(NULL);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		struct store *c = teststore(d);
		storebatch(c, 1);
		put1(c, "a", "alpha");
		put1(c, "b", "beta");
		raise(SIGKILL);
		_exit(1);
	}
	int status = 0;
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK_INT(nrows(d), 1);
	s = teststore(d);
	REQUIRE(s != NULL);
	CHECK(findrun(s, strkey("a")) == NULL);
	CHECK(findrun(s, strkey("b")) == NULL);
	CHECK(entrypart(s, strkey("a"), "output", NULL) == NULL);
	checkout(s, "before", "stored");
	closestore(s);
}

TEST(batch_first_writer_wins)
{
	const char *d = tmpdir();
	struct store *one = teststore(d), *two = teststore(d);
	REQUIRE(one != NULL && two != NULL);

	storebatch(two, 1);
	CHECK_INT(put1(two, "k", "second"), 0);
	/* two of the same key in one batch: the first is kept */
	CHECK_INT(put1(two, "j", "first in the batch"), 0);
	CHECK_INT(put1(two, "j", "second in the batch"), 0);
	/* another process stores k while the batch is held: it was first */
	CHECK_INT(put1(one, "k", "first"), 0);
	CHECK_INT(storecommitbatch(two), 0);
	checkout(two, "k", "first");
	checkout(two, "j", "first in the batch");
	CHECK_INT(nrows(d), 2);
	closestore(two);
	checkout(one, "j", "first in the batch");
	closestore(one);
}

TEST(batch_closestore_commits_what_it_holds)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);
	REQUIRE(s != NULL);

	storebatch(s, 1);
	CHECK_INT(put1(s, "a", "alpha"), 0);
	closestore(s);
	CHECK_INT(nrows(d), 1);
	s = teststore(d);
	REQUIRE(s != NULL);
	checkout(s, "a", "alpha");
	closestore(s);
}

/* storefollow: a store tells whether every change to the results since a
 * generation was its own (report/noop.h keeps a record only then) */
TEST(batch_follow_sees_only_its_own_writes)
{
	const char *d = tmpdir();
	char *err = NULL;
	struct store *s = openstore(d, &err), *other = openstore(d, &err);

	REQUIRE(s && other);
	long long g0 = storeresults(s);
	REQUIRE(g0 >= 0);
	storefollow(s, g0);
	CHECK(storemine(s) == g0);
	REQUIRE(put1(s, "k1", "one") == 0);
	storeflush(s);
	long long g1 = storemine(s);
	CHECK(g1 > g0);
	CHECK(g1 == storeresults(other));
	/* another connection writes: the next write of ours sees it */
	REQUIRE(put1(other, "k2", "two") == 0);
	storeflush(other);
	CHECK(storemine(s) == g1); /* not known until ours writes again */
	REQUIRE(put1(s, "k3", "three") == 0);
	storeflush(s);
	CHECK(storemine(s) == -1);
	closestore(other);
	closestore(s);
}
