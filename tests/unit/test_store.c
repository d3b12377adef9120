/* store: runs, grades and cells survive reopen; rows missing from the
 * index are found on disk; a damaged index is set aside; an old text-format
 * index is converted; gc. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>
#include <xxhash.h>

#include "store/store.h"
#include "store/db.h"
#include "test.h"
#include "core/util.h"

/* a run entry with an output file, committed under k */
static int addrun(struct store *s, hash k, const char *output, double seconds)
{
	char *tmp = newentry(s, 1);
	char *out = pathjoin(tmp, "output");
	struct runrec r = {.out = strkey(output), .exitcode = 0, .seconds = seconds};
	int ret;

	writefile(out, output, strlen(output));
	free(out);
	/* an artifact: the entry is a folder (test_store2.c tests the rows) */
	out = pathjoin(tmp, "artifacts/a");
	writefile(out, "a", 1);
	free(out);
	ret = commitrun(s, k, tmp, &r, 0);
	free(tmp);
	return ret;
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* the first column of the first row of sql on dir's index; -1 when none */
static long long dbint(const char *dir, const char *sql)
{
	sqlite3 *db = testdb(dir);
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (db && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* run sql on dir's index; 0 when it worked */
static int dbdo(const char *dir, const char *sql)
{
	sqlite3 *db = testdb(dir);
	int rc = db ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_ERROR;

	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* changes when another connection commits to db's file */
static long long dataversion(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (db && sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* the SQL that deletes the row of strkey("name") from table */
static char *delrow(const char *table, const char *name)
{
	char hx[33];

	hashhex(strkey(name), hx);
	return xasprintf("DELETE FROM %s WHERE key = '%s'", table, hx);
}

TEST(store_creates_layout_on_first_write)
{
	const char *d = tmpdir();
	char *c = pathjoin(d, "cache/nested");
	struct store *s = teststore(c);

	REQUIRE(s != NULL);
	/* opening writes nothing: a plan that fails leaves no cache behind */
	CHECK(!exists(c));
	CHECK_INT(commitgrade(s, strkey("g"), 1, "", 1), 0);
	const char *subs[] = {"runs", "grades", "errors", "tmp", DB_NAME};
	for (size_t i = 0; i < LEN(subs); i++) {
		char *p = pathjoin(c, subs[i]);
		CHECK(exists(p));
		free(p);
	}
	closestore(s);
	free(c);
}

TEST(store_open_fails_on_unusable_folder)
{
	const char *d = tmpdir();
	char *f = pathjoin(d, "file"), *c = pathjoin(d, "file/cache"), *err = NULL;

	writefile(f, "x", 1);
	CHECK(openstore(c, &err) == NULL);
	CHECK(err != NULL);
	free(err);
	free(f);
	free(c);
}

TEST(store_commitrun_then_findrun_after_reopen)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	CHECK(findrun(s, strkey("k1")) == NULL);
	CHECK_INT(addrun(s, strkey("k1"), "out one", 1.5), 0);
	const struct runrec *r = findrun(s, strkey("k1"));
	REQUIRE(r != NULL);
	CHECK(hasheq(r->out, strkey("out one")));
	char *rp = runpath(s, strkey("k1"));
	char *op = pathjoin(rp, "output");
	char *o = slurp(op);
	CHECK_STR(o, "out one");
	free(o);
	CHECK(exists(rp));
	closestore(s);

	s = teststore(d);
	REQUIRE(s != NULL);
	r = findrun(s, strkey("k1"));
	REQUIRE(r != NULL);
	CHECK(hasheq(r->out, strkey("out one")));
	CHECK_INT(r->exitcode, 0);
	CHECK(r->seconds > 1.49 && r->seconds < 1.51);
	CHECK(findrun(s, strkey("k2")) == NULL);
	closestore(s);
	free(rp);
	free(op);
}

TEST(store_newentry_is_fresh_private_folder)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	char *a = newentry(s, 1), *b = newentry(s, 1);
	CHECK(strcmp(a, b) != 0);
	char *art = pathjoin(a, "artifacts");
	CHECK(exists(art));
	CHECK_INT(countentries(art), 0);
	char *tmp = pathjoin(d, "tmp");
	CHECK(strncmp(a, tmp, strlen(tmp)) == 0);
	free(tmp);
	free(art);
	rmtree(a);
	rmtree(b);
	free(a);
	free(b);
	closestore(s);
}

TEST(store_commitgrade_then_findgrade_after_reopen)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	CHECK(findgrade(s, strkey("g"), 1) == NULL);
	CHECK_INT(commitgrade(s, strkey("g"), 0.25, "partly\tright\nsee \\ here", 1), 0);
	CHECK_INT(commitgrade(s, strkey("g2"), 1, NULL, 1), 0);
	const struct graderec *g = findgrade(s, strkey("g"), 1);
	REQUIRE(g != NULL);
	CHECK(g->score == 0.25);
	closestore(s);

	s = teststore(d);
	REQUIRE(s != NULL);
	g = findgrade(s, strkey("g"), 1);
	REQUIRE(g != NULL);
	CHECK(g->score == 0.25);
	CHECK_STR(g->reason, "partly\tright\nsee \\ here");
	g = findgrade(s, strkey("g2"), 1);
	REQUIRE(g != NULL);
	CHECK(g->score == 1);
	CHECK_STR(g->reason, "");
	closestore(s);
}

TEST(store_setcell_findcell_after_reopen)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);
	struct cellrec c = {.run = strkey("r"), .grade = strkey("g"), .iteration = 3};

	REQUIRE(s != NULL);
	for (int i = 0; i < NPARTS; i++)
		c.parts[i] = strkey(i % 2 ? "odd" : "even");
	CHECK(findcell(s, "arith/t01#3") == NULL);
	setcell(s, "arith/t01#3", &c);
	setcell(s, "odd\tid\nwith\\escapes#1", &c);
	const struct cellrec *got = findcell(s, "arith/t01#3");
	REQUIRE(got != NULL);
	CHECK(hasheq(got->run, strkey("r")));
	closestore(s);

	s = teststore(d);
	REQUIRE(s != NULL);
	got = findcell(s, "arith/t01#3");
	REQUIRE(got != NULL);
	CHECK(hasheq(got->run, strkey("r")));
	CHECK(hasheq(got->grade, strkey("g")));
	CHECK(hasheq(got->parts[PART_AGENT], strkey("even")));
	CHECK(hasheq(got->parts[PART_PROMPT], strkey("odd")));
	CHECK_INT(got->iteration, 3);
	CHECK(findcell(s, "odd\tid\nwith\\escapes#1") != NULL);
	/* a new record replaces the old one */
	c.run = strkey("r2");
	setcell(s, "arith/t01#3", &c);
	closestore(s);
	s = teststore(d);
	REQUIRE(s != NULL);
	got = findcell(s, "arith/t01#3");
	REQUIRE(got != NULL);
	CHECK(hasheq(got->run, strkey("r2")));
	closestore(s);
}

TEST(store_setcell_unchanged_appends_nothing)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);
	struct cellrec a, b;

	REQUIRE(s != NULL);
	/* equal records whose padding bytes differ */
	memset(&a, 0x00, sizeof(a));
	memset(&b, 0xff, sizeof(b));
	a.run = b.run = strkey("r");
	a.grade = b.grade = strkey("g");
	for (int i = 0; i < NPARTS; i++)
		a.parts[i] = b.parts[i] = strkey("p");
	a.iteration = b.iteration = 1;
	setcell(s, "s/t#1", &a);
	storeflush(s);
	sqlite3 *db = testdb(d);
	REQUIRE(db != NULL);
	long long v = dataversion(db);
	setcell(s, "s/t#1", &a);
	setcell(s, "s/t#1", &b);
	storeflush(s);
	CHECK_INT(dataversion(db), v); /* nothing committed */
	setcell(s, "s/t#1", &(struct cellrec){.run = strkey("r2"), .iteration = 1});
	storeflush(s);
	CHECK(dataversion(db) != v);
	sqlite3_close(db);
	closestore(s);
}

