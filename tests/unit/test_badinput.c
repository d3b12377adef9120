/* badinput: what the bad-input catalogue (tests/bad) and the fuzzers found,
 * one test per fix, at the level of the module that was fixed. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "load/dataset.h"
#include "load/evalfile.h"
#include "test.h"

static char *loaderr(const char *text)
{
	char *err = NULL;
	put("Evalfile", text);
	struct evalfile *ef = loadevalfile("Evalfile", &err);
	if (ef) {
		freeevalfile(ef);
		return xstrdup("(loaded)");
	}
	return err ? err : xstrdup("(no message)");
}

static void smallproject(void)
{
	intmpdir();
	put("tasks/t1/input.txt", "x\n");
	put("tasks/t1/expected.txt", "x\n");
}

#define SUITE "suites:\n  s:\n    tasks: tasks/*\n    agent: {command: cat}\n    grader: {type: exact}\n"

TEST(badinput_hasnul)
{
	size_t off = 99;
	CHECK(!hasnul("caf\xe9\n", 5, &off)); /* not UTF-8: data, not an error */
	CHECK(hasnul("a\nb\nc\0d", 7, &off));
	CHECK_INT(off, 5);
	CHECK_INT(lineat("a\nb\nc\0d", off), 3);
}

TEST(badinput_parsejson_trailing)
{
	size_t off = 0;
	cJSON *o = parsejson("{\"a\": 1} \n", 10, &off);
	CHECK(cJSON_IsObject(o));
	cJSON_Delete(o);
	CHECK(parsejson("{\"a\": 1} junk", 13, &off) == NULL);
	CHECK_INT(off, 9);
	CHECK(parsejson("{\"a\": 1}\n{\"b\": 2}", 17, &off) == NULL);
	CHECK_INT(lineat("{\"a\": 1}\n{\"b\": 2}", off), 2);
	CHECK(parsejson("{\"a\": ", 6, &off) == NULL);
}

/* found by the catalogue: 100,000 nested flow maps kept libyaml busy for
 * minutes (its scanner is quadratic in flow depth) */
TEST(badinput_deep_flow_is_quick)
{
	smallproject();
	size_t d = 100000;
	char *text = xmalloc(d * 5 + 16);
	char *p = text + sprintf(text, "x: ");
	for (size_t i = 0; i < d; i++)
		memcpy(p, "{a: ", 4), p += 4;
	*p++ = '1';
	memset(p, '}', d);
	strcpy(p + d, "\n");
	time_t t0 = time(NULL);
	char *err = loaderr(text);
	CHECK_HAS(err, "Evalfile:1:");
	CHECK_HAS(err, "nested more than 64 levels");
	CHECK(time(NULL) - t0 < 10); /* minutes before the fix */
	free(err);
	free(text);
	/* brackets in quotes and comments are text, not nesting */
	char *many = xmalloc(4000);
	strcpy(many, SUITE "# ");
	memset(many + strlen(many), '[', 1000);
	strcpy(many + strlen(SUITE) + 2 + 1000, "\n");
	err = loaderr(many);
	CHECK_STR(err, "(loaded)");
	free(err);
	free(many);
}

TEST(badinput_second_document)
{
	smallproject();
	char *err = loaderr(SUITE "---\n" SUITE);
	CHECK_HAS(err, "Evalfile:7: a second YAML document");
	free(err);
	err = loaderr(SUITE "---\n"); /* an empty one after the marker: fine */
	CHECK_STR(err, "(loaded)");
	free(err);
}

TEST(badinput_null_is_no_string)
{
	smallproject();
	char *err = loaderr("suites:\n  s:\n    tasks: tasks/*\n    agent: {command: ~}\n    grader: {type: exact}\n");
	CHECK_HAS(err, "Evalfile:4:22: suites.s.agent.command: expected a string, got null");
	free(err);
	err = loaderr("suites:\n  s:\n    tasks: tasks/*\n    agent: {command: \"null\"}\n    grader: {type: exact}\n");
	CHECK_STR(err, "(loaded)"); /* quoted: a program named null */
	free(err);
}

TEST(badinput_api_key_env_name)
{
	smallproject();
	char *err = loaderr("suites:\n  s:\n    tasks: tasks/*\n    agent:\n      provider: openai\n      model: m\n"
	                    "      api_key_env: 7\n    grader: {type: exact}\n");
	CHECK_HAS(err, "Evalfile:7:20:");
	CHECK_HAS(err, "'7' is not an environment variable name");
	free(err);
}

/* task files: UTF-8 without NUL, one JSON value a line, FILE:LINE */
TEST(badinput_dataset_text)
{
	intmpdir();
	struct recordlist rl = {0};
	char *err = NULL;
	put("a.jsonl", "{\"id\": 1}\n{\"id\": 2} trailing\n");
	CHECK(readdataset("a.jsonl", NULL, &rl, &err) < 0);
	CHECK_HAS(err, "a.jsonl:2:");
	free(err);
	freerecords(&rl);
	memset(&rl, 0, sizeof(rl));
	FILE *b = fopen("b.csv", "w");
	fwrite("id,input\n1,ok\n2,a\0b\n", 1, 20, b);
	fclose(b);
	CHECK(readdataset("b.csv", NULL, &rl, &err) < 0);
	CHECK_HAS(err, "b.csv:3: a NUL byte");
	free(err);
	freerecords(&rl);
	memset(&rl, 0, sizeof(rl));
	FILE *f = fopen("c.jsonl", "w");
	fwrite("{\"id\": 1}\n{\"id\": \"a\0b\"}\n", 1, 25, f);
	fclose(f);
	CHECK(readdataset("c.jsonl", NULL, &rl, &err) < 0);
	CHECK_HAS(err, "c.jsonl:2: a NUL byte");
	free(err);
	freerecords(&rl);
	memset(&rl, 0, sizeof(rl));
	put("d.json", "{\"input\": \"a\",\n \"expected\": \"b\",\n}\n");
	CHECK(readdataset("d.json", NULL, &rl, &err) < 0);
	CHECK_HAS(err, "d.json:3:");
	free(err);
	freerecords(&rl);
}

/* found by the catalogue under LeakSanitizer: a suite with `fields` and a
 * bad expected_pattern leaked the fields' canonical text (the sanitizer
 * build of this test reports the leak at exit) */
TEST(badinput_fieldmap_error_no_leak)
{
	smallproject();
	char *err = loaderr("suites:\n  s:\n    tasks: tasks/*\n    fields: {input: q}\n    expected_pattern: [a]\n"
	                    "    agent: {command: cat}\n    grader: {type: exact}\n");
	CHECK_HAS(err, "Evalfile:5:23: suites.s.expected_pattern: expected a string");
	free(err);
	err = loaderr("suites:\n  s:\n    tasks: tasks/*\n    fields: {input: q}\n    expected_pattern: \"(a\"\n"
	              "    agent: {command: cat}\n    grader: {type: exact}\n");
	CHECK_HAS(err, "Evalfile:5:23: suites.s.expected_pattern: invalid regular expression");
	free(err);
}
