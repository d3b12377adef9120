/* dataset: CSV quoting, JSON arrays, list cells, compressed files, field
 * mapping and expected_pattern. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "load/dataset.h"
#include "load/tasks.h"
#include "load/template.h"
#include "test.h"
#include "core/util.h"

static int csv(const char *text, int delim, struct recordlist *rl, char **err)
{
	return parsecsv("d.csv", text, strlen(text), delim, NULL, rl, err);
}

/* the string field key of record i */
static char *cell(const struct recordlist *rl, size_t i, const char *key)
{
	static char out[256];
	cJSON *o = cJSON_Parse(rl->v[i].text);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	snprintf(out, sizeof(out), "%s", cJSON_IsString(v) ? v->valuestring : v ? "(not a string)" : "(none)");
	cJSON_Delete(o);
	return out;
}

TEST(dataset_csv_quoting)
{
	struct recordlist rl = {0};
	char *err = NULL;

	REQUIRE(csv("\xEF\xBB\xBFid,question,answer\r\n"
	            "1,\"Say \"\"hi\"\"\",\"a, b\"\r\n"
	            "\n"
	            "2,\"two\nlines\",\r\n"
	            "3,plain \"inner\" quote,x\n",
	            ',', &rl, &err) == 0);
	REQUIRE(rl.n == 3);
	CHECK_STR(cell(&rl, 0, "id"), "1");
	CHECK_STR(cell(&rl, 0, "question"), "Say \"hi\"");
	CHECK_STR(cell(&rl, 0, "answer"), "a, b");
	CHECK_INT(rl.v[0].line, 2);
	CHECK_STR(cell(&rl, 1, "question"), "two\nlines");
	CHECK_STR(cell(&rl, 1, "answer"), "(none)"); /* an empty cell is no field */
	CHECK_INT(rl.v[1].line, 4);
	CHECK_INT(rl.v[2].line, 6); /* the quoted newline counted */
	CHECK_STR(cell(&rl, 2, "question"), "plain \"inner\" quote");
	CHECK_INT(rl.v[2].ordinal, 3);
	freerecords(&rl);
}

TEST(dataset_csv_errors_name_the_line)
{
	struct recordlist rl = {0};
	char *err = NULL;

	CHECK_INT(csv("a,b\n1,2\n3,4,5\n", ',', &rl, &err), -1);
	CHECK_HAS(err, "d.csv:3: 3 fields, but the header (line 1) has 2 columns");
	free(err);
	freerecords(&rl);
	CHECK_INT(csv("a,b\n1,\"open\n\n", ',', &rl, &err), -1);
	CHECK_HAS(err, "d.csv:2: a quoted field is not closed");
	free(err);
	freerecords(&rl);
	CHECK_INT(csv("a,b\n1,\"x\"y\n", ',', &rl, &err), -1);
	CHECK_HAS(err, "d.csv:2: expected ',' or the end of the line after a closing quote");
	free(err);
	freerecords(&rl);
	CHECK_INT(csv("a,a\n1,2\n", ',', &rl, &err), -1);
	CHECK_HAS(err, "d.csv:1: column 'a' appears twice");
	free(err);
	freerecords(&rl);
	CHECK_INT(csv("", ',', &rl, &err), -1);
	CHECK_HAS(err, "header row");
	free(err);
	freerecords(&rl);
}

TEST(dataset_csv_without_a_header_row)
{
	struct recordlist rl = {0};
	struct strv cols = {0};
	char *err = NULL;

	strvadd(&cols, "question");
	strvadd(&cols, "A");
	strvadd(&cols, "answer");
	const char *text = "Why?,x,A\n\"2\n3\",y,B\n";
	REQUIRE(parsecsv("m.csv", text, strlen(text), ',', &cols, &rl, &err) == 0);
	REQUIRE(rl.n == 2);
	CHECK_INT(rl.v[0].line, 1);
	CHECK_STR(cell(&rl, 0, "question"), "Why?");
	CHECK_STR(cell(&rl, 1, "answer"), "B");
	freerecords(&rl);
	CHECK_INT(parsecsv("m.csv", "a,b\n", 4, ',', &cols, &rl, &err), -1);
	CHECK_HAS(err, "m.csv:1: 2 fields, but the suite's fields.columns has 3 columns");
	free(err);
	freerecords(&rl);
	strvfree(&cols);
}