/* three runs, then damage to the log */
static void threeruns(const char *d)
{
	struct store *s = teststore(d);

	if (!s)
		return;
	addrun(s, strkey("a"), "A", 1);
	addrun(s, strkey("b"), "B", 1);
	addrun(s, strkey("c"), "C", 1);
	closestore(s);
}

/* a run whose row was lost and whose entry is gone is not found; the
 * others are, and new work is recorded */
TEST(store_lost_row_and_entry_is_not_found)
{
	const char *d = tmpdir();

	threeruns(d);
	char *del = delrow("runs", "c");
	CHECK_INT(dbdo(d, del), 0);
	free(del);
	struct store *s = teststore(d);
	REQUIRE(s != NULL);
	char *cp = runpath(s, strkey("c"));
	rmtree(cp);
	free(cp);
	CHECK(findrun(s, strkey("a")) != NULL);
	CHECK(findrun(s, strkey("b")) != NULL);
	CHECK(findrun(s, strkey("c")) == NULL);
	addrun(s, strkey("d"), "D", 1);
	closestore(s);
	s = teststore(d);
	REQUIRE(s != NULL);
	CHECK(findrun(s, strkey("a")) != NULL);
	const struct runrec *r = findrun(s, strkey("d"));
	CHECK(r != NULL && hasheq(r->out, strkey("D")));
	closestore(s);
}

