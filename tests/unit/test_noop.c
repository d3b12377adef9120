/* noop: past a few hundred point queries the state reads its files and memos
 * tables in one scan (state.c: bulkload). The answers must be those the point
 * queries would have given. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/db.h"
#include "store/state.h"
#include "store/store.h"
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

/* store.c: past a few hundred point queries into runs or grades the rest of
 * the table is scanned; rows found are those the point queries read, and a
 * key the scan did not see is still looked up (so a row stored meanwhile by
 * another process is found) */

/* rows i in [from, to) of runs and grades, as another process writes them */
static int addrows(sqlite3 *db, int from, int to)
{
	sqlite3_stmt *r = NULL, *g = NULL;
	int ok = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
	         sqlite3_prepare_v2(db, "INSERT INTO runs(key, out, exit, seconds, used, intok, outtok, model)"
	                                " VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7)", -1, &r, NULL) == SQLITE_OK &&
	         sqlite3_prepare_v2(db, "INSERT INTO grades(key, score, reason, used) VALUES (?1, ?2, ?3, 0)", -1, &g,
	                            NULL) == SQLITE_OK;
	for (int i = from; ok && i < to; i++) {
		char m[32];
		snprintf(m, sizeof(m), "model %d", i);
		bindhash(r, 1, keyof(i));
		bindhash(r, 2, valof(i, 0));
		sqlite3_bind_int(r, 3, i % 3);
		sqlite3_bind_double(r, 4, i / 4.0);
		sqlite3_bind_int64(r, 5, i);
		if (i % 2)
			sqlite3_bind_int64(r, 6, 2 * i);
		else
			sqlite3_bind_null(r, 6);
		sqlite3_bind_text(r, 7, m, -1, SQLITE_TRANSIENT);
		ok = sqlite3_step(r) == SQLITE_DONE;
		sqlite3_reset(r);
		bindhash(g, 1, keyof(i));
		sqlite3_bind_double(g, 2, (i % 5) / 4.0);
		sqlite3_bind_text(g, 3, m, -1, SQLITE_TRANSIENT);
		ok = ok && sqlite3_step(g) == SQLITE_DONE;
		sqlite3_reset(g);
	}
	sqlite3_finalize(r);
	sqlite3_finalize(g);
	return ok && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

TEST(noop_scanned_runs_and_grades_are_the_rows_stored)
{
	const char *d = tmpdir();
	char *err = NULL;
	struct store *s = openstore(d, &err);
	REQUIRE(s != NULL);
	REQUIRE(commitgrade(s, hashbytes("x", 1), 1, "", 1) == 0); /* makes the index */
	closestore(s);
	sqlite3 *db = testdb(d);
	REQUIRE(db != NULL);
	REQUIRE(addrows(db, 0, MANY) == 0);

	s = openstore(d, &err);
	REQUIRE(s != NULL);
	int runs = 0, grades = 0, none = 0;
	for (int i = 0; i < MANY + 10; i++) {
		char m[32];
		snprintf(m, sizeof(m), "model %d", i);
		const struct runrec *r = findrun(s, keyof(i));
		const struct graderec *g = findgrade(s, keyof(i), 0);
		if (i >= MANY) {
			none += !r && !g;
			continue;
		}
		runs += r && hasheq(r->out, valof(i, 0)) && r->exitcode == i % 3 && r->seconds == i / 4.0 &&
		        r->intokens == i && r->outtokens == (i % 2 ? 2 * i : -1) && !strcmp(r->model, m);
		grades += g && g->score == (i % 5) / 4.0 && !strcmp(g->reason, m);
	}
	CHECK_INT(runs, MANY);
	CHECK_INT(grades, MANY);
	CHECK_INT(none, 10);
	/* stored by another process after the scan: still found */
	REQUIRE(addrows(db, MANY + 10, MANY + 11) == 0);
	const struct runrec *r = findrun(s, keyof(MANY + 10));
	CHECK(r && hasheq(r->out, valof(MANY + 10, 0)));
	sqlite3_close(db);
	closestore(s);
}