TEST(dataset_tsv_and_unnamed_index_column)
{
	struct recordlist rl = {0};
	char *err = NULL;

	REQUIRE(csv("q\ta\n\"x\ty\"\t1\n", '\t', &rl, &err) == 0);
	REQUIRE(rl.n == 1);
	CHECK_STR(cell(&rl, 0, "q"), "x\ty");
	freerecords(&rl);
	/* pandas' to_csv writes its index as a column with no name */
	REQUIRE(csv(",q\n0,hello\n", ',', &rl, &err) == 0);
	CHECK_STR(rl.v[0].text, "{\"q\":\"hello\"}");
	freerecords(&rl);
}

TEST(dataset_json_array_lines)
{
	struct recordlist rl = {0};
	char *err = NULL;
	const char *text = "[\n  {\"id\": 1,\n   \"q\": \"a\"},\n  {\"id\": 2, \"q\": \"b\"}\n]\n";

	REQUIRE(parsejsonarray("d.json", text, strlen(text), &rl, &err) == 0);
	REQUIRE(rl.n == 2);
	CHECK(!rl.whole);
	CHECK_INT(rl.v[0].line, 2);
	CHECK_INT(rl.v[1].line, 4);
	CHECK_STR(cell(&rl, 1, "q"), "b");
	freerecords(&rl);
	text = "[{\"a\": 1},\n 7]";
	CHECK_INT(parsejsonarray("d.json", text, strlen(text), &rl, &err), -1);
	CHECK_HAS(err, "d.json:2: expected a JSON object (item 2");
	free(err);
	freerecords(&rl);
	text = "[{\"a\": 1}\n\n {\"b\": 2}]";
	CHECK_INT(parsejsonarray("d.json", text, strlen(text), &rl, &err), -1);
	CHECK_HAS(err, "d.json:3: expected ',' or the closing ']'");
	free(err);
	freerecords(&rl);
	text = " {\"a\": 1}";
	REQUIRE(parsejsonarray("d.json", text, strlen(text), &rl, &err) == 0);
	CHECK(rl.whole && rl.n == 1);
	freerecords(&rl);
}

static char *listtext(cJSON *a)
{
	static char out[256];
	char *s = a ? cJSON_PrintUnformatted(a) : NULL;

	snprintf(out, sizeof(out), "%s", s ? s : "(null)");
	cJSON_free(s);
	cJSON_Delete(a);
	return out;
}

TEST(dataset_list_cells)
{
	CHECK_STR(listtext(parselist("['True, True', 'False']")), "[\"True, True\",\"False\"]");
	CHECK_STR(listtext(parselist("[\"it's\", 'say \"x\"', 'a\\'b']")), "[\"it's\",\"say \\\"x\\\"\",\"a'b\"]");
	CHECK_STR(listtext(parselist("['a' 'b'\n 'c']")), "[\"a\",\"b\",\"c\"]"); /* numpy */
	CHECK_STR(listtext(parselist("[1, 2.5, None, True]")), "[\"1\",\"2.5\",\"None\",\"True\"]");
	CHECK_STR(listtext(parselist("[\"x\", 3]")), "[\"x\",\"3\"]"); /* JSON */
	CHECK_STR(listtext(parselist(" [] ")), "[]");
	CHECK_STR(listtext(parselist("a, b")), "(null)");
	CHECK_STR(listtext(parselist("['open")), "(null)");
	CHECK_STR(listtext(parselist("['a'] tail")), "(null)");
	CHECK_STR(listtext(parselist("[foo]")), "(null)");
}