/* a run whose row was lost (a kill before its batch was committed) is
 * found on disk by its meta.json, and indexed again */
TEST(store_lost_row_entry_still_found_on_disk)
{
	const char *d = tmpdir();

	threeruns(d);
	char *del = delrow("runs", "c");
	CHECK_INT(dbdo(d, del), 0);
	free(del);
	struct store *s = teststore(d);
	REQUIRE(s != NULL);
	char *cp = runpath(s, strkey("c"));
	char *meta = pathjoin(cp, "meta.json");
	char hx[33];
	hashhex(strkey("C"), hx);
	char *m = xasprintf("{\"output_hash\": \"%s\", \"seconds\": 2.5}", hx);
	writefile(meta, m, strlen(m));
	const struct runrec *r = findrun(s, strkey("c"));
	REQUIRE(r != NULL);
	CHECK(hasheq(r->out, strkey("C")));
	closestore(s);
	char *q = xasprintf("SELECT count(*) FROM runs WHERE key = '%s'", hx);
	free(q);
	hashhex(strkey("c"), hx);
	q = xasprintf("SELECT count(*) FROM runs WHERE key = '%s'", hx);
	CHECK_INT(dbint(d, q), 1); /* indexed again */
	free(q);
	free(m);
	free(meta);
	free(cp);
}

/* an old line: its fields, tab-separated, then their checksum */
static void oldline(struct buf *b, const char *fields)
{
	bufaddf(b, "%s\t%08x\n", fields, (unsigned)XXH32(fields, strlen(fields), 0));
}

/* a cache of the text format (evalmake before the database) is converted
 * on open: every checked line comes in, a damaged or torn one is skipped,
 * and the old files go */
