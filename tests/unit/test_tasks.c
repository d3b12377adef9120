/* tasks: directory, .json and .jsonl tasks; ids, fields, content hashes. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/tasks.h"
#include "test.h"
#include "core/util.h"

/* a suite named s over the given task paths, listed into tl */
static int list(struct tasklist *tl, char **err, const char *const *paths)
{
	static struct suite s = {.name = "s"}; /* the tasks point at its field mapping */
	struct state *st = openstate("cache");
	int r;

	for (; *paths; paths++)
		strvadd(&s.taskpaths, *paths);
	r = listtasks(&s, st, tl, err);
	strvfree(&s.taskpaths);
	closestate(st);
	return r;
}
#define LIST(tl, err, ...) list(tl, err, (const char *const[]){__VA_ARGS__, NULL})

static struct task *byid(struct tasklist *tl, const char *id)
{
	for (size_t i = 0; i < tl->n; i++)
		if (!strcmp(tl->v[i].id, id))
			return &tl->v[i];
	return NULL;
}

TEST(tasks_directory_task)
{
	struct tasklist tl = {0};
	char *err = NULL;

	intmpdir();
	put("tasks/t1/input.txt", "What is 2+2?\n");
	put("tasks/t1/expected.txt", "4\n");
	put("tasks/t1/task.json", "{\"difficulty\": \"easy\", \"meta\": {\"n\": 3}}");
	put("tasks/t1/data/table.csv", "a,b\n");
	REQUIRE(LIST(&tl, &err, "tasks/t1") == 0);
	REQUIRE(tl.n == 1);
	struct task *t = &tl.v[0];
	CHECK_STR(t->id, "t1");
	CHECK_INT(t->kind, TASK_DIR);
	CHECK_STR(t->path, "tasks/t1");
	CHECK(!hashzero(t->content));
	CHECK_INT(loadtask(t, &err), 0);
	CHECK_STR(t->input, "What is 2+2?\n");
	CHECK_INT(t->expected.n, 1);
	CHECK_STR(firstexpected(t), "4\n");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(t->fields, "difficulty");
	CHECK(cJSON_IsString(d) && !strcmp(d->valuestring, "easy"));
	char *j = taskjson(t, 1);
	CHECK_HAS(j, "\"difficulty\":\"easy\"");
	CHECK_HAS(j, "\"input\":\"What is 2+2?\\n\"");
	CHECK_HAS(j, "\"id\":\"t1\"");
	free(j);
	CHECK_INT(loadtask(t, &err), 0); /* loading twice is harmless */
	freetasks(&tl);
}

TEST(tasks_directory_without_expected_or_fields)
{
	struct tasklist tl = {0};
	char *err = NULL;

	intmpdir();
	put("t/input.md", "hello");
	REQUIRE(LIST(&tl, &err, "t") == 0);
	REQUIRE(tl.n == 1);
	CHECK_INT(loadtask(&tl.v[0], &err), 0);
	CHECK_STR(tl.v[0].input, "hello");
	CHECK_INT(tl.v[0].expected.n, 0);
	CHECK_STR(firstexpected(&tl.v[0]), "");
	freetasks(&tl);
}

TEST(tasks_directory_bad_task_json)
{
	struct tasklist tl = {0};
	char *err = NULL;

	intmpdir();
	put("t/input", "x");
	put("t/task.json", "[1, 2");
	REQUIRE(LIST(&tl, &err, "t") == 0);
	REQUIRE(tl.n == 1);
	CHECK_INT(loadtask(&tl.v[0], &err), -1);
	CHECK_HAS(err, "t/task.json");
	free(err);
	freetasks(&tl);
}