TEST(dataset_compressed_files)
{
	struct recordlist rl = {0};
	char *err = NULL;
	const char *text = "{\"q\": \"one\"}\n{\"q\": \"two\"}\n";

	intmpdir();
	gzFile z = gzopen("d.jsonl.gz", "wb");
	REQUIRE(z);
	gzwrite(z, text, (unsigned)strlen(text));
	gzclose(z);
	REQUIRE(readdataset("d.jsonl.gz", NULL, &rl, &err) == 0);
	REQUIRE(rl.n == 2);
	CHECK_STR(cell(&rl, 1, "q"), "two");
	CHECK_INT(rl.v[1].line, 2);
	freerecords(&rl);

	const char *c = "q,a\nx,1\n";
	size_t cap = ZSTD_compressBound(strlen(c));
	char *zb = xmalloc(cap);
	size_t zn = ZSTD_compress(zb, cap, c, strlen(c), 3);
	REQUIRE(!ZSTD_isError(zn));
	FILE *f = fopen("d.csv.zst", "wb");
	fwrite(zb, 1, zn, f);
	fclose(f);
	REQUIRE(readdataset("d.csv.zst", NULL, &rl, &err) == 0);
	REQUIRE(rl.n == 1);
	CHECK_STR(cell(&rl, 0, "a"), "1");
	freerecords(&rl);
	/* cut short: an error, not a silently shorter file */
	f = fopen("cut.csv.zst", "wb");
	fwrite(zb, 1, zn - 4, f);
	fclose(f);
	free(zb);
	CHECK_INT(readdataset("cut.csv.zst", NULL, &rl, &err), -1);
	CHECK_HAS(err, "cut.csv.zst");
	free(err);
	freerecords(&rl);
	put("bad.csv.gz", "\x1f\x8b\x08\x00garbage");
	CHECK_INT(readdataset("bad.csv.gz", NULL, &rl, &err), -1);
	CHECK_HAS(err, "bad.csv.gz: not a valid gzip file");
	free(err);
	freerecords(&rl);

	CHECK(isdataset("a.jsonl") && isdataset("a.csv.gz") && isdataset("a.tsv.zst") && isdataset("a.json.gz"));
	CHECK(!isdataset("a.json") && !isdataset("a.txt.gz") && !isdataset("a.csvx"));
}

TEST(dataset_fieldat_paths)
{
	cJSON *o = cJSON_Parse("{\"a\": {\"b\": [10, {\"c\": \"deep\"}]}, \"x.y\": 1}");
	const cJSON *v;

	v = fieldat(o, "a.b.1.c");
	CHECK(cJSON_IsString(v) && !strcmp(v->valuestring, "deep"));
	CHECK(cJSON_IsNumber(fieldat(o, "x.y")));
	CHECK(fieldat(o, "a.b.5") == NULL);
	CHECK(fieldat(o, "nope") == NULL);
	cJSON_Delete(o);
}

TEST(dataset_mapping_and_pattern)
{
	struct fieldmap m = {.input = "question", .expected = "answer", .id = "task_id"};
	cJSON *o = cJSON_Parse("{\"task_id\": 17, \"question\": \"q?\", \"answer\": \"so 2,125 in all\\n#### 2,125\","
	                       "\"options\": \"['a', 'b']\"}");
	const cJSON *in;
	cJSON *exp;
	char *err = NULL, *id;

	strvadd(&m.choices, "options");
	m.re = compilepattern("####\\s*(.+)$", &err);
	REQUIRE(m.re);
	m.expected_pattern = "####\\s*(.+)$";
	id = mappedid(&m, o, "1");
	CHECK_STR(id, "17");
	free(id);
	REQUIRE(mapfields(&m, o, "g.jsonl:3", &in, &exp, &err) == 0);
	CHECK(cJSON_IsString(in) && !strcmp(in->valuestring, "q?"));
	CHECK(cJSON_IsString(exp) && !strcmp(exp->valuestring, "2,125"));
	cJSON_Delete(exp);
	char *choices = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, "choices"));
	CHECK_STR(choices, "[\"a\",\"b\"]");
	cJSON_free(choices);

	/* no match: an error naming where and the field */
	cJSON_ReplaceItemInObjectCaseSensitive(o, "answer", cJSON_CreateString("no marker"));
	CHECK_INT(mapfields(&m, o, "g.jsonl:3", &in, &exp, &err), -1);
	CHECK_HAS(err, "g.jsonl:3: expected_pattern '####\\s*(.+)$' does not match field 'answer' (\"no marker\")");
	free(err);
	/* a mapped id that is missing */
	cJSON_DeleteItemFromObjectCaseSensitive(o, "task_id");
	CHECK(mappedid(&m, o, "1") == NULL);
	cJSON_Delete(o);
	freepattern(m.re);
	strvfree(&m.choices);

	CHECK(compilepattern("(unclosed", &err) == NULL);
	CHECK_HAS(err, "missing closing parenthesis");
	free(err);
}