TEST(store_converts_the_text_format)
{
	const char *d = tmpdir();
	char ka[33], kb[33], kc[33], oa[33], g[33], h[33];
	struct buf log = {0}, cells = {0};
	char *line;

	hashhex(strkey("a"), ka);
	hashhex(strkey("b"), kb);
	hashhex(strkey("c"), kc);
	hashhex(strkey("A"), oa);
	hashhex(strkey("g"), g);
	hashhex(strkey("p"), h);
	bufadds(&log, "evalmake-log 1\n");
	oldline(&log, "D\t20000");
	line = xasprintf("R\t%s\t%s\t0\t1.500000", ka, oa);
	oldline(&log, line);
	free(line);
	/* b's line is damaged (a byte flipped after its checksum was taken) */
	line = xasprintf("R\t%s\t%s\t0\t1.000000", kb, oa);
	oldline(&log, line);
	log.s[log.len - 12] ^= 1;
	free(line);
	line = xasprintf("G\t%s\t0.5\thalf\\tway", g);
	oldline(&log, line);
	free(line);
	line = xasprintf("U\t%s\t20005", ka);
	oldline(&log, line);
	free(line);
	/* c's line is torn: no checksum, no newline */
	bufaddf(&log, "R\t%s\t%s\t0", kc, oa);
	bufadds(&cells, "evalmake-cells 1\n");
	line = xasprintf("C\ts/t#1\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t1", ka, g, h, h, h, h, h);
	oldline(&cells, line);
	free(line);
	char *lp = pathjoin(d, "log"), *cp = pathjoin(d, "cells"), *sp = pathjoin(d, "state");
	CHECK_INT(writefile(lp, log.s, log.len), 0);
	CHECK_INT(writefile(cp, cells.s, cells.len), 0);
	line = xasprintf("evalmake-state 2\nF 3 1 2 3 4 %s - some file\nM %s %s %s\n", h, g, ka, kb);
	CHECK_INT(writefile(sp, line, strlen(line)), 0);
	free(line);

	struct store *s = teststore(d);
	REQUIRE(s != NULL);
	storemarkuse(s, 0); /* to see the day it was last used */
	const struct runrec *r = findrun(s, strkey("a"));
	REQUIRE(r != NULL);
	CHECK(hasheq(r->out, strkey("A")));
	CHECK(r->seconds == 1.5);
	CHECK_INT(r->used, 20005);
	CHECK(findrun(s, strkey("b")) == NULL);
	CHECK(findrun(s, strkey("c")) == NULL);
	const struct graderec *gr = findgrade(s, strkey("g"), 0);
	REQUIRE(gr != NULL);
	CHECK(gr->score == 0.5);
	CHECK_STR(gr->reason, "half\tway");
	const struct cellrec *c = findcell(s, "s/t#1");
	REQUIRE(c != NULL);
	CHECK(hasheq(c->run, strkey("a")));
	CHECK(hasheq(c->parts[PART_ENV], strkey("p")));
	CHECK_INT(c->iteration, 1);
	closestore(s);
	CHECK(access(lp, F_OK) != 0);
	CHECK(access(cp, F_OK) != 0);
	CHECK(access(sp, F_OK) != 0);
	CHECK_INT(dbint(d, "SELECT count(*) FROM files WHERE path = 'some file' AND size = 3 AND dev = 4"), 1);
	CHECK_INT(dbint(d, "SELECT count(*) FROM memos"), 1);
	CHECK_INT(dbint(d, "PRAGMA user_version"), DB_VERSION);
	free(lp);
	free(cp);
	free(sp);
	buffree(&log);
	buffree(&cells);
}

/* an index file that is not a database is set aside, with a warning, and
 * a new one records new work */
TEST(store_damaged_index_is_set_aside)
{
	const char *d = tmpdir();
	char *dbp = pathjoin(d, DB_NAME);

	threeruns(d);
	const char *junk = "\x01\x02 not a database, not at all, no header here at all\n";
	CHECK_INT(writefile(dbp, junk, strlen(junk)), 0);
	struct store *s = teststore(d);
	REQUIRE(s != NULL);
	/* the index is lost, and the entries carry no meta.json: not found,
	 * but nothing crashes and new work is recorded */
	CHECK(findrun(s, strkey("a")) == NULL);
	CHECK(findgrade(s, strkey("a"), 1) == NULL);
	CHECK_INT(commitgrade(s, strkey("g"), 0.5, "ok", 1), 0);
	closestore(s);
	s = teststore(d);
	REQUIRE(s != NULL);
	CHECK(findgrade(s, strkey("g"), 1) != NULL);
	closestore(s);
	/* the damaged file is kept beside, for a post-mortem */
	char *cmd = xasprintf("ls %s | grep -q '%s.damaged.'", d, DB_NAME);
	CHECK_INT(system(cmd), 0);
	free(cmd);
	free(dbp);
}

