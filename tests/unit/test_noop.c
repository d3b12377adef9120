/* noop: past a few hundred point queries the state reads its files and memos
 * tables in one scan (state.c: bulkload). The answers must be those the point
 * queries would have given. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/state.h"
#include "test.h"
#include "core/util.h"

enum { MANY = 1000 }; /* well past state.c's BULK_AFTER */

static hash keyof(int i)
{
	char b[32];

	snprintf(b, sizeof(b), "key %d", i);
	return hashbytes(b, strlen(b));
}

static hash valof(int i, int which)
{
	char b[32];

	snprintf(b, sizeof(b), "value %d.%d", i, which);
	return hashbytes(b, strlen(b));
}

TEST(noop_memos_past_the_scan_are_those_stored)
{
	intmpdir();
	mkdirs("cache", 0755);
	struct state *s = openstate("cache");
	for (int i = 0; i < MANY; i += 2) { /* even keys only */
		hash v[2] = {valof(i, 0), valof(i, 1)};
		memoput(s, keyof(i), v);
	}
	savestate(s);
	closestate(s);

	s = openstate("cache");
	int found = 0, right = 0, absent = 0;
	for (int i = 0; i < MANY; i++) {
		hash got[2];
		if (memoget(s, keyof(i), got) == 0) {
			found++;
			right += i % 2 == 0 && hasheq(got[0], valof(i, 0)) && hasheq(got[1], valof(i, 1));
		} else {
			absent += i % 2 == 1;
		}
	}
	CHECK_INT(found, MANY / 2);
	CHECK_INT(right, MANY / 2);
	CHECK_INT(absent, MANY / 2);
	/* a memo put after the scan is kept and written */
	hash v[2] = {valof(1, 0), valof(1, 1)}, got[2];
	memoput(s, keyof(1), v);
	savestate(s);
	closestate(s);
	s = openstate("cache");
	CHECK_INT(memoget(s, keyof(1), got), 0);
	CHECK(hasheq(got[0], v[0]) && hasheq(got[1], v[1]));
	closestate(s);
}

TEST(noop_scanned_file_rows_answer_as_point_queries)
{
	intmpdir();
	mkdirs("cache", 0755);
	mkdirs("d", 0755);
	char path[64];
	for (int i = 0; i < MANY; i++) {
		snprintf(path, sizeof(path), "d/f%d", i);
		put(path, path);
	}
	struct timespec ts = {1, 200000000}; /* past the racy second */
	nanosleep(&ts, NULL);
	struct state *s = openstate("cache");
	hash h;
	for (int i = 0; i < MANY; i++) {
		snprintf(path, sizeof(path), "d/f%d", i);
		REQUIRE(filehash(s, path, &h) == 0);
	}
	savestate(s);
	closestate(s);

	put("d/f999", "changed content");
	s = openstate("cache");
	int same = 0;
	for (int i = 0; i < MANY - 2; i++) { /* f998 and f999 only scanned */
		snprintf(path, sizeof(path), "d/f%d", i);
		same += filehash(s, path, &h) == 0 && hasheq(h, hashbytes(path, strlen(path)));
	}
	CHECK_INT(same, MANY - 2);
	/* a scanned row whose file changed is re-hashed */
	REQUIRE(filehash(s, "d/f999", &h) == 0);
	CHECK(hasheq(h, hashbytes("changed content", strlen("changed content"))));
	/* forgetting a file never asked about drops nothing (as before the
	 * scan: there was nothing looked up to forget) */
	forgetfile(s, "d/f998");
	savestate(s);
	closestate(s);
	s = openstate("cache");
	CHECK_INT(hashedstamp(s, "d/f998", NULL, &h), 0);
	CHECK(hasheq(h, hashbytes("d/f998", strlen("d/f998"))));
	closestate(s);
}