TEST(dataset_choices_from_columns_and_defaults)
{
	struct fieldmap m = {.choicecols = 1};
	cJSON *o = cJSON_Parse("{\"input\": \"q\", \"A\": \"x\", \"B\": \"y\", \"C\": 3, \"target\": [\"x\", \"X\"]}");
	const cJSON *in;
	cJSON *exp;
	char *err = NULL;

	strvadd(&m.choices, "A");
	strvadd(&m.choices, "B");
	strvadd(&m.choices, "C");
	REQUIRE(mapfields(&m, o, "m.csv:2", &in, &exp, &err) == 0);
	char *s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, "choices"));
	CHECK_STR(s, "[\"x\",\"y\",\"3\"]");
	cJSON_free(s);
	s = cJSON_PrintUnformatted(exp); /* the defaults: "target" is an expected key */
	CHECK_STR(s, "[\"x\",\"X\"]");
	cJSON_free(s);
	cJSON_Delete(exp);
	strvadd(&m.choices, "D");
	CHECK_INT(mapfields(&m, o, "m.csv:2", &in, &exp, &err), -1);
	CHECK_HAS(err, "m.csv:2: no field 'D'");
	free(err);
	strvfree(&m.choices);
	cJSON_Delete(o);

	/* no mapping at all: a CSV "choices" cell is parsed; a plain one kept */
	o = cJSON_Parse("{\"opts\": [1, \"two\"]}");
	m = (struct fieldmap){0};
	strvadd(&m.choices, "opts");
	REQUIRE(mapfields(&m, o, "m.jsonl:1", &in, &exp, &err) == 0);
	s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, "choices"));
	CHECK_STR(s, "[\"1\",\"two\"]"); /* a JSON list's items as text too */
	cJSON_free(s);
	strvfree(&m.choices);
	cJSON_Delete(o);
	o = cJSON_Parse("{\"opts\": \"plain\"}");
	strvadd(&m.choices, "opts");
	CHECK_INT(mapfields(&m, o, "m.jsonl:1", &in, &exp, &err), -1);
	CHECK_HAS(err, "m.jsonl:1: field 'opts' (the choices) is not a list");
	free(err);
	strvfree(&m.choices);
	cJSON_Delete(o);

		o = cJSON_Parse("{\"choices\": \"['p', 'q']\", \"answer\": \"1\"}");
	REQUIRE(mapfields(NULL, o, "m.csv:2", &in, &exp, &err) == 0);
	CHECK(in == NULL);
	CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "choices")));
	CHECK(cJSON_IsString(exp) && !strcmp(exp->valuestring, "1"));
	cJSON_Delete(exp);
	cJSON_Delete(o);
}

TEST(dataset_tasks_from_csv_with_mapping)
{
	static struct suite s = {.name = "s"};
	struct tasklist tl = {0};
	char *err = NULL;
	struct state *st;

	intmpdir();
	s.fields = (struct fieldmap){.id = "n", .input = "question"};
	put("m.csv", "n,question,answer\n7,\"multi\nline\",2\n8,b,\n");
	put("arr.json", "\xEF\xBB\xBF[{\"input\": \"a\", \"answer\": \"1\"}, {\"input\": \"b\"}]");
	st = openstate("cache");
	strvadd(&s.taskpaths, "m.csv");
	REQUIRE(listtasks(&s, st, &tl, &err) == 0);
	REQUIRE(tl.n == 2);
	CHECK_STR(tl.v[0].id, "7");
	CHECK_INT(tl.v[1].line, 4);
	REQUIRE(loadtask(&tl.v[0], &err) == 0);
	CHECK_STR(tl.v[0].input, "multi\nline");
	CHECK_STR(firstexpected(&tl.v[0]), "2");
	CHECK_INT(checktask(&tl.v[0], 1, &err), 0);
	s.fields.needexpected = 1;
	REQUIRE(loadtask(&tl.v[1], &err) == 0);
	CHECK_INT(checktask(&tl.v[1], 1, &err), -1);
	CHECK_HAS(err, "m.csv:4: task '8' has no expected answer");
	free(err);
	freetasks(&tl);
	strvfree(&s.taskpaths);

	/* a .json array: one task a element, numbered; no input is an error */
	s.fields = (struct fieldmap){0};
	strvadd(&s.taskpaths, "arr.json");
	REQUIRE(listtasks(&s, st, &tl, &err) == 0);
	REQUIRE(tl.n == 2);
	CHECK_STR(tl.v[1].id, "2");
	REQUIRE(loadtask(&tl.v[1], &err) == 0);
	CHECK_INT(checktask(&tl.v[1], 1, &err), 0);
	freetasks(&tl);
	/* duplicate ids name both lines */
	put("dup.csv", "id,input\na,x\na,y\n");
	strvfree(&s.taskpaths);
	strvadd(&s.taskpaths, "dup.csv");
	CHECK_INT(listtasks(&s, st, &tl, &err), -1);
	CHECK_HAS(err, "dup.csv:3: suite 's': duplicate task id 'a' (also dup.csv:2)");
	free(err);
	freetasks(&tl);
	strvfree(&s.taskpaths);
	closestate(st);
}