/* an entry renamed into runs/ by a process killed before its log line */
TEST(store_entry_missing_from_log_found_by_meta)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);
	char hx[33];

	REQUIRE(s != NULL);
	char *tmp = newentry(s, 1);
	char *meta = pathjoin(tmp, "meta.json");
	hashhex(strkey("the output"), hx);
	char *m = xasprintf("{\"output_hash\": \"%s\", \"exit\": 0, \"seconds\": 0.75}", hx);
	CHECK_INT(writefile(meta, m, strlen(m)), 0);
	char *outp = pathjoin(tmp, "output");
	CHECK_INT(writefile(outp, "the output", 10), 0);
	free(outp);
	char *dst = runpath(s, strkey("orphan"));
	char *parent = dirname_of(dst);
	CHECK_INT(mkdirs(parent, 0755), 0);
	CHECK_INT(rename(tmp, dst), 0);
	closestore(s);

	s = teststore(d);
	REQUIRE(s != NULL);
	const struct runrec *r = findrun(s, strkey("orphan"));
	REQUIRE(r != NULL);
	CHECK(hasheq(r->out, strkey("the output")));
	CHECK(r->seconds > 0.74 && r->seconds < 0.76);
	closestore(s);
	/* found once, it is indexed again */
	char *metadst = pathjoin(dst, "meta.json");
	unlink(metadst);
	s = teststore(d);
	REQUIRE(s != NULL);
	r = findrun(s, strkey("orphan"));
	CHECK(r != NULL && hasheq(r->out, strkey("the output")));
	closestore(s);
	free(metadst);
	free(m);
	free(meta);
	free(tmp);
	free(dst);
	free(parent);
}

TEST(store_entry_with_bad_meta_is_not_a_result)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	char *dst = runpath(s, strkey("bad"));
	CHECK_INT(mkdirs(dst, 0755), 0);
	char *meta = pathjoin(dst, "meta.json");
	writefile(meta, "{\"output_hash\": \"nothex\"}", 25);
	CHECK(findrun(s, strkey("bad")) == NULL);
	writefile(meta, "{trunc", 6);
	CHECK(findrun(s, strkey("bad")) == NULL);
	closestore(s);
	free(meta);
	free(dst);
}

TEST(store_commitrun_existing_key_keeps_first)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	CHECK_INT(addrun(s, strkey("k"), "first", 1), 0);
	char *tmp = newentry(s, 1);
	char *out = pathjoin(tmp, "output");
	writefile(out, "second", 6);
	struct runrec r = {.out = strkey("second"), .seconds = 2};
	CHECK_INT(commitrun(s, strkey("k"), tmp, &r, 0), 0);
	CHECK(!exists(tmp));
	char *rp = runpath(s, strkey("k"));
	char *op = pathjoin(rp, "output");
	char *o = entrypart(s, strkey("k"), "output", NULL);
	CHECK_STR(o, "first");
	free(o);
	/* the index agrees with what is on disk */
	const struct runrec *got = findrun(s, strkey("k"));
	REQUIRE(got != NULL);
	CHECK(hasheq(got->out, strkey("first")));
	closestore(s);
	s = teststore(d);
	REQUIRE(s != NULL);
	got = findrun(s, strkey("k"));
	REQUIRE(got != NULL);
	CHECK(hasheq(got->out, strkey("first")));
	closestore(s);
	free(rp);
	free(op);
	free(out);
	free(tmp);
}

TEST(store_commitrun_replace_takes_the_new_entry)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	CHECK_INT(addrun(s, strkey("k"), "first", 1), 0);
	char *tmp = newentry(s, 1);
	char *out = pathjoin(tmp, "output");
	writefile(out, "second", 6);
	struct runrec r = {.out = strkey("second"), .seconds = 2};
	CHECK_INT(commitrun(s, strkey("k"), tmp, &r, 1), 0);
	CHECK(!exists(tmp));
	char *rp = runpath(s, strkey("k"));
	char *op = pathjoin(rp, "output");
	char *o = entrypart(s, strkey("k"), "output", NULL);
	CHECK_STR(o, "second");
	CHECK(!exists(rp)); /* the new entry is a row: the folder went */
	free(o);
	const struct runrec *got = findrun(s, strkey("k"));
	CHECK(got != NULL && hasheq(got->out, strkey("second")));
	closestore(s);
	s = teststore(d);
	REQUIRE(s != NULL);
	got = findrun(s, strkey("k"));
	CHECK(got != NULL && hasheq(got->out, strkey("second")));
	char *tmpd = pathjoin(d, "tmp");
	CHECK_INT(countentries(tmpd), 0);
	free(tmpd);
	closestore(s);
	free(rp);
	free(op);
	free(out);
	free(tmp);
}

