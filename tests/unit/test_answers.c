/* answers: the agent's view of a task leaves the expected answer out (its
 * hash, EVAL_TASK_JSON, a folder's copy); a task loads only as it was
 * hashed; the state remembers the stat data each hash came from. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "load/tasks.h"
#include "store/state.h"
#include "test.h"
#include "core/util.h"

/* list one task path into tl with a state of its own (in "cache") */
static int listone(struct tasklist *tl, const char *path, char **err)
{
	/* static: the tasks keep a pointer to the suite's field mapping */
	static struct suite s = {.name = "s"};
	struct state *st = openstate("cache");
	int r;

	strvadd(&s.taskpaths, path);
	r = listtasks(&s, st, tl, err);
	strvfree(&s.taskpaths);
	savestate(st);
	closestate(st);
	return r;
}

static struct task *byid(struct tasklist *tl, const char *id)
{
	for (size_t i = 0; i < tl->n; i++)
		if (!strcmp(tl->v[i].id, id))
			return &tl->v[i];
	return NULL;
}

/* the content (view) and full hashes of task id at path, listed anew */
static void hashesof(const char *path, const char *id, hash *view, hash *full)
{
	struct tasklist tl = {0};
	char *err = NULL;

	if (listone(&tl, path, &err) < 0) {
		testfail(__FILE__, __LINE__, "%s", err);
		free(err);
	} else if (byid(&tl, id)) {
		*view = byid(&tl, id)->content;
		*full = byid(&tl, id)->full;
	} else {
		testfail(__FILE__, __LINE__, "no task %s in %s", id, path);
	}
	freetasks(&tl);
}

TEST(answers_folder_expected_files_are_not_in_the_view)
{
	hash v1, f1, v2, f2, v3, f3;

	intmpdir();
	put("t/input.txt", "q");
	put("t/expected.txt", "a");
	hashesof("t", "t", &v1, &f1);
	put("t/expected.txt", "b");
	hashesof("t", "t", &v2, &f2);
	CHECK(hasheq(v1, v2));
	CHECK(!hasheq(f1, f2));
	put("t/expected_alt.md", "c"); /* a second answer file: still not seen */
	hashesof("t", "t", &v3, &f3);
	CHECK(hasheq(v1, v3));
	put("t/sub/expected.txt", "d"); /* only the folder's own expected* */
	hashesof("t", "t", &v3, &f3);
	CHECK(!hasheq(v1, v3));
}

TEST(answers_folder_task_json_answer_fields_are_not_in_the_view)
{
	hash v1, f1, v2, f2;

	intmpdir();
	put("t/input.txt", "q");
	put("t/task.json", "{\"level\": 1, \"expected\": \"a\"}");
	hashesof("t", "t", &v1, &f1);
	put("t/task.json", "{\"level\": 1, \"expected\": \"bb\", \"ideal\": [\"x\"]}");
	hashesof("t", "t", &v2, &f2);
	CHECK(hasheq(v1, v2));
	CHECK(!hasheq(f1, f2));
	put("t/task.json", "{\"level\": 2, \"expected\": \"a\"}");
	hashesof("t", "t", &v2, &f2);
	CHECK(!hasheq(v1, v2));
}

TEST(answers_json_and_jsonl_answer_fields_are_not_in_the_view)
{
	hash v1, f1, v2, f2;

	intmpdir();
	put("a.json", "{\"input\": \"q\", \"answer\": \"1\"}");
	hashesof("a.json", "a", &v1, &f1);
	put("a.json", "{\"input\": \"q\", \"answer\": \"22\", \"target\": 3}");
	hashesof("a.json", "a", &v2, &f2);
	CHECK(hasheq(v1, v2));
	CHECK(!hasheq(f1, f2));
	put("a.json", "{\"input\": \"q2\", \"answer\": \"1\"}");
	hashesof("a.json", "a", &v2, &f2);
	CHECK(!hasheq(v1, v2));

	put("q.jsonl", "{\"id\": \"x\", \"input\": \"q\", \"expected\": \"1\"}\n");
	hashesof("q.jsonl", "x", &v1, &f1);
	put("q.jsonl", "{\"id\": \"x\", \"input\": \"q\", \"ideal\": [\"1\", \"2\"]}\n");
	hashesof("q.jsonl", "x", &v2, &f2);
	CHECK(hasheq(v1, v2));
	CHECK(!hasheq(f1, f2));
}

/* the view of the one line of a .jsonl file holding text */
static hash lineview(const char *text)
{
	hash v = {0, 0}, f;

	put("l.jsonl", text);
	hashesof("l.jsonl", "x", &v, &f);
	return v;
}