TEST(tasks_json_task_id_is_stem)
{
	struct tasklist tl = {0};
	char *err = NULL;

	intmpdir();
	put("tasks/add-small.json", "{\"input\": \"1+1\", \"answer\": 2, \"level\": {\"x\": \"y\"}}");
	REQUIRE(LIST(&tl, &err, "tasks/add-small.json") == 0);
	REQUIRE(tl.n == 1);
	struct task *t = &tl.v[0];
	CHECK_STR(t->id, "add-small");
	CHECK_INT(t->kind, TASK_JSON);
	CHECK_INT(loadtask(t, &err), 0);
	CHECK_STR(t->input, "1+1");
	CHECK_INT(t->expected.n, 1);
	CHECK_STR(firstexpected(t), "2");
	CHECK(cJSON_GetObjectItemCaseSensitive(t->fields, "level") != NULL);
	freetasks(&tl);
}

TEST(tasks_json_task_not_an_object)
{
	struct tasklist tl = {0};
	char *err = NULL;

	intmpdir();
	put("a.json", "[1, 2]"); /* an array must hold task objects */
	put("b.json", "{not json");
	CHECK_INT(LIST(&tl, &err, "a.json"), -1);
	CHECK_HAS(err, "a.json:1: expected a JSON object");
	free(err);
	freetasks(&tl);
	REQUIRE(LIST(&tl, &err, "b.json") == 0);
	REQUIRE(tl.n == 1);
	CHECK_INT(loadtask(&tl.v[0], &err), -1);
	CHECK_HAS(err, "b.json");
	free(err);
	freetasks(&tl);
}

TEST(tasks_jsonl_ids_and_expected_aliases)
{
	struct tasklist tl = {0};
	char *err = NULL;

	intmpdir();
	put("qa.jsonl", "{\"id\": \"cap-fr\", \"input\": \"Capital of France?\", \"ideal\": \"Paris\"}\n"
	                "{\"input\": \"2+2\", \"target\": \"4\"}\n"
	                "\n"
	                "{\"input\": \"3+3\", \"answer\": \"6\", \"id\": 17}\n"
	                "{\"input\": \"colour?\", \"expected\": [\"red\", \"Red\", \"crimson\"]}\r\n");
	REQUIRE(LIST(&tl, &err, "qa.jsonl") == 0);
	REQUIRE(tl.n == 4);
	CHECK_STR(tl.v[0].id, "cap-fr");
	CHECK_STR(tl.v[1].id, "2");
	CHECK_STR(tl.v[2].id, "17");
	CHECK_STR(tl.v[3].id, "5");
	CHECK_INT(tl.v[0].line, 1);
	CHECK_INT(tl.v[3].line, 5);
	for (size_t i = 0; i < tl.n; i++) {
		CHECK_INT(tl.v[i].kind, TASK_JSONL);
		CHECK_INT(loadtask(&tl.v[i], &err), 0);
	}
	CHECK_STR(tl.v[0].input, "Capital of France?");
	CHECK_STR(firstexpected(&tl.v[0]), "Paris");
	CHECK_STR(firstexpected(&tl.v[1]), "4");
	CHECK_STR(firstexpected(&tl.v[2]), "6");
	CHECK_INT(tl.v[3].expected.n, 3);
	if (tl.v[3].expected.n == 3) {
		CHECK_STR(tl.v[3].expected.v[0], "red");
		CHECK_STR(tl.v[3].expected.v[2], "crimson");
	}
	freetasks(&tl);
}

TEST(tasks_jsonl_chat_messages_input)
{
	struct tasklist tl = {0};
	char *err = NULL;

	intmpdir();
	put("chat.jsonl", "{\"input\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
	                  " {\"role\": \"user\", \"content\": \"Hi there\"}], \"ideal\": \"Hello\"}\n"
	                  "{\"input\": [{\"role\": \"user\", \"content\": \"Only one\"}], \"ideal\": \"x\"}\n");
	REQUIRE(LIST(&tl, &err, "chat.jsonl") == 0);
	REQUIRE(tl.n == 2);
	struct task *t = &tl.v[0];
	CHECK_INT(loadtask(t, &err), 0);
	CHECK_HAS(t->input, "Be brief.");
	CHECK_HAS(t->input, "Hi there");
	CHECK(strstr(t->input, "Be brief.") < strstr(t->input, "Hi there"));
	CHECK(cJSON_IsArray(t->messages));
	CHECK_INT(cJSON_GetArraySize(t->messages), 2);
	const cJSON *m1 = cJSON_GetArrayItem(t->messages, 1);
	const cJSON *c1 = cJSON_GetObjectItemCaseSensitive(m1, "content");
	CHECK(cJSON_IsString(c1) && !strcmp(c1->valuestring, "Hi there"));
	CHECK_INT(loadtask(&tl.v[1], &err), 0);
	CHECK_STR(tl.v[1].input, "Only one");
	CHECK(cJSON_IsArray(tl.v[1].messages));
	freetasks(&tl);
}