/* a grade whose row was lost is looked up on disk, as store.h says */
TEST(store_grade_missing_from_index_found_on_disk)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	CHECK_INT(commitgrade(s, strkey("g"), 0.5, "half", 1), 0);
	closestore(s);
	char *del = delrow("grades", "g");
	CHECK_INT(dbdo(d, del), 0);
	free(del);
	s = teststore(d);
	REQUIRE(s != NULL);
	const struct graderec *g = findgrade(s, strkey("g"), 1);
	CHECK(g != NULL && g->score == 0.5);
	closestore(s);
}

TEST(store_gc_removes_dead_entries)
{
	char *err;
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	addrun(s, strkey("live"), "L", 1);
	addrun(s, strkey("dead"), "D", 1);
	commitgrade(s, strkey("glive"), 1, "", 1);
	commitgrade(s, strkey("gdead"), 0, "", 1);
	struct cellrec cl = {.run = strkey("live"), .iteration = 1}, cd = {.run = strkey("dead"), .iteration = 1};
	setcell(s, "s/live#1", &cl);
	setcell(s, "s/dead#1", &cd);
	char *livep = runpath(s, strkey("live")), *deadp = runpath(s, strkey("dead"));
	struct htab *runs = mkhtab(4), *grades = mkhtab(4);
	hash kl = strkey("live"), kg = strkey("glive");
	htabput(runs, &kl, sizeof(kl), "x");
	htabput(grades, &kg, sizeof(kg), "x");
	long n = gcstore(s, runs, grades, NULL, NULL, &err);
	CHECK_INT(n, 2);
	CHECK(exists(livep));
	CHECK(!exists(deadp));
	/* appends after gc still land in the (rewritten) log */
	addrun(s, strkey("new"), "N", 1);
	closestore(s);

	s = teststore(d);
	REQUIRE(s != NULL);
	CHECK(findrun(s, strkey("live")) != NULL);
	CHECK(findrun(s, strkey("dead")) == NULL);
	CHECK(findrun(s, strkey("new")) != NULL);
	CHECK(findgrade(s, strkey("glive"), 1) != NULL);
	CHECK(findgrade(s, strkey("gdead"), 1) == NULL);
	CHECK(findcell(s, "s/live#1") != NULL);
	CHECK(findcell(s, "s/dead#1") == NULL);
	closestore(s);
	htabfree(runs, NULL);
	htabfree(grades, NULL);
	free(livep);
	free(deadp);
}

/* after gc, the same open store does not report what it deleted */
TEST(store_gc_forgets_deleted_entries_in_memory)
{
	char *err;
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	addrun(s, strkey("dead"), "D", 1);
	commitgrade(s, strkey("gdead"), 0, "", 1);
	struct htab *runs = mkhtab(1), *grades = mkhtab(1);
	CHECK_INT(gcstore(s, runs, grades, NULL, NULL, &err), 2);
	CHECK(findrun(s, strkey("dead")) == NULL);
	CHECK(findgrade(s, strkey("gdead"), 1) == NULL);
	closestore(s);
	htabfree(runs, NULL);
	htabfree(grades, NULL);
}

TEST(store_gc_without_live_sets_keeps_everything)
{
	char *err;
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	addrun(s, strkey("a"), "A", 1);
	commitgrade(s, strkey("g"), 1, "", 1);
	CHECK_INT(gcstore(s, NULL, NULL, NULL, NULL, &err), 0);
	closestore(s);
	s = teststore(d);
	REQUIRE(s != NULL);
	CHECK(findrun(s, strkey("a")) != NULL);
	CHECK(findgrade(s, strkey("g"), 1) != NULL);
	closestore(s);
}

TEST(store_open_cleans_tmp_of_dead_processes)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	closestore(s);
	/* a pid that is certainly gone: a child we waited for */
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	REQUIRE(pid > 0);
	waitpid(pid, NULL, 0);
	char *dead = xasprintf("%s/tmp/%ld.0", d, (long)pid);
	char *deadart = pathjoin(dead, "artifacts/x");
	char *alive = xasprintf("%s/tmp/1.0", d); /* init lives */
	CHECK_INT(mkdirs(deadart, 0755), 0);
	CHECK_INT(mkdirs(alive, 0755), 0);
	s = teststore(d);
	REQUIRE(s != NULL);
	CHECK(!exists(dead));
	CHECK(exists(alive));
	closestore(s);
	free(dead);
	free(deadart);
	free(alive);
}