TEST(answers_jsonl_view_scans_lines_right)
{
	intmpdir();
	/* answers first, last, in the middle, nested values and strings with
	 * brackets, quotes and commas around them */
	hash base = lineview("{\"id\":\"x\",\"input\":\"a } ] , \\\" b\",\"m\":{\"k\":[1,{\"z\":\"}\"}]},\"n\":-1.5e3}");
	const char *same[] = {
		"{\"expected\": \"1\", \"id\":\"x\",\"input\":\"a } ] , \\\" b\",\"m\":{\"k\":[1,{\"z\":\"}\"}]},\"n\":-1.5e3}",
		"{\"id\":\"x\",\"input\":\"a } ] , \\\" b\", \"ideal\": [\"x\", \"] }\"],\"m\":{\"k\":[1,{\"z\":\"}\"}]},\"n\":-1.5e3}",
		"{\"id\":\"x\",\"input\":\"a } ] , \\\" b\",\"m\":{\"k\":[1,{\"z\":\"}\"}]},\"n\":-1.5e3, \"answer\" : null }",
		"  { \"id\" : \"x\" , \"input\":\"a } ] , \\\" b\",\"m\":{\"k\":[1,{\"z\":\"}\"}]},\"target\":7,\"n\":-1.5e3 }  ",
	};
	for (size_t i = 0; i < sizeof(same) / sizeof(*same); i++)
		if (!CHECK(hasheq(base, lineview(same[i]))))
			fprintf(stderr, "  line %zu: %s\n", i, same[i]);
	const char *other[] = {
		"{\"id\":\"x\",\"input\":\"a } ] , \\\" c\",\"m\":{\"k\":[1,{\"z\":\"}\"}]},\"n\":-1.5e3}",
		"{\"id\":\"x\",\"input\":\"a } ] , \\\" b\",\"m\":{\"k\":[1,{\"z\":\"]\"}]},\"n\":-1.5e3}",
		"{\"id\":\"x\",\"input\":\"a } ] , \\\" b\",\"m\":{\"k\":[1,{\"z\":\"}\"}]},\"n\":-1.5e4}",
		"{\"id\":\"x\",\"input\":\"a } ] , \\\" b\",\"m\":{\"k\":[1,{\"z\":\"}\"}]},\"n\":-1.5e3,\"expectedx\":1}",
	};
	for (size_t i = 0; i < sizeof(other) / sizeof(*other); i++)
		if (!CHECK(!hasheq(base, lineview(other[i]))))
			fprintf(stderr, "  line %zu: %s\n", i, other[i]);
	/* a key written with an escape is decoded like cJSON does */
	hash esc = lineview("{\"id\":\"x\",\"input\":\"q\",\"\\u0065xpected\":\"1\"}");
	CHECK(hasheq(esc, lineview("{\"id\":\"x\",\"input\":\"q\",\"\\u0065xpected\":\"2\"}")));
	CHECK(!hasheq(esc, lineview("{\"id\":\"x\",\"input\":\"q2\",\"\\u0065xpected\":\"1\"}")));
}

TEST(answers_taskjson_leaves_the_answer_out_for_agents_only)
{
	struct tasklist tl = {0};
	char *err = NULL;

	intmpdir();
	put("q.jsonl", "{\"id\": \"x\", \"input\": \"q\", \"expected\": \"E1\", \"ideal\": \"E2\", \"target\": \"E3\", "
	               "\"answer\": \"E4\", \"meta\": 1}\n");
	REQUIRE(listone(&tl, "q.jsonl", &err) == 0);
	REQUIRE(loadtask(&tl.v[0], &err) == 0);
	char *agent = taskjson(&tl.v[0], 0), *grader = taskjson(&tl.v[0], 1);
	CHECK_STR(agent, "{\"id\":\"x\",\"input\":\"q\",\"meta\":1}");
	CHECK_HAS(grader, "\"expected\":\"E1\"");
	CHECK_HAS(grader, "\"answer\":\"E4\"");
	CHECK_STR(firstexpected(&tl.v[0]), "E1"); /* the task itself keeps it */
	free(agent);
	free(grader);
	freetasks(&tl);
}

TEST(answers_snapshot_copies_the_view_only)
{
	struct tasklist tl = {0};
	char *err = NULL;
	struct stat a, b;

	intmpdir();
	put("t/input.txt", "q\n");
	put("t/expected.txt", "SECRET\n");
	put("t/task.json", "{\"level\": 1, \"answer\": \"SECRET\"}");
	put("t/data/x.csv", "1,2\n");
	REQUIRE(chmod("t/data/x.csv", 0750) == 0);
	REQUIRE(listone(&tl, "t", &err) == 0);
	REQUIRE(snapshottask(&tl.v[0], "snap/t", &err) == 0);
	char *in = slurp("snap/t/input.txt"), *tj = slurp("snap/t/task.json"), *x = slurp("snap/t/data/x.csv");
	CHECK_STR(in, "q\n");
	CHECK_STR(tj, "{\"level\":1}");
	CHECK_STR(x, "1,2\n");
	CHECK(access("snap/t/expected.txt", F_OK) < 0);
	REQUIRE(stat("t/input.txt", &a) == 0 && stat("snap/t/input.txt", &b) == 0);
	CHECK(a.st_ino != b.st_ino); /* a copy: an edit of one is not the other */
	REQUIRE(stat("snap/t/data/x.csv", &b) == 0);
	CHECK_INT(b.st_mode & 0777, 0750);
	free(in);
	free(tj);
	free(x);
	/* a task.json without answers is copied as it is */
	put("u/task.json", "{ \"level\": 1 }\n");
	struct tasklist tu = {0};
	REQUIRE(listone(&tu, "u", &err) == 0);
	REQUIRE(snapshottask(&tu.v[0], "snap/u", &err) == 0);
	tj = slurp("snap/u/task.json");
	CHECK_STR(tj, "{ \"level\": 1 }\n");
	free(tj);
	freetasks(&tu);
	/* an edit since the listing: the copy would not be what was hashed */
	put("t/input.txt", "changed\n");
	CHECK_INT(snapshottask(&tl.v[0], "snap/t2", &err), -1);
	CHECK_HAS(err, "t changed since the cell was planned");
	free(err);
	/* so does an answer's edit (the grade key holds it) */
	put("t/input.txt", "q\n");
	REQUIRE(snapshottask(&tl.v[0], "snap/t3", &err) == 0);
	put("t/expected.txt", "OTHER\n");
	CHECK_INT(snapshottask(&tl.v[0], "snap/t4", &err), -1);
	free(err);
	freetasks(&tl);
}

