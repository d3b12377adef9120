/* run/inputs: a cell's start check
 * must compare the files its agent reads with the hashes in the cell's own
 * key, not with whatever the stat cache learnt since (another suite's
 * re-key, as watch does, or a second suite planned after an edit). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"
#include "run/inputs.h"
#include "store/state.h"
#include "store/store.h"
#include "load/evalfile.h"
#include "test.h"
#include "core/util.h"

TEST(inputs_start_check_uses_the_cells_key)
{
	char *err = NULL;

	intmpdir();
	put("t.jsonl", "{\"id\": \"a\", \"input\": \"x\", \"expected\": \"x\"}\n");
	put("data.txt", "d0\n");
	put("pb.md", "B {{input}}\n");
	put("Evalfile", "suites:\n"
	                "  a:\n"
	                "    tasks: t.jsonl\n"
	                "    iterations: 1\n"
	                "    agent: {command: cat, deps: [data.txt]}\n"
	                "  b:\n"
	                "    tasks: t.jsonl\n"
	                "    prompt: pb.md\n"
	                "    iterations: 1\n"
	                "    agent: {command: cat, deps: [data.txt]}\n");
	struct evalfile *ef = loadevalfile("Evalfile", &err);
	REQUIRE(ef != NULL);
	struct state *st = openstate("cache");
	struct store *store = openstore("cache", &err);
	REQUIRE(store != NULL);
	struct planopts o = {0};
	struct plan *p = makeplan(ef, st, store, &o, &err);
	REQUIRE(p != NULL);
	struct cell *a = findcellid(p, "a/a#1"), *b = findcellid(p, "b/a#1");
	REQUIRE(a != NULL && b != NULL);
	hash akey = a->runkey;

	/* data.txt is edited (a new file, as an editor's rename makes), and
	 * suite b alone is re-keyed with it: the stat cache now knows d1 */
	put("data.txt.new", "d1\n");
	REQUIRE(rename("data.txt.new", "data.txt") == 0);
	struct suiteplan *sb = b->sp;
	CHECK_INT(rekeysuite(p, sb, &err), 0);
	CHECK(!hasheq(findcellid(p, "b/a#1")->runkey, akey));

	/* a's key still holds d0: a's cell may not start with d1 */
	struct inputset in = {0};
	a = findcellid(p, "a/a#1");
	CHECK(hasheq(a->runkey, akey));
	int r = runinputs(st, ef, a, &in, &err);
	CHECK_INT(r, -1);
	if (r < 0) {
		CHECK_HAS(err, "data.txt changed since the cell was planned");
		free(err);
	}
	freeinputs(&in);
	/* b's key holds d1: it starts */
	b = findcellid(p, "b/a#1");
	err = NULL;
	CHECK_INT(runinputs(st, ef, b, &in, &err), 0);
	free(err);
	freeinputs(&in);

	freeplan(p);
	savestate(st);
	closestate(st);
	closestore(store);
	freeevalfile(ef);
}

TEST(inputs_grader_check_uses_the_cells_key)
{
	char *err = NULL;

	intmpdir();
	put("t.jsonl", "{\"id\": \"a\", \"input\": \"x\", \"expected\": \"x\"}\n");
	put("grade.sh", "echo 1\n");
	put("pb.md", "B {{input}}\n");
	put("Evalfile", "suites:\n"
	                "  a:\n"
	                "    tasks: t.jsonl\n"
	                "    iterations: 1\n"
	                "    agent: {command: cat}\n"
	                "    grader: {type: command, command: sh grade.sh}\n"
	                "  b:\n"
	                "    tasks: t.jsonl\n"
	                "    prompt: pb.md\n"
	                "    iterations: 1\n"
	                "    agent: {command: cat}\n"
	                "    grader: {type: command, command: sh grade.sh}\n");
	struct evalfile *ef = loadevalfile("Evalfile", &err);
	REQUIRE(ef != NULL);
	struct state *st = openstate("cache");
	struct store *store = openstore("cache", &err);
	REQUIRE(store != NULL);
	struct planopts o = {0};
	struct plan *p = makeplan(ef, st, store, &o, &err);
	REQUIRE(p != NULL);
	struct cell *a = findcellid(p, "a/a#1"), *b = findcellid(p, "b/a#1");
	REQUIRE(a != NULL && b != NULL);

	/* grade.sh edited, suite b alone re-keyed with it */
	put("grade.sh.new", "echo 0\n");
	REQUIRE(rename("grade.sh.new", "grade.sh") == 0);
	CHECK_INT(rekeysuite(p, b->sp, &err), 0);

	struct inputset in = {0};
	a = findcellid(p, "a/a#1");
	CHECK_INT(graderinputs(st, ef, suitegrader(a->sp->suite, 0), &in, &err), 0);
	int r = graderunchanged(p, a, 0, &err);
	CHECK_INT(r, -1);
	if (r < 0) {
		CHECK_HAS(err, "grade.sh changed since the cell was planned; not graded");
		free(err);
	}
	freeinputs(&in);
	b = findcellid(p, "b/a#1");
	CHECK_INT(graderinputs(st, ef, suitegrader(b->sp->suite, 0), &in, &err), 0);
	CHECK_INT(graderunchanged(p, b, 0, &err), 0);
	freeinputs(&in);

	freeplan(p);
	savestate(st);
	closestate(st);
	closestore(store);
	freeevalfile(ef);
}