TEST(store_keeperror_replaces_previous)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	char *t1 = newentry(s, 1), *t2 = newentry(s, 1);
	char *f1 = pathjoin(t1, "transcript"), *f2 = pathjoin(t2, "transcript");
	writefile(f1, "first failure", 13);
	writefile(f2, "second failure", 14);
	keeperror(s, "s/t#1", t1);
	keeperror(s, "s/t#1", t2);
	char *ep = errorpath(s, "s/t#1");
	char *tp = pathjoin(ep, "transcript");
	char *text = slurp(tp);
	CHECK_STR(text, "second failure");
	CHECK(!exists(t1) && !exists(t2));
	char *errs = pathjoin(d, "errors");
	CHECK_INT(countentries(errs), 1);
	free(errs);
	free(text);
	free(tp);
	free(ep);
	free(f1);
	free(f2);
	free(t1);
	free(t2);
	closestore(s);
}

TEST(store_two_handles_share_a_cache)
{
	const char *d = tmpdir();
	struct store *a = teststore(d);

	REQUIRE(a != NULL);
	addrun(a, strkey("x"), "X", 1);
	commitgrade(a, strkey("gx"), 1, "", 1);
	struct store *b = teststore(d);
	REQUIRE(b != NULL);
	addrun(b, strkey("y"), "Y", 1);
	/* a did not load y's line, but finds the entry on disk via meta.json
	 * only when one exists; the log is read again on reopen */
	closestore(a);
	closestore(b);
	a = teststore(d);
	REQUIRE(a != NULL);
	CHECK(findrun(a, strkey("x")) != NULL);
	CHECK(findrun(a, strkey("y")) != NULL);
	CHECK(findgrade(a, strkey("gx"), 1) != NULL);
	closestore(a);
}

/* gc -n: counts what would go, changes nothing */
TEST(store_gc_dry_run_changes_nothing)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);
	char *err;

	REQUIRE(s != NULL);
	addrun(s, strkey("dead"), "D", 1);
	commitgrade(s, strkey("gdead"), 0, "", 1);
	closestore(s);
	const char *count = "SELECT (SELECT count(*) FROM runs) * 1000 + (SELECT count(*) FROM grades)";
	long long before = dbint(d, count);
	CHECK_INT(before, 1001);
	s = teststore(d);
	REQUIRE(s != NULL);
	struct htab *runs = mkhtab(1), *grades = mkhtab(1);
	struct gcopts o = {.dryrun = 1, .keep = -1};
	struct gcstats st;
	CHECK_INT(gcstore(s, runs, grades, &o, &st, &err), 2);
	CHECK_INT(st.entries, 2);
	CHECK(st.bytes > 0);
	closestore(s);
	CHECK_INT(dbint(d, count), before);
	s = teststore(d);
	REQUIRE(s != NULL);
	CHECK(findrun(s, strkey("dead")) != NULL);
	CHECK(findgrade(s, strkey("gdead"), 1) != NULL);
	closestore(s);
	htabfree(runs, NULL);
	htabfree(grades, NULL);
}

/* gc --keep: unreferenced but recently used entries stay */
TEST(store_gc_keeps_recently_used)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);
	char *err;

	REQUIRE(s != NULL);
	addrun(s, strkey("recent"), "R", 1);
	addrun(s, strkey("old"), "O", 1);
	closestore(s);
	/* "old" was last used 40 days ago: its file and its log day say so */
	char *oldp = NULL;
	s = teststore(d);
	REQUIRE(s != NULL);
	oldp = runpath(s, strkey("old"));
	closestore(s);
	setmtime(oldp, 40 * 86400.0);
	/* and its row says it was last used 40 days ago */
	char hx[33];
	hashhex(strkey("old"), hx);
	char *upd = xasprintf("UPDATE runs SET used = used - 40 WHERE key = '%s'", hx);
	CHECK_INT(dbdo(d, upd), 0);
	free(upd);
	s = teststore(d);
	REQUIRE(s != NULL);
	struct htab *runs = mkhtab(1), *grades = mkhtab(1);
	struct gcopts o = {.keep = 30 * 86400.0};
	struct gcstats st;
	/* "recent" keeps its fresh mtime; "old" only its day line says 40 */
	char *recentp = runpath(s, strkey("recent"));
	CHECK_INT(gcstore(s, runs, grades, &o, &st, &err), 1);
	CHECK_INT(st.kept, 1);
	CHECK(access(recentp, F_OK) == 0);
	CHECK(access(oldp, F_OK) != 0);
	closestore(s);
	htabfree(runs, NULL);
	htabfree(grades, NULL);
	free(recentp);
	free(oldp);
}