TEST(answers_load_refuses_what_was_not_hashed)
{
	struct tasklist tl = {0};
	char *err = NULL;

	intmpdir();
	put("t/input.txt", "q\n");
	put("a.json", "{\"input\": \"q\"}");
	REQUIRE(listone(&tl, "t", &err) == 0);
	REQUIRE(listone(&tl, "a.json", &err) == 0);
	put("t/input.txt", "edited\n");
	put("a.json", "{\"input\": \"edited\"}");
	CHECK_INT(loadtask(&tl.v[0], &err), -1);
	CHECK_HAS(err, "t: changed since its hash was taken");
	free(err);
	CHECK_INT(loadtask(&tl.v[1], &err), -1);
	CHECK_HAS(err, "a.json: changed since its hash was taken");
	free(err);
	freetasks(&tl);
}

TEST(answers_state_remembers_the_stamp_of_each_hash)
{
	struct state *st;
	struct stamp then, now;
	hash h, got;

	intmpdir();
	put("f", "one");
	st = openstate("cache");
	CHECK_INT(hashedstamp(st, "f", &then, &got), -1); /* never hashed */
	REQUIRE(filehash(st, "f", &h) == 0);
	REQUIRE(hashedstamp(st, "f", &then, &got) == 0);
	CHECK(hasheq(h, got));
	REQUIRE(stampnow("f", &now) == 0);
	CHECK(stampeq(&then, &now));
	put("f", "three");
	REQUIRE(stampnow("f", &now) == 0);
	CHECK(!stampeq(&then, &now));
	REQUIRE(hashedstamp(st, "f", &then, &got) == 0);
	CHECK(hasheq(h, got)); /* until it is hashed again */
	closestate(st);
}

TEST(answers_samecontent_forgives_a_touch_not_an_edit)
{
	struct state *st;
	struct stamp then, now;
	hash h;

	intmpdir();
	put("f", "one");
	st = openstate("cache");
	CHECK_INT(samecontent(st, "f", &now), -1); /* never hashed */
	REQUIRE(filehash(st, "f", &h) == 0);
	CHECK_INT(samecontent(st, "f", &now), 0);
	setmtime("f", 100); /* a touch: new stat data, same content */
	CHECK_INT(samecontent(st, "f", &now), 0);
	REQUIRE(hashedstamp(st, "f", &then, NULL) == 0);
	CHECK(stampeq(&then, &now)); /* recorded */
	put("f", "two!");
	CHECK_INT(samecontent(st, "f", &now), -1);
	REQUIRE(hashedstamp(st, "f", &then, NULL) == 0);
	CHECK(!stampeq(&then, &now)); /* the record still names the old content */
	CHECK_INT(samecontent(st, "f", &now), -1); /* and stays suspect */
	put("f", "one"); /* undone: the content hashed again */
	CHECK_INT(samecontent(st, "f", &now), 0);
	closestate(st);
}

TEST(answers_json_view_is_kept_with_the_file_record)
{
	hash v1, f1, v, h;

	intmpdir();
	put("a.json", "{\"input\": \"q\", \"answer\": \"1\"}");
	struct timespec settle = {1, 200000000}; /* not racy: its record is saved */
	nanosleep(&settle, NULL);
	hashesof("a.json", "a", &v1, &f1);
	struct state *st = openstate("cache");
	REQUIRE(filehash(st, "a.json", &h) == 0);
	CHECK(hasheq(h, f1));
	REQUIRE(derivedget(st, "a.json", f1, &v) == 0); /* no read needed */
	CHECK(hasheq(v, v1));
	CHECK_INT(derivedget(st, "a.json", v1, &v), -1); /* for another content: none */
	closestate(st);
	/* a new content: its view is computed again, not the old one */
	put("a.json", "{\"input\": \"other\", \"answer\": \"1\"}");
	hash v2, f2;
	hashesof("a.json", "a", &v2, &f2);
	CHECK(!hasheq(v1, v2));
	st = openstate("cache");
	REQUIRE(filehash(st, "a.json", &h) == 0);
	CHECK_INT(derivedget(st, "a.json", f1, &v), -1);
	closestate(st);
}