TEST(tasks_jsonl_bad_line_names_file_and_line)
{
	struct tasklist tl = {0};
	char *err = NULL;

	intmpdir();
	put("qa.jsonl", "{\"input\": \"a\"}\n{\"input\": \"b\"}\n{\"input\": oops}\n{\"input\": \"d\"}\n");
	CHECK_INT(LIST(&tl, &err, "qa.jsonl"), -1);
	CHECK_HAS(err, "qa.jsonl:3");
	free(err);
	freetasks(&tl);
	put("arr.jsonl", "{\"input\": \"a\"}\n[1, 2]\n");
	CHECK_INT(LIST(&tl, &err, "arr.jsonl"), -1);
	CHECK_HAS(err, "arr.jsonl:2");
	free(err);
	freetasks(&tl);
}

TEST(tasks_duplicate_ids_are_an_error)
{
	struct tasklist tl = {0};
	char *err = NULL;

	intmpdir();
	put("qa.jsonl", "{\"id\": \"a\", \"input\": \"1\"}\n{\"id\": \"b\", \"input\": \"2\"}\n{\"id\": \"a\", \"input\": \"3\"}\n");
	CHECK_INT(LIST(&tl, &err, "qa.jsonl"), -1);
	CHECK_HAS(err, "qa.jsonl:3");
	CHECK_HAS(err, "'a'");
	free(err);
	freetasks(&tl);
}

TEST(tasks_duplicate_ids_across_folders)
{
	struct tasklist tl = {0};
	char *err = NULL;

	intmpdir();
	put("x/t1/input", "1");
	put("y/t1/input", "2");
	CHECK_INT(LIST(&tl, &err, "x/t1", "y/t1"), -1);
	CHECK_HAS(err, "'t1'");
	CHECK_HAS(err, "x/t1");
	CHECK_HAS(err, "y/t1");
	CHECK(strstr(err, ":0:") == NULL); /* no line 0 for a folder */
	free(err);
	freetasks(&tl);
}

TEST(tasks_other_files_are_an_error)
{
	struct tasklist tl = {0};
	char *err = NULL;

	intmpdir();
	put("notes.txt", "hi");
	CHECK_INT(LIST(&tl, &err, "notes.txt"), -1);
	CHECK_HAS(err, "notes.txt");
	free(err);
	freetasks(&tl);
}

/* content hashes: change with the file, and only then */

static hash contentof(const char *path, const char *id)
{
	struct tasklist tl = {0};
	char *err = NULL;
	hash h = {0, 0};

	if (list(&tl, &err, (const char *const[]){path, NULL}) < 0) {
		testfail(__FILE__, __LINE__, "%s", err);
		free(err);
	} else if (byid(&tl, id)) {
		h = byid(&tl, id)->content;
	} else {
		testfail(__FILE__, __LINE__, "no task %s in %s", id, path);
	}
	freetasks(&tl);
	return h;
}

TEST(tasks_json_hash_changes_with_file_only)
{
	intmpdir();
	put("t.json", "{\"input\": \"a\"}");
	hash h1 = contentof("t.json", "t");
	setmtime("t.json", 100);
	hash h2 = contentof("t.json", "t");
	CHECK(hasheq(h1, h2));
	put("t.json", "{\"input\": \"b\"}");
	hash h3 = contentof("t.json", "t");
	CHECK(!hasheq(h1, h3));
}