/* a run found by a new process is marked used once a day, not per run */
TEST(store_use_marked_once_a_day)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	addrun(s, strkey("a"), "A", 1);
	closestore(s);
	sqlite3 *db = testdb(d);
	REQUIRE(db != NULL);
	long long v = dataversion(db);
	s = teststore(d);
	REQUIRE(s != NULL);
	CHECK(findrun(s, strkey("a")) != NULL);
	closestore(s);
	/* written today (its row says so): nothing to mark */
	CHECK_INT(dataversion(db), v);
	sqlite3_close(db);
	closestore(teststore(d));
}

/* a packed entry that does not parse is missing, and a new one replaces it */
TEST(store_damaged_packed_entry_is_replaced)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	char *p = runpath(s, strkey("k"));
	char *parent = dirname_of(p);
	CHECK_INT(mkdirs(parent, 0755), 0);
	put(p, "evalmake-entry 1\noutput 999\nshort");
	CHECK(findrun(s, strkey("k")) == NULL);
	struct part parts[] = {{"output", "fine", 4}, {"meta.json", "{}", 2}};
	struct runrec r = {.out = strkey("fine")};
	CHECK_INT(commitentry(s, strkey("k"), parts, 2, NULL, &r, 0), 0);
	char *out = entrypart(s, strkey("k"), "output", NULL);
	CHECK_STR(out ? out : "(none)", "fine");
	free(out);
	closestore(s);
	free(p);
	free(parent);
}

/* a folder entry missing its output (half deleted) is replaced too */
TEST(store_damaged_folder_entry_is_replaced)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);

	REQUIRE(s != NULL);
	char *p = runpath(s, strkey("k"));
	char *meta = pathjoin(p, "meta.json");
	char *parent = dirname_of(p);
	CHECK_INT(mkdirs(p, 0755), 0);
	put(meta, "{}");
	CHECK(findrun(s, strkey("k")) == NULL);
	CHECK_INT(addrun(s, strkey("k"), "new", 1), 0);
	char *out = entrypart(s, strkey("k"), "output", NULL);
	CHECK_STR(out ? out : "(none)", "new");
	free(out);
	closestore(s);
	free(p);
	free(meta);
	free(parent);
}

/* one holder per run key: ours twice is "wait", another process's is
 * "wait" until it dies */
TEST(store_run_locks)
{
	const char *d = tmpdir();
	struct store *s = teststore(d);
	int pfd[2];

	REQUIRE(s != NULL);
	CHECK_INT(lockrun(s, strkey("a")), 1);
	CHECK_INT(lockrun(s, strkey("a")), 0); /* a second cell of ours waits */
	CHECK_INT(lockrun(s, strkey("b")), 1);
	unlockrun(s, strkey("a"));
	unlockrun(s, strkey("b"));
	REQUIRE(pipe(pfd) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		char *err;
		struct store *c = openstore(d, &err);
		char ok = c && lockrun(c, strkey("a")) == 1 ? 'y' : 'n';
		if (write(pfd[1], &ok, 1) < 0)
			_exit(1);
		pause(); /* hold it until killed */
		_exit(0);
	}
	REQUIRE(pid > 0);
	char got = 0;
	CHECK(read(pfd[0], &got, 1) == 1 && got == 'y');
	CHECK_INT(lockrun(s, strkey("a")), 0);
	CHECK_INT(lockrun(s, strkey("b")), 1);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK_INT(lockrun(s, strkey("a")), 1); /* the kernel released it */
	close(pfd[0]);
	close(pfd[1]);
	closestore(s);
}