static char *rendered(const char *tmpl, const char *fields, char **err)
{
	static char out[512];
	struct template *t = compiletemplate("p.md", tmpl, TV_INPUT | TV_TASK, err);
	cJSON *f = cJSON_Parse(fields);
	struct tmplvars v = {.input = "IN", .fields = f, .taskname = "t1", .where = "d.csv:4"};
	char *r = t ? render(t, &v, err) : NULL;

	snprintf(out, sizeof(out), "%s", r ? r : "(error)");
	free(r);
	cJSON_Delete(f);
	freetemplate(t);
	return out;
}

TEST(template_defaults_and_literal_braces)
{
	char *err = NULL;

	CHECK_STR(rendered("[{{task.hint | default: \"none\"}}]", "{}", &err), "[none]");
	CHECK_STR(rendered("[{{ task.hint|default:'x y' }}]", "{\"hint\": \"h\"}", &err), "[h]");
	CHECK_STR(rendered("[{{task.hint | default: \"\"}}]", "{\"hint\": null}", &err), "[]");
	CHECK_STR(rendered("{{ \"{{\" }}input{{ '}}' }} {{input}}", "{}", &err), "{{input}} IN");
	CHECK_STR(rendered("{{ \"}}\" }}", "{}", &err), "}}");
	CHECK_STR(rendered("a\n{{task.hint}}", "{}", &err), "(error)");
	CHECK_HAS(err, "d.csv:4: task 't1' has no field 'hint', which p.md:2 uses");
	free(err);
	CHECK_STR(rendered("{{task.hint | upper}}", "{}", &err), "(error)");
	CHECK_HAS(err, "p.md:1: {{task.hint | upper}}: the one filter is | default: \"text\"");
	free(err);
	CHECK_STR(rendered("{{input | default: \"x\"}}", "{}", &err), "(error)");
	CHECK_HAS(err, "a default is for {{task.FIELD}}");
	free(err);
	CHECK_STR(rendered("{{ \"open }}", "{}", &err), "(error)");
	CHECK_HAS(err, "unknown variable");
	free(err);
}

/* the escapes Python's repr() writes in a pandas CSV export's list
 * literals (MMLU's choices) are the characters they name */
/* item i of the list literal s as text, or "(null)" when s is refused */
static const char *item(const char *s, int i)
{
	static char out[64];
	cJSON *a = parselist(s);
	const cJSON *v = cJSON_GetArrayItem(a, i);

	snprintf(out, sizeof(out), "%s", cJSON_IsString(v) ? v->valuestring : "(null)");
	cJSON_Delete(a);
	return out;
}

TEST(dataset_list_literal_escapes)
{
	CHECK_STR(item("['a\\xa0b']", 0), "a\xc2\xa0" "b");                      /* no-break space */
	CHECK_STR(item("['x \\x80\\x93 y']", 0), "x \xc2\x80\xc2\x93 y");        /* MMLU professional_law */
	CHECK_STR(item("['it\\u2019s', 'z\\u200bw']", 1), "z\xe2\x80\x8bw");     /* zero-width space */
	CHECK_STR(item("[\"\\U0001F600\"]", 0), "\xf0\x9f\x98\x80");             /* upper-case hex too */
	CHECK_STR(item("['\\x41\\x7e']", 0), "A~");
	CHECK_STR(item("['f\\\\x41']", 0), "f\\x41");                            /* an escaped backslash */
	CHECK_STR(item("['\\x00']", 0), "(null)");                               /* NUL: no text holds one */
	CHECK_STR(item("['\\ud83d\\ude00']", 0), "(null)");                      /* surrogates */
	CHECK_STR(item("['\\U00110000']", 0), "(null)");                         /* past U+10FFFF */
	CHECK_STR(item("['\\x4']", 0), "(null)");                                /* too few digits */
	CHECK_STR(item("['\\u12g4']", 0), "(null)");
}