TEST(tasks_directory_hash_changes_with_any_file)
{
	intmpdir();
	put("t/input", "a");
	put("t/expected", "b");
	hash h1 = contentof("t", "t");
	CHECK(hasheq(h1, contentof("t", "t")));
	put("t/input", "c"); /* (expected* is not seen: see test_answers.c) */
	hash h2 = contentof("t", "t");
	CHECK(!hasheq(h1, h2));
	put("t/sub/extra.txt", "d");
	hash h3 = contentof("t", "t");
	CHECK(!hasheq(h2, h3));
	/* a rename inside the task is a change too */
	CHECK_INT(rename("t/sub/extra.txt", "t/sub/other.txt"), 0);
	CHECK(!hasheq(h3, contentof("t", "t")));
}

TEST(tasks_same_content_same_hash_whatever_the_place)
{
	intmpdir();
	put("a/t/input", "same");
	put("b/t/input", "same");
	CHECK(hasheq(contentof("a/t", "t"), contentof("b/t", "t")));
}

TEST(tasks_jsonl_hash_changes_only_for_changed_line)
{
	struct tasklist before = {0}, after = {0};
	char *err = NULL;

	intmpdir();
	put("qa.jsonl", "{\"id\": \"a\", \"input\": \"1\"}\n{\"id\": \"b\", \"input\": \"2\"}\n{\"id\": \"c\", \"input\": \"3\"}\n");
	REQUIRE(LIST(&before, &err, "qa.jsonl") == 0);
	put("qa.jsonl", "{\"id\": \"a\", \"input\": \"1\"}\n{\"id\": \"b\", \"input\": \"two\"}\n{\"id\": \"c\", \"input\": \"3\"}\n");
	REQUIRE(LIST(&after, &err, "qa.jsonl") == 0);
	REQUIRE(before.n == 3 && after.n == 3);
	CHECK(hasheq(byid(&before, "a")->content, byid(&after, "a")->content));
	CHECK(!hasheq(byid(&before, "b")->content, byid(&after, "b")->content));
	CHECK(hasheq(byid(&before, "c")->content, byid(&after, "c")->content));
	freetasks(&before);
	freetasks(&after);
}

TEST(tasks_jsonl_line_moves_keep_hash)
{
	struct tasklist before = {0}, after = {0};
	char *err = NULL;

	intmpdir();
	put("qa.jsonl", "{\"id\": \"a\", \"input\": \"1\"}\n{\"id\": \"b\", \"input\": \"2\"}\n");
	REQUIRE(LIST(&before, &err, "qa.jsonl") == 0);
	put("qa.jsonl", "{\"id\": \"new\", \"input\": \"0\"}\n{\"id\": \"a\", \"input\": \"1\"}\n{\"id\": \"b\", \"input\": \"2\"}\n");
	REQUIRE(LIST(&after, &err, "qa.jsonl") == 0);
	REQUIRE(byid(&after, "a") && byid(&after, "b"));
	CHECK(hasheq(byid(&before, "a")->content, byid(&after, "a")->content));
	CHECK(hasheq(byid(&before, "b")->content, byid(&after, "b")->content));
	freetasks(&before);
	freetasks(&after);
}

TEST(tasks_listing_reads_paths_in_order)
{
	struct tasklist tl = {0};
	char *err = NULL;

	intmpdir();
	put("a.json", "{\"input\": \"a\"}");
	put("b/input", "b");
	put("c.jsonl", "{\"input\": \"c1\"}\n{\"input\": \"c2\"}\n");
	REQUIRE(LIST(&tl, &err, "a.json", "b", "c.jsonl") == 0);
	REQUIRE(tl.n == 4);
	CHECK_STR(tl.v[0].id, "a");
	CHECK_STR(tl.v[1].id, "b");
	CHECK_STR(tl.v[2].id, "1");
	CHECK_STR(tl.v[3].id, "2");
	freetasks(&tl);
}
